"""Outgoing messages: accepting them, claiming them, and every change of their state.

``transition`` is the one place a message's status changes: it checks the table in model.py,
updates the row only if it is still in the state it was read in, and writes the event, all in the
caller's transaction.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gatewayd.modem.pdu import PduError, plan_text
from gatewayd.policy.send_policy import SendPolicy, Verdict, decide
from gatewayd.queue import contacts, events, parts, webhook_outbox
from gatewayd.queue.errors import IdempotencyConflict, IllegalTransition, InvalidMessage, NotFound, QueueError
from gatewayd.queue.model import (
    MESSAGE_CLASSES,
    OPERATOR_RETRYABLE,
    SENT_PART_STATES,
    Claim,
    Message,
    NewMessage,
    PartState,
    Status,
    check_transition,
)
from gatewayd.queue.timefmt import from_stamp, maybe_datetime, maybe_stamp, to_stamp
from gatewayd.queue.tx import Tx
from gatewayd.webhooks import routes

LOGGER = logging.getLogger(__name__)

RECIPIENT = re.compile(r"\+[0-9]{1,20}")
"""What the queue itself insists on; real E.164 validation (phonenumbers) happens in the API."""
DUE_BATCH = 1000
"""Rows promote_due() / expire_due() change per call (one transaction); the dispatcher calls again."""
RECOVERED = "recovered after restart"

_INSERT = """
INSERT INTO messages (client, idempotency_key, recipient, text, class, priority, send_at, expires_at,
                      metadata, parts, encoding, status, due_at, created_at, updated_at)
VALUES (:client, :idempotency_key, :recipient, :text, :class, :priority, :send_at, :expires_at,
        :metadata, :parts, :encoding, :status, :due_at, :now, :now)
RETURNING *
"""

# INDEXED BY here and below: the planner, without statistics, prefers messages_status (status=?) and
# then filters every scheduled row. If a schema change ever made the planner drop the partial index, this fails loudly
# instead of silently scanning a million rows on every claim.
CLAIM_SQL = """
SELECT * FROM messages INDEXED BY messages_claimable
WHERE status = 'queued'
  AND {pin}
  AND recipient NOT IN (SELECT value FROM json_each(:excluded))
  {route}
  {sticky}
