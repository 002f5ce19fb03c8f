"""Tests for accsyn_api.codec: JSON in and out, date strings <-> datetime."""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import json
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accsyn_api import codec

UTC = datetime.timezone.utc
DATE = "2021-09-24T07:45:49"

# The job example of jobs.rst, as the server sends it (dates as text).
EXAMPLE_JOB_TEXT = """{
    "id": "614d660de50d45bb027c9bdd",
    "code": "latest_edit.mov",
    "uri": "acmevfx/medium",
    "status": "init",
    "created": "2021-09-24T07:45:49",
    "source": "organization:5a4f71ef1da7ee15c5d43ae3",
    "source_hr": "organization:acmevfx",
    "destination": "user:5d91b33ac71c12871d1fc3c2",
    "destination_hr": "user:lars@edit.com(user)",
    "etr": "",
    "metadata": {},
    "parent": "5a4f72111da7ee15c5d43af4",
    "parent_hr": "job:acmevfx/medium(5a4f72111da7ee15c5d43af4)",
    "progress": 0,
    "size": -1,
    "speed": 0.0,
    "user": "5d91b33ac71c12871d1fc3c2",
    "user_hr": "user:employee@acmevfx.com(employee)",
    "finished": "1970-01-01T01:00:00",
    "modified": "2021-10-26T08:12:36",
    "modifier": "61bf395c46ed6081a2b2afc0"
}"""

# The task example of jobs.rst.
EXAMPLE_TASK: Dict[str, Any] = {
    "id": "26468234-c9ee-48d6-8d28-e900b5957129",
    "uri": "0",
    "status": "queued",
    "created": "2020-08-04T09:52:27",
    "source": {
        "client": "5da08873b0eb10fade60b3f7",
        "o": "5a4f71ef1da7ee15c5d43ae3",
        "path": "A001_C011_09187Ia.mov",
        "path_abs_final": "X:\\A001_C011_09187Ia.mov",
        "r_s": "5c5bf52a1da7ee0165105b85",
        "slave": True,
        "user": "5d91b33ac71c12871d1fc3c2",
    },
    "destination": {
        "client": "5da09b9ae1b3c330746529ec",
        "master": True,
        "path": "/Users/tommy/Downloads/A001_C011_09187Ia.mov",
        "path_abs_final": "/Users/tommy/Downloads/A001_C011_09187Ia.mov",
        "user": "5d91b33ac71c12871d1fc3c2",
    },
    "priority": 1,
    "size": 128868496,
    "finished": "2020-08-04T10:12:26.250",
    "time": 110239,
}

# Date-looking metadata, including spellings that would not survive a
# conversion to datetime and back (".000", "Z", "-00:00", ".120000").
METADATA: Dict[str, Any] = {
    "approved": "2021-09-24T07:45:49",
    "exact": "2021-09-24T07:45:49.000",
    "zulu": "2021-09-24T07:45:49Z",
    "negative_zero": "2021-09-24T07:45:49-00:00",
    "six_digits": "2021-09-24T07:45:49.120000",
    "history": [
        "2021-09-24T07:45:49.000Z",
        {"at": "2022-01-02T03:04:05", "metadata": {"at": "2022-01-02T03:04:05"}},
        ["2023-05-06T07:08:09.123456+02:00"],
    ],
    "nested": {"deeper": {"created": "2020-01-01T00:00:00", "count": 3}},
}


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def strings_in(obj: Any) -> List[str]:
    """Every string value at any depth of a decoded structure."""
    if isinstance(obj, dict):
        return [text for value in obj.values() for text in strings_in(value)]
    if isinstance(obj, list):
        return [text for value in obj for text in strings_in(value)]
    return [obj] if isinstance(obj, str) else []


# --------------------------------------------------------------------------- decode


def test_example_job_decodes_dates_as_naive_datetimes() -> None:
    job = codec.decode(EXAMPLE_JOB_TEXT)

    assert job["created"] == datetime.datetime(2021, 9, 24, 7, 45, 49)
    assert job["finished"] == datetime.datetime(1970, 1, 1, 1, 0)
    assert job["modified"] == datetime.datetime(2021, 10, 26, 8, 12, 36)
    for key in ("created", "finished", "modified"):
        assert type(job[key]) is datetime.datetime
        assert job[key].tzinfo is None


