"""``gatewayd run`` as an operator meets it: exit codes and one-line reasons."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.transport import open_port

TIMEOUT = 60


def banner(process: subprocess.Popen[str]) -> list[str]:
    """The lines the daemon prints up to and including "gatewayd running ..."."""
    assert process.stdout is not None
    lines = []
    while not lines or "gatewayd running" not in lines[-1]:
        line = process.stdout.readline()
        assert line, f"daemon exited before running: {lines}"
        lines.append(line)
    return lines


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatewayd", "run", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False, cwd=cwd)


def test_config_error_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "gatewayd.yaml"
    config.write_text("database: q.db\nmodems:\n  - id: sim1\n    port: /dev/ttyUSB9\n    colour: red\n")
    result = run("-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "gatewayd.yaml:5: modems[0].colour" in result.stderr


def test_port_held_by_another_program_stops_the_start(tmp_path: Path) -> None:
    with Emulator() as emulator:
        link = tmp_path / "modem"
        emulator.add_modem(number="+15550000001", pty=str(link))
        config = tmp_path / "gatewayd.yaml"
        config.write_text(f"database: q.db\nstate_dir: state\nmodems:\n  - id: sim1\n    port: {link}\n")
        holder = open_port(str(link))
        try:
            result = run("-c", str(config), cwd=tmp_path)
        finally:
            holder.close()
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gatewayd: modem sim1:") and "busy" in last


def test_sigterm_exits_0(tmp_path: Path) -> None:
    with Emulator() as emulator:
        link = tmp_path / "modem"
        emulator.add_modem(number="+15550000001", pty=str(link))
        config = tmp_path / "gatewayd.yaml"
        config.write_text(f"database: q.db\nstate_dir: state\nweb:\n  listen: 127.0.0.1:0\n"
                          f"modems:\n  - id: sim1\n    port: {link}\n")
        process = subprocess.Popen([sys.executable, "-m", "gatewayd", "run", "-c", str(config)], cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            banner(process)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, stderr


def test_default_gateway_sends_what_the_cli_queues(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "gatewayd", "run"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = banner(process)
        assert "Built-in emulator" in lines[0] and "API token" in "".join(lines)
        token = next(line for line in lines if "API token" in line).split()[-1]
        url = next(line for line in lines if "gatewayd running" in line).split(" on ")[-1].split()[0]
        request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/messages", method="POST",
                                         data=json.dumps({"to": "+447911123457", "text": "hello over HTTP"}).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            assert response.status == 202
        queued = subprocess.run([sys.executable, "-m", "gatewayd", "send", "--to", "+44 7911 123456",
                                 "--text", "hello from the CLI"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=TIMEOUT, check=False)
        assert queued.returncode == 0, queued.stderr
        assert json.loads(queued.stdout)["to"] == "+447911123456"
        smsc_log = tmp_path / "emulator-smsc.jsonl"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "hello from the CLI" not in (
                smsc_log.read_text() if smsc_log.exists() else ""):
            time.sleep(0.1)
        records = [json.loads(line) for line in smsc_log.read_text().splitlines()]
        assert sorted((r["to"], r["text"]) for r in records) == [
            ("+447911123456", "hello from the CLI"), ("+447911123457", "hello over HTTP")]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0
    bad = subprocess.run([sys.executable, "-m", "gatewayd", "send", "--to", "12", "--text", "x"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "international" in bad.stderr


def test_the_identity_scan_skips_other_modems_ports_but_not_the_searchers_own() -> None:
    """A modem bound by IMEI that resets usually comes back on the same node: that node must be scanned."""
    from gatewayd.daemon import ports_held_by_others
    from gatewayd.owner import ModemOwner, ModemSpec

    def owner(modem_id: str, port: str, imei: str) -> ModemOwner:
        # Never started: only its spec and snapshot are read.
        return ModemOwner(ModemSpec(modem_id=modem_id, port=port, identity={"imei": imei}), sink=lambda _r: None)

    owners = [owner("a", "/dev/ttyUSB0", "356938035643809"), owner("b", "/dev/ttyUSB1", "356938035643817")]
    assert ports_held_by_others(owners, {"imei": "356938035643809"}) == {"/dev/ttyUSB1"}
    assert ports_held_by_others(owners, {"imei": "356938035643817"}) == {"/dev/ttyUSB0"}
    assert ports_held_by_others(owners, {"imei": "000000000000000"}) == {"/dev/ttyUSB0", "/dev/ttyUSB1"}
