"""The proxy setting (``proxy=`` or ``ACCSYN_PROXY``), read into what the transport uses.

Two kinds of proxy are known to accsyn clients:

* ``accsyn:<host>:<port>`` (also ``<host>:<port>``, and ``<host>`` alone for
  port 80): an accsyn daemon relaying plain HTTP. It takes the server's place:
  the client speaks plain HTTP to it, with the usual API paths.
* ``socks5:<host>:<port>`` (also ``socks:``, ``socks5://``, ``socks5h://``):
  a SOCKS5 proxy, through which host names are resolved too. It needs
  PySocks (``pip install 'accsyn-sdk[socks]'``).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .errors import ConfigurationError

__all__ = ["proxy_settings"]

_PROXY_FORMS = (
    "'accsyn:<host>:<port>' (an accsyn daemon relaying plain HTTP; also '<host>:<port>') or "
    "'socks5:<host>:<port>' / 'socks5://<host>:<port>'"
)
_SOCKS_PREFIXES = ("socks5h://", "socks5://", "socks5:", "socks:")


def _shown(text: str) -> str:
    """How a proxy text is named in an error: never with what may be a password."""
    return "<hidden: holds '@'>" if "@" in text else repr(text)


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

    Anything else raises :class:`ConfigurationError`.
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
