"""LocalServer: the reference accsyn server over HTTP on 127.0.0.1.

It speaks the accsyn wire protocol (login, the ``/api/v1.0/event`` endpoint,
the registry look-up) and hands every decoded request to a
:class:`~accsyn_api.testing.backend.Backend`, which holds the workspace and
applies the rules. Nothing here knows about jobs.

Example::

    from accsyn_api.testing import LocalServer

    with LocalServer() as server:             # a free port on 127.0.0.1
        session = server.session("employee")  # a logged-in accsyn_api.Session
        print(session.find("Job"))

Connections are kept alive (HTTP/1.1), every request runs in its own
thread, and a malformed request gets a JSON refusal
(``{"message", "message_hr", "error_code": "invalid_data"}``) without
affecting the server or its state.

Faults of a real network (dropped connections, delays, 502/503, truncated
replies, expired sessions) can be injected per uri or per nth request with
:meth:`LocalServer.inject` (see :mod:`accsyn_api.testing.faults`), and
``LocalServer(tls=True)`` serves HTTPS with a throwaway certificate.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import copy
import gzip
import http.server
import logging
import socket
import threading
import zlib
from typing import (
    TYPE_CHECKING,
    Any,
    Deque,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    Union,
    cast,
)
from urllib.parse import unquote

from .. import codec
from .backend import Backend
from .faults import (
    LOGIN_FAULT_URI,
    REGISTRY_FAULT_URI,
    Execute,
    Fault,
    FaultInjector,
    FaultKind,
    format_fault,
    play_fault,
)
from .simulation import DEFAULT_SPEED

if TYPE_CHECKING:
    from ..session import Session
    from .tls import ThrowawayTLS

__all__ = ["LocalServer"]

logger = logging.getLogger("accsyn_api.testing")

API_PREFIX = "/api/v1.0"
LOGIN_PATH = f"{API_PREFIX}/user/login/auth"
EVENT_PATH = f"{API_PREFIX}/event"
REGISTRY_PATH = f"{API_PREFIX}/registry/organization/domain"
MAX_BODY_BYTES = 256 * 1024 * 1024
EVENT_HISTORY = 1000
"""How many received events :attr:`LocalServer.events` keeps."""


class _EventLog:
    """The last :data:`EVENT_HISTORY` events received, kept across restarts of a server."""

    def __init__(self) -> None:
        self._events: Deque[Dict[str, Any]] = collections.deque(maxlen=EVENT_HISTORY)
        self._lock = threading.Lock()  # a deque must not change while it is copied

    def record(self, event: Mapping[str, Any]) -> None:
        snapshot = copy.deepcopy(dict(event))
        with self._lock:
            self._events.append(snapshot)

    def snapshot(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._events)


TLS_HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client gets to complete the TLS handshake."""


