"""A small scripted modem on the far end of a real pseudo-terminal or a real TCP socket.

It parses what the session writes the way a modem does (commands end at CR; after ``AT+CMGS=`` it is in
text-entry mode until Ctrl-Z or ESC), answers from a script, and records what it received so that tests
can assert on the exact byte-level conversation: nothing written between ``AT+CMGS=`` and the PDU, ESC
sent where it must be.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Callable
from typing import Protocol

CTRL_Z = b"\x1a"
ESC = b"\x1b"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
PROMPT = b"\r\n> "

Reply = bytes | Callable[["FakeModem", str], None]
"""Bytes to write back, or a function that does its own writes (and may wait on events)."""


class Link(Protocol):
    url: str

    def attach(self) -> None:
        """Become ready to exchange bytes (accept the connection); called on the fake's thread."""

    def fileno(self) -> int: ...
    def recv(self) -> bytes: ...
    def send(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class PtyLink:
    """The fake holds the master side; the session opens the slave path through transport.open_port."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.url = os.ttyname(self.slave)
        self._closed = False

    def attach(self) -> None:
        pass

    def fileno(self) -> int:
        return self.master

    def recv(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except OSError:  # EIO once the slave side is closed
            return b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.master, view)
            view = view[written:]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.master)
            os.close(self.slave)


class TcpLink:
    """A ser2net stand-in: the session connects to socket://127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.conn: socket.socket | None = None

    def attach(self) -> None:
        self.conn, _ = self.server.accept()

    def fileno(self) -> int:
        assert self.conn is not None
        return self.conn.fileno()

    def recv(self) -> bytes:
        assert self.conn is not None
        try:
            return self.conn.recv(4096)
        except OSError:
            return b""

    def send(self, data: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


class FakeModem:
    """Scripted AT responder. Defaults: ``AT`` -> OK, ``AT+CMGS=``/``AT+CMGW=`` -> prompt, payload ->
    ``+CMGS: <n>`` (n counting from 1) and OK, anything else -> ERROR."""

    def __init__(self, link: Link, *, echo: bool = False, prompt_delay: float = 0.0) -> None:
        self.link = link
        self.echo = echo
        self.prompt_delay = prompt_delay
        """Wait this long before the prompt; any byte arriving meanwhile is an interleaving violation."""
        self.received: list[str] = []
        """Commands as received, ``PAYLOAD:<text>`` for text entered at the prompt, ``ESC`` for aborts."""
        self.violations: list[str] = []
        self.replies: dict[str, Reply] = {"AT": OK}
        self.payload_reply: Callable[[FakeModem, str], None] = FakeModem._default_payload_reply
        self.escape_reply: bytes = OK
        self.next_mr = 1
        self.command_seen = threading.Condition()
        self._buffer = b""
        self._in_text_entry = False
        self._send_lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="fake-modem", daemon=True)
        self._hung_up = False
        self._attached = threading.Event()

    # -- script ----------------------------------------------------------------------------------

    def on(self, command: str, reply: Reply) -> None:
        self.replies[command] = reply

    def send(self, data: bytes) -> None:
        """Write unsolicited bytes (from the test thread or a reply function)."""
        if not self._attached.wait(5):
            raise RuntimeError("nobody connected to the fake modem")
        with self._send_lock:
            self.link.send(data)

    def wait_received(self, item: str, timeout: float = 5.0) -> bool:
        with self.command_seen:
            return self.command_seen.wait_for(lambda: item in self.received, timeout)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeModem:
        self._thread.start()
        return self

    def hang_up(self) -> None:
        """Drop the line like an unplugged USB modem or a dead ser2net."""
        if threading.current_thread() is self._thread:
            self._hung_up = True
            self.link.close()
        else:
            self.stop()
            self.link.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join(5)

    def close(self) -> None:
        self.stop()
        self.link.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    # -- device side ---------------------------------------------------------------------------

    def _run(self) -> None:
        self.link.attach()
        self._attached.set()
        while not self._hung_up:
            ready, _, _ = select.select([self.link.fileno(), self._stop_r], [], [])
            if self._stop_r in ready:
                return
            data = self.link.recv()
            if not data:
                return
            self._consume(data)

    def _record(self, item: str) -> None:
        with self.command_seen:
            self.received.append(item)
            self.command_seen.notify_all()

    def _consume(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer and not self._hung_up:
            if self._in_text_entry:
                end = min((i for i in (self._buffer.find(CTRL_Z), self._buffer.find(ESC)) if i >= 0),
                          default=-1)
                if end < 0:
                    return
                text, terminator = self._buffer[:end].decode(), self._buffer[end:end + 1]
                self._buffer = self._buffer[end + 1:]
                self._in_text_entry = False
                if "\r" in text or not all(c in "0123456789ABCDEFabcdef" for c in text):
                    self.violations.append(f"text entry held more than a PDU: {text!r}")
                if terminator == ESC:
                    self._record("ESC")
                    self.send(self.escape_reply)
                else:
                    self._record(f"PAYLOAD:{text}")
                    if self.echo:
                        self.send(text.encode() + CTRL_Z)
                    self.payload_reply(self, text)
                continue
            if self._buffer.startswith(ESC):
                self._buffer = self._buffer[1:]
                self._record("ESC")
                continue
            end = self._buffer.find(b"\r")
            if end < 0:
                return
            command = self._buffer[:end].decode().strip()
            self._buffer = self._buffer[end + 1:]
            if command:
                self._answer(command)

    def _answer(self, command: str) -> None:
        self._record(command)
        if self.echo:
            self.send(command.encode() + b"\r")
        reply = self.replies.get(command)
        if reply is None and command.upper().startswith(("AT+CMGS=", "AT+CMGW=")):
            self._prompt()
            return
        if reply is None:
            reply = ERROR
        if isinstance(reply, bytes):
            self.send(reply)
        else:
            reply(self, command)

    def _prompt(self) -> None:
        if self.prompt_delay:
            ready, _, _ = select.select([self.link.fileno()], [], [], self.prompt_delay)
            if ready or self._buffer:
                self.violations.append("bytes arrived before the prompt was sent")
        self._in_text_entry = True
        self.send(PROMPT)

    def enter_text_mode(self) -> None:
        """For reply functions that send their own prompt."""
        self._in_text_entry = True

    def _default_payload_reply(self, payload: str) -> None:
        mr = self.next_mr
        self.next_mr += 1
        self.send(f"\r\n+CMGS: {mr}\r\n\r\nOK\r\n".encode())
