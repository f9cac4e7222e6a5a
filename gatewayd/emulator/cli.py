"""``gatewayd emulator``: run emulated modems until SIGINT / SIGTERM.

With ``--modems N`` (N > 1) the modems get consecutive numbers and IMEIs, pty links PATH0..PATH{N-1}
and consecutive TCP ports (port 0 gives each an ephemeral port). One JSON line per modem tells where
it is reachable; a last line gives the control port when there is one.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import dataclass
from typing import NoReturn

from gatewayd.emulator.emulator import Emulator
from gatewayd.emulator.identity import nth_imei, nth_number
from gatewayd.emulator.profiles import PROFILES

LOGGER = logging.getLogger(__name__)

DEFAULT_NUMBER = "+15550000001"
MAX_MODEMS = 64
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit status 2: the CLI's contract for bad arguments."""
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value!r}")
    return number


def modem_pin(value: str) -> tuple[int, str]:
    index, sep, pin = value.partition(":")
    if not sep or not index.isdigit() or int(index) < 1 or not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise argparse.ArgumentTypeError(f"expected N:PIN (modem number from 1, PIN of 4 to 8 digits), got {value!r}")
    return int(index), pin


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gatewayd emulator", description="Emulated GSM modems and network (SMSC).")
    parser.add_argument("--pty", metavar="PATH",
                        help="symlink PATH to the modem's pty (PATH0.. with --modems N)")
    parser.add_argument("--listen", metavar="HOST:PORT", type=host_port, help="serve the modem over TCP")
    parser.add_argument("--number", default=DEFAULT_NUMBER, help="the (first) modem's number, +E164")
    parser.add_argument("--control", metavar="HOST:PORT", type=host_port, help="JSON-lines control port")
    parser.add_argument("--log", metavar="FILE", help="append every accepted PDU to FILE as a JSON line")
    parser.add_argument("--send-latency", metavar="SECONDS", type=non_negative, default=0.0)
    parser.add_argument("--profile", default="generic", choices=sorted(PROFILES))
    parser.add_argument("--pin", help="the SIM asks for this PIN at power-up")
    parser.add_argument("--sim-pin", metavar="N:PIN", type=modem_pin, action="append", default=[],
                        help="modem N's (1-based) SIM asks for PIN instead (repeatable; control op sim too)")
    parser.add_argument("--imei", help="the (first) modem's IMEI (15 digits)")
    parser.add_argument("--command-times", action="store_true",
                        help="time every command line and accepted submit (control op command_times)")
    parser.add_argument("--modems", type=int, default=1, metavar="N", help="start N modems")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


@dataclass(frozen=True)
class ModemPlan:
    number: str
    imei: str | None
    pty: str | None
    listen: tuple[str, int] | None
    pin: str | None


def _plan(args: argparse.Namespace) -> list[ModemPlan]:
    if not 1 <= args.modems <= MAX_MODEMS:
        raise ValueError(f"--modems must be 1..{MAX_MODEMS}")
    pins = dict(args.sim_pin)
    if any(index > args.modems for index in pins):
        raise ValueError(f"--sim-pin names modem {max(pins)} of {args.modems}")
    plans: list[ModemPlan] = []
    for i in range(args.modems):
        pty = args.pty if args.pty is None or args.modems == 1 else f"{args.pty}{i}"
        listen = None
        if args.listen is not None:
            host, port = args.listen
            listen = (host, port + i if port else 0)
            if listen[1] > 65535:
                raise ValueError("--listen port range runs past 65535")
        plans.append(ModemPlan(nth_number(args.number, i), nth_imei(args.imei, i) if args.imei else None,
                               pty, listen, pins.get(i + 1, args.pin)))
    return plans


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        plans = _plan(args)
    except ValueError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    # Block the stop signals before the loop thread starts, so only sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        emulator = Emulator(args.log, control=args.control, command_times=args.command_times)
        handles = [emulator.add_modem(plan.number, imei=plan.imei, pty=plan.pty, listen=plan.listen,
                                      profile=args.profile, pin=plan.pin, send_latency=args.send_latency)
                   for plan in plans]
        emulator.start()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 1
    try:
        for handle in handles:
            print(json.dumps(handle.describe()), flush=True)
        if emulator.control_address:
            host, port = emulator.control_address
            print(json.dumps({"control": f"{host}:{port}"}), flush=True)
        received = signal.sigwait(STOP_SIGNALS)
        LOGGER.info("emulator stopping on signal %d", received)
    finally:
        emulator.stop()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return 0
