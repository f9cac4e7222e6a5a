"""The database itself: pragmas, schema version, check(), and failures that must acknowledge nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd.queue import DatabaseUnavailable, NewMessage, Queue, QueueClosed, QueueError, Status, outbox
from gatewayd.queue.db import open_database, write_transaction
from gatewayd.queue.migrations import SCHEMA_VERSION
from tests.queue.conftest import RECIPIENT, Clock, bring_to


def _raw(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(db_path, isolation_level=None)


def test_check_reports_a_healthy_durable_database(queue: Queue, clock: Clock, db_path: Path) -> None:
    for status in Status:
        bring_to(queue, clock, status)
    report = queue.check()
    assert report.ok, report
    assert (report.schema_version, report.journal_mode, report.synchronous) == (SCHEMA_VERSION, "wal", "full")
    assert report.integrity == ["ok"] and report.foreign_key_violations == 0 and report.size_bytes > 0
    assert report.counts == {status.value: 1 for status in Status}
    assert queue.counts_by_status() == report.counts


def test_check_notices_counts_out_of_step(queue: Queue, db_path: Path) -> None:
    queue.enqueue(NewMessage(RECIPIENT, "x"))
    with _raw(db_path) as conn:
        conn.execute("UPDATE message_counts SET n = 5 WHERE status = 'queued'")
    report = queue.check()
    assert not report.counts_consistent and not report.ok


def test_migrations_apply_once_and_a_newer_database_is_refused(open_queue: Callable[..., Queue],
                                                               db_path: Path) -> None:
    open_queue().close()
    open_queue().close()  # reopening applies nothing twice
    with _raw(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
        assert names == ["0001_initial", "0002_trust", "0003_surface"]
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                     " VALUES ('gatewayd.queue', '0099_from_the_future', 'x')")
    with pytest.raises(QueueError, match="newer"):
        open_queue()


def test_a_version_1_database_is_upgraded_with_its_messages_kept(open_queue: Callable[..., Queue],
                                                                 db_path: Path) -> None:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from gatewayd.queue.migrations import MIGRATION_SET, m0001_initial

    first_release = Migrations(MIGRATION_SET)
    first_release(name="0001_initial")(m0001_initial)
    db = Database(db_path)
    first_release.apply(db)
    db.execute("INSERT INTO messages (recipient, text, parts, encoding, status, created_at, updated_at)"
                " VALUES ('+447911123456', 'from version 1', 1, 'gsm7', 'queued', '2026-01-01T00:00:00.000000Z',"
               " '2026-01-01T00:00:00.000000Z')")
    db.conn.commit()
    db.close()

    queue = open_queue()
    assert queue.check().schema_version == SCHEMA_VERSION == 3
    (message,) = queue.list_messages()
    assert (message.text, message.status) == ("from version 1", "queued")
    assert queue.contact("+447911123456") is None


def test_events_are_append_only(queue: Queue, db_path: Path) -> None:
    queue.enqueue(NewMessage(RECIPIENT, "x"))
    with _raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET reason = 'rewritten'")


def test_a_locked_database_is_unavailable_and_nothing_is_half_written(open_queue: Callable[..., Queue],
                                                                      db_path: Path) -> None:
    queue = open_queue(busy_timeout=0.05)
    queue.enqueue(NewMessage(RECIPIENT, "before"))
    blocker = _raw(db_path)
    blocker.execute("BEGIN IMMEDIATE")  # e.g. an operator's sqlite3 shell in the middle of a write
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            queue.enqueue(NewMessage(RECIPIENT, "during"))
        assert caught.value.sqlite_error == "SQLITE_BUSY"
        assert queue.get(1) is not None  # reads still work (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    queue.enqueue(NewMessage(RECIPIENT, "after"))
    assert [m.text for m in queue.list_messages()] == ["before", "after"]
    assert queue.check().ok


def test_a_full_database_is_unavailable_and_keeps_every_acknowledged_message(
        open_queue: Callable[..., Queue]) -> None:
    queue = open_queue(max_size_bytes=400_000)
    accepted = []
    with pytest.raises(DatabaseUnavailable) as caught:
        for i in range(10_000):
            accepted.append(queue.enqueue(NewMessage(RECIPIENT, f"{i:05d} " + "x" * 150))[0].id)
    assert caught.value.sqlite_error == "SQLITE_FULL"
    assert len(accepted) > 10
    assert [m.id for m in queue.list_messages(limit=len(accepted) + 10)] == accepted
    report = queue.check()
    assert report.ok and report.counts == {"queued": len(accepted)}
    assert all(len(queue.events(mid)) == 1 for mid in accepted[-3:])


def test_a_read_only_database_refuses_writes(open_queue: Callable[..., Queue]) -> None:
    open_queue().enqueue(NewMessage(RECIPIENT, "x"))
    reader = open_queue(read_only=True)
    with pytest.raises(DatabaseUnavailable) as caught:
        reader.enqueue(NewMessage(RECIPIENT, "y"))
    assert caught.value.sqlite_error == "SQLITE_READONLY"
    assert reader.counts_by_status()["queued"] == 1


def test_a_failed_commit_rolls_back(tmp_path: Path) -> None:
    # A deferred foreign key fails at COMMIT itself: the rows written before must not stay.
    db = open_database(tmp_path / "t.db")
    conn = db.conn
    conn.executescript("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                       "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER"
                       " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);")
    with pytest.raises(QueueError), write_transaction(conn):
        conn.execute("INSERT INTO parent (id) VALUES (1)")
        conn.execute("INSERT INTO child (id, parent) VALUES (1, 2)")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM parent").fetchone()[0] == 0
    db.close()


def test_a_closed_queue_refuses_work(open_queue: Callable[..., Queue]) -> None:
    queue = open_queue()
    queue.close()
    queue.close()
    with pytest.raises(QueueClosed):
        queue.enqueue(NewMessage(RECIPIENT, "x"))


def test_the_clock_must_be_aware(open_queue: Callable[..., Queue], clock: Clock) -> None:
    queue = open_queue()
    clock.now = clock.now.replace(tzinfo=None)
    with pytest.raises(QueueError):
        queue.enqueue(NewMessage(RECIPIENT, "x"))


@pytest.mark.parametrize(("sql", "params", "index"), [
    (outbox.CLAIM_SQL.format(pin="pinned_modem IS NULL", route="", sticky=""), {"excluded": "[]"},
     "messages_claimable"),
    (outbox.CLAIM_SQL.format(pin="pinned_modem IS NULL", route=outbox.ROUTE_SQL, sticky=outbox.STICKY_SQL),
     {"excluded": "[]", "prefixes": '["+44"]', "modem": "m1", "available": '["m2"]'}, "messages_claimable"),
    (outbox.DUE_SQL, ("x", 5), "messages_due"),
    (outbox.NEXT_DUE_SQL, (), "messages_due"),
    (outbox.EXPIRING_SQL, ("x", 5), "messages_expiring"),
    ("SELECT * FROM messages WHERE status = 'sent' AND id > 5 ORDER BY id LIMIT 5", (), "messages_status"),
    ("SELECT * FROM messages WHERE recipient = '+1' ORDER BY id LIMIT 5", (), "messages_recipient"),
])
def test_claim_time_driven_and_listing_queries_use_their_index(queue: Queue, db_path: Path, sql: str,
                                                               params: object, index: str) -> None:
    with _raw(db_path) as conn:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))  # type: ignore[arg-type]
    assert f"INDEX {index}" in plan, plan
    # Walking the (partial) index in order is the point; scanning the table or sorting is not.
    assert "SCAN messages" not in plan.replace(f"SCAN messages USING INDEX {index}", ""), plan
    assert "TEMP B-TREE" not in plan, plan
