"""Purging old rows, in small transactions so the send path never waits long behind a purge.

Only rows gatewayd has no work left on: messages not queued, scheduled or sending (with their
parts, events and status reports), inbox messages (with their parts), and webhook deliveries that
were delivered or given up (kept as long as messages). Contacts and the consent ledger are never
purged: they are the operator's proof of consent. Age is measured from the
message's last change (``updated_at``), so an 'unknown' message an operator retried yesterday stays.

Ages are read off stamps, and a clock that was behind (a Pi without RTC before NTP) stamps rows older
than they are: stepped forward by a year, it would have the next purge delete what it sent minutes ago.
So each forward step on record (a ``clock_step`` system event, written by the dispatcher) extends every
cutoff by its size for as long as the step itself is younger than the retention: the rows it made look
old are then really that old. Rows stamped before the slow clock are kept that much longer: late, never
early.
"""

from __future__ import annotations

import json
from datetime import timedelta

from gatewayd.queue.events import KIND_CLOCK_STEP
from gatewayd.queue.timefmt import from_stamp, to_stamp
from gatewayd.queue.tx import Tx

PURGE_BATCH = 500
"""Messages deleted per transaction: a few milliseconds of write lock each."""
TABLES = ("messages", "message_parts", "events", "status_reports", "inbox", "inbox_parts", "webhook_deliveries")


def step_allowance(tx: Tx, since: str) -> timedelta:
    """The forward clock steps recorded at or after ``since``, added up."""
    rows = tx.all("SELECT detail FROM events WHERE message_id IS NULL AND kind = ? AND at >= ?",
                  (KIND_CLOCK_STEP, since))
    seconds = sum(max(0.0, float(json.loads(row["detail"] or "{}").get("seconds", 0.0))) for row in rows)
    return timedelta(seconds=seconds)


def purge_batch(tx: Tx, *, messages_before: str, inbox_before: str, batch: int = PURGE_BATCH) -> dict[str, int]:
    """Delete up to ``batch`` old messages and inbox rows; returns rows deleted per table (all 0: done).

    Both cutoffs move back by the forward clock steps recorded since ``messages_before`` (see above)."""
    allowance = step_allowance(tx, messages_before)
    if allowance:
        messages_before = to_stamp(from_stamp(messages_before) - allowance)
        inbox_before = to_stamp(from_stamp(inbox_before) - allowance)
    counts = dict.fromkeys(TABLES, 0)
    ids = [row[0] for row in tx.all(
        "SELECT id FROM messages INDEXED BY messages_purgeable"
        " WHERE status NOT IN ('queued', 'scheduled', 'sending') AND updated_at < ? LIMIT ?",
        (messages_before, batch))]
    if ids:
        selected = "(SELECT value FROM json_each(?))"
        id_list = "[" + ",".join(map(str, ids)) + "]"
        counts["events"] = tx.run(f"DELETE FROM events WHERE message_id IN {selected}", (id_list,)).rowcount
        counts["message_parts"] = tx.run(f"DELETE FROM message_parts WHERE message_id IN {selected}",
                                         (id_list,)).rowcount
        counts["status_reports"] = tx.run(f"DELETE FROM status_reports WHERE message_id IN {selected}",
                                          (id_list,)).rowcount
        counts["messages"] = tx.run(f"DELETE FROM messages WHERE id IN {selected}", (id_list,)).rowcount
    # Unmatched reports and system events age out with the messages.
    counts["status_reports"] += tx.run(
        "DELETE FROM status_reports WHERE id IN (SELECT id FROM status_reports WHERE message_id IS NULL"
        " AND received_at < ? LIMIT ?)", (messages_before, batch)).rowcount
    counts["events"] += tx.run(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE message_id IS NULL AND at < ? LIMIT ?)",
        (messages_before, batch)).rowcount
    counts["webhook_deliveries"] = tx.run(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
        " WHERE next_attempt_at IS NULL AND created_at < ? LIMIT ?)", (messages_before, batch)).rowcount
    inbox_ids = [row[0] for row in tx.all("SELECT id FROM inbox WHERE received_at < ? LIMIT ?",
                                          (inbox_before, batch))]
    if inbox_ids:
        id_list = "[" + ",".join(map(str, inbox_ids)) + "]"
        counts["inbox_parts"] = tx.run("DELETE FROM inbox_parts WHERE inbox_id IN (SELECT value FROM json_each(?))",
                                       (id_list,)).rowcount
        counts["inbox"] = tx.run("DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(?))",
                                 (id_list,)).rowcount
    return counts
