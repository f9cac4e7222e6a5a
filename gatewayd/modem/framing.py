"""Bytes from a modem to lines and the SMS ``> `` prompt.

Modems terminate lines with any mix of CR and LF, pad with NULs after a reset, send the AT+CMGS prompt
with no terminator at all, and now and then emit bytes that are not valid UTF-8 (line noise at the wrong
baud rate, a GSM-charset text body). The framer turns all of that into frames and never raises: one bad
byte must not kill the reader thread that owns the port.

Framing is done character by character over an incremental decoder, so the frames produced do not depend
on how the byte stream was split into reads (the property the tests check with hypothesis).
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass

LOGGER = logging.getLogger(__name__)

MAX_PENDING_CHARS = 64 * 1024
"""Longest unterminated line kept. A modem spewing garbage without newlines must not eat the Pi's memory."""

_TERMINATORS = frozenset("\r\n")
_PROMPT = "> "
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True, slots=True)
class Line:
    """One non-empty line, terminator removed, otherwise as received (no stripping)."""

    text: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """The ``> `` prompt of AT+CMGS / AT+CMGW: the modem waits for the PDU (or text) and Ctrl-Z."""


Frame = Line | Prompt


class LineFramer:
    """Stateful splitter; one per port, fed only from the reader thread (not thread-safe)."""

    def __init__(self, modem_id: str = "-", *, max_pending: int = MAX_PENDING_CHARS) -> None:
        self._modem_id = modem_id
        self._max_pending = max_pending
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf: list[str] = []
        self._warned_undecodable = False
        self.dropped_chars = 0
        """Characters discarded because a line outgrew ``max_pending`` (exported as a counter)."""

    def feed(self, data: bytes) -> list[Frame]:
        """Consume ``data`` and return the frames it completes (possibly none)."""
        text = self._decoder.decode(data.replace(b"\x00", b""))
        if _REPLACEMENT in text and not self._warned_undecodable:
            self._warned_undecodable = True
            LOGGER.warning("%s: received bytes that are not UTF-8; replacing them (warned once)",
                           self._modem_id)
        frames: list[Frame] = []
        buf = self._buf
        for ch in text:
            if ch in _TERMINATORS:
                if buf:
                    line = "".join(buf)
                    buf.clear()
                    if line.strip():
                        frames.append(Line(line))
                continue
            buf.append(ch)
            if ch == " " and len(buf) == 2 and buf[0] == ">":
                buf.clear()
                frames.append(Prompt())
            elif len(buf) > self._max_pending:
                self.dropped_chars += len(buf)
                LOGGER.warning("%s: dropped %s characters received without a line terminator",
                               self._modem_id, len(buf))
                buf.clear()
        return frames

    @property
    def pending(self) -> str:
        """The unterminated tail received so far (for diagnostics)."""
        return "".join(self._buf)
