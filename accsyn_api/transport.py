"""The HTTP transport of a Session: connections, retries, timeouts, TLS and logging.

A :class:`Transport` holds one pooled :class:`requests.Session` (connections
are kept alive and reused by all threads of a Session) and sends
:class:`HttpRequest` objects built by a protocol generation
(:mod:`accsyn_api.protocol`). It knows no generation: no paths, no headers
of its own, no envelope. For each request it waits its turn under the rate
limit, sends, reads the reply (:mod:`accsyn_api.replies`), turns failures
underneath into accsyn errors (:mod:`accsyn_api.http_errors`) and repeats
what may be repeated (:mod:`accsyn_api.retry`):

* a connection that could not be made (nothing was sent) and an HTTP 503
  or 429 (the server says it did not process the request): every method;
* a connection lost before the reply, a read timeout, an HTTP 502/504, a
  reply cut short or not JSON: reads (GET), edits (PUT) and deletes (DELETE);
  creates (POST) only when the server de-duplicates events by ``eid`` or
  ``retry_creates=True``.

Every repeat sends the very same request (the same event and ``eid``).
Secrets registered with :meth:`Transport.add_secret` are masked out of
every error raised, whatever a server echoed back.

Proxies given in the environment (``HTTPS_PROXY``...) and CA bundles given in
``REQUESTS_CA_BUNDLE`` are honoured as :mod:`requests` does, unless the caller
passes its own proxy (or ``verify="system"``).
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import requests
import requests.auth

from .errors import AccsynError, ConfigurationError
from .http_errors import attempt_failure
from .ratelimit import make_limiter
from .replies import read_reply
from .retry import RetryPolicy
from .settings import Settings
from .tls import http_session

__all__ = ["HttpRequest", "Transport"]

logger = logging.getLogger("accsyn_api.transport")

_verbose_numbers = itertools.count(1)
_MIN_SECRET_LENGTH = 8  # shorter "keys" (as in examples) would mask ordinary words


@dataclass(frozen=True)
class HttpRequest:
    """One request, as a protocol generation lays it out.

    ``url`` is the address without a query string (named in messages);
    ``query_string`` is sent after ``?`` (GET and DELETE events).
    ``authorization`` is the ``Authorization`` header value. ``uri`` names
    the operation in logs and errors; ``only_reads`` says it changes nothing
    even if it is not a GET; ``login`` says it is a login (its unexplained
    refusals mean bad credentials).
    """

    method: str
    url: str
    uri: str
    eid: Optional[str] = None
    body: Optional[bytes] = None
    query_string: Optional[str] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authorization: Optional[str] = field(default=None, repr=False)
    only_reads: bool = False
    login: bool = False


class _HeaderAuth(requests.auth.AuthBase):
    """Sets the ``Authorization`` header.

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


