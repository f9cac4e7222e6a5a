"""Read-only queries for the operator pages: today's work per modem, the last hour, the consent ledger.

The dashboard refreshes every few seconds and must cost the same with a thousand or a million rows
kept. So "what happened since T" is read through the ``messages_purgeable`` index (finished messages by
``updated_at``): a part sent since T belongs to a message that was updated since T, because a message
is updated when it becomes sent and only later after that. Messages still being sent are read through
``messages_status`` (a handful at most). A multipart message waiting for a retry after some of its
parts went is counted once it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatewayd.queue.model import ConsentEvent, Contact
from gatewayd.queue.timefmt import to_stamp
from gatewayd.queue.tx import Tx

MINUTE_PREFIX = 16
"""Characters of a stamp up to the minute: ``2026-11-23T09:00``."""
ERROR_STATUSES = ("failed", "unknown")
CONTACT_NUMBER_END = ":"
"""The character after '9' in ASCII: ``number < prefix || ':'`` bounds a prefix search on the key."""

_SENT_PARTS = """
SELECT p.modem AS modem, p.sent_at AS sent_at
FROM messages AS m INDEXED BY messages_purgeable
JOIN message_parts AS p ON p.message_id = m.id
WHERE m.status NOT IN ('queued', 'scheduled', 'sending') AND m.updated_at >= :since
  AND p.sent_at IS NOT NULL AND p.sent_at >= :since
UNION ALL
SELECT p.modem AS modem, p.sent_at AS sent_at
FROM messages AS m INDEXED BY messages_status
JOIN message_parts AS p ON p.message_id = m.id
WHERE m.status = 'sending' AND p.sent_at IS NOT NULL AND p.sent_at >= :since
"""

_ERRORS = """
SELECT modem, count(*) AS n FROM messages INDEXED BY messages_purgeable
WHERE status NOT IN ('queued', 'scheduled', 'sending') AND updated_at >= :since
  AND status IN ('failed', 'unknown') AND modem IS NOT NULL
GROUP BY modem
"""


@dataclass(frozen=True)
class ModemActivity:
    """One modem's work since a moment (the dashboard: since local midnight)."""

    sent: int = 0
    """SMS parts the modem got accepted (+CMGS): what an operator's bill and daily caps count."""
    errors: int = 0
    """Messages last claimed by it that ended failed, or unknown (no answer after the PDU was written)."""


def modem_activity(tx: Tx, since: datetime) -> dict[str, ModemActivity]:
    stamp = to_stamp(since)
    sent: dict[str, int] = {}
    for row in tx.all(f"SELECT modem, count(*) AS n FROM ({_SENT_PARTS}) GROUP BY modem", {"since": stamp}):
        if row["modem"] is not None:
            sent[row["modem"]] = row["n"]
    errors = {row["modem"]: row["n"] for row in tx.all(_ERRORS, {"since": stamp})}
    return {modem: ModemActivity(sent=sent.get(modem, 0), errors=errors.get(modem, 0))
            for modem in sorted(set(sent) | set(errors))}


def parts_per_minute(tx: Tx, since: datetime) -> dict[str, int]:
    """Parts sent per UTC minute since ``since``, keyed ``YYYY-MM-DDTHH:MM``; minutes with none are absent."""
    rows = tx.all(f"SELECT substr(sent_at, 1, {MINUTE_PREFIX}) AS minute, count(*) AS n FROM ({_SENT_PARTS})"
                  " GROUP BY minute", {"since": to_stamp(since)})
    return {row["minute"]: row["n"] for row in rows}


def opt_outs_since(tx: Tx, since: datetime) -> int:
    """Numbers that opted out since ``since``.

    The ledger has no index on time and is never purged; its ids grow with time, so it is read newest
    first and the read stops at the first older row: the cost is today's rows, not the whole ledger.
    """
    stamp = to_stamp(since)
    count = 0
    for row in tx.conn.execute("SELECT at, to_state FROM consent_events ORDER BY id DESC"):
        if row["at"] < stamp:
            break
        if row["to_state"] == "opted_out":
            count += 1
    return count


def consent_ledger(tx: Tx, *, limit: int, before_id: int | None = None,
                   to_state: str | None = None) -> list[ConsentEvent]:
    """Consent changes of every number, newest first (``before_id``: the last id of the previous page)."""
    where = ["id < :before"]
    params: dict[str, Any] = {"before": before_id if before_id is not None else 2**63 - 1, "limit": max(0, limit)}
    if to_state is not None:
        where.append("to_state = :to_state")
        params["to_state"] = to_state
    rows = tx.all(f"SELECT * FROM consent_events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT :limit", params)
    return [ConsentEvent.from_row(row) for row in rows]


def list_contacts(tx: Tx, *, limit: int, prefix: str = "", after: str | None = None,
                  marketing: str | None = None) -> list[Contact]:
    """Contacts by number; ``prefix`` ("+4479") narrows to numbers starting with it, on the primary key."""
    where = ["number > :after", "number >= :prefix", "number < :prefix_end"]
    params: dict[str, Any] = {"after": after or "", "prefix": prefix, "prefix_end": prefix + CONTACT_NUMBER_END,
                              "limit": max(0, limit)}
    if marketing is not None:
        where.append("marketing = :marketing")
        params["marketing"] = marketing
    rows = tx.all(f"SELECT * FROM contacts WHERE {' AND '.join(where)} ORDER BY number LIMIT :limit", params)
    return [Contact.from_row(row) for row in rows]
