"""Unit tests of accsyn_api.query: parser, errors, printer, builder (no server needed)."""

from __future__ import annotations

from typing import List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accsyn_api.errors import InvalidQuery
from accsyn_api.query import (
    LIST_OPERATORS,
    OPERATORS,
    BooleanExpression,
    Comparison,
    Expression,
    Query,
    all_of,
    any_of,
    eq,
    format_expression,
    ne,
    parse,
    parse_expression,
    quote,
    select,
)

C = Comparison


def AND(*operands: Expression) -> BooleanExpression:
    return BooleanExpression("and", operands)


def OR(*operands: Expression) -> BooleanExpression:
    return BooleanExpression("or", operands)


JOB_ID = "5a7325f8b7ef72f5f9d74bf4"

# Every query string of jobs.rst, with the tree it must give.
JOBS_RST_QUERIES = [
    ("Job", Query("Job")),
    ('Job where code="x and y.png"', Query("Job", C("code", "=", "x and y.png"))),
    ("Job where user=user@mail.com", Query("Job", C("user", "=", "user@mail.com"))),
    ('Job where destination="stockholm"', Query("Job", C("destination", "=", "stockholm"))),
    ("Job where source=hq", Query("Job", C("source", "=", "hq"))),
    ("Job where status=aborted", Query("Job", C("status", "=", "aborted"))),
    ("Job where status=done", Query("Job", C("status", "=", "done"))),
    (f"task WHERE job.id={JOB_ID}", Query("task", C("job.id", "=", JOB_ID))),
    (
        f"task WHERE job.id={JOB_ID} AND status<>executing",
        Query("task", AND(C("job.id", "=", JOB_ID), C("status", "!=", "executing"))),
    ),
    ('job WHERE code="my_transfer"', Query("job", C("code", "=", "my_transfer"))),
]


@pytest.mark.parametrize(("text", "expected"), JOBS_RST_QUERIES)
def test_jobs_rst_queries_parse_to_the_documented_tree(text: str, expected: Query) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), JOBS_RST_QUERIES)
def test_jobs_rst_queries_round_trip(text: str, expected: Query) -> None:
    assert parse(str(parse(text))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1 OR b=2 AND c=3", OR(C("a", "=", "1"), AND(C("b", "=", "2"), C("c", "=", "3")))),
        ("a=1 AND b=2 OR c=3", OR(AND(C("a", "=", "1"), C("b", "=", "2")), C("c", "=", "3"))),
        ("(a=1 OR b=2) AND c=3", AND(OR(C("a", "=", "1"), C("b", "=", "2")), C("c", "=", "3"))),
        ("a=1 AND (b=2 OR c=3)", AND(C("a", "=", "1"), OR(C("b", "=", "2"), C("c", "=", "3")))),
        ("((a=1))", C("a", "=", "1")),
        ("a=1 AND (b=2 AND c=3)", AND(C("a", "=", "1"), C("b", "=", "2"), C("c", "=", "3"))),
        ("(a=1 OR b=2) OR (c=3)", OR(C("a", "=", "1"), C("b", "=", "2"), C("c", "=", "3"))),
        ("a=1 and b=2 AND c=3", AND(C("a", "=", "1"), C("b", "=", "2"), C("c", "=", "3"))),
        ("a=1 aNd b=2 oR c=3", OR(AND(C("a", "=", "1"), C("b", "=", "2")), C("c", "=", "3"))),
        ("(a=1)AND(b=2)", AND(C("a", "=", "1"), C("b", "=", "2"))),
        ('a="x"AND b="y"', AND(C("a", "=", "x"), C("b", "=", "y"))),
        (
            "((a=1 OR b=2) AND (c=3 OR (d=4 AND e=5)))",
            AND(
                OR(C("a", "=", "1"), C("b", "=", "2")),
                OR(C("c", "=", "3"), AND(C("d", "=", "4"), C("e", "=", "5"))),
            ),
        ),
    ],
)
def test_precedence_parentheses_and_flattening(text: str, expected: Expression) -> None:
    assert parse_expression(text) == expected
    assert parse(f"Job WHERE {text}") == Query("Job", expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = running", C("status", "=", "running")),
        ("status\t<>\n running", C("status", "!=", "running")),
        ("status != running", C("status", "!=", "running")),
        ("  status=running  ", C("status", "=", "running")),
        ("code=MyFile.MOV", C("code", "=", "MyFile.MOV")),
        ("user=Lars@Edit.COM", C("user", "=", "Lars@Edit.COM")),
        ("path=/mnt/x:y-z_1.2,3#4", C("path", "=", "/mnt/x:y-z_1.2,3#4")),
        ("user=björn@例え.jp", C("user", "=", "björn@例え.jp")),
        ('code="åäö 日本 ✓"', C("code", "=", "åäö 日本 ✓")),
        ('code="a \\"b\\" \\\\ c"', C("code", "=", 'a "b" \\ c')),
        ('code=""', C("code", "=", "")),
        ('code=" padded "', C("code", "=", " padded ")),
        ('code="AND OR WHERE ( ) = != <>"', C("code", "=", "AND OR WHERE ( ) = != <>")),
        ("code=C:\\temp", C("code", "=", "C:\\temp")),
        ("_private.x_1=v", C("_private.x_1", "=", "v")),
        ("größe=1", C("größe", "=", "1")),
        ("where.x=1", C("where.x", "=", "1")),
    ],
)
def test_comparisons_keep_values_verbatim(text: str, expected: Comparison) -> None:
    assert parse_expression(text) == expected


