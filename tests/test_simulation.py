"""Simulated transfers, seen through the public API over HTTP while the clock moves."""

from __future__ import annotations

import datetime
import re
from typing import Any, Dict, Iterator, List

import pytest
from generations import both_generations
from test_docs import EXAMPLE_JOB_ID, RUNNABLE, Example

import accsyn_api
from accsyn_api.cli import main
from accsyn_api.testing import Backend, LocalServer
from accsyn_api.testing.simulation import (
    MAX_SIMULATED_SIZE,
    MB,
    MEASURING_SECONDS,
    MIN_SIMULATED_SIZE,
    TransferSimulation,
    format_etr,
    simulated_size,
)

SPEED = 2.0  # MB/s: slow enough that real time during a test hardly counts
PATHS = ["sim/reel1.mov", "sim/reel2.mov", "sim/reel3.mov"]
ETR = re.compile(r"^(\d+)h:(\d+)m:(\d+)s$")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(simulate=True, speed=SPEED) as local:
        yield local


@pytest.fixture
def session(server: LocalServer) -> Iterator[accsyn_api.Session]:
    with server.session("employee") as employee:
        yield employee


def etr_seconds(text: str) -> int:
    match = ETR.match(text)
    assert match, f"etr {text!r} is not of the form 0h:1m:5s"
    hours, minutes, seconds = (int(part) for part in match.groups())
    assert minutes < 60 and seconds < 60
    return hours * 3600 + minutes * 60 + seconds


def paused_job(session: accsyn_api.Session, paths: List[str] = PATHS) -> Dict[str, Any]:
    return session.create(
        "Job",
        {
            "code": "simulated",
            "source": "share=projects",
            "destination": "lars@edit.com",
            "status": "paused",
            "tasks": [f"share=projects/{path}" for path in paths],
        },
    )


def get_job(session: accsyn_api.Session, job_id: str) -> Dict[str, Any]:
    job = session.find_one(f"Job where id={job_id}", finished=True)
    assert job is not None
    return job


def get_tasks(session: accsyn_api.Session, job_id: str) -> List[Dict[str, Any]]:
    return session.find(f"Task where job.id={job_id}", finished=True)


def transfer_seconds(paths: List[str]) -> float:
    return sum(simulated_size(path) for path in paths) / (SPEED * MB)


# ------------------------------------------------------------------ running


