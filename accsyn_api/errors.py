"""The exceptions raised by accsyn_api.

Every error derives from :class:`AccsynError` (also importable under its older
name ``AccsynException``), so ``except accsyn_api.AccsynError`` catches them
all. Each carries what a caller needs to act or to report:

* ``message``: the technical message;
* ``message_hr``: the message for humans (the server's, else the same as ``message``);
* ``uri``: the operation, such as ``"job/edit"``;
* ``eid``: the id of the event sent, to find it in server logs;
* ``http_status``: the HTTP status of the server's reply, when there was one;
* ``executed`` (:class:`ServerError` and :class:`TransportError` only):
  ``False`` when the call was certainly not carried out, ``None`` when it may
  have been.

No error ever holds an API key or a session key.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AccsynError",
    "AccsynException",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailed",
    "InvalidData",
    "InvalidQuery",
    "NotFound",
    "PermissionDenied",
    "RequestTimeout",
    "ServerError",
    "SessionExpired",
    "TransportError",
]


class AccsynError(Exception):
    """Base class of every error raised by accsyn_api."""

    def __init__(
        self,
        message: str,
        *,
        message_hr: Optional[str] = None,
        uri: Optional[str] = None,
        eid: Optional[str] = None,
        http_status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_hr = message_hr
        self.uri = uri
        self.eid = eid
        self.http_status = http_status

    @property
    def message_hr(self) -> str:
        """The message for humans: the server's when it gave one, else :attr:`message`."""
        return self._message_hr or self.message

    @message_hr.setter
    def message_hr(self, value: Optional[str]) -> None:
        self._message_hr = value

    def __str__(self) -> str:
        text = self.message_hr
        if self._message_hr and self.message and self.message != self._message_hr:
            text = f"{text} [{self.message}]"
        context = []
        if self.uri:
            context.append(f"uri={self.uri}")
        if self.eid:
            context.append(f"eid={self.eid}")
        if context:
            text = f"{text} ({', '.join(context)})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


AccsynException = AccsynError
"""The name used by the previous generation of the client; existing scripts catch it."""


class ConfigurationError(AccsynError, ValueError):
    """The Session was given missing or inconsistent settings (no domain, no API key...)."""


class AuthenticationError(AccsynError):
    """The server refused the credentials: wrong user name, API key or domain."""


class SessionExpired(AuthenticationError):
    """The session key expired and logging in again did not help."""


class PermissionDenied(AccsynError):
    """The user is not allowed to read or change this entity."""


class NotFound(AccsynError):
    """The entity, or the entity type, does not exist (or is not visible to this user)."""


class InvalidQuery(AccsynError, ValueError):
    """A query expression is malformed; raised before anything is sent.

    ``query`` holds the text and ``position`` the 0-based index of the
    offending character (``None`` when the server refused the query).
    """

    def __init__(
        self,
        message: str,
        *,
        query: Optional[str] = None,
        position: Optional[int] = None,
        message_hr: Optional[str] = None,
        uri: Optional[str] = None,
        eid: Optional[str] = None,
        http_status: Optional[int] = None,
    ) -> None:
        super().__init__(message, message_hr=message_hr, uri=uri, eid=eid, http_status=http_status)
        self.query = query
        self.position = position

    def __str__(self) -> str:
        text = super().__str__()
        if self.query is not None and self.position is not None:
            text = f"{text}\n    {self.query}\n    {' ' * self.position}^"
        return text


class InvalidData(AccsynError, ValueError):
    """The data of a create or update is invalid, or the change is not allowed.

    Raised before sending when the arguments are wrong, and for server
    refusals such as a status that may not be set or a duplicate task.
    """


class _OutcomeError(AccsynError):
    """An error that says whether the call was carried out anyway: ``executed``.

    ``False`` when certainly not, ``None`` when it may have been; on ``None``,
    look before repeating a create.
    """

    def __init__(
        self,
        message: str,
        *,
        message_hr: Optional[str] = None,
        uri: Optional[str] = None,
        eid: Optional[str] = None,
        executed: Optional[bool] = None,
        http_status: Optional[int] = None,
    ) -> None:
        super().__init__(message, message_hr=message_hr, uri=uri, eid=eid, http_status=http_status)
        self.executed = executed


class ServerError(_OutcomeError):
    """The server failed: an exception reply, an HTTP 5xx, or a reply that is not JSON.

    ``executed`` is ``False`` when the call certainly was not carried out
    (HTTP 503), ``None`` when it may have been (the reply was cut short, a
    gateway failed).
    """


class TransportError(_OutcomeError):
    """The request could not be completed over the network.

    ``executed`` is ``False`` when the call certainly was not carried out (the
    server could not be reached), ``None`` when it may have been (the
    connection was lost, or the reply late, after the request was sent).
    """


class ConnectionFailed(TransportError):
    """The server could not be reached (refused, DNS, TLS, proxy)."""


class RequestTimeout(TransportError):
    """The server did not answer in time; a change may or may not have been made.

    Also raised by :meth:`~accsyn_api.Session.wait` when the job does not reach
    the status in time; then nothing was changed (``executed`` is ``False``).
    """
