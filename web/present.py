"""Queue rows as the JSON the API promises: field names of the request, times in ISO 8601 UTC.

Kept apart from the views so the names a client sees are decided in one place and do not leak the
database's column names (``recipient`` is ``to`` on the wire, as in the request).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any, Final

from flask import Response

from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Contact, Event, InboundMessage, Message, Part

INVALID_CSV_COLUMNS: Final = ("number", "reason", "marked_at", "failed_reports")
INVALID_CSV_MAX = 1_000_000


def iso(when: datetime | None) -> str | None:
    """``2026-11-23T09:00:00.123456Z``: UTC, so clients need not handle offsets."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def receipt(message: Message) -> dict[str, Any]:
    """The answer to a POST: enough to follow the message, nothing the client just sent."""
    return {"id": message.id, "status": str(message.status), "parts": message.parts,
            "encoding": message.encoding}


def message_json(message: Message, events: list[Event] | None = None, parts: list[Part] | None = None
                 ) -> dict[str, Any]:
    """A message; with ``events`` (its history) and ``parts`` (delivery per part) for the detail view."""
    body = {
        "id": message.id,
        "to": message.recipient,
        "text": message.text,
        "class": message.message_class,
        "status": str(message.status),
        "parts": message.parts,
        "encoding": message.encoding,
        "send_at": iso(message.send_at),
        "expires_at": iso(message.expires_at),
        "idempotency_key": message.idempotency_key,
        "metadata": message.metadata,
        "attempts": message.attempts,
        "modem": message.modem,
        "last_error": message.last_error,
        "error_code": message.error_code,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
    }
    if events is not None:
        body["events"] = [event_json(event) for event in events]
    if parts is not None:
        body["delivery"] = [{"part": p.part + 1, "state": str(p.state), "modem": p.modem, "mr": p.mr,
                             "sent_at": iso(p.sent_at), "report_status": p.report_status,
                             "reported_at": iso(p.reported_at)} for p in parts]
    return body


def inbound_json(message: InboundMessage) -> dict[str, Any]:
    return {"id": message.id, "modem": message.modem, "from": message.sender, "text": message.text,
            "sc_timestamp": iso(message.sc_timestamp), "received_at": iso(message.received_at),
            "parts": message.parts, "parts_expected": message.parts_expected, "complete": message.complete,
            "encoding": message.encoding, "intent": message.intent, "keyword": message.keyword}


def modem_json(snapshot: ModemSnapshot) -> dict[str, Any]:
    status = snapshot.status
    signal = status.signal if status else None
    registration = status.registration if status else None
    return {
        "id": snapshot.modem_id, "port": snapshot.port, "state": snapshot.state.value,
        "identity": dict(snapshot.identity),
        "signal": None if signal is None else {"rssi": signal.rssi, "dbm": signal.dbm, "bars": signal.bars},
        "registration": None if registration is None else registration.text,
        "operator": status.operator if status else None,
        "last_error": snapshot.last_error, "reconnects": snapshot.reconnects, "sim": snapshot.sim.value,
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "kind": event.kind,
        "from": event.from_status,
        "to": event.to_status,
        "reason": event.reason,
        "modem": event.modem,
        "detail": event.detail,
    }


def invalid_number_json(contact: Contact) -> dict[str, Any]:
    return {"number": contact.number, "reason": contact.invalid_reason, "marked_at": iso(contact.invalid_at),
            "failed_reports": contact.failed_reports}


def csv_response(contacts: list[Contact]) -> Response:
    """Invalid numbers as a CSV download (a spreadsheet is where operators clean their lists)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=INVALID_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(invalid_number_json(contact) for contact in contacts)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=invalid-numbers.csv"})
