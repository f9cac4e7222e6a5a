"""Received SMS-DELIVER parts, each stored once, joined into one inbox row when the last one arrives.

The modem deletes a message from its SIM only after ``record_inbound`` committed, so a crash at any
point means the part is read again: the part table's dedupe key makes that harmless. Grouping is
done in SQL over the parts not yet joined (``inbox_id IS NULL``): a group is (modem, sender,
reference, total, reference width). When a group has every sequence number, the first-received part
of each number is joined into one inbox row, in the same transaction, and that call alone returns
it. A part whose sequence number is already present stays unjoined and starts the next group (8-bit
references wrap after 256 messages).

Text: UCS2 parts are joined as bytes before decoding, because senders split a surrogate pair (an
emoji) across two parts; each part alone decodes it as U+FFFD.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver, join_ucs2_parts
from gatewayd.queue.errors import InvalidMessage
from gatewayd.queue.model import InboundMessage
from gatewayd.queue.timefmt import to_stamp
from gatewayd.queue.tx import Tx

LOGGER = logging.getLogger(__name__)

_GROUP = """
modem = :modem AND sender = :sender AND concat_ref IS :ref AND concat_total = :total AND concat_bits = :bits
AND inbox_id IS NULL
"""


def _dedupe_key(modem_id: str, part: SmsDeliver) -> str:
    concat = part.concat
    fields = (
        modem_id, part.sender, to_stamp(part.timestamp),
        "" if concat is None else f"{concat.bits}:{concat.reference}:{concat.total}:{concat.sequence}",
        part.encoding, part.data.hex(),
    )
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def record(tx: Tx, received: Received) -> InboundMessage | None:
    """Store one part; return the whole message only when this call completed it."""
    part = received.message
    if not isinstance(part, SmsDeliver):
        raise InvalidMessage(f"modem {received.modem_id}: not an SMS-DELIVER: {received.error or type(part).__name__}")
    concat = part.concat if part.concat is not None and part.concat.total > 1 else None
    total = 1 if concat is None else concat.total
    group: dict[str, Any] = {
        "modem": received.modem_id, "sender": part.sender,
        "ref": None if concat is None else concat.reference,
        "total": total,
        "bits": 0 if concat is None else concat.bits,
    }
    cursor = tx.run(
        "INSERT INTO inbox_parts (dedupe_key, modem, sender, sc_timestamp, concat_ref, concat_total, concat_seq,"
        " concat_bits, encoding, compressed, data, text, pdu, received_at)"
        " VALUES (:key, :modem, :sender, :ts, :ref, :total, :seq, :bits, :encoding, :compressed, :data, :text,"
        " :pdu, :now) ON CONFLICT (dedupe_key) DO NOTHING",
        {**group, "key": _dedupe_key(received.modem_id, part), "ts": to_stamp(part.timestamp),
         "seq": 1 if concat is None else concat.sequence, "encoding": part.encoding,
         "compressed": int(part.compressed), "data": part.data, "text": part.text, "pdu": received.pdu,
         "now": tx.stamp},
    )
    if cursor.rowcount == 0:
        LOGGER.debug("modem %s: part from %s seen before", received.modem_id, part.sender)
        return None
    rows = _first_of_each_sequence(tx, group)
    if len(rows) < total:
        return None
    return _assemble(tx, rows, complete=True)


def _first_of_each_sequence(tx: Tx, group: Mapping[str, Any]) -> list[sqlite3.Row]:
    return tx.all(
        f"SELECT * FROM inbox_parts WHERE id IN (SELECT min(id) FROM inbox_parts WHERE {_GROUP} GROUP BY concat_seq)"
        " ORDER BY concat_seq", group)


def _join(rows: list[sqlite3.Row]) -> str:
    if all(row["encoding"] == "ucs2" and not row["compressed"] for row in rows):
        return join_ucs2_parts([bytes(row["data"]) for row in rows])
    return "".join(row["text"] for row in rows)


def _assemble(tx: Tx, rows: list[sqlite3.Row], *, complete: bool) -> InboundMessage:
    first = rows[0]
    encodings = {row["encoding"] for row in rows}
    row = tx.one(
        "INSERT INTO inbox (modem, sender, text, sc_timestamp, received_at, parts, parts_expected, complete,"
        " encoding, pdus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (first["modem"], first["sender"], _join(rows), first["sc_timestamp"], tx.stamp, len(rows),
         first["concat_total"], int(complete), encodings.pop() if len(encodings) == 1 else "mixed",
         json.dumps([r["pdu"] for r in rows])))
    assert row is not None
    message = InboundMessage.from_row(row)
    tx.conn.executemany("UPDATE inbox_parts SET inbox_id = ? WHERE id = ?", [(message.id, r["id"]) for r in rows])
    if not complete:
        LOGGER.warning("modem %s: message from %s kept incomplete with %d of %d parts", message.modem,
                       message.sender, message.parts, message.parts_expected)
    return message


def expire_groups(tx: Tx, max_age: timedelta) -> list[InboundMessage]:
    """Join what is there of groups whose first part is older than ``max_age``, flagged incomplete."""
    cutoff = to_stamp(tx.now - max_age)
    expired: list[InboundMessage] = []
    while True:
        group = tx.one(
            "SELECT modem, sender, concat_ref AS ref, concat_total AS total, concat_bits AS bits"
            " FROM inbox_parts WHERE inbox_id IS NULL"
            " GROUP BY modem, sender, concat_ref, concat_total, concat_bits HAVING min(received_at) < ? LIMIT 1",
            (cutoff,))
        if group is None:
            return expired
        rows = _first_of_each_sequence(tx, dict(group))
        expired.append(_assemble(tx, rows, complete=len(rows) >= group["total"]))


def get(tx: Tx, inbox_id: int) -> InboundMessage | None:
    row = tx.one("SELECT * FROM inbox WHERE id = ?", (inbox_id,))
    return None if row is None else InboundMessage.from_row(row)


def list_inbox(tx: Tx, *, limit: int, after_id: int | None, unmatched: bool = False,
               newest_first: bool = False, since: datetime | None = None) -> list[InboundMessage]:
    """Cursor pagination by id; newest first, ``after_id`` means older than it."""
    where = ["intent IS NULL"] if unmatched else []
    params: list[Any] = []
    if since is not None:
        # An id bound from the received_at index, so the scan starts at the first new row (see
        # outbox.list_messages); the received_at test stays for rows a clock step put out of order.
        where.append("received_at >= ?")
        where.append("id >= (SELECT coalesce(min(id), 9223372036854775807) FROM inbox INDEXED BY inbox_received"
                     " WHERE received_at >= ?)")
        params.extend([to_stamp(since), to_stamp(since)])
    if after_id is not None:
        where.append("id < ?" if newest_first else "id > ?")
        params.append(after_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "DESC" if newest_first else "ASC"
    rows = tx.all(f"SELECT * FROM inbox {clause} ORDER BY id {order} LIMIT ?", (*params, max(0, limit)))
    return [InboundMessage.from_row(row) for row in rows]
