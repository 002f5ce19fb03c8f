"""The data arguments of the verbs: JSON text, ``-`` (standard input) or ``@file``."""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Optional, TextIO, Union

from .errors import UsageError

__all__ = [
    "JsonData",
    "read_api_key_file",
    "read_data",
    "require_changes",
    "require_entities",
]

JsonData = Union[Dict[str, Any], List[Any]]

_EXAMPLE = '\'{"source": "share=projects/a.mov", "destination": "lars@edit.com"}\''


def _text_of(argument: str, stdin: TextIO) -> str:
    if argument == "-":
        return stdin.read()
    if argument.startswith("@"):
        path = argument[1:]
        if not path:
            raise UsageError("'@' needs a file name: @spec.json (or - for standard input).")
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise UsageError(f"cannot read {argument}: {error.strerror or error}.") from None
        except UnicodeDecodeError:
            raise UsageError(f"cannot read {argument}: the file is not UTF-8 text.") from None
    return argument


def _where(argument: str) -> str:
    if argument == "-":
        return "standard input"
    if argument.startswith("@"):
        return argument
    return repr(argument if len(argument) <= 60 else argument[:57] + "...")


def read_data(argument: str, stdin: Optional[TextIO] = None) -> JsonData:
    """The JSON object or list given as text, ``-`` (read standard input) or ``@file``.

    Anything else (not JSON, a bare string or number) is a :class:`UsageError`.
    """
    text = _text_of(argument, sys.stdin if stdin is None else stdin)
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(
            f"the data in {_where(argument)} is not valid JSON ({error}); "
            f"give a JSON object such as {_EXAMPLE}, a list, - or @file."
        ) from None
    if not isinstance(value, (dict, list)):
        raise UsageError(
            f"the data must be a JSON object or a list, not {type(value).__name__} "
            f"({_where(argument)}); for example {_EXAMPLE}."
        )
    return value


def require_changes(data: JsonData, command: str) -> Dict[str, Any]:
    """``data`` as a non-empty object of changes, or a :class:`UsageError` saying what to give."""
    if not isinstance(data, dict) or not data:
        raise UsageError(
            f"{command} needs a non-empty JSON object of changes, such as "
            '\'{"status": "paused"}\'.'
        )
    return data


def require_entities(data: JsonData, entitytype: str) -> JsonData:
    """``data`` as one object or a non-empty list of objects, or a :class:`UsageError`."""
    if isinstance(data, list) and (not data or not all(isinstance(item, dict) for item in data)):
        raise UsageError(
            f"to create several {entitytype}s, give a non-empty JSON list of objects, "
            f"such as [{_EXAMPLE[1:-1]}]."
        )
    return data


def read_api_key_file(path: str) -> str:
    """The API key held in ``path``: its first line, stripped."""
    try:
        with open(path, encoding="utf-8") as handle:
            key = handle.readline().strip()
    except OSError as error:
        raise UsageError(
            f"cannot read the API key file {path}: {error.strerror or error}."
        ) from None
    if not key:
        raise UsageError(f"the API key file {path} is empty; its first line must be the key.")
    return key
