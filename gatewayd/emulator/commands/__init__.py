"""The AT commands the emulated modem understands, declared per area (see ``base.command``)."""

from __future__ import annotations


def load() -> None:
    """Import the command modules so their ``@command`` declarations fill the registry."""
    from gatewayd.emulator.commands import general, network, sim, sms  # noqa: F401
