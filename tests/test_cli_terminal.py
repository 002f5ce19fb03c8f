"""The installed ``accsyn`` command on a terminal (a pseudo-terminal) and through pipes:
tables, ``accsyn wait``'s progress (bars with ``rich``, plain lines without it or in a pipe),
Ctrl-C, and the sign of life when a server does not answer. The simulated transfers move
with the server's clock, which the tests move each time the command has polled."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest
from generations import both_generations
from test_cli_support import (
    JOB_ID,
    PAUSED_JOB_ID,
    accsyn_executable,
    environment,
    paused_job,
    run,
    run_in_terminal,
    screen_text,
    start,
    without_rich,
)

from accsyn_api.testing import LocalServer

pytestmark = both_generations

PATHS = ["term/a.mov", "term/b.mov", "term/c.mov"]
PLAIN_LINE = re.compile(r"^(?P<id>[0-9a-f]{24})  (?P<name>\S+)  (?P<status>\w+)  (?P<percent>\d+)%")


@pytest.fixture
def server(accsyn_api_version: str) -> Iterator[LocalServer]:
    with LocalServer(simulate=True, speed=200.0, api_version=accsyn_api_version) as local:
        yield local


@pytest.fixture
def no_rich(tmp_path: Path) -> Path:
    return without_rich(tmp_path)


def resumed_job(server: LocalServer, paths: List[str] = PATHS) -> str:
    with server.session() as session:
        job = paused_job(session, paths, code="to_lars")
        session.update("job", job["id"], {"status": "waiting"})
    return str(job["id"])


def clock_mover(server: LocalServer, seconds: float = 1.0) -> Callable[..., None]:
    """Moves the clock ``seconds`` on each time the server has received new events."""
    seen = [len(server.events)]

    def move(*_: object) -> None:
        count = len(server.events)
        if count > seen[0]:
            seen[0] = count
            server.backend.clock.advance(seconds=seconds)
        else:
            time.sleep(0.005)

    return move


# -- tables -------------------------------------------------------------------------------


def _row(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_a_table_on_a_terminal_with_rich(server: LocalServer) -> None:
    code, output = run_in_terminal([accsyn_executable(), "find", "Job"], environment(server))
    text = screen_text(output)
    assert code == 0, text
    for header in ("ID", "NAME", "STATUS", "PROGRESS", "SOURCE", "DESTINATION", "MODIFIED"):
        assert header in text
    row = _row(text, JOB_ID)
    assert "latest_edit.mov" in row and "init" in row and "0%" in row
    assert "2021-10-26 08:12" in row
    assert not text.lstrip().startswith("[")  # not JSON


def test_a_plain_table_without_rich(server: LocalServer, no_rich: Path) -> None:
    env = environment(server, hide_rich=no_rich)
    code, output = run_in_terminal([accsyn_executable(), "find", "Job"], env)
    text = screen_text(output)
    assert code == 0, text
    header = _row(text, "STATUS")
    row = _row(text, JOB_ID)
    assert row.index("init") == header.index("STATUS")  # aligned columns
    assert row.index("latest_edit.mov") == header.index("NAME")


def test_one_entity_is_shown_attribute_by_attribute(server: LocalServer, no_rich: Path) -> None:
    for env in (environment(server), environment(server, hide_rich=no_rich)):
        argv = [accsyn_executable(), "find-one", f"Job where id={JOB_ID}"]
        code, output = run_in_terminal(argv, env)
        text = screen_text(output)
        assert code == 0, text
        assert re.search(r"^\s*code\s+latest_edit\.mov\s*$", text, re.MULTILINE), text
        assert re.search(r"^\s*created\s+2021-09-24 07:45:49", text, re.MULTILINE), text


# -- wait -----------------------------------------------------------------------------------


def test_wait_shows_bars_on_a_terminal(server: LocalServer) -> None:
    job_id = resumed_job(server)
    argv = [accsyn_executable(), "wait", job_id, PAUSED_JOB_ID, "--interval", "0.02"]
    with server.session() as session:
        session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    code, output = run_in_terminal(argv, environment(server), while_running=clock_mover(server))
    text = screen_text(output)
    assert code == 1, text  # one of the two jobs was aborted
    assert "━" in output  # rich's bar
    final = _row(text[text.rindex("to_lars") :], "to_lars")
    assert "100%" in final and "3/3 tasks" in final and "done" in final
    assert any("MB/s" in line and "etr" in line for line in text.splitlines())
    assert f"job {PAUSED_JOB_ID} (x and y.png) is aborted" in text


def test_wait_prints_a_line_per_change_in_a_pipe(server: LocalServer) -> None:
    job_id = resumed_job(server)
    process = start("wait", job_id, "--interval", "0.02", env=environment(server))
    move = clock_mover(server, seconds=0.5)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        move()
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    lines = [PLAIN_LINE.match(line) for line in out.splitlines()]
    assert all(lines) and len(lines) > 3, out
    percents = [int(match["percent"]) for match in lines if match]
    assert percents == sorted(percents) and percents[-1] == 100
    assert len(set(lines[i]["percent"] for i in range(len(lines)) if lines[i])) == len(lines)
    assert "3/3 tasks" in out.splitlines()[-1] and out.splitlines()[-1].count("done") == 1
    assert "MB/s  etr " in out


def test_wait_without_rich_prints_plain_lines_on_a_terminal(
    server: LocalServer, no_rich: Path
) -> None:
    job_id = resumed_job(server, PATHS[:1])
    argv = [accsyn_executable(), "wait", job_id, "--interval", "0.02"]
    env = environment(server, hide_rich=no_rich)
    code, output = run_in_terminal(argv, env, while_running=clock_mover(server))
    text = screen_text(output)
    assert code == 0, text
    assert "━" not in output
    assert PLAIN_LINE.match(text.strip().splitlines()[-1])
    assert text.strip().splitlines()[-1].split()[2:4] == ["done", "100%"]


def test_wait_json_and_exit_codes(server: LocalServer) -> None:
    env = environment(server)
    with server.session() as session:
        session.update("job", PAUSED_JOB_ID, {"status": "aborted"})
    done = run("wait", PAUSED_JOB_ID, "--json", "--until", "aborted", env=env)
    assert done.returncode == 0, done.stderr
    assert [job["status"] for job in json.loads(done.stdout)] == ["aborted"]

    ended = run("wait", PAUSED_JOB_ID, "--quiet", env=env)
    assert (ended.returncode, ended.stdout) == (1, "")
    assert (
        ended.stderr.strip()
        == f"accsyn wait: job {PAUSED_JOB_ID} (x and y.png) is aborted at 0%, not done"
    )

    late = run("wait", JOB_ID, "--timeout", "0.2", "--interval", "0.05", "--quiet", env=env)
    assert late.returncode == 4
    assert (
        late.stderr.strip()
        == f"accsyn wait: timed out: job {JOB_ID} (latest_edit.mov) is init at 0%"
    )


# -- Ctrl-C and a server that does not answer ----------------------------------------------


def _interrupt_when(
    condition: Callable[[str], bool],
) -> Callable[[subprocess.Popen[bytes], str], None]:
    sent: Dict[str, bool] = {}

    def check(process: subprocess.Popen[bytes], output: str) -> None:
        if not sent and condition(output):
            process.send_signal(signal.SIGINT)
            sent["yes"] = True

    return check


def _assert_interrupted(code: int, output: str) -> None:
    text = screen_text(output)
    assert code == 130, text
    assert "Traceback" not in text and "urllib3" not in text
    assert text.rstrip().splitlines()[-1] == "accsyn: interrupted"


def test_ctrl_c_on_a_hung_server_after_a_sign_of_life() -> None:
    with LocalServer() as server:  # one generation: the notice is the command's own
        rule = server.inject("delay", seconds=30)
        code, output = run_in_terminal(
            [accsyn_executable(), "find", "Job"],
            environment(server),
            while_running=_interrupt_when(lambda text: "no answer from the server" in text),
            timeout=20,
        )
    _assert_interrupted(code, output)
    assert rule.fired == 1
    assert len(screen_text(output).strip().splitlines()) == 2  # the notice, then one line


def test_ctrl_c_in_a_pipe(server: LocalServer) -> None:
    rule = server.inject("delay", seconds=30)
    process = start("find", "Job", env=environment(server))
    deadline = time.monotonic() + 20
    while rule.fired == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert (process.returncode, out, err) == (130, "", "accsyn: interrupted\n")


def test_ctrl_c_while_waiting(server: LocalServer) -> None:
    argv = [accsyn_executable(), "wait", JOB_ID, "--interval", "0.05"]
    seen: List[int] = []

    def after_a_few_polls(text: str) -> bool:
        seen.append(len(server.events))
        return len(server.events) > 3

    code, output = run_in_terminal(
        argv, environment(server), while_running=_interrupt_when(after_a_few_polls)
    )
    _assert_interrupted(code, output)


def test_ctrl_c_in_the_demo() -> None:
    code, output = run_in_terminal(
        [accsyn_executable(), "demo"],
        environment(None),
        while_running=_interrupt_when(lambda text: "Resume it" in text),
    )
    _assert_interrupted(code, output)
