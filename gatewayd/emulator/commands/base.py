"""How commands are declared: a name, the SIM lock that gates it, and a handler.

Handlers are plain functions over the modem's state that return information lines (or a prompt,
or a deferred answer) and raise ``CommandFailure`` for an error result. The interpreter owns
everything generic (parsing, echo, the final result, error formatting per AT+CMEE), so a handler is
a few lines that read like the 27.007 / 27.005 clause they implement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gatewayd.emulator.modem import EmulatedModem

Form = Literal["exec", "read", "test", "set"]
Gate = Literal["none", "cme", "cms"]


@dataclass(frozen=True)
class Request:
    """One command of a (possibly compound) command line, already split from its neighbours."""

    name: str
    """Upper-case name: "E", "&C", "+CSQ", "^ICCID"."""
    form: Form
    args: tuple[str | None, ...] = ()
    """Set arguments: quoted strings unquoted, empty ones None."""
    digits: str = ""
    """The number after a basic command (the 0 of ATE0), "" when absent."""
    raw: str = ""

    def arg(self, index: int, default: str | None = None) -> str | None:
        if index < len(self.args) and self.args[index] is not None:
            return self.args[index]
        return default

    def int_arg(self, index: int, default: int | None = None) -> int | None:
        """An integer argument; CommandFailure(ERROR) when it is not one."""
        value = self.arg(index)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise CommandFailure("error") from None


class CommandFailure(Exception):
    """An error final result: plain ERROR, +CME ERROR: code, +CMS ERROR: code, or "unknown"."""

    def __init__(self, kind: Literal["error", "cme", "cms", "unknown", "literal"], code: int = 0,
                 text: str = "") -> None:
        super().__init__(kind, code)
        self.kind = kind
        self.code = code
        self.text = text


def cme(code: int) -> CommandFailure:
    return CommandFailure("cme", code)


def cms(code: int) -> CommandFailure:
    return CommandFailure("cms", code)


@dataclass
class Prompt:
    """Write "> " and hand what the client types up to Ctrl-Z to ``complete``."""

    complete: Callable[[str], Reply]
    text_mode: bool = False
    """Text mode: CR inside the text starts a new line and a new prompt (27.005 3.5.1)."""


@dataclass
class Deferred:
    """The answer comes after ``delay`` seconds (send latency); ``complete`` may raise CommandFailure."""

    delay: float
    complete: Callable[[], list[str]]


Reply = list[str] | Prompt | Deferred
Handler = Callable[["EmulatedModem", Request], Reply]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    gate: Gate = "none"
    """Which SIM-locked error the command answers while the SIM wants a PIN."""


REGISTRY: dict[str, CommandSpec] = {}


def command(*names: str, gate: Gate = "none") -> Callable[[Handler], Handler]:
    """Declare a handler for one or more command names (aliases such as +CGMI / +GMI)."""

    def register(handler: Handler) -> Handler:
        for name in names:
            REGISTRY[name] = CommandSpec(name, handler, gate)
        return handler

    return register

