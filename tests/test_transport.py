"""Transport against the reference server over real HTTP, and against broken servers."""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import re
import socket
import threading
import time
from typing import Any, ClassVar, Dict, Iterator, List, Mapping, Optional

import pytest

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
from accsyn_api.testing.backend import Backend
from accsyn_api.testing.server import LocalServer
from accsyn_api.transport import (
    GZIP_THRESHOLD,
    Transport,
    error_from_reply,
    proxy_settings,
    resolve_base_url,
)

JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"
MISSING_JOB = "ffffffffffffffffffffffff"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local_server:
        yield local_server


def make_transport(server: LocalServer, role: str = "employee", **kwargs: Any) -> Transport:
    credentials = server.backend.credentials(role)
    options: Dict[str, Any] = {
        "base_url": f"{server.url}/api/v1.0",
        "domain": credentials["domain"],
        "username": credentials["username"],
        "api_key": credentials["api_key"],
    }
    options.update(kwargs)
    return Transport(**options)


@pytest.fixture
def transport(server: LocalServer) -> Iterator[Transport]:
    client = make_transport(server)
    yield client
    client.close()


def _client_lines(caplog: pytest.LogCaptureFixture, pattern: str) -> List[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "accsyn_api.transport" and re.search(pattern, record.getMessage())
    ]


def _eids(caplog: pytest.LogCaptureFixture, uri: str) -> List[str]:
    lines = _client_lines(caplog, rf" {re.escape(uri)} eid=")
    return [re.search(r"eid=(\S+)", line).group(1) for line in lines]  # type: ignore[union-attr]


# -- login ------------------------------------------------------------------------


def test_login_returns_the_reply_without_the_session_key(
    server: LocalServer, transport: Transport
) -> None:
    reply = transport.login()
    assert reply["clearance"] == "employee"
    assert "session_key" not in reply
    assert transport.clearance == "employee"
    assert transport.user_id == reply["id"] and re.fullmatch(r"[0-9a-f]{24}", reply["id"])


def test_wrong_api_key_is_refused_without_showing_it(server: LocalServer) -> None:
    wrong_key = "wrong-key-0123456789abcdef"
    client = make_transport(server, api_key=wrong_key)
    with pytest.raises(AuthenticationError) as caught:
        client.call("GET", "job/find")
    error = caught.value
    assert error.uri == "user/login/auth"
    assert "API key" in str(error)  # says what to check
    for text in (str(error), repr(error), str(client), repr(client)):
        assert wrong_key not in text
    assert repr(client) == (
        f"<Transport base_url='{server.url}/api/v1.0' domain='acmevfx' "
        "username='employee@acmevfx.com'>"
    )
    assert not isinstance(error, SessionExpired)


def test_no_api_key_is_a_configuration_error(server: LocalServer) -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        make_transport(server, api_key=None).login()


# -- calls ------------------------------------------------------------------------


def test_find_decodes_dates(transport: Transport) -> None:
    reply = transport.call("GET", "job/find", data={"type": 1}, query=f"id={JOB_LATEST_EDIT}")
    [job] = reply["result"]
    assert job["id"] == JOB_LATEST_EDIT
    assert job["created"] == dt.datetime(2021, 9, 24, 7, 45, 49)
    assert isinstance(job["finished"], dt.datetime)


