"""Helpers for the emulator tests: a modem network on a manual clock, and readers for real fds."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from gatewayd.emulator.modem import EmulatedModem
from gatewayd.emulator.network import EmulatedNetwork
from gatewayd.emulator.profiles import PROFILES, Quirks
from gatewayd.emulator.timers import ManualClock, TimerHeap

READ_TIMEOUT = 5.0


@dataclass
class Bench:
    """Modems on one network, driven by hand: ``cmd`` feeds a line and runs time forward."""

    clock: ManualClock = field(default_factory=ManualClock)
    heap: TimerHeap = field(init=False)
    network: EmulatedNetwork = field(init=False)
    out: dict[str, bytearray] = field(default_factory=dict)
    writes: dict[str, list[tuple[float, bytes]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.heap = TimerHeap(self.clock)
        self.network = EmulatedNetwork(self.heap)

    def modem(self, number: str = "+15550000001", profile: str | Quirks = "generic", *,
              pin: str | None = None, latency: float = 0.0, echo: bool = False) -> EmulatedModem:
        quirks = profile if isinstance(profile, Quirks) else PROFILES[profile]
        mid = f"m{len(self.out) + 1}"
        buf = bytearray()
        writes: list[tuple[float, bytes]] = []
        self.out[mid], self.writes[mid] = buf, writes

        def sink(data: bytes) -> None:
            buf.extend(data)
            writes.append((self.clock(), data))

        modem = EmulatedModem(
            modem_id=mid, number=number, imei="356938030000013", iccid="89010010000000000018",
            imsi="001010000000001", quirks=quirks, scheduler=self.heap, network=self.network,
            pin=pin, send_latency=latency, seed=1, sink=sink)
        self.network.attach(modem)
        modem.power_on()
        if not echo:
            modem.feed(b"ATE0\r")
        self.take(modem)
        return modem

    def run(self, seconds: float = 1.0, step: float = 0.01) -> None:
        end = self.clock() + seconds
        while self.clock() < end:
            self.clock.advance(step)
            self.heap.run_due()

    def take(self, modem: EmulatedModem) -> str:
        """Everything the modem wrote since the last take."""
        buf = self.out[modem.modem_id]
        text = bytes(buf).decode("latin-1")
        buf.clear()
        self.writes[modem.modem_id].clear()
        return text

    def cmd(self, modem: EmulatedModem, line: str | bytes, run: float = 0.5) -> str:
        data = line if isinstance(line, bytes) else line.encode("latin-1") + b"\r"
        modem.feed(data)
        self.run(run)
        return self.take(modem)


def lines(text: str) -> list[str]:
    return [line for line in text.split("\r\n") if line]


@pytest.fixture
def bench() -> Bench:
    return Bench()


def read_until(fd: int, predicate: Callable[[bytes], bool], timeout: float = READ_TIMEOUT) -> bytes:
    """Read a pty master/slave or socket fd until ``predicate(data)``; AssertionError on timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while not predicate(data):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; got {data!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"EOF; got {data!r}"
            data += chunk
    return data


def sock_until(sock: socket.socket, predicate: Callable[[bytes], bool],
               timeout: float = READ_TIMEOUT) -> bytes:
    data = b""
    sock.settimeout(timeout)
    while not predicate(data):
        chunk = sock.recv(4096)
        assert chunk, f"EOF; got {data!r}"
        data += chunk
    return data


@pytest.fixture
def raw_pty_open() -> Iterator[Callable[[str], int]]:
    """Open pty slaves in raw mode (like a serial client would); closed after the test."""
    import tty

    fds: list[int] = []

    def opener(path: str) -> int:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        fds.append(fd)
        return fd

    yield opener
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
