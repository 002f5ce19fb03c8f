"""Waiting for jobs: polling until each reaches a wanted status, or one it will not leave.

:meth:`accsyn_api.Session.wait` and :meth:`~accsyn_api.Session.wait_all`
delegate here. The rules:

* Without statuses, waiting ends when a job reaches a *final* status
  (:data:`~accsyn_api.protocol.names.FINAL_JOB_STATUSES`: ``done``,
  ``failed``, ``aborted``), whichever it is; the returned job's ``status``
  says which.
* With statuses, waiting ends when the job reaches one of them, or a final
  status that is not among them (a job does not leave a final status by
  itself, so waiting longer would only run into the timeout). Compare the
  returned ``status`` with what you waited for.
* Status names are checked against the job statuses of the session's API
  generation before anything is polled: a name that is no job status there
  (``"finished"``; ``"pending"`` on v3) raises
  :class:`~accsyn_api.InvalidData`.
* ``progress`` is called with every job after every poll of it.
* ``timeout`` (seconds, ``None`` for no limit) raises
  :class:`~accsyn_api.RequestTimeout` (``executed`` ``False``: waiting
  changed nothing) naming each job not yet there and its status.
* A job that no longer exists, or is not visible, raises
  :class:`~accsyn_api.NotFound`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Union

from .errors import InvalidData, NotFound, RequestTimeout
from .protocol import names

__all__ = [
    "DEFAULT_INTERVAL",
    "FetchJob",
    "ProgressCallback",
    "Statuses",
    "has_ended",
    "wait_for_jobs",
    "wanted_statuses",
]

DEFAULT_INTERVAL = 2.0
"""Seconds between two polls of the same job."""

Statuses = Union[None, str, Iterable[str]]
"""What to wait for: ``None`` (any final status), one status, or several."""
ProgressCallback = Callable[[Dict[str, Any]], None]
"""Called with a job (a dict) after each poll."""
FetchJob = Callable[[str], Optional[Dict[str, Any]]]
"""Reads a job by id, whatever its state; ``None`` when there is none."""


def wanted_statuses(statuses: Statuses, api_version: str) -> FrozenSet[str]:
    """The statuses to wait for, in lower case; every name checked against ``api_version``.

    ``None`` means the final statuses. Raises :class:`~accsyn_api.InvalidData`
    for an empty list, a value that is not text, or a name that is no job
    status of that API generation.
    """
    if statuses is None:
        return frozenset(names.FINAL_JOB_STATUSES)
    given = (statuses,) if isinstance(statuses, str) else tuple(_iterate(statuses))
    if not given or not all(isinstance(status, str) and status.strip() for status in given):
        raise InvalidData(
            f"statuses must be a job status such as 'done', or a list of them, not {statuses!r}; "
            "give none to wait for any final status (done, failed, aborted)."
        )
    wanted = frozenset(status.strip().lower() for status in given)
    known = names.JOB_STATUSES.get(api_version, ())
    unknown = sorted(wanted - set(known))
    if unknown:
        raise InvalidData(_unknown_statuses_message(unknown, api_version, known))
    return wanted


def _iterate(statuses: Iterable[str]) -> Iterable[Any]:
    try:
        return list(statuses)
    except TypeError:
        raise InvalidData(
            f"statuses must be a job status such as 'done', or a list of them, not {statuses!r}."
        ) from None


def _unknown_statuses_message(unknown: List[str], api_version: str, known: Sequence[str]) -> str:
    quoted = ", ".join(repr(status) for status in unknown)
    elsewhere = [
        other
        for other, statuses in names.JOB_STATUSES.items()
        if other != api_version and set(unknown) <= set(statuses)
    ]
    where = f" (it is one of the v{elsewhere[0]} API)" if elsewhere else ""
    noun = "is not a job status" if len(unknown) == 1 else "are not job statuses"
    return (
        f"{quoted} {noun} of the v{api_version} API{where}; the job statuses are: "
        f"{', '.join(known)}. Give no status to wait until the job ends "
        f"({', '.join(names.FINAL_JOB_STATUSES)})."
    )


def has_ended(job: Dict[str, Any], wanted: FrozenSet[str]) -> bool:
    """Whether waiting for ``job`` is over: its status is wanted, or final."""
    status = str(job.get("status", "")).lower()
    return status in wanted or status in names.FINAL_JOB_STATUSES


def _check_timing(timeout: Optional[float], interval: float) -> None:
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise InvalidData(f"timeout must be seconds (a number >= 0) or None, not {timeout!r}.")
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise InvalidData(f"interval must be seconds (a number > 0), not {interval!r}.")


def _still_waiting(jobs: Dict[str, Dict[str, Any]], pending: Iterable[str]) -> str:
    parts = []
    for job_id in pending:
        job = jobs.get(job_id, {})
        progress = job.get("progress")
        shown = f" ({progress}%)" if isinstance(progress, (int, float)) else ""
        parts.append(f"job {job_id} is {job.get('status')!r}{shown}")
    return "; ".join(parts)


def wait_for_jobs(
    fetch: FetchJob,
    job_ids: Sequence[str],
    wanted: FrozenSet[str],
    *,
    timeout: Optional[float] = None,
    interval: float = DEFAULT_INTERVAL,
    progress: Optional[ProgressCallback] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> List[Dict[str, Any]]:
    """Poll every job until each has ended (see :func:`has_ended`); return them in order.

    ``fetch`` reads one job by id. The jobs still moving are polled once per
    round, ``interval`` seconds apart; a job that has ended is not polled
    again. ``job_ids`` may repeat an id: it is polled once and returned at
    each place.
    """
    _check_timing(timeout, interval)
    order = list(dict.fromkeys(job_ids))
    deadline = None if timeout is None else clock() + timeout
    latest: Dict[str, Dict[str, Any]] = {}
    pending = list(order)
    while True:
        for job_id in pending:
            job = fetch(job_id)
            if job is None:
                raise NotFound(f"Job {job_id} does not exist or is not visible to you.")
            latest[job_id] = job
            if progress is not None:
                progress(job)
        pending = [job_id for job_id in pending if not has_ended(latest[job_id], wanted)]
        if not pending:
            return [latest[job_id] for job_id in job_ids]
        if deadline is not None and clock() + interval > deadline:
            raise RequestTimeout(
                f"Waited {timeout} s for {', '.join(sorted(wanted))}: "
                f"{_still_waiting(latest, pending)}.",
                executed=False,
            )
        sleep(interval)
