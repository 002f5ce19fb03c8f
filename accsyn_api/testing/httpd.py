"""The reference server's HTTP plumbing: the threaded server, one handler, the replies.

Knows no API generation: each request goes to the front end whose API path
(``/api/v1.0``, ``/api/v3``) starts its path, which checks who sent it,
decodes it and says how to answer it (a :class:`Route`). The plumbing reads
bodies (only when the front end asks: a refused caller's body is discarded
unread), plays injected faults (:mod:`~accsyn_api.testing.faults`), writes
JSON replies, serves TLS and cuts connections when the server stops. Every
refusal is a JSON object ``{"message", "message_hr", "error_code"}``, also for
requests that could not be read.

Limits: the body limits of :mod:`~accsyn_api.testing.incoming` (413 beyond),
and the timeouts and connection limit of :mod:`~accsyn_api.testing.connections`
(a body that does not arrive in time is refused with 408).
"""

from __future__ import annotations

import contextlib
import errno
import http.server
import logging
import socket
import threading
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    cast,
)

from accsyn_api import codec
from accsyn_api.testing.backend import Backend
from accsyn_api.testing.connections import Connection, ConnectionTable
from accsyn_api.testing.decoding import Refusal
from accsyn_api.testing.eventlog import EVENT_HISTORY, EventLog
from accsyn_api.testing.faults import Execute, FaultInjector, format_fault, play_fault
from accsyn_api.testing.incoming import MAX_BODY_BYTES, MAX_FORM_BYTES, Body, Request
from accsyn_api.testing.serving import PromptlyStoppingServer

if TYPE_CHECKING:
    from accsyn_api.testing.tls import ThrowawayTLS

__all__ = [
    "EVENT_HISTORY",
    "MAX_BODY_BYTES",
    "MAX_FORM_BYTES",
    "EventLog",
    "FrontEnd",
    "HTTPServer",
    "Request",
    "Route",
]

logger = logging.getLogger("accsyn_api.testing")

TLS_HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client gets to complete the TLS handshake."""

Reply = Tuple[int, Dict[str, Any]]


@dataclass
class Route:
    """How to answer a request: the ``uri`` faults match it by, and what executes it.

    ``expire_session`` plays the ``expire_session`` fault the front end's way: it
    returns a reply to send instead of executing the request, or None to execute it.
    """

    fault_uri: Optional[str]
    execute: Execute
    expire_session: Callable[[], Optional[Reply]]


class FrontEnd(Protocol):
    """One API generation's paths, headers and envelope (see ``frontend_v1``/``frontend_v3``)."""

    api_path: str

    def route(self, request: Request) -> Route:
        """Decode ``request`` (a :class:`Refusal` when it cannot be read) and route it."""