ORDER BY priority DESC, id
LIMIT 1
"""
STICKY_SQL = """AND NOT EXISTS (
    SELECT 1 FROM (SELECT last.modem FROM messages AS last INDEXED BY messages_recipient
                   WHERE last.recipient = messages.recipient AND last.status IN ('sent', 'delivered')
                   ORDER BY last.id DESC LIMIT 1) AS previous
    WHERE previous.modem != :modem AND previous.modem IN (SELECT value FROM json_each(:available)))"""
"""Sticky sender: skip a recipient whose last message went from another modem that can still send, so
one person keeps hearing from one number. A recipient whose modem is gone is free for any modem."""
ROUTE_SQL = """AND EXISTS (SELECT 1 FROM json_each(:prefixes) WHERE substr(recipient, 1, length(value)) = value)"""
"""Routing by destination prefix: only for modems configured with ``prefixes`` (the scan then skips the
messages this modem may not send, which costs more than the plain claim but only where routing is used)."""

DUE_SQL = """
SELECT * FROM messages INDEXED BY messages_due
WHERE status = 'scheduled' AND due_at <= ?
ORDER BY due_at
LIMIT ?
"""
NEXT_DUE_SQL = "SELECT min(due_at) FROM messages INDEXED BY messages_due WHERE status = 'scheduled'"
EXPIRING_SQL = """
SELECT * FROM messages INDEXED BY messages_expiring
WHERE expires_at IS NOT NULL AND status IN ('queued', 'scheduled') AND expires_at <= ?
LIMIT ?
"""


def get(tx: Tx, message_id: int) -> Message | None:
    row = tx.one("SELECT * FROM messages WHERE id = ?", (message_id,))
    return None if row is None else Message.from_row(row)


def require(tx: Tx, message_id: int) -> Message:
    message = get(tx, message_id)
    if message is None:
        raise NotFound(message_id)
    return message


def transition(tx: Tx, message: Message, to: Status, reason: str, *, modem: str | None = None,
               detail: Mapping[str, Any] | None = None, set_columns: Mapping[str, Any] | None = None) -> Message:
    """Move ``message`` to ``to`` (if the table allows), set ``set_columns``, write the event."""
    check_transition(message.id, message.status, to)
    columns: dict[str, Any] = {"status": str(to), "updated_at": tx.stamp}
    if to != Status.SCHEDULED:
        columns["due_at"] = None
    columns.update(set_columns or {})
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    row = tx.one(f"UPDATE messages SET {assignments} WHERE id = :_id AND status = :_from RETURNING *",
                 {**columns, "_id": message.id, "_from": str(message.status)})
    if row is None:  # cannot happen with one writer; refuse rather than write a false event
        raise IllegalTransition(message.id, message.status, to, "the row changed underneath")
    changed = Message.from_row(row)
    events.record(tx, message_id=message.id, kind=events.KIND_STATUS, from_status=str(message.status),
                  to_status=str(to), reason=reason, modem=modem or changed.modem,
                  detail=None if detail is None else dict(detail))
    if to in (Status.QUEUED, Status.SCHEDULED):  # claimable now, or at a new due time
        tx.claimable = True
    _announce(tx, changed, reason)
    return changed


def _announce(tx: Tx, message: Message, reason: str) -> None:
    """Statuses the application acts on reach its webhooks from this transaction: never one that was
    rolled back, never one lost to a crash after COMMIT."""
    if tx.webhooks is None or not tx.webhooks.status or str(message.status) not in routes.STATUS_EVENTS:
        return
    payload = routes.status_payload(message, reason, tx.now)
    for url in tx.webhooks.status:
        webhook_outbox.enqueue(tx, url, routes.STATUS, payload)


def _require_from(message: Message, allowed: frozenset[Status], to: Status, why: str) -> None:
    if message.status not in allowed:
        raise IllegalTransition(message.id, message.status, to, why)


# -- accepting ------------------------------------------------------------------------------------


def _validated(new: NewMessage, now: datetime) -> dict[str, Any]:
    """The row for ``new``, or InvalidMessage with the reason a client can act on."""
    if not RECIPIENT.fullmatch(new.recipient):
        raise InvalidMessage(f"recipient {new.recipient!r} is not '+' and digits (E.164)")
    if not new.text:
        raise InvalidMessage("text is empty")
    if new.message_class not in MESSAGE_CLASSES:
        raise InvalidMessage(f"class {new.message_class!r} is not one of {', '.join(MESSAGE_CLASSES)}")
    try:
        encoding, texts = plan_text(new.text)
    except PduError as exc:
        raise InvalidMessage(str(exc)) from exc
    try:
        send_at = maybe_stamp(new.send_at)
        expires_at = maybe_stamp(new.expires_at)
    except ValueError as exc:
        raise InvalidMessage(f"send_at / expires_at: {exc}") from exc
    if new.expires_at is not None:
        if new.expires_at <= now:
            raise InvalidMessage("expires_at is in the past")
        if new.send_at is not None and new.expires_at <= new.send_at:
            raise InvalidMessage("expires_at is not after send_at")
    try:
        metadata = None if new.metadata is None else json.dumps(new.metadata, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"metadata is not JSON: {exc}") from exc
    scheduled = new.send_at is not None and new.send_at > now
    return {
        "client": new.client, "idempotency_key": new.idempotency_key, "recipient": new.recipient,
        "text": new.text, "class": new.message_class, "priority": new.priority, "send_at": send_at,
        "expires_at": expires_at, "metadata": metadata, "parts": len(texts), "encoding": encoding,
        "status": str(Status.SCHEDULED if scheduled else Status.QUEUED), "due_at": send_at if scheduled else None,
    }


def enqueue(tx: Tx, new: NewMessage) -> tuple[Message, bool]:
    """Store ``new``; the same (client, key) again returns the first row and False."""
    values = _validated(new, tx.now)
    if new.idempotency_key is not None:
        row = tx.one("SELECT * FROM messages WHERE client = ? AND idempotency_key = ?",
                     (new.client, new.idempotency_key))
        if row is not None:
            existing = Message.from_row(row)
            if (existing.recipient, existing.text) != (new.recipient, new.text):
                raise IdempotencyConflict(new.client, new.idempotency_key, existing.id)
            return existing, False
    row = tx.one(_INSERT, {**values, "now": tx.stamp})
    assert row is not None  # RETURNING always yields the inserted row
    message = Message.from_row(row)
    events.record(tx, message_id=message.id, kind=events.KIND_STATUS, to_status=str(message.status),
                  reason="accepted", detail={"client": new.client} if new.client else None)
    if message.status in (Status.QUEUED, Status.SCHEDULED):
        tx.claimable = True
    return message, True


_BATCH_COLUMNS = ("client", "idempotency_key", "recipient", "text", "class", "priority", "send_at", "expires_at",
                  "metadata", "parts", "encoding", "status", "due_at")
_INSERT_MANY = f"""
INSERT INTO messages ({", ".join(_BATCH_COLUMNS)}, created_at, updated_at)
SELECT {", ".join(f"value ->> {index}" for index in range(len(_BATCH_COLUMNS)))}, :now, :now
FROM json_each(:rows) ORDER BY key
"""
"""A batch as ONE statement over a JSON array of rows, not executemany: executemany takes the GIL back
between rows to bind the next one, and with the web threads busy each of those waits for a thread
switch (the database thread spent ~200 µs a row waiting, measured); one statement runs all rows in C."""
_INSERT_ONE = f"""
INSERT INTO messages ({", ".join(_BATCH_COLUMNS)}, created_at, updated_at)
VALUES ({", ".join(f":{column}" for column in _BATCH_COLUMNS)}, :now, :now)
"""
_ACCEPTED_EVENTS = """
INSERT INTO events (at, message_id, kind, to_status, reason, detail)
SELECT created_at, id, 'status', status, 'accepted',
       CASE WHEN client != '' THEN json_object('client', client) END
