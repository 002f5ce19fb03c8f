"""The accsyn query language: a parser to a small tree, a printer, and a builder.

A query is ``<entitytype>`` alone or ``<entitytype> WHERE <expression>``::

    Job WHERE code="x and y.png" AND (status=running OR size > 1000)

A comparison is ``attribute operator value``; attributes may be dotted
(``job.id``). The operators are ``=``, ``!=`` (also written ``<>``), ``<``,
``>``, ``<=``, ``>=``, ``IN`` and ``NOT IN`` (the value is a comma-separated
list: ``type IN 0,2``), ``CONTAINS``, ``NOT CONTAINS``, ``MATCHES`` and ``NOT
MATCHES`` (a regular expression); only ``=``, ``!=`` and ``<>`` are part of
the v1.0 API. Word operators and the keywords ``AND`` / ``OR`` are read in any
case; ``AND`` binds tighter than ``OR``; parentheses nest. Values are bare
(``user@mail.com``) or double-quoted with ``\\"`` and ``\\\\`` escapes, and are
kept verbatim (never lower-cased; a ``*`` in an ``=`` value, the server's
wildcard, is kept as written too).

* :func:`parse` / :func:`parse_expression` read text into :class:`Query` /
  :data:`Expression` trees; malformed text raises
  :class:`~accsyn_api.errors.InvalidQuery` with the offending position.
* :func:`format_expression` and ``str(query)`` print the canonical text;
  ``parse(str(q)) == q`` for every parsed ``q``.
* :func:`operators_in` and :func:`check_operators` tell which operators a
  query uses, and refuse those a generation of the API does not know.
* The builder (:mod:`accsyn_api.query_builder`, re-exported here):
  :func:`select`, :meth:`Query.where`, :func:`eq`, :func:`ne`, :func:`lt`,
  :func:`is_in`, :func:`contains`, :func:`matches`... and :func:`all_of` /
  :func:`any_of` build queries and quote values, so a value can never change
  the structure of a query::

      select("Job").where(code='say "hi"', status="running")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import AbstractSet, FrozenSet, List, NoReturn, Optional, Tuple, Union

from accsyn_api.errors import InvalidQuery
from accsyn_api.protocol.names import V3_OPERATORS

__all__ = [
    "LIST_OPERATORS",
    "OPERATORS",
    "BooleanExpression",
    "Comparison",
    "Expression",
    "Query",
    "all_of",
    "any_of",
    "check_operators",
    "contains",
    "eq",
    "format_expression",
    "ge",
    "gt",
    "is_in",
    "le",
    "lt",
    "matches",
    "ne",
    "not_contains",
    "not_in",
    "not_matches",
    "operators_in",
    "parse",
    "parse_expression",
    "quote",
    "select",
]

KEYWORDS = frozenset({"and", "or", "where"})
OPERATORS: FrozenSet[str] = V3_OPERATORS - {"<>"}
"""The canonical operators, as :attr:`Comparison.operator` holds them (``<>`` is read as ``!=``)."""
LIST_OPERATORS: FrozenSet[str] = frozenset({"in", "not in"})
"""The operators whose value is a tuple of strings."""
_ALIASES = {"<>": "!="}
_SYMBOLS = ("!=", "<>", "<=", ">=", "=", "<", ">")  # longest first: "<=" before "<"
_WORD_OPERATORS = frozenset({"in", "contains", "matches"})  # each may follow NOT
_OPERATOR_WORDS = _WORD_OPERATORS | {"not"}  # quoted when printed as values
_OPERATOR_CHARS = frozenset("=!<>")
_VALUE_STOP = frozenset('()"') | _OPERATOR_CHARS  # a bare value also stops at whitespace
_NOT_BARE = _VALUE_STOP | frozenset("\\'")
_OPERATOR_HINT = "use =, !=, <>, <, >, <=, >=, IN, CONTAINS, MATCHES or NOT IN/CONTAINS/MATCHES"
_MAX_DEPTH = 100  # parenthesis nesting; keeps the recursive parser far from the recursion limit

Value = Union[str, Tuple[str, ...]]


@dataclass(frozen=True)
class Comparison:
    """``attribute <operator> value``.

    ``operator`` is one of :data:`OPERATORS` (``"="``, ``"!="``, ``"<"``...,
    ``"in"``, ``"not in"``, ``"contains"``, ``"matches"``..., lower-case).
    ``value`` is the text, verbatim (quotes removed, escapes resolved, never
    lower-cased), or for ``in`` / ``not in`` a tuple of such texts.
    """

    attribute: str  # as written, may be dotted: "job.id"
    operator: str
    value: Value


@dataclass(frozen=True)
class BooleanExpression:
    """Operands joined by ``"and"`` or ``"or"`` (lower-case), two or more."""

    operator: str
    operands: Tuple[Expression, ...]


Expression = Union[Comparison, BooleanExpression]


@dataclass(frozen=True)
class Query:
    """A parsed query: the entity type as written, and the expression after WHERE (or None)."""

    entity: str
    expression: Optional[Expression] = None

    def __str__(self) -> str:
        """The canonical text, ``"Job WHERE status=running"`` or ``"Job"``."""
        if self.expression is None:
            return self.entity
        return f"{self.entity} WHERE {format_expression(self.expression)}"

    @property
    def expression_text(self) -> str:
        """The canonical text after WHERE, or ``""`` when there is no expression."""
        return "" if self.expression is None else format_expression(self.expression)

    def where(self, *expressions: Expression, **equals: object) -> Query:
        """A new Query: this expression AND ``expressions`` AND ``eq(key, value)`` per keyword.

        Dotted attributes are given as ``**{"job.id": job_id}``; other operators
        through the builder functions: ``where(gt("size", 1000))``.
        """
        parts: List[Expression] = [] if self.expression is None else [self.expression]
        parts.extend(_checked_expression(expression) for expression in expressions)
        parts.extend(_comparison(attribute, "=", value) for attribute, value in equals.items())
        return Query(self.entity, _combine("and", parts) if parts else None)


def _checked_expression(expression: object) -> Expression:
    if not isinstance(expression, (Comparison, BooleanExpression)):
        raise TypeError(f"expected a Comparison or BooleanExpression, got {expression!r}")
    return expression


def _is_name_char(char: str) -> bool:
    return char == "_" or char.isalnum()


def _name_problem(name: str, dotted: bool) -> Optional[Tuple[int, str]]:
    """``(offset, reason)`` when ``name`` is not a valid (dotted) identifier, else None."""
    if name.lower() in KEYWORDS:
        return 0, f"{name.upper()} is a keyword"
    offset = 0
    for segment in name.split(".") if dotted else [name]:
        if not segment:
            return offset, "a name part is empty"
        if not (segment[0] == "_" or segment[0].isalpha()):
            return offset, "a name must start with a letter or '_'"
        for index, char in enumerate(segment):
            if not _is_name_char(char):
                return offset + index, f"{char!r} is not allowed in a name"
        offset += len(segment) + 1
    return None


def _checked_name(name: object, what: str, dotted: bool) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    problem = _name_problem(name, dotted)
    if problem is not None:
        raise InvalidQuery(
            f"invalid {what} {name!r}: {problem[1]}", query=name, position=problem[0]
        )
    return name


def _value_text(value: object) -> str:
    """The query text of a Python value (see :func:`quote`)."""
    if value is None:
        raise TypeError("a query value cannot be None")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


def _comparison(attribute: str, operator: str, value: object) -> Comparison:
    """A Comparison with a checked attribute; ``value`` converted by :func:`_value_text`."""
    name = _checked_name(attribute, "attribute name", dotted=True)
    if operator not in LIST_OPERATORS:
        return Comparison(name, operator, _value_text(value))
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"the values of {operator.upper()} are a list or tuple, got {value!r}")
    items = tuple(_value_text(item) for item in value)
    if not items:
        raise ValueError(f"{operator.upper()} needs at least one value")
    return Comparison(name, operator, items)


def _combine(operator: str, operands: List[Expression]) -> Expression:
    """Join operands with ``operator``, flattening same-operator operands; one -> itself."""
    flat: List[Expression] = []
    for operand in operands:
        if isinstance(operand, BooleanExpression) and operand.operator == operator:
            flat.extend(operand.operands)
        else:
            flat.append(operand)
    return flat[0] if len(flat) == 1 else BooleanExpression(operator, tuple(flat))


class _Parser:
    """Recursive-descent parser scanning ``text`` by index from ``pos``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, message: str, position: int, hint: str = "") -> NoReturn:
        text = f"{message} at position {position}" + (f"; {hint}" if hint else "")
        raise InvalidQuery(text, query=self.text, position=position)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def scan_name(self) -> str:
        """Name characters and dots from here (maybe none); not validated."""
        text, start, pos = self.text, self.pos, self.pos
        while pos < len(text) and (text[pos] == "." or _is_name_char(text[pos])):
            pos += 1
        self.pos = pos
        return text[start:pos]

    def checked_name(self, what: str, dotted: bool) -> str:
        start = self.pos
        name = self.scan_name()
        if not name:
            self.fail(f"expected an {what}", start)
        problem = _name_problem(name, dotted)
        if problem is not None:
            self.fail(f"invalid {what} {name!r}", start + problem[0], problem[1])
        return name

    def accept_keyword(self, keyword: str) -> bool:
        self.skip_space()
        start = self.pos
        if self.scan_name().lower() == keyword:
            return True
        self.pos = start
        return False

    def parse_rest(self) -> Optional[Expression]:
        """The expression up to the end of the text; None when only whitespace is left."""
        self.skip_space()
        if self.at_end():
            return None
        expression = self.parse_or()
        self.skip_space()
        if self.peek() == ")":
            self.fail("unbalanced parenthesis: ')' has no matching '('", self.pos)
        if not self.at_end():
            self.fail("unexpected text after the expression", self.pos, "join with AND or OR")
        return expression

    def parse_or(self) -> Expression:
        operands = [self.parse_and()]
        while self.accept_keyword("or"):
            operands.append(self.parse_and())
        return _combine("or", operands)

    def parse_and(self) -> Expression:
        operands = [self.parse_primary()]
        while self.accept_keyword("and"):
            operands.append(self.parse_primary())
        return _combine("and", operands)

    def parse_primary(self) -> Expression:
        self.skip_space()
        if self.peek() != "(":
            return self.parse_comparison()
        opened_at = self.pos
        if self.depth >= _MAX_DEPTH:
            self.fail(f"parentheses nested deeper than {_MAX_DEPTH} levels", opened_at)
        self.depth += 1
        self.pos += 1
        expression = self.parse_or()
        self.skip_space()
        if self.at_end():
            self.fail("unbalanced parenthesis: no ')' for the '('", opened_at)
        if self.peek() != ")":
            self.fail("expected ')'", self.pos, "join with AND or OR")
        self.pos += 1
        self.depth -= 1
        return expression

    def parse_comparison(self) -> Comparison:
        attribute = self.checked_name("attribute name", dotted=True)
        self.skip_space()
        operator, written = self.scan_operator(attribute)
        self.skip_space()
        if operator in LIST_OPERATORS:
            return Comparison(attribute, operator, self.scan_list(written))
        value = self.scan_quoted() if self.peek() == '"' else self.scan_bare(written)
        return Comparison(attribute, operator, value)

    def scan_operator(self, attribute: str) -> Tuple[str, str]:
        """``(canonical operator, operator as shown in messages)`` from here."""
        text, at = self.text, self.pos
        for symbol in _SYMBOLS:
            if text.startswith(symbol, at):
                self.pos = at + len(symbol)
                return _ALIASES.get(symbol, symbol), symbol
        if self.peek() in _OPERATOR_CHARS:
            self.fail(f"unknown operator {self.peek()!r}", at, _OPERATOR_HINT)
        word = self.scan_name().lower()
        if word in _WORD_OPERATORS:
            return word, word.upper()
        if word == "not":
            self.skip_space()
            second_at = self.pos
            second = self.scan_name().lower()
            if second not in _WORD_OPERATORS:
                self.fail("expected IN, CONTAINS or MATCHES after NOT", second_at)
            return f"not {second}", f"NOT {second.upper()}"
        self.fail(
            f"expected an operator (=, !=, <, >, <=, >=, IN, CONTAINS, MATCHES...) "
            f"after {attribute!r}",
            at,
            'a value holding spaces, AND or OR needs double quotes: code="x and y.png"',
        )

    def scan_list(self, written: str) -> Tuple[str, ...]:
        """Comma-separated values, each bare or quoted; whitespace around commas is free."""
        if self.peek() == "(":
            hint = f"write the list without parentheses, e.g. type {written} 0,2"
            self.fail(f"unexpected '(' after {written}", self.pos, hint)
        items = [self.scan_item(written)]
        while True:
            before_space = self.pos
            self.skip_space()
            if self.peek() != ",":
                self.pos = before_space
                return tuple(items)
            self.pos += 1
            self.skip_space()
            items.append(self.scan_item(","))

    def scan_item(self, after: str) -> str:
        return self.scan_quoted() if self.peek() == '"' else self.scan_bare(after, ",")

    def scan_bare(self, after: str, stops: str = "") -> str:
        """A bare value from here, stopping at whitespace, ``()"=!<>`` and ``stops``."""
        text, start, pos = self.text, self.pos, self.pos
        while (
            pos < len(text)
            and not text[pos].isspace()
            and text[pos] not in _VALUE_STOP
            and text[pos] not in stops
        ):
            pos += 1
        value = text[start:pos]
        if not value or value.lower() in KEYWORDS:
            hint = "quote a keyword to use it as a value" if value else ""
            if text.startswith(tuple(_OPERATOR_CHARS), start):
                hint = "quote a value that starts with = ! < or >"
            self.fail(f"expected a value after {after!r}", start, hint)
        if value.startswith("'"):
            self.fail("single quotes are not supported", start, 'use double quotes: "..."')
        if pos < len(text) and (text[pos] in _OPERATOR_CHARS or text[pos] == '"'):
            self.fail(f"unexpected {text[pos]!r} in a value", pos, "put the value in double quotes")
        self.pos = pos
        return value

    def scan_quoted(self) -> str:
        text, opened_at = self.text, self.pos
        pos, chunks = opened_at + 1, []
        quote_at = backslash_at = -2  # next '"' / '\\' at or after pos, recomputed when passed
        while True:
            if quote_at < pos:
                quote_at = text.find('"', pos)
            if backslash_at < pos and backslash_at != -1:
                backslash_at = text.find("\\", pos)
            if quote_at == -1:
                self.fail("unclosed quote starting", opened_at, 'end the value with "')
            if backslash_at == -1 or quote_at < backslash_at:
                chunks.append(text[pos:quote_at])
                self.pos = quote_at + 1
                return "".join(chunks)
            escaped = text[backslash_at + 1]  # exists: a '"' follows the backslash
            if escaped not in '"\\':
                hint = 'inside quotes only \\" and \\\\ are escapes'
                self.fail(f"unknown escape '\\{escaped}'", backslash_at, hint)
            chunks.append(text[pos:backslash_at] + escaped)
            pos = backslash_at + 2


