"""The emulated SIM: PIN / PUK lock state and message storage with a fixed capacity.

Storage capacity matters because a full SIM is a classic production failure: the network stops
delivering and nothing says why. Memories are fixed slot arrays with 1-based indexes, like real
ones, so indexes are reused after a delete and a client that forgets to delete eventually fills up.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

PIN_ATTEMPTS = 3
PUK_ATTEMPTS = 10
DEFAULT_PUK = "12345678"


class SimState(enum.Enum):
    """The answer of ``AT+CPIN?`` (27.007 8.3)."""

    READY = "READY"
    PIN = "SIM PIN"
    PUK = "SIM PUK"
    BLOCKED = "SIM PUK BLOCKED"  # answered as +CME ERROR: 13 (SIM failure)


class PinRejected(Exception):
    """A wrong PIN or PUK was entered (the attempts counter already went down)."""


class Sim:
    """PIN / PUK state machine of one SIM."""

    def __init__(self, imsi: str, iccid: str, pin: str | None = None, puk: str = DEFAULT_PUK) -> None:
        self.imsi = imsi
        self.iccid = iccid
        self.pin = pin
        self.puk = puk
        self.pin_attempts = PIN_ATTEMPTS
        self.puk_attempts = PUK_ATTEMPTS
        self.state = SimState.PIN if pin else SimState.READY

    def set_pin(self, pin: str | None) -> None:
        """Another SIM in the slot (or its PIN changed by hand): locked at once when it has a PIN, with
        full attempt counters, so a test can give each modem its own PIN after the emulator started."""
        self.pin = pin
        self.pin_attempts = PIN_ATTEMPTS
        self.puk_attempts = PUK_ATTEMPTS
        self.state = SimState.PIN if pin else SimState.READY

    def describe(self) -> dict[str, str | int]:
        """What the control port's ``status`` and ``sim`` ops show: the lock state and both counters."""
        return {"sim": self.state.value, "pin_attempts": self.pin_attempts, "puk_attempts": self.puk_attempts}

    def power_cycle(self) -> None:
        """A SIM with a PIN locks again at power-up; a PUK-locked one stays PUK-locked."""
        if self.pin and self.state is SimState.READY:
            self.state = SimState.PIN

    def enter_pin(self, pin: str) -> None:
        if self.state is not SimState.PIN:
            raise RuntimeError("no PIN expected")
        if pin == self.pin:
            self.state = SimState.READY
            self.pin_attempts = PIN_ATTEMPTS
            return
        self.pin_attempts -= 1
        if self.pin_attempts <= 0:
            self.state = SimState.PUK
        raise PinRejected

    def enter_puk(self, puk: str, new_pin: str) -> None:
        if self.state is not SimState.PUK:
            raise RuntimeError("no PUK expected")
        if puk == self.puk:
            self.pin = new_pin
            self.state = SimState.READY
            self.pin_attempts = PIN_ATTEMPTS
            self.puk_attempts = PUK_ATTEMPTS
            return
        self.puk_attempts -= 1
        if self.puk_attempts <= 0:
            self.state = SimState.BLOCKED
        raise PinRejected


class Stat(enum.IntEnum):
    """27.005 <stat> in PDU mode; ``TEXT_NAMES`` holds the text-mode spelling."""

    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3


TEXT_NAMES: dict[int, str] = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT", 4: "ALL"}


@dataclass
class StoredMessage:
    """One stored PDU, with the fields text mode prints (known when the network made the PDU)."""

    pdu: str
    """Full PDU hex including the SMSC field, as +CMGR prints it."""
    tpdu_length: int
    stat: Stat = Stat.REC_UNREAD
    kind: str = "deliver"  # or "status-report"
    fields: dict[str, str | int] = field(default_factory=dict)


class Memory:
    """One message memory ("SM", "ME", "SR"): ``capacity`` slots indexed from 1."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self._slots: list[StoredMessage | None] = [None] * capacity

    @property
    def used(self) -> int:
        return sum(1 for slot in self._slots if slot is not None)

    def store(self, message: StoredMessage) -> int | None:
        """The 1-based index used, or None when full."""
        for i, slot in enumerate(self._slots):
            if slot is None:
                self._slots[i] = message
                return i + 1
        return None

    def get(self, index: int) -> StoredMessage | None:
        if 1 <= index <= self.capacity:
            return self._slots[index - 1]
        return None

    def valid_index(self, index: int) -> bool:
        return 1 <= index <= self.capacity

    def delete(self, index: int) -> bool:
        if self.get(index) is None:
            return False
        self._slots[index - 1] = None
        return True

    def entries(self) -> Iterator[tuple[int, StoredMessage]]:
        for i, slot in enumerate(self._slots):
            if slot is not None:
                yield i + 1, slot


class CombinedMemory(Memory):
    """"MT": SM then ME as one memory (indexes of ME follow those of SM), as 27.005 describes."""

    def __init__(self, first: Memory, second: Memory) -> None:
        super().__init__("MT", 0)
        self._parts = (first, second)
        self.capacity = first.capacity + second.capacity

    def _locate(self, index: int) -> tuple[Memory, int] | None:
        first, second = self._parts
        if 1 <= index <= first.capacity:
            return first, index
        if first.capacity < index <= self.capacity:
            return second, index - first.capacity
        return None

    @property
    def used(self) -> int:
        return sum(part.used for part in self._parts)

    def store(self, message: StoredMessage) -> int | None:
        first, second = self._parts
        index = first.store(message)
        if index is not None:
            return index
        index = second.store(message)
        return None if index is None else index + first.capacity

    def get(self, index: int) -> StoredMessage | None:
        located = self._locate(index)
        return None if located is None else located[0].get(located[1])

    def delete(self, index: int) -> bool:
        located = self._locate(index)
        return located is not None and located[0].delete(located[1])

    def entries(self) -> Iterator[tuple[int, StoredMessage]]:
        first, second = self._parts
        yield from first.entries()
        for index, message in second.entries():
            yield index + first.capacity, message


class Storage:
    """The memories of one modem and the three CPMS selections (read/delete, write/send, receive)."""

    NAMES: tuple[str, ...] = ("SM", "ME", "MT", "SR")

    def __init__(self, capacity: int) -> None:
        sm, me = Memory("SM", capacity), Memory("ME", capacity)
        self.memories: dict[str, Memory] = {
            "SM": sm, "ME": me, "MT": CombinedMemory(sm, me), "SR": Memory("SR", capacity),
        }
        self.selected: list[str] = ["SM", "SM", "SM"]

    def reset_selection(self) -> None:
        self.selected = ["SM", "SM", "SM"]

    @property
    def read_memory(self) -> Memory:
        return self.memories[self.selected[0]]

    @property
    def receive_memory(self) -> Memory:
        return self.memories[self.selected[2]]