FROM messages WHERE id BETWEEN ? AND ? ORDER BY id
"""


def enqueue_many(tx: Tx, items: list[NewMessage]) -> list[tuple[Message, bool]]:
    """``enqueue`` for a batch, all in ``tx``. Without idempotency keys it is set-based (see
    ``prepare_batch``): the same rows and events as one enqueue per item, in the same order. A batch with
    keys goes item by item (each key must be looked up)."""
    if not items or any(new.idempotency_key is not None for new in items):
        return [enqueue(tx, new) for new in items]
    batch = prepare_batch(items, tx.now)
    return stored_batch(batch, insert_batch(tx, batch), tx.stamp)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch without idempotency keys, validated and serialised. The queue prepares it in the caller's
    thread and builds the answer there too (``stored_batch``): the database thread is the one writer
    every API request waits for, so it does only the database work (``insert_batch``)."""

    items: list[NewMessage]
    rows: list[dict[str, Any]]
    table: str
    """The rows as a JSON array of arrays, in ``_BATCH_COLUMNS`` order: the parameter of _INSERT_MANY."""


def prepare_batch(items: list[NewMessage], now: datetime) -> PreparedBatch:
    """Validate ``items`` (InvalidMessage names the first bad one) as of ``now``."""
    rows = [_validated(new, now) for new in items]
    table = json.dumps([[row[column] for column in _BATCH_COLUMNS] for row in rows], ensure_ascii=False)
    return PreparedBatch(items=items, rows=rows, table=table)


