"""SMS TPDUs of 3GPP TS 23.040 in PDU mode (27.005): decode DELIVER / SUBMIT / STATUS-REPORT, encode them.

Pure functions over hex strings; no I/O. Everything that is wrong with an input raises ``PduError`` and
nothing else, because the caller (the modem owner) must be able to quarantine one bad PDU from a SIM
without a stray IndexError taking the receive loop down.

Decisions worth knowing:

- Strict about lengths: a PDU shorter than its length fields say, or with extra octets after the
  user data, is an error. Deliberate leniency, because real modems do it: an odd-length hex string
  ending in ``F`` loses that nibble, and trailing ``FF`` octets (SIM record padding some modems echo in
  +CMGR) are ignored.
- 8-bit user data: ``data`` holds the raw octets (without UDH) and ``text`` is their upper-case hex,
  so the text column never holds undecodable bytes. Compressed user data (23.038 clause 4 bit 5) is
  handled the same way (``compressed=True``; ``encoding="8bit"``) because we cannot decompress it.
- GSM-7 user data: ``data`` holds the septet values, one per byte (escapes included), not the packed
  octets, so nothing downstream needs to know about fill bits.
- UCS2 is decoded as UTF-16-BE so emoji survive as surrogate pairs; a lone surrogate (a phone that
  split a pair across parts, or garbage) becomes U+FFFD instead of raising. ``data`` keeps the raw
  octets, so the reassembler can rejoin a pair split across parts.
- ``more_messages`` is True when TP-MMS is 0 ("more messages are waiting in the SC"), as 23.040
  9.2.3.2 defines it; most PDUs therefore carry the 0x04 bit and decode to False.
- Two-digit years are 2000-2069 and 1970-1999 (``yy >= 70``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from gatewayd.modem.gsm7 import (
    PduError,
    can_encode_gsm7,
    decode_septets,
    encode_septets,
    pack_septets,
    septet_length,
    unpack_septets,
)

__all__ = [
    "Concat",
    "DataCoding",
    "EncodedPdu",
    "Encoding",
    "MessageWaiting",
    "PduError",
    "Ports",
    "SmsDeliver",
    "SmsStatusReport",
    "SmsSubmit",
    "decode_address",
    "decode_dcs",
    "decode_pdu",
    "decode_relative_validity",
    "decode_timestamp",
    "encode_address",
    "encode_deliver",
    "encode_relative_validity",
    "encode_status_report",
    "encode_submit",
    "encode_timestamp",
    "plan_text",
    "status_text",
]

LOGGER = logging.getLogger(__name__)

Encoding = Literal["gsm7", "ucs2", "8bit"]
EncodingChoice = Literal["auto", "gsm7", "ucs2"]

MAX_USER_DATA_OCTETS = 140
"""TP-UD is at most 140 octets (23.040 9.2.3.24): 160 septets or 70 UCS2 code units."""
MAX_SEPTETS = 160
MAX_UCS2_UNITS = 70
MAX_PARTS = 255
"""The concatenation IE counts parts in one octet."""
MAX_ADDRESS_DIGITS = 20
"""TP-DA/TP-OA hold at most 10 octets of digits (23.040 9.1.2.5)."""
MAX_ALPHANUMERIC_CHARS = 11
"""Ten octets of packed septets hold 11 characters."""
MAX_SMSC_OCTETS = 11
"""The SMSC field (24.011 RP-address): TOA plus up to 10 octets of digits."""
TIMESTAMP_OCTETS = 7
MAX_ZONE_QUARTERS = 79
"""Two BCD digits with the sign in the top bit: at most 79 quarter hours."""
MAX_RELATIVE_VALIDITY = timedelta(weeks=63)

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5

IEI_CONCAT_8 = 0x00
IEI_PORTS_8 = 0x04
IEI_PORTS_16 = 0x05
IEI_CONCAT_16 = 0x08
IEI_NATIONAL_SINGLE_SHIFT = 0x25

MTI_DELIVER = 0
MTI_SUBMIT = 1
MTI_STATUS_REPORT = 2

# First-octet bits (23.040 9.2.3)
BIT_MMS_OR_RD = 0x04
BIT_SRI_SRR_SRQ = 0x20
BIT_UDHI = 0x40
BIT_RP = 0x80

VPF_NONE = 0
VPF_ENHANCED = 1
VPF_RELATIVE = 2
VPF_ABSOLUTE = 3

_BCD_DIGITS = "0123456789*#abc"
_BCD_VALUES = {ch: i for i, ch in enumerate(_BCD_DIGITS)}
_BCD_VALUES.update({"A": 0x0C, "B": 0x0D, "C": 0x0E})


@dataclass(frozen=True)
class Concat:
    """A concatenated-message IE (23.040 9.2.3.24.1 / .8)."""

    reference: int
    total: int
    sequence: int
    bits: int  # 8 or 16


@dataclass(frozen=True)
class Ports:
    """An application port addressing IE (23.040 9.2.3.24.3 / .4)."""

    destination: int
    source: int
    bits: int


@dataclass(frozen=True)
class MessageWaiting:
    """The message-waiting indication carried by DCS groups 1100-1110 (23.038 clause 4)."""

    active: bool
    kind: int  # 0 voicemail, 1 fax, 2 e-mail, 3 other
    store: bool  # False for group 1100 ("discard message")


@dataclass(frozen=True)
class DataCoding:
    """What a TP-DCS octet says (23.038 clause 4), every group included."""

    encoding: Encoding
    message_class: int | None
    compressed: bool
    waiting: MessageWaiting | None
    auto_delete: bool


@dataclass(frozen=True)
class SmsDeliver:
    smsc: str | None
    sender: str
    sender_toa: int
    timestamp: datetime
    pid: int
    dcs: int
    encoding: Encoding
    message_class: int | None
    text: str
    data: bytes
    udh: bytes
    concat: Concat | None
    ports: Ports | None
    status_report_indication: bool
    more_messages: bool
    reply_path: bool
    compressed: bool = False
    waiting: MessageWaiting | None = None


@dataclass(frozen=True)
class SmsSubmit:
    smsc: str | None
    destination: str
    destination_toa: int
    message_reference: int
    pid: int
    dcs: int
    encoding: Encoding
    text: str
    data: bytes
    udh: bytes
    concat: Concat | None
    ports: Ports | None
    status_report_request: bool
    validity: timedelta | datetime | None
    reject_duplicates: bool
    reply_path: bool
    message_class: int | None = None
    compressed: bool = False


_STATUS_TEXTS: dict[int, str] = {
    0x00: "received by the recipient",
    0x01: "forwarded by the SC, delivery unconfirmed",
    0x02: "replaced by the SC",
    0x20: "congestion, SC still trying",
    0x21: "recipient busy, SC still trying",
    0x22: "no response from recipient, SC still trying",
    0x23: "service rejected, SC still trying",
    0x24: "quality of service not available, SC still trying",
    0x25: "error in recipient, SC still trying",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by recipient",
    0x43: "not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "validity period expired",
    0x47: "deleted by originating SME",
    0x48: "deleted by SC administration",
    0x49: "message does not exist",
    0x60: "congestion, SC gave up",
    0x61: "recipient busy, SC gave up",
    0x62: "no response from recipient, SC gave up",
    0x63: "service rejected, SC gave up",
    0x64: "quality of service not available, SC gave up",
    0x65: "error in recipient, SC gave up",
}


def status_text(status: int) -> str:
    """A short English description of a TP-ST value (23.040 9.2.3.15), reserved ranges included."""
    known = _STATUS_TEXTS.get(status)
    if known is not None:
        return known
    if status < 0x20:
        return f"transaction completed (code 0x{status:02X})"
    if status < 0x40:
        return f"temporary error, SC still trying (code 0x{status:02X})"
    if status < 0x60:
        return f"permanent error (code 0x{status:02X})"
    if status < 0x80:
        return f"temporary error, SC gave up (code 0x{status:02X})"
    return f"reserved (code 0x{status:02X}), treated as service rejected"


@dataclass(frozen=True)
class SmsStatusReport:
    smsc: str | None
    message_reference: int
    recipient: str
    recipient_toa: int
    sc_timestamp: datetime
    discharge_time: datetime
    status: int
    more_messages: bool = False
    qualifier_command: bool = False

    @property
    def delivered(self) -> bool:
        """0x00-0x1F: "short message transaction completed" (received, forwarded or replaced)."""
        return self.status < 0x20

    @property
    def pending(self) -> bool:
        """0x20-0x3F: a temporary error; the SC keeps trying, so a final report may follow."""
        return 0x20 <= self.status < 0x40

    @property
    def failed(self) -> bool:
        """0x40-0x7F: permanent error or the SC gave up. Reserved 0x80-0xFF count as failed too."""
        return self.status >= 0x40

    @property
    def status_text(self) -> str:
        return status_text(self.status)


@dataclass(frozen=True)
class EncodedPdu:
    hex: str
    tpdu_length: int  # octets after the SMSC field: the number AT+CMGS=<n> needs
    concat: Concat | None
    encoding: Encoding
    text: str  # this part's text


# --------------------------------------------------------------------------------------------- reading


class _Reader:
    """A cursor over the PDU octets whose every read turns truncation into PduError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octet(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise PduError(f"PDU ends before {what} (octet {self.pos})")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, count: int, what: str) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise PduError(f"PDU ends inside {what}: need {count} octets at {self.pos}, have "
                           f"{len(self.data) - self.pos}")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def finish(self) -> None:
        rest = self.data[self.pos:]
        if rest and rest.count(0xFF) != len(rest):
            raise PduError(f"{len(rest)} unexpected octets after the end of the TPDU")
        if rest:
            LOGGER.debug("ignoring %d octets of 0xFF padding after the TPDU", len(rest))


