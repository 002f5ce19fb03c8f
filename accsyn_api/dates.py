"""Dates on the accsyn wire: reading and writing the date text of both API generations.

Both generations write dates as text without a zone designator,
``"2021-09-24T07:45:49"`` (sometimes with ``.fff``). v1.0 means the text as
it is (naive datetimes both ways); v3 means UTC (:func:`parse_datetime` with
``utc=True`` returns aware datetimes, :func:`format_utc` writes UTC, a naive
datetime being local time of this machine at that date, see :func:`to_utc`).
:mod:`accsyn_api.codec` applies these to whole replies and payloads.

Date text accepted by :func:`parse_datetime`::

    YYYY-MM-DDTHH:MM:SS            naive datetime (v3: UTC)
    YYYY-MM-DDTHH:MM:SS.fff        milliseconds
    YYYY-MM-DDTHH:MM:SS.ffffff     microseconds
    ...followed by "Z", "+HH:MM" or "-HH:MM": timezone-aware datetime

Round trip (v1.0): ``format_datetime(parse_datetime(s)) == s`` for every
accepted ``s`` except two spellings that carry no extra information:

* a fraction of ``.000`` (or ``.000000``) comes back without fraction, and a
  six-digit fraction that is a whole number of milliseconds (``.120000``)
  comes back with three digits (``.120``);
* the zone ``Z`` and ``-00:00`` come back as ``+00:00``.

python-dateutil is imported only when it is needed: for the rarer v3
spellings, and for local times the platform cannot convert.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Dict, FrozenSet, Optional, Union

__all__ = [
    "DATE_TEXT_LENGTHS",
    "LENIENT_DATE_TEXT_LENGTHS",
    "format_datetime",
    "format_utc",
    "local_now_text",
    "parse_datetime",
    "to_utc",
    "utc_now_text",
]

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
# Exact layout of a server date. Only ever run on strings that passed a cheap
# screen (_looks_like_date, or its tests written out in a walk); field ranges are
# checked by datetime itself.

LENIENT_DATE_TEXT_LENGTHS: FrozenSet[int] = frozenset(range(19, 36))
"""The lengths a v3 date string can have, the lenient spellings included.

