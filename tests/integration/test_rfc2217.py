"""``rfc2217://`` URLs: the modem stack through a real RFC 2217 (telnet COM-port control) server.

The server is pyserial's own ``PortManager`` bridging a TCP connection to the emulator's pty, the same
way ser2net or a terminal server in ``rfc2217`` mode puts a remote modem on the LAN.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import serial
import serial.rfc2217

from gatewayd.emulator.emulator import Emulator
from gatewayd.modem.device import Modem
from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import open_port
from tests.integration.conftest import sent_log

POLL = 0.1


class _Writer:
    """PortManager writes telnet negotiation through ``.write``; a socket calls it ``sendall``."""

    def __init__(self, connection: socket.socket) -> None:
        self.write = connection.sendall


class _PtyLines:
    """The serial port as PortManager sees it: a pty has no modem-control lines (DTR/RTS ioctls fail
    with ENOTTY), so line changes are accepted and ignored, and the lines read as a present modem."""

    _IGNORED = frozenset({"rts", "dtr", "break_condition"})
    cts = dsr = cd = True
    ri = False

    def __init__(self, port: serial.Serial) -> None:
        object.__setattr__(self, "_port", port)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._IGNORED:
            setattr(self._port, name, value)


class Rfc2217Server:
    """One client at a time, relaying between a TCP socket (RFC 2217) and a local serial device."""

    def __init__(self, device: str) -> None:
        self._device = device
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rfc2217-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._listener.settimeout(POLL)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection, serial.Serial(self._device, timeout=0) as port:
                manager = serial.rfc2217.PortManager(_PtyLines(port), _Writer(connection))
                self._relay(connection, port, manager)

    def _relay(self, connection: socket.socket, port: serial.Serial, manager: Any) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([connection, port.fileno()], [], [], POLL)
            if connection in readable:
                data = connection.recv(4096)
                if not data:
                    return
                port.write(b"".join(manager.filter(data)))
            if port.fileno() in readable:
                data = port.read(4096)
                if data:
                    connection.sendall(b"".join(manager.escape(data)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def server(emulator: Emulator) -> Iterator[tuple[Rfc2217Server, Any]]:
    emulated = emulator.add_modem(number="+15550000001")
    relay = Rfc2217Server(emulated.device_path)
    yield relay, emulated
    relay.close()


def test_probe_and_send_over_rfc2217(emulator: Emulator, server: tuple[Rfc2217Server, Any]) -> None:
    relay, emulated = server
    port = open_port(f"rfc2217://127.0.0.1:{relay.port}", baudrate=115200)
    with AtSession(port, modem_id="rfc2217") as session:
        modem = Modem(session, modem_id="rfc2217")
        identity = modem.initialise()
        assert identity.imei == emulated.imei
        result = modem.send("+447700900123", "over RFC 2217")
        assert [(e["text"], e["mr"]) for e in sent_log(emulator)] == [("over RFC 2217", result.references[0])]
        modem.close()