def test_a_resumed_job_runs_to_done_with_rising_progress(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    assert get_job(session, job["id"])["progress"] == 0
    session.update("job", job["id"], {"status": "waiting"})
    observed = []
    for _ in range(1000):
        job = get_job(session, job["id"])
        observed.append((job, get_tasks(session, job["id"])))
        if job["status"] == "done":
            break
        server.backend.clock.advance(seconds=20)
    running = [(j, t) for j, t in observed if j["status"] == "running"]
    assert len(running) > 10
    assert observed[-1][0]["status"] == "done"

    progress = [j["progress"] for j, _ in observed]
    assert progress == sorted(progress) and progress[-1] == 100
    assert len(set(progress)) > 5 and all(j["progress"] < 100 for j, _ in running)
    assert all(j["speed"] == SPEED for j, _ in running)
    etr = [etr_seconds(j["etr"]) for j, _ in running]
    assert all(later < earlier for earlier, later in zip(etr, etr[1:]))
    assert etr[0] == pytest.approx(transfer_seconds(PATHS), abs=2)

    final, final_tasks = observed[-1]
    assert (final["speed"], final["etr"]) == (0.0, "")
    sizes = [simulated_size(path) for path in PATHS]
    assert [t["size"] for t in final_tasks] == sizes
    assert final["size"] == sum(sizes)
    assert all(MIN_SIMULATED_SIZE <= size <= MAX_SIMULATED_SIZE for size in sizes)
    finished = [t["finished"] for t in final_tasks]
    assert finished == sorted(finished)
    for task, size in zip(final_tasks, sizes):
        assert task["status"] == "done"
        assert task["time"] == pytest.approx(size / (SPEED * MB), abs=1)


def test_progress_follows_the_bytes_sent(server: LocalServer, session: accsyn_api.Session) -> None:
    job = paused_job(session)
    session.update("job", job["id"], {"status": "waiting"})
    total = sum(simulated_size(path) for path in PATHS)
    server.backend.clock.advance(seconds=60)
    job = get_job(session, job["id"])
    assert job["status"] == "running"
    assert job["progress"] == pytest.approx(60 * SPEED * MB * 100 / total, abs=1.5)


def test_tasks_go_queued_executing_done_in_order(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    assert [t["status"] for t in get_tasks(session, job["id"])] == ["queued"] * 3
    session.update("job", job["id"], {"status": "waiting"})
    seen = set()
    for _ in range(1000):
        statuses = tuple(t["status"] for t in get_tasks(session, job["id"]))
        seen.add(statuses)
        done = statuses.count("done")
        assert statuses[:done] == ("done",) * done  # done tasks come first...
        rest = statuses[done:]
        if rest:  # ...then the one being sent, then the queued ones
            assert rest == ("executing",) + ("queued",) * (len(rest) - 1)
        else:
            break
        server.backend.clock.advance(seconds=15)
    assert ("executing", "queued", "queued") in seen
    assert ("done", "executing", "queued") in seen
    assert ("done", "done", "executing") in seen
    assert get_job(session, job["id"])["status"] == "done"


def test_excluded_and_onhold_tasks_are_skipped(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    tasks = get_tasks(session, job["id"])
    session.update_many(
        "task",
        job["id"],
        [
            {"id": tasks[0]["id"], "status": "excluded"},
            {"id": tasks[2]["id"], "status": "onhold"},
        ],
    )
    session.update("job", job["id"], {"status": "waiting"})
    server.backend.clock.advance(seconds=transfer_seconds(PATHS[1:2]) + 5)
    job = get_job(session, job["id"])
    assert job["status"] == "done" and job["progress"] == 100
    assert job["size"] == simulated_size(PATHS[1])
    statuses = [t["status"] for t in get_tasks(session, job["id"])]
    assert statuses == ["excluded", "done", "onhold"]


def test_a_paused_job_stands_still_and_resumes_where_it_was(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    clock = server.backend.clock
    job = paused_job(session)
    clock.advance(minutes=10)
    assert get_job(session, job["id"])["progress"] == 0  # created paused: nothing sent

    session.update("job", job["id"], {"status": "waiting"})
    clock.advance(seconds=40)
    reply = session.update("job", job["id"], {"status": "paused"})
    assert (reply["status"], reply["speed"], reply["etr"]) == ("paused", 0.0, "")
    before = get_job(session, job["id"])
    tasks_before = get_tasks(session, job["id"])
    assert 0 < before["progress"] < 100
    assert (before["status"], before["speed"], before["etr"]) == ("paused", 0.0, "")

    clock.advance(hours=3)
    after = get_job(session, job["id"])
    assert (after["status"], after["progress"], after["size"]) == (
        "paused",
        before["progress"],
        before["size"],
    )
    assert get_tasks(session, job["id"]) == tasks_before

    session.update("job", job["id"], {"status": "waiting"})
    clock.advance(seconds=40)
    resumed = get_job(session, job["id"])
    assert resumed["status"] == "running"
    expected = 80 * SPEED * MB * 100 / resumed["size"]  # 40 s before the pause, 40 s after
    assert resumed["progress"] == pytest.approx(expected, abs=1.5)


@pytest.mark.parametrize("status", ["aborted", "pending"])
def test_aborted_and_pending_jobs_do_not_progress(
    server: LocalServer, session: accsyn_api.Session, status: str
) -> None:
    job = paused_job(session)
    session.update("job", job["id"], {"status": status})
    server.backend.clock.advance(seconds=30)
    job = get_job(session, job["id"])
    assert (job["status"], job["progress"], job["speed"]) == (status, 0, 0.0)
    assert {t["status"] for t in get_tasks(session, job["id"])} == {"queued"}


def test_a_new_job_is_measured_and_starts_by_itself(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = session.create(
        "Job", {"source": "share=projects/sim/new.mov", "destination": "lars@edit.com"}
    )
    assert (job["status"], job["size"]) == ("init", -1)
    assert (get_job(session, job["id"])["status"], job["size"]) == ("init", -1)  # measuring
    server.backend.clock.advance(seconds=MEASURING_SECONDS + 1)
    job = get_job(session, job["id"])
    assert (job["status"], job["size"]) == ("running", simulated_size("sim/new.mov"))
    sent = job["progress"] * job["size"] / 100
    assert sent <= (1 + 1) * SPEED * MB  # sending began once measured, not at creation


def test_finished_is_when_the_job_completed_not_when_it_was_seen(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    resumed = session.update("job", job["id"], {"status": "waiting"})
    server.backend.clock.advance(seconds=transfer_seconds(PATHS) + 45 * 60)
    job = get_job(session, job["id"])
    assert job["status"] == "done"
    completed = resumed["modified"] + datetime.timedelta(seconds=transfer_seconds(PATHS))
    assert abs(job["finished"] - completed) <= datetime.timedelta(seconds=2)
    assert server.backend.clock.now() - job["finished"] >= datetime.timedelta(minutes=44)
    last_task = get_tasks(session, job["id"])[-1]
    assert abs(last_task["finished"] - job["finished"]) <= datetime.timedelta(seconds=1)


def test_an_hour_after_completion_the_job_is_inactive(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    session.update("job", job["id"], {"status": "waiting"})
    server.backend.clock.advance(seconds=transfer_seconds(PATHS) + 10)
    assert session.find(f"Job where id={job['id']}")  # done, still active
    server.backend.clock.advance(hours=1)
    assert session.find(f"Job where id={job['id']}") == []
    inactive = session.find(f"Job where id={job['id']}", finished=True)
    assert [j["status"] for j in inactive] == ["done"]


# ------------------------------------------------------------------ Session.wait


def test_wait_returns_the_done_job_and_reports_progress(
    server: LocalServer, session: accsyn_api.Session
) -> None:
    job = paused_job(session)
    session.update("job", job["id"], {"status": "waiting"})
    polled: List[Dict[str, Any]] = []

    def progress(seen: Dict[str, Any]) -> None:
        polled.append(seen)
        server.backend.clock.advance(seconds=30)  # half a minute between polls

    done = session.wait(job["id"], timeout=30, interval=0.01, progress=progress)
    assert done["status"] == "done" and done["progress"] == 100
    assert polled[-1] == done
    assert len(polled) > 5
    assert polled[0]["status"] == "running" and polled[0]["progress"] < 100
    assert [p["progress"] for p in polled] == sorted(p["progress"] for p in polled)


def test_real_time_moves_transfers_too() -> None:
    paths = ["sim/quick.mov"]
    speed = simulated_size(paths[0]) / MB / 0.6  # the job takes 0.6 s
    with LocalServer(simulate=True, speed=speed) as local, local.session() as session:
        job = session.create(
            "Job",
            {"source": f"share=projects/{paths[0]}", "destination": "lars@edit.com"},
        )
        polled: List[Dict[str, Any]] = []
        done = session.wait(job["id"], timeout=20, interval=0.1, progress=polled.append)
    assert done["status"] == "done"
    assert any(p["status"] == "running" and 0 < p["progress"] < 100 for p in polled)


# ------------------------------------------------------------------ without simulation


def _snapshot(session: accsyn_api.Session) -> List[Any]:
    jobs = session.find("Job", archived=True)
    return [(job, session.find(f"Task where job.id={job['id']}", archived=True)) for job in jobs]


def test_without_simulation_jobs_stay_as_they_are() -> None:
    with LocalServer() as local, local.session("admin") as session:
        assert local.backend.simulation is None
        before = _snapshot(session)
        local.backend.clock.advance(hours=3)
        assert _snapshot(session) == before
        assert {job["status"] for job, _ in before} >= {"init", "waiting", "running"}


@both_generations
def test_the_demo_jobs_stand_still_until_their_status_is_changed(accsyn_api_version: str) -> None:
    server = LocalServer(simulate=True, api_version=accsyn_api_version)
    with server as local, local.session("admin") as session:
        before = _snapshot(session)
        local.backend.clock.advance(hours=3)
        assert _snapshot(session) == before  # as the documentation shows them
        statuses = {job["code"]: job["status"] for job, _ in before}
        assert statuses["my_transfer"] == "waiting"
        assert statuses["latest_edit.mov"] == "init"

        job = session.find_one("Job where code=my_transfer")
        session.update("job", job["id"], {"status": "paused"})
        session.update("job", job["id"], {"status": "waiting"})  # resumed: it moves
        local.backend.clock.advance(hours=3)
        assert session.find_one(f"Job where id={job['id']}", finished=True)["status"] == "done"
        latest = session.find_one("Job where code=latest_edit.mov")
        assert latest["status"] == "init" and latest["size"] == -1


@both_generations
def test_a_demo_job_set_waiting_starts_at_once(accsyn_api_version: str) -> None:
    server = LocalServer(simulate=True, api_version=accsyn_api_version)
    with server as local, local.session() as session:
        session.update("job", "614d660de50d45bb027c9bdd", {"status": "waiting"})
        local.backend.clock.advance(seconds=1)
        job = session.get_entity("job", "614d660de50d45bb027c9bdd")
        assert job is not None and job["status"] == "running" and job["progress"] > 0


def test_the_simulation_tells_which_jobs_stand_still() -> None:
    with LocalServer(simulate=True) as local, local.session() as session:
        simulation = local.backend.simulation
        assert simulation is not None
        session.find("Job")
        assert simulation.stands_still("614d660de50d45bb027c9bdd")
        job = session.create(
            "Job", {"source": "share=projects/a.mov", "destination": "lars@edit.com"}
        )
        assert not simulation.stands_still(job["id"])
        session.update("job", "614d660de50d45bb027c9bdd", {"status": "paused"})
        assert not simulation.stands_still("614d660de50d45bb027c9bdd")


# ------------------------------------------------------------------ the documentation


@pytest.mark.parametrize("example", RUNNABLE, ids=[example.name for example in RUNNABLE])
def test_the_documented_examples_run_against_a_simulating_server(
    example: Example, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``accsyn server --simulate`` serves: every snippet of docs/ runs as written."""
    server = LocalServer(simulate=True, api_version=example.api_version)
    with server as local, local.session("employee") as session:
        namespace: Dict[str, Any] = {
            "__name__": "docs_example",
            "accsyn_api": accsyn_api,
            "session": session,
            "server": local,
            "job_id": EXAMPLE_JOB_ID,
        }
        code = compile(example.block.code, str(example.block.path), "exec")
        exec(code, namespace)  # noqa: S102  (the documentation's own examples)
    if example.expected_output is not None:
        assert capsys.readouterr().out == example.expected_output


# ------------------------------------------------------------------ pieces


def test_etr_text() -> None:
    assert format_etr(65) == "0h:1m:5s"
    assert format_etr(0.2) == "0h:0m:1s"  # rounded up
    assert format_etr(3 * 3600 + 2 * 60 + 1) == "3h:2m:1s"
    assert format_etr(0) == "0h:0m:0s"


def test_simulated_sizes_are_fixed_by_the_path() -> None:
    sizes = {simulated_size(f"shots/sh{n:03}/plate.exr") for n in range(200)}
    assert len(sizes) > 150
    assert all(MIN_SIMULATED_SIZE <= size <= MAX_SIMULATED_SIZE for size in sizes)
    assert simulated_size("a.mov") == simulated_size("a.mov") != simulated_size("b.mov")
    assert (MIN_SIMULATED_SIZE, MAX_SIMULATED_SIZE) == (10 * MB, 500 * MB)


@pytest.mark.parametrize("speed", [0, -1.0, float("nan"), float("inf")])
def test_bad_speeds_are_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        TransferSimulation(speed)
    with pytest.raises(ValueError, match="speed"):
        Backend(simulate=True, speed=speed)


def test_simulate_goes_to_the_backend_local_server_builds() -> None:
    simulation = LocalServer(simulate=True, speed=7).backend.simulation
    assert simulation is not None and simulation.speed == 7.0
    assert LocalServer().backend.simulation is None
    with pytest.raises(ValueError, match="Backend"):
        LocalServer(backend=Backend(), simulate=True)


def test_server_speed_needs_simulate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["server", "--speed", "5"]) == 2
    assert "--simulate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["server", "--simulate", "--speed", "-3"])
