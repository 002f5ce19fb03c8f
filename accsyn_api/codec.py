"""JSON in and out: the accsyn wire format, with dates as :class:`datetime.datetime`.

The accsyn backend sends dates as strings such as ``"2021-09-24T07:45:49"``
(sometimes with ``.fff`` milliseconds). :func:`decode` turns those strings
into :class:`~datetime.datetime` objects wherever they appear in a reply,
except in places that belong to users or name things (see
:data:`PROTECTED_KEYS`, :data:`PROTECTED_KEY_SUFFIXES` and
:data:`VERBATIM_KEYS`). :func:`encode` and :func:`to_wire` do the reverse
for data sent to the server.

The two API generations differ in what a date without zone means:

* v1.0 (the default, ``utc=False``): dates travel naive both ways, exactly
  as the server writes them.
* v3 (``utc=True``): the server writes UTC without a zone designator.
  :func:`decode` returns timezone-aware datetimes (UTC unless the text
  names another offset) and also reads a few more spellings (see
  :func:`parse_datetime`); :func:`encode` sends every datetime as UTC text
  ``YYYY-MM-DDTHH:MM:SS``, a naive one being local time of this machine at
  that date (see :func:`to_utc`).

The date text itself (layouts, v3 spellings, UTC conversion) is in
:mod:`accsyn_api.dates`.

Decoding is written for speed: a reply is parsed by :func:`json.loads` and
every string is first screened by its length and by the fixed characters of
the date layout, so only strings that really look like dates are parsed.
python-dateutil is imported only when it is needed: for the rarer v3
spellings, and for local times the platform cannot convert.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Callable, Dict, FrozenSet, List, Set, Tuple, Union

from .dates import (
    DATE_TEXT_LENGTHS,
    LENIENT_DATE_TEXT_LENGTHS,
    _format_date,
    _parse_utc,
    _parse_v1,
    format_datetime,
    format_utc,
    local_now_text,
    parse_datetime,
    to_utc,
    utc_now_text,
)

__all__ = [
    "DATE_TEXT_LENGTHS",
    "LENIENT_DATE_TEXT_LENGTHS",
    "OBJECT_ID_PREFIX",
    "PROTECTED_KEYS",
    "PROTECTED_KEY_SUFFIXES",
    "VERBATIM_KEYS",
    "decode",
    "encode",
    "format_datetime",
    "format_utc",
    "local_now_text",
    "parse_datetime",
    "pretty",
    "to_utc",
    "to_wire",
    "utc_now_text",
]

PROTECTED_KEYS: FrozenSet[str] = frozenset(
    {
        "id",
        "code",
        "uri",
        "name",
        "path",
        "path_abs_final",
        "source",
        "destination",
        "query",
        "message",
        "message_hr",
        "description",
        "comment",
        "metadata",
    }
)
"""Keys whose string values are never turned into dates, however date-like.

These hold identities, names, paths and free text chosen by people: a job
named ``"2021-09-24T07:45:49"`` keeps that name as a string. The protection
covers a string value and strings directly inside a list value (for example
a list of ids); an object (dict) under such a key is an ordinary object, its
own keys decide. ``"metadata"`` is listed too, see also :data:`VERBATIM_KEYS`.
"""

PROTECTED_KEY_SUFFIXES: Tuple[str, ...] = ("_hr", "_id")
"""Key endings that protect a value like :data:`PROTECTED_KEYS` do.

``*_hr`` keys hold human-readable references (``"user:lars@edit.com(user)"``),
``*_id`` keys hold ids.
"""

VERBATIM_KEYS: FrozenSet[str] = frozenset({"metadata"})
"""Keys whose whole value is user-owned payload, returned exactly as sent.

