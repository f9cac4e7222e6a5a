"""The whole gateway against emulated modems: throughput against physical capacity, latency, CPU, memory.

Every figure is timed from the modem's side: the emulator runs in a separate process with
``--command-times`` and records when each modem took each command line and when its SMSC accepted each
part (CLOCK_MONOTONIC, comparable across processes on Linux). Rate limits are off everywhere.

1. throughput: N = 1, 4, 16 modems, each answering every +CMGS after L s, can send N/L parts/s.
   The gateway runs in this process (``Gateway``) with health checks every ``--health-interval`` s
   (stressed: they must interleave with the sends) and status reports on (each part's report comes
   back 0.2 s after its accept and is read between sends). Once every modem is ready, N x k messages
   are queued in one transaction; ratio = parts / busy window / (N/L), busy window = first AT+CMGS to
   last accept (see gateway_stats.throughput). CPU: this process's CPU time from the enqueue until every
   message is delivered (its status report recorded), per message.
2. start to first AT+CMGS with messages already queued: in-process (``Gateway.start()`` call) and for
   the daemon (``gatewayd run -c`` process spawn, so including interpreter start and imports).
3. accept -> AT+CMGS on an idle gateway, one modem: ``Queue.enqueue`` in the gateway's process, one
   message at a time, spaced 0.25-0.45 s (random, so health checks fall anywhere); the emulator answers
   after ``--idle-send-latency`` s so that the modem is idle again when the next message comes.
4./5. the daemon (``gatewayd run -c cfg``, 8 modems on ptys from the emulator process, default health
   interval): RSS and CPU idle after start (``--idle-seconds``), then restarted with 8 x k messages
   queued: start to first AT+CMGS, CPU per message, RSS under load and after.

    .venv/bin/python bench/gateway.py [--quick] [--latency 1.0] [--json [bench/out/gateway.json]]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_emu import EmulatorProcess, Timed, proc_cpu_seconds, proc_rss_mb
from gateway_stats import is_cmgs, match_latencies, throughput

from gatewayd.gateway import Gateway, GatewayPlan, ModemPlan
from gatewayd.owner import ModemSpec
from gatewayd.queue import NewMessage, Queue

LOGGER = logging.getLogger("bench.gateway")

BENCH = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH / "out" / "gateway.json"
READY_TIMEOUT = 30.0
POLL = 0.5
"""Seconds between looks at the emulator's record while waiting for a run to finish (not in any timing)."""
FAST_POLL = 0.005
"""Seconds between looks while waiting for the first AT+CMGS after a start (the emulator's CPU, not ours)."""
SETTLE = 2.0
"""Seconds to let a run's tail (status reports) finish before measuring "after" figures."""
SPACING = (0.25, 0.45)
"""Seconds between messages in the idle latency run (uniformly random)."""
FINISHED = ("delivered", "failed", "expired", "cancelled", "suppressed", "unknown")
PENDING = ("queued", "scheduled", "sending", "sent")


def recipient(index: int) -> str:
    """Destinations outside the emulated network: nothing is delivered back to our modems."""
    return f"+44770090{index % 10000:04d}"


def messages(count: int, tag: str) -> list[NewMessage]:
    return [NewMessage(recipient=recipient(i), text=f"bench {tag} message {i}") for i in range(count)]


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH.parent, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=BENCH.parent,
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit + ("+dirty" if dirty else ""),
            "machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float, what: str) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        pause.wait(poll)


class Accepts:
    """Counts parts the SMSC accepted since ``since``, reading the emulator's record incrementally."""

    def __init__(self, emu: EmulatorProcess, since: float) -> None:
        self.emu = emu
        self.records: list[Timed] = []
        self._since = since

    def update(self) -> int:
        fresh = [r for r in self.emu.timed(self._since) if not self.records or r.t > self.records[-1].t]
        self.records.extend(fresh)
        if fresh:
            self._since = fresh[-1].t
        return sum(1 for r in self.records if r.kind == "accept")


def first_cmgs(emu: EmulatorProcess, since: float, timeout: float = READY_TIMEOUT) -> Timed:
    found: list[Timed] = []

    def seen() -> bool:
        found.extend(r for r in emu.timed(since) if is_cmgs(r))
        return bool(found)

    wait_until(seen, timeout, FAST_POLL, "the first AT+CMGS")
    return found[0]


# -- in-process gateway ------------------------------------------------------------------------------------


def build_gateway(workdir: Path, emu: EmulatorProcess, health_interval: float) -> Gateway:
    plan = GatewayPlan(
        database=workdir / "gatewayd.db", state_dir=workdir,
        modems=[ModemPlan(spec=ModemSpec(modem_id=mid, port=link))
                for mid, link in zip(emu.ids, emu.links, strict=True)],
        health_interval=timedelta(seconds=health_interval))
    return Gateway(plan)


def wait_ready(gateway: Gateway) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for owner in gateway.owners.values():
        if not owner.ready.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"modem {owner.spec.modem_id} not ready: {owner.snapshot}")


