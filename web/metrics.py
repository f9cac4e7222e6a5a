"""``/metrics`` in Prometheus text, from a registry private to the app.

Queue depth and modem state are read at scrape time by a custom collector, not kept in gauges that
something must remember to update: a scrape always shows the database and the owners as they are now.
A private registry keeps two apps in one process (tests) from colliding, and keeps the default
registry's process metrics out unless the operator wants them elsewhere.

No authentication by default: the listener is on 127.0.0.1 unless the operator decides otherwise, and
these numbers carry no message content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gatewayd.owner import ModemSnapshot, ModemState, SimStatus
from gatewayd.queue import Queue, QueueError, Status
from web.health import database_unwritable
from web.services import services

LOGGER = logging.getLogger(__name__)

PREFIX = "gatewayd"

bp = Blueprint("metrics", __name__)


class GatewayCollector(Collector):
    """Reads the queue's counts and the modems' snapshots on each scrape."""

    def __init__(self, queue: Queue, modems: Callable[[], list[ModemSnapshot]]) -> None:
        self._queue = queue
        self._modems = modems

    def collect(self) -> Iterator[Metric]:
        yield from self._queue_metrics()
        snapshots = self._modems()
        yield from self._modem_metrics(snapshots)
        yield from self._modem_fault_metrics(snapshots)

    def _queue_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the queue database answered this scrape")
        try:
            counts = self._queue.counts_by_status()
            webhooks = self._queue.webhook_counts()
        except QueueError as exc:
            # A failing scrape would hide the modems too; say "down" and carry on.
            LOGGER.warning("metrics: queue counts unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        writable = GaugeMetricFamily(f"{PREFIX}_database_writable",
                                     "1 when the queue database stores writes (0: disk full, I/O error, read-only)")
        writable.add_metric([], 0 if database_unwritable(self._queue) else 1)
        yield writable
        depth = GaugeMetricFamily(f"{PREFIX}_queue_messages", "Outgoing messages by status", labels=["status"])
        for status in Status:
            depth.add_metric([str(status)], counts.get(str(status), 0))
        yield depth
        try:
            midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
            opt_outs = self._queue.opt_outs_since(midnight)
        except QueueError as exc:
            LOGGER.warning("metrics: opt-out count unavailable: %s", exc)
        else:
            gauge = GaugeMetricFamily(f"{PREFIX}_opt_outs_today", "Opt-outs recorded since local midnight")
            gauge.add_metric([], opt_outs)
            yield gauge
        hooks = GaugeMetricFamily(f"{PREFIX}_webhook_deliveries",
                                  "Webhook deliveries waiting (retries included) and given up", labels=["state"])
        for state in ("pending", "gave_up"):
            hooks.add_metric([state], webhooks.get(state, 0))
        yield hooks

    @staticmethod
    def _modem_metrics(snapshots: list[ModemSnapshot]) -> Iterator[Metric]:
        state = GaugeMetricFamily(f"{PREFIX}_modem_state", "1 for the state each modem is in",
                                  labels=["modem", "state"])
        rssi = GaugeMetricFamily(f"{PREFIX}_modem_signal_rssi", "Last +CSQ rssi (0-31), when known",
                                 labels=["modem"])
        dbm = GaugeMetricFamily(f"{PREFIX}_modem_signal_dbm", "Last received signal strength in dBm, when known",
                                labels=["modem"])
        reconnects = CounterMetricFamily(f"{PREFIX}_modem_reconnects", "Reconnects since the daemon started",
                                         labels=["modem"])
        checks = CounterMetricFamily(f"{PREFIX}_modem_health_checks", "Health checks (CSQ, CREG, COPS) run since "
                                     "the daemon started; flat for minutes means they stopped", labels=["modem"])
        for snapshot in snapshots:
            for candidate in ModemState:
                state.add_metric([snapshot.modem_id, candidate.value], 1 if snapshot.state is candidate else 0)
            signal = snapshot.status.signal if snapshot.status else None
            if signal is not None and signal.dbm is not None:
                rssi.add_metric([snapshot.modem_id], signal.rssi)
                dbm.add_metric([snapshot.modem_id], signal.dbm)
            reconnects.add_metric([snapshot.modem_id], snapshot.reconnects)
            checks.add_metric([snapshot.modem_id], snapshot.health_checks)
        yield from (state, rssi, dbm, reconnects, checks)

    @staticmethod
    def _modem_fault_metrics(snapshots: list[ModemSnapshot]) -> Iterator[Metric]:
        """What went wrong with each modem: its SIM, failed (re)connects, line noise, status reports.

        A quarantined modem shows in ``modem_state``; these say why, and whether it is still trying.
        """
        sim = GaugeMetricFamily(f"{PREFIX}_modem_sim_state", "1 for the state the last initialisation found the "
                                "SIM in (unknown before the modem first answered)", labels=["modem", "state"])
        failures = CounterMetricFamily(f"{PREFIX}_modem_connect_failures", "Attempts to open and initialise the "
                                       "modem that failed (each retry and quarantine probe counts)", labels=["modem"])
        strays = CounterMetricFamily(f"{PREFIX}_modem_stray_lines", "Lines that were neither an answer nor an "
                                     "unsolicited code: line noise, or answers that came too late", labels=["modem"])
        reports = CounterMetricFamily(f"{PREFIX}_modem_status_reports", "Status reports the modem handed over and "
                                      "the queue stored, matched to a message or not", labels=["modem"])
        for snapshot in snapshots:
            modem = snapshot.modem_id
            for candidate in SimStatus:
                sim.add_metric([modem, candidate.value], 1 if snapshot.sim is candidate else 0)
            failures.add_metric([modem], snapshot.connect_failures)
            strays.add_metric([modem], snapshot.stray_lines)
            reports.add_metric([modem], snapshot.status_reports)
        yield from (sim, failures, strays, reports)


def build_registry(queue: Queue, modems: Callable[[], list[ModemSnapshot]],
                   activity: Collector | None = None) -> CollectorRegistry:
    """``activity``: the gateway's counters (gatewayd/activity.py); absent when the app runs alone."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(queue, modems))
    if activity is not None:
        registry.register(activity)
    return registry


def response_counter(registry: CollectorRegistry) -> Counter:
    """API answers by status code: how many requests were refused, and why, without reading logs."""
    return Counter(f"{PREFIX}_api_responses", "API answers by HTTP status code", ["code"], registry=registry)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(services().registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
