"""The one thread that posts due webhook deliveries and records every attempt.

Durability lives in the table (queue/webhook_outbox.py), not here: a delivery is a row written with
the change it reports, and this thread only moves rows forward. After a restart the rows still due
are simply due, with their attempt counts and backoff intact; so a receiver may see a delivery twice
(posted, then the process died before the 2xx was recorded) but never loses one, and it drops the
duplicate by ``X-Gatewayd-Delivery``.

The thread sleeps on an Event until the earliest ``next_attempt_at`` (the queue sets it after a
commit that enqueued a delivery), so an idle gateway makes no requests and no queries beyond one
look per ``IDLE_WAIT``. Deliveries go one at a time: webhooks are few next to SMS, and one thread
cannot flood a struggling receiver.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gatewayd.queue.queue import Queue
from gatewayd.queue.timefmt import to_stamp, utcnow
from gatewayd.queue.webhook_outbox import WebhookDelivery
from gatewayd.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT = timedelta(seconds=10)
"""Default for one POST (connect and each read): a receiver that needs longer should answer 202 first."""
MAX_ATTEMPTS = 10
RETRY_BASE = timedelta(seconds=10)
RETRY_MAX = timedelta(hours=1)
"""Defaults: 10 attempts at 10 s doubling to 1 h keep trying for about 3 hours in all."""
MAX_DOUBLINGS = 30
"""Beyond this the cap has long applied; keeps 2**n from overflowing a timedelta."""
BATCH = 50
"""Due rows read per query; the next query sees what the previous batch left due."""
IDLE_WAIT = 60.0
"""Seconds between looks when nothing is due: rows written by another process (a CLI command) wake
nobody here."""
ERROR_PAUSE = 5.0
"""Seconds to wait after an unexpected error (the database unavailable) before looking again."""
STOP_MARGIN = 5.0
"""stop() waits for the delivery in flight: the request timeout plus this."""
RESPONSE_READ_MAX = 64 * 1024
"""Bytes of a receiver's answer read (and dropped): enough to end the exchange cleanly."""
ERROR_TEXT_MAX = 200
USER_AGENT = "gatewayd-webhooks/1"
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class DeliverySettings:
    """How hard to try (configuration ``webhooks.timeout / max_attempts / retry_base / retry_max``)."""

    timeout: timedelta = REQUEST_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    retry_base: timedelta = RETRY_BASE
    retry_max: timedelta = RETRY_MAX

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.retry_base <= timedelta(0) or self.retry_max < self.retry_base:
            raise ValueError(f"need 0 < retry_base <= retry_max, got {self.retry_base} and {self.retry_max}")
        if self.timeout <= timedelta(0):
            raise ValueError(f"timeout must be positive, got {self.timeout}")

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: retry_base, doubling, capped at retry_max."""
        doublings: int = min(max(0, attempts - 1), MAX_DOUBLINGS)
        return min(self.retry_max, self.retry_base * (1 << doublings))


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt, as the ``on_attempt`` observer sees it (after it is durable)."""

    delivery_id: int
    endpoint: str
    kind: str
    attempt: int
    """1 for the first attempt of this delivery."""
    delivered: bool
    status: int | None
    """The HTTP status, when an answer came."""
    error: str | None
    retry_at: datetime | None
    """None when delivered or given up."""

    @property
    def gave_up(self) -> bool:
        return not self.delivered and self.retry_at is None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: urllib would follow a 30x for a POST as a GET without the body, and the
    GET's 200 would mark an event delivered that the application never received."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


