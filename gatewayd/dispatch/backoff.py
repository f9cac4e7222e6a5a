"""Retry timing for transient send failures (+CMS ERROR 500, no network, modem gone before the PDU).

Exponential: ``base * 2 ** (attempt - 1)``, capped at ``maximum``; after ``max_attempts`` the message
fails for good. No jitter: the dispatcher already spreads work over modems and the delays are long
compared with a send, so synchronised retries cannot stampede one modem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    maximum: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 30)
        delay: timedelta = self.base * (2**exponent)
        return min(delay, self.maximum)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
