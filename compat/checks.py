"""What the official-client scripts share: run steps, print one line per step, expect refusals.

Standard library only: this module runs inside the official clients'
environments, where this project is not installed. Each step is a function of
the shared :class:`State` whose docstring names the operation and whose return
value details the result; it fails by raising. The runner (``run.py``) reads
the lines ``PASS <title>: <detail>``, ``FAIL <title>: <error>`` and a last
``END``.
"""

from __future__ import annotations

import os
import sys
import traceback
from importlib import metadata
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Type


class Mismatch(Exception):
    """A result differs from what the step expected."""


class State:
    """What the steps of one script share: the session and the ids they made."""

    def __init__(self) -> None:
        self._session: Optional[Any] = None
        self.ids: Dict[str, str] = {}

    @property
    def session(self) -> Any:
        """The logged-in official session (a step fails clearly when login failed)."""
        if self._session is None:
            raise Mismatch("no session: the login step failed")
        return self._session

    @session.setter
    def session(self, session: Any) -> None:
        self._session = session

    def id(self, name: str) -> str:
        """An id an earlier step stored under ``name``."""
        if name not in self.ids:
            raise Mismatch(f"no {name} id: the step that makes it failed")
        return self.ids[name]


Step = Callable[[State], str]


def expect(actual: Any, expected: Any, what: str) -> None:
    """Raise :class:`Mismatch` unless ``actual == expected``."""
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def expect_true(condition: bool, what: str) -> None:
    """Raise :class:`Mismatch` with ``what`` unless ``condition`` holds."""
    if not condition:
        raise Mismatch(what)


def refused(error_type: Type[BaseException], call: Callable[[], Any], words: Sequence[str]) -> str:
    """The message of the ``error_type`` that ``call`` must raise; it must name ``words``."""
    try:
        result = call()
    except error_type as error:
        message = str(error)
        missing = [word for word in words if word.lower() not in message.lower()]
        expect_true(not missing, f"refusal {message!r} does not mention {missing}")
        return f"refused: {message}"
    raise Mismatch(f"expected {error_type.__name__}, the call returned {result!r}")


def ids_of(entities: Any) -> Tuple[str, ...]:
    """The sorted ``id`` values of a list of entities (the list must be one)."""
    expect_true(isinstance(entities, list), f"expected a list, got {entities!r}")
    return tuple(sorted(entity["id"] for entity in entities))


def check_client(module: Any, version: str) -> str:
    """The official package is the one imported, from this environment (not this project)."""
    expect(metadata.version("accsyn-python-api"), version, "installed accsyn-python-api")
    where = os.path.abspath(module.__file__)
    expect_true(where.startswith(sys.prefix), f"accsyn_api imported from {where}")
    expect_true(not os.path.exists(".env"), "a .env file in the working directory")
    return f"official accsyn_api {version} from {where}"


def run_steps(steps: Sequence[Step], state: State) -> int:
    """Run every step in order, print one line each and ``END``; the number that failed."""
    failed = 0
    for step in steps:
        title = (step.__doc__ or step.__name__).strip().splitlines()[0]
        try:
            detail = step(state)
        except Exception as error:
            failed += 1
            print(f"FAIL {title}: {type(error).__name__}: {_one_line(error)}", flush=True)
            traceback.print_exc(file=sys.stderr)
        else:
            print(f"PASS {title}: {_one_line(detail)}", flush=True)
    print("END", flush=True)
    return failed


def _one_line(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
