"""The client against hostile servers and hostile input, on both API generations.

Raw socket servers on 127.0.0.1 (:class:`HostileServer`) log anyone in and
then answer events as a misbehaving server would: streaming forever,
dripping bytes, a gzip bomb, a huge body, JSON nested too deeply or holding
``NaN``. Each is bounded in time. The reference server, with a backend that
refuses everything, shows that a refusal is never taken for success. Then
secrets echoed in every form the library sends them, settings that must be
refused, file names that are not UTF-8, and random arguments to every public
call: nothing but accsyn errors may escape.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import itertools
import json
import socket
import threading
import time
import tracemalloc
import zlib
from typing import Any, Callable, ClassVar, Dict, Iterator, List, Mapping, Optional

import pytest
from generations import both_generations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accsyn_api
from accsyn_api import Session
from accsyn_api.errors import (
    AccsynError,
    ConfigurationError,
    ConnectionFailed,
    InvalidData,
    PermissionDenied,
    RequestTimeout,
    ServerError,
)
from accsyn_api.protocol import names
from accsyn_api.protocol.base import FindOptions
from accsyn_api.settings import DEFAULT_MAX_REPLY_BYTES
from accsyn_api.testing import Backend, LocalServer

pytestmark = both_generations

API_KEY = "hostile-key-0a1b2c3d4e5f6a7b8c9d"
SESSION_KEY = "hostile-session-key-9f8e7d6c5b4a"
MiB = 1024 * 1024
Answer = Callable[[socket.socket, threading.Event], None]

LOGIN_REPLIES = {
    f"{names.V1_API_PATH}/{names.V1_LOGIN_URI}": {
        "session_key": SESSION_KEY,
        "clearance": "employee",
        "id": "u1",
    },
    f"{names.V3_API_PATH}/{names.V3_LOGIN_URI}": {
        "result": {"role": "employee", "id": "u1", "session_id": "s1"}
    },
}


def _http(status: str, headers: Mapping[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json_reply(body: bytes, **headers: str) -> bytes:
    return _http(
        "200 OK",
        {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers},
        body,
    )


class HostileServer:
    """Logs anyone in (keep-alive), then answers each event with ``answer``.

    ``answer`` writes to the socket until it is done or ``stop`` is set; the
    connection is closed afterwards. Everything stops within ``lifetime``
    seconds, and at :meth:`stop`. ``events`` counts the events received.
    """

    def __init__(self, answer: Answer, *, lifetime: float = 8.0) -> None:
        self.answer = answer
        self.lifetime = lifetime
        self.events = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._started = time.monotonic()
        self._threads[0].start()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set() and time.monotonic() - self._started < self.lifetime:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()
        self._stop.set()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(self.lifetime)
        reader = connection.makefile("rb")
        try:
            while not self._stop.is_set():
                request_line = reader.readline(65536).decode("latin-1")
                if not request_line:
                    return
                length = 0
                while True:
                    line = reader.readline(65536).strip()
                    if not line:
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                reader.read(length)
                path = request_line.split(" ")[1].split("?")[0]
                if path in LOGIN_REPLIES:
                    connection.sendall(_json_reply(json.dumps(LOGIN_REPLIES[path]).encode()))
                    continue
                self.events += 1
                self.answer(connection, self._stop)
                return
        except OSError:
            return
        finally:
            reader.close()
            connection.close()


def _session(url: str, version: str, **settings: Any) -> Session:
    options: Dict[str, Any] = {"retries": 0, "timeout": (2, 1.0)}
    options.update(settings)
    return Session(
        url=url,
        workspace="acmevfx",
        username="hostile@acmevfx.com",
        api_key=API_KEY,
        api_version=version,
        **options,
    )


def _send_until_stopped(connection: socket.socket, stop: threading.Event, chunk: bytes) -> None:
    try:
        while not stop.is_set():
            connection.sendall(chunk)
    except OSError:
        return


def stream_forever(connection: socket.socket, stop: threading.Event) -> None:
    """A reply without length that never ends: 10 kB every 10 ms, each read well in time."""
    connection.sendall(_http("200 OK", {"Content-Type": "application/json"}) + b'{"result": [')
    try:
        while not stop.wait(0.01):
            connection.sendall(b'"x", ' * 2000)
    except OSError:
        return


def drip(connection: socket.socket, stop: threading.Event) -> None:
    """A short reply, one byte every 0.3 s: no single read waits long."""
    for byte in _json_reply(b'{"result": []}'):
        if stop.wait(0.3):
            return
        try:
            connection.sendall(bytes([byte]))
        except OSError:
            return


def _raised(call: Callable[[], Any]) -> AccsynError:
    with pytest.raises(AccsynError) as caught:
        call()
    return caught.value


def _measured(call: Callable[[], Any]) -> Dict[str, Any]:
    """What ``call`` raised, how long it took and the peak of memory allocated meanwhile."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        call()
    except AccsynError as error:
        raised: Optional[AccsynError] = error
    else:
        raised = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"error": raised, "seconds": time.monotonic() - started, "peak": peak}


