"""JSON in and out: the accsyn wire format, with dates as :class:`datetime.datetime`.

The accsyn backend sends dates as strings such as ``"2021-09-24T07:45:49"``
(sometimes with ``.fff`` milliseconds). :func:`decode` turns those strings
into :class:`~datetime.datetime` objects wherever they appear in a reply,
except in places that belong to users or name things (see
:data:`PROTECTED_KEYS`, :data:`PROTECTED_KEY_SUFFIXES` and
:data:`VERBATIM_KEYS`). :func:`encode` and :func:`to_wire` do the reverse
for data sent to the server.

Date text accepted by :func:`parse_datetime` (and so by :func:`decode`)::

    YYYY-MM-DDTHH:MM:SS            naive datetime
    YYYY-MM-DDTHH:MM:SS.fff        milliseconds
    YYYY-MM-DDTHH:MM:SS.ffffff     microseconds
    ...followed by "Z", "+HH:MM" or "-HH:MM": timezone-aware datetime

Round trip: ``format_datetime(parse_datetime(s)) == s`` for every accepted
``s`` except two spellings that carry no extra information:

* a fraction of ``.000`` (or ``.000000``) comes back without fraction, and a
  six-digit fraction that is a whole number of milliseconds (``.120000``)
  comes back with three digits (``.120``);
* the zone ``Z`` and ``-00:00`` come back as ``+00:00``.

Decoding is written for speed: a reply is parsed by :func:`json.loads` and
every string is first screened by its length and by the fixed characters of
the date layout, so only strings that really look like dates are parsed.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple, Union

__all__ = [
    "DATE_TEXT_LENGTHS",
    "PROTECTED_KEYS",
    "PROTECTED_KEY_SUFFIXES",
    "VERBATIM_KEYS",
    "decode",
    "encode",
    "format_datetime",
    "parse_datetime",
    "pretty",
    "to_wire",
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

DATE_TEXT_LENGTHS: FrozenSet[int] = frozenset(
    base + zone for base in (19, 23, 26) for zone in (0, 1, 6)
)
"""The lengths a server date string can have.

