"""A concatenation-reference counter that does not repeat across restarts.

Every multipart SMS carries a reference in its user-data header; the recipient's phone glues parts
with the same (sender, reference) together. A counter that restarts at 0 after each reboot makes a
phone merge the parts of two different messages. So the counter is persisted.

Writing the file on every message would wear a Raspberry Pi's SD card, so the counter reserves a
block: the file holds a high-water mark ``BLOCK`` values ahead of what was handed out, written
atomically (temp file, fsync, rename, fsync of the directory). After a crash the counter resumes at
the high-water mark: it skips at most ``BLOCK`` values and never hands one out twice.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

LOGGER = logging.getLogger(__name__)

BLOCK = 32
"""How many references are reserved per durable write."""


class ReferenceSource(Protocol):
    """Anything that hands out concatenation references (``bits`` is 8 or 16)."""

    def next_reference(self, bits: int = 8) -> int: ...


class MemoryReferenceCounter:
    """A counter kept only in memory: for one-shot CLI sends and tests, where nothing persists."""

    def __init__(self, start: int = 0) -> None:
        self._value = start
        self._lock = threading.Lock()

    def next_reference(self, bits: int = 8) -> int:
        with self._lock:
            self._value += 1
            return self._value % (1 << bits)


class FileReferenceCounter:
    """A counter persisted in one small file, with block reservation (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._value = self._load()
        self._reserved = self._value  # nothing reserved yet: the first call writes

    def _load(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        try:
            value = int(text)
        except ValueError:
            # A torn or edited file: start past any value an 8- or 16-bit reference could have had.
            LOGGER.warning("reference counter %s unreadable (%r); continuing from a fresh range", self._path,
                           text[:40])
            return 1 << 16
        return max(value, 0)

    def _persist(self, high_water: int) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{high_water}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def next_reference(self, bits: int = 8) -> int:
        with self._lock:
            self._value += 1
            if self._value > self._reserved:
                self._reserved = self._value + BLOCK
                self._persist(self._reserved)
            return self._value % (1 << bits)
