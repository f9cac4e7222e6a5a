"""The AT session: one command in flight, final result codes, URC routing, timeouts and resync.

pyserial is blocking and the daemon is threaded, so one reader thread per port turns bytes into lines
and routes each line, as it arrives, to exactly one place:

- the continuation of a URC header that is still open (``+CMT`` / ``+CDS`` PDU line, by protocol the
  line right after its header, however the bytes were split into reads);
- an unsolicited code (``urc.URC_TABLE``) -> URC listeners, even in the middle of a response;
- the echo of the command (ATE1) -> dropped;
- the command in flight (information lines, its final result code, the ``> `` prompt);
- otherwise a *stray* line -> stray listeners. After a timeout this is where a late answer lands,
  so the device layer can notice that a send it gave up on went out after all.

Callers block on a condition with a timeout. A timeout marks the session out of sync; before anything
else is sent, the session drains the line until quiet and exchanges ``AT``/``OK`` again, so a late reply
is never taken as the next command's answer. The transaction lock covers a whole AT+CMGS exchange
(command, prompt, PDU, result): nothing can be written between ``AT+CMGS=`` and the PDU.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Generic, NoReturn, ParamSpec, Protocol

from gatewayd.modem.errors import (
    AtCommandError,
    AtTimeoutError,
    CmeError,
    CmsError,
    ModemError,
    SessionClosedError,
    UnexpectedResponseError,
)
from gatewayd.modem.framing import LineFramer, Prompt
from gatewayd.modem.result_codes import CME_ERRORS, CMS_ERRORS, FINAL_OK
from gatewayd.modem.transport import READ_TIMEOUT
from gatewayd.modem.urc import (
    Urc,
    UrcAssembler,
    claims_of,
    expects_body,
    is_final,
    is_late_reply,
    unsolicited_spec,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""Most commands answer within milliseconds; a few (AT+COPS?, AT+CMGL on a full SIM) take seconds."""
CMGS_TIMEOUT = 60.0
"""27.005 leaves AT+CMGS to the network: several tens of seconds on a congested cell are normal."""
PROMPT_TIMEOUT = 5.0
"""The ``> `` prompt comes from the modem itself, not the network: if it takes longer, it will not come."""
RESYNC_QUIET = 0.3
"""Silence that ends a drain: long enough for the rest of a late reply, short enough to stay responsive."""
RESYNC_DRAIN_MAX = 5.0
"""A modem that never stops talking is resynchronised anyway after this long."""
RESYNC_AT_TIMEOUT = 1.0
"""Answer time allowed to each ``AT`` of a resync."""
RESYNC_ATTEMPTS = 3
JOIN_TIMEOUT = 2.0
"""How long close() waits for the reader thread (it wakes at least every port read timeout)."""

CTRL_Z = "\x1a"
ESC = "\x1b"

_P = ParamSpec("_P")


class PortLike(Protocol):
    """What the session needs from a port: a pyserial ``SerialBase``, or an in-memory test double.

    Every concrete pyserial class also has ``in_waiting`` (the stubs leave it off ``SerialBase``); the
    reader uses it when present to read what is buffered in one call instead of waiting for a full chunk.
    """

    @property
    def timeout(self) -> float | None: ...
    @timeout.setter
    def timeout(self, value: float | None) -> None: ...
    def read(self, size: int = 1, /) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class AtResponse:
    """A command that ended with a successful final result code."""

    command: str
    lines: list[str]
    """Information lines, stripped, echo and URCs removed."""
    final: str


@dataclass
class SessionStats:
    """Counters for the metrics endpoint. ``AtSession.stats`` returns a consistent snapshot."""

    commands: int = 0
    errors: int = 0
    timeouts: int = 0
    resyncs: int = 0
    urcs: int = 0
    stray_lines: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


@dataclass(eq=False)
class _Pending:
    """The transaction in flight; written by the reader under the condition, read by the caller."""

    command: str
    claims: frozenset[str]
    want_prompt: bool = False
    internal: bool = False
    """A resync ``AT``: its information lines (a late ``+CMGS:``) are strays, not answers."""
    echoes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    final: str | None = None
    prompt_seen: bool = False
    body_next: bool = False
    late_oks: int = 0
    """``OK`` codes owed to late replies seen during this command (each ``+CMGS: n`` brings its own)."""