def test_example_job_keeps_everything_else_as_sent() -> None:
    job = codec.decode(EXAMPLE_JOB_TEXT)
    plain = json.loads(EXAMPLE_JOB_TEXT)

    for key in ("created", "finished", "modified"):
        del job[key], plain[key]
    assert job == plain
    assert list(codec.decode(EXAMPLE_JOB_TEXT)) == list(json.loads(EXAMPLE_JOB_TEXT))


@pytest.mark.parametrize(
    "key",
    [*sorted(codec.PROTECTED_KEYS), "source_hr", "user_hr", "message_hr", "job_id", "x_hr", "x_id"],
)
def test_protected_key_keeps_date_looking_string(key: str) -> None:
    text = compact({key: DATE, "created": DATE})

    decoded = codec.decode(text)

    assert decoded[key] == DATE
    assert decoded["created"] == datetime.datetime(2021, 9, 24, 7, 45, 49)


@pytest.mark.parametrize("key", ["id", "code", "uri", "path", "source", "destination", "user_hr"])
def test_protected_key_keeps_strings_of_a_list(key: str) -> None:
    decoded = codec.decode(compact({key: [DATE, [DATE]], "dates": [DATE, [DATE]]}))

    assert decoded[key] == [DATE, [DATE]]
    expected = datetime.datetime(2021, 9, 24, 7, 45, 49)
    assert decoded["dates"] == [expected, [expected]]


def test_objects_under_protected_keys_follow_their_own_keys() -> None:
    text = compact({"source": {"path": DATE, "created": DATE}, "code": [{"created": DATE}]})

    decoded = codec.decode(text)

    assert decoded["source"]["path"] == DATE
    assert isinstance(decoded["source"]["created"], datetime.datetime)
    assert isinstance(decoded["code"][0]["created"], datetime.datetime)


@pytest.mark.parametrize(
    "key",
    ["product", "codes", "idx", "name_of", "paths", "uri_list", "created", "metadata_at", "hr"],
)
def test_keys_that_only_resemble_protected_keys_are_converted(key: str) -> None:
    assert isinstance(codec.decode(compact({key: DATE}))[key], datetime.datetime)


def test_metadata_subtree_is_returned_exactly_as_sent() -> None:
    job = json.loads(EXAMPLE_JOB_TEXT)
    job["metadata"] = METADATA
    job["tasks"] = [dict(EXAMPLE_TASK, metadata=METADATA)]
    text = compact({"result": [job]})

    decoded = codec.decode(text)["result"][0]

    assert decoded["metadata"] == METADATA
    assert decoded["tasks"][0]["metadata"] == METADATA
    assert all(isinstance(s, str) for s in strings_in(decoded["metadata"]))
    # ... while the job and task dates around it are converted.
    assert isinstance(decoded["created"], datetime.datetime)
    assert isinstance(decoded["tasks"][0]["created"], datetime.datetime)


@pytest.mark.parametrize(
    "metadata",
    [DATE, [DATE, {"at": DATE}, [DATE]], {"a": [{"b": {"c": DATE}}]}, METADATA],
    ids=["string", "list", "deep", "mixed"],
)
def test_metadata_of_any_shape_stays_verbatim(metadata: Any) -> None:
    text = compact([{"metadata": metadata, "modified": DATE}])

    decoded = codec.decode(text)

    assert decoded[0]["metadata"] == metadata
    assert isinstance(decoded[0]["modified"], datetime.datetime)


