"""Inbound parts: stored once, joined once, in any order; UCS2 emoji across parts; expiry."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver
from gatewayd.queue import InvalidMessage, Queue
from tests.queue.conftest import MODEM, Clock, deliver_parts, report

TEXT = "".join(f"{i:04d} " for i in range(90))  # 450 characters: 3 parts


def _count(db_path: Path, table: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_single_part_message_once(queue: Queue, db_path: Path) -> None:
    [part] = deliver_parts("hi there")
    whole = queue.record_inbound(part)
    assert whole is not None and whole.text == "hi there" and whole.complete and whole.parts == 1
    assert whole.pdus == (part.pdu,) and whole.modem == MODEM and whole.sender == "+447700900555"
    assert queue.record_inbound(part) is None  # the same PDU read again after a crash
    assert queue.record_inbound(replace(part, storage=None, index=None)) is None  # and via +CMT
    assert _count(db_path, "inbox") == 1 and queue.get_inbound(whole.id) == whole


def test_any_order_with_duplicates_completes_exactly_once(queue: Queue, db_path: Path) -> None:
    for reference, permutation in enumerate(itertools.permutations(deliver_parts(TEXT))):
        order = tuple(replace(p, message=replace(p.message, concat=replace(p.message.concat, reference=reference)))
                      for p in permutation if isinstance(p.message, SmsDeliver) and p.message.concat)
        results = []
        for part in order:
            results.append(queue.record_inbound(part))
            results.append(queue.record_inbound(part))
        done = [r for r in results if r is not None]
        assert len(done) == 1 and done[0].text == TEXT and done[0].complete and done[0].parts == 3
    assert _count(db_path, "inbox") == 6 and _count(db_path, "inbox_parts") == 18
    assert [m.text for m in queue.list_inbound(limit=2)] == [TEXT, TEXT]


def test_ucs2_emoji_split_across_parts_is_rejoined(queue: Queue) -> None:
    first, second = deliver_parts("ж" * 67 + "x" * 10)
    assert isinstance(first.message, SmsDeliver) and isinstance(second.message, SmsDeliver)
    emoji = "😀".encode("utf-16-be")
    one, two = first.message, second.message
    first = replace(first, message=replace(one, data=one.data[:-2] + emoji[:2], text=one.text[:-1] + "\ufffd"))
    second = replace(second, message=replace(two, data=emoji[2:] + two.data, text="\ufffd" + two.text))
    assert queue.record_inbound(second) is None
    whole = queue.record_inbound(first)
    assert whole is not None and whole.text == "ж" * 66 + "😀" + "x" * 10 and whole.encoding == "ucs2"


def test_the_same_content_on_two_modems_is_two_messages(queue: Queue) -> None:
    [on_m1] = deliver_parts("hello", modem="m1")
    [on_m2] = deliver_parts("hello", modem="m2")
    assert queue.record_inbound(on_m1) is not None and queue.record_inbound(on_m2) is not None


def test_a_reused_reference_after_completion_starts_a_new_group(queue: Queue) -> None:
    for part in deliver_parts(TEXT)[:-1]:
        queue.record_inbound(part)
    assert queue.record_inbound(deliver_parts(TEXT)[-1]) is not None
    other = TEXT.replace("0", "9")
    results = [queue.record_inbound(p) for p in deliver_parts(other)]
    assert results[:2] == [None, None] and results[2] is not None and results[2].text == other


def test_incomplete_groups_expire_with_what_they_have(queue: Queue, clock: Clock) -> None:
    first, _, third = deliver_parts(TEXT)
    queue.record_inbound(first)
    queue.record_inbound(third)
    clock.advance(timedelta(hours=1))
    [young] = deliver_parts(TEXT, reference=99)[:1]
    queue.record_inbound(young)
    assert queue.expire_inbound_groups(timedelta(hours=2)) == []
    clock.advance(timedelta(minutes=61))
    [expired] = queue.expire_inbound_groups(timedelta(hours=2))
    assert not expired.complete and (expired.parts, expired.parts_expected) == (2, 3)
    assert isinstance(first.message, SmsDeliver) and isinstance(third.message, SmsDeliver)
    assert expired.text == first.message.text + third.message.text
    assert queue.expire_inbound_groups(timedelta(hours=2)) == []
    assert queue.record_inbound(first) is None  # a late duplicate does not reopen it


def test_only_sms_deliver_is_recorded(queue: Queue, clock: Clock) -> None:
    with pytest.raises(InvalidMessage):
        queue.record_inbound(Received(MODEM, "00", report(1, "+1", 0, clock.now)))
    with pytest.raises(InvalidMessage):
        queue.record_inbound(Received(MODEM, "zz", None, error="undecodable"))
