"""Per-part marks of an outgoing message: the records that make "nothing doubled" hold.

Before a part's PDU leaves, ``part_written`` commits (state 'written'); once the modem accepted it,
``part_sent`` records its TP-MR (state 'sent'). After a crash the pair tells, per part: never
written (send it), accepted (never again), or written without an answer (unknown: only an operator
may send it again). A part with no row is pending.
"""

from __future__ import annotations

from gatewayd.queue.errors import IllegalTransition, NotFound, QueueError, SendRefused
from gatewayd.queue.model import SENT_PART_STATES, Message, Part, PartState, Status
from gatewayd.queue.tx import Tx

MR_MAX = 255


def states(tx: Tx, message_id: int) -> dict[int, PartState]:
    rows = tx.all("SELECT part, state FROM message_parts WHERE message_id = ?", (message_id,))
    return {row["part"]: PartState(row["state"]) for row in rows}


def unsent(tx: Tx, message: Message) -> list[int]:
    """0-based parts that have not left the modem: all of them for a fresh message."""
    known = states(tx, message.id)
    return [i for i in range(message.parts) if known.get(i, PartState.PENDING) not in SENT_PART_STATES]


def any_sent(tx: Tx, message_id: int) -> bool:
    return any(state in SENT_PART_STATES for state in states(tx, message_id).values())


def written(tx: Tx, message_id: int) -> list[int]:
    return [part for part, state in states(tx, message_id).items() if state == PartState.WRITTEN]


def reset_written(tx: Tx, message_id: int) -> int:
    """Written parts back to pending: for callers that know the modem refused them (an error answer)."""
    return tx.run("UPDATE message_parts SET state = 'pending', pdu_written_at = NULL"
                  " WHERE message_id = ? AND state = 'written'", (message_id,)).rowcount


def list_parts(tx: Tx, message_id: int) -> list[Part]:
    rows = tx.all("SELECT * FROM message_parts WHERE message_id = ? ORDER BY part", (message_id,))
    return [Part.from_row(row) for row in rows]


def _sending_message(tx: Tx, message_id: int, part: int) -> Message:
    row = tx.one("SELECT * FROM messages WHERE id = ?", (message_id,))
    if row is None:
        raise NotFound(message_id)
    message = Message.from_row(row)
    if message.status != Status.SENDING:
        raise IllegalTransition(message_id, message.status, "sending", f"part {part} is not part of a claim")
    if not 0 <= part < message.parts:
        raise QueueError(f"message {message_id} has {message.parts} part(s); no part {part}")
    return message


def part_written(tx: Tx, message_id: int, part: int, modem_id: str) -> None:
    """The durable mark made after the modem's prompt and before the PDU: raising here aborts the PDU.

    A marketing message whose recipient opted out since the claim is refused here (SendRefused), part
    by part: this transaction and the opt-out's are serialised, so once the opt-out is committed no
    further PDU of it leaves.
    """
    message = _sending_message(tx, message_id, part)
    if message.message_class == "marketing":
        state = tx.scalar("SELECT marketing FROM contacts WHERE number = ?", (message.recipient,))
        if state == "opted_out":
            raise SendRefused(message_id, "recipient opted out of marketing while the message was being sent")
    tx.run("UPDATE messages SET went_at = ? WHERE id = ? AND went_at IS NULL", (tx.stamp, message_id))
    cursor = tx.run(
        "INSERT INTO message_parts (message_id, part, state, modem, pdu_written_at)"
        " VALUES (?, ?, 'written', ?, ?)"
        " ON CONFLICT (message_id, part) DO UPDATE"
        " SET state = 'written', modem = excluded.modem, pdu_written_at = excluded.pdu_written_at,"
        "     mr = NULL, sent_at = NULL"
        " WHERE message_parts.state = 'pending'",
        (message_id, part, modem_id, tx.stamp),
    )
    if cursor.rowcount != 1:
        state = tx.scalar("SELECT state FROM message_parts WHERE message_id = ? AND part = ?", (message_id, part))
        raise QueueError(f"message {message_id} part {part} is {state}; its PDU must not be written again")


def part_sent(tx: Tx, message_id: int, part: int, mr: int) -> None:
    """The modem accepted the part; ``mr`` < 0 means it did not say which reference it used."""
    _sending_message(tx, message_id, part)
    reference = mr if 0 <= mr <= MR_MAX else None
    cursor = tx.run("UPDATE message_parts SET state = 'sent', mr = ?, sent_at = ?"
                    " WHERE message_id = ? AND part = ? AND state = 'written'",
                    (reference, tx.stamp, message_id, part))
    if cursor.rowcount != 1:
        raise QueueError(f"message {message_id} part {part} was not marked written before it was sent")