Nothing at any depth below these keys is converted: metadata is whatever
the user stored, and must come back unchanged.
"""

OBJECT_ID_PREFIX = "ObjectId:"
"""The prefix v3 puts before some ids: ``"ObjectId:"`` + 24 hex digits (see :func:`decode`)."""

_OBJECT_ID = re.compile(r"ObjectId:[0-9a-fA-F]{24}", re.ASCII)
# v3 writes some ids as "ObjectId:<24 hex digits>"; decode(utc=True) drops the
# prefix. Only a real ObjectId behind it is touched, so text that merely starts
# with the word stays as it is.

_JSON_SCALARS = (str, int, float, bool, type(None))
_INFINITY = float("inf")


# ---------------------------------------------------------------------------
# Decoding
#
# json.loads builds the structure in C; one walk then visits each container
# once, looks only at string values and descends only into containers. (An
# object_hook runs bottom-up, so it converts metadata before knowing it is
# metadata and must undo that; measured, it was also slower than this walk.)


def _is_protected(key: str) -> bool:
    return key in PROTECTED_KEYS or key.endswith(PROTECTED_KEY_SUFFIXES)


def _convert_object(obj: Dict[str, Any]) -> None:
    """Convert, in place, the dates in a freshly decoded object and below it."""
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            if (
                len(value) in DATE_TEXT_LENGTHS
                and value[10] == "T"
                and value[13] == ":"
                and not (key in PROTECTED_KEYS or key.endswith(PROTECTED_KEY_SUFFIXES))
            ):
                parsed = _parse_v1(value)
                if parsed is not None:
                    obj[key] = parsed  # replaces a value: safe while iterating
        elif kind is dict:
            if key not in VERBATIM_KEYS:
                _convert_object(value)
        elif kind is list and key not in VERBATIM_KEYS:
            _convert_list(value, not _is_protected(key))


def _convert_list(items: List[Any], strings: bool) -> None:
    """Convert, in place, the dates in a freshly decoded list and below it.

    ``strings`` is False for a list under a protected key: its strings stay
    as they are, objects inside it are still converted.
    """
    for index, value in enumerate(items):
        kind = type(value)
        if kind is dict:
            _convert_object(value)
        elif kind is str:
            if strings and len(value) in DATE_TEXT_LENGTHS:
                parsed = parse_datetime(value)
                if parsed is not None:
                    items[index] = parsed
        elif kind is list:
            _convert_list(value, strings)


def _convert_object_utc(obj: Dict[str, Any]) -> None:
    """The v3 form of _convert_object: dates read as UTC, ``ObjectId:`` prefixes dropped."""
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            if len(value) in LENIENT_DATE_TEXT_LENGTHS:
                if value[10] == "T" and value[13] == ":":
                    if not (key in PROTECTED_KEYS or key.endswith(PROTECTED_KEY_SUFFIXES)):
                        parsed = _parse_utc(value)
                        if parsed is not None:
                            obj[key] = parsed
                elif value[8] == ":" and _OBJECT_ID.fullmatch(value) is not None:
                    obj[key] = value[len(OBJECT_ID_PREFIX) :]
        elif kind is dict:
            if key not in VERBATIM_KEYS:
                _convert_object_utc(value)
        elif kind is list and key not in VERBATIM_KEYS:
            _convert_list_utc(value, not _is_protected(key))


def _convert_list_utc(items: List[Any], strings: bool) -> None:
    """The v3 form of _convert_list (``strings`` only decides about dates)."""
    for index, value in enumerate(items):
        kind = type(value)
        if kind is dict:
            _convert_object_utc(value)
        elif kind is str:
            if len(value) in LENIENT_DATE_TEXT_LENGTHS:
                items[index] = _decode_text(value, strings, True)
        elif kind is list:
            _convert_list_utc(value, strings)


def _decode_text(text: str, dates: bool, utc: bool) -> Any:
    """What one string of a reply decodes to: a datetime, an id without prefix, or itself."""
    if dates:
        parsed = _parse_utc(text) if utc else parse_datetime(text)
        if parsed is not None:
            return parsed
    if utc and _OBJECT_ID.fullmatch(text) is not None:
        return text[len(OBJECT_ID_PREFIX) :]
    return text


def _convert_deep(root: Any, utc: bool = False) -> None:
    """Same conversion as the recursive walks, without recursion.

    Used when a reply is nested deeper than the recursion limit allows.
    """
    pending: List[Tuple[Any, bool]] = [(root, True)]
    while pending:
        container, strings = pending.pop()
        if type(container) is dict:
            for key, value in container.items():
                kind = type(value)
                if kind is str:
                    container[key] = _decode_text(value, not _is_protected(key), utc)
                elif (kind is dict or kind is list) and key not in VERBATIM_KEYS:
                    pending.append((value, not _is_protected(key)))
        else:
            for index, value in enumerate(container):
                kind = type(value)
                if kind is str:
                    container[index] = _decode_text(value, strings, utc)
                elif kind is dict or kind is list:
                    pending.append((value, strings))


_WALKS: Dict[bool, Tuple[Callable[[Dict[str, Any]], None], Callable[[List[Any], bool], None]]] = {
    False: (_convert_object, _convert_list),
    True: (_convert_object_utc, _convert_list_utc),
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def decode(payload: Union[str, bytes, bytearray], *, utc: bool = False) -> Any:
    """Parse a JSON reply, turning server date strings into datetimes.

    Every string in the reply, at any depth, that is a server date (see
    :func:`parse_datetime`) becomes a :class:`datetime.datetime`, except:

    * anything below a key in :data:`VERBATIM_KEYS` (``"metadata"``), which
      is returned exactly as sent;
    * strings under keys in :data:`PROTECTED_KEYS` or ending in
      :data:`PROTECTED_KEY_SUFFIXES` (ids, names, paths, texts), and strings
      in lists under such keys (objects in such lists are still converted).

    ``utc=False`` is the v1.0 reading: dates without zone become naive
    datetimes. ``utc=True`` is the v3 reading: they are UTC and become
    timezone-aware (``tzinfo=datetime.timezone.utc``; call ``.astimezone()``
    for local time), the lenient spellings of :func:`parse_datetime` are
    read too, and a string ``"ObjectId:"`` + 24 hex digits becomes the
    24 digits (under any key but :data:`VERBATIM_KEYS`).

    ``payload`` may be text or UTF-8/16/32 bytes. Invalid JSON raises
    :class:`ValueError` (a :class:`json.JSONDecodeError`), and so do
    ``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not have.
    Nesting too deep for the parser raises :class:`RecursionError`.
    """
    if not isinstance(payload, str):
        payload = payload.decode(json.detect_encoding(payload), "surrogatepass")
    result = _DECODER.decode(payload)
    kind = type(result)
    convert_object, convert_list = _WALKS[utc]
    try:
        if kind is dict:
            convert_object(result)
        elif kind is list:
            convert_list(result, True)
        elif kind is str:
            return _decode_text(result, True, utc)
    except RecursionError:
        # Walk again from the root, without recursion; converting twice is harmless.
        _convert_deep(result, utc)
    return result


# ---------------------------------------------------------------------------
# Encoding


def _wire_default(value: Any) -> Any:
    """``default`` for :func:`json.dumps`: dates to text, anything else refused."""
    if isinstance(value, _dt.datetime):
        return format_datetime(value)
    if isinstance(value, _dt.date):
        return _format_date(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def _wire_default_utc(value: Any) -> Any:
    """The v3 form of _wire_default: dates as UTC text (:func:`format_utc`)."""
    if isinstance(value, _dt.date):
        return format_utc(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def _path_text(path: str, key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _wire_key(key: Any, path: str) -> str:
    """Turn a dict key into text the way :func:`json.dumps` does."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return json.dumps(float(key))
    raise TypeError(
        f"keys must be str, int, float, bool or None, not {type(key).__name__} (at {path})"
    )