def _hex_to_bytes(pdu_hex: str) -> bytes:
    if not isinstance(pdu_hex, str):
        raise PduError(f"PDU must be a hex string, not {type(pdu_hex).__name__}")
    text = pdu_hex.strip()
    if len(text) % 2 and text[-1:] in ("F", "f"):
        text = text[:-1]
    if not text:
        raise PduError("empty PDU")
    if len(text) % 2:
        raise PduError("PDU hex has an odd number of digits")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise PduError(f"PDU is not hex: {exc}") from None


def _decode_bcd(octets: bytes, digits: int) -> str:
    chars: list[str] = []
    for octet in octets:
        for nibble in (octet & 0x0F, octet >> 4):
            if len(chars) == digits:
                break
            if nibble == 0x0F:
                raise PduError("filler nibble 0xF inside an address")
            chars.append(_BCD_DIGITS[nibble])
    if len(chars) != digits:
        raise PduError("address shorter than its length field")
    return "".join(chars)


def decode_address(data: bytes) -> tuple[str, int, int]:
    """Decode a TP-OA/DA/RA at the start of ``data``; returns (address, toa, octets consumed).

    International numbers get a leading "+", alphanumeric ones are GSM-7 text, others plain digits.
    """
    reader = _Reader(data)
    address, toa = _read_address(reader)
    return address, toa, reader.pos


