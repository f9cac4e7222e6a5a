"""A timer heap driven by the emulator's loop thread.

Everything that takes time in the emulator (send latency, delayed status reports, hang durations,
periodic URCs) is a timer on this heap, never a sleep, so one thread serves many modems and a unit
test can drive time by hand (``ManualClock``) without waiting for real seconds to pass.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Scheduler(Protocol):
    """What modems and the network need from the loop: a clock and delayed calls."""

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class Timer:
    """A pending call; ``cancel()`` makes it a no-op (it stays in the heap until due)."""

    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerHeap:
    """Timers ordered by deadline; the loop asks ``next_delay()`` for its select timeout."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._clock()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self._clock() + max(delay, 0.0), callback)
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return timer

    def next_delay(self) -> float | None:
        """Seconds until the earliest live timer, or None when there is none."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(self._heap[0][0] - self._clock(), 0.0)

    def run_due(self) -> int:
        """Run every timer whose deadline has passed (including ones they schedule for 'now')."""
        ran = 0
        while self._heap and self._heap[0][0] <= self._clock():
            _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()
                ran += 1
        return ran


class ManualClock:
    """A clock that moves only when told: unit tests advance it and then run the due timers."""

    def __init__(self, start: float = 1000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
