"""The command line of ``accsyn``: its commands and options (argparse)."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any, Dict, List, NoReturn, Sequence, Tuple

from .. import __version__
from ..protocol import names
from .server import DEFAULT_SERVER_API_VERSION

if TYPE_CHECKING:
    from ..testing.faults import Fault

__all__ = ["DISTRIBUTION", "build_parser", "parse"]

DISTRIBUTION = "accsyn-sdk"
SUPPRESS = argparse.SUPPRESS
ROLES = ("admin", "employee", "user", "standard")
API_VERSIONS = ("auto", *names.GENERATIONS)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose complaints are two lines: the error, and where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\nTry '{self.prog} --help'.\n")


# -- option values ----------------------------------------------------------------------


def _fault_argument(text: str) -> Fault:
    from ..testing.faults import parse_fault_spec

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


def _port_argument(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number from 0 to 65535: {text!r}")
    return port


def _positive(text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"not a positive number of {unit}: {text!r}")
    return value


def _speed_argument(text: str) -> float:
    return _positive(text, "MB/s")


def _seconds_argument(text: str) -> float:
    return _positive(text, "seconds")


def _status_argument(text: str) -> str:
    status = text.strip().lower()
    known = sorted({status for statuses in names.JOB_STATUSES.values() for status in statuses})
    if status not in known:
        raise argparse.ArgumentTypeError(
            f"not a job status: {text!r} (the statuses are: {', '.join(known)})"
        )
    return status


class _RefuseApiKey(argparse.Action):
    """``--api-key``: refused, saying where the key goes instead."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(
            "the API key is never taken on the command line, where ps and the shell's "
            "history show it: set ACCSYN_API_KEY, or give --api-key-file FILE"
        )


# -- option groups ------------------------------------------------------------------------


def _connection_options() -> _Parser:
    """Options every verb takes, before or after the command; they win over ACCSYN_*."""
    parent = _Parser(add_help=False, argument_default=SUPPRESS)
    group = parent.add_argument_group("connection (default: the ACCSYN_* environment)")
    group.add_argument("--workspace", "--domain", dest="workspace", help="ACCSYN_WORKSPACE")
    group.add_argument("--user", help="the user's e-mail address; ACCSYN_API_USER")
    group.add_argument(
        "--api-key-file", metavar="FILE", help="read the API key from FILE; ACCSYN_API_KEY"
    )
    group.add_argument("--api-key", nargs="?", action=_RefuseApiKey, help=SUPPRESS)
    group.add_argument("--url", help="the server's address, skipping the look-up; ACCSYN_URL")
    group.add_argument(
        "--api-version", choices=API_VERSIONS, help="auto (default), 1.0 or 3; ACCSYN_API_VERSION"
    )
    group.add_argument("--proxy", help="accsyn:HOST:PORT or socks5:HOST:PORT; ACCSYN_PROXY")
    group.add_argument("--ca-bundle", metavar="FILE", help="check TLS against this CA bundle")
    group.add_argument(
        "--request-timeout",
        dest="timeout",
        type=_seconds_argument,
        metavar="S",
        help="seconds to wait for each reply (default 60)",
    )
    group.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parent


def _output_options() -> _Parser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("output (default: a table on a terminal, else JSON)")
    shown = group.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="one JSON document, ISO-8601 dates")
    shown.add_argument("--quiet", "-q", action="store_true", help="the ids alone, one per line")
    return parent


def _server_options(server: argparse.ArgumentParser) -> None:
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument(
        "--port", type=_port_argument, default=0, help="0 (the default) picks a free port"
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


def _local_options(parser: argparse.ArgumentParser, *, exports: bool) -> None:
    """``--role``, ``--simulate``, ``--speed`` (and for the server ``--api-version``)."""
    parser.add_argument(
        "--role",
        choices=ROLES,
        default=SUPPRESS,
        help="the demo user to be (default employee; standard is the v3 name of user)",
    )
    if exports:
        parser.add_argument(
            "--api-version",
            choices=names.GENERATIONS,
            default=SUPPRESS,
            help=f"the API generation of the ACCSYN_* variables (default "
            f"{DEFAULT_SERVER_API_VERSION}); /api/v1.0 and /api/v3 are both served",
        )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="simulate transfers: jobs created, resumed or otherwise changed in status move "
        "until done",
    )
    parser.add_argument(
        "--speed",
        type=_speed_argument,
        metavar="MBPS",
        help="simulated transfer speed in MB/s (default 50; needs --simulate)",
    )


# -- commands -----------------------------------------------------------------------------

_JOB_SHORTCUTS: Tuple[Tuple[str, str], ...] = (
    ("pause", "pause jobs (status paused)"),
    ("resume", "resume jobs (status waiting)"),
    ("abort", "abort jobs (status aborted)"),
    ("resend", "resend jobs to their recipient (v1.0: status pending)"),
)
_DATA_HELP = "JSON text, - (read standard input) or @FILE"


