"""The page queries (gatewayd/queue/reporting.py) against the plain SQL truth of the same database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gatewayd.policy.send_policy import Consent
from gatewayd.queue import NewMessage, Queue
from gatewayd.queue.reporting import ModemActivity
from gatewayd.queue.timefmt import to_stamp
from tests.queue.conftest import LONG_TEXT, START, Clock, deliver_parts, send_all


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def queue(tmp_path: Path, clock: Clock) -> Iterator[Queue]:
    with Queue(tmp_path / "q.db", clock=clock) as opened:
        yield opened


def _send(queue: Queue, modem: str, text: str = "hello", recipient: str = "+447700900123") -> int:
    message, _ = queue.enqueue(NewMessage(recipient, text, priority=10))
    claim = queue.claim(modem)
    assert claim is not None and claim.message.id == message.id
    send_all(queue, message.id, modem)
    return message.id


def _claim(queue: Queue, modem: str, text: str = "hello") -> int:
    message, _ = queue.enqueue(NewMessage("+447700900123", text, priority=10))
    claim = queue.claim(modem)
    assert claim is not None and claim.message.id == message.id
    return message.id


def _truth(queue: Queue, since: str) -> dict[str, int]:
    """Parts sent per modem since ``since``, straight from message_parts (a full scan, fine here)."""
    with sqlite3.connect(queue.path) as conn:
        rows = conn.execute("SELECT modem, count(*) FROM message_parts WHERE sent_at >= ? GROUP BY modem",
                            (since,)).fetchall()
    return dict(rows)


def test_modem_activity_counts_todays_parts_and_errors_per_modem(queue: Queue, clock: Clock) -> None:
    _send(queue, "m1")  # yesterday: not today's work
    clock.advance(timedelta(days=1))
    midnight = clock.now - timedelta(hours=1)
    _send(queue, "m1")
    _send(queue, "m1", LONG_TEXT)  # two parts
    delivered = _send(queue, "m2")
    queue.fail(_claim(queue, "m2"), "barred", code=21)
    stuck = _claim(queue, "m1")
    queue.part_written(stuck, 0, "m1")
    queue.mark_unknown(stuck, "no answer after the PDU")
    halfway = _claim(queue, "m2", LONG_TEXT)  # still sending, one part out: counted already
    queue.part_written(halfway, 0, "m2")
    queue.part_sent(halfway, 0, 77)
    queue.cancel(queue.enqueue(NewMessage("+447700900123", "never sent"))[0].id)
    assert delivered

    activity = queue.modem_activity(midnight)
    assert activity == {"m1": ModemActivity(sent=3, errors=1), "m2": ModemActivity(sent=2, errors=1)}
    assert {m: a.sent for m, a in activity.items()} == _truth(queue, to_stamp(midnight))
    assert queue.modem_activity(clock.now + timedelta(seconds=1)) == {}


def test_parts_per_minute_buckets_by_utc_minute(queue: Queue, clock: Clock) -> None:
    since = clock.now
    _send(queue, "m1")
    clock.advance(timedelta(seconds=61))
    _send(queue, "m1", LONG_TEXT)
    clock.advance(timedelta(seconds=30))
    _send(queue, "m2")
    assert queue.parts_per_minute(since) == {"2026-11-23T09:00": 1, "2026-11-23T09:01": 3}
    assert queue.parts_per_minute(since + timedelta(minutes=1)) == {"2026-11-23T09:01": 3}


def test_opt_outs_since_counts_only_opt_outs_from_then_on(queue: Queue, clock: Clock) -> None:
    queue.set_consent("+447700900001", Consent.OPTED_OUT, "api")
    clock.advance(timedelta(days=1))
    midnight = clock.now
    queue.set_consent("+447700900002", Consent.OPTED_OUT, "keyword")
    queue.set_consent("+447700900003", Consent.OPTED_IN, "api", welcome=False)
    queue.set_consent("+447700900004", Consent.OPTED_OUT, "operator", detail={"reason": "phoned"})
    queue.set_consent("+447700900004", Consent.OPTED_OUT, "operator")  # no change: no ledger row
    assert queue.opt_outs_since(midnight) == 2
    assert queue.opt_outs_since(midnight - timedelta(days=2)) == 3
    assert queue.opt_outs_since(clock.now + timedelta(seconds=1)) == 0


def test_the_consent_ledger_pages_newest_first_and_filters(queue: Queue) -> None:
    for index in range(5):
        queue.set_consent(f"+44770090000{index}", Consent.OPTED_OUT, "api")
    queue.set_consent("+447700900000", Consent.OPTED_IN, "operator", detail={"reason": "form"}, welcome=False)
    every = queue.consent_ledger(limit=10)
    assert [e.number for e in every][:2] == ["+447700900000", "+447700900004"]
    assert [e.id for e in every] == sorted((e.id for e in every), reverse=True)
    outs = queue.consent_ledger(limit=2, to_state="opted_out")
    rest = queue.consent_ledger(limit=10, to_state="opted_out", before_id=outs[-1].id)
    assert [e.number for e in outs + rest] == [f"+44770090000{i}" for i in (4, 3, 2, 1, 0)]
    assert every[0].detail == {"reason": "form"}


def test_contacts_list_by_number_prefix_and_consent(queue: Queue) -> None:
    for number in ("+15550001", "+447700900001", "+447700900002", "+447911123456"):
        queue.set_consent(number, Consent.OPTED_OUT if number.endswith("2") else Consent.OPTED_IN, "api",
                          welcome=False)
    numbers = [c.number for c in queue.list_contacts()]
    assert numbers == ["+15550001", "+447700900001", "+447700900002", "+447911123456"]
    assert [c.number for c in queue.list_contacts(prefix="+44770")] == ["+447700900001", "+447700900002"]
    assert [c.number for c in queue.list_contacts(prefix="+44", after="+447700900002")] == ["+447911123456"]
    assert [c.number for c in queue.list_contacts(marketing="opted_out")] == ["+447700900002"]
    assert [c.number for c in queue.list_contacts(limit=1)] == ["+15550001"]
    assert queue.list_contacts(prefix="+9") == []


def test_recent_inbound_pages_newest_first(queue: Queue) -> None:
    for reference, text in enumerate(("one", "two", "three")):
        for part in deliver_parts(text, reference=reference):
            queue.record_inbound(part)
    first = queue.recent_inbound(limit=2)
    assert [m.text for m in first] == ["three", "two"]
    assert [m.text for m in queue.recent_inbound(limit=2, before_id=first[-1].id)] == ["one"]
