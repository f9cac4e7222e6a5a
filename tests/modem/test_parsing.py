"""The information-line parsers: every variant seen on real modems, and errors as ValueError only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem import parsing


def test_split_fields_quotes_and_empties() -> None:
    assert parsing.split_fields('0,"SM",,5') == ["0", "SM", "", "5"]
    assert parsing.split_fields('"a,b", 3') == ["a,b", "3"]
    with pytest.raises(ValueError):
        parsing.split_fields('"open')


@pytest.mark.parametrize(("line", "rssi", "dbm", "bars"), [
    ("+CSQ: 31,99", 31, -51, 4),
    ("+CSQ: 0,0", 0, -113, 0),
    ("+CSQ: 99,99", 99, None, 0),
    ("+CSQ:14,0", 14, -85, 2),
    ("+csq: 20,99", 20, -73, 4),
])
def test_csq(line: str, rssi: int, dbm: int | None, bars: int) -> None:
    signal = parsing.parse_csq(line)
    assert (signal.rssi, signal.dbm, signal.bars) == (rssi, dbm, bars)


@pytest.mark.parametrize("line", ["+CSQ: x,1", "+CSQ: 5", "+CREG: 0,1"])
def test_csq_rejects(line: str) -> None:
    with pytest.raises(ValueError):
        parsing.parse_csq(line)


@pytest.mark.parametrize(("line", "solicited", "stat", "lac", "registered"), [
    ("+CREG: 0,1", True, 1, None, True),
    ("+CREG: 2,5,\"00C3\",\"0010A5CB\",7", True, 5, "00C3", True),
    ("+CREG: 2,0", True, 0, None, False),
    ("+CREG: 1", False, 1, None, True),
    ("+CREG: 1,\"00C3\",\"0010\",2", False, 1, "00C3", True),
    ("+CEREG: 2,1,\"1A2B\",\"01A2B3C4\",7", True, 1, "1A2B", True),
    ("+CGREG: 0,3", True, 3, None, False),
])
def test_registration(line: str, solicited: bool, stat: int, lac: str | None, registered: bool) -> None:
    registration = parsing.parse_registration(line, solicited=solicited)
    assert (registration.stat, registration.lac, registration.registered) == (stat, lac, registered)


def test_registration_rejects_other_lines() -> None:
    with pytest.raises(ValueError):
        parsing.parse_registration("+CSQ: 1,2")


def test_cops_and_cpin_and_csca() -> None:
    assert parsing.parse_cops('+COPS: 0,0,"T-Mobile",7') == "T-Mobile"
    assert parsing.parse_cops("+COPS: 0") is None
    assert parsing.parse_cpin("+CPIN: SIM PIN") == "SIM PIN"
    assert parsing.parse_cpin('+CPIN: "READY"') == "READY"
    assert parsing.parse_csca('+CSCA: "+447785016005",145') == "+447785016005"
    assert parsing.parse_csca('+CSCA: "",129') is None


@pytest.mark.parametrize(("lines", "attempts"), [
    (['+CPINR: "SIM PIN",3,10'], 3),
    (["+CPINR: SIM PIN,1,10"], 1),
    (['+QPINC: "SC",2,10', '+QPINC: "P2",3,10'], 2),
    (["^CPIN: SIM PIN,,10,3,10,3"], 3),
    (['+CPINR: "SIM PIN2",3,10'], None),
    ([], None),
])
def test_pin_attempts(lines: list[str], attempts: int | None) -> None:
    assert parsing.parse_pin_attempts(lines) == attempts


def test_cmgs() -> None:
    assert parsing.parse_cmgs(["+CMGS: 17"]) == 17
    assert parsing.parse_cmgs(["+CMGS: 0,\"24/01/01,00:00:00+00\""]) == 0
    for bad in (["+CMGS: 300"], ["+CMGS: x"], ["OK"]):
        with pytest.raises(ValueError):
            parsing.parse_cmgs(bad)


def test_cmgl_keeps_modem_indexes_and_reports_rejects() -> None:
    lines = [
        "+CMGL: 1,0,,24", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
        "+CMGL: 4,1,,3", "ZZZZ-not-hex",
        "+CMGL: 7,1,\"alpha\",5", "0011223344",
        "+CMGL: 9,1,,5",
    ]
    entries, rejects = parsing.parse_cmgl(lines)
    assert [(e.index, e.stat, e.length) for e in entries] == [(1, 0, 24), (7, 1, 5)]
    assert rejects == ["ZZZZ-not-hex", "+CMGL entry 9 without PDU"]


def test_cmgr() -> None:
    entry = parsing.parse_cmgr(["+CMGR: 0,,24", "07911326040000f0"], 3)
    assert entry is not None and (entry.index, entry.stat, entry.pdu) == (3, 0, "07911326040000F0")
    assert parsing.parse_cmgr([], 1) is None
    with pytest.raises(ValueError):
        parsing.parse_cmgr(["+CMGR: 0,,24"], 1)
    with pytest.raises(ValueError):
        parsing.parse_cmgr(["+CMGR: 0,,24", "hello"], 1)


def test_storage_notice() -> None:
    assert parsing.parse_storage_notice('"SM",3') == ("SM", 3)
    assert parsing.parse_storage_notice('"me", 12') == ("ME", 12)
    with pytest.raises(ValueError):
        parsing.parse_storage_notice('"SM"')


@pytest.mark.parametrize(("lines", "iccid"), [
    (["+CCID: 89014103211118510720"], "89014103211118510720"),
    (['+QCCID: "8944110068256270054F"'], "8944110068256270054"),
    (["89860318760280037437"], "89860318760280037437"),
    (["^ICCID: 98684010000000000046"], "89860401000000000064"),
    (["OK?"], None),
])
def test_iccid(lines: list[str], iccid: str | None) -> None:
    assert parsing.parse_iccid(lines) == iccid


def test_crsm_iccid() -> None:
    assert parsing.parse_crsm_iccid(['+CRSM: 144,0,"98684010000000000046"']) == "89860401000000000064"
    assert parsing.parse_crsm_iccid(['+CRSM: 106,130,""']) is None


def test_first_plain_line() -> None:
    assert parsing.first_plain_line(["SIMCOM_Ltd"]) == "SIMCOM_Ltd"
    assert parsing.first_plain_line(["+CGMM: EC25"]) == "EC25"
    assert parsing.first_plain_line(["", '"Quectel"']) == "Quectel"
    assert parsing.first_plain_line([]) is None


@pytest.mark.parametrize(("args", "text"), [
    ('0,"Your balance is 5.00",15', "Your balance is 5.00"),
    # Huawei: packed GSM-7 septets as hex. "*100#" packed is AA180C3602.
    ('0,"AA180C3602",15', "*100#"),
    # UCS2 (dcs 72): "Баланс"
    ('0,"04110430043B0430043D0441",72', "Баланс"),
    ("2", None),
])
def test_cusd(args: str, text: str | None) -> None:
    assert parsing.parse_cusd(args).text == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parsers_raise_only_value_error(line: str) -> None:
    for parser in (parsing.parse_csq, parsing.parse_registration, parsing.parse_cops, parsing.parse_cpin,
                   parsing.parse_csca, parsing.parse_storage_notice, parsing.parse_cusd):
        try:
            parser(line)
        except ValueError:
            pass
    for lines_parser in (parsing.parse_cmgl, parsing.parse_pin_attempts, parsing.parse_iccid,
                         parsing.parse_crsm_iccid, parsing.first_plain_line):
        lines_parser([line, line])
    try:
        parsing.parse_cmgr(["+CMGR: " + line, line])
    except ValueError:
        pass
