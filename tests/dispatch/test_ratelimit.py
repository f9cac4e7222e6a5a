"""Token buckets and daily caps, driven by a hand-set clock."""

from __future__ import annotations

import time

import pytest

from gatewayd.dispatch.ratelimit import DailyCap, TokenBucket, Unlimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_steady_rate_after_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(6, burst=2, clock=clock)  # one token every 10 s
    for _ in range(2):
        assert bucket.wait_time() == 0
        bucket.take()
    assert bucket.wait_time() == pytest.approx(10.0)
    clock.now += 4
    assert bucket.wait_time() == pytest.approx(6.0)
    clock.now += 6
    assert bucket.wait_time() == 0
    bucket.take()
    # Saved tokens never exceed the burst, however long it idles.
    clock.now += 3600
    bucket.take()
    bucket.take()
    assert bucket.wait_time() == pytest.approx(10.0)


def test_rate_holds_over_a_long_run() -> None:
    clock = Clock()
    bucket = TokenBucket(30, burst=5, clock=clock)
    sent = 0
    start = clock.now
    while clock.now - start < 600:
        wait = bucket.wait_time()
        if wait:
            clock.now += wait
            continue
        bucket.take()
        sent += 1
    # 10 minutes at 30/min plus the initial burst, never more.
    assert sent <= 30 * 10 + 5 + 1


def test_multipart_bigger_than_burst_delays_what_follows() -> None:
    clock = Clock()
    bucket = TokenBucket(60, burst=1, clock=clock)
    bucket.take(4)
    assert bucket.wait_time() == pytest.approx(4.0)


def test_invalid_rates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(10, burst=0.5)
    assert Unlimited().wait_time(100) == 0


def _local(day: int, hour: int, minute: int = 0) -> float:
    """Epoch seconds of a local time in November 2026 (the test runs in the machine's time zone)."""
    return time.mktime((2026, 11, day, hour, minute, 0, 0, 0, -1))


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_daily_cap_resets_at_midnight() -> None:
    clock, wall = Clock(), Wall(_local(23, 23, 0))
    cap = DailyCap(3, wall=wall, clock=clock)
    assert cap.allows(3) and not cap.allows(4)
    cap.record(2)
    assert cap.allows(1) and not cap.allows(2)
    clock.now += 3600
    wall.now += 3600
    assert cap.used == 0 and cap.allows(3)
    assert DailyCap(None).allows(10**6)


def test_daily_cap_counts_elapsed_time_across_clock_steps() -> None:
    """A Pi without RTC boots on yesterday evening's time and sends; NTP then steps the clock to today:
    the parts went today, and the cap does not reset at the midnight the step jumped over. A clock that
    was ahead (00:30 tomorrow) and is stepped back keeps counting what went before the step."""
    clock, wall = Clock(), Wall(_local(22, 21, 0))
    cap = DailyCap(5, wall=wall, clock=clock)
    cap.record(3)
    clock.now += 60
    wall.now = _local(23, 10, 1)
    assert cap.used == 3 and not cap.allows(3)

    ahead = DailyCap(5, wall=wall, clock=clock, used=1)  # sent before the step: today too
    wall.now = _local(24, 0, 30)  # 00:30 on a clock an hour ahead: a new day it seems
    ahead.record(2)
    clock.now += 60
    wall.now = _local(23, 23, 31)  # stepped back: still the day of all three
    assert ahead.used == 3
    clock.now += 3600
    wall.now = _local(24, 0, 31)  # the real midnight has passed
    assert ahead.used == 0
