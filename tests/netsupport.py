"""Small network servers for tests, on 127.0.0.1: a TCP relay and a SOCKS5 proxy.

* :class:`TcpRelay` stands in for the accsyn daemon's HTTP relay
  (``proxy="accsyn:<host>:<port>"``): every connection it accepts is piped,
  byte for byte, to one target address.
* :class:`Socks5Server` is a minimal SOCKS5 proxy (RFC 1928): no
  authentication, the CONNECT command only, and only to loopback addresses.

Both listen on a free port, serve each connection in its own daemon thread,
count connections and bytes, can keep a bounded copy of what clients sent,
and stop cleanly (``with TcpRelay(...) as relay:`` or :meth:`stop`). They are
bounded: a limit on simultaneous connections, a timeout on idle connections
and on the SOCKS handshake, and joins with timeouts when stopping.

Imported by the test modules as ``import netsupport`` (pytest puts ``tests/``
on ``sys.path``; the directory has no ``__init__.py``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import struct
import threading
from typing import List, Optional, Set, Tuple, TypeVar

__all__ = ["Socks5Server", "TcpRelay"]

Address = Tuple[str, int]

_ForwarderT = TypeVar("_ForwarderT", bound="_Forwarder")
_CHUNK = 65536
_POLL_SECONDS = 0.05


class _Forwarder:
    """A listening socket, an accept thread and one pumping thread per connection."""

    def __init__(
        self,
        *,
        name: str,
        max_connections: int = 64,
        idle_timeout: float = 30.0,
        capture_limit: int = 0,
    ) -> None:
        self._name = name
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.capture_limit = capture_limit
        self.host = "127.0.0.1"
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: Set[socket.socket] = set()
        self._threads: List[threading.Thread] = []
        self._accept_thread: Optional[threading.Thread] = None
        self.connections_accepted = 0
        self.connections_refused = 0
        self.bytes_up = 0
        """Bytes piped from clients to their targets."""
        self.bytes_down = 0
        """Bytes piped from targets back to clients."""
        self.captured_up = bytearray()
        """The first ``capture_limit`` bytes clients sent through (all connections)."""

    # -- life cycle -----------------------------------------------------------------

    def start(self: _ForwarderT) -> _ForwarderT:
        if self._accept_thread is None:
            self._accept_thread = threading.Thread(
                target=self._accept_loop, name=f"{self._name}-{self.port}", daemon=True
            )
            self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut every open connection and wait (bounded) for the threads."""
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            open_sockets = list(self._open)
            threads = list(self._threads)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self: _ForwarderT) -> _ForwarderT:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def active_connections(self) -> int:
        with self._lock:
            return sum(1 for thread in self._threads if thread.is_alive())

    # -- accepting ------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([self._listener], [], [], _POLL_SECONDS)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.active_connections >= self.max_connections:
                with self._lock:
                    self.connections_refused += 1
                client.close()
                continue
            thread = threading.Thread(
                target=self._serve, args=(client,), name=f"{self._name}-conn", daemon=True
            )
            with self._lock:
                self.connections_accepted += 1
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
                self._open.add(client)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream: Optional[socket.socket] = None
        try:
            upstream = self._open_upstream(client)
            if upstream is not None:
                with self._lock:
                    self._open.add(upstream)
                self._pump(client, upstream)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is None:
                    continue
                with self._lock:
                    self._open.discard(sock)
                with contextlib.suppress(OSError):
                    sock.close()

    def _open_upstream(self, client: socket.socket) -> Optional[socket.socket]:
        """Connect to where ``client`` wants to go; None to close the client."""
        raise NotImplementedError

    # -- piping ---------------------------------------------------------------------

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until both sides have finished (or idle / stop)."""
        client.settimeout(None)
        upstream.settimeout(None)
        peer = {client: upstream, upstream: client}
        reading = [client, upstream]
        idle = 0.0
        while reading and not self._stopping.is_set():
            readable, _, _ = select.select(reading, [], [], _POLL_SECONDS)
            if not readable:
                idle += _POLL_SECONDS
                if idle >= self.idle_timeout:
                    return
                continue
            idle = 0.0
            for source in readable:
                data = source.recv(_CHUNK)
                target = peer[source]
                if not data:  # half close: pass the end of stream on
                    reading.remove(source)
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_WR)
                    continue
                # Counted before it is passed on: once the peer has it (and may answer),
                # the count already holds it, so a test reading the counts cannot race.
                self._count(data, upstream_bound=source is client)
                target.sendall(data)

    def _count(self, data: bytes, *, upstream_bound: bool) -> None:
        with self._lock:
            if upstream_bound:
                self.bytes_up += len(data)
                room = self.capture_limit - len(self.captured_up)
                if room > 0:
                    self.captured_up += data[:room]
            else:
                self.bytes_down += len(data)


class TcpRelay(_Forwarder):
    """Pipes every accepted connection to ``target`` (host, port), like the accsyn relay.

    ``relay.proxy`` is the ``accsyn:<host>:<port>`` string that points a
    Session at it.
    """

    def __init__(
        self,
        target: Address,
        *,
        max_connections: int = 64,
        idle_timeout: float = 30.0,
        capture_limit: int = 0,
    ) -> None:
        super().__init__(
            name="test-relay",
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            capture_limit=capture_limit,
        )
        self.target = target

    @property
    def proxy(self) -> str:
        return f"accsyn:{self.host}:{self.port}"

    def _open_upstream(self, client: socket.socket) -> Optional[socket.socket]:
        try:
            return socket.create_connection(self.target, timeout=5)
        except OSError:
            return None


# SOCKS5 constants (RFC 1928).
_VERSION = 5
_NO_AUTH = 0x00
_NO_ACCEPTABLE_METHOD = 0xFF
_CONNECT = 0x01
_ATYP_IPV4, _ATYP_DOMAIN, _ATYP_IPV6 = 0x01, 0x03, 0x04
_SUCCEEDED = 0x00
_NOT_ALLOWED = 0x02
_HOST_UNREACHABLE = 0x04
_CONNECTION_REFUSED = 0x05
_COMMAND_NOT_SUPPORTED = 0x07
_ADDRESS_TYPE_NOT_SUPPORTED = 0x08
_NO_ADDRESS = socket.inet_ntop(socket.AF_INET, bytes(4))
"""The bound address sent in a failure reply (all zeros); nothing binds to it."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the SOCKS client closed the connection mid-handshake")
        data += chunk
    return data


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Socks5Server(_Forwarder):
    """A SOCKS5 proxy: no authentication, CONNECT only, to loopback targets only.

    ``targets`` lists the (host, port) pairs clients asked for, and
    ``address_types`` how each was given (1 IPv4, 3 domain name, 4 IPv6).
    """

    def __init__(
        self,
        *,
        max_connections: int = 64,
        idle_timeout: float = 30.0,
        handshake_timeout: float = 5.0,
        capture_limit: int = 0,
    ) -> None:
        super().__init__(
            name="test-socks5",
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            capture_limit=capture_limit,
        )
        self.handshake_timeout = handshake_timeout
        self.targets: List[Address] = []
        self.address_types: List[int] = []
        self.handshakes_failed = 0

    @property
    def url(self) -> str:
        return f"socks5h://{self.host}:{self.port}"

    def _open_upstream(self, client: socket.socket) -> Optional[socket.socket]:
        client.settimeout(self.handshake_timeout)
        try:
            return self._handshake(client)
        except (OSError, ValueError, UnicodeDecodeError):
            with self._lock:
                self.handshakes_failed += 1
            return None

    def _handshake(self, client: socket.socket) -> Optional[socket.socket]:
        version, method_count = _recv_exact(client, 2)
        methods = _recv_exact(client, method_count)
        if version != _VERSION:
            raise ValueError(f"not SOCKS5 (version {version})")
        if _NO_AUTH not in methods:
            client.sendall(bytes([_VERSION, _NO_ACCEPTABLE_METHOD]))
            raise ValueError("the client offers no method without authentication")
        client.sendall(bytes([_VERSION, _NO_AUTH]))

        version, command, _, address_type = _recv_exact(client, 4)
        if version != _VERSION:
            raise ValueError(f"not SOCKS5 (version {version})")
        if address_type == _ATYP_IPV4:
            host = socket.inet_ntop(socket.AF_INET, _recv_exact(client, 4))
        elif address_type == _ATYP_IPV6:
            host = socket.inet_ntop(socket.AF_INET6, _recv_exact(client, 16))
        elif address_type == _ATYP_DOMAIN:
            (length,) = _recv_exact(client, 1)
            host = _recv_exact(client, length).decode("idna")
        else:
            self._reply(client, _ADDRESS_TYPE_NOT_SUPPORTED)
            raise ValueError(f"unknown address type {address_type}")
        (port,) = struct.unpack("!H", _recv_exact(client, 2))
        with self._lock:
            self.targets.append((host, port))
            self.address_types.append(address_type)
        if command != _CONNECT:
            self._reply(client, _COMMAND_NOT_SUPPORTED)
            raise ValueError(f"command {command} is not supported")
        if not _is_loopback(host):
            self._reply(client, _NOT_ALLOWED)
            raise ValueError(f"{host} is not a loopback address")
        try:
            upstream = socket.create_connection((host, port), timeout=5)
        except ConnectionRefusedError:
            self._reply(client, _CONNECTION_REFUSED)
            raise
        except OSError:
            self._reply(client, _HOST_UNREACHABLE)
            raise
        bound_host, bound_port = upstream.getsockname()[:2]
        self._reply(client, _SUCCEEDED, bound_host, bound_port)
        return upstream

    @staticmethod
    def _reply(client: socket.socket, code: int, host: str = _NO_ADDRESS, port: int = 0) -> None:
        try:
            packed = socket.inet_pton(socket.AF_INET, host)
            address_type = _ATYP_IPV4
        except OSError:
            packed = socket.inet_pton(socket.AF_INET6, host)
            address_type = _ATYP_IPV6
        with contextlib.suppress(OSError):
            client.sendall(
                bytes([_VERSION, code, 0, address_type]) + packed + struct.pack("!H", port)
            )