def wait_finished(queue: Queue, total: int, timeout: float) -> dict[str, int]:
    counts: dict[str, int] = {}

    def done() -> bool:
        counts.update(queue.counts_by_status())
        return sum(counts.get(s, 0) for s in FINISHED) >= total

    wait_until(done, timeout, POLL / 5, "every message to finish")
    return {k: v for k, v in counts.items() if v}


def run_throughput(root: Path, modems: int, latency: float, per_modem: int, health_interval: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tp{modems}-", dir=root))
    total = modems * per_modem
    with EmulatorProcess(workdir, modems, latency) as emu:
        gateway = build_gateway(workdir, emu, health_interval)
        gateway.start()
        try:
            wait_ready(gateway)
            since = time.monotonic()
            accepts = Accepts(emu, since)
            cpu0 = time.process_time()
            emu_cpu0 = emu.cpu_seconds()
            gateway.queue.enqueue_many(messages(total, f"tp{modems}"))
            wait_until(lambda: accepts.update() >= total, total / modems * latency * 2 + 30, POLL, "all accepts")
            counts = wait_finished(gateway.queue, total, 30)
            cpu = time.process_time() - cpu0
            emu_cpu = emu.cpu_seconds() - emu_cpu0
            accepts.update()
        finally:
            gateway.stop()
    figures = throughput(accepts.records, modems, latency)
    figures.update({"modems": modems, "send_latency_s": latency, "messages": total, "final_status": counts,
                    "gateway_cpu_ms_per_message": round(cpu / total * 1000, 3),
                    "emulator_cpu_ms_per_message": round(emu_cpu / total * 1000, 3)})
    return figures


def run_idle_latency(root: Path, samples: int, send_latency: float, health_interval: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="idle-", dir=root))
    rng = random.Random(1)
    pace = threading.Event()
    with EmulatorProcess(workdir, 1, send_latency) as emu:
        gateway = build_gateway(workdir, emu, health_interval)
        gateway.queue.enqueue(messages(1, "start")[0])
        started = time.monotonic()
        gateway.start()
        try:
            start_figures = {"start_to_first_cmgs_s": round(first_cmgs(emu, started).t - started, 4),
                             "start": "Gateway.start() call, database open, 1 modem, 1 message queued"}
            wait_finished(gateway.queue, 1, 10)
            accepted_at: list[float] = []
            enqueued_at: list[float] = []
            for new in messages(samples, "idle"):
                accepted_at.append(time.monotonic())
                gateway.queue.enqueue(new)
                enqueued_at.append(time.monotonic())
                pace.wait(rng.uniform(*SPACING))
            counts = wait_finished(gateway.queue, samples + 1, 30)
            records = emu.timed(accepted_at[0] - 1.0)
        finally:
            gateway.stop()
    figures = match_latencies(accepted_at, enqueued_at, records)
    figures.update({"samples": samples, "send_latency_s": send_latency, "health_interval_s": health_interval,
                    "final_status": counts})
    return {"start_in_process": start_figures, "idle_latency": figures}


# -- the daemon process ------------------------------------------------------------------------------------


