"""The retry policy of the transport, through the public API and the reference server.

Back-off with jitter, Retry-After, the time budget, one eid per event across
attempts, the rule for creates, the settings' validation, ``verify="system"``
and ``verbose``. Behaviour on the wire runs on both API generations (the
uris each sends are in ``tests/fault_matrix.py``); the settings and the
back-off arithmetic once. The fault matrix (every fault against every verb)
is in ``tests/test_faults.py``.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import http.server
import logging
import random
import re
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import pytest
from fault_matrix import SERVER_DEDUPS, URIS
from generations import both_generations

import accsyn_api
from accsyn_api import ConfigurationError, ConnectionFailed, RequestTimeout, ServerError
from accsyn_api.protocol import names
from accsyn_api.retry import BACKOFF_CAP, RetryPolicy, backoff_delay, backoff_delays
from accsyn_api.testing import Backend, LocalServer

pytestmark = pytest.mark.timeout(60)

JOB_SPEC = {"source": "share=projects/thefilm/latest_edit.mov", "destination": "lars@edit.com"}
RETRY_LINE = re.compile(
    r"^Retrying (?P<method>\S+) (?P<uri>\S+) eid=(?P<eid>\S+) in (?P<delay>[\d.]+) s: "
    r"attempt (?P<attempt>\d+) of (?P<of>\d+) failed \((?P<reason>.+)\)$"
)


@pytest.fixture
def server(accsyn_api_version: str) -> Iterator[LocalServer]:
    """The reference server; its sessions speak ``accsyn_api_version`` (v1.0 by default)."""
    with LocalServer(api_version=accsyn_api_version) as local_server:
        yield local_server


def _retry_lines(caplog: pytest.LogCaptureFixture) -> List[Dict[str, str]]:
    found = []
    for record in caplog.records:
        match = RETRY_LINE.match(record.getMessage())
        if match and record.name.startswith("accsyn_api.transport"):
            assert record.levelno == logging.WARNING
            found.append(match.groupdict())
    return found


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


@both_generations
def test_the_transport_waits_as_the_backoff_says(
    server: LocalServer, accsyn_api_version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    session = server.session(retries=3, backoff=0.2)
    server.inject("unavailable", uri=URIS[accsyn_api_version]["find"], times=3)
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


@both_generations
def test_retry_after_is_honoured(
    server: LocalServer, accsyn_api_version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    session = server.session(backoff=0.01)
    fault = server.inject("unavailable", uri=URIS[accsyn_api_version]["create_job"], retry_after=1)
    started = time.monotonic()
    job = session.create("job", dict(JOB_SPEC, code="after_503"))
    assert time.monotonic() - started >= 0.95
    assert fault.fired == 1 and job["code"] == "after_503"
    (line,) = _retry_lines(caplog)
    assert float(line["delay"]) >= 1.0 and line["method"] == "POST"
    session.close()


@both_generations
def test_a_retry_after_beyond_the_budget_is_not_waited_for(
    server: LocalServer, accsyn_api_version: str
) -> None:
    session = server.session(retry_budget=1.0)
    server.inject("unavailable", uri=URIS[accsyn_api_version]["update"], retry_after=30)
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


@both_generations
def test_the_budget_stops_retrying(server: LocalServer, accsyn_api_version: str) -> None:
    session = server.session(timeout=(2, 0.3), retries=20, backoff=0.01, retry_budget=1.0)
    server.inject("delay", uri=URIS[accsyn_api_version]["find"], seconds=1.0, times=50)
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


@both_generations
def test_retries_zero_means_one_attempt(server: LocalServer, accsyn_api_version: str) -> None:
    session = server.session(retries=0)
    fault = server.inject("unavailable", uri=URIS[accsyn_api_version]["find"], times=5)
    with pytest.raises(ServerError, match="Tried once; all 0 retries used"):
        session.find("Job")
    assert fault.fired == 1
    session.close()


# -- the same event every time ------------------------------------------------------------


def _new_job(session: accsyn_api.Session, code: str = "retry_target") -> str:
    job_id: str = session.create("job", dict(JOB_SPEC, code=code))["id"]
    return job_id


@both_generations
def test_every_repeat_sends_the_same_event(server: LocalServer, accsyn_api_version: str) -> None:
    session = server.session(backoff=0.01)
    job_id = _new_job(session)
    uri = URIS[accsyn_api_version]["update"]
    fault = server.inject("drop_after", uri=uri, times=2)
    job = session.update("job", job_id, {"priority": 9})
    assert fault.fired == 2 and job["priority"] == 9
    edits = [event for event in server.events if event["uri"] == uri]
    assert len(edits) == 3
    assert edits[0] == edits[1] == edits[2]  # same eid, same envelope, same data
    assert server.backend.executions(edits[0]["eid"]) == 1


@both_generations
def test_connection_failures_are_retried_for_every_method_and_not_executed(
    server: LocalServer, accsyn_api_version: str
) -> None:
    session = server.session(retries=2, backoff=0.01, retry_creates=False)
    api_key = server.credentials()["api_key"]
    server.stop()  # the port is closed now: every connection is refused
    with pytest.raises(ConnectionFailed) as caught:
        session.create("job", dict(JOB_SPEC))
    error = caught.value
    uri = URIS[accsyn_api_version]["create_job"]
    assert error.executed is False and error.uri == uri and error.eid
    text = str(error)
    assert "Could not reach" in text and "Tried 3 times" in text
    assert "did not carry it out" in text
    assert api_key not in text + repr(error)
    session.close()


# -- creates --------------------------------------------------------------------------


class _NoDedupAnnounced(Backend):
    """A server that does not say it ignores repeated events (as an older server)."""

    def login(
        self, credentials: Mapping[str, Any], body: Mapping[str, Any], api_version: str = names.V1
    ) -> Dict[str, Any]:
        reply = super().login(credentials, body, api_version)
        reply.pop("event_dedup", None)
        result = reply.get("result")
        if isinstance(result, dict):
            result.pop("event_dedup", None)
        return reply


def _jobs_with_code(session: accsyn_api.Session, code: str) -> int:
    return len(session.find(accsyn_api.select("Job").where(code=code)))


@both_generations
def test_what_the_reference_server_announces_of_dedup(
    server: LocalServer, accsyn_api_version: str
) -> None:
    """v1.0: the login says ``event_dedup``; the v3 login says nothing of it (nor does the
    hosted service), so on v3 "auto" never repeats a create whose outcome is unknown."""
    with server.session() as session:
        login = session._connection.login_state
        assert login is not None
        assert login.event_dedup is SERVER_DEDUPS[accsyn_api_version]
    with LocalServer(backend=_NoDedupAnnounced()) as quiet, quiet.session() as session:
        assert session._connection.login_state.event_dedup is False  # type: ignore[union-attr]


@both_generations
def test_auto_does_not_repeat_an_ambiguous_create_without_dedup(accsyn_api_version: str) -> None:
    with LocalServer(backend=_NoDedupAnnounced(), api_version=accsyn_api_version) as server:
        session = server.session(backoff=0.01)
        uri = URIS[accsyn_api_version]["create_job"]
        fault = server.inject("drop_after", uri=uri, times=3)
        with pytest.raises(ConnectionFailed) as caught:
            session.create("job", dict(JOB_SPEC, code="no_dedup"))
        assert fault.fired == 1  # not repeated
        error = caught.value
        assert error.executed is None
        text = str(error)
        assert "does not announce" in text and "retry_creates='auto'" in text
        entity = uri.split("/")[0]  # v3: "transfer"
        assert f"The {entity} may or may not have been created" in text
        assert _jobs_with_code(session, "no_dedup") == 1
        session.close()


@both_generations
def test_auto_repeats_a_create_refused_with_503_even_without_dedup(accsyn_api_version: str) -> None:
    with LocalServer(backend=_NoDedupAnnounced(), api_version=accsyn_api_version) as server:
        session = server.session(backoff=0.01)
        server.inject("unavailable", uri=URIS[accsyn_api_version]["create_job"], times=2)
        job = session.create("job", dict(JOB_SPEC, code="after_two_503"))
        assert job["code"] == "after_two_503"
        assert _jobs_with_code(session, "after_two_503") == 1
        session.close()


@both_generations
def test_retry_creates_true_repeats_an_ambiguous_create(accsyn_api_version: str) -> None:
    with LocalServer(backend=_NoDedupAnnounced(), api_version=accsyn_api_version) as server:
        session = server.session(backoff=0.01, retry_creates=True)
        fault = server.inject("truncated", uri=URIS[accsyn_api_version]["create_task"])
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


@both_generations
def test_verbose_prints_this_session_only_to_stderr(
    server: LocalServer, accsyn_api_version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root_handlers = list(logging.getLogger().handlers)
    package_handlers = list(logging.getLogger("accsyn_api").handlers)
    quiet = server.session()
    loud = server.session(verbose=True, backoff=0.01)
    other_loud = server.session(verbose=True)
    assert loud._connection.transport._log.name != other_loud._connection.transport._log.name
    other_loud.close()
    capsys.readouterr()
    quiet.find("Job")
    assert capsys.readouterr().err == ""
    find = URIS[accsyn_api_version]["find"]
    server.inject("bad_gateway", uri=find)
    loud.find("Job")
    err = capsys.readouterr().err
    assert re.search(rf"WARNING Retrying GET {find} eid=\S+ in [\d.]+ s: attempt 1", err)
    assert re.search(rf"DEBUG GET {find} eid=\S+ HTTP 200", err)
    api_key = server.credentials()["api_key"]
    assert api_key not in err and base64.b64encode(api_key.encode()).decode() not in err
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger("accsyn_api").handlers == package_handlers
    loud.close()
    quiet.close()
    assert loud._connection.transport._log.handlers == []


class _TooManyRequests(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"message": "slow down"}'
        self.send_response(429)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@both_generations
def test_429_is_repeated_and_known_not_executed(accsyn_api_version: str) -> None:
    """A server that answers every request (here the login) with HTTP 429."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TooManyRequests)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with pytest.raises(ServerError) as caught:
            accsyn_api.Session(
                url=f"http://127.0.0.1:{httpd.server_address[1]}",
                workspace="acmevfx",
                username="u@x.com",
                api_key="key-0123456789abcdef",
                api_version=accsyn_api_version,
                retries=1,
                backoff=0.01,
            )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    error = caught.value
    assert error.executed is False and error.uri == URIS[accsyn_api_version]["login"]
    assert "HTTP 429" in str(error) and "Tried 2 times" in str(error)
    assert "slow down" in str(error) and "key-0123456789abcdef" not in str(error)


