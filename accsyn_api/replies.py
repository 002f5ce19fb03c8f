"""Reading a server's HTTP reply: success, refusal, fault, or a failure worth retrying.

:func:`read_reply` classifies one HTTP response of any generation: a JSON
object is the answer (returned), a refusal raises the matching
:mod:`accsyn_api.errors` class (:func:`error_from_reply`), and whatever a
network, a gateway or a broken server produces instead raises
:class:`~accsyn_api.retry.AttemptFailed` for the retry loop to decide about.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

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
from .http_pool import Reply
from .retry import AttemptFailed

__all__ = [
    "error_from_reply",
    "read_reply",
    "result_created",
    "result_deleted",
    "result_entity",
    "result_list",
    "result_missing",
    "result_tasks",
]

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
_MISSING = object()

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
    """Whether ``reply`` refuses: ``success`` other than true, or a message and no result."""
    if "success" in reply:
        return reply["success"] is not True
    has_message = "message" in reply or "message_hr" in reply
    return has_message and "result" not in reply


def _retry_after(reply: Reply) -> Optional[float]:
    """Seconds asked for by a ``Retry-After`` header (a number or an HTTP date), if any."""
    value = (reply.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable header is ignored, as browsers do
    return max(0.0, when.timestamp() - time.time())


def read_reply(
    response: Reply,
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
    status = response.status
    content = response.body
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
            retry_after=_retry_after(response),
            rate_limited=status == 429,
        )
    reply: Any = None
    unreadable: Optional[str] = None
    try:
        reply = decode(content)
    except ValueError as exc:
        unreadable = str(exc)[:100]
    except RecursionError:
        unreadable = "nested too deeply to be read"
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
    if unreadable is not None or not isinstance(reply, dict):
        what = (
            f"a body that is not JSON ({unreadable})"
            if unreadable
            else "JSON that is not an object"
        )
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


# -- the result of a success reply, as each verb needs it ---------------------------------------


def result_missing(reply: Mapping[str, Any], uri: str, expected: str) -> ServerError:
    """The error for a success reply that holds no usable ``result`` (not raised here)."""
    if "result" not in reply:
        got = f"no result (keys: {', '.join(sorted(map(str, reply))[:8]) or 'none'})"
    else:
        got = f"result={str(reply['result'])[:100]}"
    return ServerError(
        f"The server's reply to {uri} holds no usable result: expected {expected}, got {got}. "
        "The call may or may not have been carried out.",
        uri=uri,
    )


def result_list(reply: Mapping[str, Any], uri: str) -> List[Any]:
    """The ``result`` list of a find or an edit of many (one entity alone is a list of one)."""
    result = reply.get("result")
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        return [result]
    raise result_missing(reply, uri, "a list")


def result_entity(reply: Mapping[str, Any], uri: str) -> Optional[Dict[str, Any]]:
    """The one entity of a ``result`` (a dict, or a list whose first item is one); None if none."""
    result = reply.get("result", _MISSING)
    if isinstance(result, list):
        result = result[0] if result else None
    if result is None:
        return None
    if isinstance(result, dict):
        return dict(result)
    raise result_missing(reply, uri, "an entity")


def result_created(reply: Mapping[str, Any], uri: str, *, many: bool) -> Any:
    """What a create returns: the entity (``many=False``) or the list of them.

    A reply with ``"success": true`` and no ``result`` is returned whole, as
    the official client does; an empty or unreadable ``result`` is a
    :class:`ServerError`: the server said nothing about what it created.
    """
    if "result" not in reply and reply.get("success") is True:
        return dict(reply)
    result = reply.get("result")
    if isinstance(result, dict):
        result = [result]
    if not isinstance(result, list) or not result or not all(isinstance(r, dict) for r in result):
        raise result_missing(reply, uri, "the entities created")
    return result if many else dict(result[0])


def result_tasks(reply: Mapping[str, Any], uri: str) -> List[Any]:
    """The tasks a task create returns: ``result`` or ``tasks``; none for ``{"success": true}``."""
    for key in ("result", "tasks"):
        if reply.get(key) is not None:
            found = reply[key]
            if isinstance(found, dict):
                return [found]
            if isinstance(found, list):
                return found
            raise result_missing(reply, uri, "a list of tasks")
    if reply.get("success") is True:
        return []
    raise result_missing(reply, uri, "a list of tasks")


def result_deleted(reply: Mapping[str, Any], uri: str) -> None:
    """Raise unless a delete's reply says it was done (a ``result`` of false says it was not)."""
    if reply.get("result", True) is False:
        raise InvalidData(
            f"The server answered {uri} with result false: nothing was deleted.",
            uri=uri,
        )
