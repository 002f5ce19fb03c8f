"""Smoke test: the official clients, unmodified, against LocalServer (skipped without them).

The official ``accsyn-python-api`` shares our import name, so each version
lives in a virtual environment of its own and runs as a subprocess: 3.4.0 (v3)
from ``$ACCSYN_OFFICIAL_V3_PYTHON`` (default ``/tmp/off/v3/bin/python``), 2.2.1
(v1.0) from ``$ACCSYN_OFFICIAL_V1_PYTHON`` (default ``/tmp/off/v1/bin/python``).
Make one with ``python3 -m venv /tmp/off/v3 && /tmp/off/v3/bin/pip install
accsyn-python-api==3.4.0``. The project's full compatibility suite is elsewhere;
this is a quick check of the reference server while developing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

from accsyn_api.testing import LocalServer

V3_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import accsyn_api
    from accsyn_api.session import AccsynException
    assert accsyn_api.__version__.startswith("3."), accsyn_api.__version__
    port, key = sys.argv[1], sys.argv[2]
    proxy = f"accsyn:127.0.0.1:{port}"
    s = accsyn_api.Session(workspace="acmevfx", username="employee@acmevfx.com",
                           api_key=key, proxy=proxy)
    out = {"role": s._role, "transfers": len(s.find("Transfer"))}
    out["find_one"] = s.find_one("Transfer WHERE code=latest_edit.mov")["id"]
    out["archived"] = s.get_entity("Transfer", "6150a1c2e50d45bb027c9c05")["status"]
    job = s.create("transfer", {"source": "share=projects/thefilm/a.mov",
                                "destination": "lars@edit.com"})
    out["created_source_hr"] = job["source_hr"]
    out["paused"] = s.update("transfer", job["id"], {"status": "paused"})["status"]
    task = s.create("task", {"source": "share=projects/thefilm/b.mov",
                             "destination": "in/b.mov"}, job["id"])
    out["task_uri"] = task["uri"]
    tasks = s.find("Task", entityid=job["id"])
    out["tasks"] = len(tasks)
    out["tasks_by_query"] = len(s.find(f"Task WHERE job.id={job['id']}"))
    edited = s.update_many("task", job["id"], [{"id": task["id"], "status": "onhold"}])
    out["task_status"] = edited[0]["status"]
    try:
        s.update("transfer", job["id"], {"status": "pending"})
    except AccsynException as error:
        out["pending_refused"] = str(error)
    out["deleted"] = s.delete_one("transfer", job["id"], {"force": True})
    out["gone"] = s.get_entity("Transfer", job["id"])
    try:
        accsyn_api.Session(workspace="acmevfx", username="employee@acmevfx.com",
                           api_key="wrong", proxy=proxy)
    except AccsynException as error:
        out["bad_key"] = str(error)
    try:
        accsyn_api.Session(workspace="otherfx", username="employee@acmevfx.com",
                           api_key=key, proxy=proxy)
    except AccsynException as error:
        out["bad_workspace"] = str(error)
    print("RESULT " + json.dumps(out))
    """
)

V1_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import accsyn_api
    port, key = sys.argv[1], sys.argv[2]
    s = accsyn_api.Session(domain="acmevfx", username="employee@acmevfx.com", api_key=key,
                           hostname="127.0.0.1", port=int(port), proxy=f"accsyn:127.0.0.1:{port}")
    job = s.create("job", {"source": "share=projects/thefilm/a.mov",
                           "destination": "lars@edit.com"})
    out = {"jobs": len(s.find("Job")), "user_hr": job["user_hr"]}
    out["pending"] = s.update("job", job["id"], {"status": "pending"})["status"]
    out["tasks"] = len(s.find(f"Task WHERE job.id={job['id']}"))
    print("RESULT " + json.dumps(out))
    """
)


def _official_python(variable: str, default: str) -> str:
    python = os.environ.get(variable, default)
    if not Path(python).exists():
        pytest.skip(
            f"no official client at {python}: make a venv with accsyn-python-api there "
            f"(or set {variable})"
        )
    return python


def _run(python: str, script: str, server: LocalServer, cwd: Path) -> Dict[str, Any]:
    """Run ``script`` with the official client; its RESULT line, decoded."""
    port = server.url.rsplit(":", 1)[1]
    key = server.credentials("employee")["api_key"]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd)}  # no PYTHONPATH
    done = subprocess.run(  # noqa: S603 - a test interpreter and our own script
        [python, "-c", script, port, key],
        cwd=cwd,  # the 3.x client reads ./.env: run where there is none
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert isinstance(result, dict)
    return result


def test_official_client_3_4_0_works_unmodified(tmp_path: Path) -> None:
    python = _official_python("ACCSYN_OFFICIAL_V3_PYTHON", "/tmp/off/v3/bin/python")
    with LocalServer(api_version="3") as server:
        result = _run(python, V3_SCRIPT, server, tmp_path)
    assert result["role"] == "employee" and result["transfers"] == 5
    assert result["find_one"] == "614d660de50d45bb027c9bdd"
    assert result["archived"] == "done"
    assert result["created_source_hr"] == "share:projects(5c5bf6101da7ee0165105ba0)"
    assert (result["paused"], result["task_uri"], result["task_status"]) == (
        "paused",
        "1",
        "onhold",
    )
    assert result["tasks"] == result["tasks_by_query"] == 2
    assert "waiting, paused, aborted, done" in result["pending_refused"]
    assert result["deleted"] is True and result["gone"] is None
    assert "API key" in result["bad_key"]
    assert "otherfx" in result["bad_workspace"]


def test_official_client_2_2_1_works_unmodified(tmp_path: Path) -> None:
    python = _official_python("ACCSYN_OFFICIAL_V1_PYTHON", "/tmp/off/v1/bin/python")
    with LocalServer() as server:
        result = _run(python, V1_SCRIPT, server, tmp_path)
    assert result == {
        "jobs": 6,
        "user_hr": "user:employee@acmevfx.com(employee)",
        "pending": "pending",
        "tasks": 1,
    }
