"""The operations that change tasks: create, edit, and the refused delete.

Each function answers one event for an authenticated ``user``, in the words of
a :class:`~accsyn_api.testing.generations.Generation`. The job is named by the
event's ``id`` (v1.0 may also name it in ``query``, as ``job.id=<id>`` or the bare
id). Every request is validated whole before anything changes.

Duplicates (a new task with the source and destination paths of a task the job
already has): by default, and with ``allow_duplicates`` true, the existing task
is retried (queued again) and nothing is added; ``allow_duplicates: false``
refuses the request; ``replace_duplicates: true`` (v3) puts a new task (new id,
the same ``uri`` and place) instead of the existing one.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

from accsyn_api.errors import NotFound
from accsyn_api.testing.generations import Generation
from accsyn_api.testing.model import (
    NEVER,
    TASK_EDITABLE_KEYS,
    TASK_STATUSES,
    TASK_WRITEABLE_STATUSES,
    Clock,
    Job,
    Task,
    User,
    Workspace,
)
from accsyn_api.testing.operations import (
    check_status,
    check_task_paths,
    checked_flag,
    checked_metadata,
    checked_priority,
    explicit_task,
    make_task,
)
from accsyn_api.testing.permissions import check_may_add_tasks, check_task_locations, visible_job
from accsyn_api.testing.refusals import invalid, listing
from accsyn_api.testing.rows import task_row

__all__ = ["create_tasks", "delete_tasks", "edit_tasks"]

_JOB_ID_IN_QUERY = re.compile(r'^\s*(?:(?:job\.)?id\s*=\s*)?"?([0-9A-Za-z]+)"?\s*$')
_Paths = Tuple[Dict[str, Any], Dict[str, Any]]


def _task_job(ws: Workspace, gen: Generation, user: User, event: Mapping[str, Any]) -> Job:
    job_id = event.get("id")
    if not job_id:
        match = _JOB_ID_IN_QUERY.match(event.get("query") or "")
        job_id = match.group(1).lower() if match else None
    if not job_id:
        raise invalid(
            "no job id given",
            "Say which job the tasks belong to: give the job id as the entity id "
            "(create('task', {...}, <job id>)).",
        )
    return visible_job(ws, user, job_id, gen.shown_type("job"))


@dataclass
class _TaskPlan:
    """What a task/create will do, decided before anything changes."""

    retry: Dict[str, Task] = field(default_factory=dict)  # by id, each once, in order
    replace: Dict[str, _Paths] = field(default_factory=dict)  # existing task id -> new paths
    add: Dict[Tuple[str, str], _Paths] = field(default_factory=dict)


def _task_items(data: Any, gen: Generation) -> Tuple[List[Any], Dict[str, Any]]:
    """The task items of ``task/create`` data (a list, or v3's single dict), and the data."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if isinstance(tasks, dict):
        tasks = [tasks]  # the v3 client sends one task as {"tasks": {...}}
    if not isinstance(data, dict) or not isinstance(tasks, list) or not tasks:
        raise invalid(
            'task/create data must be {"tasks": [...]}',
            'Give the tasks as {"tasks": [<path> or {"source": ..., "destination": ...}]}.',
        )
    unknown = sorted(set(data) - set(gen.task_create_keys))
    if unknown:
        raise invalid(
            f"unknown task/create keys: {listing(unknown)}",
            f"Task create takes {listing(gen.task_create_keys)} only, not {listing(unknown)}.",
        )
    return tasks, data


def create_tasks(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``task/create``: add tasks to a job; an existing task with the same paths is retried."""
    job = _task_job(ws, gen, user, event)
    items, data = _task_items(event.get("data"), gen)
    allow_duplicates = checked_flag(data.get("allow_duplicates", True), "allow_duplicates")
    replace = checked_flag(data.get("replace_duplicates", False), "replace_duplicates")
    check_may_add_tasks(user, job)
    pairs = [explicit_task(ws, item, mirrored_ok=job.mirrored) for item in items]
    check_task_paths(pairs)
    check_task_locations(user, [location for pair in pairs for location in pair])
    plan = _plan(job, pairs, allow_duplicates=allow_duplicates or replace, replace=replace)
    now = clock.now()
    result: List[Task] = []
    for task in plan.retry.values():
        task.status, task.finished = "queued", NEVER
        result.append(task)
    for index, task in enumerate(job.tasks):
        if task.id in plan.replace:
            src, dst = plan.replace[task.id]
            job.tasks[index] = make_task(job, src, dst, now, uri=task.uri)
            result.append(job.tasks[index])
    for src, dst in plan.add.values():
        task = make_task(job, src, dst, now)
        job.tasks.append(task)
        result.append(task)
    if gen.reopens_done_jobs and job.status == "done":
        job.status, job.finished = "waiting", NEVER
    job.modified, job.modifier = now, user.id
    rows = [task_row(job, t, gen) for t in result]
    if all(isinstance(item, str) for item in items):
        # Paths alone: the documented reply is {"success": true}, which the official clients
        # hand back whole; "tasks" (this server's extension) tells which tasks were made.
        return {"success": True, "tasks": rows}
    return {"success": True, "result": rows}


def _plan(job: Job, pairs: List[_Paths], *, allow_duplicates: bool, replace: bool) -> _TaskPlan:
    existing_by_paths = {(t.source["path"], t.destination["path"]): t for t in job.tasks}
    plan = _TaskPlan()
    for src, dst in pairs:
        key = (src["path"], dst["path"])
        existing = existing_by_paths.get(key)
        if existing is None:
            plan.add.setdefault(key, (src, dst))
        elif not allow_duplicates:
            raise invalid(
                f"duplicate of task {existing.id}",
                f"Task {existing.id} (uri {existing.uri}) of job {job.id} already sends "
                f"{src['path']!r} to {dst['path']!r}; nothing was added. Leave "
                "allow_duplicates on to retry the existing task instead.",
            )
        elif replace:
            plan.replace.setdefault(existing.id, (src, dst))
        else:
            plan.retry.setdefault(existing.id, existing)
    return plan


def edit_tasks(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``task/edit``: a list of ``{"id": <task id>, ...changes}``; all checked first.

    On v3 an item may name its task by ``uri`` instead of ``id``.
    """
    job = _task_job(ws, gen, user, event)
    items = event.get("data")
    if not isinstance(items, list) or not items:
        raise invalid(
            'task/edit data must be a list of {"id": ..., ...changes}',
            'Tasks are updated as a list, e.g. [{"id": <task id>, "status": "onhold"}].',
        )
    # One look-up table per key for the whole event: a 20,000-task edit stays linear.
    by_key = {key: {getattr(t, key): t for t in job.tasks} for key in gen.task_keys_in_edit}
    planned = [_planned_change(job, gen, by_key, item) for item in items]  # validate all first
    now = clock.now()
    for task, changes in planned:
        if "status" in changes:
            task.status = changes["status"]
            task.finished = now if task.status == "done" else NEVER
        if "priority" in changes:
            task.priority = changes["priority"]
        if "metadata" in changes:
            task.metadata = copy.deepcopy(changes["metadata"])
    job.modified, job.modifier = now, user.id
    updated = list(OrderedDict((task.id, task) for task, _ in planned).values())
    return {"result": [task_row(job, t, gen) for t in updated]}


def _named_task(
    job: Job, gen: Generation, by_key: Mapping[str, Mapping[str, Task]], item: Any
) -> Tuple[Task, str]:
    """The task an edit item names (looked up in ``by_key``), and the key that named it."""
    key = next((k for k in gen.task_keys_in_edit if isinstance(item, dict) and k in item), None)
    if key is None or not isinstance(item[key], str):
        keys = " or ".join(f'"{k}"' for k in gen.task_keys_in_edit)
        raise invalid(
            f"bad task change {item!r}",
            f"Each task change must be an object with the task {keys}, e.g. "
            '{"id": <task id>, "status": "excluded"}.',
        )
    task = by_key[key].get(item[key])
    if task is None:
        raise NotFound(
            f"task {item[key]} not found in job {job.id}",
            message_hr=(
                f"Job {job.id} has no task {item[key]!r}; nothing was changed. "
                f"List its tasks with find('Task where job.id={job.id}')."
            ),
        )
    return task, key


def _planned_change(
    job: Job, gen: Generation, by_key: Mapping[str, Mapping[str, Task]], item: Any
) -> Tuple[Task, Dict[str, Any]]:
    task, key = _named_task(job, gen, by_key, item)
    changes = {k: v for k, v in item.items() if k != key}
    if {"source", "destination"} & set(changes):
        raise invalid(
            "task source and destination cannot be modified",
            "The source and destination of a task cannot be modified; nothing was "
            "changed. Exclude the task (status 'excluded') and create a new one.",
        )
    refused = sorted(set(changes) - set(TASK_EDITABLE_KEYS))
    if refused:
        raise invalid(
            f"task attributes not editable: {listing(refused)}",
            f"{listing(refused)} of a task cannot be changed; nothing was changed. "
            f"Editable task attributes are: {listing(TASK_EDITABLE_KEYS)}.",
        )
    if "status" in changes:
        check_status(changes["status"], "task", TASK_STATUSES, TASK_WRITEABLE_STATUSES)
    if "priority" in changes:
        checked_priority(changes["priority"])
    if "metadata" in changes:
        checked_metadata(changes["metadata"])
    return task, changes


def delete_tasks(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``task/delete``: always refused; tasks are excluded, never deleted."""
    raise invalid(
        "tasks cannot be deleted",
        "Tasks cannot be deleted, for audit reasons; set their status to 'excluded' instead.",
    )
