"""One API on two generations: what the Session sends on each, and what differs for callers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

import pytest
from generations import both_generations

import accsyn_api
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
OTHER_USERS_JOB = "5a7325f8b7ef72f5f9d74bf4"

pytestmark = both_generations


def _events(server: LocalServer, uri: str) -> List[Dict[str, Any]]:
    return [event for event in server.events if event.get("uri") == uri]


def _new_job(session: accsyn_api.Session, code: str) -> Dict[str, Any]:
    job = session.create(
        "job",
        {"code": code, "source": "share=projects/a/first.exr", "destination": "lars@edit.com"},
    )
    assert isinstance(job, dict)
    return job


def test_the_session_says_which_generation_it_speaks(accsyn_server: LocalServer) -> None:
    version = accsyn_server.api_version
    with accsyn_server.session("employee") as session:
        assert session.api_version == version
        assert session.url == f"{accsyn_server.url}{names.API_PATHS[version]}"
        assert f"api_version={version!r}" in repr(session)


@pytest.mark.parametrize("entitytype", ["Job", "Transfer", "job", "TRANSFER"])
def test_job_and_transfer_name_the_same_entity(
    accsyn_session: accsyn_api.Session, entitytype: str
) -> None:
    jobs = accsyn_session.find(f"{entitytype} where id={JOB_ID}")
    assert [job["id"] for job in jobs] == [JOB_ID]
    assert accsyn_session.update(entitytype, JOB_ID, {"status": "paused"})["status"] == "paused"
    found = accsyn_session.get_entity(entitytype, JOB_ID)
    assert found is not None and found["status"] == "paused"


def test_get_entity_finds_a_job_whatever_its_state(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("employee") as session:
        job = _new_job(session, "soon_archived.exr")
        session.update("job", job["id"], {"status": "done"})
        accsyn_server.backend.clock.advance(days=30)
        assert session.find(f"Job where id={job['id']}") == []  # archived: not active
        found = session.get_entity("job", job["id"])
        assert found is not None and found["id"] == job["id"] and found["status"] == "done"
        assert session.get_entity("job", "ffffffffffffffffffffffff") is None


def test_get_entity_is_none_for_a_job_the_user_may_not_see(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("user") as restricted:
        assert restricted.get_entity("job", OTHER_USERS_JOB) is None


def test_dates_are_naive_on_v1_and_aware_utc_on_v3(accsyn_session: accsyn_api.Session) -> None:
    job = accsyn_session.get_entity("job", JOB_ID)
    assert job is not None and isinstance(job["created"], dt.datetime)
    if accsyn_session.api_version == names.V1:
        assert job["created"].tzinfo is None
    else:
        assert job["created"].utcoffset() == dt.timedelta(0)


def test_tasks_travel_in_each_generations_layout(accsyn_server: LocalServer) -> None:
    v3 = accsyn_server.api_version == names.V3
    with accsyn_server.session("employee") as session:
        job = _new_job(session, "layout.exr")
        created = session.create("task", {"tasks": ["/a/one.exr", "/a/two.exr"]}, job["id"])
        assert [t["source"]["path"] for t in created["tasks"]] == ["/a/one.exr", "/a/two.exr"]
        tasks = session.find(f"Task where job.id={job['id']} and status=queued")
        assert len(tasks) == 3
        session.update_many("task", job["id"], [{"id": tasks[1]["id"], "status": "excluded"}])
        statuses = [t["status"] for t in session.find(f"Task where job.id={job['id']}")]
        assert statuses == ["queued", "excluded", "queued"]
    create = _events(accsyn_server, "task/create" if v3 else "job/task/create")[-1]
    find = _events(accsyn_server, "task/find" if v3 else "job/task/find")[-1]
    edit = _events(accsyn_server, "task/edit" if v3 else "job/task/edit")[-1]
    assert create["id"] == edit["id"] == job["id"]
    if v3:  # the job travels as the parent of a task find
        assert find["data"]["parent"] == job["id"]
    else:
        assert create["query"] == job["id"]


def test_find_one_also_looks_among_finished_jobs_on_v3_only(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("employee") as session:
        job = _new_job(session, "finished_one.exr")
        session.update("job", job["id"], {"status": "done"})
        accsyn_server.backend.clock.advance(hours=2)  # no longer active
        found = session.find_one(f"Job where id={job['id']}")
        if session.api_version == names.V3:
            assert found is not None and found["id"] == job["id"]
        else:
            assert found is None
            assert session.find_one(f"Job where id={job['id']}", finished=True) is not None


def test_pending_is_a_job_status_of_v1_only(accsyn_session: accsyn_api.Session) -> None:
    if accsyn_session.api_version == names.V1:
        job = accsyn_session.update("job", JOB_ID, {"status": "pending"})
        assert job["status"] == "pending"
        return
    with pytest.raises(accsyn_api.InvalidData) as error:
        accsyn_session.update("job", JOB_ID, {"status": "pending"})
    for status in names.JOB_WRITEABLE_STATUSES[names.V3]:
        assert status in str(error.value)


def test_v3_only_options_are_refused_before_sending_on_v1(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("employee") as session:
        job = _new_job(session, "options.exr")
        sent = len(accsyn_server.events)
        if session.api_version == names.V3:
            assert isinstance(session.find("User", inactive=True), list)
            task = {"tasks": ["/a/first.exr"]}
            replaced = session.create("task", task, job["id"], replace_duplicates=True)
            assert replaced["tasks"][0]["source"]["path"] == "/a/first.exr"
            assert len(accsyn_server.events) == sent + 2
            return
        with pytest.raises(accsyn_api.InvalidData, match="v3 API"):
            session.find("User", inactive=True)
        with pytest.raises(accsyn_api.InvalidData, match="v3 API"):
            session.create("task", {"tasks": ["/a/x.exr"]}, job["id"], replace_duplicates=True)
        assert len(accsyn_server.events) == sent  # nothing went out


def test_a_duplicate_task_is_refused_when_duplicates_are_not_allowed(
    accsyn_session: accsyn_api.Session,
) -> None:
    job = _new_job(accsyn_session, "duplicates.exr")
    again = accsyn_session.create("task", {"tasks": ["/a/b.exr"]}, job["id"])
    retried = accsyn_session.create("task", {"tasks": ["/a/b.exr"]}, job["id"])
    assert retried["tasks"][0]["id"] == again["tasks"][0]["id"]  # the existing task, retried
    with pytest.raises(accsyn_api.InvalidData):
        accsyn_session.create("task", {"tasks": ["/a/b.exr"]}, job["id"], allow_duplicates=False)


def test_v3_operators_work_on_v3_and_are_refused_before_sending_on_v1(
    accsyn_server: LocalServer,
) -> None:
    with accsyn_server.session("employee") as session:
        sent = len(accsyn_server.events)
        query = 'Job where code contains "edit" and priority >= 0'
        if session.api_version == names.V3:
            assert [job["id"] for job in session.find(query)] == [JOB_ID]
            return
        with pytest.raises(accsyn_api.InvalidQuery, match="v3 API"):
            session.find(query)
        assert len(accsyn_server.events) == sent


def test_the_workspace_is_sent_under_each_generations_key(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("employee") as session:
        session.find("Job")
        event = accsyn_server.events[-1]
    key = names.V3_WORKSPACE_KEY if session.api_version == names.V3 else names.V1_WORKSPACE_KEY
    assert event[key] == "acmevfx"
    if session.api_version == names.V3:  # v3 always carries data, UTC "created"
        assert "data" in event and "domain" not in event
