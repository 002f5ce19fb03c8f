"""Which jobs and tasks a find matches, found lazily, and what finds keep between events.

:class:`Matcher` yields the jobs (or ``(job, task)`` pairs) that one find
matches, in the workspace's order, without building their reply rows: the
query is tested on each attribute as it is asked for
(:func:`~accsyn_api.testing.rows.job_attributes`), and the reader builds rows
only for the page it answers. A query that names one ``id``
(``id=<x>``, also inside an ``AND``) looks that job up directly instead of
going through every job, so ``find_one`` by id costs the same at any size.

:class:`FindCache` keeps, for the backend, the complete match lists of the
last few paged finds (so that paging through a result with ``skip`` costs
one evaluation, not one per page) and an index of tasks by id. Everything in
it is valid for one :attr:`~accsyn_api.testing.model.Workspace.version` (the
backend moves the version on every change); a match list also only until a
job it looked at changes lifecycle state (an hour, then 14 days, after it
finished: :attr:`Matcher.valid_until`), or if the clock goes back.
:func:`ids_in` says which ids a query restricts to.
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Hashable, Iterable, Iterator, List, Optional, Set, Tuple

from accsyn_api.query import Comparison, Expression
from accsyn_api.testing.generations import Generation
from accsyn_api.testing.matching import job_values, matches, task_values
from accsyn_api.testing.model import FINISHED_JOB_STATUSES, NEVER, Job, Task, User, Workspace
from accsyn_api.testing.permissions import can_see, is_staff
from accsyn_api.testing.rows import job_attributes, task_attributes

__all__ = [
    "ACTIVE_AFTER_FINISH",
    "ARCHIVED_AFTER_FINISH",
    "MATCH_LISTS_KEPT",
    "FindCache",
    "Matcher",
    "ids_in",
    "job_ids_in",
    "state_at",
]

ACTIVE_AFTER_FINISH = timedelta(hours=1)
ARCHIVED_AFTER_FINISH = timedelta(days=14)
MATCH_LISTS_KEPT = 4
"""How many match lists of paged finds :class:`FindCache` keeps."""


def state_at(job: Job, now: datetime) -> str:
    """``"active"``, ``"inactive"`` or ``"archived"`` at the moment ``now``."""
    if job.status not in FINISHED_JOB_STATUSES or job.finished == NEVER:
        return "active"
    age = now - job.finished
    if age < ACTIVE_AFTER_FINISH:
        return "active"
    return "inactive" if age < ARCHIVED_AFTER_FINISH else "archived"


@dataclass(frozen=True)
class _MatchList:
    matches: List[Any]
    made: datetime
    until: Optional[datetime]
    """The first moment a job looked at changes lifecycle state; None: never."""

    def valid_at(self, now: datetime) -> bool:
        return self.made <= now and (self.until is None or now < self.until)


class FindCache:
    """Match lists of recent paged finds and the index of tasks by id (see the module)."""

    def __init__(self, size: int = MATCH_LISTS_KEPT) -> None:
        self.size = size
        self._lists: OrderedDict[Hashable, _MatchList] = OrderedDict()
        self._tasks: Dict[str, Tuple[Job, Task]] = {}
        self._tasks_version = -1

    def match_list(
        self,
        key: Hashable,
        now: datetime,
        make: Callable[[], Tuple[List[Any], Optional[datetime]]],
    ) -> List[Any]:
        """The list kept under ``key`` (which must hold the workspace version) if still valid
        at ``now``, else the one ``make()`` gives with the moment it stops being valid."""
        found = self._lists.get(key)
        if found is not None and found.valid_at(now):
            self._lists.move_to_end(key)
            return found.matches
        matches, until = make()
        self._lists[key] = _MatchList(matches, now, until)
        self._lists.move_to_end(key)
        while len(self._lists) > self.size:
            self._lists.popitem(last=False)
        return matches

    def task_index(self, ws: Workspace) -> Dict[str, Tuple[Job, Task]]:
        """The tasks of the workspace's jobs by id, remade after any change."""
        if self._tasks_version != ws.version:
            self._tasks = {task.id: (job, task) for job in ws.jobs.values() for task in job.tasks}
            self._tasks_version = ws.version
        return self._tasks


