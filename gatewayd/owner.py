"""The owner of one modem: the single thread that ever talks to it.

Everything that needs the modem (sending, health checks, reading a message announced by ``+CMTI``)
is a job on the owner's one queue, so commands never race and health checks take their turn between
sends instead of interrupting them. Unsolicited codes arrive on the same queue from the session's
reader thread. When the port goes away the owner reopens it with backoff; after repeated failures it
quarantines the modem and only probes it now and then.
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

from gatewayd.modem.device import Modem, ModemSettings, ReceivedSink, Status
from gatewayd.modem.errors import ModemError, PortError, PortNotFoundError, SessionClosedError, SimError
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
"""Delays between attempts to reopen a lost modem; the last one repeats."""
QUARANTINE_AFTER = 5
"""Consecutive failed (re)connects after which the modem is quarantined."""
QUARANTINE_PROBE_INTERVAL = 300.0
"""How often a quarantined modem is tried again."""
PROBE_TIMEOUT = 2.0
"""The bare ``AT`` that checks a modem still answers after a timeout."""



class ModemState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    GONE = "gone"
    QUARANTINED = "quarantined"
    FAILED = "failed"  # needs a person (SIM PIN rejected, PUK): not retried automatically
    STOPPED = "stopped"


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


@dataclass
class ModemSnapshot:
    """What the pool, the page and /metrics read about a modem, without touching it."""

    modem_id: str
    port: str
    state: ModemState
    identity: dict[str, str | None] = field(default_factory=dict)
    status: Status | None = None
    last_error: str | None = None
    reconnects: int = 0


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
        session.start()
        self._session = session
        modem = Modem(session, modem_id=spec.modem_id, settings=spec.settings, references=self._references,
                      stop=self._stopping, on_event=self._inbox.put, rejected_pins=self._rejected_pins)
        try:
            identity = modem.initialise()
        except BaseException:
            modem.close()
            session.close()
            self._session = None
            raise
        self.snapshot.identity = {
            "manufacturer": identity.manufacturer, "model": identity.model, "revision": identity.revision,
            "imei": identity.imei, "imsi": identity.imsi, "iccid": identity.iccid,
        }
        return modem

    def _disconnect(self) -> None:
        if self._modem is not None:
            self._modem.close()
            self._modem = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def _run(self) -> None:
        failures = 0
        connected_before = False
        while not self._stopping.is_set():
            try:
                self._modem = self._connect()
            except SimError as exc:
                # A PIN problem does not fix itself; retrying would burn SIM attempts.
                self.first_error = self.first_error or exc
                self.first_attempt.set()
                self._set_state(ModemState.FAILED, str(exc))
                self._fail_jobs_until_stop()
                break
            except (ModemError, OSError) as exc:
                if not self.first_attempt.is_set():
                    self.first_error = exc
                    self.first_attempt.set()
                failures += 1
                quarantined = failures >= QUARANTINE_AFTER
                self._set_state(ModemState.QUARANTINED if quarantined else ModemState.GONE, str(exc))
                delay = (QUARANTINE_PROBE_INTERVAL if quarantined
                         else RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF)) - 1])
                if self._wait_failing_jobs(delay):
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
                modem.handle_event(item, self._sink)
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
        try:
            self.snapshot.status = modem.status()
        except ModemError as exc:
            LOGGER.warning("modem %s: health check failed: %s", self.spec.modem_id, exc)

    def _sweep(self, modem: Modem) -> None:
        try:
            modem.sweep(self._sink)
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
