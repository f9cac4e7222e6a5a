"""enqueue_many (set-based) stores exactly what one enqueue per item would: rows, events, order, ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayd.queue import NewMessage, Queue
from tests.queue.conftest import LONG_TEXT, MODEM, Clock, send_all

ITEMS = [NewMessage("+447911123456", "plain"), NewMessage("+447911123457", LONG_TEXT, client="crm"),
         NewMessage("+447911123458", "later", message_class="marketing", priority=3,
                    metadata={"campaign": "x"}),
         NewMessage("+447911123459", "Привет")]


def snapshot(queue: Queue) -> list[tuple[object, ...]]:
    out = []
    for message in queue.list_messages(limit=100):
        events = [(e.kind, e.from_status, e.to_status, e.reason, e.detail) for e in queue.events(message.id)]
        out.append((message, events))
    return out


def test_a_batch_equals_one_enqueue_per_item(open_queue: Callable[..., Queue], tmp_path: Path,
                                             clock: Clock) -> None:
    batch = open_queue(path=tmp_path / "batch.db")
    single = open_queue(path=tmp_path / "single.db")
    scheduled = [*ITEMS, NewMessage("+447911123460", "tomorrow", send_at=clock.now + timedelta(days=1))]
    answered = batch.enqueue_many(scheduled)
    for item in scheduled:
        single.enqueue(item)
    assert [created for _, created in answered] == [True] * len(scheduled)
    assert [m.id for m, _ in answered] == [1, 2, 3, 4, 5]
    # The answer is built from what was written, not read back: it must equal a read.
    assert [m for m, _ in answered] == [batch.get(m.id) for m, _ in answered]
    assert snapshot(batch) == snapshot(single)
    assert batch.check().counts_consistent


def test_ids_never_reuse_a_purged_id(queue: Queue, clock: Clock) -> None:
    first, _ = queue.enqueue(NewMessage("+447911123456", "old"))
    assert queue.claim(MODEM) is not None
    send_all(queue, first.id)
    clock.advance(timedelta(days=100))
    assert queue.purge(messages_older_than=timedelta(days=30), inbox_older_than=timedelta(days=30))["messages"] == 1
    answered = queue.enqueue_many(ITEMS[:2])
    assert [m.id for m, _ in answered] == [2, 3]


def test_a_batch_with_keys_is_idempotent(queue: Queue) -> None:
    keyed = [NewMessage(f"+44791112345{i}", f"m{i}", idempotency_key=f"k{i}") for i in range(3)]
    first = queue.enqueue_many(keyed)
    again = queue.enqueue_many(keyed)
    assert [created for _, created in again] == [False] * 3
    assert [m.id for m, _ in again] == [m.id for m, _ in first]


def test_since_is_exact_even_after_a_clock_step_back(queue: Queue, clock: Clock) -> None:
    """``since`` uses an id bound for speed; a clock stepped back (NTP late on a Pi) must not fool it."""
    start = clock.now
    first, _ = queue.enqueue(NewMessage("+447911123456", "at T"))
    clock.now = start - timedelta(hours=2)  # the clock is corrected backwards
    second, _ = queue.enqueue(NewMessage("+447911123456", "at T-2h"))
    assert [m.id for m in queue.list_messages(since=start - timedelta(hours=1))] == [first.id]
    assert [m.id for m in queue.list_messages(since=start - timedelta(hours=3))] == [first.id, second.id]
    assert queue.list_messages(since=start + timedelta(hours=1)) == []
    assert [m.id for m in queue.list_messages(since=start - timedelta(hours=3), client="")] == [first.id, second.id]


_TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
_METADATA = st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=10) | st.integers(-10**6, 10**6),
                                        max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_TEXTS, _METADATA), min_size=1, max_size=8))
def test_any_text_and_metadata_are_stored_exactly(queue: Queue, batch: list[tuple[str, dict | None]]) -> None:
    """Including NUL and other control characters (SQLite's JSON functions would cut a text at NUL)."""
    items = [NewMessage("+447911123456", text, metadata=metadata) for text, metadata in batch]
    answered = queue.enqueue_many(items)
    stored = [queue.get(message.id) for message, _ in answered]
    assert [(m.text, m.metadata) for m in stored] == [(text, meta) for text, meta in batch]  # type: ignore[union-attr]
    assert [m for m, _ in answered] == stored


def test_a_text_with_nul_is_stored_whole(queue: Queue) -> None:
    answered = queue.enqueue_many([NewMessage("+447911123456", "a\x00b"), NewMessage("+447911123457", "plain")])
    assert [queue.get(m.id).text for m, _ in answered] == ["a\x00b", "plain"]  # type: ignore[union-attr]