def insert_batch(tx: Tx, batch: PreparedBatch) -> int:
    """Insert ``batch`` and its 'accepted' events; returns the first id (the rows have consecutive ids)."""
    # AUTOINCREMENT with one writer: the rows of this INSERT get consecutive ids after the largest ever used.
    first = 1 + max(int(tx.scalar("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'") or 0),
                    int(tx.scalar("SELECT coalesce(max(id), 0) FROM messages") or 0))
    if "\\u0000" in batch.table:  # SQLite's ->> ends a text at an escaped NUL: those rows are bound one by one
        inserted = tx.conn.executemany(_INSERT_ONE, [{**row, "now": tx.stamp} for row in batch.rows]).rowcount
    else:
        inserted = tx.run(_INSERT_MANY, {"rows": batch.table, "now": tx.stamp}).rowcount
    last = first + len(batch.rows) - 1
    # len(rows) new ids, each above first - 1, the largest being last: exactly first..last, in order.
    if inserted != len(batch.rows) or tx.scalar("SELECT last_insert_rowid()") != last:
        raise QueueError(f"batch insert: expected ids {first}..{last}")
    tx.run(_ACCEPTED_EVENTS, (first, last))
    tx.claimable = True
    return first


def stored_batch(batch: PreparedBatch, first: int, stamp: str) -> list[tuple[Message, bool]]:
    """The messages ``insert_batch`` stored from ``first`` at ``stamp`` (its transaction's), built from what
    was written rather than read back: reading 500 rows back and parsing them was a third of a batch's
    time in the database thread."""
    stored_at = from_stamp(stamp)
    return [(_as_stored(message_id, new, row, stored_at), True)
            for message_id, (new, row) in enumerate(zip(batch.items, batch.rows, strict=True), start=first)]


def _as_stored(message_id: int, new: NewMessage, row: dict[str, Any], stored_at: datetime) -> Message:
    """The Message a read of the row just inserted from ``row`` (``_validated``'s values) would give."""
    send_at, expires_at = maybe_datetime(row["send_at"]), maybe_datetime(row["expires_at"])
    return Message(
        id=message_id, client=new.client, idempotency_key=new.idempotency_key, recipient=new.recipient,
        text=new.text, message_class=new.message_class, priority=new.priority, send_at=send_at,
        expires_at=expires_at, metadata=None if row["metadata"] is None else json.loads(row["metadata"]),
        parts=row["parts"], encoding=row["encoding"], status=Status(row["status"]), attempts=0, modem=None,
        pinned_modem=None, concat_ref=None, due_at=send_at if row["due_at"] is not None else None,
        last_error=None, error_code=None, created_at=stored_at, updated_at=stored_at,
    )


# -- the send path -----------------------------------------------------------------------------------


def claim(tx: Tx, modem_id: str, exclude_recipients: frozenset[str], pinned_ok: bool, *,
          prefixes: tuple[str, ...] = (), sticky_among: frozenset[str] | None = None,
          policy: SendPolicy | None = None) -> Claim | None:
    """The best queued message for ``modem_id`` -> 'sending'. Expired candidates are expired on the way,
    and with a ``policy`` each candidate is judged first: one the policy holds goes back to 'scheduled'
    until its next allowed time, one it refuses ends 'suppressed', and the claim looks further.

    ``prefixes``: the modem only sends to recipients starting with one of them (routing by prefix).
    ``sticky_among``: the modems able to send now; a recipient last served by one of them (other than
    ``modem_id``) is left for that modem (sticky sender). None: no stickiness."""
    pin = "(pinned_modem IS NULL OR pinned_modem = :modem)" if pinned_ok else "pinned_modem IS NULL"
    sql = CLAIM_SQL.format(pin=pin, route=ROUTE_SQL if prefixes else "",
                           sticky=STICKY_SQL if sticky_among is not None else "")
    params = {"modem": modem_id, "excluded": json.dumps(sorted(exclude_recipients)),
              "prefixes": json.dumps(list(prefixes)), "available": json.dumps(sorted(sticky_among or ()))}
    while True:
        row = tx.one(sql, params)
        if row is None:
            return None
        message = Message.from_row(row)
        if message.expires_at is not None and message.expires_at <= tx.now:
            transition(tx, message, Status.EXPIRED, "expired before it could be sent")
            continue
        if policy is not None and not _policy_allows(tx, message, policy):
            continue
        break
    claimed = transition(tx, message, Status.SENDING, f"claimed by {modem_id}", modem=modem_id,
                         set_columns={"attempts": message.attempts + 1, "modem": modem_id})
    return Claim(message=claimed, parts_to_send=parts.unsent(tx, claimed), concat_ref=claimed.concat_ref)


