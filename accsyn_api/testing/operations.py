"""The operations that change jobs (v3: transfers): create, edit and delete.

Each ``*_jobs``/``*_job`` function answers one event for an authenticated
``user`` against the workspace, in the words of a
:class:`~accsyn_api.testing.generations.Generation`, returning the
``{"result": ...}`` reply or raising an :mod:`accsyn_api.errors` refusal.
Every request is validated whole before anything changes, so a refused event
leaves the workspace as it was. Jobs are reached by id whatever their
lifecycle state. The validators at the end serve the task operations
(:mod:`~accsyn_api.testing.task_operations`) too; :func:`check_task_paths`
refuses what no real path is (see :data:`MAX_PATH_LENGTH`).
"""

from __future__ import annotations

import copy
import posixpath
import re
import uuid
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from accsyn_api.testing.generations import Generation
from accsyn_api.testing.model import (
    DEFAULT_JOB_PRIORITY,
    FINISHED_JOB_STATUSES,
    JOB_CREATE_KEYS,
    JOB_EDITABLE_KEYS,
    NEVER,
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
    check_task_locations,
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
)

__all__ = [
    "MAX_PATH_LENGTH",
    "check_status",
    "check_task_paths",
    "checked_flag",
    "checked_metadata",
    "checked_priority",
    "create_jobs",
    "delete_job",
    "edit_job",
    "explicit_task",
    "make_task",
]

DEFAULT_QUEUE = "medium"
MAX_PATH_LENGTH = 4096
"""The longest task path accepted, in characters."""
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PATH_SEPARATORS = re.compile(r"[/\\]+")
JOB_SPEC_OPTIONS = ("tasks", "queue", "allow_duplicates")
"""What a job spec may hold besides attributes: its tasks, ``queue`` (the older name of
``parent``) and the duplicates flag."""
JOB_SPEC_KEYS = (*JOB_CREATE_KEYS, *JOB_SPEC_OPTIONS)

# ------------------------------------------------------------- jobs


def create_jobs(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
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
        _new_job(ws, clock, gen, user, spec) for spec in specs if isinstance(spec, dict)
    ]  # validate all before adding any
    for job in jobs:
        ws.jobs[job.id] = job
    return {"result": [job_row(ws, job, gen) for job in jobs]}


def _new_job(
    ws: Workspace, clock: Clock, gen: Generation, user: User, spec: Mapping[str, Any]
) -> Job:
    known = (*JOB_SPEC_KEYS, *gen.job_create_extras)
    unknown = sorted(set(spec) - set(known))
    entity = gen.shown_type("job")
    if unknown:
        raise invalid(
            f"unknown {entity} attributes: {listing(unknown)}",
            f"A {entity} cannot be created with {listing(unknown)}. Its attributes are "
            f"{listing((*JOB_CREATE_KEYS, *gen.job_create_extras))}; besides them a spec may "
            f"hold {listing(JOB_SPEC_OPTIONS)}.",
        )
    spec = _code_from_name(spec)
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
        check_status(status, entity, gen.job_statuses, gen.job_writeable_statuses)
    priority = checked_priority(spec.get("priority", DEFAULT_JOB_PRIORITY))
    metadata = checked_metadata(spec.get("metadata", {}))
    queue_ref = spec.get("parent", spec.get("queue", DEFAULT_QUEUE))
    queue = queue_by_reference(ws, queue_ref)
    allow_duplicates = checked_flag(spec.get("allow_duplicates", True), "allow_duplicates")
    checked_flag(spec.get("replace_duplicates", False), "replace_duplicates")
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
            pairs.append(explicit_task(ws, item, mirrored_ok=True))
    check_task_paths(pairs)
    check_task_locations(user, [location for pair in pairs for location in pair])
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
        job.tasks.append(make_task(job, src, dst, now))
    if not allow_duplicates:
        _refuse_duplicate_job(ws, user, job)
    return job


