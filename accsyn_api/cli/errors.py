"""Exit codes, usage errors and error messages in a shell's terms.

The library's messages advise Python callers (``pass api_key=... to
Session()``, ``use session.update_many(...)``); :func:`shell_message` gives
them the command-line form when the ``accsyn`` command shows them.
"""

from __future__ import annotations

import re
from typing import Callable, Match, Pattern, Tuple, Union

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "UsageError",
    "shell_message",
]

EXIT_OK = 0
EXIT_NOT_FOUND = 1
"""``find-one`` found nothing; ``wait``: a job ended in another status."""
EXIT_USAGE = 2
EXIT_ERROR = 3
"""An accsyn error: refused, not found, authentication, network, settings."""
EXIT_TIMEOUT = 4
"""``wait --timeout`` ran out."""
EXIT_INTERNAL = 70
"""A fault of the command itself (sysexits' EX_SOFTWARE); ``--debug`` shows where."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as shells report it."""


class UsageError(Exception):
    """The command line is wrong: exit code 2, the message on standard error."""


_OPTION_OF_ARGUMENT = {
    "workspace": "--workspace",
    "domain": "--workspace",
    "username": "--user",
    "api_key": "--api-key-file FILE",
    "url": "--url",
    "api_version": "--api-version",
    "proxy": "--proxy",
    "timeout": "--timeout",
}

_Replacement = Union[str, Callable[[Match[str]], str]]


def _option(match: Match[str]) -> str:
    return f"give {_OPTION_OF_ARGUMENT.get(match.group(1), '--' + match.group(1))}"


_REWRITES: Tuple[Tuple[Pattern[str], _Replacement], ...] = (
    (re.compile(r"pass (\w+)=\.\.\. to Session\(\)"), _option),
    (re.compile(r"argument api_version=\.\.\. or "), "--api-version or "),
    (re.compile(r"url=\.\.\., ACCSYN_URL"), "--url or ACCSYN_URL"),
    (re.compile(r"\(api_version='3'\)"), "(--api-version 3)"),
    (
        re.compile(r"the CA bundle given as verify=\.\.\. \(verify='system'[^)]*\)"),
        "the CA bundle given with --ca-bundle",
    ),
    (
        re.compile(r"use\s+session\.update_many\('task', <job id>, \[[^\]]*\]\)"),
        'use accsyn update task JOB_ID \'[{"id": "TASK_ID", "status": "excluded"}]\', '
        "or accsyn exclude JOB_ID TASK_ID...",
    ),
    (
        re.compile(r"session\.create\('task', \{'tasks': \[\.\.\.\]\}, job_id\)"),
        "accsyn create task DATA JOB_ID, or accsyn add-tasks JOB_ID PATH...",
    ),
    (re.compile(r"Create a new Session\."), "Run the command again."),
    (
        re.compile(r"update_many\(\) needs a non-empty list of dicts, each with the 'id' (.*)"),
        'the data must be a non-empty JSON list of objects, each with the "id" of the task '
        'to change, e.g. [{"id": "TASK_ID", "status": "excluded"}].',
    ),
    (
        re.compile(r"create\('task', \.\.\.\) needs \{'tasks': \[\.\.\.\]\}"),
        'the data for tasks must be {"tasks": [...]}',
    ),
    (
        re.compile(r"\b(create|update|update_many)\(\) needs a dict"),
        "the data must be a JSON object",
    ),
    (re.compile(r"\bnon-empty list of dicts\b"), "non-empty JSON list of objects"),
)


def shell_message(text: str) -> str:
    """``text`` with the Python advice of the library's messages put in command-line terms."""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text
