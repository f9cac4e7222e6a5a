"""The crash loop: start ``gatewayd run``, SIGKILL it at a random moment, again and again, then let it finish.

One emulator process (the modems and the network) runs for the whole loop; the messages are in the
database before the first start. Each cycle waits a seeded random time, sometimes killing the daemon
before it has even opened its modems, mostly while sends are in flight. After the last kill the
daemon runs until the queue has settled and is stopped with SIGTERM (it must exit 0); then the
invariants (invariants.py) are checked against the SMSC's log. Every wait is on the daemon process
itself (``wait(timeout)``), so a daemon that dies on its own is noticed at once.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.invariants import ACTIVE, Verdict, verify
from tests.faults.processes import DaemonProcess, EmulatorProcess, ProcessError
from tests.faults.workload import Expected, enqueue, make_messages, write_config

LOGGER = logging.getLogger(__name__)

POLL_INTERVAL = 0.1
"""How often the settling daemon's queue is looked at (a read-only query; the daemon is the writer)."""
REPORT_QUIET = 1.0
"""After the queue has no work left, status counts must stay unchanged this long: the status reports
of the last sends (the emulator answers after 0.2 s) are in before the daemon is stopped."""
EARLY_KILL_WINDOW = 0.4
"""An early kill comes within this many seconds of the start: during imports, recovery or modem init."""
LOCK_HOLD = (0.1, 0.5)
"""Seconds the harness holds the database's write lock before a "locked" kill (well under the daemon's
5 s busy timeout, so the daemon is still waiting inside its write when it dies)."""
LOCK_TIMEOUT = 10.0
NOT_ANSWERING = re.compile(r"modem (\S+)(?: does not answer AT|: gone|: quarantined)")
"""The daemon's log lines for a modem that is silent after a restart (e.g. left at the ``> `` prompt).
Nothing but the kills is injected, and the emulated modems outlive them: no modem should ever go."""
READY = re.compile(r"gatewayd\.owner: modem (\S+): ready$", re.MULTILINE)
"""The owner's log line once a modem is initialised and in the pool."""


@dataclass(frozen=True)
class CrashPlan:
    seed: int = 1
    messages: int = 100
    kills: int = 6
    modems: int = 2
    send_latency: float = 0.05
    min_wait: float = 0.05
    max_wait: float = 1.5
    """Seconds between the daemon's "running" line and its SIGKILL."""
    early_kill_share: float = 0.15
    """Share of the kills that come before the daemon says it is running."""
    locked_kill_share: float = 0.25
    """Share of the kills made while the harness holds the database's write lock (as a backup or an
    operator's sqlite3 shell would): the daemon dies blocked inside a durable write, between a decision
    and its record, e.g. at the modem's ``> `` prompt before the part's "written" mark."""
    settle_timeout: float = 180.0
    stop_timeout: float = 30.0


@dataclass(frozen=True)
class Snapshot:
    """The queue as a kill left it (read-only, before the next start recovers it)."""

    statuses: dict[str, int]
    parts_in_flight: int
    """Parts marked written in messages still 'sending': PDUs the kill may have cut off mid-air."""

    @property
    def sending(self) -> int:
        return self.statuses.get("sending", 0)

    @property
    def active(self) -> int:
        return sum(self.statuses.get(status, 0) for status in ACTIVE)

    @property
    def finished(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in ACTIVE)


@dataclass(frozen=True)
class Cycle:
    index: int
    kind: str
    """early (before "running"), timed (mid-traffic) or locked (blocked in a write, see CrashPlan)."""
    wait: float
    sending_at_kill: int
    parts_in_flight_at_kill: int
    finished_after: int
    silent_modems: tuple[str, ...] = ()
    """Modems that did not answer this run's start-up: a kill left them unusable."""


@dataclass
class CrashRun:
    plan: CrashPlan
    workdir: Path
    cycles: list[Cycle] = field(default_factory=list)
    settled: bool = False
    settle_seconds: float = 0.0
    exit_code: int | None = None
    elapsed: float = 0.0
    verdict: Verdict = field(default_factory=Verdict)
    daemon_log_tail: str = ""
    modems_not_back: list[str] = field(default_factory=list)
    """Modems that never became ready again, in a kill cycle or in the final run."""

    @property
    def ok(self) -> bool:
        return (self.settled and self.exit_code == 0 and not self.verdict.violations
                and not self.modems_not_back)

    def summary(self) -> dict[str, Any]:
        return {
            "plan": asdict(self.plan),
            "ok": self.ok,
            "kills": len(self.cycles),
            "kills_by_kind": dict(Counter(c.kind for c in self.cycles)),
            "kills_with_send_in_flight": sum(1 for c in self.cycles if c.sending_at_kill),
            "kills_with_pdu_written_unanswered": sum(1 for c in self.cycles if c.parts_in_flight_at_kill),
            "finished_before_final_run": self.cycles[-1].finished_after if self.cycles else 0,
            "modems_not_back": self.modems_not_back,
            "first_cycle_with_a_silent_modem": next((c.index for c in self.cycles if c.silent_modems), None),
            "settled": self.settled,
            "settle_seconds": round(self.settle_seconds, 2),
            "sigterm_exit_code": self.exit_code,
            "elapsed_seconds": round(self.elapsed, 1),
            **self.verdict.summary(),
            "violation_list": self.verdict.violations[:50],
        }


