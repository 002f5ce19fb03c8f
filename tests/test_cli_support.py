"""Helpers for the tests of the ``accsyn`` command (test_cli*.py); no tests of its own.

The tests run the installed ``accsyn`` executable as a child process against a
:class:`~accsyn_api.testing.LocalServer` of the test, through a pipe or a
pseudo-terminal (:func:`run_in_terminal`).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import pytest

from accsyn_api import Session
from accsyn_api.testing import LocalServer

JOB_ID = "614d660de50d45bb027c9bdd"
"""latest_edit.mov, the job of the official examples (init, two queued tasks)."""
TASK_ID = "b8401ce0-9c6c-4c32-98c6-61d18db01f07"
PAUSED_JOB_ID = "6150a1c2e50d45bb027c9c01"
"""x and y.png: paused."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


def accsyn_executable() -> str:
    """The ``accsyn`` script installed beside this interpreter (else the one on PATH)."""
    beside = Path(sys.executable).with_name("accsyn")
    found = str(beside) if beside.exists() else shutil.which("accsyn")
    if found is None:
        pytest.skip("the accsyn command is not installed")
    return found


def environment(
    server: Optional[LocalServer] = None,
    role: str = "employee",
    *,
    hide_rich: Optional[Path] = None,
    **extra: str,
) -> Dict[str, str]:
    """This process's environment without ``ACCSYN_*``, plus the server's variables.

    ``hide_rich`` is a directory (see :func:`without_rich`) put first on
    ``PYTHONPATH`` so that ``import rich`` fails in the child.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCSYN_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="40")
    env.pop("NO_COLOR", None)
    if server is not None:
        env.update(server.environment(role))
    if hide_rich is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hide_rich), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def without_rich(directory: Path) -> Path:
    """A directory holding a ``rich`` module that cannot be imported, as if not installed."""
    (directory / "rich.py").write_text(
        "raise ImportError('rich is hidden by the test')\n", encoding="utf-8"
    )
    return directory


def run(
    *argv: str,
    env: Mapping[str, str],
    stdin: Optional[str] = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run ``accsyn ARGV...`` through pipes; the completed process (text)."""
    return subprocess.run(  # noqa: S603 - the installed accsyn command
        [accsyn_executable(), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )


def start(*argv: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start ``accsyn ARGV...`` with its output in pipes."""
    return subprocess.Popen(  # noqa: S603 - the installed accsyn command
        [accsyn_executable(), *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )


def _set_size(descriptor: int, rows: int, columns: int) -> None:
    fcntl.ioctl(descriptor, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _read_some(master: int, chunks: List[bytes]) -> bool:
    """Read what the terminal holds; False once the child's side is closed."""
    ready, _, _ = select.select([master], [], [], 0.02)
    if not ready:
        return True
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: every copy of the child's side is closed
        return False
    chunks.append(data)
    return bool(data)


def run_in_terminal(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    while_running: Optional[Callable[[subprocess.Popen[bytes], str], None]] = None,
    timeout: float = 30,
) -> Tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its standard input, output and error.

    ``while_running(process, output_so_far)`` is called every few
    milliseconds. Returns the exit code and everything the terminal showed.
    """
    master, slave = os.openpty()
    _set_size(slave, 40, 160)
    process = subprocess.Popen(  # noqa: S603 - the installed accsyn command, or python
        list(argv), stdin=slave, stdout=slave, stderr=slave, env=dict(env), close_fds=True
    )
    os.close(slave)
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while _read_some(master, chunks):
            if while_running is not None and process.poll() is None:
                while_running(process, b"".join(chunks).decode("utf-8", "replace"))
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv} still runs after {timeout} s: {b''.join(chunks)!r}")
        return process.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def screen_text(output: str) -> str:
    """Terminal output without escape sequences, carriage returns made line breaks."""
    return ANSI.sub("", output).replace("\r\n", "\n").replace("\r", "\n")


def paused_job(session: Session, paths: Sequence[str], code: str = "batch") -> Dict[str, Any]:
    """A paused job sending ``paths`` from the projects share to lars@edit.com."""
    job: Dict[str, Any] = session.create(
        "Job",
        {
            "code": code,
            "source": "share=projects",
            "destination": "lars@edit.com",
            "status": "paused",
            "tasks": [f"share=projects/{path}" for path in paths],
        },
    )
    return job
