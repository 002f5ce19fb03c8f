"""The installed ``accsyn`` command's verbs, run as a child process through pipes, on both
generations: JSON parsed back, data from ``-`` and ``@file``, ``--quiet`` into ``xargs``,
the job shortcuts, exit codes, and errors in a shell's terms."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from generations import both_generations
from test_cli_support import JOB_ID, PAUSED_JOB_ID, TASK_ID, accsyn_executable, environment, run

from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

pytestmark = both_generations

NO_PYTHON_ADVICE = ("Session(", "session.", "=...", "Traceback")


def parsed(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def job_spec(*paths: str) -> Dict[str, Any]:
    return {
        "code": "from_the_shell",
        "source": "share=projects",
        "destination": "lars@edit.com",
        "status": "paused",
        "tasks": [f"share=projects/{path}" for path in paths],
    }


def test_find_and_find_one_print_json_with_iso_dates(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server)
    jobs = parsed(run("find", "Job where status=init", "--json", env=env))
    assert JOB_ID in [job["id"] for job in jobs]
    job = parsed(run("find-one", f"Job where id={JOB_ID}", env=env))  # a pipe: JSON
    assert job["created"].startswith("2021-09-24T07:45:49")
    assert run("find-one", "Job where code=nothing.mov", env=env).returncode == 1


def test_create_from_standard_input_and_from_a_file(
    accsyn_server: LocalServer, tmp_path: Path
) -> None:
    env = environment(accsyn_server)
    spec = job_spec(*[f"batch/shot_{n:02}.exr" for n in range(50)])
    job = parsed(run("create", "job", "-", "--json", env=env, stdin=json.dumps(spec)))
    tasks = parsed(run("find", f"task where job.id={job['id']}", env=env))
    assert len(tasks) == 50

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(job_spec("batch/extra.mov")), encoding="utf-8")
    again = parsed(run("create", "job", f"@{spec_file}", env=env))
    assert again["code"] == "from_the_shell" and again["id"] != job["id"]

    more = tmp_path / "tasks.json"
    more.write_text(json.dumps({"tasks": ["share=projects/batch/late.mov"]}), encoding="utf-8")
    added = parsed(run("create", "task", f"@{more}", job["id"], env=env))
    assert added["success"] is True and len(added["tasks"]) == 1


def test_update_from_standard_input(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server)
    job = parsed(run("update", "job", JOB_ID, "-", env=env, stdin='{"status": "paused"}'))
    assert job["status"] == "paused"
    change = json.dumps([{"id": TASK_ID, "status": "excluded"}])
    tasks = parsed(run("update", "task", JOB_ID, "-", env=env, stdin=change))
    assert [task["status"] for task in tasks] == ["excluded"]


def test_quiet_ids_piped_into_another_verb(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server)
    accsyn = shlex.quote(accsyn_executable())
    pipeline = f"{accsyn} find 'Job where status=paused' --quiet | xargs {accsyn} abort --quiet"
    done = subprocess.run(  # noqa: S602 - a shell pipeline, as a user would type it
        pipeline, shell=True, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [PAUSED_JOB_ID]
    job = parsed(run("find-one", f"Job where id={PAUSED_JOB_ID}", env=env))
    assert job["status"] == "aborted"


def test_job_shortcuts(accsyn_server: LocalServer, accsyn_api_version: str) -> None:
    env = environment(accsyn_server)
    for verb, status in (("pause", "paused"), ("resume", "waiting"), ("abort", "aborted")):
        jobs = parsed(run(verb, JOB_ID, PAUSED_JOB_ID, "--json", env=env))
        assert [(job["id"], job["status"]) for job in jobs] == [
            (JOB_ID, status),
            (PAUSED_JOB_ID, status),
        ]
    resent = run("resend", JOB_ID, "--json", env=env)
    if accsyn_api_version == names.V1:
        assert parsed(resent)[0]["status"] == "pending"
    else:
        assert resent.returncode == 2
        assert "v3" in resent.stderr and len(resent.stderr.splitlines()) == 1


def test_a_shortcut_reports_each_job_it_could_not_change(accsyn_server: LocalServer) -> None:
    missing = "ffffffffffffffffffffffff"
    done = run("pause", missing, JOB_ID, "--quiet", env=environment(accsyn_server))
    assert done.returncode == 3
    assert done.stdout.split() == [JOB_ID]
    assert done.stderr.startswith(f"accsyn pause: {missing}: NotFound: ")


def test_exclude_and_add_tasks(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server)
    tasks = parsed(run("exclude", JOB_ID, TASK_ID, "--json", env=env))
    assert [(task["id"], task["status"]) for task in tasks] == [(TASK_ID, "excluded")]
    added = parsed(
        run("add-tasks", PAUSED_JOB_ID, "share=projects/a.mov", "share=projects/b.mov", env=env)
    )
    assert added["success"] is True and len(added["tasks"]) == 2
    quiet = run("add-tasks", PAUSED_JOB_ID, "share=projects/c.mov", "--quiet", env=env)
    assert quiet.returncode == 0 and len(quiet.stdout.split()) == 1


def test_delete(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server)
    done = run("delete", "job", JOB_ID, env=env)
    assert (done.returncode, done.stdout) == (0, "")
    assert run("find-one", f"Job where id={JOB_ID}", env=env).returncode == 1


def test_the_generation_and_connection_come_from_options(accsyn_server: LocalServer) -> None:
    v1 = accsyn_server.environment(api_version="1.0")
    bare = environment(None, ACCSYN_API_KEY=v1["ACCSYN_API_KEY"])
    options = ["--workspace", "acmevfx", "--user", v1["ACCSYN_API_USER"], "--url", v1["ACCSYN_URL"]]
    for version in ("1.0", "3"):
        job = parsed(
            run("--api-version", version, "find-one", f"Job where id={JOB_ID}", *options, env=bare)
        )
        assert job["id"] == JOB_ID
        assert ("user:" in job["destination_hr"]) and (
            ("[" in job["destination_hr"]) == (version == "3")  # v3's user_hr: email[role](id)
        )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["find", "Jbo"], "Did you mean 'job'?"),
        (["find", "Jbo where status=init"], "Did you mean 'job'?"),
        (["find-one", "usr"], "Did you mean 'user'?"),
    ],
)
def test_a_mistyped_entity_type_gets_a_suggestion(
    accsyn_server: LocalServer, argv: List[str], expected: str
) -> None:
    done = run(*argv, env=environment(accsyn_server))
    assert done.returncode == 3
    assert expected in done.stderr and "/find" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["update", "job", JOB_ID, '{"status": "running"}'], 3),
        (["find", 'Job where code="open'], 3),
        (["update", "job", "ffffffffffffffffffffffff", '{"status": "paused"}'], 3),
        (["update", "task", JOB_ID, '[{"status": "excluded"}]'], 3),
        (["create", "job", '{"destination": "lars@edit.com"}'], 3),
        (["create", "job", "[1]"], 2),
        (["update", "task", JOB_ID, '{"status": "excluded"}'], 2),
        (["create", "task", '{"tasks": []}'], 2),
        (["wait", JOB_ID, "--until", "complete"], 2),
    ],
)
def test_failures_exit_with_their_class_in_a_shell_s_terms(
    accsyn_server: LocalServer, argv: List[str], code: int
) -> None:
    done = run(*argv, env=environment(accsyn_server))
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    assert 1 <= len(done.stderr.splitlines()) <= 3  # an InvalidQuery adds the query and a caret
    assert not any(advice in done.stderr for advice in NO_PYTHON_ADVICE), done.stderr


def test_debug_shows_the_traceback(accsyn_server: LocalServer) -> None:
    done = run(
        "--debug", "update", "job", JOB_ID, '{"status": "running"}', env=environment(accsyn_server)
    )
    assert done.returncode == 3
    assert "Traceback" in done.stderr and done.stderr.splitlines()[-1].startswith("accsyn: ")


def test_the_key_never_shows(accsyn_server: LocalServer) -> None:
    env = environment(accsyn_server, ACCSYN_API_KEY="wrong-key-4b1d")
    done = run("find", "Job", "--debug", env=env)
    assert done.returncode == 3 and "AuthenticationError" in done.stderr
    assert "wrong-key-4b1d" not in done.stderr + done.stdout
