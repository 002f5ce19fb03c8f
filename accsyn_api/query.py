"""The accsyn query language: a parser to a small tree, a printer, and a builder.

A query is ``<entitytype>`` alone or ``<entitytype> WHERE <expression>``::

    Job WHERE code="x and y.png" AND (status=running OR status=paused)

Comparisons are ``attr=value``, ``attr!=value`` or ``attr<>value`` (read as
``!=``); attributes may be dotted (``job.id``). Comparisons are joined with
``AND`` / ``OR`` (any case, ``AND`` binds tighter) and nested with
parentheses. Values are bare (``user@mail.com``) or double-quoted with
``\\"`` and ``\\\\`` escapes, and are kept verbatim (never lower-cased).

* :func:`parse` / :func:`parse_expression` read text into :class:`Query` /
  :data:`Expression` trees; malformed text raises
  :class:`~accsyn_api.errors.InvalidQuery` with the offending position.
* :func:`format_expression` and ``str(query)`` print the canonical text;
  ``parse(str(q)) == q`` for every parsed ``q``.
* :func:`select`, :meth:`Query.where`, :func:`eq`, :func:`ne`,
  :func:`all_of` and :func:`any_of` build queries and quote values, so a value
  can never change the structure of a query::

      select("Job").where(code='say "hi"', status="running")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, NoReturn, Optional, Tuple, Union

from accsyn_api.errors import InvalidQuery

__all__ = [
    "BooleanExpression",
    "Comparison",
    "Expression",
    "Query",
    "all_of",
    "any_of",
    "eq",
    "format_expression",
    "ne",
    "parse",
    "parse_expression",
    "quote",
    "select",
]

KEYWORDS = frozenset({"and", "or", "where"})
_OPERATOR_CHARS = frozenset("=!<>")
_VALUE_STOP = frozenset('()"') | _OPERATOR_CHARS  # a bare value also stops at whitespace
_NOT_BARE = _VALUE_STOP | frozenset("\\'")
_MAX_DEPTH = 100  # parenthesis nesting; keeps the recursive parser far from the recursion limit


@dataclass(frozen=True)
class Comparison:
    """``attribute <op> value``; ``operator`` is ``"="`` or ``"!="`` (``<>`` is read as ``!=``)."""

    attribute: str  # as written, may be dotted: "job.id"
    operator: str  # "=" or "!="
    value: str  # verbatim, unquoted, escapes resolved; never lower-cased


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

        Dotted attributes are given as ``**{"job.id": job_id}``.
        """
        parts: List[Expression] = [] if self.expression is None else [self.expression]
        for expression in expressions:
            if not isinstance(expression, (Comparison, BooleanExpression)):
                raise TypeError(f"expected a Comparison or BooleanExpression, got {expression!r}")
            parts.append(expression)
        parts.extend(eq(attribute, value) for attribute, value in equals.items())
        return Query(self.entity, all_of(*parts) if parts else None)


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
    if value is None:
        raise TypeError("a query value cannot be None")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


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
        text, at = self.text, self.pos
        if text.startswith(("!=", "<>"), at):
            operator = text[at : at + 2]
        elif text.startswith("=", at):
            operator = "="
        elif self.peek() in _OPERATOR_CHARS:
            self.fail(f"unknown operator {self.peek()!r}", at, "use =, != or <>")
        else:
            self.fail(
                f"expected an operator (=, != or <>) after {attribute!r}",
                at,
                'a value holding spaces, AND or OR needs double quotes: code="x and y.png"',
            )
        self.pos += len(operator)
        self.skip_space()
        value = self.scan_quoted() if self.peek() == '"' else self.scan_bare(operator)
        return Comparison(attribute, "!=" if operator == "<>" else operator, value)

    def scan_bare(self, operator: str) -> str:
        text, start, pos = self.text, self.pos, self.pos
        while pos < len(text) and not text[pos].isspace() and text[pos] not in _VALUE_STOP:
            pos += 1
        value = text[start:pos]
        if not value or value.lower() in KEYWORDS:
            hint = "quote a keyword to use it as a value" if value else ""
            if text.startswith(tuple(_OPERATOR_CHARS), start):
                hint = "quote a value that starts with = ! < or >"
            self.fail(f"expected a value after {operator!r}", start, hint)
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

    Non-str values are converted with ``str()``; booleans become ``true`` /
    ``false``; None raises TypeError.
    """
    text = _value_text(value)
    if (
        text
        and text.lower() not in KEYWORDS
        and not any(char.isspace() or char in _NOT_BARE for char in text)
    ):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_OPERATORS = {"=": "=", "!=": "!=", "<>": "!="}


def format_expression(expression: Expression) -> str:
    """The canonical text of ``expression``: upper-case AND/OR, parentheses only where needed."""
    if isinstance(expression, Comparison):
        attribute = _checked_name(expression.attribute, "attribute name", dotted=True)
        operator = _OPERATORS.get(expression.operator)
        if operator is None:
            raise ValueError(f"unknown comparison operator {expression.operator!r}")
        return f"{attribute}{operator}{quote(expression.value)}"
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


def select(entity: str) -> Query:
    """A :class:`Query` for all of ``entity`` (validated); narrow it with :meth:`Query.where`."""
    return Query(_checked_name(entity, "entity type", dotted=False))


def eq(attribute: str, value: object) -> Comparison:
    """``attribute=value``; ``value`` is converted like :func:`quote` converts it."""
    return _comparison(attribute, "=", value)


def ne(attribute: str, value: object) -> Comparison:
    """``attribute!=value``; ``value`` is converted like :func:`quote` converts it."""
    return _comparison(attribute, "!=", value)


def _comparison(attribute: str, operator: str, value: object) -> Comparison:
    name = _checked_name(attribute, "attribute name", dotted=True)
    return Comparison(name, operator, _value_text(value))


def all_of(*expressions: Expression) -> Expression:
    """The AND of ``expressions`` (flattened); one expression is returned as is."""
    return _joined("and", expressions)


def any_of(*expressions: Expression) -> Expression:
    """The OR of ``expressions`` (flattened); one expression is returned as is."""
    return _joined("or", expressions)


def _joined(operator: str, expressions: Tuple[Expression, ...]) -> Expression:
    if not expressions:
        raise ValueError(f"{'all_of' if operator == 'and' else 'any_of'}() needs an expression")
    for expression in expressions:
        if not isinstance(expression, (Comparison, BooleanExpression)):
            raise TypeError(f"expected a Comparison or BooleanExpression, got {expression!r}")
    return _combine(operator, list(expressions))