class Deliverer:
    """Posts what is due in ``queue``'s webhook outbox, signed with ``secret``; one thread, start/stop.

    ``clock`` must be the queue's clock (due times are compared with it); signatures carry the real
    time, since receivers check them against theirs.
    """

    def __init__(self, queue: Queue, secret: bytes, *, settings: DeliverySettings | None = None,
                 clock: Callable[[], datetime] = utcnow, on_attempt: Callable[[Attempt], None] | None = None
                 ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required to sign deliveries")
        self._queue = queue
        self._secret = secret
        self.settings = settings or DeliverySettings()
        self._clock = clock
        self._on_attempt = on_attempt
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # No proxies from the environment: webhooks go straight to the application on the LAN.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
        queue.add_webhook_listener(self.wake)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the webhook deliverer was already started")
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (called on the queue's thread after a commit: only sets an Event)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the delivery in flight (at most the request timeout), record it, and end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None:
            return
        self._thread.join(self.settings.timeout.total_seconds() + STOP_MARGIN)
        if self._thread.is_alive():
            LOGGER.error("webhooks: the deliverer did not stop within %.0f s",
                         self.settings.timeout.total_seconds() + STOP_MARGIN)

    # -- the thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        LOGGER.info("webhooks: deliverer running (timeout %.0f s, %d attempts)",
                    self.settings.timeout.total_seconds(), self.settings.max_attempts)
        while True:
            self._wake.clear()  # before looking: a wake during the pass makes the wait below return at once
            if self._stopping.is_set():
                break
            try:
                self._deliver_due()
                timeout = self._until_next()
            except Exception:
                LOGGER.exception("webhooks: delivery pass failed; looking again in %.0f s", ERROR_PAUSE)
                timeout = ERROR_PAUSE
            self._wake.wait(timeout)
        LOGGER.info("webhooks: deliverer stopped")

    def _deliver_due(self) -> None:
        """Until nothing is due. An endpoint that failed is skipped for the rest of its batch, so one
        receiver that hangs costs one timeout per batch, not one per delivery, to the others."""
        while not self._stopping.is_set():
            due = self._queue.webhooks_due(limit=BATCH)
            if not due:
                return
            failed: set[str] = set()
            for delivery in due:
                if self._stopping.is_set():
                    return
                if delivery.endpoint in failed:
                    continue
                if not self._attempt(delivery):
                    failed.add(delivery.endpoint)

    def _until_next(self) -> float:
        next_at = self._queue.webhooks_next_due()
        if next_at is None:
            return IDLE_WAIT
        return min(IDLE_WAIT, max(0.0, (next_at - self._clock()).total_seconds()))

    def _attempt(self, delivery: WebhookDelivery) -> bool:
        status, error = self._post(delivery)
        number = delivery.attempts + 1
        retry_at: datetime | None = None
        if error is None:
            LOGGER.debug("webhooks: delivery %d (%s) to %s: HTTP %s", delivery.id, delivery.kind, delivery.endpoint,
                         status)
        elif number >= self.settings.max_attempts:
            LOGGER.error("webhooks: delivery %d (%s) to %s failed: %s; gave up after %d attempt(s)", delivery.id,
                         delivery.kind, delivery.endpoint, error, number)
        else:
            retry_at = self._clock() + self.settings.backoff(number)
            LOGGER.warning("webhooks: delivery %d (%s) to %s failed: %s (attempt %d of %d; next at %s)",
                           delivery.id, delivery.kind, delivery.endpoint, error, number,
                           self.settings.max_attempts, to_stamp(retry_at))
        self._queue.record_webhook_attempt(delivery.id, delivered=error is None, status=status, error=error,
                                           retry_at=retry_at)
        self._observe(Attempt(delivery_id=delivery.id, endpoint=delivery.endpoint, kind=delivery.kind,
                              attempt=number, delivered=error is None, status=status, error=error,
                              retry_at=retry_at))
        return error is None

    def _observe(self, attempt: Attempt) -> None:
        if self._on_attempt is None:
            return
        try:
            self._on_attempt(attempt)
        except Exception:
            LOGGER.exception("webhooks: on_attempt observer failed for delivery %d", attempt.delivery_id)

    def _post(self, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
        """(HTTP status or None, error or None): only a 2xx answer is a delivery."""
        body = json.dumps(delivery.payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
            EVENT_HEADER: delivery.kind,
            DELIVERY_HEADER: str(delivery.id),
        }
        request = urllib.request.Request(delivery.endpoint, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.settings.timeout.total_seconds()) as response:
                response.read(RESPONSE_READ_MAX)
                status = int(response.status)
        except urllib.error.HTTPError as exc:  # a non-2xx answer (redirects included, see _NoRedirects)
            exc.close()
            return exc.code, f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            return None, _describe(exc.reason)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return None, _describe(exc)
        return status, None  # urllib raised HTTPError for anything but 2xx


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        text = "timed out"
    elif isinstance(reason, OSError) and reason.strerror:
        text = reason.strerror.lower()
    else:
        text = str(reason) or type(reason).__name__
    return text[:ERROR_TEXT_MAX]
