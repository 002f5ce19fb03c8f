"""Transfers and tasks with the official client 3.4.0 (v3), unmodified.

Run by ``compat/run.py`` with the interpreter of an environment that holds
``accsyn-python-api==3.4.0``, in an empty directory (3.4.0 loads a ``./.env``
over the environment), connected through ``ACCSYN_WORKSPACE``,
``ACCSYN_API_USER``, ``ACCSYN_API_KEY`` and ``ACCSYN_PROXY``. The expected
values follow ``wire-protocol-v3.md`` (section 8) and the demo workspace of
``docs/testing.rst``, written out here so that this script depends on nothing
of this project. 3.4.0 lower-cases every query expression before sending it;
the values below are written in lower case, so nothing hangs on that.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, List

from checks import State, Step, check_client, expect, expect_true, ids_of, refused, run_steps
from demo_ids import (
    ABORTED,
    ACTIVE,
    ARCHIVED,
    CAMERA_ROLLS,
    LATEST_EDIT,
    MY_TRANSFER,
    ROLLS_TASKS,
    UPLOAD,
    X_AND_Y,
)

import accsyn_api
from accsyn_api.session import AccsynException, Session

VERSION = "3.4.0"
WORKSPACE_ID = "5a4f71ef1da7ee15c5d43ae3"
EMPLOYEE_ID = "5d91b33ac71c12871d1fc3b7"
LARS_ID = "5d91b33ac71c12871d1fc3c2"
MY_TRANSFER_TASKS = ("a7e4b2d1-3c5f-4e6a-8b9d-0c1e2f3a4b55", "cc5f2afa-9ae4-46e0-9273-82ac802b20ff")
NO_SUCH_ID = "0123456789abcdef01234567"


def official_client(state: State) -> str:
    """the official client 3.4.0 is the one imported"""
    return check_client(accsyn_api, VERSION)


def login(state: State) -> str:
    """Session() from the environment: host look-up and login through the proxy"""
    state.session = Session()
    return f"logged in as {state.session.username}"


def wrong_key(state: State) -> str:
    """Session(api_key=<wrong>) is refused at login"""
    return refused(AccsynException, lambda: Session(api_key="not-the-key"), ["key"])


def find_transfers(state: State) -> str:
    """find('Transfer') lists the active transfers"""
    transfers = state.session.find("Transfer")
    expect(ids_of(transfers), ACTIVE, "active transfer ids")
    return f"{len(transfers)} transfers"


def find_job_alias(state: State) -> str:
    """find('Job'), the deprecated alias, lists the same transfers"""
    expect(ids_of(state.session.find("Job")), ACTIVE, "active job ids")
    return f"{len(ACTIVE)} jobs"


def transfer_attributes(state: State) -> str:
    """a transfer has the v3 attributes: name, workspace source, _hr with role and id, UTC dates"""
    transfer = state.session.find_one(f"Transfer WHERE id={LATEST_EDIT}")
    expect((transfer["name"], transfer["code"]), ("latest_edit.mov",) * 2, "name and code")
    expect(transfer["source"], f"workspace:{WORKSPACE_ID}", "source")
    expect(transfer["source_hr"], f"workspace:acmevfx({WORKSPACE_ID})", "source_hr")
    expect(transfer["destination_hr"], f"user:lars@edit.com[standard]({LARS_ID})", "dest_hr")
    expect(transfer["user_hr"], f"user:employee@acmevfx.com[employee]({EMPLOYEE_ID})", "user_hr")
    created = transfer["created"]
    expect_true(isinstance(created, datetime.datetime), f"created {created!r} not a datetime")
    utc = datetime.datetime(2021, 9, 24, 7, 45, 49, tzinfo=datetime.timezone.utc)
    expect(created, utc, "created (sent as UTC)")
    return f"{transfer['name']} created {created.isoformat()}"


def find_one_by_name(state: State) -> str:
    """find_one('Transfer WHERE name="x and y.png"')"""
    transfer = state.session.find_one('Transfer WHERE name="x and y.png"')
    expect((transfer["id"], transfer["status"]), (X_AND_Y, "paused"), "transfer")
    expect(state.session.find_one('Transfer WHERE name="no such transfer"'), None, "no match")
    return f"{transfer['id']} {transfer['status']}"


def find_one_finished(state: State) -> str:
    """find_one finds a finished transfer too (single_entity_query)"""
    expect(ids_of(state.session.find(f"Transfer WHERE id={ABORTED}")), (), "find, active only")
    transfer = state.session.find_one(f"Transfer WHERE id={ABORTED}")
    expect((transfer["id"], transfer["status"]), (ABORTED, "aborted"), "find_one")
    return f"{transfer['name']} {transfer['status']}"


def find_finished_and_archived(state: State) -> str:
    """find(..., finished=True) and find(..., archived=True)"""
    finished = state.session.find("Transfer WHERE status=aborted", finished=True)
    expect(ids_of(finished), (ABORTED,), "aborted transfers with finished=True")
    archived = state.session.find("Transfer WHERE status=done", archived=True)
    expect(ids_of(archived), (ARCHIVED,), "done transfers with archived=True")
    return f"{finished[0]['name']}, {archived[0]['name']}"


def get_entity(state: State) -> str:
    """get_entity('transfer', id) whatever its state; None for an unknown id"""
    transfer = state.session.get_entity("transfer", ARCHIVED)
    expect((transfer["id"], transfer["status"]), (ARCHIVED, "done"), "archived transfer")
    expect(state.session.get_entity("transfer", NO_SUCH_ID), None, "unknown id")
    return f"{transfer['name']} {transfer['status']}; unknown id -> None"


def operator_contains(state: State) -> str:
    """find('Transfer WHERE name contains edit') and 'not contains'"""
    found = state.session.find("Transfer WHERE name contains edit")
    expect(ids_of(found), (LATEST_EDIT,), "name contains edit")
    others = state.session.find('Transfer WHERE name not contains ".mov"')
    expect(ids_of(others), tuple(sorted((X_AND_Y, MY_TRANSFER, UPLOAD))), "not contains .mov")
    return f"{len(found)} and {len(others)}"


def operator_in(state: State) -> str:
    """find('Transfer WHERE status in paused,waiting') and 'not in'"""
    found = state.session.find("Transfer WHERE status in paused,waiting")
    expect(ids_of(found), tuple(sorted((X_AND_Y, MY_TRANSFER))), "status in paused,waiting")
    others = state.session.find("Transfer WHERE status not in running,init")
    expect(ids_of(others), tuple(sorted((X_AND_Y, MY_TRANSFER))), "status not in running,init")
    return f"{len(found)} and {len(others)}"


def operator_wildcard_and_matches(state: State) -> str:
    """find('Transfer WHERE name="*.mov"') and 'name matches "^a001_"'"""
    movies = state.session.find('Transfer WHERE name="*.mov"')
    expect(ids_of(movies), tuple(sorted((LATEST_EDIT, CAMERA_ROLLS))), 'name="*.mov"')
    rolls = state.session.find('Transfer WHERE name matches "^a001_c0[0-9]+"')
    expect(ids_of(rolls), (CAMERA_ROLLS,), "name matches")
    return f"{len(movies)} movies, {rolls[0]['name']}"


def create_transfer(state: State) -> str:
    """create('transfer', {source, destination, status: paused})"""
    transfer = state.session.create(
        "transfer",
        {
            "source": "share=projects/thefilm/latest_edit.mov",
            "destination": "lars@edit.com",
            "status": "paused",
        },
    )
    expect_true(re.match("^[0-9a-f]{24}$", transfer["id"]) is not None, f"id {transfer['id']!r}")
    expect((transfer["name"], transfer["status"]), ("latest_edit.mov", "paused"), "transfer")
    state.ids["created"] = transfer["id"]
    found = state.session.get_entity("transfer", transfer["id"])
    expect(found["status"], "paused", "status found again")
    return f"{transfer['id']} {transfer['status']}"


def update_status(state: State) -> str:
    """update('transfer', id, {status}): waiting, paused"""
    transfer_id = state.id("created")
    seen: List[str] = []
    for status in ("waiting", "paused"):
        transfer = state.session.update("transfer", transfer_id, {"status": status})
        expect((transfer["id"], transfer["status"]), (transfer_id, status), f"after {status}")
        seen.append(transfer["status"])
    return " -> ".join(seen)


def status_refused(state: State) -> str:
    """update to 'pending' (v1.0 only) and to 'running' (not writeable) are refused"""
    transfer_id = state.id("created")
    pending = refused(
        AccsynException,
        lambda: state.session.update("transfer", transfer_id, {"status": "pending"}),
        ["pending"],
    )
    running = refused(
        AccsynException,
        lambda: state.session.update("transfer", transfer_id, {"status": "running"}),
        ["running"],
    )
    return f"{pending} / {running}"


def create_task(state: State) -> str:
    """create('task', {tasks: [{source, destination}]}, <transfer id>)"""
    transfer_id = state.id("created")
    task = state.session.create(
        "task",
        {
            "tasks": [
                {
                    "source": "share=projects/_REF/creatures_showreel_2018.mov",
                    "destination": "share=projects/TMP/creatures_showreel_2018_tmp.mov",
                }
            ]
        },
        transfer_id,
    )
    expect_true(isinstance(task, dict), f"a single task dict, got {task!r}")
    expect(task.get("job"), transfer_id, "task's job")
    state.ids["task"] = task["id"]
    return f"task {task['id']} uri {task['uri']} {task['status']}"


def create_mirrored_task(state: State) -> str:
    """create('task', {tasks: [<path>]}, <transfer id>) returns {"success": True}"""
    transfer_id = state.id("created")
    path = "/volumes/projects/creatures_showreel_2018.mov"
    reply = state.session.create("task", {"tasks": [path]}, transfer_id)
    success = reply.get("success") if isinstance(reply, dict) else None
    expect(success, True, f"'success' of the mirrored-path reply {reply!r}")
    tasks = state.session.find("Task", entityid=transfer_id)
    added = [t for t in tasks if t["source"]["path"] == path]
    expect([t["destination"]["path"] for t in added], [path], "mirrored task found again")
    return f"{reply!r}; {len(tasks)} tasks"


def find_tasks_by_parent(state: State) -> str:
    """find('Task', entityid=<transfer id>) (data.parent)"""
    tasks = state.session.find("Task", entityid=CAMERA_ROLLS)
    expect(ids_of(tasks), ROLLS_TASKS, "tasks of the camera rolls transfer")
    expect({task["job"] for task in tasks}, {CAMERA_ROLLS}, "their job")
    created = state.session.find("Task", entityid=state.id("created"))
    expect_true(state.id("task") in ids_of(created), f"created task not in {ids_of(created)}")
    return f"{len(tasks)} tasks; {len(created)} in the created transfer"


def find_tasks_by_query(state: State) -> str:
    """find('task WHERE job.id=...') and '... AND status<>executing'"""
    tasks = state.session.find(f"task WHERE job.id={CAMERA_ROLLS}")
    expect(ids_of(tasks), ROLLS_TASKS, "tasks of the camera rolls transfer")
    queued = state.session.find(f"task WHERE job.id={CAMERA_ROLLS} AND status<>executing")
    expect([(t["id"], t["status"]) for t in queued], [(ROLLS_TASKS[0], "queued")], "tasks")
    return f"{len(tasks)} tasks, {len(queued)} not executing"


def update_many_tasks(state: State) -> str:
    """update_many('task', <transfer id>, [{id, status: excluded}, {uri, status: onhold}])"""
    changes = [
        {"id": MY_TRANSFER_TASKS[1], "status": "excluded"},
        {"uri": "1", "status": "onhold"},
    ]
    tasks = state.session.update_many("task", MY_TRANSFER, changes)
    statuses = sorted((task["id"], task["status"]) for task in tasks)
    expected = [(MY_TRANSFER_TASKS[0], "onhold"), (MY_TRANSFER_TASKS[1], "excluded")]
    expect(statuses, expected, "updated tasks")
    again = state.session.find(f"task WHERE job.id={MY_TRANSFER} AND status=excluded")
    expect(ids_of(again), (MY_TRANSFER_TASKS[1],), "excluded tasks found again")
    return ", ".join(f"{task_id[:8]} {status}" for task_id, status in statuses)


def task_status_refused(state: State) -> str:
    """update_many with a task status that is not writeable is refused"""
    change: List[Any] = [{"id": ROLLS_TASKS[0], "status": "executing"}]
    return refused(
        AccsynException,
        lambda: state.session.update_many("task", CAMERA_ROLLS, change),
        ["executing"],
    )


def delete_transfer(state: State) -> str:
    """delete_one('transfer', id): gone from find, kept for get_entity"""
    transfer_id = state.id("created")
    result = state.session.delete_one("transfer", transfer_id)
    expect_true(bool(result), f"delete_one returned {result!r}")
    expect_true(transfer_id not in ids_of(state.session.find("Transfer")), "still active")
    kept = state.session.get_entity("transfer", transfer_id)
    expect_true(kept is not None and kept["id"] == transfer_id, f"get_entity gave {kept!r}")
    return f"{transfer_id} deleted ({result!r})"


def delete_missing(state: State) -> str:
    """delete_one of an unknown transfer is refused"""
    return refused(
        AccsynException,
        lambda: state.session.delete_one("transfer", NO_SUCH_ID),
        [NO_SUCH_ID],
    )


STEPS: List[Step] = [
    official_client,
    login,
    wrong_key,
    find_transfers,
    find_job_alias,
    transfer_attributes,
    find_one_by_name,
    find_one_finished,
    find_finished_and_archived,
    get_entity,
    operator_contains,
    operator_in,
    operator_wildcard_and_matches,
    create_transfer,
    update_status,
    status_refused,
    create_task,
    create_mirrored_task,
    find_tasks_by_parent,
    find_tasks_by_query,
    update_many_tasks,
    task_status_refused,
    delete_transfer,
    delete_missing,
]

if __name__ == "__main__":
    run_steps(STEPS, State())
