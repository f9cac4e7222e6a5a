"""The control port: JSON lines, one request one reply, for tests and users driving the emulator.

Requests are decoded and answered here; what they do is the emulator's business (``Dispatch``).
A malformed or failing request gets {"ok": false, "error": ...} and the connection stays usable:
a test that sends a typo must see why, not a dead socket.
"""

from __future__ import annotations

import json
import logging
import selectors
from collections.abc import Callable
from typing import Any

from gatewayd.emulator.endpoints import SocketStream, listen_socket

LOGGER = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
"""A control line longer than this is refused and the client disconnected."""

Dispatch = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    def __init__(self, selector: selectors.BaseSelector, host: str, port: int, dispatch: Dispatch) -> None:
        self._selector = selector
        self._dispatch = dispatch
        self._listener = listen_socket(host, port)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._clients: dict[SocketStream, bytearray] = {}
        selector.register(self._listener, selectors.EVENT_READ, self._accept)
        LOGGER.info("control port on %s:%d", *self.address)

    def _accept(self, mask: int) -> None:
        try:
            conn, _peer = self._listener.accept()
        except BlockingIOError:
            return
        buffer = bytearray()

        def on_data(data: bytes) -> None:
            self._received(stream, buffer, data)

        stream = SocketStream(conn, self._selector, "control", on_data, self._gone)
        self._clients[stream] = buffer

    def _gone(self, stream: SocketStream) -> None:
        self._clients.pop(stream, None)

    def _received(self, stream: SocketStream, buffer: bytearray, data: bytes) -> None:
        buffer.extend(data)
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            if line.strip():
                stream.write(json.dumps(self.answer(line)).encode() + b"\n")
        if len(buffer) > MAX_REQUEST_BYTES:
            stream.write(b'{"ok": false, "error": "request too long"}\n')
            stream.close()

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        try:
            return self._dispatch(request)
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": str(exc) or type(exc).__name__}
        except Exception as exc:  # a bug must not take the control port down
            LOGGER.exception("control request %r failed", request)
            return {"ok": False, "error": f"internal error: {exc}"}

    def close(self) -> None:
        for stream in list(self._clients):
            stream.close()
        self._selector.unregister(self._listener)
        self._listener.close()
