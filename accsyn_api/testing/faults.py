"""Fault injection for the reference server: the failures of a real network, on demand.

A :class:`Fault` is a rule: *which* requests it hits (an event ``uri``, an
HTTP method, the ``nth`` matching request from now, for ``times`` requests)
and *what* goes wrong (a :class:`FaultKind`). Rules are added to a running
:class:`~accsyn_api.testing.LocalServer`::

    with LocalServer() as server:
        session = server.session()
        rule = server.inject("drop_after", uri="job/create")
        ...                      # the next job/create is executed, its reply is lost
        assert rule.fired == 1

or given on the command line: ``accsyn server --fault drop_after:uri=job/create``
(see :func:`parse_fault_spec`). The faults are played at the HTTP layer; the
:class:`~accsyn_api.testing.backend.Backend` never knows about them, and
``backend.executions(eid)`` tells whether an event was executed.

==================  ============  ==========================================================
kind                executed?     what the client sees
==================  ============  ==========================================================
``drop_before``     no            the connection closes, no reply
``drop_after``      yes           the connection closes, no reply
``delay``           yes           the reply, ``seconds`` late (past a short read timeout)
``unavailable``     no            HTTP 503, ``Retry-After: <retry_after>``, a text body
``bad_gateway``     no            HTTP 502 with an HTML page, as from a load balancer
``truncated``       yes           full ``Content-Length``, half the JSON body, then closed
``expire_session``  refused       v1.0: every session expires first, so a ``session_expired``
                                  refusal; v3 (no expiry): one HTTP 401 refusal
``rate_limited``    no            HTTP 429 with a JSON refusal (``error_code`` ``rate_limited``)
                                  and ``Retry-After: <retry_after>`` when that is given
==================  ============  ==========================================================

A rule matches the ``uri`` of an event as the client sent it (lower-cased), on
either API generation: ``uri="job/create"`` hits a v1.0 ``job/create`` and a v3
``job/create``, not a v3 ``transfer/create``. The routes outside the event
endpoint have names of their own: the v1.0 login ``uri="user/login/auth"``
(:data:`LOGIN_FAULT_URI`), the v1.0 registry look-up
``uri="registry/organization/domain"`` (:data:`REGISTRY_FAULT_URI`), the v3
login ``uri="api/login"`` (:data:`V3_LOGIN_FAULT_URI`) and the v3 host look-up
``uri="J3PKTtDvolDMBtTy6AFGA"`` (:data:`V3_LOOKUP_FAULT_URI`, matched in any
case). ``uri=None`` matches every event, but none of those routes.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Tuple, Union

from accsyn_api import codec
from accsyn_api.protocol import names

__all__ = [
    "LOGIN_FAULT_URI",
    "REGISTRY_FAULT_URI",
    "V3_LOGIN_FAULT_URI",
    "V3_LOOKUP_FAULT_URI",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "format_fault",
    "parse_fault_spec",
    "play_fault",
]

LOGIN_FAULT_URI = names.V1_LOGIN_URI
"""The ``uri`` a fault gives to match the v1.0 login route."""
REGISTRY_FAULT_URI = names.V1_REGISTRY_URI
"""The ``uri`` a fault gives to match the v1.0 registry look-up route."""
V3_LOGIN_FAULT_URI = names.V3_LOGIN_URI
"""The ``uri`` a fault gives to match the v3 login route (``PUT /api/v3/api/login``)."""
V3_LOOKUP_FAULT_URI = names.V3_LOOKUP_URI
"""The ``uri`` a fault gives to match the v3 host look-up route."""
_ROUTE_URIS = frozenset(
    uri.lower()
    for uri in (LOGIN_FAULT_URI, REGISTRY_FAULT_URI, V3_LOGIN_FAULT_URI, V3_LOOKUP_FAULT_URI)
)

BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class FaultKind(str, enum.Enum):
    """What goes wrong with a request a :class:`Fault` hits."""

    DROP_BEFORE = "drop_before"
    """Close the connection without executing the event and without a reply."""
    DROP_AFTER = "drop_after"
    """Execute the event, then close the connection without a reply."""
    DELAY = "delay"
    """Execute the event, then wait ``seconds`` before replying."""
    UNAVAILABLE = "unavailable"
    """HTTP 503 with ``Retry-After: <retry_after>`` and a text body; not executed."""
    BAD_GATEWAY = "bad_gateway"
    """HTTP 502 with an HTML page body, like a load balancer; not executed."""
    TRUNCATED = "truncated"
    """Execute, send the full ``Content-Length`` but only half the JSON body, then close."""
    EXPIRE_SESSION = "expire_session"
    """v1.0: expire every session first, so this request is refused with
    ``session_expired``. v3 has no expiry: the request is refused once with HTTP 401."""
    RATE_LIMITED = "rate_limited"
    """HTTP 429 with a JSON refusal, and ``Retry-After: <retry_after>`` when given; not
    executed."""


@dataclasses.dataclass
class Fault:
    """A fault-injection rule; its :attr:`fired` count is kept up to date by the server.

    ``uri`` is the event uri to match (``"job/create"``; ``"user/login/auth"``
    for the login route; ``None``: every event), ``method`` the HTTP method
    (``None``: any). The rule fires on the ``nth`` matching request counted
    from when it was added (1: the next one) and on the ``times - 1`` matching
    requests after it. ``seconds`` is the wait of a ``delay``, ``retry_after``
    the ``Retry-After`` header of an ``unavailable`` reply (0 when not given)
    or of a ``rate_limited`` one (no header when not given). Invalid values
    raise :class:`ValueError`.
    """

    kind: FaultKind
    uri: Optional[str] = None
    method: Optional[str] = None
    nth: int = 1
    times: int = 1
    seconds: float = 2.0
    retry_after: Optional[float] = None
    fired: int = 0
    matched: int = dataclasses.field(default=0, repr=False, compare=False)
    """How many requests matched this rule so far (fired or not)."""

    def __post_init__(self) -> None:
        self.kind = _fault_kind(self.kind)
        if self.uri is not None:
            if not isinstance(self.uri, str) or not self.uri.strip("/"):
                raise ValueError(f"fault uri must be a non-empty string, not {self.uri!r}")
            self.uri = self.uri.strip("/").lower()
        if self.method is not None:
            if not isinstance(self.method, str) or not self.method.strip():
                raise ValueError(f"fault method must be a non-empty string, not {self.method!r}")
            self.method = self.method.strip().upper()
        for name in ("nth", "times"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"fault {name} must be an integer >= 1, not {value!r}")
        for name in ("seconds", "retry_after"):
            value = getattr(self, name)
            if value is None and name == "retry_after":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"fault {name} must be a number >= 0, not {value!r}")
            setattr(self, name, float(value))

    def matches(self, uri: str, method: str) -> bool:
        """Whether a request for ``uri`` (normalised) with ``method`` is one this rule counts."""
        if self.method is not None and method.upper() != self.method:
            return False
        if self.uri is None:
            return uri not in _ROUTE_URIS
        return uri == self.uri


def format_fault(fault: Fault) -> str:
    """A one-line description, in the form :func:`parse_fault_spec` reads."""
    parts = [fault.kind.value]
    if fault.uri is not None:
        parts.append(f"uri={fault.uri}")
    if fault.method is not None:
        parts.append(f"method={fault.method}")
    parts.append(f"nth={fault.nth}")
    parts.append(f"times={fault.times}")
    if fault.kind is FaultKind.DELAY:
        parts.append(f"seconds={fault.seconds:g}")
    if fault.kind is FaultKind.UNAVAILABLE or fault.retry_after is not None:
        parts.append(f"retry_after={fault.retry_after or 0:g}")
    return ":".join(parts)


_SPEC_OPTIONS: Dict[str, Callable[[str], Any]] = {
    "uri": str,
    "method": str,
    "nth": int,
    "times": int,
    "seconds": float,
    "retry_after": float,
}


def parse_fault_spec(spec: str) -> Fault:
    """A :class:`Fault` from ``KIND[:uri=job/create][:method=POST][:nth=2][:times=1]...``.

    Options: ``uri``, ``method``, ``nth``, ``times``, ``seconds`` (delay) and
    ``retry_after`` (unavailable, rate_limited). Raises :class:`ValueError` with a message
    naming what is wrong.
    """
    kind, *options = spec.strip().split(":")
    values: Dict[str, Any] = {}
    for option in options:
        name, equals, text = option.partition("=")
        name = name.strip().lower()
        if not equals or name not in _SPEC_OPTIONS:
            known = ", ".join(_SPEC_OPTIONS)
            raise ValueError(
                f"bad fault option {option!r} in {spec!r}: write name=value, name one of {known}"
            )
        if name in values:
            raise ValueError(f"fault option {name!r} given twice in {spec!r}")
        try:
            values[name] = _SPEC_OPTIONS[name](text.strip())
        except ValueError:
            raise ValueError(f"fault option {name}={text!r} in {spec!r} is not valid") from None
    try:
        return Fault(_fault_kind(kind), **values)
    except ValueError as error:
        raise ValueError(f"{error} (in {spec!r})") from None


def _fault_kind(text: Union[FaultKind, str]) -> FaultKind:
    try:
        return FaultKind(text.strip().lower() if isinstance(text, str) else text)
    except ValueError:
        kinds = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"unknown fault kind {text!r}; use one of: {kinds}") from None


class FaultInjector:
    """The rules of one server, shared by its request threads (all methods are thread-safe)."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []
        self._fired = 0
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> Fault:
        """Add a rule; its ``nth`` counts from now. Returns the rule."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def inject(self, kind: Union[FaultKind, str], **options: Any) -> Fault:
        """Add ``Fault(kind, **options)``; returns it (its ``fired`` is live)."""
        return self.add(Fault(_fault_kind(kind), **options))

    def clear(self) -> None:
        """Remove every rule (the total :attr:`fired` count is kept)."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> List[Fault]:
        """The rules, in the order they were added."""
        with self._lock:
            return list(self._faults)

    @property
    def fired(self) -> int:
        """How many requests a fault was played on, in total."""
        with self._lock:
            return self._fired

    def take(self, uri: Optional[str], method: str) -> Optional[Fault]:
        """The fault to play on a request for ``uri`` with ``method``, or None.

        Every rule matching the request counts it; the first rule (in the order
        added) whose window ``nth .. nth + times - 1`` holds that count fires.
        """
        if uri is None:
            return None
        uri = uri.strip("/").lower()
        chosen: Optional[Fault] = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(uri, method):
                    continue
                fault.matched += 1
                in_window = fault.nth <= fault.matched < fault.nth + fault.times
                if chosen is None and in_window:
                    chosen = fault
            if chosen is not None:
                chosen.fired += 1
                self._fired += 1
        return chosen


