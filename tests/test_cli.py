"""The ``accsyn`` command in process (``main(argv)``): demo, server, verbs, JSON, exit codes.

The installed executable is run as a child process in test_cli_verbs.py,
test_cli_terminal.py and test_cli_server.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from generations import both_generations

import accsyn_api
from accsyn_api.cli import main
from accsyn_api.testing import LocalServer

pytestmark = both_generations

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
    assert run("find-one", f"Job where id={job['id']}")[0] == 1  # v3: archived


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
    error = capsys.readouterr().err.splitlines()
    assert error[0].startswith("accsyn: InvalidQuery: ")
    assert error[1:] == ['    Job where code="open', "                   ^"]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["find"],
        ["server", "--role", "superuser"],
        ["server", "--port", "99999"],
        ["find", "Job", "--limit", "-1"],
        ["demo", "--foo"],
        ["find", "Job", "--api-key", "secret-key-123"],
        ["find", "Job", "--", "python"],
        ["wait", JOB_ID, "--until", "finished"],
    ],
)
def test_usage_errors_exit_2_in_two_lines(
    argv: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 2 and "--help" in error
    assert "secret-key-123" not in error
    if argv[:1] == ["demo"]:
        assert error.startswith("accsyn demo: error: unrecognized arguments: --foo")


def test_the_api_key_is_never_taken_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["find", "Job", "--api-key=secret-key-123"])
    error = capsys.readouterr().err
    assert "ACCSYN_API_KEY" in error and "--api-key-file" in error
    assert "secret-key-123" not in error


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "job", "{not json"],
        ["create", "job", '"hello"'],
        ["create", "job", "[]"],
        ["create", "job", "@/nonexistent/spec.json"],
        ["update", "job", JOB_ID, "[1, 2"],
        ["update", "job", JOB_ID, "{}"],
        ["update", "task", JOB_ID, '{"status": "excluded"}'],
        ["create", "task", '{"tasks": ["a.mov"]}'],
    ],
)
def test_bad_data_is_a_usage_error(
    accsyn_env: LocalServer, argv: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*argv) == (2, "")
    error = capsys.readouterr().err
    assert error.startswith(f"accsyn {argv[0]}: error: ") and len(error.splitlines()) == 1
    assert "session." not in error and "Session(" not in error and "=..." not in error


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
    error = capsys.readouterr().err
    assert "ACCSYN_WORKSPACE" in error and "--workspace" in error
    assert "Session()" not in error and "=..." not in error


def test_a_missing_key_is_asked_in_shell_terms(
    accsyn_env: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ACCSYN_API_KEY")
    assert run("find", "Job")[0] == 3
    error = capsys.readouterr().err
    assert error.startswith("accsyn: ConfigurationError: ")
    assert "ACCSYN_API_KEY" in error and "--api-key-file FILE" in error
    assert "Session()" not in error and "api_key=" not in error


def test_the_key_is_read_from_a_file(
    accsyn_env: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = os.environ["ACCSYN_API_KEY"]
    monkeypatch.delenv("ACCSYN_API_KEY")
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n", encoding="utf-8")
    code, printed = run("find-one", f"Job where id={JOB_ID}", "--api-key-file", str(key_file))
    assert code == 0 and json.loads(printed)["id"] == JOB_ID


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


def test_version_names_the_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"accsyn-sdk {accsyn_api.__version__} (accsyn_api)"
