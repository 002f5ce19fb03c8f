"""The reference server's rules, driven directly on the Backend object (no HTTP)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any, Dict, List, Optional

import pytest

from accsyn_api.testing import Backend, Clock
from accsyn_api.testing.demo import FIXED_API_KEYS
from accsyn_api.testing.reads import Reader

JOB_EDIT = "614d660de50d45bb027c9bdd"  # latest_edit.mov, init, hq -> lars@edit.com
JOB_ROLLS = "5a7325f8b7ef72f5f9d74bf4"  # tasks not mirrored, one executing
TASK_EDIT = "b8401ce0-9c6c-4c32-98c6-61d18db01f07"
TASK_ROLLS_QUEUED = "26468234-c9ee-48d6-8d28-e900b5957129"
TASK_MY_TRANSFER = "cc5f2afa-9ae4-46e0-9273-82ac802b20ff"
START = datetime(2024, 3, 1, 12, 0, 0)


class Caller:
    """Logs in as one demo role and sends events the way the server would hand them over."""

    def __init__(self, backend: Backend, role: str = "employee") -> None:
        self.backend = backend
        self.role = role
        self.session: Dict[str, Any] = {}
        self.user_id = ""
        self.login()

    def login(self) -> None:
        """Log in (again): a session key lives 24 hours by the backend's clock."""
        credentials = self.backend.credentials(self.role)
        reply = self.backend.login(credentials, {"session": str(uuid.uuid4())})
        assert "session_key" in reply, reply
        self.user_id = reply["id"]
        self.session = {
            "domain": credentials["domain"],
            "username": credentials["username"],
            "session_key": reply["session_key"],
        }

    def call(
        self,
        method: str,
        uri: str,
        *,
        data: Any = None,
        query: Optional[str] = None,
        entity_id: Optional[str] = None,
        eid: Optional[str] = None,
    ) -> Dict[str, Any]:
        event: Dict[str, Any] = {
            "audience": "api",
            "domain": "acmevfx",
            "eid": eid or str(uuid.uuid4()),
            "uri": uri,
        }
        if data is not None:
            event["data"] = data
        if query is not None:
            event["query"] = query
        if entity_id is not None:
            event["id"] = entity_id
        return self.backend.handle(method, event, self.session)

    def ok(self, method: str, uri: str, **kwargs: Any) -> Any:
        reply = self.call(method, uri, **kwargs)
        if reply.get("error_code") == "session_expired":  # as a client does: log in again
            self.login()
            reply = self.call(method, uri, **kwargs)
        assert "result" in reply, reply
        return reply["result"]

    def refused(self, code: str, method: str, uri: str, **kwargs: Any) -> Dict[str, Any]:
        reply = self.call(method, uri, **kwargs)
        assert reply.get("error_code") == code, reply
        assert reply["message"] and reply["message_hr"], reply
        return reply

    def jobs(self, query: Optional[str] = None, **data: Any) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.ok("GET", "job/find", query=query, data=data or None)
        return result

    def tasks(self, query: str, **data: Any) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.ok(
            "GET", "job/task/find", query=query, data=data or None
        )
        return result


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def backend(clock: Clock) -> Backend:
    return Backend(clock=clock)


@pytest.fixture
def employee(backend: Backend) -> Caller:
    return Caller(backend, "employee")


def codes(rows: List[Dict[str, Any]]) -> List[str]:
    return [row["code"] for row in rows]


# ------------------------------------------------------------------ clock / login


def test_clock_starts_where_told_and_advances() -> None:
    clock = Clock(START)
    assert abs((clock.now() - START).total_seconds()) <= 2
    assert clock.now().microsecond == 0 and clock.now().tzinfo is None
    clock.advance(days=15, hours=2)
    assert abs((clock.now() - START).total_seconds() - (15 * 86400 + 7200)) <= 2


def test_login_succeeds_with_demo_credentials(backend: Backend) -> None:
    for role in ("admin", "employee", "user"):
        reply = backend.login(backend.credentials(role), {"session": str(uuid.uuid4())})
        assert reply["clearance"] == role
        assert len(reply["session_key"]) == 32 and len(reply["id"]) == 24
    first = backend.login(backend.credentials(), {"session": "a"})["session_key"]
    assert first != backend.login(backend.credentials(), {"session": "b"})["session_key"]


