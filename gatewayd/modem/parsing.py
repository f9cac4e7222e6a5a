"""Pure parsers for the information lines of 27.007 / 27.005 responses.

Modems disagree about spaces, quotes and optional fields, so every parser here accepts the variants
seen in the field and raises ``ValueError`` (never anything else) on a line it cannot read. The device
layer turns that into ``UnexpectedResponseError`` with the raw lines, so an operator sees what the
modem actually said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gatewayd.modem import gsm7

REGISTRATION_STATES: dict[int, str] = {
    0: "not registered",
    1: "registered (home)",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "registered (roaming)",
    6: "registered (home, SMS only)",
    7: "registered (roaming, SMS only)",
    8: "emergency only",
    9: "registered (home, CSFB not preferred)",
    10: "registered (roaming, CSFB not preferred)",
}
REGISTERED_STATES: frozenset[int] = frozenset({1, 5, 6, 7, 9, 10})

_HEX_RE = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")


def split_fields(args: str) -> list[str]:
    """Split a 27.007 parameter list on commas outside double quotes; quotes are removed.

    ``'0,"SM",,5'`` -> ``['0', 'SM', '', '5']``. An unterminated quote raises ValueError.
    """
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for char in args:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if quoted:
        raise ValueError(f"unterminated quote in {args!r}")
    fields.append("".join(current).strip())
    return fields


def strip_prefix(line: str, prefix: str) -> str:
    """The arguments after ``prefix`` (e.g. ``+CSQ:``), or ValueError when the line has another prefix."""
    if not line.upper().startswith(prefix.upper()):
        raise ValueError(f"expected {prefix!r}, got {line!r}")
    return line[len(prefix):].strip()


def find_line(lines: list[str], prefix: str) -> str:
    """The first line starting with ``prefix`` (case-insensitive), or ValueError."""
    for line in lines:
        if line.upper().startswith(prefix.upper()):
            return line
    raise ValueError(f"no {prefix!r} line in {lines!r}")


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{what}: not a number: {text!r}") from None


@dataclass(frozen=True)
class Signal:
    """``+CSQ: <rssi>,<ber>``: rssi 0-31 (99 unknown), ber 0-7 (99 unknown)."""

    rssi: int
    ber: int

    @property
    def dbm(self) -> int | None:
        """Received signal strength in dBm (27.007 8.5: -113 + 2 * rssi), None when unknown."""
        if self.rssi == 99 or not 0 <= self.rssi <= 31:
            return None
        return -113 + 2 * self.rssi

    @property
    def bars(self) -> int:
        """0-4 bars, the way a phone would draw them."""
        if self.dbm is None:
            return 0
        return sum(self.rssi >= threshold for threshold in (2, 10, 15, 20))


def parse_csq(line: str) -> Signal:
    fields = split_fields(strip_prefix(line, "+CSQ:"))
    if len(fields) < 2:
        raise ValueError(f"+CSQ needs two fields: {line!r}")
    return Signal(rssi=_int(fields[0], "rssi"), ber=_int(fields[1], "ber"))


@dataclass(frozen=True)
class Registration:
    """Network registration (+CREG / +CGREG / +CEREG)."""

    stat: int
    lac: str | None = None
    cell_id: str | None = None
    act: int | None = None

    @property
    def registered(self) -> bool:
        return self.stat in REGISTERED_STATES

    @property
    def text(self) -> str:
        return REGISTRATION_STATES.get(self.stat, f"state {self.stat}")


def parse_registration(line: str, *, solicited: bool = True) -> Registration:
    """Parse ``+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`` (a response) or ``+CREG: <stat>[,...]`` (a URC).

    The two forms differ only by the leading ``<n>``; a solicited line with a single field is read as a
    bare stat (some modems answer that way).
    """
    prefix = line.split(":", 1)[0] + ":"
    if prefix.upper() not in ("+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:"):
        raise ValueError(f"not a registration line: {line!r}")
    fields = split_fields(strip_prefix(line, prefix))
    if solicited and len(fields) >= 2:
        fields = fields[1:]  # drop <n>, the URC mode the command answers with
    stat = _int(fields[0], "stat")
    lac = (fields[1] or None) if len(fields) > 1 else None
    cell = (fields[2] or None) if len(fields) > 2 else None
    act = _int(fields[3], "AcT") if len(fields) > 3 and fields[3] else None
    return Registration(stat=stat, lac=lac, cell_id=cell, act=act)


def parse_cops(line: str) -> str | None:
    """``+COPS: <mode>[,<format>,<oper>[,<AcT>]]`` -> the operator, or None when not registered."""
    fields = split_fields(strip_prefix(line, "+COPS:"))
    if len(fields) >= 3 and fields[2]:
        return fields[2]
    return None


def parse_cpin(line: str) -> str:
    """``+CPIN: READY`` / ``+CPIN: SIM PIN`` ... -> the code, upper-case, without quotes."""
    return strip_prefix(line, "+CPIN:").strip().strip('"').upper()


def parse_pin_attempts(lines: list[str]) -> int | None:
    """Remaining SIM PIN attempts from +CPINR (27.007), Quectel +QPINC or Huawei ^CPIN; None if absent."""
    for line in lines:
        upper = line.upper()
        try:
            if upper.startswith("+CPINR:"):
                fields = split_fields(strip_prefix(line, "+CPINR:"))
                if fields[0].upper() == "SIM PIN" and len(fields) >= 2:
                    return _int(fields[1], "attempts")
            elif upper.startswith("+QPINC:"):
                fields = split_fields(strip_prefix(line, "+QPINC:"))
                if fields[0].upper() == "SC" and len(fields) >= 2:
                    return _int(fields[1], "attempts")
            elif upper.startswith("^CPIN:"):
                # ^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>
                fields = split_fields(strip_prefix(line, "^CPIN:"))
                if len(fields) >= 4 and fields[3]:
                    return _int(fields[3], "attempts")
        except (ValueError, IndexError):
            continue
    return None


def parse_cmgs(lines: list[str]) -> int:
    """``+CMGS: <mr>[,<scts>]`` -> the message reference the modem gave the submitted PDU."""
    fields = split_fields(strip_prefix(find_line(lines, "+CMGS:"), "+CMGS:"))
    reference = _int(fields[0], "message reference")
    if not 0 <= reference <= 255:
        raise ValueError(f"message reference out of range: {reference}")
    return reference


@dataclass(frozen=True)
class StoredEntry:
    """One message in the modem's storage, as listed by +CMGL or read by +CMGR (PDU mode)."""

    index: int | None
    stat: int
    length: int
    pdu: str


