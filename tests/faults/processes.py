"""The emulator and the daemon as separate OS processes, each in its own process group.

The emulator plays the physical modems and the network: it must outlive every kill of the daemon,
exactly as a USB modem keeps its state (an open ``> `` prompt, a submit in progress) when the host
dies. Each process gets its own session (process group), so a kill reaches everything it started and
a test that fails half-way leaves no orphan behind (``stop`` is idempotent and used in ``finally``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

LOGGER = logging.getLogger(__name__)

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]
EMULATOR_START_TIMEOUT = 20.0
"""Seconds the emulator may take to print where its modems are."""
DAEMON_READY_TIMEOUT = 30.0
"""Seconds ``gatewayd run`` may take to print its "running" line."""
TERM_GRACE = 5.0
"""Seconds a SIGTERM'd helper (the emulator) gets before SIGKILL."""
FIRST_NUMBER = "+15550000001"
RUNNING_LINE = "gatewayd running"


class ProcessError(RuntimeError):
    """A helper process did not behave (exited early, printed nothing, refused to stop)."""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("NOTIFY_SOCKET", None)  # never talk to a real systemd from a test
    env.pop("WATCHDOG_USEC", None)
    return env


def _kill_group(proc: subprocess.Popen[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def read_lines(stream: IO[bytes], count: int, timeout: float, proc: subprocess.Popen[Any]) -> list[str]:
    """At least ``count`` lines from ``stream`` within ``timeout`` (all complete lines read so far);
    waits on a selector, never on a sleep."""
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while len(lines) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProcessError(f"pid {proc.pid}: {len(lines)}/{count} line(s) within {timeout:g} s")
            if not selector.select(remaining):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise ProcessError(f"pid {proc.pid} closed its output (exit {proc.poll()}) after {lines!r}")
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines.extend(line.decode("utf-8", "replace") for line in complete)
    return lines


class EmulatorProcess:
    """``python -m gatewayd emulator --modems N --pty DIR/m ...``: N modems on pty links, one SMSC log."""

    def __init__(self, workdir: Path, *, modems: int = 2, send_latency: float = 0.05,
                 control: bool = False) -> None:
        """``control``: also open the JSON-lines control port (any free port; see ``control_address``)."""
        self.workdir = workdir
        self.modems = modems
        self.send_latency = send_latency
        self.control = control
        self.log_path = workdir / "smsc.jsonl"
        self.links: list[str] = []
        self.numbers: list[str] = []
        self.control_address: tuple[str, int] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self) -> EmulatorProcess:
        self._stderr = open(self.workdir / "emulator.stderr", "ab")  # noqa: SIM115 (closed in stop)
        control = ["--control", "127.0.0.1:0"] if self.control else []
        self._proc = subprocess.Popen(
            [PYTHON, "-m", "gatewayd", "emulator", "--modems", str(self.modems), "--pty", str(self.workdir / "m"),
             "--number", FIRST_NUMBER, "--send-latency", str(self.send_latency), "--log", str(self.log_path),
             *control],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env=child_env(),
            start_new_session=True)
        assert self._proc.stdout is not None
        try:
            described = [json.loads(line) for line in
                         read_lines(self._proc.stdout, self.modems + (1 if self.control else 0),
                                    EMULATOR_START_TIMEOUT, self._proc)]
        except BaseException:
            self.stop()
            raise
        if self.control:
            host, _, port = described.pop()["control"].rpartition(":")
            self.control_address = (host, int(port))
        self.links = [item["link"] for item in described]
        self.numbers = [item["number"] for item in described]
        LOGGER.info("emulator pid %d: modems %s on %s", self._proc.pid, self.numbers, self.links)
        return self

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill_group(proc, signal.SIGTERM)
            try:
                proc.wait(TERM_GRACE)
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class DaemonProcess:
    """One run of ``gatewayd run -c CONFIG``; its output is appended to daemon.stdout / daemon.stderr."""

    def __init__(self, workdir: Path, config: Path, label: str, *, env: Mapping[str, str] | None = None) -> None:
        """``env``: variables set on top of the test's own (LD_PRELOAD of libfaketime, for one)."""
        self.workdir = workdir
        self.config = config
        self.label = label
        self.env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._log_start = 0

    def start(self) -> DaemonProcess:
        self._stdout = open(self.workdir / "daemon.stdout", "ab")  # noqa: SIM115 (closed in _reap)
        self._stderr = open(self.workdir / "daemon.stderr", "ab")  # noqa: SIM115
        self._log_start = self._stderr.tell()
        banner = f"=== {self.label} ===\n".encode()
        for stream in (self._stdout, self._stderr):
            stream.write(banner)
            stream.flush()
        self._proc = subprocess.Popen([PYTHON, "-m", "gatewayd", "run", "-c", str(self.config)],
                                      stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                      env={**child_env(), **self.env}, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def wait_running(self, timeout: float = DAEMON_READY_TIMEOUT) -> None:
        """Until the daemon printed its "running" line (signal handlers installed, gateway started).

        Other lines before it (a demo API token) are copied to daemon.stdout and skipped.
        """
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            lines = read_lines(self._proc.stdout, 1, max(0.0, deadline - time.monotonic()), self._proc)
            self._copy_stdout("".join(line + "\n" for line in lines))
            if any(RUNNING_LINE in line for line in lines):
                return

    def wait(self, timeout: float) -> int | None:
        """The exit code if the daemon ends within ``timeout``, else None: also how a run is given time."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> int:
        """SIGKILL, the power cut of a process: nothing of it runs afterwards."""
        assert self._proc is not None
        _kill_group(self._proc, signal.SIGKILL)
        return self._reap(None)

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM and the exit code, or None (then SIGKILL) if it did not stop within ``timeout``."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            _kill_group(self._proc, signal.SIGKILL)
        self._reap(None)
        return code

    def ensure_stopped(self) -> None:
        """For ``finally`` blocks: whatever state the run is in, no process is left behind."""
        if self._proc is not None:
            _kill_group(self._proc, signal.SIGKILL)
            self._reap(None)

    def _copy_stdout(self, text: str) -> None:
        if self._stdout is not None:
            self._stdout.write(text.encode())
            self._stdout.flush()

    def _reap(self, timeout: float | None) -> int:
        proc = self._proc
        assert proc is not None
        code = proc.wait(timeout)
        if proc.stdout is not None:
            self._copy_stdout(proc.stdout.read().decode("utf-8", "replace"))
            proc.stdout.close()
        for stream in (self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stdout = self._stderr = None
        self._proc = None
        return code

    def log_text(self) -> str:
        """What this run (not the earlier ones) wrote on stderr so far."""
        with open(self.workdir / "daemon.stderr", "rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", "replace")

    def stderr_tail(self, lines: int = 40) -> str:
        path = self.workdir / "daemon.stderr"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
