"""What the gateway did since it started, for ``/metrics``: send attempts, their duration, inbound
messages and delivery reports, per modem.

Counted where it happens (the dispatcher's outcome callback, the inbound sink) rather than counted in
the database at scrape time: a scrape must stay cheap with a million rows, and Prometheus expects
counters that start at zero with the process and derives rates itself. Queue depth, which is state
rather than activity, is read from the database (web/metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from gatewayd.dispatch.sender import Attempt

PREFIX = "gatewayd"
SEND_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
"""A submit takes 1 to 5 s on a real network; +CMGS may take up to 60 s before it times out."""


class Activity(Collector):
    """Thread-safe counters (prometheus_client's own), exposed as one collector the web app registers."""

    def __init__(self) -> None:
        # registry=None: not in the global registry; the web app's registry collects them through us.
        self.attempts = Counter(f"{PREFIX}_send_attempts", "Send attempts by modem and outcome "
                                "(sent, failed, unknown, retry, suppressed)", ["modem", "outcome"], registry=None)
        self.parts_sent = Counter(f"{PREFIX}_parts_sent", "Message parts the modem accepted (+CMGS)", ["modem"],
                                  registry=None)
        self.send_seconds = Histogram(f"{PREFIX}_send_seconds", "Duration of a send attempt, from hand-over to "
                                      "the modem's owner to its outcome", ["modem"], buckets=SEND_SECONDS_BUCKETS,
                                      registry=None)
        self.inbound = Counter(f"{PREFIX}_inbound_messages", "Whole inbound messages stored", ["modem"],
                               registry=None)
        self.reports = Counter(f"{PREFIX}_delivery_reports", "Status reports that settled a message, by result "
                               "(delivered, failed)", ["modem", "result"], registry=None)

    def attempt_finished(self, attempt: Attempt) -> None:
        """The dispatcher's outcome callback (runs on the modem owner's thread)."""
        modem = attempt.modem_id
        self.attempts.labels(modem=modem, outcome=attempt.outcome or "unknown").inc()
        if attempt.sent:
            self.parts_sent.labels(modem=modem).inc(len(attempt.sent))
        if attempt.duration is not None:
            self.send_seconds.labels(modem=modem).observe(attempt.duration)

    def collect(self) -> Iterator[Metric]:
        for metric in (self.attempts, self.parts_sent, self.send_seconds, self.inbound, self.reports):
            yield from metric.collect()
