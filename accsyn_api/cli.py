"""The ``accsyn`` command: a demo, a local reference server, and the verbs for scripts.

Exit codes: 0 success, 1 nothing found (``find-one``), 2 wrong usage,
3 an accsyn error (refused, not found, authentication, network...).
Results are printed as JSON (dates in the server's text form), so that shell
tools such as ``jq`` can read them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, TextIO

from . import __version__, codec
from .errors import AccsynError, ConnectionFailed, NotFound
from .session import Session

if TYPE_CHECKING:
    from .testing.faults import Fault

__all__ = ["main"]

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None


def _print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(codec.to_wire(value), indent=2, sort_keys=True, ensure_ascii=False))
    out.write("\n")


# -- accsyn demo -------------------------------------------------------------


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
    from .query import select
    from .testing import LocalServer
    from .testing.simulation import MB, simulated_size

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
            "\nDone. Try it yourself: `accsyn server --simulate`, then paste the export lines.\n"
        )


# -- accsyn server -----------------------------------------------------------

DEFAULT_SERVER_API_VERSION = "1.0"
"""The API generation whose ``export`` lines ``accsyn server`` prints by default."""


def _fault_argument(text: str) -> Fault:
    from .testing.faults import parse_fault_spec

    try:
        return parse_fault_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count_argument(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {text!r}")
    return count


def _speed_argument(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = float("nan")
    if not speed > 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of MB/s: {text!r}")
    return speed


def _stop_on_signals() -> Callable[[], None]:
    """Make Ctrl-C and SIGTERM stop the server; returns what puts the old handlers back.

    A shell starts background jobs with SIGINT ignored, and services are stopped
    with SIGTERM: both must still end ``accsyn server`` cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt),
    }

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def run_server(
    host: str,
    port: int,
    role: str,
    out: TextIO = sys.stdout,
    *,
    faults: Sequence[Fault] = (),
    tls: bool = False,
    simulate: bool = False,
    speed: Optional[float] = None,
    api_version: str = DEFAULT_SERVER_API_VERSION,
) -> None:
    """Serve the demo workspace until interrupted, after printing how to reach it.

    Both API generations are served; ``api_version`` (``"1.0"``, the default, or
    ``"3"``) says which one the printed ``export`` lines are for. ``faults`` are
    :class:`~accsyn_api.testing.Fault` rules to play; ``tls`` serves HTTPS with a
    throwaway certificate authority (needs ``trustme``); ``simulate`` makes jobs
    progress as if sending files at ``speed`` MB/s.
    """
    from .testing import LocalServer
    from .testing.faults import format_fault

    server = LocalServer(
        host=host,
        port=port,
        faults=faults,
        tls=tls,
        simulate=simulate,
        speed=speed,
        api_version=api_version,
    )
    try:
        server.bind()
    except (OSError, OverflowError) as error:  # OverflowError: a port above 65535
        server.stop()  # removes a TLS server's throwaway CA
        reason = getattr(error, "strerror", None) or error
        raise ConnectionFailed(
            f"Cannot listen on {host}:{port} ({reason}); "
            "choose another --port, or --port 0 for any free one."
        ) from None
    restore_signals = _stop_on_signals()
    try:  # Ctrl-C may come at any moment, even before serving starts
        other = "3" if server.api_version == "1.0" else "1.0"
        default = " (the default)" if server.api_version == DEFAULT_SERVER_API_VERSION else ""
        out.write(
            f"# accsyn reference server at {server.url}, serving API v1.0 (/api/v1.0) and v3 "
            f"(/api/v3).\n# These lines are for API v{server.api_version}{default}; "
            f"--api-version {other} prints those for v{other}. Paste them into a shell:\n"
        )
        for name, value in server.environment(role).items():
            out.write(f"export {name}={value}\n")
        verify = ""
        if server.ca_bundle is not None:
            out.write(
                f"# TLS with a throwaway CA: pass verify={server.ca_bundle!r} to "
                "accsyn_api.Session(...); the file is deleted when the server stops.\n"
            )
            verify = f'verify="{server.ca_bundle}"'
        out.write(
            f"# then: python -c 'import accsyn_api; print(accsyn_api.Session({verify})"
            '.find("Job"))\'\n'
        )
        if server.api_version != "1.0" and server.ca_bundle is None:
            relay = server.url.split("://", 1)[1]
            out.write(
                "# the official client (accsyn-python-api 3.x) reaches it with "
                f'proxy="accsyn:{relay}"\n'
            )
        for fault in server.faults:
            out.write(f"# fault: {format_fault(fault)}\n")
        simulation = server.backend.simulation
        if simulation is not None:
            out.write(
                f"# simulated transfers: jobs that may run progress at {simulation.speed} MB/s\n"
            )
        out.write("# Ctrl-C stops the server.\n")
        out.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        restore_signals()


# -- the verbs -----------------------------------------------------------------


def _find(session: Session, args: argparse.Namespace, out: TextIO) -> int:
    options = {
        "attributes": args.attributes.split(",") if args.attributes else None,
        "finished": args.finished or None,
        "archived": args.archived or None,
    }
    if args.command == "find-one":
        entity = session.find_one(args.query, **options)
        if entity is None:
            return EXIT_NOT_FOUND
        _print_json(entity, out)
        return EXIT_OK
    _print_json(session.find(args.query, limit=args.limit, skip=args.skip, **options), out)
    return EXIT_OK