# -- HTTP 429 through a throttling front ------------------------------------------------
#
# The reference server's fault injection has no 429, so these tests put a small HTTP
# front before it: it answers HTTP 429 (with the headers and body a test chooses) to the
# next `refuse` requests and passes every other request on to the reference server.
# The retry policy's clock is simulated: its waits are recorded and skipped.


class _SkippedTime:
    """The retry policy's clock: real time plus every wait, which is skipped."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: List[float] = []

    def now(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds


@pytest.fixture
def skipped_time(monkeypatch: pytest.MonkeyPatch) -> _SkippedTime:
    clock = _SkippedTime()
    monkeypatch.setattr(RetryPolicy, "_now", lambda self: clock.now())
    monkeypatch.setattr(RetryPolicy, "_sleep", lambda self, seconds: clock.sleep(seconds))
    return clock


TooManyRequests = Callable[[], Tuple[Dict[str, str], bytes]]
"""The headers and body of a 429 reply, made when it is sent (for dates)."""


class _ThrottleServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: Tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _ThrottleHandler)
        self.target = target
        self.lock = threading.Lock()
        self.refuse = 0
        self.refused = 0
        self.passed = 0
        self.reply: TooManyRequests = lambda: ({}, b"")

    def should_refuse(self) -> bool:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return True
            self.passed += 1
            return False


class _ThrottleHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ThrottleServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.should_refuse():
            headers, payload = self.server.reply()
            self._answer(429, headers, payload)
            return
        upstream = http.client.HTTPConnection(*self.server.target, timeout=10)
        try:
            passed_on = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in ("host", "connection", "content-length")
            }
            upstream.request(method, self.path, body=body or None, headers=passed_on)
            response = upstream.getresponse()
            headers = {"Content-Type": response.getheader("Content-Type") or "text/plain"}
            self._answer(response.status, headers, response.read())
        finally:
            upstream.close()

    def _answer(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def throttle(server: LocalServer) -> Iterator[_ThrottleServer]:
    address = urlsplit(server.url)
    front = _ThrottleServer((address.hostname or "127.0.0.1", address.port or 80))
    thread = threading.Thread(target=front.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield front
    finally:
        front.shutdown()
        front.server_close()
        thread.join(timeout=10)


def _session_behind(
    throttle: _ThrottleServer, server: LocalServer, **settings: Any
) -> accsyn_api.Session:
    """A Session of the server's generation, through the throttling front."""
    credentials = server.credentials()
    return accsyn_api.Session(
        url=f"http://127.0.0.1:{throttle.server_address[1]}",
        workspace=server.backend.domain,
        username=credentials["username"],
        api_key=credentials["api_key"],
        api_version=server.api_version,
        **settings,
    )