def _require_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a query must be a str, got {type(text).__name__}")
    return text


def parse(text: str) -> Query:
    """Parse ``<entitytype>`` or ``<entitytype> WHERE <expression>`` into a :class:`Query`."""
    parser = _Parser(_require_text(text))
    parser.skip_space()
    if parser.at_end():
        parser.fail("empty query", 0, "expected an entity type such as Job")
    entity = parser.checked_name("entity type", dotted=False)
    parser.skip_space()
    if parser.at_end():
        return Query(entity)
    where_at = parser.pos
    if not parser.accept_keyword("where"):
        parser.fail(f"missing WHERE after {entity!r}", where_at)
    expression = parser.parse_rest()
    if expression is None:
        parser.fail("expected an expression after WHERE", parser.pos)
    return Query(entity, expression)


def parse_expression(text: str) -> Optional[Expression]:
    """Parse the part after WHERE; None when ``text`` is empty or whitespace."""
    return _Parser(_require_text(text)).parse_rest()


def quote(value: object) -> str:
    """The value token for ``value``: bare when safe, else double-quoted with escapes.

    Non-str values are converted with ``str()``, except: booleans become
    ``true`` / ``false``; a ``date`` prints as ``2026-05-04``; a ``datetime`` in
    ISO form, ``2026-05-04T09:15:02``, converted to UTC first when it has a
    time zone (a naive one is printed as it is). None raises TypeError.
    Keywords and operator words (``and``, ``in``, ``contains``...) are quoted.
    """
    return _quoted(_value_text(value))