class Transport:
    """One connection pool to accsyn servers, shared by the threads of a Session.

    Built from the Session's :class:`~accsyn_api.settings.Settings`: TLS
    (``verify``), ``timeout``, ``proxies``, ``pool_size``, the retry policy,
    the rate limit and ``verbose`` (this Transport's log lines, DEBUG and up,
    printed to stderr through a logger of its own, ``accsyn_api.transport.<n>``,
    leaving every other logger alone).
    """

    def __init__(self, settings: Settings) -> None:
        self._log = logger
        self._verbose_handler: Optional[logging.Handler] = None
        host = urlsplit(settings.origin).hostname if settings.origin else None
        self._retry = RetryPolicy(
            retries=settings.retries,
            backoff=settings.backoff,
            budget=settings.retry_budget,
            creates=settings.retry_creates,
            log=self._log,
            limiter=make_limiter(settings.rate_limit, host),
        )
        self._timeout = settings.timeout
        self._proxies = dict(settings.proxies) if settings.proxies else None
        self._secrets: List[str] = []
        self._secrets_lock = threading.Lock()
        self.add_secret(settings.api_key.reveal())
        self.closed = False
        """True once :meth:`close` was called; requests are refused from then on."""

        self._http, self._verify = http_session(settings.verify, settings.pool_size)
        if settings.verbose:  # last of the steps that can fail, so no handler is left behind
            self._log, self._verbose_handler = _verbose_logger()
            self._retry.log = self._log
        self._http.headers["Accept"] = "application/json"
        if settings.verify is False:
            self._log.warning(
                "TLS certificates are NOT checked (verify=False): anyone on the network path "
                "could read or change the traffic, API key included."
            )

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Transport {state}>"

    @property
    def retry_budget(self) -> float:
        """Seconds within which a failed request may still be repeated."""
        return self._retry.budget

    def add_secret(self, *secrets: Optional[str]) -> None:
        """Mask each secret (a key, or a header that holds one) in every error from now on."""
        with self._secrets_lock:
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET_LENGTH and secret not in self._secrets:
                    self._secrets.append(secret)

    def send(
        self,
        request: HttpRequest,
        *,
        decode: Callable[[bytes], Any],
        deadline: Optional[float] = None,
        server_dedups: bool = False,
    ) -> Dict[str, Any]:
        """Send ``request`` (repeating it as the policy allows); return the reply object.

        ``decode`` reads the body (dates included). ``deadline`` (a
        :func:`time.monotonic` value) bounds the repeats; by default the
        retry budget from now. ``server_dedups`` says the server ignores
        repeated events, which makes a create safe to repeat. Refusals raise
        the matching :mod:`accsyn_api.errors` class.
        """
        if self.closed:
            raise ConfigurationError(
                f"Cannot send {request.uri}: this session was closed. Create a new Session.",
                uri=request.uri,
            )
        if deadline is None:
            deadline = time.monotonic() + self._retry.budget
        target = request.url
        if request.query_string:
            target = f"{target}?{request.query_string}"
        kwargs: Dict[str, Any] = {
            "data": request.body,
            "headers": dict(request.headers),
            "auth": _HeaderAuth(request.authorization) if request.authorization else None,
            "timeout": self._timeout,
            "verify": self._verify,
            "proxies": self._proxies,
            "allow_redirects": False,
        }

        def attempt() -> Dict[str, Any]:
            started = time.perf_counter()
            try:
                response = self._http.request(request.method, target, **kwargs)
            except requests.exceptions.RequestException as exc:
                raise attempt_failure(
                    exc,
                    method=request.method,
                    url=request.url,
                    uri=request.uri,
                    eid=request.eid,
                    timeout=self._timeout,
                ) from None
            self._log_call(request, started, response)
            return read_reply(
                response,
                url=request.url,
                uri=request.uri,
                eid=request.eid,
                decode=decode,
                login=request.login,
            )

        try:
            return self._retry.run(
                attempt,
                method=request.method,
                uri=request.uri,
                eid=request.eid,
                deadline=deadline,
                server_dedups=server_dedups,
                only_reads=request.only_reads,
            )
        except AccsynError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: AccsynError) -> AccsynError:
        """``exc`` with any secret that a server echoed masked out."""
        with self._secrets_lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for attribute in ("message", "_message_hr"):
            text = getattr(exc, attribute)
            if text:
                for secret in secrets:
                    text = text.replace(secret, "***")
                setattr(exc, attribute, text)
        exc.args = (exc.message,)
        return exc

    def _log_call(self, request: HttpRequest, started: float, response: requests.Response) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self._log.debug(
                "%s %s eid=%s HTTP %d %.1f ms %d bytes",
                request.method,
                request.uri,
                request.eid or "-",
                response.status_code,
                elapsed_ms,
                len(response.content),
            )

    def close(self) -> None:
        """Close the pooled connections (and stop printing, with ``verbose``).

        Requests sent afterwards raise :class:`~accsyn_api.errors.ConfigurationError`.
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