def _refuse(throttle: _ThrottleServer, times: int, reply: TooManyRequests) -> None:
    with throttle.lock:
        throttle.refuse = times
        throttle.reply = reply


def _retry_after(value: str) -> TooManyRequests:
    return lambda: ({"Retry-After": value, "Content-Type": "text/plain"}, b"slow down")


def _retry_after_date(seconds_from_now: float) -> TooManyRequests:
    def reply() -> Tuple[Dict[str, str], bytes]:
        date = email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)
        return {"Retry-After": date, "Content-Type": "text/plain"}, b"slow down"

    return reply


def _finds_received(server: LocalServer) -> int:
    return sum(1 for event in server.events if event["uri"].lower().endswith("/find"))


@both_generations
def test_a_429_waits_the_seconds_of_retry_after(
    server: LocalServer,
    throttle: _ThrottleServer,
    skipped_time: _SkippedTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="accsyn_api.transport")
    session = _session_behind(throttle, server)
    _refuse(throttle, 1, _retry_after("7"))
    started = time.monotonic()
    assert session.find("Job") != []
    assert time.monotonic() - started < 5.0  # the 7 s were skipped, not slept
    assert skipped_time.sleeps == [7.0]
    (line,) = _retry_lines(caplog)
    assert line["reason"] == "HTTP 429" and line["delay"] == "7.00"
    assert throttle.refused == 1 and _finds_received(server) == 1
    session.close()