class _Listeners(Generic[_P]):
    """Callbacks of one kind. An exception in one is logged and never reaches the reader thread."""

    def __init__(self, kind: str, modem_id: str) -> None:
        self._kind = kind
        self._modem_id = modem_id
        self._lock = threading.Lock()
        self._callbacks: list[Callable[_P, None]] = []

    def add(self, callback: Callable[_P, None]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                try:
                    self._callbacks.remove(callback)
                except ValueError:
                    pass

        return unsubscribe

    def notify(self, *args: _P.args, **kwargs: _P.kwargs) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args, **kwargs)
            except Exception:
                LOGGER.exception("modem %s: %s listener %r failed", self._modem_id, self._kind, callback)


def _unique_reverse(table: dict[int, str]) -> dict[str, int]:
    """Verbose text (AT+CMEE=2) back to its code, leaving out texts shared by several codes."""
    seen: dict[str, list[int]] = {}
    for code, text in table.items():
        seen.setdefault(text.lower(), []).append(code)
    return {text: codes[0] for text, codes in seen.items() if len(codes) == 1}


_CME_BY_TEXT = _unique_reverse(CME_ERRORS)
_CMS_BY_TEXT = _unique_reverse(CMS_ERRORS)


def _error_code(arg: str, by_text: dict[str, int]) -> tuple[int | None, str | None]:
    arg = arg.strip()
    if arg.isdigit():
        return int(arg), None
    return by_text.get(arg.lower()), arg or None


def error_for(command: str, final: str, lines: list[str]) -> AtCommandError:
    """The typed error for an error final result code (numeric or verbose CME/CMS, or a bare code)."""
    if final.startswith("+CME ERROR:"):
        code, text = _error_code(final[len("+CME ERROR:"):], _CME_BY_TEXT)
        return CmeError(command, final, code, text, lines)
    if final.startswith("+CMS ERROR:"):
        code, text = _error_code(final[len("+CMS ERROR:"):], _CMS_BY_TEXT)
        return CmsError(command, final, code, text, lines)
    return AtCommandError(command, final, lines)


def _echo_key(text: str) -> str:
    key = text.strip().strip(CTRL_Z + ESC).strip()
    if key.startswith("> "):
        key = key[2:].strip()
    return key.upper()


def _check_text(what: str, text: str) -> None:
    if any(ch in text for ch in "\r\n" + CTRL_Z + ESC):
        raise ValueError(f"{what} must not contain CR, LF, Ctrl-Z or ESC: {text!r}")


