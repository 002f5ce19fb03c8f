"""The operations that change jobs and tasks: create, edit and delete.

Each ``*_jobs``/``*_job``/``*_tasks`` function answers one event for an
authenticated ``user`` against the workspace, returning the ``{"result": ...}``
reply or raising an :mod:`accsyn_api.errors` refusal. Every request is
validated whole before anything changes, so a refused event leaves the
workspace as it was. Jobs are reached by id whatever their lifecycle state.
"""

from __future__ import annotations

import copy
import posixpath
import re
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from accsyn_api.errors import NotFound
from accsyn_api.testing.model import (
    DEFAULT_JOB_PRIORITY,
    FINISHED_JOB_STATUSES,
    JOB_CREATE_KEYS,
    JOB_EDITABLE_KEYS,
    JOB_STATUSES,
    JOB_WRITEABLE_STATUSES,
    NEVER,
    TASK_EDITABLE_KEYS,
    TASK_STATUSES,
    TASK_WRITEABLE_STATUSES,
    Clock,
    Endpoint,
    Job,
    Task,
    User,
    Workspace,
    new_id,
)
from accsyn_api.testing.permissions import (
    can_see,
    check_may_create_job,
    check_may_delete_job,
    visible_job,
)
from accsyn_api.testing.refusals import invalid, listing
from accsyn_api.testing.rows import (
    SCOPED_TEXT,
    endpoint_hr,
    job_row,
    location,
    queue_by_reference,
    resolve_endpoint,
    task_row,
)

__all__ = ["create_jobs", "create_tasks", "delete_job", "delete_tasks", "edit_job", "edit_tasks"]

DEFAULT_QUEUE = "medium"
JOB_SPEC_KEYS = (*JOB_CREATE_KEYS, "tasks", "queue", "allow_duplicates")
_JOB_ID_IN_QUERY = re.compile(r'^\s*(?:(?:job\.)?id\s*=\s*)?"?([0-9A-Za-z]+)"?\s*$')

# ------------------------------------------------------------- jobs


