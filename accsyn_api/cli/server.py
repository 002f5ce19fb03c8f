"""``accsyn server``: the reference server for a shell, or around one command.

``accsyn server`` prints the ``export`` lines that point ``Session()`` (and
the ``accsyn`` verbs) at it, then serves until Ctrl-C or SIGTERM.
``accsyn server -- COMMAND ARGS...`` starts it, runs the command with those
``ACCSYN_*`` variables set, stops the server when the command ends and exits
with the command's exit code, the way test-database tools wrap a test run
(``accsyn server --simulate -- $SHELL`` opens a shell that reaches it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, TextIO, Union

from ..errors import ConnectionFailed
from .errors import EXIT_OK

if TYPE_CHECKING:
    from ..testing import LocalServer
    from ..testing.faults import Fault

__all__ = ["DEFAULT_SERVER_API_VERSION", "ServerOptions", "run_server"]

DEFAULT_SERVER_API_VERSION = "1.0"
"""The API generation whose ``export`` lines ``accsyn server`` prints by default."""
EXIT_COMMAND_NOT_FOUND = 127
EXIT_COMMAND_NOT_EXECUTABLE = 126


class ServerOptions:
    """How to run the reference server: the options of ``accsyn server``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        role: str = "employee",
        *,
        faults: Sequence[Fault] = (),
        tls: bool = False,
        simulate: bool = False,
        speed: Optional[float] = None,
        api_version: str = DEFAULT_SERVER_API_VERSION,
    ) -> None:
        self.host, self.port, self.role = host, port, role
        self.faults, self.tls = list(faults), tls
        self.simulate, self.speed = simulate, speed
        self.api_version = api_version

    def build(self) -> LocalServer:
        """The LocalServer, its socket open (so that its url is known), not yet serving."""
        from ..testing import LocalServer

        server = LocalServer(
            host=self.host,
            port=self.port,
            faults=self.faults,
            tls=self.tls,
            simulate=self.simulate,
            speed=self.speed,
            api_version=self.api_version,
        )
        try:
            server.bind()
        except (OSError, OverflowError) as error:
            server.stop()  # removes a TLS server's throwaway CA
            reason = getattr(error, "strerror", None) or error
            raise ConnectionFailed(
                f"Cannot listen on {self.host}:{self.port} ({reason}); "
                "choose another --port, or --port 0 for any free one."
            ) from None
        return server


_Handler = Union[Callable[[int, Optional[FrameType]], Any], int, None]


def _on_signals(handlers: Dict[signal.Signals, _Handler]) -> Callable[[], None]:
    """Install signal handlers (main thread only); returns what puts the old ones back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> Callable[[], None]:
    """Make Ctrl-C and SIGTERM stop the server, even if the shell started it with SIGINT ignored."""
    return _on_signals({signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _interrupt})


def _write_banner(server: LocalServer, role: str, out: TextIO) -> None:
    other = "3" if server.api_version == "1.0" else "1.0"
    default = " (the default)" if server.api_version == DEFAULT_SERVER_API_VERSION else ""
    out.write(
        f"# accsyn reference server at {server.url}, serving API v1.0 (/api/v1.0) and v3 "
        f"(/api/v3).\n# These lines are for API v{server.api_version}{default}; "
        f"--api-version {other} prints those for v{other}. Paste them into a shell\n"
        "# (or run `accsyn server -- COMMAND`, which sets them for COMMAND):\n"
    )
    for name, value in server.environment(role).items():
        out.write(f"export {name}={value}\n")
    verify = ""
    if server.ca_bundle is not None:
        out.write(
            f"# TLS with a throwaway CA: pass verify={server.ca_bundle!r} to "
            "accsyn_api.Session(...), or --ca-bundle to the accsyn command; the file is "
            "deleted when the server stops.\n"
        )
        verify = f'verify="{server.ca_bundle}"'
    out.write(
        f"# then: accsyn find Job, or python -c 'import accsyn_api; "
        f'print(accsyn_api.Session({verify}).find("Job"))\'\n'
    )
    if server.api_version != "1.0" and server.ca_bundle is None:
        relay = server.url.split("://", 1)[1]
        out.write(
            "# the official client (accsyn-python-api 3.x) reaches it with "
            f'proxy="accsyn:{relay}"\n'
        )


def _write_settings(server: LocalServer, out: TextIO) -> None:
    from ..testing.faults import format_fault

    for fault in server.faults:
        out.write(f"# fault: {format_fault(fault)}\n")
    simulation = server.backend.simulation
    if simulation is not None:
        out.write(
            f"# simulated transfers at {simulation.speed} MB/s: jobs created or whose status "
            "is changed from now on move; the demo jobs stand still until then\n"
        )


def _serve(server: LocalServer, role: str, out: TextIO) -> int:
    restore_signals = _stop_on_signals()
    try:  # Ctrl-C may come at any moment, even before serving starts
        _write_banner(server, role, out)
        _write_settings(server, out)
        out.write("# Ctrl-C stops the server.\n")
        out.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        restore_signals()
    return EXIT_OK


def _command_environment(server: LocalServer, role: str) -> Dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("ACCSYN_")
    }
    environment.update(server.environment(role))
    return environment


def _run_command(server: LocalServer, role: str, command: List[str], err: TextIO) -> int:
    """Run ``command`` against the serving ``server``; its exit code (128 + N for signal N)."""
    try:
        child = subprocess.Popen(command, env=_command_environment(server, role))  # noqa: S603
    except FileNotFoundError:
        err.write(f"accsyn server: command not found: {command[0]}\n")
        return EXIT_COMMAND_NOT_FOUND
    except PermissionError:
        err.write(f"accsyn server: cannot run {command[0]}: permission denied\n")
        return EXIT_COMMAND_NOT_EXECUTABLE

    def forward(signum: int, frame: Optional[FrameType]) -> None:
        child.send_signal(signum)

    # Ctrl-C reaches the command from the terminal; a SIGTERM sent to this process is
    # passed on. Either way the command decides when to end, and the server waits for it.
    restore = _on_signals({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: forward})
    try:
        code = child.wait()
    finally:
        restore()
    return 128 - code if code < 0 else code


def run_server(
    options: ServerOptions,
    out: TextIO = sys.stdout,
    command: Sequence[str] = (),
    err: TextIO = sys.stderr,
) -> int:
    """Serve the demo workspace until interrupted, or while ``command`` runs; the exit code.

    Both API generations are served; ``options.api_version`` says which one
    the printed ``export`` lines (or the command's variables) are for.
    """
    server = options.build()
    if not command:
        return _serve(server, options.role, out)
    try:
        server.start()
        return _run_command(server, options.role, list(command), err)
    finally:
        server.stop()
