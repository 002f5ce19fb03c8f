"""The rate limiter of a Session (accsyn_api.ratelimit) and its place in the retry loop.

Time is simulated: the limiter's and the retry policy's ``_now``/``_sleep``
hooks are replaced by a clock that moves only when a thread sleeps, so the
tests wait for nothing and count exactly. With several threads, the clock
moves when every thread is asleep, to the earliest wake-up.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Dict, List, Optional

import pytest

from accsyn_api import ConfigurationError, RequestTimeout, ServerError
from accsyn_api.ratelimit import (
    HOSTED_BURST,
    HOSTED_RATE,
    RateLimiter,
    check_rate_limit,
    is_local_host,
    make_limiter,
)
from accsyn_api.retry import AttemptFailed, RetryPolicy

pytestmark = pytest.mark.timeout(30)

EPSILON = 1e-9


class FakeClock:
    """One thread's simulated time: sleeping moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class ThreadsClock:
    """Simulated time shared by ``workers`` threads.

    A sleeping thread waits until the clock reaches its wake-up time; the
    clock jumps to the earliest wake-up only when no worker is running.
    Each worker calls :meth:`done` when it ends.
    """

    def __init__(self, workers: int) -> None:
        self._condition = threading.Condition()
        self._now = 0.0
        self._running = workers
        self._wakeups: List[float] = []

    def time(self) -> float:
        with self._condition:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._condition:
            wake = self._now + seconds
            self._wakeups.append(wake)
            self._running -= 1
            self._move_if_all_asleep()
            if not self._condition.wait_for(lambda: self._now >= wake, timeout=10):
                raise AssertionError("simulated clock stuck")
            self._wakeups.remove(wake)
            self._running += 1

    def done(self) -> None:
        with self._condition:
            self._running -= 1
            self._move_if_all_asleep()

    def _move_if_all_asleep(self) -> None:
        if self._running == 0 and self._wakeups:
            self._now = max(self._now, min(self._wakeups))
            self._condition.notify_all()


class ClockedLimiter(RateLimiter):
    """A RateLimiter on a simulated clock."""

    def __init__(self, clock: Any, rate: Optional[float] = HOSTED_RATE, burst: int = 60) -> None:
        super().__init__(rate, burst)
        self.clock = clock

    def _now(self) -> float:
        return float(self.clock.time())

    def _sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def _run_threads(clock: ThreadsClock, workers: List[Any]) -> None:
    errors: List[BaseException] = []

    def run(work: Any) -> None:
        try:
            work()
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            clock.done()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


# -- the bucket -------------------------------------------------------------------------


def test_a_burst_of_60_passes_at_once_then_30_a_second() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock)
    assert repr(limiter) == "RateLimiter(rate=30, burst=60)"
    granted = []
    for _ in range(60 + 90):
        limiter.acquire()
        granted.append(clock.now)
    assert granted[:60] == [0.0] * 60
    for extra, when in enumerate(granted[60:], start=1):
        assert when == pytest.approx(extra / 30)
    assert clock.now == pytest.approx(3.0)


def test_an_idle_bucket_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock, rate=10, burst=5)
    for _ in range(5):
        assert limiter.acquire() == 0.0
    clock.now += 60.0  # a long pause fills the bucket, but only to 5
    for _ in range(5):
        assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(0.1)


def test_eight_threads_share_one_limit() -> None:
    clock = ThreadsClock(workers=8)
    limiter = ClockedLimiter(clock)
    granted: List[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(30):
            limiter.acquire()
            with lock:
                granted.append(clock.time())

    _run_threads(clock, [worker] * 8)
    granted.sort()
    assert len(granted) == 240
    windows: Dict[int, int] = {}
    for when in granted:
        second = math.floor(when + EPSILON)
        windows[second] = windows.get(second, 0) + 1
    # 60 at once, then one every 1/30 s: 1/30 ... 29/30 in the first second.
    assert windows == {0: 60 + 29, 1: 30, 2: 30, 3: 30, 4: 30, 5: 30, 6: 1}
    for first in range(len(granted)):  # no 1-second window holds more than burst + rate
        within = [when for when in granted[first:] if when < granted[first] + 1.0 - EPSILON]
        assert len(within) <= 60 + 30
    assert granted[-1] == pytest.approx((240 - 60) / 30)


def test_unlimited_never_waits() -> None:
    class NoClock:
        def time(self) -> float:
            raise AssertionError("an unlimited limiter reads no clock")

        def sleep(self, seconds: float) -> None:
            raise AssertionError("an unlimited limiter never sleeps")

    limiter = ClockedLimiter(NoClock(), rate=None)
    assert not limiter.enabled and repr(limiter) == "RateLimiter(unlimited)"
    for _ in range(10_000):
        assert limiter.acquire(deadline=-1.0) == 0.0
    limiter.penalize(30.0)
    assert limiter.acquire() == 0.0
    assert not RateLimiter.unlimited().enabled and RateLimiter().enabled


# -- penalize ---------------------------------------------------------------------------


def test_penalize_pauses_then_refills_from_empty() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock)
    limiter.acquire()  # 59 tokens are left, but the server said 429
    limiter.penalize(5.0)
    limiter.penalize(1.0)  # a shorter pause does not shorten the first
    assert limiter.acquire() == pytest.approx(5.0)
    assert limiter.acquire() == pytest.approx(1 / 30)  # empty at the end of the pause
    for meaningless in (0.0, -3.0, float("inf"), float("nan")):
        limiter.penalize(meaningless)
    assert limiter.acquire() == pytest.approx(1 / 30)


