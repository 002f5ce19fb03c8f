"""Evaluating a parsed query expression against the reference server's rows.

An expression from :func:`accsyn_api.query.parse_expression` is first checked
against the attributes of its entity type (:func:`parse_query`), then tested
row by row (:func:`matches`) through a function giving, for an attribute, the
texts a query value may use to match it. Text matches case-insensitively;
references match by id, ``<scope>:<id>``, ``*_hr`` form or name
(:func:`job_values`, :func:`task_values`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Mapping, Optional, Set, Tuple

from accsyn_api.errors import InvalidQuery
from accsyn_api.query import BooleanExpression, Comparison, Expression, parse_expression
from accsyn_api.testing.model import ENTITY_KEYS, Job, Workspace
from accsyn_api.testing.refusals import listing
from accsyn_api.testing.rows import endpoint_values, queue_row, user_row

__all__ = [
    "check_attributes",
    "job_ids_in",
    "job_values",
    "matches",
    "parse_query",
    "row_values",
    "task_values",
    "text_forms",
]

# Attributes that may be dotted in a query, and the entity type they lead to
# (None: a plain dict, any key).
DOTTED_ATTRIBUTES: Dict[str, Dict[str, Optional[str]]] = {
    "job": {"parent": "queue", "queue": "queue", "user": "user", "metadata": None},
    "task": {"job": "job", "source": None, "destination": None, "metadata": None},
}
QUERY_ALIASES: Dict[str, Tuple[str, ...]] = {"job": ("queue",)}


def parse_query(event: Mapping[str, Any], entitytype: str) -> Optional[Expression]:
    """The event's ``query`` parsed and checked against ``entitytype``; None when empty."""
    text = event.get("query") or ""
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
        check_attributes(expression, entitytype)
    return expression


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


def row_values(row: Mapping[str, Any]) -> Callable[[str], Set[str]]:
    """The attribute -> texts function of a plain row (queues, users, sites...)."""
    return lambda attribute: text_forms(row.get(attribute))


def job_values(ws: Workspace, job: Job, row: Mapping[str, Any], attribute: str) -> Set[str]:
    """The texts matching ``attribute`` (maybe dotted) of ``job``, whose row is ``row``."""
    head, _, tail = attribute.partition(".")
    if head in ("parent", "queue"):
        queue = ws.queues[job.queue_id]
        if tail:
            return text_forms(queue_row(ws, queue).get(tail))
        return {queue.id, queue.code, str(row["parent_hr"]), str(row["uri"])}
    if head == "user":
        creator = ws.users[job.user_id]
        if tail:
            return text_forms(user_row(creator).get(tail))
        return {creator.id, f"user:{creator.id}", creator.email, str(row["user_hr"])}
    if head in ("source", "destination"):
        return endpoint_values(ws, job.source if head == "source" else job.destination)
    if head == "metadata" and tail:
        return text_forms(job.metadata.get(tail))
    return text_forms(row.get(head))


def task_values(
    ws: Workspace, job: Job, job_row: Mapping[str, Any], row: Mapping[str, Any], attribute: str
) -> Set[str]:
    """The texts matching ``attribute`` (maybe dotted) of a task of ``job``."""
    head, _, tail = attribute.partition(".")
    if head == "job":
        return job_values(ws, job, job_row, tail) if tail else {job.id, job.code}
    if head in ("source", "destination", "metadata"):
        mapping = row.get(head) or {}
        return text_forms(mapping.get(tail or "path"))
    return text_forms(row.get(head))


def matches(expression: Expression, values: Callable[[str], Set[str]]) -> bool:
    """True when the row whose attribute texts ``values`` gives satisfies ``expression``."""
    if isinstance(expression, Comparison):
        wanted = expression.value.lower()
        found = wanted in {value.lower() for value in values(expression.attribute.lower())}
        return found if expression.operator == "=" else not found
    results = (matches(operand, values) for operand in expression.operands)
    return all(results) if expression.operator.lower() == "and" else any(results)


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


def job_ids_in(expression: Expression) -> Optional[Set[str]]:
    """The job ids a task expression restricts to, or None when it does not restrict."""
    if isinstance(expression, Comparison):
        if expression.attribute.lower() in ("job.id", "job") and expression.operator == "=":
            return {expression.value.lower()}
        return None
    found = [job_ids_in(operand) for operand in expression.operands]
    if expression.operator.lower() == "and":
        restricting = [ids for ids in found if ids is not None]
        return set.intersection(*restricting) if restricting else None
    if any(ids is None for ids in found):
        return None
    return set().union(*(ids for ids in found if ids is not None))
