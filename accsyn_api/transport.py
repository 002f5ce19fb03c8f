"""The client side of the accsyn wire protocol.

A :class:`Transport` holds one pooled :class:`requests.Session` (connections
are kept alive and reused) and knows everything about HTTP that the
:class:`~accsyn_api.session.Session` does not need to: URLs, the
authentication headers, the event envelope, gzip for large payloads, TLS,
proxies, logging in (again), retries and turning failures into
:mod:`accsyn_api.errors` exceptions.

Retries (see :doc:`/reliability`): a call that fails on the way is repeated,
with the very same event and ``eid``, up to ``retries`` times, after an
exponential back-off with full jitter, within a total time budget:

* a connection that could not be made (nothing was sent) and an HTTP 503
  or 429 (the server says it did not process the request): every method;
* a connection lost before the reply, a read timeout, an HTTP 502/504, a
  reply cut short or not JSON: reads (GET), edits (PUT) and deletes (DELETE);
  creates (POST) only when the server de-duplicates events by ``eid`` (it
  says so at login with ``"event_dedup": true``) or ``retry_creates=True``.

When a call is not repeated, or its retries run out, the error raised says
what happened, how many attempts were made and whether the work may have
been done; its ``executed`` attribute is ``False`` (certainly not done) or
``None`` (unknown). The policy itself (settings, back-off, the retry loop)
is in :mod:`accsyn_api.retry`; TLS and the connection pool are in
:mod:`accsyn_api.tls`.

Proxies given in the environment (``HTTPS_PROXY``...) and CA bundles given in
``REQUESTS_CA_BUNDLE`` are honoured as :mod:`requests` does, unless the caller
passes its own ``proxies`` (or ``verify="system"``).
"""

from __future__ import annotations

import base64
import datetime as _dt
import gzip
import itertools
import json
import logging
import platform
import socket
import sys
import threading
import time
import uuid
from typing import Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import quote

import requests
import requests.auth
from urllib3.exceptions import ProtocolError

from . import codec
from .errors import (
    AccsynError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    ServerError,
    SessionExpired,
    TransportError,
)
from .retry import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    AttemptFailed,
    RetryCreates,
    RetryPolicy,
    retry_after_seconds,
)
from .tls import Verify, http_session

__all__ = [
    "DEFAULT_REGISTRY_URL",
    "DEFAULT_TIMEOUT",
    "GZIP_THRESHOLD",
    "LOGIN_URI",
    "Timeout",
    "Transport",
    "error_from_reply",
    "proxy_settings",
    "resolve_base_url",
]

logger = logging.getLogger("accsyn_api.transport")

DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 120.0)
"""Seconds to wait for a connection, and for the reply once the request is sent."""

DEFAULT_REGISTRY_URL = "https://registry.accsyn.com/api/v1.0"
"""Where the server of a workspace is looked up."""

GZIP_THRESHOLD = 100 * 1024
"""Payloads whose JSON text is longer than this many bytes travel gzipped (``gz_data``)."""

LOGIN_URI = "user/login/auth"
"""The operation that exchanges an API key for a session key."""

Timeout = Union[float, Tuple[float, float]]

