"""Hundreds of SIGKILLs of ``gatewayd run`` while hundreds of messages flow; then check nothing was
lost or doubled against the emulated SMSC's log (the harness is tests/faults/cycles.py).

The emulator (the modems) runs as its own process for the whole run, as real modems outlive a host
crash. Kills come at seeded random moments: some during start-up, most mid-traffic, some while the
harness holds the database's write lock so the daemon dies inside a durable write. Prints a JSON
summary (and writes it with --json); exits 1 if any invariant failed or the queue never settled.

    .venv/bin/python bench/crash_cycles.py [--kills 200] [--messages 1000] [--seed 1] \\
        [--json bench/out/crash_cycles.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.cycles import CrashPlan, Cycle, run_crash_cycles

PROGRESS_EVERY = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--send-latency", type=float, default=0.15,
                        help="emulated submit time (s); long enough that traffic lasts through every kill")
    parser.add_argument("--max-wait", type=float, default=1.0, help="longest run before a kill (s)")
    parser.add_argument("--locked-share", type=float, default=0.25, help="share of kills under a held DB lock")
    parser.add_argument("--settle-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, database)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the harness's finally blocks stop the emulator and the daemon.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    plan = CrashPlan(seed=args.seed, messages=args.messages, kills=args.kills, send_latency=args.send_latency,
                     max_wait=args.max_wait, locked_kill_share=args.locked_share,
                     settle_timeout=args.settle_timeout)

    def progress(cycle: Cycle) -> None:
        if (cycle.index + 1) % PROGRESS_EVERY == 0:
            print(f"kill {cycle.index + 1}/{plan.kills}: {cycle.finished_after} message(s) finished",
                  file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="crash-cycles-") as tmp:
        workdir = args.keep or Path(tmp) / "run"
        run = run_crash_cycles(plan, workdir, progress=progress)
        summary = run.summary()
        summary["workdir"] = str(workdir) if args.keep else None
        if not run.settled:
            summary["daemon_log_tail"] = run.daemon_log_tail.splitlines()
    emit(summary, args.json)
    return 0 if run.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
