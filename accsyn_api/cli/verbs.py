"""The verbs of ``accsyn``: find, create, update, delete, the job shortcuts, and wait.

Each takes the Session, the parsed arguments and the :class:`Streams`, and
returns the exit code; accsyn errors propagate to :func:`accsyn_api.cli.main`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, TextIO

from ..errors import AccsynError, InvalidData, NotFound, RequestTimeout
from ..protocol import names
from ..session import Session
from ..waiting import wanted_statuses
from .connect import unknown_entity_type
from .data import read_data, require_changes, require_entities
from .errors import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_TIMEOUT, UsageError, shell_message
from .output import choose_format, print_json, show
from .progress import JobDisplay, PlainDisplay, TaskCount, open_display

__all__ = ["VERBS", "Streams"]


@dataclass
class Streams:
    """Where a verb reads data and writes results and complaints."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)


Verb = Callable[[Session, argparse.Namespace, Streams], int]


def _form(args: argparse.Namespace, streams: Streams) -> str:
    return choose_format(args.json, args.quiet, streams.out)


# -- reading ----------------------------------------------------------------------------


def _find(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    options: Dict[str, Any] = {
        "attributes": args.attributes.split(",") if args.attributes else None,
        "finished": args.finished or None,
        "archived": args.archived or None,
    }
    try:
        if args.command == "find-one":
            found: Any = session.find_one(args.query, **options)
        else:
            found = session.find(args.query, limit=args.limit, skip=args.skip, **options)
    except NotFound as error:
        better = unknown_entity_type(session, error, args.query)
        if better is None:
            raise
        raise NotFound(better) from None
    if found is None:
        return EXIT_NOT_FOUND
    show(found, _form(args, streams), streams.out)
    return EXIT_OK


# -- changing ---------------------------------------------------------------------------


def _create(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    data = read_data(args.data, streams.stdin)
    if args.entitytype.strip().lower() == "task" and not args.entityid:
        raise UsageError(
            "tasks are created within a job: accsyn create task DATA JOB_ID, "
            "or accsyn add-tasks JOB_ID PATH..."
        )
    if args.entitytype.strip().lower() != "task":
        data = require_entities(data, args.entitytype.strip().lower())
    created = session.create(
        args.entitytype, data, args.entityid, allow_duplicates=not args.no_duplicates
    )
    show(created, _form(args, streams), streams.out)
    return EXIT_OK


def _update(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    data = read_data(args.data, streams.stdin)
    if isinstance(data, list):
        changed: Any = session.update_many(args.entitytype, args.entityid, data)
    elif args.entitytype.strip().lower() == "task":
        raise UsageError(
            "tasks are changed in a list, within their job: accsyn update task JOB_ID "
            '\'[{"id": "TASK_ID", "status": "excluded"}]\', or accsyn exclude JOB_ID TASK_ID...'
        )
    else:
        changed = session.update(args.entitytype, args.entityid, require_changes(data, "update"))
    show(changed, _form(args, streams), streams.out)
    return EXIT_OK


def _delete(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    session.delete_one(args.entitytype, args.entityid)
    return EXIT_OK


_SHORTCUT_STATUS = {"pause": "paused", "resume": "waiting", "abort": "aborted", "resend": "pending"}


def _set_status(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    """``pause``, ``resume``, ``abort``, ``resend``: each job in turn, reporting each failure."""
    status = _SHORTCUT_STATUS[args.command]
    version = session.api_version or names.V1
    if status not in names.JOB_WRITEABLE_STATUSES.get(version, ()):
        raise UsageError(
            f"{args.command} is not part of the v{version} API (it sets the status {status!r}, "
            "which only the v1.0 API has)."
        )
    changed: List[Dict[str, Any]] = []
    failed = False
    for job_id in args.job_ids:
        try:
            changed.append(session.update("job", job_id, {"status": status}))
        except AccsynError as error:
            failed = True
            streams.err.write(
                f"accsyn {args.command}: {job_id}: {type(error).__name__}: "
                f"{shell_message(error.message_hr)}\n"
            )
    if changed:
        show(changed, _form(args, streams), streams.out)
    return EXIT_ERROR if failed else EXIT_OK


def _exclude(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    changes = [{"id": task_id, "status": "excluded"} for task_id in args.task_ids]
    show(session.update_many("task", args.job_id, changes), _form(args, streams), streams.out)
    return EXIT_OK


def _add_tasks(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    added = session.create(
        "task", {"tasks": list(args.paths)}, args.job_id, allow_duplicates=not args.no_duplicates
    )
    show(added, _form(args, streams), streams.out)
    return EXIT_OK


# -- waiting ----------------------------------------------------------------------------


class _Watcher:
    """Feeds each polled job, with its task count, to the display."""

    def __init__(self, session: Session, display: Optional[JobDisplay]) -> None:
        self.session = session
        self.display = display
        self.latest: Dict[str, Dict[str, Any]] = {}
        self._counts: Dict[str, TaskCount] = {}

    def _task_count(self, job: Dict[str, Any]) -> TaskCount:
        job_id = str(job.get("id"))
        before = self.latest.get(job_id)
        unchanged = before is not None and all(
            before.get(key) == job.get(key) for key in ("status", "progress")
        )
        if unchanged and job_id in self._counts:
            return self._counts[job_id]
        try:
            tasks = self.session.find(f"task where job.id={job_id}", finished=True)
        except AccsynError:
            return None
        counted = [task for task in tasks if task.get("status") != "excluded"]
        count = (sum(task.get("status") == "done" for task in counted), len(counted))
        self._counts[job_id] = count
        return count

    def __call__(self, job: Dict[str, Any]) -> None:
        count = self._task_count(job) if self.display is not None else None
        self.latest[str(job.get("id"))] = job
        if self.display is not None:
            self.display.show(job, count)


def _describe(job: Dict[str, Any]) -> str:
    name = job.get("code") or job.get("name")
    shown = f" ({name})" if name else ""
    progress = job.get("progress")
    percent = f" at {progress}%" if isinstance(progress, (int, float)) else ""
    return f"job {job.get('id')}{shown} is {job.get('status')}{percent}"


def _wait(session: Session, args: argparse.Namespace, streams: Streams) -> int:
    until = args.until or ["done"]
    try:
        wanted = wanted_statuses(until, session.api_version or names.V1)
    except InvalidData as error:
        raise UsageError(error.message) from None
    form = _form(args, streams)
    display = open_display(streams.out) if form == "table" else None
    if display is None and form == "json" and not args.json:
        display = PlainDisplay(streams.out)  # not a terminal: one line per change
    watcher = _Watcher(session, display)
    try:
        with display if display is not None else contextlib.nullcontext():
            jobs = session.wait_all(
                args.job_ids,
                until,
                timeout=args.wait_timeout,
                interval=args.interval,
                progress=watcher,
            )
    except RequestTimeout:  # the display is closed: its last state stays above
        for job in watcher.latest.values():
            if str(job.get("status")) not in wanted:
                streams.err.write(f"accsyn wait: timed out: {_describe(job)}\n")
        return EXIT_TIMEOUT
    if args.json:
        print_json(jobs, streams.out)
    missed = [job for job in jobs if str(job.get("status", "")).lower() not in wanted]
    for job in missed:
        streams.err.write(f"accsyn wait: {_describe(job)}, not {' or '.join(until)}\n")
    return EXIT_NOT_FOUND if missed else EXIT_OK


VERBS: Dict[str, Verb] = {
    "find": _find,
    "find-one": _find,
    "create": _create,
    "update": _update,
    "delete": _delete,
    "pause": _set_status,
    "resume": _set_status,
    "abort": _set_status,
    "resend": _set_status,
    "exclude": _exclude,
    "add-tasks": _add_tasks,
    "wait": _wait,
}
"""The commands that talk to a workspace, by name."""
