"""Typed errors of the modem layer.

Every failure a caller may want to act on has its own type, so that the pool can tell a
transient problem (retry elsewhere) from a permanent one (fail this message alone) without
parsing strings. Messages are one line and name the cause, because the CLI prints them as-is.
"""

from __future__ import annotations

from gatewayd.modem.result_codes import (
    cme_meaning,
    cms_is_permanent,
    cms_meaning,
)


class ModemError(Exception):
    """Base class of every error raised by the modem layer."""


class PortError(ModemError):
    """The port could not be opened or was lost."""

    def __init__(self, port: str, reason: str) -> None:
        super().__init__(f"{port}: {reason}")
        self.port = port
        self.reason = reason


class PortBusyError(PortError):
    """Another program (or another gatewayd owner) holds the port."""


class PortNotFoundError(PortError):
    """No such device, or nothing listens at that URL."""


class SessionClosedError(ModemError):
    """The session was closed (by us, or because the port went away) while a command waited."""


class AtTimeoutError(ModemError):
    """No final result code arrived in time. The session resynchronises before the next command."""

    def __init__(self, command: str, timeout: float, partial: list[str] | None = None) -> None:
        super().__init__(f"{command}: no final result code within {timeout:g} s")
        self.command = command
        self.timeout = timeout
        self.partial = partial or []


class AtCommandError(ModemError):
    """The modem answered a command with an error final result code (ERROR, NO CARRIER, ...)."""

    def __init__(self, command: str, final: str, lines: list[str] | None = None, message: str | None = None):
        super().__init__(message or f"{command}: {final}")
        self.command = command
        self.final = final
        self.lines = lines or []


class CmeError(AtCommandError):
    """``+CME ERROR: <n>`` (27.007 9.2): equipment / SIM / network errors."""

    def __init__(self, command: str, final: str, code: int | None, text: str | None = None,
                 lines: list[str] | None = None) -> None:
        self.code = code
        self.meaning = text if code is None else cme_meaning(code)
        super().__init__(command, final, lines, f"{command}: +CME ERROR {code if code is not None else text}"
                         f" ({self.meaning})")


class CmsError(AtCommandError):
    """``+CMS ERROR: <n>`` (27.005 3.2.5): message service errors, classified permanent or transient."""

    def __init__(self, command: str, final: str, code: int | None, text: str | None = None,
                 lines: list[str] | None = None) -> None:
        self.code = code
        self.meaning = text if code is None else cms_meaning(code)
        self.permanent = code is not None and cms_is_permanent(code)
        super().__init__(command, final, lines, f"{command}: +CMS ERROR {code if code is not None else text}"
                         f" ({self.meaning})")


class SimError(ModemError):
    """The SIM is missing, locked, or refused a PIN. Never retried automatically with the same PIN."""


class SimPinRequiredError(SimError):
    """The SIM asks for a PIN (or PUK) and none was configured."""


class SimPinRejectedError(SimError):
    """The SIM rejected the configured PIN. gatewayd will not try it again."""


class SimPinAttemptsLowError(SimError):
    """Too few PIN attempts remain to risk one; an operator must enter the PIN by hand."""


class NoNetworkError(ModemError):
    """The modem is not registered on a network (CREG/CEREG), so it cannot send."""


class UnexpectedResponseError(ModemError):
    """The modem answered OK but with lines we could not parse. Carries the raw lines."""

    def __init__(self, command: str, lines: list[str], why: str) -> None:
        super().__init__(f"{command}: unexpected response ({why}): {lines!r}"[:300])
        self.command = command
        self.lines = lines
