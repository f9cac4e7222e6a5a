"""The owner of one modem: the single thread that ever talks to it.

Everything that needs the modem (sending, health checks, reading a message announced by ``+CMTI``)
is a job on the owner's one queue, so commands never race and health checks take their turn between
sends instead of interrupting them. Unsolicited codes arrive on the same queue from the session's
reader thread. When the port goes away the owner reopens it with backoff; after repeated failures it
quarantines the modem and only probes it now and then (how fast and how soon: :class:`Recovery`, from the
configuration's ``reconnect`` section).
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gatewayd.modem.device import Modem, ModemSettings, Received, ReceivedSink, Status
from gatewayd.modem.errors import (
    CmeError,
    ModemError,
    PortError,
    PortNotFoundError,
    SessionClosedError,
    SimError,
    SimPinAttemptsLowError,
    SimPinRejectedError,
    SimPinRequiredError,
)
from gatewayd.modem.pdu import SmsStatusReport
from gatewayd.modem.pinguard import RejectedPins
from gatewayd.modem.refcounter import MemoryReferenceCounter, ReferenceSource
from gatewayd.modem.session import AtSession, Urc
from gatewayd.modem.transport import open_port

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

HEALTH_INTERVAL = 60.0
"""Default seconds between health checks (CSQ, CREG, COPS); the gateway's scheduler requests them."""
SWEEP_INTERVAL = 300.0
"""Default seconds between storage sweeps (AT+CMGL), which catch what a lost +CMTI did not announce."""
RECONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Default delays between attempts to reopen a lost modem; the last one repeats."""
QUARANTINE_AFTER = 5
"""Default number of consecutive failed (re)connects after which the modem is quarantined."""
QUARANTINE_PROBE_INTERVAL = 300.0
"""Default seconds between attempts on a quarantined modem."""
PROBE_TIMEOUT = 2.0
"""The bare ``AT`` that checks a modem still answers after a timeout."""
CME_SIM_NOT_INSERTED = 10


class ModemState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    GONE = "gone"
    QUARANTINED = "quarantined"
    FAILED = "failed"  # needs a person (SIM PIN rejected, PUK): not retried automatically
    STOPPED = "stopped"


class SimStatus(enum.Enum):
    """The SIM as the last initialisation found it: what the operator's card and /metrics show.

    Only an initialisation reads it (the SIM is not polled), so a modem that is gone keeps the value
    its last connection found.
    """

    UNKNOWN = "unknown"  # not read yet: the modem has not answered since the daemon started
    READY = "ready"
    PIN_REQUIRED = "pin_required"  # no PIN configured, or too few attempts left to risk the configured one
    PIN_WRONG = "pin_wrong"  # the SIM rejected the configured PIN (now or at an earlier start)
    PUK_REQUIRED = "puk_required"
    NOT_INSERTED = "not_inserted"
    FAILURE = "failure"  # any other SIM error (not ready after the PIN, SIM failure)


def sim_status(exc: SimError, reported: str | None) -> SimStatus:
    """Which SIM state a SimError from initialisation means; ``reported`` is the last ``+CPIN:`` answer."""
    if isinstance(exc, SimPinRejectedError):
        return SimStatus.PIN_WRONG
    if isinstance(exc, SimPinRequiredError | SimPinAttemptsLowError):
        return SimStatus.PIN_REQUIRED
    if isinstance(exc.__cause__, CmeError) and exc.__cause__.code == CME_SIM_NOT_INSERTED:
        return SimStatus.NOT_INSERTED
    if reported is not None and "PUK" in reported.upper():
        return SimStatus.PUK_REQUIRED
    return SimStatus.FAILURE


@dataclass(frozen=True)
class Recovery:
    """How a modem that cannot be (re)opened is retried: quickly at first, then only probed, quarantined.

    Quick retries find a USB modem that reset; a slow probe afterwards keeps a modem that is really gone
    from filling the log and the bus. Per daemon (the configuration's ``reconnect`` section).
    """

    backoff: tuple[float, ...] = RECONNECT_BACKOFF
    """Seconds before the 1st, 2nd, ... new attempt; the last one repeats."""
    quarantine_after: int = QUARANTINE_AFTER
    probe_interval: float = QUARANTINE_PROBE_INTERVAL

    def __post_init__(self) -> None:
        if not self.backoff or min(self.backoff) <= 0 or self.quarantine_after < 1 or self.probe_interval <= 0:
            raise ValueError(f"unusable recovery policy: {self}")

    def quarantined(self, failures: int) -> bool:
        return failures >= self.quarantine_after

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failed attempt (1-based)."""
        if self.quarantined(failures):
            return self.probe_interval
        return self.backoff[min(max(failures, 1), len(self.backoff)) - 1]


@dataclass
class ModemSpec:
    """How to reach one modem and how to treat it (from the configuration).

    A modem bound by identity has an empty ``port`` and a ``locate`` function (a port scan for its IMEI
    or ICCID), called before every (re)connect: after a USB reset the modem may come back as another
    /dev/ttyUSBn, and the owner follows it there.
    """

    modem_id: str
    port: str
    baudrate: int = 115200
    rtscts: bool = False
    settings: ModemSettings = field(default_factory=ModemSettings)
    identity: dict[str, str] = field(default_factory=dict)
    locate: Callable[[], str | None] | None = None
    recovery: Recovery = field(default_factory=Recovery)


@dataclass
class ModemSnapshot:
    """What the pool, the page and /metrics read about a modem, without touching it.

    Written by the owner's threads only; the counters only grow, so a reader on another thread sees
    at worst a value one event old.
    """

    modem_id: str
    port: str
    state: ModemState
    identity: dict[str, str | None] = field(default_factory=dict)
    status: Status | None = None
    last_error: str | None = None
    reconnects: int = 0
    sim: SimStatus = SimStatus.UNKNOWN
    connect_failures: int = 0
    """Attempts to open and initialise the modem that failed, since the daemon started."""
    stray_lines: int = 0
    """Lines that were no answer and no unsolicited code: line noise, or answers that came too late."""
    status_reports: int = 0
    """Status reports the modem handed over and the queue stored (matched to a message or not)."""
    health_checks: int = 0
    """Health checks run since the daemon started (answered or not): a count that stops growing means the
    scheduler stopped asking (it did after a backward clock step; see gateway.Gateway.clock_stepped)."""


@dataclass(frozen=True)
class _Disconnected:
    """Queued by the session's close listener: the port of ``session`` is gone."""

    session: AtSession


class _Stop:
    """Queued by :meth:`ModemOwner.stop`."""


@dataclass(frozen=True)
class _Periodic:
    """Queued by the scheduler: a health check or a storage sweep, run between jobs."""

    kind: str  # "health" | "sweep"


@dataclass
class _Job:
    func: Callable[[Modem], Any]
    future: Future[Any]


def _another_device(seen: dict[str, str | None], imei: str | None, iccid: str | None) -> str | None:
    """What differs when a port comes back with another modem or SIM than the one this id was using,
    or None. A pty or ttyUSB number freed by an unplug is soon given to another device; a modem id's
    reference counter, daily caps and pinned multipart messages (same SIM, same sender number) belong to
    the modem and SIM seen first, so another one is refused rather than silently taken for it."""
    for key, now in (("imei", imei), ("iccid", iccid)):
        before = seen.get(key)
        if before and now and before != now:
            return f"{key.upper()} {now} where {before} was"
    return None


class ModemOwner:
    """Runs one modem on its own thread; other threads hand it jobs and read its snapshot."""

    def __init__(self, spec: ModemSpec, *, sink: ReceivedSink, references: ReferenceSource | None = None,
                 rejected_pins: RejectedPins | None = None,
                 on_change: Callable[[ModemSnapshot], None] | None = None) -> None:
        self.spec = spec
        self._sink = sink
        self._references = references or MemoryReferenceCounter()
        self._rejected_pins = rejected_pins or RejectedPins()
        self._on_change = on_change
        self._inbox: queue.SimpleQueue[_Job | Urc | _Disconnected | _Stop | _Periodic] = queue.SimpleQueue()
        self._pending_periodic: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"modem-{spec.modem_id}", daemon=True)
        self._modem: Modem | None = None
        self._session: AtSession | None = None
        self.snapshot = ModemSnapshot(spec.modem_id, spec.port, ModemState.STARTING)
        self.ready = threading.Event()
        self.first_attempt = threading.Event()
        """Set once the first connection attempt has succeeded or failed (start-up waits on it)."""
        self.first_error: ModemError | OSError | None = None

    # -- API for other threads ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 70.0) -> None:
        """Finish the job in flight (a send may take up to its CMGS timeout), then close the port."""
        self._stopping.set()
        self._inbox.put(_Stop())
        self._thread.join(timeout)

    def request_health(self) -> None:
        """Ask for a health check between jobs (the scheduler calls this; never piles up)."""
        self._request("health")

    def request_sweep(self) -> None:
        """Ask for a storage sweep between jobs."""
        self._request("sweep")

    def _request(self, kind: str) -> None:
        # Called from the scheduler's thread; the set is only a de-duplication hint (a lost race costs
        # one extra or one skipped check, both harmless).
        if self.snapshot.state is ModemState.READY and kind not in self._pending_periodic:
            self._pending_periodic.add(kind)
            self._inbox.put(_Periodic(kind))

    def submit(self, func: Callable[[Modem], T]) -> Future[T]:
        """Run ``func(modem)`` on the owner thread; the future fails with ModemError if it is not ready."""
        future: Future[T] = Future()
        if self._stopping.is_set():
            future.set_exception(ModemError(f"modem {self.spec.modem_id} is stopping"))
        else:
            self._inbox.put(_Job(func, future))
        return future

    # -- the owner thread ---------------------------------------------------------------------------

    def _set_state(self, state: ModemState, error: str | None = None) -> None:
        changed = state != self.snapshot.state or error != self.snapshot.last_error
        self.snapshot.state = state
        self.snapshot.last_error = error
        if state is ModemState.READY:
            self.ready.set()
        else:
            self.ready.clear()
        if changed:
            level = logging.INFO if state in (ModemState.READY, ModemState.STOPPED) else logging.WARNING
            LOGGER.log(level, "modem %s: %s%s", self.spec.modem_id, state.value, f" ({error})" if error else "")
            if self._on_change is not None:
                self._on_change(self.snapshot)

    def _find_port(self) -> str:
        spec = self.spec
        if spec.locate is None:
            return spec.port
        found = spec.locate()
        if found is None:
            wanted = " ".join(f"{key} {value}" for key, value in spec.identity.items())
            raise PortNotFoundError(spec.port or spec.modem_id, f"no modem with {wanted} found by the port scan")
        if found != self.snapshot.port:
            LOGGER.info("modem %s: found at %s", spec.modem_id, found)
            self.snapshot.port = found
        return found

    def _connect(self) -> Modem:
        spec = self.spec
        port = open_port(self._find_port(), baudrate=spec.baudrate, rtscts=spec.rtscts)
        session = AtSession(port, modem_id=spec.modem_id)
        session.add_close_listener(lambda _exc: self._inbox.put(_Disconnected(session)))
        session.add_stray_listener(self._count_stray)
        session.start()
        self._session = session
        modem = Modem(session, modem_id=spec.modem_id, settings=spec.settings, references=self._references,
                      stop=self._stopping, on_event=self._inbox.put, rejected_pins=self._rejected_pins)
        try:
            identity = modem.initialise()
        except BaseException as exc:
            if isinstance(exc, SimError):
                self.snapshot.sim = sim_status(exc, modem.sim_state)
            modem.close()
            session.close()
            self._session = None
            raise
        self.snapshot.sim = SimStatus.READY  # initialise() returns only with the SIM unlocked
        changed = _another_device(self.snapshot.identity, identity.imei, identity.iccid)
        if changed is not None:
            modem.close()
            session.close()
            self._session = None
            raise PortError(spec.port or self.snapshot.port or spec.modem_id, f"{changed}: not the modem "
                            f"{spec.modem_id} was using; restart gatewayd to take it as {spec.modem_id}")
        self.snapshot.identity = {
            "manufacturer": identity.manufacturer, "model": identity.model, "revision": identity.revision,
            "imei": identity.imei, "imsi": identity.imsi, "iccid": identity.iccid,
        }
        return modem

    def _count_stray(self, _line: str, _timed_out: str | None) -> None:
        # The session's reader thread; the owner thread never writes this counter.
        self.snapshot.stray_lines += 1

    def _record(self, item: Received) -> None:
        """The sink, counted: a status report is counted once the queue has stored it (raising: kept on
        the modem for a later sweep, not counted)."""
        self._sink(item)
        if isinstance(item.message, SmsStatusReport):
            self.snapshot.status_reports += 1

    def _disconnect(self) -> None:
        if self._modem is not None:
            self._modem.close()
            self._modem = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def _run(self) -> None:
        recovery = self.spec.recovery
        failures = 0
        connected_before = False
        while not self._stopping.is_set():
            try:
                self._modem = self._connect()
            except SimError as exc:
                # A PIN problem does not fix itself; retrying would burn SIM attempts.
                self.first_error = self.first_error or exc
                self.first_attempt.set()
                self.snapshot.connect_failures += 1
                self._set_state(ModemState.FAILED, str(exc))
                self._fail_jobs_until_stop()
                break
            except (ModemError, OSError) as exc:
                if not self.first_attempt.is_set():
                    self.first_error = exc
                    self.first_attempt.set()
                failures += 1
                self.snapshot.connect_failures += 1
                quarantined = recovery.quarantined(failures)
                self._set_state(ModemState.QUARANTINED if quarantined else ModemState.GONE, str(exc))
                if self._wait_failing_jobs(recovery.delay(failures)):
                    break
                continue
            if connected_before:
                self.snapshot.reconnects += 1
            connected_before = True
            failures = 0
            self._serve(self._modem)
            self._disconnect()
        self._disconnect()
        self._set_state(ModemState.STOPPED)

    def _serve(self, modem: Modem) -> None:
        """Process jobs and unsolicited codes until the port goes away or we are told to stop.

        READY is announced only after the first health check and storage sweep, so the dispatcher never
        hands a message to a modem that is still busy reading what arrived while gatewayd was down.
        """
        self._pending_periodic.clear()  # requests queued for the previous session were dropped
        self._health(modem)
        self._sweep(modem)
        if not self._still_answering(modem):
            return
        self._set_state(ModemState.READY)
        self.first_attempt.set()
        while True:
            item = self._inbox.get()
            if isinstance(item, _Periodic):
                self._pending_periodic.discard(item.kind)
                if item.kind == "health":
                    self._health(modem)
                else:
                    self._sweep(modem)
                if not self._still_answering(modem):
                    return
                continue
            if isinstance(item, _Stop):
                return
            if isinstance(item, _Disconnected):
                if item.session is not modem.session:
                    continue  # the close of a session we already replaced
                self._set_state(ModemState.GONE, "port closed")
                return
            if isinstance(item, _Job):
                if not item.future.set_running_or_notify_cancel():
                    continue
                try:
                    result = item.func(modem)
                except SessionClosedError as exc:
                    self._set_state(ModemState.GONE, str(exc))
                    item.future.set_exception(exc)
                    return
                except BaseException as exc:
                    answering = self._still_answering(modem)
                    item.future.set_exception(exc)
                else:
                    # Check the modem before handing the result back: the dispatcher reacts to the result
                    # at once, and must not give more work to a modem that has just stopped answering.
                    answering = self._still_answering(modem)
                    item.future.set_result(result)
                if not answering:
                    return
            else:
                modem.handle_event(item, self._record)
                if not self._still_answering(modem):
                    return

    def _still_answering(self, modem: Modem) -> bool:
        """After a timeout the session is out of sync; resynchronise now, not inside the next send.

        A modem that does not answer the resync is treated as gone: it leaves the pool (no more claims)
        and the owner reopens it with backoff, quarantining it if that keeps failing.
        """
        if not modem.session.out_of_sync:
            return True
        try:
            modem.at("AT", timeout=PROBE_TIMEOUT)
        except SessionClosedError as exc:
            self._set_state(ModemState.GONE, str(exc))
            return False
        except ModemError as exc:
            self._set_state(ModemState.GONE, f"not answering ({exc})")
            return False
        return True

    def _health(self, modem: Modem) -> None:
        self.snapshot.health_checks += 1
        try:
            self.snapshot.status = modem.status()
        except ModemError as exc:
            LOGGER.warning("modem %s: health check failed: %s", self.spec.modem_id, exc)

    def _sweep(self, modem: Modem) -> None:
        try:
            modem.sweep(self._record)
        except ModemError as exc:
            LOGGER.warning("modem %s: storage sweep failed: %s", self.spec.modem_id, exc)

    def _wait_failing_jobs(self, delay: float) -> bool:
        """Wait ``delay`` seconds, failing jobs that arrive meanwhile; True when told to stop."""
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                item = self._inbox.get(timeout=remaining)
            except queue.Empty:
                break
            if isinstance(item, _Stop):
                return True
            if isinstance(item, _Job):
                item.future.set_exception(PortError(self.spec.port, f"modem {self.spec.modem_id} not ready"))
        return self._stopping.is_set()

    def _fail_jobs_until_stop(self) -> None:
        while True:
            item = self._inbox.get()
            if isinstance(item, _Stop):
                return
            if isinstance(item, _Job):
                item.future.set_exception(ModemError(f"modem {self.spec.modem_id}: {self.snapshot.last_error}"))