# -- 1. bounded replies: time --------------------------------------------------------------


@pytest.mark.parametrize("answer", [stream_forever, drip], ids=["stream", "drip"])
def test_each_attempt_has_a_deadline_for_the_whole_reply(
    accsyn_api_version: str, answer: Answer
) -> None:
    with HostileServer(answer) as server, _session(server.url, accsyn_api_version) as session:
        outcome = _measured(lambda: session.find("Job"))
    error = outcome["error"]
    assert isinstance(error, RequestTimeout), error
    assert "within the timeout of 1 s for the whole reply" in str(error)
    assert outcome["seconds"] < 2.5
    assert outcome["peak"] < 64 * MiB


def test_headers_dripped_forever_are_cut_off(accsyn_api_version: str) -> None:
    def endless_headers(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.2):
            try:
                connection.sendall(b"X-Padding: y\r\n")
            except OSError:
                return

    with HostileServer(endless_headers) as server, _session(server.url, accsyn_api_version) as s:
        started = time.monotonic()
        with pytest.raises(AccsynError) as caught:
            s.find("Job")
    assert time.monotonic() - started < 2.5
    assert isinstance(caught.value, (RequestTimeout, ServerError))


# -- 1. bounded replies: size ---------------------------------------------------------------


def _gzip_bomb(inflated: int) -> bytes:
    """gzip of ``inflated`` bytes of JSON-ish text, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * MiB
    parts = [packer.compress(b'{"result": ["')]
    parts += [packer.compress(block) for _ in range(inflated // MiB)]
    parts.append(packer.compress(b'"]}') + packer.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_refused_at_the_limit(accsyn_api_version: str) -> None:
    bomb = _gzip_bomb(64 * MiB)
    assert len(bomb) < MiB // 4

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(_json_reply(bomb, **{"Content-Encoding": "gzip"}))

    limited = {"max_reply_bytes": 4 * MiB}
    with HostileServer(answer) as server, _session(server.url, accsyn_api_version, **limited) as s:
        outcome = _measured(lambda: s.find("Job"))
    error = outcome["error"]
    assert type(error) is ServerError
    assert "max_reply_bytes=4194304" in str(error) and "gzip" in str(error)
    assert error.executed is None
    assert outcome["peak"] < 24 * MiB  # not the 64 MiB it inflates to


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "unannounced"])
def test_a_reply_larger_than_the_limit_is_refused_and_not_repeated(
    accsyn_api_version: str, announced: bool
) -> None:
    body_size = 500 * 1000 * 1000 if announced else 40 * MiB

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        headers = {"Content-Type": "application/json"}
        if announced:
            headers["Content-Length"] = str(body_size)
        connection.sendall(_http("200 OK", headers) + b'{"result": ["')
        _send_until_stopped(connection, stop, b"y" * 65536)

    with HostileServer(answer) as server:
        settings = {"max_reply_bytes": 2 * MiB, "retries": 3, "backoff": 0.01}
        with _session(server.url, accsyn_api_version, **settings) as session:
            outcome = _measured(lambda: session.find("Job"))
        assert server.events == 1  # not repeated: the same reply would come again
    error = outcome["error"]
    assert type(error) is ServerError and "max_reply_bytes=2097152" in str(error)
    assert ("announced 500000000 bytes" in str(error)) is announced
    assert "iter_find" in str(error)  # what to do instead
    assert outcome["seconds"] < 2.5 and outcome["peak"] < 16 * MiB


def test_the_default_limit_is_documented_and_generous(accsyn_api_version: str) -> None:
    with LocalServer(api_version=accsyn_api_version) as server, server.session() as session:
        assert session.settings.max_reply_bytes == DEFAULT_MAX_REPLY_BYTES == 256 * MiB
        assert session.find("Job")
    with pytest.raises(ConfigurationError, match="max_reply_bytes"):
        _session("http://127.0.0.1:9", accsyn_api_version, max_reply_bytes=0)


def test_a_compressed_reply_within_the_limit_is_read(accsyn_api_version: str) -> None:
    reply = json.dumps({"result": [{"id": f"{n:024x}", "code": "x" * 50} for n in range(2000)]})
    packed = gzip.compress(reply.encode()) + gzip.compress(b"")  # two gzip members

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(_json_reply(packed, **{"Content-Encoding": "gzip"}))

    with HostileServer(answer) as server, _session(server.url, accsyn_api_version) as session:
        assert len(session.find("Job")) == 2000


# -- 3. replies the client cannot use -------------------------------------------------------

UNUSABLE = {
    "nested": b"[" * 100000 + b"]" * 100000,
    "nested-object": b'{"result": ' + b'{"a": ' * 50000 + b"1" + b"}" * 50001,
    "nan": b'{"result": [{"id": "x", "progress": NaN}]}',
    "infinity": b'{"result": [{"id": "x", "size": -Infinity}]}',
    "list": b'[{"id": "x"}]',
    "null": b"null",
    "string": b'"result"',
}


@pytest.mark.parametrize("body", UNUSABLE.values(), ids=list(UNUSABLE))
def test_unusable_replies_are_server_errors(accsyn_api_version: str, body: bytes) -> None:
    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(_json_reply(body))

    with HostileServer(answer) as server, _session(server.url, accsyn_api_version) as session:
        error = _raised(lambda: session.find("Job"))
    assert type(error) is ServerError, repr(error)
    assert "JSON" in str(error)


# -- 2. refusals are never taken for success ---------------------------------------------------


class CannedBackend(Backend):
    """Logs in as usual, then answers every event with ``reply``."""

    reply: ClassVar[Dict[str, Any]] = {}

    def handle(
        self,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        return dict(self.reply)


JOB_ID = "614d660de50d45bb027c9bdd"
VERBS: Dict[str, Callable[[Session], Any]] = {
    "find": lambda s: s.find("Job"),
    "find_one": lambda s: s.find_one(f"Job where id={JOB_ID}"),
    "get_entity": lambda s: s.get_entity("job", JOB_ID),
    "create": lambda s: s.create("job", {"source": "share=p/a.mov", "destination": "x@y.com"}),
    "create_many": lambda s: s.create("job", [{"source": "share=p/a.mov", "destination": "x"}]),
    "create_tasks": lambda s: s.create("task", {"tasks": ["share=p/b.mov"]}, JOB_ID),
    "update": lambda s: s.update("job", JOB_ID, {"status": "paused"}),
    "update_many": lambda s: s.update_many("task", JOB_ID, [{"id": "t1", "status": "onhold"}]),
    "delete_one": lambda s: s.delete_one("job", JOB_ID),
}


@pytest.fixture
def canned(accsyn_api_version: str) -> Iterator[LocalServer]:
    backend = CannedBackend()
    with LocalServer(backend=backend, api_version=accsyn_api_version) as server:
        yield server


def _canned_outcomes(server: LocalServer, reply: Dict[str, Any]) -> Dict[str, Any]:
    CannedBackend.reply = reply
    outcomes: Dict[str, Any] = {}
    with server.session(retries=0) as session:
        for verb, act in VERBS.items():
            try:
                outcomes[verb] = act(session)
            except AccsynError as error:
                outcomes[verb] = error
    return outcomes


def test_a_refusal_marked_unsuccessful_is_an_error_on_every_verb(canned: LocalServer) -> None:
    refused = {"success": False, "message": "Permission denied: this is not your job."}
    for verb, outcome in _canned_outcomes(canned, refused).items():
        assert type(outcome) is PermissionDenied, (verb, outcome)
        assert "not your job" in str(outcome)
    for verb, outcome in _canned_outcomes(canned, {"success": False}).items():
        assert isinstance(outcome, InvalidData), (verb, outcome)


def test_a_null_result_is_never_a_list_of_none(canned: LocalServer) -> None:
    outcomes = _canned_outcomes(canned, {"result": None})
    assert outcomes.pop("get_entity") is None  # "no such entity", as documented
    assert outcomes.pop("find_one") is not None  # an error, like find
    for verb, outcome in outcomes.items():
        if verb in ("delete_one", "create_tasks"):
            continue  # a delete says nothing more; {"result": null} adds no tasks
        assert type(outcome) is ServerError, (verb, outcome)
        assert "no usable result" in str(outcome)
    assert _canned_outcomes(canned, {"result": False})["delete_one"].__class__ is InvalidData


def test_an_empty_create_result_is_an_error(canned: LocalServer) -> None:
    outcomes = _canned_outcomes(canned, {"result": []})
    assert type(outcomes["create"]) is ServerError and type(outcomes["create_many"]) is ServerError
    assert outcomes["find"] == [] and outcomes["get_entity"] is None


# -- 4. secrets in every form the library sends them ------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _echoed_forms(version: str) -> List[str]:
    """What a proxy might echo of the Authorization header the client sent."""
    if version == names.V1:
        header = {
            "domain": "acmevfx",
            "username": "hostile@acmevfx.com",
            "session_key": SESSION_KEY,
        }
    else:
        header = {"username": "hostile@acmevfx.com", "api_key": API_KEY}
    compact = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    spaced = json.dumps(header, indent=1).encode()
    return [
        _b64(json.dumps(header).encode()),  # the header's payload alone
        _b64(compact),  # re-encoded by a proxy that decoded it
        base64.urlsafe_b64encode(spaced).decode(),  # re-encoded URL-safe
        _b64(compact).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"),
        _b64(API_KEY.encode()),
        _b64(b"x" + API_KEY.encode()),
        _b64(b"xy" + API_KEY.encode()),
    ]


def test_secrets_echoed_in_any_form_are_masked(accsyn_api_version: str) -> None:
    secrets = (API_KEY, SESSION_KEY)
    for form in _echoed_forms(accsyn_api_version):
        body = json.dumps({"message": f"Bad header {form} from you"}).encode()

        def answer(connection: socket.socket, stop: threading.Event, body: bytes = body) -> None:
            connection.sendall(_http("400 Bad Request", {"Content-Length": str(len(body))}, body))

        with HostileServer(answer) as server, _session(server.url, accsyn_api_version) as session:
            error = _raised(lambda: session.find("Job"))
        text = f"{error} {error!r} {error.args}"
        assert "***" in text, form
        for decodable in (text, *text.split()):
            for candidate in (decodable, decodable.strip(".,()'\"")):
                for decoder in (base64.b64decode, base64.urlsafe_b64decode):
                    try:
                        decoded = decoder(candidate + "==").decode("utf-8", "replace")
                    except ValueError:
                        continue
                    assert not any(secret in decoded for secret in secrets), (form, text)
        assert not any(secret in text for secret in secrets)


def test_requests_and_logins_hold_their_secrets_masked(accsyn_api_version: str) -> None:
    """What a debugger, ``vars()`` or a traceback tool printing frame locals shows."""
    with LocalServer(api_version=accsyn_api_version) as server, server.session() as session:
        generation = session._connection.generation
        login = session._connection.login_state
        assert generation is not None and login is not None
        find = generation.find(accsyn_api.parse("Job"), FindOptions())
        request = generation.event_request(session.settings, login, server.url, "s", find, "e")
        secrets = [session.settings.api_key.reveal()]
        if login.session is not None and accsyn_api_version == names.V1:  # v3: an id
            secrets.append(login.session.reveal())
        for shown in (repr(request), repr(vars(request)), repr(login), repr(vars(login))):
            assert not any(secret in shown for secret in secrets), shown
            assert not any(scheme in shown for scheme in ("ASSession ", "basic ")), shown
        assert "Secret('***')" in repr(vars(request))


# -- 5. settings and arguments that must be refused ---------------------------------------------


@pytest.mark.parametrize("verify", [0, 1, None, "", b"/etc/ssl", 0.0, [True]])
def test_verify_must_be_a_bool_system_or_a_path(accsyn_api_version: str, verify: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _session("https://127.0.0.1:9", accsyn_api_version, verify=verify, login=False)
    assert "verify must be True" in str(caught.value) or "no such CA bundle" in str(caught.value)


@pytest.mark.parametrize(
    "proxy",
    [
        "socks5://bob:pa55word-secret@proxyhost",
        "socks5:bob:pa55word-secret@proxyhost",
        "accsyn:bob:pa55word-secret@relay",
        "bob:pa55word-secret@relay:80",
        "socks5://bob:pa55word-secret%40x@proxyhost",
        "socks5://bob%3Apa55word-secret%40proxyhost",
    ],
)
def test_a_proxy_password_is_never_shown(accsyn_api_version: str, proxy: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _session("http://127.0.0.1:9", accsyn_api_version, proxy=proxy, login=False)
    assert "pa55word" not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize(
    "variable", ["http://bob:pa55word-secret@127.0.0.1", "http://bob:pa55word-secret@h:x"]
)
def test_a_proxy_password_from_the_environment_is_never_shown(
    accsyn_api_version: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", variable)
    with pytest.raises((ConfigurationError, ConnectionFailed)) as caught:
        _session("http://accsyn.invalid:8181", accsyn_api_version, timeout=(1, 1))
    assert "pa55word" not in str(caught.value) + repr(caught.value)


NOT_UTF8 = "plate.\udcff\udcfe.exr"  # as os.listdir gives a Latin-1 file name on Linux


def test_file_names_that_are_not_utf8_are_refused_before_sending(accsyn_api_version: str) -> None:
    with LocalServer(api_version=accsyn_api_version) as server, server.session() as session:
        events = len(server.events)
        for act in (
            lambda: session.create("job", {"source": f"share=p/{NOT_UTF8}", "destination": "x"}),
            lambda: session.create("task", {"tasks": [f"share=p/{NOT_UTF8}"]}, JOB_ID),
            lambda: session.find(f'Job where code="{NOT_UTF8}"'),
            lambda: session.update("job", JOB_ID, {"metadata": {NOT_UTF8: 1}}),
        ):
            with pytest.raises(InvalidData) as caught:
                act()
            assert "not valid Unicode" in str(caught.value) and "os.fsencode" in str(caught.value)
        assert len(server.events) == events  # nothing was sent


@pytest.mark.parametrize("attributes", [5, [1], ["code", None], b"code", [""], object()])
def test_find_attributes_must_be_names(accsyn_api_version: str, attributes: Any) -> None:
    with LocalServer(api_version=accsyn_api_version) as server, server.session() as session:
        with pytest.raises(InvalidData, match="attributes must be a list of attribute names"):
            session.find("Job", attributes=attributes)
        assert session.find("Job", attributes=("code", "status"))


# -- 5. property-based: random arguments to every public call ---------------------------------

_surrogates = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # os.listdir's
# st.text() leaves surrogates out: join characters instead.
_text = st.lists(st.one_of(st.characters(), _surrogates), max_size=30).map("".join)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    _text,
    st.binary(max_size=8),
    st.datetimes(),
    st.just(object()),
)
_anything = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(_text, st.integers(), st.none()), inner, max_size=3),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=8,
)


def _mostly(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plausible values four times in five, anything at all otherwise."""
    return st.integers(min_value=0, max_value=4).flatmap(
        lambda draw: _anything if draw == 0 else plausible
    )


