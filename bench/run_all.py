"""Every benchmark in one run, by one command: one JSON and one Markdown report, with machine, date and commit.

Each step is the existing bench script run as a subprocess with its ``--json`` output into
``bench/out/run-<stamp>/<step>.json`` (its stdout and stderr beside it). A step that fails is recorded as
failed, with the tail of its stderr, and the run goes on: a long run must not be lost to one step. After
every step ``results.json`` is rewritten, so even an interrupted run leaves what it measured.

Order: the throughput and latency measurements come first, on a machine nothing else of ours loads, and
one at a time; the steps that load the machine for long (scale's fills, crash cycles, the fuzzer, the soak)
come after them. Before each step the load average and the CPU busy share of one second are recorded (and,
with ``--quiet-wait``, the run waits up to that long for the CPU to go quiet): the report flags steps that
started on a busy machine.

    .venv/bin/python bench/run_all.py [--quick] [--only STEP,...] [--skip STEP,...] [--write-results]

``--quick`` runs every step with tiny sizes: a smoke test of the orchestration and of the report, a few
minutes long; its figures mean nothing. ``--write-results`` also replaces the generated block of
bench/RESULTS.md (between the run_all markers); the hand-written sections below it stay.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import render_markdown, replace_generated_block

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS_MD = BENCH / "RESULTS.md"
DEFAULT_OUT = BENCH / "out"
DEFAULT_WORKDIR = Path("/var/tmp")
STDERR_TAIL_BYTES = 8000
INTERRUPT_GRACE = 30.0
"""Seconds a step gets after SIGINT (its cleanup: emulators, daemons) before its process group is killed."""
QUICK_TIMEOUT = 600.0
"""Seconds any step may take in a quick run."""
FULL_TIMEOUT_FACTOR = 3.0
"""A full step may take this many times its estimate (plus FULL_TIMEOUT_MARGIN) before it is stopped."""
FULL_TIMEOUT_MARGIN = 300.0
BUSY_SAMPLE = 1.0
"""Seconds over which the CPU busy share is sampled before each step."""
QUIET_BUSY_PERCENT = 15.0
"""With --quiet-wait, a step starts once the CPU is less busy than this (or the wait is over)."""


@dataclass(frozen=True)
class Step:
    """One bench script and its arguments for a full and a quick run. ``{json}``, ``{run}`` and ``{workdir}``
    in the arguments are the step's JSON file, the run's directory and the directory for databases."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    estimate_s: float
    """Expected wall time of the full step on the reference machine (2 cores, bench/RESULTS.md)."""


STEPS: tuple[Step, ...] = (
    Step("session_cost", "session_cost.py", ("--sends", "3000", "--json", "{json}"),
         ("--sends", "200", "--json", "{json}"), 10),
    Step("claim_cost", "claim_cost.py", ("--sizes", "1000,1000000", "--dir", "{workdir}", "--json", "{json}"),
         ("--sizes", "1000,10000", "--claims", "50", "--dir", "{workdir}", "--json", "{json}"), 75),
    Step("gateway", "gateway.py", ("--sizes", "1,4,16", "--workdir", "{workdir}", "--json", "{json}"),
         ("--quick", "--sizes", "1,4", "--workdir", "{workdir}", "--json", "{json}"), 200),
    Step("api_accept", "api_accept.py", ("--seconds", "10", "--json", "{json}"),
         ("--seconds", "2", "--json", "{json}"), 50),
    Step("side_by_side", "side_by_side.py", ("--sizes", "1,4,16", "--workdir", "{workdir}", "--json", "{json}"),
         ("--sizes", "1", "--per-modem", "3", "--latency", "0.2", "--max-run", "30", "--workdir", "{workdir}",
          "--json", "{json}"), 1150),
    Step("scale", "scale.py", ("--sizes", "1000,100000,1000000", "--dir", "{workdir}", "--json", "{json}"),
         ("--sizes", "1000,5000", "--claims", "30", "--repeats", "10", "--dir", "{workdir}", "--json", "{json}"),
         250),
    Step("inbound_stop", "inbound_stop.py", ("--count", "200", "--json", "{json}"),
         ("--count", "6", "--rate", "6", "--json", "{json}"), 430),
    Step("footprint", "soak.py", ("--modems", "8", "--minutes", "3", "--idle-seconds", "30", "--fault-every", "0",
                                  "--rate", "10", "--inbound-every", "1", "--json", "{json}"),
         ("--modems", "8", "--minutes", "0.25", "--idle-seconds", "3", "--fault-every", "0", "--rate", "4",
          "--inbound-every", "2", "--json", "{json}"), 230),
    Step("crash_cycles", "crash_cycles.py", ("--kills", "200", "--messages", "1000", "--json", "{json}"),
         ("--kills", "4", "--messages", "30", "--json", "{json}"), 270),
    Step("fuzz", "fuzz_codec.py", ("--runs", "1000000", "--workers", "2", "--artifacts", "{run}/fuzz_artifacts",
                                   "--log-dir", "{run}", "--json", "{json}"),
         ("--runs", "3000", "--workers", "2", "--corpus", "{run}/fuzz_corpus", "--artifacts", "{run}/fuzz_artifacts",
          "--log-dir", "{run}", "--json", "{json}"), 1200),
    Step("soak", "soak.py", ("--minutes", "30", "--json", "{json}"),
         ("--minutes", "0.5", "--fault-every", "5", "--json", "{json}"), 1850),
)
STEP_NAMES = tuple(step.name for step in STEPS)


