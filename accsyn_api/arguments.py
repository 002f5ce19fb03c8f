"""Checking what a caller passes to the Session's verbs, before anything is sent.

Each function returns the argument in the form the verb sends, or raises
:class:`~accsyn_api.errors.InvalidData` saying what was wrong and what to
pass instead. Nothing here knows the wire: the generation lays out what
these functions return (:mod:`accsyn_api.protocol`).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import InvalidData
from .query import Query, parse

__all__ = [
    "attribute_names",
    "count",
    "create_payload",
    "duplicate_flags",
    "entity_id",
    "entity_type",
    "flag",
    "parsed_query",
    "task_create_arguments",
    "update_many_arguments",
]


def entity_type(entitytype: str) -> str:
    """The entity type in lower case; InvalidData unless it is a non-empty string."""
    if not isinstance(entitytype, str) or not entitytype.strip():
        raise InvalidData(
            f"The entity type must be a non-empty string such as 'job' or 'task', "
            f"not {entitytype!r}."
        )
    return entitytype.strip().lower()


def entity_id(entityid: object, what: str = "entityid") -> str:
    """An entity id without surrounding blanks; InvalidData unless it is non-empty text."""
    if not isinstance(entityid, str) or not entityid.strip():
        raise InvalidData(
            f"{what} must be the id of an entity as a string "
            f"(e.g. '614d660de50d45bb027c9bdd'), not {entityid!r}."
        )
    return entityid.strip()


def flag(value: Optional[bool], name: str) -> Optional[bool]:
    """``value`` if it is True, False or None; else InvalidData naming ``name``."""
    if value is not None and not isinstance(value, bool):
        raise InvalidData(f"{name} must be True, False or None, not {value!r}.")
    return value


def count(value: Optional[int], name: str) -> Optional[int]:
    """``value`` if it is None or a whole number of 0 or more; else InvalidData."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidData(f"{name} must be a non-negative integer, not {value!r}.")
    return value


@functools.lru_cache(maxsize=256)
def _parsed_text(query: str) -> Query:
    """``query`` parsed; the same text again (a poll, a loop) is not parsed again.

    A :class:`Query` is immutable, so one object can serve every caller.
    """
    return parse(query)


def attribute_names(attributes: Optional[Iterable[str]]) -> Optional[List[str]]:
    """The attribute names a find asks for, as a list; InvalidData for anything else."""
    if attributes is None:
        return None
    if isinstance(attributes, str):
        return [attributes]
    if isinstance(attributes, Iterable) and not isinstance(attributes, (bytes, bytearray)):
        names_given = list(attributes)
        if all(isinstance(name, str) and name.strip() for name in names_given):
            return names_given
    raise InvalidData(
        f"attributes must be a list of attribute names such as ['code', 'status'], "
        f"not {attributes!r}."
    )


def parsed_query(query: Union[str, Query]) -> Query:
    """A query given as text or as a :class:`Query`, parsed (InvalidQuery if malformed)."""
    if isinstance(query, Query):
        return query
    if not isinstance(query, str):
        raise InvalidData(
            f"A query is a string such as 'Job where status=running' (or a Query "
            f"built with accsyn_api.select), not {query!r}."
        )
    return _parsed_text(query)


def duplicate_flags(
    allow_duplicates: Optional[bool], replace_duplicates: Optional[bool]
) -> Dict[str, bool]:
    """The duplicate flags of a create that were given, checked."""
    given = {
        "allow_duplicates": flag(allow_duplicates, "allow_duplicates"),
        "replace_duplicates": flag(replace_duplicates, "replace_duplicates"),
    }
    return {name: value for name, value in given.items() if value is not None}


def create_payload(entity: str, data: Any, entityid: Optional[str], flags: Dict[str, bool]) -> Any:
    """The data of a create of ``entity`` (not tasks): one dict, or a non-empty list of them."""
    if entityid is not None:
        raise InvalidData(
            f"entityid is only used when creating tasks (the job id); "
            f"remove it when creating a {entity}."
        )
    if isinstance(data, Mapping):
        return {**data, **flags}
    if isinstance(data, list) and data and all(isinstance(d, Mapping) for d in data):
        return [{**d, **flags} for d in data]
    raise InvalidData(
        f"create() needs a dict (one {entity}) or a non-empty list of dicts, "
        f"not {type(data).__name__}."
    )


def task_create_arguments(
    data: Any, job_id: Optional[str], flags: Dict[str, bool]
) -> Tuple[str, Dict[str, Any]]:
    """``(job id, payload)`` of ``create('task', {"tasks": [...]}, job_id)``."""
    if job_id is None:
        raise InvalidData(
            "Tasks are created within a job: pass the job id as the third argument, "
            "session.create('task', {'tasks': [...]}, job_id)."
        )
    checked_id = entity_id(job_id, "The job id")
    tasks = data.get("tasks") if isinstance(data, Mapping) else data
    if not isinstance(tasks, list) or not tasks:
        raise InvalidData(
            "create('task', ...) needs {'tasks': [...]}: a non-empty list of source paths, "
            "or of {'source': ..., 'destination': ...} dicts."
        )
    payload = dict(data) if isinstance(data, Mapping) else {}
    payload.update(flags, tasks=list(tasks))
    return checked_id, payload


def update_many_arguments(
    data: Union[str, Sequence[Mapping[str, Any]]],
    entityid: Union[str, Sequence[Mapping[str, Any]], None],
) -> Tuple[str, List[Dict[str, Any]]]:
    """``(job id, changes)`` of update_many, in either argument order the docs show."""
    if isinstance(data, str) and isinstance(entityid, (list, tuple)):
        data, entityid = entityid, data
    if not isinstance(entityid, str):
        raise InvalidData(
            "update_many() needs the job id and a list of changes: "
            "update_many('task', <job id>, [{'id': <task id>, 'status': 'excluded'}])."
        )
    job_id = entity_id(entityid)
    if (
        not isinstance(data, (list, tuple))
        or not data
        or not all(isinstance(item, Mapping) and item.get("id") for item in data)
    ):
        raise InvalidData(
            "update_many() needs a non-empty list of dicts, each with the 'id' of the "
            "entity to change, e.g. [{'id': <task id>, 'status': 'excluded'}]."
        )
    return job_id, [dict(item) for item in data]
