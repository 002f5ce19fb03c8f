"""Proxies: the ``proxy`` setting, the proxy environment, and how connections go through them.

Two kinds of proxy are known to accsyn clients, given as ``proxy=`` or
``ACCSYN_PROXY`` (read by :func:`proxy_settings`):

* ``accsyn:<host>:<port>`` (also ``<host>:<port>``, and ``<host>`` alone for
  port 80): an accsyn daemon relaying plain HTTP. It takes the server's place:
  the client speaks plain HTTP to it, with the usual API paths.
* ``socks5:<host>:<port>`` (also ``socks:``, ``socks5://``, ``socks5h://``):
  a SOCKS5 proxy, through which host names are resolved too. It needs
  PySocks (``pip install 'accsyn-sdk[socks]'``).

Without a SOCKS proxy, the proxy environment is honoured as :mod:`requests`
reads it (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``...),
once per server address: an HTTP proxy (``http://[user:password@]host:port``;
HTTPS goes through a ``CONNECT`` tunnel) or a SOCKS one (``socks5://``,
``socks5h://``, ``socks4://``...). :func:`route_for` says which
:class:`Route` reaches an address; :meth:`Route.open` makes a connection
through it.
"""

from __future__ import annotations

import base64
import http.client
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from .errors import ConfigurationError
from .http_errors import ProxyFailed
from .secret import Secret

__all__ = ["Route", "check_socks_support", "proxy_settings", "route_for"]

_PROXY_FORMS = (
    "'accsyn:<host>:<port>' (an accsyn daemon relaying plain HTTP; also '<host>:<port>') or "
    "'socks5:<host>:<port>' / 'socks5://<host>:<port>'"
)
_SOCKS_PREFIXES = ("socks5h://", "socks5://", "socks5:", "socks:")
_SOCKS_SCHEMES = {
    "socks5h": (2, True),
    "socks5": (2, False),
    "socks4a": (1, True),
    "socks4": (1, False),
}
"""Proxy URL scheme: (PySocks proxy type: 1 SOCKS4, 2 SOCKS5; names resolved by the proxy)."""
_DEFAULT_PROXY_PORTS = {
    "http": 80,
    "socks5h": 1080,
    "socks5": 1080,
    "socks4a": 1080,
    "socks4": 1080,
}
_SOCKS_NEEDED = (
    "A SOCKS proxy needs PySocks, which is not installed: pip install 'accsyn-sdk[socks]'."
)


def _shown(text: str) -> str:
    """How a proxy text is named in an error: never with what may be a user or a password."""
    if "@" in text or "%40" in text.lower():
        return "<hidden: holds '@'>"
    return repr(text)


def _host_port(text: str, original: str, *, default_port: Optional[int] = None) -> Tuple[str, int]:
    host, colon, port_text = text.rpartition(":")
    if not colon and default_port is not None:
        host, port_text = text, str(default_port)
    bad_host = not host or any(ch in host for ch in "@:")
    if bad_host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(
            f"Proxy {_shown(original)} is not understood: it needs a host and a port. "
            f"Accepted forms: {_PROXY_FORMS}."
        )
    return host, int(port_text)


def proxy_settings(proxy: str) -> Tuple[Optional[str], Optional[Dict[str, str]]]:
    """Interpret a proxy string; return ``(relay_origin, proxies)``.

    * ``"accsyn:<host>:<port>"``: ``("http://<host>:<port>", None)``; the
      relay replaces the server address and is spoken to in plain HTTP.
    * ``"socks5:<host>:<port>"``: ``(None, {"http": "socks5h://<host>:<port>",
      "https": ...})``; names are resolved through the proxy.

    Anything else raises :class:`ConfigurationError`, which never repeats
    what could be a password.
    """
    text = proxy.strip()
    lowered = text.lower()
    for prefix in _SOCKS_PREFIXES:
        if lowered.startswith(prefix):
            host, port = _host_port(text[len(prefix) :], text)
            address = f"socks5h://{host}:{port}"
            return None, {"http": address, "https": address}
    prefixed = lowered.startswith("accsyn:")
    relay = text[len("accsyn:") :] if prefixed else text
    if not relay or "/" in relay or " " in relay:
        raise ConfigurationError(
            f"Proxy {_shown(text)} is not understood. Accepted forms: {_PROXY_FORMS}."
        )
    # A bare host (no prefix, no port) is an accsyn relay on port 80, as the official
    # client reads it.
    host, port = _host_port(relay, text, default_port=None if prefixed else 80)
    return f"http://{host}:{port}", None


def check_socks_support(proxies: Optional[Mapping[str, str]]) -> None:
    """ConfigurationError when ``proxies`` name a SOCKS proxy and PySocks is missing."""
    if proxies and any(url.lower().startswith("socks") for url in proxies.values()):
        _socks_module()


def _socks_module() -> Any:
    try:
        import socks  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ConfigurationError(_SOCKS_NEEDED) from None
    return socks


