"""Reassembly: any order, duplicates, separation of groups, expiry."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gatewayd.modem.pdu import SmsDeliver, decode_pdu, encode_deliver
from gatewayd.modem.reassembly import Reassembler
from tests.codec.test_vectors import MM_MULTI1, MM_MULTI2, MM_MULTI_TEXT1, MM_MULTI_TEXT2

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = WHEN

    def __call__(self) -> datetime:
        return self.now


def parts(
    text: str, sender: str = "+15550001", reference: int = 7, concat_16bit: bool = False
) -> list[SmsDeliver]:
    out = []
    pdus = encode_deliver(sender, text, timestamp=WHEN, concat_reference=reference, concat_16bit=concat_16bit)
    for pdu in pdus:
        msg = decode_pdu(pdu)
        assert isinstance(msg, SmsDeliver)
        out.append(msg)
    return out


TEXT = "".join(f"{i:04d} " for i in range(100))  # 500 characters: 4 parts


def test_published_two_part_message_in_both_orders() -> None:
    one, two = decode_pdu(MM_MULTI1), decode_pdu(MM_MULTI2)
    assert isinstance(one, SmsDeliver) and isinstance(two, SmsDeliver)
    for order in ([one, two], [two, one]):
        reassembler = Reassembler()
        assert reassembler.add(order[0]) is None
        message = reassembler.add(order[1])
        assert message is not None and message.complete
        assert message.text == MM_MULTI_TEXT1 + MM_MULTI_TEXT2
        assert message.timestamp == one.timestamp and message.parts == (one, two)


def test_every_order_with_duplicates() -> None:
    pieces = parts(TEXT)
    assert len(pieces) == 4
    for order in itertools.permutations(pieces):
        reassembler = Reassembler()
        results = []
        for piece in order:
            results.append(reassembler.add(piece))
            results.append(reassembler.add(piece))  # duplicate: ignored
        done = [r for r in results if r is not None]
        assert len(done) == 1 and done[0].text == TEXT and done[0].complete
        assert reassembler.pending() == 0


def test_single_part_returns_at_once() -> None:
    (only,) = parts("short")
    message = Reassembler().add(only)
    assert message is not None and message.text == "short" and message.parts == (only,)


def test_groups_are_separated_by_key_sender_reference_and_width() -> None:
    reassembler = Reassembler()
    a = parts(TEXT)
    others = [parts(TEXT, sender="+15550002"), parts(TEXT, reference=8), parts(TEXT, concat_16bit=True)]
    for group in [a, *others]:
        assert reassembler.add(group[0]) is None
    assert reassembler.add(a[1], key="other-modem") is None
    assert reassembler.pending() == 5
    for piece in a[1:]:
        result = reassembler.add(piece)
    assert result is not None and result.text == TEXT
    assert reassembler.pending() == 4


def test_expiry_returns_incomplete_text_in_order() -> None:
    clock = FakeClock()
    reassembler = Reassembler(max_age=timedelta(hours=1), clock=clock)
    pieces = parts(TEXT)
    reassembler.add(pieces[2])
    reassembler.add(pieces[0])
    clock.now += timedelta(minutes=59)
    assert reassembler.expire() == []
    clock.now += timedelta(minutes=2)
    (expired,) = reassembler.expire()
    assert not expired.complete
    assert expired.text == pieces[0].text + pieces[2].text
    assert expired.parts == (pieces[0], pieces[2])
    assert reassembler.pending() == 0 and reassembler.expire() == []


def test_surrogate_pair_split_across_parts_is_rejoined() -> None:
    # Some phones cut UCS2 parts by code unit, splitting an emoji. Rejoin from the raw octets.
    first, second = parts("ж" * 67 + "x" * 10)
    emoji = "😀".encode("utf-16-be")
    first = replace(first, data=first.data[:-2] + emoji[:2], text=first.text[:-1] + "\ufffd")
    second = replace(second, data=emoji[2:] + second.data, text="\ufffd" + second.text)
    reassembler = Reassembler()
    reassembler.add(first)
    message = reassembler.add(second)
    assert message is not None and message.text == "ж" * 66 + "😀" + "x" * 10


def test_redelivery_after_completion_is_dropped_until_max_age() -> None:
    clock = FakeClock()
    reassembler = Reassembler(max_age=timedelta(hours=1), clock=clock)
    pieces = parts(TEXT)
    results = [reassembler.add(p) for p in pieces]
    assert results[-1] is not None
    assert reassembler.add(pieces[0]) is None and reassembler.pending() == 0  # same part again
    new = parts(TEXT.replace("0", "9"))  # same sender and reference, different content: a new message
    assert reassembler.add(new[0]) is None and reassembler.pending() == 1
    clock.now += timedelta(hours=2)
    reassembler.expire()
    assert reassembler.add(pieces[0]) is None and reassembler.pending() == 1  # remembered no longer


def test_flush_hands_back_incomplete_groups_at_once() -> None:
    pdus = encode_deliver("+447700900123", "x" * 400, timestamp=WHEN, concat_reference=9)
    reassembler = Reassembler()
    first = decode_pdu(pdus[0])
    assert isinstance(first, SmsDeliver)
    assert reassembler.add(first) is None
    flushed = reassembler.flush()
    assert [(m.complete, len(m.parts), m.text) for m in flushed] == [(False, 1, "x" * 153)]
    assert reassembler.pending() == 0 and reassembler.flush() == []