class _Handler(http.server.BaseHTTPRequestHandler):
    """Reads one request, hands it to its front end, writes the JSON reply."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server_version = "accsyn-reference-server"
    _route_now: Optional[Route] = None
    _connection: Optional[Connection] = None

    def version_string(self) -> str:
        return self.server_version

    @property
    def http_server(self) -> HTTPServer:
        """The server this handler serves for."""
        return cast(HTTPServer, self.server)

    def setup(self) -> None:
        """Each read and each reply waits for the network at most the idle timeout."""
        self._connection = self.http_server.connection_of_this_thread()
        super().setup()
        self.connection.settimeout(self.http_server.connections.idle_timeout)

    def handle_one_request(self) -> None:
        """Wait (within the idle timeout) for the next request, and answer it."""
        if self._enter("waiting"):
            super().handle_one_request()

    def _enter(self, phase: str) -> bool:
        """Move this connection to ``phase``; False (and closing) if it was cut meanwhile."""
        connection = self._connection
        if connection is None or self.http_server.connections.enter(connection, phase):
            return True
        self.close_connection = True
        return False

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        if not self._enter("reading"):  # the head is in: now the body, if any
            return
        try:
            route = self._route(method)
            fault = self.http_server.faults.take(route.fault_uri, method)
        except Exception as exc:
            self._send_json(*self._failure(method, exc))
            return
        if not self._enter("busy"):
            return
        if fault is None:
            self._send_json(*self._run(method, route.execute))
            return
        logger.debug("Playing fault %s on %s %s", format_fault(fault), method, route.fault_uri)
        self._route_now = route
        play_fault(fault, lambda: self._run(method, route.execute), self)

    def _route(self, method: str) -> Route:
        path, _, raw_query = self.path.partition("?")
        path = path.rstrip("/")
        for front_end in self.http_server.front_ends:
            prefix = front_end.api_path
            if path == prefix or path.startswith(prefix + "/"):
                request = Request(
                    self.http_server,
                    method,
                    path[len(prefix) :].strip("/"),
                    raw_query,
                    self.headers,
                    str(self.connection.getsockname()[0]),
                    self.body(),
                )
                try:
                    return front_end.route(request)
                finally:
                    request.settle()
                    if request.unreadable:
                        self.close_connection = True
        if not self.body().discard():
            self.close_connection = True
        served = " and ".join(
            f"{front_end.api_path}/..." for front_end in self.http_server.front_ends
        )
        raise Refusal(
            404,
            f"No such path: {path[:200]}",
            f"Unknown address {path[:200]}: the API is served under {served}.",
            "not_found",
        )

    def _run(self, method: str, execute: Execute) -> Reply:
        try:
            return execute()
        except Exception as exc:
            return self._failure(method, exc)

    def _failure(self, method: str, exc: Exception) -> Reply:
        """The reply to a refused request, or to a fault of the server (which keeps serving)."""
        if isinstance(exc, Refusal):
            if exc.close:
                self.close_connection = True
            return exc.answer()
        logger.debug("Reference server failed on %s %s", method, self.path[:200], exc_info=exc)
        return 500, {"exception": f"{type(exc).__name__}: {exc}"}

    def body(self) -> Body:
        """The body of the request being served, read within the server's limits."""
        return Body(self.headers, self.rfile, self._connection, self.http_server.connections)

    # -- replies ------------------------------------------------------------------

    def _send_json(self, status: int, reply: Mapping[str, Any]) -> None:
        status, payload = self.encode_reply(status, reply)
        self.send_reply(status, payload, "application/json", {}, cut=-1)

    def encode_reply(self, status: int, reply: Mapping[str, Any]) -> Tuple[int, bytes]:
        """The JSON bytes of ``reply`` (a 500 reply if it cannot be encoded)."""
        try:
            text = codec.encode(reply)
        except (TypeError, ValueError) as exc:
            status, text = 500, codec.encode({"exception": f"Reply not encodable: {exc}"})
        return status, text.encode("utf-8")

    def send_reply(
        self, status: int, body: bytes, content_type: str, headers: Dict[str, str], *, cut: int
    ) -> None:
        """Send a reply with Content-Length ``len(body)`` but only ``body[:cut]`` if cut >= 0."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body if cut < 0 else body[:cut])
            self.wfile.flush()

    # -- what faults need (see faults.FaultTarget) --------------------------------

    def drop_connection(self) -> None:
        """Close the TCP connection now, whatever was (not) sent: the client sees it closed."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def wait_unless_stopping(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the server stops; True if it stopped."""
        return self.http_server.stopping.wait(seconds)

    def expire_sessions(self) -> Optional[Reply]:
        """Play ``expire_session`` the way the request's front end does."""
        route = self._route_now
        return route.expire_session() if route is not None else None

    def send_error(
        self, code: int, message: Optional[str] = None, explain: Optional[str] = None
    ) -> None:
        """Protocol-level errors (bad request line, unknown method...) as JSON refusals.

        An HTTP method the API does not use (501 in :mod:`http.server`) is
        answered 405. The connection is closed: the request was not read.
        """
        if code == 501:
            code = 405
            message = f"Method {self.command!r} is not supported; use GET, POST, PUT or DELETE."
        elif code == 414:
            message = (
                "The request line is too long: read in pages (limit/skip) rather than "
                "growing a GET query string."
            )
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "The request could not be read"
        text = message or explain or f"{phrase}."
        self.close_connection = True
        self._send_json(code, Refusal(code, text).reply)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = getattr(self, "path", "") or ""  # unset when the request line was unreadable
        logger.debug("%s %s -> %s", self.command, path[:200], code)  # never headers, hence keys

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class HTTPServer(PromptlyStoppingServer, http.server.ThreadingHTTPServer):
    """The threaded HTTP server: its backend, front ends, faults and open connections.

    One thread per connection, at most ``connections.max_connections`` of them
    (see :mod:`~accsyn_api.testing.connections`).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: connections wait there, not refused

    def __init__(
        self,
        address: Tuple[str, int],
        backend: Backend,
        front_ends: Sequence[FrontEnd],
        events: EventLog,
        faults: FaultInjector,
        connections: ConnectionTable,
        tls: Optional[ThrowawayTLS] = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.backend = backend
        self.front_ends = tuple(front_ends)
        self.faults = faults
        self.tls = tls
        self.connections = connections
        self.stopping = threading.Event()
        """Set when the server stops: a delayed reply stops waiting."""
        self._events = events
        self._this_thread = threading.local()  # the Connection a handler thread serves

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.server_address[1])

    @property
    def connections_accepted(self) -> int:
        """How many connections this server has accepted."""
        return self.connections.accepted

    def record_event(self, event: Mapping[str, Any]) -> None:
        """Keep a copy of a decoded event for :attr:`LocalServer.events` (see
        :mod:`~accsyn_api.testing.eventlog`: bounded in count and bytes)."""
        self._events.record(event)

    def connection_of_this_thread(self) -> Optional[Connection]:
        """The Connection record of the connection this (handler) thread serves."""
        return cast(Optional[Connection], getattr(self._this_thread, "connection", None))

    def get_request(self) -> Tuple[socket.socket, Any]:
        """Accept a connection once there is room for it (see ConnectionTable.make_room).

        Out of room or out of file descriptors, an OSError makes the accept loop
        try again at its next turn (after a short wait: it never spins).
        """
        if not self.connections.make_room():
            raise OSError(errno.EAGAIN, "the server is at its connection limit")
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                logger.debug("Out of file descriptors: cutting the longest waiting connection")
                self.connections.cut_longest_waiting()
                self.stopping.wait(0.05)
            raise

    def service_actions(self) -> None:
        """Run by the accept loop at each turn: cut the connections past their deadline."""
        self.connections.cut_overdue()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection (in its own thread), over TLS when the server has it."""
        connection = self.connections.find(request)
        self._this_thread.connection = connection
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(TLS_HANDSHAKE_TIMEOUT)
        try:
            secure = self.tls.wrap(request)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        secure.settimeout(None)
        if connection is not None:
            self.connections.wrapped(connection, secure)
        try:
            if not self.stopping.is_set():  # stop() may have closed the connections meanwhile
                super().finish_request(secure, client_address)
        finally:
            with contextlib.suppress(OSError):
                secure.shutdown(socket.SHUT_WR)
            secure.close()

    def shutdown_request(self, request: Any) -> None:
        self.connections.remove(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler failed outside the routes (a dropped client...): log it, never print."""
        logger.debug("Connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut the kept-alive connections, so that no handler thread lingers."""
        self.connections.cut_all()
