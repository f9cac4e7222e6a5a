"""sd_notify(3) without libsystemd: tell systemd we are ready, alive, stopping, and what we are doing.

With ``Type=notify`` systemd considers the service started only when it says ``READY=1``, so
``systemctl start`` and units ordered after gatewayd wait until the queue is open and the web API
listens. With ``WatchdogSec=`` systemd restarts a daemon that stops sending ``WATCHDOG=1``: a hung
process (a deadlocked dispatcher) is restarted, not left silently accepting nothing.

The protocol is one datagram per notification on the AF_UNIX socket named by ``$NOTIFY_SOCKET``
(a path, or an abstract name written with a leading ``@``). Outside systemd the variable is unset and
every call is a no-op. A failed notification is logged and never raised: the gateway's work matters
more than telling systemd about it.
"""

from __future__ import annotations

import logging
import os
import socket

LOGGER = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
SEND_TIMEOUT = 1.0
"""systemd reads its notification socket promptly; a send blocked this long is dropped, not waited on."""
MAX_STATUS_LENGTH = 200
"""``systemctl status`` shows one short line; longer text is cut rather than refused."""


def _address() -> str | None:
    """The socket address from the environment, '@' turned into Linux's abstract-namespace NUL."""
    raw = os.environ.get(NOTIFY_SOCKET_ENV)
    if not raw:
        return None
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    LOGGER.debug("systemd notify: unsupported NOTIFY_SOCKET %r", raw)  # e.g. vsock: (containers, VMs)
    return None


def notify(*assignments: str) -> bool:
    """Send ``KEY=value`` lines as one datagram; True if sent, False outside systemd or on failure."""
    address = _address()
    if address is None:
        return False
    message = "\n".join(assignments).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.sendto(message, address)
    except OSError as exc:
        LOGGER.warning("systemd notify %s failed: %s", assignments[0] if assignments else "", exc)
        return False
    return True


def ready(status_text: str | None = None) -> bool:
    """Start-up is complete: the queue is open and the API listens (modems may still be coming up)."""
    fields = ["READY=1"]
    if status_text:
        fields.append(_status_field(status_text))
    return notify(*fields)


def stopping() -> bool:
    """Shutdown began: systemd shows "deactivating" and waits up to TimeoutStopSec for the send in flight."""
    return notify("STOPPING=1")


def watchdog() -> bool:
    """Still alive. Send it from the loop whose health it vouches for, every ``watchdog_interval() / 2``."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """One line for ``systemctl status`` ("3 of 4 modems ready, 12 queued")."""
    return notify(_status_field(text))


def _status_field(text: str) -> str:
    line = " ".join(text.split())
    return "STATUS=" + line[:MAX_STATUS_LENGTH]


def watchdog_interval() -> float | None:
    """Seconds within which systemd expects ``WATCHDOG=1``, or None when no watchdog is set for us.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is for: a child started with the same
    environment must not take it as its own.
    """
    usec = os.environ.get(WATCHDOG_USEC_ENV)
    if not usec:
        return None
    pid = os.environ.get(WATCHDOG_PID_ENV)
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        LOGGER.warning("systemd notify: ignoring malformed %s=%r", WATCHDOG_USEC_ENV, usec)
        return None
    return value / 1_000_000 if value > 0 else None
