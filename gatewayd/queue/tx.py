"""The context one operation runs in: the connection, the operation's single "now", and side flags."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatewayd.queue.timefmt import to_stamp
from gatewayd.webhooks.routes import WebhookRoutes

Params = Sequence[Any] | Mapping[str, Any]


@dataclass
class Tx:
    """One operation: every timestamp it writes is ``now`` (read once from the injected clock)."""

    conn: sqlite3.Connection
    now: datetime
    claimable: bool = False
    """Set by an operation that made a message claimable: the queue wakes its listeners after COMMIT."""
    webhooks: WebhookRoutes | None = None
    """Where the changes of this operation are announced (None: nowhere); see gatewayd/webhooks/."""
    webhooks_enqueued: bool = False
    """Set when a webhook delivery was written: the queue wakes the deliverer after COMMIT."""
    stamp: str = field(init=False)

    def __post_init__(self) -> None:
        self.stamp = to_stamp(self.now)

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, params).fetchall())

    def run(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
