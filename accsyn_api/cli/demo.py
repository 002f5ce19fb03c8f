"""``accsyn demo``: the bundled server, and one job walked through its life."""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, List, TextIO

from .. import codec
from ..errors import NotFound
from ..session import Session

__all__ = ["DEMO_FILE", "DEMO_TRANSFER_SECONDS", "run_demo"]


def _step(out: TextIO, title: str) -> None:
    out.write(f"\n== {title}\n")


def _job_line(job: Dict[str, Any]) -> str:
    return (
        f"{job['id']}  {job.get('code', '')!s:<28} {job.get('status', '')!s:<9} "
        f"{job.get('source_hr', '')} -> {job.get('destination_hr', '')}"
    )


def _task_lines(tasks: List[Dict[str, Any]]) -> str:
    return "\n".join(
        f"   task {task['uri']:>2}  {task['status']:<9} {task['source'].get('path', '')}"
        for task in tasks
    )


DEMO_FILE = "thefilm/latest_edit.mov"
DEMO_TRANSFER_SECONDS = 3.0
"""How long the demo's simulated transfer takes, in real time."""
PROGRESS_BAR_WIDTH = 24


def _progress_line(job: Dict[str, Any]) -> str:
    """A one-line progress bar: ``[#####.....]  45%  50.0 MB/s  etr 0h:0m:3s  running``."""
    progress = max(0, min(100, int(job.get("progress") or 0)))
    filled = progress * PROGRESS_BAR_WIDTH // 100
    bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
    etr = f"  etr {job['etr']}" if job.get("etr") else ""
    speed = float(job.get("speed") or 0.0)
    return f"   [{bar}] {progress:>3}%  {speed:5.1f} MB/s{etr}  {job.get('status', '')}"


def _reload(session: Session, query: str) -> Dict[str, Any]:
    job = session.find_one(query)
    if job is None:
        raise NotFound(f"The demo job was not found with {query!r}.")
    return job


def run_demo(out: TextIO = sys.stdout) -> None:
    """Start the bundled server and walk a job through its life, printing each step.

    The server simulates transfers, so the resumed job is seen running to the end
    (in about :data:`DEMO_TRANSFER_SECONDS`).
    """
    from ..query import select
    from ..testing import LocalServer
    from ..testing.simulation import MB, simulated_size

    speed = round(simulated_size(DEMO_FILE) / MB / DEMO_TRANSFER_SECONDS, 1)
    with LocalServer(simulate=True, speed=speed) as server, server.session("employee") as session:
        out.write(f"Local accsyn server at {server.url} (workspace '{session.domain}')\n")
        out.write(f"Logged in as {session.username} ({session.clearance})\n")

        _step(out, "Create a job: send a file from the 'projects' share to lars@edit.com")
        job = session.create(
            "Job",
            {
                "code": "demo_delivery",
                "source": f"share=projects/{DEMO_FILE}",
                "destination": "lars@edit.com",
                "status": "paused",
            },
        )
        out.write(_job_line(job) + "\n")
        added = session.create("task", {"tasks": ["share=projects/thefilm/notes.pdf"]}, job["id"])
        out.write(f"added a task: success={added['success']}\n")

        _step(out, "Find it by name")
        by_name = str(select("Job").where(code="demo_delivery"))
        out.write(f">>> session.find_one({by_name!r})\n")
        found = _reload(session, by_name)
        out.write(session.str({key: found[key] for key in ("id", "code", "status", "created")}))
        out.write("\n")

        _step(out, "List its tasks")
        by_job = str(select("task").where(**{"job.id": job["id"]}))
        tasks = session.find(by_job)
        out.write(_task_lines(tasks) + "\n")

        _step(out, "Exclude the second task")
        changed = session.update_many(
            "task", job["id"], [{"id": tasks[1]["id"], "status": "excluded"}]
        )
        out.write(_task_lines(changed) + "\n")

        def show_progress(polled: Dict[str, Any]) -> None:
            out.write(_progress_line(polled) + "\n")
            out.flush()

        _step(out, f"Resume it: the server simulates the transfer at {speed} MB/s")
        job = session.update("job", job["id"], {"status": "waiting"})
        deadline = time.monotonic() + 10 * DEMO_TRANSFER_SECONDS
        while job["status"] != "done" and job["progress"] < 30 and time.monotonic() < deadline:
            time.sleep(0.4)
            job = _reload(session, by_name)
            show_progress(job)

        _step(out, "Pause it mid-transfer: nothing moves while it is paused")
        job = session.update("job", job["id"], {"status": "paused"})
        show_progress(job)
        time.sleep(1.0)
        show_progress(_reload(session, by_name))

        _step(out, "Resume it and wait until it is done")
        session.update("job", job["id"], {"status": "waiting"})
        job = session.wait(
            job["id"], timeout=10 * DEMO_TRANSFER_SECONDS, interval=0.4, progress=show_progress
        )
        out.write(_job_line(job) + f"  finished {codec.format_datetime(job['finished'])}\n")
        out.write(_task_lines(session.find(by_job)) + "\n")

        _step(out, "A done job stays listed for an hour, then leaves the active list")
        server.backend.clock.advance(hours=2)
        active = session.find(by_name)
        inactive = session.find(by_name, finished=True)
        out.write(f"two hours later: {len(active)} active, {len(inactive)} with finished=True\n")
        out.write(
            "\nDone. Try it yourself: `accsyn shell --local --simulate` opens Python with a "
            "session on a fresh server;\n`accsyn server --simulate -- $SHELL` opens a shell "
            "where the accsyn command and Session() reach one.\n"
        )
