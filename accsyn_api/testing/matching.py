"""Evaluating a parsed query expression against the reference server's rows.

An expression from :func:`accsyn_api.query.parse_expression` is first checked
(:func:`parse_query`): its operators against those of the API generation, its
attributes against its entity type, its regular expressions compiled. It is
then tested row by row (:func:`matches`) through a function giving, for an
attribute, the values a query may use to match it: one value for a plain
attribute, several for a reference (its id, ``<scope>:<id>``, ``*_hr`` form,
name; :func:`job_values`, :func:`task_values`). A comparison holds when one of
those values satisfies it; ``!=`` and the ``NOT`` operators are the negation
of their positive form.

* ``=`` / ``IN``: equal as text, without regard to case (:func:`text_forms`);
  in an ``=`` or ``!=`` value, ``*`` stands for any run of characters (unless
  ``wildcards=False``, the v1.0 rule). ``IN`` items have no wildcard.
* ``<``, ``>``, ``<=``, ``>=``: as numbers when both sides are numbers; as
  moments when the attribute is a date and the value a date (``2026-05-04``:
  the day of the attribute is compared) or a date and time
  (``2026-05-04T09:15:02``, UTC unless it carries ``Z`` or an offset); else as
  lower-cased text. A null attribute is in no order.
* ``CONTAINS``: a part of the text, without regard to case.
* ``MATCHES``: :func:`re.search` with ``re.IGNORECASE`` (at most
  :data:`MAX_PATTERN_LENGTH` characters; an invalid expression is refused).
  A null attribute contains and matches nothing.
"""

from __future__ import annotations

import functools
import operator as _operator
import re
from datetime import date, datetime, timezone
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Union,
)

from dateutil.parser import isoparse

from accsyn_api.errors import InvalidQuery
from accsyn_api.protocol.names import V3_API_PATH, V3_OPERATORS
from accsyn_api.query import (
    BooleanExpression,
    Comparison,
    Expression,
    operators_in,
    parse_expression,
)
from accsyn_api.testing.model import ENTITY_KEYS, Job, Workspace
from accsyn_api.testing.refusals import listing
from accsyn_api.testing.rows import endpoint_values, queue_row, user_row

__all__ = [
    "MAX_PATTERN_LENGTH",
    "Attributes",
    "Values",
    "check_attributes",
    "check_patterns",
    "job_values",
    "matches",
    "parse_query",
    "row_values",
    "task_values",
    "text_forms",
]

Values = Callable[[str], Sequence[Any]]
"""attribute (lower-case, maybe dotted) -> the values a query may match it by."""

MAX_PATTERN_LENGTH = 1000
"""The longest regular expression MATCHES accepts, in characters."""
CACHED_QUERY_LENGTH = 1000
"""Queries up to this many characters are parsed once and their expression kept (LRU)."""

# Attributes that may be dotted in a query, and the entity type they lead to
# (None: a plain dict, any key).
DOTTED_ATTRIBUTES: Dict[str, Dict[str, Optional[str]]] = {
    "job": {"parent": "queue", "queue": "queue", "user": "user", "metadata": None},
    "task": {"job": "job", "source": None, "destination": None, "metadata": None},
}
QUERY_ALIASES: Dict[str, Tuple[str, ...]] = {"job": ("queue",)}

_NEGATIONS = {
    "!=": "=",
    "<>": "=",
    "not in": "in",
    "not contains": "contains",
    "not matches": "matches",
}
_ORDER: Dict[str, Callable[[Any, Any], bool]] = {
    "<": _operator.lt,
    ">": _operator.gt,
    "<=": _operator.le,
    ">=": _operator.ge,
}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?",
    re.IGNORECASE,
)


def parse_query(
    event: Mapping[str, Any], entitytype: str, operators: AbstractSet[str] = V3_OPERATORS
) -> Optional[Expression]:
    """The event's ``query`` parsed and checked against ``entitytype``; None when empty.

    ``operators`` are those the API generation knows (default: all, the v3
    set); a v1.0 front end passes :data:`~accsyn_api.protocol.names.V1_OPERATORS`.
    """
    text = event.get("query") or ""
    if len(text) <= CACHED_QUERY_LENGTH:
        return _parsed_query(text, entitytype, frozenset(operators))
    return _parse_query(text, entitytype, operators)


@functools.lru_cache(maxsize=256)
def _parsed_query(text: str, entitytype: str, operators: FrozenSet[str]) -> Optional[Expression]:
    """:func:`_parse_query`, kept for recent texts (expressions are immutable; refusals,
    being exceptions, are not kept)."""
    return _parse_query(text, entitytype, operators)


