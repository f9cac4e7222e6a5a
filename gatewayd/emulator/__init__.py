"""An emulated GSM modem and network (SMSC), for demos, tests and users' own tests."""

from gatewayd.emulator.emulator import Emulator, ModemHandle
from gatewayd.emulator.profiles import PROFILES, Quirks

__all__ = ["PROFILES", "Emulator", "ModemHandle", "Quirks"]
