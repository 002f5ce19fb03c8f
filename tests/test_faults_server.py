"""Fault injection in LocalServer, observed at the HTTP level (no Session, no retries).

Each fault kind is checked for what a plain HTTP client sees (a closed
connection, a 503 with Retry-After, an HTML 502, a truncated body, a
session_expired refusal, a late reply), for whether the backend executed the
event (``backend.executions(eid)``), and for the server serving on afterwards.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlsplit

import pytest
from wire import raw_event as event

from accsyn_api import cli
from accsyn_api.testing import Fault, FaultKind, LocalServer, parse_fault_spec
from accsyn_api.testing.faults import format_fault

EVENT_PATH = "/api/v1.0/event"
LOGIN_PATH = "/api/v1.0/user/login/auth"
CONNECTION_CLOSED = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


def _b64(obj: Dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


class Client:
    """A logged-in plain HTTP client (http.client), one connection at a time."""

    def __init__(self, server: LocalServer, timeout: float = 10.0) -> None:
        self.server = server
        self.timeout = timeout
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection = self.connect()
        self.key = self.login()

    def connect(self, timeout: Optional[float] = None) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)

    def reconnect(self) -> None:
        self.connection.close()
        self.connection = self.connect()

    def login_request(self) -> http.client.HTTPResponse:
        credentials = self.server.backend.credentials("employee")
        self.connection.request(
            "PUT",
            LOGIN_PATH,
            body=json.dumps({"session": str(uuid.uuid4())}),
            headers={"Authorization": f"ASCredentials {_b64(credentials)}"},
        )
        return self.connection.getresponse()

    def login(self) -> str:
        response = self.login_request()
        assert response.status == 200
        reply = json.loads(response.read())
        return str(reply["session_key"])

    def send(
        self,
        method: str,
        event: Dict[str, Any],
        connection: Optional[http.client.HTTPConnection] = None,
    ) -> http.client.HTTPResponse:
        """Send an event; returns the response, whose body is not read yet."""
        connection = connection or self.connection
        credentials = self.server.backend.credentials("employee")
        session = {
            "domain": credentials["domain"],
            "username": credentials["username"],
            "session_key": self.key,
        }
        headers = {"Authorization": f"ASSession {_b64(session)}"}
        if method in ("GET", "DELETE"):
            connection.request(
                method, f"{EVENT_PATH}?{quote(json.dumps(event), safe='')}", headers=headers
            )
        else:
            connection.request(method, EVENT_PATH, body=json.dumps(event), headers=headers)
        return connection.getresponse()

    def call(self, method: str, event: Dict[str, Any]) -> Dict[str, Any]:
        """Send an event on a fresh connection and decode the JSON reply."""
        self.reconnect()
        response = self.send(method, event)
        assert response.status == 200, response.read()[:300]
        reply = json.loads(response.read())
        assert isinstance(reply, dict)
        return reply

    def job_codes(self) -> List[str]:
        reply = self.call("GET", event("job/find", {"type": 1}))
        return [job["code"] for job in reply["result"]]


def job_create(code: str) -> Dict[str, Any]:
    return event(
        "job/create",
        {
            "code": code,
            "source": "share=projects/thefilm/latest_edit.mov",
            "destination": "lars@edit.com",
        },
    )


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local_server:
        yield local_server


@pytest.fixture
def client(server: LocalServer) -> Client:
    return Client(server)


def _assert_serving(client: Client) -> None:
    reply = client.call("GET", event("job/find", {"type": 1}))
    assert isinstance(reply["result"], list) and reply["result"]


# -- each fault kind ----------------------------------------------------------------


def test_drop_before_closes_without_executing(server: LocalServer, client: Client) -> None:
    rule = server.inject(FaultKind.DROP_BEFORE, uri="job/create")
    create = job_create("dropped_before")
    with pytest.raises(CONNECTION_CLOSED):
        client.send("POST", create).read()
    assert rule.fired == 1
    assert server.backend.executions(create["eid"]) == 0
    assert "dropped_before" not in client.job_codes()
    # The same eid sent again is executed now, once.
    reply = client.call("POST", create)
    assert reply["result"][0]["code"] == "dropped_before"
    assert server.backend.executions(create["eid"]) == 1
    assert client.job_codes().count("dropped_before") == 1
    assert rule.fired == 1


def test_drop_after_executes_then_closes_and_the_eid_replays(
    server: LocalServer, client: Client
) -> None:
    rule = server.inject("drop_after", uri="job/create")
    create = job_create("dropped_after")
    with pytest.raises(CONNECTION_CLOSED):
        client.send("POST", create).read()
    assert rule.fired == 1
    assert server.backend.executions(create["eid"]) == 1
    assert client.job_codes().count("dropped_after") == 1
    replay = client.call("POST", create)
    assert replay["result"][0]["code"] == "dropped_after"
    assert server.backend.executions(create["eid"]) == 1
    assert client.job_codes().count("dropped_after") == 1  # nothing doubled


def test_drop_really_closes_the_tcp_connection(server: LocalServer, client: Client) -> None:
    server.inject("drop_before")
    request = event("job/find", {"type": 1})
    raw = socket.create_connection((client.host, client.port), timeout=5)
    with raw:
        path = f"{EVENT_PATH}?{quote(json.dumps(request), safe='')}"
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode("ascii"))
        try:
            received = raw.recv(1024)
        except ConnectionResetError:
            received = b""
        assert received == b""  # end of stream (or reset): no reply, no keep-alive
    _assert_serving(client)


def test_delay_executes_and_replies_late(server: LocalServer, client: Client) -> None:
    rule = server.inject("delay", uri="job/create", seconds=0.6)
    create = job_create("delayed")
    started = time.monotonic()
    response = client.send("POST", create)
    reply = json.loads(response.read())
    assert time.monotonic() - started >= 0.6
    assert response.status == 200 and reply["result"][0]["code"] == "delayed"
    assert rule.fired == 1 and server.backend.executions(create["eid"]) == 1


def test_delay_past_the_read_timeout(server: LocalServer, client: Client) -> None:
    server.inject("delay", uri="job/create", seconds=3)
    create = job_create("timed_out")
    connection = client.connect(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        client.send("POST", create, connection)
    assert time.monotonic() - started < 2.5
    connection.close()
    # The event was executed before the wait; its eid replays the stored reply.
    assert server.backend.executions(create["eid"]) == 1
    replay = client.call("POST", create)
    assert replay["result"][0]["code"] == "timed_out"
    assert client.job_codes().count("timed_out") == 1


def test_delay_does_not_hold_up_other_requests(server: LocalServer, client: Client) -> None:
    server.inject("delay", uri="job/create", seconds=2)
    slow = threading.Thread(target=lambda: client.send("POST", job_create("slow")).read())
    slow.start()
    deadline = time.monotonic() + 2
    while not server.faults_fired and time.monotonic() < deadline:
        time.sleep(0.01)
    other = Client(server)
    started = time.monotonic()
    _assert_serving(other)
    assert time.monotonic() - started < 1.0
    slow.join(timeout=5)


def test_stop_does_not_wait_for_a_sleeping_delay() -> None:
    server = LocalServer().start()
    client = Client(server)
    server.inject("delay", seconds=30)
    create = job_create("never_answered")
    errors: List[BaseException] = []

    def send() -> None:
        try:
            client.send("POST", create).read()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 5
    while server.backend.executions(create["eid"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], CONNECTION_CLOSED)


def test_unavailable_is_a_503_with_retry_after(server: LocalServer, client: Client) -> None:
    rule = server.inject("unavailable", uri="job/create", retry_after=2)
    create = job_create("unavailable")
    response = client.send("POST", create)
    body = response.read()
    assert response.status == 503
    assert response.getheader("Retry-After") == "2"
    assert response.getheader("Content-Type", "").startswith("text/plain")
    assert b"503" in body and b"retry" in body.lower()
    assert rule.fired == 1
    assert server.backend.executions(create["eid"]) == 0
    # The connection stays usable, and the same eid now executes once.
    response = client.send("POST", create)
    assert response.status == 200
    assert json.loads(response.read())["result"][0]["code"] == "unavailable"
    assert server.backend.executions(create["eid"]) == 1


def test_unavailable_retry_after_defaults_to_zero(server: LocalServer, client: Client) -> None:
    server.inject("unavailable")
    response = client.send("GET", event("job/find", {"type": 1}))
    response.read()
    assert (response.status, response.getheader("Retry-After")) == (503, "0")


def test_bad_gateway_is_an_html_502(server: LocalServer, client: Client) -> None:
    rule = server.inject("bad_gateway", uri="job/edit")
    edit = event("job/edit", {"priority": 77}, entityid="614d660de50d45bb027c9bdd")
    response = client.send("PUT", edit)
    body = response.read().decode("utf-8")
    assert response.status == 502
    assert response.getheader("Content-Type") == "text/html"
    assert body.lstrip().startswith("<html>") and "502 Bad Gateway" in body
    with pytest.raises(ValueError):
        json.loads(body)
    assert rule.fired == 1 and server.backend.executions(edit["eid"]) == 0
    found = client.call("GET", event("job/find", {"type": 1}))["result"]
    job = next(job for job in found if job["id"] == "614d660de50d45bb027c9bdd")
    assert job["priority"] != 77


def test_truncated_sends_half_the_body_then_closes(server: LocalServer, client: Client) -> None:
    rule = server.inject("truncated", uri="job/create")
    create = job_create("truncated")
    response = client.send("POST", create)
    assert response.status == 200
    length = int(response.getheader("Content-Length", "0"))
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    partial = cut.value.partial
    assert 0 < len(partial) < length and len(partial) == length // 2
    assert rule.fired == 1 and server.backend.executions(create["eid"]) == 1
    # The replay is the stored reply, whose first half is what was sent.
    client.reconnect()
    replay_response = client.send("POST", create)
    full = replay_response.read()
    assert len(full) == length and full.startswith(partial)
    assert json.loads(full)["result"][0]["code"] == "truncated"
    assert server.backend.executions(create["eid"]) == 1
    assert client.job_codes().count("truncated") == 1


def test_expire_session_refuses_with_session_expired(server: LocalServer, client: Client) -> None:
    rule = server.inject("expire_session", uri="job/create")
    create = job_create("expired")
    response = client.send("POST", create)
    reply = json.loads(response.read())
    assert response.status == 200
    assert reply["error_code"] == "session_expired" and reply["session_expired"] is True
    assert reply["message_hr"]
    assert rule.fired == 1 and server.backend.executions(create["eid"]) == 0
    # The old key stays expired; a new login works and the event goes through once.
    assert client.call("GET", event("job/find", {"type": 1}))["error_code"] == "session_expired"
    client.key = client.login()
    assert client.call("POST", create)["result"][0]["code"] == "expired"
    assert server.backend.executions(create["eid"]) == 1


def test_login_advertises_event_dedup(server: LocalServer, client: Client) -> None:
    client.reconnect()
    response = client.login_request()
    assert json.loads(response.read())["event_dedup"] is True


# -- matching: uri, method, nth, times ------------------------------------------------


def test_nth_counts_only_matching_requests(server: LocalServer, client: Client) -> None:
    rule = server.inject("unavailable", uri="job/find", nth=2)
    statuses = []
    for uri in ("job/find", "queue/find", "job/find", "job/find"):
        data = {"type": 1} if uri == "job/find" else None
        client.reconnect()
        response = client.send("GET", event(uri, data))
        response.read()
        statuses.append(response.status)
    assert statuses == [200, 200, 503, 200]
    assert rule.fired == 1 and rule.matched == 3


def test_times_fires_on_consecutive_requests(server: LocalServer, client: Client) -> None:
    rule = server.inject("bad_gateway", nth=2, times=3)
    statuses = []
    for _ in range(6):
        response = client.send("GET", event("job/find", {"type": 1}))
        response.read()
        statuses.append(response.status)
    assert statuses == [200, 502, 502, 502, 200, 200]
    assert rule.fired == 3 and server.faults_fired == 3


def test_method_matching(server: LocalServer, client: Client) -> None:
    rule = server.inject("unavailable", method="put")
    assert rule.method == "PUT"
    find = client.send("GET", event("job/find", {"type": 1}))
    find.read()
    edit = client.send(
        "PUT", event("job/edit", {"priority": 10}, entityid="614d660de50d45bb027c9bdd")
    )
    edit.read()
    assert (find.status, edit.status, rule.fired) == (200, 503, 1)


def test_uri_matching_is_normalised(server: LocalServer, client: Client) -> None:
    rule = server.inject("unavailable", uri="/Job/Find/")
    assert rule.uri == "job/find"
    response = client.send("GET", event("/job/find", {"type": 1}))
    response.read()
    assert response.status == 503 and rule.fired == 1


def test_login_is_matched_only_by_its_uri(server: LocalServer, client: Client) -> None:
    any_event = server.inject("unavailable")
    client.reconnect()
    response = client.login_request()
    assert response.status == 200 and "session_key" in json.loads(response.read())
    assert any_event.fired == 0
    server.clear_faults()

    login = server.inject("drop_before", uri="user/login/auth")
    client.reconnect()
    with pytest.raises(CONNECTION_CLOSED):
        client.login_request().read()
    assert login.fired == 1
    _assert_serving(client)


def test_first_rule_in_window_fires_and_all_matching_rules_count(
    server: LocalServer, client: Client
) -> None:
    first = server.inject("unavailable", uri="job/find")
    second = server.inject("bad_gateway", uri="job/find", nth=1, times=2)
    statuses = []
    for _ in range(3):
        response = client.send("GET", event("job/find", {"type": 1}))
        response.read()
        statuses.append(response.status)
    assert statuses == [503, 502, 200]
    assert (first.fired, second.fired, first.matched, second.matched) == (1, 1, 3, 3)


def test_clear_faults_and_fired_totals(server: LocalServer, client: Client) -> None:
    rule = server.inject("unavailable", times=100)
    for _ in range(2):
        client.send("GET", event("job/find", {"type": 1})).read()
    assert rule.fired == 2 and server.faults_fired == 2 and server.faults == [rule]
    server.clear_faults()
    assert server.faults == []
    response = client.send("GET", event("job/find", {"type": 1}))
    response.read()
    assert response.status == 200
    assert rule.fired == 2 and server.faults_fired == 2  # the total is kept


def test_initial_faults_given_to_the_constructor() -> None:
    rule = Fault(FaultKind.UNAVAILABLE, uri="job/find", retry_after=1)
    with LocalServer(faults=[rule]) as server:
        client = Client(server)
        response = client.send("GET", event("job/find", {"type": 1}))
        response.read()
        assert (response.status, response.getheader("Retry-After")) == (503, "1")
        assert server.faults == [rule] and rule.fired == 1


def test_counters_are_exact_under_concurrency(server: LocalServer) -> None:
    rule = server.inject("unavailable", uri="job/find", nth=3, times=7)
    clients = [Client(server) for _ in range(8)]
    statuses: List[int] = []
    lock = threading.Lock()

    def work(client: Client) -> None:
        for _ in range(5):
            response = client.send("GET", event("job/find", {"type": 1}))
            response.read()
            with lock:
                statuses.append(response.status)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(statuses) == 40
    assert statuses.count(503) == 7 and statuses.count(200) == 33
    assert rule.fired == 7 and rule.matched == 40 and server.faults_fired == 7


# -- rules and specs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "delay", "nth": 0}, "nth"),
        ({"kind": "delay", "times": -1}, "times"),
        ({"kind": "delay", "nth": 1.5}, "nth"),
        ({"kind": "delay", "seconds": -2}, "seconds"),
        ({"kind": "unavailable", "retry_after": "soon"}, "retry_after"),
        ({"kind": "delay", "uri": ""}, "uri"),
        ({"kind": "delay", "method": " "}, "method"),
    ],
)
def test_invalid_fault_rules(options: Dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Fault(**options)
    kind = options.pop("kind")
    with LocalServer() as server, pytest.raises(ValueError, match=word):
        server.inject(kind, **options)
    assert server.faults == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("drop_before", Fault(FaultKind.DROP_BEFORE)),
        ("DROP_AFTER:uri=job/create", Fault(FaultKind.DROP_AFTER, uri="job/create")),
        ("delay:seconds=3:nth=2", Fault(FaultKind.DELAY, seconds=3.0, nth=2)),
        (
            "unavailable:retry_after=1.5:times=4:method=get",
            Fault(FaultKind.UNAVAILABLE, retry_after=1.5, times=4, method="GET"),
        ),
        ("bad_gateway:uri=user/login/auth", Fault(FaultKind.BAD_GATEWAY, uri="user/login/auth")),
        (" truncated : uri = job/task/create ", Fault(FaultKind.TRUNCATED, uri="job/task/create")),
        ("expire_session:nth=5", Fault(FaultKind.EXPIRE_SESSION, nth=5)),
    ],
)
def test_parse_fault_spec(spec: str, expected: Fault) -> None:
    fault = parse_fault_spec(spec)
    assert fault == expected
    assert parse_fault_spec(format_fault(fault)) == fault  # the printed form reads back


@pytest.mark.parametrize(
    ("spec", "word"),
    [
        ("", "unknown fault kind"),
        ("boom", "unknown fault kind"),
        ("delay:nth", "name=value"),
        ("delay:color=red", "name=value"),
        ("delay:nth=two", "nth"),
        ("delay:nth=0", "nth"),
        ("delay:seconds=-1", "seconds"),
        ("delay:nth=1:nth=2", "twice"),
        ("delay:uri=", "uri"),
    ],
)
def test_parse_fault_spec_refuses_bad_specs(spec: str, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        parse_fault_spec(spec)


@pytest.mark.parametrize("spec", ["boom", "delay:nth=0", "delay:color=red"])
def test_cli_rejects_a_bad_fault_spec(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["server", "--fault", spec])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--fault" in error and spec.split(":")[-1] in error


def _start_cli_server(*arguments: str) -> Tuple[subprocess.Popen[str], List[str]]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "accsyn_api", "server", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: List[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if "Ctrl-C" in line:
            break
    return process, lines


def _stop_cli_server(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_cli_server_prints_and_plays_its_faults() -> None:
    process, lines = _start_cli_server(
        "--fault", "unavailable:uri=job/find:retry_after=4", "--fault", "drop_after:nth=2"
    )
    try:
        assert "# fault: unavailable:uri=job/find:nth=1:times=1:retry_after=4" in lines
        assert "# fault: drop_after:nth=2:times=1" in lines
        url = next(line.split("=", 1)[1] for line in lines if "ACCSYN_URL=" in line)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        path = f"{EVENT_PATH}?{quote(json.dumps(event('job/find', {'type': 1})), safe='')}"
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert (response.status, response.getheader("Retry-After")) == (503, "4")
        connection.close()
    finally:
        _stop_cli_server(process)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_cli_server_prints_the_exports_of_the_chosen_generation() -> None:
    process, lines = _start_cli_server("--api-version", "3", "--role", "standard")
    try:
        exports = dict(line[len("export ") :].split("=", 1) for line in lines if "export " in line)
        assert set(exports) == {
            "ACCSYN_WORKSPACE",
            "ACCSYN_API_USER",
            "ACCSYN_API_KEY",
            "ACCSYN_URL",
            "ACCSYN_API_VERSION",
        }
        assert (
            exports["ACCSYN_API_VERSION"] == "3" and exports["ACCSYN_API_USER"] == "user@mail.com"
        )
        header = "\n".join(lines)
        assert "API v3;" in header and "--api-version 1.0" in header
        assert 'proxy="accsyn:127.0.0.1:' in header
        parts = urlsplit(exports["ACCSYN_URL"])
        token = "basic {}:{}".format(
            *(
                base64.b64encode(text.encode()).decode()
                for text in ("user@mail.com", exports["ACCSYN_API_KEY"])
            )
        )
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        headers = {"Authorization": token, "X-Accsyn-Workspace": exports["ACCSYN_WORKSPACE"]}
        connection.request("PUT", "/api/v3/api/login", body=b"{}", headers=headers)
        response = connection.getresponse()
        assert (
            response.status == 200 and json.loads(response.read())["result"]["role"] == "standard"
        )
        connection.close()
    finally:
        _stop_cli_server(process)
    process, lines = _start_cli_server()
    _stop_cli_server(process)
    assert any("API v1.0 (the default)" in line for line in lines)
