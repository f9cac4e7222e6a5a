"""What a modem hands the SMSC when it accepts an AT+CMGS: one part, as the client submitted it."""

from __future__ import annotations

from dataclasses import dataclass

from gatewayd.modem.pdu import SmsSubmit


@dataclass(frozen=True)
class Submission:
    """One submitted part. ``user_data`` (TP-UDL + TP-UD, UDH included) is relayed verbatim when known.

    Relaying the submitter's user data octets, rather than re-encoding its text, is what a real SMSC
    does: the concatenation header, the alphabet and the split points reach the recipient unchanged.
    """

    destination: str
    text: str
    encoding: str
    status_report: bool
    concat: tuple[int, int, int] | None = None
    """(reference, total, sequence)"""
    pid: int = 0
    dcs: int = 0
    udhi: bool = False
    user_data: bytes | None = None


def _user_data_offset(tpdu: bytes) -> int:
    """Where TP-UDL starts in an SMS-SUBMIT TPDU (decode_pdu has already validated the layout)."""
    first = tpdu[0]
    digits = tpdu[2]
    pos = 4 + (digits + 1) // 2  # first octet, TP-MR, TP-DA length, type, digits
    pos += 2  # TP-PID, TP-DCS
    vpf = (first >> 3) & 0x03
    pos += {0: 0, 2: 1}.get(vpf, 7)
    return pos


def from_pdu(submit: SmsSubmit, tpdu: bytes) -> Submission:
    offset = _user_data_offset(tpdu)
    concat = submit.concat
    return Submission(
        destination=submit.destination,
        text=submit.text,
        encoding=submit.encoding,
        status_report=submit.status_report_request,
        concat=(concat.reference, concat.total, concat.sequence) if concat else None,
        pid=submit.pid,
        dcs=tpdu[offset - 1],
        udhi=bool(tpdu[0] & 0x40),
        user_data=tpdu[offset:],
    )