def _policy_allows(tx: Tx, message: Message, policy: SendPolicy) -> bool:
    """Judge a queued candidate; a hold or a refusal is applied here, in the claim's transaction."""
    facts = contacts.facts(tx, message.recipient)
    decision = decide(policy, message_class=message.message_class, recipient=message.recipient, facts=facts,
                      now=tx.now)
    if decision.verdict == Verdict.SEND:
        return True
    if decision.verdict == Verdict.HOLD:
        assert decision.until is not None
        LOGGER.info("message %d held until %s: %s", message.id, to_stamp(decision.until), decision.reason)
        transition(tx, message, Status.SCHEDULED, decision.reason,
                   detail={"policy": "hold", "until": to_stamp(decision.until)},
                   set_columns={"due_at": to_stamp(decision.until)})
    else:
        LOGGER.info("message %d suppressed: %s", message.id, decision.reason)
        transition(tx, message, Status.SUPPRESSED, decision.reason, detail={"policy": "suppress"},
                   set_columns={"last_error": decision.reason})
    return False


def set_concat_ref(tx: Tx, message_id: int, ref: int) -> None:
    """Persist the concatenation reference before the first part goes; a resume keeps it."""
    message = require(tx, message_id)
    _require_from(message, frozenset({Status.SENDING}), Status.SENDING, "only a claimed message gets a reference")
    if message.concat_ref == ref:
        return
    if message.concat_ref is not None and parts.any_sent(tx, message_id):
        raise IllegalTransition(message_id, message.status, message.status,
                                f"parts went with reference {message.concat_ref}; it cannot change to {ref}")
    tx.run("UPDATE messages SET concat_ref = ?, updated_at = ? WHERE id = ?", (ref, tx.stamp, message_id))
    events.record(tx, message_id=message_id, kind=events.KIND_CONCAT_REF, reason=f"concat reference {ref}",
                  modem=message.modem, detail={"concat_ref": ref})


def mark_sent(tx: Tx, message_id: int) -> Message:
    message = require(tx, message_id)
    _require_from(message, frozenset({Status.SENDING}), Status.SENT, "only a claimed message is sent")
    missing = parts.unsent(tx, message)
    if missing:
        raise IllegalTransition(message_id, message.status, Status.SENT, f"parts {missing} were not accepted")
    return transition(tx, message, Status.SENT, "accepted by the modem", set_columns={"pinned_modem": None})


def retry_later(tx: Tx, message_id: int, reason: str, delay: timedelta) -> Message:
    """A transient failure: back to 'scheduled' for ``delay``.

    The caller asserts no part of this attempt may have left: a part marked written whose +CMGS was
    refused with an error answer goes back to pending. Parts already accepted stay sent, and the
    message is pinned to its modem so the rest follows on the same SIM with the same reference.
    """
    message = require(tx, message_id)
    _require_from(message, frozenset({Status.SENDING}), Status.SCHEDULED, "only a claimed message is retried")
    reset = parts.reset_written(tx, message_id)
    pinned = message.modem if parts.any_sent(tx, message_id) else None
    return transition(tx, message, Status.SCHEDULED, reason,
                      detail={"delay_s": delay.total_seconds(), "refused_parts_reset": reset},
                      set_columns={"due_at": to_stamp(tx.now + delay), "last_error": reason,
                                   "pinned_modem": pinned})


