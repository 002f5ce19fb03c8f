"""Connecting the verbs: a Session from the options and the environment, and its troubles.

The connection options (``--workspace``, ``--user``, ``--url``,
``--api-version``, ``--proxy``, ``--ca-bundle``, ``--timeout``) win over the
``ACCSYN_*`` variables, as arguments of ``Session()`` do. The API key comes
only from ``ACCSYN_API_KEY`` or ``--api-key-file``: never from the command
line, where ``ps`` and the shell's history would show it.
"""

from __future__ import annotations

import argparse
import difflib
import threading
from typing import List, Optional, TextIO

from ..errors import AccsynError, NotFound
from ..protocol import names
from ..session import Session
from .data import read_api_key_file
from .output import is_terminal

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "SLOW_REPLY_NOTICE_AFTER",
    "SlowReplyNotice",
    "open_session",
    "unknown_entity_type",
]

CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
"""Seconds the command waits for each reply, unless ``--timeout`` says otherwise."""
SLOW_REPLY_NOTICE_AFTER = 5.0
"""Seconds without an answer after which a terminal is told the command still waits."""


def open_session(args: argparse.Namespace) -> Session:
    """A logged-in Session from the options of ``args``, else the environment."""
    key_file: Optional[str] = getattr(args, "api_key_file", None)
    ca_bundle: Optional[str] = getattr(args, "ca_bundle", None)
    read_timeout: Optional[float] = getattr(args, "timeout", None)
    return Session(
        workspace=getattr(args, "workspace", None),
        username=getattr(args, "user", None),
        api_key=read_api_key_file(key_file) if key_file else None,
        api_version=getattr(args, "api_version", None),
        url=getattr(args, "url", None),
        proxy=getattr(args, "proxy", None),
        verify=ca_bundle if ca_bundle else True,
        timeout=(CONNECT_TIMEOUT, read_timeout or DEFAULT_READ_TIMEOUT),
    )


class SlowReplyNotice:
    """While in use, tells a terminal once that the server has not answered yet.

    A hung server otherwise holds a command silently for as long as the read
    timeout. Nothing is written when ``stream`` is not a terminal.
    """

    def __init__(self, stream: TextIO, after: float = SLOW_REPLY_NOTICE_AFTER) -> None:
        self.stream = stream
        self.after = after
        self._timer: Optional[threading.Timer] = None

    def _tell(self) -> None:
        try:
            self.stream.write(
                f"accsyn: no answer from the server after {self.after:g} s; still waiting "
                "(--timeout sets how long). Ctrl-C stops.\n"
            )
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away
            pass

    def __enter__(self) -> SlowReplyNotice:
        if is_terminal(self.stream):
            self._timer = threading.Timer(self.after, self._tell)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _known_types(session: Session) -> List[str]:
    found = session.find("entitytypes")
    known = [str(name).lower() for name in found if isinstance(name, str)]
    if session.api_version == names.V3:
        known += [alias for alias in names.V3_ENTITY_ALIASES if alias not in known]
    return known


def unknown_entity_type(session: Session, error: NotFound, query: str) -> Optional[str]:
    """For a find refused because its entity type does not exist: a message with a suggestion.

    ``None`` when the refusal was about something else, or the known types
    cannot be read.
    """
    typed = query.strip().split(" ", 1)[0].strip()
    if not typed or not str(error.uri or "").lower().endswith("/find"):
        return None
    try:
        known = _known_types(session)
    except AccsynError:
        return None
    if typed.lower() in known:
        return None
    close = difflib.get_close_matches(typed.lower(), known, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"There is no entity type '{typed}'.{hint} The entity types are: {', '.join(known)}."
