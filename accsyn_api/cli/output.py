"""How the verbs print results: JSON, an aligned table, or ids alone.

* ``--json``: one JSON document, keys sorted, dates in ISO-8601
  (``2021-09-24T07:45:49``; with ``+00:00`` on v3, whose dates are UTC).
* on a terminal, by default: a table, one row per entity (id, name, status,
  progress, source, destination, modified), or for one entity its
  attributes one per line. Drawn by ``rich`` when installed
  (``pip install 'accsyn-sdk[cli]'``), else aligned plain text.
* ``--quiet``: the ids, one per line, for ``xargs`` and ``while read``.
* not a terminal (a pipe, a file): JSON, as with ``--json``.
"""

from __future__ import annotations

import datetime
import importlib
import json
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

__all__ = ["FORMATS", "choose_format", "is_terminal", "print_json", "rich_available", "show"]

FORMATS = ("json", "table", "quiet")
_Column = Tuple[str, Callable[[Dict[str, Any]], str]]


def rich_available() -> bool:
    """Whether the optional ``rich`` library can be imported (``accsyn-sdk[cli]``)."""
    try:
        importlib.import_module("rich")
    except ImportError:
        return False
    return True


def is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def choose_format(json_flag: bool, quiet_flag: bool, out: TextIO) -> str:
    """``json``, ``table`` or ``quiet``, from the flags and where the output goes."""
    if json_flag:
        return "json"
    if quiet_flag:
        return "quiet"
    return "table" if is_terminal(out) else "json"


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def print_json(value: Any, out: TextIO) -> None:
    """One indented JSON document with sorted keys, dates in ISO-8601."""
    out.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_iso))
    out.write("\n")


def _entities(result: Any) -> Optional[List[Dict[str, Any]]]:
    """The entities of a result: a list, a dict, or a task creation's ``tasks``."""
    if isinstance(result, dict) and "id" not in result and isinstance(result.get("tasks"), list):
        result = result["tasks"]
    if isinstance(result, dict):
        return [result]
    if isinstance(result, list) and all(isinstance(item, dict) for item in result):
        return result
    return None


def show(result: Any, form: str, out: TextIO) -> None:
    """Print ``result`` (an entity, a list of them, a task creation) in ``form``."""
    entities = _entities(result)
    if form == "json" or entities is None:
        print_json(result, out)
    elif form == "quiet":
        for entity in entities:
            out.write(f"{entity.get('id', '')}\n")
    elif isinstance(result, dict) and "id" in result:
        _draw(["ATTRIBUTE", "VALUE"], _attribute_rows(result), out)
    else:
        columns = _columns_used(entities)
        header = [name for name, _ in columns]
        _draw(header, [[cell(entity) for _, cell in columns] for entity in entities], out)


# -- cells ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        shown = value.strftime("%Y-%m-%d %H:%M:%S")
        return f"{shown} UTC" if value.utcoffset() == datetime.timedelta(0) else shown
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_iso)
    return str(value)


def _name(entity: Dict[str, Any]) -> str:
    for key in ("code", "name", "email"):
        if entity.get(key):
            return _text(entity[key])
    return ""


def _party(key: str) -> Callable[[Dict[str, Any]], str]:
    def cell(entity: Dict[str, Any]) -> str:
        readable = entity.get(f"{key}_hr")
        if readable:
            return _text(readable)
        value = entity.get(key)
        if isinstance(value, dict):
            return _text(value.get("path", value))
        return _text(value)

    return cell


def _progress(entity: Dict[str, Any]) -> str:
    value = entity.get("progress")
    return f"{value}%" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _modified(entity: Dict[str, Any]) -> str:
    value = entity.get("modified") or entity.get("created")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return _text(value)


COLUMNS: Tuple[_Column, ...] = (
    ("ID", lambda entity: _text(entity.get("id"))),
    ("NAME", _name),
    ("STATUS", lambda entity: _text(entity.get("status"))),
    ("PROGRESS", _progress),
    ("SOURCE", _party("source")),
    ("DESTINATION", _party("destination")),
    ("MODIFIED", _modified),
)


def _columns_used(entities: Sequence[Dict[str, Any]]) -> List[_Column]:
    """The columns that have a value for at least one entity (``ID`` always)."""
    return [
        (name, cell)
        for name, cell in COLUMNS
        if name == "ID" or any(cell(entity) for entity in entities)
    ]


def _attribute_rows(entity: Dict[str, Any]) -> List[List[str]]:
    keys = sorted(entity, key=lambda key: (key != "id", key))
    return [[key, _text(entity[key])] for key in keys]


# -- drawing --------------------------------------------------------------------------


def _draw(header: List[str], rows: List[List[str]], out: TextIO) -> None:
    if rich_available():
        _draw_rich(header, rows, out)
    else:
        _draw_plain(header, rows, out)


def _draw_rich(header: List[str], rows: List[List[str]], out: TextIO) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(file=out, highlight=False).print(table)


def _draw_plain(header: List[str], rows: List[List[str]], out: TextIO) -> None:
    """Columns aligned with spaces; the last one is not padded."""
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
