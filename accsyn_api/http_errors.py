"""What a failure underneath :mod:`requests` means for an accsyn call, in one table.

:func:`attempt_failure` turns an exception raised while sending a request
into an :class:`~accsyn_api.retry.AttemptFailed` (the retry loop decides
about it) or, for a setting that can never work, a
:class:`~accsyn_api.errors.ConfigurationError`. Each row of
:data:`FAILURES` says which error class the caller finally sees, whether the
request may have been carried out, whether repeating can help, and the
message, with ``{url}``, ``{method}``, ``{uri}``, ``{why}`` and
``{timeout}`` filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple, Type, Union

import requests
from urllib3.exceptions import ProtocolError

from .errors import (
    ConfigurationError,
    ConnectionFailed,
    RequestTimeout,
    ServerError,
    TransportError,
)
from .retry import AttemptFailed

__all__ = ["FAILURES", "Failure", "attempt_failure"]

_exc = requests.exceptions


@dataclass(frozen=True)
class Failure:
    """How one kind of lower-level failure is reported and retried."""

    error: Type[Union[ServerError, TransportError]]
    reason: str
    executed: Optional[bool]
    message: str
    repeatable: bool = True


def _lost_mid_call(exc: BaseException) -> bool:
    """A connection that broke after the request went out (urllib3's ProtocolError inside)."""
    return bool(exc.args) and isinstance(exc.args[0], ProtocolError)


def _not_tls(exc: BaseException) -> bool:
    return "WRONG_VERSION_NUMBER" in str(exc)


_CHECK_SERVER = "Check the server address, your network and the proxy settings."
_CHECK_TLS = (
    "Check the certificates: the server's, and the CA bundle given as verify=... "
    "(verify='system' checks against the operating system's trust store)."
)

_Kinds = Union[Type[BaseException], Tuple[Type[BaseException], ...]]
_Row = Tuple[_Kinds, Optional[Callable[[BaseException], bool]], Failure]

FAILURES: Tuple[_Row, ...] = (
    (
        _exc.ConnectTimeout,
        None,
        Failure(
            ConnectionFailed,
            "connect timeout",
            False,
            f"Could not connect to {{url}} in time ({{why}}); the request was not sent. "
            f"{_CHECK_SERVER}",
        ),
    ),
    (
        _exc.ReadTimeout,
        None,
        Failure(
            RequestTimeout,
            "read timeout",
            None,
            "{url} did not answer {method} {uri} within the read timeout of {timeout}. "
            "A larger timeout may help if the server is busy.",
        ),
    ),
    (
        _exc.SSLError,
        _not_tls,
        Failure(
            ConnectionFailed,
            "TLS failure",
            False,
            "Could not connect securely to {url} ({why}). The server does not speak TLS "
            "there: for a plain-HTTP server use http://.",
            repeatable=False,
        ),
    ),
    (
        _exc.SSLError,
        None,
        Failure(
            ConnectionFailed,
            "TLS failure",
            False,
            f"Could not connect securely to {{url}} ({{why}}). {_CHECK_TLS}",
            repeatable=False,
        ),
    ),
    (
        _exc.ProxyError,
        None,
        Failure(
            ConnectionFailed,
            "proxy failure",
            False,
            "Could not reach {url} through the proxy ({why}). Check the proxy address and "
            "that the proxy is running.",
        ),
    ),
    (
        _exc.ConnectionError,
        _lost_mid_call,
        Failure(
            ConnectionFailed,
            "connection lost",
            None,
            "The connection to {url} was lost before the reply to {method} {uri} arrived ({why}).",
        ),
    ),
    (
        _exc.ConnectionError,
        None,
        Failure(
            ConnectionFailed,
            "connection failed",
            False,
            f"Could not reach {{url}} ({{why}}). {_CHECK_SERVER[:-1]}, and the certificates.",
        ),
    ),
    (
        (_exc.ChunkedEncodingError, _exc.ContentDecodingError),
        None,
        Failure(
            ServerError,
            "reply cut short",
            None,
            "The reply of {url} to {method} {uri} was cut short or garbled.",
        ),
    ),
    (
        _exc.RequestException,
        None,
        Failure(
            TransportError,
            "request failed",
            None,
            "{method} {uri} to {url} failed: {why}",
            repeatable=False,
        ),
    ),
)
"""First matching row wins: ``(exception class, extra test or None, failure)``."""


def _failure_for(exc: BaseException) -> Failure:
    """The first row of :data:`FAILURES` that ``exc`` matches (the last takes all)."""
    for kind, test, failure in FAILURES:
        if isinstance(exc, kind) and (test is None or test(exc)):
            return failure
    return FAILURES[-1][2]


def _why(exc: BaseException) -> str:
    """A short description of what went wrong underneath a requests exception.

    urllib3's ``MaxRetryError`` text repeats the whole URL (for GET, the
    event); its ``reason`` says the same thing without it.
    """
    inner: Any = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    text = str(inner) or type(inner).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _seconds_text(timeout: Any) -> str:
    seconds = timeout[1] if isinstance(timeout, tuple) else timeout
    return f"{seconds:g} s"


def attempt_failure(
    exc: requests.exceptions.RequestException,
    *,
    method: str,
    url: str,
    uri: str,
    eid: Optional[str],
    timeout: Any,
) -> Union[AttemptFailed, ConfigurationError]:
    """The AttemptFailed (or ConfigurationError) for ``exc``, raised while sending to ``url``.

    ``url`` is the address named in messages (never with the query string,
    which holds the event).
    """
    if isinstance(exc, (_exc.InvalidURL, _exc.InvalidSchema)):
        return ConfigurationError(
            f"Cannot send to {url}: {exc}. (A socks5 proxy needs PySocks: "
            "pip install 'accsyn-sdk[socks]'.)",
            uri=uri,
            eid=eid,
        )
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
