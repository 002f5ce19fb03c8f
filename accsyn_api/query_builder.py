"""Building queries from Python values: :func:`select` and one function per operator.

Every function checks the attribute name and converts the value as
:func:`accsyn_api.query.quote` does (numbers, booleans, dates...); the
printer quotes it, so that a value can never change the structure of the
query::

    query = select("Job").where(gt("size", 1000), is_in("status", ["paused", "waiting"]))
    str(query)  # 'Job WHERE size>1000 AND status IN paused,waiting'

The functions are re-exported by :mod:`accsyn_api.query` and, with
:func:`select`, by :mod:`accsyn_api`. Only :func:`eq` and :func:`ne` build
comparisons that the v1.0 API knows; the others need the v3 API.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Union

from accsyn_api.query import (
    BooleanExpression,
    Comparison,
    Expression,
    Query,
    _checked_name,
    _combine,
    _comparison,
)

__all__ = [
    "all_of",
    "any_of",
    "contains",
    "eq",
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
    "select",
]


def select(entity: str) -> Query:
    """A :class:`Query` for all of ``entity`` (validated); narrow it with :meth:`Query.where`."""
    return Query(_checked_name(entity, "entity type", dotted=False))


def eq(attribute: str, value: object) -> Comparison:
    """``attribute=value``; a ``*`` in ``value`` is the server's wildcard (v3)."""
    return _comparison(attribute, "=", value)


def ne(attribute: str, value: object) -> Comparison:
    """``attribute!=value``; a ``*`` in ``value`` is the server's wildcard (v3)."""
    return _comparison(attribute, "!=", value)


def lt(attribute: str, value: object) -> Comparison:
    """``attribute<value``: numbers, dates or text in order (v3)."""
    return _comparison(attribute, "<", value)


def le(attribute: str, value: object) -> Comparison:
    """``attribute<=value`` (v3)."""
    return _comparison(attribute, "<=", value)


def gt(attribute: str, value: object) -> Comparison:
    """``attribute>value`` (v3)."""
    return _comparison(attribute, ">", value)


def ge(attribute: str, value: object) -> Comparison:
    """``attribute>=value`` (v3)."""
    return _comparison(attribute, ">=", value)


def is_in(attribute: str, values: Iterable[object]) -> Comparison:
    """``attribute IN a,b,...``: equal to one of ``values`` (a list, tuple... not a str) (v3)."""
    return _comparison(attribute, "in", values)


def not_in(attribute: str, values: Iterable[object]) -> Comparison:
    """``attribute NOT IN a,b,...``: equal to none of ``values`` (v3)."""
    return _comparison(attribute, "not in", values)


def contains(attribute: str, value: object) -> Comparison:
    """``attribute CONTAINS value``: ``value`` is a part of the attribute's text (v3)."""
    return _comparison(attribute, "contains", value)


def not_contains(attribute: str, value: object) -> Comparison:
    """``attribute NOT CONTAINS value`` (v3)."""
    return _comparison(attribute, "not contains", value)


def matches(attribute: str, pattern: Union[str, re.Pattern[str]]) -> Comparison:
    """``attribute MATCHES pattern``: a regular expression found in the attribute's text (v3).

    ``pattern`` is a str or a compiled pattern (only its text travels; the
    server compares without regard to case).
    """
    return _comparison(attribute, "matches", _pattern_text(pattern))


def not_matches(attribute: str, pattern: Union[str, re.Pattern[str]]) -> Comparison:
    """``attribute NOT MATCHES pattern`` (v3)."""
    return _comparison(attribute, "not matches", _pattern_text(pattern))


def _pattern_text(pattern: object) -> object:
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, str):
            raise TypeError("a bytes pattern cannot be a query value; use a str pattern")
        return pattern.pattern
    return pattern


def all_of(*expressions: Expression) -> Expression:
    """The AND of ``expressions`` (flattened); one expression is returned as is."""
    return _joined("and", list(expressions))


def any_of(*expressions: Expression) -> Expression:
    """The OR of ``expressions`` (flattened); one expression is returned as is."""
    return _joined("or", list(expressions))


def _joined(operator: str, expressions: List[Expression]) -> Expression:
    if not expressions:
        raise ValueError(f"{'all_of' if operator == 'and' else 'any_of'}() needs an expression")
    for expression in expressions:
        if not isinstance(expression, (Comparison, BooleanExpression)):
            raise TypeError(f"expected a Comparison or BooleanExpression, got {expression!r}")
    return _combine(operator, expressions)