class Matcher:
    """The jobs or tasks one find matches, for ``user``, at the moment ``now``.

    ``finished`` adds inactive jobs to the active ones, ``archived`` every job
    (deleted ones included); ``parent`` keeps the jobs of that queue.
    """

    def __init__(
        self,
        ws: Workspace,
        gen: Generation,
        user: User,
        now: datetime,
        expression: Optional[Expression],
        *,
        finished: bool = False,
        archived: bool = False,
        parent: Optional[str] = None,
    ) -> None:
        self.ws, self.gen, self.user, self.now = ws, gen, user, now
        self.expression = expression
        self.finished, self.archived = finished, archived
        self.parent = parent.lower() if parent is not None else None
        self.valid_until: Optional[datetime] = None
        """The first moment after ``now`` at which a job looked at changes lifecycle state
        (None: none will): until then, the same find matches the same."""
        self._staff = is_staff(user)

    def _in_view(self, job: Job) -> bool:
        if not (self._staff or can_see(self.user, job)):
            return False
        if self.archived:
            return True
        if job.status not in FINISHED_JOB_STATUSES or job.finished == NEVER:
            return True  # the common case, without the clock
        for change in (job.finished + ACTIVE_AFTER_FINISH, job.finished + ARCHIVED_AFTER_FINISH):
            if change > self.now:
                if self.valid_until is None or change < self.valid_until:
                    self.valid_until = change
                break
        state = state_at(job, self.now)
        return state == "active" or (self.finished and state == "inactive")

    def _candidates(self) -> Iterable[Job]:
        """The jobs that may match, in workspace order: one, when the query names one id."""
        ids = ids_in(self.expression) if self.expression is not None else None
        if ids is not None and len(ids) <= 1:
            job_id = next(iter(ids), "")
            job = self.ws.jobs.get(job_id)
            if job is None and self.archived:
                job = self.ws.deleted_jobs.get(job_id)
            return [job] if job is not None else []
        if self.archived:
            return itertools.chain(self.ws.jobs.values(), self.ws.deleted_jobs.values())
        return self.ws.jobs.values()

    def jobs(self) -> Iterator[Job]:
        """The matching jobs, lazily."""
        expression, wildcards = self.expression, self.gen.wildcards
        for job in self._candidates():
            if not self._in_view(job):
                continue
            if self.parent is not None and job.queue_id != self.parent:
                continue
            if expression is not None:
                attribute_of = job_attributes(self.ws, job, self.gen)
                values = functools.partial(job_values, self.ws, job, attribute_of)
                if not matches(expression, values, wildcards=wildcards):
                    continue
            yield job

    def tasks(self, job_ids: Set[str]) -> Iterator[Tuple[Job, Task]]:
        """The matching tasks of the (active, visible) jobs with these ids, lazily."""
        if len(job_ids) == 1:
            found = self.ws.jobs.get(next(iter(job_ids)))
            jobs: Iterable[Job] = [found] if found is not None else []
        else:
            jobs = (job for job in self.ws.jobs.values() if job.id in job_ids)
        expression, wildcards = self.expression, self.gen.wildcards
        for job in jobs:
            if not self._in_view(job):
                continue
            job_attribute_of = job_attributes(self.ws, job, self.gen)
            for task in job.tasks:
                if expression is not None:
                    attribute_of = task_attributes(job, task, self.gen)
                    values = functools.partial(
                        task_values, self.ws, job, job_attribute_of, attribute_of
                    )
                    if not matches(expression, values, wildcards=wildcards):
                        continue
                yield job, task


def job_ids_in(expression: Expression) -> Optional[Set[str]]:
    """The job ids a task expression restricts to, or None when it does not restrict.

    ``job.id=<id>`` and ``job.id IN <ids>`` restrict (an ``=`` with a ``*`` does not).
    """
    return ids_in(expression, ("job.id", "job"))


def ids_in(expression: Expression, attributes: Tuple[str, ...] = ("id",)) -> Optional[Set[str]]:
    """The ids (lower case) ``expression`` restricts its entities to, or None.

    An entity can only match when one of ``attributes`` (e.g. ``id``) is one
    of these ids: ``<attribute>=<id>`` or ``<attribute> IN <ids>`` restrict,
    ``AND`` intersects, ``OR`` unites when each side restricts; anything else
    (an ``=`` with a ``*``, ``!=``...) does not restrict.
    """
    if isinstance(expression, Comparison):
        if expression.attribute.lower() not in attributes:
            return None
        value = expression.value
        if expression.operator == "=" and isinstance(value, str) and "*" not in value:
            return {value.lower()}
        if expression.operator == "in" and isinstance(value, tuple):
            return {item.lower() for item in value}
        return None
    found = [ids_in(operand, attributes) for operand in expression.operands]
    if expression.operator.lower() == "and":
        restricting = [ids for ids in found if ids is not None]
        return set.intersection(*restricting) if restricting else None
    if any(ids is None for ids in found):
        return None
    return set().union(*(ids for ids in found if ids is not None))
