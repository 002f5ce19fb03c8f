"""LocalServer over real HTTP: routes, keep-alive, malformed requests, life cycle."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import socket
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Mapping
from urllib.parse import quote

import pytest
import requests
from wire import raw_event as _event

from accsyn_api.testing.backend import Backend
from accsyn_api.testing.server import LocalServer

JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local_server:
        yield local_server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _b64(obj: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def _login(http: requests.Session, server: LocalServer, role: str = "employee") -> str:
    credentials = server.backend.credentials(role)
    response = http.put(
        f"{server.url}/api/v1.0/user/login/auth",
        headers={"Authorization": f"ASCredentials {_b64(credentials)}"},
        json={"session": str(uuid.uuid4())},
    )
    assert response.status_code == 200
    key = response.json()["session_key"]
    assert isinstance(key, str)
    return key


def _session_header(server: LocalServer, key: str, role: str = "employee") -> Dict[str, str]:
    credentials = server.backend.credentials(role)
    value = _b64(
        {"domain": credentials["domain"], "username": credentials["username"], "session_key": key}
    )
    return {"Authorization": f"ASSession {value}"}


def _send_event(
    http: requests.Session,
    server: LocalServer,
    key: str,
    method: str,
    event: Mapping[str, Any],
) -> requests.Response:
    url = f"{server.url}/api/v1.0/event"
    headers = _session_header(server, key)
    if method in ("GET", "DELETE"):
        return http.request(method, f"{url}?{quote(json.dumps(event), safe='')}", headers=headers)
    return http.request(method, url, data=json.dumps(event).encode("utf-8"), headers=headers)


def _job_count(http: requests.Session, server: LocalServer, key: str) -> int:
    reply = _send_event(http, server, key, "GET", _event("job/find", {"type": 1})).json()
    return len(reply["result"])


def _assert_refusal(
    response: requests.Response, status: int, *words: str, code: str = "invalid_data"
) -> Dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    reply = response.json()
    assert set(reply) == {"message", "message_hr", "error_code"}
    assert reply["error_code"] == code
    text = f"{reply['message']} {reply['message_hr']}".lower()
    for word in words:
        assert word.lower() in text
    return dict(reply)


# -- life cycle -------------------------------------------------------------------


def test_starts_on_a_free_port_and_stops_cleanly() -> None:
    server = LocalServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    server.start()
    url = server.url
    port = int(url.rsplit(":", 1)[1])
    assert url == f"http://127.0.0.1:{port}" and port > 0
    assert requests.put(
        f"{url}/api/v1.0/registry/organization/domain", json={"organization": "a"}, timeout=5
    ).ok
    server.stop()
    server.stop()  # idempotent

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/v1.0/event", timeout=2)
    # The port is free again: a new listener can take it.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()


def test_stop_cuts_kept_alive_connections(http: requests.Session) -> None:
    server = LocalServer().start()
    registry = f"{server.url}/api/v1.0/registry/organization/domain"
    assert http.put(registry, json={"organization": "a"}).ok  # leaves a kept-alive connection
    server.stop()
    with pytest.raises(requests.ConnectionError):
        http.put(registry, json={"organization": "a"}, timeout=2)


def test_serve_forever_runs_in_the_calling_thread_until_stopped() -> None:
    server = LocalServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while server.connections_accepted == 0 and time.monotonic() < deadline:
        try:
            registry = f"{server.url}/api/v1.0/registry/organization/domain"
            requests.put(registry, json={"organization": "a"}, timeout=2)
        except (RuntimeError, requests.ConnectionError):
            time.sleep(0.01)
    assert server.connections_accepted == 1
    server.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert server.connections_accepted == 1  # still counted after the stop


def test_too_long_request_line_is_refused(server: LocalServer, http: requests.Session) -> None:
    response = http.get(f"{server.url}/api/v1.0/event?{'x' * 70000}")
    reply = _assert_refusal(response, 414, "limit/skip")
    assert reply["error_code"] == "invalid_data"
    assert http.put(
        f"{server.url}/api/v1.0/registry/organization/domain", json={"organization": "a"}
    ).ok


def test_keep_alive_reuses_one_connection(server: LocalServer, http: requests.Session) -> None:
    key = _login(http, server)
    for _ in range(5):
        response = _send_event(http, server, key, "GET", _event("job/find"))
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(len(response.content))
    assert server.connections_accepted == 1


def test_context_manager_and_repr() -> None:
    with LocalServer() as server:
        assert server.url in repr(server)
        assert "acmevfx" in repr(server)
    assert "not started" in repr(server)


# -- routes ---------------------------------------------------------------------


def test_login_route(server: LocalServer, http: requests.Session) -> None:
    credentials = server.backend.credentials("admin")
    response = http.put(
        f"{server.url}/api/v1.0/user/login/auth",
        headers={"Authorization": f"ASCredentials {_b64(credentials)}"},
        json={"session": str(uuid.uuid4())},
    )
    reply = response.json()
    assert reply["clearance"] == "admin"
    assert len(reply["session_key"]) >= 16

    wrong = dict(credentials, api_key="not-the-key")
    response = http.put(
        f"{server.url}/api/v1.0/user/login/auth",
        headers={"Authorization": f"ASCredentials {_b64(wrong)}"},
        json={"session": str(uuid.uuid4())},
    )
    assert response.json()["error_code"] == "authentication_failed"
    assert "session_key" not in response.json()


def test_login_without_credentials_is_refused(server: LocalServer, http: requests.Session) -> None:
    response = http.put(f"{server.url}/api/v1.0/user/login/auth", json={})
    assert response.status_code == 401
    assert response.json()["error_code"] == "authentication_failed"
    assert "ASCredentials" in response.json()["message"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_event_route_every_method(server: LocalServer, http: requests.Session, method: str) -> None:
    key = _login(http, server)
    if method == "GET":
        event = _event("job/find", {"type": 1}, query=f"id={JOB_LATEST_EDIT}")
    elif method == "POST":
        event = _event(
            "job/create",
            {"source": "share=projects/thefilm/a.mov", "destination": "lars@edit.com"},
        )
    elif method == "PUT":
        event = _event("job/edit", {"status": "paused"}, entityid=JOB_LATEST_EDIT)
    else:
        event = _event("job/delete", entityid=JOB_LATEST_EDIT)
    reply = _send_event(http, server, key, method, event).json()
    assert "result" in reply, reply
    assert server.backend.executions(event["eid"]) == 1
    jobs = {
        job["id"]: job
        for job in _send_event(http, server, key, "GET", _event("job/find")).json()["result"]
    }
    if method == "GET":
        assert [job["id"] for job in reply["result"]] == [JOB_LATEST_EDIT]
    elif method == "POST":
        assert reply["result"][0]["id"] in jobs
    elif method == "PUT":
        assert jobs[JOB_LATEST_EDIT]["status"] == "paused"
    else:
        assert JOB_LATEST_EDIT not in jobs


def test_event_route_unpacks_gz_data(server: LocalServer, http: requests.Session) -> None:
    key = _login(http, server)
    spec = {
        "source": "share=projects",
        "destination": "lars@edit.com",
        "code": "gzipped",
        "tasks": [f"shots/sh{index:04d}/plate.exr" for index in range(50)],
    }
    packed = base64.b64encode(gzip.compress(json.dumps(spec).encode("utf-8"))).decode("ascii")
    event = _event("job/create", gz_data=packed)
    reply = _send_event(http, server, key, "POST", event).json()
    [received] = [e for e in server.events if e["eid"] == event["eid"]]
    assert received["data"] == spec and "gz_data" not in received
    job_id = reply["result"][0]["id"]
    tasks = _send_event(
        http, server, key, "GET", _event("job/task/find", query=f"job.id={job_id}")
    ).json()["result"]
    assert len(tasks) == 50


def test_registry_route(server: LocalServer, http: requests.Session) -> None:
    url = f"{server.url}/api/v1.0/registry/organization/domain"
    assert http.put(url, json={"organization": "acmevfx"}).json() == {"domain": "acmevfx"}
    _assert_refusal(http.put(url, json={"organisation": "x"}), 400, "organization")
    _assert_refusal(http.get(url), 405, "PUT")


def test_backend_exception_is_a_500_reply(http: requests.Session) -> None:
    class FailingBackend(Backend):
        def handle(self, method: str, event: Mapping[str, Any], session: Any) -> Dict[str, Any]:
            raise RuntimeError("disk on fire")

    with LocalServer(backend=FailingBackend()) as server:
        key = _login(http, server)
        response = _send_event(http, server, key, "GET", _event("job/find"))
        assert response.status_code == 500
        assert response.json() == {"exception": "RuntimeError: disk on fire"}
        _login(http, server)  # still serving


# -- malformed requests -----------------------------------------------------------


def test_malformed_requests_get_clear_refusals(server: LocalServer, http: requests.Session) -> None:
    key = _login(http, server)
    before = _job_count(http, server, key)
    url = f"{server.url}/api/v1.0/event"
    auth = _session_header(server, key)

    _assert_refusal(http.post(url, data=b"{not json", headers=auth), 400, "not valid JSON")
    _assert_refusal(http.post(url, data=b"[1, 2]", headers=auth), 400, "JSON object")
    _assert_refusal(http.get(f"{url}?%7Bbroken", headers=auth), 400, "not valid JSON")
    _assert_refusal(http.get(url, headers=auth), 400, "query string")
    bad_gz = _event("job/create", gz_data="this is not base64!")
    _assert_refusal(_send_event(http, server, key, "POST", bad_gz), 400, "gz_data")
    not_gzip = _event("job/create", gz_data=base64.b64encode(b"plain").decode())
    _assert_refusal(_send_event(http, server, key, "POST", not_gzip), 400, "gz_data")
    unknown = http.get(f"{server.url}/api/v2/nothing")
    _assert_refusal(unknown, 404, "/api/v2/nothing", "/api/v1.0", "/api/v3", code="not_found")
    _assert_refusal(http.patch(url, data=b"{}"), 405, "PATCH")
    _assert_refusal(
        http.put(
            f"{server.url}/api/v1.0/user/login/auth",
            headers={"Authorization": "ASCredentials %%%not-base64"},
            json={},
        ),
        400,
        "base64",
    )
    # A broken session header is no session: the backend refuses, it does not crash.
    broken = _send_event(http, server, "k", "GET", _event("job/find"))
    response = http.get(
        f"{url}?{quote(json.dumps(_event('job/find')))}",
        headers={"Authorization": "ASSession ***"},
    )
    assert response.status_code == 200 and broken.status_code == 200
    assert response.json()["error_code"] == "authentication_failed"

    assert _job_count(http, server, key) == before  # nothing changed, still serving


def _read_until_closed(connection: socket.socket) -> bytes:
    chunks: List[bytes] = []
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_raw_garbage_on_the_socket_does_not_stop_the_server(
    server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"\x00\x01 nonsense HTTP/1.1\r\n\r\n")
        answer = _read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 405")
    assert b'"error_code":"invalid_data"' in answer
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"nonsense\r\n\r\n")
        assert b'"error_code":"invalid_data"' in _read_until_closed(raw)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"PUT /api/v1.0/event HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        raw.shutdown(socket.SHUT_WR)  # the body ends early
        assert b"Content-Length" in _read_until_closed(raw)
    assert requests.put(
        f"{server.url}/api/v1.0/registry/organization/domain", json={"organization": "x"}, timeout=5
    ).ok
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# -- what clients need -------------------------------------------------------------


def test_credentials_and_environment(server: LocalServer) -> None:
    credentials = server.credentials("admin")
    assert credentials == dict(server.backend.credentials("admin"), url=server.url)
    environment = server.environment("user")
    user = server.backend.credentials("user")
    assert environment == {
        "ACCSYN_DOMAIN": user["domain"],
        "ACCSYN_API_USER": user["username"],
        "ACCSYN_API_KEY": user["api_key"],
        "ACCSYN_URL": server.url,
        "ACCSYN_API_VERSION": "1.0",
    }


def test_session_helper_gives_a_working_session(server: LocalServer) -> None:
    with server.session("employee") as session:
        assert session.clearance == "employee"
        assert any(job["id"] == JOB_LATEST_EDIT for job in session.find("Job"))


def test_logging_is_quiet_and_never_shows_keys(
    server: LocalServer,
    http: requests.Session,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api")
    key = _login(http, server)
    _send_event(http, server, key, "GET", _event("job/find"))
    http.get(f"{server.url}/nowhere")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    server_lines = [r.getMessage() for r in caplog.records if r.name == "accsyn_api.testing"]
    assert any("/api/v1.0/user/login/auth" in line for line in server_lines)
    api_key = server.backend.credentials()["api_key"]
    credentials_b64 = _b64(server.backend.credentials())
    for record in caplog.records:
        text = record.getMessage()
        assert api_key not in text and key not in text and credentials_b64 not in text
