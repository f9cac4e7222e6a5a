"""Contacts: marketing consent (with its append-only ledger) and number hygiene.

An opt-out is one transaction: the contact row, the ledger row, every queued or scheduled marketing
message to that number moved to 'suppressed', and the one confirmation reply enqueued. A claim of a
marketing message to that number that is already under way is stopped at its next PDU: the "written"
mark (parts.part_written) checks consent in its own transaction, so whichever commits first wins and
nothing goes out after the opt-out is recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from gatewayd.policy.send_policy import WEEK, Consent, RecipientFacts
from gatewayd.queue import outbox, webhook_outbox
from gatewayd.queue.errors import InvalidMessage
from gatewayd.queue.model import ConsentChange, ConsentEvent, Contact, Message, NewMessage, Status
from gatewayd.queue.timefmt import from_stamp, to_stamp
from gatewayd.queue.tx import Tx
from gatewayd.webhooks import routes

LOGGER = logging.getLogger(__name__)

VIAS = ("api", "keyword", "import", "operator")
REPLY_CLIENT = "gatewayd"
"""The client name of messages the gateway sends by itself (keyword replies, welcome, confirmations)."""
FAILED_REPORTS_INVALID = 3
"""Consecutive failed status reports after which a number is marked invalid."""
INVALID_CMS_CODES = frozenset({1, 28, 30})
"""+CMS ERROR codes that say the number itself does not exist: unassigned number, unidentified
subscriber, unknown subscriber (TS 24.011 8.2.5.4). Barring and the like say nothing of the number."""
REPLY_WINDOW = timedelta(hours=1)
"""The per-number limit on automatic replies counts this far back."""

_UPSERT = """
INSERT INTO contacts (number, created_at, updated_at) VALUES (:number, :now, :now)
ON CONFLICT (number) DO NOTHING
"""
# A marketing message counts against a frequency cap once its first PDU went, unless the modem refused
# it (its status then moved on to failed, or back to scheduled for a retry).
_WENT = """
SELECT went_at FROM messages INDEXED BY messages_marketing_went
WHERE recipient = ? AND class = 'marketing' AND went_at IS NOT NULL AND went_at > ?
  AND status IN ('sending', 'sent', 'delivered', 'unknown')
