"""The wall clock jumps; the periodic work must not stall or spin when it does.

A Raspberry Pi has no real-time clock: it boots with the time fake-hwclock saved at the last shutdown
(hours or days behind) and NTP steps it forward once the network is up; a bad source, or a saved time
from the future, steps it back. CLOCK_MONOTONIC does not jump. APScheduler 3 runs its interval
triggers on the wall clock, which goes wrong both ways:

- after a backward step the scheduler sleeps until the clock catches up with the run times it computed
  before the step: an hour's step stops the health checks, the expiry and retention jobs and the systemd
  watchdog pings for an hour (systemd then kills a healthy daemon);
- after a forward step it replays every missed interval one call at a time to find the next run time
  (three days at one second: 260,000 trigger calls holding the GIL) before skipping them all as missed.

:class:`ClockWatch` notices a step (the wall clock moved against the monotonic clock). After a backward
step :func:`restart_intervals` runs every interval job at once and re-bases it on the corrected clock. A
forward step needs no one to notice it: the scheduler wakes on its own (monotonic) timer,
:class:`SteadyIntervalTrigger` finds the next run time without replaying the gap, and the late run is
run once (``misfire_grace_time=None``, see gateway.py). Running everything at once after a forward step
would be wrong besides: the retention purge would then judge rows stamped by the slow clock as days old.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

LOGGER = logging.getLogger(__name__)

STEP_THRESHOLD = 2.0
"""Seconds the wall clock must move against the monotonic clock between two checks to count as a step.
NTP slews at most 0.5 ms per second, so a slew never looks like a step between checks seconds apart."""


class ClockWatch:
    """Compares the wall clock with the monotonic clock at each :meth:`check`; not thread-safe (its owner,
    the dispatcher, serialises the calls: its loop looks every second, the retention job before it runs)."""

    def __init__(self, *, threshold: float = STEP_THRESHOLD, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._threshold = threshold
        self._wall = wall
        self._monotonic = monotonic
        self._offset = wall() - monotonic()

    def check(self) -> float | None:
        """The step in seconds (positive: forward) since the previous check, or None when there was none.

        Consecutive checks are compared, not the first and the latest: slewing adds up over hours."""
        offset = self._wall() - self._monotonic()
        step, self._offset = offset - self._offset, offset
        return step if abs(step) >= self._threshold else None


class SteadyIntervalTrigger(IntervalTrigger):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """An interval trigger that, once behind by more than an interval (the clock stepped forward, or the
    process was stopped), goes on from the next run time after now instead of replaying the gap."""

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None and previous_fire_time + self.interval < now:
            previous_fire_time = None  # the base class then computes from start_date in one step
        result: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return result


def steady_interval(seconds: float, **options: Any) -> SteadyIntervalTrigger:
    """The trigger for ``scheduler.add_job(func, steady_interval(60), ...)``; ``options`` as IntervalTrigger's."""
    return SteadyIntervalTrigger(seconds=seconds, **options)


def restart_intervals(scheduler: BaseScheduler) -> int:
    """After a backward clock step: every interval job runs now, then every interval from the corrected clock.

    Now rather than one interval later: the watchdog ping that stalled must not wait another half
    watchdog period (systemd allows one period). Returns the number of jobs restarted."""
    restarted = 0
    for job in scheduler.get_jobs():
        trigger = job.trigger
        if not isinstance(trigger, IntervalTrigger):
            continue
        now = datetime.now(trigger.timezone)
        fresh = SteadyIntervalTrigger(seconds=trigger.interval.total_seconds(), start_date=now,
                                      timezone=trigger.timezone, jitter=trigger.jitter)
        scheduler.modify_job(job.id, trigger=fresh, next_run_time=now)
        restarted += 1
    LOGGER.info("clock stepped back: %d periodic job(s) run now and restart from the corrected clock", restarted)
    return restarted
