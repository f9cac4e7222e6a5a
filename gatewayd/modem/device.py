"""One GSM modem: initialisation, SIM PIN, identity, status, sending, receiving and USSD.

This layer knows what to say to a modem and what its answers mean; the session below it knows only
how to exchange lines. Everything here runs on the thread of the modem's owner (one per modem, see the
pool): the session's reader thread only hands unsolicited codes over through ``self.events``.

Receiving is store-and-forward: a message is read, handed to a sink that must record it durably, and
only then deleted from the SIM. If the sink raises, the message stays on the SIM and is read again at
the next sweep; duplicates are the queue's job to fold (it keys inbound rows on the raw PDU).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from gatewayd.modem import parsing
from gatewayd.modem.errors import (
    AtCommandError,
    AtTimeoutError,
    CmeError,
    CmsError,
    ModemError,
    NoNetworkError,
    SimError,
    SimPinAttemptsLowError,
    SimPinRejectedError,
    SimPinRequiredError,
    UnexpectedResponseError,
)
from gatewayd.modem.pdu import (
    PduError,
    SmsDeliver,
    SmsStatusReport,
    SmsSubmit,
    decode_pdu,
    encode_submit,
    plan_text,
)
from gatewayd.modem.pinguard import RejectedPins
from gatewayd.modem.refcounter import MemoryReferenceCounter, ReferenceSource
from gatewayd.modem.result_codes import CME_BUSY
from gatewayd.modem.session import AtResponse, AtSession, Urc

LOGGER = logging.getLogger(__name__)

BUSY_RETRIES = 5
"""How often a command answered "SIM busy" / "init in progress" (+CME ERROR 14 / 515) is tried again."""
BUSY_BACKOFF = 0.5
"""Seconds before the first busy retry; doubled after each."""
PROBE_ATTEMPTS = 5
"""How many bare ``AT`` are tried at start before the modem is declared silent."""
PROBE_TIMEOUT = 2.0
CPIN_TIMEOUT = 5.0
"""+CPIN? may take a while on a cold SIM; some firmware answers it without a final OK (handled)."""
SIM_READY_TIMEOUT = 15.0
"""How long after entering the PIN the SIM may take to report READY."""
MIN_PIN_ATTEMPTS = 2
"""Below this many remaining attempts gatewayd does not risk the PIN: a human must enter it."""
CMGS_TIMEOUT = 60.0
"""27.005 allows the network minutes; 60 s covers real networks without blocking a modem forever."""
CMGL_TIMEOUT = 30.0
"""Listing a full SIM is slow on some modems."""
USSD_TIMEOUT = 30.0
DEFAULT_CNMI = "2,1,0,1,0"
"""New messages stored + ``+CMTI`` (safe: on the SIM until recorded); status reports routed as ``+CDS``."""
CNMI_FALLBACKS = ("1,1,0,1,0", "2,1,0,2,0", "2,1", "1,1")


@dataclass(frozen=True)
class Identity:
    manufacturer: str | None = None
    model: str | None = None
    revision: str | None = None
    imei: str | None = None
    imsi: str | None = None
    iccid: str | None = None


@dataclass(frozen=True)
class Status:
    """What the health check reads: signal, registration, operator."""

    signal: parsing.Signal | None
    registration: parsing.Registration | None
    operator: str | None


@dataclass(frozen=True)
class SendResult:
    """The outcome of one submitted message: one TP-MR per part, in part order."""

    parts: int
    references: list[int]
    encoding: str
    concat_reference: int | None
    sent_parts: list[int] = field(default_factory=list)
    """The 0-based part indexes this call sent, matching ``references`` one to one."""


class PartialSendError(ModemError):
    """Some parts of a multipart message were accepted before a later part failed.

    ``references`` are the TP-MRs of the accepted parts; ``cause`` is the error of the failed part.
    The queue must not resend the accepted parts blindly.
    """

    def __init__(self, cause: ModemError, references: list[int], parts: int, sent_parts: list[int]) -> None:
        super().__init__(f"{len(references)} of {parts} parts sent, then: {cause}")
        self.cause = cause
        self.references = references
        self.parts = parts
        self.sent_parts = sent_parts


@dataclass(frozen=True)
class Received:
    """One PDU received from the modem: an SMS-DELIVER part or a status report.

    ``storage`` / ``index`` say where it sits on the modem (None when routed directly by +CMT / +CDS).
    ``message`` is None when the PDU could not be decoded; ``error`` then says why. Such entries are
    reported (and kept on the SIM) rather than dropped, so nothing the network sent is lost silently.
    """

    modem_id: str
    pdu: str
    message: SmsDeliver | SmsStatusReport | SmsSubmit | None
    storage: str | None = None
    index: int | None = None
    error: str | None = None


ReceivedSink = Callable[[Received], None]
"""Records a received PDU durably; raising keeps the message on the modem for a later sweep."""


@dataclass
class ModemSettings:
    """Per-modem knobs (the daemon fills them from config)."""

    pin: str | None = None
    status_reports: bool = True
    validity: timedelta | None = timedelta(days=2)
    encoding: Literal["auto", "gsm7", "ucs2"] = "auto"
    concat_16bit: bool = False
    cnmi: str = DEFAULT_CNMI
    storage: str | None = "SM"
    send_timeout: float = CMGS_TIMEOUT
    """How long one part may wait for +CMGS before its outcome is unknown."""
    extra_init: list[str] = field(default_factory=list)


class Modem:
    """The logic for one modem over an :class:`AtSession` (which the caller opened and started)."""

    def __init__(self, session: AtSession, *, modem_id: str, settings: ModemSettings | None = None,
                 references: ReferenceSource | None = None, stop: threading.Event | None = None,
                 on_event: Callable[[Urc], None] | None = None, rejected_pins: RejectedPins | None = None
                 ) -> None:
        """``on_event`` receives unsolicited codes on the session's reader thread (it must not block);
        by default they are queued on ``self.events`` for whoever owns the modem."""
        self.session = session
        self.modem_id = modem_id
        self.settings = settings or ModemSettings()
        self.references = references or MemoryReferenceCounter()
        self.rejected_pins = rejected_pins or RejectedPins()
        self.identity = Identity()
        self.sim_state: str | None = None
        self.events: queue.SimpleQueue[Urc] = queue.SimpleQueue()
        self._on_event = on_event or self.events.put
        self._own_stop = stop is None
        self._stop = stop or threading.Event()
        self._needs_cnma = False
        self._read_storage: str | None = None
        self._ussd_replies: queue.SimpleQueue[parsing.UssdReply] = queue.SimpleQueue()
        self._unsubscribe = session.add_urc_listener(self._on_urc)

    # -- plumbing -----------------------------------------------------------------------------

    def _on_urc(self, urc: Urc) -> None:
        """Runs on the session's reader thread: never blocks, never talks to the modem."""
        if urc.name == "+CUSD":
            try:
                self._ussd_replies.put(parsing.parse_cusd(urc.args))
            except ValueError:
                LOGGER.warning("modem %s: unreadable +CUSD %r", self.modem_id, urc.header)
            return
        self._on_event(urc)

    def close(self) -> None:
        """Stop listening to the session. A ``stop`` event passed in belongs to the caller: left alone."""
        self._unsubscribe()
        if self._own_stop:
            self._stop.set()

    def at(self, command: str, *, timeout: float | None = None) -> AtResponse:
        """Run one command, retrying a bounded number of times while the modem says it is busy."""
        delay = BUSY_BACKOFF
        for attempt in range(BUSY_RETRIES + 1):
            try:
                if timeout is None:
                    return self.session.command(command)
                return self.session.command(command, timeout=timeout)
            except CmeError as exc:
                if exc.code not in CME_BUSY or attempt == BUSY_RETRIES:
                    raise
                LOGGER.info("modem %s: %s busy (+CME ERROR %s), retry %d in %.1f s", self.modem_id, command,
                            exc.code, attempt + 1, delay)
                if self._stop.wait(delay):
                    raise
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _optional(self, command: str, *, timeout: float | None = None) -> AtResponse | None:
        """A command some modems lack: an error answer is logged and returns None."""
        try:
            return self.at(command, timeout=timeout)
        except AtCommandError as exc:
            LOGGER.debug("modem %s: optional %s failed: %s", self.modem_id, command, exc)
            return None

    # -- initialisation -------------------------------------------------------------------------

    def initialise(self) -> Identity:
        """Bring the modem to a known state: alive, echo off, SIM unlocked, PDU mode, notifications on.

        Tolerates what real modems do at start: echo on, boot chatter, +CPIN answered without OK, busy
        answers while the SIM initialises, commands they do not know.
        """
        self._probe()
        self._optional("ATE0")
        self._optional("AT+CMEE=1")
        self.unlock_sim()
        self.at("AT+CMGF=0")
        for command in self.settings.extra_init:  # the operator's own, before we read the modes they set
            self.at(command)
        self._configure_storage()
        self._configure_notifications()
        self._optional("AT+CREG=2")
        self.identity = self.read_identity()
        LOGGER.info("modem %s: ready: %s %s rev %s imei %s iccid %s", self.modem_id,
                    self.identity.manufacturer, self.identity.model, self.identity.revision,
                    self.identity.imei, self.identity.iccid)
        return self.identity

    def _probe(self) -> None:
        last: ModemError | None = None
        for _ in range(PROBE_ATTEMPTS):
            try:
                self.at("AT", timeout=PROBE_TIMEOUT)
                return
            except (AtTimeoutError, AtCommandError) as exc:
                last = exc
                if self._stop.is_set():
                    break
        raise ModemError(f"modem {self.modem_id} does not answer AT ({last})")

    def read_sim_state(self) -> str:
        """``READY``, ``SIM PIN``, ``SIM PUK``, ...; tolerates +CPIN answered without a final OK."""
        try:
            response = self.at("AT+CPIN?", timeout=CPIN_TIMEOUT)
            lines = response.lines
        except AtTimeoutError as exc:
            lines = exc.partial
            if not any(line.upper().startswith("+CPIN:") for line in lines):
                raise
            LOGGER.info("modem %s: +CPIN answered without final result code", self.modem_id)
        except CmeError as exc:
            if exc.code == 10:
                raise SimError(f"modem {self.modem_id}: SIM not inserted") from exc
            raise
        try:
            state = parsing.parse_cpin(parsing.find_line(lines, "+CPIN:"))
        except ValueError as exc:
            raise UnexpectedResponseError("AT+CPIN?", lines, str(exc)) from exc
        self.sim_state = state
        return state

    def pin_attempts(self) -> int | None:
        """Remaining PIN attempts where the modem tells (27.007 +CPINR, Quectel, Huawei); else None."""
        for command in ('AT+CPINR="SIM PIN"', "AT+QPINC?", "AT^CPIN?"):
            response = self._optional(command)
            if response is not None:
                attempts = parsing.parse_pin_attempts(response.lines)
                if attempts is not None:
                    return attempts
        return None

    def unlock_sim(self) -> None:
        """Enter the configured PIN if the SIM asks for one, at most once, and never below the guard."""
        state = self.read_sim_state()
        if state == "READY":
            return
        if state != "SIM PIN":
            raise SimError(f"modem {self.modem_id}: SIM needs {state}; enter it by hand")
        pin = self.settings.pin
        if not pin:
            raise SimPinRequiredError(f"modem {self.modem_id}: SIM PIN required and none configured")
        if self.rejected_pins.is_rejected(self.modem_id, pin):
            raise SimPinRejectedError(
                f"modem {self.modem_id}: the SIM rejected this PIN before; not trying it again")
        attempts = self.pin_attempts()
        if attempts is not None and attempts < MIN_PIN_ATTEMPTS:
            raise SimPinAttemptsLowError(
                f"modem {self.modem_id}: only {attempts} PIN attempt(s) left; not trying the configured PIN")
        try:
            self.at(f'AT+CPIN="{pin}"', timeout=CPIN_TIMEOUT)
        except CmeError as exc:
            if exc.code in (12, 16):
                # Never retried, not even after a restart: each try burns one of the SIM's attempts.
                self.rejected_pins.record(self.modem_id, pin)
                raise SimPinRejectedError(f"modem {self.modem_id}: SIM rejected the configured PIN") from exc
            raise
        LOGGER.info("modem %s: PIN accepted, waiting for the SIM", self.modem_id)
        deadline = SIM_READY_TIMEOUT
        delay = 0.2
        while deadline > 0:
            try:
                if self.read_sim_state() == "READY":
                    return
            except CmeError as exc:
                if exc.code not in CME_BUSY and exc.code != 13:
                    raise
            if self._stop.wait(delay):
                break
            deadline -= delay
            delay = min(delay * 2, 2.0)
        raise SimError(f"modem {self.modem_id}: SIM not ready {SIM_READY_TIMEOUT:g} s after the PIN")

    def _configure_storage(self) -> None:
        storage = self.settings.storage
        if storage and self._optional(f'AT+CPMS="{storage}","{storage}","{storage}"') is not None:
            self._read_storage = storage

    def _configure_notifications(self) -> None:
        csms = self._optional("AT+CSMS?")
        if csms is not None:
            try:
                service = parsing.split_fields(parsing.strip_prefix(parsing.find_line(csms.lines, "+CSMS:"),
                                                                    "+CSMS:"))[0]
                self._needs_cnma = service == "1"
            except (ValueError, IndexError):
                self._needs_cnma = False
        for cnmi in (self.settings.cnmi, *CNMI_FALLBACKS):
            if self._optional(f"AT+CNMI={cnmi}") is not None:
                if cnmi != self.settings.cnmi:
                    LOGGER.warning("modem %s: AT+CNMI=%s refused, using %s", self.modem_id, self.settings.cnmi,
                                   cnmi)
                return
        LOGGER.warning("modem %s: no AT+CNMI setting accepted; new messages found only by sweeps",
                       self.modem_id)

    # -- identity and status ----------------------------------------------------------------------

    def read_identity(self) -> Identity:
        def first(*commands: str) -> str | None:
            for command in commands:
                response = self._optional(command)
                if response is not None:
                    value = parsing.first_plain_line(response.lines)
                    if value:
                        return value
            return None

        iccid: str | None = None
        for command in ("AT+CCID", "AT+QCCID", "AT^ICCID?", "AT+ICCID"):
            response = self._optional(command)
            if response is not None:
                iccid = parsing.parse_iccid(response.lines)
                if iccid:
                    break
        if iccid is None:
            response = self._optional("AT+CRSM=176,12258,0,0,10")
            iccid = parsing.parse_crsm_iccid(response.lines) if response else None
        return Identity(
            manufacturer=first("AT+CGMI", "AT+GMI"),
            model=first("AT+CGMM", "AT+GMM"),
            revision=first("AT+CGMR", "AT+GMR"),
            imei=first("AT+CGSN", "AT+GSN"),
            imsi=first("AT+CIMI"),
            iccid=iccid,
        )

    def signal(self) -> parsing.Signal:
        response = self.at("AT+CSQ")
        try:
            return parsing.parse_csq(parsing.find_line(response.lines, "+CSQ:"))
        except ValueError as exc:
            raise UnexpectedResponseError("AT+CSQ", response.lines, str(exc)) from exc

    def registration(self) -> parsing.Registration:
        """CREG, and CEREG when CREG says not registered (LTE-only modems register there)."""
        result: parsing.Registration | None = None
        for command, prefix in (("AT+CREG?", "+CREG:"), ("AT+CEREG?", "+CEREG:")):
            response = self._optional(command)
            if response is None:
                continue
            try:
                result = parsing.parse_registration(parsing.find_line(response.lines, prefix))
            except ValueError as exc:
                raise UnexpectedResponseError(command, response.lines, str(exc)) from exc
            if result.registered:
                return result
        if result is None:
            raise ModemError(f"modem {self.modem_id}: neither +CREG nor +CEREG answered")
        return result

    def operator(self) -> str | None:
        self._optional("AT+COPS=3,0")
        response = self._optional("AT+COPS?")
        if response is None:
            return None
        try:
            return parsing.parse_cops(parsing.find_line(response.lines, "+COPS:"))
        except ValueError:
            return None

    def smsc(self) -> str | None:
        response = self._optional("AT+CSCA?")
        if response is None:
            return None
        try:
            return parsing.parse_csca(parsing.find_line(response.lines, "+CSCA:"))
        except ValueError:
            return None

    def status(self) -> Status:
        """Signal, registration and operator, each None where the modem would not say."""
        signal: parsing.Signal | None
        try:
            signal = self.signal()
        except (AtCommandError, UnexpectedResponseError):
            signal = None
        try:
            registration: parsing.Registration | None = self.registration()
        except ModemError:
            registration = None
        return Status(signal=signal, registration=registration, operator=self.operator())

    # -- sending ----------------------------------------------------------------------------------

    def send(self, to: str, text: str, *, status_report: bool | None = None, concat_reference: int | None = None,
             parts: Collection[int] | None = None, on_part_written: Callable[[int], None] | None = None,
             on_part_sent: Callable[[int, int], None] | None = None) -> SendResult:
        """Send one message (split into concatenated parts as needed); returns each part's TP-MR.

        ``concat_reference``: the reference for a multipart message; the queue allocates and persists it
        before the first part goes, so a resumed message keeps it (the recipient's phone joins parts by
        it). None takes the next one from ``self.references``. ``parts``: send only these part indexes
        (0-based; a resume after some parts were accepted). ``on_part_written(i)`` runs after the
        modem's ``> `` prompt and before part i's PDU is written: the queue makes its durable "PDU
        written" mark there; if it raises, the part is aborted (ESC) and nothing is sent.
        ``on_part_sent(i, mr)`` runs once the modem accepted part i.

        Errors: CmsError (``.permanent`` tells whether another try could help), AtTimeoutError (outcome
        unknown once the PDU was written), PartialSendError (some parts of this call were accepted).
        """
        settings = self.settings
        encoding, texts = plan_text(text, settings.encoding, concat_16bit=settings.concat_16bit)
        if len(texts) > 1 and concat_reference is None:
            concat_reference = self.references.next_reference(16 if settings.concat_16bit else 8)
        pdus = encode_submit(
            to, text,
            encoding=settings.encoding,
            request_status_report=settings.status_reports if status_report is None else status_report,
            validity=settings.validity,
            concat_reference=concat_reference if len(texts) > 1 else None,
            concat_16bit=settings.concat_16bit,
        )
        wanted = range(len(pdus)) if parts is None else sorted(set(parts))
        references: list[int] = []
        sent_parts: list[int] = []
        for index in wanted:
            part = pdus[index]
            callback = None if on_part_written is None else _bind(on_part_written, index)
            try:
                response = self.session.command_with_prompt(
                    f"AT+CMGS={part.tpdu_length}", part.hex, timeout=settings.send_timeout, on_prompt=callback)
            except ModemError as exc:
                if references:
                    raise PartialSendError(exc, references, len(pdus), sent_parts) from exc
                raise
            try:
                reference = parsing.parse_cmgs(response.lines)
            except ValueError as exc:
                # OK without +CMGS: the modem accepted it; the reference is simply unknown.
                LOGGER.warning("modem %s: +CMGS reference unreadable (%s)", self.modem_id, exc)
                reference = -1
            references.append(reference)
            sent_parts.append(index)
            LOGGER.info("modem %s: part %d/%d to %s accepted, mr %d", self.modem_id, index + 1, len(pdus), to,
                        reference)
            if on_part_sent is not None:
                on_part_sent(index, reference)
        return SendResult(parts=len(pdus), references=references, encoding=encoding,
                          concat_reference=concat_reference if len(pdus) > 1 else None, sent_parts=sent_parts)

    def require_network(self) -> parsing.Registration:
        registration = self.registration()
        if not registration.registered:
            raise NoNetworkError(f"modem {self.modem_id}: not registered ({registration.text})")
        return registration

    # -- receiving --------------------------------------------------------------------------------

    def _select_read_storage(self, storage: str) -> None:
        if storage != self._read_storage:
            self.at(f'AT+CPMS="{storage}"')
            self._read_storage = storage

    def _decode(self, pdu: str, storage: str | None, index: int | None) -> Received:
        try:
            message = decode_pdu(pdu)
        except PduError as exc:
            LOGGER.warning("modem %s: undecodable PDU at %s/%s: %s", self.modem_id, storage, index, exc)
            return Received(self.modem_id, pdu, None, storage, index, error=str(exc))
        return Received(self.modem_id, pdu, message, storage, index)

    def list_stored(self, storage: str | None = None) -> list[Received]:
        """Every message in storage (AT+CMGL=4), undecodable ones included with their error."""
        if storage is not None:
            self._select_read_storage(storage)
        response = self.at("AT+CMGL=4", timeout=CMGL_TIMEOUT)
        entries, rejects = parsing.parse_cmgl(response.lines)
        for reject in rejects:
            LOGGER.warning("modem %s: unreadable +CMGL line %r", self.modem_id, reject[:120])
        where = storage or self._read_storage
        return [self._decode(entry.pdu, where, entry.index) for entry in entries]

    def read_stored(self, storage: str, index: int) -> Received | None:
        self._select_read_storage(storage)
        response = self.at(f"AT+CMGR={index}")
        try:
            entry = parsing.parse_cmgr(response.lines, index)
        except ValueError as exc:
            raise UnexpectedResponseError(f"AT+CMGR={index}", response.lines, str(exc)) from exc
        return None if entry is None else self._decode(entry.pdu, storage, index)

    def delete_stored(self, storage: str, index: int) -> None:
        """Delete one entry by the index the modem gave it (never a bulk delete)."""
        self._select_read_storage(storage)
        self.at(f"AT+CMGD={index}")

    def _deliver(self, item: Received, sink: ReceivedSink) -> bool:
        """Hand one PDU to the sink; delete it from storage only once the sink returned."""
        try:
            sink(item)
        except Exception:
            LOGGER.exception("modem %s: recording PDU at %s/%s failed; it stays on the modem", self.modem_id,
                             item.storage, item.index)
            return False
        if item.index is not None and item.storage is not None and item.message is not None:
            self.delete_stored(item.storage, item.index)
        return True

    def sweep(self, sink: ReceivedSink) -> int:
        """Record and delete everything in storage; undecodable entries are reported and kept."""
        count = 0
        for item in self.list_stored():
            if self._deliver(item, sink):
                count += 1
        return count

    def handle_event(self, urc: Urc, sink: ReceivedSink) -> None:
        """Act on one unsolicited code taken from ``self.events`` (called on the owner's thread)."""
        name = urc.name
        try:
            if name in ("+CMTI", "+CDSI"):
                storage, index = parsing.parse_storage_notice(urc.args)
                item = self.read_stored(storage, index)
                if item is None:
                    LOGGER.warning("modem %s: %s points at empty slot %s/%s", self.modem_id, name, storage,
                                   index)
                else:
                    self._deliver(item, sink)
            elif name in ("+CMT", "+CDS"):
                if urc.pdu is None:
                    LOGGER.warning("modem %s: %s without PDU line: %r", self.modem_id, name, urc.header)
                    return
                recorded = self._deliver(self._decode(urc.pdu, None, None), sink)
                if self._needs_cnma:
                    # Acknowledge only what was recorded; the network redelivers what we refuse.
                    self._optional("AT+CNMA" if recorded else "AT+CNMA=2")
            else:
                LOGGER.debug("modem %s: unsolicited %s", self.modem_id, urc.header)
        except (AtCommandError, AtTimeoutError, UnexpectedResponseError, ValueError) as exc:
            LOGGER.warning("modem %s: handling %r failed: %s", self.modem_id, urc.header, exc)

    # -- USSD -------------------------------------------------------------------------------------

    def ussd(self, code: str, *, timeout: float = USSD_TIMEOUT) -> parsing.UssdReply:
        """Send a USSD code and wait for the network's +CUSD answer."""
        while not self._ussd_replies.empty():  # drop answers to earlier, abandoned requests
            self._ussd_replies.get_nowait()
        self.at(f'AT+CUSD=1,"{code}",15', timeout=timeout)
        try:
            return self._ussd_replies.get(timeout=timeout)
        except queue.Empty:
            self._optional("AT+CUSD=2")
            raise AtTimeoutError(f'AT+CUSD=1,"{code}"', timeout) from None


def _bind(callback: Callable[[int], None], index: int) -> Callable[[], None]:
    return lambda: callback(index)


def describe_error(exc: BaseException) -> str:
    """One line for the CLI and the logs: the cause, with the 27.005 meaning where there is one."""
    if isinstance(exc, CmsError | CmeError):
        return str(exc)
    return str(exc) or type(exc).__name__


__all__ = [
    "Identity",
    "Modem",
    "ModemSettings",
    "PartialSendError",
    "Received",
    "ReceivedSink",
    "SendResult",
    "Status",
    "describe_error",
]
