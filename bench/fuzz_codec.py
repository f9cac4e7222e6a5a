"""Coverage-guided fuzzing of everything that reads bytes a modem or a SIM hands us.

One atheris target, dispatching on the first input byte (the rest is the payload):

- ``selector % 4 in (0, 1)``: the payload's octets as hex -> ``decode_pdu(hex, has_smsc=selector % 4 == 0)``;
- ``selector % 4 == 2``: the payload as Latin-1 text -> ``decode_pdu`` (hex parsing, whitespace, filler);
- ``selector % 4 == 3``: the payload is a raw byte stream from a modem -> ``LineFramer.feed`` (whole,
  and for one stream in four again in chunks whose size comes from the selector: the frames must agree),
  then every line through the session's routing order (``UrcAssembler``, ``unsolicited_spec``,
  ``is_final``, ``expects_body``) and through every parser in ``gatewayd.modem.parsing``; PDUs found on
  the way (+CMT bodies, +CMGL / +CMGR entries) go to ``decode_pdu``.

The codec's own error types, per entry point (what the callers catch, and so what keeps the daemon up):

- ``decode_pdu``: ``PduError`` only. ``Modem._decode`` catches exactly ``PduError``; ``list_stored`` calls
  it outside any other handler, so a bare ``ValueError`` or ``IndexError`` would abort a whole listing.
- the single-line parsers (``split_fields``, ``strip_prefix``, ``find_line``, ``parse_csq``,
  ``parse_registration``, ``parse_cops``, ``parse_cpin``, ``parse_csca``, ``parse_cmgs``, ``parse_cmgr``,
  ``parse_storage_notice``, ``parse_cusd``, ``decode_ussd_text``): ``ValueError`` (``PduError`` is one).
  ``Modem`` wraps each call in ``except ValueError``; ``handle_event`` too.
- ``parse_cmgl``, ``parse_pin_attempts``, ``parse_iccid``, ``parse_crsm_iccid``, ``first_plain_line``:
  nothing at all. ``Modem`` calls them with no handler; unreadable input is their ``None`` / rejects.
- ``LineFramer.feed``, ``UrcAssembler.start/feed``, ``unsolicited_spec``, ``is_final``, ``is_late_reply``,
  ``expects_body``, ``claims_of``, ``line_name``: nothing at all. They run on the port's reader thread.

Anything else escaping (or a failed consistency assertion) is a crash: atheris prints the traceback and
saves the input under ``bench/out/fuzz_artifacts/``.

    .venv/bin/python bench/fuzz_codec.py [--runs 1000000] [--corpus bench/out/fuzz_corpus] [-- libFuzzer flags]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    from gatewayd.modem import parsing
    from gatewayd.modem.framing import Frame, Line, LineFramer
    from gatewayd.modem.pdu import (
        PduError,
        decode_pdu,
        encode_deliver,
        encode_status_report,
        encode_submit,
    )
    from gatewayd.modem.urc import (
        UrcAssembler,
        claims_of,
        expects_body,
        is_final,
        is_late_reply,
        line_name,
        unsolicited_spec,
    )

DEFAULT_RUNS = 1_000_000
DEFAULT_CORPUS = ROOT / "bench" / "out" / "fuzz_corpus"
ARTIFACTS = ROOT / "bench" / "out" / "fuzz_artifacts"
MAX_LEN = 2048
"""Longest input tried: a 176-octet PDU is 352 hex digits, an AT+CMGL transcript of a few entries ~2 KB."""

MODE_PDU_SMSC, MODE_PDU_NO_SMSC, MODE_PDU_TEXT, MODE_AT_STREAM = range(4)
CLAIMING_COMMANDS = ("", "AT+CREG?", "AT+CMGL=4", "AT+CMGR=1", "AT+CUSD=1,\"*100#\",15", "AT+CPIN?")
"""Commands whose claims the router is asked about, picked by the selector: claims change routing."""

LINE_PARSERS: tuple[Callable[[str], object], ...] = (
    parsing.parse_csq, parsing.parse_registration, parsing.parse_cops, parsing.parse_cpin,
    parsing.parse_csca, lambda line: parsing.parse_registration(line, solicited=False),
)
"""Each rejects a line of another prefix at once; on its own prefix it reads the fields."""
ARGS_PARSERS: dict[str, Callable[[str], object]] = {
    "+CMTI": parsing.parse_storage_notice, "+CDSI": parsing.parse_storage_notice,
    "+CUSD": parsing.parse_cusd,
}
"""Parsers handed the arguments of a URC (as ``Modem`` does), chosen by the line's name."""
LIST_PARSERS_RAISING: tuple[Callable[[list[str]], object], ...] = (
    parsing.parse_cmgs, parsing.parse_cmgr, lambda lines: parsing.find_line(lines, "+CSQ:"),
)
LIST_PARSERS_TOTAL: tuple[Callable[[list[str]], object], ...] = (
    parsing.parse_pin_attempts, parsing.parse_iccid, parsing.parse_crsm_iccid, parsing.first_plain_line,
)


