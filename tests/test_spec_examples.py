"""Every example of spec/jobs.rst, run as written against the reference server over HTTP.

Where the documentation contradicts itself, the test follows what a user
expects and docs/spec-deviations.rst names the case.
"""

from __future__ import annotations

import datetime

import pytest

import accsyn_api
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
TASKS_JOB_ID = "5a7325f8b7ef72f5f9d74bf4"
EXCLUDED_TASK_ID = "b8401ce0-9c6c-4c32-98c6-61d18db01f07"
ONHOLD_TASK_ID = "cc5f2afa-9ae4-46e0-9273-82ac802b20ff"

JOB_KEYS = {
    "id", "code", "uri", "status", "created", "source", "source_hr", "destination",
    "destination_hr", "etr", "metadata", "parent", "parent_hr", "progress", "size",
    "speed", "user", "user_hr", "finished", "modified", "modifier",
}  # fmt: skip
TASK_KEYS = {
    "id", "uri", "status", "created", "source", "destination", "priority", "size",
    "finished", "time",
}  # fmt: skip


@pytest.fixture
def session(accsyn_session: accsyn_api.Session) -> accsyn_api.Session:
    return accsyn_session


def find_job(session: accsyn_api.Session, job_id: str, **options: bool) -> dict | None:
    return session.find_one(f"Job where id={job_id}", **options)


# -- Query ----------------------------------------------------------------------


def test_find_lists_active_jobs_as_dicts(session: accsyn_api.Session) -> None:
    jobs = session.find("Job")
    assert isinstance(jobs, list) and jobs
    assert all(isinstance(job, dict) for job in jobs)
    assert JOB_ID in {job["id"] for job in jobs}
    statuses = {job["status"] for job in jobs}
    assert statuses <= {
        "init",
        "pending",
        "waiting",
        "running",
        "paused",
        "failed",
        "aborted",
        "done",
    }


def test_the_returned_job_dict_has_the_documented_attributes(session: accsyn_api.Session) -> None:
    job = find_job(session, JOB_ID)
    assert job is not None
    assert set(job) >= JOB_KEYS
    assert job["code"] == "latest_edit.mov"
    assert job["uri"] == "acmevfx/medium"
    assert job["created"] == datetime.datetime(2021, 9, 24, 7, 45, 49)
    assert isinstance(job["finished"], datetime.datetime)
    assert isinstance(job["modified"], datetime.datetime)
    assert job["source_hr"] == "organization:acmevfx"
    assert job["destination_hr"] == "user:lars@edit.com(user)"
    assert job["parent"] == "5a4f72111da7ee15c5d43af4"
    assert job["parent_hr"] == "job:acmevfx/medium(5a4f72111da7ee15c5d43af4)"
    assert job["source"].startswith("organization:") and job["destination"].startswith("user:")
    assert isinstance(job["metadata"], dict)
    assert 0 <= job["progress"] <= 100


def test_find_one_by_code_with_quotes_and_whitespace(session: accsyn_api.Session) -> None:
    job = session.find_one('Job where code="x and y.png"')
    assert job is not None
    assert job["code"] == "x and y.png"


def test_find_one_returns_none_when_nothing_matches(session: accsyn_api.Session) -> None:
    assert session.find_one('Job where code="no such job.mov"') is None


