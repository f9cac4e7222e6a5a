"""The URC table, claims, and the assembly of multi-line codes."""

from __future__ import annotations

import pytest

from gatewayd.modem.urc import (
    URC_TABLE,
    Urc,
    UrcAssembler,
    claims_of,
    expects_body,
    is_final,
    is_late_reply,
    unsolicited_spec,
)


@pytest.mark.parametrize(("command", "claims"), [
    ("AT+CREG?", {"+CREG"}),
    ("AT+CREG=2", {"+CREG"}),
    ("at+cgreg?", {"+CGREG"}),
    ("AT^SYSINFO", {"^SYSINFO"}),
    ("AT+CREG?;+CEREG?", {"+CREG", "+CEREG"}),
    ("ATI", set()),
    ("ATE0", set()),
    ("AT", set()),
    ("+CREG?", set()),
])
def test_claims_from_command_text(command: str, claims: set[str]) -> None:
    assert claims_of(command) == claims


@pytest.mark.parametrize(("line", "name"), [
    ('+CMTI: "SM",3', "+CMTI"),
    ("+CMT: ,23", "+CMT"),
    ("+CDS: 25", "+CDS"),
    ('+CDSI: "SR",1', "+CDSI"),
    ("RING", "RING"),
    ("+CRING: VOICE", "+CRING"),
    ('+CLIP: "+3161234",145', "+CLIP"),
    ("^RSSI:15", "^RSSI"),
    ("^BOOT:123,0,0,0,6", "^BOOT"),
    ("+CREG: 1", "+CREG"),
    ("+CPIN: READY", "+CPIN"),
    ("Call Ready", "Call Ready"),
    ("SMS Ready", "SMS Ready"),
    ("RDY", "RDY"),
    ("+QUSIM: 1", "+QUSIM"),
    ('^HCSQ:"LTE",50,40,120,20', "^HCSQ"),
    ("+PACSP1", "+PACSP"),
    ('+CUSD: 0,"Balance",15', "+CUSD"),
])
def test_known_codes_are_unsolicited(line: str, name: str) -> None:
    spec = unsolicited_spec(line)
    assert spec is not None
    assert spec.name == name


@pytest.mark.parametrize("line", ["OK", "+CSQ: 20,99", "0791448720003023", "RINGING", "+CMTIX: 1",
                                  "Call Ready now", "+CMGS: 7"])
def test_other_lines_are_not_unsolicited(line: str) -> None:
    assert unsolicited_spec(line) is None


def test_claimable_code_is_the_answer_when_asked_for() -> None:
    assert unsolicited_spec("+CREG: 2,1", claims_of("AT+CREG?")) is None
    assert unsolicited_spec("^RSSI:15", claims_of("AT^RSSI?")) is None
    assert unsolicited_spec("+CREG: 1", claims_of("AT+CSQ")) is not None


@pytest.mark.parametrize("line", ['+CMTI: "SM",3', "+CMT: ,23", '+CUSD: 0,"x",15', "RING"])
def test_never_claimable_codes_stay_unsolicited(line: str) -> None:
    command = "AT" + line.split(":", maxsplit=1)[0] + "=1"
    assert unsolicited_spec(line, claims_of(command)) is not None


def test_table_prefixes_are_unique_and_names_stable() -> None:
    prefixes = [spec.prefix for spec in URC_TABLE]
    assert len(prefixes) == len(set(prefixes))
    assert all(":" not in spec.name for spec in URC_TABLE)


def test_finals_and_late_replies() -> None:
    assert is_final("OK") and is_final("+CMS ERROR: 500") and is_final("NO CARRIER")
    assert not is_final("+CSQ: 20,99")
    assert is_late_reply("+CMGS: 7", claims_of("AT+CSQ"))
    assert not is_late_reply("+CMGS: 7", claims_of("AT+CMGS=23"))


@pytest.mark.parametrize(("line", "body"), [
    ("+CMGL: 1,0,,23", True),
    ('+CMGL: 1,"REC READ","+31628870634",,"11/01/09,10:26:26+04"', True),
    ("+CMGR: 0,,0", False),
    ("+CMGR: 1,,0", False),
    ("+CSQ: 20,99", False),
])
def test_listing_lines_announce_their_body(line: str, body: bool) -> None:
    assert expects_body(line) is body


def test_cmt_takes_the_next_line_whatever_it_is() -> None:
    assembler = UrcAssembler()
    spec = unsolicited_spec("+CMT: ,23")
    assert spec is not None
    assert assembler.start(spec, "+CMT: ,23") is None
    assert assembler.waiting
    assert assembler.feed("OK") == (True, Urc("+CMT", "+CMT: ,23", ",23", "OK"))
    assert not assembler.waiting


def test_cds_in_pdu_mode_waits_text_mode_does_not() -> None:
    assembler = UrcAssembler()
    spec = unsolicited_spec("+CDS: 25")
    assert spec is not None
    assert assembler.start(spec, "+CDS: 25") is None
    assert assembler.feed("0006") == (True, Urc("+CDS", "+CDS: 25", "25", "0006"))
    text_mode = '+CDS: 6,12,"+31612345678",145,"24/01/01,10:00:00+04","24/01/01,10:00:05+04",0'
    assert assembler.start(spec, text_mode) == Urc("+CDS", text_mode, text_mode[6:], None)
    assert not assembler.waiting


def test_multiline_ussd_joins_until_quotes_close() -> None:
    assembler = UrcAssembler()
    spec = unsolicited_spec('+CUSD: 1,"1. Balance')
    assert spec is not None
    assert assembler.start(spec, '+CUSD: 1,"1. Balance') is None
    assert assembler.feed("2. Bundles") == (True, None)
    consumed, urc = assembler.feed('3. Exit",15')
    assert consumed
    assert urc == Urc("+CUSD", '+CUSD: 1,"1. Balance\n2. Bundles\n3. Exit",15',
                      '1,"1. Balance\n2. Bundles\n3. Exit",15', None)


def test_unbalanced_ussd_is_ended_by_a_final_code() -> None:
    assembler = UrcAssembler()
    spec = unsolicited_spec('+CUSD: 0,"broken')
    assert spec is not None
    assembler.start(spec, '+CUSD: 0,"broken')
    consumed, urc = assembler.feed("OK")
    assert not consumed
    assert urc is not None and urc.args == '0,"broken'
    assert not assembler.waiting


@pytest.mark.parametrize(("line", "answer"), [
    ("+CREG: 2,1", True),
    ('+CREG: 2,5,"00A1","0B2C",7', True),
    ("+CREG: 1", False),
    ('+CREG: 1,"00A1","0B2C",7', False),
    ("+CEREG: 1,,,7", False),
    ("+CGREG: 0,1", True),
])
def test_registration_urc_during_its_read_command(line: str, answer: bool) -> None:
    command = "AT" + line.split(":", maxsplit=1)[0] + "?"
    assert (unsolicited_spec(line, claims_of(command)) is None) is answer
