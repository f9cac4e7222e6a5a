"""The optional record of when each command line arrived and each submit was accepted (for benchmarks)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd.emulator.command_times import CommandTimes
from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.pdu import encode_submit

from .conftest import Bench, read_until, sock_until

A, B = "+15550000001", "+15550000002"


def test_commands_and_accepts_are_timed_on_the_modem_clock(bench: Bench) -> None:
    a = bench.modem(A, latency=2.0)
    bench.modem(B)
    times = CommandTimes()
    a.command_times = times
    start = bench.clock()
    bench.cmd(a, "AT+CSQ", run=0.5)
    part = encode_submit(B, "timed")[0]
    cmgs_at = bench.clock()
    assert bench.cmd(a, f"AT+CMGS={part.tpdu_length}", run=0.25) == "\r\n> "
    pdu_at = bench.clock()
    bench.cmd(a, part.hex.encode() + b"\x1a", run=3.0)
    records = times.since()
    assert [(r.modem, r.kind, r.line) for r in records] == [
        ("m1", "command", "AT+CSQ"), ("m1", "command", f"AT+CMGS={part.tpdu_length}"), ("m1", "accept", "mr=0")]
    assert records[0].t == pytest.approx(start)
    assert records[1].t == pytest.approx(cmgs_at) and cmgs_at >= start + 0.5
    assert records[2].t == pytest.approx(pdu_at + 2.0, abs=0.02)  # the send latency, on the timer heap
    assert times.since(records[1].t) == records[1:]


def test_modems_without_a_record_are_not_timed(bench: Bench) -> None:
    a = bench.modem(A)
    times = CommandTimes()
    b = bench.modem(B)
    b.command_times = times
    bench.cmd(a, "AT")
    bench.cmd(b, "AT+CREG?")
    assert [(r.modem, r.line) for r in times.since()] == [("m2", "AT+CREG?")]


def test_record_is_bounded_and_filters_by_modem() -> None:
    times = CommandTimes(limit=3)
    for i in range(5):
        times.record(float(i), "m1" if i % 2 else "m2", "command", f"AT{i}")
    assert len(times) == 3
    assert [r.line for r in times.since()] == ["AT2", "AT3", "AT4"]
    assert [r.line for r in times.since(modem="m1")] == ["AT3"]
    assert [r.line for r in times.since(3.5)] == ["AT4"]
    assert times.since()[0].as_dict() == {"t": 2.0, "modem": "m2", "kind": "command", "line": "AT2"}
    with pytest.raises(ValueError):
        CommandTimes(limit=0)


def _control(address: tuple[str, int], request: dict[str, object]) -> dict[str, object]:
    with socket.create_connection(address) as sock:
        sock.sendall(json.dumps(request).encode() + b"\n")
        reply: dict[str, object] = json.loads(sock_until(sock, lambda d: d.endswith(b"\n")))
    return reply


def test_control_op_over_a_real_pty(tmp_path: Path, raw_pty_open: Callable[[str], int]) -> None:
    with Emulator(control=("127.0.0.1", 0), command_times=True) as emu:
        emu.add_modem(A, pty=str(tmp_path / "a"))
        emu.add_modem(B)
        address = emu.control_address
        assert address is not None
        fd = raw_pty_open(str(tmp_path / "a"))
        os.write(fd, b"ATE0\r")
        read_until(fd, lambda d: d.endswith(b"OK\r\n"))
        before = _control(address, {"op": "command_times"})
        assert before["ok"] is True
        records = before["records"]
        assert isinstance(records, list)
        assert [(r["modem"], r["kind"], r["line"]) for r in records] == [("modem1", "command", "ATE0")]
        now = before["now"]
        assert isinstance(now, float)
        os.write(fd, b"AT+CSQ\r")
        read_until(fd, lambda d: d.endswith(b"OK\r\n"))
        after = _control(address, {"op": "command_times", "since": now, "modem": A})
        records = after["records"]
        assert isinstance(records, list) and [r["line"] for r in records] == ["AT+CSQ"]
        assert now <= records[0]["t"] <= after["now"]
        assert emu.command_times(target=B) == []


def test_control_op_refused_when_not_recording() -> None:
    with Emulator(control=("127.0.0.1", 0)) as emu:
        emu.add_modem(A)
        address = emu.control_address
        assert address is not None
        reply = _control(address, {"op": "command_times"})
    assert reply["ok"] is False and "not recorded" in str(reply["error"])
