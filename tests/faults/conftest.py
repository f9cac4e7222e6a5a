"""Fixtures for the fault tests: an emulator process that outlives the daemons killed against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.processes import EmulatorProcess


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """Two modems on ptys, send latency 0.1 s; stopped (its whole process group) at teardown."""
    with EmulatorProcess(tmp_path, modems=2, send_latency=0.1) as emu:
        yield emu


@pytest.fixture
def single_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """One modem: nothing can route around it if it does not come back."""
    with EmulatorProcess(tmp_path, modems=1, send_latency=0.05) as emu:
        yield emu
