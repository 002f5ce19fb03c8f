"""Entities as the reference server shows them, and the texts that name them.

Outbound, the ``*_row`` functions turn :mod:`~accsyn_api.testing.model`
entities into the dicts of a reply. Inbound, :func:`resolve_endpoint`,
:func:`location`, :func:`queue_by_reference` and :func:`user_by_email` find
what an event's text refers to. No permissions here: callers decide who sees
what.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Dict, FrozenSet, Optional, Set, Tuple

from accsyn_api.errors import NotFound
from accsyn_api.testing.generations import V1_GENERATION, V3_GENERATION, Generation
from accsyn_api.testing.model import Endpoint, Job, Queue, Share, Site, Task, User, Workspace
from accsyn_api.testing.refusals import listing

__all__ = [
    "SCOPED_TEXT",
    "endpoint_hr",
    "endpoint_text",
    "endpoint_values",
    "job_attributes",
    "job_row",
    "location",
    "organization_row",
    "queue_by_reference",
    "queue_row",
    "resolve_endpoint",
    "share_row",
    "site_row",
    "task_attributes",
    "task_row",
    "user_by_email",
    "user_hr",
    "user_row",
]

SCOPED_TEXT = re.compile(
    r"^(organization|workspace|site|user|share)\s*[=:]\s*(.*)$", re.IGNORECASE | re.DOTALL
)
"""A text naming its scope first, such as ``share=projects/a.mov`` or ``user:lars@edit.com``."""

# --------------------------------------------------------- look-ups


def user_by_email(ws: Workspace, email: str) -> Optional[User]:
    """The user with this e-mail (any case, surrounding blanks ignored), or None."""
    wanted = email.strip().lower()
    return next((u for u in ws.users.values() if u.email == wanted), None)


def queue_by_reference(ws: Workspace, reference: Any) -> Queue:
    """The queue named by id, name or ``<domain>/<name>``; raises NotFound."""
    if isinstance(reference, str):
        wanted = reference.strip().lower()
        for queue in ws.queues.values():
            if wanted in (queue.id, queue.code, f"{ws.domain}/{queue.code}"):
                return queue
    raise NotFound(
        f"queue {reference!r} not found",
        message_hr=(
            f"There is no queue {reference!r}; give a queue name or id, one of: "
            f"{listing(q.code for q in ws.queues.values())}."
        ),
    )


# ------------------------------------------------------ endpoints


def resolve_endpoint(ws: Workspace, text: str) -> Tuple[Endpoint, Optional[str]]:
    """``"share=projects/a.mov"`` -> (share endpoint, "a.mov"); names, e-mails, ids."""
    scoped = SCOPED_TEXT.match(text.strip())
    scope = scoped.group(1).lower() if scoped else None
    if scope == "workspace":  # the v3 name of the organization
        scope = "organization"
    rest = scoped.group(2) if scoped else text.strip()
    name, _, path = rest.partition("/")
    wanted = name.strip().lower()
    found: Optional[Endpoint] = None
    if scope in (None, "user"):
        user = next(
            (u for u in ws.users.values() if wanted in (u.id, u.email)),
            None,
        )
        if user is not None:
            found = Endpoint("user", user.id)
    if found is None and scope in (None, "site", "organization"):
        site = next((s for s in ws.sites.values() if wanted in (s.id, s.code)), None)
        if site is not None:
            found = Endpoint("organization", ws.organization_id) if site.main else None
            found = found or Endpoint("site", site.id)
        elif wanted in (ws.organization_id, ws.domain):
            found = Endpoint("organization", ws.organization_id)
    if found is None and scope in (None, "share"):
        share = next((s for s in ws.shares.values() if wanted in (s.id, s.code)), None)
        if share is not None:
            found = Endpoint("share", share.id)
    if found is None:
        kind = scope or "user, site or share"
        raise NotFound(
            f"{kind} {name!r} not found",
            message_hr=(
                f"There is no {kind} {name!r} in workspace {ws.domain}. Give a user "
                f"e-mail ({listing(u.email for u in ws.users.values())}), a site "
                f"({listing(s.code for s in ws.sites.values())}) or a share as "
                f"'share=<share>/<path>' ({listing(s.code for s in ws.shares.values())})."
            ),
        )
    return found, (path or None)


def endpoint_hr(ws: Workspace, endpoint: Endpoint, gen: Generation = V1_GENERATION) -> str:
    """The human-readable form of an endpoint, e.g. ``user:lars@edit.com(user)`` on v1.0."""
    if endpoint.scope == "organization":
        return gen.hr("organization", code=ws.domain, id=ws.organization_id)
    if endpoint.scope == "user":
        return user_hr(ws.users[endpoint.id], gen)
    if endpoint.scope == "site":
        return gen.hr("site", code=ws.sites[endpoint.id].code, id=endpoint.id)
    return gen.hr("share", code=ws.shares[endpoint.id].code, id=endpoint.id)


def user_hr(user: User, gen: Generation = V1_GENERATION) -> str:
    """``user:<email>(<role>)`` on v1.0, ``user:<email>[<role>](<id>)`` on v3."""
    return gen.hr("user", email=user.email, role=gen.role(user.clearance), id=user.id)


def endpoint_text(endpoint: Endpoint, gen: Generation = V1_GENERATION) -> str:
    """``<scope>:<id>`` with the generation's scope name (v3: ``workspace:<id>``)."""
    return f"{gen.scope(endpoint.scope)}:{endpoint.id}"