class _Refusal(Exception):
    """A request the server cannot accept; answered as a JSON refusal."""

    def __init__(
        self,
        status: int,
        message: str,
        message_hr: Optional[str] = None,
        error_code: str = "invalid_data",
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reply = {
            "message": message,
            "message_hr": message_hr or message,
            "error_code": error_code,
        }
        self.close = close


def _decode_b64_json(text: str, what: str) -> Dict[str, Any]:
    """The JSON object inside standard base64 ``text``; a 400 refusal if it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        value = codec.decode(raw)
    except (binascii.Error, ValueError) as exc:
        raise _Refusal(
            400,
            f"The {what} is not base64 of a JSON object: {exc}",
            f"The {what} could not be read: it must be standard base64 of a JSON object.",
        ) from None
    if not isinstance(value, dict):
        raise _Refusal(400, f"The {what} must hold a JSON object, not {type(value).__name__}.")
    return value


def _decode_json_object(raw: bytes, what: str) -> Dict[str, Any]:
    try:
        value = codec.decode(raw)
    except ValueError as exc:
        raise _Refusal(
            400,
            f"The {what} is not valid JSON: {exc}",
            f"The {what} could not be read: it must be a JSON object.",
        ) from None
    if not isinstance(value, dict):
        raise _Refusal(400, f"The {what} must be a JSON object, not {type(value).__name__}.")
    return value


def _unpack_gz_data(event: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``event`` with ``gz_data`` (base64 of gzipped JSON) replaced by ``data``."""
    packed = event.get("gz_data")
    if not isinstance(packed, str):
        raise _Refusal(400, "gz_data must be a string: base64 of gzipped JSON.")
    try:
        text = gzip.decompress(base64.b64decode(packed, validate=True))
    except (ValueError, OSError, EOFError, zlib.error) as exc:  # binascii.Error is a ValueError
        raise _Refusal(
            400,
            f"gz_data could not be unpacked: {exc}",
            "The compressed payload (gz_data) is not base64 of gzip data.",
        ) from None
    try:
        data = codec.decode(text)
    except ValueError as exc:
        raise _Refusal(400, f"gz_data does not hold valid JSON: {exc}") from None
    unpacked = {key: value for key, value in event.items() if key != "gz_data"}
    unpacked["data"] = data
    return unpacked


class _Handler(http.server.BaseHTTPRequestHandler):
    """Reads one request, routes it to the backend, writes the JSON reply."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server_version = "accsyn-reference-server"

    def version_string(self) -> str:
        return self.server_version

    @property
    def _http_server(self) -> _HTTPServer:
        return cast(_HTTPServer, self.server)

    # -- HTTP methods ---------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            fault_uri, execute = self._route(method)
            fault = self._http_server.faults.take(fault_uri, method)
        except Exception as exc:
            self._send_json(*self._failure(method, exc))
            return
        if fault is None:
            self._send_json(*self._run(method, execute))
            return
        logger.debug("Playing fault %s on %s %s", format_fault(fault), method, fault_uri)
        play_fault(fault, lambda: self._run(method, execute), self)

    def _route(self, method: str) -> Tuple[Optional[str], Execute]:
        """Read and decode the request: the uri faults match it by, and how to answer it."""
        body = self._read_body()
        path, _, raw_query = self.path.partition("?")
        path = path.rstrip("/")
        if path == EVENT_PATH:
            event = self._decode_event(method, body, raw_query)
            self._http_server.record_event(event)
            session = self._session_header()
            backend = self._http_server.backend
            uri = event.get("uri")
            return (
                uri if isinstance(uri, str) else None,
                lambda: (200, backend.handle(method, event, session)),
            )
        if path == LOGIN_PATH:
            return LOGIN_FAULT_URI, lambda: self._login(method, body)
        if path == REGISTRY_PATH:
            return REGISTRY_FAULT_URI, lambda: self._registry(method, body)
        raise _Refusal(
            404,
            f"No such path: {path[:200]}",
            f"Unknown address {path[:200]}: the API is served under "
            f"{API_PREFIX}/event and {LOGIN_PATH}.",
        )

    def _run(self, method: str, execute: Execute) -> Tuple[int, Dict[str, Any]]:
        try:
            return execute()
        except Exception as exc:
            return self._failure(method, exc)

    def _failure(self, method: str, exc: Exception) -> Tuple[int, Dict[str, Any]]:
        """The reply to a refused request, or to a fault of the server (which keeps serving)."""
        if isinstance(exc, _Refusal):
            if exc.close:
                self.close_connection = True
            return exc.status, exc.reply
        logger.debug("Reference server failed on %s %s", method, self.path[:200], exc_info=exc)
        return 500, {"exception": f"{type(exc).__name__}: {exc}"}

    def _require_method(self, method: str, allowed: str) -> None:
        if method != allowed:
            raise _Refusal(405, f"{method} is not allowed here; use {allowed}.")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            raise _Refusal(
                411, "Chunked request bodies are not supported; send Content-Length.", close=True
            )
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            raise _Refusal(400, f"Invalid Content-Length {length_text[:50]!r}.", close=True)
        if length > MAX_BODY_BYTES:
            raise _Refusal(413, f"The body is too large ({length} bytes).", close=True)
        body = self.rfile.read(length)
        if len(body) != length:
            raise _Refusal(400, "The body ended before Content-Length bytes.", close=True)
        return body

    # -- routes ---------------------------------------------------------------

    def _login(self, method: str, body: bytes) -> Tuple[int, Dict[str, Any]]:
        self._require_method(method, "PUT")
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme != "ASCredentials" or not value:
            raise _Refusal(
                401,
                "Login needs the header 'Authorization: ASCredentials <base64 JSON>'.",
                "No credentials were sent: give the domain, user name and API key.",
                "authentication_failed",
            )
        credentials = _decode_b64_json(value, "ASCredentials header")
        payload = _decode_json_object(body, "login body") if body.strip() else {}
        return 200, self._http_server.backend.login(credentials, payload)

    def _decode_event(self, method: str, body: bytes, raw_query: str) -> Dict[str, Any]:
        if method in ("GET", "DELETE"):
            if not raw_query:
                raise _Refusal(
                    400,
                    f"{method} {EVENT_PATH} needs the event as the query string.",
                    "The request holds no event: send the JSON event, percent-encoded, "
                    "as the query string.",
                )
            event = _decode_json_object(unquote(raw_query).encode("utf-8"), "event")
        else:
            event = _decode_json_object(body, "event")
        if "gz_data" in event:
            event = _unpack_gz_data(event)
        return event

    def _session_header(self) -> Optional[Dict[str, Any]]:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme != "ASSession" or not value:
            return None
        try:
            return _decode_b64_json(value, "ASSession header")
        except _Refusal:
            return None

    def _registry(self, method: str, body: bytes) -> Tuple[int, Dict[str, Any]]:
        self._require_method(method, "PUT")
        request = _decode_json_object(body, "registry request")
        organization = request.get("organization")
        if not isinstance(organization, str) or not organization.strip():
            raise _Refusal(400, 'The registry needs {"organization": "<domain>"}.')
        return 200, {"domain": organization.strip()}

    # -- replies and logging ----------------------------------------------------

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
        return self._http_server.stopping.wait(seconds)

    def expire_sessions(self) -> None:
        self._http_server.backend.expire_sessions()

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
        self._send_json(code, _Refusal(code, text).reply)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = getattr(self, "path", "") or ""  # unset when the request line was unreadable
        logger.debug("%s %s -> %s", self.command, path[:200], code)  # never headers, hence keys

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(http.server.ThreadingHTTPServer):
    """The threaded HTTP server, which knows its backend and its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: Tuple[str, int],
        backend: Backend,
        events: _EventLog,
        faults: FaultInjector,
        tls: Optional[ThrowawayTLS] = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.backend = backend
        self.faults = faults
        self.tls = tls
        self.stopping = threading.Event()
        """Set when the server stops: a delayed reply stops waiting."""
        self._events = events
        self.connections_accepted = 0
        self._connections: Set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def record_event(self, event: Mapping[str, Any]) -> None:
        """Keep a copy of a decoded event for :attr:`LocalServer.events`."""
        self._events.record(event)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections_accepted += 1
            self._connections.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection (in its own thread), over TLS when the server has it."""
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
        with self._connections_lock:
            self._connections.discard(request)
            self._connections.add(secure)
        try:
            if not self.stopping.is_set():  # stop() may have closed the connections meanwhile
                super().finish_request(secure, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(secure)
            with contextlib.suppress(OSError):
                secure.shutdown(socket.SHUT_WR)
            secure.close()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A handler failed outside the routes (a dropped client...): log it, never print."""
        logger.debug("Connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut the kept-alive connections, so that no handler thread lingers."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class LocalServer:
    """The reference accsyn server, listening on ``host``:``port`` (0: any free port).

    ``backend`` holds the workspace; by default a fresh
    :class:`~accsyn_api.testing.backend.Backend` with the demo data. Use it as
    a context manager, or call :meth:`start` and :meth:`stop`.

    ``faults`` are initial fault-injection rules (see :meth:`inject` and
    :mod:`accsyn_api.testing.faults`). ``tls=True`` serves HTTPS with a
    throwaway certificate authority made by ``trustme`` (a test extra): give
    :attr:`ca_bundle` to clients as ``verify=``.

    ``simulate=True`` builds the Backend with simulated transfers: jobs that
    may run progress with the clock at ``speed`` MB/s (default 50; see
    :mod:`accsyn_api.testing.simulation`). Give these to the Backend instead
    when you pass one.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        backend: Optional[Backend] = None,
        faults: Iterable[Fault] = (),
        tls: bool = False,
        simulate: bool = False,
        speed: Optional[float] = None,
    ) -> None:
        if backend is not None and (simulate or speed is not None):
            raise ValueError(
                "simulate and speed configure the Backend that LocalServer builds; with "
                "backend=..., pass them to Backend(simulate=True, speed=...) instead"
            )
        if backend is None:
            backend = Backend(simulate=simulate, speed=DEFAULT_SPEED if speed is None else speed)
        self.host = host
        self.port = port
        self.backend = backend
        self.tls = tls
        self._faults = FaultInjector(faults)
        self._tls: Optional[ThrowawayTLS] = None
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None  # the one start() made
        self._serving_thread: Optional[threading.Thread] = None  # whichever runs the loop
        self._serving = False
        self._lock = threading.Lock()
        self._events = _EventLog()
        self._connections_of_stopped_runs = 0

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "not started"
        return f"<LocalServer {where} domain={self.backend.domain!r}>"

    @property
    def url(self) -> str:
        """``"http://<host>:<port>"`` (``https://`` with TLS), once started."""
        if self._httpd is None:
            raise RuntimeError("The LocalServer is not started: call start() first.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self._httpd.server_address[1]}"

    @property
    def ca_bundle(self) -> Optional[str]:
        """With ``tls=True``, the path of the throwaway CA's PEM file (removed by :meth:`stop`).

        Give it to a client: ``Session(..., verify=server.ca_bundle)``. None without TLS.
        """
        if not self.tls:
            return None
        if self._tls is None:
            raise RuntimeError("The LocalServer is not started: call start() first.")
        return self._tls.ca_bundle

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections the server has accepted (keep-alive means few)."""
        httpd = self._httpd
        current = httpd.connections_accepted if httpd is not None else 0
        return self._connections_of_stopped_runs + current

    @property
    def events(self) -> List[Dict[str, Any]]:
        """The events received so far, oldest first (decoded, ``gz_data`` unpacked).

        Copies of the last :data:`EVENT_HISTORY` events, so a test can check what a
        client really sent, e.g. ``server.events[-1]["data"]["limit"] == 1``.
        """
        return self._events.snapshot()

    def bind(self) -> LocalServer:
        """Open the listening socket, so that :attr:`url` is known, without serving yet."""
        self._bind()
        return self

    def _bind(self) -> _HTTPServer:
        with self._lock:
            if self._httpd is None:
                if self.tls and self._tls is None:
                    from .tls import ThrowawayTLS

                    self._tls = ThrowawayTLS()
                self._httpd = _HTTPServer(
                    (self.host, self.port), self.backend, self._events, self._faults, self._tls
                )
            return self._httpd

    def start(self) -> LocalServer:
        """Start serving in a background (daemon) thread; returns the server itself."""
        httpd = self._bind()
        with self._lock:
            if self._serving:
                return self
            self._serving = True
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"accsyn-local-server-{httpd.server_address[1]}",
                daemon=True,
            )
            self._serving_thread = self._thread
            self._thread.start()
        logger.debug("Reference server listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl-C or :meth:`stop` (from another thread)."""
        httpd = self._bind()
        with self._lock:
            if self._serving:
                raise RuntimeError("The LocalServer is already serving.")
            self._serving = True
            self._serving_thread = threading.current_thread()
        logger.debug("Reference server listening on %s", self.url)
        try:
            httpd.serve_forever(poll_interval=0.05)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, close the socket and the open connections. Safe to call twice."""
        with self._lock:
            httpd, thread, serving = self._httpd, self._thread, self._serving
            serving_thread, self._serving_thread = self._serving_thread, None
            self._httpd, self._thread, self._serving = None, None, False
            tls, self._tls = self._tls, None
        if tls is not None:
            tls.remove()
        if httpd is None:
            return
        httpd.stopping.set()
        self._connections_of_stopped_runs += httpd.connections_accepted
        if serving and threading.current_thread() is not serving_thread:
            httpd.shutdown()  # the loop runs elsewhere: ask it to end, and wait for it
        httpd.server_close()
        httpd.close_connections()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- fault injection ------------------------------------------------------------

    def inject(self, kind: Union[FaultKind, str], **options: Any) -> Fault:
        """Add a fault-injection rule ``Fault(kind, **options)``; returns it.

        For example ``server.inject("drop_after", uri="job/create")`` makes the
        next ``job/create`` execute and lose its reply. The rule's ``fired``
        count is live. See :mod:`accsyn_api.testing.faults` for the kinds.
        """
        return self._faults.inject(kind, **options)

    def clear_faults(self) -> None:
        """Remove every fault-injection rule (:attr:`faults_fired` keeps its count)."""
        self._faults.clear()

    @property
    def faults(self) -> List[Fault]:
        """The fault-injection rules, in the order they were added."""
        return self._faults.faults

    @property
    def faults_fired(self) -> int:
        """How many requests a fault was played on since the server was made."""
        return self._faults.fired

    # -- what a client needs ------------------------------------------------------

    def credentials(self, role: str = "employee") -> Dict[str, str]:
        """``{"domain", "username", "api_key", "url"}`` of a demo user of ``role``."""
        credentials = dict(self.backend.credentials(role))
        credentials["url"] = self.url
        return credentials

    def environment(self, role: str = "employee") -> Dict[str, str]:
        """The ``ACCSYN_*`` variables that point ``accsyn_api.Session()`` at this server."""
        credentials = self.backend.credentials(role)
        return {
            "ACCSYN_DOMAIN": credentials["domain"],
            "ACCSYN_API_USER": credentials["username"],
            "ACCSYN_API_KEY": credentials["api_key"],
            "ACCSYN_URL": self.url,
        }

    def session(self, role: str = "employee", **kwargs: Any) -> Session:
        """A new :class:`accsyn_api.Session` of the demo user of ``role`` on this server.

        With TLS, ``verify`` defaults to :attr:`ca_bundle`.
        """
        from ..session import Session

        if self.tls:
            kwargs.setdefault("verify", self.ca_bundle)
        credentials = self.backend.credentials(role)
        return Session(
            url=self.url,
            domain=credentials["domain"],
            username=credentials["username"],
            api_key=credentials["api_key"],
            **kwargs,
        )
