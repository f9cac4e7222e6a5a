"""Status reports: stored once, matched by modem + MR + recipient within the window, rolled up."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from gatewayd.queue import NewMessage, Queue, Status
from gatewayd.queue.reports import MATCH_WINDOW
from tests.queue.conftest import LONG_TEXT, MODEM, RECIPIENT, Clock, report, send_all

DELIVERED = 0x00
PENDING = 0x21  # recipient busy, SC still trying
UNKNOWN_SUBSCRIBER = 0x43  # "not obtainable": permanent


def _sent(queue: Queue, text: str = "hello", first_mr: int = 10, recipient: str = RECIPIENT) -> int:
    message, _ = queue.enqueue(NewMessage(recipient, text))
    claim = queue.claim(MODEM)
    assert claim is not None and claim.message.id == message.id
    send_all(queue, message.id, first_mr=first_mr)
    return message.id


def _stored(db_path: Path) -> list[tuple[int, int | None, int | None]]:
    with sqlite3.connect(db_path) as conn:
        return list(conn.execute("SELECT mr, message_id, part FROM status_reports ORDER BY id"))


def test_multipart_is_delivered_when_every_part_is(queue: Queue, clock: Clock) -> None:
    mid = _sent(queue, LONG_TEXT, first_mr=10)
    assert queue.record_status_report(MODEM, report(11, RECIPIENT, PENDING, clock.now), "p") is None
    assert queue.record_status_report(MODEM, report(11, RECIPIENT, DELIVERED, clock.now), "p") is None
    assert [(p.state, p.report_status) for p in queue.parts(mid)] == [("sent", None), ("delivered", 0)]
    changed = queue.record_status_report(MODEM, report(10, RECIPIENT, DELIVERED, clock.now), "p")
    assert changed is not None and changed.id == mid and changed.status == Status.DELIVERED
    reports = [e for e in queue.events(mid) if e.kind == "report"]
    assert [e.detail for e in reports] == [{"part": 1, "status": PENDING}, {"part": 1, "status": 0},
                                           {"part": 0, "status": 0}]


def test_a_permanently_failed_part_fails_the_message(queue: Queue, clock: Clock) -> None:
    mid = _sent(queue, LONG_TEXT, first_mr=20)
    changed = queue.record_status_report(MODEM, report(21, RECIPIENT, UNKNOWN_SUBSCRIBER, clock.now), "p")
    assert changed is not None and changed.status == Status.FAILED
    assert changed.last_error == "status report: not obtainable" and changed.error_code == UNKNOWN_SUBSCRIBER
    assert queue.get(mid) == changed


def test_report_without_plus_matches_by_digits(queue: Queue, clock: Clock) -> None:
    mid = _sent(queue, first_mr=30)
    changed = queue.record_status_report(MODEM, report(30, RECIPIENT.lstrip("+"), DELIVERED, clock.now), "p")
    assert changed is not None and changed.id == mid


def test_report_in_national_form_matches_by_the_national_number(queue: Queue, clock: Clock) -> None:
    mid = _sent(queue, first_mr=31, recipient="+447911123456")
    changed = queue.record_status_report(MODEM, report(31, "07911123456", DELIVERED, clock.now), "p")
    assert changed is not None and changed.id == mid and changed.status == Status.DELIVERED


def test_a_national_form_of_another_number_does_not_match(queue: Queue, clock: Clock) -> None:
    mid = _sent(queue, first_mr=32, recipient="+447911123456")
    assert queue.record_status_report(MODEM, report(32, "07911654321", DELIVERED, clock.now), "p") is None
    assert queue.record_status_report(MODEM, report(32, "+17911123456", DELIVERED, clock.now), "q") is None
    assert queue.get(mid).status == Status.SENT  # type: ignore[union-attr]


def test_unmatched_reports_are_stored_not_applied(queue: Queue, clock: Clock, db_path: Path) -> None:
    mid = _sent(queue, first_mr=40)
    assert queue.record_status_report(MODEM, report(99, RECIPIENT, DELIVERED, clock.now), "a") is None
    assert queue.record_status_report(MODEM, report(40, "+447700900999", DELIVERED, clock.now), "b") is None
    assert queue.record_status_report("m2", report(40, RECIPIENT, DELIVERED, clock.now), "c") is None
    clock.advance(MATCH_WINDOW + timedelta(seconds=1))
    assert queue.record_status_report(MODEM, report(40, RECIPIENT, DELIVERED, clock.now), "d") is None
    message = queue.get(mid)
    assert message is not None and message.status == Status.SENT
    assert _stored(db_path) == [(99, None, None), (40, None, None), (40, None, None), (40, None, None)]


def test_the_same_report_twice_is_stored_once(queue: Queue, clock: Clock, db_path: Path) -> None:
    _sent(queue, LONG_TEXT, first_mr=50)
    same = report(50, RECIPIENT, DELIVERED, clock.now)
    assert queue.record_status_report(MODEM, same, "x") is None
    assert queue.record_status_report(MODEM, same, "x") is None
    assert len(_stored(db_path)) == 1


def test_a_reused_mr_matches_the_most_recent_send(queue: Queue, clock: Clock) -> None:
    old = _sent(queue, first_mr=60)
    clock.advance(timedelta(hours=1))
    new = _sent(queue, first_mr=60)
    changed = queue.record_status_report(MODEM, report(60, RECIPIENT, DELIVERED, clock.now), "p")
    assert changed is not None and changed.id == new
    untouched = queue.get(old)
    assert untouched is not None and untouched.status == Status.SENT


def test_reports_arriving_before_mark_sent_roll_up_at_mark_sent(queue: Queue, clock: Clock) -> None:
    message, _ = queue.enqueue(NewMessage(RECIPIENT, LONG_TEXT))
    assert queue.claim(MODEM) is not None
    for part, mr in ((0, 70), (1, 71)):
        queue.part_written(message.id, part, MODEM)
        queue.part_sent(message.id, part, mr)
        assert queue.record_status_report(MODEM, report(mr, RECIPIENT, DELIVERED, clock.now), "p") is None
    final = queue.mark_sent(message.id)
    assert final.status == Status.DELIVERED
    assert [e.to_status for e in queue.events(message.id) if e.kind == "status"][-2:] == ["sent", "delivered"]
