"""Rules the library keeps everywhere: checks with exceptions, nothing process-wide changed."""

from __future__ import annotations

import ast
import logging
import pathlib
import socket
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "accsyn_api"
SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_assert_statements(path: pathlib.Path) -> None:
    """``python -O`` strips asserts: the library must check with exceptions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert lines == [], f"assert statements at lines {lines} of {path.name}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_process_wide_changes(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    forbidden = {"basicConfig", "disable_warnings", "inject_into_ssl", "set_default_proxy"}
    assert called.isdisjoint(forbidden), sorted(called & forbidden)


def test_using_the_library_leaves_the_process_as_it_was() -> None:
    # requests and urllib3 add warning filters of their own when imported: take
    # the snapshot after importing them, so that only this library is judged.
    script = """
import logging, socket, ssl, warnings
import requests
before = (list(logging.getLogger().handlers), list(warnings.filters), socket.socket,
          socket.create_connection, ssl.SSLContext)
import accsyn_api
from accsyn_api.testing import LocalServer
with LocalServer() as server, server.session() as session:
    session.find("Job")
after = (list(logging.getLogger().handlers), list(warnings.filters), socket.socket,
         socket.create_connection, ssl.SSLContext)
assert before == after, (before, after)
assert logging.getLogger().level == logging.WARNING
print("unchanged")
"""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unchanged"


def test_the_demo_runs_without_asserts() -> None:
    """Under ``python -O`` (asserts removed) every check still holds."""
    done = subprocess.run(
        [sys.executable, "-O", "-m", "accsyn_api", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "0 active, 1 with finished=True" in done.stdout


def test_library_loggers_have_no_handlers_but_the_null_one() -> None:
    import accsyn_api  # noqa: F401 - importing is what is tested

    handlers = logging.getLogger("accsyn_api").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]
    assert socket.socket.__module__ == "socket"


def test_refusal_codes_have_one_home() -> None:
    """The error codes the server sends and the client reads are those of protocol/names.py."""
    from accsyn_api import replies
    from accsyn_api.protocol.names import ERROR_CODES
    from accsyn_api.testing import refusals

    read = set(replies._ERROR_CLASSES)
    sent = {code for _, code in refusals._ERROR_CODES}
    assert read == sent
    assert read | {"rate_limited"} == set(ERROR_CODES)  # 429: told by its HTTP status
