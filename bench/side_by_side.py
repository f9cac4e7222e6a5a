"""gatewayd side by side with established SMS daemons: throughput against physical capacity.

For each modem count N, each daemon gets a FRESH emulator process (``gatewayd emulator --modems N
--pty ... --send-latency L --command-times``, so its counters start clean) and the same message set,
queued before the daemon starts (a backlog): gatewayd in its database, smstools as files in its outgoing
spool, gammu-smsd as files in its outbox. The daemon is spawned as a process; every time is taken on the
modem's side (the emulator's command_times, CLOCK_MONOTONIC), never from the daemon's own log:

- ratio = accepted parts / window / (N / L), window = first AT+CMGS (any modem) to the last part the
  emulated SMSC accepted: the same definition as bench/gateway.py, so start-up is not in it;
- per-modem steady ratio = (k - 1) / (first to last accept on that modem) * L, mean and min;
- start = process spawn to the first AT+CMGS (interpreter, imports, modem init included);
- commands per message = AT commands other than AT+CMGS inside the window, per accepted part;
- the SMSC's log is checked afterwards: every message accepted exactly once.

Daemons: ``gatewayd run -c cfg`` (rate limits off, product defaults otherwise: status reports on,
health checks every 60 s); smstools ``smsd -t`` with its compiled-in defaults ("default") and with
``check_network = 0`` ("tuned"); gammu-smsd 1.42 (files backend, defaults) for N = 1 only. A run that has
not finished after ``--max-run`` seconds is stopped and reported with what it achieved.

    .venv/bin/python bench/side_by_side.py [--sizes 1,4,16] [--latency 1.0] [--per-modem 60]
        [--daemons gatewayd,smstools,smstools-tuned,gammu] [--json bench/out/side_by_side.json]

smstools and gammu-smsd are Debian packages: ``apt-get install smstools gammu-smsd``. Without smsd the
script says so and exits 2; without gammu-smsd its row is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import Daemon, daemon_config, db_counts, machine, recipient, wait_until
from gateway_emu import EmulatorProcess, Timed
from gateway_stats import is_cmgs, throughput

from gatewayd.queue import NewMessage, Queue

BENCH = Path(__file__).resolve().parent
TEMPLATES = BENCH / "side_by_side"
DEFAULT_JSON = BENCH / "out" / "side_by_side.json"
FIRST_CMGS_TIMEOUT = 60.0
"""Seconds a daemon may take from spawn to its first AT+CMGS before the run is given up."""
POLL = 0.5
"""Seconds between looks at the emulator's record while a run goes on (not in any timing)."""
STOP_TIMEOUT = 20.0
"""Seconds a daemon gets to exit after SIGTERM before SIGKILL."""
TUNED_SMSTOOLS = {"check_network": "0"}
"""The one setting of the "tuned" smstools row: no AT+CREG? before every message."""
INSTALL_HINT = "apt-get install smstools gammu-smsd   (Debian; as root)"


@dataclass(frozen=True)
class Message:
    to: str
    """+E164"""
    text: str


def message_set(count: int) -> list[Message]:
    """Single-part GSM-7 texts to numbers outside the emulated network (nothing comes back)."""
    return [Message(recipient(i), f"side by side message {i}") for i in range(count)]


class Contender(Protocol):
    name: str
    settings: str

    def prepare(self, workdir: Path, emu: EmulatorProcess, batch: list[Message]) -> None: ...

    def spawn(self) -> None: ...

    def exited(self) -> int | None: ...

    def stop(self) -> dict[str, Any]: ...

    def log_tail(self) -> str: ...


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class SpooledDaemon:
    """A C daemon fed from a spool directory, in its own session so its forked children stop with it."""

    name = ""
    settings = ""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = Path()
        self.argv: list[str] = []
        self.log = Path()

    def spawn(self) -> None:
        with (self.workdir / "stdout.log").open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=self.workdir)

    def exited(self) -> int | None:
        assert self.proc is not None
        return self.proc.poll()

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None
        began = time.monotonic()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return {"exit_code": self.proc.returncode, "stop_s": round(time.monotonic() - began, 3)}

    def log_tail(self) -> str:
        return tail(self.log) or tail(self.workdir / "stdout.log")


