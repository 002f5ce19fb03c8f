"""What ``accsyn wait`` shows while it waits: live bars on a terminal, else one line per change.

On a terminal with ``rich`` installed (``pip install 'accsyn-sdk[cli]'``),
one bar per job: name, bar, percent, speed, time left, tasks done of total,
status. Otherwise (a pipe, a file, or no ``rich``) a plain line each time a
job's status, progress or task count changes::

    614d660de50d45bb027c9bdd  latest_edit.mov  running  45%  50.0 MB/s  etr 0h:0m:3s  1/2 tasks
"""

from __future__ import annotations

from typing import Any, Dict, Optional, TextIO, Tuple

from .output import is_terminal, rich_available

__all__ = ["JobDisplay", "PlainDisplay", "TaskCount", "open_display"]

TaskCount = Optional[Tuple[int, int]]
"""Tasks done and tasks to send (excluded ones left out), when known."""


def _name(job: Dict[str, Any]) -> str:
    return str(job.get("code") or job.get("name") or job.get("id", ""))


def _percent(job: Dict[str, Any]) -> int:
    value = job.get("progress")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(0, min(100, int(value)))


def _speed(job: Dict[str, Any]) -> str:
    """The speed while the job runs (it is 0 otherwise, which says nothing)."""
    value = job.get("speed")
    if job.get("status") != "running" or isinstance(value, bool):
        return ""
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:.1f} MB/s"


def _etr(job: Dict[str, Any]) -> str:
    return f"etr {job['etr']}" if job.get("etr") else ""


def _tasks(count: TaskCount) -> str:
    return f"{count[0]}/{count[1]} tasks" if count is not None else ""


class JobDisplay:
    """Shows the jobs being waited for; :meth:`show` after each poll, :meth:`close` at the end."""

    def show(self, job: Dict[str, Any], tasks: TaskCount) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Leave the display as it is (the last state of every job stays visible)."""

    def __enter__(self) -> JobDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PlainDisplay(JobDisplay):
    """One line per change of a job's status, percent or task count."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last: Dict[str, Tuple[Any, ...]] = {}

    def show(self, job: Dict[str, Any], tasks: TaskCount) -> None:
        job_id = str(job.get("id", ""))
        state = (job.get("status"), _percent(job), tasks)
        if self._last.get(job_id) == state:
            return
        self._last[job_id] = state
        parts = [
            job_id,
            _name(job),
            str(job.get("status", "")),
            f"{_percent(job)}%",
            _speed(job),
            _etr(job),
            _tasks(tasks),
        ]
        self.out.write("  ".join(part for part in parts if part) + "\n")
        self.out.flush()


class RichDisplay(JobDisplay):
    """Live progress bars drawn by ``rich``, one per job."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskID, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[etr]}"),
            TextColumn("{task.fields[tasks]}"),
            TextColumn("{task.fields[status]}"),
            console=Console(file=out, highlight=False),
            refresh_per_second=8,
        )
        self._bars: Dict[str, TaskID] = {}
        self._progress.start()

    def show(self, job: Dict[str, Any], tasks: TaskCount) -> None:
        job_id = str(job.get("id", ""))
        fields: Dict[str, Any] = {
            "speed": _speed(job),
            "etr": _etr(job),
            "tasks": _tasks(tasks),
            "status": str(job.get("status", "")),
        }
        bar = self._bars.get(job_id)
        if bar is None:
            self._bars[job_id] = self._progress.add_task(
                _name(job), total=100, completed=_percent(job), **fields
            )
        else:
            self._progress.update(bar, completed=_percent(job), **fields)

    def close(self) -> None:
        self._progress.refresh()
        self._progress.stop()


def open_display(out: TextIO) -> JobDisplay:
    """Bars on a terminal when ``rich`` is installed; plain lines otherwise."""
    if is_terminal(out) and rich_available():
        return RichDisplay(out)
    return PlainDisplay(out)
