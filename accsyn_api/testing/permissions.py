"""Who may see and change what on the reference server (the *Roles* rule).

``admin`` and ``employee`` are staff: they see and change everything. A
restricted ``user`` sees only the jobs it created, sends or receives (any
other job is "not found"), creates jobs only to or from itself and deletes only
the jobs it created.
"""

from __future__ import annotations

from typing import Any

from accsyn_api.errors import NotFound, PermissionDenied
from accsyn_api.testing.model import Endpoint, Job, User, Workspace

__all__ = ["can_see", "check_may_create_job", "check_may_delete_job", "is_staff", "visible_job"]


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
    """Raise PermissionDenied unless ``user`` is staff or sends or receives the job."""
    mine = Endpoint("user", user.id)
    if not is_staff(user) and mine not in (source, destination):
        raise PermissionDenied(
            "restricted users may only create jobs they send or receive",
            message_hr=(
                "As a restricted user you may only create jobs that send from or to "
                f"yourself ({user.email}); ask an employee for other transfers."
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
