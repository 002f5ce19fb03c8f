"""The official clients 2.2.1 (v1.0) and 3.4.0 (v3), unmodified, against ``accsyn server``.

Runs ``compat/run.py`` with the environments it made (``.compat/`` or
``$ACCSYN_COMPAT_VENVS``); skips when they are missing, since creating them
needs the package index (``.ci/run`` creates them and runs the runner itself).
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys
from types import ModuleType
from typing import List

import pytest

RUNNER = pathlib.Path(__file__).resolve().parent.parent / "compat" / "run.py"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.MULTILINE)


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat_run", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _require_venvs(versions: List[str]) -> None:
    runner = _load_runner()
    venvs = runner.default_venvs()
    for client in runner.CLIENTS:
        if client.version in versions and not runner.venv_ready(
            runner.venv_path(venvs, client), client
        ):
            pytest.skip(
                f"no environment with {client.requirement} under {venvs}: "
                "run `python compat/run.py` once to create it (needs the package index)"
            )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter and our runner
        [sys.executable, str(RUNNER), "--no-install", *args],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


@pytest.mark.timeout(180)
def test_both_official_clients_pass_every_check() -> None:
    _require_venvs(["2.2.1", "3.4.0"])
    done = _run()
    summary = SUMMARY.findall(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(summary) == 1 and summary[0][1] == "0", done.stdout
    assert int(summary[0][0]) >= 40, done.stdout
    assert "PASS [2.2.1 v1.0]" in done.stdout and "PASS [3.4.0 v3]" in done.stdout


def _failed(stdout: str) -> List[str]:
    return [line for line in stdout.splitlines() if line.startswith("FAIL ")]


@pytest.mark.timeout(120)
def test_a_server_that_misbehaves_fails_the_suite() -> None:
    """One refused job edit (HTTP 503, text body) adds one failed check and exit status 1."""
    _require_venvs(["2.2.1"])
    baseline = _run("--client", "2.2.1")
    broken = _run("--client", "2.2.1", "--server-arg=--fault=unavailable:uri=job/edit")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    update = "update('job'"
    assert not [line for line in _failed(baseline.stdout) if update in line], baseline.stdout
    assert [line for line in _failed(broken.stdout) if update in line], broken.stdout
    assert len(_failed(broken.stdout)) == len(_failed(baseline.stdout)) + 1, broken.stdout
    assert re.search(r"^\d+ passed, [1-9]\d* failed$", broken.stdout, re.MULTILINE)


def test_missing_environments_are_reported_not_installed(tmp_path: pathlib.Path) -> None:
    done = _run("--venvs", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no environment with accsyn-python-api==2.2.1" in done.stderr
    assert list(tmp_path.iterdir()) == []
