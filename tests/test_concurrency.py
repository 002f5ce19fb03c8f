"""One Session shared by many threads: correct results, one login, a bounded pool."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping

import pytest

import accsyn_api
from accsyn_api.testing import Backend, LocalServer

THREADS = 8
CALLS_PER_THREAD = 200
LOGIN_DELAY = 0.05
"""Seconds each login takes on the server: widens the window in which logins could overlap."""


class CountingBackend(Backend):
    """Counts successful logins and notices logins that overlap in time."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.logins = 0
        self.logins_in_progress = 0
        self.most_logins_at_once = 0

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        with self._count_lock:
            self.logins_in_progress += 1
            self.most_logins_at_once = max(self.most_logins_at_once, self.logins_in_progress)
        try:
            time.sleep(LOGIN_DELAY)
            reply = super().login(credentials, body)
        finally:
            with self._count_lock:
                self.logins_in_progress -= 1
        if "session_key" in reply:
            with self._count_lock:
                self.logins += 1
        return reply


@pytest.fixture
def backend() -> CountingBackend:
    return CountingBackend()


@pytest.fixture
def server(backend: CountingBackend) -> Iterator[LocalServer]:
    with LocalServer(backend=backend) as local_server:
        yield local_server


def _run_threads(work: Callable[[int], None], count: int = THREADS) -> List[BaseException]:
    """Run ``work(index)`` in ``count`` threads released together; return their errors."""
    start = threading.Barrier(count)
    errors: List[BaseException] = []
    lock = threading.Lock()

    def runner(index: int) -> None:
        try:
            start.wait(timeout=10)
            work(index)
        except BaseException as exc:  # collected and reported by the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=runner, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread hung"
    return errors


def _mixed_calls(session: accsyn_api.Session, index: int, calls: int) -> None:
    """``calls`` mixed calls on the thread's own job; every result is checked."""
    code = f"thread_{index}_job"
    job = session.create(
        "job",
        {
            "code": code,
            "source": f"share=projects/threads/{index}/plate.0000.exr",
            "destination": "lars@edit.com",
        },
    )
    job_id = job["id"]
    tasks = session.find(f"Task where job.id={job_id}")
    assert len(tasks) == 1
    my_paths = {tasks[0]["source"]["path"]}
    extra_jobs = 0
    done = 1
    step = 0
    while done < calls:
        kind = step % 6
        step += 1
        if kind == 0:
            found = session.find(f"Job where id={job_id}")
            assert [j["id"] for j in found] == [job_id]
            assert found[0]["code"] == code
        elif kind == 1:
            one = session.find_one(f'Job where code="{code}"')
            assert one is not None and one["id"] == job_id
        elif kind == 2:
            priority = 1 + (step % 90)
            updated = session.update("job", job_id, {"priority": priority})
            assert updated["id"] == job_id and updated["priority"] == priority
        elif kind == 3:
            path = f"threads/{index}/plate.{step:04d}.exr"
            created = session.create("task", {"tasks": [path]}, job_id)
            assert created["success"] is True
            assert [t["source"]["path"] for t in created["tasks"]] == [path]
            my_paths.add(path)
        elif kind == 4:
            ids = [t["id"] for t in session.find(f"Task where job.id={job_id}")]
            assert len(ids) == len(my_paths)
            status = "onhold" if step % 2 else "queued"
            changed = session.update_many(
                "task", job_id, [{"id": task_id, "status": status} for task_id in ids[-3:]]
            )
            assert sorted(t["id"] for t in changed) == sorted(ids[-3:])
            assert {t["status"] for t in changed} == {status}
            done += 1  # the find above counts as a call too
        else:
            extra = session.create(
                "job",
                {
                    "code": f"{code}_extra",
                    "source": f"share=projects/threads/{index}/extra.{step}.mov",
                    "destination": "lars@edit.com",
                },
            )
            assert extra["code"] == f"{code}_extra"
            extra_jobs += 1
        done += 1
    # The thread's work, read back once more: nothing lost, nothing from other threads.
    tasks = session.find(f"Task where job.id={job_id}")
    assert {t["source"]["path"] for t in tasks} == my_paths
    assert len(session.find(f'Job where code="{code}_extra"')) == extra_jobs


def test_eight_threads_share_one_session(server: LocalServer, backend: CountingBackend) -> None:
    session = server.session("employee", login=False)  # the first calls race to log in
    started = time.perf_counter()
    try:
        errors = _run_threads(lambda index: _mixed_calls(session, index, CALLS_PER_THREAD))
    finally:
        session.close()
    elapsed = time.perf_counter() - started
    assert errors == []
    assert backend.logins == 1
    assert backend.most_logins_at_once == 1
    assert server.connections_accepted <= 10  # the default pool (10) is reused, not churned
    print(f"{THREADS} threads x {CALLS_PER_THREAD} calls: {elapsed:.2f} s")


def test_a_small_pool_serves_many_threads(
    server: LocalServer, backend: CountingBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with server.session("employee", pool_size=2, login=False) as session:
        errors = _run_threads(lambda index: _mixed_calls(session, index, 40))
    assert errors == []
    assert backend.logins == 1
    # Threads wait for one of the 2 pooled connections rather than opening throwaway
    # connections (which urllib3 discards with a "Connection pool is full" warning).
    full = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert full == []
    assert server.connections_accepted <= 2 + 2


def test_a_full_pool_reuses_its_connections(server: LocalServer, backend: CountingBackend) -> None:
    with server.session("employee", pool_size=THREADS) as session:
        errors = _run_threads(lambda index: _mixed_calls(session, index, 60))
    assert errors == []
    assert backend.logins == 1
    assert server.connections_accepted <= THREADS + 2


def test_session_expiry_under_load_logs_in_again_once(
    server: LocalServer, backend: CountingBackend
) -> None:
    session = server.session("employee", pool_size=THREADS)
    assert backend.logins == 1
    expire_after = 40  # calls, counted over all threads
    calls = 0
    calls_lock = threading.Lock()
    expired = threading.Event()

    def work(index: int) -> None:
        nonlocal calls
        for _ in range(30):
            found = session.find_one("Job where id=614d660de50d45bb027c9bdd")
            assert found is not None
            with calls_lock:
                calls += 1
                if calls == expire_after:
                    server.backend.expire_sessions()
                    expired.set()

    try:
        errors = _run_threads(work)
    finally:
        session.close()
    assert errors == []
    assert expired.is_set()
    # One thread logs in again; the others, refused with the same old key, find that key
    # already replaced and reuse the new one: exactly one more login, never one per thread.
    assert backend.logins - 1 == 1, backend.logins
    assert backend.most_logins_at_once == 1


def test_pool_size_must_be_positive(server: LocalServer) -> None:
    with pytest.raises(accsyn_api.ConfigurationError, match="pool_size"):
        server.session("employee", pool_size=0, login=False)