def parse_cmgl(lines: list[str]) -> tuple[list[StoredEntry], list[str]]:
    """Parse a PDU-mode +CMGL listing: each ``+CMGL: <index>,<stat>,[<alpha>],<length>`` then a PDU line.

    Returns the entries and the lines that could not be read (so the caller can log them). An entry
    whose header or PDU line is unreadable is skipped, never re-numbered: indexes come from the modem.
    """
    entries: list[StoredEntry] = []
    rejects: list[str] = []
    pending: tuple[int, int, int] | None = None
    for line in lines:
        if line.upper().startswith("+CMGL:"):
            if pending is not None:
                rejects.append(f"+CMGL entry {pending[0]} without PDU")
            try:
                fields = split_fields(strip_prefix(line, "+CMGL:"))
                pending = (_int(fields[0], "index"), _int(fields[1], "stat"), _int(fields[-1], "length"))
            except (ValueError, IndexError):
                rejects.append(line)
                pending = None
            continue
        if pending is not None and _HEX_RE.match(line):
            entries.append(StoredEntry(index=pending[0], stat=pending[1], length=pending[2], pdu=line.upper()))
        else:
            rejects.append(line)
        pending = None
    if pending is not None:
        rejects.append(f"+CMGL entry {pending[0]} without PDU")
    return entries, rejects


def parse_cmgr(lines: list[str], index: int | None = None) -> StoredEntry | None:
    """Parse a PDU-mode ``+CMGR: <stat>,[<alpha>],<length>`` and its PDU line; None for an empty slot."""
    for position, line in enumerate(lines):
        if line.upper().startswith("+CMGR:"):
            fields = split_fields(strip_prefix(line, "+CMGR:"))
            if len(fields) < 2 or position + 1 >= len(lines):
                raise ValueError(f"+CMGR without PDU: {lines!r}")
            pdu = lines[position + 1]
            if not _HEX_RE.match(pdu):
                raise ValueError(f"+CMGR PDU line is not hex: {pdu!r}")
            return StoredEntry(index=index, stat=_int(fields[0], "stat"), length=_int(fields[-1], "length"),
                               pdu=pdu.upper())
    return None


def parse_storage_notice(args: str) -> tuple[str, int]:
    """``"SM",3`` (from +CMTI / +CDSI) -> (storage, index)."""
    fields = split_fields(args)
    if len(fields) < 2:
        raise ValueError(f"storage notice needs <mem>,<index>: {args!r}")
    return fields[0].upper(), _int(fields[1], "index")


