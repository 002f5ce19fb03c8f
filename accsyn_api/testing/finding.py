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
it is valid for one :attr:`~accsyn_api.testing.model.Workspace.version` (and,
for match lists, one second of the clock, on which the lifecycle depends);
the backend moves the version on every change.
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Hashable, Iterable, Iterator, List, Optional, Set, Tuple

from accsyn_api.query import Expression
from accsyn_api.testing.generations import Generation
from accsyn_api.testing.matching import ids_in, job_values, matches, task_values
from accsyn_api.testing.model import FINISHED_JOB_STATUSES, NEVER, Job, Task, User, Workspace
from accsyn_api.testing.permissions import can_see, is_staff
from accsyn_api.testing.rows import job_attributes, task_attributes

__all__ = [
    "ACTIVE_AFTER_FINISH",
    "ARCHIVED_AFTER_FINISH",
    "MATCH_LISTS_KEPT",
    "FindCache",
    "Matcher",
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


class FindCache:
    """Match lists of recent paged finds and the index of tasks by id (see the module)."""

    def __init__(self, size: int = MATCH_LISTS_KEPT) -> None:
        self.size = size
        self._lists: OrderedDict[Hashable, List[Any]] = OrderedDict()
        self._tasks: Dict[str, Tuple[Job, Task]] = {}
        self._tasks_version = -1

    def match_list(self, key: Hashable, make: Callable[[], List[Any]]) -> List[Any]:
        """The list kept under ``key`` (which must hold the workspace version), else ``make()``."""
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = make()
            while len(self._lists) > self.size:
                self._lists.popitem(last=False)
        else:
            self._lists.move_to_end(key)
        return found

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
        self._staff = is_staff(user)

    def _in_view(self, job: Job) -> bool:
        if not (self._staff or can_see(self.user, job)):
            return False
        if self.archived:
            return True
        if job.status not in FINISHED_JOB_STATUSES:
            return True  # the common case, without the clock
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
