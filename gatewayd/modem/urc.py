"""Unsolicited result codes (URCs), declared as data, and the assembly of multi-line ones.

A modem may emit a URC at any moment, including between the lines of a command's response. Telling a
URC from a response line needs two facts this module keeps as data:

- which prefixes are unsolicited codes at all (``URC_TABLE``), and which of them are *claimable*: the
  same prefix is the *answer* when the command in flight asked for it (``AT+CREG?`` is answered by
  ``+CREG: 2,1``; the same line with no such command in flight is a registration change);
- which codes carry a second line (``+CMT``, ``+CBM``, ``+CDS`` in PDU mode): by protocol the line right
  after the header is its body, whatever arrives around it and however the bytes were split into reads.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from gatewayd.modem.result_codes import FINAL_ERROR_PREFIXES, FINAL_ERRORS, FINAL_OK

LOGGER = logging.getLogger(__name__)

MAX_QUOTED_LINES = 32
"""Most lines a quoted URC argument (a USSD menu with newlines) may span before we stop waiting."""


class Follow(enum.Enum):
    """Whether one more line belongs to a URC."""

    NEVER = "never"
    ALWAYS = "always"
    """``+CMT`` / ``+CBM``: the PDU (PDU mode) or the text body (text mode) follows."""
    IF_LENGTH_ONLY = "if_length_only"
    """``+CDS``: in PDU mode the header is ``+CDS: <length>`` and the PDU follows; in text mode the
    header carries every field and nothing follows."""
    UNTIL_QUOTES_CLOSE = "until_quotes_close"
    """``+CUSD``: a text-mode USSD string may contain line breaks; lines join until the quotes balance."""


@dataclass(frozen=True, slots=True)
class UrcSpec:
    """One kind of unsolicited code."""

    prefix: str
    """Text the line starts with (``+CMTI:``), or the whole line when ``whole_line`` (``RING``)."""
    name: str
    """Stable identifier handed to listeners: the prefix without its colon (``+CMTI``, ``Call Ready``)."""
    continuation: Follow = Follow.NEVER
    claimable: bool = False
    """True when the line is the response of a command of the same name in flight."""
    whole_line: bool = False
    answer_shape: Callable[[str], bool] | None = None
    """For a claimable code whose answer and URC forms differ: True when ``args`` has the answer's form.
    A claimed line of the other form is still a URC (a registration change during AT+CREG?)."""

    def matches(self, line: str) -> bool:
        return line == self.prefix if self.whole_line else line.startswith(self.prefix)


@dataclass(frozen=True)
class Urc:
    """An unsolicited result code as delivered to listeners."""

    name: str
    header: str
    """The whole first line (for a multi-line quoted +CUSD: all its lines joined with newlines)."""
    args: str
    """The header after the prefix, stripped."""
    pdu: str | None = None
    """The continuation line (PDU hex, or the text-mode body), if the code has one."""


def _registration_answer(args: str) -> bool:
    """27.007 7.2: the read answer is ``<n>,<stat>[,...]``; the URC is ``<stat>[,"<lac>",...]``, so
    only the answer has an unquoted integer in second place."""
    fields = args.split(",")
    return len(fields) >= 2 and fields[1].strip().isdigit()


def _spec(prefix: str, *, follow: Follow = Follow.NEVER, claimable: bool = False,
          answer_shape: Callable[[str], bool] | None = None) -> UrcSpec:
    whole = not prefix.endswith(":") and not prefix.startswith(("+", "^"))
    return UrcSpec(prefix, prefix.rstrip(":"), follow, claimable, whole, answer_shape)


URC_TABLE: tuple[UrcSpec, ...] = (
    # Messages (27.005 3.4.1): never the answer to a command, whatever is in flight.
    _spec("+CMTI:"),
    _spec("+CMT:", follow=Follow.ALWAYS),
    _spec("+CDSI:"),
    _spec("+CDS:", follow=Follow.IF_LENGTH_ONLY),
    _spec("+CBMI:"),
    _spec("+CBM:", follow=Follow.ALWAYS),
    # Some modems answer AT+CUSD=1,... with +CUSD before OK; the answer is still delivered as a URC.
    _spec("+CUSD:", follow=Follow.UNTIL_QUOTES_CLOSE),
    # Calls (27.007 6, 7).
    _spec("RING"),
    _spec("+CRING:"),
    _spec("+CLIP:", claimable=True),
    _spec("+CCWA:", claimable=True),
    # Registration, SIM and power state (27.007 7.2, 8.3, 8.2, 10.1).
    _spec("+CREG:", claimable=True, answer_shape=_registration_answer),
    _spec("+CGREG:", claimable=True, answer_shape=_registration_answer),
    _spec("+CEREG:", claimable=True, answer_shape=_registration_answer),
    _spec("+C5GREG:", claimable=True, answer_shape=_registration_answer),
    _spec("+CPIN:", claimable=True),
    _spec("+CFUN:", claimable=True),
    _spec("+CIEV:", claimable=True),
    _spec("+CGEV:"),
    _spec("+CTZV:", claimable=True),
    _spec("+CTZE:", claimable=True),
    _spec("+CUSATP:"),
    # Boot and readiness announcements (SIMCom, Quectel, Cinterion, u-blox).
    _spec("RDY"),
    _spec("Call Ready"),
    _spec("SMS Ready"),
    _spec("PB DONE"),
    _spec("+PACSP"),
    _spec("+QIND:", claimable=True),
    _spec("+QUSIM:", claimable=True),
    _spec("+CPSI:", claimable=True),
    _spec("^SYSSTART"),
    _spec("+UUSTS:"),
    # Huawei / ZTE status reports.
    _spec("^RSSI:", claimable=True),
    _spec("^HCSQ:", claimable=True),
    _spec("^BOOT:"),
    _spec("^MODE:", claimable=True),
    _spec("^SIMST:", claimable=True),
    _spec("^SRVST:", claimable=True),
    _spec("^STIN:", claimable=True),
    _spec("^DSFLOWRPT:", claimable=True),
    _spec("^RFSWITCH:", claimable=True),
    _spec("^NDISSTAT:", claimable=True),
    _spec("+ZPASR:", claimable=True),
)
"""Every code routed to URC listeners. Order matters only where a prefix is a prefix of another."""

BODY_RESPONSE_PREFIXES: tuple[str, ...] = ("+CMGR:", "+CMGL:")
"""Response lines followed by one body line (PDU or text), except when their last field says length 0."""

LATE_REPLY_PREFIXES: tuple[str, ...] = ("+CMGS:", "+CMSS:", "+CMGW:", "+CMGC:")
"""Replies that belong to one command only. Seen while another command is in flight they are the late
answer of a command that timed out (and their own ``OK`` follows), never the answer in flight."""

_COMMAND_NAME = re.compile(r"[+^$%#*!&][A-Za-z0-9_]+")


def claims_of(command: str) -> frozenset[str]:
    """Response names a command asks for: ``AT+CREG?`` -> {``+CREG``}, ``AT^A;+B=1`` -> {``^A``, ``+B``}."""
    text = command.strip()
    if text[:2].upper() != "AT":
        return frozenset()
    names: set[str] = set()
    for part in text[2:].split(";"):
        match = _COMMAND_NAME.match(part.strip())
        if match:
            names.add(match.group(0).upper())
    return frozenset(names)


def line_name(line: str) -> str:
    """The ``+NAME`` / ``^NAME`` of an information line, upper-cased, or "" for a bare line."""
    if not line.startswith(("+", "^", "$", "%", "#", "*", "!")) or ":" not in line:
        return ""
    return line.split(":", 1)[0].strip().upper()


def unsolicited_spec(line: str, claims: frozenset[str] = frozenset()) -> UrcSpec | None:
    """The URC kind of ``line``, or None when it is not one (or is claimed by the command in flight)."""
    for spec in URC_TABLE:
        if spec.matches(line):
            claimed = spec.claimable and line_name(line) in claims
            if claimed and (spec.answer_shape is None or spec.answer_shape(_args(spec, line))):
                return None
            return spec
    return None


def is_final(line: str) -> bool:
    """True for a final result code (27.007 5.7.1 and vendor variants) that ends a command."""
    return line in FINAL_OK or line in FINAL_ERRORS or line.startswith(FINAL_ERROR_PREFIXES)


def is_late_reply(line: str, claims: frozenset[str]) -> bool:
    """True for a send-type reply (``+CMGS: 7``) that the command in flight did not ask for."""
    return line.startswith(LATE_REPLY_PREFIXES) and line_name(line) not in claims


def expects_body(line: str) -> bool:
    """True when a +CMGR / +CMGL response line is followed by its PDU or text body line.

    An empty slot is reported as ``+CMGR: 0,,0`` with no (or an empty) body: a last field of 0 is the
    PDU or text length, and then no body line follows.
    """
    if not line.startswith(BODY_RESPONSE_PREFIXES):
        return False
    last = line.rsplit(",", 1)[-1].strip()
    return last != "0"


def _args(spec: UrcSpec, header: str) -> str:
    return "" if spec.whole_line else header[len(spec.prefix):].strip()


class UrcAssembler:
    """Joins a URC header with the line(s) that belong to it. Fed only from the reader thread."""

    def __init__(self, modem_id: str = "-") -> None:
        self._modem_id = modem_id
        self._spec: UrcSpec | None = None
        self._lines: list[str] = []

    @property
    def waiting(self) -> bool:
        """True while a header waits for its continuation: the next line must go to :meth:`feed`."""
        return self._spec is not None

    def start(self, spec: UrcSpec, header: str) -> Urc | None:
        """Begin a URC; return it when complete already, None when continuation lines are due."""
        args = _args(spec, header)
        follow = spec.continuation
        if follow is Follow.ALWAYS or (follow is Follow.IF_LENGTH_ONLY and args.isdigit()) or (
                follow is Follow.UNTIL_QUOTES_CLOSE and args.count('"') % 2 == 1):
            self._spec = spec
            self._lines = [header]
            return None
        return Urc(spec.name, header, args)

    def feed(self, line: str) -> tuple[bool, Urc | None]:
        """Offer the next line: (consumed, completed URC or None)."""
        spec = self._spec
        if spec is None:
            return False, None
        if spec.continuation is not Follow.UNTIL_QUOTES_CLOSE:
            # By protocol the line after the header is its body, whatever it looks like.
            header = self._lines[0]
            self._reset()
            return True, Urc(spec.name, header, _args(spec, header), line)
        stripped = line.strip()
        if is_final(stripped) or unsolicited_spec(stripped) is not None:
            LOGGER.warning("modem %s: %s with unbalanced quotes ended by %r", self._modem_id, spec.name,
                           stripped)
            return False, self._flush()
        self._lines.append(line)
        text = "\n".join(self._lines)
        if text.count('"') % 2 == 0 or len(self._lines) >= MAX_QUOTED_LINES:
            return True, self._flush()
        return True, None

    def _flush(self) -> Urc:
        spec = self._spec
        assert spec is not None
        text = "\n".join(self._lines)
        self._reset()
        return Urc(spec.name, text, _args(spec, text))

    def _reset(self) -> None:
        self._spec = None
        self._lines = []
