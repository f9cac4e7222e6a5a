"""The diagnostic CLI as an operator runs it: a separate process against the emulator's pty / TCP port."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.transport import open_port
from tests.integration.conftest import sent_log

CLI_TIMEOUT = 60


def gatewayd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatewayd", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def emulated(emulator: Emulator) -> Any:
    return emulator.add_modem(number="+15550000001", imei="356938035643809", listen=("127.0.0.1", 0))


@pytest.mark.parametrize("kind", ["pty", "tcp"])
def test_probe(emulated: Any, kind: str) -> None:
    port = emulated.device_path if kind == "pty" else emulated.url
    result = gatewayd("modem", "probe", port)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    expected_keys = {"manufacturer", "model", "revision", "imei", "imsi", "operator", "registration",
                     "signal_csq", "sim", "smsc"}
    assert expected_keys <= probe.keys()
    assert probe["imei"] == "356938035643809" and probe["sim"] == "READY"
    assert isinstance(probe["signal_csq"], int)


def test_send_and_inbox(emulator: Emulator, emulated: Any, tmp_path: Path) -> None:
    result = gatewayd("modem", "send", emulated.device_path, "--to", "+447700900123", "--text", "ж" * 100,
                      "--state-file", str(tmp_path / "ref"))
    assert result.returncode == 0, result.stderr
    sent = json.loads(result.stdout)
    assert sent["parts"] == 2 and sent["encoding"] == "ucs2" and len(sent["references"]) == 2
    assert [e["mr"] for e in sent_log(emulator)] == sent["references"]

    emulator.deliver("+15550000001", "+447700900999", "first")
    emulator.deliver("+15550000001", "+447700900998", "second, long enough to need two parts " * 5)
    listed = gatewayd("modem", "inbox", emulated.device_path)
    assert listed.returncode == 0, listed.stderr
    messages = json_lines(listed.stdout)
    assert sorted((m["from"], m["parts"]) for m in messages) == [("+447700900998", 2), ("+447700900999", 1)]
    # Without --delete nothing is removed; with it, everything printed is.
    assert len(json_lines(gatewayd("modem", "inbox", emulated.device_path, "--delete").stdout)) == 2
    assert json_lines(gatewayd("modem", "inbox", emulated.device_path).stdout) == []


def test_pdu_decode() -> None:
    result = gatewayd("pdu", "decode", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert decoded["type"] == "SmsDeliver"
    assert decoded["sender"] == "+31641600986" and decoded["text"] == "How are you?"


def test_errors_are_one_line_and_non_zero(emulated: Any, tmp_path: Path) -> None:
    bad_pdu = gatewayd("pdu", "decode", "07911326")
    assert bad_pdu.returncode == 1 and bad_pdu.stderr.count("\n") == 1
    assert bad_pdu.stderr.startswith("gatewayd: ")

    missing = gatewayd("modem", "probe", str(tmp_path / "no-such-tty"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr
    assert "no-such-tty" in missing.stderr

    holder = open_port(emulated.device_path)  # another program holds the port
    try:
        busy = gatewayd("modem", "probe", emulated.device_path)
    finally:
        holder.close()
    assert busy.returncode == 1 and busy.stderr.count("\n") == 1, busy.stderr
    assert "busy" in busy.stderr.lower()

    usage = gatewayd("modem", "send", emulated.device_path)
    assert usage.returncode == 2


def test_pin_needed_is_named(emulator: Emulator) -> None:
    locked = emulator.add_modem(number="+15550000009", pin="1234")
    result = gatewayd("modem", "probe", locked.device_path)
    assert result.returncode == 1 and "PIN" in result.stderr and result.stderr.count("\n") == 1


def test_cms_error_is_named(emulator: Emulator, emulated: Any) -> None:
    emulator.fault(emulated.modem_id, "cms_error", code=30, count=1)
    result = gatewayd("modem", "send", emulated.device_path, "--to", "+447700900123", "--text", "x")
    assert result.returncode == 1
    assert "+CMS ERROR 30 (unknown subscriber)" in result.stderr and result.stderr.count("\n") == 1
