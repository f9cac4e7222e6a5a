"""Fixtures for the configuration, systemd and discovery tests: a config file in tmp_path, emulated modems."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gatewayd.emulator.emulator import Emulator


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write (dedented) YAML to tmp_path/config.yaml and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu
