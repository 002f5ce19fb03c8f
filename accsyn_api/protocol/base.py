"""What every API generation provides, and the parts they share.

A :class:`Generation` knows how one generation of the accsyn API is spoken:
its host look-up, its login, the headers and the event envelope of its
calls, and how the Session's verbs are laid out as operations (``uri``,
``data``, ``query``, ``id``). The Session builds :class:`Operation` objects
through it and never sees a path or a header; the
:class:`~accsyn_api.transport.Transport` sends what it lays out and never
sees a generation.
"""

from __future__ import annotations

import base64
import gzip
import json
import platform
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from .. import codec
from ..errors import InvalidData, InvalidQuery
from ..query import BooleanExpression, Comparison, Query
from ..settings import Secret, Settings
from ..transport import HttpRequest
from . import names

__all__ = ["FindOptions", "Generation", "LoginState", "Operation", "b64_json", "device_text"]

BODY_METHODS = frozenset({"POST", "PUT"})

_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_URL_ESCAPES = [chr(byte) if byte in _URL_SAFE else f"%{byte:02X}" for byte in range(256)]


def url_quoted(text: str) -> str:
    """``text`` percent-encoded as UTF-8, every byte but letters, digits and ``_.-~``.

    The same text as ``urllib.parse.quote(text, safe="")``, in a third less time
    (a GET event is quoted on every call).
    """
    return "".join(map(_URL_ESCAPES.__getitem__, text.encode("utf-8")))


@dataclass(frozen=True)
class Operation:
    """One call of the API: the HTTP method and the event's ``uri``, ``data``, ``query``, ``id``."""

    method: str
    uri: str
    data: Any = None
    query: Optional[str] = None
    entityid: Optional[str] = None


@dataclass(frozen=True)
class FindOptions:
    """The options of a find, as the caller gave them (``None``: not given)."""

    attributes: Optional[List[str]] = None
    finished: Optional[bool] = None
    archived: Optional[bool] = None
    inactive: Optional[bool] = None
    offline: Optional[bool] = None
    limit: Optional[int] = None
    skip: Optional[int] = None
    single: bool = False


@dataclass
class LoginState:
    """What a login gave: the user's role and id, and what later calls must carry."""

    role: Optional[str] = None
    user_id: Optional[str] = None
    session: Optional[Secret] = field(default=None, repr=False)
    """v1.0: the session key (secret); v3: the server's ``session_id``."""
    event_dedup: bool = False
    """True when the server said it ignores repeated events (same ``eid``)."""


def b64_json(obj: Mapping[str, Any]) -> str:
    """Standard base64 of the UTF-8 JSON text of ``obj``."""
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def device_text() -> str:
    """Names this client and machine in the device header: ``accsyn_api/<v> @ <OS> <host>``."""
    from .. import __version__  # imported late: accsyn_api/__init__ may still be loading

    return f"accsyn_api/{__version__} @ {platform.system() or 'unknown'} {socket.gethostname()}"


def attributes_data(parsed: Query) -> Dict[str, Any]:
    """``attributes where entitytype=job [and create=true]`` as the data it travels as."""
    data: Dict[str, Any] = {}
    for comparison in _equalities(parsed):
        value: Any = comparison.value
        if comparison.attribute.lower() in ("create", "update"):
            value = str(value).lower() == "true"
        data[comparison.attribute.lower()] = value
    return data


def _equalities(parsed: Query) -> List[Comparison]:
    """The ``attr=value`` comparisons of a query made only of them joined by AND."""
    expression = parsed.expression
    if expression is None:
        return []
    operands = expression.operands if isinstance(expression, BooleanExpression) else (expression,)
    if (isinstance(expression, BooleanExpression) and expression.operator != "and") or not all(
        isinstance(item, Comparison) and item.operator == "=" for item in operands
    ):
        raise InvalidQuery(
            f"'{parsed}' can only hold attr=value conditions joined by AND, "
            "e.g. 'attributes where entitytype=job'."
        )
    return [item for item in operands if isinstance(item, Comparison)]


