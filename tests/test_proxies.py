"""Proxies for real: the accsyn relay form and SOCKS5, through small servers on loopback."""

from __future__ import annotations

import socket
from typing import Any, Dict, Iterator
from urllib.parse import urlsplit

import netsupport
import pytest
from generations import both_generations

import accsyn_api
from accsyn_api.errors import ConfigurationError, ConnectionFailed
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
PROXY_VARIABLES = (
    "ACCSYN_URL",
    "ACCSYN_PROXY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy, bypass list or server address may come from the outer environment."""
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


pytestmark = both_generations


@pytest.fixture
def server(accsyn_api_version: str) -> Iterator[LocalServer]:
    with LocalServer(api_version=accsyn_api_version) as local_server:
        yield local_server


def _target(server: LocalServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _login(server: LocalServer) -> Dict[str, Any]:
    """The settings of the demo employee; the generation is found out ("auto")."""
    credentials = server.credentials("employee")
    return {name: value for name, value in credentials.items() if name != "url"}


def _api_url(relay: netsupport.TcpRelay) -> str:
    """What the session's url is through the relay: v3 is found first where both are served."""
    return f"http://127.0.0.1:{relay.port}{names.V3_API_PATH}"


def _exercise(session: accsyn_api.Session) -> None:
    """A read and a change, checked against each other."""
    job = session.find_one(f"Job where id={JOB_ID}")
    assert job is not None and job["id"] == JOB_ID
    assert session.update("job", JOB_ID, {"priority": 77})["priority"] == 77
    again = session.find_one(f"Job where id={JOB_ID}")
    assert again is not None and again["priority"] == 77


# -- the accsyn relay: accsyn:<host>:<port> -----------------------------------------------


def test_relay_form_carries_all_traffic(server: LocalServer) -> None:
    with netsupport.TcpRelay(_target(server)) as relay:
        session = accsyn_api.Session(proxy=relay.proxy, **_login(server))
        try:
            assert session.url == _api_url(relay)
            _exercise(session)
            assert relay.connections_accepted >= 1
            assert relay.bytes_up > 0 and relay.bytes_down > 0
            # Every connection the server saw came through the relay.
            assert server.connections_accepted == relay.connections_accepted
            up, down = relay.bytes_up, relay.bytes_down
            session.find("Job")
            assert relay.bytes_up > up and relay.bytes_down > down
        finally:
            session.close()
        relay.stop()
        # With the relay gone, so is the way to the server: nothing goes around it.
        with pytest.raises(ConnectionFailed):
            accsyn_api.Session(proxy=relay.proxy, retries=0, timeout=(2, 5), **_login(server))


def test_relay_form_from_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with netsupport.TcpRelay(_target(server)) as relay:
        monkeypatch.setenv("ACCSYN_PROXY", relay.proxy)
        for name, value in server.environment("employee").items():
            if name not in ("ACCSYN_URL", "ACCSYN_API_VERSION"):
                monkeypatch.setenv(name, value)
        with accsyn_api.Session() as session:
            assert session.url == _api_url(relay)
            _exercise(session)
        assert relay.connections_accepted >= 1 and relay.bytes_up > 0
        assert server.connections_accepted == relay.connections_accepted


def test_relay_sees_plain_http_to_the_api(server: LocalServer) -> None:
    version = server.api_version
    with netsupport.TcpRelay(_target(server), capture_limit=64 * 1024) as relay:
        with accsyn_api.Session(
            proxy=relay.proxy, api_version=version, **_login(server)
        ) as session:
            session.find("Job")
        sent = bytes(relay.captured_up)
    path = names.API_PATHS[version]
    login = names.V1_LOGIN_URI if version == names.V1 else names.V3_LOGIN_URI
    assert sent.startswith(f"PUT {path}/{login} HTTP/1.1\r\n".encode())
    assert f"GET {path}/event?".encode() in sent  # the find, after the login
    assert b"Host: 127.0.0.1:" in sent


# -- SOCKS5 ----------------------------------------------------------------------------------


def test_socks5_carries_all_traffic(server: LocalServer) -> None:
    original_socket = socket.socket
    original_create_connection = socket.create_connection
    host, port = _target(server)
    with netsupport.Socks5Server() as proxy:
        for form in (f"socks5:127.0.0.1:{proxy.port}", f"socks5://127.0.0.1:{proxy.port}"):
            with accsyn_api.Session(url=server.url, proxy=form, **_login(server)) as session:
                _exercise(session)
        assert proxy.connections_accepted >= 2
        assert proxy.handshakes_failed == 0
        assert set(proxy.targets) == {(host, port)}
        assert proxy.bytes_up > 0 and proxy.bytes_down > 0
        assert server.connections_accepted == proxy.connections_accepted
    # The library must not monkey-patch the socket module for everyone else.
    assert socket.socket is original_socket
    assert socket.create_connection is original_create_connection


def test_socks5_proxy_from_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with netsupport.Socks5Server() as proxy:
        for name, value in server.environment("employee").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ACCSYN_PROXY", f"socks5:127.0.0.1:{proxy.port}")
        with accsyn_api.Session() as session:
            assert session.find_one(f"Job where id={JOB_ID}") is not None
        assert proxy.connections_accepted >= 1 and proxy.bytes_up > 0


def test_socks5_proxy_down_is_a_connection_failure(server: LocalServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed) as caught:
        accsyn_api.Session(
            url=server.url,
            proxy=f"socks5:127.0.0.1:{closed_port}",
            retries=0,
            timeout=(2, 5),
            **_login(server),
        )
    assert server.connections_accepted == 0
    assert str(caught.value)


# -- proxy strings that are not understood ----------------------------------------------------


@pytest.mark.parametrize(
    "proxy",
    [
        "http://proxy.studio.local:3128",
        "accsyn:relay.studio.local",
        "accsyn:relay:99999",
        "socks4:127.0.0.1:1080",
        "socks5:127.0.0.1",
        "relay:8888/api",
        "user:secret@relay:8888",
        "accsyn:",
    ],
)
def test_bad_proxy_strings_are_configuration_errors(server: LocalServer, proxy: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        accsyn_api.Session(url=server.url, proxy=proxy, **_login(server))
    text = str(caught.value)
    assert "accsyn:<host>:<port>" in text
    assert "socks5" in text
    assert server.connections_accepted == 0  # refused before anything was sent


def test_bad_proxy_in_the_environment_is_a_configuration_error(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCSYN_PROXY", "http://squid:3128")
    with pytest.raises(ConfigurationError, match=r"accsyn:<host>:<port>"):
        accsyn_api.Session(url=server.url, **_login(server))
