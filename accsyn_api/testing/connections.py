"""The reference server's open connections: how many, how long each may take, which to cut.

Each accepted connection has a :class:`Connection` record in a
:class:`ConnectionTable`, in one of three phases:

* ``waiting``: for a request and its head (request line and headers), at most
  ``idle_timeout`` seconds from the end of the previous reply (or the accept);
* ``reading``: the body of a request, at most ``body_timeout`` seconds in all;
* ``busy``: executing a request and writing its reply (never cut for time;
  each write is bounded by the socket's timeout).

:meth:`ConnectionTable.cut_overdue` (run by the accept loop) cuts connections
past their deadline. At most ``max_connections`` are open: to accept another,
:meth:`ConnectionTable.make_room` cuts the one that has waited longest (an idle
keep-alive connection first, then the slowest body), so that idle or stalled
clients cannot lock the others out. The default limit follows the process's
file limit (:func:`default_max_connections`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

__all__ = [
    "BODY_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "IDLE_TIMEOUT",
    "Connection",
    "ConnectionTable",
    "default_max_connections",
]

IDLE_TIMEOUT = 60.0
"""Seconds a connection may wait for its next request and that request's head."""
BODY_TIMEOUT = 60.0
"""Seconds a request body may take to arrive whole."""
DEFAULT_MAX_CONNECTIONS = 128
"""Connections served at once at most (fewer when the process's file limit is low)."""
FILE_DESCRIPTOR_RESERVE = 64
"""File descriptors left for the rest of the process (files, the listening socket...)."""
_ROOM_WAIT = 0.1  # seconds the accept loop waits for a connection to end


def default_max_connections() -> int:
    """:data:`DEFAULT_MAX_CONNECTIONS`, or fewer so that the process's file limit holds."""
    try:
        import resource
    except ImportError:  # not on Unix
        return DEFAULT_MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(4, min(DEFAULT_MAX_CONNECTIONS, (int(soft) - FILE_DESCRIPTOR_RESERVE) // 2))


@dataclass(eq=False)
class Connection:
    """One accepted connection: its socket (TLS-wrapped once the handshake is done) and phase."""

    sock: socket.socket
    phase: str
    since: float
    deadline: Optional[float]
    timed_out: bool = False
    """True once cut for being too slow: a body being read gets a 408 refusal."""
    cut: bool = False


class ConnectionTable:
    """The open connections of one server, their deadlines, and the limit on their number."""

    def __init__(self, max_connections: int, idle_timeout: float, body_timeout: float) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be 1 or more, not {max_connections}")
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.accepted = 0
        self._open: Dict[socket.socket, Connection] = {}  # by the accepted socket
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._open)

    def add(self, sock: socket.socket) -> Connection:
        """Record a newly accepted connection, waiting for its first request."""
        now = time.monotonic()
        connection = Connection(sock, "waiting", now, now + self.idle_timeout)
        with self._changed:
            self.accepted += 1
            self._open[sock] = connection
        return connection

    def find(self, sock: socket.socket) -> Optional[Connection]:
        """The record of the connection accepted as ``sock``, if it is open."""
        with self._changed:
            return self._open.get(sock)

    def remove(self, sock: socket.socket) -> None:
        """Forget a connection that was closed."""
        with self._changed:
            if self._open.pop(sock, None) is not None:
                self._changed.notify_all()

    def wrapped(self, connection: Connection, secure: socket.socket) -> None:
        """The connection now speaks TLS over ``secure``."""
        with self._changed:
            connection.sock = secure

    def enter(self, connection: Connection, phase: str) -> bool:
        """Move ``connection`` to ``phase``; False if it was cut meanwhile (stop serving it)."""
        now = time.monotonic()
        timeouts = {"waiting": self.idle_timeout, "reading": self.body_timeout}
        with self._changed:
            if connection.cut:
                return False
            connection.phase, connection.since = phase, now
            timeout = timeouts.get(phase)
            connection.deadline = None if timeout is None else now + timeout
            return True

    def cut_overdue(self) -> None:
        """Cut every connection past its deadline."""
        now = time.monotonic()
        with self._changed:
            for connection in list(self._open.values()):
                deadline = connection.deadline
                if deadline is not None and deadline <= now and not connection.cut:
                    connection.timed_out = True
                    self._cut(connection)

    def make_room(self) -> bool:
        """Make room to accept one more connection; False if none could be made in time.

        At the limit, the connection that has waited longest is cut (idle ones
        before slow bodies) and its end awaited; busy ones are never cut.
        """
        give_up = time.monotonic() + _ROOM_WAIT
        with self._changed:
            while len(self._open) >= self.max_connections:
                victim = self._longest_waiting()
                if victim is not None:
                    self._cut(victim)
                left = give_up - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def cut_longest_waiting(self) -> None:
        """Cut the connection that has waited longest, if any (out of file descriptors)."""
        with self._changed:
            victim = self._longest_waiting()
            if victim is not None:
                self._cut(victim)

    def cut_all(self) -> None:
        """Cut every connection (the server stops)."""
        with self._changed:
            for connection in list(self._open.values()):
                self._cut(connection, both_ways=True)

    def _longest_waiting(self) -> Optional[Connection]:
        candidates: List[Connection] = [
            c for c in self._open.values() if c.phase != "busy" and not c.cut
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda c: (c.phase != "waiting", c.since))

    def _cut(self, connection: Connection, *, both_ways: bool = False) -> None:
        """Stop reading from ``connection``: its handler sees the end of its input.

        A body being read is then refused with 408 on the still open write side;
        a connection waiting for a request is closed by its handler.
        """
        connection.cut = True
        reading = connection.phase == "reading" and not both_ways
        how = socket.SHUT_RD if reading else socket.SHUT_RDWR
        with contextlib.suppress(OSError):
            # The base class's shutdown: SSLSocket.shutdown would drop the TLS state
            # that the 408 reply still needs.
            socket.socket.shutdown(connection.sock, how)
