"""Reading a server's HTTP reply: success, refusal, fault, or a failure worth retrying.

:func:`read_reply` classifies one HTTP response of any generation: a JSON
object is the answer (returned), a refusal raises the matching
:mod:`accsyn_api.errors` class (:func:`error_from_reply`), and whatever a
network, a gateway or a broken server produces instead raises
:class:`~accsyn_api.retry.AttemptFailed` for the retry loop to decide about.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

import requests

from .errors import (
    AccsynError,
    AuthenticationError,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    ServerError,
    SessionExpired,
)
from .retry import AttemptFailed, retry_after_seconds

__all__ = ["error_from_reply", "read_reply"]

_ERROR_CLASSES: Dict[str, type[AccsynError]] = {
    "authentication_failed": AuthenticationError,
    "session_expired": SessionExpired,
    "permission_denied": PermissionDenied,
    "not_found": NotFound,
    "invalid_data": InvalidData,
    "invalid_query": InvalidQuery,
}
_GATEWAY_STATUSES = {
    429: "too many requests",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_NOT_PROCESSED_STATUSES = frozenset({429, 503})  # by HTTP, the request was not processed
_BODY_EXCERPT = 200

Decoder = Callable[[bytes], Any]


def _excerpt(content: bytes) -> str:
    text = content[:_BODY_EXCERPT].decode("utf-8", errors="replace")
    return text.strip() or "<empty body>"


def _server_fault(reply: Mapping[str, Any], *, uri: str, eid: Optional[str]) -> ServerError:
    """The error for an ``{"exception": ...}`` reply: the server failed."""
    details = str(reply.get("exception"))
    return ServerError(f"The server failed while handling {uri}: {details}", uri=uri, eid=eid)


def error_from_reply(
    reply: Mapping[str, Any],
    *,
    uri: str,
    eid: Optional[str],
    http_status: int = 200,
    login: bool = False,
) -> AccsynError:
    """Return (not raise) the exception for a refusal or fault ``reply``.

    ``{"exception": ...}`` gives :class:`ServerError`. Otherwise
    ``error_code`` picks the class (``authentication_failed``,
    ``session_expired``, ``permission_denied``, ``not_found``,
    ``invalid_data``, ``invalid_query``). Without a code, as from the hosted
    service, the class is guessed: ``session_expired`` flag, a refused login
    (``login=True``), the words of the message ("permission", "not found",
    "query"...), the HTTP status; a refusal that matches nothing is
    :class:`InvalidData`.
    """
    if "exception" in reply:
        return _server_fault(reply, uri=uri, eid=eid)
    message = str(reply.get("message") or reply.get("message_hr") or f"The server refused {uri}.")
    message_hr = reply.get("message_hr")
    message_hr = str(message_hr) if message_hr else None
    code = reply.get("error_code")
    error_class: type[AccsynError]
    if reply.get("session_expired"):
        error_class = SessionExpired
    elif isinstance(code, str) and code in _ERROR_CLASSES:
        error_class = _ERROR_CLASSES[code]
    else:
        text = f"{message} {message_hr or ''}".lower()
        error_class = _guess_error_class(text, login=login, http_status=http_status)
    return error_class(message, message_hr=message_hr, uri=uri, eid=eid, http_status=http_status)


def _guess_error_class(text: str, *, login: bool, http_status: int) -> type[AccsynError]:
    if login or http_status == 401:
        return AuthenticationError
    if "permission" in text or "not allowed" in text or http_status == 403:
        return PermissionDenied
    if "query" in text:
        return InvalidQuery
    if any(word in text for word in ("not found", "does not exist", "unknown")):
        return NotFound
    if http_status == 404:
        return NotFound
    return InvalidData


def _is_refusal(reply: Mapping[str, Any]) -> bool:
    has_message = "message" in reply or "message_hr" in reply
    return has_message and "result" not in reply and "success" not in reply


def read_reply(
    response: requests.Response,
    *,
    url: str,
    uri: str,
    eid: Optional[str],
    decode: Decoder,
    login: bool = False,
) -> Dict[str, Any]:
    """The reply as a dict, decoded with ``decode`` (which turns dates into datetimes).

    Raises :class:`AttemptFailed` for an HTTP failure (the retry loop decides
    whether to repeat) and the matching :mod:`accsyn_api.errors` class for a
    refusal (never repeated). ``login`` says that ``uri`` is a login, whose
    unexplained refusals mean bad credentials.
    """
    status = response.status_code
    content = response.content
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise AttemptFailed(
            ServerError(
                f"{url} answered HTTP {status}, a redirect to {location}; "
                "check the server address (http/https, host, port).",
                uri=uri,
                eid=eid,
                http_status=status,
            ),
            reason=f"HTTP {status}",
            executed=None,
            repeatable=False,
        )
    if status in _GATEWAY_STATUSES:
        raise AttemptFailed(
            ServerError(
                f"The server answered {uri} with HTTP {status} ({_GATEWAY_STATUSES[status]}): "
                f"{_excerpt(content)}",
                uri=uri,
                eid=eid,
                http_status=status,
            ),
            reason=f"HTTP {status}",
            # 503 and 429 say the request was not processed; a gateway's 502/504 does not tell.
            executed=False if status in _NOT_PROCESSED_STATUSES else None,
            retry_after=retry_after_seconds(response),
            rate_limited=status == 429,
        )
    reply: Any = None
    is_json = True
    try:
        reply = decode(content)
    except ValueError:
        is_json = False
    if isinstance(reply, dict) and "exception" in reply:
        fault = _server_fault(reply, uri=uri, eid=eid)
        fault.http_status = status
        raise AttemptFailed(
            fault,
            reason="server fault",
            executed=None,
            repeatable=False,
        )
    # A 5xx may come after the work was done; a 4xx without a refusal body was not done.
    refusal = isinstance(reply, dict) and _is_refusal(reply)
    if status >= 500 or (status >= 400 and not refusal):
        raise AttemptFailed(
            ServerError(
                f"The server answered {uri} with HTTP {status}: {_excerpt(content)}",
                uri=uri,
                eid=eid,
                http_status=status,
            ),
            reason=f"HTTP {status}",
            executed=None if status >= 500 else False,
            repeatable=False,
        )
    if refusal:
        raise error_from_reply(reply, uri=uri, eid=eid, http_status=status, login=login)
    if not is_json or not isinstance(reply, dict):
        what = "a body that is not JSON" if not is_json else "JSON that is not an object"
        raise AttemptFailed(
            ServerError(
                f"The server answered {uri} with HTTP {status} and {what}: {_excerpt(content)}",
                uri=uri,
                eid=eid,
                http_status=status,
            ),
            reason="reply not JSON",
            executed=None,
        )
    return reply
