"""``gatewayd db check``: is this database what this gatewayd expects, intact and durable?"""

from __future__ import annotations

from gatewayd.queue.migrations import MIGRATION_SET, SCHEMA_VERSION
from gatewayd.queue.model import CheckReport
from gatewayd.queue.tx import Tx

SYNCHRONOUS_NAMES = {0: "off", 1: "normal", 2: "full", 3: "extra"}


def check(tx: Tx, path: str) -> CheckReport:
    version = tx.scalar("SELECT count(*) FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,))
    integrity = [str(row[0]) for row in tx.all("PRAGMA integrity_check")]
    fk_violations = len(tx.all("PRAGMA foreign_key_check"))
    journal_mode = str(tx.scalar("PRAGMA journal_mode"))
    synchronous = SYNCHRONOUS_NAMES.get(int(tx.scalar("PRAGMA synchronous")), "?")
    size = int(tx.scalar("PRAGMA page_count")) * int(tx.scalar("PRAGMA page_size"))
    kept = {row["status"]: row["n"] for row in tx.all("SELECT status, n FROM message_counts")}
    real = {row["status"]: row["n"] for row in tx.all("SELECT status, count(*) AS n FROM messages GROUP BY status")}
    consistent = all(kept.get(status, 0) == real.get(status, 0) for status in set(kept) | set(real))
    return CheckReport(path=path, schema_version=int(version), expected_schema_version=SCHEMA_VERSION,
                       integrity=integrity, foreign_key_violations=fk_violations, journal_mode=journal_mode,
                       synchronous=synchronous, size_bytes=size, counts=real, counts_consistent=consistent)
