"""The AT interpreter of one emulated modem: bytes in, bytes out, no I/O of its own.

The modem is driven entirely by ``feed()`` (bytes from the host) and by timers on the scheduler it
is given; what it says goes to ``sink``. Keeping I/O out lets unit tests drive it byte by byte with
a manual clock, and lets the emulator attach it to a pty, a TCP client, or both.

Ordering is the subtle part: echo, responses, unsolicited codes and deliberately delayed fragments
(``split_pdu_writes``) all go through one output queue, so a delayed fragment can never be
overtaken by a later line.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from gatewayd.emulator import commands
from gatewayd.emulator.command_times import CommandTimes
from gatewayd.emulator.commands.base import REGISTRY, CommandFailure, CommandSpec, Deferred, Prompt, Reply
from gatewayd.emulator.parser import ParseError, parse_line
from gatewayd.emulator.profiles import Quirks
from gatewayd.emulator.sim import Sim, SimState, Storage, StoredMessage
from gatewayd.emulator.submission import Submission
from gatewayd.emulator.timers import Scheduler, Timer
from gatewayd.modem.result_codes import cme_meaning, cms_meaning

LOGGER = logging.getLogger(__name__)

CR, LF, BS, CTRL_Z, ESC = 0x0D, 0x0A, 0x08, 0x1A, 0x1B
MAX_LINE = 4096
"""Longer command lines are dropped, as a real modem's small input buffer would."""
SPLIT_WRITE_DELAY = 0.05
"""Seconds between a +CMT/+CDS header and its PDU line when the profile splits writes."""
USSD_DELAY = 0.2
"""Seconds between OK to AT+CUSD and the network's +CUSD answer."""
GARBAGE_DEFAULT_BYTES = 32
NUMERIC_CODES = {"OK": "0", "ERROR": "4"}

commands.load()


@dataclass
class Settings:
    """Everything ATZ / AT&F resets to the power-up profile."""

    echo: bool = True
    verbose: bool = True
    quiet: bool = False
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "GSM"
    csms: int = 0
    cnmi: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    creg: int = 0
    cgreg: int = 0
    cereg: int = 0
    cops_format: int = 0
    curc: bool = True
    cusd: int = 0


@dataclass
class Faults:
    """Faults currently injected into this modem (set by ``EmulatedModem.fault``)."""

    cms_error_code: int = 500
    cms_error_count: int = 0
    no_network: bool = False
    swallow: int = 0
    report_status: int = 0
    """TP-ST of the status reports for this modem's next ``report_status_count`` submits."""
    report_status_count: int = 0
    hung: bool = False
    timers: list[Timer] = field(default_factory=list)


class NetworkLink(Protocol):
    """What the modem needs from the network it is registered on (``EmulatedNetwork``)."""

    smsc: str

    def accept_submit(self, modem: EmulatedModem, submission: Submission, mr: int) -> None: ...

    def storage_freed(self, modem: EmulatedModem) -> None: ...

    def rejection(self, destination: str) -> int | None: ...


