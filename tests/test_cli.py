"""The ``accsyn`` command: demo, server, and the verbs with their JSON output and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest

import accsyn_api
from accsyn_api.cli import main
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"


def run(*argv: str) -> Tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_demo_walks_a_job_through_its_life() -> None:
    code, printed = run("demo")
    assert code == 0
    for step in ("Create a job", "Find it by name", "List its tasks", "Exclude", "done"):
        assert step in printed
    assert "excluded" in printed
    bars = [line for line in printed.splitlines() if line.strip().startswith("[")]
    percents = [int(found) for line in bars for found in re.findall(r"(\d+)%", line)]
    assert len(bars) >= 3 and percents == sorted(percents) and percents[-1] == 100
    assert any("running" in line and "MB/s  etr " in line for line in bars)
    assert bars[-1].endswith("done")
    paused = [line for line in bars if line.endswith("paused")]
    assert len(paused) == 2 and paused[0] == paused[1]  # nothing moved while paused
    assert "0.0 MB/s" in paused[0] and "etr" not in paused[0]
    assert "task  0  done" in printed
    assert "0 active, 1 with finished=True" in printed


def test_find_prints_json(accsyn_env: LocalServer) -> None:
    code, printed = run("find", "Job where status=init", "--attributes", "code,status")
    assert code == 0
    jobs = json.loads(printed)
    assert jobs and all(job["status"] == "init" for job in jobs)
    assert JOB_ID in {job["id"] for job in jobs}
    assert set(jobs[0]) == {"id", "code", "status"}


def test_find_one_exit_codes(accsyn_env: LocalServer) -> None:
    code, printed = run("find-one", 'Job where code="x and y.png"')
    assert code == 0 and json.loads(printed)["code"] == "x and y.png"
    code, printed = run("find-one", 'Job where code="nothing like it"')
    assert code == 1 and printed == ""


def test_create_update_delete(accsyn_env: LocalServer) -> None:
    spec = {"source": "share=projects/thefilm/cli.mov", "destination": "lars@edit.com"}
    code, printed = run("create", "job", json.dumps(spec))
    assert code == 0
    job = json.loads(printed)
    assert job["code"] == "cli.mov"

    code, printed = run("update", "job", job["id"], '{"status": "paused"}')
    assert code == 0 and json.loads(printed)["status"] == "paused"

    with accsyn_env.session() as session:
        task = session.find(f"task WHERE job.id={job['id']}")[0]
    change = json.dumps([{"id": task["id"], "status": "excluded"}])
    code, printed = run("update", "task", job["id"], change)
    assert code == 0 and json.loads(printed)[0]["status"] == "excluded"

    assert run("delete", "job", job["id"])[0] == 0
    assert run("find-one", f"Job where id={job['id']}", "--archived")[0] == 1


def test_a_refusal_exits_3_with_the_reason_on_stderr(
    accsyn_env: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = run("update", "job", JOB_ID, '{"status": "running"}')
    assert code == 3 and printed == ""
    error = capsys.readouterr().err
    assert "InvalidData" in error and "running" in error


def test_a_malformed_query_exits_3(
    accsyn_env: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("find", 'Job where code="open')[0] == 3
    assert "InvalidQuery" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["find"],
        ["create", "job", "{not json"],
        ["server", "--role", "superuser"],
        ["find", "Job", "--limit", "-1"],
    ],
)
def test_usage_errors_exit_2(argv: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_missing_credentials_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "ACCSYN_WORKSPACE",
        "ACCSYN_DOMAIN",
        "ACCSYN_ORG",
        "ACCSYN_API_USER",
        "ACCSYN_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert run("find", "Job")[0] == 3
    assert "ACCSYN_WORKSPACE" in capsys.readouterr().err


def read_exports(process: subprocess.Popen[str]) -> Dict[str, str]:
    """The ``export NAME=value`` lines the server prints before it serves."""
    exports: Dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export ") :].strip().partition("=")
            exports[name] = value
        if line.startswith("# Ctrl-C"):
            return exports
    raise AssertionError(f"the server stopped before serving; printed {exports}")


@pytest.mark.parametrize(("role", "clearance"), [(None, "employee"), ("admin", "admin")])
def test_the_server_command_prints_what_a_session_needs(
    role: str | None, clearance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [sys.executable, "-m", "accsyn_api", "server", "--port", "0"]
    if role:
        argv += ["--role", role]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCSYN_")}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
    try:
        exports = read_exports(process)
        assert set(exports) == {
            "ACCSYN_DOMAIN",
            "ACCSYN_API_USER",
            "ACCSYN_API_KEY",
            "ACCSYN_URL",
            "ACCSYN_API_VERSION",
        }
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("ACCSYN_PROXY", raising=False)
        with accsyn_api.Session() as session:
            assert session.clearance == clearance
            assert session.find_one(f"Job where id={JOB_ID}") is not None
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_server_command_on_a_busy_port_exits_3(
    accsyn_server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = accsyn_server.url.rsplit(":", 1)[1]
    assert run("server", "--port", busy)[0] == 3
    error = capsys.readouterr().err
    assert f"127.0.0.1:{busy}" in error and "--port 0" in error


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_server_command_stops_cleanly_on_a_signal(signum: int) -> None:
    # Started as a shell's background job would be: with SIGINT ignored.
    process = subprocess.Popen(
        [sys.executable, "-m", "accsyn_api", "server"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert read_exports(process)
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_server_command_refuses_an_impossible_port(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("server", "--port", "70000")[0] == 3
    assert "--port 0" in capsys.readouterr().err
