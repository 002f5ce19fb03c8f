"""What a restricted user may send, and which task paths the reference server accepts.

Over real HTTP on 127.0.0.1, on both front ends. The restricted user
(``user`` on v1.0, ``standard`` on v3) sees no shares and no other user, so it
may only send what it may see. A task path that no real path is (climbing out
with ``..``, holding NUL or a newline, absurdly long) is refused with a message.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest
from generations import both_generations
from server_raw import RawCaller, error_code

import accsyn_api
from accsyn_api.testing import LocalServer
from accsyn_api.testing.operations import MAX_PATH_LENGTH

pytestmark = both_generations

MINE = "user@mail.com"


@pytest.fixture
def employee(accsyn_server: LocalServer, accsyn_api_version: str) -> Iterator[RawCaller]:
    raw = RawCaller(accsyn_server, accsyn_api_version, "employee")
    yield raw
    raw.close()


def _created(caller: RawCaller, spec: Dict[str, Any]) -> Dict[str, Any]:
    reply = caller.send("POST", caller.event("job/create", spec)).json()
    assert "result" in reply, reply
    job: Dict[str, Any] = reply["result"][0]
    return job


def _add_tasks(caller: RawCaller, job_id: str, tasks: List[Any]) -> Any:
    return caller.send("POST", caller.event("task/create", {"tasks": tasks}, id=job_id))


# -- item 10: the restricted user sends only what it may see -------------------------------


def test_restricted_user_may_not_create_jobs_naming_a_share_or_another_user(
    accsyn_user_session: accsyn_api.Session,
) -> None:
    refused: List[Dict[str, Any]] = [
        {"source": "share=projects/thefilm/a.mov", "destination": MINE},
        {"source": f"{MINE}/a.mov", "destination": "share=projects/incoming"},
        {
            "source": MINE,
            "destination": "hq",
            "tasks": [{"source": "share=projects/thefilm/b.mov", "destination": "in/b.mov"}],
        },
        {"source": "lars@edit.com/cut.mov", "destination": MINE},  # someone else's files
    ]
    for spec in refused:
        with pytest.raises(accsyn_api.PermissionDenied) as caught:
            accsyn_user_session.create("job", spec)
        assert "restricted user" in str(caught.value)
    job = accsyn_user_session.create("job", {"source": f"{MINE}/a.mov", "destination": "hq"})
    assert job["id"]  # its own files, to the workspace: fine


def test_restricted_user_may_not_add_share_tasks_to_its_own_job(
    accsyn_user_session: accsyn_api.Session,
) -> None:
    job = accsyn_user_session.create("job", {"source": f"{MINE}/a.mov", "destination": "hq"})
    with pytest.raises(accsyn_api.PermissionDenied, match="share"):
        accsyn_user_session.create(
            "task",
            {"tasks": [{"source": "share=projects/thefilm/secret.mov", "destination": "s.mov"}]},
            job["id"],
        )
    accsyn_user_session.create("task", {"tasks": ["b.mov"]}, job["id"])  # its own: fine
    tasks = accsyn_user_session.find(f"Task where job.id={job['id']}")
    assert sorted(task["source"]["path"] for task in tasks) == ["a.mov", "b.mov"]


def test_restricted_user_may_not_add_tasks_to_a_job_sent_from_a_share(
    accsyn_session: accsyn_api.Session, accsyn_user_session: accsyn_api.Session
) -> None:
    job = accsyn_session.create(
        "job", {"source": "share=projects/thefilm/a.mov", "destination": MINE}
    )
    assert accsyn_user_session.find(f"Job where id={job['id']}")  # it receives it
    with pytest.raises(accsyn_api.PermissionDenied, match="share"):
        accsyn_user_session.create("task", {"tasks": ["thefilm/b.mov"]}, job["id"])
    accsyn_session.create("task", {"tasks": ["thefilm/b.mov"]}, job["id"])  # staff may


# -- item 11: task paths -------------------------------------------------------------------

BAD_PATHS = [
    "../../../etc/passwd",
    "thefilm/../../../etc/passwd",
    "C:\\..\\..\\Windows\\system32",
    "a\x00b.mov",
    "a\nb.mov",
    "a\rb.mov",
    "a\tb.mov",
    "\x7f.mov",
    "a" * (MAX_PATH_LENGTH + 1),
    "a" * (1024 * 1024),
]
GOOD_PATHS = [
    "thefilm/../other/a.mov",
    "./b.mov",
    "/home/user/c.mov",
    "X:\\reels\\d.mov",
    "reel 2/é.mov",
    "e" * MAX_PATH_LENGTH,
]


def _refused_path(response: Any) -> None:
    assert response.status_code < 500, response.text[:300]
    assert error_code(response) == "invalid_data", response.text[:300]
    reply = response.json()
    assert "cannot be used" in reply["message_hr"] and len(reply["message_hr"]) < 1000


def test_task_paths_that_no_real_path_is_are_refused(
    accsyn_server: LocalServer, employee: RawCaller
) -> None:
    job = _created(employee, {"source": "share=projects/thefilm/a.mov", "destination": "hq"})
    for bad in BAD_PATHS:
        _refused_path(
            employee.send(
                "POST",
                employee.event(
                    "job/create",
                    {"source": "share=projects", "destination": "lars@edit.com", "tasks": [bad]},
                ),
            )
        )
        _refused_path(
            employee.send(
                "POST",
                employee.event(
                    "job/create",
                    {
                        "source": "hq",
                        "destination": "lars@edit.com",
                        "tasks": [{"source": "ok.mov", "destination": bad}],
                    },
                ),
            )
        )
        _refused_path(_add_tasks(employee, job["id"], [bad]))
    _refused_path(
        employee.send(
            "POST",
            employee.event(
                "job/create",
                {"source": "share=projects/../../etc/passwd", "destination": "lars@edit.com"},
            ),
        )
    )
    with accsyn_server.session("employee") as session:
        tasks = session.find(f"Task where job.id={job['id']}")
    assert [task["source"]["path"] for task in tasks] == ["thefilm/a.mov"]  # nothing added


def test_real_paths_are_accepted(employee: RawCaller) -> None:
    job = _created(employee, {"source": "hq", "destination": "lars@edit.com", "tasks": GOOD_PATHS})
    assert job["id"]
    reply = _add_tasks(employee, job["id"], [{"source": "f/../g.mov", "destination": "g.mov"}])
    assert "exception" not in reply.json() and error_code(reply) is None, reply.text[:300]
