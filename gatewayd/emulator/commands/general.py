"""V.250 basics, identification and terminal settings (27.007 clause 5 and 9.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewayd.emulator.commands.base import CommandFailure, Handler, Reply, Request, cme, command

if TYPE_CHECKING:
    from gatewayd.emulator.modem import EmulatedModem


def _flag(request: Request, allowed: str = "01") -> bool:
    digits = request.digits or "0"
    if digits not in allowed:
        raise CommandFailure("error")
    return digits == "1"


@command("E")
def echo(modem: EmulatedModem, request: Request) -> Reply:
    modem.settings.echo = _flag(request)
    return []


@command("V")
def verbose(modem: EmulatedModem, request: Request) -> Reply:
    modem.settings.verbose = _flag(request)
    return []


@command("Q")
def quiet(modem: EmulatedModem, request: Request) -> Reply:
    modem.settings.quiet = _flag(request)
    return []


@command("Z", "&F")
def reset(modem: EmulatedModem, request: Request) -> Reply:
    modem.reset_settings()
    return []


@command("&C", "&D", "&K", "&W", "X", "L", "M", "S", "+CVHU", "+CLIP", "+CRC", "+IPR", "+IFC", "+CMUX")
def accepted(modem: EmulatedModem, request: Request) -> Reply:
    """Settings that change nothing in an emulated modem: accepted, as a real one would."""
    if request.form == "read" and request.name.startswith("+"):
        return [f"{request.name}: 0"]
    if request.form == "read" and request.name == "S":
        return ["000"]
    return []


@command("H")
def hang_up(modem: EmulatedModem, request: Request) -> Reply:
    return []


@command("D", "A")
def voice(modem: EmulatedModem, request: Request) -> Reply:
    raise CommandFailure("literal", text="NO CARRIER")


@command("I")
def identify(modem: EmulatedModem, request: Request) -> Reply:
    quirks = modem.quirks
    return [quirks.manufacturer, quirks.model, f"Revision: {quirks.revision}"]


def _identity(value: str) -> Handler:
    def handler(modem: EmulatedModem, request: Request) -> Reply:
        if request.form == "test":
            return []
        return [modem.imei if value == "imei" else str(getattr(modem.quirks, value))]

    return handler


command("+CGMI", "+GMI")(_identity("manufacturer"))
command("+CGMM", "+GMM")(_identity("model"))
command("+CGMR", "+GMR")(_identity("revision"))
command("+CGSN", "+GSN")(_identity("imei"))


@command("+GCAP")
def capabilities(modem: EmulatedModem, request: Request) -> Reply:
    return ["+GCAP: +CGSM"]


@command("+CMEE")
def report_errors(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "read":
        return [f"+CMEE: {modem.settings.cmee}"]
    if request.form == "test":
        return ["+CMEE: (0-2)"]
    value = request.int_arg(0, 0)
    if value not in (0, 1, 2):
        raise cme(50)
    modem.settings.cmee = value
    return []


@command("+CFUN")
def functionality(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "read":
        return [f"+CFUN: {modem.cfun}"]
    if request.form == "test":
        return ["+CFUN: (0,1,4),(0,1)"]
    fun = request.int_arg(0)
    if fun not in (0, 1, 4):
        raise cme(50)
    modem.cfun = fun
    if request.int_arg(1, 0) == 1:
        modem.reset_settings()
    modem.registration_changed()
    return []


@command("+CSCS")
def character_set(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "read":
        return [f'+CSCS: "{modem.settings.cscs}"']
    if request.form == "test":
        return ['+CSCS: ("GSM","IRA","UCS2")']
    value = (request.arg(0) or "").upper()
    if value not in ("GSM", "IRA", "UCS2"):
        raise cme(4)
    modem.settings.cscs = value
    return []


@command("^CURC")
def huawei_urc_control(modem: EmulatedModem, request: Request) -> Reply:
    """Huawei: AT^CURC=0 silences the periodic ^RSSI / ^MODE / ^BOOT codes."""
    if not modem.quirks.periodic_urcs:
        raise CommandFailure("unknown")
    if request.form == "read":
        return [f"^CURC: {int(modem.settings.curc)}"]
    if request.form == "set":
        modem.settings.curc = request.int_arg(0, 1) == 1
    return []