_ERROR_CLASSES: Dict[str, type[AccsynError]] = {
    "authentication_failed": AuthenticationError,
    "session_expired": SessionExpired,
    "permission_denied": PermissionDenied,
    "not_found": NotFound,
    "invalid_data": InvalidData,
    "invalid_query": InvalidQuery,
}
_BODY_METHODS = frozenset({"POST", "PUT"})
_QUERY_METHODS = frozenset({"GET", "DELETE"})
_BODY_EXCERPT = 200
_GATEWAY_STATUSES = {
    429: "too many requests",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_NOT_PROCESSED_STATUSES = frozenset({429, 503})  # by HTTP, the request was not processed
_verbose_numbers = itertools.count(1)


def _b64_json(obj: Mapping[str, Any]) -> str:
    """Standard base64 of the UTF-8 JSON text of ``obj``."""
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


class _HeaderAuth(requests.auth.AuthBase):
    """Sets the accsyn ``Authorization`` header.

    Passing it as ``auth=`` (rather than as a plain header) also stops
    :mod:`requests` from replacing the header with credentials from a
    ``~/.netrc`` file.
    """

    def __init__(self, value: str) -> None:
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return "<_HeaderAuth ***>"


def _device_header(hostname: str) -> str:
    from . import __version__  # imported late: accsyn_api/__init__ may still be loading

    system = platform.system() or "unknown"
    return f"accsyn_api/{__version__} @ {system} {hostname}"


def _excerpt(content: bytes) -> str:
    text = content[:_BODY_EXCERPT].decode("utf-8", errors="replace")
    return text.strip() or "<empty body>"


def _reason(exc: BaseException) -> str:
    """A short description of what went wrong underneath a requests exception.

    urllib3's ``MaxRetryError`` text repeats the whole URL (for GET, the
    event); its ``reason`` says the same thing without it.
    """
    inner: Any = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    text = str(inner) or type(inner).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _server_fault(reply: Mapping[str, Any], *, uri: str, eid: Optional[str]) -> ServerError:
    """The error for an ``{"exception": ...}`` reply: the server failed."""
    details = str(reply.get("exception"))
    return ServerError(f"The server failed while handling {uri}: {details}", uri=uri, eid=eid)


def error_from_reply(
    reply: Mapping[str, Any], *, uri: str, eid: Optional[str], http_status: int = 200
) -> AccsynError:
    """Return (not raise) the exception for a refusal or fault ``reply``.

    ``{"exception": ...}`` gives :class:`ServerError`. Otherwise
    ``error_code`` picks the class (``authentication_failed``,
    ``session_expired``, ``permission_denied``, ``not_found``,
    ``invalid_data``, ``invalid_query``). Without a code, as from the hosted
    service, the class is guessed: ``session_expired`` flag, a refused login,
    the words of the message ("permission", "not found", "query"...), the
    HTTP status; a refusal that matches nothing is :class:`InvalidData`.
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
        error_class = _guess_error_class(f"{message} {message_hr or ''}".lower(), uri, http_status)
    return error_class(message, message_hr=message_hr, uri=uri, eid=eid)


def _guess_error_class(text: str, uri: str, http_status: int) -> type[AccsynError]:
    if uri == LOGIN_URI or http_status == 401:
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


def _only_reads(uri: str) -> bool:
    """Whether ``uri`` is an operation that changes nothing, whatever its method."""
    return uri == LOGIN_URI or uri.startswith("registry/")


def _is_refusal(reply: Mapping[str, Any]) -> bool:
    has_message = "message" in reply or "message_hr" in reply
    return has_message and "result" not in reply and "success" not in reply


# -- one attempt ----------------------------------------------------------------------


def _decode_reply(
    response: requests.Response, *, url: str, uri: str, eid: Optional[str]
) -> Dict[str, Any]:
    """The reply as a dict.

    Raises :class:`AttemptFailed` for an HTTP failure (the retry loop decides
    whether to repeat) and the matching :mod:`accsyn_api.errors` class for a
    refusal (never repeated).
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
            ),
            reason=f"HTTP {status}",
            # 503 and 429 say the request was not processed; a gateway's 502/504 does not tell.
            executed=False if status in _NOT_PROCESSED_STATUSES else None,
            retry_after=retry_after_seconds(response),
        )
    reply: Any = None
    is_json = True
    try:
        reply = codec.decode(content)
    except ValueError:
        is_json = False
    if isinstance(reply, dict) and "exception" in reply:
        raise AttemptFailed(
            _server_fault(reply, uri=uri, eid=eid),
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
            ),
            reason=f"HTTP {status}",
            executed=None if status >= 500 else False,
            repeatable=False,
        )
    if refusal:
        raise error_from_reply(reply, uri=uri, eid=eid, http_status=status)
    if not is_json or not isinstance(reply, dict):
        what = "a body that is not JSON" if not is_json else "JSON that is not an object"
        raise AttemptFailed(
            ServerError(
                f"The server answered {uri} with HTTP {status} and {what}: {_excerpt(content)}",
                uri=uri,
                eid=eid,
            ),
            reason="reply not JSON",
            executed=None,
        )
    return reply