def test_identity_values_that_look_like_dates_stay_strings() -> None:
    job = json.loads(EXAMPLE_JOB_TEXT)
    job.update(
        id="2021-09-24T07:45:49.123",
        code="2021-09-24T07:45:49",
        uri="2021-09-24T07:45:49Z",
        user_hr="2021-09-24T07:45:49+01:00",
        job_id="2021-09-24T07:45:49.123456",
    )
    task = dict(EXAMPLE_TASK, source=dict(EXAMPLE_TASK["source"], path="2021-09-24T07:45:49"))
    job["tasks"] = [task]

    decoded = codec.decode(compact(job))

    for key in ("id", "code", "uri", "user_hr", "job_id"):
        assert decoded[key] == job[key]
    assert decoded["tasks"][0]["source"]["path"] == "2021-09-24T07:45:49"


def test_nested_task_lists_are_converted() -> None:
    job = json.loads(EXAMPLE_JOB_TEXT)
    job["tasks"] = [EXAMPLE_TASK, dict(EXAMPLE_TASK, created="2020-08-05T00:00:00.001")]
    reply = {"result": [job], "groups": [[{"created": DATE}]]}

    decoded = codec.decode(compact(reply))

    tasks = decoded["result"][0]["tasks"]
    assert tasks[0]["created"] == datetime.datetime(2020, 8, 4, 9, 52, 27)
    assert tasks[0]["finished"] == datetime.datetime(2020, 8, 4, 10, 12, 26, 250000)
    assert tasks[1]["created"] == datetime.datetime(2020, 8, 5, 0, 0, 0, 1000)
    assert tasks[0]["source"] == EXAMPLE_TASK["source"]
    assert tasks[0]["destination"] == EXAMPLE_TASK["destination"]
    assert decoded["groups"][0][0]["created"] == datetime.datetime(2021, 9, 24, 7, 45, 49)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"2021-09-24T07:45:49"', datetime.datetime(2021, 9, 24, 7, 45, 49)),
        ('["2021-09-24T07:45:49", 1]', [datetime.datetime(2021, 9, 24, 7, 45, 49), 1]),
        ('[["2021-09-24T07:45:49"]]', [[datetime.datetime(2021, 9, 24, 7, 45, 49)]]),
        (
            '{"a": {"b": ["2021-09-24T07:45:49"]}}',
            {"a": {"b": [datetime.datetime(2021, 9, 24, 7, 45, 49)]}},
        ),
        ("42", 42),
        ("null", None),
        ('"hello"', "hello"),
        ("{}", {}),
    ],
)
def test_dates_anywhere_in_a_reply(text: str, expected: Any) -> None:
    assert codec.decode(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-09-24T07:45:49", datetime.datetime(2021, 9, 24, 7, 45, 49)),
        ("2021-09-24T07:45:49.123", datetime.datetime(2021, 9, 24, 7, 45, 49, 123000)),
        ("2021-09-24T07:45:49.000", datetime.datetime(2021, 9, 24, 7, 45, 49)),
        ("2021-09-24T07:45:49.123456", datetime.datetime(2021, 9, 24, 7, 45, 49, 123456)),
        ("2021-09-24T07:45:49Z", datetime.datetime(2021, 9, 24, 7, 45, 49, tzinfo=UTC)),
        ("2021-09-24T07:45:49.5", None),
        ("2021-09-24T07:45:49.123Z", datetime.datetime(2021, 9, 24, 7, 45, 49, 123000, UTC)),
        ("2021-09-24T07:45:49.000001Z", datetime.datetime(2021, 9, 24, 7, 45, 49, 1, UTC)),
        ("2021-09-24T07:45:49+00:00", datetime.datetime(2021, 9, 24, 7, 45, 49, tzinfo=UTC)),
        ("2021-09-24T07:45:49-00:00", datetime.datetime(2021, 9, 24, 7, 45, 49, tzinfo=UTC)),
        (
            "2021-09-24T07:45:49+05:30",
            datetime.datetime(
                2021, 9, 24, 7, 45, 49, tzinfo=datetime.timezone(datetime.timedelta(hours=5.5))
            ),
        ),
        (
            "2021-09-24T07:45:49.250-08:00",
            datetime.datetime(
                2021, 9, 24, 7, 45, 49, 250000, datetime.timezone(datetime.timedelta(hours=-8))
            ),
        ),
        (
            "2021-09-24T07:45:49.123456+23:59",
            datetime.datetime(
                2021,
                9,
                24,
                7,
                45,
                49,
                123456,
                datetime.timezone(datetime.timedelta(hours=23, minutes=59)),
            ),
        ),
        ("0001-01-01T00:00:00", datetime.datetime(1, 1, 1)),
        ("9999-12-31T23:59:59.999999", datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ("2024-02-29T12:00:00", datetime.datetime(2024, 2, 29, 12)),
    ],
)
def test_parse_datetime_formats(text: str, expected: Optional[datetime.datetime]) -> None:
    parsed = codec.parse_datetime(text)

    assert parsed == expected
    if expected is not None:
        assert parsed is not None
        assert parsed.utcoffset() == expected.utcoffset()
        assert codec.decode(json.dumps({"created": text})) == {"created": expected}