_UNKNOWN = object()  # marker: "JSON cannot hold this value"


def _scalar_to_wire(value: Any, utc: bool = False) -> Any:
    """The JSON value for a non-container, or _UNKNOWN when JSON cannot hold it."""
    if isinstance(value, _dt.date) and utc:
        return format_utc(value)
    if isinstance(value, _dt.datetime):
        return format_datetime(value)
    if isinstance(value, _dt.date):
        return _format_date(value)
    if isinstance(value, str):  # subclasses such as str enums: their plain text
        return str.__str__(value)
    if isinstance(value, int):  # bool is exact (no subclasses), so IntEnum and co.
        return int(value)
    if isinstance(value, float):
        return float(value)
    return _UNKNOWN


def _to_wire(value: Any, path: str, active: Set[int], utc: bool) -> Any:
    kind = type(value)
    if kind is float:
        if value != value or value in (_INFINITY, -_INFINITY):
            raise ValueError(f"{value!r} cannot be sent as JSON (at {path})")
        return value
    if kind in _JSON_SCALARS:
        return value
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise ValueError(f"circular reference (at {path})")
        active.add(id(value))
        if isinstance(value, dict):
            result: Any = {
                _wire_key(key, path): _to_wire(item, _path_text(path, key), active, utc)
                for key, item in value.items()
            }
        else:
            result = [
                _to_wire(item, _path_text(path, index), active, utc)
                for index, item in enumerate(value)
            ]
        active.discard(id(value))
        return result
    try:
        converted = _scalar_to_wire(value, utc)
    except ValueError as exc:  # a naive datetime whose UTC time is out of range
        raise ValueError(f"{exc} (at {path})") from None
    if converted is _UNKNOWN:
        raise TypeError(
            f"Object of type {type(value).__name__} is not JSON serialisable (at {path})"
        )
    return _to_wire(converted, path, active, utc) if type(converted) is float else converted


