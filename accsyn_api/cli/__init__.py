"""The ``accsyn`` command: a demo, a local reference server, a shell, and the verbs for scripts.

Exit codes: 0 success; 1 nothing found (``find-one``) or a job ended in
another status than the one waited for (``wait``); 2 wrong usage; 3 an
accsyn error (refused, not found, authentication, network, settings); 4
``wait --timeout`` ran out; 70 a fault of the command itself; 130 interrupted
(Ctrl-C). ``accsyn server --
COMMAND`` exits with the command's code. Errors are one or two lines on
standard error (``--debug`` adds the traceback). Results are a table on a
terminal and JSON otherwise (see :mod:`accsyn_api.cli.output`).

The modules: :mod:`~accsyn_api.cli.parser` (options),
:mod:`~accsyn_api.cli.verbs` (the verbs), :mod:`~accsyn_api.cli.connect`
(the Session), :mod:`~accsyn_api.cli.data` (``-`` and ``@file``),
:mod:`~accsyn_api.cli.output` and :mod:`~accsyn_api.cli.progress` (what is
printed), :mod:`~accsyn_api.cli.server`, :mod:`~accsyn_api.cli.shell`,
:mod:`~accsyn_api.cli.demo`, :mod:`~accsyn_api.cli.errors`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from typing import ContextManager, Optional, Sequence, TextIO

from ..errors import AccsynError, InvalidQuery
from .demo import run_demo
from .errors import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    UsageError,
    shell_message,
)
from .parser import parse
from .server import DEFAULT_SERVER_API_VERSION, ServerOptions, run_server

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "main",
    "run_demo",
    "run_server",
]


def _server(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.speed is not None and not args.simulate:
        raise UsageError("--speed needs --simulate")
    version = getattr(args, "api_version", None) or DEFAULT_SERVER_API_VERSION
    if version == "auto":
        raise UsageError("--api-version for the server is 1.0 or 3 (both are served)")
    options = ServerOptions(
        args.host,
        args.port,
        getattr(args, "role", "employee"),
        faults=args.fault,
        tls=args.tls,
        simulate=args.simulate,
        speed=args.speed,
        api_version=version,
    )
    return run_server(options, out, args.run, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "demo":
        run_demo(out)
        return EXIT_OK
    if args.command == "server":
        return _server(args, out, err)
    if args.command == "shell":
        from .shell import run_shell

        if args.speed is not None and not args.simulate:
            raise UsageError("--speed needs --simulate")
        if not args.local and (args.simulate or hasattr(args, "role")):
            raise UsageError("--simulate, --speed and --role are for a --local server")
        return run_shell(args, err)
    from .connect import SlowReplyNotice, open_session
    from .verbs import VERBS, Streams

    verb = VERBS[args.command]
    # wait shows its own signs of life; the other verbs tell a terminal when a reply is late
    notice: ContextManager[object] = (
        SlowReplyNotice(err) if args.command != "wait" else contextlib.nullcontext()
    )
    with notice, open_session(args) as session:
        return verb(session, args, Streams(out=out, err=err))


def _report(error: BaseException, command: str, err: TextIO, debug: bool) -> None:
    if debug:
        traceback.print_exception(type(error), error, error.__traceback__, file=err)
    if isinstance(error, UsageError):
        err.write(f"accsyn {command}: error: {error}\n")
    elif isinstance(error, AccsynError):
        err.write(f"accsyn: {type(error).__name__}: {shell_message(error.message_hr)}\n")
        if isinstance(error, InvalidQuery) and error.query and error.position is not None:
            err.write(f"    {error.query}\n    {' ' * error.position}^\n")  # where it went wrong


def main(
    argv: Optional[Sequence[str]] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    """Run the command line; returns the exit code.

    ``--help``, ``--version`` and mistakes argparse finds end with
    :class:`SystemExit` (code 0 or 2), as argparse does.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    command = "?"
    try:
        args = parse(arguments)
        command = args.command
        return _run(args, out, err)
    except UsageError as error:
        _report(error, command, err, debug)
        return EXIT_USAGE
    except AccsynError as error:
        _report(error, command, err, debug)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("accsyn: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (accsyn find ... | head)
        if out is sys.stdout:  # keep Python from failing again when it flushes at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # a fault of the command: still no traceback unless --debug
        if debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=err)
        err.write(
            f"accsyn: internal error: {type(error).__name__}: {error} (--debug shows the "
            "traceback; please report it)\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
