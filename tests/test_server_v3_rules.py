"""The v3 rules of the reference server, over raw HTTP: statuses, get_entity,
single_entity_query, task forms, duplicates, ``_hr`` forms, roles, entity types."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Iterator
from urllib.parse import quote

import pytest
import requests
from test_server_v3_support import V3Client, v3_event
from wire import raw_event

from accsyn_api.testing import Clock, LocalServer
from accsyn_api.testing.backend import Backend

JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"
JOB_UPLOAD = "6150a1c2e50d45bb027c9c03"
JOB_ABORTED = "6150a1c2e50d45bb027c9c04"
JOB_ARCHIVED = "6150a1c2e50d45bb027c9c05"
ORGANIZATION_ID = "5a4f71ef1da7ee15c5d43ae3"
EMPLOYEE_ID = "5d91b33ac71c12871d1fc3b7"
LARS_ID = "5d91b33ac71c12871d1fc3c2"
USER_ID = "60c1e2f3a4b5c6d7e8f90a1b"
MEDIUM_QUEUE_ID = "5a4f72111da7ee15c5d43af4"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(api_version="3") as local_server:
        yield local_server


@pytest.fixture
def employee(server: LocalServer) -> Iterator[V3Client]:
    client = V3Client(server)
    yield client
    client.close()


@pytest.fixture
def standard(server: LocalServer) -> Iterator[V3Client]:
    client = V3Client(server, "standard")
    yield client
    client.close()


def _new_job(client: V3Client, name: str = "a.mov", **extra: object) -> str:
    spec = {"source": f"share=projects/thefilm/{name}", "destination": "lars@edit.com", **extra}
    job_id = client.ok("POST", "transfer/create", spec)[0]["id"]
    assert isinstance(job_id, str)
    return job_id


# -- statuses --------------------------------------------------------------------------


def test_pending_is_refused_naming_the_v3_statuses(employee: V3Client) -> None:
    job_id = _new_job(employee)
    response = employee.send(
        "PUT", v3_event("transfer/edit", {"status": "pending"}, entityid=job_id)
    )
    reply = response.json()
    assert response.status_code == 400 and reply["error_code"] == "invalid_data"
    assert "'pending' is not a transfer status" in reply["message_hr"]
    assert "waiting, paused, aborted, done" in reply["message_hr"]
    refused = employee.call(
        "POST",
        "transfer/create",
        {"source": "hq", "destination": "lars@edit.com", "status": "pending"},
    )
    assert refused["error_code"] == "invalid_data" and "pending" in refused["message_hr"]


def test_a_job_set_pending_on_v1_shows_as_waiting_on_v3(
    server: LocalServer, employee: V3Client
) -> None:
    job_id = _new_job(employee)
    with server.session("employee", api_version="1.0") as v1:
        assert v1.update("job", job_id, {"status": "pending"})["status"] == "pending"
    assert employee.ok("GET", "transfer/find", query=f"id={job_id}")[0]["status"] == "waiting"
    assert employee.ok("GET", "transfer/find", query=f"id={job_id} and status=waiting")


def test_v3_writeable_statuses_are_accepted(employee: V3Client) -> None:
    job_id = _new_job(employee)
    for status in ("paused", "waiting", "aborted", "done"):
        changed = employee.ok("PUT", "transfer/edit", {"status": status}, entityid=job_id)
        assert changed[0]["status"] == status
    assert changed[0]["finished"] is not None


# -- forms -------------------------------------------------------------------------------


def test_v3_hr_forms_and_endpoints(employee: V3Client) -> None:
    job = employee.ok("GET", "transfer/find", query=f"id={JOB_LATEST_EDIT}")[0]
    assert job["source"] == f"workspace:{ORGANIZATION_ID}"
    assert job["source_hr"] == f"workspace:acmevfx({ORGANIZATION_ID})"
    assert job["destination"] == f"user:{LARS_ID}"
    assert job["destination_hr"] == f"user:lars@edit.com[standard]({LARS_ID})"
    assert job["user_hr"] == f"user:employee@acmevfx.com[employee]({EMPLOYEE_ID})"
    assert job["parent_hr"] == f"queue:medium({MEDIUM_QUEUE_ID})"
    assert job["name"] == job["code"] == "latest_edit.mov"
    assert job["finished"] is None  # not the v1.0 epoch marker
    # Queries take either generation's forms.
    for query in (
        f"source=workspace:{ORGANIZATION_ID}",
        f"source=organization:{ORGANIZATION_ID}",
        "source=acmevfx",
        "destination=lars@edit.com",
        f'destination_hr="user:lars@edit.com[standard]({LARS_ID})"',
        "name=latest_edit.mov",
    ):
        ids = [found["id"] for found in employee.ok("GET", "transfer/find", query=query)]
        assert JOB_LATEST_EDIT in ids, query


def test_create_accepts_a_workspace_endpoint_and_name(employee: V3Client) -> None:
    spec = {
        "source": "workspace=acmevfx/thefilm/x.mov",
        "destination": "lars@edit.com",
        "name": "my x",
    }
    job = employee.ok("POST", "transfer/create", spec)[0]
    assert job["name"] == job["code"] == "my x" and job["source"].startswith("workspace:")
    renamed = employee.ok("PUT", "transfer/edit", {"name": "renamed"}, entityid=job["id"])[0]
    assert renamed["code"] == "renamed"


def test_entity_aliases_and_case(employee: V3Client) -> None:
    transfers = employee.ok("GET", "transfer/find")
    assert employee.ok("GET", "job/find") == transfers
    assert employee.ok("GET", "Transfer/find") == transfers
    folders = employee.ok("GET", "folder/find")
    assert folders == employee.ok("GET", "share/find") and folders[0]["code"] == "projects"
    workspace = employee.ok("GET", "workspace/find")[0]
    assert workspace["code"] == "acmevfx" and workspace["id"] == ORGANIZATION_ID
    assert employee.ok("GET", "entitytypes") == [
        "transfer",
        "task",
        "queue",
        "user",
        "site",
        "folder",
        "workspace",
    ]
    assert "name" in employee.ok("GET", "attributes", {"entitytype": "Transfer"})
    editable = employee.ok("GET", "attributes", {"entitytype": "job", "update": True})
    assert "status" in editable and "name" in editable


# -- get_entity and find_one ------------------------------------------------------------


def test_get_entity_whatever_the_state(employee: V3Client) -> None:
    archived = employee.ok("GET", "Transfer/find", entityid=JOB_ARCHIVED)
    assert [job["id"] for job in archived] == [JOB_ARCHIVED] and archived[0]["status"] == "done"
    assert employee.ok("GET", "transfer/find", query=f"id={JOB_ARCHIVED}") == []
    assert employee.ok("GET", "Transfer/find", entityid="0123456789abcdef01234567") == []
    assert employee.ok("GET", "Queue/find", entityid=MEDIUM_QUEUE_ID)[0]["code"] == "medium"
    assert employee.ok("GET", "User/find", entityid=USER_ID)[0]["role"] == "standard"


def test_get_entity_of_an_invisible_entity_is_empty(standard: V3Client) -> None:
    assert standard.ok("GET", "Transfer/find", entityid=JOB_LATEST_EDIT) == []
    assert standard.ok("GET", "Transfer/find", entityid=JOB_UPLOAD)[0]["id"] == JOB_UPLOAD
    assert standard.ok("GET", "User/find", entityid=EMPLOYEE_ID) == []


def test_single_entity_query_looks_among_finished_ones(employee: V3Client) -> None:
    query = f"id={JOB_ABORTED}"
    assert employee.ok("GET", "transfer/find", query=query) == []
    found = employee.ok("GET", "transfer/find", {"single_entity_query": True}, query=query)
    assert [job["id"] for job in found] == [JOB_ABORTED]
    archived = employee.ok(
        "GET", "transfer/find", {"single_entity_query": True}, query=f"id={JOB_ARCHIVED}"
    )
    assert archived == []  # the archive is not searched
    many = employee.ok("GET", "transfer/find", {"single_entity_query": True})
    assert len(many) == 1 and len(employee.ok("GET", "transfer/find")) > 1


def test_find_flags(employee: V3Client) -> None:
    assert employee.ok("GET", "user/find", {"inactive": True})
    refused = employee.call("GET", "transfer/find", {"inactive": "yes"})
    assert refused["error_code"] == "invalid_data"
    page = employee.ok("GET", "transfer/find", {"limit": 2, "skip": 1})
    assert page == employee.ok("GET", "transfer/find")[1:3]
    assert employee.ok("GET", "transfer/find", {"archived": True}, query=f"id={JOB_ARCHIVED}")
    assert employee.ok(
        "GET", "transfer/find", {"parent": MEDIUM_QUEUE_ID, "attributes": ["parent"]}
    )


# -- tasks ---------------------------------------------------------------------------


def test_task_find_by_parent_or_job_id(employee: V3Client) -> None:
    by_parent = employee.ok("GET", "task/find", {"parent": JOB_LATEST_EDIT})
    by_query = employee.ok("GET", "task/find", query=f"job.id={JOB_LATEST_EDIT}")
    assert by_parent == by_query and len(by_parent) == 2
    both = employee.ok("GET", "task/find", {"parent": JOB_LATEST_EDIT}, query="uri=1")
    assert [task["uri"] for task in both] == ["1"]
    assert both[0]["job_hr"] == f"transfer:latest_edit.mov({JOB_LATEST_EDIT})"
    assert both[0]["finished"] is None
    refused = employee.call("GET", "task/find")
    assert refused["error_code"] == "invalid_query" and "parent" in refused["message_hr"]


def test_task_create_and_edit_name_the_job_in_the_envelope_id(employee: V3Client) -> None:
    job_id = _new_job(employee)
    one = employee.ok(
        "POST",
        "task/create",
        {"tasks": {"source": "share=projects/thefilm/b.mov", "destination": "in/b.mov"}},
        entityid=job_id,
    )
    assert len(one) == 1 and one[0]["uri"] == "1"
    edited = employee.ok("PUT", "task/edit", [{"uri": "1", "status": "onhold"}], entityid=job_id)
    assert edited[0]["id"] == one[0]["id"] and edited[0]["status"] == "onhold"
    by_id = employee.ok("PUT", "task/edit", [{"id": one[0]["id"], "priority": 7}], entityid=job_id)
    assert by_id[0]["priority"] == 7
    missing = employee.call("PUT", "task/edit", [{"uri": "9", "status": "onhold"}], entityid=job_id)
    assert missing["error_code"] == "not_found"


def test_task_duplicates_retry_refuse_or_replace(employee: V3Client) -> None:
    job_id = _new_job(employee)
    task = {"source": "share=projects/thefilm/c.mov", "destination": "in/c.mov"}
    first = employee.ok("POST", "task/create", {"tasks": [task]}, entityid=job_id)[0]
    employee.ok("PUT", "task/edit", [{"id": first["id"], "status": "failed"}], entityid=job_id)
    retried = employee.ok("POST", "task/create", {"tasks": [task]}, entityid=job_id)[0]
    assert retried["id"] == first["id"] and retried["status"] == "queued"
    refused = employee.call(
        "POST", "task/create", {"tasks": [task], "allow_duplicates": False}, entityid=job_id
    )
    assert refused["error_code"] == "invalid_data" and first["id"] in refused["message_hr"]
    replaced = employee.ok(
        "POST", "task/create", {"tasks": [task], "replace_duplicates": True}, entityid=job_id
    )[0]
    assert replaced["id"] != first["id"] and replaced["uri"] == first["uri"]
    tasks = employee.ok("GET", "task/find", {"parent": job_id})
    assert [t["id"] for t in tasks].count(replaced["id"]) == 1
    assert first["id"] not in [t["id"] for t in tasks] and len(tasks) == 2


def test_adding_a_task_to_a_done_job_puts_it_back_to_waiting(employee: V3Client) -> None:
    job_id = _new_job(employee)
    employee.ok("PUT", "transfer/edit", {"status": "done"}, entityid=job_id)
    task = {"source": "share=projects/thefilm/late.mov", "destination": "in/late.mov"}
    employee.ok("POST", "task/create", {"tasks": [task]}, entityid=job_id)
    job = employee.ok("GET", "Transfer/find", entityid=job_id)[0]
    assert job["status"] == "waiting" and job["finished"] is None


def test_delete_takes_force_or_null_data(employee: V3Client) -> None:
    for data in ({"force": True}, None):
        job_id = _new_job(employee, f"{data is None}.mov")
        event = v3_event("transfer/delete", entityid=job_id)
        event["data"] = data
        response = employee.send("DELETE", event)
        assert response.status_code == 200 and response.json() == {"result": True}
        assert employee.ok("GET", "transfer/find", query=f"id={job_id}") == []
        # v3 deletes to the archive: get_entity still answers it
        assert [row["id"] for row in employee.ok("GET", "Transfer/find", entityid=job_id)] == [
            job_id
        ]


# -- roles -------------------------------------------------------------------------------


def test_standard_is_the_v3_name_of_the_restricted_user(standard: V3Client) -> None:
    users = standard.ok("GET", "user/find")
    assert users == [
        {
            "id": USER_ID,
            "code": "user@mail.com",
            "role": "standard",
            "status": "enabled",
            "created": users[0]["created"],
        }
    ]
    assert [job["id"] for job in standard.ok("GET", "transfer/find")] == [JOB_UPLOAD]
    assert standard.ok("GET", "folder/find") == []


def test_user_find_lists_the_caller_first(server: LocalServer) -> None:
    admin = V3Client(server, "admin")
    users = admin.ok("GET", "user/find")
    assert users[0]["code"] == "admin@acmevfx.com" and len(users) == 4
    employee = V3Client(server, "employee")
    assert employee.ok("GET", "user/find")[0]["code"] == "employee@acmevfx.com"
    admin.close()
    employee.close()


# -- time --------------------------------------------------------------------------------


def test_finished_jobs_leave_the_active_list_on_v3_too() -> None:
    backend = Backend(clock=Clock())
    with LocalServer(backend=backend, api_version="3") as server:
        client = V3Client(server)
        job_id = _new_job(client)
        client.ok("PUT", "transfer/edit", {"status": "done"}, entityid=job_id)
        assert client.ok("GET", "transfer/find", query=f"id={job_id}")
        backend.clock.advance(hours=2)
        assert client.ok("GET", "transfer/find", query=f"id={job_id}") == []
        assert client.ok("GET", "transfer/find", {"finished": True}, query=f"id={job_id}")
        client.close()


# -- the query operators of each generation -----------------------------------------------


def _v1_find(server: LocalServer, query: str) -> Dict[str, Any]:
    """A v1.0 ``job/find`` over raw HTTP (the client might refuse the query before sending)."""
    credentials = server.credentials("employee", api_version="1.0")
    secret = base64.b64encode(json.dumps(credentials).encode()).decode()
    with requests.Session() as http:
        http.trust_env = False
        login = http.put(
            f"{server.url}/api/v1.0/user/login/auth",
            headers={"Authorization": f"ASCredentials {secret}"},
            json={"session": "s"},
        ).json()
        header = {"domain": "acmevfx", "username": credentials["username"]}
        header["session_key"] = login["session_key"]
        session = base64.b64encode(json.dumps(header).encode()).decode()
        event = quote(json.dumps(raw_event("job/find", {"type": 1}, query=query)), safe="")
        reply = http.get(
            f"{server.url}/api/v1.0/event?{event}",
            headers={"Authorization": f"ASSession {session}"},
        ).json()
    assert isinstance(reply, dict)
    return reply


def test_v3_operators_are_served_on_v3_only(server: LocalServer, employee: V3Client) -> None:
    found = employee.ok("GET", "transfer/find", query='name contains "edit"')
    assert [job["id"] for job in found] == [JOB_LATEST_EDIT]
    assert [job["id"] for job in _v1_find(server, "code=latest_edit.mov")["result"]] == [
        JOB_LATEST_EDIT
    ]
    refused = _v1_find(server, 'code contains "edit"')
    assert refused["error_code"] == "invalid_query" and "contains" in refused["message_hr"]