# -- playing a fault on one request ------------------------------------------------


class FaultTarget(Protocol):
    """What :func:`play_fault` needs from the HTTP request handler."""

    def drop_connection(self) -> None:
        """Close the TCP connection at once, without a reply."""

    def send_reply(
        self, status: int, body: bytes, content_type: str, headers: Dict[str, str], *, cut: int
    ) -> None:
        """Send ``status``, headers and the first ``cut`` bytes of ``body`` (-1: all of it)."""

    def encode_reply(self, status: int, reply: Dict[str, Any]) -> Tuple[int, bytes]:
        """The JSON bytes of a reply (and the status, 500 if it cannot be encoded)."""

    def wait_unless_stopping(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server stops first; True if it stopped."""

    def expire_sessions(self) -> Optional[Tuple[int, Dict[str, Any]]]:
        """Play ``expire_session`` the way the request's API generation does: a reply to
        send instead of executing the request, or None to execute it (after expiring)."""


Execute = Callable[[], Tuple[int, Dict[str, Any]]]
"""Runs the request for real (the backend), returning the status and JSON reply."""


def play_fault(fault: Fault, execute: Execute, target: FaultTarget) -> None:
    """Answer one request the way ``fault`` says, executing it with ``execute`` or not."""
    kind = fault.kind
    if kind is FaultKind.DROP_BEFORE:
        target.drop_connection()
    elif kind is FaultKind.UNAVAILABLE:
        wait = f"{fault.retry_after or 0:g}"
        text = f"503 Service Unavailable: the server is busy; retry after {wait} seconds.\n"
        target.send_reply(
            503, text.encode("utf-8"), "text/plain; charset=utf-8", {"Retry-After": wait}, cut=-1
        )
    elif kind is FaultKind.BAD_GATEWAY:
        page = BAD_GATEWAY_PAGE.encode("utf-8")
        target.send_reply(502, page, "text/html", {}, cut=-1)
    elif kind is FaultKind.EXPIRE_SESSION:
        instead = target.expire_sessions()
        _reply(target, *(execute() if instead is None else instead))
    elif kind is FaultKind.RATE_LIMITED:
        _rate_limited(target, fault.retry_after)
    else:
        status, reply = execute()
        if kind is FaultKind.DROP_AFTER:
            target.drop_connection()
        elif kind is FaultKind.DELAY:
            if target.wait_unless_stopping(fault.seconds):
                target.drop_connection()
            else:
                _reply(target, status, reply)
        else:  # TRUNCATED
            status, body = target.encode_reply(status, reply)
            target.send_reply(status, body, "application/json", {}, cut=len(body) // 2)
            target.drop_connection()


RATE_LIMIT_REPLY = {
    "message": "rate limit exceeded",
    "message_hr": "Too many requests: the server's rate limit was reached. Wait a moment "
    "(see Retry-After when given) and send the request again.",
    "error_code": "rate_limited",
}
"""The JSON body of a ``rate_limited`` (HTTP 429) reply."""


def _rate_limited(target: FaultTarget, retry_after: Optional[float]) -> None:
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    body = codec.encode(RATE_LIMIT_REPLY).encode("utf-8")
    target.send_reply(429, body, "application/json", headers, cut=-1)


def _reply(target: FaultTarget, status: int, reply: Dict[str, Any]) -> None:
    status, body = target.encode_reply(status, reply)
    target.send_reply(status, body, "application/json", {}, cut=-1)
