"""The webhook outbox table: deliveries written in the transaction of the change they report.

Writing the delivery with the change (not after it) is what makes webhooks survive a crash: a
committed opt-out always has its opt-out webhook waiting, and nothing is announced that was rolled
back. The delivery worker (gatewayd/webhooks/) reads what is due and records each attempt here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatewayd.queue.timefmt import from_stamp, maybe_datetime, to_stamp
from gatewayd.queue.tx import Tx


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    endpoint: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    gave_up_at: datetime | None
    last_status: int | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WebhookDelivery:
        return cls(id=row["id"], endpoint=row["endpoint"], kind=row["kind"], payload=json.loads(row["payload"]),
                   created_at=from_stamp(row["created_at"]), attempts=row["attempts"],
                   next_attempt_at=maybe_datetime(row["next_attempt_at"]),
                   delivered_at=maybe_datetime(row["delivered_at"]), gave_up_at=maybe_datetime(row["gave_up_at"]),
                   last_status=row["last_status"], last_error=row["last_error"])


def enqueue(tx: Tx, endpoint: str, kind: str, payload: Mapping[str, Any]) -> int:
    """One delivery of ``payload`` to ``endpoint``, due now, in the caller's transaction (the queue wakes
    the deliverer after COMMIT)."""
    tx.webhooks_enqueued = True
    cursor = tx.run("INSERT INTO webhook_deliveries (endpoint, kind, payload, created_at, next_attempt_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (endpoint, kind, json.dumps(dict(payload), sort_keys=True, ensure_ascii=False), tx.stamp,
                     tx.stamp))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def due(tx: Tx, *, limit: int) -> list[WebhookDelivery]:
    rows = tx.all("SELECT * FROM webhook_deliveries INDEXED BY webhook_deliveries_due"
                  " WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                  (tx.stamp, max(0, limit)))
    return [WebhookDelivery.from_row(row) for row in rows]


def next_due(tx: Tx) -> datetime | None:
    value = tx.scalar("SELECT min(next_attempt_at) FROM webhook_deliveries INDEXED BY webhook_deliveries_due"
                      " WHERE next_attempt_at IS NOT NULL")
    return None if value is None else from_stamp(value)


def record_attempt(tx: Tx, delivery_id: int, *, delivered: bool, status: int | None, error: str | None,
                   retry_at: datetime | None) -> None:
    """One attempt's outcome: delivered, failed with a retry at ``retry_at``, or failed for good (None)."""
    if delivered:
        tx.run("UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?, next_attempt_at = NULL,"
               " last_status = ?, last_error = NULL WHERE id = ?", (tx.stamp, status, delivery_id))
        return
    gave_up = tx.stamp if retry_at is None else None
    tx.run("UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_status = ?,"
           " last_error = ?, gave_up_at = ? WHERE id = ?",
           (None if retry_at is None else to_stamp(retry_at), status, error, gave_up, delivery_id))


def failing(tx: Tx, *, limit: int) -> list[WebhookDelivery]:
    """Deliveries whose last attempt failed (still retrying or given up), newest first: for the page."""
    rows = tx.all("SELECT * FROM webhook_deliveries INDEXED BY webhook_deliveries_failing"
                  " WHERE last_error IS NOT NULL AND delivered_at IS NULL ORDER BY id DESC LIMIT ?", (max(0, limit),))
    return [WebhookDelivery.from_row(row) for row in rows]


def counts(tx: Tx) -> dict[str, int]:
    row = tx.one("SELECT count(*) FILTER (WHERE next_attempt_at IS NOT NULL) AS pending,"
                 " count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,"
                 " count(*) FILTER (WHERE gave_up_at IS NOT NULL) AS gave_up FROM webhook_deliveries")
    assert row is not None
    return {"pending": row["pending"], "delivered": row["delivered"], "gave_up": row["gave_up"]}