def test_get_travels_in_the_query_string_and_post_in_the_body(
    server: LocalServer, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api")
    transport.call("GET", "job/find", query="status=paused")
    created = transport.call(
        "POST",
        "job/create",
        data={"source": "share=projects/a.mov", "destination": "lars@edit.com"},
    )
    assert created["result"][0]["code"] == "a.mov"
    server_lines = [r.getMessage() for r in caplog.records if r.name == "accsyn_api.testing"]
    assert any(line.startswith("GET /api/v1.0/event?%7B%22") for line in server_lines)
    assert "POST /api/v1.0/event -> 200" in server_lines
    for uri in ("job/find", "job/create"):
        [eid] = _eids(caplog, uri)
        assert server.backend.executions(eid) == 1
    find, create = server.events
    assert find["eid"] == _eids(caplog, "job/find")[0]
    assert {key: find[key] for key in ("audience", "domain", "uri", "ident", "query")} == {
        "audience": "api",
        "domain": "acmevfx",
        "uri": "job/find",
        "ident": "employee@acmevfx.com",
        "query": "status=paused",
    }
    assert isinstance(find["created"], dt.datetime) and find["hostname"]
    assert find["session"] == create["session"] and find["eid"] != create["eid"]
    assert "data" not in find and create["data"]["destination"] == "lars@edit.com"
    # The method travels too: the backend refuses a create sent as GET.
    with pytest.raises(InvalidData, match="POST"):
        transport.call("GET", "job/create", data={"source": "hq", "destination": "hq"})


def test_data_may_hold_datetimes_and_is_not_modified(transport: Transport) -> None:
    changes = {"metadata": {"delivered": dt.datetime(2024, 5, 6, 7, 8, 9)}}
    before = repr(changes)
    reply = transport.call("PUT", "job/edit", data=changes, entityid=JOB_LATEST_EDIT)
    assert reply["result"][0]["metadata"] == {"delivered": "2024-05-06T07:08:09"}
    assert repr(changes) == before


def test_large_payload_travels_gzipped(transport: Transport) -> None:
    paths = [
        f"thefilm/shots/sh{index:05d}/comp/v001/plate.{index:05d}.exr" for index in range(4000)
    ]
    spec = {"source": "share=projects", "destination": "lars@edit.com", "tasks": paths}
    event = transport._event_text("job/create", "e", data=spec, query=None, entityid=None)
    assert '"gz_data":' in event and '"data":' not in event  # over 100 KiB
    small = transport._event_text("job/create", "e", data={"a": 1}, query=None, entityid=None)
    assert small.endswith(',"data":{"a":1}}') and "gz_data" not in small
    assert len(str(spec)) > GZIP_THRESHOLD

    job = transport.call("POST", "job/create", data=spec)["result"][0]
    tasks = transport.call("GET", "job/task/find", query=f"job.id={job['id']}")["result"]
    assert sorted(task["source"]["path"] for task in tasks) == sorted(paths)


def test_calls_reuse_one_connection(server: LocalServer, transport: Transport) -> None:
    for _ in range(20):
        transport.call("GET", "job/find")
    assert server.connections_accepted == 1


def test_concurrent_first_calls_log_in_once(
    server: LocalServer, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    errors: List[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                transport.call("GET", "job/find")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_client_lines(caplog, r"^PUT user/login/auth ")) == 1
    assert len(_eids(caplog, "job/find")) == 40
    assert server.connections_accepted <= 8


def test_debug_log_never_shows_secrets(
    server: LocalServer, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api")
    transport.call("GET", "job/find")
    [line] = _client_lines(caplog, r"^GET job/find ")
    assert re.search(r"eid=[0-9a-f-]{36} HTTP 200 [0-9.]+ ms \d+ bytes$", line)
    session_key = transport._session_key
    assert session_key
    for record in caplog.records:
        text = record.getMessage()
        assert server.backend.credentials()["api_key"] not in text
        assert session_key not in text


# -- session expiry ---------------------------------------------------------------


def test_expired_session_logs_in_again_transparently(
    server: LocalServer, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    transport.call("GET", "job/find")
    old_key = transport._session_key
    server.backend.expire_sessions()
    reply = transport.call("PUT", "job/edit", data={"status": "paused"}, entityid=JOB_LATEST_EDIT)
    assert reply["result"][0]["status"] == "paused"
    assert len(_client_lines(caplog, r"^PUT user/login/auth ")) == 2
    assert transport._session_key != old_key
    eids = _eids(caplog, "job/edit")
    assert len(eids) == 2 and eids[0] == eids[1]  # the same event, repeated once
    assert server.backend.executions(eids[0]) == 1


class _AlwaysExpiredBackend(Backend):
    def handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        return {
            "message": "session expired",
            "message_hr": "The session has expired.",
            "session_expired": True,
        }


def test_a_second_expiry_raises_session_expired(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api.transport")
    with LocalServer(backend=_AlwaysExpiredBackend()) as server:
        client = make_transport(server)
        with pytest.raises(SessionExpired) as caught:
            client.call("GET", "job/find")
        client.close()
    assert caught.value.uri == "job/find" and caught.value.eid
    assert len(_client_lines(caplog, r"^PUT user/login/auth ")) == 2


def test_expired_session_without_api_key_raises(server: LocalServer) -> None:
    logged_in = make_transport(server)
    logged_in.login()
    borrowed = make_transport(server, api_key=None, session_key=logged_in._session_key)
    assert borrowed.call("GET", "job/find")["result"]
    server.backend.expire_sessions()
    with pytest.raises(SessionExpired):
        borrowed.call("GET", "job/find")


# -- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "uri", "kwargs", "expected", "words"),
    [
        (
            "employee",
            "PUT",
            "job/edit",
            {"data": {"status": "running"}, "entityid": JOB_LATEST_EDIT},
            InvalidData,
            "writeable",
        ),
        (
            "employee",
            "PUT",
            "job/edit",
            {"data": {"status": "paused"}, "entityid": MISSING_JOB},
            NotFound,
            MISSING_JOB,
        ),
        (
            "user",
            "POST",
            "job/create",
            {"data": {"source": "share=projects/a.mov", "destination": "lars@edit.com"}},
            PermissionDenied,
            "restricted",
        ),
        ("employee", "GET", "job/find", {"query": "(status=running"}, InvalidQuery, "query"),
        ("employee", "GET", "nonsense/find", {}, NotFound, "nonsense"),
    ],
)
def test_refusals_map_to_errors(
    server: LocalServer,
    role: str,
    method: str,
    uri: str,
    kwargs: Dict[str, Any],
    expected: type,
    words: str,
) -> None:
    client = make_transport(server, role)
    with pytest.raises(AccsynError) as caught:
        client.call(method, uri, **kwargs)
    error = caught.value
    assert type(error) is expected
    assert error.uri == uri
    assert error.eid and re.fullmatch(r"[0-9a-f-]{36}", error.eid)
    assert words.lower() in str(error).lower()
    assert error.message_hr and error.message
    client.close()


class _FailingBackend(Backend):
    def handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        raise KeyError("boom")


def test_server_fault_is_a_server_error() -> None:
    with LocalServer(backend=_FailingBackend()) as server:
        client = make_transport(server)
        with pytest.raises(ServerError) as caught:
            client.call("GET", "job/find")
        client.close()
    assert "The server failed while handling job/find" in str(caught.value)
    assert "KeyError" in str(caught.value)
    assert caught.value.eid


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"message": "x", "error_code": "authentication_failed"}, AuthenticationError),
        ({"message": "x", "error_code": "session_expired"}, SessionExpired),
        ({"message": "x", "error_code": "permission_denied"}, PermissionDenied),
        ({"message": "x", "error_code": "not_found"}, NotFound),
        ({"message": "x", "error_code": "invalid_data"}, InvalidData),
        ({"message": "x", "error_code": "invalid_query"}, InvalidQuery),
        ({"message": "Session expired", "session_expired": True}, SessionExpired),
        ({"message": "You do not have permission to edit this job"}, PermissionDenied),
        ({"message_hr": "Operation not allowed"}, PermissionDenied),
        ({"message": "Job 123 not found"}, NotFound),
        ({"message": "Entity does not exist"}, NotFound),
        ({"message": "Unknown entitytype 'foo'"}, NotFound),
        ({"message": "Could not parse query"}, InvalidQuery),
        ({"message": "Unknown attribute 'foo' in query"}, InvalidQuery),
        ({"message": "Status cannot be set"}, InvalidData),
        ({"exception": "Traceback..."}, ServerError),
    ],
)
def test_error_from_reply(reply: Dict[str, Any], expected: type) -> None:
    error = error_from_reply(reply, uri="job/edit", eid="e1")
    assert type(error) is expected
    assert (error.uri, error.eid) == ("job/edit", "e1")


