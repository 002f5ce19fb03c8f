"""Keep-alive HTTP connections for a transport, with bounded replies.

:class:`ConnectionPools` holds, per server address, at most ``pool_size``
:mod:`http.client` connections, reused by every thread of a Session (a
thread beyond that waits for a free one). A connection is made through the
:class:`~accsyn_api.proxies.Route` the proxy settings give for its address,
wrapped in TLS for ``https://`` (:func:`~accsyn_api.tls.tls_context`).

Each exchange is bounded:

* connecting (and the TLS and proxy handshakes) by the connect timeout;
* sending the request and reading the whole reply, headers and body, by the
  reply timeout: one deadline for the attempt, checked before every read,
  so a server that drips bytes or streams forever is cut off;
* the body by ``max_reply_bytes``, counted as it arrives and again as it is
  inflated (``Content-Encoding: gzip`` or ``deflate``): nothing beyond the
  limit is read or inflated.

Every failure is raised as a :class:`~accsyn_api.http_errors.WireFailure`
naming the step that failed; the transport decides what it means.
"""

from __future__ import annotations

import functools
import http.client
import io
import select
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .http_errors import (
    ConnectionLost,
    ConnectTimedOut,
    NotConnected,
    NotTls,
    ReplyCutShort,
    ReplyNotHttp,
    ReplyTimedOut,
    ReplyTooLarge,
    TlsFailed,
    WireFailure,
)
from .proxies import Route, route_for
from .secret import Secret
from .tls import SYSTEM_TRUST, Verify, tls_context

__all__ = ["ConnectionPools", "Reply"]

_CHUNK = 65536
_NOT_TLS_SIGNS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")
_INFLATE_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}


@dataclass(frozen=True)
class Reply:
    """An HTTP reply read whole: status, headers and body (inflated if it came compressed)."""

    status: int
    headers: http.client.HTTPMessage = field(repr=False)
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class _Endpoint:
    """One server address and how to reach it."""

    host: str
    port: int
    tls: Optional[ssl.SSLContext]
    route: Route
    connect_timeout: float


# -- reading against a deadline ------------------------------------------------------------