def test_keywords_and_entity_are_case_insensitive_but_kept_as_written() -> None:
    assert parse("jOB wHeRe Status=Running") == Query("jOB", C("Status", "=", "Running"))
    assert parse("Job where a=1") == parse("Job WHERE a=1")


def test_parse_expression_of_nothing_is_none() -> None:
    assert parse_expression("") is None
    assert parse_expression(" \t\n") is None


def test_query_without_expression() -> None:
    assert parse("  Job  ") == Query("Job")
    assert str(Query("Job")) == "Job"
    assert Query("Job").expression_text == ""


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("Job WHERE", 9, "expected an expression after WHERE"),
        ("Job WHERE   ", 12, "expected an expression after WHERE"),
        ("Job a=b", 4, "missing WHERE"),
        ("Job wher a=b", 4, "missing WHERE"),
        ("Job WHERE a=", 12, "expected a value after '='"),
        ("Job WHERE a!= AND b=1", 14, "expected a value after '!='"),
        ("Job WHERE a", 11, "expected an operator"),
        ("Job WHERE a!b", 11, "unknown operator '!'"),
        ("Job WHERE a not b", 16, "expected IN, CONTAINS or MATCHES after NOT"),
        ("Job WHERE a not", 15, "expected IN, CONTAINS or MATCHES after NOT"),
        ("Job WHERE a containsx", 12, "expected an operator"),
        ("Job WHERE a in", 14, "expected a value after 'IN'"),
        ("Job WHERE a in (1,2)", 15, "unexpected '(' after IN"),
        ("Job WHERE a NOT IN 1,", 21, "expected a value after ','"),
        ("Job WHERE a in 1,,2", 17, "expected a value after ','"),
        ("Job WHERE a in ,1", 15, "expected a value after 'IN'"),
        ("Job WHERE a in 1 2", 17, "unexpected text after the expression"),
        ("Job WHERE a in x,b=1", 18, "unexpected '='"),
        ('Job WHERE a in "x', 15, "unclosed quote starting"),
        ("Job WHERE a contains AND", 21, "expected a value after 'CONTAINS'"),
        ("Job WHERE a=>b", 12, "expected a value after '='"),
        ("Job WHERE a<=", 13, "expected a value after '<='"),
        ("Job WHERE a==b", 12, "expected a value after '='"),
        ("Job WHERE a=b=c", 13, "unexpected '='"),
        ("Job WHERE (a=b", 10, "unbalanced parenthesis"),
        ("Job WHERE ((a=b) AND c=d", 10, "unbalanced parenthesis"),
        ("Job WHERE a=b)", 13, "unbalanced parenthesis"),
        ('Job WHERE code="x and y.png', 15, "unclosed quote starting"),
        ('Job WHERE code="x\\"', 15, "unclosed quote starting"),
        ('Job WHERE code="x\\', 15, "unclosed quote starting"),
        ('Job WHERE code="a\\nb"', 17, "unknown escape"),
        ("Job WHERE a=b c=d", 14, "unexpected text after the expression"),
        ('Job WHERE a="b" c', 16, "unexpected text after the expression"),
        ("Job WHERE (a=b c=d)", 15, "expected ')'"),
        ("Job WHERE 5a=b", 10, "invalid attribute name"),
        ("Job WHERE a..b=c", 12, "invalid attribute name"),
        ("Job WHERE a.=c", 12, "invalid attribute name"),
        ("Job WHERE =b", 10, "expected an attribute name"),
        ("Job WHERE ()", 11, "expected an attribute name"),
        ("Job WHERE a=b AND", 17, "expected an attribute name"),
        ("Job WHERE a=b OR OR c=d", 17, "invalid attribute name"),
        ("Job WHERE a=AND", 12, "expected a value"),
        ("Job WHERE a='x y'", 12, "single quotes"),
        ('Job WHERE a=b"c"', 13, "unexpected '\"'"),
        ("Job.x WHERE a=b", 3, "invalid entity type"),
        ("9Job", 0, "invalid entity type"),
        ("WHERE a=b", 0, "invalid entity type"),
        ("(Job)", 0, "expected an entity type"),
        ("Job WHERE " + "(" * 500 + "a=b" + ")" * 500, 110, "nested deeper"),
    ],
)
def test_malformed_queries_raise_invalid_query_at_the_offending_position(
    text: str, position: int, fragment: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(text)
    error = caught.value
    assert error.position == position
    assert error.query == text
    assert fragment in error.message
    assert f"at position {position}" in error.message
    assert isinstance(error, ValueError)


def test_parse_expression_positions_are_relative_to_its_text() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse_expression("a=1 AND b=")
    assert caught.value.position == 10
    assert caught.value.query == "a=1 AND b="


def test_error_text_points_at_the_position() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse("Job WHERE a=")
    lines = str(caught.value).splitlines()
    assert lines[-2].strip() == "Job WHERE a="
    assert lines[-1].index("^") - lines[-2].index("J") == 12


@pytest.mark.parametrize("bad", [None, b"Job", 5, ["Job"]])
def test_non_str_input_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        parse(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a str"):
        parse_expression(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (C("status", "=", "running"), "status=running"),
        (C("status", "<>", "running"), "status!=running"),
        (C("code", "=", "x and y.png"), 'code="x and y.png"'),
        (
            AND(C("code", "=", "x and y.png"), OR(C("status", "=", "running"), C("s", "=", "p"))),
            'code="x and y.png" AND (status=running OR s=p)',
        ),
        (OR(AND(C("a", "=", "1"), C("b", "=", "2")), C("c", "!=", "3")), "a=1 AND b=2 OR c!=3"),
        (AND(C("a", "=", "1"), OR(C("b", "=", "2"))), "a=1 AND b=2"),
        (C("v", "=", 'q"\\'), 'v="q\\"\\\\"'),
    ],
)
def test_canonical_printer(expression: Expression, text: str) -> None:
    assert format_expression(expression) == text


def test_query_str_and_expression_text() -> None:
    query = parse('job where a = 1 and (b="x y" or c<>Z)')
    assert str(query) == 'job WHERE a=1 AND (b="x y" OR c!=Z)'
    assert query.expression_text == 'a=1 AND (b="x y" OR c!=Z)'


@pytest.mark.parametrize(
    "bad",
    [
        C("a b", "=", "1"),
        C("a", "~", "1"),
        BooleanExpression("xor", (C("a", "=", "1"), C("b", "=", "2"))),
        BooleanExpression("and", ()),
    ],
)
def test_printer_refuses_trees_it_cannot_print_faithfully(bad: Expression) -> None:
    with pytest.raises(ValueError):
        format_expression(bad)


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("running", "running"),
        ("user@mail.com", "user@mail.com"),
        ("Running", "Running"),
        ("x and y.png", '"x and y.png"'),
        ("", '""'),
        ("AND", '"AND"'),
        ("or", '"or"'),
        ("Where", '"Where"'),
        ("a=b", '"a=b"'),
        ("a!b", '"a!b"'),
        ("a<b", '"a<b"'),
        ("(x)", '"(x)"'),
        ("it's", '"it\'s"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\temp", '"C:\\\\temp"'),
        ("tab\there", '"tab\there"'),
        ("nbsp\u00a0x", '"nbsp\u00a0x"'),
        ("日本", "日本"),
        ("contains", '"contains"'),
        ("Not", '"Not"'),
        ("IN", '"IN"'),
        ("matches", '"matches"'),
        ("*.mov", "*.mov"),
        ("a,b", "a,b"),
        (42, "42"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_quote(value: object, token: str) -> None:
    assert quote(value) == token


def test_quote_none_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        quote(None)
    with pytest.raises(TypeError):
        eq("a", None)


def test_builder_example_from_the_brief() -> None:
    query = select("Job").where(code='say "hi" AND (x)')
    assert str(query) == 'Job WHERE code="say \\"hi\\" AND (x)"'
    assert parse(str(query)) == Query("Job", C("code", "=", 'say "hi" AND (x)'))


HOSTILE_VALUES = [
    'say "hi"',
    "x AND y=1",
    "x OR (status=running)",
    ") OR (a=b",
    "back\\slash\\",
    '\\"',
    "日本語 ✓ é",
    "",
    "  leading and trailing  ",
    "a=b",
    "!=",
    "<>",
    "and",
    "WHERE",
    "'quoted'",
    "new\nline",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_builder_quotes_hostile_values(value: str) -> None:
    query = select("Job").where(code=value)
    assert parse(str(query)) == Query("Job", C("code", "=", value))
    negated = select("Job").where(ne("code", value), status="x")
    assert parse(str(negated)) == Query("Job", AND(C("code", "!=", value), C("status", "=", "x")))


def test_where_combines_existing_expression_expressions_and_keywords() -> None:
    base = parse("task WHERE status=done")
    query = base.where(any_of(eq("a", 1), eq("b", 2)), **{"job.id": JOB_ID, "flag": True})
    assert query == Query(
        "task",
        AND(
            C("status", "=", "done"),
            OR(C("a", "=", "1"), C("b", "=", "2")),
            C("job.id", "=", JOB_ID),
            C("flag", "=", "true"),
        ),
    )
    assert base == Query("task", C("status", "=", "done"))  # unchanged
    assert select("Job").where() == Query("Job")
    assert parse(str(query)) == query


def test_all_of_and_any_of_flatten() -> None:
    a, b, c = eq("a", 1), eq("b", 2), eq("c", 3)
    assert all_of(a) is a
    assert all_of(a, all_of(b, c)) == AND(a, b, c)
    assert any_of(any_of(a, b), c) == OR(a, b, c)
    assert all_of(a, any_of(b, c)) == AND(a, OR(b, c))
    with pytest.raises(ValueError):
        all_of()
    with pytest.raises(ValueError):
        any_of()
    with pytest.raises(TypeError):
        all_of(a, "b=2")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a b", "a..b", ".a", "a.", "1a", "a=b", "AND", "or", "x)"])
def test_builder_rejects_bad_attribute_names(name: str) -> None:
    with pytest.raises(InvalidQuery):
        eq(name, "v")
    with pytest.raises(InvalidQuery):
        ne(name, "v")
    with pytest.raises(InvalidQuery):
        select("Job").where(**{name: "v"})


@pytest.mark.parametrize("name", ["", "Job WHERE a=1", "a.b", "where", "9x", "Job "])
def test_select_rejects_bad_entity_names(name: str) -> None:
    with pytest.raises(InvalidQuery):
        select(name)


def test_select_type_errors() -> None:
    with pytest.raises(TypeError):
        select(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        eq(5, "v")  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------

QUERY_PIECES = st.sampled_from(
    [
        "Job", "task", " ", "\t", "WHERE", "where", "a", "job.id", "=", "!=", "<>", "<", ">", "!",
        '"', "\\", "(", ")", "AND", "or", "x y", ".", "é", "'", "1", "\n", "\u00a0", "@",
        "<=", ">=", "in", "NOT", "Contains", "matches", ",", "*",
    ]
)  # fmt: skip
QUERY_LIKE_TEXT = st.one_of(st.text(), st.lists(QUERY_PIECES, max_size=25).map("".join))


@settings(max_examples=200, deadline=None)
@given(QUERY_LIKE_TEXT)
def test_any_text_parses_or_raises_invalid_query(text: str) -> None:
    try:
        query = parse(text)
    except InvalidQuery as error:
        assert error.position is not None
        assert 0 <= error.position <= len(text)
        return
    assert parse(str(query)) == query
    expression: Optional[Expression] = None
    try:
        expression = parse_expression(text)
    except InvalidQuery:
        return
    if expression is not None:
        assert parse_expression(format_expression(expression)) == expression


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_value_survives_the_builder(value: str) -> None:
    query = parse(str(select("Job").where(code=value)))
    assert query == Query("Job", Comparison("code", "=", value))


NAME_PART = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True) | st.sampled_from(
    ["größe", "名前", "_x9"]
)
ATTRIBUTES = (
    st.lists(NAME_PART, min_size=1, max_size=3)
    .map(".".join)
    .filter(lambda name: name.lower() not in {"and", "or", "where"})
)
SINGLE_VALUE_OPERATORS = sorted(OPERATORS - LIST_OPERATORS)
COMPARISONS = st.one_of(
    st.builds(Comparison, ATTRIBUTES, st.sampled_from(SINGLE_VALUE_OPERATORS), st.text()),
    st.builds(
        Comparison,
        ATTRIBUTES,
        st.sampled_from(sorted(LIST_OPERATORS)),
        st.lists(st.text(), min_size=1, max_size=4).map(tuple),
    ),
)


def _join(operator: str, operands: List[Expression]) -> Expression:
    return all_of(*operands) if operator == "and" else any_of(*operands)


TREES = st.recursive(
    COMPARISONS,
    lambda children: st.builds(
        _join, st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(TREES)
def test_printed_trees_parse_back_to_themselves(tree: Expression) -> None:
    assert parse_expression(format_expression(tree)) == tree
    assert parse(str(Query("Job", tree))) == Query("Job", tree)
