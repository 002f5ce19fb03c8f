"""``accsyn server -- COMMAND`` and ``accsyn shell``, run as the installed executable."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from pathlib import Path

import pytest
import requests
from generations import both_generations
from test_cli_support import JOB_ID, accsyn_executable, environment, run, start

from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

pytestmark = both_generations

SEE_THE_SERVER = """
import json, os, sys
import accsyn_api
with accsyn_api.Session() as session:
    job = session.find_one("Job where id=614d660de50d45bb027c9bdd")
    print(json.dumps({name: value for name, value in os.environ.items()
                      if name.startswith("ACCSYN_")}))
    print(session.api_version, job["code"])
sys.exit(7)
"""


@pytest.mark.parametrize("api_version", names.GENERATIONS)
def test_server_runs_a_command_with_the_variables_and_its_exit_code(
    api_version: str,
) -> None:
    env = environment(None, ACCSYN_PROXY="socks5:127.0.0.1:9")  # must not reach the command
    done = run(
        "server", "--api-version", api_version, "--", sys.executable, "-c", SEE_THE_SERVER, env=env
    )
    assert done.returncode == 7, done.stderr
    variables_line, result = done.stdout.splitlines()
    variables = json.loads(variables_line)
    assert variables["ACCSYN_API_VERSION"] == api_version
    assert "ACCSYN_PROXY" not in variables
    assert variables["ACCSYN_URL"].startswith("http://127.0.0.1:")
    assert result == f"{api_version} latest_edit.mov"
    with pytest.raises(requests.ConnectionError):  # stopped when the command ended
        requests.get(variables["ACCSYN_URL"], timeout=5)


def test_the_command_can_be_the_accsyn_command_itself(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"source": "share=projects/thefilm/x.mov", "destination": "lars@edit.com"}),
        encoding="utf-8",
    )
    accsyn = accsyn_executable()
    script = f'id=$("{accsyn}" create job @{spec} --quiet) && "{accsyn}" wait "$id" --interval 0.05'
    done = run(
        "server", "--simulate", "--speed", "5000", "--", "sh", "-c", script, env=environment(None)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split()[1:4] == ["x.mov", "done", "100%"]


def test_a_command_that_does_not_exist() -> None:
    done = run("server", "--", "no-such-command-here", env=environment(None))
    assert done.returncode == 127
    assert done.stderr == "accsyn server: command not found: no-such-command-here\n"


def test_words_after_the_options_need_the_separator() -> None:
    done = run("server", "python", env=environment(None))
    assert done.returncode == 2 and "unrecognized arguments: python" in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_is_passed_on_to_the_command() -> None:
    sleeper = "import time; print('ready', flush=True); time.sleep(30)"
    process = start("server", "--", sys.executable, "-c", sleeper, env=environment(None))
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 128 + signal.SIGTERM


# -- accsyn shell -------------------------------------------------------------------------------


def test_shell_on_a_fresh_local_server(accsyn_api_version: str) -> None:
    lines = [
        "job = session.find_one('Job where code=\"x and y.png\"')",
        "print('status:', job['status'], session.api_version, type(server).__name__)",
    ]
    done = run(
        "shell",
        "--local",
        "--plain",
        "--api-version",
        accsyn_api_version,
        env=environment(None),
        stdin="\n".join(lines) + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert f"status: paused {accsyn_api_version} LocalServer" in done.stdout
    assert "session = <Session" in done.stderr  # the banner


def test_shell_on_a_simulated_local_server_moves_with_its_clock() -> None:
    lines = [
        "job = session.update('job', '614d660de50d45bb027c9bdd', {'status': 'waiting'})",
        "server.backend.clock.advance(hours=1)",
        "print('now', session.wait(job['id'], timeout=5, interval=0.05)['status'])",
    ]
    done = run(
        "shell", "--local", "--simulate", "--plain", env=environment(None), stdin="\n".join(lines)
    )
    assert done.returncode == 0, done.stderr
    assert "now done" in done.stdout


def test_shell_on_the_workspace_of_the_environment(accsyn_server: LocalServer) -> None:
    done = run(
        "shell",
        "--plain",
        env=environment(accsyn_server),
        stdin=f"print('found', session.find_one('Job where id={JOB_ID}')['id'])\n",
    )
    assert done.returncode == 0, done.stderr
    assert f"found {JOB_ID}" in done.stdout
    assert "server" not in done.stderr.split("Names:")[1]


def test_shell_options_for_a_local_server_only() -> None:
    done = run("shell", "--simulate", env=environment(None))
    assert done.returncode == 2 and "--local" in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("IPython") is None, reason="IPython not installed")
def test_shell_uses_ipython_when_installed() -> None:
    done = run(
        "shell",
        "--local",
        env=environment(None),
        stdin="import IPython; print('ipython', IPython.get_ipython() is not None)\n",
    )
    assert done.returncode == 0, done.stderr
    assert "ipython True" in done.stdout
