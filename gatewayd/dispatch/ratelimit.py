"""Rate limits for sending: token buckets (per modem and global) and daily caps per SIM.

Operators set rates because networks punish bursts: a SIM that sends 100 texts in a minute gets
barred as a spammer. A token bucket allows a short burst (``burst`` tokens) and then a steady
``rate_per_minute``; the dispatcher asks :meth:`TokenBucket.wait_time` how long until the next send
may start, so it sleeps exactly that long instead of polling. Daily caps count message parts per SIM
and reset at the gateway's local midnight, measured in elapsed time (see DailyCap).

All classes take an injectable monotonic ``clock`` so tests drive time by hand. They are not
thread-safe: only the dispatcher thread uses them.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

LONGEST_DAY = 25 * 3600.0
"""Seconds in the longest local day (DST ends): a part sent longer ago counts on no day any more."""


class TokenBucket:
    """``rate_per_minute`` tokens per minute, at most ``burst`` saved up; one token per message part."""

    def __init__(self, rate_per_minute: float, *, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_second = rate_per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_second)
        self._updated = now

    def wait_time(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` are available (0.0 when they are now)."""
        self._refill()
        missing = min(tokens, self.burst) - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate_per_second

    def take(self, tokens: float = 1.0) -> None:
        """Spend tokens (may go negative for a multipart message bigger than the burst: it then
        delays what follows, so the average rate still holds)."""
        self._refill()
        self._tokens -= tokens


class Unlimited:
    """A bucket that never makes anyone wait (no rate configured)."""

    def wait_time(self, tokens: float = 1.0) -> float:
        return 0.0

    def take(self, tokens: float = 1.0) -> None:
        return None


class DailyCap:
    """At most ``limit`` message parts per local calendar day (``None``: no cap).

    "Today" is measured in elapsed time, not read off the date: each part is kept with its monotonic
    time, and today is the span since local midnight counted back from now. A wall-clock step (a Pi
    without RTC sends on yesterday's time until NTP steps it to today) then neither resets the count at a
    midnight that did not really pass nor keeps counting parts from before the real midnight.
    """

    def __init__(self, limit: int | None, *, used: int = 0, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``used``: parts already sent today (read from the queue at start), counted as sent now."""
        self.limit = limit
        self._wall = wall
        self._clock = clock
        self._times: list[float] = []
        """Monotonic times of the recorded sends, oldest first."""
        self._totals: list[int] = []
        """Parts recorded up to and including each of ``_times``."""
        self._before = 0
        """Parts recorded before ``_times[0]`` (trimmed: too old to count on any day)."""
        if used:
            self.record(used)

    def _trim(self, now: float) -> None:
        cut = bisect.bisect_left(self._times, now - LONGEST_DAY)
        if cut:
            self._before = self._totals[cut - 1]
            del self._times[:cut], self._totals[:cut]

    @property
    def used(self) -> int:
        now = self._clock()
        self._trim(now)
        first = bisect.bisect_left(self._times, now - seconds_since_local_midnight(self._wall()))
        total = self._totals[-1] if self._totals else self._before
        return total - (self._totals[first - 1] if first else self._before)

    def allows(self, parts: int = 1) -> bool:
        return self.limit is None or self.used + parts <= self.limit

    def record(self, parts: int) -> None:
        now = self._clock()
        self._trim(now)
        self._times.append(now)
        self._totals.append((self._totals[-1] if self._totals else self._before) + parts)


def seconds_since_local_midnight(wall: float) -> float:
    """Seconds from the last local midnight to ``wall`` (epoch seconds), DST changes included."""
    local = time.localtime(wall)
    midnight = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
    return wall - midnight
