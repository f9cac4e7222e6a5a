"""The modems as the dispatcher sees them: which can take a message now, and which is best.

A modem can take a message when its owner reports it ready, it has no send in flight (one at a time
per modem keeps health checks and received-message handling between sends, never starved), its token
bucket has a token, and its SIM is under the daily cap. Among those, the best is the healthiest
(registered, strongest signal) and then the one idle longest, which spreads load over SIMs.

Only the dispatcher thread calls into the pool; owners report state changes through their snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gatewayd.dispatch.ratelimit import DailyCap, TokenBucket, Unlimited
from gatewayd.owner import ModemOwner, ModemState


@dataclass
class Slot:
    """One modem's dispatch state."""

    owner: ModemOwner
    bucket: TokenBucket | Unlimited
    cap: DailyCap
    prefixes: tuple[str, ...] = ()
    busy: bool = False
    last_used: float = 0.0
    error_score: float = 0.0
    """Recent failed attempts (retry or unknown), decaying by half with each success."""

    @property
    def modem_id(self) -> str:
        return self.owner.spec.modem_id

    @property
    def ready(self) -> bool:
        return self.owner.snapshot.state is ModemState.READY

    def health_key(self) -> tuple[int, int, int, float]:
        """Sort key, smaller is better: registered first, then fewer recent errors, then signal (in steps
        of ~10 dB, so small fluctuations do not matter), then the one idle longest."""
        status = self.owner.snapshot.status
        registered = bool(status and status.registration and status.registration.registered)
        rssi = status.signal.rssi if status and status.signal and status.signal.rssi != 99 else 0
        return (0 if registered else 1, round(self.error_score), -(rssi // 5), self.last_used)

    def record_outcome(self, *, ok: bool) -> None:
        """A permanent failure is the message's fault, not the modem's: callers count it as ok."""
        self.error_score = self.error_score / 2 if ok else self.error_score + 1


class Pool:
    """The slots of all configured modems, plus the global rate limit."""

    def __init__(self, slots: Iterable[Slot], *, global_bucket: TokenBucket | Unlimited | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = {slot.modem_id: slot for slot in slots}
        self.global_bucket = global_bucket or Unlimited()
        self._clock = clock

    def available(self) -> list[Slot]:
        """Ready, idle slots with a token now and room under their cap, best first."""
        if self.global_bucket.wait_time() > 0:
            return []
        usable = [s for s in self.slots.values()
                  if s.ready and not s.busy and s.bucket.wait_time() == 0 and s.cap.allows()]
        return sorted(usable, key=Slot.health_key)

    def next_token_in(self) -> float | None:
        """Seconds until some ready, idle modem gets a token (None: no modem is waiting on a token)."""
        waits = [s.bucket.wait_time() for s in self.slots.values() if s.ready and not s.busy and s.cap.allows()]
        waits = [w for w in waits if w > 0]
        global_wait = self.global_bucket.wait_time()
        if global_wait > 0:
            return max(global_wait, min(waits, default=0.0))
        return min(waits) if waits else None

    def take(self, slot: Slot, parts: int) -> None:
        """A message of ``parts`` parts goes to ``slot``: spend its tokens and cap."""
        slot.busy = True
        slot.last_used = self._clock()
        slot.bucket.take(parts)
        self.global_bucket.take(parts)
        slot.cap.record(parts)

    def ready_ids(self) -> frozenset[str]:
        return frozenset(s.modem_id for s in self.slots.values() if s.ready)

    def release(self, slot: Slot) -> None:
        slot.busy = False

    @property
    def any_busy(self) -> bool:
        return any(s.busy for s in self.slots.values())
