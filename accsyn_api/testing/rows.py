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
from typing import Any, Dict, Optional, Set, Tuple

from accsyn_api.errors import NotFound
from accsyn_api.testing.model import Endpoint, Job, Queue, Share, Site, Task, User, Workspace
from accsyn_api.testing.refusals import listing

__all__ = [
    "SCOPED_TEXT",
    "endpoint_hr",
    "endpoint_values",
    "job_row",
    "location",
    "organization_row",
    "queue_by_reference",
    "queue_row",
    "resolve_endpoint",
    "share_row",
    "site_row",
    "task_row",
    "user_by_email",
    "user_row",
]

SCOPED_TEXT = re.compile(
    r"^(organization|site|user|share)\s*[=:]\s*(.*)$", re.IGNORECASE | re.DOTALL
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


def endpoint_hr(ws: Workspace, endpoint: Endpoint) -> str:
    """The human-readable form of an endpoint, e.g. ``user:lars@edit.com(user)``."""
    if endpoint.scope == "organization":
        return f"organization:{ws.domain}"
    if endpoint.scope == "user":
        user = ws.users[endpoint.id]
        return f"user:{user.email}({user.clearance})"
    if endpoint.scope == "site":
        return f"site:{ws.sites[endpoint.id].code}"
    return f"share:{ws.shares[endpoint.id].code}"


def endpoint_values(ws: Workspace, endpoint: Endpoint) -> Set[str]:
    """Every text that names ``endpoint`` in a query: ids, scoped ids, names, ``*_hr``."""
    values = {str(endpoint), endpoint.id, endpoint_hr(ws, endpoint)}
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


def job_row(ws: Workspace, job: Job) -> Dict[str, Any]:
    """The job as a reply shows it, with its progress and size summed over its tasks.

    A job driven by the transfer simulation (``job.transfer`` set) shows the
    simulation's size, progress, speed and etr instead.
    """
    queue = ws.queues[job.queue_id]
    creator = ws.users[job.user_id]
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
    return {
        "id": job.id,
        "code": job.code,
        "uri": f"{ws.domain}/{queue.code}",
        "status": job.status,
        "created": job.created,
        "source": str(job.source),
        "source_hr": endpoint_hr(ws, job.source),
        "destination": str(job.destination),
        "destination_hr": endpoint_hr(ws, job.destination),
        "etr": etr,
        "metadata": copy.deepcopy(job.metadata),
        "parent": queue.id,
        "parent_hr": f"job:{ws.domain}/{queue.code}({queue.id})",
        "priority": job.priority,
        "progress": progress,
        "size": size,
        "speed": speed,
        "user": creator.id,
        "user_hr": f"user:{creator.email}({creator.clearance})",
        "finished": job.finished,
        "modified": job.modified,
        "modifier": job.modifier,
    }


def task_row(job: Job, task: Task) -> Dict[str, Any]:
    """The task of ``job`` as a reply shows it."""
    return {
        "id": task.id,
        "uri": task.uri,
        "status": task.status,
        "created": task.created,
        "source": copy.deepcopy(task.source),
        "destination": copy.deepcopy(task.destination),
        "priority": task.priority,
        "size": task.size,
        "finished": task.finished,
        "time": task.time,
        "metadata": copy.deepcopy(task.metadata),
        "job": job.id,
    }


def queue_row(ws: Workspace, queue: Queue) -> Dict[str, Any]:
    """The queue as a reply shows it."""
    return {
        "id": queue.id,
        "code": queue.code,
        "uri": f"{ws.domain}/{queue.code}",
        "status": "enabled",
        "created": queue.created,
        "parent": ws.organization_id,
        "parent_hr": f"organization:{ws.domain}",
        "priority": queue.priority,
    }


def user_row(user: User) -> Dict[str, Any]:
    """The user as a reply shows it; ``code`` is the e-mail, the API key never shows."""
    return {
        "id": user.id,
        "code": user.email,
        "clearance": user.clearance,
        "created": user.created,
    }


def site_row(site: Site) -> Dict[str, Any]:
    """The site as a reply shows it."""
    return {"id": site.id, "code": site.code, "main": site.main, "created": site.created}


def share_row(ws: Workspace, share: Share) -> Dict[str, Any]:
    """The share as a reply shows it."""
    return {
        "id": share.id,
        "code": share.code,
        "site": share.site_id,
        "site_hr": f"site:{ws.sites[share.site_id].code}",
        "created": share.created,
    }


def organization_row(ws: Workspace) -> Dict[str, Any]:
    """The organization (the workspace itself) as a reply shows it."""
    return {"id": ws.organization_id, "code": ws.domain, "created": ws.created}
