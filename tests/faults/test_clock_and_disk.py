"""Fault matrix rows [4] disk full and [5] clock step, at daemon level (``gatewayd run`` as its own process,
the emulator as another; see test_matrix.py for the rest of the matrix and the harness).

Clock step. A Raspberry Pi has no real-time clock: it boots with the time fake-hwclock saved at the last
shutdown (hours or days behind) and NTP steps it forward once the network is up; a wrong source or a
saved time from the future gives a backward step. libfaketime (Debian package ``faketime``) is preloaded
into the daemon alone; it reads the offset from a file (``FAKETIME_TIMESTAMP_FILE``, again every second:
``FAKETIME_CACHE_DURATION``), so the test steps the daemon's wall clock while it runs, and waits until
the Date header of the daemon's answers shows the step. CLOCK_MONOTONIC stays real
(``FAKETIME_DONT_FAKE_MONOTONIC=1``), as with a real step. The emulator (the network) keeps the host's
true clock. What an operator sees: ``/metrics`` (health checks per modem), the systemd watchdog pings on
a NOTIFY_SOCKET the test listens on, the SMSC's log (when each part really went), and the database (what
the daemon stamped).

Disk full, two ways. ``RLIMIT_FSIZE`` set on the running daemon from the test (``prlimit``) stops its
files from growing past the database's size, as a full disk does (writes within space already allocated
still succeed, as on a full ext4); a write past the limit fails with EFBIG, which SQLite reports as
SQLITE_IOERR_WRITE ("disk I/O error"). Where the test may mount (root), the database also lives on a
small tmpfs that another file fills up: ENOSPC, SQLITE_FULL ("database or disk is full"), freed by
deleting that file. Both must be a 503 with nothing stored. SIGXFSZ would kill a process that writes past
its limit: the daemon survives because CPython ignores SIGXFSZ from start-up, which the first variant
proves in passing. While the disk is full the daemon's own log (a file here) may lose lines: the test
reads HTTP answers and the database.
"""

from __future__ import annotations

import glob
import json
import os
import random
import resource
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from gatewayd.clock import STEP_THRESHOLD
from gatewayd.queue import NewMessage
from tests.faults.matrix_harness import (
    AUTH,
    ControlClient,
    HttpAnswer,
    Matrix,
    http,
    matrix,
    metric,
    write_matrix_config,
)
from tests.faults.processes import EmulatorProcess
from tests.faults.workload import make_messages

