"""When each emulated modem received each command line and when its SMSC accepted each submit.

Benchmarks need the modem's side of the clock: "the modem got AT+CMGS 12 ms after the message was
accepted" cannot be read from the gateway, whose own timestamps stop before the pty. Times come from the
emulator's scheduler clock (``time.monotonic`` when running: CLOCK_MONOTONIC is system-wide on Linux, so
another process on the same machine can compare them with its own). Off unless asked for, and bounded,
so an emulator left running for days does not grow without limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

COMMAND_TIMES_LIMIT = 200_000
"""Records kept (all modems together); the oldest are dropped first. About 100 bytes each."""

Kind = Literal["command", "accept"]


@dataclass(frozen=True)
class CommandTime:
    t: float
    modem: str
    kind: Kind
    """"command": a command line taken up (received, or after the previous command if it was busy);
    "accept": the SMSC accepted a submitted part."""
    line: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CommandTimes:
    """A bounded, append-only record; used only on the emulator's loop thread (no lock)."""

    def __init__(self, limit: int = COMMAND_TIMES_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._records: deque[CommandTime] = deque(maxlen=limit)

    def record(self, t: float, modem: str, kind: Kind, line: str) -> None:
        self._records.append(CommandTime(t, modem, kind, line))

    def since(self, t: float = float("-inf"), *, modem: str | None = None) -> list[CommandTime]:
        """Records at or after ``t`` (oldest first), of one modem or of all."""
        return [r for r in self._records if r.t >= t and (modem is None or r.modem == modem)]

    def __len__(self) -> int:
        return len(self._records)
