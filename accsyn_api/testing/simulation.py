"""Simulated transfers: jobs that are allowed to run move forward with the clock.

With ``Backend(simulate=True)`` the reference server drives its jobs as if
files were being sent, so that :meth:`accsyn_api.Session.wait`, progress bars
and scripts that poll can be seen working for real. Nothing runs in the
background: :meth:`TransferSimulation.advance` works out, from the clock, what
has happened since it was last called. The backend calls it before and after
every event it handles, under its lock, so moving a test's clock
(``clock.advance(minutes=5)``) moves the transfers forward just as real time
does.

The rules:

* The jobs already in the workspace when the simulation first looks (the
  demo data's jobs, as the documentation shows them) stand still until a
  client changes their status: resuming one (``waiting``), pausing it, or
  any other status change sets it moving by the rules below, from that
  moment. Jobs created afterwards move from the start.
* A new job stays in ``init`` for :data:`MEASURING_SECONDS` after it was
  created (its size is being measured), then starts; a job set ``waiting``
  starts at once. Starting, its tasks get a size when theirs is unknown (see
  :func:`simulated_size`) and it becomes ``running``.
  There is no queueing: every running job transfers at the full ``speed``.
* A running job sends its tasks one after the other, in task order: each goes
  ``queued`` -> ``executing`` -> ``done`` (with ``finished`` and ``time`` set).
  Tasks that are ``excluded`` or ``onhold`` are skipped and left as they are;
  ``failed`` tasks are not retried (set them to ``queued`` to retry).
* When no task is left to send, the job becomes ``done`` (``failed`` if one
  of its tasks failed), with ``finished`` the moment the last byte arrived,
  whenever someone looks.
* Jobs that are ``pending``, ``paused``, ``aborted``, ``failed`` or ``done``
  do not move. A paused job resumed (``waiting``) goes on where it stopped.
* The job's ``size`` is the sum of the sizes of the tasks to send (excluded
  and onhold tasks left out), ``progress`` the bytes sent in percent (0..100,
  rounded down), ``speed`` the speed in MB/s while running (0.0 otherwise)
  and ``etr`` the time left while running, written ``"0h:1m:5s"`` (hours,
  minutes and seconds, rounded up to the second; empty otherwise).

A megabyte (MB) here is 1,048,576 bytes, as in the demo data's sizes.
Jobs the simulation has not started (say, a job paused since it was created)
keep the figures the backend computes without simulation.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Optional, Tuple

from accsyn_api.testing.model import Job, JobTransfer, Task, Workspace

__all__ = [
    "DEFAULT_SPEED",
    "MAX_SIMULATED_SIZE",
    "MB",
    "MEASURING_SECONDS",
    "MIN_SIMULATED_SIZE",
    "TransferSimulation",
    "format_etr",
    "simulated_size",
]

MB = 1024 * 1024
"""Bytes in a megabyte, the unit of ``speed`` (MB/s)."""
DEFAULT_SPEED = 50.0
"""The simulated transfer speed, in MB/s."""
MIN_SIMULATED_SIZE = 10 * MB
MAX_SIMULATED_SIZE = 500 * MB

MEASURING_SECONDS = 2.0
"""How long a new job stays in ``init``, being measured, before it starts."""
STARTING_JOB_STATUSES = ("init", "waiting")
MOVING_JOB_STATUSES = ("init", "waiting", "running")
SKIPPED_TASK_STATUSES = ("excluded", "onhold")
TO_SEND_TASK_STATUSES = ("pending", "queued", "booting", "executing")


def simulated_size(path: str) -> int:
    """The size, in bytes, given to a task of unknown size: 10 to 500 MB, fixed by its path."""
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    spread = MAX_SIMULATED_SIZE - MIN_SIMULATED_SIZE + 1
    return MIN_SIMULATED_SIZE + int.from_bytes(digest[:8], "big") % spread


def format_etr(seconds: float) -> str:
    """Time left as the job's ``etr`` text: ``format_etr(65) == "0h:1m:5s"`` (rounded up)."""
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h:{minutes}m:{secs}s"


@dataclass
class _TaskProgress:
    sent: float = 0.0  # bytes
    started: Optional[datetime] = None


