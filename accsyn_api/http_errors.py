"""What a failure underneath an accsyn call means, in one table.

The connections of a transport (:mod:`accsyn_api.http_pool`) report each
failure as a :class:`WireFailure` naming the step that failed: connecting,
the proxy, TLS, the connection lost after the request went out, the reply
late, cut short, not HTTP, or larger than allowed. :func:`attempt_failure`
turns it into an :class:`~accsyn_api.retry.AttemptFailed` for the retry loop.
Each row of :data:`FAILURES` says which error class the caller finally sees,
whether the request may have been carried out, whether repeating can help,
and the message, with ``{url}``, ``{method}``, ``{uri}``, ``{why}`` and
``{timeout}`` filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Type, Union

from .errors import ConnectionFailed, RequestTimeout, ServerError, TransportError
from .retry import AttemptFailed

__all__ = [
    "FAILURES",
    "ConnectTimedOut",
    "ConnectionLost",
    "Failure",
    "NotConnected",
    "NotTls",
    "ProxyFailed",
    "ReplyCutShort",
    "ReplyNotHttp",
    "ReplyTimedOut",
    "ReplyTooLarge",
    "TlsFailed",
    "WireFailure",
    "attempt_failure",
]


class WireFailure(Exception):
    """A request that failed underneath; the text says why, in the words of the layer below."""


class NotConnected(WireFailure):
    """No connection could be made (refused, no such host, unreachable): nothing was sent."""


class ConnectTimedOut(NotConnected):
    """The connection (or its TLS handshake) was not made within the connect timeout."""


class ProxyFailed(NotConnected):
    """The proxy could not be reached, or would not reach the server."""


class TlsFailed(NotConnected):
    """The TLS handshake failed (certificate not trusted, wrong host name...)."""


class NotTls(TlsFailed):
    """The server answered the TLS handshake with something else: it speaks plain HTTP."""


class ConnectionLost(WireFailure):
    """The connection broke after the request went out, before the reply began."""


class ReplyTimedOut(WireFailure):
    """The whole reply did not arrive within the reply timeout of the attempt."""


class ReplyCutShort(WireFailure):
    """The reply ended early, or its compressed body could not be inflated."""


class ReplyNotHttp(WireFailure):
    """What came back is not an HTTP reply (a status line or headers that make no sense)."""


class ReplyTooLarge(WireFailure):
    """The reply is larger than ``max_reply_bytes``, as sent or once inflated."""


@dataclass(frozen=True)
class Failure:
    """How one kind of lower-level failure is reported and retried."""

    error: Type[Union[ServerError, TransportError]]
    reason: str
    executed: Optional[bool]
    message: str
    repeatable: bool = True


_CHECK_SERVER = "Check the server address, your network and the proxy settings."
_CHECK_TLS = (
    "Check the certificates: the server's, and the CA bundle given as verify=... "
    "(verify='system' checks against the operating system's trust store)."
)

FAILURES: Dict[Type[WireFailure], Failure] = {
    ConnectTimedOut: Failure(
        ConnectionFailed,
        "connect timeout",
        False,
        f"Could not connect to {{url}} in time ({{why}}); the request was not sent. "
        f"{_CHECK_SERVER}",
    ),
    ReplyTimedOut: Failure(
        RequestTimeout,
        "read timeout",
        None,
        "{url} did not answer {method} {uri} within the timeout of {timeout} for the whole "
        "reply ({why}). A larger timeout may help if the server is busy.",
    ),
    NotTls: Failure(
        ConnectionFailed,
        "TLS failure",
        False,
        "Could not connect securely to {url} ({why}). The server does not speak TLS "
        "there: for a plain-HTTP server use http://.",
        repeatable=False,
    ),
    TlsFailed: Failure(
        ConnectionFailed,
        "TLS failure",
        False,
        f"Could not connect securely to {{url}} ({{why}}). {_CHECK_TLS}",
        repeatable=False,
    ),
    ProxyFailed: Failure(
        ConnectionFailed,
        "proxy failure",
        False,
        "Could not reach {url} through the proxy ({why}). Check the proxy address and "
        "that the proxy is running.",
    ),
    ConnectionLost: Failure(
        ConnectionFailed,
        "connection lost",
        None,
        "The connection to {url} was lost before the reply to {method} {uri} arrived ({why}).",
    ),
    NotConnected: Failure(
        ConnectionFailed,
        "connection failed",
        False,
        f"Could not reach {{url}} ({{why}}). {_CHECK_SERVER[:-1]}, and the certificates.",
    ),
    ReplyCutShort: Failure(
        ServerError,
        "reply cut short",
        None,
        "The reply of {url} to {method} {uri} was cut short or garbled ({why}).",
    ),
    ReplyNotHttp: Failure(
        ServerError,
        "reply not HTTP",
        None,
        "{url} answered {method} {uri} with something that is not HTTP ({why}): check the "
        "server address (http/https, host, port).",
        repeatable=False,
    ),
    ReplyTooLarge: Failure(
        ServerError,
        "reply too large",
        None,
        "The reply of {url} to {method} {uri} was refused: {why}. Ask for less (attributes=..., "
        "limit=..., iter_find()), or raise max_reply_bytes if such replies are expected.",
        repeatable=False,
    ),
}
"""Each kind of failure (the most specific class wins) and how it is reported."""


def _failure_for(exc: WireFailure) -> Failure:
    for kind in type(exc).__mro__:
        if kind in FAILURES:
            return FAILURES[kind]
    return FAILURES[ConnectionLost]


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _seconds_text(timeout: Any) -> str:
    seconds = timeout[1] if isinstance(timeout, tuple) else timeout
    return f"{seconds:g} s"


def attempt_failure(
    exc: WireFailure,
    *,
    method: str,
    url: str,
    uri: str,
    eid: Optional[str],
    timeout: Any,
) -> AttemptFailed:
    """The AttemptFailed for ``exc``, raised while sending to ``url``.

    ``url`` is the address named in messages (never with the query string,
    which holds the event).
    """
    failure = _failure_for(exc)
    text = failure.message.format(
        url=url, method=method, uri=uri, why=_why(exc), timeout=_seconds_text(timeout)
    )
    return AttemptFailed(
        failure.error(text, uri=uri, eid=eid),
        reason=failure.reason,
        executed=failure.executed,
        repeatable=failure.repeatable,
    )