@both_generations
def test_a_429_waits_until_the_date_of_retry_after(
    server: LocalServer, throttle: _ThrottleServer, skipped_time: _SkippedTime
) -> None:
    session = _session_behind(throttle, server)
    _refuse(throttle, 1, _retry_after_date(5.0))
    assert session.find("Job") != []
    (waited,) = skipped_time.sleeps
    assert 3.5 <= waited <= 5.0  # an HTTP date counts whole seconds
    assert throttle.refused == 1 and _finds_received(server) == 1
    session.close()


@both_generations
@pytest.mark.parametrize("retry_after", [None, "soon", "-3"])
def test_a_429_without_a_readable_retry_after_backs_off_exponentially(
    server: LocalServer,
    throttle: _ThrottleServer,
    skipped_time: _SkippedTime,
    retry_after: Optional[str],
) -> None:
    session = _session_behind(throttle, server, retries=3, backoff=0.5)
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    _refuse(throttle, 3, lambda: (headers, b"<html>429 Too Many Requests</html>"))
    assert session.find("Job") != []
    assert len(skipped_time.sleeps) == 3
    for repeat, waited in enumerate(skipped_time.sleeps):
        assert 0.0 <= waited <= 0.5 * 2**repeat
    assert throttle.refused == 3 and _finds_received(server) == 1
    session.close()


@both_generations
def test_a_429_with_a_json_message_is_repeated_not_taken_as_a_refusal(
    server: LocalServer, throttle: _ThrottleServer, skipped_time: _SkippedTime
) -> None:
    # Even a create that must never be repeated blindly: a 429 says it was not done.
    session = _session_behind(throttle, server, retry_creates=False)
    body = b'{"message": "Rate limit exceeded: 30 requests per second"}'
    _refuse(throttle, 2, lambda: ({"Content-Type": "application/json"}, body))
    job = session.create("job", dict(JOB_SPEC, code="after_two_429"))
    assert job["code"] == "after_two_429" and len(skipped_time.sleeps) == 2
    creates = [event for event in server.events if event["uri"].lower().endswith("/create")]
    assert len(creates) == 1 and server.backend.executions(creates[0]["eid"]) == 1
    session.close()


@both_generations
def test_a_429_that_lasts_says_so_and_that_nothing_was_done(
    server: LocalServer, throttle: _ThrottleServer, skipped_time: _SkippedTime
) -> None:
    session = _session_behind(throttle, server, retries=2)
    body = b'{"message": "Rate limit exceeded"}'
    _refuse(throttle, 10, lambda: ({"Content-Type": "application/json"}, body))
    with pytest.raises(ServerError) as caught:
        session.create("job", dict(JOB_SPEC, code="never_sent"))
    error = caught.value
    assert error.executed is False
    text = str(error)
    assert "HTTP 429" in text and "Rate limit exceeded" in text and "Tried 3 times" in text
    assert "did not carry it out" in text
    assert throttle.refused == 3 and len(skipped_time.sleeps) == 2
    assert not any(event["uri"].lower().endswith("/create") for event in server.events)
    session.close()


@both_generations
@pytest.mark.parametrize(
    ("reply", "asked"),
    [(_retry_after("120"), 120.0), (_retry_after_date(3600.0), 3600.0)],
    ids=["seconds", "date"],
)
def test_a_retry_after_longer_than_the_budget_gives_up_at_once(
    server: LocalServer,
    throttle: _ThrottleServer,
    skipped_time: _SkippedTime,
    reply: TooManyRequests,
    asked: float,
) -> None:
    session = _session_behind(throttle, server, retry_budget=30)
    _refuse(throttle, 1, reply)
    with pytest.raises(ServerError) as caught:
        session.find("Job")
    error = caught.value
    text = str(error)
    match = re.search(r"the server asked to wait ([\d.]+) s before repeating", text)
    assert match is not None and asked - 2 <= float(match.group(1)) <= asked
    assert "longer than the retry budget of 30 s allows" in text and "Tried once" in text
    assert error.executed is False and skipped_time.sleeps == []
    assert throttle.refused == 1 and _finds_received(server) == 0
    session.close()
