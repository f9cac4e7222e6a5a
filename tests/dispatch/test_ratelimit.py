"""Token buckets and daily caps, driven by a hand-set clock."""

from __future__ import annotations

from datetime import date

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


def test_daily_cap_resets_at_midnight() -> None:
    day = [date(2026, 11, 23)]
    cap = DailyCap(3, today=lambda: day[0])
    assert cap.allows(3) and not cap.allows(4)
    cap.record(2)
    assert cap.allows(1) and not cap.allows(2)
    day[0] = date(2026, 11, 24)
    assert cap.used == 0 and cap.allows(3)
    assert DailyCap(None).allows(10**6)
