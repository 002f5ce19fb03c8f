"""The HTTP transport of a Session: connections, retries, timeouts, TLS and logging.

A :class:`Transport` holds the Session's keep-alive connections
(:mod:`accsyn_api.http_pool`, reused by all its threads) and sends
:class:`HttpRequest` objects built by a protocol generation
(:mod:`accsyn_api.protocol`). It knows no generation: no paths, no headers
of its own but ``Accept``, ``Accept-Encoding`` and ``User-Agent``, no
envelope. For each request it waits its turn under the rate limit, sends,
reads the reply (:mod:`accsyn_api.replies`), turns failures underneath into
accsyn errors (:mod:`accsyn_api.http_errors`) and repeats what may be
repeated (:mod:`accsyn_api.retry`):

* a connection that could not be made (nothing was sent) and an HTTP 503
  or 429 (the server says it did not process the request): every method;
* a connection lost before the reply, a reply late, an HTTP 502/504, a
  reply cut short or not JSON: reads (GET), edits (PUT) and deletes (DELETE);
  creates (POST) only when the server de-duplicates events by ``eid`` or
  ``retry_creates=True``.

Each attempt is bounded: ``timeout=(connect, reply)`` gives the seconds to
connect and the seconds for the whole reply once connected (not per read),
and ``max_reply_bytes`` the size of a reply, as sent and once inflated; a
larger reply is refused with a :class:`~accsyn_api.errors.ServerError` and
not repeated.

Every repeat sends the very same request (the same event and ``eid``).
Secrets registered with :meth:`Transport.add_secret` are masked out of
every error raised, in every form the library sends them
(:class:`~accsyn_api.secret.SecretMask`), whatever a server echoed back.

Proxies given in the environment (``HTTPS_PROXY``, ``NO_PROXY``...) and CA
bundles given in ``REQUESTS_CA_BUNDLE`` are honoured as :mod:`requests` does,
read once, unless the caller passes its own proxy (or ``verify="system"``).
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from .errors import AccsynError, ConfigurationError
from .http_errors import WireFailure, attempt_failure
from .http_pool import ConnectionPools, Reply
from .proxies import check_socks_support
from .ratelimit import make_limiter
from .replies import read_reply
from .retry import RetryPolicy
from .secret import Secret, SecretMask
from .settings import Settings

__all__ = ["HttpRequest", "Transport"]

logger = logging.getLogger("accsyn_api.transport")

_verbose_numbers = itertools.count(1)


@dataclass(frozen=True)
class HttpRequest:
    """One request, as a protocol generation lays it out.

    ``url`` is the address without a query string (named in messages);
    ``query_string`` is sent after ``?`` (GET and DELETE events).
    ``authorization`` is the ``Authorization`` header value, kept as a
    :class:`~accsyn_api.secret.Secret` (text given is wrapped). ``uri`` names
    the operation in logs and errors; ``only_reads`` says it changes nothing
    even if it is not a GET; ``login`` says it is a login (its unexplained
    refusals mean bad credentials).
    """

    method: str
    url: str
    uri: str
    eid: Optional[str] = None
    body: Optional[bytes] = field(default=None, repr=False)
    query_string: Optional[str] = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    authorization: Union[str, Secret, None] = field(default=None, repr=False)
    only_reads: bool = False
    login: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.authorization, str):
            object.__setattr__(self, "authorization", Secret(self.authorization))

    @property
    def secret_authorization(self) -> Optional[Secret]:
        """The ``Authorization`` value, masked."""
        value = self.authorization
        return Secret(value) if isinstance(value, str) else value


def _user_agent() -> str:
    from . import __version__  # imported late: accsyn_api/__init__ may still be loading

    return f"accsyn_api/{__version__}"


def _timeout_pair(timeout: Union[float, Tuple[float, float]]) -> Tuple[float, float]:
    if isinstance(timeout, tuple):
        return float(timeout[0]), float(timeout[1])
    return float(timeout), float(timeout)


class Transport:
    """The connections of a Session to accsyn servers, shared by its threads.

    Built from the Session's :class:`~accsyn_api.settings.Settings`: TLS
    (``verify``), ``timeout``, ``max_reply_bytes``, ``proxies``,
    ``pool_size``, the retry policy, the rate limit and ``verbose`` (this
    Transport's log lines, DEBUG and up, printed to stderr through a logger of
    its own, ``accsyn_api.transport.<n>``, leaving every other logger alone).
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
        self._mask = SecretMask()
        self._mask.add(settings.api_key)
        self.closed = False
        """True once :meth:`close` was called; requests are refused from then on."""

        check_socks_support(settings.proxies)
        self._pools = ConnectionPools(
            verify=settings.verify,
            proxies=settings.proxies,
            pool_size=settings.pool_size,
            timeout=_timeout_pair(settings.timeout),
            max_reply_bytes=settings.max_reply_bytes,
        )
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": _user_agent(),
        }
        if settings.verbose:  # last of the steps that can fail, so no handler is left behind
            self._log, self._verbose_handler = _verbose_logger()
            self._retry.log = self._log
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

    def add_secret(self, *secrets: Union[str, Secret, None]) -> None:
        """Mask each secret (a key, or a header that holds one) in every error from now on."""
        self._mask.add(*secrets)

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
        try:
            return self._retry.run(
                lambda: self._attempt(request, decode),
                method=request.method,
                uri=request.uri,
                eid=request.eid,
                deadline=deadline,
                server_dedups=server_dedups,
                only_reads=request.only_reads,
            )
        except AccsynError as exc:
            raise self._scrubbed(exc) from None

    def _attempt(self, request: HttpRequest, decode: Callable[[bytes], Any]) -> Dict[str, Any]:
        started = time.perf_counter()
        url = request.url
        if request.query_string:
            url = f"{url}?{request.query_string}"
        headers = self._headers
        if request.headers:
            headers = {**headers, **request.headers}
        try:
            reply = self._pools.exchange(
                request.method,
                url,
                body=request.body,
                headers=headers,
                authorization=request.secret_authorization,
            )
        except WireFailure as exc:
            raise attempt_failure(
                exc,
                method=request.method,
                url=request.url,
                uri=request.uri,
                eid=request.eid,
                timeout=self._timeout,
            ) from None
        self._log_call(request, started, reply)
        return read_reply(
            reply,
            url=request.url,
            uri=request.uri,
            eid=request.eid,
            decode=decode,
            login=request.login,
        )

    def _scrubbed(self, exc: AccsynError) -> AccsynError:
        """``exc`` with any secret that a server echoed masked out."""
        self._mask.add(*self._pools.proxy_secrets)
        for attribute in ("message", "_message_hr"):
            text = getattr(exc, attribute)
            if text:
                setattr(exc, attribute, self._mask.scrub(text))
        exc.args = (exc.message,)
        return exc

    def _log_call(self, request: HttpRequest, started: float, reply: Reply) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self._log.debug(
                "%s %s eid=%s HTTP %d %.1f ms %d bytes",
                request.method,
                request.uri,
                request.eid or "-",
                reply.status,
                elapsed_ms,
                len(reply.body),
            )

    def close(self) -> None:
        """Close the pooled connections (and stop printing, with ``verbose``).

        Requests sent afterwards raise :class:`~accsyn_api.errors.ConfigurationError`.
        """
        self.closed = True
        self._pools.close()
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