@pytest.mark.parametrize(
    "field, value",
    [("api_key", "wrong"), ("username", "nobody@acmevfx.com"), ("domain", "otherco")],
)
def test_login_refused_with_one_generic_message(backend: Backend, field: str, value: str) -> None:
    credentials = dict(backend.credentials("admin"), **{field: value})
    reply = backend.login(credentials, {"session": "s"})
    assert reply["error_code"] == "authentication_failed"
    assert "session_key" not in reply
    generic = backend.login(dict(backend.credentials("admin"), api_key="x"), {})
    assert reply["message_hr"] == generic["message_hr"]
    assert backend.credentials("admin")["api_key"] not in str(reply)


def test_missing_or_unknown_session_is_refused(backend: Backend) -> None:
    event = {"uri": "job/find", "domain": "acmevfx", "eid": "e1"}
    assert backend.handle("GET", event, None)["error_code"] == "authentication_failed"
    fake = {"domain": "acmevfx", "username": "employee@acmevfx.com", "session_key": "0" * 32}
    assert backend.handle("GET", event, fake)["error_code"] == "authentication_failed"


def test_expired_session_is_flagged_and_a_new_login_works(backend: Backend) -> None:
    caller = Caller(backend)
    backend.expire_sessions()
    reply = caller.call("GET", "job/find")
    assert reply["session_expired"] is True and reply["error_code"] == "session_expired"
    assert "log in again" in reply["message_hr"]
    assert Caller(backend).jobs()  # a fresh login gets a working key


# ------------------------------------------------------------------ envelope / dispatch


@pytest.mark.parametrize(
    "event, field",
    [
        ({"domain": "acmevfx"}, "uri"),
        ({"uri": 5}, "uri"),
        ({"uri": "job/find", "domain": "otherco"}, "domain"),
        ({"uri": "job/find", "data": "text"}, "data"),
        ({"uri": "job/find", "query": ["status=init"]}, "query"),
        ({"uri": "job/edit", "id": 12}, "id"),
    ],
)
def test_envelope_is_validated(employee: Caller, event: Dict[str, Any], field: str) -> None:
    reply = employee.backend.handle("GET", event, employee.session)
    assert reply["error_code"] == "invalid_data"
    assert f"'{field}'" in reply["message"]


def test_unknown_entity_type_lists_the_known_ones(employee: Caller) -> None:
    reply = employee.refused("not_found", "GET", "spaceship/find")
    assert "job" in reply["message_hr"] and "task" in reply["message_hr"]


def test_wrong_method_is_refused(employee: Caller) -> None:
    reply = employee.refused("invalid_data", "POST", "job/find")
    assert "GET" in reply["message_hr"]


