"""One claimed message on one modem: the durable marks around each PDU, and what a failure means.

Runs on the modem owner's thread (the only thread that talks to that modem). The rule that keeps
"nothing doubled": before a part's PDU leaves, ``queue.part_written`` is committed; after the modem
accepts it, ``queue.part_sent`` records its TP-MR. So whatever happens next, the database knows each
part is one of: never written (safe to send again), accepted (never send again), or written without
an answer (unknown: the modem may have sent it; only an operator may retry).

Failure classes:

- the modem answered an error (+CMS ERROR) for a part: that part was definitively not sent. A
  permanent code (unknown subscriber, barred, ...) fails the message alone; a transient one schedules a
  retry with backoff (remaining parts only, pinned to this modem if some parts already went).
- no answer after a PDU was written (timeout, port lost): ``unknown``.
- anything before a PDU was written (no prompt, no network, port gone): retry with backoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.modem.device import Modem, PartialSendError
from gatewayd.modem.errors import AtCommandError, CmsError, ModemError
from gatewayd.queue.errors import SendRefused

if TYPE_CHECKING:
    from gatewayd.queue.queue import Claim, Queue

LOGGER = logging.getLogger(__name__)


@dataclass
class Attempt:
    """What one attempt did, shared with the dispatcher so it can clean up if the job never ran."""

    message_id: int
    modem_id: str
    written: set[int] = field(default_factory=set)
    sent: set[int] = field(default_factory=set)
    accepted: dict[int, int] = field(default_factory=dict)
    """TP-MR of every part the modem accepted, recorded or not: a disk that refused the record of an
    accepted part (full) must not turn the message unknown once the record can be made (see Dispatcher)."""
    outcome: str | None = None  # sent | retry | failed | unknown | suppressed
    reason: str = ""
    started: float = field(default_factory=time.monotonic)
    duration: float | None = None
    """Seconds from hand-over to outcome, set by the dispatcher when the attempt finished."""

    @property
    def unanswered(self) -> set[int]:
        """Parts whose PDU was written but whose +CMGS never came: the modem may have sent them."""
        return self.written - self.sent


def send_claim(modem: Modem, claim: Claim, queue: Queue, retry: RetryPolicy, attempt: Attempt) -> Attempt:
    """Send ``claim`` on ``modem`` and record the outcome in ``queue``; returns ``attempt`` filled in."""
    message = claim.message
    concat_ref = claim.concat_ref
    if message.parts > 1 and concat_ref is None:
        concat_ref = modem.references.next_reference(16 if modem.settings.concat_16bit else 8)
        queue.set_concat_ref(message.id, concat_ref)

    def on_written(part: int) -> None:
        queue.part_written(message.id, part, modem.modem_id)
        attempt.written.add(part)

    def on_sent(part: int, mr: int) -> None:
        # Counted as sent only once durably recorded: if the commit fails, the part stays "written
        # without answer" here as in the database (a crash now makes the message unknown, never resent);
        # the dispatcher records it from ``accepted`` as soon as the database takes it again.
        attempt.accepted[part] = mr
        queue.part_sent(message.id, part, mr)
        attempt.sent.add(part)

    try:
        modem.send(message.recipient, message.text, concat_reference=concat_ref, parts=claim.parts_to_send,
                   on_part_written=on_written, on_part_sent=on_sent)
    except SendRefused as exc:
        # The written mark refused the part (the recipient opted out meanwhile): ESC went instead of it.
        LOGGER.info("modem %s: message %d stopped before part written: %s", modem.modem_id, message.id, exc.reason)
        queue.suppress(message.id, exc.reason)
        attempt.outcome = "suppressed"
        attempt.reason = exc.reason
        return attempt
    except PartialSendError as exc:
        return _failed(exc.cause, message.id, message.attempts, queue, retry, attempt=attempt)
    except ModemError as exc:
        return _failed(exc, message.id, message.attempts, queue, retry, attempt=attempt)
    queue.mark_sent(message.id)
    attempt.outcome = "sent"
    return attempt


def _failed(cause: ModemError, message_id: int, attempts: int, queue: Queue, retry: RetryPolicy, *,
            attempt: Attempt) -> Attempt:
    reason = str(cause)
    attempt.reason = reason
    # An error answer (+CMS ERROR, ERROR) means the modem did not send the part it refused.
    refused = isinstance(cause, AtCommandError)
    if attempt.unanswered and not refused:
        LOGGER.warning("modem %s: message %d outcome unknown after PDU written: %s", attempt.modem_id,
                       message_id, reason)
        queue.mark_unknown(message_id, f"no answer after PDU written: {reason}")
        attempt.outcome = "unknown"
    elif isinstance(cause, CmsError) and cause.permanent:
        LOGGER.warning("modem %s: message %d failed permanently: %s", attempt.modem_id, message_id, reason)
        queue.fail(message_id, reason, code=cause.code)
        attempt.outcome = "failed"
    elif retry.exhausted(attempts):
        queue.fail(message_id, f"gave up after {attempts} attempts: {reason}",
                   code=cause.code if isinstance(cause, CmsError) else None)
        attempt.outcome = "failed"
    else:
        delay = retry.delay(attempts)
        LOGGER.info("modem %s: message %d attempt %d failed (%s); retry in %s", attempt.modem_id, message_id,
                    attempts, reason, delay)
        queue.retry_later(message_id, reason, delay=delay)
        attempt.outcome = "retry"
    return attempt
