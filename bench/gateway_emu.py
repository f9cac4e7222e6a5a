"""The emulator for bench/gateway.py: a separate process (its CPU is not ours), timed from its side.

``gatewayd emulator --command-times`` records when each modem took each command line and when its SMSC
accepted each part, on CLOCK_MONOTONIC, which is system-wide on Linux: this process compares those
times with its own ``time.monotonic()``.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

UP_TIMEOUT = 20.0
"""Seconds the emulator may take to print where its modems and control port are."""
CONTROL_TIMEOUT = 10.0
FIRST_NUMBER = "+15550000001"


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int, key: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {key} for pid {pid}")


@dataclass(frozen=True)
class Timed:
    t: float
    modem: str
    kind: str
    line: str


class EmulatorProcess:
    """``gatewayd emulator --modems N`` with timed commands; a context manager."""

    def __init__(self, workdir: Path, modems: int, send_latency: float) -> None:
        self.workdir = workdir
        self.count = modems
        self.send_latency = send_latency
        self.links: list[str] = []
        self.ids: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._buffer = b""

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> EmulatorProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gatewayd", "emulator", "--modems", str(self.count),
             "--pty", str(self.workdir / "m"), "--number", FIRST_NUMBER, "--send-latency", str(self.send_latency),
             "--control", "127.0.0.1:0", "--command-times", "--log", str(self.workdir / "smsc.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            control = self._read_descriptions()
            self._sock = socket.create_connection(control, timeout=CONTROL_TIMEOUT)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _read_descriptions(self) -> tuple[str, int]:
        """One JSON line per modem, then the control port (raw fd reads: no buffering behind select)."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + UP_TIMEOUT
        pending = b""
        while True:
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                described = json.loads(line)
                if "control" in described:
                    host, port = described["control"].rsplit(":", 1)
                    return host, int(port)
                self.links.append(described["link"])
                self.ids.append(described["id"])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise RuntimeError("the emulator did not come up")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"the emulator exited ({self._proc.wait()})")
            pending += chunk

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._sock is not None
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the emulator closed its control port")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"emulator refused {request}: {reply.get('error')}")
        return reply

    def timed(self, since: float = 0.0) -> list[Timed]:
        """Commands taken and parts accepted at or after ``since`` (monotonic), oldest first."""
        records = self.request({"op": "command_times", "since": since})["records"]
        return [Timed(r["t"], r["modem"], r["kind"], r["line"]) for r in records]

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)