def endpoint_values(ws: Workspace, endpoint: Endpoint) -> Set[str]:
    """Every text that names ``endpoint`` in a query, in either generation's forms:
    ids, scoped ids, names, ``*_hr``."""
    values = {endpoint.id}
    for gen in (V1_GENERATION, V3_GENERATION):
        values |= {endpoint_text(endpoint, gen), endpoint_hr(ws, endpoint, gen)}
    if endpoint.scope == "organization":
        values |= {ws.domain, *(f"{s.code}" for s in ws.sites.values() if s.main)}
        values |= {s.id for s in ws.sites.values() if s.main}
    elif endpoint.scope == "user":
        values.add(ws.users[endpoint.id].email)
    elif endpoint.scope == "site":
        values.add(ws.sites[endpoint.id].code)
    else:
        share = ws.shares[endpoint.id]
        values |= {share.code, ws.sites[share.site_id].code}
    return values


def location(ws: Workspace, text: str) -> Dict[str, Any]:
    """A task source or destination dict from a path, maybe ``share=<share>/<path>``."""
    if SCOPED_TEXT.match(text.strip()):
        endpoint, path = resolve_endpoint(ws, text)
        found: Dict[str, Any] = {"path": path or ""}
        found[endpoint.scope] = endpoint.id
        return found
    return {"path": text}


# ------------------------------------------------------------- rows


_JobGetter = Callable[[Workspace, Job, Generation], Any]
_TaskGetter = Callable[[Job, Task, Generation], Any]


def _queue_of(ws: Workspace, job: Job) -> Queue:
    return ws.queues[job.queue_id]


_JOB_ATTRIBUTES: Dict[str, _JobGetter] = {
    "id": lambda ws, job, gen: job.id,
    "code": lambda ws, job, gen: job.code,
    "name": lambda ws, job, gen: job.code,
    "uri": lambda ws, job, gen: f"{ws.domain}/{_queue_of(ws, job).code}",
    "status": lambda ws, job, gen: gen.job_status(job.status),
    "created": lambda ws, job, gen: job.created,
    "source": lambda ws, job, gen: endpoint_text(job.source, gen),
    "source_hr": lambda ws, job, gen: endpoint_hr(ws, job.source, gen),
    "destination": lambda ws, job, gen: endpoint_text(job.destination, gen),
    "destination_hr": lambda ws, job, gen: endpoint_hr(ws, job.destination, gen),
    "metadata": lambda ws, job, gen: job.metadata,
    "parent": lambda ws, job, gen: job.queue_id,
    "parent_hr": lambda ws, job, gen: gen.hr(
        "queue", domain=ws.domain, code=_queue_of(ws, job).code, id=job.queue_id
    ),
    "priority": lambda ws, job, gen: job.priority,
    "user": lambda ws, job, gen: job.user_id,
    "user_hr": lambda ws, job, gen: user_hr(ws.users[job.user_id], gen),
    "finished": lambda ws, job, gen: gen.finished_value(job.finished),
    "modified": lambda ws, job, gen: job.modified,
    "modifier": lambda ws, job, gen: job.modifier,
}
"""The job attributes that need no sum over the tasks, one function each."""

_TASK_ATTRIBUTES: Dict[str, _TaskGetter] = {
    "id": lambda job, task, gen: task.id,
    "uri": lambda job, task, gen: task.uri,
    "status": lambda job, task, gen: task.status,
    "created": lambda job, task, gen: task.created,
    "source": lambda job, task, gen: task.source,
    "destination": lambda job, task, gen: task.destination,
    "priority": lambda job, task, gen: task.priority,
    "size": lambda job, task, gen: task.size,
    "finished": lambda job, task, gen: gen.finished_value(task.finished),
    "time": lambda job, task, gen: task.time,
    "metadata": lambda job, task, gen: task.metadata,
    "job": lambda job, task, gen: job.id,
    "job_hr": lambda job, task, gen: gen.hr("job", code=job.code, id=job.id),
}

_KEY_SETS: Dict[Tuple[int, str], FrozenSet[str]] = {}


def _keys_of(gen: Generation, entitytype: str) -> FrozenSet[str]:
    """The attributes ``gen`` shows for ``entitytype``, as a set (made once per generation)."""
    found = _KEY_SETS.get((id(gen), entitytype))
    if found is None:
        found = _KEY_SETS[(id(gen), entitytype)] = frozenset(gen.entity_keys[entitytype])
    return found


