"""No API key, session key or Authorization header in logs, errors or reprs, on both generations.

A full run (logins, every verb, refusals, a failed login, expiry and re-login
on v1.0, a refused connection, a read timeout, a dropped relay, injected
faults, ``verify=False``) is recorded: every log record at DEBUG on every
logger, everything printed, every warning, and the
``str``/``repr``/traceback/attributes of every exception and the ``repr`` of
every session. Then no secret may appear anywhere in that text.

The secrets are the API keys and their base64, the v1.0 session keys, and
every ``Authorization`` header value the sessions sent (v1.0:
``ASCredentials``/``ASSession``; v3: ``basic <b64(user)>:<b64(key)>`` on every
call), read off the wire by a relay in front of the server.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import re
import socket
import threading
import time
import traceback
import types
import warnings
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

import netsupport
import pytest
from fault_matrix import URIS
from generations import both_generations

import accsyn_api
from accsyn_api import Session
from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    ConnectionFailed,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    ServerError,
    SessionExpired,
)
from accsyn_api.protocol import names
from accsyn_api.testing import Backend, LocalServer

pytestmark = both_generations

JOB_ID = "614d660de50d45bb027c9bdd"
WRONG_KEY = "wrong-api-key-7f3a9c1e5b2d4f6a8c0e"
ECHOED_KEY = "echo-me-api-key-0b1c2d3e4f5a6b7c8d9e"
SLOW_SECONDS = 1.5


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class RecordingBackend(Backend):
    """Records every session key it issues; can be slow, always-expired or echo secrets."""

    def __init__(self) -> None:
        super().__init__()
        self.session_keys: Set[str] = set()
        self.slow_uris: Set[str] = set()
        self.expire_every_event = False
        self.echo_secrets = False
        self._record_lock = threading.Lock()

    def login(
        self, credentials: Mapping[str, Any], body: Mapping[str, Any], api_version: str = names.V1
    ) -> Dict[str, Any]:
        if self.echo_secrets:  # a chatty server that repeats what it was sent
            return {
                "message": f"authentication failed for api_key={credentials.get('api_key')}",
                "message_hr": f"The key {credentials.get('api_key')} is wrong.",
                "error_code": "authentication_failed",
            }
        reply = super().login(credentials, body, api_version)
        key = reply.get("session_key")
        if isinstance(key, str):
            with self._record_lock:
                self.session_keys.add(key)
        return reply

    def handle(
        self,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        uri = event.get("uri") if isinstance(event, Mapping) else None
        if uri in self.slow_uris:
            time.sleep(SLOW_SECONDS)
        if self.expire_every_event:
            self.expire_sessions()
        if self.echo_secrets and isinstance(session, Mapping):
            # v1.0: the decoded ASSession header; v3: the credentials of the basic header.
            key = session.get("session_key") or session.get("api_key")
            if uri == URIS[api_version]["find"]:
                return {
                    "message": f"key {key} is not valid here",
                    "message_hr": f"Your key {key} was refused.",
                    "error_code": "invalid_data",
                }
            return {"exception": f"KeyError: {key!r} in session table"}
        return super().handle(method, event, session, api_version)


class Recorder:
    """Collects the text of everything that could show a secret."""

    def __init__(self) -> None:
        self.texts: List[str] = []
        self.errors: List[BaseException] = []

    def expect(
        self, error_class: type[BaseException], call: Callable[[], Any]
    ) -> Optional[BaseException]:
        """Run ``call``; it must raise ``error_class``, whose texts are recorded."""
        try:
            call()
        except error_class as exc:
            self.exception(exc)
            return exc
        raise AssertionError(f"{error_class.__name__} was not raised")

    def attempt(self, call: Callable[[], Any]) -> None:
        """Run ``call``; if it raises an accsyn_api error, record it (either outcome is fine)."""
        try:
            self.add(call())
        except AccsynError as exc:
            self.exception(exc)

    def exception(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.texts.extend(traceback.format_exception(type(exc), exc, exc.__traceback__))
        seen: Set[int] = set()
        current: Optional[BaseException] = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            self.texts.append(repr(vars(current)))
            current = current.__cause__ or current.__context__

    def add(self, *objects: Any) -> None:
        for obj in objects:
            self.texts += [str(obj), repr(obj)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def server(backend: RecordingBackend, accsyn_api_version: str) -> Iterator[LocalServer]:
    with LocalServer(backend=backend, api_version=accsyn_api_version) as local_server:
        yield local_server


@pytest.fixture
def wire(server: LocalServer) -> Iterator[netsupport.TcpRelay]:
    """A relay in front of the server that keeps what the sessions sent through it."""
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    target = (parts.hostname, parts.port)
    with netsupport.TcpRelay(target, capture_limit=16 * 1024 * 1024) as relay:
        yield relay


def _authorizations(relay: netsupport.TcpRelay) -> Set[str]:
    """Every Authorization header value that went through ``relay``."""
    sent = bytes(relay.captured_up).decode("utf-8", errors="replace")
    return set(re.findall(r"(?im)^Authorization: (.+?)\r$", sent))


@pytest.fixture
def everything(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Recorder]:
    """A Recorder, with every logger at DEBUG and warnings recorded."""
    for variable in ("ACCSYN_PROXY", "ACCSYN_URL", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    caplog.set_level(logging.DEBUG)
    for name in ("accsyn_api", "urllib3", "requests", "socks"):
        caplog.set_level(logging.DEBUG, logger=name)
    recorder = Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield recorder
    recorder.texts += [str(w.message) for w in caught]


def _session(
    server: LocalServer, role: str, recorder: Recorder, relay: netsupport.TcpRelay, **kwargs: Any
) -> accsyn_api.Session:
    """A session of ``role`` through ``relay`` (so that its headers are seen), recorded."""
    credentials = server.credentials(role)
    session = accsyn_api.Session(
        proxy=relay.proxy,
        workspace=server.backend.domain,
        username=credentials["username"],
        api_key=credentials["api_key"],
        api_version=server.api_version,
        **kwargs,
    )
    recorder.add(session, vars(session), session.settings)
    return session


def _key_secrets(*keys: str) -> Set[str]:
    """The keys, and their base64 as the v3 Authorization header carries them."""
    return set(keys) | {_b64(key) for key in keys}


def _assert_hidden(
    secrets: Set[str], recorder: Recorder, caplog: pytest.LogCaptureFixture, printed: str
) -> None:
    haystacks = {
        "log messages": "\n".join(r.getMessage() for r in caplog.records),
        "formatted log (with tracebacks)": caplog.text,
        "log record arguments": "\n".join(repr(r.args) for r in caplog.records),
        "exceptions, reprs and warnings": "\n".join(recorder.texts),
        "stdout/stderr": printed,
    }
    for secret in secrets:
        assert len(secret) >= 16  # a real key, not something that matches by chance
        for where, text in haystacks.items():
            assert secret not in text, f"a secret appears in the {where}"


def _every_verb(rec: Recorder, employee: accsyn_api.Session, admin: accsyn_api.Session) -> None:
    job = employee.create(
        "job",
        {"code": "secret_run", "source": "share=projects/a.exr", "destination": "lars@edit.com"},
    )
    rec.add(
        job,
        employee.find("Job"),
        employee.find_one(f"Job where id={job['id']}"),
        employee.get_entity("job", job["id"]),
        list(employee.iter_find("Job", page_size=2)),
        employee.find("entitytypes"),
        employee.find("attributes where entitytype=job"),
        employee.create("task", {"tasks": ["b.exr"]}, job["id"]),
        employee.update("job", job["id"], {"priority": 3}),
    )
    task_ids = [t["id"] for t in employee.find(f"Task where job.id={job['id']}")]
    rec.add(employee.update_many("task", job["id"], [{"id": task_ids[0], "status": "onhold"}]))
    rec.add(employee.str(job), admin.delete_one("job", job["id"]))


def _refusals(rec: Recorder, employee: accsyn_api.Session, user: accsyn_api.Session) -> None:
    rec.expect(InvalidQuery, lambda: employee.find('Job where code="unclosed'))
    rec.expect(InvalidQuery, lambda: employee.find("Task where status=queued"))  # server side
    rec.expect(NotFound, lambda: employee.update("job", "f" * 24, {"priority": 1}))
    rec.expect(InvalidData, lambda: employee.update("job", JOB_ID, {"status": "exploded"}))
    for_user = employee.create(
        "job", {"source": "share=projects/u.exr", "destination": "user@mail.com"}
    )
    rec.expect(PermissionDenied, lambda: user.delete_one("job", for_user["id"]))
    rec.expect(NotFound, lambda: employee.find("Gizmo where code=x"))


def _injected_faults(rec: Recorder, server: LocalServer, employee: accsyn_api.Session) -> None:
    uris = URIS[server.api_version]
    kinds = ("drop_before", "drop_after", "bad_gateway", "truncated", "unavailable")
    for kind in (*kinds, "rate_limited"):
        server.inject(kind, uri=uris["find"])
        rec.attempt(lambda: employee.find("Job"))
        server.clear_faults()
    server.inject("expire_session", uri=uris["update"])  # v3: a refusal of the key
    rec.attempt(lambda: employee.update("job", JOB_ID, {"priority": 4}))
    server.clear_faults()
    assert server.faults_fired >= 7


def test_no_secret_anywhere_during_a_full_run(
    server: LocalServer,
    backend: RecordingBackend,
    wire: netsupport.TcpRelay,
    everything: Recorder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rec, version = everything, server.api_version
    employee = _session(server, "employee", rec, wire)
    admin = _session(server, "admin", rec, wire)
    user = _session(server, "user", rec, wire)
    _every_verb(rec, employee, admin)
    _refusals(rec, employee, user)

    # A failed login, with a key the server does not know.
    credentials = server.credentials("employee")
    login: Dict[str, Any] = {
        "workspace": server.backend.domain,
        "username": credentials["username"],
    }
    rec.expect(
        AuthenticationError,
        lambda: accsyn_api.Session(
            proxy=wire.proxy, api_key=WRONG_KEY, api_version=version, **login
        ),
    )

    if version == names.V1:  # expiry: logged in again, then an expiry that does not go away
        backend.expire_sessions()
        rec.add(employee.find_one(f"Job where id={JOB_ID}"), admin.find("Queue"))
        backend.expire_every_event = True
        rec.expect(SessionExpired, lambda: employee.find("Job"))
        backend.expire_every_event = False

    # A read that times out.
    backend.slow_uris.add(URIS[version]["update"])
    slow = _session(server, "employee", rec, wire, timeout=(2, 0.3), retries=0)
    rec.expect(RequestTimeout, lambda: slow.update("job", JOB_ID, {"priority": 9}))
    backend.slow_uris.clear()

    # A connection refused, and a relay that goes away in the middle of a session.
    rec.expect(
        ConnectionFailed,
        lambda: accsyn_api.Session(
            url=f"http://127.0.0.1:{_closed_port()}",
            api_key=credentials["api_key"],
            api_version=version,
            retries=0,
            timeout=(1, 1),
            **login,
        ),
    )
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    relay = netsupport.TcpRelay((parts.hostname, parts.port)).start()
    relayed = _session(server, "employee", rec, relay, retries=0, timeout=(1, 2))
    rec.add(relayed.find("Job"))
    relay.stop()
    rec.expect(ConnectionFailed, lambda: relayed.find("Job"))

    _injected_faults(rec, server, employee)

    # verify=False: a warning, but no secret in it.
    insecure = _session(server, "admin", rec, wire, verify=False)
    rec.add(insecure.find("Job"))
    assert any("verify=False" in r.getMessage() for r in caplog.records)

    for session in (employee, admin, user, slow, relayed, insecure):
        rec.add(session, vars(session), session.settings, session._connection.transport)
        session.close()

    keys = [server.credentials(role)["api_key"] for role in ("admin", "employee", "user")]
    secrets = _key_secrets(*keys, WRONG_KEY)
    headers = _authorizations(wire)
    assert len(headers) >= 4  # three users and a wrong key (v1.0: login and session headers)
    secrets |= headers
    if version == names.V1:
        assert len(backend.session_keys) >= 8  # six sessions, plus the logins after expiry
        secrets |= backend.session_keys
    else:
        prefix = f"{names.V3_AUTH_SCHEME} {_b64(credentials['username'])}:"
        assert f"{prefix}{_b64(credentials['api_key'])}" in headers
    assert len(rec.errors) >= 10
    assert len(caplog.records) > 50  # the run really was logged at DEBUG
    captured = capsys.readouterr()
    _assert_hidden(secrets, rec, caplog, captured.out + captured.err)


def test_secrets_echoed_by_the_reference_server_are_masked(
    server: LocalServer,
    backend: RecordingBackend,
    wire: netsupport.TcpRelay,
    everything: Recorder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that repeats the key in its refusals must not make the client show it."""
    rec = everything
    session = _session(server, "employee", rec, wire)
    backend.echo_secrets = True
    rec.expect(InvalidData, lambda: session.find("Job"))
    rec.expect(ServerError, lambda: session.update("job", JOB_ID, {"priority": 1}))
    credentials = server.credentials("employee")
    rec.expect(
        AuthenticationError,
        lambda: accsyn_api.Session(
            proxy=wire.proxy,
            workspace=server.backend.domain,
            username=credentials["username"],
            api_key=ECHOED_KEY,
            api_version=server.api_version,
        ),
    )
    session.close()
    # The echo really happened: the masks stand where the keys were.
    assert all("***" in str(error) for error in rec.errors)
    captured = capsys.readouterr()
    secrets = backend.session_keys | _key_secrets(credentials["api_key"], ECHOED_KEY)
    _assert_hidden(secrets | _authorizations(wire), rec, caplog, captured.out + captured.err)


