"""The AT interpreter fed bytes directly (no I/O), on a manual clock."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.emulator.modem import EmulatedModem
from gatewayd.emulator.profiles import PROFILES
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport, decode_pdu, encode_submit

from .conftest import Bench, lines

A, B = "+15550000001", "+15550000002"


def send_pdu(bench: Bench, modem: EmulatedModem, to: str, text: str, **kw: object) -> list[str]:
    """AT+CMGS every part; returns what the modem answered to each."""
    answers = []
    for part in encode_submit(to, text, **kw):  # type: ignore[arg-type]
        prompt = bench.cmd(modem, f"AT+CMGS={part.tpdu_length}")
        assert prompt == "\r\n> "
        answers.append(bench.cmd(modem, part.hex.encode() + b"\x1a"))
    return answers


# -- line syntax, echo, result codes -------------------------------------------------------------------


def test_echo_is_on_at_power_up_and_ate0_turns_it_off(bench: Bench) -> None:
    modem = bench.modem(echo=True)
    assert bench.cmd(modem, "AT") == "AT\r\r\nOK\r\n"
    assert bench.cmd(modem, "ATE0") == "ATE0\r\r\nOK\r\n"
    assert bench.cmd(modem, "AT") == "\r\nOK\r\n"


def test_compound_line_has_one_final_result(bench: Bench) -> None:
    modem = bench.modem(echo=True)
    out = bench.cmd(modem, "ATE0Q0V1&C1+CMEE=1;+CREG=2")
    assert out == "ATE0Q0V1&C1+CMEE=1;+CREG=2\r\r\nOK\r\n"
    assert modem.settings.cmee == 1 and modem.settings.creg == 2 and not modem.settings.echo
    out = bench.cmd(modem, "at+csq;+creg?;+cpin?")
    assert lines(out) == ["+CSQ: 20,0", '+CREG: 2,1,"00A1","0B2C",7', "+CPIN: READY", "OK"]


def test_compound_line_aborts_at_first_error(bench: Bench) -> None:
    modem = bench.modem()
    assert lines(bench.cmd(modem, "AT+CMEE=1;+BOGUS;+CREG=2")) == ["ERROR"]
    assert modem.settings.cmee == 1 and modem.settings.creg == 0


def test_a_slash_repeats_the_last_line(bench: Bench) -> None:
    modem = bench.modem()
    assert lines(bench.cmd(modem, "AT+CSQ")) == ["+CSQ: 20,0", "OK"]
    assert lines(bench.cmd(modem, b"A/")) == ["+CSQ: 20,0", "OK"]


def test_lf_terminates_a_line_and_lines_without_at_are_ignored(bench: Bench) -> None:
    modem = bench.modem()
    assert bench.cmd(modem, b"hello\r") == ""
    assert bench.cmd(modem, b"AT\n") == "\r\nOK\r\n"


def test_cmee_modes(bench: Bench) -> None:
    modem = bench.modem()
    expected = ["ERROR", "+CME ERROR: 3", "+CME ERROR: operation not allowed"]
    for mode, final in enumerate(expected):
        bench.cmd(modem, f"AT+CMEE={mode}")
        assert lines(bench.cmd(modem, 'AT+CPIN="0000"')) == [final]  # no PIN expected: not allowed
    bench.cmd(modem, "AT+CMEE=1")
    assert lines(bench.cmd(modem, "AT+CMGR=99")) == ["+CMS ERROR: 321"]


def test_numeric_result_codes(bench: Bench) -> None:
    modem = bench.modem()
    assert bench.cmd(modem, "ATV0") == "0\r"
    assert bench.cmd(modem, "AT+BOGUS") == "4\r"
    assert bench.cmd(modem, "ATV1") == "\r\nOK\r\n"


def test_identification(bench: Bench) -> None:
    modem = bench.modem()
    assert lines(bench.cmd(modem, "AT+CGSN")) == ["356938030000013", "OK"]
    assert lines(bench.cmd(modem, "AT+CIMI")) == ["001010000000001", "OK"]
    assert lines(bench.cmd(modem, "AT+CCID")) == ["+CCID: 89010010000000000018", "OK"]
    assert lines(bench.cmd(modem, "AT+QCCID")) == ["ERROR"]
    assert lines(bench.cmd(modem, "AT+GCAP")) == ["+GCAP: +CGSM", "OK"]
    assert lines(bench.cmd(modem, "ATI")) == ["gatewayd", "EMU-1", "Revision: EMU-1.0.0", "OK"]


def test_atz_restores_power_up_settings(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CMEE=2;+CMGF=1;+CNMI=0,0,0,0,0")
    bench.cmd(modem, "ATZ")
    assert (modem.settings.cmee, modem.settings.cmgf, modem.settings.echo) == (0, 0, True)
    assert modem.settings.cnmi == (2, 1, 0, 0, 0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_input_leaves_the_modem_answering(noise: bytes) -> None:
    bench = Bench()
    modem = bench.modem()
    bench.cmd(modem, noise, run=0.2)
    out = bench.cmd(modem, b"\x1b\rAT\r", run=0.2)
    assert out.endswith("OK\r\n")


# -- SIM ---------------------------------------------------------------------------------------------


def test_pin_flow_with_attempts_and_puk(bench: Bench) -> None:
    modem = bench.modem(pin="1234")
    bench.cmd(modem, "AT+CMEE=1")
    assert lines(bench.cmd(modem, "AT+CPIN?")) == ["+CPIN: SIM PIN", "OK"]
    assert lines(bench.cmd(modem, "AT+CIMI")) == ["+CME ERROR: 11"]
    assert lines(bench.cmd(modem, "AT+CMGL=4")) == ["+CMS ERROR: 311"]
    assert lines(bench.cmd(modem, "AT+CREG?")) == ["+CREG: 0,0", "OK"]
    assert lines(bench.cmd(modem, 'AT+CPIN="0000"')) == ["+CME ERROR: 16"]
    assert lines(bench.cmd(modem, "AT+CPINR")) == ["+CPINR: SIM PIN,2,3", "+CPINR: SIM PUK,10,10", "OK"]
    bench.cmd(modem, 'AT+CPIN="0000"')
    assert lines(bench.cmd(modem, 'AT+CPIN="0000"')) == ["+CME ERROR: 16"]
    assert lines(bench.cmd(modem, "AT+CPIN?")) == ["+CPIN: SIM PUK", "OK"]
    assert lines(bench.cmd(modem, 'AT+CPIN="1234"')) == ["+CME ERROR: 12"]
    assert lines(bench.cmd(modem, 'AT+CPIN="11111111","4321"')) == ["+CME ERROR: 16"]
    assert lines(bench.cmd(modem, 'AT+CPIN="12345678","4321"')) == ["OK"]
    assert lines(bench.cmd(modem, "AT+CPIN?;+CIMI")) == ["+CPIN: READY", "001010000000001", "OK"]


def test_quectel_pin_counter(bench: Bench) -> None:
    modem = bench.modem(profile="quectel", pin="1234")
    bench.cmd(modem, 'AT+CPIN="9999"')
    assert lines(bench.cmd(modem, 'AT+QPINC="SC"')) == ['+QPINC: "SC",2,10', "OK"]
    assert lines(bench.cmd(modem, 'AT+CPIN="1234";+QCCID')) == ["+QCCID: 89010010000000000018", "OK"]


def test_registration_urc_follows_pin_entry(bench: Bench) -> None:
    modem = bench.modem(pin="1234")
    bench.cmd(modem, "AT+CREG=1")
    assert lines(bench.cmd(modem, 'AT+CPIN="1234"')) == ["OK", "+CREG: 1"]


# -- receiving ------------------------------------------------------------------------------------------


def test_cnmi_mt1_stores_and_indicates_then_cmgr_cmgl_cmgd(bench: Bench) -> None:
    modem = bench.modem()
    assert bench.network.deliver_external(A, "+4911111", "first") == 1
    bench.network.deliver_external(A, "+4911111", "second")
    assert lines(bench.take(modem)) == ['+CMTI: "SM",1', '+CMTI: "SM",2']
    out = lines(bench.cmd(modem, "AT+CMGR=1"))
    assert re.fullmatch(r"\+CMGR: 0,,\d+", out[0]) and out[-1] == "OK"
    pdu = decode_pdu(out[1])
    assert isinstance(pdu, SmsDeliver) and (pdu.sender, pdu.text) == ("+4911111", "first")
    assert int(out[0].rsplit(",", 1)[1]) == len(out[1]) // 2 - 1 - int(out[1][:2], 16)
    listed = lines(bench.cmd(modem, "AT+CMGL=0"))  # unread only: message 2
    assert [line.split(",")[0] for line in listed if line.startswith("+CMGL")] == ["+CMGL: 2"]
    assert lines(bench.cmd(modem, "AT+CMGL=0")) == ["OK"]  # listing marked it read
    assert len([x for x in lines(bench.cmd(modem, "AT+CMGL=4")) if x.startswith("+CMGL")]) == 2
    bench.cmd(modem, "AT+CMGD=1")
    assert lines(bench.cmd(modem, "AT+CPMS?")) == ['+CPMS: "SM",1,30,"SM",1,30,"SM",1,30', "OK"]
    bench.cmd(modem, "AT+CMGD=1,4")
    assert lines(bench.cmd(modem, "AT+CMGL=4")) == ["OK"]


def test_cnmi_mt0_stores_silently_and_mt2_routes(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CNMI=2,0,0,0,0")
    bench.network.deliver_external(A, "+4911111", "quiet")
    assert bench.take(modem) == ""
    assert modem.storage.memories["SM"].used == 1
    bench.cmd(modem, "AT+CNMI=2,2,0,0,0")
    bench.network.deliver_external(A, "+4911111", "routed")
    out = lines(bench.take(modem))
    length = int(out[0].split(",")[1])
    assert out[0].startswith("+CMT: ,") and length == len(out[1]) // 2 - 1 - int(out[1][:2], 16)
    assert decode_pdu(out[1]).text == "routed"  # type: ignore[union-attr]
    assert modem.storage.memories["SM"].used == 1


def test_cnmi_mode0_buffers_until_mode2(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CNMI=0,1,0,0,0")
    bench.network.deliver_external(A, "+4911111", "buffered")
    assert bench.take(modem) == ""
    assert lines(bench.cmd(modem, "AT+CNMI=2,1,0,0,0")) == ["OK", '+CMTI: "SM",1']


def test_text_mode_receive_and_read(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CMGF=1;+CNMI=2,2,0,0,0")
    bench.network.deliver_external(A, "+4911111", "hi there")
    out = lines(bench.take(modem))
    assert re.fullmatch(r'\+CMT: "\+4911111",,"\d\d/\d\d/\d\d,\d\d:\d\d:\d\d\+00"', out[0])
    assert out[1] == "hi there"
    bench.cmd(modem, "AT+CNMI=2,1,0,0,0")
    bench.network.deliver_external(A, "+4911111", "Grüße 😀")
    bench.take(modem)
    bench.cmd(modem, 'AT+CSCS="UCS2"')
    out = lines(bench.cmd(modem, 'AT+CMGL="ALL"'))
    assert out[0].startswith('+CMGL: 1,"REC UNREAD","+4911111",,"')
    assert bytes.fromhex(out[1]).decode("utf-16-be") == "Grüße 😀"


def test_csms1_requires_cnma(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CMEE=1")
    assert lines(bench.cmd(modem, "AT+CSMS=1")) == ["+CSMS: 1,1,1", "OK"]
    assert lines(bench.cmd(modem, "AT+CNMA")) == ["+CMS ERROR: 340"]
    bench.cmd(modem, "AT+CNMI=2,2,0,0,0")
    bench.network.deliver_external(A, "+4911111", "one")
    bench.network.deliver_external(A, "+4911111", "two")  # arrives before "one" was acknowledged
    bench.take(modem)
    assert modem.stats["unacked"] == 1
    assert lines(bench.cmd(modem, "AT+CNMA")) == ["OK"]


def test_full_storage_is_retried_by_the_smsc_after_a_delete(bench: Bench) -> None:
    modem = bench.modem(profile=dataclasses.replace(PROFILES["generic"], storage_capacity=2))
    for text in ("1", "2", "3"):
        bench.network.deliver_external(A, "+4911111", text)
    assert lines(bench.take(modem)) == ['+CMTI: "SM",1', '+CMTI: "SM",2']
    assert bench.network.pending_count() == 1
    bench.run(2.0)
    assert bench.take(modem) == ""  # retried, still full
    assert lines(bench.cmd(modem, "AT+CMGD=1")) == ["OK", '+CMTI: "SM",1']
    assert bench.network.pending_count() == 0
    out = lines(bench.cmd(modem, "AT+CMGR=1"))
    assert decode_pdu(out[1]).text == "3"  # type: ignore[union-attr]


def test_cpms_selection_and_mt(bench: Bench) -> None:
    modem = bench.modem()
    assert lines(bench.cmd(modem, 'AT+CPMS="ME","ME","ME"')) == ["+CPMS: 0,30,0,30,0,30", "OK"]
    bench.network.deliver_external(A, "+4911111", "x")
    assert lines(bench.take(modem)) == ['+CMTI: "ME",1']
    assert lines(bench.cmd(modem, 'AT+CPMS="MT"')) == ["+CPMS: 1,60,1,30,1,30", "OK"]
    assert lines(bench.cmd(modem, "AT+CMGL=4"))[0].startswith("+CMGL: 31,0,,")
    assert lines(bench.cmd(modem, 'AT+CPMS="XX"')) == ["ERROR"]


# -- sending --------------------------------------------------------------------------------------------


def test_send_between_modems_keeps_concat_and_assigns_mr(bench: Bench) -> None:
    a, b = bench.modem(A), bench.modem(B)
    text = "long message " * 20
    answers = send_pdu(bench, a, B, text, concat_reference=42, message_reference=200)
    assert [lines(x) for x in answers] == [["+CMGS: 0", "OK"], ["+CMGS: 1", "OK"]]
    assert lines(bench.take(b)) == ['+CMTI: "SM",1', '+CMTI: "SM",2']
    parts = []
    for index in (1, 2):
        pdu = decode_pdu(lines(bench.cmd(b, f"AT+CMGR={index}"))[1])
        assert isinstance(pdu, SmsDeliver) and pdu.sender == A and pdu.concat is not None
        parts.append(pdu)
    concats = [p.concat for p in parts if p.concat]
    assert [(c.reference, c.total, c.sequence) for c in concats] == [(42, 2, 1), (42, 2, 2)]
    assert "".join(p.text for p in parts) == text
    records = bench.network.log.records
    assert [(r["from"], r["to"], r["part"], r["parts"], r["ref"], r["mr"]) for r in records] == [
        (A, B, 1, 2, 42, 0), (A, B, 2, 2, 42, 1)]
    assert "".join(r["text"] for r in records) == text


def test_status_report_routing(bench: Bench) -> None:
    a = bench.modem(A)
    bench.cmd(a, "AT+CNMI=2,1,0,1,0")
    answers = send_pdu(bench, a, "+4900000", "report me", request_status_report=True)
    out = lines(answers[0])
    assert out[:2] == ["+CMGS: 0", "OK"]
    assert out[2].startswith("+CDS: ")
    report = decode_pdu(out[3])
    assert isinstance(report, SmsStatusReport)
    assert (report.message_reference, report.recipient, report.status) == (0, "+4900000", 0)
    bench.cmd(a, "AT+CNMI=2,1,0,2,0")
    out = lines(send_pdu(bench, a, "+4900000", "again", request_status_report=True)[0])
    assert out == ["+CMGS: 1", "OK", '+CDSI: "SR",1']
    bench.cmd(a, 'AT+CPMS="SR"')
    report = decode_pdu(lines(bench.cmd(a, "AT+CMGR=1"))[1])
    assert isinstance(report, SmsStatusReport) and report.message_reference == 1


def test_cmgs_rejects_a_wrong_length_and_garbage(bench: Bench) -> None:
    a = bench.modem(A)
    bench.cmd(a, "AT+CMEE=1")
    part = encode_submit(B, "x")[0]
    bench.cmd(a, f"AT+CMGS={part.tpdu_length + 1}")
    assert lines(bench.cmd(a, part.hex.encode() + b"\x1a")) == ["+CMS ERROR: 304"]
    bench.cmd(a, "AT+CMGS=5")
    assert lines(bench.cmd(a, b"zz\x1a")) == ["+CMS ERROR: 304"]
    assert bench.network.log.records == []


def test_esc_cancels_cmgs(bench: Bench) -> None:
    a = bench.modem(A)
    part = encode_submit(B, "never")[0]
    assert bench.cmd(a, f"AT+CMGS={part.tpdu_length}") == "\r\n> "
    assert lines(bench.cmd(a, part.hex.encode() + b"\x1b")) == ["OK"]
    assert bench.network.log.records == []
    assert lines(bench.cmd(a, "AT")) == ["OK"]


def test_text_mode_send(bench: Bench) -> None:
    a, b = bench.modem(A), bench.modem(B)
    bench.cmd(a, "AT+CMGF=1")
    assert bench.cmd(a, f'AT+CMGS="{B}"') == "\r\n> "
    assert bench.cmd(a, b"line one\r") == "\r\n> "
    assert lines(bench.cmd(a, b"line two\x1a")) == ["+CMGS: 0", "OK"]
    assert bench.network.log.records[0]["text"] == "line one\nline two"
    bench.take(b)
    bench.cmd(b, "AT+CMGF=1")
    out = lines(bench.cmd(b, "AT+CMGR=1"))
    assert out[0].startswith(f'+CMGR: "REC UNREAD","{A}",,"') and out[1:] == ["line one\nline two", "OK"]


def test_send_latency_defers_the_answer_and_queues_input(bench: Bench) -> None:
    a = bench.modem(A, latency=2.0)
    part = encode_submit(B, "slow")[0]
    bench.cmd(a, f"AT+CMGS={part.tpdu_length}")
    assert bench.cmd(a, part.hex.encode() + b"\x1aAT\r", run=1.0) == ""
    assert lines(bench.cmd(a, b"", run=1.5)) == ["+CMGS: 0", "OK", "OK"]


def test_ussd_answers_later(bench: Bench) -> None:
    a = bench.modem(A)
    out = lines(bench.cmd(a, 'AT+CUSD=1,"*100#",15'))
    assert out == ["OK", f'+CUSD: 0,"Your balance is 10.00 EUR. Number {A}.",15']
    h = bench.modem(B, profile="huawei")
    out = lines(bench.cmd(h, 'AT+CUSD=1,"*100#",15'))
    assert out[1].endswith(",72")
    assert "Your balance" in bytes.fromhex(out[1].split('"')[1]).decode("utf-16-be")


# -- faults ---------------------------------------------------------------------------------------------


def test_fault_hang_seconds_gives_a_late_reply(bench: Bench) -> None:
    a = bench.modem(A)
    a.fault("hang", seconds=3)
    assert bench.cmd(a, "AT+CSQ", run=2.0) == ""
    assert lines(bench.cmd(a, b"", run=1.5)) == ["+CSQ: 20,0", "OK"]


def test_fault_hang_count_swallows_commands(bench: Bench) -> None:
    a = bench.modem(A)
    a.fault("hang", count=2)
    assert bench.cmd(a, "AT") == ""
    assert bench.cmd(a, "AT") == ""
    assert lines(bench.cmd(a, "AT")) == ["OK"]


def test_fault_cms_error_for_the_next_sends(bench: Bench) -> None:
    a = bench.modem(A)
    bench.cmd(a, "AT+CMEE=1")
    a.fault("cms_error", code=42, count=1)
    assert lines(send_pdu(bench, a, B, "x")[0]) == ["+CMS ERROR: 42"]
    assert lines(send_pdu(bench, a, B, "x")[0]) == ["+CMGS: 0", "OK"]
    assert len(bench.network.log.records) == 1


def test_fault_garbage_writes_binary_noise(bench: Bench) -> None:
    a = bench.modem(A)
    a.fault("garbage", count=64)
    noise = bytes(bench.out[a.modem_id])
    assert b"\x00" in noise and len(noise) >= 64
    try:
        noise.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("garbage was valid UTF-8")
    bench.take(a)
    assert lines(bench.cmd(a, "AT")) == ["OK"]


def test_fault_no_network(bench: Bench) -> None:
    a = bench.modem(A)
    bench.cmd(a, "AT+CMEE=1;+CREG=1")
    a.fault("no_network", seconds=5)
    assert lines(bench.take(a)) == ["+CREG: 0"]
    assert lines(bench.cmd(a, "AT+CREG?;+CSQ")) == ["+CREG: 1,0", "+CSQ: 99,99", "OK"]
    assert lines(send_pdu(bench, a, B, "x")[0]) == ["+CMS ERROR: 331"]
    assert lines(bench.cmd(a, b"", run=5.0)) == ["+CREG: 1"]
    a.fault("no_network")
    a.clear_faults()
    assert lines(bench.take(a)) == ["+CREG: 0", "+CREG: 1"]


def test_fault_report_status(bench: Bench) -> None:
    a = bench.modem(A)
    bench.cmd(a, "AT+CNMI=2,1,0,1,0")
    a.fault("report_status", code=0x46)
    report = decode_pdu(lines(send_pdu(bench, a, B, "x", request_status_report=True)[0])[3])
    assert isinstance(report, SmsStatusReport) and report.status == 0x46


# -- profiles -------------------------------------------------------------------------------------------


def test_urc_inside_puts_codes_between_response_lines(bench: Bench) -> None:
    a = bench.modem(A)
    b = bench.modem(B, profile="urc_inside", latency=1.0)
    bench.cmd(b, "AT+CNMI=2,2,0,0,0")
    part = encode_submit(A, "x")[0]
    bench.cmd(b, f"AT+CMGS={part.tpdu_length}")
    b.feed(part.hex.encode() + b"\x1a")
    bench.run(0.3)
    send_pdu(bench, a, B, "during latency")  # arrives at b while its +CMGS is pending
    bench.run(1.0)
    out = lines(bench.take(b))
    assert out[0] == "+CMGS: 0" and out[-1] == "OK"
    middle = out[1:-1]
    assert middle[0].startswith("+CMT: ,") and decode_pdu(middle[1]).text == "during latency"  # type: ignore[union-attr]
    assert "^RSSI: 18" in middle


def test_urc_inside_splits_pdu_lines_into_a_later_write(bench: Bench) -> None:
    b = bench.modem(B, profile="urc_inside")
    bench.cmd(b, "AT+CNMI=2,2,0,0,0")
    bench.network.deliver_external(B, "+4911111", "split")
    bench.run(0.2)
    writes = bench.writes[b.modem_id]
    assert len(writes) == 2
    (t1, header), (t2, pdu) = writes
    assert header.startswith(b"\r\n+CMT: ,") and t2 > t1 and decode_pdu(pdu.decode().strip()).text == "split"  # type: ignore[union-attr]


def test_simcom_boot_sequence_and_busy_period(bench: Bench) -> None:
    quirks = PROFILES["simcom"]
    m = bench.modem(A, profile=dataclasses.replace(quirks, boot_urcs=()), echo=True)
    assert bench.cmd(m, "AT") == "AT\r\r\n+CME ERROR: 515\r\n"
    assert bench.cmd(m, "AT") == "AT\r\r\n+CME ERROR: 515\r\n"
    assert bench.cmd(m, "AT") == "AT\r\r\nOK\r\n"
    n = bench.modem("+15550000009", profile="simcom", echo=True)
    n.power_on()  # a second power-up (bench.modem consumed the first one's output)
    assert lines(bench.take(n)) == ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]


def test_huawei_quirks(bench: Bench) -> None:
    h = bench.modem(A, profile=dataclasses.replace(PROFILES["huawei"], periodic_interval=1.0))
    assert lines(bench.cmd(h, "AT+BOGUS", run=0)) == ["COMMAND NOT SUPPORT"]
    assert lines(bench.cmd(h, "AT^ICCID", run=0)) == ["^ICCID: 89010010000000000018", "OK"]
    bench.run(1.0)
    assert "^RSSI:18" in lines(bench.take(h))
    bench.cmd(h, "AT^CURC=0")
    bench.run(3.0)
    assert bench.take(h) == ""
