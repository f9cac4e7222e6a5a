"""Every command of the CLI is documented in the README (a new command without docs fails here)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from gatewayd.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def commands(parser: argparse.ArgumentParser, prefix: str = "gatewayd") -> Iterator[str]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield prefix
        return
    for name, sub in subparsers[0].choices.items():
        yield from commands(sub, f"{prefix} {name}")


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    found = list(commands(build_parser()))
    assert len(found) >= 9
    missing = [command for command in found if f"`{command}" not in text]
    assert missing == [], f"undocumented commands: {missing}"