# -- a server that echoes the Authorization header itself ---------------------------------

ECHO_SESSION_KEY = "echo-session-key-5e6f7a8b9c0d1e2f"
ECHO_FORMS = ("refusal", "exception", "html")


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Logs anyone in; then answers every event by repeating its Authorization header."""

    protocol_version = "HTTP/1.1"
    server: _EchoServer

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        header = self.headers.get("Authorization", "")
        path = self.path.split("?")[0]
        if path.endswith(names.V1_LOGIN_URI) or path.endswith(names.V3_LOGIN_URI):
            status, content_type, body = self.server.login(path, header)
        else:
            status, content_type, body = self.server.echo(header)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _EchoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.refuse_logins = False
        self.form = "refusal"
        self.echo_part: Callable[[str], str] = lambda header: header

    def login(self, path: str, header: str) -> Tuple[int, str, bytes]:
        if self.refuse_logins:
            refusal = {"message": f"bad credentials: {header}", "message_hr": f"No: {header}"}
            return 401, "application/json", json.dumps(refusal).encode()
        if path.startswith(names.V1_API_PATH):
            reply: Dict[str, Any] = {
                "session_key": ECHO_SESSION_KEY,
                "clearance": "employee",
                "id": "u1",
            }
        else:
            reply = {"result": {"role": "employee", "id": "u1", "session_id": "s1"}}
        return 200, "application/json", json.dumps(reply).encode()

    def echo(self, header: str) -> Tuple[int, str, bytes]:
        shown = self.echo_part(header)
        if self.form == "exception":
            return 500, "application/json", json.dumps({"exception": f"no {shown}"}).encode()
        if self.form == "html":
            return 500, "text/html", f"<p>{shown}</p>".encode()
        refusal = {"message": f"header {shown} refused", "message_hr": f"Refused: {shown}"}
        return 400, "application/json", json.dumps(refusal).encode()


@pytest.fixture
def echo_server() -> Iterator[_EchoServer]:
    httpd = _EchoServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _echo_session(echo_server: _EchoServer, version: str, **settings: Any) -> accsyn_api.Session:
    return accsyn_api.Session(
        url=f"http://127.0.0.1:{echo_server.server_address[1]}",
        workspace="acmevfx",
        username="echo@acmevfx.com",
        api_key=ECHOED_KEY,
        api_version=version,
        retries=0,
        **settings,
    )


def _decoded_secret(header: str) -> str:
    """The secret inside an Authorization header: the v1.0 session key, the v3 API key."""
    scheme, _, value = header.partition(" ")
    if scheme == names.V1_SESSION_SCHEME:
        return str(json.loads(base64.b64decode(value))["session_key"])
    return base64.b64decode(value.split(":")[1]).decode("utf-8")


ECHOED_PARTS: Dict[str, Callable[[str], str]] = {
    "header": lambda header: header,
    "decoded": _decoded_secret,
}


@pytest.mark.parametrize("part", ECHOED_PARTS)
@pytest.mark.parametrize("form", ECHO_FORMS)
def test_an_echoed_authorization_header_is_masked(
    echo_server: _EchoServer, accsyn_api_version: str, form: str, part: str
) -> None:
    """v1.0 ``ASSession`` / v3 ``basic`` header, or the secret in it, echoed in an error."""
    echo_server.form, echo_server.echo_part = form, ECHOED_PARTS[part]
    session = _echo_session(echo_server, accsyn_api_version)
    with pytest.raises((InvalidData, ServerError)) as caught:
        session.find("Job")
    session.close()
    texts = [str(caught.value), repr(caught.value), repr(caught.value.args)]
    texts.append("".join(traceback.format_exception(caught.type, caught.value, caught.tb)))
    assert "***" in str(caught.value)  # the echo happened, masked
    secrets = _key_secrets(ECHOED_KEY) | {ECHO_SESSION_KEY}
    for text in texts:
        assert not any(secret in text for secret in secrets), text
        assert not re.search(r"(ASSession|basic) [A-Za-z0-9+/=:]{8,}", text), text


def test_an_echoed_login_header_is_masked(
    echo_server: _EchoServer, accsyn_api_version: str
) -> None:
    """v1.0 ``ASCredentials`` / v3 ``basic`` header echoed in the refusal of the login."""
    echo_server.refuse_logins = True
    with pytest.raises(AuthenticationError) as caught:
        _echo_session(echo_server, accsyn_api_version)
    text = str(caught.value) + repr(caught.value)
    assert "bad credentials: ***" in text
    assert not re.search(r"(ASCredentials|basic) [A-Za-z0-9+/=:]{8,}", text)
    assert not any(secret in text for secret in _key_secrets(ECHOED_KEY))


def test_the_echoed_base64_of_the_key_alone_is_masked(
    echo_server: _EchoServer, accsyn_api_version: str
) -> None:
    if accsyn_api_version == names.V1:
        pytest.skip("v1.0 sends the key only inside base64 JSON, never its base64 alone")
    echo_server.echo_part = lambda header: _b64(ECHOED_KEY)
    session = _echo_session(echo_server, accsyn_api_version)
    with pytest.raises(InvalidData) as caught:
        session.find("Job")
    session.close()
    assert _b64(ECHOED_KEY) not in str(caught.value)


# -- what a debugger shows ----------------------------------------------------------------


def test_settings_and_sessions_never_show_the_key(server: LocalServer) -> None:
    """What a debugger or a careless ``print(vars(...))`` shows."""
    credentials = server.credentials("employee")
    with server.session("employee") as session:
        shown = [
            repr(session),
            str(session),
            repr(vars(session)),
            repr(session.settings),
            repr(vars(session.settings)),
            str(session.settings.api_key),
            repr(session._connection.transport),
        ]
        for text in shown:
            assert credentials["api_key"] not in text
            assert _b64(credentials["api_key"]) not in text
        assert "Secret('***')" in repr(vars(session.settings))
        assert session.find_one(f"Job where id={JOB_ID}") is not None


def _frame_locals(tb: Optional[types.TracebackType]) -> List[str]:
    """The repr of every local of every library frame of a traceback, as crash reporters show.

    Left out: this test's frame, and the ``api_key`` argument of ``Session()``, which is the
    caller's own text.
    """
    shown: List[str] = []
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
        if frame.f_code.co_filename == __file__:
            continue
        for name, value in frame.f_locals.items():
            if not (name == "api_key" and isinstance(frame.f_locals.get("self"), Session)):
                shown.append(f"{frame.f_code.co_name}.{name} = {value!r}")
    return shown


def test_frame_locals_of_a_failed_call_show_no_secret(
    server: LocalServer, accsyn_api_version: str
) -> None:
    credentials = server.credentials("employee")
    with pytest.raises(AuthenticationError) as refused:
        accsyn_api.Session(
            url=server.url,
            workspace=server.backend.domain,
            username=credentials["username"],
            api_key=WRONG_KEY,
            api_version=accsyn_api_version,
        )
    with server.session("employee", retries=0) as session:
        server.inject("bad_gateway", uri=URIS[accsyn_api_version]["find"])
        with pytest.raises(ServerError) as failed:
            session.find("Job")
    shown = _frame_locals(refused.tb) + _frame_locals(failed.tb)
    assert any(".request = " in line for line in shown)  # the frames were really seen
    secrets = _key_secrets(WRONG_KEY, credentials["api_key"])
    for line in shown:
        assert not any(secret in line for secret in secrets), line
        assert not re.search(r"(ASCredentials|ASSession|basic) [A-Za-z0-9+/=:]{8,}", line), line
