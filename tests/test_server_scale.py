"""The reference server at scale, for correctness: replay store, event log, indexes, paging.

What ``docs/performance.rst`` measures must not change what the server
answers: a write repeated by ``eid`` is answered again and not done twice, a
read repeated is read again (reads keep no reply), the replay store and the
event log stay within their bytes, ``find_one`` by id (looked up directly)
finds what a scan finds, pages (from a kept match list) follow every change,
and the accept loop stops at once. No timings here: ``benchmarks/run.py``
measures.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import uuid
from datetime import datetime
from typing import Any, Dict, Iterator, List
from urllib.parse import quote

import pytest
import requests
from generations import both_generations
from test_server_v3_support import b64

from accsyn_api import Session
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer
from accsyn_api.testing.backend import Backend, Clock
from accsyn_api.testing.demo import JOB_ABORTED, JOB_LATEST_EDIT
from accsyn_api.testing.eventlog import OMITTED_KEY, EventLog
from accsyn_api.testing.replays import ENTRY_OVERHEAD_BYTES, ReplayStore
from accsyn_api.testing.serving import PromptlyStoppingServer

pytestmark = both_generations

SPEC = {"source": "share=projects/scale/a.mov", "destination": "lars@edit.com"}
WHOLE_SHARE = {"source": "share=projects", "destination": "lars@edit.com"}


class Wire:
    """Raw events over HTTP on either generation, with the ``eid`` the test chooses."""

    def __init__(self, server: LocalServer, role: str = "employee") -> None:
        self.server, self.v3 = server, server.api_version == names.V3
        self.http = requests.Session()
        self.http.trust_env = False
        credentials = server.credentials(role)
        self.username = credentials["username"]
        if self.v3:
            key = f"{b64(credentials['username'])}:{b64(credentials['api_key'])}"
            self.headers = {"Authorization": f"basic {key}", "X-Accsyn-Workspace": "acmevfx"}
            return
        login = {k: credentials[k] for k in ("domain", "username", "api_key")}
        auth = {"Authorization": f"ASCredentials {b64(json.dumps(login))}"}
        url = f"{server.url}/api/v1.0/user/login/auth"
        reply = self.http.put(url, json={}, headers=auth).json()
        session = {"domain": "acmevfx", "username": self.username}
        session["session_key"] = reply["session_key"]
        self.headers = {"Authorization": f"ASSession {b64(json.dumps(session))}"}

    def send(self, method: str, uri: str, data: Any = None, **envelope: Any) -> Dict[str, Any]:
        """The JSON reply to one event; ``eid``, ``query``, ``id`` go in the envelope."""
        event = {"audience": "api", "uri": uri, "ident": self.username, **envelope}
        event["workspace" if self.v3 else "domain"] = "acmevfx"
        event.setdefault("eid", str(uuid.uuid4()))
        event["data"] = {} if data is None else data
        url = f"{self.server.url}{names.API_PATHS[self.server.api_version]}/event"
        text = json.dumps(event)
        if method in ("GET", "DELETE"):
            response = self.http.request(method, f"{url}?{quote(text)}", headers=self.headers)
        else:
            response = self.http.request(method, url, data=text.encode(), headers=self.headers)
        reply = response.json()
        assert isinstance(reply, dict)
        return reply


@pytest.fixture
def wire(accsyn_server: LocalServer) -> Iterator[Wire]:
    caller = Wire(accsyn_server)
    yield caller
    caller.http.close()


def _jobs(session: Session, count: int, code: str) -> List[str]:
    specs = [
        {**SPEC, "source": f"share=projects/{code}/f{i}.mov", "code": code} for i in range(count)
    ]
    return [job["id"] for job in session.create("job", specs)]


# -- the replay store --------------------------------------------------------------------


def test_repeated_writes_are_answered_again_not_done_again(
    wire: Wire, accsyn_server: LocalServer
) -> None:
    created = wire.send("POST", "job/create", {**SPEC, "code": "replayed"}, eid="create-1")
    again = wire.send("POST", "job/create", {**SPEC, "code": "replayed"}, eid="create-1")
    assert again == created and "result" in created
    job_id = created["result"][0]["id"]
    found = wire.send("GET", "job/find", query="code=replayed")["result"]
    assert [job["id"] for job in found] == [job_id]
    deleted = wire.send("DELETE", "job/delete", id=job_id, eid="delete-1")
    assert wire.send("DELETE", "job/delete", id=job_id, eid="delete-1") == deleted
    assert "result" in deleted  # the repeat got the success, not "not found"
    assert accsyn_server.backend.executions("create-1") == 1


def test_a_repeated_read_is_read_again(wire: Wire) -> None:
    query = f"id={JOB_LATEST_EDIT}"
    before = wire.send("GET", "job/find", query=query, eid="read-1")["result"][0]
    wire.send("PUT", "job/edit", {"priority": before["priority"] + 7}, id=JOB_LATEST_EDIT)
    after = wire.send("GET", "job/find", query=query, eid="read-1")["result"][0]
    assert after["priority"] == before["priority"] + 7  # not the first reply replayed


def test_reads_keep_no_reply(wire: Wire, accsyn_server: LocalServer) -> None:
    store = accsyn_server.backend.replay_store
    for _ in range(20):
        assert wire.send("GET", "job/find", {"finished": True})["result"]
    assert len(store) == 20
    assert store.size <= 20 * (ENTRY_OVERHEAD_BYTES + len("transfer/find"))  # no reply bytes


def test_the_eid_of_a_read_is_still_refused_for_another_call(wire: Wire) -> None:
    assert "result" in wire.send("GET", "job/find", eid="one-call")
    reply = wire.send("GET", "user/find", eid="one-call")
    assert reply["error_code"] == "invalid_data" and "eid" in reply["message_hr"]


def test_the_store_forgets_the_oldest_beyond_its_bytes(accsyn_api_version: str) -> None:
    backend = Backend(replay_bytes=20_000)
    with LocalServer(backend=backend, api_version=accsyn_api_version) as server:
        caller = Wire(server)
        for index in range(40):  # each reply is about 1 kB
            caller.send("POST", "job/create", {**SPEC, "code": f"c{index}"}, eid=f"e{index}")
        assert backend.replay_store.size <= 20_000
        assert backend.executions("e0") == 0 and backend.executions("e39") == 1
        again = caller.send("POST", "job/create", {**SPEC, "code": "c39"}, eid="e39")
        assert len(caller.send("GET", "job/find", query="code=c39")["result"]) == 1
        assert again["result"][0]["code"] == "c39"
        caller.http.close()


def test_the_newest_write_is_kept_whatever_its_size() -> None:
    store = ReplayStore(budget=1000)
    store.remember("big", "u", "job/create", {"result": ["x" * 5000]}, write=True)
    assert store.repeat_of("big", "u", "job/create") == {"result": ["x" * 5000]}
    store.remember("small", "u", "job/find", {"result": []}, write=False)
    assert store.get("big") is None and store.size <= 1000
    assert store.repeat_of("small", "u", "job/find") is None  # a read: read it again


def test_replayed_replies_are_copies() -> None:
    store = ReplayStore()
    store.remember("e", "u", "job/edit", {"result": [{"status": "paused"}]}, write=True)
    first = store.repeat_of("e", "u", "job/edit")
    assert first is not None
    first["result"][0]["status"] = "changed by the caller"
    assert store.repeat_of("e", "u", "job/edit") == {"result": [{"status": "paused"}]}


# -- the event log -------------------------------------------------------------------------


def test_the_event_log_keeps_a_count_and_bytes() -> None:
    log = EventLog(history=5, budget=10_000)
    for index in range(10):
        log.record({"uri": "job/find", "eid": f"e{index}"})
    assert [event["eid"] for event in log.snapshot()] == [f"e{i}" for i in range(5, 10)]
    for index in range(10):
        log.record({"uri": "job/create", "eid": f"b{index}", "data": {"note": "x" * 3000}})
    assert log.size <= 10_000 and log.snapshot()[-1]["eid"] == "b9"
    assert len(log) < 5


def test_an_event_larger_than_the_log_is_kept_as_a_stand_in() -> None:
    log = EventLog(history=5, budget=10_000)
    log.record(
        {"uri": "job/create", "eid": "huge", "data": {"tasks": [f"t{i:099d}" for i in range(500)]}}
    )
    [kept] = log.snapshot()
    assert kept["uri"] == "job/create" and kept["eid"] == "huge" and "data" not in kept
    assert kept[OMITTED_KEY] > 10_000


def test_event_snapshots_are_copies() -> None:
    log = EventLog()
    event: Dict[str, Any] = {"uri": "job/edit", "data": {"metadata": {"a": 1}}}
    log.record(event)
    event["data"]["metadata"]["a"] = 2
    log.snapshot()[0]["data"]["metadata"]["a"] = 3
    assert log.snapshot()[0]["data"] == {"metadata": {"a": 1}}


def test_a_large_create_is_in_the_events_whole(
    accsyn_session: Session, accsyn_server: LocalServer
) -> None:
    tasks = [f"big/shot_{index:05d}/plate.exr" for index in range(5000)]  # over 100 kB
    accsyn_session.create("job", {**WHOLE_SHARE, "tasks": tasks})
    [create] = [e for e in accsyn_server.events if e["uri"].endswith("/create")]
    assert create["data"]["tasks"] == tasks and "gz_data" not in create  # sent compressed


# -- finding by id ---------------------------------------------------------------------------


def test_find_one_by_id_finds_each_job(accsyn_session: Session) -> None:
    ids = _jobs(accsyn_session, 300, "by_id")
    for job_id in (ids[0], ids[150], ids[-1], JOB_LATEST_EDIT):
        found = accsyn_session.find_one(f"Job where id={job_id}")
        assert found is not None and found["id"] == job_id
    assert accsyn_session.find_one(f"Job where id={ids[7].upper()}")["id"] == ids[7]
    assert accsyn_session.find_one(f"Job where id={ids[7]} and code=other") is None
    assert accsyn_session.find_one(f"Job where code=by_id and id={ids[7]}")["id"] == ids[7]
    assert accsyn_session.find_one("Job where id=ffffffffffffffffffffffff") is None


def test_find_by_id_follows_the_lifecycle_and_the_roles(
    accsyn_session: Session, accsyn_user_session: Session, accsyn_api_version: str
) -> None:
    query = f"Job where id={JOB_ABORTED}"  # aborted long ago: inactive
    assert accsyn_session.find(query) == []
    assert [job["id"] for job in accsyn_session.find(query, finished=True)] == [JOB_ABORTED]
    found = accsyn_session.find_one(query)  # v3 (single_entity_query) looks further
    assert (found or {}).get("id") == (JOB_ABORTED if accsyn_api_version == names.V3 else None)
    assert accsyn_user_session.find_one(f"Job where id={JOB_LATEST_EDIT}") is None


def test_find_by_id_of_an_archived_job(accsyn_session: Session, accsyn_api_version: str) -> None:
    [job_id] = _jobs(accsyn_session, 1, "archived_by_id")
    accsyn_session.delete_one("job", job_id)
    found = accsyn_session.find(f"Job where id={job_id}", archived=True)
    archives = accsyn_api_version == names.V3  # v1.0 deletes for good
    assert [job["id"] for job in found] == ([job_id] if archives else [])


# -- paging ---------------------------------------------------------------------------------


def test_pages_give_every_match_once_in_order(accsyn_session: Session) -> None:
    _jobs(accsyn_session, 1234, "paged")
    everything = [job["id"] for job in accsyn_session.find("Job where code=paged")]
    paged = [job["id"] for job in accsyn_session.iter_find("Job where code=paged", page_size=100)]
    assert paged == everything and len(set(paged)) == 1234


def test_a_change_between_pages_is_seen(accsyn_session: Session) -> None:
    ids = _jobs(accsyn_session, 30, "changing")
    query = "Job where code=changing"
    assert [j["id"] for j in accsyn_session.find(query, limit=10, skip=10)] == ids[10:20]
    accsyn_session.delete_one("job", ids[0])
    assert [j["id"] for j in accsyn_session.find(query, limit=10, skip=10)] == ids[11:21]


def test_a_page_follows_the_clock(accsyn_api_version: str) -> None:
    backend = Backend(clock=Clock(datetime(2024, 3, 1, 12, 0, 0)))
    with LocalServer(backend=backend, api_version=accsyn_api_version) as server:
        session = server.session()
        ids = _jobs(session, 3, "clocked")
        session.update("job", ids[1], {"status": "done"})
        query = "Job where code=clocked"
        assert [j["id"] for j in session.find(query, limit=2, skip=1)] == ids[1:]
        backend.clock.advance(hours=2)  # the done job is inactive now
        assert [j["id"] for j in session.find(query, limit=2, skip=1)] == ids[2:]
        finished = session.find(query, limit=2, skip=1, finished=True)
        assert [j["id"] for j in finished] == ids[1:]
        backend.clock.advance(days=14)  # and archived now
        finished = session.find(query, limit=2, skip=1, finished=True)
        assert [j["id"] for j in finished] == ids[2:]
        session.close()


def test_task_pages_and_task_ids(accsyn_session: Session, accsyn_server: LocalServer) -> None:
    paths = [f"many/f{index:04d}.exr" for index in range(250)]
    job = accsyn_session.create("job", {**WHOLE_SHARE, "tasks": paths, "code": "many_tasks"})
    query = f"Task where job.id={job['id']}"
    everything = [task["id"] for task in accsyn_session.find(query)]
    paged = [task["id"] for task in accsyn_session.iter_find(query, page_size=100)]
    assert paged == everything and len(everything) == 250
    added = accsyn_session.create("task", {"tasks": ["many/extra.exr"]}, job["id"])
    new_id = added["tasks"][0]["id"]
    if accsyn_server.api_version == names.V3:  # get_entity: the task by id, looked up
        wire = Wire(accsyn_server)
        [task] = wire.send("GET", "task/find", id=new_id)["result"]
        assert task["id"] == new_id and task["job"] == job["id"]
        assert wire.send("GET", "task/find", id=str(uuid.uuid4()))["result"] == []
        wire.http.close()


def test_attributes_only_one_generation_shows_match_nothing_on_the_other(
    accsyn_session: Session, accsyn_api_version: str
) -> None:
    found = accsyn_session.find("Job where name=latest_edit.mov")
    expected = [JOB_LATEST_EDIT] if accsyn_api_version == names.V3 else []
    assert [job["id"] for job in found] == expected


# -- stopping -------------------------------------------------------------------------------


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.request.recv(100))


@pytest.mark.timeout(30)
def test_shutdown_ends_the_loop_whatever_the_poll_interval() -> None:
    server = PromptlyStoppingServer(("127.0.0.1", 0), _Echo)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600})
    loop.start()
    with socket.create_connection(server.server_address) as client:
        client.sendall(b"ping")
        assert client.recv(100) == b"ping"
    server.shutdown()  # socketserver's own loop would wait here for the poll interval: an hour
    loop.join()
    server.server_close()


@pytest.mark.timeout(30)
def test_shutdown_before_the_loop_starts_ends_it_at_once() -> None:
    server = PromptlyStoppingServer(("127.0.0.1", 0), _Echo)
    stopper = threading.Thread(target=server.shutdown)
    stopper.start()
    while not server._stop_asked:  # shutdown() has asked, and waits for a loop to end
        stopper.join(0.001)
    server.serve_forever(poll_interval=3600)
    stopper.join()
    again = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600})
    again.start()  # the same server serves again after a shutdown
    server.shutdown()
    again.join()
    server.server_close()