def _job_figures(job: Job) -> Dict[str, Any]:
    """``size``, ``progress``, ``etr`` and ``speed``: summed over the tasks, or the simulation's."""
    counted = [t for t in job.tasks if t.status != "excluded"]
    done = sum(1 for t in counted if t.status == "done")
    sizes = [t.size for t in job.tasks]
    size = sum(sizes) if sizes and min(sizes) >= 0 else -1
    progress = (done * 100) // len(counted) if counted else 0
    etr, speed = "", 0.0
    if job.transfer is not None:  # figures of the transfer simulation
        size, progress = job.transfer.size, job.transfer.progress
        if job.status == "running":  # a job just paused or aborted moves no more bytes
            etr, speed = job.transfer.etr, job.transfer.speed
    return {"size": size, "progress": progress, "etr": etr, "speed": speed}


def job_row(ws: Workspace, job: Job, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The job as a reply of ``gen`` shows it, with its progress and size summed over its tasks.

    A job driven by the transfer simulation (``job.transfer`` set) shows the
    simulation's size, progress, speed and etr instead.
    """
    figures = _job_figures(job)
    row: Dict[str, Any] = {}
    for key in gen.entity_keys["job"]:
        getter = _JOB_ATTRIBUTES.get(key)
        row[key] = getter(ws, job, gen) if getter is not None else figures[key]
    if job.metadata:
        row["metadata"] = copy.deepcopy(job.metadata)
    else:
        row["metadata"] = {}
    return row


def job_attributes(ws: Workspace, job: Job, gen: Generation) -> Callable[[str], Any]:
    """``key -> the value of the job's row in gen`` (None when gen shows no such key),
    computing only what is asked; read-only values (metadata is the job's own dict)."""
    keys = _keys_of(gen, "job")
    figures: Optional[Dict[str, Any]] = None

    def attribute(key: str) -> Any:
        nonlocal figures
        if key not in keys:
            return None
        getter = _JOB_ATTRIBUTES.get(key)
        if getter is not None:
            return getter(ws, job, gen)
        if figures is None:
            figures = _job_figures(job)
        return figures[key]

    return attribute


def task_row(job: Job, task: Task, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The task of ``job`` as a reply of ``gen`` shows it."""
    row = {key: _TASK_ATTRIBUTES[key](job, task, gen) for key in gen.entity_keys["task"]}
    row["source"] = dict(task.source)  # flat: a path and an endpoint id
    row["destination"] = dict(task.destination)
    row["metadata"] = copy.deepcopy(task.metadata) if task.metadata else {}
    return row


def task_attributes(job: Job, task: Task, gen: Generation) -> Callable[[str], Any]:
    """``key -> the value of the task's row in gen`` (None when gen shows no such key);
    read-only values."""
    keys = _keys_of(gen, "task")

    def attribute(key: str) -> Any:
        return _TASK_ATTRIBUTES[key](job, task, gen) if key in keys else None

    return attribute


def _shaped(row: Dict[str, Any], gen: Generation, entitytype: str) -> Dict[str, Any]:
    """``row`` with the attributes of ``entitytype`` in ``gen``, in that order."""
    return {key: row[key] for key in gen.entity_keys[entitytype] if key in row}


def queue_row(ws: Workspace, queue: Queue, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The queue as a reply of ``gen`` shows it."""
    workspace = Endpoint("organization", ws.organization_id)
    row = {
        "id": queue.id,
        "code": queue.code,
        "name": queue.code,
        "uri": f"{ws.domain}/{queue.code}",
        "status": "enabled",
        "created": queue.created,
        "parent": ws.organization_id,
        "parent_hr": endpoint_hr(ws, workspace, gen),
        "priority": queue.priority,
    }
    return _shaped(row, gen, "queue")


def user_row(user: User, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The user as a reply shows it; ``code`` is the e-mail, the API key never shows."""
    row = {
        "id": user.id,
        "code": user.email,
        "clearance": user.clearance,
        "role": gen.role(user.clearance),
        "status": "enabled",
        "created": user.created,
    }
    return _shaped(row, gen, "user")


def site_row(site: Site, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The site as a reply shows it."""
    row = {
        "id": site.id,
        "code": site.code,
        "name": site.code,
        "main": site.main,
        "created": site.created,
    }
    return _shaped(row, gen, "site")


def share_row(ws: Workspace, share: Share, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The share (v3: folder) as a reply shows it."""
    site = ws.sites[share.site_id]
    row = {
        "id": share.id,
        "code": share.code,
        "name": share.code,
        "site": share.site_id,
        "site_hr": gen.hr("site", code=site.code, id=site.id),
        "created": share.created,
    }
    return _shaped(row, gen, "share")


def organization_row(ws: Workspace, gen: Generation = V1_GENERATION) -> Dict[str, Any]:
    """The organization (v3: the workspace) as a reply shows it."""
    row = {"id": ws.organization_id, "code": ws.domain, "name": ws.domain, "created": ws.created}
    return _shaped(row, gen, "organization")