def parse_iccid(lines: list[str]) -> str | None:
    """The ICCID from +CCID / +QCCID / ^ICCID / +ICCID / a bare line; None if none is found.

    ICCIDs are 19-20 digits, sometimes ending in 'F' padding; some modems answer the swapped BCD of
    EF_ICCID (``^ICCID`` on Huawei), recognised by the leading '98' (swapped '89', the telecom prefix).
    """
    for line in lines:
        text = line.split(":", 1)[1] if ":" in line else line
        value = text.strip().strip('"').upper()
        if 18 <= len(value) <= 22 and all(c in "0123456789F" for c in value):
            if value.startswith("98"):
                value = "".join(value[i + 1] + value[i] for i in range(0, len(value) - 1, 2))
            return value.rstrip("F")
    return None


def parse_crsm_iccid(lines: list[str]) -> str | None:
    """``+CRSM: 144,0,"98..."`` (READ BINARY of EF_ICCID) -> the ICCID (swapped BCD, F padding)."""
    for line in lines:
        if line.upper().startswith("+CRSM:"):
            try:
                fields = split_fields(strip_prefix(line, "+CRSM:"))
            except ValueError:
                continue  # an unbalanced quote: callers expect None, not an exception
            if len(fields) >= 3 and fields[0] == "144" and fields[2]:
                raw = fields[2].upper()
                swapped = "".join(raw[i + 1] + raw[i] for i in range(0, len(raw) - 1, 2))
                return swapped.rstrip("F") or None
    return None


def first_plain_line(lines: list[str]) -> str | None:
    """The first information line, with a ``+CGMI:``-style echo of the command name removed."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text.startswith(("+", "^")) and ":" in text:
            text = text.split(":", 1)[1].strip()
        return text.strip('"') or None
    return None


def parse_csca(line: str) -> str | None:
    """``+CSCA: "+4477...",145`` -> the SMSC number; None when empty."""
    fields = split_fields(strip_prefix(line, "+CSCA:"))
    return fields[0] or None


@dataclass(frozen=True)
class UssdReply:
    """A decoded ``+CUSD: <m>[,<str>,<dcs>]``; status 0 done, 1 more action needed, 2 ended by network."""

    status: int
    text: str | None
    dcs: int | None


USSD_STATUS: dict[int, str] = {
    0: "no further action required",
    1: "further user action required",
    2: "terminated by network",
    3: "other local client has responded",
    4: "operation not supported",
    5: "network time out",
}


def parse_cusd(args: str) -> UssdReply:
    """Decode the arguments of ``+CUSD:``; the string may be text, packed GSM-7 hex or UCS2 hex."""
    fields = split_fields(args)
    status = _int(fields[0], "USSD status")
    if len(fields) < 2 or not fields[1]:
        return UssdReply(status=status, text=None, dcs=None)
    dcs = _int(fields[2], "USSD dcs") if len(fields) > 2 and fields[2] else 15
    return UssdReply(status=status, text=decode_ussd_text(fields[1], dcs), dcs=dcs)


def decode_ussd_text(raw: str, dcs: int) -> str:
    """Decode a USSD string by its data coding scheme (23.038 clause 5, CBS coding groups).

    UCS2 schemes (0x48 family, or 0x11 with a language prefix) carry UTF-16BE as hex. For GSM-7 schemes
    the modem shows either the text itself (AT+CSCS="GSM"/"IRA") or, on Huawei-style firmware, the packed
    septets as hex; the hex form is recognised when every character is a hex digit and unpacking yields
    only printable text.
    """
    group = dcs >> 4
    is_ucs2 = (group in (0x4, 0x5, 0x6, 0x7, 0x9) and (dcs >> 2) & 0x3 == 2) or dcs == 0x11
    if is_ucs2 and _HEX_RE.match(raw) and len(raw) % 4 == 0:
        return bytes.fromhex(raw).decode("utf-16-be", errors="replace")
    if _HEX_RE.match(raw) and len(raw) >= 2:
        data = bytes.fromhex(raw)
        count = len(data) * 8 // 7
        septets = gsm7.unpack_septets(data, count)
        # A trailing CR (0x0D) pads the last octet when 7 fill bits would otherwise read as '@'.
        if septets and septets[-1] in (0x00, 0x0D) and (len(data) * 8) % 7 == 0:
            septets = septets[:-1]
        text = gsm7.decode_septets(septets)
        if text and all(ch.isprintable() or ch in "\r\n" for ch in text):
            return text
    return raw
