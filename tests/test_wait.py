"""Session.wait and Session.wait_all over HTTP, on both API generations.

The server simulates transfers; the tests move its clock from the progress
callback (between two polls) instead of sleeping.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List

import pytest
from generations import both_generations
from test_cli_support import JOB_ID, PAUSED_JOB_ID, paused_job

import accsyn_api
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

pytestmark = both_generations

PATHS = ["wait/a.mov", "wait/b.mov"]


@pytest.fixture
def server(accsyn_api_version: str) -> Iterator[LocalServer]:
    with LocalServer(simulate=True, speed=20.0, api_version=accsyn_api_version) as local:
        yield local


@pytest.fixture
def session(server: LocalServer) -> Iterator[accsyn_api.Session]:
    with server.session("employee") as employee:
        yield employee


def moving_clock(
    server: LocalServer, seen: List[Dict[str, Any]]
) -> Callable[[Dict[str, Any]], None]:
    """A progress callback that records each job and moves the clock 10 s on."""

    def progress(job: Dict[str, Any]) -> None:
        seen.append(job)
        server.backend.clock.advance(seconds=10)

    return progress


def polls_of(server: LocalServer, job_id: str) -> int:
    return sum(job_id in str(event) for event in server.events)


def test_by_default_wait_returns_when_the_job_is_done(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session, PATHS)
    session.update("job", job["id"], {"status": "waiting"})
    seen: List[Dict[str, Any]] = []
    done = session.wait(job["id"], interval=0.01, timeout=30, progress=moving_clock(server, seen))
    assert done["status"] == "done" and done["progress"] == 100
    assert len(seen) > 3 and seen[-1] == done
    assert any(polled["status"] == "running" for polled in seen)


def test_wait_returns_a_failed_job_and_says_so(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session, PATHS)
    task = session.find(f"task where job.id={job['id']}")[1]
    session.update_many("task", job["id"], [{"id": task["id"], "status": "failed"}])
    session.update("job", job["id"], {"status": "waiting"})
    seen: List[Dict[str, Any]] = []
    ended = session.wait(job["id"], interval=0.01, timeout=30, progress=moving_clock(server, seen))
    assert ended["status"] == "failed"  # before: polled for "done" for ever


@pytest.mark.parametrize("statuses", [None, "done", ("done", "running")])
def test_wait_returns_an_aborted_job_whatever_was_awaited(
    session: accsyn_api.Session, statuses: Any
) -> None:
    session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    ended = session.wait(PAUSED_JOB_ID, statuses, interval=0.01, timeout=5)
    assert ended["status"] == "aborted"


def test_wait_for_a_status_that_is_not_final(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session, PATHS)
    session.update("job", job["id"], {"status": "waiting"})
    running = session.wait(job["id"], "running", interval=0.01, timeout=5)
    assert running["status"] == "running"


@pytest.mark.parametrize("status", ["finished", "complete", ""])
def test_a_status_that_does_not_exist_is_refused_before_polling(
    server: LocalServer, session: accsyn_api.Session, status: str
) -> None:
    before = polls_of(server, JOB_ID)
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.wait(JOB_ID, status, timeout=60)
    assert polls_of(server, JOB_ID) == before
    if status:
        assert repr(status) in str(refused.value)
        assert "done, failed, aborted" in str(refused.value)


def test_status_names_are_not_case_sensitive(session: accsyn_api.Session) -> None:
    session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    assert session.wait(PAUSED_JOB_ID, ["Aborted "], timeout=5)["status"] == "aborted"


def test_pending_is_a_status_of_v1_only(
    accsyn_api_version: str, session: accsyn_api.Session
) -> None:
    session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    if accsyn_api_version == names.V1:
        assert session.wait(PAUSED_JOB_ID, "pending", interval=0.01)["status"] == "aborted"
        return
    with pytest.raises(accsyn_api.InvalidData, match=r"v1\.0"):
        session.wait(PAUSED_JOB_ID, "pending")


def test_wait_all_returns_each_job_in_the_order_given(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    first = paused_job(session, PATHS, code="first")
    second = paused_job(session, ["wait/c.mov"], code="second")
    for job in (first, second):
        session.update("job", job["id"], {"status": "waiting"})
    session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    seen: List[Dict[str, Any]] = []
    ids = [second["id"], PAUSED_JOB_ID, first["id"]]
    jobs = session.wait_all(ids, interval=0.01, timeout=30, progress=moving_clock(server, seen))
    assert [job["id"] for job in jobs] == ids
    assert [job["status"] for job in jobs] == ["done", "aborted", "done"]
    assert {job["id"] for job in seen} == set(ids)
    aborted_polls = [job for job in seen if job["id"] == PAUSED_JOB_ID]
    assert len(aborted_polls) == 1  # an ended job is not polled again


def test_wait_all_times_out_naming_the_jobs_not_there(session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.RequestTimeout) as late:
        session.wait_all([PAUSED_JOB_ID, JOB_ID], "done", timeout=0.2, interval=0.05)
    assert late.value.executed is False
    message = str(late.value)
    assert PAUSED_JOB_ID in message and "'paused'" in message
    assert JOB_ID in message and "'init'" in message


def test_waiting_for_a_job_that_does_not_exist(session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.NotFound, match="ffffffffffffffffffffffff"):
        session.wait("ffffffffffffffffffffffff", timeout=5)


@pytest.mark.parametrize(
    ("job_ids", "options"),
    [
        ([], {}),
        ([JOB_ID], {"timeout": -1}),
        ([JOB_ID], {"interval": 0}),
        ([JOB_ID], {"interval": float("nan")}),
        ([""], {}),
    ],
)
def test_wrong_arguments_are_refused(
    session: accsyn_api.Session, job_ids: List[str], options: Dict[str, Any]
) -> None:
    with pytest.raises(accsyn_api.InvalidData):
        session.wait_all(job_ids, **options)