def create_jobs(
    ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``job/create``: one job spec or a list of them; all are checked before any is added."""
    data = event.get("data")
    specs = data if isinstance(data, list) else [data]
    if not specs or not all(isinstance(spec, dict) for spec in specs):
        raise invalid(
            "job/create data must be a job spec object or a list of them",
            'Give the job as an object, e.g. {"source": "share=projects/a.mov", '
            '"destination": "lars@edit.com"}, or a list of such objects.',
        )
    jobs = [
        _new_job(ws, clock, user, spec) for spec in specs if isinstance(spec, dict)
    ]  # validate all before adding any
    for job in jobs:
        ws.jobs[job.id] = job
    return {"result": [job_row(ws, job) for job in jobs]}


def _new_job(ws: Workspace, clock: Clock, user: User, spec: Mapping[str, Any]) -> Job:
    unknown = sorted(set(spec) - set(JOB_SPEC_KEYS))
    if unknown:
        raise invalid(
            f"unknown job attributes: {listing(unknown)}",
            f"A job cannot be created with {listing(unknown)}; give only: "
            f"{listing(JOB_SPEC_KEYS)}.",
        )
    for name in ("source", "destination"):
        if not isinstance(spec.get(name), str) or not spec[name].strip():
            raise invalid(
                f"job '{name}' is missing or not a string",
                f"A job needs a '{name}': a user e-mail, a site name or 'share=<share>/<path>'.",
            )
    source, source_path = resolve_endpoint(ws, spec["source"])
    destination, destination_dir = resolve_endpoint(ws, spec["destination"])
    check_may_create_job(user, source, destination)
    status = spec.get("status", "init")
    if status != "init":
        _check_status(status, "job", JOB_STATUSES, JOB_WRITEABLE_STATUSES)
    priority = _checked_priority(spec.get("priority", DEFAULT_JOB_PRIORITY))
    metadata = _checked_metadata(spec.get("metadata", {}))
    queue_ref = spec.get("parent", spec.get("queue", DEFAULT_QUEUE))
    queue = queue_by_reference(ws, queue_ref)
    allow_duplicates = _checked_flag(spec.get("allow_duplicates", True), "allow_duplicates")
    now = clock.now()
    pairs: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
    if source_path:
        pairs.append(_job_level_task(source, source_path, destination_dir))
    items = spec.get("tasks", [])
    if not isinstance(items, list):
        raise invalid(
            "job 'tasks' must be a list",
            '\'tasks\' must be a list of paths or {"source", "destination"} objects.',
        )
    for item in items:
        if isinstance(item, str) and not SCOPED_TEXT.match(item.strip()):
            pairs.append(_job_level_task(source, item, destination_dir))
        else:
            pairs.append(_explicit_task(ws, item, mirrored_ok=True))
    code = spec.get("code")
    if code is None:
        code = posixpath.basename(pairs[0][0]["path"].rstrip("/")) if pairs else "transfer"
    if not isinstance(code, str) or not code.strip():
        raise invalid("job 'code' must be a non-empty string", "The job 'code' must be text.")
    job = Job(
        id=new_id(),
        code=code,
        status=status,
        created=now,
        source=source,
        destination=destination,
        queue_id=queue.id,
        user_id=user.id,
        modified=now,
        modifier=user.id,
        priority=priority,
        metadata=copy.deepcopy(metadata),
        finished=now if status in FINISHED_JOB_STATUSES else NEVER,
        mirrored=not any(isinstance(item, dict) and "destination" in item for item in items),
    )
    for src, dst in pairs:
        job.tasks.append(_make_task(job, src, dst, now))
    if not allow_duplicates:
        _refuse_duplicate_job(ws, user, job)
    return job


def _job_level_task(
    source: Endpoint, path: str, destination_dir: Optional[str]
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    src: Dict[str, Any] = {"path": path}
    if source.scope == "share":
        src["share"] = source.id
    if destination_dir:
        name = posixpath.basename(path.replace("\\", "/").rstrip("/"))
        return src, {"path": posixpath.join(destination_dir, name)}
    return src, {"path": path}


def _explicit_task(
    ws: Workspace, item: Any, *, mirrored_ok: bool
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    if isinstance(item, str):
        source = location(ws, item)
        if not mirrored_ok:
            raise invalid(
                "task has no destination and the job does not mirror paths",
                f"Task {item!r} has no destination, which only works for jobs sending "
                "files with mirrored paths (this job was created with explicit task "
                'destinations); give it as {"source": ..., "destination": ...}.',
            )
        return source, {"path": source["path"]}
    if not isinstance(item, dict) or not isinstance(item.get("source"), str):
        raise invalid(
            f"bad task item {item!r}",
            "Each task must be a source path or an object "
            '{"source": <path>, "destination": <path>}.',
        )
    unknown = sorted(set(item) - {"source", "destination"})
    if unknown:
        raise invalid(
            f"unknown task attributes: {listing(unknown)}",
            f"A task is given by 'source' and 'destination' only, not {listing(unknown)}.",
        )
    destination = item.get("destination")
    if destination is None:
        return _explicit_task(ws, item["source"], mirrored_ok=mirrored_ok)
    if not isinstance(destination, str):
        raise invalid("task destination must be a string", "A task destination is a path.")
    return location(ws, item["source"]), location(ws, destination)


def _make_task(
    job: Job, source: Dict[str, Any], destination: Dict[str, Any], now: datetime
) -> Task:
    return Task(
        id=str(uuid.uuid4()),
        uri=str(len(job.tasks)),
        status="queued",
        created=now,
        source=source,
        destination=destination,
    )


def _refuse_duplicate_job(ws: Workspace, user: User, job: Job) -> None:
    paths = sorted(t.source["path"] for t in job.tasks)
    for other in ws.jobs.values():
        if (
            other.status not in FINISHED_JOB_STATUSES
            and can_see(user, other)
            and (other.source, other.destination) == (job.source, job.destination)
            and sorted(t.source["path"] for t in other.tasks) == paths
        ):
            raise invalid(
                f"duplicate of job {other.id}",
                f"Job {other.id} ({other.code!r}) already sends the same files from "
                f"{endpoint_hr(ws, job.source)} to {endpoint_hr(ws, job.destination)}; "
                "pass allow_duplicates=True to create another one anyway.",
            )


def edit_job(ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
    """``job/edit``: change the editable attributes of the job with the event's ``id``."""
    job = visible_job(ws, user, event.get("id"))
    changes = event.get("data")
    if not isinstance(changes, dict) or not changes:
        raise invalid(
            "job/edit data must be a non-empty object",
            f'Give the changes as an object, e.g. {{"status": "paused"}}; editable job '
            f"attributes are: {listing(JOB_EDITABLE_KEYS)}.",
        )
    changes = dict(changes)
    if "queue" in changes and "parent" not in changes:
        changes["parent"] = changes.pop("queue")
    refused = sorted(set(changes) - set(JOB_EDITABLE_KEYS))
    if refused:
        raise invalid(
            f"job attributes not editable: {listing(refused)}",
            f"{listing(refused)} of a job cannot be changed; editable job attributes are: "
            f"{listing(JOB_EDITABLE_KEYS)}.",
        )
    if "status" in changes:
        _check_status(changes["status"], "job", JOB_STATUSES, JOB_WRITEABLE_STATUSES)
    priority = _checked_priority(changes.get("priority", job.priority))
    metadata = _checked_metadata(changes.get("metadata", job.metadata))
    queue = queue_by_reference(ws, changes["parent"]) if "parent" in changes else None
    code = changes.get("code", job.code)
    if not isinstance(code, str) or not code.strip():
        raise invalid("job 'code' must be a non-empty string", "The job 'code' must be text.")
    now = clock.now()
    if "status" in changes:
        job.status = changes["status"]
        job.finished = now if job.status in FINISHED_JOB_STATUSES else NEVER
    job.priority, job.code = priority, code
    job.metadata = copy.deepcopy(metadata)
    if queue is not None:
        job.queue_id = queue.id
    job.modified, job.modifier = now, user.id
    return {"result": [job_row(ws, job)]}


def delete_job(ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
    """``job/delete``: remove the job with the event's ``id``."""
    job = visible_job(ws, user, event.get("id"))
    check_may_delete_job(user, job)
    del ws.jobs[job.id]
    return {"result": [{"id": job.id}]}


# ------------------------------------------------------------ tasks


def _task_job(ws: Workspace, user: User, event: Mapping[str, Any]) -> Job:
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
    return visible_job(ws, user, job_id)


def create_tasks(
    ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``task/create``: add tasks to a job; an existing task with the same paths is retried."""
    job = _task_job(ws, user, event)
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or not data["tasks"]:
        raise invalid(
            'task/create data must be {"tasks": [...]}',
            'Give the tasks as {"tasks": [<path> or {"source": ..., "destination": ...}]}.',
        )
    unknown = sorted(set(data) - {"tasks", "allow_duplicates"})
    if unknown:
        raise invalid(
            f"unknown task/create keys: {listing(unknown)}",
            f"Task create takes 'tasks' and 'allow_duplicates' only, not {listing(unknown)}.",
        )
    allow_duplicates = _checked_flag(data.get("allow_duplicates", True), "allow_duplicates")
    pairs = [_explicit_task(ws, item, mirrored_ok=job.mirrored) for item in data["tasks"]]
    now = clock.now()
    existing_by_paths = {(t.source["path"], t.destination["path"]): t for t in job.tasks}
    to_retry: Dict[str, Task] = {}  # by id: each existing task once, in request order
    to_add: Dict[Tuple[str, str], Tuple[Dict[str, Any], Dict[str, Any]]] = {}
    for src, dst in pairs:  # decide everything before changing anything
        key = (src["path"], dst["path"])
        existing = existing_by_paths.get(key)
        if existing is not None and not allow_duplicates:
            raise invalid(
                f"duplicate of task {existing.id}",
                f"Task {existing.id} (uri {existing.uri}) of job {job.id} already sends "
                f"{src['path']!r} to {dst['path']!r}; nothing was added. Leave "
                "allow_duplicates on to retry the existing task instead.",
            )
        if existing is not None:
            to_retry.setdefault(existing.id, existing)
        else:
            to_add.setdefault(key, (src, dst))
    result = []
    for task in to_retry.values():
        task.status, task.finished = "queued", NEVER
        result.append(task)
    for src, dst in to_add.values():
        task = _make_task(job, src, dst, now)
        job.tasks.append(task)
        result.append(task)
    job.modified, job.modifier = now, user.id
    return {"success": True, "result": [task_row(job, t) for t in result]}


def edit_tasks(ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
    """``task/edit``: a list of ``{"id": <task id>, ...changes}``; all checked first."""
    job = _task_job(ws, user, event)
    items = event.get("data")
    if not isinstance(items, list) or not items:
        raise invalid(
            'task/edit data must be a list of {"id": ..., ...changes}',
            'Tasks are updated as a list, e.g. [{"id": <task id>, "status": "onhold"}].',
        )
    tasks = {t.id: t for t in job.tasks}
    planned: List[Tuple[Task, Dict[str, Any]]] = []
    for item in items:  # validate every item before changing any
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise invalid(
                f"bad task change {item!r}",
                'Each task change must be an object with the task "id", e.g. '
                '{"id": <task id>, "status": "excluded"}.',
            )
        task = tasks.get(item["id"])
        if task is None:
            raise NotFound(
                f"task {item['id']} not found in job {job.id}",
                message_hr=(
                    f"Job {job.id} has no task {item['id']!r}; nothing was changed. "
                    f"List its tasks with find('Task where job.id={job.id}')."
                ),
            )
        changes = {k: v for k, v in item.items() if k != "id"}
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
            _check_status(changes["status"], "task", TASK_STATUSES, TASK_WRITEABLE_STATUSES)
        if "priority" in changes:
            _checked_priority(changes["priority"])
        if "metadata" in changes:
            _checked_metadata(changes["metadata"])
        planned.append((task, changes))
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
    return {"result": [task_row(job, t) for t in updated]}


def delete_tasks(
    ws: Workspace, clock: Clock, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``task/delete``: always refused; tasks are excluded, never deleted."""
    raise invalid(
        "tasks cannot be deleted",
        "Tasks cannot be deleted, for audit reasons; set their status to 'excluded' instead.",
    )


# ------------------------------------------------------------- validation


def _check_status(
    status: Any, entitytype: str, known: Tuple[str, ...], writeable: Tuple[str, ...]
) -> None:
    if status in writeable:
        return
    if status in known:
        problem = f"Status {status!r} cannot be set on a {entitytype}"
    else:
        problem = f"{status!r} is not a {entitytype} status"
    raise invalid(
        f"{entitytype} status {status!r} is not writeable",
        f"{problem}; writeable {entitytype} statuses are: {listing(writeable)}.",
    )


def _checked_priority(priority: Any) -> int:
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise invalid(
            f"priority must be a non-negative integer, not {priority!r}",
            f"'priority' must be a whole number of zero or more, not {priority!r}.",
        )
    return priority


def _checked_metadata(metadata: Any) -> Dict[str, Any]:
    if not isinstance(metadata, dict):
        raise invalid(
            "metadata must be an object",
            f"'metadata' must be an object (a dict), not {type(metadata).__name__}.",
        )
    return metadata


def _checked_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false", f"'{name}' must be true or false.")
    return value
