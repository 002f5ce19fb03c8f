"""The reference server's state, without rules: entities, statuses, ids and the clock.

A :class:`Workspace` holds the users, sites, shares, queues and jobs (with their
tasks) of one accsyn workspace. The tables here say which statuses and
attributes exist and which of them clients may write; the rules that use them
live in :mod:`accsyn_api.testing.backend` and the modules it calls.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from accsyn_api.protocol import names

__all__ = [
    "DEFAULT_JOB_PRIORITY",
    "DEFAULT_TASK_PRIORITY",
    "ENTITY_KEYS",
    "FINISHED_JOB_STATUSES",
    "JOB_CREATE_KEYS",
    "JOB_EDITABLE_KEYS",
    "JOB_STATUSES",
    "JOB_WRITEABLE_STATUSES",
    "NEVER",
    "TASK_EDITABLE_KEYS",
    "TASK_STATUSES",
    "TASK_WRITEABLE_STATUSES",
    "V1_ENTITY_KEYS",
    "V3_ENTITY_KEYS",
    "Clock",
    "Endpoint",
    "Job",
    "JobTransfer",
    "Queue",
    "Share",
    "Site",
    "Task",
    "User",
    "Workspace",
    "new_id",
]


def _words(text: str) -> Tuple[str, ...]:
    return tuple(text.split())


NEVER = datetime(1970, 1, 1, 0, 0)
"""The ``finished`` value of a job or task that has not finished (stored; v3 shows null)."""

JOB_STATUSES = names.JOB_STATUSES[names.V1]
"""Every job status the backend stores: those of v1.0 (v3 lacks ``pending``)."""
JOB_WRITEABLE_STATUSES = names.JOB_WRITEABLE_STATUSES[names.V1]
FINISHED_JOB_STATUSES = names.FINISHED_JOB_STATUSES
TASK_STATUSES = names.TASK_STATUSES
TASK_WRITEABLE_STATUSES = names.TASK_WRITEABLE_STATUSES
DEFAULT_JOB_PRIORITY = 50
DEFAULT_TASK_PRIORITY = 1

JOB_KEYS = _words(
    "id code uri status created source source_hr destination destination_hr etr metadata "
    "parent parent_hr priority progress size speed user user_hr finished modified modifier"
)
TASK_KEYS = _words(
    "id uri status created source destination priority size finished time metadata job"
)
QUEUE_KEYS = ("id", "code", "uri", "status", "created", "parent", "parent_hr", "priority")
USER_KEYS = ("id", "code", "clearance", "created")
SITE_KEYS = ("id", "code", "main", "created")
SHARE_KEYS = ("id", "code", "site", "site_hr", "created")
ORGANIZATION_KEYS = ("id", "code", "created")

JOB_CREATE_KEYS = ("code", "destination", "metadata", "parent", "priority", "source", "status")
JOB_EDITABLE_KEYS = ("code", "metadata", "parent", "priority", "status")
TASK_EDITABLE_KEYS = ("metadata", "priority", "status")

V1_ENTITY_KEYS: Dict[str, Tuple[str, ...]] = {
    "job": JOB_KEYS,
    "task": TASK_KEYS,
    "queue": QUEUE_KEYS,
    "user": USER_KEYS,
    "site": SITE_KEYS,
    "share": SHARE_KEYS,
    "organization": ORGANIZATION_KEYS,
}
"""The attributes of each entity type on v1.0, by the backend's entity type names."""

V3_ENTITY_KEYS: Dict[str, Tuple[str, ...]] = {
    "job": (*JOB_KEYS[:2], "name", *JOB_KEYS[2:]),
    "task": (*TASK_KEYS, "job_hr"),
    "queue": (*QUEUE_KEYS[:2], "name", *QUEUE_KEYS[2:]),
    "user": ("id", "code", "role", "status", "created"),
    "site": (*SITE_KEYS[:2], "name", *SITE_KEYS[2:]),
    "share": (*SHARE_KEYS[:2], "name", *SHARE_KEYS[2:]),
    "organization": (*ORGANIZATION_KEYS[:2], "name", *ORGANIZATION_KEYS[2:]),
}
"""The attributes of each entity type on v3 (``job`` is shown as ``transfer``, ``share``
as ``folder``, ``organization`` as ``workspace``)."""

