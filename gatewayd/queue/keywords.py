"""Carrying out what an inbound message means (policy.inbound plans it), in the transaction that stores it.

Storing the message and acting on it together is what makes a STOP safe against a crash: either the
message is not stored (the modem keeps it on the SIM and it is read again after the restart) or it is
stored with its opt-out, its suppressions and its confirmation, all at once.
"""

from __future__ import annotations

import logging

from gatewayd.numbers import sender_number
from gatewayd.policy.inbound import InboundPlan, TrustRules, plan_inbound
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import contacts, outbox, webhook_outbox
from gatewayd.queue.model import InboundMessage
from gatewayd.queue.tx import Tx
from gatewayd.webhooks import routes

LOGGER = logging.getLogger(__name__)


def apply(tx: Tx, message: InboundMessage, rules: TrustRules) -> InboundMessage:
    """Match ``message`` and act on it; returns it with its intent and keyword set."""
    number = sender_number(message.sender, rules.home_region)
    textable = number is not None and outbox.RECIPIENT.fullmatch(number) is not None
    sender = number if number is not None and textable else message.sender
    if textable and sender != message.sender:
        LOGGER.info("modem %s: inbound %d: national sender %s read as %s (policy.home_region %s)", message.modem,
                    message.id, message.sender, sender, rules.home_region)
    consent = contacts.consent_of(tx, sender) if textable else Consent.UNKNOWN
    plan = plan_inbound(rules, message.text, consent)
    intent = None if plan.intent is None else str(plan.intent)
    tx.run("UPDATE inbox SET intent = ?, keyword = ? WHERE id = ?", (intent, plan.keyword, message.id))
    matched = InboundMessage(**{**message.__dict__, "intent": intent, "keyword": plan.keyword})
    for url in tx.webhooks.inbound if tx.webhooks else ():
        webhook_outbox.enqueue(tx, url, routes.INBOUND, routes.inbound_payload(matched))
    if plan.intent is None:
        LOGGER.info("modem %s: inbound %d from %s matched no keyword; kept for the operator", message.modem,
                    message.id, sender)
    else:
        LOGGER.info("modem %s: inbound %d from %s: %s (%s)", message.modem, message.id, sender, intent,
                    plan.keyword)
    if not textable:
        if plan.consent_to is not None or plan.reply is not None:
            LOGGER.warning("modem %s: inbound %d: sender %r is not an international number%s; %s not applied",
                           message.modem, message.id, sender,
                           "" if rules.home_region else " (set policy.home_region to read national ones)", intent)
    elif plan.consent_to is not None:
        contacts.set_consent(tx, sender, plan.consent_to, "keyword", inbox_id=message.id,
                             detail={"keyword": plan.keyword, "language": plan.language, "modem": message.modem},
                             reply=plan.reply)
    elif plan.reply is not None:
        _reply(tx, message, sender, plan, rules)
    if plan.webhook is not None and plan.keyword is not None:
        webhook_outbox.enqueue(tx, plan.webhook, routes.KEYWORD, routes.keyword_payload(plan.keyword, matched))
    return matched


def _reply(tx: Tx, message: InboundMessage, number: str, plan: InboundPlan, rules: TrustRules) -> None:
    assert plan.reply is not None
    limit = rules.replies.per_number_per_hour
    if plan.rate_limited_reply and contacts.replies_since(tx, number, tx.now - contacts.REPLY_WINDOW) >= limit:
        LOGGER.warning("modem %s: no %s reply to %s: already %d automatic replies this hour", message.modem,
                       plan.reply_kind, number, limit)
        return
    contacts.enqueue_reply(tx, number, plan.reply, key=f"inbound:{message.id}",
                           kind=plan.reply_kind or "reply")