ORDER BY went_at
"""


def get(tx: Tx, number: str) -> Contact | None:
    row = tx.one("SELECT * FROM contacts WHERE number = ?", (number,))
    return None if row is None else Contact.from_row(row)


def ensure(tx: Tx, number: str) -> Contact:
    if not outbox.RECIPIENT.fullmatch(number):
        raise InvalidMessage(f"number {number!r} is not '+' and digits (E.164)")
    tx.run(_UPSERT, {"number": number, "now": tx.stamp})
    contact = get(tx, number)
    assert contact is not None
    return contact


def consent_of(tx: Tx, number: str) -> Consent:
    state = tx.scalar("SELECT marketing FROM contacts WHERE number = ?", (number,))
    return Consent(state) if state is not None else Consent.UNKNOWN


def facts(tx: Tx, number: str) -> RecipientFacts:
    row = tx.one("SELECT marketing, invalid_reason FROM contacts WHERE number = ?", (number,))
    went = tuple(from_stamp(r["went_at"]) for r in tx.all(_WENT, (number, to_stamp(tx.now - WEEK))))
    if row is None:
        return RecipientFacts(went_marketing=went)
    return RecipientFacts(consent=Consent(row["marketing"]), invalid_reason=row["invalid_reason"],
                          went_marketing=went)


def set_consent(tx: Tx, number: str, to: Consent, via: str, *, inbox_id: int | None = None,
                detail: Mapping[str, Any] | None = None, reply: str | None = None) -> ConsentChange:
    """Record a consent change; an opt-out suppresses queued marketing in the same transaction.

    ``reply`` (a confirmation or welcome) is enqueued as a transactional message only when the state
    really changed: a repeated STOP or START records nothing and answers nothing.
    """
    if via not in VIAS:
        raise InvalidMessage(f"consent via {via!r} is not one of {', '.join(VIAS)}")
    if to == Consent.UNKNOWN:
        raise InvalidMessage("consent can be set to opted_in or opted_out, not back to unknown")
    before = ensure(tx, number)
    if before.marketing == to:
        return ConsentChange(contact=before, event=None)
    tx.run("UPDATE contacts SET marketing = ?, consent_via = ?, consent_at = ?, updated_at = ? WHERE number = ?",
           (str(to), via, tx.stamp, tx.stamp, number))
    row = tx.one("INSERT INTO consent_events (at, number, from_state, to_state, via, inbox_id, detail)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                 (tx.stamp, number, before.marketing, str(to), via, inbox_id,
                  None if detail is None else json.dumps(dict(detail), sort_keys=True)))
    assert row is not None
    event = ConsentEvent.from_row(row)
    suppressed: tuple[int, ...] = ()
    if to == Consent.OPTED_OUT:
        suppressed = _suppress_marketing(tx, number, event)
        for url in tx.webhooks.opt_out if tx.webhooks else ():
            webhook_outbox.enqueue(tx, url, routes.OPT_OUT, routes.opt_out_payload(number, via, tx.now, inbox_id))
    reply_id = None
    if reply:
        reply_id = enqueue_reply(tx, number, reply, key=f"consent:{event.id}", kind=f"consent {to}")
    LOGGER.info("consent of %s: %s -> %s via %s (%d queued marketing message(s) suppressed)", number,
                before.marketing, to, via, len(suppressed))
    contact = get(tx, number)
    assert contact is not None
    return ConsentChange(contact=contact, event=event, suppressed=suppressed, reply_id=reply_id)


def _suppress_marketing(tx: Tx, number: str, event: ConsentEvent) -> tuple[int, ...]:
    rows = tx.all("SELECT * FROM messages INDEXED BY messages_recipient"
                  " WHERE recipient = ? AND class = 'marketing' AND status IN ('queued', 'scheduled')", (number,))
    reason = f"recipient opted out ({event.via}, consent event {event.id})"
    for row in rows:
        message = Message.from_row(row)
        outbox.transition(tx, message, Status.SUPPRESSED, reason, detail={"consent_event": event.id},
                          set_columns={"last_error": reason})
    return tuple(row["id"] for row in rows)


def enqueue_reply(tx: Tx, number: str, text: str, *, key: str, kind: str) -> int | None:
    """A transactional message from the gateway itself; idempotent on ``key`` (a replayed inbound
    message or a retried call enqueues nothing new). None if the number cannot be texted."""
    if not outbox.RECIPIENT.fullmatch(number):
        LOGGER.info("no %s reply to %r: not an E.164 number", kind, number)
        return None
    message, _created = outbox.enqueue(tx, NewMessage(recipient=number, text=text, client=REPLY_CLIENT,
                                                      idempotency_key=key, metadata={"reply": kind}))
    return message.id


def replies_since(tx: Tx, number: str, since: datetime) -> int:
    """Automatic replies to ``number`` enqueued since ``since`` (for the per-number reply limit)."""
    value = tx.scalar("SELECT count(*) FROM messages INDEXED BY messages_recipient"
                      " WHERE recipient = ? AND client = ? AND created_at >= ?",
                      (number, REPLY_CLIENT, to_stamp(since)))
    return int(value or 0)


def consent_history(tx: Tx, number: str) -> list[ConsentEvent]:
    rows = tx.all("SELECT * FROM consent_events WHERE number = ? ORDER BY id", (number,))
    return [ConsentEvent.from_row(row) for row in rows]


# -- number hygiene --------------------------------------------------------------------------------


def mark_invalid(tx: Tx, number: str, reason: str) -> None:
    if not outbox.RECIPIENT.fullmatch(number):
        return
    ensure(tx, number)
    tx.run("UPDATE contacts SET invalid_reason = ?, invalid_at = coalesce(invalid_at, ?), updated_at = ?"
           " WHERE number = ?", (reason, tx.stamp, tx.stamp, number))
    LOGGER.warning("number %s marked invalid: %s", number, reason)


def clear_invalid(tx: Tx, number: str) -> bool:
    cursor = tx.run("UPDATE contacts SET invalid_reason = NULL, invalid_at = NULL, failed_reports = 0,"
                    " updated_at = ? WHERE number = ? AND invalid_at IS NOT NULL", (tx.stamp, number))
    return cursor.rowcount == 1


def note_report(tx: Tx, number: str, *, failed: bool) -> None:
    """A final status report for ``number``: consecutive failures mark it invalid, a delivery resets."""
    if not outbox.RECIPIENT.fullmatch(number):
        return
    if not failed:
        tx.run("UPDATE contacts SET failed_reports = 0 WHERE number = ? AND failed_reports > 0", (number,))
        return
    ensure(tx, number)
    count = tx.scalar("UPDATE contacts SET failed_reports = failed_reports + 1, updated_at = ? WHERE number = ?"
                      " RETURNING failed_reports", (tx.stamp, number))
    if count is not None and count >= FAILED_REPORTS_INVALID:
        mark_invalid(tx, number, f"{count} consecutive failed delivery reports")


def list_invalid(tx: Tx, *, limit: int, after: str | None) -> list[Contact]:
    """Numbers marked invalid, by number (``after``: the last number of the previous page)."""
    rows = tx.all("SELECT * FROM contacts INDEXED BY contacts_invalid WHERE invalid_at IS NOT NULL AND number > ?"
                  " ORDER BY number LIMIT ?", (after or "", max(0, limit)))
    return [Contact.from_row(row) for row in rows]


def unmatched_inbound_count(tx: Tx) -> int:
    return int(tx.scalar("SELECT count(*) FROM inbox INDEXED BY inbox_unmatched WHERE intent IS NULL") or 0)

