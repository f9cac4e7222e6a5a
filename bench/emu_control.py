"""Shared by bench/inbound_stop.py and bench/soak.py: the emulator process with its control port, the
daemon's configuration, an API client and /proc samples of the daemon.

The emulator and daemon processes are the ones tests/faults uses (each in its own process group, never
left behind); only the control port is added here, because the fault harness drives no inbound traffic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from tests.faults.processes import (
    EMULATOR_START_TIMEOUT,
    FIRST_NUMBER,
    PYTHON,
    DaemonProcess,
    ProcessError,
    child_env,
    read_lines,
)

LOGGER = logging.getLogger("bench.emu_control")

CONTROL_TIMEOUT = 15.0
"""Seconds one control request may take (the emulator answers from its loop thread at once)."""
HTTP_TIMEOUT = 30.0
URL = re.compile(r"web and API on (http://\S+?) \.")
TOKEN = "bench-soak-token-0123456789abcdef"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ControlledEmulator:
    """``python -m gatewayd emulator --modems N --pty DIR/m --control 127.0.0.1:0 --log smsc.jsonl``."""

    def __init__(self, workdir: Path, *, modems: int, send_latency: float, command_times: bool = False) -> None:
        """``command_times``: the emulator records when each modem took up each command line."""
        self.workdir = workdir
        self.command_times = command_times
        self.modems = modems
        self.send_latency = send_latency
        self.log_path = workdir / "smsc.jsonl"
        self.links: list[str] = []
        self.numbers: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: IO[bytes] | None = None

    def start(self) -> ControlledEmulator:
        self._stderr = open(self.workdir / "emulator.stderr", "ab")  # noqa: SIM115 (closed in stop)
        self._proc = subprocess.Popen(
            [PYTHON, "-m", "gatewayd", "emulator", "--modems", str(self.modems), "--pty", str(self.workdir / "m"),
             "--number", FIRST_NUMBER, "--send-latency", str(self.send_latency), "--log", str(self.log_path),
             "--control", "127.0.0.1:0", *(["--command-times"] if self.command_times else [])],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env=child_env(),
            start_new_session=True)
        assert self._proc.stdout is not None
        try:
            lines = read_lines(self._proc.stdout, self.modems + 1, EMULATOR_START_TIMEOUT, self._proc)
            described = [json.loads(line) for line in lines[:self.modems]]
            host, _, port = json.loads(lines[self.modems])["control"].rpartition(":")
            self._sock = socket.create_connection((host, int(port)), timeout=CONTROL_TIMEOUT)
            self._reader = self._sock.makefile("rb")
        except BaseException:
            self.stop()
            raise
        self.links = [item["link"] for item in described]
        self.numbers = [item["number"] for item in described]
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def control(self, **request: Any) -> dict[str, Any]:
        """One control request and its reply; an error reply raises (a bench must not go on blind)."""
        assert self._sock is not None and self._reader is not None
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        line = self._reader.readline()
        if not line:
            raise ProcessError("the emulator closed its control port")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ProcessError(f"control request {request!r} refused: {reply.get('error')}")
        return reply

    def stop(self) -> None:
        for closable in (self._reader, self._sock):
            if closable is not None:
                closable.close()
        self._reader = self._sock = None
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, 15)
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
            except ProcessLookupError:
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def write_config(workdir: Path, links: list[str], *, help_reply: str | None = "Bench help: reply STOP to opt out",
                 opt_out_reply: bool = True, health_interval: str = "1m") -> Path:
    """No rate limits, short retries, a known API token, replies to STOP (the shipped text) and HELP on."""
    modems = "".join(f"  - id: m{i}\n    port: {link}\n    rate_per_minute: null\n    status_reports: true\n"
                     for i, link in enumerate(links))
    config = workdir / "gatewayd.yaml"
    help_line = "null" if help_reply is None else json.dumps(help_reply)
    config.write_text(
        f"database: {workdir / 'gatewayd.db'}\n"
        f"state_dir: {workdir / 'state'}\n"
        f"modems:\n{modems}"
        "web:\n  listen: \"127.0.0.1:0\"\n"
        "api:\n"
        f"  tokens:\n    - name: bench\n      token_sha256: \"{hashlib.sha256(TOKEN.encode()).hexdigest()}\"\n"
        "  rate_per_minute: 100000\n"
        "dispatch:\n  rate_per_minute: null\n  retry_base: 1s\n  retry_max: 4s\n  max_attempts: 100\n"
        f"  health_interval: {health_interval}\n"
        "emulator:\n  enabled: false\n"
        "logging:\n  level: info\n"
        f"replies:\n  help: {help_line}\n  per_number_per_hour: 3\n"
        + ("" if opt_out_reply else "  opt_out: null\n"),
        encoding="utf-8")
    return config


READY = re.compile(r"gatewayd\.owner: modem (\S+): ready$", re.MULTILINE)
READY_TIMEOUT = 30.0
READY_POLL = 0.2


def wait_ready(daemon: DaemonProcess, modems: int) -> None:
    """Until the daemon's log says every modem is initialised and in the pool."""
    deadline = time.monotonic() + READY_TIMEOUT
    while len(set(READY.findall(daemon.log_text()))) < modems:
        if time.monotonic() > deadline:
            raise ProcessError(f"modems not ready within {READY_TIMEOUT:g} s:\n{daemon.stderr_tail()}")
        if daemon.wait(READY_POLL) is not None:
            raise ProcessError(f"daemon exited:\n{daemon.stderr_tail()}")


def api_url(workdir: Path) -> str:
    """The daemon's URL from its "running" line (copied to daemon.stdout by DaemonProcess)."""
    found = URL.findall((workdir / "daemon.stdout").read_text(encoding="utf-8", errors="replace"))
    if not found:
        raise ProcessError("no 'web and API on' URL in daemon.stdout")
    return str(found[-1])


def api(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def proc_sample(pid: int) -> dict[str, float]:
    """RSS (MB), open file descriptors, threads and CPU seconds (user + system) of one process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return {"rss_mb": round(rss_kb / 1024, 2), "fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads,
            "cpu_s": round(cpu, 2)}


def slope_per_hour(samples: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of ``key`` over the samples' ``t`` (seconds), per hour: ~0 means flat."""
    if len(samples) < 2:
        return 0.0
    ts = [s["t"] for s in samples]
    ys = [s[key] for s in samples]
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return 0.0
    return round(sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var * 3600, 3)
