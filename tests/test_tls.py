"""HTTPS against LocalServer(tls=True): verification on by default, CA bundles, verify=False.

The server's certificate is signed by a throwaway CA made with trustme, so it
is trusted only by a client given ``verify=server.ca_bundle``.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any, Dict, Iterator

import pytest
import requests

import accsyn_api
import accsyn_api.tls
from accsyn_api.errors import ConnectionFailed
from accsyn_api.testing import LocalServer

pytest.importorskip("trustme")

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(tls=True) as tls_server:
        yield tls_server


def _credentials(server: LocalServer) -> Dict[str, Any]:
    credentials = server.backend.credentials("employee")
    return {
        "url": server.url,
        "domain": credentials["domain"],
        "username": credentials["username"],
        "api_key": credentials["api_key"],
    }


def _job_spec(code: str) -> Dict[str, Any]:
    return {
        "code": code,
        "source": "share=projects/thefilm/latest_edit.mov",
        "destination": "lars@edit.com",
    }


def test_serves_https_with_a_ca_bundle_that_stop_removes() -> None:
    server = LocalServer(tls=True)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.ca_bundle
    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        bundle = server.ca_bundle
        assert bundle is not None and os.path.isfile(bundle)
        with open(bundle, encoding="ascii") as pem:
            assert pem.read().startswith("-----BEGIN CERTIFICATE-----")
        reply = requests.put(
            f"{server.url}/api/v1.0/registry/organization/domain",
            json={"organization": "acmevfx"},
            verify=bundle,
            timeout=10,
        )
        assert reply.json() == {"domain": "acmevfx"}
    finally:
        server.stop()
    assert not os.path.exists(bundle)
    assert not os.path.exists(os.path.dirname(bundle))


def test_plain_server_has_no_ca_bundle() -> None:
    with LocalServer() as server:
        assert server.ca_bundle is None and server.url.startswith("http://")


def test_a_missing_trustme_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme now fails
    server = LocalServer(tls=True)
    with pytest.raises(RuntimeError, match="trustme") as refused:
        server.start()
    assert "pip install" in str(refused.value) and "accsyn-sdk[test]" in str(refused.value)
    server.stop()


def test_verification_is_on_by_default(server: LocalServer) -> None:
    credentials = _credentials(server)
    with pytest.raises(ConnectionFailed) as refused:
        accsyn_api.Session(**credentials)
    message = str(refused.value)
    assert "certificate" in message.lower()
    assert "verif" in message.lower()  # "could not be verified" / "verify failed"
    assert "verify=" in message  # how to fix it: a CA bundle...
    assert "system" in message  # ...or the operating system's trust store
    assert credentials["api_key"] not in message and credentials["api_key"] not in repr(
        refused.value
    )


def test_verify_with_the_ca_bundle_works_end_to_end(server: LocalServer) -> None:
    code = f"tls_{uuid.uuid4().hex[:8]}"
    with accsyn_api.Session(verify=server.ca_bundle, **_credentials(server)) as session:
        assert session.find("Job")
        job = session.create("Job", _job_spec(code))
        found = session.find_one(f"Job where code={code}")
        assert found is not None and found["id"] == job["id"]
        assert session.update("job", job["id"], {"priority": 42})["priority"] == 42
    # server.session() trusts the throwaway CA by itself
    with server.session("employee") as session:
        assert session.find_one(f"Job where code={code}") is not None


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.split(".")[0] == "accsyn_api"
    ]


def test_verify_false_works_and_warns_once_per_session(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accsyn_api")
    credentials = _credentials(server)
    with accsyn_api.Session(verify=False, **credentials) as session:
        assert session.find("Job")
        session.create("Job", _job_spec(f"insecure_{uuid.uuid4().hex[:8]}"))
        assert session.find("Queue")
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert "verify=False" in warnings[0].getMessage()

    with accsyn_api.Session(verify=False, **credentials) as session:
        assert session.find("Job")
    assert len(_warnings(caplog)) == 2
    assert caplog.records  # DEBUG records were captured too...
    assert credentials["api_key"] not in caplog.text  # ...and none holds the API key
    for record in caplog.records:
        assert credentials["api_key"] not in record.getMessage()


def test_faults_play_over_tls(server: LocalServer) -> None:
    with server.session("employee") as session:
        rule = server.inject("drop_before", uri="job/find", method="GET")
        try:
            with requests.Session() as http, pytest.raises(requests.ConnectionError):
                http.get(
                    f"{server.url}/api/v1.0/event?%7B%22uri%22%3A%22job%2Ffind%22%7D",
                    verify=server.ca_bundle,
                    timeout=10,
                )
            assert rule.fired == 1
            assert session.find("Job")  # the server serves on
        finally:
            server.clear_faults()


def _system_trust_store_supported() -> bool:
    """Whether the transport offers verify="system" (through the optional truststore)."""
    return getattr(accsyn_api.tls, "SYSTEM_TRUST", None) == "system"


@pytest.mark.skipif(sys.version_info < (3, 10), reason="truststore needs Python 3.10+")
@pytest.mark.skipif(
    not _system_trust_store_supported(), reason="verify='system' is not implemented"
)
def test_the_system_trust_store_refuses_the_throwaway_ca(server: LocalServer) -> None:
    pytest.importorskip("truststore")
    with pytest.raises(ConnectionFailed) as refused:
        accsyn_api.Session(verify="system", **_credentials(server))
    assert "certificate" in str(refused.value).lower()
