"""The v3 operators of the query language.

First the client side, pure functions: parser, printer, builder, operator
checks. Then the reference server's evaluation, over HTTP with the client, on
the demo workspace's active jobs (``now`` pinned to 2026-05-04 12:00 UTC):

==========================  =======  ===================  =========  ==================
code                        status   created              size       user
==========================  =======  ===================  =========  ==================
latest_edit.mov             init     2021-09-24T07:45:49  -1         employee@acmevfx
A001_C011_09187Ia.mov       running  2020-08-04T09:52:27  257736992  employee@acmevfx
x and y.png                 paused   2026-05-03T12:00:00  482113     employee@acmevfx
my_transfer                 waiting  2026-05-03T12:00:00  102760448  admin@acmevfx
upload_from_user.zip        running  2026-05-03T12:00:00  10485760   user@mail.com
==========================  =======  ===================  =========  ==================
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Mapping, Optional, Set, Tuple
from urllib.parse import quote as url_quote

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from wire import raw_event

from accsyn_api import InvalidQuery, Session
from accsyn_api.protocol.names import V1_API_PATH, V1_OPERATORS, V3_OPERATORS
from accsyn_api.query import (
    BooleanExpression,
    Comparison,
    Expression,
    Query,
    check_operators,
    contains,
    eq,
    format_expression,
    ge,
    gt,
    is_in,
    le,
    lt,
    matches,
    ne,
    not_contains,
    not_in,
    not_matches,
    operators_in,
    parse,
    parse_expression,
    select,
)
from accsyn_api.testing import Backend, Clock, LocalServer
from accsyn_api.testing.matching import MAX_PATTERN_LENGTH, parse_query, row_values
from accsyn_api.testing.matching import matches as row_matches

C = Comparison


def AND(*operands: Expression) -> BooleanExpression:
    return BooleanExpression("and", operands)


def OR(*operands: Expression) -> BooleanExpression:
    return BooleanExpression("or", operands)


HOSTILE_VALUES = [
    'say "hi"',
    "x AND y=1",
    ") OR (a=b",
    "back\\slash\\",
    "",
    "a,b",
    " , ",
    "<=",
    ">",
    "in",
    "NOT",
    "contains",
    "Matches",
    "not in",
    "*",
    "new\nline",
]

# -- parser, printer, builder ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("size<1000", C("size", "<", "1000")),
        ("size > 1000", C("size", ">", "1000")),
        ("size<=1000", C("size", "<=", "1000")),
        ("created >= 2026-05-04T09:15:02", C("created", ">=", "2026-05-04T09:15:02")),
        ("a<>b", C("a", "!=", "b")),
        ("a <= <>", None),  # see the error table: a value may not start with an operator
        ("type in 0,2", C("type", "in", ("0", "2"))),
        ("type IN 0 , 2 ,\t3", C("type", "in", ("0", "2", "3"))),
        ('name in "a b",c', C("name", "in", ("a b", "c"))),
        ('name In "a,b",""', C("name", "in", ("a,b", ""))),
        ("name in x", C("name", "in", ("x",))),
        ("type not in 0,2", C("type", "not in", ("0", "2"))),
        ("type NOT\n IN 0", C("type", "not in", ("0",))),
        ('name contains "backup"', C("name", "contains", "backup")),
        ("name CONTAINS Backup", C("name", "contains", "Backup")),
        ("name not contains x", C("name", "not contains", "x")),
        ('name matches "backup.*\\\\.zip"', C("name", "matches", "backup.*\\.zip")),
        ("name Matches ^SH0[0-9]+$", C("name", "matches", "^SH0[0-9]+$")),
        ("name not matches a|b", C("name", "not matches", "a|b")),
        ('code="* backup"', C("code", "=", "* backup")),
        ("entity=user:*", C("entity", "=", "user:*")),
        ('name contains"x"', C("name", "contains", "x")),
        # operator words are keywords only where an operator stands
        ("contains=1", C("contains", "=", "1")),
        ("in in in,not", C("in", "in", ("in", "not"))),
        ("not not in a", C("not", "not in", ("a",))),
        ("matches matches contains", C("matches", "matches", "contains")),
        ("code=in", C("code", "=", "in")),
    ],
)
def test_v3_operators_parse(text: str, expected: Optional[Comparison]) -> None:
    if expected is None:
        with pytest.raises(InvalidQuery):
            parse_expression(text)
        return
    assert parse_expression(text) == expected
    assert parse_expression(format_expression(expected)) == expected


def test_v3_examples_of_the_documentation() -> None:
    query = parse(
        'transfer WHERE ((user=x@y.com AND destination=hq) OR status<>failed) AND code="* backup"'
    )
    assert query.expression == AND(
        OR(
            AND(C("user", "=", "x@y.com"), C("destination", "=", "hq")), C("status", "!=", "failed")
        ),
        C("code", "=", "* backup"),
    )
    assert parse("Client WHERE user=u1 AND type in 0,2").expression == AND(
        C("user", "=", "u1"), C("type", "in", ("0", "2"))
    )
    assert str(parse('Transfer WHERE name matches "backup.*\\\\.zip"')) == (
        'Transfer WHERE name MATCHES "backup.*\\\\.zip"'
    )


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (C("size", ">", "1000"), "size>1000"),
        (C("size", "<=", "-1"), "size<=-1"),
        (C("a", "<", "=b"), 'a<"=b"'),
        (C("type", "in", ("0", "2")), "type IN 0,2"),
        (C("name", "not in", ("a b", "c,d", "", "in")), 'name NOT IN "a b","c,d","","in"'),
        (C("name", "contains", "backup"), "name CONTAINS backup"),
        (C("name", "not contains", "x y"), 'name NOT CONTAINS "x y"'),
        (C("name", "matches", "^a\\d"), 'name MATCHES "^a\\\\d"'),
        (C("name", "not matches", "a|b"), "name NOT MATCHES a|b"),
        (C("code", "=", "*.mov"), "code=*.mov"),
        (C("code", "=", "contains"), 'code="contains"'),
        (C("code", "!=", "NOT"), 'code!="NOT"'),
        (C("path", "=", "a,b"), "path=a,b"),
    ],
)
def test_canonical_printer_of_v3_operators(expression: Comparison, text: str) -> None:
    assert format_expression(expression) == text
    assert parse_expression(text) == expression


@pytest.mark.parametrize(
    "bad",
    [
        C("a", "in", "x"),
        C("a", "not in", ()),
        C("a", "in", ("x", 1)),  # type: ignore[arg-type]
        C("a", "=", ("x",)),
        C("a", "contains", ("x",)),
        C("a", "~=", "x"),
        C("a", "IN ", ("x",)),
    ],
)
def test_printer_refuses_operator_value_mismatches(bad: Comparison) -> None:
    with pytest.raises(ValueError):
        format_expression(bad)


def test_operators_in() -> None:
    query = parse("Job WHERE a<>1 AND (b in 1,2 OR c>3 OR d not matches x) AND e=1")
    assert operators_in(query) == {"!=", "in", ">", "not matches", "="}
    assert operators_in(query.expression) == operators_in(query)
    assert operators_in(Query("Job")) == frozenset()
    assert operators_in(None) == frozenset()
    assert operators_in(C("a", "<>", "b")) == {"!="}


def test_check_operators_refuses_what_a_generation_does_not_know() -> None:
    fine = parse("Job WHERE a<>1 AND b=2")
    check_operators(fine, V1_OPERATORS, "v1.0")
    check_operators(None, V1_OPERATORS, "v1.0")
    query = parse("Job WHERE a<>1 AND b contains 2 OR c in 1,2")
    check_operators(query, V3_OPERATORS, "v3")
    with pytest.raises(InvalidQuery) as caught:
        check_operators(query, V1_OPERATORS, "v1.0")
    message = caught.value.message
    assert "the operators CONTAINS and IN need the v3 API (api_version='3')" in message
    assert "the v1.0 API knows only !=, <>, =" in message
    assert caught.value.query == str(query)
    assert caught.value.position is None
    with pytest.raises(InvalidQuery, match="the operator >= needs the v3 API"):
        check_operators(ge("size", 1), V1_OPERATORS, "v1.0")


BUILDERS = [
    (lt, "<"),
    (le, "<="),
    (gt, ">"),
    (ge, ">="),
    (contains, "contains"),
    (not_contains, "not contains"),
    (matches, "matches"),
    (not_matches, "not matches"),
    (eq, "="),
    (ne, "!="),
]


@pytest.mark.parametrize(("build", "operator"), BUILDERS)
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_every_builder_quotes_hostile_values(
    build: Callable[[str, str], Comparison], operator: str, value: str
) -> None:
    comparison = build("code", value)
    assert comparison == C("code", operator, value)
    query = select("Job").where(comparison, status="x")
    assert parse(str(query)) == Query("Job", AND(comparison, C("status", "=", "x")))


@pytest.mark.parametrize("build", [is_in, not_in])
def test_list_builders_quote_hostile_values(build: Callable[..., Comparison]) -> None:
    values = [*HOSTILE_VALUES, "a,b", ",", "in", "not"]
    comparison = build("code", values)
    assert comparison.value == tuple(values)
    assert parse_expression(format_expression(comparison)) == comparison
    assert build("type", (0, 2)) == C("type", comparison.operator, ("0", "2"))
    assert build("type", (v for v in [True])) == C("type", comparison.operator, ("true",))
    assert str(select("Client").where(build("type", [0, 2]))).endswith(" 0,2")


@pytest.mark.parametrize("bad", ["0,2", b"02", 5, None])
def test_list_builders_want_a_collection(bad: object) -> None:
    with pytest.raises(TypeError, match="list or tuple"):
        is_in("type", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list or tuple"):
        not_in("type", bad)  # type: ignore[arg-type]


def test_list_builders_refuse_no_values_and_none_items() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        is_in("type", [])
    with pytest.raises(TypeError):
        not_in("type", ["a", None])


def test_builders_check_attribute_names() -> None:
    for build, _ in BUILDERS:
        with pytest.raises(InvalidQuery):
            build("a b", "v")
    with pytest.raises(InvalidQuery):
        is_in("or", ["v"])


def test_builder_values_of_dates_and_patterns() -> None:
    stockholm = timezone(timedelta(hours=2))
    assert gt("created", datetime(2026, 6, 1, 12, 0, tzinfo=stockholm)).value == (
        "2026-06-01T10:00:00"
    )
    assert gt("created", datetime(2026, 6, 1, 12, 0, 0, 5000)).value == (
        "2026-06-01T12:00:00.005000"
    )
    assert le("created", date(2026, 5, 4)).value == "2026-05-04"
    assert eq("created", datetime(2026, 5, 4, 9, 15, 2)).value == "2026-05-04T09:15:02"
    assert matches("code", re.compile(r"^A\d+", re.IGNORECASE)).value == "^A\\d+"
    assert (
        str(select("Job").where(matches("code", r"\.mov$"))) == 'Job WHERE code MATCHES "\\\\.mov$"'
    )
    with pytest.raises(TypeError, match="bytes pattern"):
        not_matches("code", re.compile(b"x"))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.sampled_from([is_in, not_in]))
def test_any_list_survives_the_builder(values: List[str], build: Callable[..., Comparison]) -> None:
    comparison = build("code", values)
    assert parse(str(select("Job").where(comparison))) == Query("Job", comparison)
    assert comparison.value == tuple(values)


# -- evaluation by the reference server ----------------------------------------------------

NOW = datetime(2026, 5, 4, 12, 0, 0)
EDIT, ROLLS, X_AND_Y = "latest_edit.mov", "A001_C011_09187Ia.mov", "x and y.png"
MY_TRANSFER, UPLOAD = "my_transfer", "upload_from_user.zip"
RECENT = frozenset({X_AND_Y, MY_TRANSFER, UPLOAD})
JOB_ROLLS, JOB_MY_TRANSFER = "5a7325f8b7ef72f5f9d74bf4", "6150a1c2e50d45bb027c9c02"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(backend=Backend(clock=Clock(NOW))) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: LocalServer) -> Iterator[Session]:
    with server.session("admin", api_version="3") as session:
        yield session


def codes(session: Session, query: str) -> FrozenSet[str]:
    return frozenset(str(job["code"]) for job in session.find(query))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # numbers
        ("size > 1000000", {ROLLS, MY_TRANSFER, UPLOAD}),
        ("size>1e6", {ROLLS, MY_TRANSFER, UPLOAD}),
        ("size >= 482113", {ROLLS, X_AND_Y, MY_TRANSFER, UPLOAD}),
        ("size<0", {EDIT}),
        ("size <= 482113", {EDIT, X_AND_Y}),
        ("size > 1000000 AND size < 200000000", {MY_TRANSFER, UPLOAD}),
        # dates: a day compares the attribute's day; a time is UTC unless it says otherwise
        ("created < 2021-01-01", {ROLLS}),
        ("created >= 2021-09-24", {EDIT} | RECENT),
        ("created > 2021-09-24", RECENT),
        ("created <= 2021-09-24T07:45:49", {ROLLS, EDIT}),
        ("created < 2021-09-24T07:45:49", {ROLLS}),
        ("created <= 2021-09-24T09:45:48+02:00", {ROLLS}),
        ("created <= 2021-09-24T07:45:49Z", {ROLLS, EDIT}),
        ('created >= "2026-05-03 12:00:00"', RECENT),
        ("created > 2026-05-03T12:00:00.001", set()),
        # text, without regard to case
        ("code > m", {MY_TRANSFER, UPLOAD, X_AND_Y}),
        ("code > M", {MY_TRANSFER, UPLOAD, X_AND_Y}),
        ("code < B", {ROLLS}),
        # contains
        ("code contains EDIT", {EDIT}),
        ('code CONTAINS " and "', {X_AND_Y}),
        ("code not contains .", {MY_TRANSFER}),
        ("user contains acmevfx", {EDIT, ROLLS, X_AND_Y, MY_TRANSFER}),
        ("destination contains stock", {MY_TRANSFER}),
        # matches: Python regular expressions, without regard to case
        ('code matches "^a\\\\d+_c0"', {ROLLS}),
        ('code MATCHES "\\\\.(mov|zip)$"', {EDIT, ROLLS, UPLOAD}),
        ('code not matches "\\\\.mov$"', {X_AND_Y, MY_TRANSFER, UPLOAD}),
        ("code matches ^[a-z]+_[a-z]+$", {MY_TRANSFER}),
        # in / not in
        ("status in paused,waiting", {X_AND_Y, MY_TRANSFER}),
        ('status IN "Paused"', {X_AND_Y}),
        ("status not in running, init", {X_AND_Y, MY_TRANSFER}),
        ('code in "x and y.png",my_transfer', {X_AND_Y, MY_TRANSFER}),
        ("parent in high,low", {MY_TRANSFER}),
        ("code in *.mov", set()),  # no wildcard in IN lists
        # the wildcard of = and !=
        ('code="*.mov"', {EDIT, ROLLS}),
        ('code="*_*"', {EDIT, ROLLS, MY_TRANSFER, UPLOAD}),
        ("code=X*", {X_AND_Y}),
        ("code=LATEST*MOV", {EDIT}),
        ('code!="*.mov"', {X_AND_Y, MY_TRANSFER, UPLOAD}),
        ("user=*@mail.com", {UPLOAD}),
        ("code=*", {EDIT, ROLLS, X_AND_Y, MY_TRANSFER, UPLOAD}),
        # combined, and dotted
        ("(status=running OR size<0) AND code contains mov", {EDIT, ROLLS}),
        ("destination=stockholm AND size > 1000", {MY_TRANSFER}),
        ("user.code contains @mail", {UPLOAD}),
    ],
)
def test_find_evaluates_the_operator(admin: Session, expression: str, expected: Set[str]) -> None:
    assert codes(admin, f"Job WHERE {expression}") == expected


def test_the_builder_reaches_the_same_jobs(admin: Session) -> None:
    query = select("Job").where(
        gt("size", 1000),
        lt("created", datetime(2026, 5, 3, 14, 0, tzinfo=timezone.utc)),
        not_in("status", ["init"]),
        is_in("code", [X_AND_Y, ROLLS, MY_TRANSFER, "a,b"]),
        contains("code", "_"),
        matches("code", r"^[a-z]"),
        ge("created", datetime(2026, 5, 3)),
    )
    assert codes(admin, str(query)) == {MY_TRANSFER}


def test_task_queries_use_the_operators(admin: Session) -> None:
    tasks = admin.find(f"task WHERE job.id={JOB_MY_TRANSFER} AND size > 51000000")
    assert [task["source"]["path"] for task in tasks] == ["thefilm/shots/sh010/plate.exr"]
    tasks = admin.find(f"task WHERE job.id={JOB_MY_TRANSFER} AND source contains SH020")
    assert [task["source"]["path"] for task in tasks] == ["thefilm/shots/sh020/plate.exr"]
    tasks = admin.find(f"task WHERE job.id in {JOB_ROLLS},{JOB_MY_TRANSFER} AND uri < 1")
    assert sorted(task["uri"] for task in tasks) == ["0", "0"]


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ('code matches "("', ("not a valid regular expression", "missing )")),
        (f'code matches "{"a" * (MAX_PATTERN_LENGTH + 1)}"', ("at most 1000 characters",)),
        ('code not matches "[z-a]"', ("not a valid regular expression",)),
    ],
)
def test_a_bad_regular_expression_is_refused(
    admin: Session, expression: str, words: Tuple[str, ...]
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        admin.find(f"Job WHERE {expression}")
    for word in words:
        assert word in str(caught.value)


def test_a_regular_expression_of_the_maximum_length_is_accepted(admin: Session) -> None:
    pattern = "(?:x|" + "a" * (MAX_PATTERN_LENGTH - 10) + ")?mov"
    assert len(pattern) == MAX_PATTERN_LENGTH
    assert codes(admin, str(select("Job").where(matches("code", pattern)))) == {EDIT, ROLLS}


def test_many_wildcards_cost_linear_time() -> None:
    expression = parse_expression('code="' + "*a" * 300 + '*b"')
    assert expression is not None
    row = row_values({"code": "a" * 20000})
    started = time.perf_counter()
    assert not row_matches(expression, row)
    assert time.perf_counter() - started < 5  # a backtracking matcher would take years


def test_without_wildcards_a_star_is_a_character() -> None:
    starts_with_a, not_anything = parse_expression('code="a*"'), parse_expression('code!="*"')
    assert starts_with_a is not None and not_anything is not None
    abc, star = row_values({"code": "abc"}), row_values({"code": "a*"})
    assert row_matches(starts_with_a, abc) and row_matches(starts_with_a, star)
    assert not row_matches(not_anything, abc)
    assert not row_matches(starts_with_a, abc, wildcards=False)
    assert row_matches(starts_with_a, star, wildcards=False)
    assert row_matches(not_anything, abc, wildcards=False)


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("size > 5", "operator > needs"),
        ("code contains x AND status in a,b", "operators CONTAINS, IN need"),
        ("code not matches x", "operator NOT MATCHES needs"),
    ],
)
def test_parse_query_refuses_operators_the_generation_lacks(query: str, refused: str) -> None:
    event = {"query": query}
    assert parse_query(event, "job") is not None  # all operators by default
    with pytest.raises(InvalidQuery) as caught:
        parse_query(event, "job", operators=V1_OPERATORS)
    assert caught.value.message == f"{refused} the v3 API"
    assert "needs the v3 API (/api/v3)" in (caught.value.message_hr or "")
    assert "the operators of this API are !=, <>, =" in (caught.value.message_hr or "")
    assert parse_query({"query": "code<>x AND status=done"}, "job", operators=V1_OPERATORS)


# -- v1.0 ----------------------------------------------------------------------------------


def _b64(obj: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def _v1_find(server: LocalServer, query: str) -> Dict[str, Any]:
    """A v1.0 ``job/find`` sent as raw HTTP, as a client that checks nothing would."""
    credentials = server.backend.credentials("admin")
    with requests.Session() as http:
        login = http.put(
            f"{server.url}{V1_API_PATH}/user/login/auth",
            headers={"Authorization": f"ASCredentials {_b64(credentials)}"},
            json={"session": str(uuid.uuid4())},
            timeout=10,
        )
        session = {**credentials, "session_key": login.json()["session_key"]}
        del session["api_key"]
        event = raw_event("job/find", {"type": 1}, ident=credentials["username"], query=query)
        response = http.get(
            f"{server.url}{V1_API_PATH}/event?{url_quote(json.dumps(event), safe='')}",
            headers={"Authorization": f"ASSession {_b64(session)}"},
            timeout=10,
        )
        reply: Dict[str, Any] = response.json()
        return reply


def test_the_v1_front_end_refuses_v3_operators(server: LocalServer) -> None:
    reply = _v1_find(server, "size > 1000")
    assert reply.get("error_code") == "invalid_query", reply
    assert "needs the v3 API" in reply["message"]


def test_the_v1_front_end_reads_a_star_literally(server: LocalServer) -> None:
    found: List[Dict[str, Any]] = _v1_find(server, "code=*.mov")["result"]
    assert found == []  # v1.0 documents no wildcard: "*" is a character there


def test_a_v1_session_refuses_v3_operators_before_sending(server: LocalServer) -> None:
    with server.session("admin", api_version="1.0") as session:
        sent = len(server.events)
        with pytest.raises(InvalidQuery, match="needs the v3 API"):
            session.find("Job WHERE code contains x")
        with pytest.raises(InvalidQuery, match="needs the v3 API"):
            session.find(str(select("Job").where(is_in("status", ["done"]))))
        assert len(server.events) == sent
        assert codes(session, "Job WHERE code<>x AND status!=done") >= {EDIT, ROLLS}
