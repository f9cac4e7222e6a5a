"""What an inbound SMS means for its sender: a pure plan the queue carries out in one transaction.

The plan names the consent change (if any) and the one reply to send (if any). Replies follow state
changes, not messages: a second STOP from a number already opted out changes nothing and gets no
second confirmation, so two automated senders answering each other cannot loop through us; replies
that do not change state (HELP, custom keywords) are limited per number and hour by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gatewayd.policy.keywords import Intent, KeywordMatcher
from gatewayd.policy.send_policy import Consent, SendPolicy

REPLIES_PER_NUMBER_PER_HOUR = 3


@dataclass(frozen=True)
class CustomKeyword:
    keyword: str
    reply: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class Replies:
    """Reply texts; None sends no reply of that kind."""

    opt_out: str | None = "You will receive no more marketing messages from us. Reply START to subscribe again."
    welcome: str | None = None
    """Sent once when a number opts in (by keyword or through the API): who you are, what and how often
    you send, how to stop (STOP) and get help (HELP)."""
    help: str | None = None
    per_number_per_hour: int = REPLIES_PER_NUMBER_PER_HOUR


@dataclass(frozen=True)
class TrustRules:
    """Everything the queue needs to respect recipients: keywords, replies and the send-time policy."""

    matcher: KeywordMatcher = field(default_factory=KeywordMatcher)
    replies: Replies = field(default_factory=Replies)
    custom: Mapping[str, CustomKeyword] = field(default_factory=dict)
    """By the keyword as the matcher reports it."""
    policy: SendPolicy = field(default_factory=SendPolicy)
    home_region: str | None = None
    """The country of our SIMs (ISO 3166, "GB"): senders delivered as national digits are read as its
    numbers, so their STOP counts. None: only international senders can change consent or get replies."""


@dataclass(frozen=True)
class InboundPlan:
    intent: Intent | None
    keyword: str | None
    language: str | None = None
    consent_to: Consent | None = None
    """The new marketing consent, only when it changes."""
    reply: str | None = None
    reply_kind: str | None = None
    """'opt_out', 'welcome', 'help' or 'keyword': the replies a rate limit applies to are help and keyword."""
    webhook: str | None = None

    @property
    def rate_limited_reply(self) -> bool:
        return self.reply_kind in ("help", "keyword")


def plan_inbound(rules: TrustRules, text: str, consent: Consent) -> InboundPlan:
    match = rules.matcher.match(text)
    if match is None:
        return InboundPlan(intent=None, keyword=None)
    base = InboundPlan(intent=match.intent, keyword=match.keyword, language=match.language)
    if match.intent == Intent.OPT_OUT:
        if consent == Consent.OPTED_OUT:
            return base
        return _with(base, consent_to=Consent.OPTED_OUT, reply=rules.replies.opt_out, reply_kind="opt_out")
    if match.intent == Intent.OPT_IN:
        if consent == Consent.OPTED_IN:
            return base
        return _with(base, consent_to=Consent.OPTED_IN, reply=rules.replies.welcome, reply_kind="welcome")
    if match.intent == Intent.HELP:
        return _with(base, reply=rules.replies.help, reply_kind="help")
    custom = rules.custom.get(match.keyword)
    if custom is None:
        return base
    return _with(base, reply=custom.reply, reply_kind="keyword", webhook=custom.webhook)


def _with(base: InboundPlan, *, consent_to: Consent | None = None, reply: str | None = None,
          reply_kind: str | None = None, webhook: str | None = None) -> InboundPlan:
    return InboundPlan(intent=base.intent, keyword=base.keyword, language=base.language, consent_to=consent_to,
                       reply=reply, reply_kind=reply_kind if reply is not None else None, webhook=webhook)