def _quoted(text: str, stops: str = "") -> str:
    if (
        text
        and text.lower() not in KEYWORDS
        and text.lower() not in _OPERATOR_WORDS
        and not any(char.isspace() or char in _NOT_BARE or char in stops for char in text)
    ):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_expression(expression: Expression) -> str:
    """The canonical text of ``expression``: upper-case AND/OR, parentheses only where needed."""
    if isinstance(expression, Comparison):
        return _format_comparison(expression)
    if not isinstance(expression, BooleanExpression):
        raise TypeError(f"expected a Comparison or BooleanExpression, got {expression!r}")
    joiner = expression.operator.lower()
    if joiner not in ("and", "or") or not expression.operands:
        raise ValueError(f"invalid boolean expression {expression!r}")
    parts = []
    for operand in expression.operands:
        text = format_expression(operand)
        needs_parens = (
            joiner == "and"
            and isinstance(operand, BooleanExpression)
            and operand.operator.lower() == "or"
            and len(operand.operands) > 1
        )
        parts.append(f"({text})" if needs_parens else text)
    return f" {joiner.upper()} ".join(parts)


def _format_comparison(comparison: Comparison) -> str:
    """``attr=value``, ``attr<=value``, ``attr IN a,"b c"``, ``attr NOT CONTAINS value``."""
    attribute = _checked_name(comparison.attribute, "attribute name", dotted=True)
    operator, value = _ALIASES.get(comparison.operator, comparison.operator), comparison.value
    if operator not in OPERATORS:
        raise ValueError(f"unknown comparison operator {comparison.operator!r}")
    if operator in LIST_OPERATORS:
        if not (isinstance(value, tuple) and value and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{operator.upper()} needs a non-empty tuple of str, got {value!r}")
        text = ",".join(_quoted(item, stops=",") for item in value)
    elif isinstance(value, str):
        text = _quoted(value)
    else:
        raise ValueError(f"the value of {operator!r} must be a str, got {value!r}")
    if operator[0].isalpha():
        return f"{attribute} {operator.upper()} {text}"
    return f"{attribute}{operator}{text}"


def operators_in(expression: Union[Query, Expression, None]) -> FrozenSet[str]:
    """The canonical operators (see :data:`OPERATORS`) that a query or expression uses."""
    if isinstance(expression, Query):
        expression = expression.expression
    if expression is None:
        return frozenset()
    if isinstance(expression, Comparison):
        return frozenset({_ALIASES.get(expression.operator, expression.operator)})
    return frozenset().union(*(operators_in(operand) for operand in expression.operands))


def check_operators(
    query: Union[Query, Expression, None], allowed: AbstractSet[str], generation_name: str
) -> None:
    """Raise InvalidQuery when ``query`` uses an operator outside ``allowed``.

    ``allowed`` is e.g. :data:`accsyn_api.protocol.names.V1_OPERATORS`;
    ``generation_name`` names the API in the message, e.g. ``"v1.0"``.
    """
    refused = sorted(operators_in(query) - {_ALIASES.get(op, op) for op in allowed})
    if not refused or query is None:
        return
    text = str(query) if isinstance(query, Query) else format_expression(query)
    raise InvalidQuery(
        f"{_operator_list(refused)} {'needs' if len(refused) == 1 else 'need'} the v3 API "
        f"(api_version='3'); the {generation_name} API knows only {', '.join(sorted(allowed))}",
        query=text,
    )


def _operator_list(operators: List[str]) -> str:
    """``"the operator IN"`` or ``"the operators <, IN and CONTAINS"``."""
    shown = [operator.upper() for operator in operators]
    if len(shown) == 1:
        return f"the operator {shown[0]}"
    return f"the operators {', '.join(shown[:-1])} and {shown[-1]}"


# The builder functions live in their own module and are re-exported here; it imports
# this module's tree, so it is imported last (accsyn_api/__init__ imports this module first).
from accsyn_api.query_builder import (  # noqa: E402
    all_of,
    any_of,
    contains,
    eq,
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
    select,
)