NEAR_MISSES = [
    "2021-13-45T99:00:00",
    "2021-02-29T00:00:00",
    "2021-09-31T00:00:00",
    "2021-09-24T24:00:00",
    "2021-09-24T07:60:00",
    "2021-09-24T07:45:60",
    "0000-01-01T00:00:00",
    "2021-09-24 07:45:49",
    "2021-09-24t07:45:49",
    "2021-09-24T07:45",
    "2021-09-24T07:45:4",
    "2021-09-24T07:45:49.",
    "2021-09-24T07:45:49.12",
    "2021-09-24T07:45:49.1234",
    "2021-09-24T07:45:49.12345",
    "2021-09-24T07:45:49.1234567",
    "2021-09-24T07:45:49,123",
    "2021-09-24T07:45:49+0100",
    "2021-09-24T07:45:49+01",
    "2021-09-24T07:45:49+01:00:00",
    "2021-09-24T07:45:49+24:00",
    "2021-09-24T07:45:49+05:60",
    "2021-09-24T07:45:49z",
    "2021-09-24T07:45:49ZZ",
    "2021-09-24T07:45:49.123Z1",
    " 2021-09-24T07:45:49",
    "2021-09-24T07:45:49 ",
    "2021-9-24T07:45:49Z",
    "+021-09-24T07:45:49",
    "2_21-09-24T07:45:49",
    "abcd-ef-ghTij:kl:mn",
    "2021-09-24T07:4a:49",
    "\u0662\u0660\u0662\u0661-09-24T07:45:49",  # Arabic-Indic digits
    "\uff12\uff10\uff12\uff11-09-24T07:45:49",  # full-width digits
    "2021-09-24T07:45:49\n",
    "",
    "2021",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_strings(text: str) -> None:
    assert codec.parse_datetime(text) is None
    assert codec.decode(json.dumps({"created": text, "dates": [text]})) == {
        "created": text,
        "dates": [text],
    }


@pytest.mark.parametrize("value", [None, 20210924, b"2021-09-24T07:45:49", ["2021-09-24T07:45:49"]])
def test_parse_datetime_of_a_non_string_is_none(value: Any) -> None:
    assert codec.parse_datetime(value) is None


@pytest.mark.parametrize(
    "payload", ["", "{", "{'a': 1}", "[1,]", '{"a" 1}', "nul", b"\xff\xfe\x00"]
)
def test_invalid_json_raises_value_error(payload: Any) -> None:
    with pytest.raises(ValueError):
        codec.decode(payload)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_decode_accepts_bytes(encoding: str) -> None:
    text = compact({"code": "åäö", "created": DATE})

    decoded = codec.decode(text.encode(encoding))

    assert decoded == {"code": "åäö", "created": datetime.datetime(2021, 9, 24, 7, 45, 49)}


def test_deep_walk_matches_recursive_walk() -> None:
    job = json.loads(EXAMPLE_JOB_TEXT)
    job["metadata"] = METADATA
    job["tasks"] = [EXAMPLE_TASK, dict(EXAMPLE_TASK, metadata=METADATA)]
    text = compact({"result": [job], "code": [DATE, {"created": DATE}], "dates": [[DATE]]})
    deep = json.loads(text)

    codec._convert_deep(deep)

    assert deep == codec.decode(text)


def test_deep_walk_handles_nesting_beyond_the_recursion_limit() -> None:
    depth = 20_000
    root: List[Any] = []
    innermost = root
    for _ in range(depth):
        child: List[Any] = []
        innermost.append(child)
        innermost = child
    innermost.append({"created": DATE, "metadata": {"at": DATE}})

    codec._convert_deep(root)

    assert innermost[0]["created"] == datetime.datetime(2021, 9, 24, 7, 45, 49)
    assert innermost[0]["metadata"] == {"at": DATE}


# --------------------------------------------------------------------------- encode


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime.datetime(2021, 9, 24, 7, 45, 49), "2021-09-24T07:45:49"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, 123000), "2021-09-24T07:45:49.123"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, 1000), "2021-09-24T07:45:49.001"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, 123456), "2021-09-24T07:45:49.123456"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, 120001), "2021-09-24T07:45:49.120001"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, 1), "2021-09-24T07:45:49.000001"),
        (datetime.datetime(2021, 9, 24, 7, 45, 49, tzinfo=UTC), "2021-09-24T07:45:49+00:00"),
        (
            datetime.datetime(2021, 9, 24, 7, 45, 49, 5000, tzinfo=UTC),
            "2021-09-24T07:45:49.005+00:00",
        ),
        (
            datetime.datetime(
                2021, 9, 24, 7, 45, 49, tzinfo=datetime.timezone(datetime.timedelta(hours=5.5))
            ),
            "2021-09-24T07:45:49+05:30",
        ),
        (
            datetime.datetime(
                2021, 9, 24, 7, 45, 49, 7, datetime.timezone(-datetime.timedelta(hours=9.75))
            ),
            "2021-09-24T07:45:49.000007-09:45",
        ),
        (
            # An offset with seconds cannot be written as +HH:MM: written in UTC.
            datetime.datetime(
                2021, 9, 24, 12, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(seconds=3630))
            ),
            "2021-09-24T10:59:30+00:00",
        ),
        (datetime.datetime(5, 1, 2, 3, 4, 5), "0005-01-02T03:04:05"),
    ],
)
def test_format_and_encode_datetimes(value: datetime.datetime, text: str) -> None:
    assert codec.format_datetime(value) == text
    assert codec.encode({"at": value}) == f'{{"at":"{text}"}}'
    assert codec.to_wire([value]) == [text]