_entity_types = _mostly(st.sampled_from(["job", "Job", "task", "queue", "user", "x"]))
_ids = _mostly(st.sampled_from([JOB_ID, JOB_ID, "", "ffffffffffffffffffffffff"]))
_flags = _mostly(st.one_of(st.none(), st.booleans()))
_counts = _mostly(st.one_of(st.none(), st.integers(min_value=0, max_value=3)))
_names_given = _mostly(st.one_of(st.none(), st.lists(st.sampled_from(["code", "status"]))))
_queries = _mostly(
    st.one_of(
        st.sampled_from(["Job", "Job where status=paused", 'Job where code="a\\"b"', "Task"]),
        _text.map(lambda text: f"Job where code={accsyn_api.quote(text)}"),
        _text.map(lambda text: accsyn_api.select("Job").where(code=text)),
    )
)
_job_data = _mostly(
    st.one_of(
        st.fixed_dictionaries(
            {"source": _text.map(lambda text: f"share=projects/{text}"), "destination": _text},
            optional={"metadata": _anything, "priority": _anything},
        ),
        st.fixed_dictionaries({"tasks": st.lists(_text, min_size=1, max_size=2)}),
        st.lists(st.dictionaries(_text, _anything, max_size=3), max_size=2),
    )
)
_changes = _mostly(
    st.one_of(
        st.fixed_dictionaries({}, optional={"priority": _anything, "code": _text}),
        st.lists(
            st.fixed_dictionaries({"id": _text}, optional={"status": _text}),
            min_size=1,
            max_size=2,
        ),
    )
)

