"""An accept loop that ``shutdown()`` ends at once, so that a LocalServer stops in a moment.

:meth:`socketserver.BaseServer.serve_forever` notices a ``shutdown()`` only
when its wait for the next connection times out (the poll interval: 50 ms for
the reference server, whose loop also runs the connection timeouts at each
turn). :class:`PromptlyStoppingServer` waits on the listening socket and on a
wake-up socket pair: ``shutdown()`` writes one byte, and the loop ends
straight away, whatever the poll interval.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from typing import Any

__all__ = ["PromptlyStoppingServer"]

_ACCEPT, _WAKE = "accept", "wake"


class PromptlyStoppingServer(socketserver.TCPServer):
    """A TCP server whose :meth:`serve_forever` ends as soon as :meth:`shutdown` is called.

    Put it first among the bases of a server class (before
    ``http.server.ThreadingHTTPServer``, say). The loop is that of
    :mod:`socketserver` otherwise: one connection accepted per turn,
    :meth:`service_actions` run at each turn (at least every ``poll_interval``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Made before the base class binds: a failed bind calls server_close(), which closes them.
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        super().__init__(*args, **kwargs)
        self._wake_writer.setblocking(False)
        self._stop_asked = False
        self._stopped = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept and serve connections until :meth:`shutdown` (from another thread)."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.fileno(), selectors.EVENT_READ, _ACCEPT)
                selector.register(self._wake_reader, selectors.EVENT_READ, _WAKE)
                while not self._stop_asked:
                    ready = selector.select(poll_interval)
                    if self._stop_asked:
                        break
                    for key, _ in ready:
                        if key.data == _ACCEPT:
                            self._accept_one()
                        else:
                            self._drain_wake_ups()
                    self.service_actions()
        finally:
            self._stop_asked = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Make :meth:`serve_forever` end now, and wait until it has (not from its thread)."""
        self._stop_asked = True
        with contextlib.suppress(OSError):  # a full buffer already holds a wake-up
            self._wake_writer.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and the wake-up pair."""
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def _accept_one(self) -> None:
        """Accept one waiting connection and hand it over, as :mod:`socketserver` does."""
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        if not self.verify_request(request, client_address):
            self.shutdown_request(request)
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def _drain_wake_ups(self) -> None:
        with contextlib.suppress(OSError):  # nothing left to read
            while self._wake_reader.recv(4096):
                pass