def snapshot(database: Path) -> Snapshot:
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        statuses = dict(conn.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall())
        in_flight = conn.execute("SELECT count(*) FROM message_parts AS p JOIN messages AS m ON m.id = p.message_id"
                                 " WHERE m.status = 'sending' AND p.state = 'written'").fetchone()[0]
    finally:
        conn.close()
    return Snapshot(statuses=statuses, parts_in_flight=in_flight)


def wait_for(daemon: DaemonProcess, database: Path, predicate: Callable[[Snapshot], bool],
             timeout: float) -> Snapshot | None:
    """The first snapshot for which ``predicate`` holds, or None after ``timeout``.

    Raises ProcessError if the daemon exits by itself meanwhile.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = snapshot(database)
        if predicate(state):
            return state
        code = daemon.wait(POLL_INTERVAL)
        if code is not None:
            raise ProcessError(f"daemon exited by itself with code {code}:\n{daemon.stderr_tail()}")
    return None


def settle(daemon: DaemonProcess, database: Path, timeout: float) -> bool:
    """Until no message is queued, scheduled or sending and the status reports are in; False on timeout.

    Raises ProcessError if the daemon exits by itself meanwhile.
    """
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    last: dict[str, int] | None = None
    while time.monotonic() < deadline:
        state = snapshot(database)
        now = time.monotonic()
        if state.active or state.statuses != last:
            quiet_since = None if state.active else now
            last = state.statuses
        elif quiet_since is not None and now - quiet_since >= REPORT_QUIET:
            return True
        code = daemon.wait(POLL_INTERVAL)
        if code is not None:
            raise ProcessError(f"daemon exited by itself with code {code}:\n{daemon.stderr_tail()}")
    return False


@contextlib.contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Hold the database's write lock (``BEGIN IMMEDIATE``) from another process, then roll back."""
    conn = sqlite3.connect(str(database), timeout=LOCK_TIMEOUT, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _kill_cycle(workdir: Path, config: Path, database: Path, index: int, *, rng: random.Random,
                plan: CrashPlan) -> Cycle:
    daemon = DaemonProcess(workdir, config, f"cycle {index}").start()
    try:
        draw = rng.random()
        kind = ("early" if draw < plan.early_kill_share
                else "locked" if draw < plan.early_kill_share + plan.locked_kill_share else "timed")
        if kind == "early":
            wait = rng.uniform(0.0, EARLY_KILL_WINDOW)
        else:
            daemon.wait_running()
            wait = rng.uniform(plan.min_wait, plan.max_wait)
        code = daemon.wait(wait)
        if code is None and kind == "locked":
            with write_lock(database):
                code = daemon.wait(rng.uniform(*LOCK_HOLD))
                if code is None:
                    daemon.kill()  # most likely blocked inside a write transaction
        elif code is None:
            daemon.kill()
        if code is not None:
            raise ProcessError(f"cycle {index}: daemon exited by itself with code {code}:\n{daemon.stderr_tail()}")
    finally:
        daemon.ensure_stopped()
    state = snapshot(database)
    silent = tuple(sorted(set(NOT_ANSWERING.findall(daemon.log_text()))))
    return Cycle(index=index, kind=kind, wait=round(wait, 3), sending_at_kill=state.sending,
                 parts_in_flight_at_kill=state.parts_in_flight, finished_after=state.finished,
                 silent_modems=silent)


def run_crash_cycles(plan: CrashPlan, workdir: Path,
                     progress: Callable[[Cycle], None] | None = None) -> CrashRun:
    """The whole run in ``workdir`` (created); never leaves a process behind."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(plan.seed)
    run = CrashRun(plan=plan, workdir=workdir)
    database = workdir / "gatewayd.db"
    with EmulatorProcess(workdir, modems=plan.modems, send_latency=plan.send_latency) as emulator:
        config = write_config(workdir, emulator.links)
        expected: dict[int, Expected] = enqueue(database, make_messages(rng, plan.messages))
        for index in range(plan.kills):
            cycle = _kill_cycle(workdir, config, database, index, rng=rng, plan=plan)
            run.cycles.append(cycle)
            if progress is not None:
                progress(cycle)
            if not emulator.alive:
                raise ProcessError("the emulator died during the crash loop")
            if cycle.silent_modems:
                # Every later start would wait for the silent modem: stop killing, check what we have.
                LOGGER.error("cycle %d: modem(s) %s no longer answer", index, cycle.silent_modems)
                break
        daemon = DaemonProcess(workdir, config, "final run").start()
        try:
            daemon.wait_running()
            settle_start = time.monotonic()
            run.settled = settle(daemon, database, plan.settle_timeout)
            run.settle_seconds = time.monotonic() - settle_start
            run.exit_code = daemon.terminate(plan.stop_timeout)
        finally:
            daemon.ensure_stopped()
            run.daemon_log_tail = daemon.stderr_tail()
        modem_by_number = {number: f"m{i}" for i, number in enumerate(emulator.numbers)}
        ready = set(READY.findall(daemon.log_text()))
        lost = {modem for cycle in run.cycles for modem in cycle.silent_modems}
        run.modems_not_back = sorted(lost | (set(modem_by_number.values()) - ready))
    run.verdict = verify(database, emulator.log_path, expected, modem_by_number,
                         max_unknown=len(run.cycles) * plan.modems)
    run.elapsed = time.monotonic() - started
    return run
