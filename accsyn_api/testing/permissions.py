"""Who may see and change what on the reference server (the *Roles* rule).

``admin`` and ``employee`` are staff: they see and change everything. A
restricted ``user`` sees only the jobs it created, sends or receives (any
other job is "not found"), creates jobs only to or from itself and deletes only
the jobs it created. It sends only what it may see: it sees no shares and no
other user, so no job or task of its making reads from or writes to a share,
and none reads from another user (:func:`check_may_create_job`,
:func:`check_may_add_tasks`, :func:`check_task_locations`).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from accsyn_api.errors import NotFound, PermissionDenied
from accsyn_api.testing.model import Endpoint, Job, User, Workspace

__all__ = [
    "can_see",
    "check_may_add_tasks",
    "check_may_create_job",
    "check_may_delete_job",
    "check_task_locations",
    "is_staff",
    "visible_job",
]


def is_staff(user: User) -> bool:
    """True for ``admin`` and ``employee``, who see and change everything."""
    return user.clearance in ("admin", "employee")


def can_see(user: User, job: Job) -> bool:
    """True when ``user`` is staff or created, sends or receives ``job``."""
    mine = Endpoint("user", user.id)
    return is_staff(user) or user.id == job.user_id or mine in (job.source, job.destination)


def visible_job(ws: Workspace, user: User, job_id: Any, noun: str = "job") -> Job:
    """The job with this id if ``user`` may see it, whatever its lifecycle; else NotFound.

    ``noun`` is what the caller's API generation calls a job (v3: ``transfer``).
    """
    job = ws.jobs.get(job_id) if isinstance(job_id, str) else None
    if job is None or not can_see(user, job):
        raise NotFound(
            f"{noun} {job_id} not found",
            message_hr=(
                f"No {noun} with id {job_id!r} exists in workspace {ws.domain} (or you may "
                f"not see it). Check the id; find('{noun.capitalize()}') lists the {noun}s "
                "you can see."
            ),
        )
    return job


def check_may_create_job(user: User, source: Endpoint, destination: Endpoint) -> None:
    """Raise PermissionDenied unless ``user`` may create a job between these endpoints.

    Staff may create any job. A restricted user must send or receive it, may
    not read from another user, and may not send from or to a share.
    """
    if is_staff(user):
        return
    if Endpoint("user", user.id) not in (source, destination):
        raise PermissionDenied(
            "restricted users may only create jobs they send or receive",
            message_hr=(
                "As a restricted user you may only create jobs that send from or to "
                f"yourself ({user.email}); ask an employee for other transfers."
            ),
        )
    _check_may_send_from(user, source)
    if destination.scope == "share":
        raise _share_refused(user)


def check_may_add_tasks(user: User, job: Job) -> None:
    """Raise PermissionDenied unless ``user`` may add tasks to ``job`` (which it sees).

    A restricted user may add tasks only to a job it could have created: one
    whose source is not a share nor another user, and whose destination is no share.
    """
    if is_staff(user):
        return
    _check_may_send_from(user, job.source)
    if job.destination.scope == "share":
        raise _share_refused(user)


def check_task_locations(user: User, locations: Iterable[Mapping[str, Any]]) -> None:
    """Raise PermissionDenied if a restricted ``user`` names a share in a task's
    source or destination (the dicts of ``locations``)."""
    if not is_staff(user) and any("share" in location for location in locations):
        raise _share_refused(user)


def _check_may_send_from(user: User, source: Endpoint) -> None:
    if source.scope == "share":
        raise _share_refused(user)
    if source.scope == "user" and source.id != user.id:
        raise PermissionDenied(
            "restricted users may not send another user's files",
            message_hr=(
                "As a restricted user you may only send your own files or the "
                "workspace's: a job may not read from another user. Ask that user to "
                "send the files instead."
            ),
        )


def _share_refused(user: User) -> PermissionDenied:
    return PermissionDenied(
        "restricted users may not send from or to a share",
        message_hr=(
            f"As a restricted user ({user.email}) you see no shares, so you may not send "
            "files from or to one; ask an employee to create this transfer."
        ),
    )


def check_may_delete_job(user: User, job: Job) -> None:
    """Raise PermissionDenied unless ``user`` is staff or created ``job``."""
    if not is_staff(user) and job.user_id != user.id:
        raise PermissionDenied(
            f"user may not delete job {job.id}",
            message_hr=(
                f"You may only delete jobs you created; job {job.id} ({job.code!r}) was "
                "created by someone else. Set its status to 'aborted' or ask an employee."
            ),
        )
