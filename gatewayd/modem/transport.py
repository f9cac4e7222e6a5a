"""Opening a modem port: local devices, /dev/serial/by-id links, ser2net (socket://) and rfc2217://.

Flow control is a parameter, not a constant, because over a socket there are no RTS/CTS lines to drive.
Local devices are opened exclusively (pyserial's flock) so that two gatewayd owners, or gatewayd and a
forgotten minicom, never read each other's answers. Failures become typed errors with a one-line reason
that the CLI prints as-is: an operator must be able to tell "unplugged" from "someone else has it".
"""

from __future__ import annotations

import errno
import logging
import socket

import serial
import serial.rfc2217

from gatewayd.modem.errors import PortBusyError, PortError, PortNotFoundError

LOGGER = logging.getLogger(__name__)

READ_TIMEOUT = 0.2
"""Longest a read blocks: bounds how long the reader thread takes to notice that it must stop."""

WRITE_TIMEOUT = 10.0
"""A write blocked this long (flow control never released, ser2net wedged) means the port is lost."""

_BUSY = frozenset({errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK})
_NOT_FOUND = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                        errno.ENETUNREACH})


def open_port(url: str, *, baudrate: int = 115200, rtscts: bool = False, xonxoff: bool = False,
              exclusive: bool = True) -> serial.SerialBase:
    """Open ``url`` with a bounded read timeout, or raise PortBusyError / PortNotFoundError / PortError."""
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=baudrate, rtscts=rtscts,
                                     xonxoff=xonxoff, timeout=READ_TIMEOUT)
    except (ValueError, serial.SerialException) as exc:
        raise PortError(url, f"invalid port URL ({exc})") from exc
    # pyserial's rfc2217 client refuses any write timeout at open (NotImplementedError); there the
    # socket's send buffer bounds a write instead.
    if not isinstance(port, serial.rfc2217.Serial):
        port.write_timeout = WRITE_TIMEOUT
    # Only the local POSIX/Windows class implements locking; URL handlers would ignore or reject it.
    if exclusive and isinstance(port, serial.Serial):
        port.exclusive = True
    try:
        port.open()
    except (serial.SerialException, OSError) as exc:
        error = _classify(url, exc)
        LOGGER.debug("port %s: open failed: %s", url, exc)  # the caller reports the typed error once
        raise error from exc
    LOGGER.info("port %s: opened (%s baud, rtscts=%s, xonxoff=%s, exclusive=%s)", url, baudrate, rtscts,
                xonxoff, bool(getattr(port, "exclusive", False)))
    return port


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError under a SerialException (pyserial keeps errno on some paths, chains it on
    others); its strerror is the short reason ("No such file or directory"), without pyserial's prefix."""
    seen: set[int] = set()
    found: OSError | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
                current.errno is not None or isinstance(current, socket.gaierror | TimeoutError)):
            found = current  # keep walking: the innermost one has the plain strerror
        current = current.__cause__ or current.__context__
    return found


def _classify(url: str, exc: BaseException) -> PortError:
    root = _root_os_error(exc)
    if root is None:
        return PortError(url, str(exc) or type(exc).__name__)
    if isinstance(root, socket.gaierror):
        return PortNotFoundError(url, f"unknown host ({root.strerror or root})")
    code = root.errno
    detail = root.strerror or str(root)
    if code == errno.EBUSY:
        return PortBusyError(url, f"busy: in use by another program ({detail})")
    if code in _BUSY:  # flock refused: another process holds the exclusive lock
        return PortBusyError(url, "busy: locked by another program")
    if code in _NOT_FOUND:
        return PortNotFoundError(url, f"not found ({detail})")
    if code == errno.EACCES:
        return PortError(url, f"permission denied ({detail}; is the user in the dialout group?)")
    if isinstance(root, TimeoutError):
        return PortError(url, "connection timed out")
    return PortError(url, detail)
