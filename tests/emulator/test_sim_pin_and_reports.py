"""The emulator's controls for the fault matrix: a SIM PIN per modem, status reports nobody asked for, and
a modem unplugged for good (its device node gone) until it is plugged back."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gatewayd.emulator.cli import _plan, build_parser, main
from gatewayd.emulator.emulator import Emulator
from gatewayd.emulator.sim import PIN_ATTEMPTS, PUK_ATTEMPTS, PinRejected
from gatewayd.modem.device import ModemSettings
from gatewayd.modem.pdu import SmsStatusReport, decode_pdu, encode_deliver
from gatewayd.owner import ModemOwner, ModemSpec, ModemState, SimStatus

from .conftest import Bench, lines, sock_until

A, B = "+15550000001", "+15550000002"
SIM_PIN = "2468"
FIRST_ATTEMPT = 15.0
"""Seconds an owner may take to open and initialise (or give up on) an emulated modem."""
RECIPIENT = "+447911123456"
WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


# -- a SIM PIN per modem ------------------------------------------------------------------------------


def test_a_new_sim_with_a_pin_locks_the_modem_at_once(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CMEE=1")
    modem.set_sim_pin("2468")
    assert lines(bench.cmd(modem, "AT+CPIN?")) == ["+CPIN: SIM PIN", "OK"]
    assert lines(bench.cmd(modem, "AT+CIMI")) == ["+CME ERROR: 11"]
    assert not modem.registered
    assert lines(bench.cmd(modem, 'AT+CPIN="1111"')) == ["+CME ERROR: 16"]
    assert modem.status()["pin_attempts"] == PIN_ATTEMPTS - 1
    assert lines(bench.cmd(modem, 'AT+CPIN="2468"')) == ["OK"]
    assert (modem.status()["sim"], modem.status()["pin_attempts"], modem.registered) == ("READY", PIN_ATTEMPTS, True)
    modem.set_sim_pin(None)
    assert lines(bench.cmd(modem, "AT+CPIN?")) == ["+CPIN: READY", "OK"]


def test_changing_the_pin_restores_full_counters(bench: Bench) -> None:
    modem = bench.modem(pin="1234")
    bench.cmd(modem, 'AT+CPIN="0000"')
    assert modem.sim.pin_attempts == PIN_ATTEMPTS - 1
    modem.set_sim_pin("5678")
    assert modem.sim.describe() == {"sim": "SIM PIN", "pin_attempts": PIN_ATTEMPTS, "puk_attempts": PUK_ATTEMPTS}


def test_the_cli_gives_single_modems_their_own_pin() -> None:
    plans = _plan(build_parser().parse_args(["--modems", "3", "--pin", "1111", "--sim-pin", "2:2222",
                                             "--sim-pin", "3:3333"]))
    assert [plan.pin for plan in plans] == ["1111", "2222", "3333"]
    assert [plan.pin for plan in _plan(build_parser().parse_args(["--modems", "2", "--sim-pin", "1:0042"]))] \
        == ["0042", None]


@pytest.mark.parametrize("argv", [["--sim-pin", "1"], ["--sim-pin", "0:1234"], ["--sim-pin", "1:12"],
                                  ["--sim-pin", "x:1234"], ["--modems", "2", "--sim-pin", "3:1234"]])
def test_cli_bad_sim_pin_exits_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gatewayd emulator: error: ")


@pytest.mark.parametrize(("configured", "locked", "state", "sim"), [
    (SIM_PIN, False, ModemState.READY, SimStatus.READY),
    (None, False, ModemState.FAILED, SimStatus.PIN_REQUIRED),
    ("1357", False, ModemState.FAILED, SimStatus.PIN_WRONG),
    (SIM_PIN, True, ModemState.FAILED, SimStatus.PUK_REQUIRED),
])
def test_what_the_owner_makes_of_each_sim(tmp_path: Path, configured: str | None, locked: bool, state: ModemState,
                                          sim: SimStatus) -> None:
    """The SIM state the operator's card and /metrics show, from a real owner against the emulated SIM."""
    link = tmp_path / "modem"
    emulator = Emulator()
    handle = emulator.add_modem(A, pty=str(link), pin=SIM_PIN)
    for _ in range(PIN_ATTEMPTS if locked else 0):  # before start: no loop thread to marshal to yet
        with pytest.raises(PinRejected):
            handle.modem.sim.enter_pin("0000")
    with emulator:
        owner = ModemOwner(ModemSpec(modem_id="m1", port=str(link), settings=ModemSettings(pin=configured)),
                           sink=lambda _received: None)
        owner.start()
        try:
            assert owner.first_attempt.wait(FIRST_ATTEMPT)
            assert (owner.snapshot.state, owner.snapshot.sim) == (state, sim), owner.snapshot.last_error
            attempts_left = emulator.status()[0]["pin_attempts"]
        finally:
            owner.stop()
    expected = {SimStatus.PIN_WRONG: PIN_ATTEMPTS - 1, SimStatus.PUK_REQUIRED: 0}.get(sim, PIN_ATTEMPTS)
    assert attempts_left == expected


