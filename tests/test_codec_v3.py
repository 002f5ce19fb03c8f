"""Tests for the v3 reading and writing of accsyn_api.codec (``utc=True``): dates travel in UTC.

The daylight-saving tests run the public codec functions in a subprocess under
``TZ=Europe/Stockholm``, so that "local time of this machine" is a real zone with
real summer time, whatever zone the test machine is in.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accsyn_api import codec

UTC = datetime.timezone.utc
OBJECT_ID = "6a0c1d2e3f405162738495a6"


def zone(hours: float) -> datetime.timezone:
    """A fixed offset of ``hours`` (whole minutes)."""
    return datetime.timezone(datetime.timedelta(minutes=round(hours * 60)))


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- decode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T10:00:00", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00.123", datetime.datetime(2026, 6, 1, 10, 0, 0, 123000, UTC)),
        ("2026-06-01T10:00:00.000001", datetime.datetime(2026, 6, 1, 10, 0, 0, 1, UTC)),
        ("2026-06-01T10:00:00Z", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00.250Z", datetime.datetime(2026, 6, 1, 10, 0, 0, 250000, UTC)),
        ("2026-06-01T10:00:00-00:00", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T12:00:00+02:00", datetime.datetime(2026, 6, 1, 12, tzinfo=zone(2))),
        ("2026-02-09T09:17:45+01:00", datetime.datetime(2026, 2, 9, 9, 17, 45, tzinfo=zone(1))),
        ("1970-01-01T00:00:00", datetime.datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_v3_reads_exact_layouts_as_aware_datetimes(text: str, expected: datetime.datetime) -> None:
    parsed = codec.parse_datetime(text, utc=True)
    decoded = codec.decode(compact({"created": text}), utc=True)["created"]

    for value in (parsed, decoded):
        assert value == expected
        assert value is not None and value.utcoffset() == expected.utcoffset()
    if expected.utcoffset() == datetime.timedelta(0):
        assert decoded.tzinfo is UTC


def test_v3_dates_without_zone_are_utc_not_local_time() -> None:
    reply = compact({"result": [{"created": "2026-06-01T10:00:00", "tasks": [{"finished": None}]}]})

    created = codec.decode(reply, utc=True)["result"][0]["created"]

    assert created.tzinfo is UTC
    assert (created.hour, created.utcoffset()) == (10, datetime.timedelta(0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T10:00:00+0100", datetime.datetime(2026, 6, 1, 10, tzinfo=zone(1))),
        ("2026-06-01T10:00:00-0930", datetime.datetime(2026, 6, 1, 10, tzinfo=zone(-9.5))),
        ("2026-06-01T10:00:00+01", datetime.datetime(2026, 6, 1, 10, tzinfo=zone(1))),
        ("2026-06-01T10:00:00-00", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00.5", datetime.datetime(2026, 6, 1, 10, 0, 0, 500000, UTC)),
        ("2026-06-01T10:00:00.12", datetime.datetime(2026, 6, 1, 10, 0, 0, 120000, UTC)),
        ("2026-06-01T10:00:00.1234", datetime.datetime(2026, 6, 1, 10, 0, 0, 123400, UTC)),
        ("2026-06-01T10:00:00.5Z", datetime.datetime(2026, 6, 1, 10, 0, 0, 500000, UTC)),
        ("2026-06-01T10:00:00.12345Z", datetime.datetime(2026, 6, 1, 10, 0, 0, 123450, UTC)),
        # Beyond microseconds: cut, not rounded.
        ("2026-06-01T10:00:00.1234567Z", datetime.datetime(2026, 6, 1, 10, 0, 0, 123456, UTC)),
        (
            "2026-06-01T10:00:00.999999999+02:00",
            datetime.datetime(2026, 6, 1, 10, 0, 0, 999999, zone(2)),
        ),
        ("2026-06-01T10:00:00.12+0530", datetime.datetime(2026, 6, 1, 10, 0, 0, 120000, zone(5.5))),
        (
            "2024-02-29T23:59:59.9-2359",
            datetime.datetime(2024, 2, 29, 23, 59, 59, 900000, zone(-23 - 59 / 60)),
        ),
    ],
)
def test_v3_reads_the_lenient_spellings(text: str, expected: datetime.datetime) -> None:
    parsed = codec.parse_datetime(text, utc=True)
    decoded = codec.decode(compact({"created": text, "dates": [text]}), utc=True)

    assert parsed == expected and parsed is not None
    assert parsed.utcoffset() == expected.utcoffset()
    assert type(parsed.tzinfo) is datetime.timezone  # no dateutil tzinfo leaks out
    assert decoded == {"created": expected, "dates": [expected]}
    # v1.0 keeps reading only the exact layouts.
    assert codec.parse_datetime(text) is None
    assert codec.decode(compact({"created": text}))["created"] == text


V3_NEAR_MISSES = [
    "2026-06-01 10:00:00",  # space separator
    "2026-06-01t10:00:00",
    "2026-06-01T10:00:00z",
    "2026-06-01T10:00:00,5",
    "2026-06-01T10:00:00.",
    "2026-06-01T10:00:00.1234567890",  # ten fraction digits
    "2026-06-01T10:00:00+1",
    "2026-06-01T10:00:00+010",
    "2026-06-01T10:00:00+01:0",
    "2026-06-01T10:00:00+01:00:00",
    "2026-06-01T10:00:00+2400",
    "2026-06-01T10:00:00+24:00",
    "2026-06-01T10:00:00+0560",
    "2026-06-01T10:00:00+05:60",
    "2026-06-01T24:00:00",
    "2026-06-01T24:00:00.5",
    "2026-06-01T24:00:00+0100",
    "2026-06-01T10:60:00.5",
    "2026-06-01T10:00:60.5",
    "2026-02-29T10:00:00.5",
    "2026-13-01T10:00:00+0100",
    "0000-01-01T00:00:00.5",
    "26-06-01T10:00:00",  # two-digit year (the official client reads it; we do not)
    "2026-06-01",
    "2026-06-01T10:00",
    "2026-06-01T10:00:00 and more",
    "Shot 2026-06-01T10:00:00",
    " 2026-06-01T10:00:00.5",
    "2026-06-01T10:00:00.5 ",
    "2026-06-01T10:00:00.5\n",
    "\u0662\u0660\u0662\u0666-06-01T10:00:00.5",  # Arabic-Indic digits
    "2026-06-01T10:00:0\uff15.5",  # a full-width digit
    "2026-W22-1T10:00:00",
    "",
]


@pytest.mark.parametrize("text", V3_NEAR_MISSES)
def test_v3_near_misses_stay_strings(text: str) -> None:
    assert codec.parse_datetime(text, utc=True) is None
    reply = compact({"created": text, "dates": [text], "nested": [{"at": text}]})
    assert codec.decode(reply, utc=True) == json.loads(reply)


@pytest.mark.parametrize(
    "key", [*sorted(codec.PROTECTED_KEYS), "source_hr", "user_hr", "job_id", "x_id"]
)
@pytest.mark.parametrize("text", ["2026-06-01T10:00:00", "2026-06-01T10:00:00+0100"])
def test_v3_protected_keys_keep_date_looking_strings(key: str, text: str) -> None:
    reply = compact({key: text, "list": {key: [text, [text]]}, "created": text})

    decoded = codec.decode(reply, utc=True)

    assert decoded[key] == text
    assert decoded["list"][key] == [text, [text]]
    assert isinstance(decoded["created"], datetime.datetime)


def test_v3_metadata_is_returned_exactly_as_sent() -> None:
    metadata = {
        "approved": "2026-06-01T10:00:00",
        "lenient": "2026-06-01T10:00:00+0100",
        "owner": f"ObjectId:{OBJECT_ID}",
        "history": [f"ObjectId:{OBJECT_ID}", {"at": "2026-06-01T10:00:00.5"}],
    }
    reply = compact({"result": [{"metadata": metadata, "modified": "2026-06-01T10:00:00"}]})

    job = codec.decode(reply, utc=True)["result"][0]

    assert job["metadata"] == metadata
    assert job["modified"] == datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)


def test_v3_drops_the_object_id_prefix_everywhere_but_in_metadata() -> None:
    prefixed = f"ObjectId:{OBJECT_ID}"
    reply = {
        "id": prefixed,
        "parent": prefixed,
        "user_hr": prefixed,
        "ids": [prefixed, [prefixed]],
        "code": [prefixed],
        "tasks": [{"job": prefixed}],
        "metadata": {"owner": prefixed},
    }

    decoded = codec.decode(compact(reply), utc=True)

    assert decoded == {
        "id": OBJECT_ID,
        "parent": OBJECT_ID,
        "user_hr": OBJECT_ID,
        "ids": [OBJECT_ID, [OBJECT_ID]],
        "code": [OBJECT_ID],
        "tasks": [{"job": OBJECT_ID}],
        "metadata": {"owner": prefixed},
    }
    assert codec.decode(json.dumps(prefixed), utc=True) == OBJECT_ID
    # v1.0 never had the rule.
    assert codec.decode(compact(reply)) == reply


@pytest.mark.parametrize(
    "text",
    [
        "ObjectId:",
        "ObjectId: see ticket 42",
        f"ObjectId:{OBJECT_ID[:-1]}",
        f"ObjectId:{OBJECT_ID}0",
        f"ObjectId:{OBJECT_ID[:-1]}g",
        f"objectid:{OBJECT_ID}",
        f" ObjectId:{OBJECT_ID}",
    ],
)
def test_v3_keeps_text_that_only_starts_like_an_object_id(text: str) -> None:
    reply = compact({"name": text, "parent": text, "list": [text]})

    assert codec.decode(reply, utc=True) == json.loads(reply)


def test_v3_deep_walk_matches_recursive_walk() -> None:
    text = compact(
        {
            "result": [{"created": "2026-06-01T10:00:00", "id": f"ObjectId:{OBJECT_ID}"}],
            "code": ["2026-06-01T10:00:00", {"created": "2026-06-01T10:00:00+0100"}],
            "dates": [["2026-06-01T10:00:00.5", f"ObjectId:{OBJECT_ID}"]],
            "metadata": {"at": "2026-06-01T10:00:00", "id": f"ObjectId:{OBJECT_ID}"},
        }
    )
    deep = json.loads(text)

    codec._convert_deep(deep, utc=True)

    assert deep == codec.decode(text, utc=True)
    assert deep["code"][1]["created"].utcoffset() == datetime.timedelta(hours=1)


def test_v3_decodes_a_top_level_date() -> None:
    assert codec.decode('"2026-06-01T10:00:00"', utc=True) == datetime.datetime(
        2026, 6, 1, 10, tzinfo=UTC
    )


# --------------------------------------------------------------------------- encode


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime.datetime(2026, 6, 1, 10, tzinfo=UTC), "2026-06-01T10:00:00"),
        (datetime.datetime(2026, 6, 1, 12, tzinfo=zone(2)), "2026-06-01T10:00:00"),
        (datetime.datetime(2026, 6, 1, 1, 30, tzinfo=zone(5.5)), "2026-05-31T20:00:00"),
        (datetime.datetime(2026, 6, 1, 20, tzinfo=zone(-9.5)), "2026-06-02T05:30:00"),
        # Sub-seconds are dropped (cut, not rounded), as the official client does.
        (datetime.datetime(2026, 6, 1, 10, 0, 0, 999999, UTC), "2026-06-01T10:00:00"),
        (datetime.datetime(2026, 6, 1, 10, 0, 0, 123000, zone(1)), "2026-06-01T09:00:00"),
        (datetime.datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05"),
        # A date is a calendar day, the same in every zone.
        (datetime.date(2026, 6, 1), "2026-06-01T00:00:00"),
        (datetime.date(5, 1, 2), "0005-01-02T00:00:00"),
    ],
)
def test_v3_sends_aware_datetimes_and_dates_as_utc_text(value: Any, text: str) -> None:
    assert codec.format_utc(value) == text
    assert codec.encode({"at": value}, utc=True) == f'{{"at":"{text}"}}'
    assert codec.to_wire([value], utc=True) == [text]


def test_v3_sends_a_zone_aware_value_of_dateutil() -> None:
    from dateutil import tz

    stockholm = tz.gettz("Europe/Stockholm")
    if stockholm is None:
        pytest.skip("no time zone database on this machine")
    june = datetime.datetime(2026, 6, 1, 12, tzinfo=stockholm)
    november = datetime.datetime(2026, 11, 1, 12, tzinfo=stockholm)

    assert codec.to_wire([june, november], utc=True) == [
        "2026-06-01T10:00:00",
        "2026-11-01T11:00:00",
    ]


def test_v1_encoding_is_unchanged_by_the_v3_rules() -> None:
    value = {
        "aware": datetime.datetime(2026, 6, 1, 12, 0, 0, 250000, zone(2)),
        "naive": datetime.datetime(2026, 6, 1, 12),
        "day": datetime.date(2026, 6, 1),
    }

    assert codec.to_wire(value) == {
        "aware": "2026-06-01T12:00:00.250+02:00",
        "naive": "2026-06-01T12:00:00",
        "day": "2026-06-01",
    }
    assert codec.encode(value) == compact(codec.to_wire(value))


def test_v3_encode_and_to_wire_agree_and_do_not_mutate() -> None:
    value: Dict[str, Any] = {
        "at": datetime.datetime(2026, 6, 1, 12, tzinfo=zone(2)),
        "days": (datetime.date(2026, 6, 1), [datetime.datetime(2026, 1, 1, tzinfo=UTC)]),
        "n": 1.5,
        "s": "2026-06-01T12:00:00",
    }
    before = repr(value)

    wire = codec.to_wire(value, utc=True)

    assert codec.encode(value, utc=True) == compact(wire)
    assert wire == {
        "at": "2026-06-01T10:00:00",
        "days": ["2026-06-01T00:00:00", ["2026-01-01T00:00:00"]],
        "n": 1.5,
        "s": "2026-06-01T12:00:00",
    }
    assert repr(value) == before


def test_v3_refuses_a_datetime_whose_utc_time_is_out_of_range() -> None:
    value = {"jobs": [{"at": datetime.datetime(1, 1, 1, tzinfo=zone(1))}]}

    with pytest.raises(ValueError, match=r"out of the range.*\(at \$\.jobs\[0\]\.at\)"):
        codec.to_wire(value, utc=True)
    with pytest.raises(ValueError, match=r"timezone-aware.*\(at \$\.jobs\[0\]\.at\)"):
        codec.encode(value, utc=True)
    with pytest.raises(ValueError, match="0001-01-01T00:00:00"):
        codec.to_utc(datetime.datetime(1, 1, 1, tzinfo=zone(1)))


@pytest.mark.parametrize("value", ["2026-06-01", 20260601, None, datetime.time(10)])
def test_format_utc_refuses_what_is_not_a_date(value: Any) -> None:
    with pytest.raises(TypeError, match=type(value).__name__):
        codec.format_utc(value)


def test_now_texts_are_the_current_time_in_whole_seconds() -> None:
    utc_before = datetime.datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    local_before = datetime.datetime.now().replace(microsecond=0)

    utc_text, local_text = codec.utc_now_text(), codec.local_now_text()

    utc_after, local_after = (
        datetime.datetime.now(UTC).replace(tzinfo=None),
        datetime.datetime.now(),
    )
    assert len(utc_text) == len(local_text) == 19
    assert utc_before <= datetime.datetime.fromisoformat(utc_text) <= utc_after
    assert local_before <= datetime.datetime.fromisoformat(local_text) <= local_after


# --------------------------------------------------------------------------- round trips


OFFSET_MINUTES = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)
DATETIMES = st.datetimes(
    min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)
)


@given(DATETIMES, OFFSET_MINUTES)
def test_aware_datetimes_survive_v3_encode_and_decode(
    value: datetime.datetime, offset_minutes: int
) -> None:
    aware = value.replace(tzinfo=datetime.timezone(datetime.timedelta(minutes=offset_minutes)))

    back = codec.decode(codec.encode({"at": aware}, utc=True), utc=True)["at"]

    # The same instant, to the second (v3 sends whole seconds), in UTC.
    assert back == aware.replace(microsecond=0)
    assert back.tzinfo is UTC


@given(DATETIMES, st.one_of(st.none(), OFFSET_MINUTES), st.integers(1, 9), st.booleans())
def test_lenient_spellings_mean_the_same_instant(
    value: datetime.datetime, offset_minutes: Optional[int], digits: int, colon: bool
) -> None:
    fraction = f"{value.microsecond:06d}{value.microsecond % 1000:03d}"[:digits]
    text = f"{value.isoformat(timespec='seconds')}.{fraction}"
    offset = datetime.timedelta(0)
    if offset_minutes is not None:
        sign, size = ("-" if offset_minutes < 0 else "+"), abs(offset_minutes)
        text += f"{sign}{size // 60:02d}{':' if colon else ''}{size % 60:02d}"
        offset = datetime.timedelta(minutes=offset_minutes)
    kept = int(fraction[:6].ljust(6, "0"))

    parsed = codec.parse_datetime(text, utc=True)

    assert parsed == value.replace(microsecond=kept, tzinfo=datetime.timezone(offset))
    assert parsed is not None and parsed.utcoffset() == offset


# --------------------------------------------------------------------------- pretty


def test_pretty_shows_aware_datetimes_with_their_offset() -> None:
    reply = compact({"created": "2026-06-01T10:00:00", "finished": "2026-06-01T10:00:00.250"})
    value = codec.decode(reply, utc=True)
    value["local"] = datetime.datetime(2026, 6, 1, 12, tzinfo=zone(2))

    shown = json.loads(codec.pretty(value))

    assert shown == {
        "created": "2026-06-01T10:00:00+00:00",
        "finished": "2026-06-01T10:00:00.250+00:00",
        "local": "2026-06-01T12:00:00+02:00",
    }


# --------------------------------------------------------------------------- lazy dateutil

LAZY_IMPORT_SCRIPT = """
import datetime, json, sys
import accsyn_api
from accsyn_api import codec
loaded = ["dateutil" in sys.modules]
reply = json.dumps({"created": "2026-06-01T10:00:00", "at": "2026-06-01T10:00:00.250+02:00",
                    "id": "ObjectId:6a0c1d2e3f405162738495a6"})
