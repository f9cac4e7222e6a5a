"""transport.open_port against real ptys and real TCP sockets."""

from __future__ import annotations

import os
import socket
import tty
from collections.abc import Iterator

import pytest

from gatewayd.modem.errors import PortBusyError, PortError, PortNotFoundError
from gatewayd.modem.transport import READ_TIMEOUT, open_port


@pytest.fixture
def pty_path() -> Iterator[str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_opens_a_pty_with_a_read_timeout(pty_path: str) -> None:
    port = open_port(pty_path)
    try:
        assert port.is_open
        assert port.timeout == READ_TIMEOUT
        assert port.exclusive
    finally:
        port.close()


def test_second_exclusive_open_is_busy(pty_path: str) -> None:
    first = open_port(pty_path)
    try:
        with pytest.raises(PortBusyError) as caught:
            open_port(pty_path)
        assert caught.value.port == pty_path
        assert "busy" in caught.value.reason
    finally:
        first.close()
    open_port(pty_path).close()  # the lock goes with the port


def test_non_exclusive_open_is_allowed_twice(pty_path: str) -> None:
    first = open_port(pty_path, exclusive=False)
    second = open_port(pty_path, exclusive=False)
    first.close()
    second.close()


def test_missing_device_is_not_found(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "ttyUSB9")
    with pytest.raises(PortNotFoundError) as caught:
        open_port(missing)
    assert "not found" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_socket_url_opens_and_carries_bytes() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port_number = server.getsockname()[1]
        port = open_port(f"socket://127.0.0.1:{port_number}", rtscts=True)
        conn, _ = server.accept()
        try:
            port.write(b"AT\r")
            assert conn.recv(16) == b"AT\r"
            conn.sendall(b"\r\nOK\r\n")
            assert port.read(6) == b"\r\nOK\r\n"
        finally:
            conn.close()
            port.close()


def test_refused_socket_is_not_found() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port_number = server.getsockname()[1]
    with pytest.raises(PortNotFoundError) as caught:
        open_port(f"socket://127.0.0.1:{port_number}")
    assert "refused" in caught.value.reason.lower()


def test_unknown_scheme_is_a_port_error() -> None:
    with pytest.raises(PortError) as caught:
        open_port("bogus://nowhere")
    assert not isinstance(caught.value, PortBusyError | PortNotFoundError)
    assert "invalid port URL" in caught.value.reason


def test_permission_denied_is_explained(tmp_path: os.PathLike[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    path = os.path.join(tmp_path, "ttyS0")
    with open(path, "w"):
        pass
    os.chmod(path, 0)
    with pytest.raises(PortError) as caught:
        open_port(path)
    assert "permission denied" in caught.value.reason
