"""The running gateway: the queue, one owner per modem, the pool, the dispatcher and the inbound path.

This module only wires parts together and orders start and stop; each part does its own job:

start: open the queue -> recover what a crash left in 'sending' -> start the owners (they open and
initialise their modems) -> start the dispatcher and the webhook deliverer.
stop (SIGTERM): stop the dispatcher (no new claims; sends in flight finish) -> stop the owners ->
stop the webhook deliverer (the POST in flight finishes) -> close the queue. Nothing queued is
touched: it goes at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from gatewayd import owner as owner_module
from gatewayd.activity import Activity
from gatewayd.clock import restart_intervals, steady_interval
from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.dispatch.dispatcher import Dispatcher
from gatewayd.dispatch.pool import Pool, Slot
from gatewayd.dispatch.ratelimit import DailyCap, TokenBucket, Unlimited
from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport
from gatewayd.modem.pinguard import RejectedPins
from gatewayd.modem.refcounter import FileReferenceCounter
from gatewayd.owner import ModemOwner, ModemSpec
from gatewayd.policy.inbound import TrustRules
from gatewayd.queue.queue import Queue
from gatewayd.webhooks.deliverer import Deliverer, DeliverySettings
from gatewayd.webhooks.routes import WebhookRoutes

LOGGER = logging.getLogger(__name__)

EXPIRY_INTERVAL_SECONDS = 60
INBOUND_GROUPS_INTERVAL_SECONDS = 15 * 60
RETENTION_INTERVAL_HOURS = 6


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
    sticky_sender: bool = False
    inbound_group_max_age: timedelta = timedelta(hours=24)
    health_interval: timedelta | None = None
    """None: ``owner.HEALTH_INTERVAL``."""
    sweep_interval: timedelta | None = None
    """None: ``owner.SWEEP_INTERVAL``."""
    retain_messages: timedelta = timedelta(days=90)
    retain_inbox: timedelta = timedelta(days=90)
    rules: TrustRules = field(default_factory=TrustRules)
    """Keywords, replies, consent, quiet hours and caps (the configuration's policy/keywords/replies)."""
    webhooks: WebhookRoutes | None = None
    """Where status changes, inbound messages and opt-outs are announced; None: nowhere."""
    webhook_secret: bytes | None = None
    """Signs every delivery; None: no deliverer runs (deliveries wait in the table for a secret)."""
    webhook_delivery: DeliverySettings = field(default_factory=DeliverySettings)


def _local_midnight() -> datetime:
    """The start of today on the gateway's clock, as an aware time: daily caps reset there."""
    return datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)


class Gateway:
    def __init__(self, plan: GatewayPlan, *, on_inbound: Callable[[object], None] | None = None) -> None:
        self.plan = plan
        self._on_inbound = on_inbound
        plan.state_dir.mkdir(parents=True, exist_ok=True)
        self.queue = Queue(plan.database, rules=plan.rules, webhooks=plan.webhooks)
        self.webhooks = (None if plan.webhook_secret is None else
                         Deliverer(self.queue, plan.webhook_secret, settings=plan.webhook_delivery))
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
            used_today = self.queue.parts_sent_since(modem.spec.modem_id, _local_midnight()) if modem.daily_cap else 0
            slots.append(Slot(owner=owner, bucket=bucket, cap=DailyCap(modem.daily_cap, used=used_today),
                              prefixes=modem.prefixes))
        global_bucket = TokenBucket(plan.global_rate_per_minute) if plan.global_rate_per_minute else None
        self.pool = Pool(slots, global_bucket=global_bucket)
        self.activity = Activity()
        self.dispatcher = Dispatcher(self.queue, self.pool, retry=plan.retry, sticky_sender=plan.sticky_sender,
                                     on_outcome=self.activity.attempt_finished, on_clock_step=self._clock_stepped)
        # A run that comes late (a busy interpreter, a forward clock step) runs once rather than being
        # dropped as "missed": a late watchdog ping is what keeps systemd from killing a working daemon.
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})
        self._schedule()

    def _schedule(self) -> None:
        """The periodic work. Jobs only ask: checks that talk to a modem run on its owner's thread,
        between sends, so they never interleave with an AT+CMGS nor wake an idle owner for nothing.

        Every job is on a steady interval and restarts when the wall clock steps back (gatewayd/clock.py):
        the periodic work must neither stall after a backward step nor replay a forward one."""
        plan = self.plan
        health = (plan.health_interval or timedelta(seconds=owner_module.HEALTH_INTERVAL)).total_seconds()
        sweep = (plan.sweep_interval or timedelta(seconds=owner_module.SWEEP_INTERVAL)).total_seconds()
        jobs: dict[str, Any] = {"coalesce": True, "max_instances": 1}
        add = self.scheduler.add_job
        add(self._request_health, steady_interval(health), id="health", **jobs)
        add(self._request_sweep, steady_interval(sweep), id="sweep", **jobs)
        add(self.queue.expire_due, steady_interval(EXPIRY_INTERVAL_SECONDS), id="expire", **jobs)
        add(self.queue.expire_inbound_groups, steady_interval(INBOUND_GROUPS_INTERVAL_SECONDS),
            id="inbound-groups", args=[plan.inbound_group_max_age], **jobs)
        add(self._purge, steady_interval(RETENTION_INTERVAL_HOURS * 3600), id="retention", **jobs)

    def _purge(self) -> None:
        # A step the dispatcher has not seen yet (this may be the late run a forward step set off) must be
        # on record before retention judges ages by the stamps (see queue/retention.py).
        self.dispatcher.check_clock()
        deleted = self.queue.purge(messages_older_than=self.plan.retain_messages,
                                   inbox_older_than=self.plan.retain_inbox)
        LOGGER.info("retention: deleted %s", {table: n for table, n in deleted.items() if n} or "nothing")

    def _clock_stepped(self, seconds: float) -> None:
        """When the wall clock stepped by ``seconds`` (Dispatcher.check_clock; forward steps need nothing
        here: see gatewayd/clock.py)."""
        if seconds < 0:
            restart_intervals(self.scheduler)

    def alive(self) -> bool:
        """For the systemd watchdog: the dispatcher runs and the queue's thread answers."""
        if not self.dispatcher.running:
            return False
        try:
            self.queue.counts_by_status()
        except Exception:
            LOGGER.exception("watchdog: the queue does not answer")
            return False
        return True

    def _request_health(self) -> None:
        for owner in self.owners.values():
            owner.request_health()

    def _request_sweep(self) -> None:
        for owner in self.owners.values():
            owner.request_sweep()

    def _wake(self) -> None:
        # Owners report state changes (a modem became ready): it may take work now.
        if hasattr(self, "dispatcher"):
            self.dispatcher.wake()

    def _record(self, item: Received) -> None:
        """The inbound sink, on an owner thread: durable before the modem deletes the message."""
        message = item.message
        if isinstance(message, SmsStatusReport):
            settled = self.queue.record_status_report(item.modem_id, message, item.pdu)
            if settled is not None and settled.status in ("delivered", "failed"):
                self.activity.reports.labels(modem=item.modem_id, result=str(settled.status)).inc()
        elif isinstance(message, SmsDeliver):
            whole = self.queue.record_inbound(item)
            if whole is not None:
                self.activity.inbound.labels(modem=item.modem_id).inc()
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
        if self.webhooks is not None:
            self.webhooks.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.dispatcher.stop()
        for owner in self.owners.values():
            owner.stop()
        if self.webhooks is not None:  # after the owners: their last status reports may announce something
            self.webhooks.stop()
        self.queue.close()