codec.decode(reply, utc=True)
codec.encode({"at": datetime.datetime(2026, 6, 1, 12), "now": codec.utc_now_text()}, utc=True)
loaded.append("dateutil" in sys.modules)
codec.decode(json.dumps({"created": "2026-06-01T10:00:00+0100"}), utc=True)
loaded.append("dateutil" in sys.modules)
print(json.dumps(loaded))
"""


def test_dateutil_is_imported_only_when_a_rare_date_needs_it() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", LAZY_IMPORT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, False, True]


# --------------------------------------------------------------------------- daylight saving
#
# A naive datetime is local time of this machine *at that date*. The official
# client 3.4.0 converts it with the offset in force *today*: in November, under
# Europe/Stockholm, it sends a naive 2026-06-01 12:00 as 11:00:00. June and
# November are both checked, so a "today's offset" implementation fails here in
# any season.

STOCKHOLM_SCRIPT = """
import datetime, json, sys, time
from accsyn_api import codec

results = {"tzname": list(time.tzname)}
for name, fields, fold in json.loads(sys.argv[1]):
    value = datetime.datetime(*fields, fold=fold)
    try:
        texts = [
            codec.format_utc(value),
            json.loads(codec.encode({"at": value}, utc=True))["at"],
            codec.to_wire([value], utc=True)[0],
            codec.to_utc(value).isoformat(),
        ]
    except ValueError as exc:
        texts = ["ValueError: " + str(exc)]
    results[name] = texts