# -- status reports nobody asked for ------------------------------------------------------------------


def test_a_report_for_an_unknown_reference_arrives_as_cds(bench: Bench) -> None:
    modem = bench.modem()
    bench.cmd(modem, "AT+CNMI=2,1,0,1,0")
    pdu = bench.network.report_external(modem, mr=201, recipient=RECIPIENT, status=0x46)
    bench.run(0.1)
    out = lines(bench.take(modem))
    assert out == [f"+CDS: {len(pdu) // 2 - 1 - int(pdu[:2], 16)}", pdu]
    report = decode_pdu(out[1])
    assert isinstance(report, SmsStatusReport)
    assert (report.message_reference, report.recipient, report.status) == (201, RECIPIENT, 0x46)
    assert bench.network.log.records == [], "an injected report is no submit"


def test_a_raw_report_is_passed_on_as_given_and_waits_for_a_locked_sim(bench: Bench) -> None:
    source = bench.modem(B)
    raw = bench.network.report_external(source, mr=9, recipient=RECIPIENT)  # a well-formed PDU to reuse
    bench.run(0.1)
    modem = bench.modem(pin="1234")
    bench.cmd(modem, 'AT+CPIN="1234"')
    bench.cmd(modem, "AT+CNMI=2,1,0,1,0")
    modem.set_sim_pin("4321")  # not registered: the SMSC keeps the report
    assert bench.network.report_external(modem, raw) == raw
    bench.run(0.1)
    assert "+CDS" not in bench.take(modem) and bench.network.pending_count() == 1
    out = bench.cmd(modem, 'AT+CPIN="4321"', run=0.0)
    bench.run(1.0)  # the SMSC's next retry
    out += bench.take(modem)
    assert lines(out)[-1] == raw and bench.network.pending_count() == 0


@pytest.mark.parametrize("kwargs", [{"mr": 1}, {"recipient": RECIPIENT}, {"pdu": "0011"},
                                    {"pdu": encode_deliver("+4411", "not a report", timestamp=WHEN)[0]}])
def test_a_report_that_is_not_one_is_refused(bench: Bench, kwargs: dict[str, object]) -> None:
    modem = bench.modem()
    pdu = kwargs.pop("pdu", None)
    with pytest.raises(ValueError):
        bench.network.report_external(modem, pdu, **kwargs)  # type: ignore[arg-type]
    assert bench.network.pending_count() == 0


# -- over the control port ---------------------------------------------------------------------------


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(control=("127.0.0.1", 0))
    emulator.add_modem(A, pty=str(tmp_path / "modem-a"))
    emulator.add_modem(B)
    with emulator:
        yield emulator


def control(emu: Emulator, *requests: object) -> list[dict[str, object]]:
    address = emu.control_address
    assert address is not None
    with socket.create_connection(address) as sock:
        sock.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
        data = sock_until(sock, lambda d: d.count(b"\n") == len(requests))
    return [json.loads(line) for line in data.splitlines()]


def test_control_ops_sim_and_status_report(emu: Emulator) -> None:
    replies = control(
        emu,
        {"op": "sim", "modem": "modem2", "pin": "2468"},
        {"op": "status"},
        {"op": "status_report", "modem": "modem1", "mr": 250, "recipient": RECIPIENT},
        {"op": "sim", "modem": "modem2"},
        {"op": "sim", "modem": "modem2", "pin": "12"},
        {"op": "status_report", "modem": "modem1", "pdu": "zz"},
        {"op": "sim", "modem": "modem2", "pin": None},
    )
    assert replies[0] == {"ok": True, "sim": "SIM PIN", "pin_attempts": PIN_ATTEMPTS, "puk_attempts": PUK_ATTEMPTS}
    modems = replies[1]["modems"]
    assert isinstance(modems, list)
    assert [(m["sim"], m["pin_attempts"], m["registered"]) for m in modems] == [
        ("READY", PIN_ATTEMPTS, True), ("SIM PIN", PIN_ATTEMPTS, False)]
    pdu = replies[2]["pdu"]
    assert replies[2]["ok"] is True and isinstance(pdu, str)
    report = decode_pdu(pdu)
    assert isinstance(report, SmsStatusReport) and report.message_reference == 250
    assert all(reply["ok"] is False and reply["error"] for reply in replies[3:6]), replies[3:6]
    assert replies[6]["sim"] == "READY"


def test_unplug_removes_the_device_node_until_reconnect(emu: Emulator, tmp_path: Path) -> None:
    link = tmp_path / "modem-a"
    assert control(emu, {"op": "fault", "modem": "modem1", "kind": "unplug"}) == [{"ok": True}]
    assert not os.path.lexists(link) and emu.modem(A).device_path is None
    with pytest.raises(FileNotFoundError):
        os.open(link, os.O_RDWR | os.O_NOCTTY)
    (reply,) = control(emu, {"op": "reconnect", "modem": "modem1"})
    assert reply["ok"] is True and os.path.realpath(link) == reply["device"]
    assert emu.modem(A).device_path == reply["device"] and os.path.exists(link)