def _decode(pdu: str, has_smsc: bool = True) -> None:
    try:
        decode_pdu(pdu, has_smsc=has_smsc)
    except PduError:
        pass


def _frames_in_chunks(data: bytes, size: int) -> list[Frame]:
    framer = LineFramer("fuzz", max_pending=64)
    frames: list[Frame] = []
    for start in range(0, len(data), size):
        frames.extend(framer.feed(data[start:start + size]))
    return frames


def _parse_line(line: str) -> None:
    for parser in LINE_PARSERS:
        try:
            parser(line)
        except ValueError:
            pass
    args_parser = ARGS_PARSERS.get(line_name(line))
    if args_parser is not None:
        try:
            args_parser(line.split(":", 1)[1])
        except ValueError:
            pass


def _route(lines: list[str], claims: frozenset[str]) -> None:
    """The order ``AtSession._route_locked`` applies, minus the I/O: URCs and bodies must never raise."""
    assembler = UrcAssembler("fuzz")
    for line in lines:
        line_name(line)
        is_late_reply(line, claims)
        expects_body(line)
        if assembler.waiting:
            consumed, urc = assembler.feed(line)
            if urc is not None and urc.pdu is not None:
                _decode(urc.pdu)
            if consumed:
                continue
        if is_final(line):
            continue
        spec = unsolicited_spec(line, claims)
        if spec is not None:
            urc = assembler.start(spec, line)
            if urc is not None and urc.name == "+CUSD":
                try:
                    parsing.parse_cusd(urc.args)
                except ValueError:
                    pass


def _at_stream(selector: int, data: bytes) -> None:
    whole = LineFramer("fuzz", max_pending=64).feed(data)
    if (selector >> 2) % 4 == 0:  # one stream in four: framing char by char is the costliest step
        chunked = _frames_in_chunks(data, 1 + (selector >> 4) % 7)
        if chunked != whole:
            raise AssertionError(f"frames depend on the read sizes: {whole!r} != {chunked!r}")
    lines = [frame.text.strip() for frame in whole if isinstance(frame, Line)]
    command = CLAIMING_COMMANDS[(selector >> 5) % len(CLAIMING_COMMANDS)]
    _route(lines, claims_of(command))
    for line in lines:
        _parse_line(line)
    for lines_parser in LIST_PARSERS_RAISING:
        try:
            lines_parser(lines)
        except ValueError:
            pass
    for total_parser in LIST_PARSERS_TOTAL:
        total_parser(lines)
    entries, _rejects = parsing.parse_cmgl(lines)
    for entry in entries:
        _decode(entry.pdu)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    selector, payload = data[0], data[1:]
    mode = selector % 4
    if mode in (MODE_PDU_SMSC, MODE_PDU_NO_SMSC):
        _decode(payload.hex(), has_smsc=mode == MODE_PDU_SMSC)
    elif mode == MODE_PDU_TEXT:
        _decode(payload.decode("latin-1"))
    else:
        _at_stream(selector, payload)


PUBLISHED_PDUS = (
    "07912143658709F1040B918100551512F20000111010214365000AE8329BFD4697D9EC37",
    "07912143658709F1040B918100551512F200F4111010214365000AE8329BFD4697D9EC37DE",
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447"
    "9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10",
    "002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60",
    "07914356060013F1065A098136397339F7219011700463802190117004638030",
    "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301",
)
"""From tests/codec/test_vectors.py and test_garbage.py (python-gsmmodem, smspdudecoder vectors)."""