19 (``YYYY-MM-DDTHH:MM:SS``), 23 (with ``.fff``), 26 (with ``.ffffff``),
each optionally followed by ``Z`` (one more) or ``+HH:MM`` (six more).
"""

_DATE_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(?:\d{3}|\d{6}))?(?:Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
# Exact layout of a server date. Only ever run on strings that passed the cheap
# screen in _looks_like_date; field ranges are checked by datetime itself.

_NAIVE_LENGTHS = frozenset({19, 23, 26})
_from_iso = _dt.datetime.fromisoformat
# Once _DATE_SHAPE has matched, the text (without its zone) is in a layout that
# datetime.fromisoformat reads the same way on every Python from 3.7 on.

_iso = _dt.datetime.isoformat
_UTC = _dt.timezone.utc
_ZONES: Dict[str, _dt.timezone] = {"Z": _UTC, "+00:00": _UTC, "-00:00": _UTC}
# Offsets seen so far, shared so that equal offsets give one tzinfo object.

_JSON_SCALARS = (str, int, float, bool, type(None))
_INFINITY = float("inf")


def _looks_like_date(text: str) -> bool:
    """Cheap screen: True when ``text`` has the length and fixed characters of a date."""
    return (
        len(text) in DATE_TEXT_LENGTHS
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and text[4] == "-"
        and text[7] == "-"
        and "0" <= text[0] <= "9"
    )


def _zone(text: str) -> Optional[_dt.timezone]:
    """The tzinfo for an offset text ``Z``/``+HH:MM``/``-HH:MM``; None when out of range."""
    zone = _ZONES.get(text)
    if zone is None:
        hours, minutes = int(text[1:3]), int(text[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = _dt.timedelta(hours=hours, minutes=minutes)
        zone = _dt.timezone(-offset if text[0] == "-" else offset)
        if len(_ZONES) < 1000:
            _ZONES[text] = zone
    return zone


def parse_datetime(text: str) -> Optional[_dt.datetime]:
    """Return the datetime a server date string stands for, or None.

    ``text`` must be a complete date in one of the layouts listed in the
    module documentation; anything else (other lengths, impossible dates
    such as ``"2021-13-45T99:00:00"``, non-ASCII digits, surrounding
    spaces, non-strings) gives None. The result is naive unless the text
    ends with a zone, then it is timezone-aware.
    """
    if not isinstance(text, str) or not _looks_like_date(text):
        return None
    if _DATE_SHAPE.fullmatch(text) is None:
        return None
    try:
        if len(text) in _NAIVE_LENGTHS:
            return _from_iso(text)
        if text[-1] == "Z":
            return _from_iso(text[:-1]).replace(tzinfo=_UTC)
        zone = _zone(text[-6:])
        if zone is None:
            return None
        return _from_iso(text[:-6]).replace(tzinfo=zone)
    except ValueError:  # a field out of range, such as month 13 or hour 24
        return None


def format_datetime(value: _dt.datetime) -> str:
    """Return the server's text for a datetime.

    ``YYYY-MM-DDTHH:MM:SS``, plus ``.fff`` when the microseconds are a
    non-zero whole number of milliseconds or ``.ffffff`` when finer, plus
    ``+HH:MM``/``-HH:MM`` when the datetime is timezone-aware (UTC is
    written ``+00:00``). An aware datetime whose offset is not a whole
    number of minutes (old local-mean-time zones) is written in UTC, which
    keeps the instant. Raises TypeError for anything but a datetime.
    """
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"expected a datetime.datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        offset = value.utcoffset()
        if offset is not None and (offset.microseconds or offset.seconds % 60):
            value = value.astimezone(_UTC)
    # isoformat (C code) writes the layout above, year zero-padded to 4 digits
    # and the offset as +HH:MM once it is a whole number of minutes.
    # Called on the base class so that subclasses (pandas.Timestamp, ...) that
    # override isoformat still get the server layout.
    microsecond = value.microsecond
    if not microsecond:
        return _iso(value, timespec="seconds")
    if microsecond % 1000:
        return _iso(value, timespec="microseconds")
    return _iso(value, timespec="milliseconds")


def _format_date(value: _dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


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
                parsed = parse_datetime(value)
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


def _convert_deep(root: Any) -> None:
    """Same conversion as _convert_object/_convert_list, without recursion.

    Used when a reply is nested deeper than the recursion limit allows.
    """
    pending: List[Tuple[Any, bool]] = [(root, True)]
    while pending:
        container, strings = pending.pop()
        if type(container) is dict:
            for key, value in container.items():
                kind = type(value)
                if kind is str:
                    if not _is_protected(key):
                        parsed = parse_datetime(value)
                        if parsed is not None:
                            container[key] = parsed
                elif (kind is dict or kind is list) and key not in VERBATIM_KEYS:
                    pending.append((value, not _is_protected(key)))
        else:
            for index, value in enumerate(container):
                kind = type(value)
                if kind is str:
                    parsed = parse_datetime(value) if strings else None
                    if parsed is not None:
                        container[index] = parsed
                elif kind is dict or kind is list:
                    pending.append((value, strings))


def decode(payload: Union[str, bytes, bytearray]) -> Any:
    """Parse a JSON reply, turning server date strings into datetimes.

    Every string in the reply, at any depth, that is a server date (see
    :func:`parse_datetime`) becomes a :class:`datetime.datetime`, except:

    * anything below a key in :data:`VERBATIM_KEYS` (``"metadata"``), which
      is returned exactly as sent;
    * strings under keys in :data:`PROTECTED_KEYS` or ending in
      :data:`PROTECTED_KEY_SUFFIXES` (ids, names, paths, texts), and strings
      in lists under such keys (objects in such lists are still converted).

    ``payload`` may be text or UTF-8/16/32 bytes. Invalid JSON raises
    :class:`ValueError` (a :class:`json.JSONDecodeError`).
    """
    result = json.loads(payload)
    kind = type(result)
    try:
        if kind is dict:
            _convert_object(result)
        elif kind is list:
            _convert_list(result, True)
        elif kind is str:
            parsed = parse_datetime(result)
            if parsed is not None:
                return parsed
    except RecursionError:
        # Walk again from the root, without recursion; converting twice is harmless.
        _convert_deep(result)
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


def _scalar_to_wire(value: Any) -> Any:
    """The JSON value for a non-container, or _UNKNOWN when JSON cannot hold it."""
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


def _to_wire(value: Any, path: str, active: Set[int]) -> Any:
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
                _wire_key(key, path): _to_wire(item, _path_text(path, key), active)
                for key, item in value.items()
            }
        else:
            result = [
                _to_wire(item, _path_text(path, index), active) for index, item in enumerate(value)
            ]
        active.discard(id(value))
        return result
    converted = _scalar_to_wire(value)
    if converted is _UNKNOWN:
        raise TypeError(
            f"Object of type {type(value).__name__} is not JSON serialisable (at {path})"
        )
    return _to_wire(converted, path, active) if type(converted) is float else converted


def to_wire(obj: Any) -> Any:
    """Return a JSON-able copy of ``obj`` with dates as server text.

    Dicts become new plain dicts (keys turned into text as :func:`json.dumps`
    would), lists and tuples become new lists, datetimes and dates become
    their server text (:func:`format_datetime`, ``YYYY-MM-DD``); str, int,
    float, bool and None are kept (subclasses such as enums become the plain
    value). ``obj`` itself is never modified. Any other object raises
    TypeError naming its type and where it was, for example
    ``(at $.jobs[0].tags)``; NaN or infinite floats and circular references
    raise ValueError, as in :func:`encode`.
    """
    return _to_wire(obj, "$", set())


def encode(obj: Any) -> str:
    """Return compact JSON text for ``obj``, dates written as the server writes them.

    Uses the conversions of :func:`to_wire`; the text has no spaces
    (``separators=(",", ":")``) and keeps non-ASCII characters as they are.
    Raises TypeError for objects JSON cannot hold (the message names the
    type and the place) and ValueError for NaN or infinite floats and for
    circular references, which the server could not read. ``obj`` is never
    modified.
    """
    try:
        return json.dumps(
            obj,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_wire_default,
        )
    except TypeError:
        to_wire(obj)  # raises a TypeError that says where the object is
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

    Datetimes and dates are shown as their server text; values JSON cannot
    hold are shown as their ``repr()`` (as a JSON string); circular
    references are shown as a marker instead of recursing. The same input
    always gives the same text.
    """
    return json.dumps(
        _printable(obj, frozenset()),
        indent=4,
        ensure_ascii=False,
    )
