"""sd_notify over real AF_UNIX datagram sockets: a path in tmp_path and an abstract name."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewayd import systemd_notify

RECV_TIMEOUT = 2.0


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[socket.socket]:
    """What systemd does: a datagram socket, named to the service by $NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(RECV_TIMEOUT)
    if request.param == "path":
        path = str(tmp_path / "notify")
        sock.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
    else:
        name = f"gatewayd-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    with sock:
        yield sock


def test_ready_with_status(listener: socket.socket) -> None:
    assert systemd_notify.ready("2 modems\nready")
    assert listener.recv(4096) == b"READY=1\nSTATUS=2 modems ready"


def test_each_notification_is_one_datagram(listener: socket.socket) -> None:
    assert systemd_notify.watchdog()
    assert systemd_notify.status("sending 3")
    assert systemd_notify.stopping()
    assert systemd_notify.ready()
    received = [listener.recv(4096) for _ in range(4)]
    assert received == [b"WATCHDOG=1", b"STATUS=sending 3", b"STOPPING=1", b"READY=1"]


def test_status_is_cut_to_one_short_line(listener: socket.socket) -> None:
    systemd_notify.status("x" * 1000)
    assert listener.recv(4096) == b"STATUS=" + b"x" * systemd_notify.MAX_STATUS_LENGTH


def test_outside_systemd_everything_is_a_no_op() -> None:
    assert not systemd_notify.ready()
    assert not systemd_notify.watchdog()
    assert not systemd_notify.stopping()
    assert not systemd_notify.status("x")
    assert systemd_notify.watchdog_interval() is None


def test_a_dead_socket_is_logged_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert not systemd_notify.ready()
    assert "systemd notify READY=1 failed" in caplog.text


def test_unsupported_address_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not systemd_notify.ready()


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    ("30000000", None, 30.0),
    ("30000000", "self", 30.0),
    ("30000000", "other", None),
    ("500000", None, 0.5),
    ("0", None, None),
    ("soon", None, None),
])
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str, pid: str | None,
                           expected: float | None) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() if pid == "self" else os.getpid() + 1))
    assert systemd_notify.watchdog_interval() == expected
