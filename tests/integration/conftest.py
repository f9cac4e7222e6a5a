"""Fixtures that connect the real modem stack (transport, session, device) to the emulator.

Every connection here goes through a real pseudo-terminal or a real TCP socket: nothing in these
tests mocks pyserial or the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.device import Modem, ModemSettings
from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import open_port


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(log_path=str(tmp_path / "sent.jsonl"))
    with emu:
        yield emu


def sent_log(emu: Emulator) -> list[dict[str, Any]]:
    """The SMSC's ground truth: one record per accepted part (the same as its JSON-lines log file)."""
    return emu.sent()


class Connector:
    """Opens modems on the emulator and closes everything at teardown."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._cleanup: list[Callable[[], None]] = []

    def url(self, emulated: Any) -> str:
        return emulated.device_path if self.kind == "pty" else emulated.url

    def session(self, emulated: Any) -> AtSession:
        session = AtSession(open_port(self.url(emulated)), modem_id=emulated.modem_id)
        session.start()
        self._cleanup.append(session.close)
        return session

    def modem(self, emulated: Any, settings: ModemSettings | None = None, *, initialise: bool = True) -> Modem:
        session = self.session(emulated)
        modem = Modem(session, modem_id=emulated.modem_id, settings=settings)
        self._cleanup.append(modem.close)
        if initialise:
            modem.initialise()
        return modem

    def close(self) -> None:
        for action in reversed(self._cleanup):
            action()


@pytest.fixture(params=["pty", "tcp"])
def connect(request: pytest.FixtureRequest) -> Iterator[Connector]:
    connector = Connector(request.param)
    yield connector
    connector.close()


@pytest.fixture
def connect_pty() -> Iterator[Connector]:
    connector = Connector("pty")
    yield connector
    connector.close()
