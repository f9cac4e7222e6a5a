"""The emulator through its real endpoints: ptys and sockets, plain os.read/os.write."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.pdu import decode_pdu, encode_submit

from .conftest import read_until, sock_until

A, B = "+15550000001", "+15550000002"
CLI_SCRIPT = "import sys; from gatewayd.emulator.cli import main; sys.exit(main(sys.argv[1:]))"


def ends_ok(data: bytes) -> bool:
    return data.endswith(b"OK\r\n") or b"ERROR" in data


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(str(tmp_path / "sms.jsonl"), control=("127.0.0.1", 0))
    emulator.add_modem(A, pty=str(tmp_path / "modem-a"))
    emulator.add_modem(B, listen=("127.0.0.1", 0))
    with emulator:
        yield emulator


def at(fd: int, line: str) -> bytes:
    os.write(fd, line.encode() + b"\r")
    return read_until(fd, ends_ok)


def test_send_over_pty_is_received_over_tcp_and_logged(
        emu: Emulator, tmp_path: Path, raw_pty_open: Callable[[str], int]) -> None:
    a = raw_pty_open(str(tmp_path / "modem-a"))  # through the symlink
    assert os.path.realpath(tmp_path / "modem-a") == emu.modem(A).device_path
    assert at(a, "ATE0").endswith(b"OK\r\n")
    address = emu.modem(B).tcp_address
    assert address is not None
    with socket.create_connection(address) as b:
        b.sendall(b"ATE0\r")
        sock_until(b, ends_ok)
        part = encode_submit(B, "over the wire")[0]
        os.write(a, f"AT+CMGS={part.tpdu_length}\r".encode())
        assert read_until(a, lambda d: d.endswith(b"> ")) == b"\r\n> "
        os.write(a, part.hex.encode() + b"\x1a")
        assert read_until(a, ends_ok) == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
        assert sock_until(b, lambda d: d.endswith(b"\r\n")) == b'\r\n+CMTI: "SM",1\r\n'
        b.sendall(b"AT+CMGR=1\r")
        pdu_line = sock_until(b, ends_ok).split(b"\r\n")[2].decode()
        assert decode_pdu(pdu_line).text == "over the wire"  # type: ignore[union-attr]
    records = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert records == emu.sent()
    assert [(r["from"], r["to"], r["text"], r["parts"], r["part"], r["ref"], r["mr"], r["modem"])
            for r in records] == [(A, B, "over the wire", 1, 1, None, 0, "modem1")]


def test_tcp_refuses_a_second_client(emu: Emulator) -> None:
    address = emu.modem(B).tcp_address
    assert address is not None
    with socket.create_connection(address) as first:
        first.sendall(b"AT\r")
        sock_until(first, ends_ok)
        with socket.create_connection(address) as second:
            second.settimeout(5)
            refusal = b""
            while chunk := second.recv(100):
                refusal += chunk
            assert refusal.startswith(b"ERROR: port busy")
        first.sendall(b"AT\r")
        assert sock_until(first, ends_ok).endswith(b"OK\r\n")
    with socket.create_connection(address) as again:  # the port is free once the first client left
        again.sendall(b"AT\r")
        assert sock_until(again, ends_ok).endswith(b"OK\r\n")


def test_client_closing_the_pty_does_not_break_the_modem(emu: Emulator,
                                                          raw_pty_open: Callable[[str], int]) -> None:
    path = emu.modem(A).device_path
    assert path is not None
    fd = raw_pty_open(path)
    at(fd, "ATE0")
    os.close(fd)
    fd = raw_pty_open(path)
    assert at(fd, "AT").endswith(b"\r\nOK\r\n")


def control(emu: Emulator, *requests: object) -> list[dict[str, object]]:
    address = emu.control_address
    assert address is not None
    with socket.create_connection(address) as sock:
        payload = b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in requests)
        sock.sendall(payload)
        data = sock_until(sock, lambda d: d.count(b"\n") == len(requests))
    return [json.loads(line) for line in data.splitlines()]


def test_control_port_ops(emu: Emulator, raw_pty_open: Callable[[str], int]) -> None:
    path = emu.modem(A).device_path
    assert path is not None
    a = raw_pty_open(path)
    at(a, "ATE0;+CMEE=1")
    replies = control(
        emu,
        {"op": "deliver", "to": A, "from": "+4911111", "text": "x" * 200},
        {"op": "fault", "kind": "cms_error", "code": 38, "count": 1, "modem": A},
        {"op": "status"},
        b"this is not json",
        {"op": "nope"},
        {"op": "fault", "kind": "melt"},
        {"op": "deliver", "to": "+1999", "from": "+1", "text": "x"},
    )
    assert replies[0] == {"ok": True, "parts": 2}
    assert replies[1] == {"ok": True}
    modems = replies[2]["modems"]
    assert isinstance(modems, list) and [m["number"] for m in modems] == [A, B]
    assert all(reply["ok"] is False and reply["error"] for reply in replies[3:])
    assert read_until(a, lambda d: d.count(b"+CMTI") == 2) == b'\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n'
    part = encode_submit(B, "refused")[0]
    os.write(a, f"AT+CMGS={part.tpdu_length}\r".encode())
    read_until(a, lambda d: d.endswith(b"> "))
    os.write(a, part.hex.encode() + b"\x1a")
    assert read_until(a, ends_ok) == b"\r\n+CMS ERROR: 38\r\n"
    assert control(emu, {"op": "sent"}) == [{"ok": True, "messages": []}]
    assert control(emu, {"op": "fault", "kind": "no_network"}, {"op": "clear"}) == [{"ok": True}] * 2


def test_disconnect_fault_and_reconnect(emu: Emulator, tmp_path: Path,
                                        raw_pty_open: Callable[[str], int]) -> None:
    handle = emu.modem(A)
    old = handle.device_path
    assert old is not None
    fd = raw_pty_open(old)
    at(fd, "ATE0")
    emu.fault(A, "disconnect")
    ready, _, _ = select.select([fd], [], [], 5)
    assert ready
    try:
        data = os.read(fd, 100)
    except OSError as exc:
        assert exc.errno == errno.EIO
    else:
        assert data == b""  # some kernels report EOF instead of EIO; both mean "gone"
    assert handle.device_path is None
    reply = control(emu, {"op": "reconnect", "modem": A})[0]
    new = reply["device"]
    assert isinstance(new, str) and os.path.realpath(tmp_path / "modem-a") == new
    fd2 = raw_pty_open(new)
    os.write(fd2, b"ATE0\r")
    read_until(fd2, ends_ok)
    assert at(fd2, "AT+CGSN").startswith(b"\r\n" + handle.imei.encode())


def test_cli_runs_modems_until_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT,
         "--modems", "2", "--pty", str(link), "--number", "+15550000010", "--control", "127.0.0.1:0",
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        described = [json.loads(proc.stdout.readline()) for _ in range(3)]
        assert [d["number"] for d in described[:2]] == ["+15550000010", "+15550000011"]
        assert [d["link"] for d in described[:2]] == [f"{link}0", f"{link}1"]
        assert all(d["url"].startswith("socket://127.0.0.1:") for d in described[:2])
        assert "control" in described[2]
        fd = os.open(f"{link}1", os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"AT+CNUM\r")
            assert b'+CNUM: "","+15550000011",145' in read_until(fd, ends_ok)
        finally:
            os.close(fd)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not os.path.lexists(f"{link}0")


@pytest.mark.parametrize("argv", [["--listen", "nowhere"], ["--modems", "0"], ["--profile", "nokia"],
                                  ["--send-latency", "-1"], ["--number", "abc"]])
def test_cli_bad_arguments_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from gatewayd.emulator.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gatewayd emulator: error: ")


def test_stop_without_start_releases_the_pty(tmp_path: Path) -> None:
    emulator = Emulator()
    handle = emulator.add_modem(A, pty=str(tmp_path / "link"))
    assert os.path.islink(tmp_path / "link") and handle.device_path
    emulator.stop()
    emulator.stop()  # idempotent
    assert not os.path.lexists(tmp_path / "link") and handle.device_path is None

