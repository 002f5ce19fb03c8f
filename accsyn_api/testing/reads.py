"""The reference server's reads: finds, get_entity, entity types and attributes.

A :class:`Reader` answers the read events of one generation (see
:mod:`~accsyn_api.testing.generations`) against the workspace, under the
backend's lock. It applies the lifecycle of jobs (active, inactive, archived),
the roles (who sees what), the query and the find options; which jobs and
tasks match comes from :mod:`~accsyn_api.testing.finding` (lazily, ``id=<x>``
looked up directly, match lists kept for paging), and rows, built only for the
page answered, from :mod:`~accsyn_api.testing.rows`.

Choices made where the documentation is silent:

* ``single_entity_query: true`` (v3 ``find_one``): when nothing active matches,
  inactive (finished) jobs are searched too, never the archive; at most one
  entity is returned.
* get_entity (v3: a find with the envelope ``id``): the entity whatever its
  lifecycle state, archived included; an entity the caller may not see, or that
  does not exist, gives an empty result rather than a refusal.
* ``inactive: true`` is accepted on every find; the demo workspace has no
  deactivated users or shares, so it changes nothing.
* On v3 a user find lists the caller first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    Union,
)

from accsyn_api.errors import InvalidQuery, NotFound
from accsyn_api.query import Expression
from accsyn_api.testing.finding import (
    ACTIVE_AFTER_FINISH,
    ARCHIVED_AFTER_FINISH,
    FindCache,
    Matcher,
    job_ids_in,
    state_at,
)
from accsyn_api.testing.generations import Generation
from accsyn_api.testing.matching import matches, row_values
from accsyn_api.testing.model import (
    JOB_CREATE_KEYS,
    JOB_EDITABLE_KEYS,
    TASK_EDITABLE_KEYS,
    Clock,
    Job,
    Task,
    User,
    Workspace,
)
from accsyn_api.testing.permissions import can_see, is_staff
from accsyn_api.testing.refusals import invalid, listing
from accsyn_api.testing.rows import (
    job_row,
    organization_row,
    queue_row,
    share_row,
    site_row,
    task_row,
    user_row,
)

__all__ = ["ACTIVE_AFTER_FINISH", "ARCHIVED_AFTER_FINISH", "Reader", "lifecycle"]

QueryParser = Callable[[Mapping[str, Any], str], Optional[Expression]]
Entity = Union[Job, Tuple[Job, Task], Dict[str, Any]]
"""What a find matched: a job, a task with its job, or the row of another entity."""


@dataclass
class FindOptions:
    """The ``data`` of a find, checked."""

    type: int = 1
    finished: bool = False
    archived: bool = False
    single: bool = False
    parent: Optional[str] = None
    limit: Optional[int] = None
    skip: int = 0
    attributes: Optional[List[str]] = None


def lifecycle(job: Job, clock: Clock) -> str:
    """``"active"``, ``"inactive"`` or ``"archived"``."""
    return state_at(job, clock.now())


def _checked_flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(
            f"find data '{name}' must be true or false",
            f"'{name}' must be true or false, not {value!r}.",
        )
    return bool(value)


def _checked_count(data: Mapping[str, Any], name: str) -> Optional[int]:
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise invalid(
            f"find data '{name}' must be a non-negative integer",
            f"'{name}' must be a whole number of zero or more, not {value!r}.",
        )
    return value


def find_options(event: Mapping[str, Any]) -> FindOptions:
    """The checked find options of ``event``; an InvalidData refusal when they are wrong."""
    data = event.get("data") or {}
    if not isinstance(data, dict):
        raise invalid(
            "find data must be an object",
            "The 'data' of a find must be an object such as {\"finished\": true}.",
        )
    kind = data.get("type", 1)
    if kind not in (1, 2) or isinstance(kind, bool):
        raise invalid(
            f"find data 'type' must be 1 or 2, not {kind!r}",
            "The find 'type' must be 1 (jobs) or 2 (queues).",
        )
    for flag in ("offline", "inactive"):
        _checked_flag(data, flag)
    parent = data.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise invalid("find data 'parent' must be an id", "'parent' must be an entity id.")
    attributes = data.get("attributes")
    if attributes is not None and (
        not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes)
    ):
        raise invalid(
            "find data 'attributes' must be a list of attribute names",
            '\'attributes\' must be a list of attribute names, e.g. ["code", "status"].',
        )
    return FindOptions(
        type=int(kind),
        finished=_checked_flag(data, "finished"),
        archived=_checked_flag(data, "archived"),
        single=_checked_flag(data, "single_entity_query"),
        parent=parent,
        limit=_checked_count(data, "limit"),
        skip=_checked_count(data, "skip") or 0,
        attributes=attributes,
    )


class Reader:
    """Answers read events in the words of ``gen``; ``parse`` reads an event's query.

    ``cache`` is what finds keep between events (the backend's, shared by its
    readers); a reader of its own by default.
    """

    def __init__(
        self,
        ws: Workspace,
        clock: Clock,
        gen: Generation,
        parse: QueryParser,
        cache: Optional[FindCache] = None,
    ) -> None:
        self.ws, self.clock, self.gen, self.parse = ws, clock, gen, parse
        self.cache = cache if cache is not None else FindCache()

    # -------------------------------------------------------------- finds

    def find(self, entitytype: str, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        """``<entitytype>/find``; with an envelope ``id`` on v3, get_entity.

        Only the page asked for (``skip``, ``limit``) is built into rows.
        """
        options = find_options(event)
        entity_id = event.get("id")
        if self.gen.get_entity and entity_id:
            rows = self._rows_by_id(entitytype, user, str(entity_id).lower())
            return self._page(rows, FindOptions(attributes=options.attributes), entitytype)
        if entitytype == "job" and options.type == 2:
            entitytype = "queue"
        expression = self.parse(event, entitytype)
        now = self.clock.now()
        if options.single and entitytype in ("job", "task") and not options.finished:
            matcher = self._matcher(entitytype, user, options, expression, now)
            matching = self._matching(entitytype, matcher, user, options, expression, event)
            options.finished = (
                next(matching, None) is None
            )  # nothing active: look among the finished ones too
        if options.single:
            options.limit = 1 if options.limit is None else min(options.limit, 1)
        found = self._window(entitytype, user, options, expression, now, event)
        rows = [self._row(entitytype, entity) for entity in found]
        return self._page(rows, FindOptions(attributes=options.attributes), entitytype)

    def _window(
        self,
        entitytype: str,
        user: User,
        options: FindOptions,
        expression: Optional[Expression],
        now: datetime,
        event: Mapping[str, Any],
    ) -> List[Entity]:
        """The matches from ``skip`` on, at most ``limit``: a page further on reuses the
        complete match list of the same find (the cache), so that paging stays linear."""
        skip, limit = options.skip, options.limit
        matcher = self._matcher(entitytype, user, options, expression, now)
        if skip and limit is not None:
            key = (
                entitytype, self.gen.api_version, user.id, event.get("query"), options.finished,
                options.archived, options.parent, self.ws.version,
            )  # fmt: skip

            def everything() -> Tuple[List[Entity], Optional[datetime]]:
                found = self._matching(entitytype, matcher, user, options, expression, event)
                return list(found), matcher.valid_until

            return self.cache.match_list(key, now, everything)[skip : skip + limit]
        stop = None if limit is None else skip + limit
        found = self._matching(entitytype, matcher, user, options, expression, event)
        return list(itertools.islice(found, skip, stop))

    def _matcher(
        self,
        entitytype: str,
        user: User,
        options: FindOptions,
        expression: Optional[Expression],
        now: datetime,
    ) -> Matcher:
        return Matcher(
            self.ws,
            self.gen,
            user,
            now,
            expression,
            finished=options.finished,
            archived=options.archived,
            parent=options.parent if entitytype == "job" else None,
        )

    def _matching(
        self,
        entitytype: str,
        matcher: Matcher,
        user: User,
        options: FindOptions,
        expression: Optional[Expression],
        event: Mapping[str, Any],
    ) -> Iterator[Entity]:
        if entitytype == "job":
            return iter(matcher.jobs())
        if entitytype == "task":
            return iter(matcher.tasks(self._task_job_ids(options, expression, event)))
        rows: Iterable[Dict[str, Any]] = self._other_rows(user, entitytype)
        if options.parent is not None:
            rows = [r for r in rows if r.get("parent") == options.parent.lower()]
        wildcards = self.gen.wildcards
        return (
            r
            for r in rows
            if expression is None or matches(expression, row_values(r), wildcards=wildcards)
        )

    def _task_job_ids(
        self, options: FindOptions, expression: Optional[Expression], event: Mapping[str, Any]
    ) -> Set[str]:
        """The ids of the jobs whose tasks are asked for; InvalidQuery when none are named."""
        job_ids = job_ids_in(expression) if expression is not None else None
        if options.parent is not None:
            parent = {options.parent.lower()}
            job_ids = parent if job_ids is None else job_ids & parent
        if job_ids is None:
            raise InvalidQuery(
                "a task query must restrict job.id",
                message_hr=(
                    "Tasks are found within a job: add job.id=<job id> to the query, e.g. "
                    "'Task where job.id=5a7325f8b7ef72f5f9d74bf4 and status=queued'"
                    + (", or give the job as the parent." if self.gen.get_entity else ".")
                ),
                query=event.get("query"),
            )
        return job_ids

    def _row(self, entitytype: str, entity: Entity) -> Dict[str, Any]:
        if isinstance(entity, Job):
            return job_row(self.ws, entity, self.gen)
        if isinstance(entity, tuple):
            return task_row(entity[0], entity[1], self.gen)
        return entity

    def _other_rows(self, user: User, entitytype: str) -> List[Dict[str, Any]]:
        ws, gen = self.ws, self.gen
        if entitytype == "user":
            users = list(ws.users.values()) if is_staff(user) else [user]
            if gen.caller_first:
                users.sort(key=lambda other: other.id != user.id)
            return [user_row(u, gen) for u in users]
        if entitytype == "queue":
            return [queue_row(ws, q, gen) for q in ws.queues.values()]
        if entitytype == "site":
            return [site_row(s, gen) for s in ws.sites.values()]
        if entitytype == "share":
            shares = ws.shares.values() if is_staff(user) else []
            return [share_row(ws, s, gen) for s in shares]
        return [organization_row(ws, gen)]

    def _rows_by_id(self, entitytype: str, user: User, entity_id: str) -> List[Dict[str, Any]]:
        """get_entity: the entity with this id whatever its state; [] when not visible."""
        if entitytype == "job":
            job = self.ws.jobs.get(entity_id) or self.ws.deleted_jobs.get(entity_id)
            visible = job is not None and can_see(user, job)
            return [job_row(self.ws, job, self.gen)] if job is not None and visible else []
        if entitytype == "task":
            found = self.cache.task_index(self.ws).get(entity_id)
            if found is None or not can_see(user, found[0]):
                return []
            return [task_row(found[0], found[1], self.gen)]
        return [row for row in self._other_rows(user, entitytype) if row["id"] == entity_id]

    def _page(
        self, rows: List[Dict[str, Any]], options: FindOptions, entitytype: str
    ) -> Dict[str, Any]:
        rows = rows[options.skip :]
        if options.limit is not None:
            rows = rows[: options.limit]
        if options.attributes is not None:
            known = self.gen.entity_keys[entitytype]
            unknown = [a for a in options.attributes if a not in known]
            if unknown:
                shown = self.gen.shown_type(entitytype)
                raise invalid(
                    f"unknown {shown} attributes: {listing(unknown)}",
                    f"{listing(unknown)} is not a {shown} attribute; known attributes "
                    f"are: {listing(known)}.",
                )
            wanted = {"id", *options.attributes}
            rows = [{k: v for k, v in row.items() if k in wanted} for row in rows]
        return {"result": rows}

    # ----------------------------------------------------- types, attributes

    def entitytypes(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        """``entitytypes``: the entity type names of this generation."""
        return {"result": [self.gen.shown_type(name) for name in self.gen.entity_keys]}

    def attributes(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        """``attributes``: an entity type's attributes, or those it may be created/edited with."""
        data = event.get("data") or {}
        asked = data.get("entitytype") if isinstance(data, dict) else None
        entitytype = self.gen.entity_types.get(asked.lower()) if isinstance(asked, str) else None
        if entitytype is None:
            names = [self.gen.shown_type(name) for name in self.gen.entity_keys]
            raise NotFound(
                f"unknown entity type {asked!r}",
                message_hr=(
                    f"Give the entity type whose attributes you want, one of: "
                    f"{listing(names)} (e.g. 'attributes where entitytype={names[0]}')."
                ),
            )
        job_create = (*JOB_CREATE_KEYS, *self.gen.job_create_extras, "tasks")
        creatable = {"job": job_create, "task": ("destination", "source")}
        editable = {"job": (*JOB_EDITABLE_KEYS, *self.gen.job_edit_extras)}
        editable["task"] = TASK_EDITABLE_KEYS
        if data.get("create") or data.get("update"):
            names_found: Set[str] = set()
            if data.get("create"):
                names_found.update(creatable.get(entitytype, ()))
            if data.get("update"):
                names_found.update(editable.get(entitytype, ()))
            return {"result": sorted(names_found)}
        return {"result": list(self.gen.entity_keys[entitytype])}