def test_session_str_pretty_prints_a_job(
    session: accsyn_api.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    job = session.find_one('Job where code="x and y.png"')
    print(session.str(job))
    printed = capsys.readouterr().out
    assert '"code": "x and y.png"' in printed
    assert job is not None and job["id"] in printed
    assert "\n" in printed.strip()  # indented over several lines


def test_find_one_by_user_email(session: accsyn_api.Session) -> None:
    job = session.find_one("Job where user=user@mail.com")
    assert job is not None
    assert "user@mail.com" in job["user_hr"]


def test_find_one_by_destination_site_name(session: accsyn_api.Session) -> None:
    job = session.find_one('Job where destination="stockholm"')
    assert job is not None
    assert "stockholm" in job["destination_hr"]


def test_find_one_downloads_from_main_site(session: accsyn_api.Session) -> None:
    job = session.find_one("Job where source=hq")
    assert job is not None
    assert job["source_hr"] == "organization:acmevfx"


# -- Inactive jobs ----------------------------------------------------------------


def test_aborted_jobs_leave_the_active_list_and_come_back_with_finished(
    session: accsyn_api.Session,
) -> None:
    active = session.find("Job where status=aborted")
    inactive = session.find("Job where status=aborted", finished=True)
    assert inactive, "the demo workspace holds a job aborted two hours ago"
    assert all(job["status"] == "aborted" for job in inactive)
    assert {job["id"] for job in active} < {job["id"] for job in inactive}


def test_done_jobs_are_archived_after_two_weeks(session: accsyn_api.Session) -> None:
    archived = session.find("Job where status=done", archived=True)
    finished = session.find("Job where status=done", finished=True)
    assert archived and all(job["status"] == "done" for job in archived)
    assert {job["id"] for job in finished} < {job["id"] for job in archived}


def test_a_job_aborted_now_becomes_inactive_after_one_hour(
    session: accsyn_api.Session, accsyn_server: LocalServer
) -> None:
    session.update("job", JOB_ID, {"status": "aborted"})
    assert find_job(session, JOB_ID) is not None
    accsyn_server.backend.clock.advance(minutes=61)
    assert find_job(session, JOB_ID) is None
    assert find_job(session, JOB_ID, finished=True) is not None
    accsyn_server.backend.clock.advance(days=14)
    assert find_job(session, JOB_ID, finished=True) is None
    assert find_job(session, JOB_ID, archived=True) is not None


# -- Create -----------------------------------------------------------------------


def create_example_job(session: accsyn_api.Session) -> dict:
    return session.create(
        "Job",
        {
            "source": "share=projects/thefilm/latest_edit.mov",
            "destination": "lars@edit.com",
            "status": "paused",
        },
    )


def test_create_a_job_from_a_share_to_a_user(session: accsyn_api.Session) -> None:
    job = create_example_job(session)
    assert set(job) >= JOB_KEYS
    assert job["status"] == "paused"
    assert job["code"] == "latest_edit.mov"  # named after the first source file
    assert "lars@edit.com" in job["destination_hr"]
    assert job["user_hr"].startswith("user:employee@acmevfx.com")
    assert find_job(session, job["id"]) == job


# -- Modify -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "waiting", "aborted", "pending"])
def test_update_job_status(session: accsyn_api.Session, status: str) -> None:
    job = session.update("job", "614d660de50d45bb027c9bdd", {"status": status})
    assert job["status"] == status
    assert find_job(session, JOB_ID, finished=True)["status"] == status  # type: ignore[index]


def test_pause_resume_and_abort_in_sequence(session: accsyn_api.Session) -> None:
    session.update("job", "614d660de50d45bb027c9bdd", {"status": "paused"})
    session.update("job", "614d660de50d45bb027c9bdd", {"status": "waiting"})
    job = session.update("job", "614d660de50d45bb027c9bdd", {"status": "aborted"})
    assert job["status"] == "aborted"
    assert job["finished"] > datetime.datetime(2000, 1, 1)


def test_update_many_excludes_a_task_job_id_first(session: accsyn_api.Session) -> None:
    tasks = session.update_many(
        "task",
        "614d660de50d45bb027c9bdd",
        [{"id": "b8401ce0-9c6c-4c32-98c6-61d18db01f07", "status": "excluded"}],
    )
    assert [task["id"] for task in tasks] == [EXCLUDED_TASK_ID]
    assert tasks[0]["status"] == "excluded"
    stored = session.find(f"task WHERE job.id={JOB_ID} AND id={EXCLUDED_TASK_ID}")
    assert stored[0]["status"] == "excluded"


def test_update_many_tasks_list_first_with_entityid(session: accsyn_api.Session) -> None:
    # The documentation uses find() here as if it returned one job; find_one() does.
    job = session.find_one('job WHERE code="my_transfer"')
    assert job is not None
    updated_job = session.update_many(
        "task",
        [{"id": "cc5f2afa-9ae4-46e0-9273-82ac802b20ff", "status": "onhold"}],
        entityid=job["id"],
    )
    assert updated_job[0]["id"] == ONHOLD_TASK_ID
    assert updated_job[0]["status"] == "onhold"
    assert set(updated_job[0]) >= TASK_KEYS


# -- Delete -----------------------------------------------------------------------


def test_delete_a_job(session: accsyn_api.Session) -> None:
    session.delete_one("job", "614d660de50d45bb027c9bdd")
    assert find_job(session, JOB_ID, archived=True) is None
    with pytest.raises(accsyn_api.NotFound):
        session.update("job", JOB_ID, {"status": "paused"})


# -- Tasks ------------------------------------------------------------------------


def test_find_tasks_of_a_job(session: accsyn_api.Session) -> None:
    tasks = session.find("task WHERE job.id=5a7325f8b7ef72f5f9d74bf4")
    assert len(tasks) >= 2
    assert all(set(task) >= TASK_KEYS for task in tasks)
    example = next(t for t in tasks if t["id"] == "26468234-c9ee-48d6-8d28-e900b5957129")
    assert example["status"] == "queued"
    assert isinstance(example["created"], datetime.datetime)
    assert example["source"]["path"] == "A001_C011_09187Ia.mov"
    assert isinstance(example["source"], dict) and isinstance(example["destination"], dict)


def test_find_tasks_that_are_not_executing(session: accsyn_api.Session) -> None:
    every = session.find("task WHERE job.id=5a7325f8b7ef72f5f9d74bf4")
    others = session.find("task WHERE job.id=5a7325f8b7ef72f5f9d74bf4 AND status<>executing")
    assert any(task["status"] == "executing" for task in every)
    assert others and all(task["status"] != "executing" for task in others)
    assert len(others) == len([t for t in every if t["status"] != "executing"])


def test_add_a_task_with_mirrored_paths(session: accsyn_api.Session) -> None:
    job = create_example_job(session)
    before = session.find(f"task WHERE job.id={job['id']}")
    # The documentation's line ends with a stray ")"; this is the call it means.
    result = session.create(
        "task", {"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]}, job["id"]
    )
    assert result["success"] is True
    after = session.find(f"task WHERE job.id={job['id']}")
    assert len(after) == len(before) + 1
    added = next(t for t in after if t["id"] not in {b["id"] for b in before})
    assert added["source"]["path"].endswith("creatures_showreel_2018.mov")


def test_add_a_task_with_a_new_destination(session: accsyn_api.Session) -> None:
    job = create_example_job(session)
    result = session.create(
        "task",
        {
            "tasks": [
                {
                    "source": "share=projects/_REF/creatures_showreel_2018.mov",
                    "destination": "share=projects/TMP/creatures_showreel_2018_tmp.mov",
                }
            ]
        },
        job["id"],
    )
    assert result["success"] is True
    paths = {t["destination"]["path"] for t in session.find(f"task WHERE job.id={job['id']}")}
    assert any(path.endswith("TMP/creatures_showreel_2018_tmp.mov") for path in paths)


def test_a_duplicate_task_retries_the_existing_one(session: accsyn_api.Session) -> None:
    job = create_example_job(session)
    spec = {"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]}
    first = session.create("task", spec, job["id"])["tasks"][0]
    session.update_many("task", job["id"], [{"id": first["id"], "status": "failed"}])
    again = session.create("task", spec, job["id"])
    assert again["success"] is True
    assert [t["id"] for t in again["tasks"]] == [first["id"]]
    assert again["tasks"][0]["status"] == "queued"
    tasks = session.find(f"task WHERE job.id={job['id']}")
    assert [t["id"] for t in tasks].count(first["id"]) == 1


def test_a_duplicate_task_is_refused_with_allow_duplicates_false(
    session: accsyn_api.Session,
) -> None:
    job = create_example_job(session)
    spec = {"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]}
    session.create("task", spec, job["id"])
    count = len(session.find(f"task WHERE job.id={job['id']}"))
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.create("task", spec, job["id"], allow_duplicates=False)
    assert "duplicate" in str(refused.value).lower() or "exists" in str(refused.value).lower()
    assert len(session.find(f"task WHERE job.id={job['id']}")) == count


def test_a_task_path_cannot_be_modified(session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.update_many(
            "task", JOB_ID, [{"id": EXCLUDED_TASK_ID, "source": {"path": "/elsewhere.mov"}}]
        )
    assert "source" in str(refused.value)
    task = session.find(f"task WHERE job.id={JOB_ID} AND id={EXCLUDED_TASK_ID}")[0]
    assert task["source"]["path"] != "/elsewhere.mov"


def test_a_task_cannot_be_deleted(session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.delete_one("task", EXCLUDED_TASK_ID)
    assert "excluded" in str(refused.value)
    assert session.find(f"task WHERE job.id={JOB_ID} AND id={EXCLUDED_TASK_ID}")


# -- The status tables ------------------------------------------------------------

JOB_STATUSES = {
    "init": False, "pending": True, "waiting": True, "running": False,
    "paused": True, "failed": False, "aborted": True, "done": True,
}  # fmt: skip
TASK_STATUSES = {
    "pending": False, "queued": True, "booting": False, "executing": False,
    "failed": True, "onhold": True, "excluded": True, "done": True,
}  # fmt: skip


@pytest.mark.parametrize(("status", "writeable"), sorted(JOB_STATUSES.items()))
def test_job_status_writeable_column(
    session: accsyn_api.Session, status: str, writeable: bool
) -> None:
    before = find_job(session, JOB_ID)
    assert before is not None
    if writeable:
        assert session.update("job", JOB_ID, {"status": status})["status"] == status
        return
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.update("job", JOB_ID, {"status": status})
    assert status in str(refused.value) and "paused" in str(refused.value)
    assert find_job(session, JOB_ID) == before


@pytest.mark.parametrize(("status", "writeable"), sorted(TASK_STATUSES.items()))
def test_task_status_writeable_column(
    session: accsyn_api.Session, status: str, writeable: bool
) -> None:
    change = [{"id": EXCLUDED_TASK_ID, "status": status}]
    if writeable:
        assert session.update_many("task", JOB_ID, change)[0]["status"] == status
        return
    before = session.find(f"task WHERE job.id={JOB_ID}")
    with pytest.raises(accsyn_api.InvalidData) as refused:
        session.update_many("task", JOB_ID, change)
    assert status in str(refused.value) and "excluded" in str(refused.value)
    assert session.find(f"task WHERE job.id={JOB_ID}") == before


def test_a_task_with_its_own_destination_keeps_the_job_mirrored(
    session: accsyn_api.Session,
) -> None:
    # Both task examples of the chapter, one after the other on the same job.
    job = create_example_job(session)
    explicit = {
        "source": "share=projects/_REF/creatures_showreel_2018.mov",
        "destination": "share=projects/TMP/creatures_showreel_2018_tmp.mov",
    }
    session.create("task", {"tasks": [explicit]}, job["id"])
    mirrored = session.create(
        "task", {"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]}, job["id"]
    )
    assert mirrored["success"] is True
    assert len(session.find(f"task WHERE job.id={job['id']}")) == 3