def test_error_from_reply_without_code_on_login_is_authentication() -> None:
    error = error_from_reply({"message": "Invalid credentials"}, uri="user/login/auth", eid=None)
    assert type(error) is AuthenticationError


# -- broken networks and servers ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_connection_refused_fails_quickly() -> None:
    port = _closed_port()
    client = Transport(
        base_url=f"http://127.0.0.1:{port}/api/v1.0",
        domain="acmevfx",
        username="u@x.com",
        api_key="k",
        retries=2,
    )
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as caught:
        client.call("GET", "job/find")
    assert time.monotonic() - started < 3
    text = str(caught.value)
    assert f"http://127.0.0.1:{port}/api/v1.0/user/login/auth" in text
    assert "network" in text and "proxy" in text


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


@pytest.mark.parametrize(
    ("method", "uri", "words"),
    [("GET", "job/find", "safe to repeat"), ("POST", "job/create", "may or may not")],
)
def test_read_timeout(silent_port: int, method: str, uri: str, words: str) -> None:
    client = Transport(
        base_url=f"http://127.0.0.1:{silent_port}/api/v1.0",
        domain="acmevfx",
        username="u@x.com",
        api_key="k",
        session_key="already-logged-in",
        timeout=(1, 0.5),
        retries=0,  # the retry policy has tests of its own (test_retries.py)
    )
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as caught:
        client.call(method, uri, data={"a": 1})
    assert time.monotonic() - started < 3
    assert words in str(caught.value)
    assert caught.value.uri == uri and caught.value.eid
    assert "already-logged-in" not in str(caught.value)
    client.close()