def _parse_query(text: str, entitytype: str, operators: AbstractSet[str]) -> Optional[Expression]:
    try:
        expression = parse_expression(text)
    except InvalidQuery as error:
        raise InvalidQuery(
            error.message,
            message_hr=f"The query {text!r} could not be read: {error.message}. Quote values "
            'holding spaces or keywords, e.g. code="x and y.png".',
            query=text,
            position=error.position,
        ) from None
    if expression is not None:
        _check_operators(expression, operators, text)
        check_attributes(expression, entitytype)
        check_patterns(expression)
    return expression


def _check_operators(expression: Expression, operators: AbstractSet[str], text: str) -> None:
    known = {"!=" if operator == "<>" else operator for operator in operators}
    refused = sorted(operator.upper() for operator in operators_in(expression) - known)
    if refused:
        shown = ", ".join(refused)
        subject = f"operator {shown} needs" if len(refused) == 1 else f"operators {shown} need"
        raise InvalidQuery(
            f"{subject} the v3 API",
            message_hr=(
                f"The query {text!r} uses {shown}, which needs the v3 API ({V3_API_PATH}); "
                f"the operators of this API are {listing(sorted(operators))}."
            ),
            query=text,
        )


def check_patterns(expression: Expression) -> None:
    """Raise InvalidQuery when a MATCHES value of ``expression`` is not a usable pattern."""
    if isinstance(expression, BooleanExpression):
        for operand in expression.operands:
            check_patterns(operand)
    elif expression.operator in ("matches", "not matches"):
        _pattern(_single(expression))


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> Pattern[str]:
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidQuery(
            f"regular expression too long ({len(text)} characters)",
            message_hr=(
                f"A MATCHES expression may hold at most {MAX_PATTERN_LENGTH} characters; this "
                f"one has {len(text)}. Use a shorter expression, or CONTAINS."
            ),
        )
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as error:
        raise InvalidQuery(
            f"invalid regular expression {text!r}: {error}",
            message_hr=(
                f"{text!r} is not a valid regular expression ({error}). MATCHES takes a Python "
                'regular expression, e.g. name MATCHES "^sh0[0-9]+"; escape a backslash in '
                'quotes as \\\\ ("\\\\.zip$").'
            ),
        ) from None


def text_forms(value: Any) -> Set[str]:
    """The texts a query value may give to match ``value``."""
    if value is None:
        return {"", "none", "null"}
    if isinstance(value, bool):
        return {"true" if value else "false"}
    if isinstance(value, int):
        return {str(value)}
    if isinstance(value, float):
        forms = {repr(value)}
        if value.is_integer():
            forms.add(str(int(value)))
        return forms
    if isinstance(value, datetime):
        return {value.isoformat(), value.isoformat(sep=" ")}
    if isinstance(value, str):
        return {value}
    return set()


def row_values(row: Mapping[str, Any]) -> Values:
    """The attribute -> values function of a plain row (queues, users, sites...)."""
    return lambda attribute: [row.get(attribute)]


Attributes = Callable[[str], Any]
"""key -> the value of one entity's row (see :func:`~accsyn_api.testing.rows.job_attributes`)."""


def job_values(ws: Workspace, job: Job, attribute_of: Attributes, attribute: str) -> List[Any]:
    """The values matching ``attribute`` (maybe dotted) of ``job``, whose row values
    ``attribute_of`` gives."""
    head, _, tail = attribute.partition(".")
    if head in ("parent", "queue"):
        queue = ws.queues[job.queue_id]
        if tail:
            return [queue_row(ws, queue).get(tail)]
        return [queue.id, queue.code, str(attribute_of("parent_hr")), str(attribute_of("uri"))]
    if head == "user":
        creator = ws.users[job.user_id]
        if tail:
            return [user_row(creator).get(tail)]
        return [creator.id, f"user:{creator.id}", creator.email, str(attribute_of("user_hr"))]
    if head in ("source", "destination"):
        return sorted(endpoint_values(ws, job.source if head == "source" else job.destination))
    if head == "metadata" and tail:
        return [job.metadata.get(tail)]
    return [attribute_of(head)]


def task_values(
    ws: Workspace, job: Job, job_attribute_of: Attributes, attribute_of: Attributes, attribute: str
) -> List[Any]:
    """The values matching ``attribute`` (maybe dotted) of a task of ``job``."""
    head, _, tail = attribute.partition(".")
    if head == "job":
        return job_values(ws, job, job_attribute_of, tail) if tail else [job.id, job.code]
    if head in ("source", "destination", "metadata"):
        mapping = attribute_of(head) or {}
        return [mapping.get(tail or "path")]
    return [attribute_of(head)]


def matches(expression: Expression, values: Values, *, wildcards: bool = True) -> bool:
    """True when the row whose attribute values ``values`` gives satisfies ``expression``.

    ``wildcards=False`` reads ``*`` in ``=`` / ``!=`` values literally (v1.0).
    """
    if isinstance(expression, Comparison):
        found = values(expression.attribute.lower())
        positive = _NEGATIONS.get(expression.operator)
        if positive is not None:
            return not _holds(positive, expression, found, wildcards)
        return _holds(expression.operator, expression, found, wildcards)
    results = (matches(operand, values, wildcards=wildcards) for operand in expression.operands)
    return all(results) if expression.operator.lower() == "and" else any(results)