SEED = 20240917
FAKETIME_LIBRARIES = ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/*/faketime/libfaketime.so.1",
                      "/usr/lib/faketime/libfaketimeMT.so.1", "/usr/local/lib/faketime/libfaketimeMT.so.1")
FAKETIME_REREAD = 1
"""Seconds libfaketime keeps the offset it read: a step reaches the daemon within this."""
REQUIRE_FAKETIME = "GATEWAYD_REQUIRE_FAKETIME"
"""Set to 1 by .ci/run: there a missing libfaketime fails these tests instead of skipping them."""
HEALTH_INTERVAL = 5
"""Seconds between scheduled health checks (the configuration's minimum)."""
WATCHDOG_USEC = 4_000_000
"""The systemd watchdog the daemon is told it has (WatchdogSec=4): it pings every 2 s (half of it)."""
WATCHDOG_PERIOD = WATCHDOG_USEC / 1e6
WATCHED_AFTER_STEP = 5.0
"""Seconds the watchdog pings are judged after a step."""
FORWARD_STEP = timedelta(days=400)
"""The daemon boots this far behind (a spare Pi left on the shelf for a year, its saved time that old)
until NTP steps it: far enough that replaying the missed intervals one by one would stall the scheduler."""
BACKWARD_STEP = timedelta(hours=1)
"""The daemon runs this far ahead until NTP steps it back."""
SCHEDULED_AHEAD = timedelta(seconds=6)
"""A client schedules a message this far ahead; the clock steps before that."""
DUE_TOLERANCE = timedelta(seconds=2)
"""How late a scheduled message may go out after its send_at (the SMSC log has whole seconds)."""
CHECKS_AFTER_STEP = 2
"""Health checks every modem must run within CHECKS_WINDOW after a step."""
CHECKS_WINDOW = 3 * HEALTH_INTERVAL + 2.0
RETRY_AFTER_FAILURE = 20
"""The retry backoff (seconds) in the backward test: long enough that a retry is surely still waiting
when the clock steps, short enough that a test must not wait for it."""
API_RECIPIENT_BASE = 447911190000
"""Recipients of this file's API posts (test_matrix.py's harness uses +447911100000 and up)."""


# -- libfaketime --------------------------------------------------------------------------------------


def _faketime_library() -> str | None:
    for pattern in FAKETIME_LIBRARIES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


@dataclass
class SteppedClock:
    """The daemon's wall clock: real time plus an offset the test changes while it runs."""

    path: Path
    library: str

    def set(self, offset: timedelta) -> None:
        """Step to ``offset`` from real time (atomically: the daemon may read the file at any moment)."""
        staging = self.path.with_suffix(".new")
        staging.write_text(f"{int(offset.total_seconds()):+d}\n", encoding="ascii")
        os.replace(staging, self.path)

    @property
    def env(self) -> dict[str, str]:
        # The offset file is read again at most every second (FAKETIME_NO_CACHE=1 reads it at every clock call
        # and makes the daemon 2.5 times slower under traffic); file times stay the kernel's (NO_FAKE_STAT).
        return {"LD_PRELOAD": self.library, "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_CACHE_DURATION": str(FAKETIME_REREAD), "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "NO_FAKE_STAT": "1"}


@pytest.fixture
def stepped_clock(tmp_path: Path) -> SteppedClock:
    library = _faketime_library()
    if library is None:
        reason = "libfaketime is not installed (apt-get install faketime): the clock-step rows cannot run"
        if os.environ.get(REQUIRE_FAKETIME) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    clock = SteppedClock(tmp_path / "faketime.rc", library)
    clock.set(timedelta(0))
    return clock


# -- what an operator sees ------------------------------------------------------------------------------


class WatchdogListener:
    """The NOTIFY_SOCKET systemd would listen on, judging the daemon's WATCHDOG=1 pings as systemd does."""

    def __init__(self) -> None:
        self.name = f"@gatewayd-test-{os.getpid()}-{random.randrange(1 << 30)}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.name[1:])
        self.last_ping: float | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def _next_ping(self, deadline: float) -> bool:
        while (remaining := deadline - time.monotonic()) > 0:
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                return False
            if b"WATCHDOG=1" in data.split(b"\n"):
                self.last_ping = time.monotonic()
                return True
        return False

    def catch_ping(self) -> None:
        """Until a fresh ping (older ones queued in the socket are read first and count too)."""
        self._sock.setblocking(False)
        try:
            while self._sock.recv(4096):
                pass
        except BlockingIOError:
            pass
        assert self._next_ping(time.monotonic() + 2 * WATCHDOG_PERIOD), "no watchdog ping at all"

    def assert_alive_for(self, seconds: float, when: str) -> None:
        """Every ping within the watchdog period of the one before, for ``seconds``: systemd's own rule."""
        assert self.last_ping is not None, "catch_ping() first"
        end = time.monotonic() + seconds
        while self.last_ping < end:
            overdue = self.last_ping + WATCHDOG_PERIOD
            assert self._next_ping(overdue), f"no watchdog ping for {WATCHDOG_PERIOD:g} s {when}: systemd kills us"
        self.close()  # unread, the socket fills up and each ping blocks the daemon's scheduler for a second

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def watchdog() -> Iterator[WatchdogListener]:
    listener = WatchdogListener()
    try:
        yield listener
    finally:
        listener.close()


def _daemon_clock_offset(run: Matrix) -> timedelta:
    """The daemon's wall clock against ours, from the Date header of its answers (whole seconds)."""
    answer = http("GET", run.url + "/healthz")
    return parsedate_to_datetime(answer.headers["Date"]) - datetime.now(UTC)


def _step(run: Matrix, clock: SteppedClock, offset: timedelta) -> float:
    """Step the daemon's clock to ``offset`` and wait until its answers show it; returns when (monotonic)."""
    clock.set(offset)
    stepped_at = time.monotonic()
    run.wait_until(lambda: abs(_daemon_clock_offset(run) - offset) < timedelta(seconds=2),
                   f"the daemon's clock to step to {offset}", timeout=FAKETIME_REREAD + 5.0)
    return stepped_at


def _health_checks(run: Matrix) -> dict[str, float]:
    samples = run.metrics()
    return {f"m{i}": metric(samples, "gatewayd_modem_health_checks_total", modem=f"m{i}")
            for i in range(len(run.emulator.links))}


def _assert_checks_went_on(run: Matrix, before: dict[str, float], stepped_at: float, when: str) -> None:
    """Every modem's scheduled health checks (an APScheduler interval job) go on after a clock step."""
    run.wait_until(lambda: all(count >= before[modem] + CHECKS_AFTER_STEP
                               for modem, count in _health_checks(run).items()),
                   f"{CHECKS_AFTER_STEP} health checks per modem {when} (were {before})",
                   timeout=max(0.0, stepped_at + CHECKS_WINDOW - time.monotonic()))


class Poster:
    """API clients with a correct clock: messages to fresh recipients, some with a send_at."""

    def __init__(self, run: Matrix) -> None:
        self.run = run
        self.index = 0

    def post(self, text: str, send_at: datetime | None = None) -> tuple[HttpAnswer, str]:
        self.index += 1
        recipient = f"+{API_RECIPIENT_BASE + self.index}"
        body: dict[str, Any] = {"to": recipient, "text": text}
        if send_at is not None:
            body["send_at"] = send_at.isoformat()
        return http("POST", self.run.url + "/api/v1/messages", body, AUTH), recipient

    def accepted(self, text: str, send_at: datetime | None = None) -> int:
        answer, recipient = self.post(text, send_at)
        assert answer.status == 202, (answer, self.run.explain())
        message_id = int(answer.body["id"])
        self.run.expect(message_id, recipient, text)
        return message_id


def _submit_times(run: Matrix, recipient: str) -> list[datetime]:
    """When the SMSC (on the host's true clock, whole seconds) accepted each part to ``recipient``."""
    return [datetime.fromisoformat(r["ts"]) for r in run.control("sent")["messages"] if r["to"] == recipient]


def _row(run: Matrix, sql: str, *params: Any) -> tuple[Any, ...]:
    conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute(sql, params).fetchone()
    finally:
        conn.close()
    assert row is not None, sql
    return tuple(row)


def _events(run: Matrix, message_id: int) -> list[tuple[int, datetime, str | None, str]]:
    conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, at, to_status, reason FROM events WHERE message_id = ? ORDER BY id",
                            (message_id,)).fetchall()
    finally:
        conn.close()
    return [(event_id, datetime.fromisoformat(at), to_status, reason) for event_id, at, to_status, reason in rows]


def _assert_sent_on_time(run: Matrix, recipient: str, send_at: datetime) -> None:
    went = run.wait_until(lambda: _submit_times(run, recipient),
                          f"the message scheduled for {send_at.isoformat()} to go out",
                          timeout=(send_at - datetime.now(UTC) + 3 * DUE_TOLERANCE).total_seconds())
    assert len(went) == 1, went
    assert send_at.replace(microsecond=0) <= went[0] <= send_at + DUE_TOLERANCE, \
        f"scheduled for {send_at.isoformat()}, went at {went[0].isoformat()}\n{run.explain()}"


def _clock_config(tmp_path: Path, *, retry: int | None = None) -> Any:
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        config = write_matrix_config(tmp_path, list(emulator.links), health_interval=HEALTH_INTERVAL)
        if retry is not None:
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace("retry_base: 1s", f"retry_base: {retry}s")
                              .replace("retry_max: 2s", f"retry_max: {retry}s"), encoding="utf-8")
        return config
    return configure


def _messages(count: int) -> list[NewMessage]:
    return make_messages(random.Random(SEED), count)


# -- [5] clock step ---------------------------------------------------------------------------------------


def test_clock_stepped_forward_after_a_boot_without_rtc(tmp_path: Path, stepped_clock: SteppedClock,
                                                        watchdog: WatchdogListener) -> None:
    """Row: clock step forward. The daemon runs days behind (fake-hwclock) while traffic flows and
    clients post, one of them for a time a few seconds ahead by the clients' (true) clock; then NTP
    steps the clock forward. Nothing is expired or lost for having been accepted under the wrong
    clock, the scheduled message goes out at its true time, not up to the dispatcher's idle wake
    later, and the scheduled health checks and the watchdog go on."""
    stepped_clock.set(-FORWARD_STEP)
    with matrix(tmp_path, _messages(4), send_latency=0.05, configure=_clock_config(tmp_path),
                daemon_env={**stepped_clock.env, **watchdog.env}) as run:
        poster = Poster(run)
        accepted_wrong = [poster.accepted(f"posted while the clock is behind {i}") for i in range(2)]
        send_at = datetime.now(UTC) + SCHEDULED_AHEAD
        scheduled = poster.accepted("scheduled by a client whose clock is right", send_at=send_at)
        created = datetime.fromisoformat(_row(run, "SELECT created_at FROM messages WHERE id = ?",
                                              accepted_wrong[0])[0])
        lag = datetime.now(UTC) - created
        assert FORWARD_STEP - timedelta(minutes=1) < lag < FORWARD_STEP + timedelta(minutes=1), \
            f"the daemon's clock is not {FORWARD_STEP} behind (libfaketime not in effect?): {lag}"
        assert _row(run, "SELECT status FROM messages WHERE id = ?", scheduled) == ("scheduled",)

        checks = _health_checks(run)
        watchdog.catch_ping()
        assert datetime.now(UTC) < send_at - DUE_TOLERANCE, "too slow: the step must come before the send_at"
        stepped_at = _step(run, stepped_clock, timedelta(0))
        watchdog.assert_alive_for(WATCHED_AFTER_STEP, "after the forward step")
        _assert_sent_on_time(run, run.expected[scheduled].recipient, send_at)
        _assert_checks_went_on(run, checks, stepped_at, "after the forward step")
        # The late runs of the periodic jobs came at once, retention among them: it deleted nothing that
        # the slow clock stamped (the final check finds every message), because the step is on record.
        assert "retention: deleted nothing" in run.daemon.log_text(), run.explain()
        poster.accepted("posted after the step")
        run.settle()
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()
    # The history keeps the order things happened in (ids), and says what the clock said at each: the
    # scheduled message was accepted "days ago" and sent now.
    events = _events(run, scheduled)
    assert [to for _, _, to, _ in events][:3] == ["scheduled", "queued", "sending"], events
    step = _row(run, "SELECT detail FROM events WHERE kind = 'clock_step'")
    assert abs(json.loads(step[0])["seconds"] - FORWARD_STEP.total_seconds()) < STEP_THRESHOLD, step
    assert events[-1][1] - events[0][1] > FORWARD_STEP - timedelta(minutes=1), events


def test_clock_stepped_back(tmp_path: Path, stepped_clock: SteppedClock, watchdog: WatchdogListener) -> None:
    """Row: clock step backward. The daemon runs an hour ahead; a transient error (+CMS ERROR 500) puts
    messages into their retry backoff, computed on that clock; then NTP steps the clock back. The retries
    must not wait an extra hour, the periodic jobs (health checks, the watchdog, expiry, retention) must
    not stall until the clock catches up (APScheduler 3's interval triggers run on the wall clock),
    a message scheduled by a client before the step keeps its time, and one scheduled after it goes out
    on time."""
    stepped_clock.set(BACKWARD_STEP)
    configure = _clock_config(tmp_path, retry=RETRY_AFTER_FAILURE)
    with matrix(tmp_path, _messages(4), send_latency=0.05, configure=configure,
                daemon_env={**stepped_clock.env, **watchdog.env}) as run:
        poster = Poster(run)
        later = datetime.now(UTC) + BACKWARD_STEP + timedelta(hours=1)
        kept = poster.accepted("scheduled for two hours from now", send_at=later)
        run.wait_finished(1)
        for modem in ("modem1", "modem2"):
            run.control("fault", modem=modem, kind="cms_error", code=500, count=1)
        waiting = run.wait_until(lambda: _retries_waiting(run), "a message waiting for its retry")
        attempts = {message_id: _attempts(run, message_id) for message_id in waiting}
        for modem in ("modem1", "modem2"):
            run.control("clear", modem=modem)  # an error left over must not hit the retries

        checks = _health_checks(run)
        watchdog.catch_ping()
        stepped_at = _step(run, stepped_clock, timedelta(0))
        # Due once the watch is over, when the released retries are long out of its way.
        send_at = datetime.now(UTC) + timedelta(seconds=WATCHED_AFTER_STEP + 1)
        scheduled = poster.accepted("scheduled after the step", send_at=send_at)
        watchdog.assert_alive_for(WATCHED_AFTER_STEP, "after the backward step")
        run.wait_until(lambda: all(_attempts(run, message_id) > before for message_id, before in attempts.items()),
                       f"messages {waiting} retried after the step",
                       timeout=max(0.0, stepped_at + RETRY_AFTER_FAILURE - time.monotonic()))
        _assert_sent_on_time(run, run.expected[scheduled].recipient, send_at)
        _assert_checks_went_on(run, checks, stepped_at, "after the backward step")
        assert _row(run, "SELECT status, due_at FROM messages WHERE id = ?", kept) == (
            "scheduled", later.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")), "a client's send_at moved"
        assert http("POST", f"{run.url}/api/v1/messages/{kept}/cancel", {}, AUTH).status == 200
        run.settle()
        verdict = run.stop_and_verify(allowed={kept: "cancelled"}, max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected) - 1, verdict.summary()
    events = _events(run, waiting[0])
    stepped = [e for e in events if e[3] and "clock" in e[3]]
    assert stepped, f"the history of message {waiting[0]} does not say the clock step released it: {events}"


def _attempts(run: Matrix, message_id: int) -> int:
    return int(_row(run, "SELECT attempts FROM messages WHERE id = ?", message_id)[0])


def _retries_waiting(run: Matrix) -> list[int]:
    """Messages in a retry backoff that, on the daemon's (ahead) clock, ends more than half the step
    from now: after the step back they would wait for the clock to catch up."""
    conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        horizon = datetime.now(UTC) + BACKWARD_STEP / 2
        rows = conn.execute("SELECT id FROM messages WHERE status = 'scheduled' AND send_at IS NULL AND due_at > ?"
                            " ORDER BY id", (horizon.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),)).fetchall()
    finally:
        conn.close()
    return [message_id for (message_id,) in rows]


# -- [4] disk full ---------------------------------------------------------------------------------------

FILL_TIMEOUT = 15.0
"""Seconds of posting until the database, no longer able to grow, refuses one."""
REFUSED_POSTS = 3
"""Posts answered 503 before space returns (each must have stored nothing)."""
TMPFS_SIZE = 16 * 1024 * 1024
FILLER_CHUNK = 1024 * 1024


class FileSizeLimit:
    """RLIMIT_FSIZE on the daemon at the size of the database's largest file: nothing of the database
    can grow. Writes past the limit fail with EFBIG, which SQLite reports as SQLITE_IOERR_WRITE."""

    sqlite_says = "disk I/O error"

    def prepare(self, workdir: Path) -> None:
        return None

    def fill(self, run: Matrix) -> None:
        limit = max(path.stat().st_size for path in run.database.parent.glob(run.database.name + "*"))
        resource.prlimit(run.daemon.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def free(self, run: Matrix) -> None:
        resource.prlimit(run.daemon.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def cleanup(self) -> None:
        return None


class FullFileSystem:
    """The database on a small tmpfs of its own (a symlink points there), filled up by another file as
    a growing log would: ENOSPC, which SQLite reports as SQLITE_FULL. Freed by deleting that file.
    Mounting needs root; elsewhere this variant is skipped (FileSizeLimit runs everywhere)."""

    sqlite_says = "database or disk is full"

    def __init__(self, mountpoint: Path) -> None:
        self.mountpoint = mountpoint
        self.filler = mountpoint / "filler"
        self._mounted = False

    def prepare(self, workdir: Path) -> None:
        self.mountpoint.mkdir()
        if os.geteuid() != 0:
            pytest.skip("a tmpfs needs root (the file-size-limit variant covers the row without it)")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "gatewayd-test",
                                  str(self.mountpoint)], capture_output=True, text=True, check=False)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
        self._mounted = True
        (workdir / "gatewayd.db").symlink_to(self.mountpoint / "gatewayd.db")

    def fill(self, run: Matrix) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            chunk = FILLER_CHUNK
            while chunk:
                try:
                    os.write(fd, bytes(chunk))
                except OSError:  # ENOSPC: smaller pieces until not one byte more fits
                    chunk //= 2
        finally:
            os.close(fd)

    def free(self, run: Matrix) -> None:
        self.filler.unlink()

    def cleanup(self) -> None:
        if self._mounted:
            subprocess.run(["umount", "-l", str(self.mountpoint)], check=False)


@pytest.fixture(params=["file_size_limit", "full_file_system"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FileSizeLimit | FullFileSystem]:
    fill = FileSizeLimit() if request.param == "file_size_limit" else FullFileSystem(tmp_path / "disk")
    try:
        fill.prepare(tmp_path)
        yield fill
    finally:
        fill.cleanup()


def _stored(run: Matrix, recipient: str) -> int:
    return int(_row(run, "SELECT count(*) FROM messages WHERE recipient = ?", recipient)[0])


def test_disk_full_answers_503_and_loses_nothing(tmp_path: Path, disk: FileSizeLimit | FullFileSystem) -> None:
    """Row: disk full. While messages flow and clients post, the database can no longer grow: the API
    answers 503 with Retry-After and a JSON error for what it could not store and acknowledges nothing
    else, /healthz and /metrics say the database is unwritable, the daemon keeps running; once space
    returns it recovers by itself, and every message it acknowledged is sent exactly once (a part the
    modem accepted while its record could not be written is recorded late, not left unknown)."""
    with matrix(tmp_path, _messages(16), send_latency=0.1) as run:
        poster = Poster(run)
        run.wait_finished(2)
        disk.fill(run)
        refused: list[tuple[HttpAnswer, str]] = []
        deadline = time.monotonic() + FILL_TIMEOUT
        while len(refused) < REFUSED_POSTS:
            assert time.monotonic() < deadline, "no 503 while the disk is full"
            text = f"posted while the disk is full {poster.index}"
            answer, recipient = poster.post(text)
            if answer.status == 202:  # the WAL still had room for it: acknowledged, so it must go out
                run.expect(int(answer.body["id"]), recipient, text)
            else:
                refused.append((answer, recipient))
        for answer, _ in refused:
            assert answer.status == 503, answer
            assert answer.headers.get("Retry-After"), answer.headers
            assert answer.body["error"]["code"] == "database_unavailable", answer.body
            assert disk.sqlite_says in answer.body["error"]["message"], answer.body
        health = run.healthz()
        assert (health.status, health.body["database"]) == (503, "unwritable"), health
        samples = run.metrics()
        assert metric(samples, "gatewayd_database_writable") == 0
        assert metric(samples, "gatewayd_api_responses_total", code="503") >= REFUSED_POSTS
        assert run.daemon.wait(0.5) is None, "a full disk killed the daemon"

        disk.free(run)
        run.wait_until(lambda: (answer := run.healthz()).status == 200 and answer.body["database"] == "ok",
                       "/healthz to see the database writable again")
        assert metric(run.metrics(), "gatewayd_database_writable") == 1
        for i in range(3):
            poster.accepted(f"posted after space came back {i}")
        run.settle()
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()
    assert [recipient for _, recipient in refused if _stored(run, recipient)] == [], "a 503 stored a message"
