"""No API key and no session key in logs, exception texts or reprs, whatever happens.

A full run (logins, every verb, refusals, a failed login, expiry and re-login,
a refused connection, a read timeout, a dropped relay, injected faults,
``verify=False``) is recorded: every log record at DEBUG on every logger,
everything printed, every warning, and the ``str``/``repr``/traceback/attributes
of every exception and the ``repr`` of every session. Then no secret may appear
anywhere in that text.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set
from urllib.parse import urlsplit

import netsupport
import pytest

import accsyn_api
from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    ConnectionFailed,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    SessionExpired,
)
from accsyn_api.testing import Backend, LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
WRONG_KEY = "wrong-api-key-7f3a9c1e5b2d4f6a8c0e"
ECHOED_KEY = "echo-me-api-key-0b1c2d3e4f5a6b7c8d9e"
SLOW_SECONDS = 1.5


class RecordingBackend(Backend):
    """Records every session key it issues; can be slow, always-expired or echo secrets."""

    def __init__(self) -> None:
        super().__init__()
        self.session_keys: Set[str] = set()
        self.slow_uris: Set[str] = set()
        self.expire_every_event = False
        self.echo_secrets = False
        self._record_lock = threading.Lock()

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        if self.echo_secrets:  # a chatty server that repeats what it was sent
            return {
                "message": f"authentication failed for api_key={credentials.get('api_key')}",
                "message_hr": f"The key {credentials.get('api_key')} is wrong.",
                "error_code": "authentication_failed",
            }
        reply = super().login(credentials, body)
        key = reply.get("session_key")
        if isinstance(key, str):
            with self._record_lock:
                self.session_keys.add(key)
        return reply

    def handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        uri = event.get("uri") if isinstance(event, Mapping) else None
        if uri in self.slow_uris:
            time.sleep(SLOW_SECONDS)
        if self.expire_every_event:
            self.expire_sessions()
        if self.echo_secrets and isinstance(session, Mapping):
            key = session.get("session_key")
            if uri == "job/find":
                return {
                    "message": f"session_key {key} is not valid here",
                    "message_hr": f"Your session {key} was refused.",
                    "error_code": "invalid_data",
                }
            return {"exception": f"KeyError: {key!r} in session table"}
        return super().handle(method, event, session)


class Recorder:
    """Collects the text of everything that could show a secret."""

    def __init__(self) -> None:
        self.texts: List[str] = []
        self.errors: List[BaseException] = []

    def expect(
        self, error_class: type[BaseException], call: Callable[[], Any]
    ) -> Optional[BaseException]:
        """Run ``call``; it must raise ``error_class``, whose texts are recorded."""
        try:
            call()
        except error_class as exc:
            self.exception(exc)
            return exc
        raise AssertionError(f"{error_class.__name__} was not raised")

    def attempt(self, call: Callable[[], Any]) -> None:
        """Run ``call``; if it raises an accsyn_api error, record it (either outcome is fine)."""
        try:
            self.add(call())
        except AccsynError as exc:
            self.exception(exc)

    def exception(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.texts.extend(traceback.format_exception(type(exc), exc, exc.__traceback__))
        seen: Set[int] = set()
        current: Optional[BaseException] = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            self.texts.append(repr(vars(current)))
            current = current.__cause__ or current.__context__

    def add(self, *objects: Any) -> None:
        for obj in objects:
            self.texts += [str(obj), repr(obj)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def server(backend: RecordingBackend) -> Iterator[LocalServer]:
    with LocalServer(backend=backend) as local_server:
        yield local_server


@pytest.fixture
def everything(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Recorder]:
    """A Recorder, with every logger at DEBUG and warnings recorded."""
    for variable in ("ACCSYN_PROXY", "ACCSYN_URL", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    caplog.set_level(logging.DEBUG)
    for name in ("accsyn_api", "urllib3", "requests", "socks"):
        caplog.set_level(logging.DEBUG, logger=name)
    recorder = Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield recorder
    recorder.texts += [str(w.message) for w in caught]


def _session(server: LocalServer, role: str, recorder: Recorder, **kwargs: Any) -> Any:
    session = server.session(role, **kwargs)
    recorder.add(session, vars(session))
    return session


def _assert_hidden(
    secrets: Set[str], recorder: Recorder, caplog: pytest.LogCaptureFixture, printed: str
) -> None:
    haystacks = {
        "log messages": "\n".join(r.getMessage() for r in caplog.records),
        "formatted log (with tracebacks)": caplog.text,
        "log record arguments": "\n".join(repr(r.args) for r in caplog.records),
        "exceptions, reprs and warnings": "\n".join(recorder.texts),
        "stdout/stderr": printed,
    }
    for secret in secrets:
        assert len(secret) >= 16  # a real key, not something that matches by chance
        for where, text in haystacks.items():
            assert secret not in text, f"a secret appears in the {where}"


def test_no_secret_anywhere_during_a_full_run(
    server: LocalServer,
    backend: RecordingBackend,
    everything: Recorder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rec = everything
    employee = _session(server, "employee", rec)
    admin = _session(server, "admin", rec)
    user = _session(server, "user", rec)

    # Every verb, successfully.
    job = employee.create(
        "job",
        {"code": "secret_run", "source": "share=projects/a.exr", "destination": "lars@edit.com"},
    )
    rec.add(
        job,
        employee.find("Job"),
        employee.find_one(f"Job where id={job['id']}"),
        list(employee.iter_find("Job", page_size=2)),
        employee.find("entitytypes"),
        employee.find("attributes where entitytype=job"),
        employee.create("task", {"tasks": ["b.exr"]}, job["id"]),
        employee.update("job", job["id"], {"priority": 3}),
    )
    task_ids = [t["id"] for t in employee.find(f"Task where job.id={job['id']}")]
    rec.add(employee.update_many("task", job["id"], [{"id": task_ids[0], "status": "onhold"}]))
    rec.add(employee.str(job), admin.delete_one("job", job["id"]))

    # Refusals of every kind.
    rec.expect(InvalidQuery, lambda: employee.find('Job where code="unclosed'))
    rec.expect(InvalidQuery, lambda: employee.find("Task where status=queued"))  # server side
    rec.expect(NotFound, lambda: employee.update("job", "f" * 24, {"priority": 1}))
    rec.expect(InvalidData, lambda: employee.update("job", JOB_ID, {"status": "exploded"}))
    for_user = employee.create(
        "job", {"source": "share=projects/u.exr", "destination": "user@mail.com"}
    )
    rec.expect(PermissionDenied, lambda: user.delete_one("job", for_user["id"]))
    rec.expect(NotFound, lambda: employee.find("Gizmo where code=x"))

    # A failed login, with a wrong key and with a key the server does not know.
    credentials = server.credentials("employee")
    rec.expect(
        AuthenticationError,
        lambda: accsyn_api.Session(
            url=server.url,
            domain=credentials["domain"],
            username=credentials["username"],
            api_key=WRONG_KEY,
        ),
    )

    # Expiry: transparently logged in again, then an expiry that does not go away.
    backend.expire_sessions()
    rec.add(employee.find_one(f"Job where id={JOB_ID}"), admin.find("Queue"))
    backend.expire_every_event = True
    rec.expect(SessionExpired, lambda: employee.find("Job"))
    backend.expire_every_event = False

    # A read that times out.
    backend.slow_uris.add("job/edit")
    slow = _session(server, "employee", rec, timeout=(2, 0.3), retries=0)
    rec.expect(RequestTimeout, lambda: slow.update("job", JOB_ID, {"priority": 9}))
    backend.slow_uris.clear()

    # A connection refused, and a relay that goes away in the middle of a session.
    rec.expect(
        ConnectionFailed,
        lambda: accsyn_api.Session(
            url=f"http://127.0.0.1:{_closed_port()}",
            domain=credentials["domain"],
            username=credentials["username"],
            api_key=credentials["api_key"],
            retries=0,
            timeout=(1, 1),
        ),
    )
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    relay = netsupport.TcpRelay((parts.hostname, parts.port)).start()
    relayed = accsyn_api.Session(
        proxy=relay.proxy,
        domain=credentials["domain"],
        username=credentials["username"],
        api_key=credentials["api_key"],
        retries=0,
        timeout=(1, 2),
    )
    rec.add(relayed, vars(relayed), relayed.find("Job"))
    relay.stop()
    rec.expect(ConnectionFailed, lambda: relayed.find("Job"))

    # Injected faults, where the reference server offers them.
    inject = getattr(server, "inject", None)
    if inject is not None:
        for kind in ("drop_before", "drop_after", "bad_gateway", "truncated", "unavailable"):
            inject(kind, uri="job/find")
            rec.attempt(lambda: employee.find("Job"))
            server.clear_faults()
        inject("expire_session", uri="job/edit")
        rec.attempt(lambda: employee.update("job", JOB_ID, {"priority": 4}))
        server.clear_faults()
        assert server.faults_fired >= 6

    # verify=False: a warning, but no secret in it.
    insecure = _session(server, "admin", rec, verify=False)
    rec.add(insecure.find("Job"))
    assert any("verify=False" in r.getMessage() for r in caplog.records)

    for session in (employee, admin, user, slow, relayed, insecure):
        rec.add(session, vars(session), session._transport)
        session.close()

    secrets = {server.credentials(role)["api_key"] for role in ("admin", "employee", "user")}
    secrets |= {WRONG_KEY}
    assert len(backend.session_keys) >= 8  # six sessions, plus the logins after expiry
    secrets |= backend.session_keys
    assert len(rec.errors) >= 10
    assert len(caplog.records) > 50  # the run really was logged at DEBUG
    captured = capsys.readouterr()
    _assert_hidden(secrets, rec, caplog, captured.out + captured.err)


def test_secrets_echoed_by_a_server_are_masked(
    server: LocalServer,
    backend: RecordingBackend,
    everything: Recorder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that repeats the key in its refusals must not make the client show it."""
    rec = everything
    session = _session(server, "employee", rec)
    backend.echo_secrets = True
    rec.expect(InvalidData, lambda: session.find("Job"))
    rec.expect(accsyn_api.ServerError, lambda: session.update("job", JOB_ID, {"priority": 1}))
    credentials = server.credentials("employee")
    rec.expect(
        AuthenticationError,
        lambda: accsyn_api.Session(
            url=server.url,
            domain=credentials["domain"],
            username=credentials["username"],
            api_key=ECHOED_KEY,
        ),
    )
    session.close()
    # The echo really happened: the masks stand where the keys were.
    assert "***" in str(rec.errors[0]) and "***" in str(rec.errors[1])
    captured = capsys.readouterr()
    secrets = backend.session_keys | {credentials["api_key"], ECHOED_KEY}
    _assert_hidden(secrets, rec, caplog, captured.out + captured.err)


def test_the_transport_holds_the_keys_but_never_shows_them(server: LocalServer) -> None:
    """What a debugger or a careless ``print(vars(...))`` shows."""
    credentials = server.credentials("employee")
    with server.session("employee") as session:
        shown = [repr(session), str(session), repr(vars(session)), repr(session._transport)]
        for text in shown:
            assert credentials["api_key"] not in text
        assert session.find_one(f"Job where id={JOB_ID}") is not None
