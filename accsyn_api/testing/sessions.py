"""Who is calling: v1.0 session keys, v3 API keys, and each generation's query parser.

v1.0 logs in once with the API key and then authenticates with a session key
(:meth:`SessionKeys.login`, :meth:`SessionKeys.authenticate`). A session key
lives :data:`SESSION_LIFETIME` (24 hours by the backend's clock) from its
login, then is refused as expired; at most :data:`MAX_SESSIONS` keys are kept,
the least recently used one being forgotten when a login would pass that
number. v3 sends the API key with every call (:meth:`SessionKeys.check_key`)
and has no session keys. Not thread-safe: the backend calls these under its
lock.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, Mapping, Optional

from accsyn_api.errors import AuthenticationError, SessionExpired
from accsyn_api.protocol import names
from accsyn_api.query import Expression
from accsyn_api.testing import matching
from accsyn_api.testing.generations import Generation
from accsyn_api.testing.model import Clock, User, Workspace
from accsyn_api.testing.reads import QueryParser
from accsyn_api.testing.refusals import invalid
from accsyn_api.testing.rows import user_by_email

__all__ = ["MAX_SESSIONS", "SESSION_LIFETIME", "SessionKeys", "query_parser"]

SESSION_LIFETIME = timedelta(hours=24)
"""How long a v1.0 session key is accepted after its login (by the backend's clock)."""
MAX_SESSIONS = 10_000
"""The most v1.0 session keys kept; past it, the least recently used one is forgotten."""

_V1_REFUSED_HR = (
    "Login refused: the domain, user name or API key is wrong. Check the three "
    "values (ACCSYN_DOMAIN, ACCSYN_API_USER, ACCSYN_API_KEY) and try again."
)
_V3_REFUSED_HR = (
    "Authentication failed: the workspace, user name or API key is wrong. Check the "
    "three values (ACCSYN_WORKSPACE, ACCSYN_API_USER, ACCSYN_API_KEY) and try again."
)


@dataclass
class _SessionRecord:
    user_id: str
    expires: datetime
    expired: bool = False


class SessionKeys:
    """The v1.0 sessions of a workspace, and the API-key check of both generations.

    ``clock`` (by default real time) dates the session keys' expiry.
    """

    def __init__(self, workspace: Workspace, clock: Optional[Clock] = None) -> None:
        self._workspace = workspace
        self._clock = clock if clock is not None else Clock()
        self._sessions: OrderedDict[str, _SessionRecord] = OrderedDict()  # least recent first

    def expire_all(self) -> None:
        """Make every v1.0 session key expired."""
        for record in self._sessions.values():
            record.expired = True

    def _user_with_key(self, workspace: Any, username: Any, api_key: Any) -> Optional[User]:
        if not (isinstance(workspace, str) and isinstance(username, str)):
            return None
        if not isinstance(api_key, str) or workspace.strip().lower() != self._workspace.domain:
            return None
        user = user_by_email(self._workspace, username)
        key_ok = user is not None and secrets.compare_digest(
            user.api_key.encode("utf-8"), api_key.encode("utf-8")
        )
        return user if key_ok else None

    def check_key(self, credentials: Mapping[str, Any], gen: Generation) -> User:
        """The user whose workspace, user name and API key these are; else a refusal."""
        workspace = credentials.get(gen.workspace_key, credentials.get("domain"))
        user = self._user_with_key(
            workspace, credentials.get("username"), credentials.get("api_key")
        )
        if user is None:
            hr = _V1_REFUSED_HR if gen.api_version == names.V1 else _V3_REFUSED_HR
            raise AuthenticationError("authentication failed", message_hr=hr)
        return user

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        """v1.0 login: a new session key for decoded ``ASCredentials``; raises a refusal."""
        refused = AuthenticationError("authentication failed", message_hr=_V1_REFUSED_HR)
        if not isinstance(credentials, Mapping):
            raise refused
        user = self._user_with_key(
            credentials.get("domain"), credentials.get("username"), credentials.get("api_key")
        )
        if user is None:
            raise refused
        if isinstance(body, Mapping) and not isinstance(body.get("session", ""), str):
            raise invalid(
                "login body: 'session' must be a string",
                "The login body's 'session' must be the uuid string the client chose.",
            )
        session_key = secrets.token_hex(16)
        self._sessions[session_key] = _SessionRecord(user.id, self._clock.now() + SESSION_LIFETIME)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        # event_dedup: a repeated eid gets the stored reply, so clients may retry creates.
        return {
            "session_key": session_key,
            "clearance": user.clearance,
            "id": user.id,
            "event_dedup": True,
        }

    def authenticate(self, session: Optional[Mapping[str, Any]]) -> User:
        """The user of a decoded v1.0 ``ASSession`` header; raises a refusal."""
        unknown = AuthenticationError(
            "no valid session key",
            message_hr=(
                "This call needs a session: log in first (PUT /api/v1.0/user/login/auth) and "
                "send the session key in an 'Authorization: ASSession ...' header."
            ),
        )
        if not isinstance(session, Mapping):
            raise unknown
        key = session.get("session_key")
        if not isinstance(key, str):
            raise unknown
        record = self._sessions.get(key)
        if record is None:
            raise unknown
        user = self._workspace.users[record.user_id]
        username, domain = session.get("username"), session.get("domain")
        if isinstance(username, str) and username.lower() != user.email:
            raise unknown
        if isinstance(domain, str) and domain.lower() != self._workspace.domain:
            raise unknown
        if record.expired or self._clock.now() >= record.expires:
            record.expired = True
            raise SessionExpired(
                "session expired",
                message_hr=(
                    "The session has expired; log in again with your API key and repeat the call."
                ),
            )
        self._sessions.move_to_end(key)
        return user


def query_parser(gen: Generation) -> QueryParser:
    """How ``gen`` reads an event's query: v1.0 knows only ``=``, ``!=`` and ``<>``."""
    if gen.api_version != names.V1:
        return matching.parse_query

    def parse_v1(event: Mapping[str, Any], entitytype: str) -> Optional[Expression]:
        return matching.parse_query(event, entitytype, operators=names.V1_OPERATORS)

    return parse_v1
