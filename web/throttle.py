"""Login throttling: a guessing client is slowed to a few tries per window, per address and per user name.

scrypt makes each guess cost ~50 ms of our CPU; without a limit a LAN client could still try thousands of
passwords an hour and load the Pi while doing it. Failures are counted per key in a sliding window; at the
limit, further tries for that key are refused (429) until the oldest failure leaves the window. Counting
per user name too stops a guesser who rotates addresses; per address stops one who rotates names. A
success clears both keys. Memory is bounded: the least recently failed keys are forgotten first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

MAX_FAILURES: Final = 5
WINDOW_SECONDS: Final = 15 * 60.0
MAX_KEYS: Final = 10_000


class LoginThrottle:
    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_failures
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def wait_time(self, *keys: str) -> float:
        """Seconds before any of ``keys`` may try again (0.0: now)."""
        now = self._clock()
        with self._lock:
            waits = [times[0] + self._window - now for key in keys
                     if len(times := self._recent(key, now)) >= self._max]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._failures.setdefault(key, deque())
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