class AtSession:
    """One modem's AT channel. Thread-safe: callers queue on a lock, one transaction at a time.

    Listeners (URC, stray, line, close) run in the reader thread: they must return quickly and must not
    call :meth:`command` (that would wait for the thread that is running them). Hand work over to a
    queue instead.
    """

    def __init__(self, port: PortLike, *, modem_id: str) -> None:
        self.modem_id = modem_id
        self._port = port
        self._framer = LineFramer(modem_id)
        self._assembler = UrcAssembler(modem_id)
        self._lock = threading.Lock()
        """Held for a whole transaction, resync included."""
        self._cond = threading.Condition()
        """Guards the state below; the reader notifies it."""
        self._pending: _Pending | None = None
        self._stats = SessionStats()
        self._out_of_sync = False
        self._closed = False
        self._close_reason: BaseException | None = None
        self._last_rx = 0.0
        self._last_timed_out: str | None = None
        self._answered = False
        """Whether any command has had its final result code or prompt: until then the modem's state is unknown."""
        self._reader: threading.Thread | None = None
        self._urc_listeners: _Listeners[[Urc]] = _Listeners("URC", modem_id)
        self._stray_listeners: _Listeners[[str, str | None]] = _Listeners("stray", modem_id)
        self._line_listeners: _Listeners[[str]] = _Listeners("line", modem_id)
        self._close_listeners: _Listeners[[BaseException | None]] = _Listeners("close", modem_id)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread. A port without a read timeout gets one, so that close() is noticed."""
        if self._reader is not None:
            raise RuntimeError(f"modem {self.modem_id}: session already started")
        if self._port.timeout is None:
            self._port.timeout = READ_TIMEOUT
        self._reader = threading.Thread(target=self._read_loop, name=f"at-reader-{self.modem_id}",
                                        daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Stop the reader, close the port, fail a waiting command. Idempotent."""
        self._shutdown(None)

    def __enter__(self) -> AtSession:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    @property
    def out_of_sync(self) -> bool:
        with self._cond:
            return self._out_of_sync

    @property
    def stats(self) -> SessionStats:
        with self._cond:
            return replace(self._stats)

    @property
    def last_timed_out_command(self) -> str | None:
        with self._cond:
            return self._last_timed_out

    # -- listeners -------------------------------------------------------------------------------

    def add_urc_listener(self, callback: Callable[[Urc], None]) -> Callable[[], None]:
        """Call ``callback(urc)`` for every unsolicited code. Returns the unsubscribe function."""
        return self._urc_listeners.add(callback)

    def add_stray_listener(self, callback: Callable[[str, str | None], None]) -> Callable[[], None]:
        """Call ``callback(line, last_timed_out_command)`` for lines that answer nothing in flight."""
        return self._stray_listeners.add(callback)

    def add_line_listener(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(line)`` for every line received (operator tracing), before routing it."""
        return self._line_listeners.add(callback)

    def add_close_listener(self, callback: Callable[[BaseException | None], None]) -> Callable[[], None]:
        """Call ``callback(reason)`` once when the session closes: None after close(), else the error."""
        return self._close_listeners.add(callback)

    # -- commands --------------------------------------------------------------------------------

    def command(self, cmd: str, *, timeout: float = DEFAULT_TIMEOUT) -> AtResponse:
        """Send ``cmd`` and wait for its final result code; raise a typed error for an error code."""
        _check_text("command", cmd)
        with self._lock:
            self._ensure_ready()
            pending = self._begin(cmd)
            self._write(cmd + "\r")
            if not self._wait(pending, timeout, prompt=False):
                self._timed_out(pending, timeout, escape=False)
            return self._result(pending)

    def command_with_prompt(self, cmd: str, payload: str, *, prompt_timeout: float = PROMPT_TIMEOUT,
                            timeout: float = CMGS_TIMEOUT,
                            on_prompt: Callable[[], None] | None = None) -> AtResponse:
        """AT+CMGS / AT+CMGW: command, ``> `` prompt, ``on_prompt()``, payload + Ctrl-Z, final result.

        ``on_prompt`` is where the caller records durably that the PDU is about to be written; if it
        raises, ESC aborts the send at the modem and the exception propagates.
        """
        _check_text("command", cmd)
        _check_text("payload", payload)
        with self._lock:
            self._ensure_ready()
            pending = self._begin(cmd, want_prompt=True)
            self._write(cmd + "\r")
            if not self._wait(pending, prompt_timeout, prompt=True):
                self._timed_out(pending, prompt_timeout, escape=True)
            if not pending.prompt_seen:
                response = self._result(pending)  # raises for an error code
                raise UnexpectedResponseError(cmd, response.lines, f"{response.final} before the > prompt")
            if on_prompt is not None:
                try:
                    on_prompt()
                except BaseException:
                    self._abort(pending)
                    raise
            with self._cond:
                pending.echoes.append(_echo_key(payload))
                ended_early = pending.final is not None
            if ended_early:  # the modem left text entry by itself (its own timeout): do not send the PDU
                response = self._result(pending)
                raise UnexpectedResponseError(cmd, response.lines, f"{response.final} before the PDU")
            self._write(payload + CTRL_Z)
            if not self._wait(pending, timeout, prompt=False):
                self._timed_out(pending, timeout, escape=False)
            return self._result(pending)

    # -- transaction internals (caller threads, under self._lock) --------------------------------

    def _ensure_ready(self) -> None:
        if self._reader is None:
            raise RuntimeError(f"modem {self.modem_id}: start() the session first")
        if self._reader is threading.current_thread():
            raise RuntimeError(f"modem {self.modem_id}: command issued from the reader thread (a listener)")
        with self._cond:
            if self._closed:
                raise self._closed_error()
            out_of_sync = self._out_of_sync
        if out_of_sync:
            self._resync()

    def _begin(self, cmd: str, *, want_prompt: bool = False, internal: bool = False) -> _Pending:
        pending = _Pending(cmd, claims_of(cmd), want_prompt=want_prompt, internal=internal,
                           echoes=[_echo_key(cmd)])
        with self._cond:
            if self._closed:
                raise self._closed_error()
            if not internal:
                self._stats.commands += 1
            self._pending = pending
        return pending

    def _write(self, text: str) -> None:
        data = text.encode("ascii")
        LOGGER.debug("modem %s: -> %r", self.modem_id, text)
        try:
            self._port.write(data)
        except Exception as exc:
            LOGGER.error("modem %s: write failed, port lost: %s", self.modem_id, exc)
            self._shutdown(exc)
            raise self._closed_error() from exc
        with self._cond:
            self._stats.bytes_out += len(data)

    def _wait(self, pending: _Pending, timeout: float, *, prompt: bool) -> bool:
        """Block until the final result (or the prompt); False on timeout, SessionClosedError if closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while pending.final is None and not (prompt and pending.prompt_seen):
                if self._closed:
                    raise self._closed_error()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _abandon(self, pending: _Pending) -> None:
        with self._cond:
            if self._pending is pending:
                self._pending = None

    def _result(self, pending: _Pending) -> AtResponse:
        with self._cond:
            final, lines = pending.final, list(pending.lines)
            assert final is not None
            if final in FINAL_OK:
                return AtResponse(pending.command, lines, final)
            self._stats.errors += 1
        raise error_for(pending.command, final, lines)

    def _abort(self, pending: _Pending) -> None:
        """The caller gave up at the prompt: ESC cancels the message; whatever the modem says is stray."""
        self._abandon(pending)
        with self._cond:
            self._out_of_sync = True
        LOGGER.warning("modem %s: %s aborted at the prompt (ESC)", self.modem_id, pending.command)
        try:
            self._write(ESC)
        except SessionClosedError:
            pass

    def _timed_out(self, pending: _Pending, timeout: float, *, escape: bool) -> NoReturn:
        self._abandon(pending)
        with self._cond:
            self._stats.timeouts += 1
            self._last_timed_out = pending.command
            self._out_of_sync = True
            partial = list(pending.lines)
        LOGGER.warning("modem %s: %s: no %s within %g s", self.modem_id, pending.command,
                       "prompt" if escape else "final result code", timeout)
        try:
            if escape:
                self._write(ESC)
            self._resync(escaped=escape)
        except ModemError as exc:
            LOGGER.warning("modem %s: resync after timeout failed: %s", self.modem_id, exc)
        raise AtTimeoutError(pending.command, timeout, partial)

    def _resync(self, *, escaped: bool = False) -> None:
        """ESC, drain until quiet, then ``AT`` until ``OK``, then drain again: the line belongs to us again.

        ESC first while this session has never had an answer: a host that crashed between the
        ``> `` prompt and the PDU leaves the modem in text entry, taking every ``AT`` as message text;
        ESC discards that unsent text. Once the modem has answered, the line's state is known and an
        ESC could only abort a command still running (a +CMGS whose answer is late), so none is sent.
        """
        with self._cond:
            self._stats.resyncs += 1
            fresh = not self._answered and not escaped
        LOGGER.info("modem %s: resynchronising%s", self.modem_id, " (ESC first: never answered yet)" if fresh else "")
        if fresh:
            self._write(ESC)
        self._drain_quiet()
        for attempt in range(1, RESYNC_ATTEMPTS + 1):
            pending = self._begin("AT", internal=True)
            self._write("AT\r")
            answered = self._wait(pending, RESYNC_AT_TIMEOUT, prompt=False)
            self._abandon(pending)
            if answered and pending.final in FINAL_OK:
                self._drain_quiet()
                with self._cond:
                    self._out_of_sync = False
                LOGGER.info("modem %s: back in sync", self.modem_id)
                return
            LOGGER.warning("modem %s: resync attempt %d/%d: %s", self.modem_id, attempt, RESYNC_ATTEMPTS,
                           pending.final or "no answer")
        raise AtTimeoutError("AT (resync)", RESYNC_AT_TIMEOUT)

    def _drain_quiet(self) -> None:
        start = time.monotonic()
        give_up = start + RESYNC_DRAIN_MAX
        with self._cond:
            while True:
                if self._closed:
                    raise self._closed_error()
                now = time.monotonic()
                quiet_at = max(self._last_rx, start) + RESYNC_QUIET
                if now >= quiet_at:
                    return
                if now >= give_up:
                    LOGGER.warning("modem %s: line never went quiet in %g s; going on", self.modem_id,
                                   RESYNC_DRAIN_MAX)
                    return
                self._cond.wait(min(quiet_at, give_up) - now)

    def _closed_error(self) -> SessionClosedError:
        reason = self._close_reason
        return SessionClosedError(f"modem {self.modem_id}: session closed"
                                  + (f" ({reason})" if reason is not None else ""))

    def _shutdown(self, reason: BaseException | None) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._close_reason = reason
            self._cond.notify_all()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            cancel = getattr(self._port, "cancel_read", None)
            if callable(cancel):
                try:
                    cancel()
                except Exception:
                    LOGGER.debug("modem %s: cancel_read failed", self.modem_id, exc_info=True)
            reader.join(JOIN_TIMEOUT)
            if reader.is_alive():
                LOGGER.warning("modem %s: reader thread did not stop within %g s", self.modem_id,
                               JOIN_TIMEOUT)
        try:
            self._port.close()
        except Exception:
            LOGGER.warning("modem %s: closing the port failed", self.modem_id, exc_info=True)
        LOGGER.info("modem %s: session closed%s", self.modem_id, f" ({reason})" if reason else "")
        self._close_listeners.notify(reason)

    # -- reader thread ---------------------------------------------------------------------------

    def _read_loop(self) -> None:
        port = self._port
        try:
            while not self.closed:
                try:
                    waiting = getattr(port, "in_waiting", 0)
                    data = port.read(waiting if isinstance(waiting, int) and waiting > 0 else 1)
                except Exception as exc:
                    if not self.closed:
                        LOGGER.error("modem %s: read failed, port lost: %s", self.modem_id, exc)
                        self._shutdown(exc)
                    return
                if data:
                    self._on_data(data)
        except BaseException as exc:
            LOGGER.exception("modem %s: reader thread failed", self.modem_id)
            self._shutdown(exc)
            raise

    def _on_data(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except Exception:
            LOGGER.exception("modem %s: framing failed on %r; bytes dropped", self.modem_id, data)
            return
        events: list[Callable[[], None]] = []
        with self._cond:
            self._stats.bytes_in += len(data)
            self._last_rx = time.monotonic()
            for frame in frames:
                try:
                    if isinstance(frame, Prompt):
                        self._on_prompt_locked()
                    else:
                        events.append(functools.partial(self._line_listeners.notify, frame.text))
                        self._route_locked(frame.text.strip(), events)
                except Exception:
                    LOGGER.exception("modem %s: failed to route %r", self.modem_id, frame)
        for event in events:
            event()

    def _on_prompt_locked(self) -> None:
        pending = self._pending
        LOGGER.debug("modem %s: <- prompt", self.modem_id)
        if pending is not None and pending.want_prompt and not pending.prompt_seen and pending.final is None:
            pending.prompt_seen = True
            self._answered = True
            self._cond.notify_all()
        else:
            LOGGER.info("modem %s: unexpected > prompt ignored", self.modem_id)

    def _route_locked(self, line: str, events: list[Callable[[], None]]) -> None:
        LOGGER.debug("modem %s: <- %r", self.modem_id, line)
        if self._assembler.waiting:
            consumed, urc = self._assembler.feed(line)
            if urc is not None:
                self._urc_locked(urc, events)
            if consumed:
                return
        pending = self._pending
        if pending is not None and pending.body_next:
            pending.body_next = False
            self._info_locked(pending, line, events)
            return
        if pending is not None and pending.echoes:
            key = _echo_key(line)
            if key in pending.echoes:
                pending.echoes.remove(key)
                return
        if is_final(line):
            if pending is None:
                self._stray_locked(line, events)
            elif line == "OK" and pending.late_oks:
                pending.late_oks -= 1
                self._stray_locked(line, events)
            else:
                pending.final = line
                self._pending = None
                self._answered = True
                self._cond.notify_all()
            return
        spec = unsolicited_spec(line, pending.claims if pending is not None else frozenset())
        if spec is not None:
            urc = self._assembler.start(spec, line)
            if urc is not None:
                self._urc_locked(urc, events)
            return
        if pending is None:
            self._stray_locked(line, events)
        elif is_late_reply(line, pending.claims):
            pending.late_oks += 1
            self._stray_locked(line, events)
        else:
            self._info_locked(pending, line, events)
            pending.body_next = expects_body(line)

    def _info_locked(self, pending: _Pending, line: str, events: list[Callable[[], None]]) -> None:
        if pending.internal:
            self._stray_locked(line, events)
        else:
            pending.lines.append(line)

    def _urc_locked(self, urc: Urc, events: list[Callable[[], None]]) -> None:
        self._stats.urcs += 1
        LOGGER.debug("modem %s: URC %s %r pdu=%r", self.modem_id, urc.name, urc.args, urc.pdu)
        events.append(functools.partial(self._urc_listeners.notify, urc))

    def _stray_locked(self, line: str, events: list[Callable[[], None]]) -> None:
        self._stats.stray_lines += 1
        LOGGER.info("modem %s: stray line %r (last timed-out command: %s)", self.modem_id, line,
                    self._last_timed_out)
        events.append(functools.partial(self._stray_listeners.notify, line, self._last_timed_out))


__all__ = [
    "CMGS_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "PROMPT_TIMEOUT",
    "AtResponse",
    "AtSession",
    "PortLike",
    "SessionStats",
    "Urc",
    "error_for",
]
