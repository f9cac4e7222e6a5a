"""A whole gateway (queue file, owners, pool, dispatcher) against emulated modems on real ptys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.emulator.emulator import Emulator
from gatewayd.gateway import Gateway, GatewayPlan, ModemPlan
from gatewayd.modem.device import ModemSettings
from gatewayd.owner import ModemSpec

SETTLE_TIMEOUT = 30.0
READY_TIMEOUT = 15.0
FINAL = frozenset({"sent", "delivered", "failed", "expired", "cancelled", "suppressed", "unknown"})


def wait_until(predicate: Callable[[], bool], timeout: float = SETTLE_TIMEOUT, what: str = "condition") -> None:
    """Poll ``predicate`` (a test helper; the product itself never polls like this)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.02)


@dataclass
class Harness:
    tmp_path: Path
    emulator: Emulator
    gateways: list[Gateway] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)

    def modems(self, count: int, *, latency: float = 0.0, profile: str = "generic", kind: str = "pty"
               ) -> list[ModemPlan]:
        """``kind``: "pty" (a pseudo-terminal, as a USB modem) or "tcp" (socket://, as behind ser2net)."""
        plans = []
        for _ in range(count):
            index = len(self.numbers) + 1
            number = f"+1555000{index:04d}"
            link = self.tmp_path / f"modem{index}"
            handle = self.emulator.add_modem(number=number, pty=str(link), send_latency=latency, profile=profile,
                                             modem_id=f"m{index}",
                                             listen=("127.0.0.1", 0) if kind == "tcp" else None)
            self.numbers.append(number)
            settings = ModemSettings(send_timeout=2.0)
            port = handle.url if kind == "tcp" else str(link)
            plans.append(ModemPlan(spec=ModemSpec(modem_id=handle.modem_id, port=port, settings=settings)))
        return plans

    def gateway(self, modems: list[ModemPlan], **plan: Any) -> Gateway:
        plan.setdefault("retry", RetryPolicy(base=timedelta(seconds=0.2), max_attempts=4))
        gateway = Gateway(GatewayPlan(database=self.tmp_path / "gatewayd.db", state_dir=self.tmp_path / "state",
                                      modems=modems, **plan))
        gateway.start()
        self.gateways.append(gateway)
        for owner in gateway.owners.values():
            assert owner.ready.wait(READY_TIMEOUT), owner.snapshot.last_error
        return gateway

    def settle(self, gateway: Gateway, timeout: float = SETTLE_TIMEOUT) -> dict[str, int]:
        """Wait until no message is queued, scheduled or sending; return the counts."""
        def done() -> bool:
            counts = gateway.queue.counts_by_status()
            return not any(counts.get(s, 0) for s in ("queued", "scheduled", "sending"))
        wait_until(done, timeout, "the queue to settle")
        return {k: v for k, v in gateway.queue.counts_by_status().items() if v}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with Emulator(log_path=str(tmp_path / "smsc.jsonl")) as emulator:
        h = Harness(tmp_path, emulator)
        yield h
        for gateway in reversed(h.gateways):
            gateway.stop()