def fail(tx: Tx, message_id: int, reason: str, code: int | None) -> Message:
    message = require(tx, message_id)
    if message.status == Status.SENDING:
        parts.reset_written(tx, message_id)  # the send path fails a message only on an error answer
    return transition(tx, message, Status.FAILED, reason, detail=None if code is None else {"code": code},
                      set_columns={"last_error": reason, "error_code": code, "pinned_modem": None})


def mark_unknown(tx: Tx, message_id: int, reason: str) -> Message:
    """A PDU was written and no answer came: kept apart from every automatic retry."""
    message = require(tx, message_id)
    _require_from(message, frozenset({Status.SENDING}), Status.UNKNOWN, "only a send in flight can be unknown")
    return transition(tx, message, Status.UNKNOWN, reason, detail={"written_parts": parts.written(tx, message_id)},
                      set_columns={"last_error": reason})


def _policy_guard(tx: Tx, message: Message, to: Status) -> None:
    _require_from(message, frozenset({Status.QUEUED, Status.SENDING}), to, "policy acts on queued or claimed")
    if message.status == Status.SENDING and parts.written(tx, message.id):
        raise IllegalTransition(message.id, message.status, to, "a PDU was written; settle it with mark_unknown")


def suppress(tx: Tx, message_id: int, reason: str) -> Message:
    message = require(tx, message_id)
    _policy_guard(tx, message, Status.SUPPRESSED)
    return transition(tx, message, Status.SUPPRESSED, reason, set_columns={"last_error": reason})


def hold(tx: Tx, message_id: int, reason: str, until: datetime) -> Message:
    """Policy says "not now" (quiet hours, frequency cap): 'scheduled' until ``until``; not an attempt."""
    message = require(tx, message_id)
    _policy_guard(tx, message, Status.SCHEDULED)
    attempts = message.attempts - 1 if message.status == Status.SENDING else message.attempts
    return transition(tx, message, Status.SCHEDULED, reason, detail={"until": to_stamp(until)},
                      set_columns={"due_at": to_stamp(until), "attempts": max(0, attempts)})


def cancel(tx: Tx, message_id: int, reason: str) -> Message:
    return transition(tx, require(tx, message_id), Status.CANCELLED, reason)


def retry(tx: Tx, message_id: int, reason: str) -> Message:
    """Operator: send an unknown or failed message again (the operator accepts a possible double).

    Parts already accepted are not sent again; attempts start from zero.
    """
    message = require(tx, message_id)
    _require_from(message, OPERATOR_RETRYABLE, Status.QUEUED, "only unknown or failed messages are retried")
    reset = parts.reset_written(tx, message_id)
    tx.run("UPDATE message_parts SET state = 'pending' WHERE message_id = ? AND state = 'failed'", (message_id,))
    pinned = message.modem if parts.any_sent(tx, message_id) else None
    return transition(tx, message, Status.QUEUED, reason, detail={"written_parts_reset": reset},
                      set_columns={"attempts": 0, "pinned_modem": pinned})


# -- time-driven -------------------------------------------------------------------------------------


def promote_due(tx: Tx) -> int:
    rows = tx.all(DUE_SQL, (tx.stamp, DUE_BATCH))
    for row in rows:
        transition(tx, Message.from_row(row), Status.QUEUED, "due")
    return len(rows)


def next_due(tx: Tx) -> str | None:
    value: str | None = tx.scalar(NEXT_DUE_SQL)
    return value


