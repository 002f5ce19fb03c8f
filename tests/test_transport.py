"""The client's HTTP behaviour through the public API, over real HTTP, on both API generations.

Logins, the way events travel, connections, refusals, host look-ups and the
choice of generation against the reference server (:class:`LocalServer`,
which serves ``/api/v1.0`` and ``/api/v3`` at once); broken networks and
broken servers against small raw servers of this module. The retry policy
and the fault matrix have modules of their own (``test_retries.py``,
``test_faults.py``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.server
import logging
import re
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import netsupport
import pytest
from fault_matrix import URIS
from generations import both_generations

import accsyn_api
from accsyn_api import Session
from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    ConfigurationError,
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
from accsyn_api.proxies import proxy_settings
from accsyn_api.replies import error_from_reply
from accsyn_api.testing.backend import Backend
from accsyn_api.testing.server import LocalServer

JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"
MISSING_JOB = "ffffffffffffffffffffffff"
WRONG_KEY = "wrong-key-0123456789abcdef"
NEW_JOB = {"source": "share=projects/a.mov", "destination": "lars@edit.com"}
DEVICE_HEADERS = {names.V1: names.V1_DEVICE_HEADER, names.V3: names.V3_DEVICE_HEADER}


@pytest.fixture
def server(accsyn_api_version: str) -> Iterator[LocalServer]:
    with LocalServer(api_version=accsyn_api_version) as local_server:
        yield local_server


@pytest.fixture
def session(server: LocalServer) -> Iterator[Session]:
    with server.session() as logged_in:
        yield logged_in


def _session(server: LocalServer, version: str, **settings: Any) -> Session:
    """A Session of the demo employee built by hand (any api_key, url or look-up)."""
    credentials = server.credentials("employee")  # the same user and key on both
    options: Dict[str, Any] = {
        "workspace": server.backend.domain,
        "username": credentials["username"],
        "api_key": credentials["api_key"],
        "api_version": version,
    }
    options.update(settings)
    if "proxy" not in options and "registry_url" not in options and "master_url" not in options:
        options.setdefault("url", server.url)
    return Session(**options)


def _client_lines(caplog: pytest.LogCaptureFixture, pattern: str) -> List[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("accsyn_api.transport")
        and re.search(pattern, record.getMessage())
    ]


def _server_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "accsyn_api.testing"]


def _eids(caplog: pytest.LogCaptureFixture, uri: str) -> List[str]:
    lines = _client_lines(caplog, rf"^\S+ {re.escape(uri)} eid=")
    return [re.search(r"eid=(\S+)", line).group(1) for line in lines]  # type: ignore[union-attr]


def _logins(caplog: pytest.LogCaptureFixture, version: str) -> int:
    return len(_client_lines(caplog, rf"^PUT {re.escape(URIS[version]['login'])} "))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- login ------------------------------------------------------------------------


@both_generations
def test_login_gives_the_role_and_the_user(session: Session, accsyn_api_version: str) -> None:
    assert session.clearance == session.role == "employee"
    assert session.user_id is not None and re.fullmatch(r"[0-9a-f]{24}", session.user_id)
    assert session.api_version == accsyn_api_version


@both_generations
def test_wrong_api_key_is_refused_without_showing_it(
    server: LocalServer, accsyn_api_version: str
) -> None:
    for version in (accsyn_api_version, "auto"):
        with pytest.raises(AuthenticationError) as caught:
            _session(server, version, api_key=WRONG_KEY)
        error = caught.value
        assert not isinstance(error, SessionExpired)
        assert "API key" in str(error)  # says what to check
        for text in (str(error), repr(error), repr(error.args)):
            assert WRONG_KEY not in text
    assert caught.value.uri == URIS[names.V3]["login"]  # "auto" asks v3 first
    with pytest.raises(AuthenticationError) as caught:
        _session(server, accsyn_api_version, api_key=WRONG_KEY)
    assert caught.value.uri == URIS[accsyn_api_version]["login"]


@both_generations
def test_no_api_key_is_a_configuration_error(
    server: LocalServer, accsyn_api_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCSYN_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"api_key=.*ACCSYN_API_KEY"):
        _session(server, accsyn_api_version, api_key=None)
    assert server.connections_accepted == 0  # refused before anything was sent


# -- calls ------------------------------------------------------------------------


@both_generations
def test_find_decodes_dates(session: Session, accsyn_api_version: str) -> None:
    job = session.find_one(f"Job where id={JOB_LATEST_EDIT}")
    assert job is not None and job["id"] == JOB_LATEST_EDIT
    if accsyn_api_version == names.V1:  # naive, as the server wrote them
        assert job["created"] == dt.datetime(2021, 9, 24, 7, 45, 49)
        assert job["finished"] == dt.datetime(1970, 1, 1)  # v1.0's "not finished"
    else:  # UTC, as timezone-aware datetimes
        assert job["created"] == dt.datetime(2021, 9, 24, 7, 45, 49, tzinfo=dt.timezone.utc)
        assert job["created"].utcoffset() == dt.timedelta(0)
        assert job["finished"] is None


@both_generations
def test_reads_travel_in_the_query_string_and_writes_in_the_body(
    server: LocalServer,
    session: Session,
    accsyn_api_version: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api")
    uris = URIS[accsyn_api_version]
    session.find("Job where status=paused")
    created = session.create("job", dict(NEW_JOB))
    assert created["code"] == "a.mov"
    session.update("job", created["id"], {"priority": 3})
    session.delete_one("job", created["id"])
    api = names.API_PATHS[accsyn_api_version]
    lines = _server_lines(caplog)
    for method in ("GET", "DELETE"):  # the event is the query string
        assert any(line.startswith(f"{method} {api}/event?%7B%22") for line in lines), method
    for method in ("POST", "PUT"):  # the event is the body
        assert f"{method} {api}/event -> 200" in lines, method
    for verb in ("find", "create_job", "update", "delete_one"):
        [eid] = _eids(caplog, uris[verb])
        assert server.backend.executions(eid) == 1
    find, create = (
        next(e for e in server.events if e["uri"] == uris[v]) for v in ("find", "create_job")
    )
    assert find["eid"] == _eids(caplog, uris["find"])[0]
    workspace_key = (names.V1_WORKSPACE_KEY, names.V3_WORKSPACE_KEY)[accsyn_api_version == names.V3]
    assert {key: find[key] for key in ("audience", workspace_key, "uri", "ident", "query")} == {
        "audience": "api",
        workspace_key: "acmevfx",
        "uri": uris["find"],
        "ident": "employee@acmevfx.com",
        "query": "status=paused",
    }
    assert isinstance(find["created"], dt.datetime) and find["hostname"]
    assert find["session"] == create["session"] and find["eid"] != create["eid"]
    assert create["data"]["destination"] == "lars@edit.com"
    if accsyn_api_version == names.V1:
        assert find["data"] == {"type": 1}  # v1.0 finds jobs and queues alike: type 1 = jobs
    else:
        assert find["data"] == {}  # v3 always sends data


@both_generations
def test_data_may_hold_datetimes_and_is_not_modified(
    session: Session, accsyn_api_version: str
) -> None:
    if accsyn_api_version == names.V1:  # v1.0: naive local time travels as it is
        delivered = dt.datetime(2024, 5, 6, 7, 8, 9)
    else:  # v3: an aware value travels as UTC
        delivered = dt.datetime(2024, 5, 6, 9, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    changes = {"metadata": {"delivered": delivered}}
    spec = dict(NEW_JOB, metadata={"sent": delivered})
    before = repr((changes, spec))
    job = session.update("job", JOB_LATEST_EDIT, changes)
    assert job["metadata"] == {"delivered": "2024-05-06T07:08:09"}
    created = session.create("job", spec)
    assert created["metadata"] == {"sent": "2024-05-06T07:08:09"}
    assert repr((changes, spec)) == before


@pytest.fixture
def relay(server: LocalServer) -> Iterator[netsupport.TcpRelay]:
    """A relay in front of the server, keeping a copy of what clients sent."""
    host, port = server.url.rsplit("//", 1)[1].split(":")
    with netsupport.TcpRelay((host, int(port)), capture_limit=4 * 1024 * 1024) as front:
        yield front


@both_generations
def test_large_payload_travels_gzipped(
    server: LocalServer, relay: netsupport.TcpRelay, accsyn_api_version: str
) -> None:
    paths = [
        f"thefilm/shots/sh{index:05d}/comp/v001/plate.{index:05d}.exr" for index in range(4000)
    ]
    spec = {"source": "share=projects", "destination": "lars@edit.com", "tasks": paths}
    assert len(str(spec)) > names.GZIP_THRESHOLD
    with _session(server, accsyn_api_version, proxy=relay.proxy) as relayed:
        job = relayed.create("job", spec)
        relayed.update("job", job["id"], {"priority": 3})
        tasks = relayed.find(f"Task where job.id={job['id']}")
    sent = bytes(relay.captured_up)
    assert b'"gz_data":"' in sent
    assert b"plate.00001.exr" not in sent  # the paths went compressed
    assert b'"data":{"priority":3}' in sent  # a small payload travels as it is
    assert sorted(task["source"]["path"] for task in tasks) == sorted(paths)


@both_generations
def test_device_header_names_the_client(
    server: LocalServer, relay: netsupport.TcpRelay, accsyn_api_version: str
) -> None:
    with _session(server, accsyn_api_version, proxy=relay.proxy) as relayed:
        relayed.find("Job")
    sent = bytes(relay.captured_up).decode("utf-8", errors="replace")
    header = DEVICE_HEADERS[accsyn_api_version]
    version = re.escape(accsyn_api.__version__)
    devices = re.findall(rf"(?im)^{header}: (.*)\r$", sent)
    assert len(devices) == 2  # the login and the find
    assert all(re.fullmatch(rf"accsyn_api/{version} @ \S+ \S+", device) for device in devices)
    other = DEVICE_HEADERS[names.V3 if accsyn_api_version == names.V1 else names.V1]
    assert f"\n{other}:" not in sent


@both_generations
def test_calls_reuse_one_connection(server: LocalServer, session: Session) -> None:
    for _ in range(20):
        session.find("Job")
    assert server.connections_accepted == 1


@both_generations
def test_concurrent_first_calls_log_in_once(
    server: LocalServer, accsyn_api_version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    errors: List[BaseException] = []
    shared = server.session(login=False)

    def work() -> None:
        try:
            for _ in range(5):
                shared.find("Job")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    assert errors == []
    assert _logins(caplog, accsyn_api_version) == 1
    assert len(_eids(caplog, URIS[accsyn_api_version]["find"])) == 40
    assert server.connections_accepted <= 8


@both_generations
def test_debug_log_never_shows_secrets(
    server: LocalServer,
    session: Session,
    accsyn_api_version: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    session.find("Job")
    [line] = _client_lines(caplog, rf"^GET {URIS[accsyn_api_version]['find']} ")
    assert re.search(r"eid=[0-9a-f-]{36} HTTP 200 [0-9.]+ ms \d+ bytes$", line)
    secrets = _secrets_of(session)
    assert len(secrets) >= 2
    for record in caplog.records:
        for text in (record.getMessage(), repr(record.args)):
            for secret in secrets:
                assert secret not in text


def _secrets_of(session: Session) -> List[str]:
    """The API key and what carries it: the v1.0 session key, the v3 Authorization header."""
    key = session.settings.api_key.reveal()
    found = [key]
    login = session._connection.login_state
    if session.api_version == names.V1 and login is not None and login.session is not None:
        found.append(login.session.reveal())
    if session.api_version == names.V3:
        encoded = base64.b64encode(key.encode()).decode()
        user = base64.b64encode(session.username.encode()).decode()
        found += [encoded, f"basic {user}:{encoded}"]
    return found


# -- session expiry (v1.0: session keys expire; v3 has none) ----------------------------


@pytest.fixture
def v1_server() -> Iterator[LocalServer]:
    with LocalServer(api_version=names.V1) as local_server:
        yield local_server


def test_v1_expired_session_logs_in_again_transparently(
    v1_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    with v1_server.session() as session:
        session.find("Job")
        old_key = _secrets_of(session)[1]
        v1_server.backend.expire_sessions()
        job = session.update("job", JOB_LATEST_EDIT, {"status": "paused"})
        new_key = _secrets_of(session)[1]
    assert job["status"] == "paused"
    assert _logins(caplog, names.V1) == 2
    assert new_key != old_key
    eids = _eids(caplog, "job/edit")
    assert len(eids) == 2 and eids[0] == eids[1]  # the same event, repeated once
    assert v1_server.backend.executions(eids[0]) == 1


class _AlwaysExpiredBackend(Backend):
    def handle(
        self,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        return {
            "message": "session expired",
            "message_hr": "The session has expired.",
            "session_expired": True,
        }


def test_v1_a_second_expiry_raises_session_expired(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    with LocalServer(backend=_AlwaysExpiredBackend()) as server:
        session = server.session()
        with pytest.raises(SessionExpired) as caught:
            session.find("Job")
        session.close()
    assert caught.value.uri == "job/find" and caught.value.eid
    assert _logins(caplog, names.V1) == 2


def test_v3_has_no_expiry_and_a_refused_key_is_not_renewed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    with LocalServer(api_version=names.V3) as server, server.session() as session:
        server.backend.expire_sessions()  # v1.0 session keys only
        assert session.find("Job")
        server.inject("expire_session", uri="transfer/find")  # v3: a 401 refusal
        with pytest.raises(AuthenticationError) as caught:
            session.find("Job")
        assert session.find("Job")  # the next call carries the same key, and passes
    assert not isinstance(caught.value, SessionExpired)
    assert caught.value.http_status == 401 and caught.value.uri == "transfer/find"
    assert _logins(caplog, names.V3) == 1


# -- refusals -----------------------------------------------------------------------

Act = Callable[[Session], Any]
REFUSALS: List[Tuple[str, str, Act, type, str, int]] = [
    (
        "employee",
        "update",
        lambda s: s.update("job", JOB_LATEST_EDIT, {"status": "running"}),
        InvalidData,
        "writeable",
        400,
    ),
    (
        "employee",
        "update",
        lambda s: s.update("job", MISSING_JOB, {"status": "paused"}),
        NotFound,
        MISSING_JOB,
        404,
    ),
    (
        "user",
        "create_job",
        lambda s: s.create("job", dict(NEW_JOB)),
        PermissionDenied,
        "restricted",
        403,
    ),
    (
        "employee",
        "find_task",
        lambda s: s.find("Task where status=queued"),
        InvalidQuery,
        "job.id",
        400,
    ),
]


@both_generations
@pytest.mark.parametrize(
    ("role", "verb", "act", "expected", "words", "v3_status"),
    REFUSALS,
    ids=["status-not-writeable", "missing-job", "restricted-user", "server-side-query"],
)
def test_refusals_map_to_errors(
    server: LocalServer,
    accsyn_api_version: str,
    role: str,
    verb: str,
    act: Act,
    expected: type,
    words: str,
    v3_status: int,
) -> None:
    with server.session(role) as session, pytest.raises(AccsynError) as caught:
        act(session)
    error = caught.value
    assert type(error) is expected
    assert error.uri == URIS[accsyn_api_version][verb]
    assert error.eid and re.fullmatch(r"[0-9a-f-]{36}", error.eid)
    assert words.lower() in str(error).lower()
    assert error.message_hr and error.message
    # v1.0 refuses with HTTP 200; the v3 server with the status of the refusal's kind.
    assert error.http_status == (200 if accsyn_api_version == names.V1 else v3_status)


@both_generations
def test_an_unknown_entity_type_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound) as caught:
        session.find("Nonsense")
    assert caught.value.uri == "nonsense/find" and "nonsense" in str(caught.value)


class _FailingBackend(Backend):
    def handle(
        self,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        raise KeyError("boom")


@both_generations
def test_server_fault_is_a_server_error(accsyn_api_version: str) -> None:
    with LocalServer(backend=_FailingBackend(), api_version=accsyn_api_version) as server:
        session = server.session()
        with pytest.raises(ServerError) as caught:
            session.find("Job")
        session.close()
    error = caught.value
    assert f"The server failed while handling {URIS[accsyn_api_version]['find']}" in str(error)
    assert "KeyError" in str(error) and error.eid and "Tried once" in str(error)
    assert error.http_status == 500


@pytest.mark.parametrize(
    ("reply", "status", "expected"),
    [
        ({"message": "x", "error_code": "authentication_failed"}, 200, AuthenticationError),
        ({"message": "x", "error_code": "session_expired"}, 200, SessionExpired),
        ({"message": "x", "error_code": "permission_denied"}, 200, PermissionDenied),
        ({"message": "x", "error_code": "not_found"}, 200, NotFound),
        ({"message": "x", "error_code": "invalid_data"}, 200, InvalidData),
        ({"message": "x", "error_code": "invalid_query"}, 200, InvalidQuery),
        ({"message": "Session expired", "session_expired": True}, 200, SessionExpired),
        ({"message": "You do not have permission to edit this job"}, 200, PermissionDenied),
        ({"message_hr": "Operation not allowed"}, 200, PermissionDenied),
        ({"message": "Job 123 not found"}, 200, NotFound),
        ({"message": "Entity does not exist"}, 200, NotFound),
        ({"message": "Unknown entitytype 'foo'"}, 200, NotFound),
        ({"message": "Could not parse query"}, 200, InvalidQuery),
        ({"message": "Unknown attribute 'foo' in query"}, 200, InvalidQuery),
        ({"message": "Status cannot be set"}, 200, InvalidData),
        ({"exception": "Traceback..."}, 200, ServerError),
        # The hosted v3 service sends no error_code: its HTTP status tells the kind.
        ({"message": "Refused"}, 401, AuthenticationError),
        ({"message": "Refused"}, 403, PermissionDenied),
        ({"message": "Refused"}, 404, NotFound),
        ({"message": "Refused"}, 400, InvalidData),
    ],
)
def test_error_from_reply(reply: Dict[str, Any], status: int, expected: type) -> None:
    error = error_from_reply(reply, uri="job/edit", eid="e1", http_status=status)
    assert type(error) is expected
    assert (error.uri, error.eid) == ("job/edit", "e1")
    if "exception" not in reply:
        assert error.http_status == status


def test_error_from_reply_without_code_on_login_is_authentication() -> None:
    for uri in (names.V1_LOGIN_URI, names.V3_LOGIN_URI):
        error = error_from_reply({"message": "Invalid credentials"}, uri=uri, eid=None, login=True)
        assert type(error) is AuthenticationError


# -- broken networks ----------------------------------------------------------------------


def _credentials_for(version: str, url: str, **settings: Any) -> Session:
    """A Session of someone at ``url`` (no reference server behind it)."""
    return Session(
        url=url,
        workspace="acmevfx",
        username="u@x.com",
        api_key="key-0123456789abcdef",
        api_version=version,
        **settings,
    )


@both_generations
def test_connection_refused_fails_quickly(accsyn_api_version: str) -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as caught:
        _credentials_for(accsyn_api_version, f"http://127.0.0.1:{port}", retries=2)
    assert time.monotonic() - started < 3
    text = str(caught.value)
    api, login = names.API_PATHS[accsyn_api_version], URIS[accsyn_api_version]["login"]
    assert f"http://127.0.0.1:{port}{api}/{login}" in text
    assert "network" in text and "proxy" in text
    assert caught.value.executed is False and "Tried 3 times" in text


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@both_generations
def test_a_silent_server_times_out_the_login(silent_port: int, accsyn_api_version: str) -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as caught:
        _credentials_for(
            accsyn_api_version, f"http://127.0.0.1:{silent_port}", timeout=(1, 0.5), retries=0
        )
    assert time.monotonic() - started < 3
    error = caught.value
    assert error.uri == URIS[accsyn_api_version]["login"]
    assert "within the timeout of 0.5 s for the whole reply" in str(
        error
    ) and "safe to repeat" in str(error)
    assert "key-0123456789abcdef" not in str(error) + repr(error)


@both_generations
@pytest.mark.parametrize(
    ("verb", "words"), [("find", "safe to repeat"), ("create_job", "may or may not")]
)
def test_read_timeout(server: LocalServer, accsyn_api_version: str, verb: str, words: str) -> None:
    uri = URIS[accsyn_api_version][verb]
    # retries=0: the retry policy has tests of its own (test_retries.py)
    with server.session(timeout=(1, 0.5), retries=0) as session:
        server.inject("delay", uri=uri, seconds=1.5)
        started = time.monotonic()
        with pytest.raises(RequestTimeout) as caught:
            if verb == "find":
                session.find("Job")
            else:
                session.create("job", dict(NEW_JOB))
    assert time.monotonic() - started < 3
    error = caught.value
    assert words in str(error)
    assert error.uri == uri and error.eid
    assert server.credentials()["api_key"] not in str(error) + repr(error)


# -- broken and foreign servers -------------------------------------------------------------

RawReply = Tuple[int, str, bytes, int]
"""HTTP status, Content-Type, body, and bytes promised beyond the body (a cut-short reply)."""
NOT_FOUND: RawReply = (404, "text/html", b"<html><h1>404 Not Found</h1></html>", 0)


class _RawHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RawServer

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body, extra = self.server.replies.get(
            self.path.split("?")[0], NOT_FOUND
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)
        if extra:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RawServer(http.server.ThreadingHTTPServer):
    """Answers each path with a fixed reply (404 for the others): broken or foreign servers."""

    daemon_threads = True

    def __init__(self, replies: Dict[str, RawReply]) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.replies = replies
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


BROKEN: Dict[str, RawReply] = {
    "bad-gateway": (
        502,
        "text/html",
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        0,
    ),
    "html": (200, "text/html", b"<html>Welcome to our portal</html>", 0),
    "truncated": (200, "application/json", b'{"session_key": "abc', 50),
    "service-down": (503, "application/json", b'{"message": "maintenance"}', 0),
}


@pytest.fixture
def broken_server() -> Iterator[_RawServer]:
    """Login paths of both generations below each prefix of :data:`BROKEN`."""
    replies = {
        f"/{prefix}{names.API_PATHS[version]}/{URIS[version]['login']}": reply
        for prefix, reply in BROKEN.items()
        for version in names.GENERATIONS
    }
    with _RawServer(replies) as raw:
        yield raw


@both_generations
@pytest.mark.parametrize(
    ("prefix", "words"),
    [
        ("bad-gateway", ["HTTP 502", "502 Bad Gateway"]),
        ("html", ["HTTP 200", "not JSON", "Welcome to our portal"]),
        ("truncated", ["cut short"]),
        ("service-down", ["HTTP 503", "maintenance"]),
    ],
)
def test_broken_replies(
    broken_server: _RawServer, accsyn_api_version: str, prefix: str, words: List[str]
) -> None:
    with pytest.raises(AccsynError) as caught:
        _credentials_for(
            accsyn_api_version, f"{broken_server.url}/{prefix}", retries=1, backoff=0.01
        )
    assert type(caught.value) is ServerError
    assert caught.value.uri == URIS[accsyn_api_version]["login"]
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("prefix", ["", "/html"], ids=["404", "html"])
def test_a_server_speaking_neither_generation_is_a_configuration_error(
    broken_server: _RawServer, prefix: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _credentials_for("auto", f"{broken_server.url}{prefix}", retries=0)
    text = str(caught.value)
    assert names.V3_API_PATH in text and names.V1_API_PATH in text
    assert f"{broken_server.url}{prefix}" in text and "url=" in text


def _v1_login_reply() -> RawReply:
    body = b'{"session_key": "s-0123456789abcdef", "clearance": "employee", "id": "u1"}'
    return (200, "application/json", body, 0)


@pytest.mark.parametrize(
    "not_served",
    [
        NOT_FOUND,
        (404, "application/json", b'{"message": "No such path", "error_code": "not_found"}', 0),
        (405, "text/plain", b"Method Not Allowed", 0),
    ],
    ids=["html-404", "json-404", "405"],
)
def test_auto_finds_a_server_that_speaks_only_v1(not_served: RawReply) -> None:
    replies = {
        f"{names.V1_API_PATH}/{names.V1_LOGIN_URI}": _v1_login_reply(),
        f"{names.V3_API_PATH}/{names.V3_LOGIN_URI}": not_served,
    }
    with _RawServer(replies) as v1_only, _credentials_for("auto", v1_only.url) as session:
        assert session.api_version == names.V1 and session.role == "employee"
        assert session.url == f"{v1_only.url}{names.V1_API_PATH}"
        assert "api_version='1.0'" in repr(session)


@pytest.mark.parametrize("version", ["auto", names.V3])
def test_auto_finds_a_v3_server(version: str) -> None:
    with LocalServer() as server, _session(server, version) as session:
        assert session.api_version == names.V3
        assert session.url == f"{server.url}{names.V3_API_PATH}"
        assert "api_version='3'" in repr(session)
        assert session.find("Transfer")


def test_a_url_with_an_api_path_names_the_generation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.testing")
    with LocalServer() as server:
        with _session(server, "auto", url=f"{server.url}{names.V1_API_PATH}") as session:
            assert session.api_version == names.V1
        with pytest.raises(ConfigurationError, match="api_version"):
            _session(server, names.V3, url=f"{server.url}{names.V1_API_PATH}")
    assert not any(line.startswith(f"PUT {names.V3_API_PATH}") for line in _server_lines(caplog))


# -- host look-ups: the v3 master and the v1.0 registry ---------------------------------------


@pytest.mark.parametrize("version", [names.V3, "auto"])
def test_the_v3_master_names_the_server(version: str) -> None:
    with LocalServer(api_version=names.V3) as server:
        registry = f"http://127.0.0.1:{_closed_port()}{names.V1_API_PATH}"  # never asked
        master = f"{server.url}{names.V3_API_PATH}"
        with _session(server, version, master_url=master, registry_url=registry) as session:
            assert session.url == f"{server.url}{names.V3_API_PATH}"
            assert session.api_version == names.V3 and session.find("Job")


@pytest.fixture
def socks(monkeypatch: pytest.MonkeyPatch) -> Iterator[netsupport.Socks5Server]:
    """A SOCKS5 proxy that reaches only this machine: hosted names are refused, not called."""
    for variable in ("NO_PROXY", "no_proxy", "ACCSYN_URL", "ACCSYN_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    with netsupport.Socks5Server() as proxy:
        yield proxy


@pytest.mark.parametrize(("version", "workspace"), [(names.V1, "acmevfx"), ("auto", "otherstudio")])
def test_the_v1_registry_names_the_hosted_server(
    socks: netsupport.Socks5Server, version: str, workspace: str
) -> None:
    """The registry answers ``<workspace>``: the session goes to ``<workspace>.accsyn.com``.

    With "auto", the registry is asked when the master does not know the workspace.
    """
    with LocalServer() as server, pytest.raises(ConnectionFailed) as caught:
        _session(
            server,
            version,
            workspace=workspace,
            registry_url=f"{server.url}{names.V1_API_PATH}",
            master_url=f"{server.url}{names.V3_API_PATH}",
            proxy=socks.url,
            retries=0,
            timeout=(1, 1),
        )
    hosted = f"https://{workspace}.accsyn.com:443{names.V1_API_PATH}/{names.V1_LOGIN_URI}"
    assert hosted in str(caught.value)
    assert (f"{workspace}.accsyn.com", 443) in socks.targets


@pytest.mark.parametrize("version", [names.V1, names.V3, "auto"])
def test_an_unreachable_look_up_is_a_connection_failure(version: str) -> None:
    port = _closed_port()
    with pytest.raises(ConnectionFailed) as caught:
        Session(
            workspace="acmevfx",
            username="u@x.com",
            api_key="key-0123456789abcdef",
            api_version=version,
            registry_url=f"http://127.0.0.1:{port}{names.V1_API_PATH}",
            master_url=f"http://127.0.0.1:{port}{names.V3_API_PATH}",
            retries=0,
            timeout=(1, 1),
        )
    text = str(caught.value)
    if version == names.V1:
        assert f"{names.V1_API_PATH}/{names.V1_REGISTRY_URI}" in text
    else:  # "auto" reports the master's failure, asked first
        assert f"{names.V3_API_PATH}/{names.V3_LOOKUP_URI}" in text
    assert caught.value.executed is False


@pytest.mark.parametrize("version", [names.V3, "auto"])
def test_a_workspace_the_master_does_not_know_is_not_found(version: str) -> None:
    with LocalServer() as server:
        registry = f"http://127.0.0.1:{_closed_port()}{names.V1_API_PATH}"  # unreachable
        with pytest.raises(NotFound) as caught:
            _session(
                server,
                version,
                workspace="nostudio",
                master_url=f"{server.url}{names.V3_API_PATH}",
                registry_url=registry,
                retries=0,
                timeout=(1, 1),
            )
    assert "nostudio" in str(caught.value)


# -- TLS and proxies --------------------------------------------------------------------


@both_generations
def test_verify_false_warns_once(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api")
    with server.session(verify=False) as insecure:
        for _ in range(3):
            insecure.find("Job")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "NOT checked" in warnings[0].getMessage()
    server.session().close()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_proxy_settings_forms() -> None:
    assert proxy_settings("accsyn:relay.studio.local:8888") == (
        "http://relay.studio.local:8888",
        None,
    )
    socks5 = {"http": "socks5h://10.0.0.5:1080", "https": "socks5h://10.0.0.5:1080"}
    assert proxy_settings("socks5:10.0.0.5:1080") == (None, socks5)
    assert proxy_settings("socks5://10.0.0.5:1080") == (None, socks5)
    assert proxy_settings(" SOCKS5:10.0.0.5:1080 ") == (None, socks5)


@pytest.mark.parametrize(
    "proxy", ["http://proxy:3128", "accsyn:relay", "socks5:host:port", "accsyn::80", "", "x:1:2"]
)
def test_proxy_settings_rejects_other_forms(proxy: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        proxy_settings(proxy)
    assert "accsyn:<host>:<port>" in str(caught.value)
    assert "socks5:<host>:<port>" in str(caught.value)


# -- the connections: reuse, servers that close them, HTTP proxies of the environment -----------


class _ClosingServer(_RawServer):
    """Answers each event, then closes the connection a moment later (an idle timeout)."""

    def __init__(self) -> None:
        replies = {
            f"{names.V1_API_PATH}/{names.V1_LOGIN_URI}": _v1_login_reply(),
            f"{names.V1_API_PATH}/{names.EVENT_URI}": (
                200,
                "application/json",
                b'{"result": [{"id": "614d660de50d45bb027c9bdd", "code": "x"}]}',
                0,
            ),
        }
        super().__init__(replies)

    def finish_request(self, request: Any, client_address: Any) -> None:
        threading.Timer(0.1, _quietly_shut, args=(request,)).start()
        super().finish_request(request, client_address)


def _quietly_shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def test_a_connection_the_server_closed_meanwhile_is_not_used() -> None:
    with _ClosingServer() as closing:
        session = _credentials_for(names.V1, closing.url, retries=0)
        for _ in range(3):
            time.sleep(0.3)  # the server has closed the idle connection by now
            created = session.create("job", dict(NEW_JOB))  # never repeated: retries=0
            assert created["code"] == "x"
        session.close()


class _HttpProxy(netsupport.TcpRelay):
    """An HTTP proxy asking for a password: CONNECT tunnels only, as for HTTPS."""

    def __init__(self, password: str) -> None:
        super().__init__(("127.0.0.1", 1))
        self.expected = "Basic " + base64.b64encode(f"bob:{password}".encode()).decode()
        self.tunnels: List[str] = []

    def _open_upstream(self, client: socket.socket) -> Optional[socket.socket]:
        client.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return None
            head += chunk
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        auth = [
            line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("proxy-a")
        ]
        if method != "CONNECT" or auth != [self.expected]:
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
            )
            return None
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=5)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream


@pytest.fixture
def proxy_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[_HttpProxy]:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _HttpProxy("pa55-proxy-word") as proxy:
        yield proxy


@both_generations
def test_https_goes_through_the_http_proxy_of_the_environment(
    proxy_environment: _HttpProxy, accsyn_api_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = proxy_environment
    pytest.importorskip("trustme")
    with LocalServer(tls=True, api_version=accsyn_api_version) as server:
        address = server.url.split("//", 1)[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://bob:pa55-proxy-word@127.0.0.1:{proxy.port}")
        with server.session() as session:
            assert session.find_one(f"Job where id={JOB_LATEST_EDIT}") is not None
        assert proxy.tunnels == [address]  # one tunnel, kept alive for the login and the find
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with server.session() as session:
            assert session.find("Job")
        assert len(proxy.tunnels) == 1  # bypassed
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("HTTPS_PROXY", f"http://bob:wrong-word@127.0.0.1:{proxy.port}")
        with pytest.raises(ConnectionFailed) as refused:
            server.session(retries=0)
    assert "proxy" in str(refused.value) and "407" in str(refused.value)
    assert "wrong-word" not in str(refused.value) + repr(refused.value)