def _read_timeout_text(timeout: Timeout) -> str:
    seconds = timeout[1] if isinstance(timeout, tuple) else timeout
    return f"{seconds:g} s"


def _send(
    http: requests.Session,
    method: str,
    url: str,
    *,
    shown_url: str,
    uri: str,
    eid: Optional[str],
    **kwargs: Any,
) -> requests.Response:
    """Send one request; a network failure raises :class:`AttemptFailed`.

    ``shown_url`` is the address named in messages (without the query string).
    """
    try:
        return http.request(method, url, allow_redirects=False, **kwargs)
    except requests.exceptions.ConnectTimeout as exc:
        raise AttemptFailed(
            ConnectionFailed(
                f"Could not connect to {shown_url} in time ({_reason(exc)}); the request was "
                "not sent. Check the server address, your network and the proxy settings.",
                uri=uri,
                eid=eid,
            ),
            reason="connect timeout",
            executed=False,
        ) from None
    except requests.exceptions.ReadTimeout:
        raise AttemptFailed(
            RequestTimeout(
                f"{shown_url} did not answer {method} {uri} within the read timeout of "
                f"{_read_timeout_text(kwargs.get('timeout', DEFAULT_TIMEOUT))}. A larger "
                "timeout may help if the server is busy.",
                uri=uri,
                eid=eid,
            ),
            reason="read timeout",
            executed=None,
        ) from None
    except requests.exceptions.SSLError as exc:
        advice = (
            "Check the certificates: the server's, and the CA bundle given as verify=... "
            "(verify='system' checks against the operating system's trust store)."
        )
        if "WRONG_VERSION_NUMBER" in str(exc):
            advice = "The server does not speak TLS there: for a plain-HTTP server use http://."
        raise AttemptFailed(
            ConnectionFailed(
                f"Could not connect securely to {shown_url} ({_reason(exc)}). {advice}",
                uri=uri,
                eid=eid,
            ),
            reason="TLS failure",
            executed=False,
            repeatable=False,
        ) from None
    except requests.exceptions.ProxyError as exc:
        raise AttemptFailed(
            ConnectionFailed(
                f"Could not reach {shown_url} through the proxy ({_reason(exc)}). Check the "
                "proxy address and that the proxy is running.",
                uri=uri,
                eid=eid,
            ),
            reason="proxy failure",
            executed=False,
        ) from None
    except requests.exceptions.ConnectionError as exc:
        inner = exc.args[0] if exc.args else None
        if isinstance(inner, ProtocolError):
            raise AttemptFailed(
                ConnectionFailed(
                    f"The connection to {shown_url} was lost before the reply to {method} "
                    f"{uri} arrived ({_reason(exc)}).",
                    uri=uri,
                    eid=eid,
                ),
                reason="connection lost",
                executed=None,
            ) from None
        raise AttemptFailed(
            ConnectionFailed(
                f"Could not reach {shown_url} ({_reason(exc)}). Check the server address, your "
                "network, the proxy settings and the certificates.",
                uri=uri,
                eid=eid,
            ),
            reason="connection failed",
            executed=False,
        ) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise AttemptFailed(
            ServerError(
                f"The reply of {shown_url} to {method} {uri} was cut short or garbled.",
                uri=uri,
                eid=eid,
            ),
            reason="reply cut short",
            executed=None,
        ) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
        raise ConfigurationError(
            f"Cannot send to {shown_url}: {exc}. (A socks5 proxy needs PySocks: "
            "pip install 'accsyn-sdk[socks]'.)",
            uri=uri,
            eid=eid,
        ) from None
    except requests.exceptions.RequestException as exc:
        raise AttemptFailed(
            TransportError(
                f"{method} {uri} to {shown_url} failed: {_reason(exc)}", uri=uri, eid=eid
            ),
            reason=type(exc).__name__,
            executed=None,
            repeatable=False,
        ) from None


