"""Every operation from every state: the legal ones move and write one event; the others raise
IllegalTransition and change nothing (row and history)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from gatewayd.queue import TRANSITIONS, IllegalTransition, Message, NotFound, Queue, Status
from tests.queue.conftest import MODEM, Clock, bring_to

Operation = Callable[[Queue, Message, Clock], Message]


def _mark_sent(queue: Queue, message: Message, clock: Clock) -> Message:
    if message.status == Status.SENDING:  # the legal way: every part accepted first
        queue.part_written(message.id, 0, MODEM)
        queue.part_sent(message.id, 0, 1)
    return queue.mark_sent(message.id)


# operation -> (states it is legal from, the state it leads to)
OPERATIONS: dict[str, tuple[Operation, frozenset[Status], Status]] = {
    "cancel": (lambda q, m, c: q.cancel(m.id), frozenset({Status.QUEUED, Status.SCHEDULED}), Status.CANCELLED),
    "retry": (lambda q, m, c: q.retry(m.id), frozenset({Status.UNKNOWN, Status.FAILED}), Status.QUEUED),
    "suppress": (lambda q, m, c: q.suppress(m.id, "stop"), frozenset({Status.QUEUED, Status.SENDING}),
                 Status.SUPPRESSED),
    "hold": (lambda q, m, c: q.hold(m.id, "quiet hours", c.now + timedelta(hours=8)),
             frozenset({Status.QUEUED, Status.SENDING}), Status.SCHEDULED),
    "retry_later": (lambda q, m, c: q.retry_later(m.id, "no network", delay=timedelta(seconds=30)),
                    frozenset({Status.SENDING}), Status.SCHEDULED),
    "mark_unknown": (lambda q, m, c: q.mark_unknown(m.id, "timeout"), frozenset({Status.SENDING}), Status.UNKNOWN),
    "mark_sent": (_mark_sent, frozenset({Status.SENDING}), Status.SENT),
    "fail": (lambda q, m, c: q.fail(m.id, "refused", code=21),
             frozenset({Status.QUEUED, Status.SCHEDULED, Status.SENDING, Status.SENT, Status.UNKNOWN}), Status.FAILED),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_from_every_state(name: str, queue: Queue, clock: Clock) -> None:
    operation, legal_from, target = OPERATIONS[name]
    for status in Status:
        message = bring_to(queue, clock, status)
        history = queue.events(message.id)
        if status in legal_from:
            changed = operation(queue, message, clock)
            assert changed.status == target, (name, status)
            assert queue.get(message.id) == changed
            last = queue.events(message.id)[-1]
            assert (last.from_status, last.to_status) == (status, target)
        else:
            with pytest.raises(IllegalTransition):
                operation(queue, message, clock)
            assert queue.get(message.id) == message, (name, status)
            assert queue.events(message.id) == history
    assert queue.check().counts_consistent


def test_the_table_is_the_specification() -> None:
    legal = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert legal == {
        ("queued", "sending"), ("queued", "scheduled"), ("queued", "cancelled"), ("queued", "expired"),
        ("queued", "suppressed"), ("queued", "failed"),
        ("scheduled", "queued"), ("scheduled", "cancelled"), ("scheduled", "expired"), ("scheduled", "failed"),
        ("scheduled", "suppressed"),
        ("sending", "sent"), ("sending", "scheduled"), ("sending", "failed"), ("sending", "unknown"),
        ("sending", "suppressed"), ("sending", "queued"),
        ("sent", "delivered"), ("sent", "failed"),
        ("unknown", "queued"), ("unknown", "failed"),
        ("failed", "queued"),
    }
    for final in (Status.DELIVERED, Status.EXPIRED, Status.CANCELLED, Status.SUPPRESSED):
        assert not TRANSITIONS[final]


def test_every_change_writes_exactly_one_event(queue: Queue, clock: Clock) -> None:
    message = bring_to(queue, clock, Status.DELIVERED)
    path = [(e.from_status, e.to_status) for e in queue.events(message.id) if e.kind == "status"]
    assert path == [(None, "queued"), ("queued", "sending"), ("sending", "sent"), ("sent", "delivered")]


def test_unknown_message_is_not_found(queue: Queue) -> None:
    with pytest.raises(NotFound):
        queue.cancel(12345)
    assert queue.get(12345) is None and queue.events(12345) == []


def test_policy_cannot_undo_a_written_pdu(queue: Queue, clock: Clock) -> None:
    message = bring_to(queue, clock, Status.SENDING)
    queue.part_written(message.id, 0, MODEM)
    acts: list[Callable[[], Message]] = [
        lambda: queue.suppress(message.id, "stop"),
        lambda: queue.hold(message.id, "quiet", clock.now + timedelta(hours=1)),
        lambda: queue.mark_sent(message.id),
    ]
    for act in acts:
        with pytest.raises(IllegalTransition):
            act()
    assert queue.get(message.id) == message


def test_hold_from_sending_does_not_count_as_an_attempt(queue: Queue, clock: Clock) -> None:
    message = bring_to(queue, clock, Status.SENDING)
    assert message.attempts == 1
    held = queue.hold(message.id, "quiet hours", clock.now + timedelta(hours=8))
    assert held.attempts == 0 and held.due_at == clock.now + timedelta(hours=8)
    assert queue.next_due() == held.due_at


def test_operator_retry_resets_attempts_and_written_parts(queue: Queue, clock: Clock) -> None:
    message = bring_to(queue, clock, Status.UNKNOWN)
    assert [p.state for p in queue.parts(message.id)] == ["written"]
    retried = queue.retry(message.id)
    assert retried.attempts == 0 and retried.status == Status.QUEUED
    claim = queue.claim(MODEM)
    assert claim is not None and claim.parts_to_send == [0]
