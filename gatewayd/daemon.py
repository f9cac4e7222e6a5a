"""``gatewayd run``: wiring of the process.

This is the preliminary daemon of the foundation stage: it brings up one owner per modem (on the
built-in emulator when no configuration is given), initialises them, runs their health checks and
receive path, and logs every received message as one structured line. The durable queue, dispatcher
and web API are wired here as they land (see the gateway issue).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport
from gatewayd.modem.reassembly import Reassembler
from gatewayd.modem.refcounter import FileReferenceCounter
from gatewayd.owner import ModemOwner, ModemSpec, ModemState

LOGGER = logging.getLogger(__name__)

DEFAULT_EMULATED_NUMBERS = ("+15550000001", "+15550000002")
READY_TIMEOUT = 30.0
"""How long start-up waits for the modems before saying which are not ready (they keep trying)."""
STATE_DIR = Path("var")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def _configure_logging() -> None:
    # One line per event, no timestamps of our own: journald and terminals add them.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s",
                        force=True)


def run(config_path: str | None = None) -> int:
    """Run until SIGTERM / SIGINT; returns the exit code."""
    if config_path is not None:
        print("gatewayd: configuration files arrive with the gateway's queue and pool; "
              "run without -c to use the built-in emulator", file=sys.stderr)
        return 2
    _configure_logging()
    from gatewayd.emulator.emulator import Emulator

    STATE_DIR.mkdir(exist_ok=True)
    references = FileReferenceCounter(STATE_DIR / "concat-reference")
    reassembler = Reassembler()
    lock = threading.Lock()

    def record(item: Received) -> None:
        with lock:
            message = item.message
            if isinstance(message, SmsDeliver):
                whole = reassembler.add(message, key=item.modem_id)
                if whole is not None:
                    LOGGER.info("modem %s: received %s", item.modem_id, json.dumps(
                        {"from": whole.sender, "text": whole.text, "parts": len(whole.parts)},
                        ensure_ascii=False))
            elif isinstance(message, SmsStatusReport):
                LOGGER.info("modem %s: status report mr %d to %s: %s", item.modem_id,
                            message.message_reference, message.recipient, message.status_text)
            else:
                LOGGER.warning("modem %s: unreadable PDU kept on the modem: %s", item.modem_id, item.error)
                raise ValueError(item.error)

    emulator = Emulator(log_path=str(STATE_DIR / "emulator-sent.jsonl"), control=("127.0.0.1", 0))
    owners: list[ModemOwner] = []
    for index, number in enumerate(DEFAULT_EMULATED_NUMBERS, start=1):
        link = str(STATE_DIR.resolve() / f"emu{index}")
        emulator.add_modem(number=number, modem_id=f"emu{index}", pty=link)
        owners.append(ModemOwner(ModemSpec(modem_id=f"emu{index}", port=link), sink=record, references=references))
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        LOGGER.info("signal %s: finishing the command in flight, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with emulator:
        for owner in owners:
            owner.start()
        for owner in owners:
            if not owner.ready.wait(READY_TIMEOUT):
                LOGGER.warning("modem %s: not ready after %.0f s (%s)", owner.spec.modem_id, READY_TIMEOUT,
                               owner.snapshot.last_error)
        control = emulator.control_address
        assert control is not None  # asked for above
        host, port = control
        print(f"gatewayd running on the built-in emulator ({len(owners)} modems: "
              + ", ".join(f"{o.spec.modem_id} {n} on {o.spec.port}" for o, n in
                          zip(owners, DEFAULT_EMULATED_NUMBERS, strict=True))
              + f"). Emulator control: {host}:{port}. Stop with Ctrl-C.", flush=True)
        print(f"  try: echo '{{\"op\": \"deliver\", \"to\": \"{DEFAULT_EMULATED_NUMBERS[0]}\", "
              f"\"from\": \"+447700900123\", \"text\": \"hello\"}}' | nc {host} {port}", flush=True)
        stop.wait()
        for owner in owners:
            owner.stop()
    failed = [o for o in owners if o.snapshot.state is ModemState.FAILED]
    return 1 if failed else 0