@dataclass(frozen=True)
class Route:
    """How connections to one server address are made: directly, or through a proxy.

    ``kind`` is ``"direct"``, ``"socks"`` or ``"http"`` (an HTTP proxy).
    ``host`` and ``port`` are the proxy's; the credentials are held masked.
    """

    kind: str = "direct"
    host: str = ""
    port: int = 0
    socks_type: int = 2
    remote_dns: bool = True
    username: Optional[str] = field(default=None, repr=False)
    password: Optional[Secret] = field(default=None, repr=False)

    @property
    def absolute_form(self) -> bool:
        """True when plain-HTTP requests name the whole URL (they go to an HTTP proxy)."""
        return self.kind == "http"

    def authorization(self) -> Optional[Secret]:
        """The ``Proxy-Authorization`` value for an HTTP proxy with credentials, if any."""
        if self.kind != "http" or self.username is None:
            return None
        password = self.password.reveal() if self.password else ""
        token = base64.b64encode(f"{self.username}:{password}".encode()).decode("ascii")
        return Secret(f"Basic {token}")

    def open(self, host: str, port: int, *, tls: bool, timeout: float) -> socket.socket:
        """A socket connected to ``host:port`` through this route (TLS not yet started).

        Failures of the proxy raise :class:`~accsyn_api.http_errors.ProxyFailed`;
        those of a direct connection the :class:`OSError` of the socket.
        """
        if self.kind == "direct":
            return _connected(socket.create_connection((host, port), timeout=timeout))
        if self.kind == "socks":
            return self._through_socks(host, port, timeout)
        try:
            sock = _connected(socket.create_connection((self.host, self.port), timeout=timeout))
        except OSError as exc:
            raise ProxyFailed(
                f"cannot connect to the proxy {self.host}:{self.port}: {exc}"
            ) from None
        if tls:
            _tunnel(sock, host, port, self.authorization())
        return sock

    def _through_socks(self, host: str, port: int, timeout: float) -> socket.socket:
        socks = _socks_module()
        try:
            sock = socks.create_connection(
                (host, port),
                timeout=timeout,
                proxy_type=self.socks_type,
                proxy_addr=self.host,
                proxy_port=self.port,
                proxy_rdns=self.remote_dns,
                proxy_username=self.username,
                proxy_password=self.password.reveal() if self.password else None,
            )
        except socks.ProxyError as exc:
            raise ProxyFailed(f"SOCKS proxy {self.host}:{self.port}: {exc.msg}") from None
        return _connected(sock)


def _connected(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _tunnel(sock: socket.socket, host: str, port: int, authorization: Optional[Secret]) -> None:
    """Ask an HTTP proxy for a tunnel to ``host:port`` (``CONNECT``) on ``sock``."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if authorization is not None:
        lines.append(f"Proxy-Authorization: {authorization.reveal()}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = http.client.HTTPResponse(sock, method="CONNECT")
        answer.begin()
        answer.fp.close()  # the socket itself stays open: the tunnel
    except (OSError, http.client.HTTPException) as exc:
        sock.close()
        raise ProxyFailed(f"the proxy broke the tunnel to {target}: {exc!r}") from None
    if answer.status != 200:
        sock.close()
        raise ProxyFailed(f"the proxy refused a tunnel to {target}: HTTP {answer.status}")


def _explicit_or_environment(url: str, proxies: Optional[Mapping[str, str]]) -> Optional[str]:
    """The proxy URL for ``url``: from ``proxies`` when given, else from the environment."""
    from requests.utils import get_environ_proxies, select_proxy  # read as requests reads it

    chosen = dict(proxies) if proxies else get_environ_proxies(url)
    return select_proxy(url, chosen)


def route_for(url: str, proxies: Optional[Mapping[str, str]]) -> Route:
    """The :class:`Route` to the server at ``url`` (``scheme://host:port``).

    ``proxies`` (``{"http": ..., "https": ...}``) come from the ``proxy``
    setting; without them the proxy environment decides (``NO_PROXY``
    included). An unusable proxy URL raises :class:`ConfigurationError`.
    """
    proxy = _explicit_or_environment(url, proxies)
    if not proxy:
        return Route()
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PROXY_PORTS.get(scheme, 0)
    except ValueError:
        port = 0
    if scheme not in _DEFAULT_PROXY_PORTS or not parts.hostname or not port:
        raise ConfigurationError(
            f"The proxy {_shown(proxy)} (from the environment: HTTPS_PROXY, HTTP_PROXY or "
            "ALL_PROXY) is not understood: accepted are http://host:port and "
            "socks5://host:port (also socks5h, socks4), with user:password@ if needed."
        )
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    if scheme == "http":
        return Route("http", parts.hostname, port, username=username, password=password)
    _socks_module()
    socks_type, remote_dns = _SOCKS_SCHEMES[scheme]
    return Route("socks", parts.hostname, port, socks_type, remote_dns, username, password)
