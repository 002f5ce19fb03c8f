"""Faults, TLS, simulation, configuration and the pytest plugin with the v3 front end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest
import requests
from test_server_v3_support import V3Client, v3_event

from accsyn_api.testing import Fault, FaultKind, LocalServer, parse_fault_spec
from accsyn_api.testing.faults import (
    LOGIN_FAULT_URI,
    V3_LOGIN_FAULT_URI,
    V3_LOOKUP_FAULT_URI,
    format_fault,
)

LOOKUP = f"J3PKTtDvolDMBtTy6AFGA?{quote(json.dumps({'ident': 'acmevfx'}))}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(api_version="3") as local_server:
        yield local_server


@pytest.fixture
def client(server: LocalServer) -> Iterator[V3Client]:
    v3 = V3Client(server)
    yield v3
    v3.close()


# -- faults ------------------------------------------------------------------------------


def test_expire_session_is_one_401_on_v3(server: LocalServer, client: V3Client) -> None:
    rule = server.inject("expire_session", uri="transfer/find")
    event = v3_event("transfer/find")
    response = client.send("GET", event)
    assert response.status_code == 401
    reply = response.json()
    assert set(reply) == {"message", "message_hr", "error_code"}
    assert reply["error_code"] == "authentication_failed" and "expire_session" in reply["message"]
    assert server.backend.executions(event["eid"]) == 0
    assert client.send("GET", v3_event("transfer/find")).status_code == 200
    assert rule.fired == 1


def test_rate_limited_is_a_429_with_json_and_retry_after(
    server: LocalServer, client: V3Client
) -> None:
    server.inject("rate_limited", uri="transfer/create", retry_after=3)
    spec = {"source": "share=projects/thefilm/a.mov", "destination": "lars@edit.com"}
    event = v3_event("transfer/create", spec)
    response = client.send("POST", event)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error_code"] == "rate_limited"
    assert set(response.json()) == {"message", "message_hr", "error_code"}
    assert server.backend.executions(event["eid"]) == 0
    assert client.send("POST", event).status_code == 200  # the repeat goes through
    assert server.backend.executions(event["eid"]) == 1


def test_rate_limited_without_retry_after_sends_no_header(server: LocalServer) -> None:
    server.inject(FaultKind.RATE_LIMITED)
    with requests.Session() as http:
        response = http.get(f"{server.url}/api/v1.0/event?{quote(json.dumps({'uri': 'job/find'}))}")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_faults_match_the_v3_login_and_lookup_routes(server: LocalServer, client: V3Client) -> None:
    every_event = server.inject("bad_gateway", times=10)
    login_rule = server.inject("unavailable", uri=V3_LOGIN_FAULT_URI, retry_after=1)
    lookup_rule = server.inject("drop_before", uri=V3_LOOKUP_FAULT_URI.lower())
    assert client.login().status_code == 503
    with pytest.raises(requests.ConnectionError):
        requests.get(client.url(LOOKUP), timeout=10)
    assert client.login().status_code == 200
    assert requests.get(client.url(LOOKUP), timeout=10).status_code == 200
    assert (login_rule.fired, lookup_rule.fired, every_event.fired) == (1, 1, 0)
    assert client.send("GET", v3_event("transfer/find")).status_code == 502
    assert every_event.fired == 1


def test_fault_uris_have_names() -> None:
    assert (LOGIN_FAULT_URI, V3_LOGIN_FAULT_URI) == ("user/login/auth", "api/login")
    assert V3_LOOKUP_FAULT_URI == "J3PKTtDvolDMBtTy6AFGA"


def test_rate_limited_specs() -> None:
    assert parse_fault_spec("rate_limited:retry_after=2") == Fault(
        FaultKind.RATE_LIMITED, retry_after=2.0
    )
    assert format_fault(Fault(FaultKind.RATE_LIMITED)) == "rate_limited:nth=1:times=1"
    assert format_fault(parse_fault_spec("rate_limited:retry_after=2")).endswith("retry_after=2")
    assert format_fault(Fault(FaultKind.UNAVAILABLE)).endswith("retry_after=0")


# -- TLS and simulation -------------------------------------------------------------------


def test_v3_over_tls() -> None:
    pytest.importorskip("trustme")
    with LocalServer(tls=True, api_version="3") as server:
        client = V3Client(server)
        assert client.login().status_code == 200
        assert client.ok("GET", "transfer/find")
        client.close()


def test_simulated_transfers_on_v3() -> None:
    with LocalServer(simulate=True, speed=1000.0, api_version="3") as server:
        client = V3Client(server)
        spec = {"source": "share=projects/thefilm/sim.mov", "destination": "lars@edit.com"}
        job = client.ok("POST", "transfer/create", spec)[0]
        server.backend.clock.advance(minutes=10)
        done = client.ok("GET", "Transfer/find", entityid=job["id"])[0]
        assert done["status"] == "done" and done["progress"] == 100
        assert done["finished"] is not None
        client.close()


# -- configuration --------------------------------------------------------------------------


def test_api_version_picks_credentials_and_environment() -> None:
    v1 = LocalServer().bind()
    v3 = LocalServer(api_version="3").bind()
    try:
        assert set(v1.credentials()) == {"domain", "username", "api_key", "url"}
        assert set(v3.credentials()) == {"workspace", "username", "api_key", "url"}
        assert set(v1.credentials(api_version="3")) == set(v3.credentials())
        assert v1.environment("admin") == {
            "ACCSYN_DOMAIN": "acmevfx",
            "ACCSYN_API_USER": "admin@acmevfx.com",
            "ACCSYN_API_KEY": v1.credentials("admin")["api_key"],
            "ACCSYN_URL": v1.url,
            "ACCSYN_API_VERSION": "1.0",
        }
        assert v3.environment("standard") == {
            "ACCSYN_WORKSPACE": "acmevfx",
            "ACCSYN_API_USER": "user@mail.com",
            "ACCSYN_API_KEY": v3.credentials("user")["api_key"],
            "ACCSYN_URL": v3.url,
            "ACCSYN_API_VERSION": "3",
        }
        assert "api_version='3'" in repr(v3)
    finally:
        v1.stop()
        v3.stop()
    with pytest.raises(ValueError, match="unknown API version"):
        LocalServer(api_version="2")


def test_the_plugin_option_picks_the_generation(tmp_path: Path) -> None:
    (tmp_path / "test_generation.py").write_text(
        textwrap.dedent(
            """
            def test_generation(accsyn_api_version, accsyn_server):
                assert accsyn_server.api_version == accsyn_api_version
                print("GENERATION", accsyn_api_version, sorted(accsyn_server.environment()))
            """
        )
    )
    outputs = []
    for option in ([], ["--accsyn-api-version", "3"]):
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *option],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    assert "GENERATION 1.0" in outputs[0] and "ACCSYN_DOMAIN" in outputs[0]
    assert "GENERATION 3" in outputs[1] and "ACCSYN_WORKSPACE" in outputs[1]
