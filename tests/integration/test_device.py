"""The device layer end to end: real session over a real pty / TCP socket, against the emulator."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

import pytest

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.device import Modem, ModemSettings, PartialSendError, Received
from gatewayd.modem.errors import (
    AtTimeoutError,
    CmeError,
    CmsError,
    NoNetworkError,
    SessionClosedError,
    SimPinAttemptsLowError,
    SimPinRejectedError,
    SimPinRequiredError,
)
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport
from gatewayd.modem.pinguard import RejectedPins
from gatewayd.modem.reassembly import Reassembler
from gatewayd.modem.session import Urc
from tests.integration.conftest import Connector, sent_log

EVENT_TIMEOUT = 10.0

A = "+15550000001"
B = "+15550000002"


def add(emu: Emulator, number: str = A, **kwargs: Any) -> Any:
    return emu.add_modem(number=number, listen=("127.0.0.1", 0), **kwargs)


def next_event(modem: Modem, name: str, timeout: float = EVENT_TIMEOUT) -> Urc:
    """The next unsolicited code called ``name`` (others are skipped)."""
    while True:
        urc = modem.events.get(timeout=timeout)
        if urc.name == name:
            return urc


def test_probe_identity_and_status(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator, imei="356938035643809", iccid="89440000000000000017")
    modem = connect.modem(emulated)
    assert modem.identity.imei == "356938035643809"
    assert modem.identity.iccid == "89440000000000000017"
    assert modem.identity.manufacturer and modem.identity.model and modem.identity.revision
    assert modem.identity.imsi and modem.identity.imsi.isdigit()
    status = modem.status()
    assert status.registration is not None and status.registration.registered
    assert status.signal is not None and status.signal.dbm is not None
    assert status.operator
    assert modem.sim_state == "READY"


def test_send_single_part(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    result = modem.send("+447700900123", "Hello from gatewayd [ok] {€}")
    assert (result.parts, result.encoding) == (1, "gsm7")
    log = sent_log(emulator)
    assert [(e["to"], e["text"], e["mr"]) for e in log] == [
        ("+447700900123", "Hello from gatewayd [ok] {€}", result.references[0])]


@pytest.mark.parametrize(("text", "encoding", "parts"), [
    ("x" * 160, "gsm7", 1),
    ("Extension chars count double: " + "{}[]~|^€\\" * 20, "gsm7", 3),
    ("Ünïcødé with emoji 😀 " * 10, "ucs2", 4),
])
def test_send_multipart(emulator: Emulator, connect: Connector, text: str, encoding: str, parts: int) -> None:
    modem = connect.modem(add(emulator))
    result = modem.send("+447700900123", text)
    assert (result.parts, result.encoding, len(result.references)) == (parts, encoding, parts)
    log = sent_log(emulator)
    assert len(log) == parts
    assert "".join(e["text"] for e in sorted(log, key=lambda e: e["part"] or 1)) == text
    assert {e["parts"] for e in log} == {parts}
    if parts > 1:
        assert {e["ref"] for e in log} == {result.concat_reference}
    assert [e["mr"] for e in log] == result.references


def test_concat_references_differ_between_messages(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    first = modem.send("+447700900123", "a" * 200)
    second = modem.send("+447700900123", "b" * 200)
    assert first.concat_reference != second.concat_reference


def test_receive_store_and_notify_then_delete(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.deliver(A, "+447700900999", "Hi there")
    recorded: list[Received] = []
    modem.handle_event(next_event(modem, "+CMTI"), recorded.append)
    assert len(recorded) == 1
    message = recorded[0].message
    assert isinstance(message, SmsDeliver)
    assert (message.sender, message.text) == ("+447700900999", "Hi there")
    assert modem.list_stored() == []  # deleted only after the sink returned


def test_receive_multipart_ucs2_reassembled(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    text = "Привет! Это длинное сообщение, которое не помещается в одну часть SMS. " * 2
    emulator.deliver(A, "+79161234567", text)
    reassembler = Reassembler()
    wholes = []

    def sink(item: Received) -> None:
        assert isinstance(item.message, SmsDeliver)
        whole = reassembler.add(item.message)
        if whole is not None:
            wholes.append(whole)

    while not wholes:
        modem.handle_event(next_event(modem, "+CMTI"), sink)
    assert wholes[0].text == text and wholes[0].sender == "+79161234567"


def test_sink_failure_keeps_message_for_the_next_sweep(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    emulator.deliver(A, "+447700900999", "keep me")

    def failing(_item: Received) -> None:
        raise OSError("disk full")

    modem.handle_event(next_event(modem, "+CMTI"), failing)
    stored = modem.list_stored()
    assert [s.message.text for s in stored if isinstance(s.message, SmsDeliver)] == ["keep me"]
    recorded: list[Received] = []
    assert modem.sweep(recorded.append) == 1
    assert modem.list_stored() == []


def test_direct_delivery_cmt(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator), ModemSettings(cnmi="2,2,0,1,0"))
    emulator.deliver(A, "+447700900999", "routed directly")
    recorded: list[Received] = []
    modem.handle_event(next_event(modem, "+CMT"), recorded.append)
    assert isinstance(recorded[0].message, SmsDeliver)
    assert recorded[0].message.text == "routed directly" and recorded[0].index is None


def test_modem_to_modem_with_status_report(emulator: Emulator, connect: Connector) -> None:
    sender = connect.modem(add(emulator, A))
    receiver = connect.modem(add(emulator, B))
    result = sender.send(B, "ping", status_report=True)
    got: list[Received] = []
    receiver.handle_event(next_event(receiver, "+CMTI"), got.append)
    assert isinstance(got[0].message, SmsDeliver) and got[0].message.sender == A
    reports: list[Received] = []
    sender.handle_event(next_event(sender, "+CDS"), reports.append)
    report = reports[0].message
    assert isinstance(report, SmsStatusReport)
    assert report.message_reference == result.references[0] and report.delivered


def test_ussd(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    reply = modem.ussd("*100#")
    assert reply.status in (0, 1, 2) and reply.text


# -- SIM PIN ------------------------------------------------------------------------------------------


def test_pin_entered_once(emulator: Emulator, connect_pty: Connector) -> None:
    modem = connect_pty.modem(add(emulator, pin="1234"), ModemSettings(pin="1234"))
    assert modem.read_sim_state() == "READY"


def test_pin_required_but_not_configured(emulator: Emulator, connect_pty: Connector) -> None:
    with pytest.raises(SimPinRequiredError):
        connect_pty.modem(add(emulator, pin="1234"))


def test_wrong_pin_is_never_retried_and_low_attempts_stop_us(emulator: Emulator, connect_pty: Connector,
                                                               tmp_path: Path) -> None:
    emulated = add(emulator, pin="1234")
    guard_file = tmp_path / "rejected-pins.json"
    modem = connect_pty.modem(emulated, ModemSettings(pin="0000"), initialise=False)
    modem.rejected_pins = RejectedPins(guard_file)
    with pytest.raises(SimPinRejectedError):
        modem.initialise()
    assert modem.pin_attempts() == 2
    modem.close()
    modem.session.close()
    # After a restart (a new Modem reading the same guard file) the same wrong PIN is not tried again.
    restarted = connect_pty.modem(emulated, ModemSettings(pin="0000"), initialise=False)
    restarted.rejected_pins = RejectedPins(guard_file)
    with pytest.raises(SimPinRejectedError, match="before"):
        restarted.initialise()
    assert restarted.pin_attempts() == 2
    # Someone else's wrong attempt leaves one: gatewayd will not risk even a new PIN.
    with pytest.raises(CmeError):
        restarted.session.command('AT+CPIN="9999"')
    restarted.close()
    restarted.session.close()
    fresh = connect_pty.modem(emulated, ModemSettings(pin="1234"), initialise=False)
    with pytest.raises(SimPinAttemptsLowError):
        fresh.initialise()
    assert fresh.pin_attempts() == 1


# -- faults ---------------------------------------------------------------------------------------------


def test_cms_errors_are_classified(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.fault(emulated.modem_id, "cms_error", code=500, count=1)
    with pytest.raises(CmsError) as transient:
        modem.send("+447700900123", "one")
    assert transient.value.code == 500 and not transient.value.permanent
    emulator.fault(emulated.modem_id, "cms_error", code=30, count=1)
    with pytest.raises(CmsError) as permanent:
        modem.send("+447700900123", "two")
    assert permanent.value.permanent and "unknown subscriber" in str(permanent.value)
    assert modem.send("+447700900123", "three").parts == 1
    assert [e["text"] for e in sent_log(emulator)] == ["three"]


def test_no_network(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.fault(emulated.modem_id, "no_network", seconds=30)
    with pytest.raises(NoNetworkError):
        modem.require_network()
    with pytest.raises(CmsError) as error:
        modem.send("+447700900123", "nope")
    assert error.value.code == 331
    emulator.clear(emulated.modem_id)
    assert modem.require_network().registered


def test_garbage_on_the_line_does_not_break_commands(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.fault(emulated.modem_id, "garbage", count=2000)
    for _ in range(5):
        assert modem.signal().rssi >= 0
    assert modem.send("+447700900123", "after garbage").parts == 1


def test_hang_then_resync_gives_every_command_its_own_answer(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.fault(emulated.modem_id, "hang", seconds=1.5)
    with pytest.raises(AtTimeoutError):
        modem.session.command("AT+CSQ", timeout=0.5)
    # The late +CSQ / OK must not be taken as the answer to these:
    assert modem.identity.imei is not None
    assert modem.read_identity().imei == modem.identity.imei
    assert modem.registration().registered


def test_disconnect_fails_fast_and_tells_listeners(emulator: Emulator, connect_pty: Connector) -> None:
    emulated = add(emulator)
    modem = connect_pty.modem(emulated)
    closed: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
    modem.session.add_close_listener(closed.put)
    emulator.fault(emulated.modem_id, "disconnect")
    closed.get(timeout=EVENT_TIMEOUT)
    with pytest.raises(SessionClosedError):
        modem.signal()


def test_urc_inside_every_response(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator, profile="urc_inside")
    modem = connect.modem(emulated)
    # Messages arrive while we run commands whose responses the emulator interleaves with URCs.
    for index in range(3):
        emulator.deliver(A, "+447700900999", f"inbound {index}")
    for _ in range(3):
        assert modem.send("+447700900123", "outbound").parts == 1
        assert modem.signal().rssi >= 0
        modem.read_identity()
    notices = []
    while len(notices) < 3:
        notices.append(next_event(modem, "+CMTI"))
    recorded: list[Received] = []
    for notice in notices:
        modem.handle_event(notice, recorded.append)
    texts = sorted(r.message.text for r in recorded if isinstance(r.message, SmsDeliver))
    assert texts == ["inbound 0", "inbound 1", "inbound 2"]
    assert len(sent_log(emulator)) == 3


# -- firmware variety and receive paths ------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["generic", "simcom", "huawei", "quectel", "urc_inside"])
def test_every_profile_initialises_sends_and_receives(emulator: Emulator, connect_pty: Connector,
                                                      profile: str) -> None:
    # simcom answers +CME ERROR: 515 to the first commands after boot (retried), huawei says
    # COMMAND NOT SUPPORT to what it lacks and chatters ^RSSI / ^MODE, quectel has +QCCID / +QPINC.
    emulated = add(emulator, profile=profile, iccid="89440000000000000017")
    modem = connect_pty.modem(emulated)
    assert modem.identity.iccid == "89440000000000000017"
    assert modem.send("+447700900123", f"hello from {profile}").parts == 1
    emulator.deliver(A, "+447700900999", f"to {profile}")
    recorded: list[Received] = []
    modem.handle_event(next_event(modem, "+CMTI"), recorded.append)
    assert [r.message.text for r in recorded if isinstance(r.message, SmsDeliver)] == [f"to {profile}"]


def test_direct_delivery_is_acknowledged_when_phase_2plus(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated, ModemSettings(cnmi="2,2,0,1,0", extra_init=["AT+CSMS=1"]))
    emulator.deliver(A, "+447700900999", "ack me")
    recorded: list[Received] = []
    modem.handle_event(next_event(modem, "+CMT"), recorded.append)
    assert len(recorded) == 1
    modem.signal()  # a round trip after the +CNMA, so the emulator has processed it
    assert emulator.status()[0]["ack_pending"] is False


def test_status_report_stored_and_notified_cdsi(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator), ModemSettings(cnmi="2,1,0,2,0"))
    result = modem.send("+447700900123", "report via storage", status_report=True)
    reports: list[Received] = []
    modem.handle_event(next_event(modem, "+CDSI"), reports.append)
    report = reports[0].message
    assert isinstance(report, SmsStatusReport) and report.message_reference == result.references[0]
    assert report.delivered and reports[0].storage == "SR"


def test_sweep_survives_an_undecodable_entry(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    emulator.deliver(A, "+447700900001", "before")
    assert emulator.deliver_pdu(A, "07911326040000F0040B9113466100")  # truncated: TP-PID onwards missing
    emulator.deliver(A, "+447700900002", "after")
    recorded: list[Received] = []
    assert modem.sweep(recorded.append) == 3
    readable = [r.message.text for r in recorded if isinstance(r.message, SmsDeliver)]
    broken = [r for r in recorded if r.message is None]
    assert readable == ["before", "after"]
    assert len(broken) == 1 and broken[0].error and broken[0].index == 2
    # The two readable ones were deleted; the broken one is still there, at the same index.
    left = modem.list_stored()
    assert [(r.index, r.message) for r in left] == [(2, None)]


def test_resume_sends_only_remaining_parts_with_the_same_reference(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    text = "resume me " * 40  # 400 GSM-7 chars: 3 parts
    written: list[int] = []
    sent: list[tuple[int, int]] = []
    result = modem.send("+447700900123", text, concat_reference=42, parts=[1, 2],
                        on_part_written=written.append, on_part_sent=lambda i, mr: sent.append((i, mr)))
    assert (result.parts, result.sent_parts, result.concat_reference) == (3, [1, 2], 42)
    assert written == [1, 2] and [i for i, _ in sent] == [1, 2]
    log = sent_log(emulator)
    assert [(e["part"], e["ref"], e["parts"]) for e in log] == [(2, 42, 3), (3, 42, 3)]
    assert [mr for _, mr in sent] == [e["mr"] for e in log] == result.references


def test_partial_send_reports_what_went(emulator: Emulator, connect: Connector) -> None:
    emulated = add(emulator)
    modem = connect.modem(emulated)
    sent: list[int] = []

    def fail_after_first(index: int, _mr: int) -> None:
        sent.append(index)
        emulator.fault(emulated.modem_id, "cms_error", code=500, count=1)

    with pytest.raises(PartialSendError) as error:
        modem.send("+447700900123", "x" * 400, on_part_sent=fail_after_first)
    assert error.value.sent_parts == [0] and isinstance(error.value.cause, CmsError)
    assert [e["part"] for e in sent_log(emulator)] == [1]


def test_network_refuses_one_destination_only(emulator: Emulator, connect: Connector) -> None:
    modem = connect.modem(add(emulator))
    emulator.reject_number("+447700900666", 1)
    with pytest.raises(CmsError) as refused:
        modem.send("+447700900666", "to nowhere")
    assert refused.value.code == 1 and refused.value.permanent
    assert modem.send("+447700900123", "fine").parts == 1
    emulator.reject_number("+447700900666", None)
    assert modem.send("+447700900666", "now fine").parts == 1
    assert [e["to"] for e in sent_log(emulator)] == ["+447700900123", "+447700900666"]