class _TimedReader(io.RawIOBase):
    """The bytes of a connection, each read given only the time left until ``deadline``."""

    def __init__(self, raw: Any, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise ReplyTimedOut("the time for the reply ran out while it was arriving")
        self._sock.settimeout(remaining)
        try:
            count: Optional[int] = self._raw.readinto(buffer)
        except socket.timeout:
            raise ReplyTimedOut("no more of the reply arrived in time") from None
        return count

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _TimedResponse(http.client.HTTPResponse):
    """An HTTP response whose every read stops at the attempt's deadline."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: Optional[str] = None,
        url: Optional[str] = None,
        *,
        deadline: float,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        raw = self.fp.detach()
        self.fp = io.BufferedReader(_TimedReader(raw, sock, deadline), _CHUNK)


def _too_large(limit: int, what: str) -> ReplyTooLarge:
    return ReplyTooLarge(f"{what} more than max_reply_bytes={limit}")


def _raw_chunks(response: http.client.HTTPResponse, limit: int) -> List[bytes]:
    """The body as it arrives, refusing it past ``limit`` bytes."""
    chunks: List[bytes] = []
    size = 0
    while True:
        chunk = response.read1(_CHUNK)
        if not chunk:
            return chunks
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "the server sent")
        chunks.append(chunk)


def _inflated(chunks: List[bytes], encoding: str, limit: int) -> bytes:
    """``chunks`` inflated (several gzip members too), refusing more than ``limit`` bytes."""
    inflater = zlib.decompressobj(_INFLATE_WBITS[encoding])
    parts: List[bytes] = []
    produced = 0
    pending = list(reversed(chunks))
    try:
        while pending:
            data = inflater.decompress(pending.pop(), limit - produced + 1)
            produced += len(data)
            if produced > limit:
                raise _too_large(limit, f"the {encoding} body inflates to")
            parts.append(data)
            if inflater.eof and inflater.unused_data:  # another gzip member follows
                pending.append(inflater.unused_data)
                inflater = zlib.decompressobj(_INFLATE_WBITS[encoding])
    except zlib.error as exc:
        raise ReplyCutShort(f"the {encoding} body cannot be inflated: {exc}") from None
    if chunks and not inflater.eof:
        raise ReplyCutShort(f"the {encoding} body ends early")
    return b"".join(parts)


def _read_body(response: http.client.HTTPResponse, limit: int) -> bytes:
    length = response.length
    if length is not None and length > limit:
        raise _too_large(limit, f"the server announced {length} bytes,")
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in _INFLATE_WBITS:
        if length is not None:
            return response.read()
        return b"".join(_raw_chunks(response, limit))
    return _inflated(_raw_chunks(response, limit), encoding, limit)


# -- one exchange ----------------------------------------------------------------------------


class _Connection(http.client.HTTPConnection):
    """A keep-alive connection to one endpoint, made through its route."""

    def __init__(self, endpoint: _Endpoint) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=endpoint.connect_timeout)
        self.endpoint = endpoint
        if endpoint.tls is not None:
            self.default_port = 443  # the Host header leaves out the default port

    def connect(self) -> None:
        endpoint = self.endpoint
        sock = endpoint.route.open(
            self.host,
            self.port,
            tls=endpoint.tls is not None,
            timeout=endpoint.connect_timeout,
        )
        if endpoint.tls is not None:
            try:
                sock = endpoint.tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock


def _connect(connection: _Connection) -> None:
    """Connect, or raise the WireFailure that says why not (nothing was sent)."""
    try:
        connection.connect()
    except WireFailure:
        raise
    except socket.timeout as exc:
        raise ConnectTimedOut(str(exc) or "timed out") from None
    except ssl.SSLError as exc:
        text = str(exc)
        if any(sign in text for sign in _NOT_TLS_SIGNS):
            raise NotTls(text) from None
        raise TlsFailed(text) from None
    except OSError as exc:
        raise NotConnected(str(exc) or type(exc).__name__) from None


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection was closed (or spoke out of turn) meanwhile."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _exchange(
    connection: _Connection,
    method: str,
    target: str,
    body: Optional[bytes],
    headers: Dict[str, str],
    reply_timeout: float,
    limit: int,
) -> Reply:
    if connection.sock is None:
        _connect(connection)
    deadline = time.monotonic() + reply_timeout
    # A response class bound to this attempt's deadline (http.client only calls it).
    connection.response_class = functools.partial(  # type: ignore[assignment]
        _TimedResponse, deadline=deadline
    )
    try:
        connection.sock.settimeout(reply_timeout)  # sending, as a whole
        connection.request(method, target, body, headers)
        response = connection.getresponse()
    except BaseException as exc:
        connection.close()
        raise _before_reply(exc) from None
    try:
        payload = _read_body(response, limit)
    except BaseException as exc:
        connection.close()
        raise _within_reply(exc) from None
    return Reply(response.status, response.headers, payload)


def _before_reply(exc: BaseException) -> BaseException:
    """What a failure while sending, or waiting for the status line and headers, means."""
    if isinstance(exc, WireFailure):
        return exc
    if isinstance(exc, socket.timeout):
        return ReplyTimedOut("the server did not take the request, or answer it, in time")
    if isinstance(exc, (OSError, http.client.RemoteDisconnected)):
        return ConnectionLost(str(exc) or type(exc).__name__)
    if isinstance(exc, http.client.HTTPException):
        return ReplyNotHttp(f"{type(exc).__name__}: {str(exc)[:100]!r}")
    return exc


def _within_reply(exc: BaseException) -> BaseException:
    """What a failure while reading the body means."""
    if isinstance(exc, WireFailure):
        return exc
    if isinstance(exc, socket.timeout):
        return ReplyTimedOut("no more of the reply arrived in time")
    if isinstance(exc, http.client.IncompleteRead):
        return ReplyCutShort(f"{len(exc.partial)} bytes read, more expected")
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return ReplyCutShort(str(exc) or type(exc).__name__)
    return exc


# -- the pools -------------------------------------------------------------------------------


class _Pool:
    """At most ``size`` connections to one endpoint, reused by every thread."""

    def __init__(self, endpoint: _Endpoint, size: int) -> None:
        self.endpoint = endpoint
        self._size = size
        self._idle: List[_Connection] = []
        self._made = 0
        self._ready = threading.Condition(threading.Lock())
        self.closed = False

    def take(self) -> _Connection:
        with self._ready:
            while not self._idle and self._made >= self._size:
                self._ready.wait()
            if not self._idle:
                self._made += 1
                return _Connection(self.endpoint)
            connection = self._idle.pop()
        if connection.sock is not None and _dropped(connection.sock):
            connection.close()
        return connection

    def give_back(self, connection: _Connection) -> None:
        if self.closed:
            connection.close()
        with self._ready:
            self._idle.append(connection)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self.closed = True
            idle = list(self._idle)
        for connection in idle:
            connection.close()


def _split(url: str) -> Tuple[str, str]:
    """``(scheme://host:port, /path?query)`` of an absolute URL."""
    start = url.find("://") + 3
    slash = url.find("/", start)
    if slash < 0:
        return url, "/"
    return url[:slash], url[slash:]


class ConnectionPools:
    """The connections of one transport: a pool per server address, bounded exchanges."""

    def __init__(
        self,
        *,
        verify: Verify,
        proxies: Optional[Mapping[str, str]],
        pool_size: int,
        timeout: Tuple[float, float],
        max_reply_bytes: int,
    ) -> None:
        self._verify = verify
        self._proxies = dict(proxies) if proxies else None
        self._pool_size = pool_size
        self._connect_timeout, self._reply_timeout = timeout
        self._limit = max_reply_bytes
        self._pools: Dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self._tls: Optional[ssl.SSLContext] = None
        if verify == SYSTEM_TRUST:  # refused now if truststore is missing
            self._tls = tls_context(verify)
        self.proxy_secrets: List[Secret] = []
        """Proxy passwords and Proxy-Authorization values in use (for masking)."""

    def exchange(
        self,
        method: str,
        url: str,
        *,
        body: Optional[bytes],
        headers: Mapping[str, str],
        authorization: Optional[Secret],
    ) -> Reply:
        """Send one request to ``url`` and read its whole reply (bounded as the module says)."""
        origin, target = _split(url)
        pool = self._pools.get(origin) or self._new_pool(origin)
        sent = dict(headers)
        if authorization is not None:
            sent["Authorization"] = authorization.reveal()
        route = pool.endpoint.route
        if route.absolute_form and pool.endpoint.tls is None:
            target = url
            proxy_authorization = route.authorization()
            if proxy_authorization is not None:
                sent["Proxy-Authorization"] = proxy_authorization.reveal()
        connection = pool.take()
        try:
            return _exchange(
                connection, method, target, body, sent, self._reply_timeout, self._limit
            )
        except BaseException:  # interrupted too: the connection is in an unknown state
            connection.close()
            raise
        finally:
            pool.give_back(connection)

    def _new_pool(self, origin: str) -> _Pool:
        parts = urlsplit(origin)
        secure = parts.scheme == "https"
        route = route_for(origin, self._proxies)
        with self._lock:
            if origin in self._pools:
                return self._pools[origin]
            if secure and self._tls is None:
                self._tls = tls_context(self._verify)
            if route.password is not None:
                self.proxy_secrets.append(route.password)
                auth = route.authorization()
                if auth is not None:
                    self.proxy_secrets.append(auth)
            endpoint = _Endpoint(
                host=parts.hostname or "",
                port=parts.port or (443 if secure else 80),
                tls=self._tls if secure else None,
                route=route,
                connect_timeout=self._connect_timeout,
            )
            pool = _Pool(endpoint, self._pool_size)
            self._pools[origin] = pool
            return pool

    def close(self) -> None:
        """Close every idle connection; those in use are closed when given back."""
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
