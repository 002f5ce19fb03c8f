"""LocalServer: the reference accsyn server over HTTP on 127.0.0.1, both API generations.

It serves ``/api/v1.0`` (login, event, the registry look-up;
:mod:`~accsyn_api.testing.frontend_v1`) and ``/api/v3`` (login, event, the
master host look-up; :mod:`~accsyn_api.testing.frontend_v3`) at once, from one
:class:`~accsyn_api.testing.backend.Backend`, which holds the workspace and
applies each generation's rules. The HTTP plumbing is in
:mod:`~accsyn_api.testing.httpd`.

Example::

    from accsyn_api.testing import LocalServer

    with LocalServer() as server:             # a free port on 127.0.0.1
        session = server.session("employee")  # a logged-in accsyn_api.Session
        print(session.find("Job"))

``LocalServer(api_version="3")`` makes :meth:`~LocalServer.session`,
:meth:`~LocalServer.credentials` and :meth:`~LocalServer.environment` speak v3
by default; both generations are served whatever it says.

Connections are kept alive (HTTP/1.1), each served by its own thread, at
most ``max_connections`` at once; idle connections and slow bodies are timed
out (:mod:`~accsyn_api.testing.connections`). A malformed request gets a JSON
refusal (``{"message", "message_hr", "error_code"}``) without affecting the
server or its state.

The demo users' API keys are made anew for each server
(``secrets.token_urlsafe``): read them with :meth:`LocalServer.credentials` or
:meth:`LocalServer.environment`. ``LocalServer(fixed_keys=True)`` uses the
published keys of :data:`~accsyn_api.testing.demo.FIXED_API_KEYS` instead, for
reproducible tests. Listening beyond the loopback interface without TLS
warns (:class:`ExposedServerWarning`).

Faults of a real network (dropped connections, delays, 502/503/429,
truncated replies, expired sessions) can be injected per uri or per nth request
with :meth:`LocalServer.inject` (see :mod:`accsyn_api.testing.faults`), and
``LocalServer(tls=True)`` serves HTTPS with a throwaway certificate.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import warnings
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

from accsyn_api.protocol import names
from accsyn_api.testing.backend import Backend
from accsyn_api.testing.connections import (
    BODY_TIMEOUT,
    IDLE_TIMEOUT,
    ConnectionTable,
    default_max_connections,
)
from accsyn_api.testing.demo import FIXED_API_KEYS
from accsyn_api.testing.faults import Fault, FaultInjector, FaultKind
from accsyn_api.testing.frontend_v1 import FrontEndV1
from accsyn_api.testing.frontend_v3 import FrontEndV3
from accsyn_api.testing.generations import generation_of
from accsyn_api.testing.httpd import EVENT_HISTORY, EventLog, HTTPServer
from accsyn_api.testing.simulation import DEFAULT_SPEED

if TYPE_CHECKING:
    from accsyn_api.session import Session
    from accsyn_api.testing.tls import ThrowawayTLS

__all__ = ["EVENT_HISTORY", "ExposedServerWarning", "LocalServer", "is_loopback"]

logger = logging.getLogger("accsyn_api.testing")


class ExposedServerWarning(UserWarning):
    """The reference server listens beyond this machine without TLS."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``: reachable from this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _warn_if_exposed(host: str, tls: bool) -> None:
    if tls or is_loopback(host):
        return
    message = (
        f"The accsyn reference server listens on {host}, beyond this machine, without TLS: "
        "anyone who can reach it may try to log in, and API keys and session keys cross the "
        "network in clear. Use it on trusted networks only, or listen on 127.0.0.1 "
        "(the default), or serve TLS."
    )
    logger.warning("%s", message)
    warnings.warn(message, ExposedServerWarning, stacklevel=4)


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

    ``api_version`` (``"1.0"``, the default, or ``"3"``) is the generation that
    :meth:`session`, :meth:`credentials` and :meth:`environment` use unless told
    otherwise. Both generations are always served.

    The API keys of the demo users are new for each server unless
    ``fixed_keys=True`` (the published :data:`~accsyn_api.testing.demo.FIXED_API_KEYS`,
    for reproducible tests; never on a shared network). ``idle_timeout``
    (seconds a connection may wait for its next request and that request's
    head), ``body_timeout`` (seconds a body may take to arrive) and
    ``max_connections`` (connections served at once; by default 128, or fewer
    under a low file limit) bound what clients may hold; see
    :mod:`~accsyn_api.testing.connections`. A ``host`` beyond the loopback
    interface without ``tls`` warns with :class:`ExposedServerWarning`.
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
        api_version: str = names.V1,
        fixed_keys: bool = False,
        idle_timeout: float = IDLE_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        max_connections: Optional[int] = None,
    ) -> None:
        self.api_version = generation_of(api_version).api_version
        if backend is not None and (simulate or speed is not None or fixed_keys):
            raise ValueError(
                "simulate, speed and fixed_keys configure the Backend that LocalServer builds; "
                "with backend=..., pass them to Backend(simulate=True, speed=..., "
                "api_keys=FIXED_API_KEYS) instead"
            )
        if backend is None:
            backend = Backend(
                simulate=simulate,
                speed=DEFAULT_SPEED if speed is None else speed,
                api_keys=FIXED_API_KEYS if fixed_keys else None,
            )
        for name, seconds in (("idle_timeout", idle_timeout), ("body_timeout", body_timeout)):
            if not seconds > 0:
                raise ValueError(f"{name} must be a number of seconds above 0, not {seconds!r}")
        self.idle_timeout = float(idle_timeout)
        self.body_timeout = float(body_timeout)
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be 1 or more, not {max_connections!r}")
        self.max_connections = (
            default_max_connections() if max_connections is None else max_connections
        )
        self.host = host
        self.port = port
        self.backend = backend
        self.tls = tls
        self._faults = FaultInjector(faults)
        self._tls: Optional[ThrowawayTLS] = None
        self._httpd: Optional[HTTPServer] = None
        self._thread: Optional[threading.Thread] = None  # the one start() made
        self._serving_thread: Optional[threading.Thread] = None  # whichever runs the loop
        self._serving = False
        self._lock = threading.Lock()
        self._events = EventLog()
        self._connections_of_stopped_runs = 0

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "not started"
        return (
            f"<LocalServer {where} workspace={self.backend.domain!r} "
            f"api_version={self.api_version!r}>"
        )

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
        """The events received so far from authenticated callers, oldest first (decoded,
        ``gz_data`` unpacked). A refused caller's event is never decoded, hence not here.

        Copies of the last :data:`EVENT_HISTORY` events, within 16 MiB (a larger event
        is kept as a stand-in: its short envelope values and its size), so a test can
        check what a client really sent, e.g. ``server.events[-1]["data"]["limit"] == 1``.
        """
        return self._events.snapshot()

    def bind(self) -> LocalServer:
        """Open the listening socket, so that :attr:`url` is known, without serving yet."""
        self._bind()
        return self

    def _bind(self) -> HTTPServer:
        with self._lock:
            if self._httpd is None:
                if self.tls and self._tls is None:
                    from .tls import ThrowawayTLS

                    self._tls = ThrowawayTLS()
                connections = ConnectionTable(
                    self.max_connections, self.idle_timeout, self.body_timeout
                )
                self._httpd = HTTPServer(
                    (self.host, self.port),
                    self.backend,
                    (FrontEndV1(), FrontEndV3()),
                    self._events,
                    self._faults,
                    connections,
                    self._tls,
                )
                _warn_if_exposed(self.host, self.tls)
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

    def _generation(self, api_version: Optional[str]) -> str:
        return generation_of(self.api_version if api_version is None else api_version).api_version

    def credentials(
        self, role: str = "employee", api_version: Optional[str] = None
    ) -> Dict[str, str]:
        """The credentials of a demo user of ``role``, with the server's ``url``.

        v1.0: ``{"domain", "username", "api_key", "url"}``; v3: ``{"workspace",
        "username", "api_key", "url"}``. ``api_version`` defaults to the server's.
        """
        credentials = dict(self.backend.credentials(role, self._generation(api_version)))
        credentials["url"] = self.url
        return credentials

    def environment(
        self, role: str = "employee", api_version: Optional[str] = None
    ) -> Dict[str, str]:
        """The ``ACCSYN_*`` variables that point ``accsyn_api.Session()`` at this server.

        v1.0: ``ACCSYN_DOMAIN``, ``ACCSYN_API_USER``, ``ACCSYN_API_KEY``,
        ``ACCSYN_URL`` and ``ACCSYN_API_VERSION=1.0``; v3: ``ACCSYN_WORKSPACE``
        and the others, with ``ACCSYN_API_VERSION=3``. ``api_version`` defaults
        to the server's. (The server serves both, so without the version a
        session would find v3.)
        """
        version = self._generation(api_version)
        credentials = self.backend.credentials(role, version)
        if version == names.V1:
            variables = {"ACCSYN_DOMAIN": credentials["domain"]}
        else:
            variables = {"ACCSYN_WORKSPACE": credentials["workspace"]}
        variables.update(
            {
                "ACCSYN_API_USER": credentials["username"],
                "ACCSYN_API_KEY": credentials["api_key"],
                "ACCSYN_URL": self.url,
            }
        )
        variables["ACCSYN_API_VERSION"] = version
        return variables

    def session(self, role: str = "employee", **kwargs: Any) -> Session:
        """A new :class:`accsyn_api.Session` of the demo user of ``role`` on this server.

        It speaks the server's ``api_version`` unless ``api_version=`` is given.
        With TLS, ``verify`` defaults to :attr:`ca_bundle`. Any other keyword
        goes to the Session, ``api_key=`` (say, a wrong one) included.
        """
        from accsyn_api.session import Session

        if self.tls:
            kwargs.setdefault("verify", self.ca_bundle)
        kwargs["api_version"] = self._generation(kwargs.pop("api_version", None))
        credentials = self.backend.credentials(role)
        kwargs.setdefault("api_key", credentials["api_key"])
        return Session(
            url=self.url,
            domain=credentials["domain"],
            username=credentials["username"],
            **kwargs,
        )