class Transport:
    """One connection pool to one accsyn server, shared by the threads of a Session.

    ``base_url`` is the API root, such as ``"https://acmevfx.accsyn.com:443/api/v1.0"``
    or ``"http://127.0.0.1:8181/api/v1.0"``. ``verify`` is True (check TLS
    certificates against certifi's bundle), ``"system"`` (against the
    operating system's trust store; needs the ``truststore`` extra), False
    (do not check: a warning is logged) or the path of a CA bundle.
    ``timeout`` is seconds, or (connect, read) seconds.

    ``retries``, ``backoff``, ``retry_budget`` and ``retry_creates`` set the
    retry policy described in the module documentation. ``verbose`` prints
    this Transport's log lines (DEBUG and up) to stderr, through a logger of
    its own (``accsyn_api.transport.<n>``), leaving every other logger alone.

    ``session_key`` lets an existing session be used without logging in; with
    no ``api_key`` it cannot be renewed when it expires.

    The Transport logs in on the first call. Only the login state is guarded
    by a lock; calls themselves run in parallel over the pooled connections.
    """

    def __init__(
        self,
        *,
        base_url: str,
        domain: str,
        username: str,
        api_key: Optional[str],
        verify: Verify = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        proxies: Optional[Dict[str, str]] = None,
        pool_size: int = 10,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        retry_creates: RetryCreates = "auto",
        verbose: bool = False,
        device: Optional[str] = None,
        session_key: Optional[str] = None,
    ) -> None:
        if not base_url:
            raise ConfigurationError("base_url is empty: give the address of the accsyn API.")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ConfigurationError(f"pool_size must be at least 1, not {pool_size!r}.")
        self._log = logger
        self._verbose_handler: Optional[logging.Handler] = None
        self._retry = RetryPolicy(
            retries=retries,
            backoff=backoff,
            budget=retry_budget,
            creates=retry_creates,
            log=self._log,
        )
        self.base_url = base_url.rstrip("/")
        self.domain = domain
        self.username = username
        self._api_key = api_key
        self._session_key = session_key
        self._timeout = timeout
        self._proxies = dict(proxies) if proxies else None
        self._hostname = socket.gethostname()
        self._session_uuid = str(uuid.uuid4())
        self._login_lock = threading.Lock()
        self.clearance: Optional[str] = None
        self.user_id: Optional[str] = None
        self.event_dedup = False
        """True when the server said at login that it ignores repeated events (same eid)."""
        self.closed = False
        """True once :meth:`close` was called; calls are refused from then on."""

        self._http, self._verify = http_session(verify, pool_size)
        if verbose:  # last of the steps that can fail, so no handler is left behind
            self._log, self._verbose_handler = _verbose_logger()
            self._retry.log = self._log
        self._http.headers["ASDevice"] = device or _device_header(self._hostname)
        self._http.headers["Accept"] = "application/json"
        if verify is False:
            self._log.warning(
                "TLS certificates are NOT checked for %s (verify=False): anyone on the "
                "network path could read or change the traffic, API key included.",
                self.base_url,
            )

    def __repr__(self) -> str:
        return (
            f"<Transport base_url={self.base_url!r} domain={self.domain!r} "
            f"username={self.username!r}>"
        )

    # -- login -----------------------------------------------------------------

    def login(self) -> Dict[str, Any]:
        """Log in with the API key and keep the session key.

        Returns the login reply without the session key (``clearance``,
        ``id``...). Raises :class:`AuthenticationError` when refused and
        :class:`ConfigurationError` when there is no API key.
        """
        self._check_open(LOGIN_URI)
        with self._login_lock:
            _, reply = self._login_locked(reuse=None)
            return reply

    def _check_open(self, uri: str) -> None:
        if self.closed:
            raise ConfigurationError(
                f"Cannot send {uri}: this session was closed. Create a new Session.", uri=uri
            )

    def _login_locked(self, *, reuse: Optional[str]) -> Tuple[str, Dict[str, Any]]:
        """Log in (the caller holds the lock); return the session key and the public reply."""
        if not self._api_key:
            raise ConfigurationError(
                "No API key: cannot log in. Give api_key=... or set ACCSYN_API_KEY.",
                uri=LOGIN_URI,
            )
        url = f"{self.base_url}/{LOGIN_URI}"
        credentials = {"domain": self.domain, "username": self.username, "api_key": self._api_key}
        body: Dict[str, Any] = {"session": self._session_uuid}
        if reuse:
            body["session_key_reuse"] = reuse
        data = json.dumps(body).encode("utf-8")

        def attempt() -> Dict[str, Any]:
            started = time.perf_counter()
            response = _send(
                self._http,
                "PUT",
                url,
                shown_url=url,
                uri=LOGIN_URI,
                eid=None,
                data=data,
                headers={"Content-Type": "application/json"},
                auth=_HeaderAuth(f"ASCredentials {_b64_json(credentials)}"),
                timeout=self._timeout,
                verify=self._verify,
                proxies=self._proxies,
            )
            self._log_call("PUT", LOGIN_URI, None, started, response)
            return _decode_reply(response, url=url, uri=LOGIN_URI, eid=None)

        try:
            reply = self._retry.run(
                attempt,
                method="PUT",
                uri=LOGIN_URI,
                eid=None,
                deadline=time.monotonic() + self._retry.budget,
                server_dedups=False,
                only_reads=True,
            )
        except AccsynError as exc:
            raise self._scrubbed(exc) from None
        session_key = reply.get("session_key")
        if not isinstance(session_key, str) or not session_key:
            raise AuthenticationError(
                f"The login reply of {url} holds no session key.", uri=LOGIN_URI
            )
        self._session_key = session_key
        clearance = reply.get("clearance")
        user_id = reply.get("id")
        self.clearance = str(clearance) if clearance is not None else None
        self.user_id = str(user_id) if user_id is not None else None
        self.event_dedup = reply.get("event_dedup") is True
        return session_key, {key: value for key, value in reply.items() if key != "session_key"}

    def _current_session_key(self) -> str:
        with self._login_lock:
            if self._session_key is not None:
                return self._session_key
            session_key, _ = self._login_locked(reuse=None)
            return session_key

    def _renew_session_key(self, expired: str) -> str:
        """Log in again after ``expired`` was refused, unless another thread already did."""
        with self._login_lock:
            if self._session_key is not None and self._session_key != expired:
                return self._session_key
            session_key, _ = self._login_locked(reuse=expired)
            return session_key

    # -- calls -----------------------------------------------------------------

    def call(
        self,
        method: str,
        uri: str,
        *,
        data: Any = None,
        query: Optional[str] = None,
        entityid: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Send one event and return the server's reply (a dict with ``result``...).

        ``method`` is GET (read), POST (create), PUT (modify) or DELETE.
        ``data`` may hold datetimes. Logs in first when needed, and once more
        if the session expired. Failures on the way are repeated as the retry
        policy says; every repeat sends the same event with the same ``eid``.
        Refusals raise the matching :mod:`accsyn_api.errors` class.
        """
        self._check_open(uri)
        method = method.upper()
        if method not in _BODY_METHODS and method not in _QUERY_METHODS:
            raise ConfigurationError(
                f"Unsupported method {method!r}: use GET, POST, PUT or DELETE.", uri=uri
            )
        eid = str(uuid.uuid4())
        event_text = self._event_text(uri, eid, data=data, query=query, entityid=entityid)
        session_key = self._current_session_key()
        deadline = time.monotonic() + self._retry.budget
        try:
            return self._send_event(method, uri, eid, event_text, session_key, deadline)
        except SessionExpired:
            if not self._api_key:
                raise
            self._log.debug("Session expired during %s (eid=%s): logging in again", uri, eid)
            session_key = self._renew_session_key(session_key)
            return self._send_event(method, uri, eid, event_text, session_key, deadline)

    def _event_text(
        self,
        uri: str,
        eid: str,
        *,
        data: Any,
        query: Optional[str],
        entityid: Optional[str],
    ) -> str:
        event: Dict[str, Any] = {
            "audience": "api",
            "domain": self.domain,
            "eid": eid,
            "session": self._session_uuid,
            "uri": uri,
            "ident": self.username,
            "created": _dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
            "hostname": self._hostname,
        }
        data_text = ""
        if data is not None and not (isinstance(data, (dict, list, tuple)) and len(data) == 0):
            try:
                data_text = codec.encode(data)
            except (TypeError, ValueError) as exc:
                raise InvalidData(f"The data for {uri} cannot be sent: {exc}", uri=uri) from None
            data_bytes = data_text.encode("utf-8")
            if len(data_bytes) > GZIP_THRESHOLD:
                packed = gzip.compress(data_bytes, compresslevel=6)
                event["gz_data"] = base64.b64encode(packed).decode("ascii")
                data_text = ""
        if query is not None:
            event["query"] = query
        if entityid is not None:
            event["id"] = entityid
        envelope = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        if not data_text:
            return envelope
        # Splice the already encoded payload in rather than encoding it twice.
        return f'{envelope[:-1]},"data":{data_text}}}'

    def _send_event(
        self,
        method: str,
        uri: str,
        eid: str,
        event_text: str,
        session_key: str,
        deadline: float,
    ) -> Dict[str, Any]:
        url = f"{self.base_url}/event"
        session_header = {
            "domain": self.domain,
            "username": self.username,
            "session_key": session_key,
        }
        kwargs: Dict[str, Any] = {
            "auth": _HeaderAuth(f"ASSession {_b64_json(session_header)}"),
            "timeout": self._timeout,
            "verify": self._verify,
            "proxies": self._proxies,
        }
        if method in _BODY_METHODS:
            target = url
            kwargs["data"] = event_text.encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json"}
        else:
            target = f"{url}?{quote(event_text, safe='')}"

        def attempt() -> Dict[str, Any]:
            started = time.perf_counter()
            response = _send(self._http, method, target, shown_url=url, uri=uri, eid=eid, **kwargs)
            self._log_call(method, uri, eid, started, response)
            return _decode_reply(response, url=url, uri=uri, eid=eid)

        try:
            return self._retry.run(
                attempt,
                method=method,
                uri=uri,
                eid=eid,
                deadline=deadline,
                server_dedups=self.event_dedup,
                only_reads=_only_reads(uri),
            )
        except AccsynError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: AccsynError) -> AccsynError:
        """``exc`` with any secret that a server echoed masked out."""
        # Keys too short to be real (as in examples) would mask ordinary words.
        secrets = [s for s in (self._api_key, self._session_key) if s and len(s) >= 8]
        for attribute in ("message", "message_hr"):
            text = getattr(exc, attribute)
            if text:
                for secret in secrets:
                    text = text.replace(secret, "***")
                setattr(exc, attribute, text)
        exc.args = (exc.message,)
        return exc

    def _log_call(
        self,
        method: str,
        uri: str,
        eid: Optional[str],
        started: float,
        response: requests.Response,
    ) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self._log.debug(
                "%s %s eid=%s HTTP %d %.1f ms %d bytes",
                method,
                uri,
                eid or "-",
                response.status_code,
                elapsed_ms,
                len(response.content),
            )

    def close(self) -> None:
        """Close the pooled connections (and stop printing, with ``verbose``).

        Calls made afterwards raise :class:`~accsyn_api.errors.ConfigurationError`.
        """
        self.closed = True
        self._http.close()
        if self._verbose_handler is not None:
            self._log.removeHandler(self._verbose_handler)
            self._verbose_handler = None


def _verbose_logger() -> Tuple[logging.Logger, logging.Handler]:
    """A logger of its own for one verbose Transport, printing DEBUG and up to stderr.

    It is a child of ``accsyn_api.transport`` (so an application's handlers
    still see its records); the root logger and other loggers are untouched.
    """
    log = logging.getLogger(f"{logger.name}.{next(_verbose_numbers)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    return log, handler


def resolve_base_url(
    domain: str,
    *,
    registry_url: str = DEFAULT_REGISTRY_URL,
    verify: Verify = True,
    timeout: Timeout = DEFAULT_TIMEOUT,
    proxies: Optional[Dict[str, str]] = None,
) -> str:
    """Ask the accsyn registry where ``domain`` is served; return its API root URL.

    Returns ``"https://<name>.accsyn.com:443/api/v1.0"``. Failures on the way
    are repeated as for any read. Raises
    :class:`ConnectionFailed`/:class:`RequestTimeout` when the registry
    cannot be reached, :class:`NotFound` when it does not know the domain and
    :class:`ServerError` when its answer makes no sense.
    """
    uri = "registry/organization/domain"
    url = f"{registry_url.rstrip('/')}/{uri}"
    data = json.dumps({"organization": domain}).encode("utf-8")
    policy = RetryPolicy(
        retries=DEFAULT_RETRIES,
        backoff=DEFAULT_BACKOFF,
        budget=DEFAULT_RETRY_BUDGET,
        creates=False,
        log=logger,
    )
    http, request_verify = http_session(verify, 1)
    with http:

        def attempt() -> Dict[str, Any]:
            response = _send(
                http,
                "PUT",
                url,
                shown_url=url,
                uri=uri,
                eid=None,
                data=data,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=timeout,
                verify=request_verify,
                proxies=dict(proxies) if proxies else None,
            )
            return _decode_reply(response, url=url, uri=uri, eid=None)

        reply = policy.run(
            attempt,
            method="PUT",
            uri=uri,
            eid=None,
            deadline=time.monotonic() + policy.budget,
            server_dedups=False,
            only_reads=True,
        )
    name = reply.get("domain")
    if not name:
        raise NotFound(
            f"The accsyn registry does not know the domain {domain!r}.",
            message_hr=f"The accsyn registry does not know the workspace {domain!r}: "
            "check the domain name (ACCSYN_DOMAIN).",
            uri=uri,
        )
    name = str(name)
    if not all(ch.isalnum() or ch in "-." for ch in name):
        raise ServerError(
            f"The accsyn registry answered an invalid host name {name[:100]!r} for {domain!r}.",
            uri=uri,
        )
    return f"https://{name}.accsyn.com:443/api/v1.0"


_PROXY_FORMS = (
    "'accsyn:<host>:<port>' (an accsyn daemon relaying plain HTTP) or "
    "'socks5:<host>:<port>' / 'socks5://<host>:<port>'"
)


def _host_port(text: str, original: str) -> Tuple[str, int]:
    host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(
            f"Proxy {original!r} is not understood: it needs a host and a port. "
            f"Accepted forms: {_PROXY_FORMS}."
        )
    return host, int(port_text)


def proxy_settings(proxy: str) -> Tuple[Optional[str], Optional[Dict[str, str]]]:
    """Interpret a proxy string (as in ``ACCSYN_PROXY``).

    Returns ``(base_url, proxies)``:

    * ``"accsyn:<host>:<port>"``: ``("http://<host>:<port>/api/v1.0", None)``;
      the relay replaces the server address and is spoken to in plain HTTP.
    * ``"socks5:<host>:<port>"`` or ``"socks5://<host>:<port>"``:
      ``(None, {"http": "socks5h://<host>:<port>", "https": ...})``; names
      are resolved through the proxy. Needs PySocks (``requests[socks]``).

    Anything else raises :class:`ConfigurationError`.
    """
    text = proxy.strip()
    lowered = text.lower()
    if lowered.startswith("accsyn:"):
        host, port = _host_port(text[len("accsyn:") :], text)
        return f"http://{host}:{port}/api/v1.0", None
    for prefix in ("socks5h://", "socks5://", "socks5:"):
        if lowered.startswith(prefix):
            host, port = _host_port(text[len(prefix) :], text)
            address = f"socks5h://{host}:{port}"
            return None, {"http": address, "https": address}
    shown = "<hidden: holds '@'>" if "@" in text else repr(text)
    raise ConfigurationError(f"Proxy {shown} is not understood. Accepted forms: {_PROXY_FORMS}.")
