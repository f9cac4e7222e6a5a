"""Accepting (validation, idempotency, batches), claiming (order, pinning, expiry) and due times."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from gatewayd.queue import (
    IdempotencyConflict,
    InvalidMessage,
    NewMessage,
    Queue,
    QueueError,
    Status,
)
from tests.queue.conftest import LONG_TEXT, MODEM, RECIPIENT, Clock, send_all


def test_enqueue_stores_the_plan_and_an_event(queue: Queue) -> None:
    message, created = queue.enqueue(NewMessage(RECIPIENT, LONG_TEXT, metadata={"order": 42}, client="shop",
                                                message_class="marketing", priority=3))
    assert created and message.status == Status.QUEUED
    assert (message.parts, message.encoding, message.metadata) == (2, "gsm7", {"order": 42})
    emoji, _ = queue.enqueue(NewMessage(RECIPIENT, "ok 😀"))
    assert (emoji.parts, emoji.encoding) == (1, "ucs2")
    assert [(e.to_status, e.reason) for e in queue.events(message.id)] == [("queued", "accepted")]
    assert queue.get(message.id) == message


def test_idempotency_key_returns_the_first_row(queue: Queue) -> None:
    first, created = queue.enqueue(NewMessage(RECIPIENT, "once", idempotency_key="k1", client="a"))
    again, created_again = queue.enqueue(NewMessage(RECIPIENT, "once", idempotency_key="k1", client="a"))
    assert created and not created_again and again == first
    other_client, created_other = queue.enqueue(NewMessage(RECIPIENT, "once", idempotency_key="k1", client="b"))
    assert created_other and other_client.id != first.id
    with pytest.raises(IdempotencyConflict):
        queue.enqueue(NewMessage(RECIPIENT, "different text", idempotency_key="k1", client="a"))
    assert queue.counts_by_status()["queued"] == 2


def test_the_database_itself_refuses_a_second_row_for_a_key(queue: Queue, db_path: Path) -> None:
    queue.enqueue(NewMessage(RECIPIENT, "once", idempotency_key="k1"))
    with sqlite3.connect(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO messages (recipient, text, parts, encoding, status, created_at, updated_at,"
                     " idempotency_key) SELECT recipient, text, parts, encoding, status, created_at, updated_at,"
                     " idempotency_key FROM messages")


@pytest.mark.parametrize("bad", [
    NewMessage("447700900123", "no plus"),
    NewMessage("+44 7700 900123", "spaces"),
    NewMessage(RECIPIENT, ""),
    NewMessage(RECIPIENT, "x", message_class="spam"),
    NewMessage(RECIPIENT, "x" * 160 * 256),
    NewMessage(RECIPIENT, "x", metadata={"not json": object()}),
])
def test_invalid_messages_are_refused(queue: Queue, bad: NewMessage) -> None:
    with pytest.raises(InvalidMessage):
        queue.enqueue(bad)
    assert sum(queue.counts_by_status().values()) == 0


def test_times_must_be_aware_and_consistent(queue: Queue, clock: Clock) -> None:
    with pytest.raises(InvalidMessage):
        queue.enqueue(NewMessage(RECIPIENT, "x", send_at=clock.now.replace(tzinfo=None)))
    with pytest.raises(InvalidMessage):
        queue.enqueue(NewMessage(RECIPIENT, "x", expires_at=clock.now - timedelta(seconds=1)))
    with pytest.raises(InvalidMessage):
        queue.enqueue(NewMessage(RECIPIENT, "x", send_at=clock.now + timedelta(hours=2),
                                 expires_at=clock.now + timedelta(hours=1)))


def test_enqueue_many_is_all_or_nothing(queue: Queue) -> None:
    good = [NewMessage(RECIPIENT, f"m{i}") for i in range(5)]
    with pytest.raises(InvalidMessage):
        queue.enqueue_many([*good, NewMessage("bad", "x")])
    assert sum(queue.counts_by_status().values()) == 0
    results = queue.enqueue_many([*good, NewMessage(RECIPIENT, "m0-again", idempotency_key="k"),
                                  NewMessage(RECIPIENT, "m0-again", idempotency_key="k")])
    assert [created for _, created in results] == [True] * 6 + [False]
    assert results[-1][0] == results[-2][0]
    assert queue.counts_by_status()["queued"] == 6


def test_send_at_in_the_future_is_scheduled_then_promoted(queue: Queue, clock: Clock) -> None:
    later, _ = queue.enqueue(NewMessage(RECIPIENT, "later", send_at=clock.now + timedelta(minutes=5)))
    now, _ = queue.enqueue(NewMessage(RECIPIENT, "now", send_at=clock.now))
    assert (later.status, now.status) == (Status.SCHEDULED, Status.QUEUED)
    assert queue.next_due() == clock.now + timedelta(minutes=5)
    assert queue.promote_due() == 0
    clock.advance(timedelta(minutes=5))
    assert queue.promote_due() == 1
    promoted = queue.get(later.id)
    assert promoted is not None and promoted.status == Status.QUEUED and promoted.due_at is None
    assert queue.next_due() is None


def test_listener_wakes_on_claimable_or_scheduled_commits_only(queue: Queue, clock: Clock) -> None:
    woken = threading.Event()
    threads: list[str] = []

    def listener() -> None:
        threads.append(threading.current_thread().name)
        woken.set()

    queue.add_listener(listener)
    # A new due time wakes it too: the dispatcher must recompute when to look again.
    queue.enqueue(NewMessage(RECIPIENT, "later", send_at=clock.now + timedelta(minutes=1)))
    assert woken.is_set()
    woken.clear()
    queue.counts_by_status()
    queue.next_due()
    assert not woken.is_set()  # reads never wake it
    queue.enqueue(NewMessage(RECIPIENT, "now"))
    assert woken.is_set()
    woken.clear()
    clock.advance(timedelta(minutes=1))
    queue.promote_due()
    assert woken.is_set()
    assert set(threads) == {f"queue-db:{queue.path.name}"}


def test_a_listener_calling_the_queue_gets_an_error_not_a_deadlock(queue: Queue) -> None:
    errors: list[Exception] = []

    def listener() -> None:
        try:
            queue.counts_by_status()
        except QueueError as exc:
            errors.append(exc)

    queue.add_listener(listener)
    queue.enqueue(NewMessage(RECIPIENT, "x"))
    assert len(errors) == 1


def test_claim_order_priority_then_age(queue: Queue) -> None:
    ids = [queue.enqueue(NewMessage(RECIPIENT, f"p{p}", priority=p))[0].id for p in (0, 5, 0, 5, 1)]
    claimed = []
    while (claim := queue.claim(MODEM)) is not None:
        claimed.append(claim.message.id)
        assert claim.message.status == Status.SENDING and claim.message.attempts == 1
        assert claim.message.modem == MODEM and claim.parts_to_send == [0]
    assert claimed == [ids[1], ids[3], ids[4], ids[0], ids[2]]


def test_claim_skips_excluded_recipients_and_expired_rows(queue: Queue, clock: Clock) -> None:
    soon, _ = queue.enqueue(NewMessage(RECIPIENT, "soon", expires_at=clock.now + timedelta(seconds=5), priority=9))
    busy, _ = queue.enqueue(NewMessage("+447700900999", "busy one", priority=5))
    free, _ = queue.enqueue(NewMessage("+447700900111", "free one"))
    clock.advance(timedelta(seconds=5))
    claim = queue.claim(MODEM, exclude_recipients=frozenset({"+447700900999"}))
    assert claim is not None and claim.message.id == free.id
    expired = queue.get(soon.id)
    assert expired is not None and expired.status == Status.EXPIRED
    again = queue.claim(MODEM)
    assert again is not None and again.message.id == busy.id


def test_a_partly_sent_multipart_resumes_on_its_own_modem(queue: Queue, clock: Clock) -> None:
    message, _ = queue.enqueue(NewMessage(RECIPIENT, LONG_TEXT, priority=1))
    other, _ = queue.enqueue(NewMessage(RECIPIENT, "plain"))
    claim = queue.claim("m1")
    assert claim is not None and claim.parts_to_send == [0, 1] and claim.concat_ref is None
    queue.set_concat_ref(message.id, 77)
    queue.part_written(message.id, 0, "m1")
    queue.part_sent(message.id, 0, 5)
    queue.part_written(message.id, 1, "m1")  # then +CMS ERROR: refused, so the caller retries later
    held = queue.retry_later(message.id, "+CMS ERROR: 38", delay=timedelta(seconds=10))
    assert held.pinned_modem == "m1" and held.status == Status.SCHEDULED
    clock.advance(timedelta(seconds=10))
    assert queue.promote_due() == 1
    elsewhere = queue.claim("m2")
    assert elsewhere is not None and elsewhere.message.id == other.id  # m2 may not take the resume
    assert queue.claim("m1", pinned_ok=False) is None
    resume = queue.claim("m1")
    assert resume is not None and resume.message.id == message.id
    assert resume.parts_to_send == [1] and resume.concat_ref == 77 and resume.message.attempts == 2
    with pytest.raises(QueueError):
        queue.part_written(message.id, 0, "m1")  # the accepted part can never be written again
    queue.part_written(message.id, 1, "m1")
    queue.part_sent(message.id, 1, 6)
    sent = queue.mark_sent(message.id)
    assert sent.status == Status.SENT and sent.pinned_modem is None
    assert [(p.part, p.state, p.mr) for p in queue.parts(message.id)] == [(0, "sent", 5), (1, "sent", 6)]


def test_concat_reference_cannot_change_once_parts_went(queue: Queue) -> None:
    message, _ = queue.enqueue(NewMessage(RECIPIENT, LONG_TEXT))
    assert queue.claim(MODEM) is not None
    queue.set_concat_ref(message.id, 1)
    queue.set_concat_ref(message.id, 2)  # nothing sent yet: allowed
    queue.part_written(message.id, 0, MODEM)
    queue.part_sent(message.id, 0, 9)
    queue.set_concat_ref(message.id, 2)  # same value: fine
    with pytest.raises(QueueError):
        queue.set_concat_ref(message.id, 3)


def test_part_marks_need_a_claim_and_order(queue: Queue) -> None:
    message, _ = queue.enqueue(NewMessage(RECIPIENT, "x"))
    with pytest.raises(QueueError):
        queue.part_written(message.id, 0, MODEM)
    assert queue.claim(MODEM) is not None
    with pytest.raises(QueueError):
        queue.part_sent(message.id, 0, 1)  # never marked written
    with pytest.raises(QueueError):
        queue.part_written(message.id, 1, MODEM)  # no such part
    queue.part_written(message.id, 0, MODEM)
    queue.part_sent(message.id, 0, -1)  # accepted, reference unreadable
    assert [(p.state, p.mr) for p in queue.parts(message.id)] == [("sent", None)]


def test_expire_due(queue: Queue, clock: Clock) -> None:
    doomed, _ = queue.enqueue(NewMessage(RECIPIENT, "x", send_at=clock.now + timedelta(hours=1),
                                         expires_at=clock.now + timedelta(hours=2)))
    kept, _ = queue.enqueue(NewMessage(RECIPIENT, "y"))
    clock.advance(timedelta(hours=2))
    assert queue.expire_due() == 1
    assert [queue.counts_by_status()[s] for s in ("expired", "queued")] == [1, 1]
    assert [m.id for m in queue.list_messages(status="expired")] == [doomed.id]
    assert [m.id for m in queue.list_messages(status="queued")] == [kept.id]


def test_list_messages_pages_by_id(queue: Queue, clock: Clock) -> None:
    ids = [queue.enqueue(NewMessage(RECIPIENT if i % 2 else "+447700900999", f"m{i}"))[0].id for i in range(7)]
    clock.advance(timedelta(hours=1))
    newer = queue.enqueue(NewMessage(RECIPIENT, "newer"))[0].id
    page1 = queue.list_messages(limit=3)
    page2 = queue.list_messages(limit=3, after_id=page1[-1].id)
    assert [m.id for m in page1 + page2] == ids[:6]
    assert [m.id for m in queue.list_messages(recipient=RECIPIENT)] == [ids[1], ids[3], ids[5], newer]
    assert [m.id for m in queue.list_messages(since=clock.now)] == [newer]
    assert [m.id for m in queue.list_messages(limit=2, descending=True)] == [newer, ids[6]]
    assert [m.id for m in queue.list_messages(limit=2, descending=True, after_id=ids[6])] == [ids[5], ids[4]]
    claim = queue.claim(MODEM)
    assert claim is not None
    send_all(queue, claim.message.id)
    assert [m.id for m in queue.list_messages(status="sent")] == [ids[0]]
    assert queue.counts_by_status()["queued"] == 7