ENTITY_KEYS: Dict[str, Tuple[str, ...]] = {
    entitytype: tuple(dict.fromkeys((*keys, *V3_ENTITY_KEYS[entitytype])))
    for entitytype, keys in V1_ENTITY_KEYS.items()
}
"""The attributes a query may name, per entity type: those of either generation.

An attribute only the other generation shows matches nothing (its value is unset)."""


class Clock:
    """The backend's notion of now: real UTC time plus an offset that tests move.

    ``Clock()`` follows real time; ``Clock(start)`` starts at ``start`` (naive
    UTC) and runs on from there. :meth:`advance` jumps ahead.
    """

    def __init__(self, start: Optional[datetime] = None) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()  # advance() may race with another thread's advance()
        if start is not None:
            self._offset = start.replace(tzinfo=None) - self._real_now()

    @staticmethod
    def _real_now() -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)

    def now(self) -> datetime:
        """Now, as a naive UTC datetime with whole seconds."""
        return self.instant().replace(microsecond=0)

    def instant(self) -> datetime:
        """Now, as a naive UTC datetime with microseconds (for the transfer simulation)."""
        return self._real_now() + self._offset

    def advance(self, **timedelta_kwargs: float) -> None:
        """Move time forward, e.g. ``advance(hours=2)`` or ``advance(days=15)``."""
        step = timedelta(**timedelta_kwargs)
        with self._lock:
            self._offset += step


@dataclass
class User:
    id: str
    email: str
    clearance: str  # "admin" | "employee" | "user"
    api_key: str
    created: datetime


@dataclass
class Site:
    id: str
    code: str
    main: bool
    created: datetime


@dataclass
class Share:
    id: str
    code: str
    site_id: str
    created: datetime


@dataclass
class Queue:
    id: str
    code: str
    priority: int
    created: datetime


@dataclass(frozen=True)
class Endpoint:
    """One end of a transfer: ``scope`` is organization, site, user or share."""

    scope: str
    id: str

    def __str__(self) -> str:
        return f"{self.scope}:{self.id}"


@dataclass
class Task:
    id: str
    uri: str
    status: str
    created: datetime
    source: Dict[str, Any]
    destination: Dict[str, Any]
    priority: int = DEFAULT_TASK_PRIORITY
    size: int = -1
    finished: datetime = NEVER
    time: int = 0
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class JobTransfer:
    """A job's transfer figures while the simulation drives it (see ``simulation.py``).

    ``size`` in bytes, ``progress`` 0..100, ``speed`` in MB/s, ``etr`` as
    ``"0h:1m:5s"`` (empty when the job is not running).
    """

    size: int = -1
    progress: int = 0
    speed: float = 0.0
    etr: str = ""


@dataclass
class Job:
    id: str
    code: str
    status: str
    created: datetime
    source: Endpoint
    destination: Endpoint
    queue_id: str
    user_id: str
    modified: datetime
    modifier: str
    priority: int = DEFAULT_JOB_PRIORITY
    metadata: Dict[str, Any] = field(default_factory=dict)
    finished: datetime = NEVER
    tasks: List[Task] = field(default_factory=list)
    mirrored: bool = True
    """Whether the job sends files with mirrored paths, so tasks may be added without a
    destination: true unless the job was created with explicit task destinations."""
    transfer: Optional[JobTransfer] = None
    """Set once the transfer simulation has started the job; None otherwise."""


@dataclass
class Workspace:
    """Everything the backend holds; dicts keep creation order."""

    organization_id: str
    domain: str
    created: datetime
    users: Dict[str, User] = field(default_factory=dict)
    sites: Dict[str, Site] = field(default_factory=dict)
    shares: Dict[str, Share] = field(default_factory=dict)
    queues: Dict[str, Queue] = field(default_factory=dict)
    jobs: Dict[str, Job] = field(default_factory=dict)
    deleted_jobs: Dict[str, Job] = field(default_factory=dict)
    """Jobs deleted through v3, which archives them: found by id and with ``archived``."""
    version: int = 0
    """Moves on whenever jobs or tasks may have changed (the backend moves it after every
    write and simulation step): what finds keep is valid for one version only."""


def new_id() -> str:
    """A fresh entity id: 24 lower-case hex digits."""
    return secrets.token_hex(12)
