"""The Jobs examples of ``jobs.rst`` with the official client 2.2.1 (v1.0), unmodified.

Run by ``compat/run.py`` with the interpreter of an environment that holds
``accsyn-python-api==2.2.1``; the connection comes from the environment
(``ACCSYN_DOMAIN``, ``ACCSYN_API_USER``, ``ACCSYN_API_KEY``, ``ACCSYN_PROXY``),
as a user of that client would set it. The ids are those of the reference
server's demo workspace (``docs/testing.rst``), written out here so that this
script depends on nothing of this project.

2.2.1 runs the examples as written except ``update_many('task', <job id>,
<list>)``: its signature is ``update_many(entitytype, data, entityid)``, so the
keyword form of the example ``update_many("task", [...], entityid=...)`` is
used.
"""

from __future__ import annotations

import re
from typing import List

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
from accsyn_api.session import Session, accsynException

VERSION = "2.2.1"
LATEST_EDIT_TASK = "b8401ce0-9c6c-4c32-98c6-61d18db01f07"
MY_TRANSFER_TASK = "cc5f2afa-9ae4-46e0-9273-82ac802b20ff"
_SHOWREEL_TMP = "creatures_showreel_2018_tmp.mov"


def official_client(state: State) -> str:
    """the official client 2.2.1 is the one imported"""
    return check_client(accsyn_api, VERSION)


def login(state: State) -> str:
    """Session() from the environment: registry look-up and login through the proxy"""
    state.session = Session()
    return f"logged in as {state.session.username}"


def wrong_key(state: State) -> str:
    """Session(api_key=<wrong>) is refused at login"""
    return refused(accsynException, lambda: Session(api_key="not-the-key"), ["key"])


def find_jobs(state: State) -> str:
    """find('Job') lists the active jobs"""
    jobs = state.session.find("Job")
    expect(ids_of(jobs), ACTIVE, "active job ids")
    return f"{len(jobs)} jobs"


def find_one_by_code(state: State) -> str:
    """find_one('Job where code="x and y.png"')"""
    job = state.session.find_one('Job where code="x and y.png"')
    expect((job["id"], job["code"], job["status"]), (X_AND_Y, "x and y.png", "paused"), "job")
    return f"{job['id']} {job['status']}"


def session_str(state: State) -> str:
    """Session.str(job) prints the job"""
    job = state.session.find_one(f"Job where id={LATEST_EDIT}")
    text = state.session.str(job)
    expect_true('"code": "latest_edit.mov"' in text, f"no code in {text!r}")
    return f"{len(text.splitlines())} lines"


def find_one_by_user(state: State) -> str:
    """find_one('Job where user=user@mail.com')"""
    job = state.session.find_one("Job where user=user@mail.com")
    expect(job["id"], UPLOAD, "job of user@mail.com")
    return job["code"]


def find_one_by_destination(state: State) -> str:
    """find_one('Job where destination="stockholm"')"""
    job = state.session.find_one('Job where destination="stockholm"')
    expect(job["id"], MY_TRANSFER, "job to stockholm")
    return job["code"]


def find_one_by_source(state: State) -> str:
    """find_one('Job where source=hq') finds a job sent from the workspace"""
    job = state.session.find_one("Job where source=hq")
    expect_true(job is not None, "no job from hq")
    expect_true(job["source"].startswith("organization:"), f"source {job['source']!r}")
    return f"{job['code']} from {job['source_hr']}"


def find_one_missing(state: State) -> str:
    """find_one of nothing returns None"""
    expect(state.session.find_one('Job where code="no such job"'), None, "find_one result")
    return "None"


def find_finished(state: State) -> str:
    """find('Job where status=aborted', finished=True)"""
    expect(ids_of(state.session.find("Job where status=aborted")), (), "without finished")
    jobs = state.session.find("Job where status=aborted", finished=True)
    expect(ids_of(jobs), (ABORTED,), "aborted jobs")
    return jobs[0]["code"]


def find_archived(state: State) -> str:
    """find('Job where status=done', archived=True)"""
    jobs = state.session.find("Job where status=done", archived=True)
    expect(ids_of(jobs), (ARCHIVED,), "archived done jobs")
    return jobs[0]["code"]


def find_tasks(state: State) -> str:
    """find('task WHERE job.id=...') and '... AND status<>executing'"""
    tasks = state.session.find(f"task WHERE job.id={CAMERA_ROLLS}")
    expect(ids_of(tasks), ROLLS_TASKS, "tasks of the camera rolls job")
    queued = state.session.find(f"task WHERE job.id={CAMERA_ROLLS} AND status<>executing")
    expect([(t["id"], t["status"]) for t in queued], [(ROLLS_TASKS[0], "queued")], "tasks")
    return f"{len(tasks)} tasks, {len(queued)} not executing"


def create_job(state: State) -> str:
    """create("Job", {source: share=projects/..., destination: lars@edit.com, status: paused})"""
    job = state.session.create(
        "Job",
        {
            "source": "share=projects/thefilm/latest_edit.mov",
            "destination": "lars@edit.com",
            "status": "paused",
        },
    )
    expect_true(re.match("^[0-9a-f]{24}$", job["id"]) is not None, f"id {job['id']!r}")
    expect((job["code"], job["status"]), ("latest_edit.mov", "paused"), "created job")
    expect(job["destination_hr"], "user:lars@edit.com(user)", "destination_hr")
    state.ids["created"] = job["id"]
    return f"{job['id']} {job['status']}"


