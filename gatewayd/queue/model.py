"""What the queue stores, as typed values, and the state machine of an outgoing message.

The transitions are data (``TRANSITIONS``) and are enforced in one place (``check_transition``, called
by ``outbox.transition``), so the allowed life of a message can be read here in one table.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from gatewayd.queue.errors import IllegalTransition
from gatewayd.queue.timefmt import from_stamp, maybe_datetime


class Status(StrEnum):
    QUEUED = "queued"          # claimable now
    SCHEDULED = "scheduled"    # waits for due_at: send_at in the future, retry backoff, or held by policy
    SENDING = "sending"        # claimed by one modem; its PDUs may be on the wire
    SENT = "sent"              # every part accepted by the modem (+CMGS); a status report may follow
    DELIVERED = "delivered"    # every part reported delivered
    FAILED = "failed"          # refused permanently, given up, or reported failed
    EXPIRED = "expired"        # expires_at passed before it went
    CANCELLED = "cancelled"    # withdrawn by a client or operator before it went
    SUPPRESSED = "suppressed"  # policy said never (consent withdrawn, ...)
    UNKNOWN = "unknown"        # a PDU was written and no answer came: the modem may have sent it


S = Status
TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    S.QUEUED: frozenset({S.SENDING, S.SCHEDULED, S.CANCELLED, S.EXPIRED, S.SUPPRESSED, S.FAILED}),
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED, S.EXPIRED, S.FAILED, S.SUPPRESSED}),
    # sending -> queued only through recover() (a claim that died before any PDU left).
    S.SENDING: frozenset({S.SENT, S.SCHEDULED, S.FAILED, S.UNKNOWN, S.SUPPRESSED, S.QUEUED}),
    S.SENT: frozenset({S.DELIVERED, S.FAILED}),
    # Only an operator moves these on (retry / give up): an unknown outcome is never retried by itself.
    S.UNKNOWN: frozenset({S.QUEUED, S.FAILED}),
    S.FAILED: frozenset({S.QUEUED}),
    S.DELIVERED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SUPPRESSED: frozenset(),
}

ACTIVE: Final = frozenset({S.QUEUED, S.SCHEDULED, S.SENDING})
"""States gatewayd still has work to do on; everything else may be purged once old enough."""
CANCELLABLE: Final = frozenset({S.QUEUED, S.SCHEDULED})
OPERATOR_RETRYABLE: Final = frozenset({S.UNKNOWN, S.FAILED})
MESSAGE_CLASSES: Final = ("transactional", "marketing")


class PartState(StrEnum):
    PENDING = "pending"      # not on the wire (never written, or written and refused with an error)
    WRITTEN = "written"      # PDU handed to the modem, no +CMGS yet: outcome unknown if we stop here
    SENT = "sent"            # accepted by the modem (+CMGS)
    DELIVERED = "delivered"  # status report: received by the recipient
    FAILED = "failed"        # status report: permanent failure


SENT_PART_STATES: Final = frozenset({PartState.SENT, PartState.DELIVERED, PartState.FAILED})
"""A part in one of these states left the modem and must never be sent again."""


def check_transition(message_id: int, from_status: str, to_status: Status) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``from_status -> to_status``."""
    if to_status not in TRANSITIONS.get(Status(from_status), frozenset()):
        raise IllegalTransition(message_id, from_status, to_status)


@dataclass(frozen=True)
class NewMessage:
    recipient: str
    text: str
    message_class: str = "transactional"
    priority: int = 0
    send_at: datetime | None = None
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    client: str = ""
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Message:
    id: int
    client: str
    idempotency_key: str | None
    recipient: str
    text: str
    message_class: str
    priority: int
    send_at: datetime | None
    expires_at: datetime | None
    metadata: dict[str, Any] | None
    parts: int
    encoding: str
    status: Status
    attempts: int
    modem: str | None
    """The modem of the latest claim."""
    pinned_modem: str | None
    """Set while a partly sent multipart message must resume on this modem (same SIM, same sender)."""
    concat_ref: int | None
    due_at: datetime | None
    last_error: str | None
    error_code: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Message:
        metadata = row["metadata"]
        return cls(
            id=row["id"], client=row["client"], idempotency_key=row["idempotency_key"],
            recipient=row["recipient"], text=row["text"], message_class=row["class"], priority=row["priority"],
            send_at=maybe_datetime(row["send_at"]), expires_at=maybe_datetime(row["expires_at"]),
            metadata=None if metadata is None else json.loads(metadata),
            parts=row["parts"], encoding=row["encoding"], status=Status(row["status"]),
            attempts=row["attempts"], modem=row["modem"], pinned_modem=row["pinned_modem"],
            concat_ref=row["concat_ref"], due_at=maybe_datetime(row["due_at"]), last_error=row["last_error"],
            error_code=row["error_code"], created_at=from_stamp(row["created_at"]),
            updated_at=from_stamp(row["updated_at"]),
        )


