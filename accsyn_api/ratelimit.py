"""Keeping a Session under the request rate the server allows.

The hosted accsyn service (v3) allows a sustained 30 requests per second per
client, with bursts of 60. A :class:`RateLimiter` is a token bucket shared by
every thread of one Session: it holds up to ``burst`` tokens, gains ``rate``
tokens a second, and each attempt of a call takes one before it is sent.
When the server answers HTTP 429 (or asks for a pause with ``Retry-After``),
:meth:`RateLimiter.penalize` empties the bucket until the pause is over, so
that the Session's other threads back off as well.

The ``rate_limit`` setting of a Session becomes a limiter with
:func:`make_limiter`:

* ``"auto"`` (the default): the hosted limits, except for a server on this
  machine (``localhost``, ``127.0.0.1``, ``::1``: see :func:`is_local_host`);
* ``True``: the hosted limits, whatever the server;
* ``None`` or ``False``: no limit;
* a number: that many requests a second, bursts of twice as many;
* a ``(rate, burst)`` tuple.

Time is read and waited for through two small methods, :meth:`RateLimiter._now`
and :meth:`RateLimiter._sleep`, which tests replace with a simulated clock.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from typing import Optional, Tuple, Union
from urllib.parse import urlsplit

from .errors import ConfigurationError, RequestTimeout

__all__ = [
    "HOSTED_BURST",
    "HOSTED_RATE",
    "RateLimitSetting",
    "RateLimiter",
    "check_rate_limit",
    "is_local_host",
    "make_limiter",
]

HOSTED_RATE = 30.0
"""Requests a second the hosted v3 service allows one client, sustained."""

HOSTED_BURST = 60
"""Requests the hosted v3 service allows at once, in a burst."""

_ROUNDING = 1e-9
"""Seconds: a wait shorter than this is rounding error in the sums of intervals."""

RateLimitSetting = Union[str, bool, None, float, int, Tuple[float, int]]
"""What the ``rate_limit`` setting of a Session accepts."""

_SETTING_HELP = (
    "rate_limit must be 'auto' (the hosted limits of 30 requests/s, bursts of 60, except for a "
    "server on this machine), True (those limits always), None or False (no limit), a number "
    "of requests per second, or a (rate, burst) tuple"
)


def _checked_rate(rate: object, what: str) -> float:
    """``rate`` as requests per second; :class:`ConfigurationError` naming ``what`` if unusable."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ConfigurationError(f"{what} must be a number of requests per second, not {rate!r}.")
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigurationError(
            f"{what} must be more than 0 and finite (None turns the limit off), not {rate!r}."
        )
    return float(rate)


def _checked_burst(burst: object, what: str) -> int:
    """``burst`` as a burst size; :class:`ConfigurationError` naming ``what`` if unusable."""
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ConfigurationError(f"{what} must be a whole number of 1 or more, not {burst!r}.")
    return burst