PUBLIC_CALLS: Dict[str, Any] = {
    "find": (
        lambda s, a: s.find(a[0], attributes=a[1], finished=a[2], limit=a[3], skip=a[4]),
        st.tuples(_queries, _names_given, _flags, _counts, _counts),
    ),
    "find_one": (
        lambda s, a: s.find_one(a[0], attributes=a[1], archived=a[2], inactive=a[3]),
        st.tuples(_queries, _names_given, _flags, _flags),
    ),
    "iter_find": (
        lambda s, a: list(itertools.islice(s.iter_find(a[0], page_size=a[1]), 20)),
        st.tuples(_queries, _mostly(st.integers(min_value=1, max_value=5))),
    ),
    "get_entity": (lambda s, a: s.get_entity(a[0], a[1]), st.tuples(_entity_types, _ids)),
    "create": (
        lambda s, a: s.create(a[0], a[1], a[2], allow_duplicates=a[3]),
        st.tuples(_entity_types, _job_data, st.one_of(st.none(), _ids), _flags),
    ),
    "update": (
        lambda s, a: s.update(a[0], a[1], a[2]),
        st.tuples(_entity_types, _ids, _changes),
    ),
    "update_many": (
        lambda s, a: s.update_many(a[0], a[1], a[2]),
        st.tuples(_entity_types, st.one_of(_ids, _changes), st.one_of(_ids, _changes)),
    ),
    "delete_one": (lambda s, a: s.delete_one(a[0], a[1]), st.tuples(_entity_types, _ids)),
    "str": (lambda s, a: Session.str(a[0]), st.tuples(_anything)),
}


def test_random_arguments_raise_nothing_but_accsyn_errors(accsyn_api_version: str) -> None:
    with LocalServer(api_version=accsyn_api_version) as server, server.session() as session:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(name=st.sampled_from(sorted(PUBLIC_CALLS)), data=st.data())
        def check(name: str, data: st.DataObject) -> None:
            call, arguments = PUBLIC_CALLS[name]
            drawn = data.draw(arguments, label=name)
            with contextlib.suppress(AccsynError):  # anything else fails the test
                call(session, drawn)

        events = len(server.events)
        check()
        assert len(server.events) >= events + 5  # calls went through to the server
        assert session.find("Job", archived=True) is not None  # still usable
