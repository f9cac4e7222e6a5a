"""Inbound: a STOP received by a modem to the opt-out recorded in the database, p50 / p99 / max.

``gatewayd run`` with 2 modems of an emulator process (``--latency`` s per +CMGS). Half of the senders
are opted in first through the API (PUT /api/v1/contacts/<n>, admin token); then ``--count`` STOPs,
each from its own number, are handed to the modems in turn through the emulator's control port
(``deliver``) at ``--rate`` per second. Timestamps:

- delivered: wall clock (UTC) and CLOCK_MONOTONIC just before the ``deliver`` request is written to the
  control port (the emulated modem stores the message and writes ``+CMTI`` when it takes the request,
  so the figures include one loopback round trip, well under a millisecond);
- read: when the modem took up the daemon's ``AT+CMGR`` for it (the emulator's ``--command-times``
  record, CLOCK_MONOTONIC like the harness's; the k-th delivery to a modem is matched with the k-th
  AT+CMGR on that modem, and the split is left out if the counts differ);
- opted out: ``consent_events.at`` of the ``keyword`` opt-out (``inbox.received_at`` is the same
  stamp: the inbox row, the opt-out and the confirmation reply are one transaction).

Three phases: ``quiet`` (opt-out confirmations switched off: the modems do nothing but read the STOPs),
``replies`` (the shipped confirmation reply on: each STOP makes its modem send one message, busy for
``--latency`` s) and ``busy`` (confirmations plus ``--busy-rate`` outbound messages per second through
the API). A +CMTI that arrives while its modem is sending waits until the +CMGS answer: the read is a
job on the modem owner's queue, behind the send in progress, and a send job is a whole message (all
its parts). The daemon and the harness share the clock
(same machine), so the differences are real durations.

    .venv/bin/python bench/inbound_stop.py [--count 200] [--rate 2] [--json bench/out/inbound_stop.json]
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emu_control import ControlledEmulator, api, api_url, wait_ready, write_config

from gatewayd.queue.timefmt import from_stamp
from tests.faults.processes import DaemonProcess, ProcessError

RECORD_TIMEOUT = 60.0
"""Seconds after the last STOP for every opt-out to be recorded."""
POLL = 0.2
SENDER_BASE = {"quiet": 447911100000, "replies": 447911150000, "busy": 447911200000,
               "busy_multipart": 447911250000}
MULTIPART_PARTS = 4
"""Parts of each outbound message in the busy_multipart phase (a send job holds the modem for all of them)."""
BUSY_BASE = 447911050000


def opted_out(database: Path, numbers: list[str]) -> dict[str, tuple[str, str]]:
    """number -> (consent_events.at, inbox.received_at) of its keyword opt-out."""
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT c.number, c.at, i.received_at FROM consent_events AS c JOIN inbox AS i ON i.id = c.inbox_id"
            " WHERE c.to_state = 'opted_out' AND c.via = 'keyword'").fetchall()
    finally:
        conn.close()
    wanted = set(numbers)
    return {number: (at, received) for number, at, received in rows if number in wanted}


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "n": len(ordered)}


def phase(name: str, *, emulator: ControlledEmulator, daemon: DaemonProcess, base: str, database: Path,
          args: argparse.Namespace) -> dict[str, Any]:
    senders = [f"+{SENDER_BASE[name] + i}" for i in range(args.count)]
    for number in senders[::2]:
        status, body = api(base, "PUT", f"/api/v1/contacts/{number}", {"marketing": "opted_in", "source": "bench"})
        if status != 200:
            raise ProcessError(f"opt-in of {number}: {status} {body}")
    parts = MULTIPART_PARTS if name == "busy_multipart" else 1
    busy_rate = args.busy_rate / parts if name.startswith("busy") else 0.0
    filler = ("Your order has shipped and will arrive tomorrow. " * 20)[:153 * (parts - 1) + 40] if parts > 1 else ""
    delivered: dict[str, datetime] = {}
    delivered_mono: dict[str, float] = {}
    by_modem: dict[str, list[str]] = {n: [] for n in emulator.numbers}
    posted = 0
    start = time.monotonic()
    for i, number in enumerate(senders):
        due = start + i / args.rate
        while busy_rate and posted < (due - start) * busy_rate:  # the outbound traffic keeps pace
            status, body = api(base, "POST", "/api/v1/messages", {"to": f"+{BUSY_BASE + posted}",
                                                                  "text": f"{filler}Your code is {posted:06d}"})
            if status != 202:
                raise ProcessError(f"POST: {status} {body}")
            posted += 1
        if daemon.wait(max(0.0, due - time.monotonic())) is not None:
            raise ProcessError(f"daemon exited:\n{daemon.stderr_tail()}")
        modem = emulator.numbers[i % len(emulator.numbers)]
        delivered[number] = datetime.now(UTC)
        delivered_mono[number] = time.monotonic()
        emulator.control(op="deliver", to=modem, text="STOP", **{"from": number})
        by_modem[modem].append(number)
    deadline = time.monotonic() + RECORD_TIMEOUT
    while len(found := opted_out(database, senders)) < len(senders) and time.monotonic() < deadline:
        if daemon.wait(POLL) is not None:
            raise ProcessError(f"daemon exited:\n{daemon.stderr_tail()}")
    total = {number: (from_stamp(at) - delivered[number]).total_seconds() for number, (at, _) in found.items()}
    if any(at != received for at, received in found.values()):
        raise ProcessError("inbox.received_at differs from the opt-out's time: not one transaction any more?")
    to_read: list[float] = []
    read_to_recorded: list[float] = []
    unmatched = []
    for modem, numbers in by_modem.items():
        reads = [r["t"] for r in emulator.control(op="command_times", modem=modem, since=start)["records"]
                 if r["kind"] == "command" and r["line"].upper().startswith("AT+CMGR=")]
        if len(reads) != len(numbers):
            unmatched.append(f"{modem}: {len(numbers)} delivered, {len(reads)} AT+CMGR")
            continue
        for number, t_read in zip(numbers, reads, strict=True):
            to_read.append(t_read - delivered_mono[number])
            if number in total:
                read_to_recorded.append(total[number] - to_read[-1])
    return {"stops": len(senders), "opted_in_before": len(senders[::2]), "opt_outs_recorded": len(found),
            "missing": sorted(set(senders) - set(found))[:10], "outbound_posted": posted,
            "delivered_to_opted_out": stats(list(total.values())),
            "delivered_to_at_cmgr": stats(to_read) if to_read else None,
            "at_cmgr_to_opted_out": stats(read_to_recorded) if read_to_recorded else None,
            "split_unmatched": unmatched}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    emulator = ControlledEmulator(workdir, modems=2, send_latency=args.latency, command_times=True).start()
    phases: dict[str, Any] = {}
    exit_codes = []
    try:
        for replies, names in ((False, ("quiet",)), (True, ("replies", "busy", "busy_multipart"))):
            config = write_config(workdir, emulator.links, health_interval=args.health_interval,
                                  opt_out_reply=replies)
            daemon = DaemonProcess(workdir, config, f"inbound-stop, replies {replies}").start()
            try:
                daemon.wait_running()
                wait_ready(daemon, 2)
                base = api_url(workdir)
                for name in names:
                    phases[name] = phase(name, emulator=emulator, daemon=daemon, base=base,
                                         database=workdir / "gatewayd.db", args=args)
                exit_codes.append(daemon.terminate(30.0))
            finally:
                daemon.ensure_stopped()
    finally:
        emulator.stop()
    exit_code = max((c if c is not None else 255) for c in exit_codes)
    return {"machine": f"{platform.machine()}, {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "plan": {"count": args.count, "rate_per_s": args.rate, "send_latency": args.latency,
                     "busy_rate_per_s": args.busy_rate, "health_interval": args.health_interval, "modems": 2},
            "phases": phases, "sigterm_exit_code": exit_code}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="STOPs per phase")
    parser.add_argument("--rate", type=float, default=2.0, help="STOPs per second")
    parser.add_argument("--latency", type=float, default=0.5, help="emulated +CMGS answer time, seconds")
    parser.add_argument("--busy-rate", type=float, default=2.0, help="outbound messages/s in the busy phase")
    parser.add_argument("--health-interval", default="1m")
    parser.add_argument("--json", help="write the result here too (e.g. bench/out/inbound_stop.json)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inbound-stop-") as tmp:
        result = run(args, Path(tmp))
    emit(result, args.json)
    return 0 if result["sigterm_exit_code"] == 0 and all(
        p["opt_outs_recorded"] == p["stops"] for p in result["phases"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