def _find_commands(commands: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    for name, help_text in (("find", "print matching entities"), ("find-one", "print the first")):
        find = commands.add_parser(name, help=help_text, parents=parents)
        find.add_argument("query", help="e.g. 'Job where status=running'")
        find.add_argument("--attributes", help="comma-separated attribute names")
        find.add_argument("--finished", action="store_true", help="include inactive jobs")
        find.add_argument("--archived", action="store_true", help="include archived jobs")
        if name == "find":
            find.add_argument("--limit", type=_count_argument, help="at most this many")
            find.add_argument("--skip", type=_count_argument, help="skip the first ones")


def _change_commands(commands: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    create = commands.add_parser("create", help="create entities", parents=parents)
    create.add_argument("entitytype", help="job, task, ...")
    create.add_argument("data", help=f"a JSON object (one) or list (several): {_DATA_HELP}")
    create.add_argument("entityid", nargs="?", help="the job id, when creating tasks")
    create.add_argument("--no-duplicates", action="store_true", help="refuse duplicate tasks")

    update = commands.add_parser(
        "update", help="change an entity (JSON object) or tasks (list)", parents=parents
    )
    update.add_argument("entitytype", help="job, task, ...")
    update.add_argument("entityid", help="the entity's id (the job id for tasks)")
    update.add_argument(
        "data", help=f'changes, or for tasks [{{"id": ..., "status": ...}}]: {_DATA_HELP}'
    )

    delete = commands.add_parser("delete", help="delete one entity", parents=parents)
    delete.add_argument("entitytype", help="job, ...")
    delete.add_argument("entityid", help="the entity's id")

    for name, help_text in _JOB_SHORTCUTS:
        shortcut = commands.add_parser(name, help=help_text, parents=parents)
        shortcut.add_argument("job_ids", nargs="+", metavar="JOB_ID")

    exclude = commands.add_parser("exclude", help="exclude tasks of a job", parents=parents)
    exclude.add_argument("job_id", metavar="JOB_ID")
    exclude.add_argument("task_ids", nargs="+", metavar="TASK_ID")

    add_tasks = commands.add_parser(
        "add-tasks", help="add files to a job (mirrored paths)", parents=parents
    )
    add_tasks.add_argument("job_id", metavar="JOB_ID")
    add_tasks.add_argument("paths", nargs="+", metavar="PATH", help="e.g. share=projects/a.mov")
    add_tasks.add_argument("--no-duplicates", action="store_true", help="refuse duplicate tasks")


def _wait_command(commands: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    wait = commands.add_parser(
        "wait",
        help="wait until jobs reach a status, showing their progress",
        parents=parents,
        description="Exit codes: 0 every job reached the status, 1 a job ended in another "
        "(failed, aborted...), 4 --timeout ran out.",
    )
    wait.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    wait.add_argument(
        "--until",
        action="append",
        type=_status_argument,
        metavar="STATUS",
        help="the status to wait for (default done; repeatable: any of them)",
    )
    wait.add_argument(
        "--timeout", dest="wait_timeout", type=_seconds_argument, metavar="S", help="give up after"
    )
    wait.add_argument(
        "--interval", type=_seconds_argument, default=2.0, metavar="S", help="between polls"
    )


def build_parser() -> Tuple[argparse.ArgumentParser, Dict[str, argparse.ArgumentParser]]:
    """The parser, and the parser of each command (to report errors in its own terms)."""
    connection, output = _connection_options(), _output_options()
    parser = _Parser(
        prog="accsyn",
        parents=[connection],
        description="accsyn API client and local reference server. Connects with the "
        "ACCSYN_* environment (ACCSYN_WORKSPACE, ACCSYN_API_USER, ACCSYN_API_KEY, "
        "ACCSYN_URL...) or the connection options. Exit codes: 0 success, 1 nothing found "
        "(find-one) or a job ended otherwise (wait), 2 usage, 3 an accsyn error, "
        "4 wait timed out, 130 interrupted.",
    )
    parser.add_argument(
        "--version", action="version", version=f"{DISTRIBUTION} {__version__} (accsyn_api)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    debug = _Parser(add_help=False, argument_default=SUPPRESS)
    debug.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands.add_parser("demo", help="run a demo against the bundled local server", parents=[debug])
    server = commands.add_parser(
        "server",
        parents=[debug],
        help="run the local reference server",
        usage="accsyn server [options] [-- COMMAND ARGS...]",
        description="Serve the demo workspace until Ctrl-C, after printing the export lines "
        "that reach it; or, with -- COMMAND ARGS..., run COMMAND with those ACCSYN_* "
        "variables set, stop the server when it ends, and exit with its exit code.",
    )
    _server_options(server)
    _local_options(server, exports=True)
    shell = commands.add_parser(
        "shell", help="interactive Python with `session` connected", parents=[connection]
    )
    shell.add_argument("--local", action="store_true", help="to a fresh local reference server")
    shell.add_argument("--plain", action="store_true", help="the standard prompt, not IPython")
    _local_options(shell, exports=False)
    verbs = [connection, output]
    _find_commands(commands, verbs)
    _change_commands(commands, verbs)
    _wait_command(commands, verbs)
    return parser, dict(commands.choices)


def _split_command(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``argv`` before the first ``--``, and the command after it."""
    arguments = list(argv)
    if "--" not in arguments:
        return arguments, []
    index = arguments.index("--")
    return arguments[:index], arguments[index + 1 :]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; on a mistake, print the usage of the command concerned and exit 2."""
    parser, subparsers = build_parser()
    head, command = _split_command(argv)
    args, extra = parser.parse_known_args(head)
    concerned = subparsers.get(args.command, parser)
    if extra:
        concerned.error(f"unrecognized arguments: {' '.join(extra)}")
    if command and args.command != "server":
        concerned.error("'-- COMMAND' is for accsyn server -- COMMAND ARGS...")
    args.run = command
    return args