def test_internal_fault_is_an_exception_reply(
    backend: Backend, employee: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(Reader, "entitytypes", broken)
    reply = employee.call("GET", "entitytypes")
    assert reply == {"exception": "RuntimeError: boom"}


def test_repeated_eid_returns_the_stored_reply_without_doing_it_again(
    backend: Backend, employee: Caller
) -> None:
    spec = {"source": "share=projects/thefilm/cut.mov", "destination": "lars@edit.com"}
    first = employee.call("POST", "job/create", data=spec, eid="eid-create-1")
    second = employee.call("POST", "job/create", data=spec, eid="eid-create-1")
    assert first == second and first["result"][0]["code"] == "cut.mov"
    assert backend.executions("eid-create-1") == 1
    assert codes(employee.jobs("code=cut.mov")) == ["cut.mov"]
    assert backend.executions("never-sent") == 0
    second["result"][0]["code"] = "changed by caller"  # replies are copies
    third = employee.call("POST", "job/create", data=spec, eid="eid-create-1")
    assert third["result"][0]["code"] == "cut.mov"


def test_eid_reused_for_another_operation_is_refused(employee: Caller) -> None:
    employee.ok("GET", "entitytypes", eid="same")
    reply = employee.refused("invalid_data", "GET", "job/find", eid="same")
    assert "eid" in reply["message_hr"]


def test_handle_is_safe_from_threads(backend: Backend, employee: Caller) -> None:
    def create(n: int) -> None:
        spec = {"source": f"share=projects/t/f{n}.mov", "destination": "stockholm"}
        employee.ok("POST", "job/create", data=spec)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(employee.jobs("destination=stockholm")) == 21


# ------------------------------------------------------------------ reading jobs


def test_job_shape_matches_the_documented_example(employee: Caller) -> None:
    (job,) = employee.jobs('code="latest_edit.mov"')
    assert set(job) == {
        "id", "code", "uri", "status", "created", "source", "source_hr", "destination",
        "destination_hr", "etr", "metadata", "parent", "parent_hr", "progress", "size",
        "speed", "user", "user_hr", "finished", "modified", "modifier", "priority",
    }  # fmt: skip
    assert job["id"] == JOB_EDIT and job["uri"] == "acmevfx/medium" and job["status"] == "init"
    assert job["created"] == datetime(2021, 9, 24, 7, 45, 49)
    assert job["source"] == "organization:5a4f71ef1da7ee15c5d43ae3"
    assert job["source_hr"] == "organization:acmevfx"
    assert job["destination"] == "user:5d91b33ac71c12871d1fc3c2"
    assert job["destination_hr"] == "user:lars@edit.com(user)"
    assert job["parent"] == "5a4f72111da7ee15c5d43af4"
    assert job["parent_hr"] == "job:acmevfx/medium(5a4f72111da7ee15c5d43af4)"
    assert job["user_hr"] == "user:employee@acmevfx.com(employee)"
    assert job["finished"] == datetime(1970, 1, 1, 0, 0)
    assert job["modifier"] == "61bf395c46ed6081a2b2afc0"
    assert (job["size"], job["progress"], job["metadata"]) == (-1, 0, {})


def test_default_find_returns_active_jobs_only(employee: Caller) -> None:
    found = codes(employee.jobs())
    assert "latest_edit.mov" in found and "x and y.png" in found and "my_transfer" in found
    assert "old_delivery.mov" not in found and "archive_delivery.mov" not in found


def test_finished_and_archived_views(employee: Caller) -> None:
    assert employee.jobs("status=aborted") == []
    assert codes(employee.jobs("status=aborted", finished=True)) == ["old_delivery.mov"]
    assert employee.jobs("status=done", finished=True) == []
    assert codes(employee.jobs("status=done", archived=True)) == ["archive_delivery.mov"]


def test_finished_job_leaves_active_list_after_an_hour_and_archives_after_14_days(
    clock: Clock, employee: Caller
) -> None:
    (job,) = employee.ok("PUT", "job/edit", entity_id=JOB_EDIT, data={"status": "done"})
    assert abs((job["finished"] - clock.now()).total_seconds()) <= 2
    assert JOB_EDIT in [j["id"] for j in employee.jobs()]  # active for one hour
    clock.advance(hours=2)
    assert JOB_EDIT not in [j["id"] for j in employee.jobs()]
    assert JOB_EDIT in [j["id"] for j in employee.jobs(finished=True)]
    assert employee.tasks(f"job.id={JOB_EDIT}") == []  # tasks follow their job
    assert len(employee.tasks(f"job.id={JOB_EDIT}", finished=True)) == 2
    clock.advance(days=15)
    assert JOB_EDIT not in [j["id"] for j in employee.jobs(finished=True)]
    assert JOB_EDIT in [j["id"] for j in employee.jobs(archived=True)]


def test_references_by_human_name(employee: Caller) -> None:
    assert codes(employee.jobs("user=user@mail.com")) == ["upload_from_user.zip"]
    assert codes(employee.jobs('destination="stockholm"')) == ["my_transfer"]
    by_source = employee.jobs("source=hq")
    assert "latest_edit.mov" in codes(by_source) and "upload_from_user.zip" not in codes(by_source)
    # the organization (main site hq) or a share on hq
    assert {j["source_hr"] for j in by_source} == {"organization:acmevfx", "share:projects"}
    assert codes(employee.jobs("destination=lars@edit.com and status=paused")) == ["x and y.png"]
    assert {j["id"] for j in employee.jobs("parent=high")} == {
        j["id"] for j in employee.jobs("parent.code=high")
    }
    assert codes(employee.jobs("parent=high")) == ["my_transfer"]
    same = employee.jobs("destination=user:5d91b33ac71c12871d1fc3c2")
    assert codes(same) == codes(employee.jobs("destination=lars@edit.com"))


def test_values_match_case_insensitively(employee: Caller) -> None:
    assert codes(employee.jobs('CODE="X AND Y.PNG"')) == ["x and y.png"]
    assert codes(employee.jobs("user=USER@MAIL.COM")) == ["upload_from_user.zip"]


def test_boolean_queries_and_not_equal(employee: Caller) -> None:
    either = employee.jobs("code=my_transfer or (code=latest_edit.mov and status=init)")
    assert sorted(codes(either)) == ["latest_edit.mov", "my_transfer"]
    others = codes(employee.jobs("status!=init"))
    assert "latest_edit.mov" not in others and "my_transfer" in others
    assert codes(employee.jobs("priority=50 and code=my_transfer")) == ["my_transfer"]


def test_unknown_attribute_and_bad_syntax_are_invalid_query(employee: Caller) -> None:
    reply = employee.refused("invalid_query", "GET", "job/find", query="colour=red")
    assert "colour" in reply["message_hr"] and "status" in reply["message_hr"]
    employee.refused("invalid_query", "GET", "job/find", query="code=")
    employee.refused("invalid_query", "GET", "job/find", query="status.name=x")


def test_attributes_limit_and_skip(employee: Caller) -> None:
    everything = employee.jobs()
    page = employee.jobs(limit=2, skip=1, attributes=["code"])
    assert page == [{"id": j["id"], "code": j["code"]} for j in everything[1:3]]
    assert employee.jobs(skip=len(everything)) == []
    employee.refused("invalid_data", "GET", "job/find", data={"limit": -1})
    reply = employee.refused("invalid_data", "GET", "job/find", data={"attributes": ["nope"]})
    assert "nope" in reply["message_hr"]


def test_queues_sites_users_shares_organization(employee: Caller) -> None:
    queues = employee.ok("GET", "job/find", data={"type": 2})
    assert {q["code"] for q in queues} >= {"medium", "high"}
    (medium,) = employee.ok("GET", "job/find", data={"type": 2}, query="code=medium")
    assert medium["id"] == "5a4f72111da7ee15c5d43af4" and medium["uri"] == "acmevfx/medium"
    sites = employee.ok("GET", "organization/site/find")
    assert {s["code"] for s in sites} == {"hq", "stockholm"}
    (lars,) = employee.ok("GET", "user/find", query="code=lars@edit.com")
    assert lars["id"] == "5d91b33ac71c12871d1fc3c2" and "api_key" not in lars
    assert [s["code"] for s in employee.ok("GET", "share/find")] == ["projects"]
    (org,) = employee.ok("GET", "organization/find")
    assert org == {"id": "5a4f71ef1da7ee15c5d43ae3", "code": "acmevfx", "created": org["created"]}


def test_entitytypes_and_attributes(employee: Caller) -> None:
    assert {"job", "task", "queue", "site", "user"} <= set(employee.ok("GET", "entitytypes"))
    every = employee.ok("GET", "attributes", data={"entitytype": "job"})
    assert "code" in every and "source_hr" in every
    editable = employee.ok("GET", "attributes", data={"entitytype": "job", "update": True})
    assert editable == ["code", "metadata", "parent", "priority", "status"]
    creatable = employee.ok("GET", "attributes", data={"entitytype": "job", "create": True})
    assert "source" in creatable and "destination" in creatable
    task_editable = employee.ok("GET", "attributes", data={"entitytype": "task", "update": True})
    assert task_editable == ["metadata", "priority", "status"]
    employee.refused("not_found", "GET", "attributes", data={"entitytype": "spaceship"})


# ------------------------------------------------------------------ creating / editing jobs


def test_create_job_from_share_to_user(clock: Clock, employee: Caller) -> None:
    spec = {
        "source": "share=projects/thefilm/latest_edit.mov",
        "destination": "lars@edit.com",
        "status": "paused",
    }
    (job,) = employee.ok("POST", "job/create", data=spec)
    assert job["code"] == "latest_edit.mov" and job["status"] == "paused"
    assert job["source_hr"] == "share:projects"
    assert job["destination_hr"] == "user:lars@edit.com(user)"
    assert job["user"] == employee.user_id and job["uri"] == "acmevfx/medium"
    assert len(job["id"]) == 24 and abs((job["created"] - clock.now()).total_seconds()) <= 2
    (task,) = employee.tasks(f"job.id={job['id']}")
    assert task["source"]["path"] == "thefilm/latest_edit.mov" and task["uri"] == "0"
    assert task["destination"]["path"] == "thefilm/latest_edit.mov"
    assert job["id"] in [j["id"] for j in employee.jobs()]


def test_create_several_jobs_with_queue_code_tasks_and_metadata(employee: Caller) -> None:
    specs = [
        {
            "source": "hq",
            "destination": "stockholm",
            "code": "dailies",
            "queue": "high",
            "priority": 7,
            "metadata": {"show": "thefilm"},
            "tasks": ["/p/a.exr", {"source": "/p/b.exr", "destination": "/q/b.exr"}],
        },
        {"source": "user@mail.com", "destination": "hq", "tasks": ["/home/u/c.mov"]},
    ]
    first, second = employee.ok("POST", "job/create", data=specs)
    assert (first["code"], first["uri"], first["priority"]) == ("dailies", "acmevfx/high", 7)
    assert first["metadata"] == {"show": "thefilm"}
    assert first["destination_hr"] == "site:stockholm"
    tasks = employee.tasks(f"job.id={first['id']}")
    assert [(t["source"]["path"], t["destination"]["path"]) for t in tasks] == [
        ("/p/a.exr", "/p/a.exr"),
        ("/p/b.exr", "/q/b.exr"),
    ]
    assert second["code"] == "c.mov" and second["source_hr"] == "user:user@mail.com(user)"


def test_callers_data_is_neither_changed_nor_kept(employee: Caller) -> None:
    metadata: Dict[str, Any] = {"shot": "sh010"}
    spec = {"source": "hq", "destination": "stockholm", "metadata": metadata, "queue": "high"}
    (job,) = employee.ok("POST", "job/create", data=spec)
    assert spec == {
        "source": "hq",
        "destination": "stockholm",
        "metadata": metadata,
        "queue": "high",
    }
    metadata["shot"] = "changed"
    job["metadata"]["shot"] = "changed too"
    (stored,) = employee.jobs(f"id={job['id']}")
    assert stored["metadata"] == {"shot": "sh010"}


def test_create_refuses_unknown_names_and_bad_specs(employee: Caller) -> None:
    before = len(employee.jobs())
    reply = employee.refused(
        "not_found", "POST", "job/create", data={"source": "hq", "destination": "nobody@x.com"}
    )
    assert "nobody@x.com" in reply["message_hr"]
    reply = employee.refused(
        "not_found", "POST", "job/create", data={"source": "hq", "destination": "oslo"}
    )
    assert "oslo" in reply["message_hr"] and "stockholm" in reply["message_hr"]
    reply = employee.refused(
        "invalid_data",
        "POST",
        "job/create",
        data={"source": "hq", "destination": "stockholm", "status": "running"},
    )
    assert "running" in reply["message_hr"] and "paused" in reply["message_hr"]
    employee.refused("invalid_data", "POST", "job/create", data={"destination": "stockholm"})
    employee.refused(
        "invalid_data", "POST", "job/create", data={"source": "hq", "destination": "hq", "x": 1}
    )
    good = {"source": "hq", "destination": "stockholm"}
    employee.refused("not_found", "POST", "job/create", data=[good, dict(good, queue="nope")])
    assert len(employee.jobs()) == before  # a refused batch creates nothing


def test_create_duplicate_job_refused_only_without_allow_duplicates(employee: Caller) -> None:
    spec = {"source": "hq", "destination": "stockholm", "tasks": ["/p/dup.exr"]}
    employee.ok("POST", "job/create", data=spec)
    employee.ok("POST", "job/create", data=spec)
    reply = employee.refused(
        "invalid_data", "POST", "job/create", data=dict(spec, allow_duplicates=False)
    )
    assert "allow_duplicates" in reply["message_hr"]


def test_job_status_writeable_and_not(employee: Caller) -> None:
    for status in ("paused", "waiting", "pending", "aborted"):
        (job,) = employee.ok("PUT", "job/edit", entity_id=JOB_EDIT, data={"status": status})
        assert job["status"] == status
    assert job["finished"] != datetime(1970, 1, 1, 0, 0)  # aborted is finished
    (job,) = employee.ok("PUT", "job/edit", entity_id=JOB_EDIT, data={"status": "waiting"})
    assert job["finished"] == datetime(1970, 1, 1, 0, 0)
    assert job["modifier"] == employee.user_id
    for status in ("running", "init", "failed", "exploded"):
        reply = employee.refused(
            "invalid_data", "PUT", "job/edit", entity_id=JOB_EDIT, data={"status": status}
        )
        writeable = "writeable job statuses are: pending, waiting, paused, aborted, done"
        assert writeable in reply["message_hr"] and f"'{status}'" in reply["message_hr"]
    running = employee.call("PUT", "job/edit", entity_id=JOB_EDIT, data={"status": "running"})
    assert running["message_hr"].startswith("Status 'running' cannot be set on a job;")
    (unchanged,) = employee.jobs(f"id={JOB_EDIT}")
    assert unchanged["status"] == "waiting"


def test_job_edit_other_attributes(employee: Caller) -> None:
    (job,) = employee.ok(
        "PUT",
        "job/edit",
        entity_id=JOB_EDIT,
        data={"priority": 3, "metadata": {"a": 1}, "code": "renamed", "parent": "high"},
    )
    assert (job["priority"], job["metadata"], job["code"]) == (3, {"a": 1}, "renamed")
    assert job["uri"] == "acmevfx/high"
    for attribute in ("source", "size", "id"):
        reply = employee.refused(
            "invalid_data", "PUT", "job/edit", entity_id=JOB_EDIT, data={attribute: "x"}
        )
        assert attribute in reply["message_hr"] and "priority" in reply["message_hr"]
    employee.refused("not_found", "PUT", "job/edit", entity_id="0" * 24, data={"status": "paused"})


def test_job_delete_removes_it_everywhere(employee: Caller) -> None:
    assert employee.ok("DELETE", "job/delete", entity_id=JOB_EDIT) == [{"id": JOB_EDIT}]
    assert JOB_EDIT not in [j["id"] for j in employee.jobs(archived=True)]
    assert employee.tasks(f"job.id={JOB_EDIT}", archived=True) == []
    employee.refused("not_found", "DELETE", "job/delete", entity_id=JOB_EDIT)
    employee.refused("not_found", "PUT", "job/edit", entity_id=JOB_EDIT, data={"priority": 1})


# ------------------------------------------------------------------ restricted users


def test_restricted_user_sees_only_its_own_jobs(backend: Backend) -> None:
    user = Caller(backend, "user")
    assert codes(user.jobs()) == ["upload_from_user.zip"]
    assert user.jobs("code=latest_edit.mov") == []
    user.refused("not_found", "PUT", "job/edit", entity_id=JOB_EDIT, data={"status": "paused"})
    user.refused("not_found", "DELETE", "job/delete", entity_id=JOB_EDIT)
    user.refused("not_found", "POST", "job/task/create", entity_id=JOB_EDIT, data={"tasks": ["a"]})
    assert user.tasks(f"job.id={JOB_EDIT}") == []
    assert [u["code"] for u in user.ok("GET", "user/find")] == ["user@mail.com"]
    assert user.ok("GET", "share/find") == []


def test_restricted_user_creates_only_its_own_transfers(backend: Backend) -> None:
    user = Caller(backend, "user")
    reply = user.refused(
        "permission_denied",
        "POST",
        "job/create",
        data={"source": "share=projects/thefilm/a.mov", "destination": "lars@edit.com"},
    )
    assert "user@mail.com" in reply["message_hr"]
    (job,) = user.ok(
        "POST", "job/create", data={"source": "user@mail.com", "destination": "hq", "code": "up"}
    )
    (paused,) = user.ok("PUT", "job/edit", entity_id=job["id"], data={"status": "paused"})
    assert paused["status"] == "paused"
    assert user.ok("DELETE", "job/delete", entity_id=job["id"]) == [{"id": job["id"]}]


def test_restricted_receiver_may_not_delete_a_job_it_did_not_create() -> None:
    backend = Backend(api_keys=FIXED_API_KEYS)  # lars@edit.com has no role: use its known key
    lars = backend.login(
        {
            "domain": "acmevfx",
            "username": "lars@edit.com",
            "api_key": FIXED_API_KEYS["lars@edit.com"],
        },
        {"session": "s"},
    )
    session = {"domain": "acmevfx", "username": "lars@edit.com", "session_key": lars["session_key"]}
    found = backend.handle("GET", {"uri": "job/find", "query": f"id={JOB_EDIT}"}, session)
    assert [j["id"] for j in found["result"]] == [JOB_EDIT]
    reply = backend.handle("DELETE", {"uri": "job/delete", "id": JOB_EDIT}, session)
    assert reply["error_code"] == "permission_denied"


# ------------------------------------------------------------------ tasks


def test_task_find_needs_a_job_and_filters(employee: Caller) -> None:
    reply = employee.refused("invalid_query", "GET", "job/task/find", query="status=queued")
    assert "job.id=" in reply["message_hr"]
    employee.refused("invalid_query", "GET", "job/task/find")
    every = employee.tasks(f"job.id={JOB_ROLLS}")
    assert [t["uri"] for t in every] == ["0", "1"]
    (queued,) = employee.tasks(f"job.id={JOB_ROLLS} AND status<>executing")
    assert queued["id"] == TASK_ROLLS_QUEUED and queued["status"] == "queued"
    assert queued["size"] == 128868496 and queued["source"]["path"] == "A001_C011_09187Ia.mov"
    assert queued["created"] == datetime(2020, 8, 4, 9, 52, 27)
    by_job_code = employee.tasks(f"job.id={JOB_ROLLS} and job.code=a001_c011_09187ia.mov")
    assert by_job_code == every
    assert employee.tasks(f"job.id={JOB_ROLLS} and job.code=other") == []
    two_jobs = employee.tasks(f"job.id={JOB_ROLLS} or job.id={JOB_EDIT}")
    assert len(two_jobs) == 4


def test_task_create_mirrored_and_explicit(employee: Caller) -> None:
    reply = employee.call(
        "POST",
        "job/task/create",
        entity_id=JOB_EDIT,
        data={"tasks": ["/Volumes/projects/creatures_showreel_2018.mov"]},
    )
    # Paths alone: {"success": true} as documented, the tasks made under "tasks".
    assert reply["success"] is True and "result" not in reply
    (task,) = reply["tasks"]
    assert task["destination"]["path"] == "/Volumes/projects/creatures_showreel_2018.mov"
    assert task["uri"] == "2" and task["status"] == "queued"
    explicit = {
        "source": "share=projects/_REF/creatures_showreel_2018.mov",
        "destination": "share=projects/TMP/creatures_showreel_2018_tmp.mov",
    }
    (made,) = employee.ok("POST", "job/task/create", query=JOB_ROLLS, data={"tasks": [explicit]})
    assert made["source"]["path"] == "_REF/creatures_showreel_2018.mov"
    assert made["destination"]["path"] == "TMP/creatures_showreel_2018_tmp.mov"
    assert len(employee.tasks(f"job.id={JOB_ROLLS}")) == 3


def test_task_without_destination_refused_on_a_job_without_mirrored_paths(
    employee: Caller,
) -> None:
    reply = employee.refused(
        "invalid_data", "POST", "job/task/create", entity_id=JOB_ROLLS, data={"tasks": ["/a.mov"]}
    )
    assert "destination" in reply["message_hr"] and "mirrored" in reply["message_hr"]
    assert len(employee.tasks(f"job.id={JOB_ROLLS}")) == 2


def test_duplicate_task_is_retried_or_refused(employee: Caller) -> None:
    employee.ok(
        "PUT", "job/task/edit", entity_id=JOB_EDIT, data=[{"id": TASK_EDIT, "status": "failed"}]
    )
    dup = {"tasks": ["thefilm/latest_edit.mov"]}
    (retried,) = employee.call("POST", "job/task/create", entity_id=JOB_EDIT, data=dup)["tasks"]
    assert retried["id"] == TASK_EDIT and retried["status"] == "queued"
    assert len(employee.tasks(f"job.id={JOB_EDIT}")) == 2
    employee.ok(
        "PUT", "job/task/edit", entity_id=JOB_EDIT, data=[{"id": TASK_EDIT, "status": "failed"}]
    )
    reply = employee.refused(
        "invalid_data",
        "POST",
        "job/task/create",
        entity_id=JOB_EDIT,
        data={"tasks": ["/new/file.mov", "thefilm/latest_edit.mov"], "allow_duplicates": False},
    )
    assert TASK_EDIT in reply["message_hr"]
    tasks = employee.tasks(f"job.id={JOB_EDIT}")
    assert len(tasks) == 2  # nothing added, not even the new file
    assert [t["status"] for t in tasks if t["id"] == TASK_EDIT] == ["failed"]


def test_task_status_writeable_and_not(employee: Caller) -> None:
    for status in ("queued", "failed", "onhold", "excluded", "done"):
        (task,) = employee.ok(
            "PUT",
            "job/task/edit",
            entity_id=JOB_EDIT,
            data=[{"id": TASK_EDIT, "status": status}],
        )
        assert task["status"] == status
    for status in ("pending", "booting", "executing", "bogus"):
        reply = employee.refused(
            "invalid_data",
            "PUT",
            "job/task/edit",
            entity_id=JOB_EDIT,
            data=[{"id": TASK_EDIT, "status": status}],
        )
        assert "queued, failed, onhold, excluded, done" in reply["message_hr"]
        assert status in reply["message_hr"]


def test_update_many_example_sets_onhold(employee: Caller) -> None:
    (job,) = employee.jobs('code="my_transfer"')
    (task,) = employee.ok(
        "PUT",
        "job/task/edit",
        entity_id=job["id"],
        data=[{"id": TASK_MY_TRANSFER, "status": "onhold", "priority": 9, "metadata": {"k": 1}}],
    )
    assert (task["status"], task["priority"], task["metadata"]) == ("onhold", 9, {"k": 1})


def test_task_edit_is_all_or_nothing(employee: Caller) -> None:
    other = employee.tasks(f"job.id={JOB_EDIT}")[1]["id"]
    bad_batches = [
        ([{"id": TASK_EDIT, "status": "excluded"}, {"id": other, "status": "running"}], "running"),
        (
            [{"id": TASK_EDIT, "status": "excluded"}, {"id": other, "source": {"path": "/x"}}],
            "source and destination of a task cannot be modified",
        ),
        ([{"id": TASK_EDIT, "status": "excluded"}, {"id": other, "size": 5}], "size"),
        ([{"id": TASK_EDIT, "status": "excluded"}, {"id": "no-such-task"}], "no-such-task"),
    ]
    for batch, hint in bad_batches:
        reply = employee.call("PUT", "job/task/edit", entity_id=JOB_EDIT, data=batch)
        assert reply["error_code"] in ("invalid_data", "not_found"), reply
        assert hint in reply["message_hr"]
        statuses = {t["id"]: t["status"] for t in employee.tasks(f"job.id={JOB_EDIT}")}
        assert statuses == {TASK_EDIT: "queued", other: "queued"}


def test_tasks_cannot_be_deleted(employee: Caller) -> None:
    for uri in ("job/task/delete", "task/delete"):
        reply = employee.refused("invalid_data", "DELETE", uri, entity_id=JOB_EDIT)
        assert "excluded" in reply["message_hr"]
    assert len(employee.tasks(f"job.id={JOB_EDIT}")) == 2


def test_demo_without_jobs(clock: Clock) -> None:
    caller = Caller(Backend(clock=clock, demo=False))
    assert caller.jobs() == [] and caller.jobs(archived=True) == []
    assert [s["code"] for s in caller.ok("GET", "organization/site/find")] == ["hq", "stockholm"]


# -- the v3 generation, without HTTP --------------------------------------------------


def test_v3_login_checks_the_key_and_answers_a_result() -> None:
    backend = Backend()
    credentials = backend.credentials("standard", api_version="3")
    assert set(credentials) == {"workspace", "username", "api_key"}
    reply = backend.login(credentials, {}, api_version="3")
    assert set(reply) == {"result"} and reply["result"]["role"] == "standard"
    refused = backend.login(dict(credentials, api_key="wrong"), {}, api_version="3")
    assert set(refused) == {"message", "message_hr", "error_code"}
    assert refused["error_code"] == "authentication_failed"


def test_v3_events_are_authenticated_by_key_on_every_call() -> None:
    backend = Backend()
    credentials = backend.credentials("employee", api_version="3")
    event = {"uri": "Transfer/find", "workspace": "acmevfx", "data": None}
    found = backend.handle("GET", event, credentials, api_version="3")
    assert len(found["result"]) == 5 and found["result"][0]["source"].startswith("workspace:")
    backend.expire_sessions()  # v1.0 only: v3 has no session to expire
    assert "result" in backend.handle("GET", event, credentials, api_version="3")
    wrong = backend.handle("GET", event, dict(credentials, api_key="x"), api_version="3")
    assert wrong["error_code"] == "authentication_failed" and "session_expired" not in wrong
    assert backend.handle("GET", event, None, api_version="3")["error_code"] == (
        "authentication_failed"
    )


def test_each_generation_knows_its_own_entity_names(employee: Caller) -> None:
    assert employee.call("GET", "transfer/find")["error_code"] == "not_found"
    assert employee.call("GET", "entitytypes")["result"] == [
        "job",
        "task",
        "queue",
        "user",
        "site",
        "share",
        "organization",
    ]
    employee.ok("PUT", "job/edit", data={"status": "pending"}, entity_id=JOB_EDIT)
    assert employee.ok("GET", "job/find", query=f"id={JOB_EDIT}")[0]["status"] == "pending"


def test_unknown_api_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown API version"):
        Backend().credentials("admin", api_version="2")
