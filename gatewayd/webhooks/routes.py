"""Where each kind of event goes, and the JSON each one carries.

Pure data and functions: the queue imports this module to write deliveries in the transaction of the
change they report, so nothing here may import the queue at run time. Payload field names follow the
API (``to``, ``from``, ISO 8601 UTC times), so an application parses one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from gatewayd.queue.model import InboundMessage, Message

INBOUND: Final = "inbound"
STATUS: Final = "status"
OPT_OUT: Final = "opt_out"
KEYWORD: Final = "keyword"
"""A custom keyword's own URL (keywords.custom[].webhook in the configuration), not a routed kind."""
KINDS: Final = (INBOUND, STATUS, OPT_OUT)
STATUS_EVENTS: Final = frozenset({"sent", "delivered", "failed", "suppressed", "unknown"})
"""Statuses an application acts on; queued, scheduled, sending and the rest are the gateway's business."""


@dataclass(frozen=True)
class WebhookRoutes:
    """The configured URLs per kind of event; an empty tuple sends nothing of that kind."""

    inbound: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    opt_out: tuple[str, ...] = ()

    def urls(self, kind: str) -> tuple[str, ...]:
        if kind not in KINDS:
            raise ValueError(f"unknown webhook kind {kind!r} (one of {', '.join(KINDS)})")
        urls: tuple[str, ...] = getattr(self, kind)
        return urls


def iso(when: datetime | None) -> str | None:
    """``2026-11-23T09:00:00.123456Z``, as the API writes times."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def status_payload(message: Message, reason: str, at: datetime) -> dict[str, Any]:
    """``message`` just moved to its current status for ``reason`` at ``at``."""
    return {"event": "message.status", "id": message.id, "client": message.client, "to": message.recipient,
            "status": str(message.status), "reason": reason, "at": iso(at), "parts": message.parts,
            "metadata": message.metadata}


def _inbound_fields(message: InboundMessage) -> dict[str, Any]:
    return {"id": message.id, "modem": message.modem, "from": message.sender, "text": message.text,
            "received_at": iso(message.received_at), "intent": message.intent, "keyword": message.keyword}


def inbound_payload(message: InboundMessage) -> dict[str, Any]:
    """A whole inbound message, with what the keyword engine made of it (intent None: unmatched)."""
    return {"event": "inbound", **_inbound_fields(message)}


def opt_out_payload(number: str, via: str, at: datetime, inbox_id: int | None) -> dict[str, Any]:
    """``number`` opted out ``via`` keyword / api / import / operator; ``inbox_id``: the STOP message."""
    return {"event": "consent.opt_out", "number": number, "via": via, "at": iso(at), "inbox_id": inbox_id}


def keyword_payload(keyword: str, message: InboundMessage) -> dict[str, Any]:
    """A custom keyword matched ``message``: for the URL configured with that keyword."""
    return {"event": "keyword", "keyword": keyword, "inbound": _inbound_fields(message)}
