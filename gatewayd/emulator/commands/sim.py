"""SIM commands: PIN / PUK (27.007 8.3, 8.65), identity (IMSI, ICCID in its vendor spellings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewayd.emulator.commands.base import CommandFailure, Reply, Request, cme, command
from gatewayd.emulator.sim import PinRejected, SimState

if TYPE_CHECKING:
    from gatewayd.emulator.modem import EmulatedModem


@command("+CPIN")
def pin(modem: EmulatedModem, request: Request) -> Reply:
    sim = modem.sim
    if request.form == "test":
        return []
    if sim.state is SimState.BLOCKED:
        raise cme(13)
    if request.form == "read":
        return [f"+CPIN: {sim.state.value}"]
    if request.form != "set" or request.arg(0) is None:
        raise cme(50)
    code = request.arg(0) or ""
    try:
        if sim.state is SimState.PIN:
            sim.enter_pin(code)
        elif sim.state is SimState.PUK:
            new_pin = request.arg(1)
            if new_pin is None:
                raise cme(12)
            sim.enter_puk(code, new_pin)
        else:
            raise cme(3)
    except PinRejected:
        raise cme(16) from None
    modem.registration_changed()
    return []


@command("+CPINR")
def pin_retries(modem: EmulatedModem, request: Request) -> Reply:
    sim = modem.sim
    if request.form == "test":
        return []
    wanted = (request.arg(0) or "*").upper()
    lines = [f"+CPINR: SIM PIN,{sim.pin_attempts},3", f"+CPINR: SIM PUK,{sim.puk_attempts},10"]
    return [line for line in lines if wanted in ("*", "SIM*", line[8:15])]


@command("+QPINC")
def quectel_pin_counter(modem: EmulatedModem, request: Request) -> Reply:
    if modem.quirks.pin_counter_command != "+QPINC":
        raise CommandFailure("unknown")
    if request.form == "test":
        return ['+QPINC: ("SC","P2")']
    sim = modem.sim
    lines = [f'+QPINC: "SC",{sim.pin_attempts},{sim.puk_attempts}', '+QPINC: "P2",3,10']
    facility = request.arg(0)
    return [line for line in lines if facility is None or f'"{facility.upper()}"' in line]


@command("+CIMI", gate="cme")
def imsi(modem: EmulatedModem, request: Request) -> Reply:
    return [] if request.form == "test" else [modem.sim.imsi]


@command("+CCID", "+QCCID", "^ICCID", gate="cme")
def iccid(modem: EmulatedModem, request: Request) -> Reply:
    """Each vendor spells the ICCID command its own way; only the profile's spelling exists."""
    if request.name != modem.quirks.iccid_command:
        raise CommandFailure("unknown")
    if request.form == "test":
        return []
    return [f"{request.name}: {modem.sim.iccid}"]


@command("+CNUM", gate="cme")
def own_number(modem: EmulatedModem, request: Request) -> Reply:
    return [] if request.form == "test" else [f'+CNUM: "","{modem.number}",145']
