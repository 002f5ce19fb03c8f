"""``accsyn shell``: an interactive Python with ``session`` connected.

``accsyn shell`` connects as the verbs do (options, else the ``ACCSYN_*``
environment). ``accsyn shell --local`` starts a fresh reference server with
the demo workspace first (``--simulate``, ``--role`` and ``--api-version`` as
for ``accsyn server``) and stops it when the shell ends; ``server`` is then
bound too, so that ``server.backend.clock.advance(minutes=5)`` moves time.
IPython is used when installed (``--plain``: the standard prompt).
"""

from __future__ import annotations

import argparse
import code
import importlib
from contextlib import ExitStack
from typing import Any, Dict, Optional, TextIO

from .errors import EXIT_OK

__all__ = ["run_shell"]


def _banner(namespace: Dict[str, Any]) -> str:
    session = namespace["session"]
    lines = [
        f"accsyn shell: session = {session!r}",
        "Try: session.find('Job'), session.find_one('Job where code=\"x and y.png\"'), "
        "session.wait(job_id)",
    ]
    if "server" in namespace:
        lines.append(
            "server = the local reference server, stopped on exit; "
            "server.backend.clock.advance(minutes=5) moves its time"
        )
    lines.append(
        "Names: session, accsyn_api, select" + (", server" if "server" in namespace else "")
    )
    return "\n".join(lines)


def _ipython_installed() -> bool:
    try:
        importlib.import_module("IPython")
    except ImportError:
        return False
    return True


def _interact(namespace: Dict[str, Any], plain: bool) -> None:
    banner = _banner(namespace)
    if not plain and _ipython_installed():
        ipython = importlib.import_module("IPython")  # optional: no stubs needed
        ipython.start_ipython(argv=["--no-banner"], user_ns=namespace)
        return
    code.interact(banner=banner, local=namespace, exitmsg="")


def run_shell(args: argparse.Namespace, err: TextIO) -> int:
    """Open the interactive prompt; returns the exit code once it is left."""
    import accsyn_api

    from .connect import open_session

    namespace: Dict[str, Any] = {"accsyn_api": accsyn_api, "select": accsyn_api.select}
    with ExitStack() as stack:
        if args.local:
            server = stack.enter_context(_local_server(args))
            namespace["server"] = server
            session = stack.enter_context(server.session(getattr(args, "role", "employee")))
        else:
            session = stack.enter_context(open_session(args))
        namespace["session"] = session
        if not args.plain and _ipython_installed():
            err.write(_banner(namespace) + "\n")
        _interact(namespace, args.plain)
    return EXIT_OK


def _local_server(args: argparse.Namespace) -> Any:
    from .server import DEFAULT_SERVER_API_VERSION, ServerOptions

    version: Optional[str] = getattr(args, "api_version", None)
    if version in (None, "auto"):
        version = DEFAULT_SERVER_API_VERSION
    options = ServerOptions(simulate=args.simulate, speed=args.speed, api_version=version)
    return options.build().start()
