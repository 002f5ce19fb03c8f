"""The Session beyond the documented examples: configuration, refusals, paging, safety."""

from __future__ import annotations

import copy
import logging
import pkgutil
import socket

import pytest
from generations import both_generations

import accsyn_api
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
OTHER_USERS_JOB = "5a7325f8b7ef72f5f9d74bf4"

pytestmark = both_generations

ENVIRONMENT = (
    "ACCSYN_WORKSPACE",
    "ACCSYN_DOMAIN",
    "ACCSYN_ORG",
    "ACCSYN_API_USER",
    "ACCSYN_API_KEY",
    "ACCSYN_URL",
    "ACCSYN_API_VERSION",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*ENVIRONMENT, "ACCSYN_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the public surface -----------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert sorted(accsyn_api.__all__) == [
        "AccsynError",
        "AccsynException",
        "AuthenticationError",
        "ConfigurationError",
        "ConnectionFailed",
        "InvalidData",
        "InvalidQuery",
        "NotFound",
        "PermissionDenied",
        "Query",
        "RequestTimeout",
        "ServerError",
        "Session",
        "SessionExpired",
        "TransportError",
        "__version__",
        "all_of",
        "any_of",
        "contains",
        "eq",
        "ge",
        "gt",
        "is_in",
        "le",
        "lt",
        "matches",
        "ne",
        "not_contains",
        "not_in",
        "not_matches",
        "parse",
        "quote",
        "select",
    ]
    public = {name for name in dir(accsyn_api) if name.isidentifier() and not name.startswith("_")}
    modules = {module.name for module in pkgutil.iter_modules(accsyn_api.__path__)}
    modules |= {"protocol", "tls", "transport"}
    assert public - modules == set(accsyn_api.__all__) - {"__version__"}
    assert accsyn_api.AccsynException is accsyn_api.AccsynError


def test_error_hierarchy() -> None:
    for name in accsyn_api.__all__:
        value = getattr(accsyn_api, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, accsyn_api.AccsynError), name
    assert issubclass(accsyn_api.SessionExpired, accsyn_api.AuthenticationError)
    assert issubclass(accsyn_api.ConnectionFailed, accsyn_api.TransportError)
    assert issubclass(accsyn_api.InvalidQuery, ValueError)


# -- configuration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("workspace", "ACCSYN_WORKSPACE"),
        ("username", "ACCSYN_API_USER"),
        ("api_key", "ACCSYN_API_KEY"),
    ],
)
def test_a_missing_setting_names_the_argument_and_the_variable(
    clean_env: pytest.MonkeyPatch, missing: str, variable: str
) -> None:
    settings = {"workspace": "acmevfx", "username": "a@b.com", "api_key": "k"}
    del settings[missing]
    with pytest.raises(accsyn_api.ConfigurationError) as error:
        accsyn_api.Session(url="http://127.0.0.1:1", **settings)
    assert f"{missing}=" in str(error.value) and variable in str(error.value)


def test_session_from_the_environment(accsyn_env: LocalServer) -> None:
    with accsyn_api.Session() as session:
        assert session.clearance == "employee"
        assert session.find_one(f"Job where id={JOB_ID}") is not None