def expire_due(tx: Tx) -> int:
    rows = tx.all(EXPIRING_SQL, (tx.stamp, DUE_BATCH))
    for row in rows:
        transition(tx, Message.from_row(row), Status.EXPIRED, "expired before it could be sent")
    return len(rows)


def recover(tx: Tx) -> dict[str, int]:
    """Settle claims a crash left in 'sending', from the part marks (see parts.py)."""
    counts = {"unknown": 0, "requeued": 0, "resumed": 0, "sent": 0}
    for row in tx.all("SELECT * FROM messages WHERE status = 'sending' ORDER BY id"):
        message = Message.from_row(row)
        known = parts.states(tx, message.id)
        written = sorted(p for p, s in known.items() if s == PartState.WRITTEN)
        sent = sorted(p for p, s in known.items() if s in SENT_PART_STATES)
        detail = {"written_parts": written, "sent_parts": sent}
        if written:
            transition(tx, message, Status.UNKNOWN, RECOVERED, detail={**detail, "outcome": "unknown"},
                       set_columns={"last_error": "a PDU was written and no answer was recorded before a restart"})
            counts["unknown"] += 1
        elif len(sent) == message.parts:
            transition(tx, message, Status.SENT, RECOVERED, detail={**detail, "outcome": "sent"},
                       set_columns={"pinned_modem": None})
            counts["sent"] += 1
        elif sent:
            transition(tx, message, Status.QUEUED, RECOVERED, detail={**detail, "outcome": "resume"},
                       set_columns={"pinned_modem": message.modem})
            counts["resumed"] += 1
        else:
            transition(tx, message, Status.QUEUED, RECOVERED, detail={**detail, "outcome": "requeued"})
            counts["requeued"] += 1
    for outcome, n in counts.items():
        if n:
            LOGGER.warning("%s: %d message(s) %s", RECOVERED, n, outcome)
    return counts


# -- reading -----------------------------------------------------------------------------------------


def list_messages(tx: Tx, *, status: str | None, recipient: str | None, since: datetime | None, limit: int,
                  after_id: int | None, descending: bool, client: str | None = None) -> list[Message]:
    """Cursor pagination by id: pass the last id of a page as ``after_id`` for the next one.

    Each filter is given the index that bounds the rows read, named explicitly (the planner, without
    statistics, would often pick ``messages_client`` and then check a million rows one by one):
    a recipient has few messages, a status is a range of ``messages_status``, a client alone is a range
    of ``messages_client``. ``since`` becomes an id bound too: the first id created at or after it
    (``messages_created``); rows before that id cannot match, so the scan starts there, and the
    ``created_at`` test stays for rows a clock step put out of order after it.
    """
    where: list[str] = []
    params: dict[str, Any] = {"limit": max(0, limit)}
    if client is not None:
        where.append("client = :client")
        params["client"] = client
    if status is not None:
        where.append("status = :status")
        params["status"] = status
    if recipient is not None:
        where.append("recipient = :recipient")
        params["recipient"] = recipient
    if since is not None:
        where.append("created_at >= :since")
        where.append("id >= (SELECT coalesce(min(id), 9223372036854775807) FROM messages INDEXED BY messages_created"
                     " WHERE created_at >= :since)")
        params["since"] = to_stamp(since)
    if after_id is not None:
        where.append("id < :after_id" if descending else "id > :after_id")
        params["after_id"] = after_id
    index = ("messages_recipient" if recipient is not None else "messages_status" if status is not None
             else "messages_client" if client is not None and since is None else None)
    source = f"messages INDEXED BY {index}" if index else "messages"
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "DESC" if descending else "ASC"
    rows = tx.all(f"SELECT * FROM {source} {clause} ORDER BY id {order} LIMIT :limit", params)
    return [Message.from_row(row) for row in rows]


def counts_by_status(tx: Tx) -> dict[str, int]:
    return {row["status"]: row["n"] for row in tx.all("SELECT status, n FROM message_counts ORDER BY status")}
