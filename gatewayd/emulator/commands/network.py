"""Network commands: signal, registration, operator (27.007 7.2, 7.3, 8.5, 10.1.x) and USSD (7.15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewayd.emulator.commands.base import CommandFailure, Reply, Request, cme, command

if TYPE_CHECKING:
    from gatewayd.emulator.modem import EmulatedModem

USSD_ANSWER = "Your balance is 10.00 EUR. Number {number}."
"""What the emulated network answers to any USSD request."""


@command("+CSQ")
def signal_quality(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return ["+CSQ: (0-31,99),(0-7,99)"]
    return [f"+CSQ: {modem.rssi},{0 if modem.registered else 99}"]


def _registration(name: str, attribute: str) -> None:
    def handler(modem: EmulatedModem, request: Request) -> Reply:
        if request.form == "test":
            return [f"{name}: (0-2)"]
        if request.form == "read":
            n = getattr(modem.settings, attribute)
            stat = 1 if modem.registered else 0
            if n == 2 and stat:
                return [f'{name}: 2,{stat},"00A1","0B2C",7']
            return [f"{name}: {n},{stat}"]
        if request.form == "set":
            value = request.int_arg(0, 0)
            if value not in (0, 1, 2):
                raise cme(50)
            setattr(modem.settings, attribute, value)
            return []
        raise CommandFailure("error")

    command(name)(handler)


_registration("+CREG", "creg")
_registration("+CGREG", "cgreg")
_registration("+CEREG", "cereg")


@command("+COPS")
def operator(modem: EmulatedModem, request: Request) -> Reply:
    quirks = modem.quirks
    if request.form == "test":
        return [f'+COPS: (2,"{quirks.operator}","EmuNet","{quirks.operator_numeric}",7),,(0-4),(0-2)']
    if request.form == "read":
        if not modem.registered:
            return ["+COPS: 0"]
        fmt = modem.settings.cops_format
        name = quirks.operator_numeric if fmt == 2 else quirks.operator
        return [f'+COPS: 0,{fmt},"{name}",7']
    if request.form == "set":
        mode = request.int_arg(0, 0)
        if mode == 3:
            fmt = request.int_arg(1, 0) or 0
            if fmt not in (0, 1, 2):
                raise cme(50)
            modem.settings.cops_format = fmt
        elif mode not in (0, 1, 2, 4):
            raise cme(50)
    return []


@command("+CUSD", gate="cme")
def ussd(modem: EmulatedModem, request: Request) -> Reply:
    """OK at once; the network's answer arrives later as a +CUSD unsolicited code."""
    if request.form == "test":
        return ["+CUSD: (0-2)"]
    if request.form == "read":
        return [f"+CUSD: {modem.settings.cusd}"]
    n = request.int_arg(0, 0)
    if n not in (0, 1, 2):
        raise cme(50)
    if n != 2:
        modem.settings.cusd = n
    if request.arg(1) is None or n == 2:
        return []
    if not modem.registered:
        raise cme(30)
    answer = USSD_ANSWER.format(number=modem.number)
    if modem.quirks.ussd_ucs2_hex:
        line = f'+CUSD: 0,"{answer.encode("utf-16-be").hex().upper()}",72'
    else:
        line = f'+CUSD: 0,"{answer}",15'
    modem.scheduler.call_later(modem.ussd_delay, lambda: modem.unsolicited([line]))
    return []