def _seed_pdus() -> list[str]:
    when = datetime(2024, 3, 31, 1, 59, 58, tzinfo=UTC)
    pdus = list(PUBLISHED_PDUS)
    pdus += [p.hex for p in encode_submit("+4915112345678", "Hallo {Welt} € " * 12, concat_reference=7,
                                          request_status_report=True)]
    pdus += encode_deliver("MyBank", "Баланс 👍🏽" * 20, timestamp=when, concat_reference=300,
                                           concat_16bit=True, smsc="+4917200000")
    pdus.append(encode_status_report(42, "+15550001", sc_timestamp=when, discharge_time=when, status=0))
    return pdus


AT_TRANSCRIPTS = (
    b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
    b"\r\n+CREG: 2,1,\"1A2B\",\"00C0FFEE\",7\r\n\r\nOK\r\n+CREG: 5\r\n",
    b"\r\n+CMTI: \"SM\",3\r\n\r\n+CUSD: 0,\"Balance\r\n12.00 EUR\",15\r\n",
    b"\r\n+CUSD: 0,\"AA180C3602\",15\r\n\r\n+CUSD: 1,\"04110430043B0430043D0441\",72\r\n",
    b"\r\n+CPIN: SIM PIN\r\n\r\n+CPINR: \"SIM PIN\",3,3\r\n\r\n^CPIN: SIM PIN,3,10,3,10,3\r\nOK\r\n",
    b"\r\n+CCID: 89490200001234567890\r\n\r\n+CRSM: 144,0,\"98940200001032547698\"\r\nOK\r\n",
    b"AT+CMGS=23\r\r\n> 0011000B919471...\x1a\r\n+CMGS: 17\r\n\r\nOK\r\n",
    b"\r\n+CMS ERROR: 500\r\n\x00\x00\xff\xfeRDY\r\n+CSCA: \"+4917200000\",145\r\n",
)


def _seed_corpus(corpus: Path) -> None:
    """Valid inputs for every mode, so the fuzzer starts deep in the decoders instead of at their guards."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    seeds: list[bytes] = []
    pdus = _seed_pdus()
    for pdu in pdus:
        seeds.append(bytes([MODE_PDU_SMSC]) + bytes.fromhex(pdu))
        seeds.append(bytes([MODE_PDU_TEXT]) + pdu.encode())
    seeds.append(bytes([MODE_PDU_NO_SMSC]) + bytes.fromhex(pdus[0])[8:])
    for number, transcript in enumerate(AT_TRANSCRIPTS):
        seeds.append(bytes([MODE_AT_STREAM | (number << 2)]) + transcript)
    listing = "".join(f"+CMGL: {i},1,,{len(p) // 2 - 1}\r\n{p}\r\n" for i, p in enumerate(pdus[:3]))
    seeds.append(bytes([MODE_AT_STREAM]) + f"\r\n{listing}OK\r\n".encode())
    seeds.append(bytes([MODE_AT_STREAM | 0x40]) + f"\r\n+CMGR: 0,,24\r\n{pdus[0]}\r\nOK\r\n".encode())
    seeds.append(bytes([MODE_AT_STREAM]) + f"\r\n+CMT: ,36\r\n{pdus[0]}\r\n+CDS: 25\r\n{pdus[4]}\r\n".encode())
    for number, seed in enumerate(seeds):
        (corpus / f"seed-{number:03d}").write_bytes(seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="inputs to try (-atheris_runs)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory (grows)")
    parser.add_argument("libfuzzer_args", nargs="*", help="passed to libFuzzer after '--'")
    args = parser.parse_args()
    _seed_corpus(args.corpus)
    logging.disable(logging.CRITICAL)  # the framer's and assembler's warnings would dominate the run time
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    fuzzer_argv = [sys.argv[0], f"-atheris_runs={args.runs}", f"-max_len={MAX_LEN}",
                   f"-artifact_prefix={ARTIFACTS}/", "-print_final_stats=1", *args.libfuzzer_args,
                   str(args.corpus)]
    atheris.Setup(fuzzer_argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