From 19 (``YYYY-MM-DDTHH:MM:SS``) to 35 (nine fraction digits and ``+HH:MM``).
"""

_LENIENT_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
# The v3 spellings read by python-dateutil when _DATE_SHAPE does not match:
# 1 to 9 fraction digits, zones Z, +HH, +HHMM, +HH:MM. Hour 24 is refused, as
# the exact layouts refuse it (dateutil would read 24:00 as the next midnight).

_NAIVE_LENGTHS = frozenset({19, 23, 26})
_from_iso = _dt.datetime.fromisoformat
# Once _DATE_SHAPE has matched, the text (without its zone) is in a layout that
# datetime.fromisoformat reads the same way on every Python from 3.7 on.

_iso = _dt.datetime.isoformat
_UTC = _dt.timezone.utc
_ZONES: Dict[str, _dt.timezone] = {"Z": _UTC, "+00:00": _UTC, "-00:00": _UTC}
# Offsets seen so far, shared so that equal offsets give one tzinfo object.


def _looks_like_date(text: str, lengths: FrozenSet[int] = DATE_TEXT_LENGTHS) -> bool:
    """Cheap screen: True when ``text`` has the length and fixed characters of a date."""
    return (
        len(text) in lengths
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


def parse_datetime(text: str, *, utc: bool = False) -> Optional[_dt.datetime]:
    """Return the datetime a server date string stands for, or None.

    ``text`` must be a complete date in one of the layouts listed in the
    module documentation; anything else (other lengths, impossible dates
    such as ``"2021-13-45T99:00:00"``, non-ASCII digits, surrounding
    spaces, non-strings) gives None. The result is naive unless the text
    ends with a zone, then it is timezone-aware.

    With ``utc=True`` (the v3 reading) a date without zone is UTC and the
    result is always timezone-aware (``tzinfo=datetime.timezone.utc``, or
    the offset the text names), and these spellings are read too: 1 to 9
    fraction digits (beyond 6 cut to microseconds) and the zones ``+HH``,
    ``+HHMM`` and ``-HH``/``-HHMM``, still with the ``T`` separator and a
    four-digit year. Nothing else: no space separator, no date alone, no
    lower-case ``t``/``z``, no comma fraction, no hour 24.
    """
    if not isinstance(text, str):
        return None
    if utc:
        return _parse_utc(text) if _looks_like_date(text, LENIENT_DATE_TEXT_LENGTHS) else None
    return _parse_v1(text) if _looks_like_date(text) else None


# The parsers below run on strings that passed a screen (_looks_like_date or the
# same tests written out in a walk); their regular expressions check the rest.
# datetime.replace is slow, so UTC is attached by reading a "+00:00" suffix.


def _parse_v1(text: str) -> Optional[_dt.datetime]:
    """The v1.0 reading of :func:`parse_datetime`: the exact layouts, naive without zone."""
    if _DATE_SHAPE.fullmatch(text) is None:
        return None
    return _parse_exact(text)


def _parse_exact(text: str) -> Optional[_dt.datetime]:
    """Read ``text``, which matched _DATE_SHAPE; None when a field is out of range."""
    try:
        if len(text) in _NAIVE_LENGTHS:
            return _from_iso(text)
        if text[-1] == "Z":
            return _from_iso(text[:-1] + "+00:00")
        zone = _zone(text[-6:])
        if zone is None:
            return None
        return _from_iso(text[:-6]).replace(tzinfo=zone)
    except ValueError:  # a field out of range, such as month 13 or hour 24
        return None


def _parse_utc(text: str) -> Optional[_dt.datetime]:
    """The v3 reading of :func:`parse_datetime`: exact layouts first, then the lenient ones."""
    if _DATE_SHAPE.fullmatch(text) is None:
        return _parse_lenient(text)
    if len(text) in _NAIVE_LENGTHS:
        try:
            return _from_iso(text + "+00:00")
        except ValueError:  # a field out of range
            return None
    return _parse_exact(text)


def _parse_lenient(text: str) -> Optional[_dt.datetime]:
    """Read a v3 date in one of the rarer spellings (see _LENIENT_SHAPE) with dateutil."""
    if _LENIENT_SHAPE.fullmatch(text) is None:
        return None
    from dateutil.parser import isoparse  # imported on first use: rare text only

    try:
        value = isoparse(text)
        offset = value.utcoffset()
        zone = _UTC if offset is None else _dt.timezone(offset)
    except (ValueError, OverflowError):  # a field or offset out of range
        return None
    return value.replace(tzinfo=zone)


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
# v3: UTC on the wire


def to_utc(value: _dt.datetime) -> _dt.datetime:
    """Return the same instant as a timezone-aware datetime in UTC.

    A naive ``value`` (or one whose tzinfo gives no offset) is local time of
    this machine *at that date*: its daylight-saving state is the one in force
    on that date, not today's. A local time that happens twice (when clocks
    go back) is the first one, unless ``value.fold`` is 1 (then the second);
    a local time that does not exist (when clocks go forward) is moved forward
    by the length of the gap, as a wall clock would show it. Raises
    ValueError when the result is out of the range of datetime.
    """
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(_UTC)
        return _local_to_utc(value.replace(tzinfo=None))
    except OverflowError:
        raise ValueError(_out_of_range(value)) from None


def _out_of_range(value: _dt.datetime) -> str:
    return (
        f"the datetime {_iso(value)} cannot be converted to UTC (out of the range of "
        "datetime, or a local time this platform cannot place); send a timezone-aware "
        "datetime whose UTC time is within the years 1 to 9999"
    )


def _local_to_utc(naive: _dt.datetime) -> _dt.datetime:
    """UTC for a local wall time: by the platform's zone rules, else by dateutil's."""
    try:
        return _local_to_utc_by_platform(naive)
    except (OverflowError, OSError, ValueError):
        # Near year 1 or 9999, or before 1970 on Windows, the platform cannot answer.
        pass
    try:
        return _local_to_utc_by_dateutil(naive)
    except (OverflowError, OSError, ValueError):
        raise ValueError(_out_of_range(naive)) from None


def _local_to_utc_by_platform(naive: _dt.datetime) -> _dt.datetime:
    """UTC for a local wall time, the zone rules being those of the C library.

    ``astimezone`` finds the offset valid at that date, so daylight saving is
    right; but in a missing hour CPython's choice between the two readings is
    not PEP 495's, so both readings are taken and the choice is made here.
    """
    first = naive.replace(fold=0).astimezone(_UTC)
    second = naive.replace(fold=1).astimezone(_UTC)
    if first == second:
        return first
    earlier, later = min(first, second), max(first, second)
    if earlier.astimezone().replace(tzinfo=None) == naive:  # the hour happens twice
        return later if naive.fold else earlier
    return later  # the hour does not exist: read with the offset before the change


def _local_to_utc_by_dateutil(naive: _dt.datetime) -> _dt.datetime:
    """UTC for a local wall time, by dateutil's view of the local zone (same choices)."""
    from dateutil import tz  # imported on first use: rare dates only

    local = naive.replace(tzinfo=tz.tzlocal())
    if not tz.datetime_exists(local):
        local = tz.resolve_imaginary(local)
    return local.astimezone(_UTC)


def format_utc(value: Union[_dt.datetime, _dt.date]) -> str:
    """Return the v3 wire text of a datetime or date: UTC, whole seconds, no zone.

    A datetime goes through :func:`to_utc` (a naive one is local time of this
    machine at that date) and is written ``YYYY-MM-DDTHH:MM:SS``; any fraction
    of a second is dropped (cut, not rounded), as the official client does. A
    date is a calendar day, the same in every zone: ``YYYY-MM-DDT00:00:00``.
    Raises TypeError for anything else, ValueError when out of range.
    """
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo is _UTC else to_utc(value)
        return _iso(moment)[:19]  # what precedes any fraction and the "+00:00"
    if isinstance(value, _dt.date):
        return _format_date(value) + "T00:00:00"
    raise TypeError(f"expected a datetime.datetime or datetime.date, got {type(value).__name__}")


def utc_now_text() -> str:
    """The current time in UTC as v3 wire text (the envelope's ``created``)."""
    return _iso(_dt.datetime.now(_UTC))[:19]


def local_now_text() -> str:
    """The current local time as v1.0 wire text (the envelope's ``created`` on v1.0)."""
    return _iso(_dt.datetime.now(), timespec="seconds")