def _text_not_utf8(value: Any, path: str) -> Optional[Tuple[str, str]]:
    """The place and the text of the first string in ``value`` that is not valid Unicode."""
    pending: List[Tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return where, item
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                pending.extend(((key, f"{where} (a key)"), (inner, f"{where}[{key!r}]")))
        elif isinstance(item, (list, tuple)):
            pending.extend((inner, f"{where}[{index}]") for index, inner in enumerate(item))
    return None


def _not_utf8(operation: Operation) -> InvalidData:
    """The refusal of an operation holding text that cannot travel as UTF-8."""
    found = None
    for value, name in (
        (operation.data, "data"),
        (operation.query, "the query"),
        (operation.entityid, "the id"),
    ):
        found = found or _text_not_utf8(value, name)
    where, text = found or ("the call", "")
    return InvalidData(
        f"{where} holds text that is not valid Unicode: {text!r}. This is how Python gives "
        "a file name whose bytes are not UTF-8 (os.listdir, os.walk...). accsyn paths are "
        "UTF-8 text: rename the file, or pass the name decoded from its bytes in their "
        "real encoding, e.g. os.fsencode(name).decode('latin-1').",
        uri=operation.uri,
    )


class Generation(ABC):
    """One generation of the accsyn API, as a client speaks it."""

    name: str
    """``"1.0"`` or ``"3"``."""
    api_path: str
    workspace_key: str
    utc_dates: bool
    """True when dates travel in UTC (v3); False when naive local (v1.0)."""
    operators: FrozenSet[str]
    login_uri: str
    renews_sessions: bool = False
    """True when a session key can expire and is renewed by logging in again (v1.0)."""

    def __init__(self) -> None:
        self.hostname = socket.gethostname()
        self.device = device_text()
        self._headers_made: Optional[
            Tuple[LoginState, Settings, Secret, Dict[str, str], Dict[str, str]]
        ] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} v{self.name}>"

    # -- values ----------------------------------------------------------------------

    def decode(self, content: bytes) -> Any:
        """A reply body as Python objects, dates as datetimes of this generation."""
        return codec.decode(content, utc=self.utc_dates)

    def encode(self, data: Any, uri: str) -> str:
        """``data`` as JSON text for the wire; InvalidData when it cannot travel."""
        try:
            return codec.encode(data, utc=self.utc_dates)
        except (TypeError, ValueError) as exc:
            raise InvalidData(f"The data for {uri} cannot be sent: {exc}", uri=uri) from None

    # -- look-up and login -------------------------------------------------------------

    @abstractmethod
    def lookup_request(self, settings: Settings) -> HttpRequest:
        """The request asking where ``settings.workspace`` is served (no credentials)."""

    @abstractmethod
    def origin_from_lookup(self, reply: Mapping[str, Any], settings: Settings) -> str:
        """The server origin (``https://host:port``) a look-up reply names."""

    @abstractmethod
    def login_request(self, settings: Settings, origin: str, session_uuid: str) -> HttpRequest:
        """The login request."""

    @abstractmethod
    def read_login(self, reply: Mapping[str, Any], uri: str) -> LoginState:
        """The state a login reply gives; AuthenticationError when it makes no sense."""

    def secret_forms(self, settings: Settings) -> List[str]:
        """Texts besides the Authorization values that reveal the key (masked in errors)."""
        return []

    @abstractmethod
    def call_headers(self, settings: Settings, login: LoginState) -> Tuple[str, Dict[str, str]]:
        """``(Authorization value, other headers)`` of every call after login."""

    # -- the envelope ----------------------------------------------------------------

    @abstractmethod
    def envelope(
        self, settings: Settings, login: LoginState, session_uuid: str, uri: str, eid: str
    ) -> Dict[str, Any]:
        """The event's fixed keys (audience, workspace, eid, session, uri, ident, created...)."""

    def event_request(
        self,
        settings: Settings,
        login: LoginState,
        origin: str,
        session_uuid: str,
        operation: Operation,
        eid: str,
    ) -> HttpRequest:
        """The HTTP request carrying ``operation`` as an event.

        Text that cannot travel as UTF-8 (a file name from :func:`os.listdir`
        holding bytes that are not UTF-8) raises :class:`InvalidData` naming
        where it is.
        """
        try:
            return self._event_request(settings, login, origin, session_uuid, operation, eid)
        except UnicodeEncodeError:
            raise _not_utf8(operation) from None

    def _event_request(
        self,
        settings: Settings,
        login: LoginState,
        origin: str,
        session_uuid: str,
        operation: Operation,
        eid: str,
    ) -> HttpRequest:
        uri = operation.uri
        event = self.envelope(settings, login, session_uuid, uri, eid)
        data_text = self._data_text(operation.data, uri)
        # A character takes at most 4 bytes: shorter text need not be measured in bytes.
        if data_text is not None and len(data_text) * 4 > names.GZIP_THRESHOLD:
            data_bytes = data_text.encode("utf-8")
            if len(data_bytes) > names.GZIP_THRESHOLD:
                packed = gzip.compress(data_bytes, compresslevel=6)
                event["gz_data"] = base64.b64encode(packed).decode("ascii")
                data_text = None
        if operation.query:
            event["query"] = operation.query
        if operation.entityid:
            event["id"] = operation.entityid
        envelope = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        if data_text is not None:
            # Splice the already encoded payload in rather than encoding it twice.
            envelope = f'{envelope[:-1]},"data":{data_text}}}'
        authorization, headers, body_headers = self._call_headers_of(settings, login)
        url = f"{origin}{self.api_path}/{names.EVENT_URI}"
        if operation.method in BODY_METHODS:
            return HttpRequest(
                operation.method,
                url,
                uri,
                eid,
                body=envelope.encode("utf-8"),
                headers=body_headers,
                authorization=authorization,
            )
        return HttpRequest(
            operation.method,
            url,
            uri,
            eid,
            query_string=url_quoted(envelope),
            headers=headers,
            authorization=authorization,
        )

    def _call_headers_of(
        self, settings: Settings, login: LoginState
    ) -> Tuple[Secret, Dict[str, str], Dict[str, str]]:
        """:meth:`call_headers` (and with a JSON body), made once per login."""
        made = self._headers_made
        if made is None or made[0] is not login or made[1] is not settings:
            authorization, headers = self.call_headers(settings, login)
            body_headers = {**headers, "Content-Type": "application/json"}
            made = (login, settings, Secret(authorization), headers, body_headers)
            self._headers_made = made
        return made[2], made[3], made[4]

    @abstractmethod
    def _data_text(self, data: Any, uri: str) -> Optional[str]:
        """The JSON text of ``data`` for the envelope, or None to leave ``data`` out."""

    # -- the verbs as operations ---------------------------------------------------------

    @abstractmethod
    def entity(self, entitytype: str) -> str:
        """The wire name of an entity type (lower case; aliases of the other generation mapped)."""

    @abstractmethod
    def find(self, parsed: Query, options: FindOptions) -> Operation:
        """A find (or find_one, with ``options.single``)."""

    @abstractmethod
    def get_entity(self, entitytype: str, entityid: str) -> Operation:
        """Read one entity by id, whatever its state."""

    @abstractmethod
    def create(self, entitytype: str, payload: Any) -> Operation:
        """Create one or more entities (not tasks)."""

    @abstractmethod
    def create_tasks(self, job_id: str, payload: Dict[str, Any]) -> Operation:
        """Add tasks to a job."""

    @abstractmethod
    def update(self, entitytype: str, entityid: str, data: Dict[str, Any]) -> Operation:
        """Change one entity."""

    @abstractmethod
    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> Operation:
        """Change several tasks of one job."""

    @abstractmethod
    def delete(self, entitytype: str, entityid: str) -> Operation:
        """Delete one entity."""