def test_format_datetime_ignores_a_subclass_isoformat() -> None:
    class Moment(datetime.datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "not the server layout"

    assert codec.format_datetime(Moment(2021, 9, 24, 7, 45, 49)) == DATE


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime.date(2021, 9, 24), '"2021-09-24"'),
        (datetime.date(5, 1, 2), '"0005-01-02"'),
        ([datetime.date(2021, 1, 1)], '["2021-01-01"]'),
    ],
)
def test_encode_dates(value: Any, text: str) -> None:
    assert codec.encode(value) == text


def test_format_datetime_refuses_a_date() -> None:
    with pytest.raises(TypeError, match="date"):
        codec.format_datetime(datetime.date(2021, 9, 24))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "2021-09-24T07:45:49",
        "2021-09-24T07:45:49.001",
        "2021-09-24T07:45:49.999",
        "2021-09-24T07:45:49.123456",
        "2021-09-24T07:45:49.000001",
        "2021-09-24T07:45:49+00:00",
        "2021-09-24T07:45:49.250+05:30",
        "2021-09-24T07:45:49.123456-11:45",
        "1970-01-01T01:00:00",
    ],
)
def test_date_text_round_trips(text: str) -> None:
    parsed = codec.parse_datetime(text)

    assert parsed is not None
    assert codec.format_datetime(parsed) == text