@dataclass(frozen=True)
class Part:
    message_id: int
    part: int
    """0-based, as ``Modem.send`` counts parts."""
    state: PartState
    modem: str | None
    pdu_written_at: datetime | None
    mr: int | None
    sent_at: datetime | None
    report_status: int | None
    reported_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Part:
        return cls(
            message_id=row["message_id"], part=row["part"], state=PartState(row["state"]), modem=row["modem"],
            pdu_written_at=maybe_datetime(row["pdu_written_at"]), mr=row["mr"],
            sent_at=maybe_datetime(row["sent_at"]), report_status=row["report_status"],
            reported_at=maybe_datetime(row["reported_at"]),
        )


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    message_id: int | None
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    modem: str | None
    detail: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        detail = row["detail"]
        return cls(
            id=row["id"], at=from_stamp(row["at"]), message_id=row["message_id"], kind=row["kind"],
            from_status=row["from_status"], to_status=row["to_status"], reason=row["reason"], modem=row["modem"],
            detail=None if detail is None else json.loads(detail),
        )


@dataclass(frozen=True)
class Claim:
    """One message handed to one modem: send ``parts_to_send`` (0-based) with ``concat_ref``."""

    message: Message
    parts_to_send: list[int]
    concat_ref: int | None


@dataclass(frozen=True)
class InboundMessage:
    id: int
    modem: str
    sender: str
    text: str
    sc_timestamp: datetime
    """The service centre time stamp of the first part."""
    received_at: datetime
    parts: int
    """How many parts were joined (fewer than ``parts_expected`` when incomplete)."""
    parts_expected: int
    complete: bool
    encoding: str
    pdus: tuple[str, ...]
    intent: str | None = None
    """What the keyword engine made of it ('opt_out', 'opt_in', 'help', 'custom'); None: unmatched."""
    keyword: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> InboundMessage:
        return cls(
            id=row["id"], modem=row["modem"], sender=row["sender"], text=row["text"],
            sc_timestamp=from_stamp(row["sc_timestamp"]), received_at=from_stamp(row["received_at"]),
            parts=row["parts"], parts_expected=row["parts_expected"], complete=bool(row["complete"]),
            encoding=row["encoding"], pdus=tuple(json.loads(row["pdus"])), intent=row["intent"],
            keyword=row["keyword"],
        )


@dataclass(frozen=True)
class CheckReport:
    """What ``gatewayd db check`` prints; ``ok`` is its exit status."""

    path: str
    schema_version: int
    expected_schema_version: int
    integrity: list[str]
    foreign_key_violations: int
    journal_mode: str
    synchronous: str
    size_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    counts_consistent: bool = True

    @property
    def ok(self) -> bool:
        return (self.schema_version == self.expected_schema_version and self.integrity == ["ok"]
                and self.foreign_key_violations == 0 and self.journal_mode == "wal"
                and self.synchronous == "full" and self.counts_consistent)


@dataclass(frozen=True)
class Contact:
    """What the gateway knows of one number: marketing consent and list hygiene."""

    number: str
    marketing: str
    """'unknown', 'opted_in' or 'opted_out'."""
    consent_via: str | None
    consent_at: datetime | None
    invalid_reason: str | None
    invalid_at: datetime | None
    failed_reports: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Contact:
        return cls(
            number=row["number"], marketing=row["marketing"], consent_via=row["consent_via"],
            consent_at=maybe_datetime(row["consent_at"]), invalid_reason=row["invalid_reason"],
            invalid_at=maybe_datetime(row["invalid_at"]), failed_reports=row["failed_reports"],
            created_at=from_stamp(row["created_at"]), updated_at=from_stamp(row["updated_at"]),
        )


@dataclass(frozen=True)
class ConsentEvent:
    id: int
    at: datetime
    number: str
    from_state: str
    to_state: str
    via: str
    """'api', 'keyword', 'import' or 'operator'."""
    inbox_id: int | None
    detail: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ConsentEvent:
        detail = row["detail"]
        return cls(id=row["id"], at=from_stamp(row["at"]), number=row["number"], from_state=row["from_state"],
                   to_state=row["to_state"], via=row["via"], inbox_id=row["inbox_id"],
                   detail=None if detail is None else json.loads(detail))


@dataclass(frozen=True)
class ConsentChange:
    """What one consent call did: the ledger row, and the queued marketing it suppressed."""

    contact: Contact
    event: ConsentEvent | None
    """None when the consent was already in that state (nothing recorded, nothing sent)."""
    suppressed: tuple[int, ...] = ()
    reply_id: int | None = None
    """The confirmation or welcome message enqueued, if any."""
