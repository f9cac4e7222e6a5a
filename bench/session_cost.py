"""The AT session's own cost per send, against the emulator at zero send latency.

The emulator runs in a separate process (``gatewayd emulator``) so that this process's CPU time is
gatewayd's alone: PDU encoding, the session's framing and routing, the device layer. Reported:
sends per second over a real pseudo-terminal, CPU milliseconds per send (ours), and the emulator's
CPU per send for context.

    .venv/bin/python bench/session_cost.py [--sends 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatewayd.modem.device import Modem, ModemSettings
from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import open_port

READY_TIMEOUT = 20.0


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"emulator did not come up (exit {proc.returncode})")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "modem"
        proc = subprocess.Popen([sys.executable, "-m", "gatewayd", "emulator", "--pty", str(link),
                                 "--number", "+15550000001", "--send-latency", "0"],
                                stdout=subprocess.DEVNULL)
        try:
            _wait_for(link, proc)
            session = AtSession(open_port(str(link)), modem_id="bench")
            session.start()
            modem = Modem(session, modem_id="bench", settings=ModemSettings(status_reports=False))
            modem.initialise()
            for _ in range(50):  # warm-up
                modem.send("+447700900123", "warm-up")
            emu_cpu0 = _proc_cpu_seconds(proc.pid)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for index in range(args.sends):
                modem.send("+447700900123", f"bench message {index}")
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            emu_cpu = _proc_cpu_seconds(proc.pid) - emu_cpu0
            stats = session.stats
            session.close()
        finally:
            proc.terminate()
            proc.wait(10)
    figures = {
        "benchmark": "session_cost",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "sends": args.sends,
        "sends_per_second": round(args.sends / wall, 1),
        "gatewayd_cpu_ms_per_send": round(1000 * cpu / args.sends, 3),
        "emulator_cpu_ms_per_send": round(1000 * emu_cpu / args.sends, 3),
        "wall_ms_per_send": round(1000 * wall / args.sends, 3),
        "session_stats": {k: v for k, v in vars(stats).items() if isinstance(v, int | float)},
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