class _BrokenHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    replies: ClassVar[Dict[str, Any]] = {}

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, content_type, body, extra = self.replies[self.path.split("?")[0]]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)
        if extra:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    _BrokenHandler.replies = {
        "/bad-gateway/user/login/auth": (
            502,
            "text/html",
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            0,
        ),
        "/html/user/login/auth": (200, "text/html", b"<html>Welcome to our portal</html>", 0),
        "/truncated/user/login/auth": (200, "application/json", b'{"session_key": "abc', 50),
        "/service-down/user/login/auth": (
            503,
            "application/json",
            b'{"message": "maintenance"}',
            0,
        ),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BrokenHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("prefix", "expected", "words"),
    [
        ("bad-gateway", ServerError, ["HTTP 502", "502 Bad Gateway"]),
        ("html", ServerError, ["HTTP 200", "not JSON", "Welcome to our portal"]),
        ("truncated", ServerError, ["cut short"]),
        ("service-down", ServerError, ["HTTP 503", "maintenance"]),
    ],
)
def test_broken_replies(broken_server: str, prefix: str, expected: type, words: List[str]) -> None:
    client = Transport(
        base_url=f"{broken_server}/{prefix}", domain="acmevfx", username="u@x.com", api_key="k"
    )
    with pytest.raises(AccsynError) as caught:
        client.login()
    assert type(caught.value) is expected
    for word in words:
        assert word in str(caught.value)
    client.close()


# -- configuration helpers ------------------------------------------------------------


def test_proxy_settings_forms() -> None:
    assert proxy_settings("accsyn:relay.studio.local:8888") == (
        "http://relay.studio.local:8888/api/v1.0",
        None,
    )
    socks = {"http": "socks5h://10.0.0.5:1080", "https": "socks5h://10.0.0.5:1080"}
    assert proxy_settings("socks5:10.0.0.5:1080") == (None, socks)
    assert proxy_settings("socks5://10.0.0.5:1080") == (None, socks)
    assert proxy_settings(" SOCKS5:10.0.0.5:1080 ") == (None, socks)


@pytest.mark.parametrize(
    "proxy", ["http://proxy:3128", "accsyn:relay", "socks5:host:port", "accsyn::80", "", "x:1:2"]
)
def test_proxy_settings_rejects_other_forms(proxy: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        proxy_settings(proxy)
    assert "accsyn:<host>:<port>" in str(caught.value)
    assert "socks5:<host>:<port>" in str(caught.value)


def test_resolve_base_url_through_the_registry_route(server: LocalServer) -> None:
    url = resolve_base_url("acmevfx", registry_url=f"{server.url}/api/v1.0")
    assert url == "https://acmevfx.accsyn.com:443/api/v1.0"


def test_resolve_base_url_unreachable_registry() -> None:
    registry = f"http://127.0.0.1:{_closed_port()}/api/v1.0"
    with pytest.raises(ConnectionFailed, match="registry/organization/domain"):
        resolve_base_url("acmevfx", registry_url=registry, timeout=(1, 1))


def test_verify_false_warns_once(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    client = make_transport(server, verify=False)
    for _ in range(3):
        client.call("GET", "job/find")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "NOT checked" in warnings[0].getMessage()
    client.close()
    make_transport(server).close()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_device_header_names_the_client(transport: Transport) -> None:
    import accsyn_api

    device = str(transport._http.headers["ASDevice"])
    assert re.fullmatch(rf"accsyn_api/{re.escape(accsyn_api.__version__)} @ \S+ \S+", device)