@pytest.mark.parametrize(
    ("text", "comes_back_as"),
    [
        ("2021-09-24T07:45:49.000", "2021-09-24T07:45:49"),
        ("2021-09-24T07:45:49.000000", "2021-09-24T07:45:49"),
        ("2021-09-24T07:45:49.120000", "2021-09-24T07:45:49.120"),
        ("2021-09-24T07:45:49Z", "2021-09-24T07:45:49+00:00"),
        ("2021-09-24T07:45:49-00:00", "2021-09-24T07:45:49+00:00"),
    ],
)
def test_documented_round_trip_exceptions(text: str, comes_back_as: str) -> None:
    parsed = codec.parse_datetime(text)

    assert parsed is not None
    assert codec.format_datetime(parsed) == comes_back_as


@given(
    st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)),
    st.one_of(st.none(), st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)),
)
def test_any_datetime_survives_format_and_parse(
    value: datetime.datetime, offset_minutes: Optional[int]
) -> None:
    if offset_minutes is not None:
        value = value.replace(tzinfo=datetime.timezone(datetime.timedelta(minutes=offset_minutes)))

    parsed = codec.parse_datetime(codec.format_datetime(value))

    assert parsed == value
    assert parsed is not None and parsed.utcoffset() == value.utcoffset()


def realistic_reply_text() -> str:
    jobs = []
    for index in range(50):
        job = json.loads(EXAMPLE_JOB_TEXT)
        job.update(
            id=f"{index:024x}",
            code=f"2021-09-24T07:45:{index % 60:02d}",
            created=f"2021-09-{index % 28 + 1:02d}T07:45:49",
            modified=f"2021-10-26T08:12:36.{index * 7 % 1000 or 1:03d}",
            metadata=METADATA if index % 5 == 0 else {"note": "åäö ✓"},
        )
        task = dict(EXAMPLE_TASK, finished=f"2020-08-04T10:12:26.{index + 1:06d}")
        job["tasks"] = [task, dict(task, id=f"task-{index}", uri=str(index))]
        jobs.append(job)
    return compact({"result": jobs, "count": len(jobs)})


def test_decode_then_encode_gives_the_same_text() -> None:
    text = realistic_reply_text()

    decoded = codec.decode(text)

    assert isinstance(decoded["result"][3]["modified"], datetime.datetime)
    assert isinstance(decoded["result"][3]["tasks"][1]["finished"], datetime.datetime)
    assert codec.encode(decoded) == text
    assert compact(codec.to_wire(decoded)) == text


def test_v1_is_the_default_reading_and_writing() -> None:
    text = realistic_reply_text()

    decoded = codec.decode(text, utc=False)

    assert decoded == codec.decode(text)
    assert decoded["result"][0]["created"].tzinfo is None
    assert codec.encode(decoded, utc=False) == codec.encode(decoded) == text
    assert codec.to_wire(decoded, utc=False) == codec.to_wire(decoded)
    assert codec.parse_datetime(DATE, utc=False) == codec.parse_datetime(DATE)


def test_encode_is_compact_and_keeps_non_ascii() -> None:
    value = {"a": [1, 2.5, None, True], "b": "åäö ✓", "c": (1, (2,))}

    assert codec.encode(value) == '{"a":[1,2.5,null,true],"b":"åäö ✓","c":[1,[2]]}'


def test_encode_and_to_wire_do_not_mutate_the_input() -> None:
    value: Dict[str, Any] = {
        "at": datetime.datetime(2021, 9, 24, 7, 45, 49, 123000),
        "dates": [datetime.date(2021, 9, 24), (datetime.datetime(2000, 1, 1), "x")],
        "nested": {"created": datetime.datetime(1970, 1, 1, tzinfo=UTC)},
    }
    snapshot = copy.deepcopy(value)

    codec.encode(value)
    wire = codec.to_wire(value)

    assert value == snapshot
    assert type(value["dates"][1]) is tuple
    assert wire["dates"][1] == ["2000-01-01T00:00:00", "x"]
    assert wire is not value and wire["nested"] is not value["nested"]


