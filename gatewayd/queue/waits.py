"""Waits the gateway computed from its own clock, released when that clock turns out to have been wrong.

A scheduled message waits for one of two kinds of time. A client's ``send_at`` is an instant the client
chose: a clock step does not move it (``due_at`` is then exactly ``send_at``). A retry backoff or a
policy hold (quiet hours, a frequency cap) is "now plus something", judged on the clock of the moment:
after the clock steps back by an hour such a wait lasts an hour longer than meant, and a quiet-hours hold
decided on a clock that was wrong may hold a message that was in fact inside the recipient's window.
So after a step those messages go back to 'queued': the claim judges them again on the corrected clock
(the policy holds again what must wait; a retry goes at once, a little early rather than an hour late).
"""

from __future__ import annotations

from gatewayd.queue import outbox
from gatewayd.queue.model import Message, Status
from gatewayd.queue.tx import Tx

RELEASE_BATCH = 1000
"""Messages released per transaction; the caller calls again while a batch comes back full."""

_DERIVED = """
SELECT * FROM messages INDEXED BY messages_due
WHERE status = 'scheduled' AND due_at > ? AND (send_at IS NULL OR due_at != send_at)
ORDER BY due_at
LIMIT ?
"""


def release_derived(tx: Tx, reason: str, *, batch: int = RELEASE_BATCH) -> int:
    """Up to ``batch`` messages waiting for a time derived from the clock -> 'queued'; returns how many.

    Only waits not yet over: the others are promoted as due anyway."""
    rows = tx.all(_DERIVED, (tx.stamp, batch))
    for row in rows:
        outbox.transition(tx, Message.from_row(row), Status.QUEUED, reason, detail={"was_due_at": row["due_at"]})
    return len(rows)