def _code_from_name(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` with a v3 ``name`` given as the ``code`` (one value under two names)."""
    if "name" not in spec:
        return spec
    if "code" in spec and spec["code"] != spec["name"]:
        raise invalid(
            "both 'name' and 'code' given, with different values",
            "'name' and 'code' are the same attribute: give one of them.",
        )
    return {("code" if key == "name" else key): value for key, value in spec.items()}


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


def explicit_task(
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
        return explicit_task(ws, item["source"], mirrored_ok=mirrored_ok)
    if not isinstance(destination, str):
        raise invalid("task destination must be a string", "A task destination is a path.")
    return location(ws, item["source"]), location(ws, destination)


def make_task(
    job: Job,
    source: Dict[str, Any],
    destination: Dict[str, Any],
    now: datetime,
    uri: Optional[str] = None,
) -> Task:
    """A new queued task of ``job``; its ``uri`` is its position unless given."""
    return Task(
        id=str(uuid.uuid4()),
        uri=str(len(job.tasks)) if uri is None else uri,
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


def edit_job(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``job/edit``: change the editable attributes of the job with the event's ``id``."""
    job = visible_job(ws, user, event.get("id"), gen.shown_type("job"))
    changes = event.get("data")
    entity = gen.shown_type("job")
    editable = (*JOB_EDITABLE_KEYS, *gen.job_edit_extras)
    if not isinstance(changes, dict) or not changes:
        raise invalid(
            f"{entity}/edit data must be a non-empty object",
            f'Give the changes as an object, e.g. {{"status": "paused"}}; editable {entity} '
            f"attributes are: {listing(editable)}.",
        )
    changes = dict(changes)
    if "queue" in changes and "parent" not in changes:
        changes["parent"] = changes.pop("queue")
    refused = sorted(set(changes) - set(editable))
    if refused:
        raise invalid(
            f"{entity} attributes not editable: {listing(refused)}",
            f"{listing(refused)} of a {entity} cannot be changed; editable {entity} attributes "
            f"are: {listing(editable)}.",
        )
    changes = dict(_code_from_name(changes))
    if "status" in changes:
        check_status(changes["status"], entity, gen.job_statuses, gen.job_writeable_statuses)
    priority = checked_priority(changes.get("priority", job.priority))
    metadata = checked_metadata(changes.get("metadata", job.metadata))
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
    return {"result": [job_row(ws, job, gen)]}


def delete_job(
    ws: Workspace, clock: Clock, gen: Generation, user: User, event: Mapping[str, Any]
) -> Dict[str, Any]:
    """``job/delete``: remove the job with the event's ``id``.

    v1.0 deletes it for good; v3 moves it to the archive (``delete_one`` =
    "delete (archive)"), where ``get_entity`` and ``archived=True`` still find
    it and nothing changes it any more. The data may be absent, ``null`` or
    (v3) ``{"force": true}``: a job has no related entities that would block
    its deletion, so ``force`` changes nothing.
    """
    job = visible_job(ws, user, event.get("id"), gen.shown_type("job"))
    check_may_delete_job(user, job)
    del ws.jobs[job.id]
    if gen.delete_archives:
        ws.deleted_jobs[job.id] = job
    return {"result": gen.deleted_result(job.id)}


# ------------------------------------------------------------- validation


def check_task_paths(pairs: Iterable[Tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
    """Refuse a task source or destination path that no real path is.

    Refused: more than :data:`MAX_PATH_LENGTH` characters, a control character
    (NUL, newline...), or ``..`` segments climbing above the path's start.
    """
    for pair in pairs:
        for what, place in zip(("source", "destination"), pair):
            path = place.get("path")
            if not isinstance(path, str):
                continue
            problem = _path_problem(path)
            if problem is not None:
                shown = repr(path[:80]) + ("..." if len(path) > 80 else "")
                raise invalid(
                    f"task {what} path refused: {problem}",
                    f"The task {what} path {shown} cannot be used: {problem}. Give a path of "
                    f"at most {MAX_PATH_LENGTH} characters, without control characters, that "
                    "stays inside its share, folder or home ('..' may not climb above it).",
                )


def _path_problem(path: str) -> Optional[str]:
    if len(path) > MAX_PATH_LENGTH:
        return f"it has {len(path)} characters, more than {MAX_PATH_LENGTH}"
    control = _CONTROL_CHARACTER.search(path)
    if control is not None:
        return f"it holds the control character {control.group()!r}"
    depth = 0
    for segment in _PATH_SEPARATORS.split(path):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return "its '..' segments climb above its start"
        elif segment not in ("", "."):
            depth += 1
    return None


def check_status(
    status: Any, entitytype: str, known: Tuple[str, ...], writeable: Tuple[str, ...]
) -> None:
    """Refuse a ``status`` that a client may not set on ``entitytype``, naming those it may."""
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


def checked_priority(priority: Any) -> int:
    """``priority`` if it is a whole number >= 0; else an InvalidData refusal."""
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise invalid(
            f"priority must be a non-negative integer, not {priority!r}",
            f"'priority' must be a whole number of zero or more, not {priority!r}.",
        )
    return priority


def checked_metadata(metadata: Any) -> Dict[str, Any]:
    """``metadata`` if it is an object; else an InvalidData refusal."""
    if not isinstance(metadata, dict):
        raise invalid(
            "metadata must be an object",
            f"'metadata' must be an object (a dict), not {type(metadata).__name__}.",
        )
    return metadata


def checked_flag(value: Any, name: str) -> bool:
    """``value`` if it is true or false; else an InvalidData refusal."""
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false", f"'{name}' must be true or false.")
    return value
