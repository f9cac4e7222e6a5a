"""A database that cannot grow (SQLITE_FULL): 503 for writes, /healthz and /metrics say it, and both see
it end once space is freed. The daemon under a full disk is tests/faults/test_clock_and_disk.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewayd.owner import ModemSnapshot
from gatewayd.queue import DatabaseUnavailable, NewMessage, Queue
from gatewayd.queue.writable import WriteHealth, is_storage_failure
from tests.web.conftest import AUTH, VALID, clock, error_of, make_app
from web.errors import RETRY_AFTER_SECONDS

FILLER = "x" * 150


@pytest.fixture
def full_queue(db_path: Path) -> Iterator[Queue]:
    """A queue whose file may not grow past its size once filled up (``max_size_bytes``)."""
    Queue(db_path, clock=clock).close()
    with Queue(db_path, clock=clock, max_size_bytes=db_path.stat().st_size + 64 * 1024) as queue:
        with pytest.raises(DatabaseUnavailable):
            for index in range(10_000):
                queue.enqueue(NewMessage(f"+4479111{index:05d}", FILLER))
        yield queue


def _free_space(db_path: Path) -> None:
    """What an operator does: another connection deletes rows, their pages go to the free list."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("DELETE FROM events")
    finally:
        conn.close()


def test_full_database_is_503_unwritable_on_healthz_and_metrics_until_space_returns(
        full_queue: Queue, db_path: Path, snapshots: list[ModemSnapshot]) -> None:
    client = make_app(full_queue, snapshots).test_client()
    stored = sum(full_queue.counts_by_status().values())
    post = client.post("/api/v1/messages", json=VALID, headers=AUTH)
    assert (post.status_code, error_of(post)["code"]) == (503, "database_unavailable")
    assert post.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert sum(full_queue.counts_by_status().values()) == stored
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()["database"]) == (503, "unwritable")
    assert "full" in health.get_json()["reason"]
    assert "gatewayd_database_writable 0.0" in client.get("/metrics").get_data(as_text=True)

    _free_space(db_path)
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()["database"]) == (200, "ok")
    assert "gatewayd_database_writable 1.0" in client.get("/metrics").get_data(as_text=True)
    assert client.post("/api/v1/messages", json=VALID, headers=AUTH).status_code == 202


def test_an_untranslated_sqlite_error_is_503_not_500(queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    app = make_app(queue, snapshots)

    @app.get("/api/v1/test-raw-sqlite-error")
    def raw() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    answer = app.test_client().get("/api/v1/test-raw-sqlite-error", headers=AUTH)
    assert (answer.status_code, error_of(answer)["code"]) == (503, "database_unavailable")


@pytest.mark.parametrize(("name", "storage"), [("SQLITE_FULL", True), ("SQLITE_IOERR_WRITE", True),
                                               ("SQLITE_READONLY", True), ("SQLITE_BUSY", False),
                                               ("SQLITE_BUSY_SNAPSHOT", False), ("SQLITE_LOCKED", False)])
def test_a_lock_is_not_a_storage_failure(name: str, storage: bool) -> None:
    error = DatabaseUnavailable(f"database unavailable ({name})", sqlite_error=name)
    assert is_storage_failure(error) is storage
    health = WriteHealth()
    health.failed(error)
    assert (health.error is not None) is storage
    inspection = WriteHealth(tracked=False)  # a queue opened read-only is not "unwritable"
    inspection.failed(error)
    assert inspection.error is None