def test_penalize_holds_back_a_thread_already_waiting() -> None:
    clock = ThreadsClock(workers=2)
    limiter = ClockedLimiter(clock, rate=1, burst=2)
    granted: List[float] = []

    def waiting_thread() -> None:
        limiter.acquire()
        limiter.acquire()
        limiter.acquire()  # its turn is at t=1...
        granted.append(clock.time())

    def refused_thread() -> None:
        clock.sleep(0.5)
        limiter.penalize(3.0)  # ...but at t=0.5 a 429 pauses everyone until t=3.5

    _run_threads(clock, [waiting_thread, refused_thread])
    assert granted == [pytest.approx(3.5)]


# -- deadline ---------------------------------------------------------------------------


def test_a_wait_past_the_deadline_is_refused_and_takes_nothing() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock, rate=30, burst=1)
    limiter.acquire()
    with pytest.raises(RequestTimeout) as caught:
        limiter.acquire(deadline=0.01)
    error = caught.value
    assert error.executed is False
    text = str(error)
    assert "rate limit (30 requests/s, bursts of 1)" in text and "not sent" in text
    assert "0.03 s" in text and clock.now == 0.0
    assert limiter.acquire(deadline=1 / 30) == pytest.approx(1 / 30)  # nothing was taken
    clock.now = 10.0
    assert limiter.acquire(deadline=5.0) == 0.0  # a free token is never refused


# -- the Session setting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "host", "expected"),
    [
        ("auto", "acmevfx.accsyn.com", (HOSTED_RATE, HOSTED_BURST)),
        ("auto", None, (HOSTED_RATE, HOSTED_BURST)),
        ("auto", "127.0.0.1", None),
        ("AUTO", "http://localhost:8181/api/v3", None),
        (True, "127.0.0.1", (HOSTED_RATE, HOSTED_BURST)),
        (None, "acmevfx.accsyn.com", None),
        (False, "acmevfx.accsyn.com", None),
        (10, None, (10.0, 20)),
        (2.5, None, (2.5, 5)),
        (0.2, None, (0.2, 1)),
        ((5, 8), None, (5.0, 8)),
        ((0.5, 1), "127.0.0.1", (0.5, 1)),
    ],
)
def test_make_limiter_reads_the_setting(setting: Any, host: Optional[str], expected: Any) -> None:
    limiter = make_limiter(setting, host)
    check_rate_limit(setting)
    if expected is None:
        assert not limiter.enabled
    else:
        assert (limiter.rate, limiter.burst) == expected


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("fast", "rate_limit must be 'auto'"),
        ("", "rate_limit must be 'auto'"),
        ("30", "rate_limit must be 'auto'"),
        ([30, 60], "or a (rate, burst) tuple"),
        ({}, "None or False (no limit)"),
        (0, "more than 0"),
        (-5, "more than 0"),
        (float("nan"), "more than 0 and finite"),
        (float("inf"), "more than 0 and finite"),
        ((30,), "(requests per second, burst size)"),
        ((30, 60, 1), "(requests per second, burst size)"),
        ((30, 0), "burst of rate_limit=(rate, burst) must be a whole number of 1 or more"),
        ((30, 1.5), "burst of rate_limit=(rate, burst) must be a whole number"),
        ((30, True), "burst of rate_limit=(rate, burst) must be a whole number"),
        ((0, 10), "rate of rate_limit=(rate, burst) must be more than 0"),
        (("30", 60), "rate of rate_limit=(rate, burst) must be a number of requests per second"),
    ],
)
def test_bad_settings_say_what_is_wrong(setting: Any, says: str) -> None:
    for check in (check_rate_limit, make_limiter):
        with pytest.raises(ConfigurationError) as caught:
            check(setting)
        text = str(caught.value)
        assert says in text and "rate_limit" in text