def drop(spool: Path, name: str, content: str, staging: Path) -> None:
    """Write aside, then rename: the daemon never sees a half-written file (smstools trusts its spool)."""
    staged = staging / name
    staged.write_text(content)
    os.replace(staged, spool / name)


class Smstools(SpooledDaemon):
    def __init__(self, tuned: bool) -> None:
        super().__init__()
        self.tuned = tuned
        self.name = "smstools-tuned" if tuned else "smstools"
        self.settings = ("defaults + " + ", ".join(f"{k} = {v}" for k, v in TUNED_SMSTOOLS.items()) if tuned
                         else "compiled-in defaults")

    def prepare(self, workdir: Path, emu: EmulatorProcess, batch: list[Message]) -> None:
        self.workdir = workdir
        spool = workdir / "spool"
        for sub in ("outgoing", "checked", "failed", "incoming", "sent", "staging"):
            (spool / sub).mkdir(parents=True)
        names = [f"GSM{i + 1}" for i in range(len(emu.links))]
        # check_network is a modem setting: it goes into each device's section.
        extra = "".join(f"{k} = {v}\n" for k, v in TUNED_SMSTOOLS.items()) if self.tuned else ""
        sections = "\n".join(f"[{name}]\ndevice = {link}\n{extra}" for name, link in zip(names, emu.links, strict=True))
        config = Template((TEMPLATES / "smsd.conf.template").read_text()).substitute(
            devices=",".join(names), spool=spool, workdir=workdir, sections=sections)
        (workdir / "smsd.conf").write_text(config)
        for index, message in enumerate(batch):
            # smstools' file format: headers, a blank line, the text; To: international without "+".
            drop(spool / "outgoing", f"sbs{index:06d}", f"To: {message.to.lstrip('+')}\n\n{message.text}\n",
                 spool / "staging")
        self.log = workdir / "smsd.log"
        self.argv = ["smsd", "-t", "-c", str(workdir / "smsd.conf")]


class GammuSmsd(SpooledDaemon):
    name = "gammu-smsd"
    settings = "defaults (connection = at, files backend)"

    def prepare(self, workdir: Path, emu: EmulatorProcess, batch: list[Message]) -> None:
        self.workdir = workdir
        spool = workdir / "spool"
        for sub in ("inbox", "outbox", "sent", "error", "staging"):
            (spool / sub).mkdir(parents=True)
        config = Template((TEMPLATES / "gammu-smsdrc.template").read_text()).substitute(
            device=emu.links[0], spool=spool, workdir=workdir)
        (workdir / "gammu-smsdrc").write_text(config)
        for index, message in enumerate(batch):
            # OUT<priority><date>_<time>_<serial>_<number>_<anything>.txt; names sort in queue order.
            name = f"OUTA20260101_000000_{index:02d}_{message.to}_sbs{index:06d}.txt"
            drop(spool / "outbox", name, message.text, spool / "staging")
        self.log = workdir / "gammu-smsd.log"
        self.argv = ["gammu-smsd", "-c", str(workdir / "gammu-smsdrc")]


class Gatewayd:
    name = "gatewayd"
    settings = "defaults, rate limits off"

    def __init__(self) -> None:
        self.daemon: Daemon | None = None
        self.config = Path()
        self.workdir = Path()

    def prepare(self, workdir: Path, emu: EmulatorProcess, batch: list[Message]) -> None:
        self.workdir = workdir
        self.config = daemon_config(workdir, emu)
        with Queue(workdir / "gatewayd.db") as queue:
            queue.enqueue_many([NewMessage(recipient=m.to, text=m.text) for m in batch])

    def spawn(self) -> None:
        self.daemon = Daemon(self.config, self.workdir / "gatewayd.log")

    def exited(self) -> int | None:
        assert self.daemon is not None
        return self.daemon.proc.poll()

    def stop(self) -> dict[str, Any]:
        assert self.daemon is not None
        if self.daemon.proc.poll() is not None:
            return {"exit_code": self.daemon.proc.returncode}
        stopped = self.daemon.stop()
        stopped["final_status"] = {k: v for k, v in db_counts(self.workdir / "gatewayd.db").items() if v}
        return stopped

    def log_tail(self) -> str:
        return tail(self.workdir / "gatewayd.log")