class TransferSimulation:
    """Moves the jobs of a workspace forward in time; not thread-safe (the backend locks).

    ``speed`` is the transfer speed of every running job, in MB/s.
    """

    def __init__(self, speed: float = DEFAULT_SPEED) -> None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise TypeError(f"speed must be a number of MB/s, not {speed!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"speed must be a positive number of MB/s, not {speed!r}")
        self.speed = float(speed)
        self._seen_until: Dict[str, datetime] = {}  # by job id
        self._standing: Optional[Dict[str, str]] = None  # job id -> status when first seen
        self._tasks: Dict[Tuple[str, str], _TaskProgress] = {}  # by (job id, task id)

    def __repr__(self) -> str:
        return f"<TransferSimulation speed={self.speed} MB/s>"

    @property
    def bytes_per_second(self) -> float:
        return self.speed * MB

    def advance(self, workspace: Workspace, now: datetime) -> None:
        """Bring every job of ``workspace`` up to the moment ``now`` (naive UTC)."""
        if self._standing is None:  # the first look: these jobs stand still for now
            self._standing = {job.id: job.status for job in workspace.jobs.values()}
        for job in workspace.jobs.values():
            since = self._seen_until.get(job.id, now)
            self._seen_until[job.id] = max(since, now)
            if self._stands_still(job):
                continue
            if job.status == "init":  # being measured for a moment after its creation
                measured = job.created + timedelta(seconds=MEASURING_SECONDS)
                if now < measured:
                    continue
                since = max(since, measured)
            if job.status in MOVING_JOB_STATUSES:
                self._run(job, since, now)
            elif job.transfer is not None:
                self._update_figures(job)
        self._forget_deleted(workspace)

    def stands_still(self, job_id: str) -> bool:
        """Whether the job was there before the simulation began and nobody changed its status."""
        return self._standing is not None and job_id in self._standing

    # -------------------------------------------------------------- internals

    def _stands_still(self, job: Job) -> bool:
        """True for a job of the first look whose status nobody changed; forgets it otherwise."""
        standing = self._standing
        if standing is None or job.id not in standing:
            return False
        if standing[job.id] == job.status:
            return True
        del standing[job.id]  # a client changed its status: it moves from now on
        return False

    def _run(self, job: Job, since: datetime, now: datetime) -> None:
        if job.status in STARTING_JOB_STATUSES or job.transfer is None:
            self._start(job)
        moment = since
        budget = max(0.0, (now - since).total_seconds())
        executing_first = sorted(job.tasks, key=lambda task: task.status != "executing")
        for task in executing_first:  # a stable sort: in task order otherwise
            if task.status not in TO_SEND_TASK_STATUSES:
                continue
            progress = self._progress(job, task)
            if task.status != "executing" or progress.started is None:
                task.status, progress.started = "executing", moment
            if task.size < 0:
                task.size = simulated_size(str(task.source.get("path", task.id)))
            needed = max(0.0, task.size - progress.sent) / self.bytes_per_second
            if needed > budget:
                progress.sent += budget * self.bytes_per_second
                break
            budget -= needed
            moment += timedelta(seconds=needed)
            progress.sent = float(task.size)
            task.status, task.finished = "done", moment.replace(microsecond=0)
            task.time = round((moment - (progress.started or moment)).total_seconds())
        if not any(task.status in TO_SEND_TASK_STATUSES for task in job.tasks):
            failed = any(task.status == "failed" for task in job.tasks)
            job.status = "failed" if failed else "done"
            if job.status == "done":
                job.finished = moment.replace(microsecond=0)
        self._update_figures(job)

    def _start(self, job: Job) -> None:
        """Measure the job (sizes for tasks without one) and set it running."""
        for task in job.tasks:
            if task.size < 0:
                task.size = simulated_size(str(task.source.get("path", task.id)))
        job.status = "running"
        if job.transfer is None:
            job.transfer = JobTransfer()

    def _progress(self, job: Job, task: Task) -> _TaskProgress:
        key = (job.id, task.id)
        progress = self._tasks.get(key)
        if progress is None:
            progress = self._tasks[key] = _TaskProgress()
        if task.status == "queued" and progress.sent >= task.size >= 0:
            progress.sent = 0.0  # sent before and queued again: a retry starts over
        return progress

    def _sent(self, job: Job, task: Task) -> float:
        if task.status == "done":
            return float(max(task.size, 0))
        progress = self._tasks.get((job.id, task.id))
        return min(progress.sent, float(task.size)) if progress is not None else 0.0

    def _update_figures(self, job: Job) -> None:
        transfer = job.transfer
        if transfer is None:
            return
        counted = [t for t in job.tasks if t.status not in SKIPPED_TASK_STATUSES]
        size = sum(max(t.size, 0) for t in counted)
        sent = sum(self._sent(job, t) for t in counted)
        transfer.size = size
        if job.status == "done" or size == 0:
            transfer.progress = 100 if job.status == "done" else 0
        else:
            transfer.progress = min(99, math.floor(sent * 100 / size))  # 100 once done
        running = job.status == "running"
        transfer.speed = self.speed if running else 0.0
        transfer.etr = format_etr((size - sent) / self.bytes_per_second) if running else ""

    def _forget_deleted(self, workspace: Workspace) -> None:
        if len(self._seen_until) == len(workspace.jobs):
            return
        self._seen_until = {k: v for k, v in self._seen_until.items() if k in workspace.jobs}
        if self._standing:
            self._standing = {k: v for k, v in self._standing.items() if k in workspace.jobs}
        self._tasks = {k: v for k, v in self._tasks.items() if k[0] in workspace.jobs}
