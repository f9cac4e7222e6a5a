"""Status reports (SMS-STATUS-REPORT): store each once, match it to the part it is about, roll up.

Matching: a report names only the modem's TP-MR (0-255, reused every 256 sends) and the recipient.
So a part matches when it was sent by the same modem, with that MR, to the same number (digits
compared: some networks drop the '+'), within ``MATCH_WINDOW``; the most recently sent wins. Some
networks give the recipient in national form ("07911123456" for +447911123456, "89161234567" for
+79161234567): failing an exact match, the last ``NATIONAL_TAIL`` digits are compared (a trunk prefix
is at most two digits, and the modem and MR already narrow the candidates to a handful). A report
that matches nothing is stored unmatched, for the operator, never dropped.

Roll-up: a message is 'delivered' when every part is; 'failed' as soon as one part failed
permanently (the recipient cannot read it whole). Pending reports (SC still trying) only update
the part. Only a 'sent' message rolls up; mark_sent() rolls up reports that came earlier.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from gatewayd.modem.pdu import SmsStatusReport, status_text
from gatewayd.queue import contacts, events, outbox
from gatewayd.queue.model import Message, Status
from gatewayd.queue.timefmt import to_stamp
from gatewayd.queue.tx import Tx

LOGGER = logging.getLogger(__name__)

MATCH_WINDOW = timedelta(days=7)
"""How long after a part was sent a report may still be matched to it (SMSCs keep trying ~2-3 days)."""

NATIONAL_TAIL = 8
"""Digits compared when a report's recipient is in national form: every mobile's national significant
number has at least eight (and a national form drops at most the country code, adds a trunk prefix)."""

_MATCH = """
SELECT p.message_id, p.part
FROM message_parts AS p INDEXED BY message_parts_reports
JOIN messages AS m ON m.id = p.message_id
WHERE p.modem = :modem AND p.mr = :mr AND p.sent_at >= :window_start
  AND {recipient}
ORDER BY p.sent_at DESC
LIMIT 1
"""
_EXACT = _MATCH.format(recipient="ltrim(m.recipient, '+') = :digits")
_TAIL = _MATCH.format(recipient="substr(m.recipient, -length(:digits)) = :digits")


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _dedupe_key(modem_id: str, report: SmsStatusReport) -> str:
    # Decoded fields, not the PDU text: the same report read via +CDS and via +CMGR may differ in
    # padding or SMSC prefix.
    fields = (modem_id, str(report.message_reference), _digits(report.recipient),
              to_stamp(report.sc_timestamp), to_stamp(report.discharge_time), str(report.status))
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def record(tx: Tx, modem_id: str, report: SmsStatusReport, pdu: str) -> Message | None:
    """Store and apply one report; returns the message if its status changed."""
    key = _dedupe_key(modem_id, report)
    cursor = tx.run(
        "INSERT INTO status_reports (dedupe_key, modem, mr, recipient, status, sc_timestamp, discharge_time,"
        " pdu, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (key, modem_id, report.message_reference, report.recipient, report.status,
         to_stamp(report.sc_timestamp), to_stamp(report.discharge_time), pdu, tx.stamp))
    if cursor.rowcount == 0:
        LOGGER.debug("modem %s: status report for mr %d seen before", modem_id, report.message_reference)
        return None
    report_id = cursor.lastrowid
    digits = _digits(report.recipient)
    params = {"modem": modem_id, "mr": report.message_reference, "digits": digits,
              "window_start": to_stamp(tx.now - MATCH_WINDOW)}
    match = tx.one(_EXACT, params)
    if match is None and len(digits) >= NATIONAL_TAIL and not report.recipient.startswith("+"):
        match = tx.one(_TAIL, {**params, "digits": digits[-NATIONAL_TAIL:]})
    if match is None:
        LOGGER.info("modem %s: status report for mr %d to %s matches no sent part; stored unmatched", modem_id,
                    report.message_reference, report.recipient)
        return None
    message_id, part = match["message_id"], match["part"]
    tx.run("UPDATE status_reports SET message_id = ?, part = ? WHERE id = ?", (message_id, part, report_id))
    state = "delivered" if report.delivered else "failed" if report.failed else None
    tx.run("UPDATE message_parts SET report_status = ?, reported_at = ?, state = coalesce(?, state)"
           " WHERE message_id = ? AND part = ?", (report.status, tx.stamp, state, message_id, part))
    events.record(tx, message_id=message_id, kind=events.KIND_REPORT, reason=report.status_text, modem=modem_id,
                  detail={"part": part, "status": report.status})
    message = outbox.require(tx, message_id)
    if state is not None:
        contacts.note_report(tx, message.recipient, failed=state == "failed")
    changed = roll_up(tx, message)
    return changed if changed is not None and changed.status != message.status else None


def roll_up(tx: Tx, message: Message) -> Message | None:
    """Apply the parts' reports to a 'sent' message; returns it changed, or None."""
    if message.status != Status.SENT:
        return None
    rows = tx.all("SELECT part, state, report_status FROM message_parts WHERE message_id = ? ORDER BY part",
                  (message.id,))
    failed = [row for row in rows if row["state"] == "failed"]
    if failed:
        code = failed[0]["report_status"]
        reason = f"status report: {status_text(code)}"
        return outbox.transition(tx, message, Status.FAILED, reason, detail={"part": failed[0]["part"],
                                                                             "status": code},
                                 set_columns={"last_error": reason, "error_code": code})
    if sum(1 for row in rows if row["state"] == "delivered") == message.parts:
        return outbox.transition(tx, message, Status.DELIVERED, "status report: every part delivered")
    return None