def _create(session: Session, args: argparse.Namespace, out: TextIO) -> int:
    _print_json(
        session.create(
            args.entitytype, args.data, args.entityid, allow_duplicates=not args.no_duplicates
        ),
        out,
    )
    return EXIT_OK


def _update(session: Session, args: argparse.Namespace, out: TextIO) -> int:
    if isinstance(args.data, list):
        _print_json(session.update_many(args.entitytype, args.entityid, args.data), out)
    else:
        _print_json(session.update(args.entitytype, args.entityid, args.data), out)
    return EXIT_OK


def _delete(session: Session, args: argparse.Namespace, out: TextIO) -> int:
    session.delete_one(args.entitytype, args.entityid)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accsyn",
        description="accsyn API client. Credentials come from ACCSYN_DOMAIN, ACCSYN_API_USER, "
        "ACCSYN_API_KEY (and ACCSYN_URL or ACCSYN_PROXY).",
    )
    parser.add_argument("--version", action="version", version=f"accsyn_api {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("demo", help="run a demo against the bundled local server")

    server = commands.add_parser("server", help="run the local reference server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=0, help="0 picks a free port")
    server.add_argument(
        "--role",
        choices=("admin", "employee", "user", "standard"),
        default="employee",
        help="whose credentials the export lines give (default employee; standard is the "
        "v3 name of the restricted user)",
    )
    server.add_argument(
        "--api-version",
        choices=("1.0", "3"),
        default=DEFAULT_SERVER_API_VERSION,
        help="the API generation the export lines are for (default "
        f"{DEFAULT_SERVER_API_VERSION}); both /api/v1.0 and /api/v3 are always served",
    )
    server.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_argument,
        metavar="SPEC",
        help="inject a fault (repeatable): KIND[:uri=job/create][:method=POST][:nth=2]"
        "[:times=1][:seconds=3][:retry_after=1]; KIND is drop_before, drop_after, delay, "
        "unavailable, bad_gateway, truncated, expire_session or rate_limited",
    )
    server.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a throwaway CA (needs trustme)"
    )
    server.add_argument(
        "--simulate",
        action="store_true",
        help="simulate transfers: waiting and running jobs progress until done",
    )
    server.add_argument(
        "--speed",
        type=_speed_argument,
        metavar="MBPS",
        help="simulated transfer speed in MB/s (default 50; needs --simulate)",
    )

    for name, help_text in (("find", "print matching entities"), ("find-one", "print the first")):
        find = commands.add_parser(name, help=help_text)
        find.add_argument("query", help="e.g. 'Job where status=running'")
        find.add_argument("--attributes", help="comma-separated attribute names")
        find.add_argument("--finished", action="store_true", help="include inactive jobs")
        find.add_argument("--archived", action="store_true", help="include archived jobs")
        find.set_defaults(handler=_find)
        if name == "find":
            find.add_argument("--limit", type=_count_argument, help="at most this many")
            find.add_argument("--skip", type=_count_argument, help="skip the first ones")

    create = commands.add_parser("create", help="create entities from JSON")
    create.add_argument("entitytype", help="job, task, ...")
    create.add_argument("data", type=_json_argument, help="JSON object or list")
    create.add_argument("entityid", nargs="?", help="the job id, when creating tasks")
    create.add_argument("--no-duplicates", action="store_true", help="refuse duplicate tasks")
    create.set_defaults(handler=_create)

    update = commands.add_parser("update", help="change an entity (JSON object) or tasks (list)")
    update.add_argument("entitytype", help="job, task, ...")
    update.add_argument("entityid", help="the entity's id (the job id for tasks)")
    update.add_argument(
        "data",
        type=_json_argument,
        help='JSON object of changes, or for tasks a list: [{"id": ..., "status": ...}]',
    )
    update.set_defaults(handler=_update)

    delete = commands.add_parser("delete", help="delete one entity")
    delete.add_argument("entitytype", help="job, ...")
    delete.add_argument("entityid", help="the entity's id")
    delete.set_defaults(handler=_delete)
    return parser


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(out)
            return EXIT_OK
        if args.command == "server":
            if args.speed is not None and not args.simulate:
                sys.stderr.write("accsyn server: --speed needs --simulate\n")
                return EXIT_USAGE
            run_server(
                args.host,
                args.port,
                args.role,
                out,
                faults=args.fault,
                tls=args.tls,
                simulate=args.simulate,
                speed=args.speed,
                api_version=args.api_version,
            )
            return EXIT_OK
        handler: Callable[[Session, argparse.Namespace, TextIO], int] = args.handler
        with Session() as session:
            return handler(session, args, out)
    except AccsynError as error:
        sys.stderr.write(f"accsyn: {type(error).__name__}: {error}\n")
        return EXIT_ERROR
    except BrokenPipeError:  # the reader went away (accsyn find ... | head)
        if out is sys.stdout:  # keep Python from failing again when it flushes at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
