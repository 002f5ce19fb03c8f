"""The retry policy of a :class:`~accsyn_api.transport.Transport`.

The settings (``retries``, ``backoff``, ``retry_budget``, ``retry_creates``)
and their check, the exponential back-off with full jitter, and
:class:`RetryPolicy`, the loop that repeats a failed attempt
of a call or gives up with an error saying what happened and whether the
work may have been done. Given a :class:`~accsyn_api.ratelimit.RateLimiter`,
the loop takes a token before every attempt and, when the server asks to
slow down (HTTP 429, or any ``Retry-After``), pauses the limiter for the
wait, so that every thread sharing it backs off.

The transport sorts each failure into an :class:`AttemptFailed` (saying
whether the server certainly did not carry the call out, and whether
repeating can help); this module decides, from that and the settings,
whether and when to repeat. It knows nothing of URLs, sessions or the
event envelope.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .errors import (
    AccsynError,
    ConfigurationError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from .ratelimit import RateLimiter

__all__ = [
    "BACKOFF_CAP",
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BUDGET",
    "AttemptFailed",
    "RetryCreates",
    "RetryPolicy",
    "backoff_delay",
    "backoff_delays",
    "check_retry_settings",
]

DEFAULT_RETRIES = 3
"""How many times a failed call is repeated (so at most 4 attempts)."""

DEFAULT_BACKOFF = 0.25
"""Seconds: the first back-off is up to this long, doubling with every repeat."""

DEFAULT_RETRY_BUDGET = 30.0
"""Seconds: no repeat starts later than this after the call began."""

BACKOFF_CAP = 8.0
"""Seconds: no single back-off is longer (a ``Retry-After`` may ask for more)."""

RetryCreates = Union[bool, str]

_random = random.Random()


def check_retry_settings(
    retries: int, backoff: float, retry_budget: float, retry_creates: RetryCreates
) -> None:
    """Raise :class:`ConfigurationError` unless the retry settings make sense.

    ``retries`` is an integer of 0 or more, ``backoff`` and ``retry_budget``
    are seconds (0 or more), ``retry_creates`` is ``"auto"``, ``True`` or
    ``False``.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(
            f"retries must be a whole number of 0 or more (how many times a failed call is "
            f"repeated), not {retries!r}."
        )
    for name, value in (("backoff", backoff), ("retry_budget", retry_budget)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigurationError(
                f"{name} must be a number of seconds, 0 or more, not {value!r}."
            )
    if not (retry_creates is True or retry_creates is False or retry_creates == "auto"):
        raise ConfigurationError(
            f"retry_creates must be 'auto' (repeat a create whose outcome is unknown only when "
            f"the server de-duplicates events), True or False, not {retry_creates!r}."
        )


def backoff_delay(
    repeat: int,
    backoff: float,
    *,
    cap: float = BACKOFF_CAP,
    rng: Optional[random.Random] = None,
) -> float:
    """Seconds to wait before the ``repeat``-th repeat of a call (1 = the first retry).

    Exponential back-off with full jitter: a random value between 0 and
    ``min(cap, backoff * 2 ** (repeat - 1))``, so that many clients failing
    together do not come back together.
    """
    ceiling = min(cap, backoff * 2.0 ** min(max(repeat, 1) - 1, 60))
    return (rng or _random).uniform(0.0, ceiling)


def backoff_delays(
    retries: int,
    backoff: float,
    *,
    cap: float = BACKOFF_CAP,
    rng: Optional[random.Random] = None,
) -> List[float]:
    """The pauses before each of ``retries`` repeats, as :func:`backoff_delay` draws them."""
    return [backoff_delay(repeat, backoff, cap=cap, rng=rng) for repeat in range(1, retries + 1)]


class AttemptFailed(Exception):
    """One attempt of a call failed in a way the retry loop decides about.

    ``error`` is what is raised if the call is not repeated; ``executed`` is
    False when the server certainly did not carry the call out and None when
    it may have; ``repeatable`` is False for failures that repeating cannot
    cure (TLS, a server fault); ``reason`` is a few words for the log.
    ``retry_after`` is the pause the server asked for (seconds, from
    ``Retry-After``); ``rate_limited`` is True when the server said the
    client calls too often (HTTP 429).
    """

    def __init__(
        self,
        error: Union[ServerError, TransportError],
        *,
        reason: str,
        executed: Optional[bool],
        repeatable: bool = True,
        retry_after: Optional[float] = None,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.reason = reason
        self.executed = executed
        self.repeatable = repeatable
        self.retry_after = retry_after
        self.rate_limited = rate_limited

    @property
    def asks_to_slow_down(self) -> bool:
        """Whether the server asked this client to pause (HTTP 429 or ``Retry-After``)."""
        return self.rate_limited or self.retry_after is not None


def _consequence(method: str, uri: str, executed: Optional[bool], *, only_reads: bool) -> str:
    """What a caller should know about the work after a failed call.

    ``only_reads`` is True for a call that changes nothing even though it is
    not a GET (such as logging in).
    """
    if method == "GET" or only_reads:
        return "Nothing was changed (this call only reads), so it is safe to repeat."
    if executed is False:
        return "The server did not carry it out: nothing was changed, so it is safe to repeat."
    parts = uri.strip("/").split("/")
    entity = parts[-2] if len(parts) >= 2 else "entity"
    if method == "POST" and entity == "task":
        return (
            "The tasks may or may not have been added to the job; look for them with find "
            "before adding them again."
        )
    if method == "POST":
        return (
            f"The {entity} may or may not have been created; look for it with find "
            f"(e.g. by its code) before creating it again."
        )
    if method == "DELETE":
        return (
            f"The {entity} may or may not have been deleted; look for it with find before "
            "deleting it again."
        )
    return (
        f"The change may or may not have been made; find the {entity} to check (making the "
        "same change again is harmless)."
    )


def _note_earlier_attempt(refusal: AccsynError, attempt: int) -> None:
    """Add to a refusal met on a repeat that an earlier attempt may have done the work."""
    refusal.message = (
        f"{refusal.message} (This refusal answered attempt {attempt}; an earlier attempt of "
        "the same call may have been carried out, which can explain it.)"
    )
    refusal.args = (refusal.message,)


_SLOW_DOWN_HINT = (
    " The server limits how often a client may call it: make fewer calls at once (share one "
    "Session between threads rather than one per thread), or lower the Session's rate_limit."
)


class RetryPolicy:
    """The retry settings of a Transport, and the loop that applies them.

    ``limiter``, when given, is the rate limiter shared by the Session's
    threads: every attempt takes a token from it first.
    """

    def __init__(
        self,
        *,
        retries: int,
        backoff: float,
        budget: float,
        creates: RetryCreates,
        log: logging.Logger,
        limiter: Optional[RateLimiter] = None,
    ) -> None:
        check_retry_settings(retries, backoff, budget, creates)
        self.retries = retries
        self.backoff = float(backoff)
        self.budget = float(budget)
        self.creates = creates
        self.log = log
        self.limiter = limiter

    # -- the clock (replaced by tests) ------------------------------------------------

    def _now(self) -> float:
        """Seconds on the clock of ``deadline`` (:func:`time.monotonic`)."""
        return time.monotonic()

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` before a repeat."""
        time.sleep(seconds)

    def run(
        self,
        attempt: Callable[[], Dict[str, Any]],
        *,
        method: str,
        uri: str,
        eid: Optional[str],
        deadline: float,
        server_dedups: bool,
        only_reads: bool,
    ) -> Dict[str, Any]:
        """Call ``attempt`` until it returns, or until the policy says to stop.

        Every attempt sends the very same event (the same ``eid``), so a
        server that de-duplicates executes it at most once. ``only_reads``
        says that the call changes nothing even if it is not a GET (as a
        login); the final error then says it is safe to repeat.
        """
        started = self._now()
        attempts = 0
        executed: Optional[bool] = False  # what is known of all attempts so far
        if self.limiter is not None:
            self.limiter.acquire()  # the first attempt waits its turn, however long
        while True:
            attempts += 1
            try:
                return attempt()
            except AttemptFailed as caught:
                failure = caught
            except AccsynError as refusal:
                if attempts > 1 and executed is None:
                    _note_earlier_attempt(refusal, attempts)
                raise
            # Decided outside the except block, so that the error raised does not
            # carry the attempt's exception (and its request) as its context.
            if failure.executed is not False:
                executed = None
            stop, delay = self._next_step(
                failure,
                method=method,
                attempts=attempts,
                deadline=deadline,
                server_dedups=server_dedups,
            )
            if stop is None:
                self._pause(failure, method, uri, eid, attempts, delay)
                stop = self._wait_for_token(deadline)
            if stop is not None:
                elapsed = self._now() - started
                raise self._final_error(
                    failure, method, uri, eid, attempts, elapsed, stop, executed, only_reads
                )

    def _pause(
        self,
        failure: AttemptFailed,
        method: str,
        uri: str,
        eid: Optional[str],
        attempts: int,
        delay: float,
    ) -> None:
        """Log the coming repeat and wait ``delay`` (with the Session's other threads, on 429)."""
        if self.limiter is not None and failure.asks_to_slow_down:
            self.limiter.penalize(delay)
        self.log.warning(
            "Retrying %s %s eid=%s in %.2f s: attempt %d of %d failed (%s)",
            method,
            uri,
            eid or "-",
            delay,
            attempts,
            self.retries + 1,
            failure.reason,
        )
        self._sleep(delay)

    def _wait_for_token(self, deadline: float) -> Optional[str]:
        """Take a rate-limiter token for a repeat; why the call stops instead, or None."""
        if self.limiter is None:
            return None
        try:
            self.limiter.acquire(deadline)
        except RequestTimeout:
            return (
                f"waiting for the rate limit ({self.limiter.describe()}) would pass the "
                f"retry budget of {self.budget:g} s"
            )
        return None

    def _next_step(
        self,
        failure: AttemptFailed,
        *,
        method: str,
        attempts: int,
        deadline: float,
        server_dedups: bool,
    ) -> Tuple[Optional[str], float]:
        """``(why the call is not repeated, None)`` or ``(None, seconds to wait first)``."""
        if not failure.repeatable:
            return "this kind of failure is not repeated automatically", 0.0
        if failure.executed is None and method == "POST":
            if self.creates is False:
                return (
                    "a create whose outcome is unknown is not repeated (retry_creates=False)",
                    0.0,
                )
            if self.creates == "auto" and not server_dedups:
                return (
                    "a create whose outcome is unknown is not repeated, as this server does "
                    "not announce that it ignores repeated events (retry_creates='auto')"
                ), 0.0
        if attempts > self.retries:
            return f"all {self.retries} retries used", 0.0
        delay = backoff_delay(attempts, self.backoff)
        if failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        if self._now() + delay > deadline:
            if failure.retry_after:
                return (
                    f"the server asked to wait {failure.retry_after:g} s before repeating, "
                    f"longer than the retry budget of {self.budget:g} s allows"
                ), 0.0
            return f"the retry budget of {self.budget:g} s is spent", 0.0
        return None, delay

    @staticmethod
    def _final_error(
        failure: AttemptFailed,
        method: str,
        uri: str,
        eid: Optional[str],
        attempts: int,
        elapsed: float,
        stop: str,
        executed: Optional[bool],
        only_reads: bool,
    ) -> Union[ServerError, TransportError]:
        times = "once" if attempts == 1 else f"{attempts} times in {elapsed:.1f} s"
        consequence = _consequence(method, uri, executed, only_reads=only_reads)
        text = f"{failure.error.message} Tried {times}; {stop}. {consequence}"
        if failure.rate_limited:
            text += _SLOW_DOWN_HINT
        return type(failure.error)(
            text, uri=uri, eid=eid, executed=executed, http_status=failure.error.http_status
        )