class EmulatedModem:
    """One modem: identity, SIM, settings, storage, and the line interpreter."""

    def __init__(self, *, modem_id: str, number: str, imei: str, iccid: str, imsi: str, quirks: Quirks,
                 scheduler: Scheduler, network: NetworkLink | None = None, pin: str | None = None,
                 send_latency: float = 0.0, seed: int | None = None,
                 sink: Callable[[bytes], None] | None = None) -> None:
        self.modem_id = modem_id
        self.number = number
        self.imei = imei
        self.quirks = quirks
        self.scheduler = scheduler
        self.network = network
        self.send_latency = send_latency
        self.ussd_delay = USSD_DELAY
        self.sink = sink
        self.sim = Sim(imsi=imsi, iccid=iccid, pin=pin)
        self.storage = Storage(quirks.storage_capacity)
        self.settings = Settings(cnmi=quirks.cnmi_default)
        self.smsc = network.smsc if network else "+15559999999"
        self.cfun = 1
        self.faults = Faults()
        self.random = random.Random(seed)
        self.stats: dict[str, int] = {"commands": 0, "submits": 0, "unacked": 0, "rx_bytes": 0, "tx_bytes": 0}
        self.command_times: CommandTimes | None = None
        """When set (benchmarks), every command line received and submit accepted is timed here."""
        self._mr = itertools.count()
        self._inbuf = bytearray()
        self._line = bytearray()
        self._last_line = "AT"
        self._prompt: Prompt | None = None
        self._prompt_text = bytearray()
        self._busy = False
        self._executing = False
        self._held_urcs: list[list[str]] = []
        self._cnmi_buffer: list[list[str]] = []
        self._ack_pending = 0
        self._boot_busy = 0
        self._outq: deque[tuple[float, bytes]] = deque()
        self._out_timer: Timer | None = None
        self._inside_cycle: Iterator[str] = itertools.cycle(quirks.inside_urcs or ("",))
        self._periodic_cycle: Iterator[str] = itertools.cycle(quirks.periodic_urcs or ("",))
        self._periodic_timer: Timer | None = None
        self._was_registered = False

    # -- life cycle ------------------------------------------------------------------------------------

    def power_on(self) -> None:
        """Power-up: boot URCs, the busy period, periodic URCs (per profile)."""
        self.sim.power_cycle()
        self._boot_busy = self.quirks.busy_after_boot
        for line in self.quirks.boot_urcs:
            self._write_urc([line])
        self._was_registered = self.registered
        if self.quirks.periodic_urcs:
            self._periodic_timer = self.scheduler.call_later(self.quirks.periodic_interval, self._periodic)

    def power_off(self) -> None:
        for timer in (self._periodic_timer, self._out_timer, *self.faults.timers):
            if timer is not None:
                timer.cancel()

    def reset_settings(self) -> None:
        """ATZ / AT&F: the power-up settings; the SIM stays unlocked and storage is kept."""
        self.settings = Settings(cnmi=self.quirks.cnmi_default)

    def set_sim_pin(self, pin: str | None) -> None:
        """Swap in a SIM that asks for ``pin`` (None: no PIN); the network sees the registration change."""
        LOGGER.info("modem %s: SIM %s", self.modem_id, "asks for a PIN" if pin else "has no PIN")
        self.sim.set_pin(pin)
        self.registration_changed()

    def next_mr(self) -> int:
        """TP-MR: the modem's own counter (0..255), whatever the client put in the PDU."""
        return next(self._mr) % 256

    # -- state ---------------------------------------------------------------------------------------------

    @property
    def registered(self) -> bool:
        return self.cfun == 1 and not self.faults.no_network and self.sim.state is SimState.READY

    @property
    def rssi(self) -> int:
        return 20 if self.registered else 99

    def registration_changed(self) -> None:
        """Emit +CREG / +CGREG / +CEREG URCs for the clients that asked (n > 0) when the state moved."""
        now = self.registered
        if now == self._was_registered:
            return
        self._was_registered = now
        stat = 1 if now else 0
        for name, n in (("+CREG", self.settings.creg), ("+CGREG", self.settings.cgreg),
                        ("+CEREG", self.settings.cereg)):
            if n == 1 or (n == 2 and not now):
                self.unsolicited([f"{name}: {stat}"])
            elif n == 2:
                self.unsolicited([f'{name}: {stat},"00A1","0B2C",7'])

    def status(self) -> dict[str, Any]:
        return {
            "id": self.modem_id, "number": self.number, "imei": self.imei, "iccid": self.sim.iccid,
            "profile": self.quirks.name, **self.sim.describe(), "registered": self.registered,
            "storage": {name: [mem.used, mem.capacity] for name, mem in self.storage.memories.items()},
            "hung": self.faults.hung or self.faults.swallow > 0, "no_network": self.faults.no_network,
            "ack_pending": bool(self._ack_pending), **self.stats,
        }

    # -- input ---------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the host (any split). Processed now unless busy or hung, else queued."""
        self.stats["rx_bytes"] += len(data)
        LOGGER.debug("modem %s: <- %r", self.modem_id, data)
        self._inbuf.extend(data)
        self._pump()

    def _pump(self) -> None:
        pos = 0
        echo = bytearray()
        buf = self._inbuf
        while pos < len(buf) and not self._busy and not self.faults.hung:
            byte = buf[pos]
            pos += 1
            if self._prompt is not None:
                self._prompt_byte(byte, echo)
            else:
                self._command_byte(byte, echo)
        del buf[:pos]
        if echo:
            self._enqueue(bytes(echo))

    def _flush_echo(self, echo: bytearray) -> None:
        if echo:
            self._enqueue(bytes(echo))
            echo.clear()

    def _command_byte(self, byte: int, echo: bytearray) -> None:
        silent = self.faults.swallow > 0
        if self.settings.echo and not silent:
            echo.append(byte)
        if byte in (CR, LF):
            if not self._line:
                return
            line = self._line.decode("latin-1")
            self._line.clear()
            self._flush_echo(echo)
            self._execute_line(line)
            return
        if byte == BS:
            if self._line:
                self._line.pop()
            return
        if byte < 0x20 or byte > 0x7E:
            return  # V.250 5.2.1: other control characters (ESC, Ctrl-Z, NUL) are ignored in command lines
        self._line.append(byte)
        if len(self._line) == 2 and self._line.upper() == b"A/":
            self._line.clear()
            self._flush_echo(echo)
            self._execute_line(self._last_line)
        elif len(self._line) > MAX_LINE:
            LOGGER.debug("modem %s: input line over %d bytes dropped", self.modem_id, MAX_LINE)
            self._line.clear()

    def _prompt_byte(self, byte: int, echo: bytearray) -> None:
        prompt = self._prompt
        assert prompt is not None
        if byte == CTRL_Z:
            text = self._prompt_text.decode("latin-1")
            self._prompt, self._prompt_text = None, bytearray()
            self._flush_echo(echo)
            self._run_reply(lambda: prompt.complete(text), [])
        elif byte == ESC:
            self._prompt, self._prompt_text = None, bytearray()
            self._flush_echo(echo)
            self._respond([])
        elif byte == CR:
            if prompt.text_mode:
                self._prompt_text.append(LF)
                self._flush_echo(echo)
                self._enqueue(b"\r\n> ")
        elif byte != LF:
            if self.settings.echo:
                echo.append(byte)
            self._prompt_text.append(byte)

    # -- execution -----------------------------------------------------------------------------------------

    def _execute_line(self, line: str) -> None:
        """Run one line; unsolicited codes raised meanwhile (e.g. +CREG) follow its final result."""
        if self.command_times is not None:
            self.command_times.record(self.scheduler.now(), self.modem_id, "command", line.strip())
        self._executing = True
        try:
            self._execute(line.strip())
        finally:
            self._executing = False
            self._release_held()

    def _execute(self, line: str) -> None:
        if self.faults.swallow > 0:
            self.faults.swallow -= 1
            LOGGER.debug("modem %s: hung, swallowed %r (%d more)", self.modem_id, line, self.faults.swallow)
            if self.faults.swallow == 0:
                self._release_held()
            return
        if line[:2].upper() != "AT":
            LOGGER.debug("modem %s: ignoring non-command line %r", self.modem_id, line[:40])
            return
        self._last_line = line
        self.stats["commands"] += 1
        if self._boot_busy > 0:
            self._boot_busy -= 1
            self._respond([], CommandFailure("literal", 515, "+CME ERROR: 515"))
            return
        try:
            requests = parse_line(line)
        except ParseError as exc:
            LOGGER.debug("modem %s: cannot parse %r: %s", self.modem_id, line, exc)
            self._respond([], CommandFailure("error"))
            return
        entries: list[str] = []
        for request in requests:
            spec = REGISTRY.get(request.name)
            try:
                if spec is None:
                    raise CommandFailure("unknown")
                self._check_gate(spec)
                reply = spec.handler(self, request)
            except CommandFailure as failure:
                self._respond(entries, failure)
                return
            if not isinstance(reply, list):
                self._handle_reply(reply, entries)
                return  # commands after a prompt or a deferred answer are ignored, as on real modems
            entries.extend(reply)
        self._respond(entries)

    def _check_gate(self, spec: CommandSpec) -> None:
        state = self.sim.state
        if spec.gate == "none" or state is SimState.READY:
            return
        if spec.gate == "cme":
            raise CommandFailure("cme", {SimState.PIN: 11, SimState.PUK: 12}.get(state, 13))
        raise CommandFailure("cms", {SimState.PIN: 311, SimState.PUK: 316}.get(state, 313))

    def _run_reply(self, produce: Callable[[], Reply], entries: list[str]) -> None:
        try:
            reply = produce()
        except CommandFailure as failure:
            self._respond(entries, failure)
            return
        if isinstance(reply, list):
            self._respond(entries + reply)
        else:
            self._handle_reply(reply, entries)

    def _handle_reply(self, reply: Prompt | Deferred, entries: list[str]) -> None:
        if isinstance(reply, Prompt):
            text = "".join(f"\r\n{entry}\r\n" for entry in entries)
            self._enqueue((text + "\r\n> ").encode("latin-1", "replace"))
            self._prompt, self._prompt_text = reply, bytearray()
            return
        self._busy = True

        def finish() -> None:
            self._busy = False
            deferred = reply
            self._run_reply(deferred.complete, entries)
            self._pump()

        self.scheduler.call_later(reply.delay, finish)

    # -- output --------------------------------------------------------------------------------------------

    def final_text(self, failure: CommandFailure | None) -> str:
        if failure is None:
            return "OK"
        if failure.kind == "literal":
            return failure.text
        if failure.kind == "unknown":
            return self.quirks.unknown_reply
        if failure.kind == "error" or self.settings.cmee == 0:
            return "ERROR"
        prefix = "+CME ERROR: " if failure.kind == "cme" else "+CMS ERROR: "
        if self.settings.cmee == 1:
            return f"{prefix}{failure.code}"
        return prefix + (cme_meaning(failure.code) if failure.kind == "cme" else cms_meaning(failure.code))

    def _respond(self, entries: list[str], failure: CommandFailure | None = None) -> None:
        """Write a command's information entries and its one final result code."""
        segments: list[tuple[float, str]] = [(0.0, "")]
        for i, entry in enumerate(entries):
            segments[-1] = (segments[-1][0], segments[-1][1] + ("\r\n" if i == 0 else "") + entry + "\r\n")
            if i == 0 and self.quirks.urc_inside:
                extra = next(self._inside_cycle)
                inside = [*self._held_urcs, [extra]] if extra else list(self._held_urcs)
                self._held_urcs.clear()
                for urc in inside:
                    self._append_urc(segments, urc)
        final = self.final_text(failure)
        if self.settings.quiet:
            pass
        elif self.settings.verbose:
            segments[-1] = (segments[-1][0], segments[-1][1] + f"\r\n{final}\r\n")
        else:
            segments[-1] = (segments[-1][0], segments[-1][1] + NUMERIC_CODES.get(final, final) + "\r")
        for delay, text in segments:
            self._enqueue(text.encode("latin-1", "replace"), delay)
        self._release_held()

    def _append_urc(self, segments: list[tuple[float, str]], lines: list[str]) -> None:
        delay, text = segments[-1]
        text += f"\r\n{lines[0]}\r\n"
        rest = "".join(line + "\r\n" for line in lines[1:])
        if rest and self.quirks.split_pdu_writes:
            segments[-1] = (delay, text)
            segments.append((SPLIT_WRITE_DELAY, rest))
        else:
            segments[-1] = (delay, text + rest)

    def _write_urc(self, lines: list[str]) -> None:
        segments: list[tuple[float, str]] = [(0.0, "")]
        self._append_urc(segments, lines)
        for delay, text in segments:
            self._enqueue(text.encode("latin-1", "replace"), delay)

    def unsolicited(self, lines: list[str], *, sms: bool = False) -> None:
        """An unsolicited result code: written now when idle, else held until the command is over.

        SMS indications obey AT+CNMI <mode> 0 (buffer in the modem until <mode> becomes 1 or 2).
        """
        if sms and self.settings.cnmi[0] == 0:
            self._cnmi_buffer.append(lines)
        elif self._holding:
            self._held_urcs.append(lines)
        else:
            self._write_urc(lines)

    @property
    def _holding(self) -> bool:
        """True while unsolicited codes must wait (a command, prompt or deferred answer, a hang)."""
        return (self._busy or self._executing or self._prompt is not None or self.faults.hung
                or self.faults.swallow > 0)

    def _release_held(self) -> None:
        if self._holding:
            return
        held, self._held_urcs = self._held_urcs, []
        for lines in held:
            self._write_urc(lines)

    def flush_cnmi_buffer(self, discard: bool) -> None:
        buffered, self._cnmi_buffer = self._cnmi_buffer, []
        if not discard:
            for lines in buffered:
                self.unsolicited(lines)

    def _enqueue(self, data: bytes, delay: float = 0.0) -> None:
        if not data:
            return
        self._outq.append((delay, data))
        if self._out_timer is None:
            self._drain()

    def _drain(self) -> None:
        self._out_timer = None
        while self._outq:
            delay, data = self._outq[0]
            if delay > 0:
                self._outq[0] = (0.0, data)
                self._out_timer = self.scheduler.call_later(delay, self._drain)
                return
            self._outq.popleft()
            self.stats["tx_bytes"] += len(data)
            LOGGER.debug("modem %s: -> %r", self.modem_id, data)
            if self.sink is not None:
                self.sink(data)

    def _periodic(self) -> None:
        line = next(self._periodic_cycle)
        if self.settings.curc and line:
            self.unsolicited([line])
        self._periodic_timer = self.scheduler.call_later(self.quirks.periodic_interval, self._periodic)

    # -- SMS from the network ------------------------------------------------------------------------------

    def receive_deliver(self, pdu: str, tpdu_length: int, fields: dict[str, str | int]) -> bool:
        """An SMS-DELIVER from the SMSC. False means "not now" (not registered, or memory full)."""
        if not self.registered:
            return False
        mt = self.settings.cnmi[1]
        if mt == 2:
            if self.settings.cmgf == 0:
                lines = [f"+CMT: ,{tpdu_length}", pdu]
            else:
                header = f'+CMT: "{fields["sender"]}",,"{fields["scts"]}"'
                lines = [header, self.encode_text(str(fields["text"]))]
            self._expect_ack()
            self.unsolicited(lines, sms=True)
            return True
        memory = self.storage.receive_memory
        index = memory.store(StoredMessage(pdu=pdu, tpdu_length=tpdu_length, fields=fields))
        if index is None:
            LOGGER.info("modem %s: memory %s full, SMSC keeps the message", self.modem_id, memory.name)
            return False
        if mt in (1, 3):
            self.unsolicited([f'+CMTI: "{memory.name}",{index}'], sms=True)
        return True

    def receive_status_report(self, pdu: str, tpdu_length: int, fields: dict[str, str | int]) -> bool:
        """An SMS-STATUS-REPORT, routed per AT+CNMI <ds>. False when it cannot be taken now."""
        if not self.registered:
            return False
        ds = self.settings.cnmi[3]
        if ds == 1:
            if self.settings.cmgf == 0:
                lines = [f"+CDS: {tpdu_length}", pdu]
            else:
                lines = [f'+CDS: 6,{fields["mr"]},"{fields["recipient"]}",145,"{fields["scts"]}",'
                         f'"{fields["dt"]}",{fields["st"]}']
            self._expect_ack()
            self.unsolicited(lines, sms=True)
        elif ds == 2:
            memory = self.storage.memories["SR"]
            index = memory.store(StoredMessage(pdu=pdu, tpdu_length=tpdu_length, kind="status-report",
                                               fields=fields))
            if index is None:
                return False
            self.unsolicited([f'+CDSI: "SR",{index}'], sms=True)
        return True

    def _expect_ack(self) -> None:
        if self.settings.csms == 1:
            if self._ack_pending:
                self.stats["unacked"] += 1
            self._ack_pending = 1

    def acknowledge(self) -> bool:
        """AT+CNMA: False when no acknowledgement was expected."""
        if self._ack_pending:
            self._ack_pending = 0
            return True
        return False

    def encode_text(self, text: str) -> str:
        """Text-mode text in the TE character set chosen with AT+CSCS."""
        if self.settings.cscs == "UCS2":
            return text.encode("utf-16-be").hex().upper()
        return text

    def decode_text(self, text: str) -> str:
        if self.settings.cscs == "UCS2":
            try:
                return bytes.fromhex(text).decode("utf-16-be")
            except ValueError:
                raise CommandFailure("cms", 305) from None
        return text

    # -- faults --------------------------------------------------------------------------------------------

    def fault(self, kind: str, *, code: int | None = None, count: int | None = None,
              seconds: float | None = None) -> None:
        """Inject a fault (see the emulator docs). ValueError for an unknown kind."""
        faults = self.faults
        LOGGER.info("modem %s: fault %s code=%s count=%s seconds=%s", self.modem_id, kind, code, count,
                    seconds)
        if kind == "hang":
            if count:
                faults.swallow = count
            else:
                faults.hung = True
                faults.timers.append(self.scheduler.call_later(seconds or 5.0, self._end_hang))
        elif kind == "cms_error":
            faults.cms_error_code = code if code is not None else 500
            faults.cms_error_count = count if count is not None else 1
        elif kind == "report_status":
            faults.report_status = code if code is not None else 0x46
            faults.report_status_count = count if count is not None else 1
        elif kind == "garbage":
            size = count or GARBAGE_DEFAULT_BYTES
            noise = bytes(self.random.randrange(256) for _ in range(size))
            self._enqueue(b"\r\n" + noise + b"\x00\xff\r\n")
        elif kind == "no_network":
            faults.no_network = True
            if seconds:
                faults.timers.append(self.scheduler.call_later(seconds, self._end_no_network))
            self.registration_changed()
        else:
            raise ValueError(f"unknown fault kind {kind!r}")

    def _end_hang(self) -> None:
        self.faults.hung = False
        self._release_held()
        self._pump()

    def _end_no_network(self) -> None:
        self.faults.no_network = False
        self.registration_changed()

    def clear_faults(self) -> None:
        faults = self.faults
        for timer in faults.timers:
            timer.cancel()
        hung = faults.hung or faults.swallow
        self.faults = Faults()
        self.registration_changed()
        if hung:
            self._release_held()
            self._pump()