@pytest.mark.parametrize(("rate", "burst"), [(0, 60), (-1, 60), (True, 60), (30, 0), (30, 2.0)])
def test_a_limiter_checks_its_arguments(rate: Any, burst: Any) -> None:
    with pytest.raises(ConfigurationError, match="RateLimiter must be"):
        RateLimiter(rate, burst)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "localhost",
        "LocalHost.",
        "::1",
        "[::1]",
        "[::1]:8181",
        "::ffff:127.0.0.1",
        "localhost:8181",
        "http://127.0.0.1:8181/api/v3",
    ],
)
def test_local_hosts(host: str) -> None:
    assert is_local_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "acmevfx.accsyn.com",
        "10.0.0.1",
        "192.168.1.20",
        "::2",
        "localhost.example.com",
        "127.0.0.1.example.com",
        "https://master.accsyn.com",
        "http://[::1",
        "",
        None,
    ],
)
def test_other_hosts(host: Optional[str]) -> None:
    assert not is_local_host(host)


# -- in the retry loop ------------------------------------------------------------------


class ClockedPolicy(RetryPolicy):
    """A RetryPolicy on the same simulated clock as its limiter."""

    def __init__(self, clock: FakeClock, limiter: RateLimiter, **settings: Any) -> None:
        options: Dict[str, Any] = {"retries": 3, "backoff": 0.25, "budget": 30.0}
        options.update(settings)
        log = logging.getLogger("test.ratelimit")
        super().__init__(creates="auto", log=log, limiter=limiter, **options)
        self.clock = clock

    def _now(self) -> float:
        return self.clock.now

    def _sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def call(self, attempt: Any, method: str = "GET") -> Dict[str, Any]:
        return self.run(
            attempt,
            method=method,
            uri="transfer/find",
            eid="e1",
            deadline=self.clock.now + self.budget,
            server_dedups=False,
            only_reads=False,
        )


def _too_many_requests(retry_after: Optional[float] = None) -> AttemptFailed:
    return AttemptFailed(
        ServerError("The server answered transfer/find with HTTP 429 (too many requests)."),
        reason="HTTP 429",
        executed=False,
        retry_after=retry_after,
        rate_limited=True,
    )


class Replies:
    """An attempt that fails with the given failures first, then succeeds."""

    def __init__(self, clock: FakeClock, *failures: AttemptFailed) -> None:
        self.clock = clock
        self.failures = list(failures)
        self.sent_at: List[float] = []

    def __call__(self) -> Dict[str, Any]:
        self.sent_at.append(self.clock.now)
        if self.failures:
            raise self.failures.pop(0)
        return {"result": []}


def test_a_429_pauses_every_thread_of_the_session() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock)
    policy = ClockedPolicy(clock, limiter)
    attempt = Replies(clock, _too_many_requests(retry_after=2.0))
    assert policy.call(attempt) == {"result": []}
    assert attempt.sent_at == [0.0, pytest.approx(2.0)]
    # Another thread's call made now waits its turn behind the pause's empty bucket.
    assert limiter.acquire() == pytest.approx(1 / 30)


def test_a_429_without_retry_after_pauses_for_the_backoff() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock)
    policy = ClockedPolicy(clock, limiter, backoff=4.0)
    attempt = Replies(clock, _too_many_requests())
    policy.call(attempt)
    (pause,) = clock.sleeps
    assert 0.0 <= pause <= 4.0 and attempt.sent_at == [0.0, pytest.approx(pause)]
    waited = limiter.acquire()
    assert waited == pytest.approx(1 / 30)


def test_a_first_attempt_waits_its_turn_even_with_no_budget() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock, rate=1, burst=1)
    policy = ClockedPolicy(clock, limiter, budget=0.0)
    limiter.acquire()
    attempt = Replies(clock)
    policy.call(attempt)
    assert attempt.sent_at == [1.0]


def test_a_repeat_that_would_wait_past_the_budget_gives_up() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock, rate=0.1, burst=1)  # one request every 10 s
    policy = ClockedPolicy(clock, limiter, backoff=0.0, budget=5.0)
    attempt = Replies(clock, _too_many_requests(retry_after=1.0))
    with pytest.raises(ServerError) as caught:
        policy.call(attempt)
    error = caught.value
    assert error.executed is False and attempt.sent_at == [0.0]
    text = str(error)
    assert "HTTP 429" in text and "Tried once" in text
    assert "waiting for the rate limit (0.1 requests/s, bursts of 1)" in text
    assert "would pass the retry budget of 5 s" in text
    assert "share one Session" in text  # the hint of a 429


def test_a_repeat_keeps_what_is_known_of_earlier_attempts() -> None:
    clock = FakeClock()
    limiter = ClockedLimiter(clock, rate=0.1, burst=1)
    policy = ClockedPolicy(clock, limiter, backoff=0.0, budget=5.0)
    lost = AttemptFailed(
        ServerError("The connection was lost."), reason="connection lost", executed=None
    )
    with pytest.raises(ServerError) as caught:
        policy.call(Replies(clock, lost), method="PUT")
    assert caught.value.executed is None
    assert "may or may not have been made" in str(caught.value)
