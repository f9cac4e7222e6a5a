"""Group commit: writes waiting together share one COMMIT, yet each succeeds or fails on its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd.queue import InvalidMessage, NewMessage, Queue
from gatewayd.queue.tx import Tx

WRITERS = 24


def test_concurrent_writes_are_each_answered_after_one_shared_commit(queue: Queue, db_path: Path) -> None:
    """A gate holds the database thread until every writer is queued, so they must form groups; each
    gets its own answer, the bad one alone fails, and every good row is durable (a second
    connection reads it)."""
    sizes: list[int] = []
    group_fn = queue._run_writes

    def recording(db: object, ops: list[Callable[[Tx], object]]) -> list[tuple[bool, object]]:
        sizes.append(len(ops))
        return group_fn(db, ops)  # type: ignore[arg-type]

    queue._worker._group_fn = recording
    gate = threading.Event()
    blocker = threading.Thread(target=lambda: queue._worker.call(lambda _db: gate.wait(10)))
    blocker.start()
    results: dict[int, object] = {}

    def write(index: int) -> None:
        text = "" if index == 7 else f"message {index}"  # empty text: refused by the queue
        try:
            results[index] = queue.enqueue(NewMessage("+447911123456", text))[0].id
        except InvalidMessage as exc:
            results[index] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    while queue._worker._jobs.qsize() < WRITERS:  # every writer is waiting behind the blocker
        threading.Event().wait(0.01)
    gate.set()
    for thread in [blocker, *threads]:
        thread.join(10)
    assert sizes == [WRITERS], sizes  # all queued behind the blocker: one transaction, one COMMIT
    assert isinstance(results[7], InvalidMessage)
    ids = [value for index, value in sorted(results.items()) if index != 7]
    assert len(set(ids)) == WRITERS - 1
    with Queue(db_path, read_only=True) as other:
        assert sorted(m.id for m in other.list_messages(limit=100)) == sorted(ids)  # type: ignore[type-var]


def test_a_failing_write_in_a_group_rolls_back_only_its_own_changes(queue: Queue) -> None:
    def half_then_fail(tx: Tx) -> None:
        tx.run("INSERT INTO operators (username, password_hash, created_at, updated_at) VALUES ('x', 'h', 'a', 'a')")
        raise RuntimeError("changed my mind")

    gate = threading.Event()
    blocker = threading.Thread(target=lambda: queue._worker.call(lambda _db: gate.wait(10)))
    blocker.start()
    outcome: list[object] = []
    failing = threading.Thread(target=lambda: outcome.append(_catch(lambda: queue._write(half_then_fail))))
    good = threading.Thread(target=lambda: outcome.append(queue.set_operator("ana", "hash")))
    failing.start()
    good.start()
    gate.set()
    for thread in (blocker, failing, good):
        thread.join(10)
    assert any(isinstance(o, RuntimeError) for o in outcome) and True in outcome
    assert queue.operator_hash("x") is None
    assert queue.operator_hash("ana") == "hash"


def _catch(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception as exc:
        return exc


def test_a_write_outside_a_group_still_works_after_a_failed_one(queue: Queue) -> None:
    with pytest.raises(InvalidMessage):
        queue.enqueue(NewMessage("+447911123456", ""))
    message, created = queue.enqueue(NewMessage("+447911123456", "after"))
    assert created and queue.get(message.id) == message
