"""Queues on real SQLite files in tmp_path, a settable clock, and helpers to reach any state."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport, decode_pdu, encode_deliver, encode_status_report
from gatewayd.queue import Message, NewMessage, Queue, Status

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MODEM = "m1"
RECIPIENT = "+447700900123"
LONG_TEXT = "".join(f"{i:04d} " for i in range(60))  # 300 GSM-7 characters: 2 parts


_PRIORITIES = itertools.count(1)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def open_queue(db_path: Path, clock: Clock) -> Iterator[Callable[..., Queue]]:
    opened: list[Queue] = []

    def factory(**kwargs: object) -> Queue:
        queue = Queue(kwargs.pop("path", db_path), clock=clock, **kwargs)  # type: ignore[arg-type]
        opened.append(queue)
        return queue

    yield factory
    for queue in opened:
        queue.close()


@pytest.fixture
def queue(open_queue: Callable[..., Queue]) -> Queue:
    return open_queue()


def send_all(queue: Queue, message_id: int, modem: str = MODEM, first_mr: int = 10) -> Message:
    """What the dispatcher does for a claimed message when the modem accepts every part."""
    message = queue.get(message_id)
    assert message is not None
    for part in range(message.parts):
        queue.part_written(message_id, part, modem)
        queue.part_sent(message_id, part, first_mr + part)
    return queue.mark_sent(message_id)


def bring_to(queue: Queue, clock: Clock, status: Status, text: str = "hello") -> Message:
    """A fresh message in ``status``, reached through the public API only."""
    if status == Status.SCHEDULED:
        return queue.enqueue(NewMessage(RECIPIENT, text, send_at=clock.now + timedelta(hours=1)))[0]
    if status == Status.EXPIRED:
        message, _ = queue.enqueue(NewMessage(RECIPIENT, text, expires_at=clock.now + timedelta(seconds=1)))
        clock.advance(timedelta(seconds=2))
        assert queue.expire_due() >= 1
        result = queue.get(message.id)
        assert result is not None
        return result
    # The newest message is claimed first (higher priority), whatever earlier tests left queued.
    message, _ = queue.enqueue(NewMessage(RECIPIENT, text, priority=next(_PRIORITIES)))
    if status == Status.QUEUED:
        return message
    if status == Status.CANCELLED:
        return queue.cancel(message.id)
    if status == Status.SUPPRESSED:
        return queue.suppress(message.id, "consent withdrawn")
    claim = queue.claim(MODEM)
    assert claim is not None and claim.message.id == message.id
    if status == Status.SENDING:
        return claim.message
    if status == Status.FAILED:
        return queue.fail(message.id, "barred", code=21)
    if status == Status.UNKNOWN:
        queue.part_written(message.id, 0, MODEM)
        return queue.mark_unknown(message.id, "no answer")
    sent = send_all(queue, message.id)
    if status == Status.SENT:
        return sent
    assert status == Status.DELIVERED
    delivered = queue.record_status_report(MODEM, report(10, RECIPIENT, 0, clock.now), "00")
    assert delivered is not None
    return delivered


def report(mr: int, recipient: str, status: int, when: datetime) -> SmsStatusReport:
    decoded = decode_pdu(encode_status_report(mr, recipient, sc_timestamp=when, discharge_time=when, status=status))
    assert isinstance(decoded, SmsStatusReport)
    return decoded


def deliver_parts(text: str, *, sender: str = "+447700900555", reference: int = 7,
                  when: datetime = START, modem: str = MODEM) -> list[Received]:
    received: list[Received] = []
    for pdu in encode_deliver(sender, text, timestamp=when, concat_reference=reference):
        message = decode_pdu(pdu)
        assert isinstance(message, SmsDeliver)
        received.append(Received(modem, pdu, message, "SM", len(received)))
    return received
