"""The retry policy of the transport, through the public API and the reference server.

Back-off with jitter, Retry-After, the time budget, one eid per event across
attempts, the rule for creates, the settings' validation, ``verify="system"``
and ``verbose``. The fault matrix (every fault against every verb) is in
``tests/test_faults.py``.
"""

from __future__ import annotations

import http.server
import logging
import random
import re
import socket
import statistics
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Mapping

import pytest

import accsyn_api
from accsyn_api import ConfigurationError, ConnectionFailed, RequestTimeout, ServerError
from accsyn_api.retry import BACKOFF_CAP, backoff_delay, backoff_delays
from accsyn_api.testing import Backend, LocalServer
from accsyn_api.transport import Transport

pytestmark = pytest.mark.timeout(60)

JOB_SPEC = {"source": "share=projects/thefilm/latest_edit.mov", "destination": "lars@edit.com"}
RETRY_LINE = re.compile(
    r"^Retrying (?P<method>\S+) (?P<uri>\S+) eid=(?P<eid>\S+) in (?P<delay>[\d.]+) s: "
    r"attempt (?P<attempt>\d+) of (?P<of>\d+) failed \((?P<reason>.+)\)$"
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local_server:
        yield local_server


def _retry_lines(caplog: pytest.LogCaptureFixture) -> List[Dict[str, str]]:
    found = []
    for record in caplog.records:
        match = RETRY_LINE.match(record.getMessage())
        if match and record.name.startswith("accsyn_api.transport"):
            assert record.levelno == logging.WARNING
            found.append(match.groupdict())
    return found


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- back-off ---------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    rng = random.Random(1234)
    samples = [backoff_delays(4, 0.25, rng=rng) for _ in range(2000)]
    for repeat in range(4):
        ceiling = 0.25 * 2**repeat
        column = [delays[repeat] for delays in samples]
        assert all(0.0 <= delay <= ceiling for delay in column)
        # Full jitter: spread over the whole range, not bunched near the ceiling.
        assert min(column) < 0.05 * ceiling and max(column) > 0.95 * ceiling
        assert statistics.mean(column) == pytest.approx(ceiling / 2, rel=0.1)
        assert len(set(column)) > 1900


def test_backoff_is_capped() -> None:
    delays = [backoff_delay(repeat, 1.0) for repeat in range(1, 200)]
    assert max(delays) <= BACKOFF_CAP
    assert max(backoff_delay(30, 10.0, cap=0.5) for _ in range(100)) <= 0.5
    assert backoff_delay(3, 0.0) == 0.0


def test_the_transport_waits_as_the_backoff_says(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    session = server.session(retries=3, backoff=0.2)
    server.inject("unavailable", uri="job/find", times=3)
    started = time.monotonic()
    assert session.find("Job") != []
    elapsed = time.monotonic() - started
    lines = _retry_lines(caplog)
    assert [line["attempt"] for line in lines] == ["1", "2", "3"]
    assert all(line["of"] == "4" and line["reason"] == "HTTP 503" for line in lines)
    delays = [float(line["delay"]) for line in lines]
    for repeat, delay in enumerate(delays):
        assert 0.0 <= delay <= 0.2 * 2**repeat + 0.005  # the log rounds to 10 ms
    assert elapsed >= sum(delays) - 0.02
    session.close()


# -- Retry-After and the budget ---------------------------------------------------------


def test_retry_after_is_honoured(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    session = server.session(backoff=0.01)
    fault = server.inject("unavailable", uri="job/create", retry_after=1)
    started = time.monotonic()
    job = session.create("job", dict(JOB_SPEC, code="after_503"))
    assert time.monotonic() - started >= 0.95
    assert fault.fired == 1 and job["code"] == "after_503"
    (line,) = _retry_lines(caplog)
    assert float(line["delay"]) >= 1.0 and line["method"] == "POST"
    session.close()


def test_a_retry_after_beyond_the_budget_is_not_waited_for(server: LocalServer) -> None:
    session = server.session(retry_budget=1.0)
    server.inject("unavailable", uri="job/edit", retry_after=30)
    started = time.monotonic()
    with pytest.raises(ServerError) as caught:
        session.update("job", _new_job(session), {"priority": 3})
    assert time.monotonic() - started < 1.0
    error = caught.value
    assert error.executed is False
    text = str(error)
    assert "HTTP 503" in text and "retry budget of 1 s" in text and "30 s" in text
    assert "did not carry it out" in text and "Tried once" in text
    session.close()


def test_the_budget_stops_retrying(server: LocalServer) -> None:
    session = server.session(timeout=(2, 0.3), retries=20, backoff=0.01, retry_budget=1.0)
    server.inject("delay", uri="job/find", seconds=1.0, times=50)
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as caught:
        session.find("Job")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0
    text = str(caught.value)
    attempts = int(re.search(r"Tried (\d+) times", text).group(1))  # type: ignore[union-attr]
    assert 3 <= attempts <= 5  # about 1 s / 0.3 s, far from 21
    assert "retry budget of 1 s is spent" in text and "safe to repeat" in text
    session.close()


def test_retries_zero_means_one_attempt(server: LocalServer) -> None:
    session = server.session(retries=0)
    fault = server.inject("unavailable", uri="job/find", times=5)
    with pytest.raises(ServerError, match="Tried once; all 0 retries used"):
        session.find("Job")
    assert fault.fired == 1
    session.close()


# -- the same event every time ------------------------------------------------------------


def _new_job(session: accsyn_api.Session, code: str = "retry_target") -> str:
    job_id: str = session.create("job", dict(JOB_SPEC, code=code))["id"]
    return job_id


def test_every_repeat_sends_the_same_event(server: LocalServer) -> None:
    session = server.session(backoff=0.01)
    job_id = _new_job(session)
    fault = server.inject("drop_after", uri="job/edit", times=2)
    job = session.update("job", job_id, {"priority": 9})
    assert fault.fired == 2 and job["priority"] == 9
    edits = [event for event in server.events if event["uri"] == "job/edit"]
    assert len(edits) == 3
    assert edits[0] == edits[1] == edits[2]  # same eid, same envelope, same data
    assert server.backend.executions(edits[0]["eid"]) == 1


def test_connection_failures_are_retried_for_every_method_and_not_executed() -> None:
    client = Transport(
        base_url=f"http://127.0.0.1:{_closed_port()}/api/v1.0",
        domain="acmevfx",
        username="u@x.com",
        api_key=None,
        session_key="borrowed-session-key",
        retries=2,
        backoff=0.01,
    )
    with pytest.raises(ConnectionFailed) as caught:
        client.call("POST", "job/create", data=dict(JOB_SPEC))
    error = caught.value
    assert error.executed is False and error.uri == "job/create" and error.eid
    text = str(error)
    assert "Could not reach" in text and "Tried 3 times" in text
    assert "did not carry it out" in text and "borrowed-session-key" not in text
    client.close()


# -- creates --------------------------------------------------------------------------


class _NoDedupAnnounced(Backend):
    """A server that does not say it ignores repeated events (as an older server)."""

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        reply = super().login(credentials, body)
        reply.pop("event_dedup", None)
        return reply


def _jobs_with_code(session: accsyn_api.Session, code: str) -> int:
    return len(session.find(accsyn_api.select("Job").where(code=code)))


def test_the_reference_server_announces_dedup(server: LocalServer) -> None:
    session = server.session()
    assert session._transport.event_dedup is True
    session.close()


def test_auto_does_not_repeat_an_ambiguous_create_without_dedup() -> None:
    with LocalServer(backend=_NoDedupAnnounced()) as server:
        session = server.session(backoff=0.01)
        fault = server.inject("drop_after", uri="job/create", times=3)
        with pytest.raises(ConnectionFailed) as caught:
            session.create("job", dict(JOB_SPEC, code="no_dedup"))
        assert fault.fired == 1  # not repeated
        error = caught.value
        assert error.executed is None
        text = str(error)
        assert "does not announce" in text and "retry_creates='auto'" in text
        assert "The job may or may not have been created" in text
        assert _jobs_with_code(session, "no_dedup") == 1
        session.close()


def test_auto_repeats_a_create_refused_with_503_even_without_dedup() -> None:
    with LocalServer(backend=_NoDedupAnnounced()) as server:
        session = server.session(backoff=0.01)
        server.inject("unavailable", uri="job/create", times=2)
        job = session.create("job", dict(JOB_SPEC, code="after_two_503"))
        assert job["code"] == "after_two_503"
        assert _jobs_with_code(session, "after_two_503") == 1
        session.close()


def test_retry_creates_true_repeats_an_ambiguous_create() -> None:
    with LocalServer(backend=_NoDedupAnnounced()) as server:
        session = server.session(backoff=0.01, retry_creates=True)
        fault = server.inject("truncated", uri="job/task/create")
        job_id = _new_job(session)
        result = session.create("task", {"tasks": ["/Volumes/projects/retried.mov"]}, job_id)
        assert fault.fired == 1 and result["success"] is True
        session.close()


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("retries", -1),
        ("retries", 1.5),
        ("retries", True),
        ("retries", "3"),
        ("backoff", -0.1),
        ("backoff", float("nan")),
        ("backoff", "fast"),
        ("retry_budget", -1),
        ("retry_budget", float("inf")),
        ("retry_creates", "yes"),
        ("retry_creates", 1),
        ("retry_creates", None),
    ],
)
def test_retry_settings_are_validated(server: LocalServer, option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        server.session(login=False, **{option: value})
    assert option in str(caught.value) and repr(value) in str(caught.value)


def test_valid_retry_settings_are_accepted(server: LocalServer) -> None:
    for creates in ("auto", True, False):
        session = server.session(retries=0, backoff=0, retry_budget=0, retry_creates=creates)
        assert session.find("Job")
        session.close()


def test_verify_system_without_truststore_says_how_to_get_it(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "truststore", None)  # as if not installed
    with pytest.raises(ConfigurationError) as caught:
        server.session(verify="system", login=False)
    text = str(caught.value)
    assert "pip install 'accsyn-sdk[truststore]'" in text and "3.10" in text


@pytest.mark.skipif(sys.version_info < (3, 10), reason="truststore needs Python 3.10+")
def test_verify_system_uses_the_system_store_only(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("truststore")
    pytest.importorskip("trustme")
    with LocalServer(tls=True) as server:
        bundle = server.ca_bundle
        assert bundle is not None
        # requests' own CA setting is not consulted: the throwaway CA stays untrusted...
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        with pytest.raises(ConnectionFailed, match=r"(?i)certificate"):
            server.session(verify="system")
        # ...until the system store (here OpenSSL's, through SSL_CERT_FILE) holds it.
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        monkeypatch.setenv("SSL_CERT_FILE", bundle)
        session = server.session(verify="system")
        assert session.find("Job")
        session.close()


# -- logging ----------------------------------------------------------------------------


def test_verbose_prints_this_session_only_to_stderr(
    server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root_handlers = list(logging.getLogger().handlers)
    package_handlers = list(logging.getLogger("accsyn_api").handlers)
    quiet = server.session()
    loud = server.session(verbose=True, backoff=0.01)
    other_loud = server.session(verbose=True)
    assert loud._transport._log.name != other_loud._transport._log.name
    other_loud.close()
    capsys.readouterr()
    quiet.find("Job")
    assert capsys.readouterr().err == ""
    server.inject("bad_gateway", uri="job/find")
    loud.find("Job")
    err = capsys.readouterr().err
    assert re.search(r"WARNING Retrying GET job/find eid=\S+ in [\d.]+ s: attempt 1", err)
    assert re.search(r"DEBUG GET job/find eid=\S+ HTTP 200", err)
    credentials = server.credentials()
    assert credentials["api_key"] not in err
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger("accsyn_api").handlers == package_handlers
    loud.close()
    quiet.close()
    assert loud._transport._log.handlers == []


class _TooManyRequests(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"message": "slow down"}'
        self.send_response(429)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_429_is_repeated_and_known_not_executed() -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TooManyRequests)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        client = Transport(
            base_url=f"http://127.0.0.1:{httpd.server_address[1]}/api/v1.0",
            domain="acmevfx",
            username="u@x.com",
            api_key=None,
            session_key="borrowed-session-key",
            retries=1,
            backoff=0.01,
        )
        with pytest.raises(ServerError) as caught:
            client.call("GET", "job/find")
        client.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert caught.value.executed is False
    assert "HTTP 429" in str(caught.value) and "Tried 2 times" in str(caught.value)
