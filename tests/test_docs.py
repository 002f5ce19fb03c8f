"""Run the Python examples of the documentation (docs/*.rst) against the reference server.

Every ``.. code-block:: python`` block of a page is one test, named
``<page>:<line>``. A block runs with :func:`exec` in a namespace holding
``accsyn_api``, ``session`` (the demo employee, logged in), ``server`` (a fresh
:class:`~accsyn_api.testing.LocalServer` with the demo workspace) and
``job_id`` (the job of the official examples). It passes when it raises
nothing; blocks show their results with ``assert``.

* A block whose nearest non-blank line above is ``.. skip-doc-test`` (an RST
  comment, e.g. for connecting to the hosted service) is only compiled.
* A block defining ``test_*`` functions is an example test suite: it is
  written to a file and run by pytest in a subprocess, with the fixtures of
  the installed plugin, and all its tests must pass.
* A block followed by a line ``prints:`` and a ``.. code-block:: text`` block
  must print exactly that text.
* A page holding the line ``.. doc-test-api-version: 3`` (an RST comment) runs
  its examples with ``server`` and ``session`` speaking that API generation;
  the others run on v1.0, the generation of the official Jobs chapter.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import accsyn_api
from accsyn_api.testing import LocalServer

DOCS = Path(__file__).resolve().parent.parent / "docs"
SKIP_MARKER = ".. skip-doc-test"
VERSION_MARKER = ".. doc-test-api-version:"
OUTPUT_MARKER = "prints:"
EXAMPLE_JOB_ID = "614d660de50d45bb027c9bdd"
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]*(?P<language>\S+)[ \t]*$")
_TEST_FUNCTION = re.compile(r"^def test_\w+\(", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One ``code-block`` of a page: its language, first line (1-based) and text."""

    path: Path
    line: int
    language: str
    code: str  # dedented; preceded by blank lines so that line numbers match the page
    after: int  # index of the first page line after the block


@dataclass(frozen=True)
class Example:
    """A Python block and what the test does with it."""

    block: Block
    skipped: bool
    expected_output: Optional[str]
    api_version: str = "1.0"

    @property
    def name(self) -> str:
        return f"{self.block.path.name}:{self.block.line}"

    @property
    def defines_tests(self) -> bool:
        return _TEST_FUNCTION.search(self.block.code) is not None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _nearest_text(lines: List[str], start: int, step: int) -> Optional[int]:
    """Index of the nearest non-blank line from ``start`` in direction ``step``."""
    index = start
    while 0 <= index < len(lines):
        if lines[index].strip():
            return index
        index += step
    return None


def read_blocks(path: Path) -> List[Block]:
    """Every ``.. code-block::`` of an RST page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        body: List[str] = []
        position = index + 1
        while position < len(lines):
            text = lines[position]
            if text.strip() and _indent(text) <= indent:
                break
            is_option = not "".join(body).strip() and text.strip().startswith(":")
            body.append("" if is_option else text)
            position += 1
        while body and not body[-1].strip():
            body.pop()
            position -= 1
        code = "\n" * (index + 1) + textwrap.dedent("\n".join(body)) + "\n"
        blocks.append(Block(path, index + 1, match["language"], code, position))
    return blocks


def read_examples(path: Path) -> List[Example]:
    """The Python examples of a page, with their skip marker and expected output."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = read_blocks(path)
    versions = [line.split(":", 1)[1].strip() for line in lines if line.startswith(VERSION_MARKER)]
    api_version = versions[0] if versions else "1.0"
    examples = []
    for number, block in enumerate(blocks):
        if block.language != "python":
            continue
        above = _nearest_text(lines, block.line - 2, -1)
        skipped = above is not None and lines[above].strip() == SKIP_MARKER
        expected = None
        below = _nearest_text(lines, block.after, 1)
        following = blocks[number + 1] if number + 1 < len(blocks) else None
        if (
            below is not None
            and lines[below].strip() == OUTPUT_MARKER
            and following is not None
            and following.language == "text"
            and _nearest_text(lines, below + 1, 1) == following.line - 1
        ):
            expected = following.code.lstrip("\n")
        examples.append(Example(block, skipped, expected, api_version))
    return examples


PAGES = sorted(DOCS.glob("*.rst"))
EXAMPLES = [example for page in PAGES for example in read_examples(page)]
RUNNABLE = [e for e in EXAMPLES if not e.skipped and not e.defines_tests]
TEST_SUITES = [e for e in EXAMPLES if not e.skipped and e.defines_tests]


def test_the_documentation_has_runnable_examples() -> None:
    assert PAGES, f"no pages found in {DOCS}"
    assert len(RUNNABLE) >= 20
    assert TEST_SUITES, "testing.rst shows an example test suite"
    assert any(example.expected_output for example in RUNNABLE)
    pages_with_examples = {example.block.path.name for example in RUNNABLE}
    for page in ("quickstart.rst", "queries.rst", "jobs.rst", "errors.rst", "testing.rst"):
        assert page in pages_with_examples


def test_the_block_reader_finds_code_skip_markers_and_output(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n.. code-block:: python\n   :caption: one\n\n    x = 1\n"
        "    assert x == 1\n\ntext\n\n.. skip-doc-test\n\n.. code-block:: python\n\n"
        "    connect()\n\n.. code-block:: python\n\n    print('hi')\n\nprints:\n\n"
        ".. code-block:: text\n\n    hi\n",
        encoding="utf-8",
    )
    first, second, third = read_examples(page)
    assert (first.block.line, first.skipped, first.expected_output) == (4, False, None)
    assert first.block.code.splitlines()[6:] == ["x = 1", "assert x == 1"]
    assert second.skipped and second.block.code.strip() == "connect()"
    assert not third.skipped and third.expected_output == "hi\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_is_valid_python(example: Example) -> None:
    compile(example.block.code, str(example.block.path), "exec")


@pytest.mark.parametrize(
    ("example", "accsyn_api_version"),
    [(e, e.api_version) for e in RUNNABLE],
    ids=[e.name for e in RUNNABLE],
)
def test_example_runs(
    example: Example,
    accsyn_api_version: str,
    accsyn_server: LocalServer,
    accsyn_session: accsyn_api.Session,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace: Dict[str, Any] = {
        "__name__": "docs_example",
        "accsyn_api": accsyn_api,
        "session": accsyn_session,
        "server": accsyn_server,
        "job_id": EXAMPLE_JOB_ID,
    }
    code = compile(example.block.code, str(example.block.path), "exec")
    exec(code, namespace)  # noqa: S102  (the documentation's own examples)
    if example.expected_output is not None:
        assert capsys.readouterr().out == example.expected_output


@pytest.mark.parametrize("example", TEST_SUITES, ids=[e.name for e in TEST_SUITES])
def test_example_test_suite_passes(example: Example, tmp_path: Path) -> None:
    module = tmp_path / "test_doc_example.py"
    module.write_text(example.block.code.lstrip("\n"), encoding="utf-8")
    expected = len(_TEST_FUNCTION.findall(example.block.code))
    completed = subprocess.run(  # noqa: S603  (this interpreter, running pytest)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    assert f"{expected} passed" in report, report
