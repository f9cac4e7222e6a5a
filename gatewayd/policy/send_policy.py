"""Send-time policy: may this message go to this recipient now? A pure decision over facts the queue reads.

It runs when a message is claimed, not when it is accepted: consent, the clock and the recipient's
recent traffic change between the two, and the promise is about the moment a text arrives. The order
of the checks is the order of their severity: a refusal that is final (opted out, never opted in,
number known to be invalid) wins over a delay (frequency cap, quiet hours), so a message is never held
for hours only to be suppressed when it comes due.

Transactional messages (one-time codes, replies, confirmations) ignore consent and caps: they are what
the recipient asked for. They honour quiet hours only when the operator says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from gatewayd.policy.quiet_hours import SendWindow, check_window

WEEKDAYS = frozenset(range(5))
"""Monday to Friday, for "no marketing on weekends"."""
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MARKETING = "marketing"


class Verdict(enum.StrEnum):
    SEND = "send"
    HOLD = "hold"
    """Not now: the message goes back to 'scheduled' until ``Decision.until``; never dropped."""
    SUPPRESS = "suppress"
    """Never: the message ends 'suppressed' with the reason."""


class Consent(enum.StrEnum):
    UNKNOWN = "unknown"
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    until: datetime | None = None

    @classmethod
    def send(cls) -> Decision:
        return cls(Verdict.SEND, "")


@dataclass(frozen=True)
class FrequencyCaps:
    """At most ``per_day`` marketing messages in any 24 hours and ``per_week`` in any 7 days (rolling
    windows: no calendar or time zone edge to game). None: no cap."""

    per_day: int | None = None
    per_week: int | None = None
    over_cap: Literal["hold", "suppress"] = "hold"

    def __post_init__(self) -> None:
        for name in ("per_day", "per_week"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or null for no cap), not {value}")


@dataclass(frozen=True)
class SendPolicy:
    marketing_requires_opt_in: bool = True
    window: SendWindow = field(default_factory=SendWindow)
    quiet_hours: bool = True
    """False: no quiet hours at all (``window`` unused)."""
    quiet_hours_for_transactional: bool = False
    fallback_zone: ZoneInfo | None = None
    """For numbers whose time zone phonenumbers does not know (non-geographic, unknown region)."""
    caps: FrequencyCaps = field(default_factory=FrequencyCaps)
    skip_invalid_numbers: bool = True
    """Numbers marked invalid (unknown subscriber, repeated failed reports) get nothing until an
    operator clears the mark: each attempt costs money and counts against the SIM's reputation."""


@dataclass(frozen=True)
class RecipientFacts:
    """What the queue knows of the recipient at the claim, read in the claim's transaction."""

    consent: Consent = Consent.UNKNOWN
    invalid_reason: str | None = None
    went_marketing: tuple[datetime, ...] = ()
    """When each marketing message to this number went, over the last 7 days, oldest first."""


def decide(policy: SendPolicy, *, message_class: str, recipient: str, facts: RecipientFacts,
           now: datetime) -> Decision:
    marketing = message_class == MARKETING
    if policy.skip_invalid_numbers and facts.invalid_reason is not None:
        return Decision(Verdict.SUPPRESS, f"number marked invalid: {facts.invalid_reason}")
    if marketing:
        if facts.consent == Consent.OPTED_OUT:
            return Decision(Verdict.SUPPRESS, "recipient opted out of marketing")
        if policy.marketing_requires_opt_in and facts.consent != Consent.OPTED_IN:
            return Decision(Verdict.SUPPRESS, "recipient never opted in to marketing (opt-in required)")
        capped = _frequency_cap(policy.caps, facts.went_marketing, now)
        if capped is not None:
            return capped
    if policy.quiet_hours and (marketing or policy.quiet_hours_for_transactional):
        window = check_window(recipient, now, policy.window, fallback_zone=policy.fallback_zone)
        if not window.allowed_now:
            return Decision(Verdict.HOLD, f"quiet hours: {window.reason}", until=window.next_allowed)
    return Decision.send()


def _frequency_cap(caps: FrequencyCaps, went: tuple[datetime, ...], now: datetime) -> Decision | None:
    """The cap a new message would break, with when the oldest message counted leaves the window."""
    for limit, span, name in ((caps.per_day, DAY, "day"), (caps.per_week, WEEK, "week")):
        if limit is None:
            continue
        recent = sorted(at for at in went if at > now - span)
        if len(recent) < limit:
            continue
        until = recent[len(recent) - limit] + span
        reason = f"frequency cap: {len(recent)} marketing message(s) in the last {name} (limit {limit})"
        if caps.over_cap == "suppress":
            return Decision(Verdict.SUPPRESS, reason)
        return Decision(Verdict.HOLD, reason, until=until)
    return None
