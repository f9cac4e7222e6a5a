"""Where a host reaches an emulated modem: a pseudo-terminal, or a TCP port like ser2net.

Endpoints only move bytes between a file descriptor and the modem; they run on the emulator's
loop thread and never block. Output waiting for a slow (or absent) reader is bounded: a real modem
has a small UART buffer too, and an emulator left running for days with nobody reading its pty must
not grow without limit.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import tty
from collections.abc import Callable

LOGGER = logging.getLogger(__name__)

READ_SIZE = 4096
MAX_PENDING_OUTPUT = 256 * 1024
"""Bytes kept for a reader that does not read; older output is dropped beyond this."""
BUSY_LINE = b"ERROR: port busy, another client is connected\r\n"
"""What a second TCP client hears before being disconnected (ser2net refuses the same way)."""

DataCallback = Callable[[bytes], None]


class _Output:
    """A bounded buffer of bytes waiting for a non-blocking writer."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.data = bytearray()
        self._warned = False

    def add(self, data: bytes) -> None:
        self.data.extend(data)
        excess = len(self.data) - MAX_PENDING_OUTPUT
        if excess > 0:
            del self.data[:excess]
            if not self._warned:
                LOGGER.warning("modem %s: nobody reads; dropping old output", self.owner)
                self._warned = True


class PtyEndpoint:
    """A pty pair: the host opens ``slave_path`` (or the ``link`` symlink to it) as a serial port.

    We keep the slave open ourselves, so a host closing and reopening the port does not make the
    master read EIO; a "disconnect" fault closes both ends so the host does see EIO, as when a USB
    modem is unplugged.
    """

    def __init__(self, modem_id: str, selector: selectors.BaseSelector, on_data: DataCallback,
                 link: str | None = None) -> None:
        self.modem_id = modem_id
        self.link = link
        self._selector = selector
        self._on_data = on_data
        self._out = _Output(modem_id)
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # raw, and no echo by the tty itself: echo is the modem's ATE setting
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self._slave)
        self.closed = False
        if link:
            tmp = f"{link}.tmp{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, link)
        selector.register(self.master, selectors.EVENT_READ, self.handle)
        LOGGER.info("modem %s: pty %s%s", modem_id, self.slave_path, f" (link {link})" if link else "")

    def handle(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            try:
                data = os.read(self.master, READ_SIZE)
            except BlockingIOError:
                data = b""
            except OSError as exc:
                LOGGER.debug("modem %s: pty read failed: %s", self.modem_id, exc)
                data = b""
            if data:
                self._on_data(data)
        if mask & selectors.EVENT_WRITE:
            self._flush()

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        self._out.add(data)
        self._flush()

    def _flush(self) -> None:
        if self.closed:
            return
        while self._out.data:
            try:
                written = os.write(self.master, self._out.data)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                break
            del self._out.data[:written]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out.data else 0)
        self._selector.modify(self.master, events, self.handle)

    def close(self, *, remove_link: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if remove_link and self.link:  # first: a host that reopens at once must not find the old node
            with contextlib.suppress(FileNotFoundError):
                if os.path.islink(self.link) and os.readlink(self.link) == self.slave_path:
                    os.unlink(self.link)
        self._selector.unregister(self.master)
        os.close(self.master)
        os.close(self._slave)


class SocketStream:
    """One connected non-blocking socket with a write buffer, registered on the selector."""

    def __init__(self, sock: socket.socket, selector: selectors.BaseSelector, owner: str,
                 on_data: DataCallback, on_close: Callable[[SocketStream], None]) -> None:
        self.sock = sock
        self.owner = owner
        self._selector = selector
        self._on_data = on_data
        self._on_close = on_close
        self._out = _Output(owner)
        self.closed = False
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, self.handle)

    def handle(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self._on_data(data)
        if mask & selectors.EVENT_WRITE and not self.closed:
            self._flush()

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        self._out.add(data)
        self._flush()

    def _flush(self) -> None:
        while self._out.data:
            try:
                sent = self.sock.send(self._out.data)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            del self._out.data[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out.data else 0)
        self._selector.modify(self.sock, events, self.handle)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._selector.unregister(self.sock)
        self.sock.close()
        self._on_close(self)


def listen_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(8)
    sock.setblocking(False)
    return sock


class TcpEndpoint:
    """A TCP port serving one client at a time, like ser2net in raw mode."""

    def __init__(self, modem_id: str, selector: selectors.BaseSelector, on_data: DataCallback,
                 host: str, port: int) -> None:
        self.modem_id = modem_id
        self._selector = selector
        self._on_data = on_data
        self._listener = listen_socket(host, port)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.client: SocketStream | None = None
        selector.register(self._listener, selectors.EVENT_READ, self._accept)
        LOGGER.info("modem %s: listening on %s:%d", modem_id, *self.address)

    def _accept(self, mask: int) -> None:
        try:
            conn, peer = self._listener.accept()
        except BlockingIOError:
            return
        if self.client is not None:
            LOGGER.info("modem %s: refusing second client %s", self.modem_id, peer)
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                conn.send(BUSY_LINE)
            conn.close()
            return
        LOGGER.info("modem %s: client %s connected", self.modem_id, peer)
        self.client = SocketStream(conn, self._selector, self.modem_id, self._on_data, self._client_gone)

    def _client_gone(self, stream: SocketStream) -> None:
        if self.client is stream:
            LOGGER.info("modem %s: client disconnected", self.modem_id)
            self.client = None

    def write(self, data: bytes) -> None:
        if self.client is not None:  # nobody connected: the bytes are lost, as on a real serial line
            self.client.write(data)

    def drop_client(self) -> None:
        if self.client is not None:
            self.client.close()

    def close(self) -> None:
        self.drop_client()
        self._selector.unregister(self._listener)
        self._listener.close()
