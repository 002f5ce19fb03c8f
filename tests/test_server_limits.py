"""What clients may hold of the reference server: connections, time, session keys.

Over real HTTP on 127.0.0.1: idle connections and slow bodies time out, idle
sockets beyond the connection limit (or the process's file limit) do not lock
other clients out and do not make the accept loop spin, and v1.0 session keys
expire after 24 hours of server time, in a bounded store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest
from generations import both_generations
from server_raw import RawCaller, error_code, raw_socket, read_until_closed

import accsyn_api
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer, sessions

pytestmark = both_generations

_SERVER_UNDER_FILE_LIMIT = textwrap.dedent(
    """
    import json, resource, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
    from accsyn_api.testing import LocalServer
    server = LocalServer().bind()
    print(json.dumps({"v1": server.credentials("employee", "1.0"),
                      "v3": server.credentials("employee", "3")}), flush=True)
    server.serve_forever()
    """
)


def _idle_sockets(server_url: str, count: int) -> List[socket.socket]:
    """Up to ``count`` connections to the server that never send a byte.

    Fewer when a connection cannot be opened within 2 seconds (the server does
    not accept any more): the clients that come next are what the tests judge.
    """
    host, port = server_url.split("://", 1)[1].rsplit(":", 1)
    opened = []
    for _ in range(count):
        try:
            opened.append(socket.create_connection((host, int(port)), timeout=2))
        except OSError:
            break
    return opened


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- item 8: timeouts ------------------------------------------------------------------------


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    with LocalServer(idle_timeout=0.3) as server:
        with raw_socket(server, timeout=10) as idle:
            started = time.monotonic()
            assert read_until_closed(idle) == b""  # closed by the server, nothing said
            assert 0.2 < time.monotonic() - started < 5
        with server.session("employee") as session:
            assert session.find("Job")
            time.sleep(0.6)  # its kept-alive connection is closed meanwhile
            assert session.find("Job")  # and it simply connects again


def test_a_slow_body_is_refused_with_408(accsyn_api_version: str) -> None:
    with LocalServer(api_version=accsyn_api_version, body_timeout=0.5) as server:
        caller = RawCaller(server, accsyn_api_version)
        path = f"{names.API_PATHS[accsyn_api_version]}/{names.EVENT_URI}"
        headers = "".join(f"{name}: {value}\r\n" for name, value in caller.headers.items())
        with raw_socket(server, timeout=10) as slow:
            started = time.monotonic()
            slow.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: 1000\r\n\r\n"
                '{"uri": '.encode("ascii")
            )
            reply = read_until_closed(slow)
            assert time.monotonic() - started < 5
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:300]
        assert b"did not arrive within 0.5 seconds" in reply
        # A caller without credentials dripping a body is cut off just the same.
        with raw_socket(server, timeout=10) as stranger:
            stranger.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{".encode()
            )
            started = time.monotonic()
            read_until_closed(stranger)
            assert time.monotonic() - started < 5
        assert error_code(caller.send("GET", caller.event("job/find"))) is None  # serving
        caller.close()


# -- item 8: bounded connections -----------------------------------------------------------


def test_idle_sockets_beyond_the_limit_do_not_lock_clients_out(accsyn_api_version: str) -> None:
    threads_before = threading.active_count()
    with LocalServer(api_version=accsyn_api_version, max_connections=8) as server:
        idle = _idle_sockets(server.url, 40)
        try:
            with server.session("employee", timeout=(5, 10)) as session:
                for _ in range(3):
                    assert session.find("Job")
            # One thread per connection served, never more than the limit.
            assert threading.active_count() - threads_before <= 8 + 1
        finally:
            for sock in idle:
                sock.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="file limits and /proc: Linux")
def test_300_idle_sockets_under_a_file_limit_of_256_lock_nobody_out() -> None:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _SERVER_UNDER_FILE_LIMIT, "256"],
        stdout=subprocess.PIPE,
        text=True,
    )
    idle: List[socket.socket] = []
    try:
        assert process.stdout is not None
        credentials: Dict[str, Dict[str, Any]] = json.loads(process.stdout.readline())
        url = credentials["v1"]["url"]
        idle = _idle_sockets(url, 300)
        for version, key in ((names.V1, "v1"), (names.V3, "v3")):
            given = dict(credentials[key])
            given.pop("url")
            started = time.monotonic()
            with accsyn_api.Session(
                url=url, api_version=version, timeout=(5, 10), **given
            ) as session:
                assert session.find("Job")
            assert time.monotonic() - started < 10
        # While the idle sockets stay open the accept loop waits; it does not spin a core.
        before = _cpu_seconds(process.pid)
        time.sleep(1.0)
        assert _cpu_seconds(process.pid) - before < 0.5
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# -- item 12: v1.0 session keys ------------------------------------------------------------


@pytest.fixture
def v1_server() -> Iterator[LocalServer]:
    with LocalServer(api_version=names.V1) as server:
        yield server


def _event_as(caller: RawCaller, session_key: str) -> Dict[str, Any]:
    headers = {names.AUTHORIZATION: RawCaller.session_header(session_key)}
    reply: Dict[str, Any] = caller.send("GET", caller.event("job/find"), headers=headers).json()
    return reply


def test_session_keys_expire_after_24_hours_of_server_time(v1_server: LocalServer) -> None:
    caller = RawCaller(v1_server, names.V1, role=None)
    api_key = v1_server.credentials("employee")["api_key"]
    key = caller.login_v1(api_key, "employee@acmevfx.com")
    with v1_server.session("employee") as session:
        v1_server.backend.clock.advance(hours=23, minutes=59)
        assert "result" in _event_as(caller, key)
        v1_server.backend.clock.advance(minutes=2)
        reply = _event_as(caller, key)
        assert reply["error_code"] == "session_expired" and reply["session_expired"] is True
        assert session.find("Job")  # the library logs in again by itself
    caller.close()


def test_the_store_of_session_keys_is_bounded(
    v1_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    caller = RawCaller(v1_server, names.V1, role=None)
    api_key = v1_server.credentials("employee")["api_key"]
    first, second, third = (caller.login_v1(api_key, "employee@acmevfx.com") for _ in range(3))
    assert "result" in _event_as(caller, first)  # used: now the most recent
    fourth = caller.login_v1(api_key, "employee@acmevfx.com")
    assert _event_as(caller, second)["error_code"] == "authentication_failed"  # forgotten
    for kept in (first, third, fourth):
        assert "result" in _event_as(caller, kept)
    caller.close()