def smsc_check(log: Path, batch: list[Message]) -> dict[str, int]:
    """Each message of the set accepted exactly once by the emulated SMSC (its JSON-lines log)."""
    seen: Counter[tuple[str, str]] = Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            seen[(entry["to"], entry["text"])] += 1
    wanted = {(m.to, m.text) for m in batch}
    return {"accepted_unique": sum(1 for key in wanted if seen[key]),
            "missing": sum(1 for key in wanted if not seen[key]),
            "doubled": sum(n - 1 for key, n in seen.items() if key in wanted and n > 1),
            "foreign": sum(n for key, n in seen.items() if key not in wanted)}


def accepted_count(emu: EmulatorProcess, since: float) -> int:
    return sum(1 for r in emu.timed(since) if r.kind == "accept")


def run_one(contender: Contender, root: Path, modems: int, latency: float, *, per_modem: int,
            max_run: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{contender.name}-{modems}-", dir=root))
    batch = message_set(modems * per_modem)
    figures: dict[str, Any] = {"daemon": contender.name, "settings": contender.settings, "modems": modems,
                               "send_latency_s": latency, "messages": len(batch)}
    with EmulatorProcess(workdir, modems, latency) as emu:
        contender.prepare(workdir, emu, batch)
        spawned = time.monotonic()
        contender.spawn()
        finished = False
        try:
            first: list[Timed] = []

            def started() -> bool:
                first.extend(r for r in emu.timed(spawned) if is_cmgs(r))
                return bool(first) or contender.exited() is not None

            wait_until(started, FIRST_CMGS_TIMEOUT, 0.005, "the first AT+CMGS")
            if first:
                figures["start_to_first_cmgs_s"] = round(first[0].t - spawned, 3)

                def done() -> bool:
                    return (accepted_count(emu, spawned) >= len(batch) or contender.exited() is not None
                            or time.monotonic() - spawned > max_run)

                wait_until(done, max_run + 10, POLL, "the backlog")
                finished = accepted_count(emu, spawned) >= len(batch)
            records = emu.timed(spawned)
        except RuntimeError as error:
            figures["error"] = str(error)
            records = emu.timed(spawned)
        finally:
            figures["stop"] = contender.stop()
    commands = [r for r in records if r.kind == "command"]
    figures["finished"] = finished
    figures["wall_s"] = round(time.monotonic() - spawned, 1)
    if not finished:
        figures["log_tail"] = contender.log_tail()
    figures["smsc"] = smsc_check(workdir / "smsc.jsonl", batch)
    figures["throughput"] = throughput(records, modems, latency) if first_or_none(records) else {"parts": 0}
    window = figures["throughput"]
    if window.get("parts"):
        start = min(r.t for r in records if is_cmgs(r))
        end = max(r.t for r in records if r.kind == "accept")
        others = [r for r in commands if not is_cmgs(r) and start <= r.t <= end]
        figures["other_commands_per_message"] = round(len(others) / window["parts"], 2)
    figures["commands_total"] = len(commands)
    return figures


def first_or_none(records: list[Timed]) -> Timed | None:
    return next((r for r in records if is_cmgs(r)), None)


def contenders(names: list[str], modems: int) -> tuple[list[Contender], list[dict[str, Any]]]:
    """The daemons to run at this modem count, and the rows skipped with why."""
    chosen: list[Contender] = []
    skipped: list[dict[str, Any]] = []
    for name in names:
        if name == "gatewayd":
            chosen.append(Gatewayd())
        elif name in ("smstools", "smstools-tuned"):
            chosen.append(Smstools(tuned=name == "smstools-tuned"))
        elif name == "gammu" and modems == 1:
            if shutil.which("gammu-smsd"):
                chosen.append(GammuSmsd())
            else:
                skipped.append({"daemon": "gammu-smsd", "modems": modems,
                                "skipped": f"gammu-smsd not installed ({INSTALL_HINT})"})
    return chosen, skipped


def daemon_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for package in ("smstools", "gammu-smsd"):
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                               check=False)
        versions[package] = found.stdout.strip() if found.returncode == 0 else "not installed"
    return versions


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| N | daemon | settings | sent / queued | window s | msgs/s | N/L | ratio | per-modem steady (mean / min)"
             " | spawn to 1st AT+CMGS s | other AT cmds per msg | SMSC: missing / doubled |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['modems']} | {row['daemon']} | skipped: {row['skipped']} |" + " |" * 9)
            continue
        tp = row["throughput"]
        smsc = row["smsc"]
        steady = (f"{tp.get('per_modem_steady_ratio_mean')} / {tp.get('per_modem_steady_ratio_min')}"
                  if tp.get("parts") else "-")
        sent = f"{tp.get('parts', 0)} / {row['messages']}" + ("" if row["finished"] else " (stopped)")
        checked = (f"{smsc['missing']} / {smsc['doubled']}" if row["finished"]
                   else f"{smsc['missing']} unsent at stop / {smsc['doubled']}")
        lines.append(
            f"| {row['modems']} | {row['daemon']} | {row['settings']} | {sent} | {tp.get('window_s', '-')} "
            f"| {tp.get('achieved_per_s', '-')} | {row['modems'] / row['send_latency_s']:g} "
            f"| **{tp.get('ratio', '-')}** | {steady} | {row.get('start_to_first_cmgs_s', '-')} "
            f"| {row.get('other_commands_per_message', '-')} | {checked} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="modem counts N (default 1,4,16)")
    parser.add_argument("--latency", type=float, default=1.0, help="emulated +CMGS latency L in seconds")
    parser.add_argument("--per-modem", type=int, default=60, help="messages per modem (default 60)")
    parser.add_argument("--daemons", default="gatewayd,smstools,smstools-tuned,gammu",
                        help="which, in order (gammu runs at N = 1 only)")
    parser.add_argument("--max-run", type=float, default=180.0, help="seconds before a slow run is stopped")
    parser.add_argument("--workdir", default="/var/tmp", help="where spools and databases go (a real disk)")
    parser.add_argument("--json", nargs="?", const=str(DEFAULT_JSON), default=str(DEFAULT_JSON),
                        help=f"where the figures go (default {DEFAULT_JSON})")
    args = parser.parse_args()
    names = [n.strip() for n in args.daemons.split(",") if n.strip()]
    if any(n.startswith("smstools") for n in names) and not shutil.which("smsd"):
        print(f"smsd (smstools) is not installed. Install it with:\n    {INSTALL_HINT}", file=sys.stderr)
        return 2
    figures: dict[str, Any] = {"benchmark": "side_by_side", **machine(), "versions": daemon_versions(),
                               "send_latency_s": args.latency, "per_modem": args.per_modem,
                               "command": " ".join([Path(sys.executable).name, *sys.argv])}
    rows: list[dict[str, Any]] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="side-by-side-", dir=args.workdir) as tmp:
        for modems in (int(n) for n in args.sizes.split(",")):
            chosen, skipped = contenders(names, modems)
            rows.extend(skipped)
            for contender in chosen:
                row = run_one(contender, Path(tmp), modems, args.latency, per_modem=args.per_modem,
                              max_run=args.max_run)
                rows.append(row)
                tp = row["throughput"]
                print(f"N={modems} {contender.name}: ratio {tp.get('ratio')} ({tp.get('parts')} parts, "
                      f"{row['wall_s']} s)", file=sys.stderr, flush=True)
    figures["rows"] = rows
    figures["bench_wall_s"] = round(time.monotonic() - began, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
