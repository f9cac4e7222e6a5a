"""The dispatcher: the one loop that decides which message goes out on which modem, and when.

It sleeps on a single event and wakes when a message becomes claimable (the queue calls back after
each such commit, so an idle gateway sends a new message at once), when a send finishes, when a
token is due, or when the next scheduled message is due: no polling. On each wake it claims as many
messages as there are modems able to take one, and hands each to its modem's owner thread.

Due times are wall-clock instants, and the wall clock steps (NTP on a Pi without RTC). The loop looks
at least every second whether it did (gatewayd/clock.py): then it recomputes when to wake (a message
due "in three days" a moment ago may be due now), releases the retry backoffs and policy holds the queue
computed on the old clock (queue/waits.py), records the step in the history (retention reads it: rows
stamped by a slow clock are younger than they look), and tells the gateway (its periodic jobs restart).

Stopping (SIGTERM): no new claims; sends in flight finish on their owners; the rest stays queued.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gatewayd.clock import ClockWatch
from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.dispatch.pool import Pool, Slot
from gatewayd.dispatch.sender import Attempt, send_claim
from gatewayd.modem.device import Modem
from gatewayd.queue.errors import DatabaseUnavailable, IllegalTransition
from gatewayd.queue.events import KIND_CLOCK_STEP

if TYPE_CHECKING:
    from gatewayd.queue.queue import Claim, Queue

LOGGER = logging.getLogger(__name__)

IDLE_WAKE = 30.0
"""The longest the loop sleeps with nothing due: a safety net, not the way work is found."""
EXTERNAL_CHECK = 1.0
"""How often an idle dispatcher looks whether another process (``gatewayd send``) committed messages.
In-process enqueues (the API) wake it at once; this only bounds the delay for other writers."""
DUE_SLACK = 0.005
"""Wake this much after a scheduled time, so the message is due when we look."""
SETTLE_RETRY = 1.0
"""Seconds between tries to record an outcome the database refused (locked, full)."""


class Dispatcher:
    def __init__(self, queue: Queue, pool: Pool, *, retry: RetryPolicy | None = None, sticky_sender: bool = False,
                 on_outcome: Callable[[Attempt], None] | None = None, clock_watch: ClockWatch | None = None,
                 on_clock_step: Callable[[float], None] | None = None) -> None:
        """``on_clock_step(seconds)`` runs when the wall clock stepped, on the thread that noticed it (see
        :meth:`check_clock`)."""
        self.queue = queue
        self.pool = pool
        self.sticky_sender = sticky_sender
        self.retry = retry or RetryPolicy()
        self._on_outcome = on_outcome
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._in_flight: dict[str, Future[Attempt]] = {}
        self._next_due: datetime | None = None
        self._lock = threading.Lock()
        self._unsettled: list[tuple[Attempt, str]] = []
        """Attempts whose outcome the database refused to record (guarded by _lock)."""
        self._clock = clock_watch or ClockWatch()
        self._on_clock_step = on_clock_step
        self._clock_lock = threading.Lock()
        self._step_pending: float | None = None
        """Seconds the clock stepped, not yet recorded and acted on in the queue (guarded by _clock_lock)."""
        queue.add_listener(self.wake)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def wake(self) -> None:
        """Thread-safe, cheap: called from the queue thread and from owners when they finish."""
        self._wake.set()

    def stop(self, timeout: float = 90.0) -> None:
        """Stop claiming, then wait for sends in flight to finish (their owners complete them)."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        with self._lock:
            pending = list(self._in_flight.values())
        deadline = time.monotonic() + timeout
        for future in pending:
            with contextlib.suppress(Exception):  # outcomes are settled and logged by _finished
                future.result(max(0.0, deadline - time.monotonic()))

    # -- the loop --------------------------------------------------------------------------------------

    def _run(self) -> None:
        version = self.queue.data_version()
        self._next_due = self.queue.next_due()
        while not self._stopping.is_set():
            self._wake.clear()
            self.check_clock()
            try:
                if self._step_pending is not None:
                    self._settle_step()
                # Only a write when something is due: every pass of a busy gateway comes here.
                if self._unsettled:
                    self._settle_pending()
                if self._next_due is not None and self._next_due <= datetime.now(UTC):
                    self.queue.promote_due()
                self._dispatch_all()
                timeout = self._sleep_time()
                if self._unsettled:
                    timeout = min(timeout, SETTLE_RETRY)
            except DatabaseUnavailable as exc:
                # Locked by another process, or a full disk: no traceback every second, just wait for it.
                LOGGER.warning("dispatcher: the database refuses writes (%s); retrying in %g s", exc, SETTLE_RETRY)
                timeout = SETTLE_RETRY
            except Exception:
                LOGGER.exception("dispatcher: pass failed; retrying shortly")
                timeout = SETTLE_RETRY
            while not self._wake.wait(min(timeout, EXTERNAL_CHECK)) and timeout > EXTERNAL_CHECK:
                if self.check_clock():
                    break
                timeout -= EXTERNAL_CHECK
                try:
                    latest = self.queue.data_version()
                except Exception:
                    LOGGER.exception("dispatcher: cannot read the database version")
                    break
                if latest != version:
                    version = latest
                    break

    def check_clock(self) -> bool:
        """True when the wall clock stepped since the last look; then the step is recorded and acted on
        before this returns (unless the database refuses: the loop tries again). Thread-safe: the loop
        calls it every second, the retention job before it judges ages."""
        with self._clock_lock:
            step = self._clock.check()
            if step is not None:
                self._step_pending = (self._step_pending or 0.0) + step
        if step is None:
            return False
        LOGGER.warning("dispatcher: the wall clock stepped %+.1f s; due times are recomputed and waits computed "
                       "on the old clock judged again", step)
        if self._on_clock_step is not None:
            try:
                self._on_clock_step(step)
            except Exception:
                LOGGER.exception("dispatcher: reacting to the clock step failed")
        try:
            self._settle_step()
        except Exception as exc:
            LOGGER.warning("dispatcher: cannot record the clock step yet (%s); trying again shortly", exc)
        self._wake.set()
        return True

    def _settle_step(self) -> None:
        with self._clock_lock:
            step = self._step_pending
            if step is None:
                return
            released = self.queue.release_waits(f"the clock stepped {step:+.0f} s: its wait is judged again")
            self.queue.record_event(KIND_CLOCK_STEP, f"the wall clock stepped {step:+.0f} s",
                                    detail={"seconds": round(step, 1)})
            self._step_pending = None
        if released:
            LOGGER.info("dispatcher: %d message(s) waiting on the old clock released to be judged again", released)

    def _dispatch_all(self) -> None:
        while not self._stopping.is_set():
            slots = self.pool.available()
            if not slots:
                return
            dispatched = False
            sticky_among = self.pool.ready_ids() if self.sticky_sender else None
            for slot in slots:
                claim = self.queue.claim(slot.modem_id, prefixes=slot.prefixes, sticky_among=sticky_among)
                if claim is None:
                    continue
                self._hand_over(slot, claim)
                dispatched = True
                break  # re-rank: tokens, health and busy flags changed
            if not dispatched:
                return

    def _hand_over(self, slot: Slot, claim: Claim) -> None:
        message = claim.message
        parts = len(claim.parts_to_send) if claim.parts_to_send else message.parts
        self.pool.take(slot, parts)
        attempt = Attempt(message_id=message.id, modem_id=slot.modem_id)
        LOGGER.info("modem %s: message %d to %s (%d part(s), attempt %d)", slot.modem_id, message.id,
                    message.recipient, parts, message.attempts)

        def job(modem: Modem) -> Attempt:
            return send_claim(modem, claim, self.queue, self.retry, attempt)

        future = slot.owner.submit(job)
        with self._lock:
            self._in_flight[slot.modem_id] = future
        future.add_done_callback(lambda done: self._finished(slot, attempt, done))

    def _finished(self, slot: Slot, attempt: Attempt, future: Future[Attempt]) -> None:
        """Runs on the owner thread (or at once if the job was refused): release the slot, wake up."""
        try:
            exc = future.exception()
            if exc is not None:
                self._job_failed(attempt, exc)
            attempt.duration = time.monotonic() - attempt.started
            slot.record_outcome(ok=attempt.outcome in ("sent", "failed", "suppressed"))
            if self._on_outcome is not None:
                self._on_outcome(attempt)
        finally:
            with self._lock:
                self._in_flight.pop(slot.modem_id, None)
            self.pool.release(slot)
            self._wake.set()

    def _job_failed(self, attempt: Attempt, exc: BaseException) -> None:
        """The job never ran (modem not ready) or broke outside the modem layer (a database write
        refused, e.g. locked): settle the claim now, or keep it to settle as soon as the database takes it."""
        reason = f"{type(exc).__name__}: {exc}"
        try:
            self._settle(attempt, reason)
        except Exception as settle_error:
            # Left in 'sending' it would wait for the next restart's recover(); instead the loop tries
            # again every SETTLE_RETRY seconds, deciding the same way.
            LOGGER.warning("modem %s: message %d cannot be settled yet (%s); trying again shortly",
                           attempt.modem_id, attempt.message_id, settle_error)
            with self._lock:
                self._unsettled.append((attempt, reason))
            self._wake.set()

    def _settle(self, attempt: Attempt, reason: str) -> None:
        for part in sorted(attempt.unanswered & attempt.accepted.keys()):
            # The modem accepted it (+CMGS: mr) and only its record failed (a full disk): record it now.
            self.queue.part_sent(attempt.message_id, part, attempt.accepted[part])
            attempt.sent.add(part)
        if attempt.unanswered:
            self.queue.mark_unknown(attempt.message_id, f"send interrupted after PDU written: {reason}")
            attempt.outcome = "unknown"
        elif attempt.outcome is None and attempt.sent:
            try:  # every part may have been accepted, only the final record failed
                self.queue.mark_sent(attempt.message_id)
                attempt.outcome = "sent"
            except IllegalTransition:
                self.queue.retry_later(attempt.message_id, reason, delay=self.retry.base)
                attempt.outcome = "retry"
        elif attempt.outcome is None:
            LOGGER.warning("modem %s: message %d not sent (%s); retry later", attempt.modem_id,
                           attempt.message_id, reason)
            self.queue.retry_later(attempt.message_id, reason, delay=self.retry.base)
            attempt.outcome = "retry"

    def _settle_pending(self) -> None:
        """Claims a database refusal left in 'sending' (see _job_failed), oldest first."""
        with self._lock:
            pending, self._unsettled = self._unsettled, []
        for index, (attempt, reason) in enumerate(pending):
            try:
                self._settle(attempt, reason)
            except Exception as exc:
                LOGGER.warning("dispatcher: message %d still cannot be settled: %s", attempt.message_id, exc)
                with self._lock:
                    self._unsettled = pending[index:] + self._unsettled
                return
            LOGGER.info("modem %s: message %d settled late: %s", attempt.modem_id, attempt.message_id,
                        attempt.outcome)

    def _sleep_time(self) -> float:
        waits = [IDLE_WAKE]
        token = self.pool.next_token_in()
        if token is not None:
            waits.append(token)
        due = self._next_due = self.queue.next_due()
        if due is not None:
            waits.append(max(0.0, (due - datetime.now(UTC)).total_seconds()) + DUE_SLACK)
        return min(waits)