def test_to_wire_builds_new_plain_containers() -> None:
    class Colour(str, enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    class Record(dict):  # type: ignore[type-arg]
        pass

    value = Record({"list": [1], 1: "one", None: Colour.RED, False: Level.HIGH, 2.5: (1,)})

    wire = codec.to_wire(value)

    assert wire == {"list": [1], "1": "one", "null": "red", "false": 3, "2.5": [1]}
    assert type(wire) is dict and wire["list"] is not value["list"]
    assert type(wire["null"]) is str and type(wire["false"]) is int
    assert codec.encode(value) == compact(wire)


class Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "type_name", "path"),
    [
        ({1, 2}, "set", "$"),
        ({"tags": [1, {"x": Opaque()}]}, "Opaque", "$.tags[1].x"),
        ([b"bytes"], "bytes", "$[0]"),
        ({"price": decimal.Decimal("1.5")}, "Decimal", "$.price"),
        ({"a b": object()}, "object", "$['a b']"),
    ],
)
def test_unsupported_objects_raise_type_error_with_type_and_path(
    value: Any, type_name: str, path: str
) -> None:
    for function in (codec.encode, codec.to_wire):
        with pytest.raises(TypeError) as caught:
            function(value)
        assert type_name in str(caught.value)
        assert path in str(caught.value)


def test_unsupported_key_raises_type_error() -> None:
    with pytest.raises(TypeError, match="tuple"):
        codec.encode({(1, 2): "x"})
    with pytest.raises(TypeError, match="tuple"):
        codec.to_wire({(1, 2): "x"})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_raise_value_error(number: float) -> None:
    with pytest.raises(ValueError, match=r"\$\.speed"):
        codec.encode({"speed": number})
    with pytest.raises(ValueError, match=r"\$\.speed"):
        codec.to_wire({"speed": number})


def test_circular_reference_raises_value_error() -> None:
    loop: Dict[str, Any] = {"a": 1}
    loop["self"] = [loop]

    with pytest.raises(ValueError, match=r"circular reference \(at \$\.self\[0\]\)"):
        codec.encode(loop)
    with pytest.raises(ValueError, match="circular"):
        codec.to_wire(loop)


def test_shared_but_not_circular_objects_are_fine() -> None:
    shared = [1, 2]

    assert codec.to_wire({"a": shared, "b": shared}) == {"a": [1, 2], "b": [1, 2]}


# --------------------------------------------------------------------------- pretty


def test_pretty_is_indented_sorted_json_with_dates_as_text() -> None:
    job = codec.decode(EXAMPLE_JOB_TEXT)

    text = codec.pretty(job)

    assert json.loads(text) == json.loads(EXAMPLE_JOB_TEXT)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert '    "created": "2021-09-24T07:45:49",' in lines
    keys = [line.split('"')[1] for line in lines[1:-1] if line.startswith('    "')]
    assert keys[:3] == ["id", "code", "status"]  # the identity leads
    assert keys[3:] == sorted(keys[3:])


def test_pretty_is_deterministic() -> None:
    first = {"b": 1, "a": {"y": datetime.date(2021, 1, 1), "x": [3, 2]}}
    second = {"a": {"x": [3, 2], "y": datetime.date(2021, 1, 1)}, "b": 1}

    assert codec.pretty(first) == codec.pretty(second)
    assert codec.pretty(first) == codec.pretty(first)
    assert codec.pretty(first) == (
        '{\n    "a": {\n        "x": [\n            3,\n            2\n        ],\n'
        '        "y": "2021-01-01"\n    },\n    "b": 1\n}'
    )


def test_pretty_falls_back_to_repr() -> None:
    value = {"tags": {1}, 2: Opaque, (1, 2): "tuple key", "at": datetime.datetime(2021, 9, 24)}

    shown = json.loads(codec.pretty(value))

    assert shown == {
        "tags": "{1}",
        "2": repr(Opaque),
        "(1, 2)": "tuple key",
        "at": "2021-09-24T00:00:00",
    }


def test_pretty_marks_circular_references() -> None:
    loop: List[Any] = [1]
    loop.append(loop)

    assert json.loads(codec.pretty(loop)) == [1, "<circular reference to list>"]


def test_pretty_keeps_non_ascii() -> None:
    assert codec.pretty({"code": "åäö"}) == '{\n    "code": "åäö"\n}'