back = codec.decode('{"created": "2026-06-01T10:00:00"}', utc=True)["created"]
results["decoded as local"] = [back.astimezone().isoformat()]
results["now"] = [codec.local_now_text(), codec.utc_now_text(),
                  datetime.datetime.now().astimezone().utcoffset().total_seconds()]
print(json.dumps(results))
"""

# name -> (local wall time fields, fold, UTC text sent)
STOCKHOLM_CASES: Dict[str, Tuple[List[int], int, str]] = {
    # Summer time (CEST, UTC+2) in June, whatever the date today.
    "june noon": ([2026, 6, 1, 12, 0, 0], 0, "2026-06-01T10:00:00"),
    # Standard time (CET, UTC+1) in November and January.
    "november noon": ([2026, 11, 1, 12, 0, 0], 0, "2026-11-01T11:00:00"),
    "january noon": ([2026, 1, 15, 12, 0, 0], 0, "2026-01-15T11:00:00"),
    # Sweden had no summer time in 1979, and has had it since 1980: the zone's
    # history counts, not only its present rules.
    "june 1979": ([1979, 6, 1, 12, 0, 0], 0, "1979-06-01T11:00:00"),
    "june 1980": ([1980, 6, 1, 12, 0, 0], 0, "1980-06-01T10:00:00"),
    # Spring forward, 2026-03-29: 02:00 CET becomes 03:00 CEST. The hour in
    # between does not exist: it is moved forward by the gap (02:30 -> 03:30 CEST).
    "before the gap": ([2026, 3, 29, 1, 59, 59], 0, "2026-03-29T00:59:59"),
    "gap start": ([2026, 3, 29, 2, 0, 0], 0, "2026-03-29T01:00:00"),
    "in the gap": ([2026, 3, 29, 2, 30, 0], 0, "2026-03-29T01:30:00"),
    "in the gap, fold 1": ([2026, 3, 29, 2, 30, 0], 1, "2026-03-29T01:30:00"),
    "after the gap": ([2026, 3, 29, 3, 0, 0], 0, "2026-03-29T01:00:00"),
    # Fall back, 2026-10-25: 03:00 CEST becomes 02:00 CET. 02:00-02:59 happens
    # twice: fold 0 (the default) is the first time (CEST), fold 1 the second (CET).
    "before the fold": ([2026, 10, 25, 1, 59, 59], 0, "2026-10-24T23:59:59"),
    "in the fold": ([2026, 10, 25, 2, 30, 0], 0, "2026-10-25T00:30:00"),
    "in the fold, fold 1": ([2026, 10, 25, 2, 30, 0], 1, "2026-10-25T01:30:00"),
    "after the fold": ([2026, 10, 25, 3, 0, 0], 0, "2026-10-25T02:00:00"),
    # Where the platform cannot answer (the last day of year 9999), dateutil does.
    "last minute of 9999": ([9999, 12, 31, 23, 59, 59], 0, "9999-12-31T22:59:59"),
}


@pytest.fixture(scope="module")
def stockholm() -> Dict[str, List[Any]]:
    """The codec's answers for STOCKHOLM_CASES and more, computed under TZ=Europe/Stockholm."""
    if sys.platform == "win32":
        pytest.skip("TZ=Europe/Stockholm needs a Unix C library")
    cases = [(name, fields, fold) for name, (fields, fold, _) in STOCKHOLM_CASES.items()]
    cases.append(("year one", [1, 1, 1, 0, 0, 0], 0))
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", STOCKHOLM_SCRIPT, json.dumps(cases)],
        env={**os.environ, "TZ": "Europe/Stockholm"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: Dict[str, List[Any]] = json.loads(done.stdout)
    if results["tzname"] != ["CET", "CEST"]:
        pytest.skip(f"no Europe/Stockholm zone on this machine (tzname {results['tzname']})")
    return results


@pytest.mark.parametrize("name", sorted(STOCKHOLM_CASES))
def test_a_naive_datetime_is_local_time_at_its_own_date(
    stockholm: Dict[str, List[Any]], name: str
) -> None:
    expected = STOCKHOLM_CASES[name][2]

    format_utc, encoded, to_wire, to_utc = stockholm[name]

    assert format_utc == encoded == to_wire == expected
    assert to_utc == expected + "+00:00"


def test_the_official_clients_daylight_saving_error_is_not_repeated(
    stockholm: Dict[str, List[Any]],
) -> None:
    # 3.4.0 in November: naive June 12:00 -> "11:00:00" (November's UTC+1).
    assert stockholm["june noon"][0] == "2026-06-01T10:00:00"
    assert stockholm["november noon"][0] == "2026-11-01T11:00:00"


def test_a_naive_datetime_out_of_range_in_utc_is_refused(stockholm: Dict[str, List[Any]]) -> None:
    (error,) = stockholm["year one"]

    assert error.startswith("ValueError: the datetime 0001-01-01T00:00:00 cannot be converted")


def test_a_decoded_v3_date_shows_local_time_with_astimezone(
    stockholm: Dict[str, List[Any]],
) -> None:
    assert stockholm["decoded as local"] == ["2026-06-01T12:00:00+02:00"]


def test_the_envelope_times_differ_by_the_local_offset(stockholm: Dict[str, List[Any]]) -> None:
    local_text, utc_text, offset_seconds = stockholm["now"]
    local = datetime.datetime.fromisoformat(local_text)
    utc = datetime.datetime.fromisoformat(utc_text)

    assert offset_seconds in (3600, 7200)
    # The two readings of the clock may straddle a second boundary.
    assert abs((local - utc).total_seconds() - offset_seconds) <= 1
