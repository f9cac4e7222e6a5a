"""Finding modems by identity (IMEI, ICCID) instead of by device path.

A USB modem that resets (brown-out, firmware crash, hub hiccup) comes back as another /dev/ttyUSBn,
and a modem with several AT interfaces has no stable name unless someone wrote udev rules. A modem
configured by ``imei`` / ``iccid`` is found by asking every candidate port who it is.

A scan must never harm what it touches: it skips ports gatewayd already owns and ports another program
holds (the exclusive open fails; that is an answer, not an error), it says only ``AT``, ``ATE0`` and
identity queries, and it never enters a PIN (a wrong PIN burns one of the SIM's three attempts; the
owner does that once, with its guard). A port that is not a modem (GPS, diagnostics interface, some
other device) is given a short time to answer and then left alone.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import serial

from gatewayd.modem.device import Identity, Modem
from gatewayd.modem.errors import AtCommandError, ModemError, PortBusyError, PortError
from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import READ_TIMEOUT, open_port

LOGGER = logging.getLogger(__name__)

PROBE_TIMEOUT = 1.0
"""How long a candidate may take to answer the first ``AT``. A modem answers within milliseconds; a
diagnostics or GPS port never does, and every silent port costs the whole scan this long."""
_OK_LINE = re.compile(rb"(^|[\r\n])OK[\r\n]")
IMEI_COMPARED_DIGITS = 14
"""TAC and serial number: the same for the 15-digit IMEI, its 14-digit form and the 16-digit IMEISV."""


def candidates(patterns: Iterable[str], *, exclude: Collection[str] = ()) -> list[str]:
    """Existing ports matching ``patterns`` as real paths, each once, in pattern order, minus ``exclude``.

    Deduplicating by real path matters: /dev/serial/by-id/... and /dev/ttyUSB2 are one port, and
    opening it twice would be refused by our own lock (or worse, succeed on a port without locking).
    """
    excluded = {os.path.realpath(path) for path in exclude}
    seen: set[str] = set()
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen or real in excluded:
                continue
            seen.add(real)
            found.append(real)
    return found


def probe(port: str, *, timeout: float = PROBE_TIMEOUT, baudrate: int = 115200) -> Identity | None:
    """The identity of the modem on ``port``, or None if it is busy, gone, or not a modem. Never raises."""
    try:
        serial_port = open_port(port, baudrate=baudrate)
    except PortBusyError:
        LOGGER.info("scan %s: skipped, held by another program", port)
        return None
    except PortError as exc:
        LOGGER.info("scan %s: skipped, cannot open (%s)", port, exc.reason)
        return None
    try:
        answered = _answers_at(serial_port, timeout)
    except (OSError, serial.SerialException) as exc:
        LOGGER.info("scan %s: skipped, port failed (%s)", port, exc)
        serial_port.close()
        return None
    if not answered:
        LOGGER.info("scan %s: skipped, no answer to AT within %g s", port, timeout)
        serial_port.close()
        return None
    label = f"scan:{port}"
    session = AtSession(serial_port, modem_id=label)
    modem: Modem | None = None
    try:
        session.start()
        modem = Modem(session, modem_id=label)
        try:
            session.command("ATE0", timeout=timeout)
        except AtCommandError:
            pass  # echo stays on: the session copes with echo, this only saves bytes
        identity = modem.read_identity()
    except ModemError as exc:
        LOGGER.info("scan %s: not a modem, or not answering (%s)", port, exc)
        return None
    except Exception:  # a bad candidate must never end the scan
        LOGGER.exception("scan %s: probe failed", port)
        return None
    finally:
        if modem is not None:
            modem.close()
        session.close()
    LOGGER.info("scan %s: %s %s imei %s iccid %s", port, identity.manufacturer, identity.model, identity.imei,
                identity.iccid)
    return identity


def _answers_at(port: serial.SerialBase, timeout: float) -> bool:
    """Whether a bare ``AT`` gets ``OK`` within ``timeout``, asked on the raw port before any session.

    Not through the session: after a timeout it resynchronises (seconds of retries and warnings), which
    is right for a modem that lagged and pointless for a port that is no modem. Here a silent port costs
    exactly ``timeout``.
    """
    port.write(b"AT\r")
    received = b""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        port.timeout = min(remaining, READ_TIMEOUT)
        waiting = getattr(port, "in_waiting", 0)  # every concrete pyserial class has it; the stubs do not
        received += port.read(waiting if isinstance(waiting, int) and waiting > 0 else 1)
        if _OK_LINE.search(received):
            port.timeout = READ_TIMEOUT
            return True
    return False


def scan(patterns: Iterable[str], *, exclude: Collection[str] = (), timeout: float = PROBE_TIMEOUT,
         baudrate: int = 115200) -> dict[str, Identity]:
    """Probe every candidate port; ``{real path: identity}`` for those that answered as modems.

    ``exclude`` holds the ports gatewayd's owners already hold (any spelling: they are compared by
    real path). Ports are probed one after another: a scan runs in the background every
    ``scan.interval`` and two probes on interfaces of the same modem at once could confuse it.
    """
    found: dict[str, Identity] = {}
    for port in candidates(patterns, exclude=exclude):
        identity = probe(port, timeout=timeout, baudrate=baudrate)
        if identity is not None:
            found[port] = identity
    return found


def _imei_key(value: str | None) -> str | None:
    digits = "".join(c for c in value or "" if c.isdigit())
    return digits[:IMEI_COMPARED_DIGITS] if len(digits) >= IMEI_COMPARED_DIGITS else None


def _iccid_key(value: str | None) -> str | None:
    text = (value or "").strip().upper().rstrip("F")
    return text if text.isdigit() else None


def _iccid_matches(wanted: str, seen: str | None) -> bool:
    """Equal, or equal but for the Luhn check digit that some modems leave off (19 vs 20 digits)."""
    want, got = _iccid_key(wanted), _iccid_key(seen)
    if want is None or got is None:
        return False
    short, long = sorted((want, got), key=len)
    return want == got or (len(long) - len(short) == 1 and long.startswith(short))


def matches(wanted: Mapping[str, str | None], identity: Identity) -> bool:
    """True if ``identity`` has every value given in ``wanted`` (keys ``imei``, ``iccid``)."""
    imei, iccid = wanted.get("imei"), wanted.get("iccid")
    if not imei and not iccid:
        return False
    if imei and (_imei_key(imei) is None or _imei_key(imei) != _imei_key(identity.imei)):
        return False
    return not iccid or _iccid_matches(iccid, identity.iccid)


def find_port(wanted: Mapping[str, str | None], scan_result: Mapping[str, Identity]) -> str | None:
    """The port whose modem has the wanted IMEI and/or ICCID, or None.

    A modem with two AT interfaces (Quectel's ttyUSB2 and ttyUSB3) answers on both with one identity;
    the first in sorted order is taken, so the choice is stable from one scan to the next.
    """
    hits = sorted(port for port, identity in scan_result.items() if matches(wanted, identity))
    if len(hits) > 1:
        LOGGER.info("scan: %s found on %s; using %s", dict(wanted), ", ".join(hits), hits[0])
    return hits[0] if hits else None


_SCAN_LOCK = threading.Lock()
"""One scan at a time in this process: two owners probing the same candidates at once would find each
other's probe holding the port and skip it."""


def locator(patterns: Sequence[str], held: Callable[[Mapping[str, str]], Collection[str]], *,
            timeout: float = PROBE_TIMEOUT) -> Callable[[Mapping[str, str]], Callable[[], str | None]]:
    """For the daemon: ``locator(...)(identity)`` is a function that scans for that modem and returns its
    port (or None). ``held(identity)`` gives the ports the OTHER owners hold right now, which the scan
    skips; the searching modem's own last port must stay in the scan, because a USB modem that resets
    usually comes back on the same device name."""

    def for_identity(wanted: Mapping[str, str]) -> Callable[[], str | None]:
        def locate() -> str | None:
            with _SCAN_LOCK:
                found = scan(patterns, exclude=held(wanted), timeout=timeout)
            return find_port(wanted, found)

        return locate

    return for_identity
