"""The ``Emulator``: one network, its modems and endpoints, served by one loop thread.

One thread runs a ``selectors`` loop and a timer heap; every modem, endpoint and the network live on
it, so none of them needs a lock. Other threads (tests, the daemon, the CLI) call the public methods,
which marshal the work into the loop through a socketpair wake-up and wait for the result.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from gatewayd.emulator.command_times import CommandTimes
from gatewayd.emulator.control import ControlServer
from gatewayd.emulator.endpoints import PtyEndpoint, TcpEndpoint
from gatewayd.emulator.identity import default_iccid, default_imei, default_imsi
from gatewayd.emulator.modem import EmulatedModem
from gatewayd.emulator.network import EmulatedNetwork
from gatewayd.emulator.profiles import Quirks, resolve_profile
from gatewayd.emulator.timers import TimerHeap

LOGGER = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0
"""Seconds a public method waits for the loop thread before giving up (the loop is stuck)."""
STOP_TIMEOUT = 5.0
MODEM_FAULTS = frozenset({"hang", "cms_error", "garbage", "no_network", "report_status"})
FAULT_KINDS = MODEM_FAULTS | {"disconnect", "unplug"}
"""``disconnect`` closes the pty (the host reads EIO; the link dangles, as a by-id name can for a moment);
``unplug`` also removes the link, as the kernel removes /dev/ttyUSBn: every reopen fails until ``reconnect``."""

T = TypeVar("T")


@dataclass
class ModemHandle:
    """What the outside sees of one emulated modem: where to reach it, and the modem itself."""

    modem: EmulatedModem
    link: str | None = None
    pty: PtyEndpoint | None = None
    tcp: TcpEndpoint | None = None

    @property
    def modem_id(self) -> str:
        return self.modem.modem_id

    @property
    def number(self) -> str:
        return self.modem.number

    @property
    def imei(self) -> str:
        return self.modem.imei

    @property
    def device_path(self) -> str | None:
        """The current pty slave (None while disconnected by a fault)."""
        return None if self.pty is None or self.pty.closed else self.pty.slave_path

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        return self.tcp.address if self.tcp else None

    @property
    def url(self) -> str | None:
        """A pyserial URL for the TCP endpoint ("socket://host:port"), None without one."""
        if self.tcp is None:
            return None
        host, port = self.tcp.address
        return f"socket://{host}:{port}"

    def describe(self) -> dict[str, Any]:
        return {"id": self.modem_id, "number": self.number, "imei": self.imei, "iccid": self.modem.sim.iccid,
                "profile": self.modem.quirks.name, "device": self.device_path, "link": self.link,
                "url": self.url}


class Emulator:
    """An emulated network of modems. Thread-safe public API; also a context manager."""

    def __init__(self, log_path: str | None = None, *, control: tuple[str, int] | None = None,
                 seed: int | None = None, command_times: bool = False) -> None:
        """``command_times``: time every command line and accepted submit (see command_times.py)."""
        self._timers = TimerHeap()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._woken)
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._calls_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._seed = seed
        self.network = EmulatedNetwork(self._timers, log_path)
        self.modems: list[ModemHandle] = []
        self._control_request = control
        self._control: ControlServer | None = None
        self._command_times = CommandTimes() if command_times else None

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        if self._control_request is not None:
            host, port = self._control_request
            self._control = ControlServer(self._selector, host, port, self.dispatch)
        for handle in self.modems:
            handle.modem.power_on()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="gatewayd-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop and release every pty, socket and the log (also when never started)."""
        if self._selector.get_map() is None:
            return  # already stopped
        self._call(self._shutdown)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def control_address(self) -> tuple[str, int] | None:
        return self._control.address if self._control else None

    # -- the loop --------------------------------------------------------------------------------------

    def _run(self) -> None:
        while self._running:
            events = self._selector.select(self._timers.next_delay())
            for key, mask in events:
                self._guard(key.data, mask)
            self._guard(self._timers.run_due)
        LOGGER.info("emulator loop stopped")

    @staticmethod
    def _guard(step: Callable[..., object], *args: object) -> None:
        try:
            step(*args)
        except Exception:  # one bad event must not stop every modem
            LOGGER.exception("emulator loop step failed")

    def _woken(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        while True:
            with self._calls_lock:
                if not self._calls:
                    return
                fn, future = self._calls.popleft()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread and return its result (directly when not running yet)."""
        if self._thread is None or threading.current_thread() is self._thread:
            return fn()
        future: Future[T] = Future()
        with self._calls_lock:
            self._calls.append((fn, future))
        with contextlib.suppress(BlockingIOError):
            self._wake_w.send(b"\0")
        return future.result(CALL_TIMEOUT)

    def _shutdown(self) -> None:
        self._running = False
        for handle in self.modems:
            handle.modem.power_off()
            if handle.pty is not None:
                handle.pty.close(remove_link=True)
            if handle.tcp is not None:
                handle.tcp.close()
        if self._control is not None:
            self._control.close()
        self.network.close()

    # -- modems ----------------------------------------------------------------------------------------

    def add_modem(self, number: str, *, imei: str | None = None, iccid: str | None = None,
                  imsi: str | None = None, profile: str | Quirks = "generic", pin: str | None = None,
                  send_latency: float = 0.0, modem_id: str | None = None, pty: str | None = None,
                  listen: tuple[str, int] | None = None) -> ModemHandle:
        """Add a modem (before or after start). It always gets a pty; ``pty`` names a symlink to it."""
        quirks = resolve_profile(profile)

        def add() -> ModemHandle:
            index = len(self.modems) + 1
            mid = modem_id or f"modem{index}"
            if any(h.modem_id == mid for h in self.modems):
                raise ValueError(f"modem id {mid!r} already used")
            modem = EmulatedModem(
                modem_id=mid, number=number, imei=imei or default_imei(index),
                iccid=iccid or default_iccid(index), imsi=imsi or default_imsi(index), quirks=quirks,
                scheduler=self._timers, network=self.network, pin=pin, send_latency=send_latency,
                seed=None if self._seed is None else self._seed + index)
            modem.command_times = self._command_times
            self.network.attach(modem)
            handle = ModemHandle(modem=modem, link=pty)
            modem.sink = lambda data: self._to_host(handle, data)
            handle.pty = PtyEndpoint(mid, self._selector, modem.feed, pty)
            if listen is not None:
                handle.tcp = TcpEndpoint(mid, self._selector, modem.feed, *listen)
            self.modems.append(handle)
            if self._thread is not None:
                modem.power_on()
            return handle

        return self._call(add)

    @staticmethod
    def _to_host(handle: ModemHandle, data: bytes) -> None:
        if handle.pty is not None:
            handle.pty.write(data)
        if handle.tcp is not None:
            handle.tcp.write(data)

    def _find(self, target: str | None) -> ModemHandle:
        if not self.modems:
            raise ValueError("no modems")
        if target is None:
            return self.modems[0]
        for handle in self.modems:
            if target in (handle.modem_id, handle.number, handle.imei):
                return handle
        raise ValueError(f"no modem {target!r}")

    def modem(self, target: str | None = None) -> ModemHandle:
        return self._find(target)

    # -- network and faults ----------------------------------------------------------------------------

    def deliver(self, to_number: str | None, from_number: str, text: str) -> int:
        """An SMS from the outside world to an emulated modem; returns the number of parts."""
        return self._call(
            lambda: self.network.deliver_external(self._find(to_number).number, from_number, text))

    def deliver_pdu(self, to_number: str | None, pdu_hex: str) -> bool:
        """Hand the modem a raw SMS-DELIVER PDU (with SMSC field) exactly as given, readable or not.

        Networks do deliver PDUs a decoder cannot read (corrupt, compressed, unknown schemes); this is
        how tests put one in storage. Returns False when the modem cannot take it now (memory full).
        """
        pdu = _hex(pdu_hex)
        smsc_octets = 1 + int(pdu[:2], 16)
        tpdu_length = max(len(pdu) // 2 - smsc_octets, 0)
        return self._call(lambda: self._find(to_number).modem.receive_deliver(pdu, tpdu_length, {}))

    def status_report(self, target: str | None, pdu_hex: str | None = None, *, mr: int | None = None,
                      recipient: str | None = None, status: int = 0) -> str:
        """The SMSC sends the modem a status report (+CDS, or stored per AT+CNMI) that no submit asked
        for: a raw ``pdu_hex`` (with SMSC field), or one built for ``mr`` / ``recipient`` / ``status``.
        Queued like any report, so a modem that cannot take it now gets it later. Returns the PDU."""
        pdu = None if pdu_hex is None else _hex(pdu_hex)
        return self._call(lambda: self.network.report_external(self._find(target).modem, pdu, mr=mr,
                                                               recipient=recipient, status=status))

    def set_pin(self, target: str | None, pin: str | None) -> dict[str, Any]:
        """Give a modem a SIM that asks for ``pin`` (None: no PIN), locked now with full attempt
        counters; returns the SIM's state and counters."""
        if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValueError("pin must be 4 to 8 digits")

        def apply() -> dict[str, Any]:
            modem = self._find(target).modem
            modem.set_sim_pin(pin)
            return modem.sim.describe()

        return self._call(apply)

    def reject_number(self, number: str, code: int | None = 1) -> None:
        """Make the network refuse submits to ``number`` with ``+CMS ERROR: code`` (None: accept again)."""
        def apply() -> None:
            if code is None:
                self.network.rejected.pop(number, None)
            else:
                self.network.rejected[number] = code
        self._call(apply)

    def sent(self) -> list[dict[str, Any]]:
        """Every part the SMSC accepted, in order (the same records as the --log file)."""
        return self._call(lambda: [dict(record) for record in self.network.log.records])

    def fault(self, target: str | None, kind: str, code: int | None = None, count: int | None = None,
              seconds: float | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(sorted(FAULT_KINDS))})")

        def apply() -> None:
            handle = self._find(target)
            if kind in ("disconnect", "unplug"):
                self._disconnect(handle, remove_link=kind == "unplug")
            else:
                handle.modem.fault(kind, code=code, count=count, seconds=seconds)

        self._call(apply)

    def clear(self, target: str | None = None) -> None:
        """Clear the faults of one modem, or of all."""

        def apply() -> None:
            for handle in [self._find(target)] if target else self.modems:
                handle.modem.clear_faults()

        self._call(apply)

    def _disconnect(self, handle: ModemHandle, *, remove_link: bool = False) -> None:
        LOGGER.info("modem %s: fault: %s", handle.modem_id, "unplug" if remove_link else "disconnect")
        if handle.pty is not None:
            handle.pty.close(remove_link=remove_link)
        if handle.tcp is not None:
            handle.tcp.drop_client()

    def reconnect(self, target: str | None = None) -> str:
        """A fresh pty for a disconnected modem (same IMEI/ICCID; the symlink is re-pointed)."""

        def apply() -> str:
            handle = self._find(target)
            if handle.pty is not None:
                handle.pty.close()
            handle.pty = PtyEndpoint(handle.modem_id, self._selector, handle.modem.feed, handle.link)
            handle.modem.reset_settings()
            handle.modem.power_on()
            return handle.pty.slave_path

        return self._call(apply)

    def command_times(self, since: float = float("-inf"), target: str | None = None) -> list[dict[str, Any]]:
        """Timed command lines and accepts at or after ``since`` (monotonic seconds), oldest first."""

        def read() -> list[dict[str, Any]]:
            if self._command_times is None:
                raise ValueError("command times are not recorded (start the emulator with command_times)")
            modem = self._find(target).modem_id if target else None
            return [r.as_dict() for r in self._command_times.since(since, modem=modem)]

        return self._call(read)

    def status(self) -> list[dict[str, Any]]:
        return self._call(lambda: [{**h.describe(), **h.modem.status()} for h in self.modems])

    # -- control port ----------------------------------------------------------------------------------

    def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        """One control request (already on the loop thread). ValueError/KeyError become error replies."""
        op = request.get("op")
        target = request.get("modem")
        if op == "deliver":
            to = request.get("to") or target
            parts = self.deliver(to, str(request["from"]), str(request["text"]))
            return {"ok": True, "parts": parts}
        if op == "deliver_pdu":
            return {"ok": self.deliver_pdu(request.get("to") or target, str(request["pdu"]))}
        if op == "status_report":
            pdu = request.get("pdu")
            recipient = request.get("recipient")
            sent = self.status_report(target, None if pdu is None else str(pdu), mr=_opt_int(request, "mr"),
                                      recipient=None if recipient is None else str(recipient),
                                      status=_opt_int(request, "status") or 0)
            return {"ok": True, "pdu": sent}
        if op == "sim":
            if "pin" not in request:
                raise KeyError("pin (digits, or null for a SIM without PIN)")
            pin = request["pin"]
            return {"ok": True, **self.set_pin(target, None if pin is None else str(pin))}
        if op == "reject":
            self.reject_number(str(request["number"]), _opt_int(request, "code"))
            return {"ok": True}
        if op == "sent":
            return {"ok": True, "messages": self.sent()}
        if op == "fault":
            self.fault(target, str(request["kind"]), code=_opt_int(request, "code"),
                       count=_opt_int(request, "count"), seconds=_opt_float(request, "seconds"))
            return {"ok": True}
        if op == "clear":
            self.clear(target)
            return {"ok": True}
        if op == "reconnect":
            return {"ok": True, "device": self.reconnect(target)}
        if op == "status":
            return {"ok": True, "modems": self.status()}
        if op == "command_times":
            since = _opt_float(request, "since")
            return {"ok": True, "now": self._timers.now(),
                    "records": self.command_times(float("-inf") if since is None else since, target)}
        raise ValueError(f"unknown op {op!r}")


def _hex(pdu_hex: str) -> str:
    pdu = pdu_hex.strip().upper()
    if not pdu or len(pdu) % 2 or any(c not in "0123456789ABCDEF" for c in pdu):
        raise ValueError("pdu must be hex octets")
    return pdu


def _opt_int(request: dict[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a number")
    return int(value)


def _opt_float(request: dict[str, Any], key: str) -> float | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a number")
    return float(value)
