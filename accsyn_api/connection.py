"""A Session's link to its server: where it is, which generation it speaks, the login.

:class:`Connection` finds the server (the address the caller gave, else the
v3 master or the v1.0 registry), settles the API generation (the one asked
for, or with ``api_version="auto"`` the one the server answers), logs in,
and sends :class:`~accsyn_api.protocol.base.Operation` objects as events
through the :class:`~accsyn_api.transport.Transport`, logging in again when
a v1.0 session key expires.

With ``"auto"`` and an address, the v3 login is tried first; a server that
answers it with HTTP 404, 405 or 501, or with something that is not an
accsyn reply, is asked the v1.0 login next. With ``"auto"`` and only a
workspace name, the v3 master is asked first and the v1.0 registry when the
master does not know the workspace.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Dict, Optional, Tuple

from .errors import (
    AccsynError,
    ConfigurationError,
    ConnectionFailed,
    NotFound,
    ServerError,
    SessionExpired,
)
from .protocol import names
from .protocol.base import Generation, LoginState, Operation
from .protocol.v1 import V1Generation
from .protocol.v3 import V3Generation
from .settings import AUTO, Settings
from .transport import Transport

__all__ = ["Connection", "generation"]

_NOT_SERVED_STATUSES = frozenset({404, 405, 501})


def generation(name: str) -> Generation:
    """The :class:`Generation` called ``name`` (``"1.0"`` or ``"3"``)."""
    return V3Generation() if name == names.V3 else V1Generation()


def _not_served(error: AccsynError) -> bool:
    """Whether ``error`` says the API path asked is not served there (another generation is)."""
    if error.http_status in _NOT_SERVED_STATUSES:
        return True
    return isinstance(error, ServerError) and "not JSON" in error.message


class Connection:
    """The server, the generation and the login of one Session; shared by its threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.transport = Transport(settings)
        self._lock = threading.Lock()  # guards origin, generation and login
        self._origin = settings.origin
        self._generation: Optional[Generation] = None
        if settings.api_version != AUTO:
            self._generation = generation(settings.api_version)
        self._login: Optional[LoginState] = None
        self._session_uuid = str(uuid.uuid4())

    @property
    def origin(self) -> Optional[str]:
        """The server's ``scheme://host:port``, once known."""
        return self._origin

    @property
    def generation(self) -> Optional[Generation]:
        """The generation spoken, once known (with ``"auto"``: after the first login)."""
        return self._generation

    @property
    def login_state(self) -> Optional[LoginState]:
        """What the last login gave, or None before it."""
        return self._login

    def open(self) -> LoginState:
        """Find the server, settle the generation and log in (again)."""
        with self._lock:
            self._login = None
            return self._logged_in()

    def close(self) -> None:
        self.transport.close()

    def ready(self) -> Tuple[Generation, LoginState]:
        """The generation and the login, logging in first if needed."""
        with self._lock:
            login = self._logged_in()
            if self._generation is None:  # not reached: a login settles the generation
                raise ConfigurationError("The API generation is not known.")
            return self._generation, login

    def call(self, operation: Operation) -> Dict[str, Any]:
        """Send ``operation`` as an event and return the reply; re-login once on expiry."""
        if self.transport.closed:  # before any look-up or login
            raise ConfigurationError(
                f"Cannot send {operation.uri}: this session was closed. Create a new Session.",
                uri=operation.uri,
            )
        speaker, login = self.ready()
        eid = str(uuid.uuid4())
        deadline = time.monotonic() + self.transport.retry_budget
        try:
            return self._send(speaker, login, operation, eid, deadline)
        except SessionExpired:
            if not speaker.renews_sessions:
                raise
            login = self._renewed(login)
            return self._send(speaker, login, operation, eid, deadline)

    # -- internals (the caller holds the lock where it says so) ------------------------

    def _send(
        self,
        speaker: Generation,
        login: LoginState,
        operation: Operation,
        eid: str,
        deadline: float,
    ) -> Dict[str, Any]:
        if self._origin is None:  # not reached: a login settles the origin
            raise ConfigurationError("The server address is not known.")
        request = speaker.event_request(
            self.settings, login, self._origin, self._session_uuid, operation, eid
        )
        return self.transport.send(
            request, decode=speaker.decode, deadline=deadline, server_dedups=login.event_dedup
        )

    def _renewed(self, expired: LoginState) -> LoginState:
        """Log in again after ``expired`` was refused, unless another thread already did."""
        with self._lock:
            if self._login is not None and self._login is not expired:
                return self._login
            self._login = None
            return self._logged_in()

    def _logged_in(self) -> LoginState:
        """The current login, or a new one (lock held)."""
        if self._login is not None:
            return self._login
        if self._origin is None:
            self._origin, found = self._look_up()
            self._generation = self._generation or found
        candidates = [self._generation] if self._generation else [V3Generation(), V1Generation()]
        first_error: Optional[AccsynError] = None
        for candidate in candidates:
            try:
                login = self._login_with(candidate, self._origin)
            except AccsynError as error:
                if self._generation is not None or not _not_served(error):
                    raise
                first_error = first_error or error
                continue
            self._generation, self._login = candidate, login
            return login
        raise ConfigurationError(
            f"The server at {self._origin} answers neither the v3 API ({names.V3_API_PATH}) nor "
            f"the v1.0 API ({names.V1_API_PATH}): check the address (url=..., ACCSYN_URL). "
            f"It said: {first_error}"
        )

    def _login_with(self, speaker: Generation, origin: str) -> LoginState:
        request = speaker.login_request(self.settings, origin, self._session_uuid)
        self.transport.add_secret(request.authorization, *speaker.secret_forms(self.settings))
        reply = self.transport.send(request, decode=speaker.decode)
        login = speaker.read_login(reply, request.uri)
        # Every call of this login carries the same Authorization value: register it once.
        self.transport.add_secret(login.session, speaker.call_headers(self.settings, login)[0])
        return login

    def _look_up(self) -> Tuple[str, Generation]:
        """Ask where the workspace is served: the v3 master, and/or the v1.0 registry."""
        if self._generation is not None:
            return self._origin_from(self._generation), self._generation
        try:
            speaker: Generation = V3Generation()
            return self._origin_from(speaker), speaker
        except (NotFound, ConnectionFailed) as v3_error:
            try:
                speaker = V1Generation()
                return self._origin_from(speaker), speaker
            except AccsynError:
                raise v3_error from None

    def _origin_from(self, speaker: Generation) -> str:
        request = speaker.lookup_request(self.settings)
        reply = self.transport.send(request, decode=speaker.decode)
        return speaker.origin_from_lookup(reply, self.settings)
