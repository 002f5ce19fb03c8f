"""How the reference server words a refusal and turns it into a reply.

Rules raise :mod:`accsyn_api.errors` exceptions; :func:`refusal` turns one into
the ``{"message", "message_hr", "error_code"}`` reply of the wire protocol.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    SessionExpired,
)

__all__ = ["invalid", "listing", "refusal"]

_ERROR_CODES: Tuple[Tuple[type, str], ...] = (
    (SessionExpired, "session_expired"),
    (AuthenticationError, "authentication_failed"),
    (PermissionDenied, "permission_denied"),
    (NotFound, "not_found"),
    (InvalidQuery, "invalid_query"),
    (InvalidData, "invalid_data"),
)


def refusal(error: AccsynError) -> Dict[str, Any]:
    """The refusal reply for ``error``, with ``"session_expired": True`` for an expiry."""
    code = next((code for kind, code in _ERROR_CODES if isinstance(error, kind)), "invalid_data")
    reply: Dict[str, Any] = {
        "message": error.message,
        "message_hr": error.message_hr,
        "error_code": code,
    }
    if code == "session_expired":
        reply["session_expired"] = True
    return reply


def invalid(message: str, message_hr: str) -> InvalidData:
    """An :class:`~accsyn_api.errors.InvalidData` with a technical and a human text."""
    return InvalidData(message, message_hr=message_hr)


def listing(values: Any) -> str:
    """``values`` as a comma-separated list, for messages."""
    return ", ".join(str(value) for value in values)
