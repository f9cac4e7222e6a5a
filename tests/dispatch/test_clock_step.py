"""Wall-clock steps: noticing them (ClockWatch), the scheduler's interval jobs (no stall, no replay) and the
waits the queue computed on the old clock (released to be judged again). The whole daemon under a stepped
clock is tests/faults/test_clock_and_disk.py; these pin each part down with hand-set clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from gatewayd.clock import STEP_THRESHOLD, ClockWatch, SteadyIntervalTrigger, restart_intervals, steady_interval
from gatewayd.queue import NewMessage, Queue, Status
from gatewayd.queue.events import KIND_CLOCK_STEP

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clocks:
    """A wall clock and a monotonic clock that move together unless a test steps the wall clock."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.offset = 1_795_000_000.0

    def wall(self) -> float:
        return self.mono + self.offset

    def monotonic(self) -> float:
        return self.mono


def test_clock_watch_reports_steps_both_ways_and_ignores_slewing() -> None:
    clocks = Clocks()
    watch = ClockWatch(wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.mono += 1.0
    assert watch.check() is None
    clocks.offset += 3 * 86400.0
    assert watch.check() == 3 * 86400.0
    assert watch.check() is None  # reported once
    clocks.offset -= 3600.0
    assert watch.check() == -3600.0
    for _ in range(10_000):  # NTP's fastest slew (0.5 ms/s) for hours: never a step
        clocks.mono += 1.0
        clocks.offset += 0.0005
        assert watch.check() is None
    clocks.offset += STEP_THRESHOLD
    assert watch.check() is not None


def test_steady_interval_does_not_replay_a_forward_step() -> None:
    """APScheduler asks for the next run time after each missed one: three days at one second would be
    260,000 calls. The steady trigger answers with the first run time after now at once."""
    trigger = SteadyIntervalTrigger(seconds=1, start_date=NOW, timezone=UTC)
    previous = NOW + timedelta(seconds=10)
    assert trigger.get_next_fire_time(previous, previous) == previous + timedelta(seconds=1)  # on time
    later = previous + timedelta(days=3, milliseconds=500)
    following = trigger.get_next_fire_time(previous, later)
    assert following is not None and later <= following < later + timedelta(seconds=1)
    plain = IntervalTrigger(seconds=1, start_date=NOW, timezone=UTC)
    assert plain.get_next_fire_time(previous, later) == previous + timedelta(seconds=1)  # what it replaces


def test_restart_intervals_runs_every_interval_job_now() -> None:
    """After a backward step the next run times lie an hour ahead: the jobs must run now, then keep their
    interval from the corrected clock."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(print, steady_interval(60), id="health", next_run_time=datetime.now(UTC) + timedelta(hours=1))
    scheduler.add_job(print, "interval", seconds=5, id="watchdog",
                      next_run_time=datetime.now(UTC) + timedelta(hours=1))
    once = datetime.now(UTC) + timedelta(hours=2)
    scheduler.add_job(print, "date", run_date=once, id="once", next_run_time=once)
    before = datetime.now(UTC)
    assert restart_intervals(scheduler) == 2
    after = datetime.now(UTC)
    for job_id, seconds in (("health", 60), ("watchdog", 5)):
        job = scheduler.get_job(job_id)
        assert before <= job.next_run_time <= after
        assert isinstance(job.trigger, SteadyIntervalTrigger)
        assert job.trigger.interval == timedelta(seconds=seconds)
        assert job.trigger.get_next_fire_time(job.next_run_time, after) == job.next_run_time + timedelta(
            seconds=seconds)
    assert scheduler.get_job("once").next_run_time == once  # not an interval: left alone


def test_released_waits_are_backoffs_and_holds_never_a_clients_send_at(tmp_path: Path) -> None:
    now = [NOW]
    with Queue(tmp_path / "q.db", clock=lambda: now[0]) as queue:
        at_client_time, _ = queue.enqueue(NewMessage("+447700900001", "at 11:00", send_at=NOW + timedelta(hours=2)))
        retried, _ = queue.enqueue(NewMessage("+447700900002", "retried"))
        held, _ = queue.enqueue(NewMessage("+447700900003", "held"))
        due, _ = queue.enqueue(NewMessage("+447700900004", "retried, due already"))
        for _ in (retried, held, due):
            assert queue.claim("m1") is not None
        queue.retry_later(retried.id, "+CMS ERROR 500", delay=timedelta(hours=1, seconds=30))
        queue.hold(held.id, "quiet hours", NOW + timedelta(hours=10))
        queue.retry_later(due.id, "+CMS ERROR 500", delay=timedelta(seconds=30))
        now[0] = NOW + timedelta(minutes=1)  # the clock stepped back an hour: the first retry waits 1 h more
        assert queue.release_waits("the clock stepped -3600 s: its wait is judged again") == 2
        statuses = {m.id: m.status for m in (queue.get(i) for i in (at_client_time.id, retried.id, held.id, due.id))
                    if m is not None}
        assert statuses == {at_client_time.id: Status.SCHEDULED, retried.id: Status.QUEUED, held.id: Status.QUEUED,
                            due.id: Status.SCHEDULED}  # the last is promoted as due, like any other
        assert queue.events(retried.id)[-1].reason == "the clock stepped -3600 s: its wait is judged again"
        assert queue.release_waits("again") == 0



def test_retention_allows_for_a_forward_step_on_record(tmp_path: Path) -> None:
    """A clock a year behind stamps rows a year too old; once the step is on record, retention judges them
    by their real age, and forgets the allowance when the step itself is older than the retention."""
    now = [NOW - timedelta(days=600)]
    keep = timedelta(days=90)
    with Queue(tmp_path / "q.db", clock=lambda: now[0]) as queue:
        old, _ = queue.enqueue(NewMessage("+447700900001", "really old"))
        queue.cancel(old.id)
        now[0] = NOW - timedelta(days=400)  # the slow clock, minutes before NTP steps it
        recent, _ = queue.enqueue(NewMessage("+447700900002", "sent minutes ago"))
        queue.cancel(recent.id)
        now[0] = NOW
        queue.record_event(KIND_CLOCK_STEP, "the wall clock stepped +34560000 s", detail={"seconds": 34_560_000.0})
        assert queue.purge(messages_older_than=keep, inbox_older_than=keep)["messages"] == 1
        assert queue.get(old.id) is None and queue.get(recent.id) is not None
        now[0] = NOW + keep + timedelta(days=1)  # the step is past the retention, and so is the message
        assert queue.purge(messages_older_than=keep, inbox_older_than=keep)["messages"] == 1
        assert queue.get(recent.id) is None
