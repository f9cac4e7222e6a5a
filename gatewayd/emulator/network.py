"""The emulated network: an SMSC that relays between emulated modems and keeps a ground-truth log.

Every PDU the SMSC accepts becomes one JSON line in the log (flushed per line), because the
end-to-end promise "nothing lost, nothing doubled" is checked against what the network saw, not
against what the gateway believes it sent.

Delivery is store-and-forward, as in a real network: a message for a modem that cannot take it now
(not registered, SIM memory full) stays queued at the SMSC and is retried every ``RETRY_INTERVAL``
and as soon as the modem deletes a message. Order per recipient is kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from gatewayd.emulator.modem import EmulatedModem
from gatewayd.emulator.submission import Submission
from gatewayd.emulator.timers import Scheduler, Timer
from gatewayd.modem.pdu import (
    SmsStatusReport,
    decode_pdu,
    encode_address,
    encode_deliver,
    encode_status_report,
    encode_timestamp,
    plan_text,
)

LOGGER = logging.getLogger(__name__)

SMSC_NUMBER = "+15559999999"
DELIVERY_DELAY = 0.02
"""Seconds between the SMSC accepting a part and offering it to an emulated recipient."""
STATUS_REPORT_DELAY = 0.2
"""Seconds between accepting a submit and sending its status report."""
RETRY_INTERVAL = 0.5
"""Seconds between delivery attempts for messages a modem could not take."""


def text_timestamp(when: datetime) -> str:
    """27.005 text-mode time: "yy/MM/dd,hh:mm:ss+zz" (zz in quarter hours; the SMSC runs on UTC)."""
    return when.strftime("%y/%m/%d,%H:%M:%S") + "+00"


@dataclass
class PendingDelivery:
    recipient: EmulatedModem
    kind: str  # "deliver" or "status-report"
    pdu: str
    tpdu_length: int
    fields: dict[str, str | int]


def _tpdu_length(pdu_hex: str) -> int:
    return len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)


class SubmitLog:
    """The JSON-lines log of accepted submits; also kept in memory for ``Emulator.sent()``."""

    def __init__(self, path: str | None) -> None:
        self.records: list[dict[str, Any]] = []
        self._file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EmulatedNetwork:
    """Numbers to modems, the SMSC queue, status reports. Runs on the emulator's loop thread."""

    def __init__(self, scheduler: Scheduler, log_path: str | None = None, smsc: str = SMSC_NUMBER,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.scheduler = scheduler
        self.smsc = smsc
        self.log = SubmitLog(log_path)
        self.modems: dict[str, EmulatedModem] = {}
        self._clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        self._pending: list[PendingDelivery] = []
        self._retry: Timer | None = None
        self._references = 0
        self.rejected: dict[str, int] = {}
        """Destinations the network refuses, with the +CMS ERROR code (e.g. 1 unassigned, 30 unknown)."""

    def rejection(self, destination: str) -> int | None:
        """The CMS error code the network answers a submit to ``destination`` with, or None."""
        return self.rejected.get(destination)

    def attach(self, modem: EmulatedModem) -> None:
        if modem.number in self.modems:
            raise ValueError(f"number {modem.number} already in the network")
        self.modems[modem.number] = modem

    def close(self) -> None:
        self.log.close()

    # -- from the modems -------------------------------------------------------------------------------

    def accept_submit(self, modem: EmulatedModem, submission: Submission, mr: int) -> None:
        now = self._clock()
        ref, total, sequence = submission.concat or (None, 1, 1)
        self.log.append({
            "from": modem.number, "to": submission.destination, "text": submission.text, "parts": total,
            "part": sequence, "ref": ref, "mr": mr, "ts": now.isoformat(), "modem": modem.modem_id,
        })
        LOGGER.info("modem %s: SMSC accepted mr=%d to %s (part %d/%d)", modem.modem_id, mr,
                    submission.destination, sequence, total)
        if modem.command_times is not None:
            modem.command_times.record(self.scheduler.now(), modem.modem_id, "accept", f"mr={mr}")
        recipient = self.modems.get(submission.destination)
        if recipient is not None:
            pdu, length = self._relay(modem.number, submission, now)
            fields: dict[str, str | int] = {"sender": modem.number, "scts": text_timestamp(now),
                                            "text": submission.text}
            delivery = PendingDelivery(recipient, "deliver", pdu, length, fields)
            self.scheduler.call_later(DELIVERY_DELAY, lambda: self._enqueue(delivery))
        if submission.status_report:
            status = 0
            if modem.faults.report_status_count > 0:
                modem.faults.report_status_count -= 1
                status = modem.faults.report_status
            self.scheduler.call_later(
                STATUS_REPORT_DELAY, lambda: self._report(modem, mr, submission.destination, now, status))

    def storage_freed(self, modem: EmulatedModem) -> None:
        self._flush()

    # -- from the outside world ------------------------------------------------------------------------

    def deliver_external(self, to_number: str, sender: str, text: str) -> int:
        """An SMS from outside the emulated network; split into parts (UCS2 when needed)."""
        recipient = self.modems.get(to_number)
        if recipient is None:
            raise ValueError(f"no emulated modem has number {to_number}")
        now = self._clock()
        self._references = (self._references + 1) % 256
        pdus = encode_deliver(sender, text, timestamp=now, smsc=self.smsc, concat_reference=self._references)
        _, texts = plan_text(text)  # the same split encode_deliver made: each part's own text for text mode
        if len(texts) != len(pdus):
            texts = [text] * len(pdus)
        for pdu, part_text in zip(pdus, texts, strict=True):
            fields: dict[str, str | int] = {"sender": sender, "scts": text_timestamp(now), "text": part_text}
            self._enqueue(PendingDelivery(recipient, "deliver", pdu, _tpdu_length(pdu), fields))
        return len(pdus)

    def report_external(self, modem: EmulatedModem, pdu: str | None = None, *, mr: int | None = None,
                        recipient: str | None = None, status: int = 0) -> str:
        """A status report the SMSC sends ``modem`` on its own: ``pdu`` as given (it must decode as an
        SMS-STATUS-REPORT), or one built for ``mr`` and ``recipient``. Nothing here checks that the
        modem ever sent that reference: reports for unknown references are what this is for (a reused
        MR, a report for a message sent before a SIM swap, a misbehaving SMSC). Returns the PDU."""
        now = self._clock()
        if pdu is None:
            if mr is None or recipient is None:
                raise ValueError("give a pdu, or an mr and a recipient")
            pdu = encode_status_report(mr, recipient, sc_timestamp=now, discharge_time=now, status=status,
                                       smsc=self.smsc)
        report = decode_pdu(pdu)
        if not isinstance(report, SmsStatusReport):
            raise ValueError(f"not an SMS-STATUS-REPORT but {type(report).__name__}")
        fields: dict[str, str | int] = {"mr": report.message_reference, "recipient": report.recipient,
                                        "scts": text_timestamp(report.sc_timestamp),
                                        "dt": text_timestamp(report.discharge_time), "st": report.status}
        LOGGER.info("modem %s: SMSC sends a status report for mr=%d to %s (status %d)", modem.modem_id,
                    report.message_reference, report.recipient, report.status)
        self._enqueue(PendingDelivery(modem, "status-report", pdu, _tpdu_length(pdu), fields))
        return pdu

    # -- internals -------------------------------------------------------------------------------------

    def _relay(self, sender: str, submission: Submission, now: datetime) -> tuple[str, int]:
        """The SMS-DELIVER for one submitted part: the submitter's user data, relayed verbatim."""
        if submission.user_data is None:
            pdu = encode_deliver(sender, submission.text, timestamp=now, smsc=self.smsc)[0]
            return pdu, _tpdu_length(pdu)
        first = 0x04 | (0x40 if submission.udhi else 0)  # SMS-DELIVER, no more messages waiting
        tpdu = (bytes([first]) + encode_address(sender, allow_alphanumeric=True)
                + bytes([submission.pid, submission.dcs]) + encode_timestamp(now) + submission.user_data)
        return (encode_address(self.smsc, smsc=True) + tpdu).hex().upper(), len(tpdu)

    def _report(self, modem: EmulatedModem, mr: int, recipient: str, submitted: datetime,
                status: int) -> None:
        now = self._clock()
        pdu = encode_status_report(mr, recipient, sc_timestamp=submitted, discharge_time=now, status=status,
                                   smsc=self.smsc)
        fields: dict[str, str | int] = {"mr": mr, "recipient": recipient, "scts": text_timestamp(submitted),
                                        "dt": text_timestamp(now), "st": status}
        self._enqueue(PendingDelivery(modem, "status-report", pdu, _tpdu_length(pdu), fields))

    def _enqueue(self, delivery: PendingDelivery) -> None:
        self._pending.append(delivery)
        self._flush()

    def _flush(self) -> None:
        blocked: set[str] = set()
        remaining: list[PendingDelivery] = []
        for item in self._pending:
            modem = item.recipient
            key = f"{modem.modem_id}:{item.kind}"
            if key not in blocked:
                take = modem.receive_deliver if item.kind == "deliver" else modem.receive_status_report
                if take(item.pdu, item.tpdu_length, item.fields):
                    continue
                blocked.add(key)
            remaining.append(item)
        self._pending = remaining
        if remaining and (self._retry is None or self._retry.cancelled):
            self._retry = self.scheduler.call_later(RETRY_INTERVAL, self._flush)

    def pending_count(self) -> int:
        return len(self._pending)
