"""The shell transcripts of docs/cli.rst (and the README's command line), run as written.

Every ``.. code-block:: console`` block of the page is one test: its
commands (lines starting ``$ ``; lines starting ``> `` continue the command
above, as a shell's second prompt shows them) run in one ``sh``, in an empty
directory, with the ``ACCSYN_*`` variables of a fresh simulating
:class:`~accsyn_api.testing.LocalServer` (v1.0, the demo employee), standard
error merged into standard output. What each command prints must be the lines
below it, where ``<id>`` stands for a 24-digit hex id, ``<uuid>`` for a task id,
``<n>`` for a whole number, ``<any>`` for any text, and a line ``...`` for any
number of lines. A block after an ``.. skip-doc-test`` comment is not run.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from test_cli_support import environment

from accsyn_api.testing import LocalServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = {ROOT / "docs" / "cli.rst": None, ROOT / "README.rst": "Command line"}
"""The pages, and the section whose transcripts are run (None: all of them)."""
SKIP_MARKER = ".. skip-doc-test"
PLACEHOLDERS = {
    "<id>": "[0-9a-f]{24}",
    "<uuid>": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "<n>": "[0-9]+",
    "<any>": ".*",
}
_PLACEHOLDER = re.compile("|".join(re.escape(key) for key in PLACEHOLDERS))


@dataclass(frozen=True)
class Command:
    text: str
    expected: List[str]


@dataclass(frozen=True)
class Transcript:
    page: Path
    line: int
    commands: List[Command]

    @property
    def name(self) -> str:
        return f"{self.page.name}:{self.line}"


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _block_lines(lines: List[str], start: int) -> List[str]:
    """The dedented body of the code block whose directive is at ``start``."""
    body: List[str] = []
    for text in lines[start + 1 :]:
        if text.strip() and _indent(text) <= _indent(lines[start]):
            break
        body.append(text)
    while body and not body[-1].strip():
        body.pop()
    cut = min((_indent(text) for text in body if text.strip()), default=0)
    return [text[cut:] for text in body]


def _commands(body: List[str]) -> List[Command]:
    commands: List[Command] = []
    for text in body:
        if text.startswith("$ "):
            commands.append(Command(text[2:], []))
        elif text.startswith("> ") and commands and not commands[-1].expected:
            last = commands.pop()
            commands.append(Command(f"{last.text}\n{text[2:]}", []))
        elif commands and (text.strip() or commands[-1].expected):
            commands[-1].expected.append(text.rstrip())
    for command in commands:
        while command.expected and not command.expected[-1]:
            command.expected.pop()
    return commands


def _in_section(lines: List[str], index: int, title: Optional[str]) -> bool:
    """Whether line ``index`` is in the section ``title`` (any line when None)."""
    if title is None:
        return True
    headings = [
        i for i in range(len(lines) - 1) if lines[i + 1].startswith("---") and lines[i].strip()
    ]
    current = [i for i in headings if i < index]
    return bool(current) and lines[current[-1]].strip() == title


def read_transcripts(page: Path, section: Optional[str] = None) -> List[Transcript]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for index, text in enumerate(lines):
        if text.strip() != ".. code-block:: console" or not _in_section(lines, index, section):
            continue
        above = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        if above == SKIP_MARKER:
            continue
        commands = _commands(_block_lines(lines, index))
        if commands:
            found.append(Transcript(page, index + 1, commands))
    return found


TRANSCRIPTS = [
    transcript for page, section in PAGES.items() for transcript in read_transcripts(page, section)
]


def _pattern(expected: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(expected)
    keys = _PLACEHOLDER.findall(expected)
    regex = "".join(
        re.escape(part) + (PLACEHOLDERS[keys[i]] if i < len(keys) else "")
        for i, part in enumerate(parts)
    )
    return re.compile(regex)


def matches(expected: List[str], actual: List[str]) -> bool:
    """Whether ``actual`` lines fit ``expected`` (placeholders, and ``...`` for any lines)."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and bool(_pattern(head).fullmatch(actual[0])) and matches(rest, actual[1:])


def _script(commands: List[Command]) -> str:
    lines = ["exec 2>&1"]
    for number, command in enumerate(commands):
        lines.append(f"echo '@@ {number} @@'")
        lines.append(command.text)
    return "\n".join(lines) + "\n"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(simulate=True, speed=2000.0) as local:
        yield local


def test_the_page_has_transcripts_of_every_verb() -> None:
    commands = " ".join(c.text for t in TRANSCRIPTS for c in t.commands)
    for verb in (
        "find",
        "find-one",
        "create",
        "update",
        "delete",
        "pause",
        "resume",
        "abort",
        "resend",
        "exclude",
        "add-tasks",
        "wait",
        "server",
    ):
        assert re.search(rf"accsyn(?: --\S+(?: \S+)?)* {verb}\b", commands), verb


def test_the_matcher() -> None:
    assert matches(["a <id> b"], ["a 614d660de50d45bb027c9bdd b"])
    assert not matches(["a <id> b"], ["a 614d b"])
    assert matches(["x", "...", "z"], ["x", "1", "2", "z"])
    assert matches(["..."], [])
    assert not matches(["x"], ["x", "y"])


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_transcript(transcript: Transcript, server: LocalServer, tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - the documentation's own commands
        ["sh", "-c", _script(transcript.commands)],  # noqa: S607
        cwd=tmp_path,
        env=environment(server),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs = re.split(r"^@@ \d+ @@\n", done.stdout, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(transcript.commands), done.stdout
    for command, output in zip(transcript.commands, outputs):
        actual = output.rstrip("\n").split("\n") if output.strip() else []
        assert matches(command.expected, actual), (
            f"$ {command.text}\nexpected:\n" + "\n".join(command.expected) + "\nprinted:\n" + output
        )
