"""The demo workspace ``acmevfx``: the users, sites, queues, jobs and tasks of ``jobs.rst``.

Every example of the Jobs chapter runs as written against it. Its users (each
workspace gets new API keys, see :func:`build_workspace`):

==========================  ==========  ==================================
e-mail                      clearance   id
==========================  ==========  ==================================
admin@acmevfx.com           admin       61bf395c46ed6081a2b2afc0
employee@acmevfx.com        employee    5d91b33ac71c12871d1fc3b7
lars@edit.com               user        5d91b33ac71c12871d1fc3c2
user@mail.com               user        60c1e2f3a4b5c6d7e8f90a1b
==========================  ==========  ==================================

Jobs whose lifecycle matters are dated relative to the backend's clock: an
aborted job finished two hours ago (found with ``finished=True``) and a done
job finished twenty days ago (found with ``archived=True``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional

from accsyn_api.testing.model import (
    Endpoint,
    Job,
    Queue,
    Share,
    Site,
    Task,
    User,
    Workspace,
)

DOMAIN = "acmevfx"
ORGANIZATION_ID = "5a4f71ef1da7ee15c5d43ae3"
HQ_SITE_ID = "5c5bf52a1da7ee0165105b85"
STOCKHOLM_SITE_ID = "5c5bf52a1da7ee0165105b91"
PROJECTS_SHARE_ID = "5c5bf6101da7ee0165105ba0"
MEDIUM_QUEUE_ID = "5a4f72111da7ee15c5d43af4"
HIGH_QUEUE_ID = "5a4f72111da7ee15c5d43af2"
LOW_QUEUE_ID = "5a4f72111da7ee15c5d43af6"
ADMIN_ID = "61bf395c46ed6081a2b2afc0"
EMPLOYEE_ID = "5d91b33ac71c12871d1fc3b7"
LARS_ID = "5d91b33ac71c12871d1fc3c2"
USER_ID = "60c1e2f3a4b5c6d7e8f90a1b"

USER_BY_ROLE = {
    "admin": "admin@acmevfx.com",
    "employee": "employee@acmevfx.com",
    "user": "user@mail.com",
    "standard": "user@mail.com",
}
"""The demo user behind ``Backend.credentials(role)``; ``standard`` is the v3 name of the
restricted ``user`` role."""

FIXED_API_KEYS: Mapping[str, str] = {
    "admin@acmevfx.com": "demo-admin-key-7f3e9a21c4b8",
    "employee@acmevfx.com": "demo-employee-key-2b6d8f04e1a9",
    "lars@edit.com": "demo-lars-key-9c1a5e73d2f0",
    "user@mail.com": "demo-user-key-4e8b0c62a7d3",
}
"""Published API keys, by user e-mail, for reproducible tests only
(``LocalServer(fixed_keys=True)``, ``Backend(api_keys=FIXED_API_KEYS)``): anyone
who can reach a server using them can log in as its admin."""

_USERS = (
    (ADMIN_ID, "admin@acmevfx.com", "admin"),
    (EMPLOYEE_ID, "employee@acmevfx.com", "employee"),
    (LARS_ID, "lars@edit.com", "user"),
    (USER_ID, "user@mail.com", "user"),
)


def new_api_keys() -> Dict[str, str]:
    """A fresh random API key (``secrets.token_urlsafe(24)``) for each demo user, by e-mail."""
    return {email: secrets.token_urlsafe(24) for _, email, _ in _USERS}


JOB_LATEST_EDIT = "614d660de50d45bb027c9bdd"
JOB_CAMERA_ROLLS = "5a7325f8b7ef72f5f9d74bf4"
JOB_X_AND_Y = "6150a1c2e50d45bb027c9c01"
JOB_MY_TRANSFER = "6150a1c2e50d45bb027c9c02"
JOB_UPLOAD = "6150a1c2e50d45bb027c9c03"
JOB_ABORTED = "6150a1c2e50d45bb027c9c04"
JOB_ARCHIVED = "6150a1c2e50d45bb027c9c05"

_ORGANIZATION = Endpoint("organization", ORGANIZATION_ID)
_LARS = Endpoint("user", LARS_ID)
_STOCKHOLM = Endpoint("site", STOCKHOLM_SITE_ID)


def build_workspace(
    now: datetime, *, with_jobs: bool = True, api_keys: Optional[Mapping[str, str]] = None
) -> Workspace:
    """A fresh demo workspace; ``now`` dates the jobs whose lifecycle matters.

    ``api_keys`` (by user e-mail, every demo user) defaults to :func:`new_api_keys`.
    """
    keys = new_api_keys() if api_keys is None else dict(api_keys)
    missing = [email for _, email, _ in _USERS if not keys.get(email)]
    if missing:
        raise ValueError(f"api_keys has no key for {', '.join(missing)}")
    founded = datetime(2018, 1, 5, 9, 0, 0)
    workspace = Workspace(organization_id=ORGANIZATION_ID, domain=DOMAIN, created=founded)
    for user_id, email, clearance in _USERS:
        workspace.users[user_id] = User(user_id, email, clearance, keys[email], founded)
    workspace.sites[HQ_SITE_ID] = Site(HQ_SITE_ID, "hq", True, founded)
    workspace.sites[STOCKHOLM_SITE_ID] = Site(STOCKHOLM_SITE_ID, "stockholm", False, founded)
    workspace.shares[PROJECTS_SHARE_ID] = Share(PROJECTS_SHARE_ID, "projects", HQ_SITE_ID, founded)
    for queue_id, code, priority in (
        (HIGH_QUEUE_ID, "high", 75),
        (MEDIUM_QUEUE_ID, "medium", 50),
        (LOW_QUEUE_ID, "low", 25),
    ):
        workspace.queues[queue_id] = Queue(queue_id, code, priority, founded)
    if with_jobs:
        for job in _demo_jobs(now):
            workspace.jobs[job.id] = job
    return workspace


def _task(
    task_id: str,
    uri: int,
    status: str,
    created: datetime,
    source: str,
    destination: Optional[str] = None,
    *,
    size: int = -1,
    extra_source: Optional[Dict[str, Any]] = None,
    extra_destination: Optional[Dict[str, Any]] = None,
) -> Task:
    return Task(
        id=task_id,
        uri=str(uri),
        status=status,
        created=created,
        source={"path": source, **(extra_source or {})},
        destination={"path": destination or source, **(extra_destination or {})},
        size=size,
    )


def _demo_jobs(now: datetime) -> List[Job]:
    edit_created = datetime(2021, 9, 24, 7, 45, 49)
    rolls_created = datetime(2020, 8, 4, 9, 52, 27)
    recent = now - timedelta(days=1)
    latest_edit = Job(
        id=JOB_LATEST_EDIT,
        code="latest_edit.mov",
        status="init",
        created=edit_created,
        source=_ORGANIZATION,
        destination=_LARS,
        queue_id=MEDIUM_QUEUE_ID,
        user_id=EMPLOYEE_ID,
        modified=datetime(2021, 10, 26, 8, 12, 36),
        modifier=ADMIN_ID,
        tasks=[
            _task(
                "b8401ce0-9c6c-4c32-98c6-61d18db01f07",
                0,
                "queued",
                edit_created,
                "thefilm/latest_edit.mov",
            ),
            _task(
                "3f1c2a9e-7b1d-4c55-9a0e-2d6f0c8b4e11",
                1,
                "queued",
                edit_created,
                "thefilm/latest_edit_notes.txt",
            ),
        ],
    )
    camera_rolls = Job(
        id=JOB_CAMERA_ROLLS,
        code="A001_C011_09187Ia.mov",
        status="running",
        created=rolls_created,
        source=_ORGANIZATION,
        destination=_LARS,
        queue_id=MEDIUM_QUEUE_ID,
        user_id=EMPLOYEE_ID,
        modified=rolls_created,
        modifier=EMPLOYEE_ID,
        mirrored=False,
        tasks=[
            _rolls_task("26468234-c9ee-48d6-8d28-e900b5957129", 0, "queued", "09187Ia"),
            _rolls_task("9d2b7c4e-1f3a-4e8b-b6c5-0a7e3d2f1c98", 1, "executing", "09188Ia"),
        ],
    )
    x_and_y = Job(
        id=JOB_X_AND_Y,
        code="x and y.png",
        status="paused",
        created=recent,
        source=Endpoint("share", PROJECTS_SHARE_ID),
        destination=_LARS,
        queue_id=MEDIUM_QUEUE_ID,
        user_id=EMPLOYEE_ID,
        modified=recent,
        modifier=EMPLOYEE_ID,
        tasks=[
            _task(
                "5e0d1c3b-8a4f-4d2e-9b7c-6f1a0e3d5c22",
                0,
                "onhold",
                recent,
                "thefilm/stills/x and y.png",
                size=482113,
                extra_source={"share": PROJECTS_SHARE_ID},
            )
        ],
    )
    my_transfer = Job(
        id=JOB_MY_TRANSFER,
        code="my_transfer",
        status="waiting",
        created=recent,
        source=_ORGANIZATION,
        destination=_STOCKHOLM,
        queue_id=HIGH_QUEUE_ID,
        user_id=ADMIN_ID,
        modified=recent,
        modifier=ADMIN_ID,
        tasks=[
            _task(
                "cc5f2afa-9ae4-46e0-9273-82ac802b20ff",
                0,
                "queued",
                recent,
                "thefilm/shots/sh010/plate.exr",
                size=52428800,
            ),
            _task(
                "a7e4b2d1-3c5f-4e6a-8b9d-0c1e2f3a4b55",
                1,
                "queued",
                recent,
                "thefilm/shots/sh020/plate.exr",
                size=50331648,
            ),
        ],
    )
    upload = Job(
        id=JOB_UPLOAD,
        code="upload_from_user.zip",
        status="running",
        created=recent,
        source=Endpoint("user", USER_ID),
        destination=_ORGANIZATION,
        queue_id=MEDIUM_QUEUE_ID,
        user_id=USER_ID,
        modified=recent,
        modifier=USER_ID,
        tasks=[
            _task(
                "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
                0,
                "executing",
                recent,
                "/home/user/upload_from_user.zip",
                "incoming/upload_from_user.zip",
                size=10485760,
            )
        ],
    )
    aborted = Job(
        id=JOB_ABORTED,
        code="old_delivery.mov",
        status="aborted",
        created=recent,
        source=_ORGANIZATION,
        destination=_LARS,
        queue_id=MEDIUM_QUEUE_ID,
        user_id=EMPLOYEE_ID,
        modified=now - timedelta(hours=2),
        modifier=EMPLOYEE_ID,
        finished=now - timedelta(hours=2),
        tasks=[
            _task(
                "d4c3b2a1-0f9e-4d8c-b7a6-5e4d3c2b1a00",
                0,
                "failed",
                recent,
                "thefilm/old_delivery.mov",
                size=73400320,
            )
        ],
    )
    archived_created = now - timedelta(days=21)
    archived = Job(
        id=JOB_ARCHIVED,
        code="archive_delivery.mov",
        status="done",
        created=archived_created,
        source=_ORGANIZATION,
        destination=_STOCKHOLM,
        queue_id=LOW_QUEUE_ID,
        user_id=EMPLOYEE_ID,
        modified=now - timedelta(days=20),
        modifier=EMPLOYEE_ID,
        finished=now - timedelta(days=20),
        tasks=[
            Task(
                id="e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9",
                uri="0",
                status="done",
                created=archived_created,
                source={"path": "thefilm/archive_delivery.mov"},
                destination={"path": "thefilm/archive_delivery.mov"},
                size=94371840,
                finished=now - timedelta(days=20),
                time=3600,
            )
        ],
    )
    return [latest_edit, camera_rolls, x_and_y, my_transfer, upload, aborted, archived]


def _rolls_task(task_id: str, uri: int, status: str, clip: str) -> Task:
    """A task shaped like the task example of jobs.rst."""
    name = f"A001_C011_{clip}.mov"
    return Task(
        id=task_id,
        uri=str(uri),
        status=status,
        created=datetime(2020, 8, 4, 9, 52, 27),
        source={
            "client": "5da08873b0eb10fade60b3f7",
            "o": ORGANIZATION_ID,
            "path": name,
            "path_abs_final": f"X:\\{name}",
            "r_s": HQ_SITE_ID,
            "slave": True,
            "user": LARS_ID,
        },
        destination={
            "client": "5da09b9ae1b3c330746529ec",
            "master": True,
            "path": f"/Users/tommy/Downloads/{name}",
            "path_abs_final": f"/Users/tommy/Downloads/{name}",
            "user": LARS_ID,
        },
        priority=1,
        size=128868496,
        finished=datetime(2020, 8, 4, 10, 12, 26),
        time=110239,
    )