def daemon_config(workdir: Path, emu: EmulatorProcess) -> Path:
    lines = [f"database: {workdir / 'gatewayd.db'}", f"state_dir: {workdir}", "modems:"]
    for mid, link in zip(emu.ids, emu.links, strict=True):
        lines += [f"  - id: {mid}", f"    port: {link}", "    rate_per_minute: null"]
    lines += ["dispatch:", "  rate_per_minute: null", "logging:", "  level: info"]
    path = workdir / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Daemon:
    """``gatewayd run -c cfg`` as a child process, its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.spawned = time.monotonic()
        with log.open("w") as stream:
            # MALLOC_ARENA_MAX as systemd/gatewayd.service sets it: the RSS figures are the deployed ones.
            self.proc = subprocess.Popen([sys.executable, "-m", "gatewayd", "run", "-c", str(config)],
                                         stdout=subprocess.DEVNULL, stderr=stream,
                                         env={**os.environ, "MALLOC_ARENA_MAX": "2"})

    def ready_modems(self) -> int:
        return self.log.read_text().count(": ready")

    def stop(self) -> dict[str, Any]:
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        return {"exit_code": code, "stop_s": round(time.monotonic() - began, 3)}


def db_counts(database: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall())
    finally:
        conn.close()


def run_daemon(root: Path, modems: int, latency: float, per_modem: int, idle_seconds: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="daemon-", dir=root))
    total = modems * per_modem
    pause = threading.Event()
    with EmulatorProcess(workdir, modems, latency) as emu:
        config = daemon_config(workdir, emu)
        # Phase A: idle after start, empty queue.
        daemon = Daemon(config, workdir / "daemon-a.log")
        try:
            wait_until(lambda: daemon.ready_modems() >= modems, READY_TIMEOUT, 0.05, "every modem ready")
            ready_s = time.monotonic() - daemon.spawned
            pause.wait(SETTLE)
            pid = daemon.proc.pid
            idle = {"all_ready_after_s": round(ready_s, 3), "rss_mb": round(proc_rss_mb(pid), 1)}
            since, cpu0 = time.monotonic(), proc_cpu_seconds(pid)
            pause.wait(idle_seconds)
            cpu = proc_cpu_seconds(pid) - cpu0
            commands = [r.line for r in emu.timed(since) if r.kind == "command"]
            idle.update({"seconds": idle_seconds, "cpu_percent_of_core": round(cpu / idle_seconds * 100, 3),
                         "modem_commands_meanwhile": len(commands), "rss_mb_end": round(proc_rss_mb(pid), 1),
                         "threads": len(os.listdir(f"/proc/{pid}/task"))})
        finally:
            idle_stop = daemon.stop()
        # Phase B: restart with a backlog.
        with Queue(workdir / "gatewayd.db") as queue:
            queue.enqueue_many(messages(total, "daemon"))
        daemon = Daemon(config, workdir / "daemon-b.log")
        rss: list[float] = []
        try:
            first = first_cmgs(emu, daemon.spawned)
            pid = daemon.proc.pid
            cpu_at_first = proc_cpu_seconds(pid)
            first_command = min(r.t for r in emu.timed(daemon.spawned) if r.kind == "command")
            accepts = Accepts(emu, daemon.spawned)

            def finished() -> bool:
                rss.append(proc_rss_mb(pid))
                counts = db_counts(workdir / "gatewayd.db")
                return sum(counts.get(s, 0) for s in FINISHED) >= total

            wait_until(finished, per_modem * latency * 2 + 60, POLL / 2, "the backlog")
            cpu = proc_cpu_seconds(pid) - cpu_at_first
            accepts.update()
            pause.wait(SETTLE)
            load = {
                "messages": total, "modems": modems, "send_latency_s": latency,
                "start_to_first_cmgs_s": round(first.t - daemon.spawned, 4),
                "start_to_first_modem_command_s": round(first_command - daemon.spawned, 4),
                "start": "process spawn of 'gatewayd run -c cfg', messages already queued",
                "cpu_s_until_first_cmgs": round(cpu_at_first, 3),
                "cpu_ms_per_message": round(cpu / total * 1000, 3),
                "rss_mb_under_load_max": round(max(rss), 1), "rss_mb_peak_vmhwm": round(proc_rss_mb(pid, "VmHWM"), 1),
                "rss_mb_after_load": round(proc_rss_mb(pid), 1),
                "final_status": {k: v for k, v in db_counts(workdir / "gatewayd.db").items() if v},
                "throughput": throughput(accepts.records, modems, latency),
            }
        finally:
            load_stop = daemon.stop()
    return {"idle_after_start": idle, "idle_stop": idle_stop, "load": load, "load_stop": load_stop}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: L=0.2 s, fewer messages, 5 s idle")
    parser.add_argument("--latency", type=float, help="the emulated +CMGS latency L in seconds (default 1.0)")
    parser.add_argument("--sizes", default="1,4,16", help="modem counts for the throughput runs")
    parser.add_argument("--per-modem", type=int, help="messages per modem (default 20; quick 5)")
    parser.add_argument("--health-interval", type=float, default=5.0, help="seconds, throughput and idle runs")
    parser.add_argument("--samples", type=int, help="idle latency samples (default 200; quick 30)")
    parser.add_argument("--idle-send-latency", type=float, default=0.05)
    parser.add_argument("--idle-seconds", type=float, help="daemon idle CPU window (default 30; quick 5)")
    parser.add_argument("--daemon-modems", type=int, default=8)
    parser.add_argument("--only", choices=("throughput", "idle", "daemon"), help="run one part")
    parser.add_argument("--workdir", default="/var/tmp", help="where databases go (a real disk, not tmpfs)")
    parser.add_argument("--json", nargs="?", const=str(DEFAULT_JSON),
                        help=f"also write the figures (default {DEFAULT_JSON})")
    args = parser.parse_args()
    latency = args.latency if args.latency is not None else (0.2 if args.quick else 1.0)
    per_modem = args.per_modem or (5 if args.quick else 20)
    samples = args.samples or (30 if args.quick else 200)
    idle_seconds = args.idle_seconds or (5.0 if args.quick else 30.0)
    figures: dict[str, Any] = {"benchmark": "gateway", **machine(), "quick": args.quick,
                               "health_interval_s": args.health_interval, "gateway_log_level": "info, to a file"}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gatewayd-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        # The daemon's default: info, one line per send; to a file, as journald would take it.
        logging.basicConfig(level=logging.INFO, filename=root / "gateway.log",
                            format="%(levelname)s %(name)s: %(message)s")
        if args.only in (None, "throughput"):
            figures["throughput"] = [run_throughput(root, int(n), latency, per_modem, args.health_interval)
                                     for n in args.sizes.split(",")]
        if args.only in (None, "idle"):
            figures.update(run_idle_latency(root, samples, args.idle_send_latency, args.health_interval))
        if args.only in (None, "daemon"):
            figures["daemon"] = run_daemon(root, args.daemon_modems, latency, per_modem, idle_seconds)
    figures["bench_wall_s"] = round(time.monotonic() - began, 1)
    emit(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