def test_arguments_win_over_the_environment(
    accsyn_server: LocalServer, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("ACCSYN_DOMAIN", "otherdomain")
    clean_env.setenv("ACCSYN_API_KEY", "wrong-key")
    credentials = accsyn_server.credentials("admin")
    with accsyn_api.Session(
        workspace=accsyn_server.backend.domain,
        username=credentials["username"],
        api_key=credentials["api_key"],
        url=accsyn_server.url,
    ) as session:
        assert session.clearance == "admin"


def test_the_older_acsyn_org_variable_is_read(
    accsyn_server: LocalServer, clean_env: pytest.MonkeyPatch
) -> None:
    credentials = accsyn_server.credentials("employee")
    clean_env.setenv("ACCSYN_ORG", accsyn_server.backend.domain)
    with accsyn_api.Session(
        username=credentials["username"], api_key=credentials["api_key"], url=accsyn_server.url
    ) as session:
        assert session.domain == accsyn_server.backend.domain


def test_a_wrong_api_key_is_refused_without_showing_it(
    accsyn_server: LocalServer, clean_env: pytest.MonkeyPatch
) -> None:
    credentials = accsyn_server.credentials("employee")
    wrong = "not-the-key-0123456789"
    with pytest.raises(accsyn_api.AuthenticationError) as error:
        accsyn_api.Session(
            workspace=accsyn_server.backend.domain,
            username=credentials["username"],
            api_key=wrong,
            url=accsyn_server.url,
        )
    assert wrong not in str(error.value) and wrong not in repr(error.value)


def test_repr_shows_no_secret(accsyn_server: LocalServer) -> None:
    credentials = accsyn_server.credentials("employee")
    with accsyn_server.session("employee") as session:
        assert credentials["api_key"] not in repr(session)
        assert credentials["api_key"] not in repr(session.__dict__)
        assert "acmevfx" in repr(session)


def test_an_unreachable_server_raises_connection_failed(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(accsyn_api.ConnectionFailed) as error:
        accsyn_api.Session(
            domain="acmevfx",
            username="a@b.com",
            api_key="k",
            url=f"http://127.0.0.1:{closed_port()}",
            retries=0,
        )
    assert "127.0.0.1" in str(error.value)


# -- queries are checked before they are sent -----------------------------------------


def test_a_malformed_query_raises_before_any_network_call(clean_env: pytest.MonkeyPatch) -> None:
    # Nothing listens on this port: any request would raise ConnectionFailed instead.
    session = accsyn_api.Session(
        domain="acmevfx",
        username="a@b.com",
        api_key="k",
        url=f"http://127.0.0.1:{closed_port()}",
        login=False,
    )
    with pytest.raises(accsyn_api.InvalidQuery) as error:
        session.find('Job where code="unclosed')
    assert error.value.position == 15  # the opening quote
    assert "^" in str(error.value)


def test_values_are_sent_verbatim_not_lower_cased(accsyn_session: accsyn_api.Session) -> None:
    job = accsyn_session.create(
        "Job",
        {
            "code": "Shot_010_COMP_v003.MOV",
            "source": "share=projects/thefilm/Shot_010_COMP_v003.MOV",
            "destination": "lars@edit.com",
        },
    )
    found = accsyn_session.find_one("Job where code=Shot_010_COMP_v003.MOV")
    assert found is not None and found["id"] == job["id"]
    assert found["code"] == "Shot_010_COMP_v003.MOV"


def test_the_builder_keeps_a_hostile_name_as_one_value(
    accsyn_session: accsyn_api.Session,
) -> None:
    name = 'plate "A" and (B) or status=done.exr'
    job = accsyn_session.create(
        "Job",
        {"code": name, "source": "share=projects/thefilm/a.exr", "destination": "lars@edit.com"},
    )
    query = str(accsyn_api.select("Job").where(code=name))
    found = accsyn_session.find(query)
    assert [j["id"] for j in found] == [job["id"]]
    assert accsyn_session.find(accsyn_api.select("Job").where(code=name)) == found


def test_entity_type_names_are_case_insensitive(accsyn_session: accsyn_api.Session) -> None:
    assert accsyn_session.find("JOB where id=" + JOB_ID) == accsyn_session.find(
        "job where id=" + JOB_ID
    )
    assert accsyn_session.update("JOB", JOB_ID, {"status": "paused"})["status"] == "paused"


# -- refusals map to the right class ------------------------------------------------


def test_unknown_job_raises_not_found(accsyn_session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.NotFound) as error:
        accsyn_session.update("job", "000000000000000000000000", {"status": "paused"})
    assert error.value.uri == {"1.0": "job/edit", "3": "transfer/edit"}[accsyn_session.api_version]
    assert error.value.eid


def test_unknown_entity_type_raises_not_found(accsyn_session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.NotFound):
        accsyn_session.find("Spaceship")


def test_a_restricted_user_sees_only_its_own_jobs(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("admin") as admin, accsyn_server.session("user") as user:
        every = {job["id"] for job in admin.find("Job")}
        own = {job["id"] for job in user.find("Job")}
        assert own and own < every
        assert user.find_one(f"Job where id={OTHER_USERS_JOB}") is None
        with pytest.raises((accsyn_api.NotFound, accsyn_api.PermissionDenied)):
            user.update("job", OTHER_USERS_JOB, {"status": "paused"})
        assert admin.find_one(f"Job where id={OTHER_USERS_JOB}")["status"] != "paused"  # type: ignore[index]


def test_a_job_attribute_that_cannot_be_edited_is_refused(
    accsyn_session: accsyn_api.Session,
) -> None:
    before = accsyn_session.find_one(f"Job where id={JOB_ID}")
    with pytest.raises(accsyn_api.InvalidData) as error:
        accsyn_session.update("job", JOB_ID, {"size": 5})
    assert "size" in str(error.value)
    assert accsyn_session.find_one(f"Job where id={JOB_ID}") == before


def test_task_changes_are_all_or_nothing(accsyn_session: accsyn_api.Session) -> None:
    tasks = accsyn_session.find(f"task WHERE job.id={OTHER_USERS_JOB}")
    batch = [
        {"id": tasks[0]["id"], "status": "onhold"},
        {"id": tasks[1]["id"], "status": "executing"},  # not writeable
    ]
    with pytest.raises(accsyn_api.InvalidData):
        accsyn_session.update_many("task", OTHER_USERS_JOB, batch)
    assert accsyn_session.find(f"task WHERE job.id={OTHER_USERS_JOB}") == tasks


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda s: s.create("job", "not a dict"), "dict"),
        (lambda s: s.create("task", {"tasks": ["/a.mov"]}), "job id"),
        (lambda s: s.update("job", JOB_ID, {}), "non-empty dict"),
        (lambda s: s.update("task", "x", {"status": "done"}), "update_many"),
        (lambda s: s.update_many("task", JOB_ID, {"id": "x"}), "list"),
        (lambda s: s.update_many("task", [{"status": "done"}], JOB_ID), "'id'"),
        (lambda s: s.find("Job", limit=-1), "limit"),
        (lambda s: s.delete_one("job", ""), "id"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    accsyn_session: accsyn_api.Session, call: object, expected: str
) -> None:
    with pytest.raises(accsyn_api.InvalidData) as error:
        call(accsyn_session)  # type: ignore[operator]
    assert expected in str(error.value)


def test_the_callers_data_is_never_modified(accsyn_session: accsyn_api.Session) -> None:
    spec = {
        "source": "share=projects/thefilm/latest_edit.mov",
        "destination": "lars@edit.com",
        "metadata": {"shot": "010"},
    }
    kept = copy.deepcopy(spec)
    job = accsyn_session.create("Job", spec)
    changes = [
        {"id": accsyn_session.find(f"task WHERE job.id={job['id']}")[0]["id"], "priority": 2}
    ]
    kept_changes = copy.deepcopy(changes)
    accsyn_session.update_many("task", job["id"], changes)
    assert spec == kept and changes == kept_changes


def test_create_several_jobs_returns_a_list(accsyn_session: accsyn_api.Session) -> None:
    specs = [
        {"source": f"share=projects/thefilm/reel_{n}.mov", "destination": "lars@edit.com"}
        for n in range(3)
    ]
    jobs = accsyn_session.create("Job", specs)
    assert [job["code"] for job in jobs] == ["reel_0.mov", "reel_1.mov", "reel_2.mov"]


# -- reading large results ------------------------------------------------------------


def test_iter_find_pages_through_everything(accsyn_session: accsyn_api.Session) -> None:
    specs = [
        {
            "code": f"bulk_{n:03}",
            "source": f"share=projects/b/{n}.mov",
            "destination": "lars@edit.com",
        }
        for n in range(25)
    ]
    accsyn_session.create("Job", specs)
    paged = list(accsyn_session.iter_find("Job", page_size=7))
    assert [job["id"] for job in paged] == [job["id"] for job in accsyn_session.find("Job")]
    assert len({job["id"] for job in paged}) == len(paged) >= 25


def test_find_one_asks_the_server_for_one_entity(accsyn_server: LocalServer) -> None:
    with accsyn_server.session("employee") as session:
        session.find_one("Job")
        uri = {"1.0": "job/find", "3": "transfer/find"}[session.api_version]
        finds = [event for event in accsyn_server.events if event["uri"] == uri]
        assert finds[-1]["data"]["limit"] == 1
        if session.api_version == "3":  # and says so, as the official v3 client does
            assert finds[-1]["data"]["single_entity_query"] is True


def test_wait_returns_when_the_job_reaches_the_status(accsyn_session: accsyn_api.Session) -> None:
    accsyn_session.update("job", JOB_ID, {"status": "done"})
    seen: list[str] = []
    job = accsyn_session.wait(
        JOB_ID, timeout=5, interval=0.01, progress=lambda j: seen.append(j["status"])
    )
    assert job["status"] == "done" and seen == ["done"]


def test_wait_gives_up_after_the_timeout(accsyn_session: accsyn_api.Session) -> None:
    with pytest.raises(accsyn_api.RequestTimeout) as error:
        accsyn_session.wait(JOB_ID, timeout=0.05, interval=0.01)
    assert JOB_ID in str(error.value)


def test_no_secret_in_debug_logs(
    accsyn_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = accsyn_server.credentials("employee")
    capture = caplog.at_level(logging.DEBUG, logger="accsyn_api")
    with capture, accsyn_server.session("employee") as session:
        session.find("Job")
        session.update("job", JOB_ID, {"status": "paused"})
        with pytest.raises(accsyn_api.InvalidData):
            session.update("job", JOB_ID, {"status": "running"})
    text = caplog.text
    assert "/find eid=" in text  # the calls were logged
    assert credentials["api_key"] not in text


def test_a_closed_session_refuses_calls(accsyn_server: LocalServer) -> None:
    session = accsyn_server.session("employee")
    session.close()
    with pytest.raises(accsyn_api.ConfigurationError) as error:
        session.find("Job")
    assert "closed" in str(error.value)
    assert repr(session).startswith("<Session closed ")


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_settings_count_as_missing(clean_env: pytest.MonkeyPatch, blank: str) -> None:
    clean_env.setenv("ACCSYN_WORKSPACE", blank)
    clean_env.setenv("ACCSYN_DOMAIN", blank)
    with pytest.raises(accsyn_api.ConfigurationError) as error:
        accsyn_api.Session(username="a@b.com", api_key="k", url="http://127.0.0.1:1")
    assert "ACCSYN_WORKSPACE" in str(error.value)


def test_an_empty_url_argument_falls_back_to_the_environment(accsyn_env: LocalServer) -> None:
    with accsyn_api.Session(url="") as session:
        assert session.url.startswith(accsyn_env.url)


def test_https_to_a_plain_http_server_says_so(accsyn_server: LocalServer) -> None:
    credentials = accsyn_server.credentials("employee")
    with pytest.raises(accsyn_api.ConnectionFailed) as error:
        accsyn_api.Session(
            workspace=accsyn_server.backend.domain,
            username=credentials["username"],
            api_key=credentials["api_key"],
            url=accsyn_server.url.replace("http://", "https://"),
        )
    assert "http://" in str(error.value) and "does not speak TLS" in str(error.value)


def test_errors_raised_before_sending_still_have_a_human_message(
    accsyn_session: accsyn_api.Session,
) -> None:
    with pytest.raises(accsyn_api.InvalidData) as error:
        accsyn_session.update("job", JOB_ID, {})
    assert error.value.message_hr == error.value.message
    assert str(error.value).count(error.value.message) == 1


def test_wait_takes_one_status_as_a_string(accsyn_session: accsyn_api.Session) -> None:
    accsyn_session.update("job", JOB_ID, {"status": "paused"})
    job = accsyn_session.wait(JOB_ID, "paused", timeout=5, interval=0.01)
    assert job["status"] == "paused"


def test_a_missing_ca_bundle_is_a_configuration_error(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(accsyn_api.ConfigurationError) as error:
        accsyn_api.Session(
            domain="acmevfx",
            username="a@b.com",
            api_key="k",
            url="https://127.0.0.1:1",
            verify="/no/such/ca-bundle.pem",
        )
    assert "/no/such/ca-bundle.pem" in str(error.value) and "PEM" in str(error.value)
