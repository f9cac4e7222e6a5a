"""The running gateway: the queue, one owner per modem, the pool, the dispatcher and the inbound path.

This module only wires parts together and orders start and stop; each part does its own job:

start: open the queue -> recover what a crash left in 'sending' -> start the owners (they open and
initialise their modems) -> start the dispatcher.
stop (SIGTERM): stop the dispatcher (no new claims; sends in flight finish) -> stop the owners ->
close the queue. Nothing queued is touched: it goes at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.dispatch.dispatcher import Dispatcher
from gatewayd.dispatch.pool import Pool, Slot
from gatewayd.dispatch.ratelimit import DailyCap, TokenBucket, Unlimited
from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport
from gatewayd.modem.pinguard import RejectedPins
from gatewayd.modem.refcounter import FileReferenceCounter
from gatewayd.owner import ModemOwner, ModemSpec
from gatewayd.queue.queue import Queue

LOGGER = logging.getLogger(__name__)


@dataclass
class ModemPlan:
    """One modem to run: how to reach it, plus its dispatch limits."""

    spec: ModemSpec
    rate_per_minute: float | None = None
    burst: int = 1
    daily_cap: int | None = None
    prefixes: tuple[str, ...] = ()


@dataclass
class GatewayPlan:
    """Everything the gateway needs to start (the daemon builds it from the configuration)."""

    database: Path
    state_dir: Path
    modems: list[ModemPlan]
    global_rate_per_minute: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    inbound_group_max_age: timedelta = timedelta(hours=24)


class Gateway:
    def __init__(self, plan: GatewayPlan, *, on_inbound: Callable[[object], None] | None = None) -> None:
        self.plan = plan
        self._on_inbound = on_inbound
        plan.state_dir.mkdir(parents=True, exist_ok=True)
        self.queue = Queue(plan.database)
        references = FileReferenceCounter(plan.state_dir / "concat-reference")
        rejected_pins = RejectedPins(plan.state_dir / "rejected-pins.json")
        slots = []
        self.owners: dict[str, ModemOwner] = {}
        for modem in plan.modems:
            owner = ModemOwner(modem.spec, sink=self._record, references=references,
                               rejected_pins=rejected_pins, on_change=lambda _snap: self._wake())
            self.owners[modem.spec.modem_id] = owner
            bucket = (TokenBucket(modem.rate_per_minute, burst=modem.burst)
                      if modem.rate_per_minute else Unlimited())
            slots.append(Slot(owner=owner, bucket=bucket, cap=DailyCap(modem.daily_cap), prefixes=modem.prefixes))
        global_bucket = TokenBucket(plan.global_rate_per_minute) if plan.global_rate_per_minute else None
        self.pool = Pool(slots, global_bucket=global_bucket)
        self.dispatcher = Dispatcher(self.queue, self.pool, retry=plan.retry)

    def _wake(self) -> None:
        # Owners report state changes (a modem became ready): it may take work now.
        if hasattr(self, "dispatcher"):
            self.dispatcher.wake()

    def _record(self, item: Received) -> None:
        """The inbound sink, on an owner thread: durable before the modem deletes the message."""
        message = item.message
        if isinstance(message, SmsStatusReport):
            self.queue.record_status_report(item.modem_id, message, item.pdu)
        elif isinstance(message, SmsDeliver):
            whole = self.queue.record_inbound(item)
            if whole is not None:
                LOGGER.info("modem %s: inbound message %s from %s (%d part(s))", item.modem_id, whole.id,
                            whole.sender, whole.parts)
                if self._on_inbound is not None:
                    self._on_inbound(whole)
        else:
            # Undecodable or a stored SMS-SUBMIT: refusing keeps it on the modem, visible to sweeps.
            raise ValueError(f"not recording {item.error or type(message).__name__}")

    def start(self) -> None:
        recovered = self.queue.recover()
        if any(recovered.values()):
            LOGGER.warning("recovered after restart: %s", recovered)
        for owner in self.owners.values():
            owner.start()
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()
        for owner in self.owners.values():
            owner.stop()
        self.queue.close()
