"""Rate limits for sending: token buckets (per modem and global) and daily caps per SIM.

Operators set rates because networks punish bursts: a SIM that sends 100 texts in a minute gets
barred as a spammer. A token bucket allows a short burst (``burst`` tokens) and then a steady
``rate_per_minute``; the dispatcher asks :meth:`TokenBucket.wait_time` how long until the next send
may start, so it sleeps exactly that long instead of polling. Daily caps count message parts per SIM
and reset at the gateway's local midnight.

All classes take an injectable monotonic ``clock`` so tests drive time by hand. They are not
thread-safe: only the dispatcher thread uses them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime


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
    """At most ``limit`` message parts per local calendar day (``None``: no cap)."""

    def __init__(self, limit: int | None, *, today: Callable[[], date] = lambda: datetime.now().date(),
                 used: int = 0) -> None:
        self.limit = limit
        self._today = today
        self._day = today()
        self._used = used

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day = day
            self._used = 0

    @property
    def used(self) -> int:
        self._roll()
        return self._used

    def allows(self, parts: int = 1) -> bool:
        self._roll()
        return self.limit is None or self._used + parts <= self.limit

    def record(self, parts: int) -> None:
        self._roll()
        self._used += parts