def create_mirrored_task(state: State) -> str:
    """create("task", {"tasks": [<path>]}, job["id"]) returns {"success": True}"""
    job_id = state.id("created")
    path = "/Volumes/projects/creatures_showreel_2018.mov"
    reply = state.session.create("task", {"tasks": [path]}, job_id)
    expect(_success(reply), True, f"'success' of the mirrored-path reply {reply!r}")
    tasks = state.session.find(f"task WHERE job.id={job_id}")
    added = [t for t in tasks if t["source"]["path"] == path]
    expect([t["destination"]["path"] for t in added], [path], "mirrored task found again")
    return f"{reply!r}; {len(tasks)} tasks"


def create_task_elsewhere(state: State) -> str:
    """create("task", {"tasks": [{source, destination}]}, job["id"]) adds the task"""
    job_id = state.id("created")
    source = "share=projects/_REF/creatures_showreel_2018.mov"
    destination = "share=projects/TMP/" + _SHOWREEL_TMP
    task = {"source": source, "destination": destination}
    state.session.create("task", {"tasks": [task]}, job_id)
    tasks = state.session.find(f"task WHERE job.id={job_id}")
    added = [t for t in tasks if t["destination"]["path"].endswith("TMP/" + _SHOWREEL_TMP)]
    expect(len(added), 1, f"tasks sent to TMP among {[t['destination'] for t in tasks]}")
    expect_true(added[0]["source"]["path"].endswith("_REF/creatures_showreel_2018.mov"), "source")
    return f"task {added[0]['id']} uri {added[0]['uri']}; {len(tasks)} tasks"


def _success(reply: object) -> object:
    return reply.get("success") if isinstance(reply, dict) else None


def duplicate_task(state: State) -> str:
    """create a duplicate task with allow_duplicates=False is refused"""
    job_id = state.id("created")
    again = {"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]}
    return refused(
        accsynException,
        lambda: state.session.create("task", again, job_id, allow_duplicates=False),
        ["duplicate"],
    )


def update_statuses(state: State) -> str:
    """update('job', ..., {'status': paused, waiting, pending, aborted})"""
    seen: List[str] = []
    for status in ("paused", "waiting", "pending", "aborted"):
        job = state.session.update("job", LATEST_EDIT, {"status": status})
        expect((job["id"], job["status"]), (LATEST_EDIT, status), f"job after setting {status}")
        seen.append(job["status"])
    job = state.session.find_one(f"Job where id={LATEST_EDIT}")
    expect(job["status"], "aborted", "status found again")
    return " -> ".join(seen)


def status_refused(state: State) -> str:
    """update('job', ..., {'status': 'running'}) is refused: not writeable"""
    return refused(
        accsynException,
        lambda: state.session.update("job", X_AND_Y, {"status": "running"}),
        ["running"],
    )


def update_many_tasks(state: State) -> str:
    """update_many("task", [{id, status: onhold}], entityid=<job id>)"""
    job = state.session.find_one('job WHERE code="my_transfer"')
    tasks = state.session.update_many(
        "task", [{"id": MY_TRANSFER_TASK, "status": "onhold"}], entityid=job["id"]
    )
    expect([(t["id"], t["status"]) for t in tasks], [(MY_TRANSFER_TASK, "onhold")], "tasks")
    stored = state.session.find(f"task WHERE job.id={MY_TRANSFER} AND status=onhold")
    expect(ids_of(stored), (MY_TRANSFER_TASK,), "onhold tasks found again")
    return f"{MY_TRANSFER_TASK} onhold"


def exclude_task(state: State) -> str:
    """update_many('task', [{id, status: excluded}], entityid='614d...') excludes a task"""
    tasks = state.session.update_many(
        "task", [{"id": LATEST_EDIT_TASK, "status": "excluded"}], entityid=LATEST_EDIT
    )
    expect([(t["id"], t["status"]) for t in tasks], [(LATEST_EDIT_TASK, "excluded")], "tasks")
    return f"{LATEST_EDIT_TASK} excluded"


def task_status_refused(state: State) -> str:
    """update_many with a task status that is not writeable is refused"""
    return refused(
        accsynException,
        lambda: state.session.update_many(
            "task", [{"id": ROLLS_TASKS[0], "status": "executing"}], entityid=CAMERA_ROLLS
        ),
        ["executing"],
    )


def delete_job(state: State) -> str:
    """delete_one('job', <id>) then it is found no more"""
    job_id = state.id("created")
    result = state.session.delete_one("job", job_id)
    expect_true(bool(result), f"delete_one returned {result!r}")
    expect(state.session.find_one(f"Job where id={job_id}"), None, "find_one after delete")
    return f"{job_id} deleted ({result!r})"


def delete_missing(state: State) -> str:
    """delete_one of an unknown job is refused"""
    return refused(
        accsynException,
        lambda: state.session.delete_one("job", "0123456789abcdef01234567"),
        ["0123456789abcdef01234567"],
    )


STEPS: List[Step] = [
    official_client,
    login,
    wrong_key,
    find_jobs,
    find_one_by_code,
    session_str,
    find_one_by_user,
    find_one_by_destination,
    find_one_by_source,
    find_one_missing,
    find_finished,
    find_archived,
    find_tasks,
    create_job,
    create_mirrored_task,
    create_task_elsewhere,
    duplicate_task,
    update_many_tasks,
    exclude_task,
    task_status_refused,
    update_statuses,
    status_refused,
    delete_job,
    delete_missing,
]

if __name__ == "__main__":
    run_steps(STEPS, State())