class RateLimiter:
    """A thread-safe token bucket: at most ``burst`` requests at once, ``rate`` a second after.

    ``rate=None`` makes a limiter that never waits (see :meth:`unlimited`).
    One instance is shared by all the threads of a Session. Each waiting
    thread is given its own turn (a later token, never one another thread was
    promised), so the threads of a Session together never exceed the rate.
    """

    def __init__(self, rate: Optional[float] = HOSTED_RATE, burst: int = HOSTED_BURST) -> None:
        self.rate: Optional[float] = None
        self.burst = burst
        if rate is not None:
            self.rate = _checked_rate(rate, "The rate of a RateLimiter")
            self.burst = _checked_burst(burst, "The burst of a RateLimiter")
        self._lock = threading.Lock()
        # Generic cell rate algorithm: the bucket is full when _full_at <= now; each
        # token taken moves _full_at one interval (1/rate) later, and a token is free
        # while _full_at is at most burst - 1 intervals ahead of now.
        self._full_at = -math.inf
        self._paused_until = -math.inf

    @classmethod
    def unlimited(cls) -> RateLimiter:
        """A limiter that lets every request through at once."""
        return cls(rate=None)

    @property
    def enabled(self) -> bool:
        """False for a limiter that never waits."""
        return self.rate is not None

    def __repr__(self) -> str:
        if self.rate is None:
            return "RateLimiter(unlimited)"
        return f"RateLimiter(rate={self.rate:g}, burst={self.burst})"

    # -- the clock (replaced by tests) ------------------------------------------------

    def _now(self) -> float:
        """Seconds on a monotonic clock, the clock of ``deadline``."""
        return time.monotonic()

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        time.sleep(seconds)

    # -- taking tokens -----------------------------------------------------------------

    def acquire(self, deadline: Optional[float] = None) -> float:
        """Wait until a token is free and take it; returns the seconds waited.

        ``deadline`` is a :func:`time.monotonic` time: if the token would only
        be free after it, nothing is taken and :class:`RequestTimeout` is
        raised at once (``executed=False``: the request was not sent).
        """
        rate = self.rate
        if rate is None:
            return 0.0
        waited = 0.0
        while True:
            wait = self._reserve(rate, deadline)
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait
            if self._now() >= self._paused_until:
                return waited
            # A 429 arrived while this thread waited for its turn: queue again behind it.

    def _reserve(self, rate: float, deadline: Optional[float]) -> float:
        """Promise the next free token to the caller; the seconds until it is free."""
        interval = 1.0 / rate
        with self._lock:
            now = self._now()
            full_at = max(self._full_at, now)
            free_at = full_at - (self.burst - 1) * interval
            if free_at - now < _ROUNDING:
                free_at = now
            if deadline is not None and free_at > max(now, deadline):
                raise RequestTimeout(
                    f"Waiting for the rate limit ({self.describe()}) would take "
                    f"{free_at - now:.2f} s, past the time allowed for this call; "
                    "the request was not sent. Make fewer calls at once, or give the call "
                    "a larger retry_budget.",
                    executed=False,
                )
            self._full_at = full_at + interval
            return free_at - now

    def penalize(self, seconds: float) -> None:
        """Take no token for ``seconds`` from now, then refill from empty.

        Called when the server answers HTTP 429: every thread of the Session
        pauses, not only the one that was refused. A shorter pause than one
        already in force changes nothing, nor does a pause that is not a
        positive, finite number of seconds.
        """
        if self.rate is None or not 0 < seconds < math.inf:
            return
        interval = 1.0 / self.rate
        with self._lock:
            until = self._now() + seconds
            self._paused_until = max(self._paused_until, until)
            # An empty bucket at `until`: the first token is free then, one more each interval.
            self._full_at = max(self._full_at, until + (self.burst - 1) * interval)

    def describe(self) -> str:
        """The limit in words, as in ``"30 requests/s, bursts of 60"``."""
        if self.rate is None:
            return "no limit"
        return f"{self.rate:g} requests/s, bursts of {self.burst}"


# -- the Session setting ---------------------------------------------------------------


def is_local_host(hostname: Optional[str]) -> bool:
    """Whether ``hostname`` names this machine (``localhost``, a loopback address).

    Also accepts ``host:port``, ``[::1]:port`` and a URL such as
    ``http://127.0.0.1:8181/api/v3``.
    """
    name = _host_part((hostname or "").strip())
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _host_part(text: str) -> str:
    """The host of a host name, ``host:port`` or URL; lower case, without brackets."""
    try:
        ipaddress.ip_address(text)  # a bare IPv6 address has colons but no port
        return text.lower()
    except ValueError:
        pass
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:
        return ""
    return (host or "").rstrip(".").lower()


def check_rate_limit(setting: object) -> None:
    """Raise :class:`ConfigurationError` unless ``setting`` is a valid ``rate_limit``."""
    _limits(setting, hostname=None)


def make_limiter(setting: object = "auto", hostname: Optional[str] = None) -> RateLimiter:
    """The limiter a Session with ``rate_limit=setting`` uses for a server at ``hostname``.

    Raises :class:`ConfigurationError` for a setting it does not understand.
    """
    rate, burst = _limits(setting, hostname=hostname)
    if rate is None:
        return RateLimiter.unlimited()
    return RateLimiter(rate, burst)


def _limits(setting: object, *, hostname: Optional[str]) -> Tuple[Optional[float], int]:
    """``(rate, burst)`` for a setting (``rate`` None: no limit); checks the setting."""
    if setting is None or setting is False:
        return None, HOSTED_BURST
    if setting is True:
        return HOSTED_RATE, HOSTED_BURST
    if isinstance(setting, str):
        if setting.strip().lower() != "auto":
            raise ConfigurationError(f"{_SETTING_HELP}; not {setting!r}.")
        if is_local_host(hostname):
            return None, HOSTED_BURST
        return HOSTED_RATE, HOSTED_BURST
    if isinstance(setting, tuple):
        return _limits_of_pair(setting)
    if isinstance(setting, bool) or not isinstance(setting, (int, float)):
        raise ConfigurationError(f"{_SETTING_HELP}; not {setting!r}.")
    rate = _checked_rate(setting, "rate_limit (requests per second)")
    return rate, max(1, round(2 * rate))


def _limits_of_pair(setting: Tuple[object, ...]) -> Tuple[float, int]:
    if len(setting) != 2:
        raise ConfigurationError(
            f"rate_limit as a tuple must be (requests per second, burst size), not {setting!r}."
        )
    rate = _checked_rate(setting[0], "The rate of rate_limit=(rate, burst)")
    burst = _checked_burst(setting[1], "The burst of rate_limit=(rate, burst)")
    return rate, burst
