"""Whether the database takes writes, for ``/healthz`` and ``/metrics``: a full disk must show there.

Reads go on when the disk is full (the page renders, ``counts_by_status`` answers), so a read cannot tell;
the writes can. Every write the storage refused (full, I/O error, read-only file system) marks the queue
unwritable; only a write known to need space clears the mark (:func:`probe`, which ``/healthz`` and
``/metrics`` run while the mark is set), because a write with nothing to store (a claim that found no
message) commits even on a full disk. A lock held by another process is not a storage failure: it passes
by itself, and its 503 says so already.
"""

from __future__ import annotations

import logging
import threading

from gatewayd.queue.errors import DatabaseUnavailable
from gatewayd.queue.tx import Tx

LOGGER = logging.getLogger(__name__)

PROBE_SAVEPOINT = "gatewayd_space_probe"
"""The savepoint, and the table created and rolled back in it, of :func:`probe`."""
TRANSIENT_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")
"""SQLite error names (and their extended codes) of a lock held elsewhere, not of the storage."""


def is_storage_failure(error: DatabaseUnavailable) -> bool:
    name = error.sqlite_error or ""
    if name.startswith("SQLITE_"):
        return not name.startswith(TRANSIENT_ERRORS)
    return "locked" not in str(error).lower()


class WriteHealth:
    """The last storage failure of a queue's writes, until a probe write succeeds; thread-safe."""

    def __init__(self, *, tracked: bool = True) -> None:
        """``tracked`` False (a queue opened read-only, for inspection): never unwritable, it is not meant to write."""
        self._tracked = tracked
        self._lock = threading.Lock()
        self._error: str | None = None

    @property
    def error(self) -> str | None:
        """Why the last write failed, while no probe has succeeded since; None: writable."""
        with self._lock:
            return self._error

    def failed(self, error: DatabaseUnavailable) -> None:
        if not self._tracked or not is_storage_failure(error):
            return
        with self._lock:
            first, self._error = self._error is None, str(error)
        if first:
            LOGGER.error("queue: the database cannot store writes (%s): the API answers 503 until it can", error)

    def probe_succeeded(self) -> None:
        with self._lock:
            was, self._error = self._error, None
        if was is not None:
            LOGGER.warning("queue: the database stores writes again")


def probe(tx: Tx) -> None:
    """A write that needs space and stores nothing: a new page for the database file (in a savepoint rolled
    back: the file can grow, or has free pages) and the header page rewritten (user_version, to the value
    it has) so that the commit appends to the write-ahead log."""
    page_size = int(tx.scalar("PRAGMA page_size"))
    tx.run(f"SAVEPOINT {PROBE_SAVEPOINT}")
    try:
        tx.run(f"CREATE TABLE {PROBE_SAVEPOINT} (filler BLOB)")
        tx.run(f"INSERT INTO {PROBE_SAVEPOINT} VALUES (zeroblob(?))", (page_size,))
    finally:
        if tx.conn.in_transaction:  # SQLite may have rolled the whole transaction back (SQLITE_FULL)
            tx.run(f"ROLLBACK TO {PROBE_SAVEPOINT}")
            tx.run(f"RELEASE {PROBE_SAVEPOINT}")
    version = int(tx.scalar("PRAGMA user_version"))
    tx.run(f"PRAGMA user_version = {version}")