def _read_address(reader: _Reader) -> tuple[str, int]:
    digits = reader.octet("address length")
    toa = reader.octet("type of address")
    if digits > MAX_ADDRESS_DIGITS:
        raise PduError(f"address length {digits} exceeds {MAX_ADDRESS_DIGITS} semi-octets")
    octets = reader.take((digits + 1) // 2, "address")
    ton = (toa >> 4) & 0x07
    if ton == TON_ALPHANUMERIC:
        septets = unpack_septets(octets, digits * 4 // 7)
        return decode_septets(septets), toa
    number = _decode_bcd(octets, digits)
    if ton == TON_INTERNATIONAL and number:
        number = "+" + number
    return number, toa


def _read_smsc(reader: _Reader) -> str | None:
    length = reader.octet("SMSC length")
    if length == 0:
        return None
    if length > MAX_SMSC_OCTETS:
        raise PduError(f"SMSC length {length} exceeds {MAX_SMSC_OCTETS} octets")
    toa = reader.octet("SMSC type of address")
    octets = reader.take(length - 1, "SMSC address")
    if not octets:
        return None
    digits = len(octets) * 2 - (1 if octets[-1] >> 4 == 0x0F else 0)
    number = _decode_bcd(octets, digits)
    if (toa >> 4) & 0x07 == TON_INTERNATIONAL and number:
        return "+" + number
    return number


def _swapped_bcd(octet: int, what: str) -> int:
    low, high = octet & 0x0F, octet >> 4
    if low > 9 or high > 9:
        raise PduError(f"{what} octet 0x{octet:02X} is not BCD")
    return low * 10 + high


def decode_timestamp(octets: bytes) -> datetime:
    """Decode a 7-octet TP-SCTS / TP-DT / absolute TP-VP into an aware datetime in the PDU's own zone."""
    if len(octets) != TIMESTAMP_OCTETS:
        raise PduError(f"timestamp needs {TIMESTAMP_OCTETS} octets, got {len(octets)}")
    year, month, day, hour, minute, second = (
        _swapped_bcd(o, "timestamp") for o in octets[:6]
    )
    zone_octet = octets[6]
    quarters = _swapped_bcd(zone_octet & 0xF7, "time zone")
    if zone_octet & 0x08:
        quarters = -quarters
    year += 1900 if year >= 70 else 2000
    try:
        return datetime(year, month, day, hour, minute, second,
                        tzinfo=timezone(timedelta(minutes=15 * quarters)))
    except ValueError as exc:
        raise PduError(f"invalid timestamp: {exc}") from None


def decode_relative_validity(octet: int) -> timedelta:
    """TP-VP relative format (23.040 9.2.3.12.1)."""
    if octet <= 143:
        return timedelta(minutes=(octet + 1) * 5)
    if octet <= 167:
        return timedelta(hours=12, minutes=(octet - 143) * 30)
    if octet <= 196:
        return timedelta(days=octet - 166)
    return timedelta(weeks=octet - 192)


def _decode_enhanced_validity(octets: bytes) -> timedelta | None:
    # 23.040 9.2.3.12.3: functionality indicator, then the value in one of three formats.
    kind = octets[0] & 0x07
    if kind == 1:
        return decode_relative_validity(octets[1])
    if kind == 2:
        return timedelta(seconds=octets[1])
    if kind == 3:
        hours, minutes, seconds = (_swapped_bcd(o, "validity") for o in octets[1:4])
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return None


def decode_dcs(dcs: int) -> DataCoding:
    """Interpret a TP-DCS octet, covering every coding group of 23.038 clause 4.

    Reserved alphabets and reserved groups are GSM-7, as 23.038 tells receivers to assume.
    """
    if not 0 <= dcs <= 0xFF:
        raise PduError(f"DCS {dcs} out of range")
    group = dcs >> 4
    if group < 0x8:  # 00xx general data coding, 01xx the same with automatic deletion
        alphabet = (dcs >> 2) & 0x03
        encoding: Encoding = "8bit" if alphabet == 1 else "ucs2" if alphabet == 2 else "gsm7"
        return DataCoding(
            encoding=encoding,
            message_class=dcs & 0x03 if dcs & 0x10 else None,
            compressed=bool(dcs & 0x20),
            waiting=None,
            auto_delete=bool(dcs & 0x40),
        )
    if group in (0xC, 0xD, 0xE):
        return DataCoding(
            encoding="ucs2" if group == 0xE else "gsm7",
            message_class=None,
            compressed=False,
            waiting=MessageWaiting(active=bool(dcs & 0x08), kind=dcs & 0x03, store=group != 0xC),
            auto_delete=False,
        )
    if group == 0xF:
        return DataCoding(
            encoding="8bit" if dcs & 0x04 else "gsm7",
            message_class=dcs & 0x03,
            compressed=False,
            waiting=None,
            auto_delete=False,
        )
    return DataCoding(encoding="gsm7", message_class=None, compressed=False, waiting=None, auto_delete=False)


@dataclass(frozen=True)
class _UserData:
    text: str
    data: bytes
    udh: bytes
    concat: Concat | None
    ports: Ports | None


def _parse_udh(udh: bytes) -> tuple[Concat | None, Ports | None, int]:
    """Walk the information elements; returns (concat, ports, national single shift language)."""
    concat: Concat | None = None
    ports: Ports | None = None
    single_shift = 0
    pos = 0
    while pos < len(udh):
        if pos + 2 > len(udh):
            raise PduError("UDH ends inside an information element header")
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2:pos + 2 + length]
        if len(value) != length:
            raise PduError(f"UDH information element 0x{iei:02X} overruns the header")
        pos += 2 + length
        if iei == IEI_CONCAT_8 and length == 3:
            concat = _concat_or_none(value[0], value[1], value[2], 8)
        elif iei == IEI_CONCAT_16 and length == 4:
            concat = _concat_or_none((value[0] << 8) | value[1], value[2], value[3], 16)
        elif iei == IEI_PORTS_8 and length == 2:
            ports = Ports(destination=value[0], source=value[1], bits=8)
        elif iei == IEI_PORTS_16 and length == 4:
            ports = Ports(destination=(value[0] << 8) | value[1], source=(value[2] << 8) | value[3], bits=16)
        elif iei == IEI_NATIONAL_SINGLE_SHIFT and length == 1:
            single_shift = value[0]
    return concat, ports, single_shift


def _concat_or_none(reference: int, total: int, sequence: int, bits: int) -> Concat | None:
    # 23.040 9.2.3.24.1: a zero count or a sequence beyond it means "ignore the IE".
    if total == 0 or sequence == 0 or sequence > total:
        LOGGER.debug("ignoring invalid concatenation IE: ref=%s total=%s seq=%s", reference, total, sequence)
        return None
    return Concat(reference=reference, total=total, sequence=sequence, bits=bits)


def _read_user_data(reader: _Reader, udhi: bool, coding: DataCoding) -> _UserData:
    udl = reader.octet("user data length")
    septet_coded = coding.encoding == "gsm7" and not coding.compressed
    if septet_coded:
        if udl > MAX_SEPTETS:
            raise PduError(f"user data length {udl} septets exceeds {MAX_SEPTETS}")
        octets = reader.take((udl * 7 + 7) // 8, "user data")
    else:
        if udl > MAX_USER_DATA_OCTETS:
            raise PduError(f"user data length {udl} octets exceeds {MAX_USER_DATA_OCTETS}")
        octets = reader.take(udl, "user data")
    udh = b""
    concat: Concat | None = None
    ports: Ports | None = None
    single_shift = 0
    body_start = 0
    if udhi:
        if not octets:
            raise PduError("UDHI set but the user data is empty")
        udhl = octets[0]
        body_start = udhl + 1
        if body_start > len(octets):
            raise PduError(f"UDH length {udhl} overruns the user data")
        udh = octets[1:body_start]
        concat, ports, single_shift = _parse_udh(udh)
    if septet_coded:
        fill = (7 - (body_start * 8) % 7) % 7
        header_septets = (body_start * 8 + fill) // 7
        count = udl - header_septets
        if count < 0:
            raise PduError("UDH is longer than the user data length")
        septets = unpack_septets(octets[body_start:], count, fill)
        text = decode_septets(septets, single_shift=single_shift)
        return _UserData(text, bytes(septets), udh, concat, ports)
    body = octets[body_start:]
    if coding.encoding == "ucs2" and not coding.compressed:
        if len(body) % 2:
            raise PduError("UCS2 user data has an odd number of octets")
        return _UserData(body.decode("utf-16-be", errors="replace"), body, udh, concat, ports)
    return _UserData(body.hex().upper(), body, udh, concat, ports)


def _read_deliver(reader: _Reader, smsc: str | None, first: int) -> SmsDeliver:
    sender, sender_toa = _read_address(reader)
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    timestamp = decode_timestamp(reader.take(TIMESTAMP_OCTETS, "TP-SCTS"))
    coding = decode_dcs(dcs)
    ud = _read_user_data(reader, bool(first & BIT_UDHI), coding)
    reader.finish()
    return SmsDeliver(
        smsc=smsc,
        sender=sender,
        sender_toa=sender_toa,
        timestamp=timestamp,
        pid=pid,
        dcs=dcs,
        encoding="8bit" if coding.compressed else coding.encoding,
        message_class=coding.message_class,
        text=ud.text,
        data=ud.data,
        udh=ud.udh,
        concat=ud.concat,
        ports=ud.ports,
        status_report_indication=bool(first & BIT_SRI_SRR_SRQ),
        more_messages=not first & BIT_MMS_OR_RD,
        reply_path=bool(first & BIT_RP),
        compressed=coding.compressed,
        waiting=coding.waiting,
    )


def _read_submit(reader: _Reader, smsc: str | None, first: int) -> SmsSubmit:
    reference = reader.octet("TP-MR")
    destination, destination_toa = _read_address(reader)
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    vpf = (first >> 3) & 0x03
    validity: timedelta | datetime | None = None
    if vpf == VPF_RELATIVE:
        validity = decode_relative_validity(reader.octet("TP-VP"))
    elif vpf == VPF_ABSOLUTE:
        validity = decode_timestamp(reader.take(TIMESTAMP_OCTETS, "TP-VP"))
    elif vpf == VPF_ENHANCED:
        validity = _decode_enhanced_validity(reader.take(TIMESTAMP_OCTETS, "TP-VP"))
    coding = decode_dcs(dcs)
    ud = _read_user_data(reader, bool(first & BIT_UDHI), coding)
    reader.finish()
    return SmsSubmit(
        smsc=smsc,
        destination=destination,
        destination_toa=destination_toa,
        message_reference=reference,
        pid=pid,
        dcs=dcs,
        encoding="8bit" if coding.compressed else coding.encoding,
        text=ud.text,
        data=ud.data,
        udh=ud.udh,
        concat=ud.concat,
        ports=ud.ports,
        status_report_request=bool(first & BIT_SRI_SRR_SRQ),
        validity=validity,
        reject_duplicates=bool(first & BIT_MMS_OR_RD),
        reply_path=bool(first & BIT_RP),
        message_class=coding.message_class,
        compressed=coding.compressed,
    )


def _read_status_report(reader: _Reader, smsc: str | None, first: int) -> SmsStatusReport:
    reference = reader.octet("TP-MR")
    recipient, recipient_toa = _read_address(reader)
    sc_timestamp = decode_timestamp(reader.take(TIMESTAMP_OCTETS, "TP-SCTS"))
    discharge = decode_timestamp(reader.take(TIMESTAMP_OCTETS, "TP-DT"))
    status = reader.octet("TP-ST")
    if reader.remaining() and reader.data[reader.pos] != 0xFF:
        # Optional TP-PI and the fields it announces (23.040 9.2.2.3); parsed only to check the length.
        indicator = reader.octet("TP-PI")
        extension = indicator
        while extension & 0x80:
            extension = reader.octet("TP-PI extension")
        dcs = 0
        if indicator & 0x01:
            reader.octet("TP-PID")
        if indicator & 0x02:
            dcs = reader.octet("TP-DCS")
        if indicator & 0x04:
            _read_user_data(reader, bool(first & BIT_UDHI), decode_dcs(dcs))
    reader.finish()
    return SmsStatusReport(
        smsc=smsc,
        message_reference=reference,
        recipient=recipient,
        recipient_toa=recipient_toa,
        sc_timestamp=sc_timestamp,
        discharge_time=discharge,
        status=status,
        more_messages=not first & BIT_MMS_OR_RD,
        qualifier_command=bool(first & BIT_SRI_SRR_SRQ),
    )


def decode_pdu(pdu_hex: str, *, has_smsc: bool = True) -> SmsDeliver | SmsSubmit | SmsStatusReport:
    """Decode a PDU as +CMGR/+CMGL/+CMT/+CDS show it (with the SMSC field unless ``has_smsc=False``)."""
    reader = _Reader(_hex_to_bytes(pdu_hex))
    smsc = _read_smsc(reader) if has_smsc else None
    first = reader.octet("first octet")
    mti = first & 0x03
    if mti == MTI_DELIVER:
        return _read_deliver(reader, smsc, first)
    if mti == MTI_SUBMIT:
        return _read_submit(reader, smsc, first)
    if mti == MTI_STATUS_REPORT:
        return _read_status_report(reader, smsc, first)
    raise PduError("message type indicator 3 is reserved")


# --------------------------------------------------------------------------------------------- writing


def encode_address(address: str, *, smsc: bool = False, allow_alphanumeric: bool = False) -> bytes:
    """Encode a TP-DA/OA (or, with ``smsc=True``, the SMSC field whose length counts octets).

    "+digits" is international (0x91), other digit strings unknown/national (0x81); anything else is
    alphanumeric (0xD0) where allowed (an originator in DELIVER), else PduError.
    """
    number = address.strip()
    international = number.startswith("+")
    digits = number[1:] if international else number
    if digits and all(ch in _BCD_VALUES for ch in digits):
        if len(digits) > MAX_ADDRESS_DIGITS:
            raise PduError(f"address {address!r} has more than {MAX_ADDRESS_DIGITS} digits")
        toa = TOA_INTERNATIONAL if international else TOA_UNKNOWN
        values = [_BCD_VALUES[ch] for ch in digits]
        if len(values) % 2:
            values.append(0x0F)
        packed = bytes(values[i] | (values[i + 1] << 4) for i in range(0, len(values), 2))
        if smsc:
            return bytes([len(packed) + 1, toa]) + packed
        return bytes([len(digits), toa]) + packed
    if smsc or not allow_alphanumeric:
        raise PduError(f"address {address!r} is not a phone number")
    if not number or len(number) > MAX_ALPHANUMERIC_CHARS:
        raise PduError(f"alphanumeric address {address!r} must be 1..{MAX_ALPHANUMERIC_CHARS} characters")
    septets = encode_septets(number)
    if len(septets) > MAX_ALPHANUMERIC_CHARS:
        raise PduError(f"alphanumeric address {address!r} needs more than {MAX_ALPHANUMERIC_CHARS} septets")
    packed = pack_septets(septets)
    return bytes([(len(septets) * 7 + 3) // 4, TOA_ALPHANUMERIC]) + packed


def _encode_smsc(smsc: str | None) -> bytes:
    return b"\x00" if smsc is None else encode_address(smsc, smsc=True)


def _swap_bcd(value: int) -> int:
    return (value % 10) << 4 | (value // 10)


def encode_timestamp(when: datetime) -> bytes:
    """Encode an aware datetime as 7 semi-octet octets, keeping its own UTC offset (quarter hours)."""
    offset = when.utcoffset()
    if offset is None:
        raise PduError("timestamp must be timezone-aware")
    if not 1970 <= when.year <= 2069:
        raise PduError(f"year {when.year} cannot be written with two digits")
    seconds = int(offset.total_seconds())
    if seconds % 900:
        raise PduError(f"UTC offset {offset} is not a whole number of quarter hours")
    quarters = abs(seconds) // 900
    if quarters > MAX_ZONE_QUARTERS:
        raise PduError(f"UTC offset {offset} is out of range")
    zone = _swap_bcd(quarters) | (0x08 if seconds < 0 else 0)
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    return bytes(_swap_bcd(v) for v in fields) + bytes([zone])


def encode_relative_validity(period: timedelta) -> int:
    """TP-VP relative value for ``period``, rounded UP to the next representable one, capped at 63 weeks.

    Rounding up because a message that lives slightly longer than asked harms nobody, while one that
    expires early may never be delivered.
    """
    if period <= timedelta(0):
        raise PduError("validity period must be positive")
    period = min(period, MAX_RELATIVE_VALIDITY)
    seconds = period.total_seconds()
    if period <= timedelta(hours=12):
        return max(0, math.ceil(seconds / 300) - 1)
    if period <= timedelta(hours=24):
        return 143 + math.ceil((seconds - 43200) / 1800)
    if period <= timedelta(days=30):
        return 166 + math.ceil(seconds / 86400)
    return max(197, 192 + math.ceil(seconds / 604800))


def _choose_encoding(text: str, encoding: EncodingChoice) -> Encoding:
    if encoding == "auto":
        return "gsm7" if can_encode_gsm7(text) else "ucs2"
    if encoding == "gsm7":
        septet_length(text)  # raises PduError naming the first unencodable character
        return "gsm7"
    if encoding == "ucs2":
        return "ucs2"
    raise PduError(f"unknown encoding {encoding!r}")


def _total_units(text: str, encoding: Encoding) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text: the sum of ``_units``."""
    if encoding == "gsm7":
        return septet_length(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _units(ch: str, encoding: Encoding) -> int:
    if encoding == "gsm7":
        return septet_length(ch)
    return 2 if ord(ch) > 0xFFFF else 1


def plan_text(
    text: str, encoding: EncodingChoice = "auto", *, concat_16bit: bool = False
) -> tuple[Encoding, list[str]]:
    """The encoding ``text`` will be sent in and the text of each part.

    Parts are cut on character boundaries, so an escape sequence or a surrogate pair never straddles
    two parts. The API uses this to quote {parts, encoding}; encode_submit uses it too, so the quote
    and the send cannot disagree.
    """
    chosen = _choose_encoding(text, encoding)
    single_limit = MAX_SEPTETS if chosen == "gsm7" else MAX_UCS2_UNITS
    if _total_units(text, chosen) <= single_limit:
        return chosen, [text]  # the common case, without a cost per character
    units = [_units(ch, chosen) for ch in text]
    header_octets = 7 if concat_16bit else 6  # UDHL + IE id + IE length + 3 or 4 octets of IE data
    if chosen == "gsm7":
        limit = MAX_SEPTETS - (header_octets * 8 + 6) // 7
    else:
        limit = (MAX_USER_DATA_OCTETS - header_octets) // 2
    parts: list[str] = []
    start = 0
    used = 0
    for index, cost in enumerate(units):
        if used + cost > limit:
            parts.append(text[start:index])
            start = index
            used = 0
        used += cost
    parts.append(text[start:])
    if len(parts) > MAX_PARTS:
        raise PduError(f"text needs {len(parts)} parts; at most {MAX_PARTS} are possible")
    return chosen, parts


def _user_data(text: str, encoding: Encoding, udh: bytes) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for one part, UDH included."""
    header = bytes([len(udh)]) + udh if udh else b""
    if encoding == "gsm7":
        septets = encode_septets(text)
        fill = (7 - (len(header) * 8) % 7) % 7 if header else 0
        header_septets = (len(header) * 8 + fill) // 7
        return header_septets + len(septets), header + pack_septets(septets, fill)
    body = header + text.encode("utf-16-be")
    return len(body), body


def _concat_ie(reference: int, total: int, sequence: int, bits16: bool) -> bytes:
    if bits16:
        return bytes([IEI_CONCAT_16, 4, reference >> 8, reference & 0xFF, total, sequence])
    return bytes([IEI_CONCAT_8, 3, reference, total, sequence])


def _plan_parts(
    text: str, encoding: EncodingChoice, concat_reference: int | None, concat_16bit: bool, max_parts: int
) -> tuple[Encoding, list[tuple[str, Concat | None, bytes]]]:
    chosen, parts = plan_text(text, encoding, concat_16bit=concat_16bit)
    if len(parts) > max_parts:
        raise PduError(f"text needs {len(parts)} parts, more than the allowed {max_parts}")
    if len(parts) == 1:
        return chosen, [(parts[0], None, b"")]
    if concat_reference is None:
        raise PduError(f"text needs {len(parts)} parts but no concat_reference was given")
    limit = 0xFFFF if concat_16bit else 0xFF
    if not 0 <= concat_reference <= limit:
        raise PduError(f"concat_reference {concat_reference} out of range 0..{limit}")
    planned: list[tuple[str, Concat | None, bytes]] = []
    for sequence, part in enumerate(parts, start=1):
        concat = Concat(concat_reference, len(parts), sequence, 16 if concat_16bit else 8)
        planned.append((part, concat, _concat_ie(concat_reference, len(parts), sequence, concat_16bit)))
    return chosen, planned


def encode_submit(
    destination: str,
    text: str,
    *,
    smsc: str | None = None,
    encoding: EncodingChoice = "auto",
    request_status_report: bool = False,
    validity: timedelta | datetime | None = None,
    concat_reference: int | None = None,
    concat_16bit: bool = False,
    message_reference: int = 0,
    max_parts: int = MAX_PARTS,
    reject_duplicates: bool = False,
    reply_path: bool = False,
) -> list[EncodedPdu]:
    """One SMS-SUBMIT PDU per part, ready for AT+CMGS (``tpdu_length`` is its length argument)."""
    if not 0 <= message_reference <= 0xFF:
        raise PduError(f"message_reference {message_reference} out of range 0..255")
    da = encode_address(destination)
    sca = _encode_smsc(smsc)
    if validity is None:
        vpf, vp = VPF_NONE, b""
    elif isinstance(validity, datetime):
        vpf, vp = VPF_ABSOLUTE, encode_timestamp(validity)
    elif isinstance(validity, timedelta):
        vpf, vp = VPF_RELATIVE, bytes([encode_relative_validity(validity)])
    else:
        raise PduError(f"validity must be timedelta, datetime or None, not {type(validity).__name__}")
    chosen, planned = _plan_parts(text, encoding, concat_reference, concat_16bit, max_parts)
    dcs = 0x08 if chosen == "ucs2" else 0x00
    result: list[EncodedPdu] = []
    for part, concat, udh in planned:
        first = MTI_SUBMIT | (vpf << 3)
        if reject_duplicates:
            first |= BIT_MMS_OR_RD
        if request_status_report:
            first |= BIT_SRI_SRR_SRQ
        if udh:
            first |= BIT_UDHI
        if reply_path:
            first |= BIT_RP
        udl, ud = _user_data(part, chosen, udh)
        tpdu = bytes([first, message_reference]) + da + bytes([0x00, dcs]) + vp + bytes([udl]) + ud
        result.append(EncodedPdu((sca + tpdu).hex().upper(), len(tpdu), concat, chosen, part))
    return result


def encode_deliver(
    sender: str,
    text: str,
    *,
    timestamp: datetime,
    smsc: str | None = None,
    encoding: EncodingChoice = "auto",
    concat_reference: int | None = None,
    concat_16bit: bool = False,
    status_report_indication: bool = False,
    more_messages: bool = False,
) -> list[str]:
    """SMS-DELIVER PDUs as a modem shows them in +CMT/+CMGR (SMSC field first). For the emulator."""
    oa = encode_address(sender, allow_alphanumeric=True)
    sca = _encode_smsc(smsc)
    scts = encode_timestamp(timestamp)
    chosen, planned = _plan_parts(text, encoding, concat_reference, concat_16bit, MAX_PARTS)
    dcs = 0x08 if chosen == "ucs2" else 0x00
    result: list[str] = []
    for part, _concat, udh in planned:
        first = MTI_DELIVER
        if not more_messages:
            first |= BIT_MMS_OR_RD
        if status_report_indication:
            first |= BIT_SRI_SRR_SRQ
        if udh:
            first |= BIT_UDHI
        udl, ud = _user_data(part, chosen, udh)
        tpdu = bytes([first]) + oa + bytes([0x00, dcs]) + scts + bytes([udl]) + ud
        result.append((sca + tpdu).hex().upper())
    return result


def encode_status_report(
    message_reference: int,
    recipient: str,
    *,
    sc_timestamp: datetime,
    discharge_time: datetime,
    status: int,
    smsc: str | None = None,
) -> str:
    """An SMS-STATUS-REPORT PDU as +CDS shows it (SMSC field first). For the emulator."""
    if not 0 <= message_reference <= 0xFF:
        raise PduError(f"message_reference {message_reference} out of range 0..255")
    if not 0 <= status <= 0xFF:
        raise PduError(f"status {status} out of range 0..255")
    first = MTI_STATUS_REPORT | BIT_MMS_OR_RD
    tpdu = (bytes([first, message_reference]) + encode_address(recipient)
            + encode_timestamp(sc_timestamp) + encode_timestamp(discharge_time) + bytes([status]))
    return (_encode_smsc(smsc) + tpdu).hex().upper()


def join_ucs2_parts(parts: Sequence[bytes]) -> str:
    """Decode UCS2 parts together, so a surrogate pair a sender split across two parts is rejoined."""
    return b"".join(parts).decode("utf-16-be", errors="replace")
