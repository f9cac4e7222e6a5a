"""Hypothesis properties for everything that reads what a modem sends: only the codec's own errors escape.

The error each entry point may raise is what its callers catch (see bench/fuzz_codec.py, which fuzzes the
same entry points coverage-guided): ``decode_pdu`` raises ``PduError`` only; the single-line AT parsers
raise ``ValueError`` only; the list parsers ``Modem`` calls without a handler, the framer and the URC
assembler raise nothing. Already covered elsewhere and not repeated here: random octets and mutated
published PDUs (test_garbage.py), encode -> decode round trips (test_roundtrip.py), chunking of the
framer (tests/session/test_framing.py), random text without a prefix (tests/modem/test_parsing.py).
What is new: inputs shaped like the real thing, so the properties reach past the first guard.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem import parsing
from gatewayd.modem.framing import Frame, LineFramer, Prompt
from gatewayd.modem.pdu import PduError, SmsDeliver, SmsStatusReport, SmsSubmit, decode_pdu
from gatewayd.modem.urc import (
    MAX_QUOTED_LINES,
    URC_TABLE,
    Follow,
    Urc,
    UrcAssembler,
    claims_of,
    expects_body,
    is_final,
    is_late_reply,
    line_name,
    unsolicited_spec,
)

EXAMPLES = settings(max_examples=300, deadline=None)

# -- PDUs built field by field (TS 23.040 9.2.2), every field allowed to be wrong --------------------

octet = st.integers(0, 255)
nibbles = st.one_of(st.lists(st.integers(0, 9), max_size=20), st.lists(st.integers(0, 15), max_size=24))
bcd_timestamp = st.tuples(st.integers(0, 99), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
                          st.integers(0, 59), st.integers(0, 59), st.integers(0, 79)).map(
    lambda t: bytes(int(f"{v:02d}"[::-1], 16) for v in t))
"""A valid TP-SCTS (swapped BCD), so the fields after it are reached too."""


@st.composite
def address(draw: st.DrawFn) -> bytes:
    """An address field whose length, type and digits may disagree (alphanumeric, odd, filler inside)."""
    digits = draw(nibbles)
    length = draw(st.one_of(st.just(len(digits)), st.just(len(digits)), st.integers(0, 255)))
    toa = draw(st.sampled_from([0x81, 0x91, 0xA1, 0xD0, 0x85])) | draw(st.sampled_from([0, 0x80]))
    padded = digits + [0xF] * (len(digits) % 2)
    body = bytes(padded[i] | padded[i + 1] << 4 for i in range(0, len(padded), 2))
    return bytes([length, toa]) + body


@st.composite
def user_data(draw: st.DrawFn) -> bytes:
    """UDL, then an optional UDH of random information elements (concat 8/16 bit, ports, junk), then data."""
    elements = draw(st.lists(st.one_of(
        st.tuples(st.just(0x00), st.binary(min_size=3, max_size=3)),
        st.tuples(st.just(0x08), st.binary(min_size=4, max_size=4)),
        st.tuples(st.sampled_from([0x04, 0x05, 0x24, 0x25]), st.binary(max_size=4)),
        st.tuples(octet, st.binary(max_size=6)),
    ), max_size=3))
    udh = b"".join(bytes([iei, len(value)]) + value for iei, value in elements)
    header = b""
    force_header: bool = draw(st.booleans())
    if elements or force_header:
        header = bytes([draw(st.one_of(st.just(len(udh)), octet))]) + udh
    body = header + draw(st.binary(max_size=160))
    return bytes([draw(st.one_of(st.just(len(body)), st.just(len(body) * 8 // 7), octet))]) + body


@st.composite
def tpdu(draw: st.DrawFn) -> tuple[str, bool]:
    """(hex, has_smsc): a DELIVER, SUBMIT or STATUS-REPORT shape with random flags and field values."""
    mti = draw(st.sampled_from([0, 0, 1, 1, 2, 2, 3]))
    first = mti | draw(st.sampled_from([0, 0x04, 0x08, 0x10, 0x18, 0x20, 0x40, 0x80])) | draw(octet) & 0x64
    scts = draw(st.one_of(bcd_timestamp, bcd_timestamp, st.binary(max_size=8)))
    if mti == 0:
        fields = draw(address()) + bytes([draw(octet), draw(octet)]) + scts + draw(user_data())
    elif mti == 1:
        vp = {0x00: b"", 0x10: bytes([draw(octet)]), 0x08: draw(st.binary(min_size=7, max_size=7)),
              0x18: scts}[first & 0x18]
        fields = bytes([draw(octet)]) + draw(address()) + bytes([draw(octet), draw(octet)]) + vp
        fields += draw(user_data())
    else:
        pi = draw(st.binary(max_size=3))
        fields = bytes([draw(octet)]) + draw(address()) + scts + scts + bytes([draw(octet)]) + pi
    has_smsc = draw(st.booleans())
    smsc = draw(st.one_of(st.just(b"\x00"), address().map(lambda a: bytes([len(a) - 1]) + a[1:])))
    raw = (smsc if has_smsc else b"") + bytes([first]) + fields
    return raw.hex(), has_smsc


@EXAMPLES
@given(tpdu())
def test_pdu_shaped_input_decodes_or_raises_pdu_error(case: tuple[str, bool]) -> None:
    pdu, has_smsc = case
    try:
        message = decode_pdu(pdu, has_smsc=has_smsc)
    except PduError:
        return
    assert isinstance(message, SmsDeliver | SmsSubmit | SmsStatusReport)
    assert decode_pdu(pdu.lower(), has_smsc=has_smsc) == message


# -- the framer ------------------------------------------------------------------------------------

stream = st.lists(st.one_of(st.sampled_from([b"\r", b"\n", b"\r\n", b"> ", b"\x00", b"\xe2\x82\xac", b"\xff"]),
                            st.binary(max_size=12)), max_size=40).map(b"".join)


def _feed(framer: LineFramer, chunks: list[bytes]) -> list[Frame]:
    return [frame for chunk in chunks for frame in framer.feed(chunk)]


@EXAMPLES
@given(stream, st.lists(st.integers(0, 500), max_size=12), st.integers(1, 40))
def test_framer_state_does_not_depend_on_read_sizes(data: bytes, cuts: list[int], limit: int) -> None:
    whole = LineFramer(max_pending=limit)
    frames = whole.feed(data)
    points = sorted({c for c in cuts if c <= len(data)} | {0, len(data)})
    split = LineFramer(max_pending=limit)
    assert _feed(split, [data[a:b] for a, b in itertools.pairwise(points)]) == frames
    assert (split.pending, split.dropped_chars) == (whole.pending, whole.dropped_chars)
    for frame in frames:
        assert isinstance(frame, Prompt) or (frame.text.strip() and not set(frame.text) & {"\r", "\n", "\0"})
    assert len(whole.pending) <= limit


# -- the AT parsers, on lines that carry their prefix -----------------------------------------------

field = st.one_of(
    st.integers(-5, 300).map(str), st.just(""), st.just('"'),
    st.from_regex(r'"[0-9A-F]{0,24}"', fullmatch=True), st.from_regex(r"[0-9A-Fa-f]{0,30}", fullmatch=True),
    st.sampled_from(['"SM"', '"SIM PIN"', "SC", "READY", "144", "1A2B", '"+4917200000"', "72", "15", "17"]),
    st.text(max_size=6),
)
args_text = st.lists(field, max_size=6).map(",".join)
PREFIXES = ["+CSQ:", "+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:", "+COPS:", "+CPIN:", "+CSCA:", "+CMGS:",
            "+CMGR:", "+CMGL:", "+CPINR:", "+QPINC:", "^CPIN:", "+CRSM:", "+CCID:", "^ICCID:", "+CUSD:",
            "+CMTI:", "+CDS:", "+CMT:", "OK", "ERROR", "+CMS ERROR:", ""]
at_line = st.tuples(st.sampled_from(PREFIXES), st.sampled_from(["", " ", "  "]), args_text).map("".join)

RAISING_LINE_PARSERS: list[Callable[[str], object]] = [
    parsing.parse_csq, parsing.parse_registration, parsing.parse_cops, parsing.parse_cpin, parsing.parse_csca,
    parsing.parse_storage_notice, parsing.parse_cusd, parsing.split_fields,
    lambda line: parsing.parse_registration(line, solicited=False),
    lambda line: parsing.strip_prefix(line, "+CSQ:"),
]
RAISING_LIST_PARSERS: list[Callable[[list[str]], object]] = [
    parsing.parse_cmgs, parsing.parse_cmgr, lambda lines: parsing.find_line(lines, "+CMGS:"),
]
TOTAL_LIST_PARSERS: list[Callable[[list[str]], object]] = [
    parsing.parse_cmgl, parsing.parse_pin_attempts, parsing.parse_iccid, parsing.parse_crsm_iccid,
    parsing.first_plain_line,
]
"""Called by ``Modem`` with no handler at all: unreadable input must come back as None or a reject."""


@EXAMPLES
@given(st.lists(at_line, max_size=5))
def test_parsers_raise_only_value_error_on_prefixed_lines(lines: list[str]) -> None:
    for line in lines:
        for parser in RAISING_LINE_PARSERS:
            try:
                parser(line)
            except ValueError:
                pass
        if ":" in line:
            for args_parser in (parsing.parse_storage_notice, parsing.parse_cusd):
                try:
                    args_parser(line.split(":", 1)[1])
                except ValueError:
                    pass
    for lines_parser in RAISING_LIST_PARSERS:
        try:
            lines_parser(lines)
        except ValueError:
            pass
    for total_parser in TOTAL_LIST_PARSERS:
        total_parser(lines)
    entries, rejects = parsing.parse_cmgl(lines)
    assert len(entries) + len(rejects) >= sum(1 for line in lines if not line.upper().startswith("+CMGL:"))


@EXAMPLES
@given(st.one_of(st.from_regex(r"[0-9A-Fa-f]{0,80}", fullmatch=True), st.text(max_size=40)), octet)
def test_ussd_text_always_decodes(raw: str, dcs: int) -> None:
    assert isinstance(parsing.decode_ussd_text(raw, dcs), str)


def test_regression_crsm_with_an_unbalanced_quote_is_no_iccid() -> None:
    # Found by bench/fuzz_codec.py: split_fields raised ValueError out of parse_crsm_iccid, which
    # Modem.read_identity calls with no handler, so one garbled +CRSM line failed the modem's start.
    assert parsing.parse_crsm_iccid(['+CRSM: "']) is None
    assert parsing.parse_crsm_iccid(['+CRSM: 144,0,"98', '+CRSM: 144,0,"98940200001032547698"']) == (
        "89492000000123456789")


# -- URC assembly in the session's routing order -------------------------------------------------

urc_line = st.one_of(
    st.tuples(st.sampled_from([spec.prefix for spec in URC_TABLE]), st.sampled_from(["", " "]), args_text)
    .map("".join),
    st.sampled_from(["OK", "ERROR", "+CME ERROR: 10", '"', 'Balance"', "0791", "+CDS: 25", "+CUSD: 1,\"a"]),
    at_line, st.text(max_size=12),
)
TABLE_NAMES = {spec.name for spec in URC_TABLE}


@EXAMPLES
@given(st.lists(urc_line, max_size=MAX_QUOTED_LINES + 4), st.sampled_from(["", "AT+CREG?", "AT+CUSD=1", "ATI"]))
def test_urc_assembly_never_raises_and_keeps_bodies(lines: list[str], command: str) -> None:
    claims = claims_of(command)
    assembler = UrcAssembler("test")
    urcs: list[Urc] = []
    header_at: int | None = None
    for position, line in enumerate(lines):
        line_name(line)
        is_late_reply(line, claims)
        expects_body(line)
        if assembler.waiting:
            consumed, urc = assembler.feed(line)
            if urc is not None:
                urcs.append(urc)
                if urc.pdu is not None:  # a CMT/CDS/CBM body is the very next line, whatever it is
                    assert header_at == position - 1 and urc.pdu == line and consumed
            if consumed:
                continue
        if is_final(line):
            continue
        spec = unsolicited_spec(line, claims)
        if spec is not None:
            header_at = position
            urc = assembler.start(spec, line)
            if urc is not None:
                urcs.append(urc)
            else:
                assert spec.continuation is not Follow.NEVER
    for urc in urcs:
        assert urc.name in TABLE_NAMES
        assert urc.header.count("\n") < MAX_QUOTED_LINES