def _holds(operator: str, comparison: Comparison, found: Sequence[Any], wildcards: bool) -> bool:
    """Whether one of ``found`` satisfies the positive ``operator`` with the comparison's value."""
    if operator == "in":
        items = {item.lower() for item in _items(comparison)}
        return any(not items.isdisjoint(_lower_forms(value)) for value in found)
    wanted = _single(comparison).lower()
    if operator == "=":
        if wildcards and "*" in wanted:
            return any(_wildcard_match(form, wanted) for v in found for form in _lower_forms(v))
        return any(_equals(value, wanted) for value in found)
    present = [value for value in found if value is not None]
    if operator == "contains":
        return any(wanted in form for value in present for form in _lower_forms(value))
    if operator == "matches":
        pattern = _pattern(_single(comparison))
        return any(pattern.search(form) for value in present for form in text_forms(value))
    order = _ORDER.get(operator)
    if order is None:
        raise InvalidQuery(f"unknown operator {comparison.operator!r}")
    return any(_in_order(order, value, _single(comparison)) for value in present)


def _single(comparison: Comparison) -> str:
    if not isinstance(comparison.value, str):
        raise InvalidQuery(f"{comparison.operator.upper()} takes one value, not a list")
    return comparison.value


def _items(comparison: Comparison) -> Tuple[str, ...]:
    value = comparison.value
    return (value,) if isinstance(value, str) else value


def _equals(value: Any, wanted: str) -> bool:
    """Whether one text form of ``value`` is ``wanted`` (lower case) without regard to case."""
    if isinstance(value, str):  # the common case, without building the set of forms
        return value.lower() == wanted
    return wanted in _lower_forms(value)


def _lower_forms(value: Any) -> Set[str]:
    return {form.lower() for form in text_forms(value)}


def _wildcard_match(text: str, pattern: str) -> bool:
    """Whether ``text`` is ``pattern`` with each ``*`` standing for any run of characters.

    Linear scanning, no regular expression: a pattern of many ``*`` cannot backtrack.
    """
    first, *middle, last = pattern.split("*")
    if not text.startswith(first):
        return False
    position = len(first)
    for part in middle:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return len(text) - len(last) >= position and text.endswith(last)


def _in_order(order: Callable[[Any, Any], bool], value: Any, wanted: str) -> bool:
    """``order(value, wanted)`` as moments, numbers or text (see the module docstring)."""
    if isinstance(value, datetime):
        moment = _moment(wanted)
        if isinstance(moment, datetime):
            return order(_utc(value), moment)
        if moment is not None:
            return order(_utc(value).date(), moment)
    number, wanted_number = _number(value), _number(wanted)
    if number is not None and wanted_number is not None:
        return order(number, wanted_number)
    return any(order(form, wanted.lower()) for form in _lower_forms(value))


def _number(value: Any) -> Union[int, float, None]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return None


def _moment(text: str) -> Union[datetime, date, None]:
    """The date or naive-UTC datetime ``text`` spells, or None."""
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
        if _DATETIME.fullmatch(text):
            return _utc(isoparse(text.upper()))
    except ValueError:  # 2026-13-01, 25:00...
        return None
    return None


def _utc(moment: datetime) -> datetime:
    """``moment`` as a naive UTC datetime (naive values are taken as UTC already)."""
    if moment.utcoffset() is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def check_attributes(expression: Expression, entitytype: str) -> None:
    """Raise InvalidQuery when ``expression`` names an attribute ``entitytype`` lacks."""
    if isinstance(expression, BooleanExpression):
        for operand in expression.operands:
            check_attributes(operand, entitytype)
        return
    _check_attribute(expression.attribute.lower(), entitytype, expression.attribute)


def _check_attribute(attribute: str, entitytype: str, written: str) -> None:
    head, _, tail = attribute.partition(".")
    known = (*ENTITY_KEYS[entitytype], *QUERY_ALIASES.get(entitytype, ()))
    if head not in known:
        raise InvalidQuery(
            f"unknown {entitytype} attribute {head!r}",
            message_hr=(
                f"'{written}': {entitytype} has no attribute {head!r}; known {entitytype} "
                f"attributes are: {listing(known)}."
            ),
        )
    if not tail:
        return
    dotted = DOTTED_ATTRIBUTES.get(entitytype, {})
    if head not in dotted:
        raise InvalidQuery(
            f"{entitytype} attribute {head!r} has no sub-attributes",
            message_hr=(
                f"'{written}': {entitytype} attribute {head!r} cannot be dotted; dotted "
                f"{entitytype} attributes are: {listing(dotted) or 'none'}."
            ),
        )
    target = dotted[head]
    if target is not None:
        _check_attribute(tail, target, written)
