"""LocalServer's v3 front end over raw HTTP: headers, login, look-up, events, refusals."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any, Dict, Iterator, Mapping
from urllib.parse import quote

import pytest
import requests
from test_server_v3_support import V3Client, b64, v3_event

from accsyn_api.testing import Backend, LocalServer

JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"
USER_ID = "60c1e2f3a4b5c6d7e8f90a1b"
ORGANIZATION_ID = "5a4f71ef1da7ee15c5d43ae3"
REFUSAL_KEYS = {"message", "message_hr", "error_code"}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(api_version="3") as local_server:
        yield local_server


@pytest.fixture
def employee(server: LocalServer) -> Iterator[V3Client]:
    client = V3Client(server)
    yield client
    client.close()


def _refusal(response: requests.Response, status: int, code: str, *words: str) -> Dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    reply = response.json()
    assert set(reply) == REFUSAL_KEYS, reply
    assert reply["error_code"] == code
    text = f"{reply['message']} {reply['message_hr']}".lower()
    for word in words:
        assert word.lower() in text
    return dict(reply)


def _lookup(server: LocalServer, query: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v3/J3PKTtDvolDMBtTy6AFGA?{query}", timeout=10)


# -- login ----------------------------------------------------------------------------


def test_login_answers_role_id_and_session_id(server: LocalServer) -> None:
    for role, shown in (("admin", "admin"), ("employee", "employee"), ("standard", "standard")):
        client = V3Client(server, role)
        response = client.login()
        assert response.status_code == 200
        result = response.json()["result"]
        assert set(response.json()) == {"result"}
        assert set(result) == {"role", "id", "session_id", "event_dedup"}
        assert result["event_dedup"] is True  # this server's extension: repeated eids replayed
        assert result["role"] == shown and isinstance(result["session_id"], str)
        client.close()
    assert V3Client(server, "user").login().json()["result"]["id"] == USER_ID


def test_login_refusals_are_json_with_401(server: LocalServer, employee: V3Client) -> None:
    wrong_key = dict(
        employee.headers, Authorization=f"basic {b64('employee@acmevfx.com')}:{b64('x')}"
    )
    _refusal(employee.login(wrong_key), 401, "authentication_failed", "ACCSYN_API_KEY")
    wrong_workspace = dict(employee.headers, **{"X-Accsyn-Workspace": "otherfx"})
    _refusal(employee.login(wrong_workspace), 401, "authentication_failed")
    for missing in ("Authorization", "X-Accsyn-Workspace"):
        headers = {k: v for k, v in employee.headers.items() if k != missing}
        _refusal(employee.login(headers), 401, "authentication_failed", "X-Accsyn-Workspace")
    rfc_basic = {"Authorization": f"Basic {b64('employee@acmevfx.com:key')}"}
    _refusal(employee.login(dict(employee.headers, **rfc_basic)), 401, "authentication_failed")
    get = requests.get(employee.url("api/login"), headers=employee.headers, timeout=10)
    _refusal(get, 405, "invalid_data", "PUT")


def test_workspace_and_user_name_match_in_any_case(employee: V3Client) -> None:
    user, key = "Employee@AcmeVFX.com", employee.server.credentials()["api_key"]
    headers = {"Authorization": f"basic {b64(user)}:{b64(key)}", "X-Accsyn-Workspace": "AcmeVFX"}
    assert employee.login(headers).status_code == 200
    response = employee.send("GET", v3_event("transfer/find", workspace="AcmeVFX"), headers)
    assert response.status_code == 200 and response.json()["result"]


# -- the host look-up -------------------------------------------------------------------


def test_lookup_names_this_server(server: LocalServer) -> None:
    response = _lookup(server, quote(json.dumps({"ident": "acmevfx"})))
    assert response.status_code == 200
    port = int(server.url.rsplit(":", 1)[1])
    assert response.json() == {"result": {"hostname": "127.0.0.1", "port": port, "scheme": "http"}}
    assert _lookup(server, quote(json.dumps({"ident": "AcmeVFX"}))).status_code == 200


def test_lookup_refusals(server: LocalServer) -> None:
    _refusal(_lookup(server, quote(json.dumps({"ident": "otherfx"}))), 404, "not_found", "otherfx")
    _refusal(_lookup(server, quote(json.dumps({"name": "acmevfx"}))), 400, "invalid_data", "ident")
    _refusal(_lookup(server, ""), 400, "invalid_data", "query string")
    _refusal(_lookup(server, "%7Bbroken"), 400, "invalid_data", "not valid JSON")
    put = requests.put(f"{server.url}/api/v3/J3PKTtDvolDMBtTy6AFGA", timeout=10)
    _refusal(put, 405, "invalid_data", "GET")


def test_lookup_says_https_on_a_tls_server() -> None:
    pytest.importorskip("trustme")
    with LocalServer(tls=True) as server:
        url = f"{server.url}/api/v3/J3PKTtDvolDMBtTy6AFGA?{quote(json.dumps({'ident': 'acmevfx'}))}"
        result = requests.get(url, verify=server.ca_bundle, timeout=10).json()["result"]
        assert result["scheme"] == "https" and result["hostname"] == "127.0.0.1"


# -- events ---------------------------------------------------------------------------


def test_get_event_in_the_percent_encoded_query_string(employee: V3Client) -> None:
    event = v3_event("transfer/find", {"limit": 2}, query="status=running")
    raw = quote(json.dumps(event))
    assert "/" in raw and "%20" in raw and "+" not in raw  # Python quote, as the client sends
    response = employee.http.get(f"{employee.url('event')}?{raw}", headers=employee.headers)
    assert response.status_code == 200
    assert [job["status"] for job in response.json()["result"]] == ["running", "running"]
    recorded = employee.server.events[-1]
    assert recorded["workspace"] == "acmevfx" and recorded["uri"] == "transfer/find"


def test_post_put_delete_carry_the_event(employee: V3Client) -> None:
    spec = {"source": "share=projects/thefilm/a.mov", "destination": "lars@edit.com"}
    job = employee.ok("POST", "transfer/create", spec)[0]
    assert job["name"] == job["code"] == "a.mov" and job["status"] == "init"
    edited = employee.ok("PUT", "transfer/edit", {"status": "paused"}, entityid=job["id"])
    assert isinstance(edited, list) and edited[0]["status"] == "paused"
    assert employee.ok("DELETE", "transfer/delete", None, entityid=job["id"]) is True


def test_gz_data_is_unpacked(employee: V3Client) -> None:
    spec = {"source": "share=projects/thefilm/big.mov", "destination": "lars@edit.com"}
    spec["metadata"] = {"note": "x" * 110_000}
    packed = base64.b64encode(gzip.compress(json.dumps(spec).encode())).decode()
    event = v3_event("transfer/create", gz_data=packed)
    del event["data"]
    response = employee.send("POST", event)
    assert response.status_code == 200
    assert response.json()["result"][0]["metadata"]["note"] == "x" * 110_000
    assert employee.server.events[-1]["data"]["metadata"]["note"] == "x" * 110_000


def test_data_null_and_empty_are_accepted(employee: V3Client) -> None:
    event = v3_event("transfer/find")
    event["data"] = None
    assert employee.send("GET", event).status_code == 200
    assert employee.ok("GET", "transfer/find", {})


# -- authentication on every call ----------------------------------------------------


def test_every_event_is_authenticated_from_its_headers(employee: V3Client) -> None:
    event = v3_event("transfer/find")
    _refusal(employee.send("GET", event, headers={}), 401, "authentication_failed", "basic")
    bad = dict(employee.headers, Authorization=f"basic {b64('employee@acmevfx.com')}:{b64('no')}")
    _refusal(employee.send("GET", event, headers=bad), 401, "authentication_failed")
    malformed = dict(employee.headers, Authorization="basic not-base64!:also-not")
    _refusal(employee.send("GET", event, headers=malformed), 401, "authentication_failed")
    v1_style = dict(employee.headers, Authorization="ASSession e30=")
    _refusal(employee.send("GET", event, headers=v1_style), 401, "authentication_failed")
    # No login is needed first, and the session value is not checked.
    assert employee.send("GET", v3_event("transfer/find", session="anything")).status_code == 200


def test_the_envelope_workspace_must_match(employee: V3Client) -> None:
    response = employee.send("GET", v3_event("transfer/find", workspace="otherfx"))
    _refusal(response, 400, "invalid_data", "workspace", "acmevfx")


# -- refusals and their statuses ------------------------------------------------------


def test_refusals_carry_a_fitting_status(server: LocalServer, employee: V3Client) -> None:
    unknown_id = "0123456789abcdef01234567"
    response = employee.send(
        "PUT", v3_event("transfer/edit", {"status": "paused"}, entityid=unknown_id)
    )
    _refusal(response, 404, "not_found", unknown_id)
    response = employee.send("GET", v3_event("transfer/find", query="status=(running"))
    _refusal(response, 400, "invalid_query")
    response = employee.send("GET", v3_event("nosuchthing/find"))
    _refusal(response, 404, "not_found", "transfer")
    response = employee.send("POST", v3_event("transfer/find"))
    _refusal(response, 400, "invalid_data", "GET")
    # A standard user may not delete a job it receives but did not create.
    spec = {"source": "share=projects/thefilm/for_user.mov", "destination": "user@mail.com"}
    job = employee.ok("POST", "transfer/create", spec)[0]
    standard = V3Client(server, "standard")
    response = standard.send("DELETE", v3_event("transfer/delete", entityid=job["id"]))
    _refusal(response, 403, "permission_denied")
    standard.close()


def test_unknown_paths_are_refused_with_404(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/api/v3/nothing", timeout=10)
    _refusal(response, 404, "not_found", "/api/v3/nothing", "/api/v3/event")


def test_a_server_fault_is_a_500_with_exception() -> None:
    class FailingBackend(Backend):
        def handle(
            self, method: str, event: Mapping[str, Any], session: Any, api_version: str = "1.0"
        ) -> Dict[str, Any]:
            raise RuntimeError("disk on fire")

    with LocalServer(backend=FailingBackend()) as server:
        client = V3Client(server)
        response = client.send("GET", v3_event("transfer/find"))
        assert response.status_code == 500
        assert response.json() == {"exception": "RuntimeError: disk on fire"}
        assert client.login().status_code == 200  # still serving
        client.close()


def test_success_replies_never_carry_message_or_exception(employee: V3Client) -> None:
    calls = [
        ("GET", "transfer/find", {}),
        ("GET", "Transfer/find", {}),
        ("GET", "entitytypes", {}),
        ("GET", "attributes", {"entitytype": "transfer"}),
        ("GET", "user/find", {}),
        ("GET", "task/find", {"parent": JOB_LATEST_EDIT}),
    ]
    for method, uri, data in calls:
        reply = employee.send(method, v3_event(uri, data)).json()
        assert "result" in reply and not {"message", "exception"} & set(reply), (uri, reply)


# -- one workspace, two front ends ----------------------------------------------------


def test_both_generations_share_one_workspace(server: LocalServer, employee: V3Client) -> None:
    spec = {"source": "share=projects/thefilm/shared.mov", "destination": "lars@edit.com"}
    job = employee.ok("POST", "transfer/create", spec)[0]
    with server.session("employee", api_version="1.0") as v1:
        seen = v1.find_one(f"Job where id={job['id']}")
    assert seen is not None and seen["code"] == "shared.mov"
    assert seen["user_hr"] == "user:employee@acmevfx.com(employee)"
    assert job["user_hr"] == "user:employee@acmevfx.com[employee](5d91b33ac71c12871d1fc3b7)"
