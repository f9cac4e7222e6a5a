"""Opening the database, its pragmas, and the one way a write transaction runs.

Durability settings, and why:

- ``journal_mode=WAL``: readers never block the writer, and a commit is one append to the WAL.
- ``synchronous=FULL``: in WAL mode, NORMAL syncs only at checkpoints; it survives a crash of the
  process (the WAL is in the OS cache) but a power cut can lose the last commits, i.e. messages the
  API already acknowledged. A gateway on a Raspberry Pi is unplugged; so each commit fsyncs the WAL
  (the cost is measured in bench/claim_cost.py and tests/queue/test_db.py).
- ``busy_timeout``: another process (an operator's sqlite3 shell, a backup) may hold the lock for a
  moment; wait a bounded time, then answer "unavailable" rather than hang the API.
- ``foreign_keys=ON``: parts and events cannot outlive or precede their message.

Every write runs in ``write_transaction``: ``BEGIN IMMEDIATE`` takes the write lock up front (no
deadlocked upgrade from a read), and any failure, including of the COMMIT itself, rolls back before
the error reaches the caller, so a failed operation has acknowledged nothing.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlite_utils import Database

from gatewayd.queue.errors import DatabaseUnavailable, InvalidMessage, QueueError

LOGGER = logging.getLogger(__name__)

BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another process's lock before DatabaseUnavailable (the API answers 503)."""
PAGE_SIZE = 4096
CACHE_KIB = 512
"""SQLite's page cache for the queue's one connection (its default is 2000 KiB). Its hot pages (the
claim and due indexes, the latest rows) fit; the rest is one read from the OS page cache away, and
the daemon stays within its 50 MB on a Raspberry Pi (bench/RESULTS.md, footprint under load)."""

Synchronous = Literal["FULL", "NORMAL", "OFF"]

# Primary SQLite result codes (the low byte of an extended code) that mean "the database cannot take
# this now", as opposed to a bug in our SQL.
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15
UNAVAILABLE_CODES = frozenset({SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY, SQLITE_IOERR,
                               SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_PROTOCOL})
SQLITE_CONSTRAINT = 19


def open_database(path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT, synchronous: Synchronous = "FULL",
                  max_size_bytes: int | None = None, read_only: bool = False) -> Database:
    """Open (creating if needed) and configure; the connection belongs to the calling thread.

    ``max_size_bytes`` caps the file (``max_page_count``) so a runaway backlog fills the queue, which
    then answers "unavailable", rather than the Pi's root file system. ``read_only`` opens for
    inspection (``gatewayd db check`` beside a running daemon). ``synchronous`` other than FULL is for
    benchmarks only.
    """
    if read_only:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    else:
        conn = sqlite3.connect(str(path))
    conn.isolation_level = None  # we issue BEGIN / COMMIT ourselves; no implicit transactions
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    if not read_only:
        db.enable_wal()
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if max_size_bytes is not None:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {max(1, max_size_bytes // page_size)}")
    return db


def is_unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in UNAVAILABLE_CODES
    text = str(exc).lower()
    return any(s in text for s in ("locked", "disk i/o", "full", "readonly", "unable to open"))


def translate(exc: sqlite3.Error) -> QueueError:
    """The typed error for an sqlite3 exception (callers raise it ``from exc``)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    if is_unavailable(exc):
        return DatabaseUnavailable(f"database unavailable: {exc}", sqlite_error=name)
    if isinstance(exc, sqlite3.IntegrityError):
        return InvalidMessage(f"refused by the schema: {exc}")
    return QueueError(f"database error ({name}): {exc}")


def rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the connection is broken; SQLite undoes the journal on next open
            LOGGER.error("rollback failed: %s", exc)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT; on any failure roll back and raise a typed error."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise translate(exc) from exc
    try:
        yield
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        rollback(conn)
        raise translate(exc) from exc
    except BaseException:
        rollback(conn)
        raise


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A consistent snapshot for a read made of several statements."""
    try:
        conn.execute("BEGIN")
        yield
    except sqlite3.Error as exc:
        rollback(conn)
        raise translate(exc) from exc
    except BaseException:
        rollback(conn)
        raise
    else:
        rollback(conn)  # nothing to commit; ends the snapshot
