"""Quirk flags of emulated modems, and named profiles that combine them.

Real modems differ in ways that break naive AT clients: unsolicited codes in the middle of a
response, a busy period after power-up, vendor commands for the ICCID, "COMMAND NOT SUPPORT"
instead of ERROR. Each difference is one flag here, so a test can switch on exactly the quirk it
is about (``dataclasses.replace(PROFILES["generic"], urc_inside=True)``) instead of a whole vendor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Quirks:
    """One modem model's behaviour; the defaults are a clean 27.005 / 27.007 modem."""

    name: str = "generic"
    manufacturer: str = "gatewayd"
    model: str = "EMU-1"
    revision: str = "EMU-1.0.0"
    iccid_command: str = "+CCID"
    """The command answering the ICCID: "+CCID", "+QCCID" (Quectel) or "^ICCID" (Huawei)."""
    unknown_reply: str = "ERROR"
    """The final result for an unknown command ("COMMAND NOT SUPPORT" on Huawei)."""
    urc_inside: bool = False
    """Unsolicited codes are written between the lines of a response, not only between commands."""
    inside_urcs: tuple[str, ...] = ()
    """Extra unsolicited lines injected (cycled) into responses when ``urc_inside`` is set."""
    split_pdu_writes: bool = False
    """A +CMT / +CDS header and its PDU line arrive in separate writes, the PDU a moment later."""
    boot_urcs: tuple[str, ...] = ()
    """Lines written once after power-up (SIMCom: RDY, +CPIN: READY, Call Ready, SMS Ready)."""
    busy_after_boot: int = 0
    """How many commands after power-up are answered "+CME ERROR: 515" (init in progress)."""
    periodic_urcs: tuple[str, ...] = ()
    """Lines written every ``periodic_interval`` seconds (Huawei ^RSSI / ^MODE), off after AT^CURC=0."""
    periodic_interval: float = 10.0
    pin_counter_command: str | None = None
    """A vendor command reporting PIN attempts ("+QPINC" on Quectel) besides 27.007 +CPINR."""
    ussd_ucs2_hex: bool = False
    """USSD answers as UCS2 hex with DCS 72 instead of plain text with DCS 15."""
    cnmi_default: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)
    storage_capacity: int = 30
    """Slots in each message memory (SM, ME, SR)."""
    operator: str = "Emulated Network"
    operator_numeric: str = "00101"


GENERIC = Quirks()

PROFILES: dict[str, Quirks] = {
    "generic": GENERIC,
    "urc_inside": dataclasses.replace(
        GENERIC,
        name="urc_inside",
        urc_inside=True,
        split_pdu_writes=True,
        inside_urcs=("^RSSI: 18", "+CREG: 1", "RING"),
    ),
    "simcom": dataclasses.replace(
        GENERIC,
        name="simcom",
        manufacturer="SIMCOM_Ltd",
        model="SIMCOM_SIM800L",
        revision="Revision:1418B04SIM800L24",
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
        busy_after_boot=2,
    ),
    "quectel": dataclasses.replace(
        GENERIC,
        name="quectel",
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        iccid_command="+QCCID",
        pin_counter_command="+QPINC",
    ),
    "huawei": dataclasses.replace(
        GENERIC,
        name="huawei",
        manufacturer="huawei",
        model="E173",
        revision="11.126.85.00.209",
        iccid_command="^ICCID",
        unknown_reply="COMMAND NOT SUPPORT",
        boot_urcs=("^BOOT:20342171,0,0,0,75",),
        periodic_urcs=("^RSSI:18", "^MODE:5,4", "^BOOT:20342171,0,0,0,75"),
        ussd_ucs2_hex=True,
    ),
}


def resolve_profile(profile: str | Quirks) -> Quirks:
    """A profile by name (ValueError naming the known ones when unknown), or the Quirks given."""
    if isinstance(profile, Quirks):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(sorted(PROFILES))})") from None