# -- the machine and the tree ---------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _field(text: str, key: str, sep: str = ":") -> str | None:
    for line in text.splitlines():
        name, _, value = line.partition(sep)
        if name.strip() == key:
            return value.strip().strip('"')
    return None


def filesystem_of(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (fsync costs depend on it)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    for line in _read("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) >= 3 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")) \
                and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind


def machine_info(workdir: Path) -> dict[str, Any]:
    meminfo = _field(_read("/proc/meminfo"), "MemTotal") or "0 kB"
    return {
        "cpu_model": _field(_read("/proc/cpuinfo"), "model name") or platform.processor() or platform.machine(),
        "arch": platform.machine(), "cores": os.cpu_count(),
        "ram_gib": round(int(meminfo.split()[0]) / 2**20, 1),
        "os": _field(_read("/etc/os-release"), "PRETTY_NAME", "=") or platform.system(),
        "kernel": platform.release(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "workdir": str(workdir), "workdir_fs": filesystem_of(workdir),
    }


def git_state() -> dict[str, Any]:
    """HEAD and the changed tracked files (others may be working in this tree while the run goes on)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    try:
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()  # "XY path": keep XY's blank
        return {"commit": git("rev-parse", "--short", "HEAD").strip(), "commit_full": git("rev-parse", "HEAD").strip(),
                "dirty_files": [line[3:] for line in changed if line.strip()]}
    except (OSError, subprocess.CalledProcessError) as error:
        return {"commit": "unknown", "error": str(error), "dirty_files": []}


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in _read("/proc/stat").splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def cpu_busy_percent(pause: threading.Event, seconds: float = BUSY_SAMPLE) -> float:
    busy0, total0 = cpu_times()
    pause.wait(seconds)
    busy1, total1 = cpu_times()
    return round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)


# -- running the steps ----------------------------------------------------------------------------------------


class Runner:
    """Runs the chosen steps one after the other, keeping results.json up to date after each."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, steps: list[Step]) -> None:
        self.args = args
        self.run_dir = run_dir
        self.steps = steps
        self.pause = threading.Event()
        self.results: dict[str, Any] = {
            "schema": 1,
            "run": {"stamp": run_dir.name.removeprefix("run-"), "quick": args.quick,
                    "started": _now(), "finished": None, "wall_s": None, "out_dir": str(run_dir),
                    "command": " ".join([_shown(sys.executable), *(_shown(a) for a in sys.argv)])},
            "machine": machine_info(args.workdir),
            "git": {"start": git_state(), "end": None},
            "steps": [{"name": s.name, "script": f"bench/{s.script}",
                       "status": "not run" if s in steps else "skipped"} for s in STEPS],
        }

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        try:
            for step in self.steps:
                self._record(step.name, self.run_step(step))
        except KeyboardInterrupt:
            print("run_all: interrupted; writing what was measured", file=sys.stderr)
        run = self.results["run"]
        run.update({"finished": _now(), "wall_s": round(time.monotonic() - began, 1)})
        self.results["git"]["end"] = git_state()
        self.save()
        return self.results

    def run_step(self, step: Step) -> dict[str, Any]:
        json_path = self.run_dir / f"{step.name}.json"
        values = {"json": str(json_path), "run": str(self.run_dir), "workdir": str(self.args.workdir)}
        step_args = [arg.format(**values) for arg in (step.quick if self.args.quick else step.full)]
        argv = [sys.executable, str(BENCH / step.script), *step_args]
        timeout = QUICK_TIMEOUT if self.args.quick else step.estimate_s * FULL_TIMEOUT_FACTOR + FULL_TIMEOUT_MARGIN
        record: dict[str, Any] = {"name": step.name, "script": f"bench/{step.script}",
                                  "argv_shown": [f"bench/{step.script}", *(_shown(a, self.run_dir) for a in step_args)],
                                  "started": _now(), **self.quiet_before()}
        print(f"run_all: {step.name} (load {record['load_before'][0]:.2f}, CPU {record['cpu_busy_before_percent']} %"
              f" busy): {' '.join(record['argv_shown'])}", file=sys.stderr, flush=True)
        self._record(step.name, {**record, "status": "running"})
        stdout, stderr = self.run_dir / f"{step.name}.stdout.log", self.run_dir / f"{step.name}.stderr.log"
        began = time.monotonic()
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                code: int | None = proc.wait(timeout)
                status = "ok" if code == 0 else "failed"
            except subprocess.TimeoutExpired:
                code, status = self.stop(proc), "timeout"
            except KeyboardInterrupt:
                record.update(status="interrupted", returncode=self.stop(proc),
                              wall_s=round(time.monotonic() - began, 1), stderr_tail=_tail(stderr))
                self._record(step.name, record)
                raise
        record.update(status=status, returncode=code, wall_s=round(time.monotonic() - began, 1),
                      json=str(json_path.relative_to(self.run_dir)), figures=_load(json_path))
        if status == "ok" and record["figures"] is None:
            record["status"] = "failed"
        if record["status"] != "ok":
            record["stderr_tail"] = _tail(stderr)
        print(f"run_all: {step.name}: {record['status']} after {record['wall_s']} s", file=sys.stderr, flush=True)
        return record

    def quiet_before(self) -> dict[str, Any]:
        """Load and CPU busy share just before a step; with --quiet-wait, first wait for a quiet CPU.

        The previous step's dirty pages (a 10^6-row database) are flushed first, so their writeback does
        not land in the next step's fsyncs."""
        os.sync()
        waited = 0.0
        busy = cpu_busy_percent(self.pause)
        while busy > QUIET_BUSY_PERCENT and waited < self.args.quiet_wait:
            busy = cpu_busy_percent(self.pause)
            waited += BUSY_SAMPLE
        return {"load_before": [round(v, 2) for v in os.getloadavg()], "cpu_busy_before_percent": busy,
                "waited_for_quiet_s": waited}

    def stop(self, proc: subprocess.Popen[bytes]) -> int | None:
        """SIGINT to the step's process group (its scripts clean up on KeyboardInterrupt), then SIGKILL."""
        for sig, grace in ((signal.SIGINT, INTERRUPT_GRACE), (signal.SIGKILL, INTERRUPT_GRACE)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                return proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        return proc.poll()

    def _record(self, name: str, record: dict[str, Any]) -> None:
        steps = self.results["steps"]
        steps[next(i for i, s in enumerate(steps) if s["name"] == name)] = record
        self.save()

    def save(self) -> None:
        (self.run_dir / "results.json").write_text(json.dumps(self.results, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _shown(arg: str, run_dir: Path | None = None) -> str:
    """An argument as the report shows it: paths relative to the project, the run directory as $RUN."""
    if run_dir is not None and str(run_dir) in arg:
        return arg.replace(str(run_dir), "$RUN")
    return arg.replace(str(ROOT) + "/", "")


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - STDERR_TAIL_BYTES))
            return stream.read().decode(errors="replace")
    except OSError:
        return ""


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -- command line ---------------------------------------------------------------------------------------------


def step_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STEP_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown step(s) {', '.join(unknown)}; steps: {', '.join(STEP_NAMES)}")
    return names


def chosen_steps(only: list[str] | None, skip: list[str] | None) -> list[Step]:
    return [s for s in STEPS if (not only or s.name in only) and s.name not in (skip or [])]


def write_results_md(markdown: str, path: Path = RESULTS_MD) -> None:
    path.write_text(replace_generated_block(path.read_text(encoding="utf-8"), markdown), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the run and the report")
    parser.add_argument("--only", type=step_list, help=f"comma-separated steps to run ({', '.join(STEP_NAMES)})")
    parser.add_argument("--skip", type=step_list, help="comma-separated steps to leave out")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the run's directory goes under this one")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="where the steps put their databases (a real disk, not tmpfs)")
    parser.add_argument("--quiet-wait", type=float, default=None,
                        help="seconds to wait before each step for the CPU to go quiet (default 20; quick 0)")
    parser.add_argument("--write-results", action="store_true",
                        help="also replace the generated block of bench/RESULTS.md (not with --quick)")
    args = parser.parse_args()
    if args.write_results and args.quick:
        parser.error("--write-results takes a full run: quick figures must not land in RESULTS.md")
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 20.0
    steps = chosen_steps(args.only, args.skip)
    if not steps:
        parser.error("no step left to run")
    run_dir = args.out / f"run-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    if not args.quick:
        total = sum(s.estimate_s for s in steps)
        print(f"run_all: {len(steps)} steps, about {total / 60:.0f} min on the reference machine", file=sys.stderr)
    results = Runner(args, run_dir, steps).run()
    markdown = render_markdown(results)
    report = run_dir / "report.md"
    report.write_text(markdown, encoding="utf-8")
    if args.write_results:
        write_results_md(markdown)
    print(f"run_all: {run_dir / 'results.json'}\nrun_all: {report}", file=sys.stderr)
    failed = [s["name"] for s in results["steps"] if s.get("status") not in ("ok", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
