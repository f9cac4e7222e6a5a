"""The append-only history: one row per state change, written in the same transaction as the change.

Also modem and system events (``message_id`` NULL), so an operator reads one timeline.
"""

from __future__ import annotations

import json
from typing import Any

from gatewayd.queue.model import Event
from gatewayd.queue.tx import Tx

KIND_STATUS = "status"
"""A message changed state (from_status -> to_status)."""
KIND_REPORT = "report"
"""A status report was matched to one of the message's parts (detail: part, status)."""
KIND_CONCAT_REF = "concat_ref"
KIND_CLOCK_STEP = "clock_step"
"""A system event: the wall clock stepped (detail: seconds, positive forward); retention.py reads it."""


def record(tx: Tx, *, message_id: int | None, kind: str, from_status: str | None = None,
           to_status: str | None = None, reason: str | None = None, modem: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    tx.run(
        "INSERT INTO events (at, message_id, kind, from_status, to_status, reason, modem, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (tx.stamp, message_id, kind, from_status, to_status, reason, modem,
         None if detail is None else json.dumps(detail, sort_keys=True)),
    )


def for_message(tx: Tx, message_id: int) -> list[Event]:
    rows = tx.all("SELECT * FROM events WHERE message_id = ? ORDER BY id", (message_id,))
    return [Event.from_row(row) for row in rows]


def recent(tx: Tx, *, limit: int, after_id: int | None) -> list[Event]:
    """All events, message and system ones, oldest first from ``after_id`` (the status page timeline)."""
    rows = tx.all("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id or 0, max(0, limit)))
    return [Event.from_row(row) for row in rows]