def to_wire(obj: Any, *, utc: bool = False) -> Any:
    """Return a JSON-able copy of ``obj`` with dates as server text.

    Dicts become new plain dicts (keys turned into text as :func:`json.dumps`
    would), lists and tuples become new lists, datetimes and dates become
    their server text; str, int, float, bool and None are kept (subclasses
    such as enums become the plain value). ``obj`` itself is never modified.
    Any other object raises TypeError naming its type and where it was, for
    example ``(at $.jobs[0].tags)``; NaN or infinite floats, circular
    references and datetimes out of range raise ValueError, as in
    :func:`encode`.

    The date text depends on the generation: ``utc=False`` (v1.0) writes
    :func:`format_datetime` and ``YYYY-MM-DD`` for a date; ``utc=True`` (v3)
    writes :func:`format_utc` (UTC, whole seconds, no zone; a naive datetime
    is local time of this machine at that date).
    """
    return _to_wire(obj, "$", set(), utc)


def encode(obj: Any, *, utc: bool = False) -> str:
    """Return compact JSON text for ``obj``, dates written as the server writes them.

    Uses the conversions of :func:`to_wire` (``utc=True`` for v3: dates as
    UTC text); the text has no spaces (``separators=(",", ":")``) and keeps
    non-ASCII characters as they are. Raises TypeError for objects JSON
    cannot hold and ValueError for NaN or infinite floats, for circular
    references and for datetimes out of range, which the server could not
    read; the message names the type and the place. ``obj`` is never
    modified.
    """
    try:
        return json.dumps(
            obj,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_wire_default_utc if utc else _wire_default,
        )
    except (TypeError, ValueError):
        to_wire(obj, utc=utc)  # raises an error that says where the object is
        raise


def _printable(value: Any, active: FrozenSet[int]) -> Any:
    """Structure for :func:`pretty`: keys as text, dates as text, unknowns as repr."""
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            return f"<circular reference to {type(value).__name__}>"
        active = active | {id(value)}
        if isinstance(value, dict):
            items = {_printable_key(key): _printable(item, active) for key, item in value.items()}
            return {key: items[key] for key in sorted(items, key=_print_order)}
        return [_printable(item, active) for item in value]
    converted = _scalar_to_wire(value)
    return repr(value) if converted is _UNKNOWN else converted


PRINT_FIRST: Tuple[str, ...] = ("id", "code", "status")
"""Keys :func:`pretty` shows first, in this order, so an entity's identity leads."""


def _print_order(key: str) -> Tuple[int, str]:
    return (PRINT_FIRST.index(key), "") if key in PRINT_FIRST else (len(PRINT_FIRST), key)


def _printable_key(key: Any) -> str:
    try:
        return _wire_key(key, "$")
    except TypeError:
        converted = _scalar_to_wire(key)
        return repr(key) if converted is _UNKNOWN else str(converted)


def pretty(obj: Any) -> str:
    """Return ``obj`` as indented (4 spaces) JSON text for people to read.

    Keys are sorted, except that ``id``, ``code`` and ``status`` come first.

    Datetimes and dates are shown as their v1.0 server text, an aware
    datetime with its offset (``2026-06-01T10:00:00+00:00``, the instant
    without ambiguity, sub-seconds kept); values JSON cannot
    hold are shown as their ``repr()`` (as a JSON string); circular
    references are shown as a marker instead of recursing. The same input
    always gives the same text.
    """
    return json.dumps(
        _printable(obj, frozenset()),
        indent=4,
        ensure_ascii=False,
    )
