"""Recipient trust end to end: inbound keywords through emulated modems, consent across a restart, a STOP
racing the send path, and number hygiene learnt from the network's own refusal.

The rules themselves are tested at queue level (tests/queue/test_trust.py). Here every inbound SMS is
injected at the emulated network (PDU encoding, GSM-7 or UCS-2, split into parts when long), read by the
real modem stack over a pty and reassembled; every reply must really leave through a modem. Ground truth
is the emulated SMSC's log (``Emulator.sent()``): a reply "went" when the network accepted it, a
suppressed message "did not go" when the network never saw it.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta
from typing import Any

from gatewayd.gateway import Gateway
from gatewayd.policy.inbound import CustomKeyword, Replies, TrustRules
from gatewayd.policy.keywords import KeywordMatcher
from gatewayd.policy.send_policy import Consent, SendPolicy
from gatewayd.queue.model import InboundMessage, Message, NewMessage
from tests.dispatch.conftest import Harness, wait_until

OPT_OUT_REPLY = "Acme: you will get no more offers. Reply START to rejoin."
WELCOME = "Welcome to Acme offers, up to 4 a month. Reply STOP to end, HELP for help."
HELP_REPLY = "Acme offers. Reply STOP to end. Call 0800 123 4567."
PIZZA = "PIZZA FRIDAY"
PIZZA_REPLY = "Friday: two pizzas for one until 9 pm."
HELP_PER_HOUR = 2

RULES = TrustRules(
    matcher=KeywordMatcher(custom=[PIZZA]),
    replies=Replies(opt_out=OPT_OUT_REPLY, welcome=WELCOME, help=HELP_REPLY, per_number_per_hour=HELP_PER_HOUR),
    custom={PIZZA: CustomKeyword(PIZZA, reply=PIZZA_REPLY)},
    # No quiet hours: the gateway has no injectable clock, and these tests must not depend on the time
    # of day (quiet hours are tested at unit level with a clock).
    policy=SendPolicy(quiet_hours=False),
)

WENT = frozenset({"sent", "delivered"})
LATER = timedelta(hours=1)
"""Marketing queued this far ahead stays 'scheduled': only an opt-out can touch it meanwhile."""

# Senders (valid numbers: the gateway keys consent by E.164).
FAN = "+447911123456"
FAN_TOO = "+447911123457"
STOP_EN = "+447911123458"
STOP_RU = "+79123456789"
STOP_KO = "+821012345678"
STOP_ES = "+34612345678"
ASKER = "+447911123459"
PIZZA_FAN = "+447911123460"
DEALS = "+447911123461"
DOWNTIME_STOP = "+447911123462"


# -- helpers --------------------------------------------------------------------------------------------


def accepted(harness: Harness, number: str) -> list[str]:
    """Whole texts the SMSC accepted for ``number``, in order (parts joined by modem and reference);
    a multipart message stopped between its parts is left out."""
    whole: list[str] = []
    groups: dict[tuple[str, int], list[dict[str, Any]]] = collections.defaultdict(list)
    for record in records_to(harness, number):
        if record["parts"] == 1:
            whole.append(record["text"])
            continue
        key = (record["modem"], record["ref"])
        groups[key].append(record)
        if len(groups[key]) == record["parts"]:
            whole.append("".join(r["text"] for r in sorted(groups.pop(key), key=lambda r: r["part"])))
    return whole


def records_to(harness: Harness, number: str) -> list[dict[str, Any]]:
    """The SMSC's records of parts it accepted for ``number``."""
    return [r for r in harness.emulator.sent() if r["to"] == number]


def inbound_from(gateway: Gateway, sender: str) -> list[InboundMessage]:
    return [m for m in gateway.queue.list_inbound(limit=1000) if m.sender == sender]


def receive(harness: Harness, gateway: Gateway, sender: str, text: str, *, modem: int = 0,
            parts: int = 1) -> InboundMessage:
    """``text`` from ``sender`` arrives at one emulated modem; wait until the gateway stored (and acted on) it.

    Storing and acting on a message are one transaction, so once the inbox row is visible its consent
    change, suppressions and reply are too.
    """
    before = len(inbound_from(gateway, sender))
    assert harness.emulator.deliver(harness.numbers[modem], sender, text) == parts, f"{text!r}: wrong part count"
    wait_until(lambda: len(inbound_from(gateway, sender)) > before, timeout=10,
               what=f"the gateway to store {text!r} from {sender}")
    message = inbound_from(gateway, sender)[-1]
    assert (message.text, message.parts, message.complete) == (text, parts, True)
    return message


def marketing(gateway: Gateway, number: str, text: str, *, later: bool = False) -> Message:
    send_at = datetime.now(UTC) + LATER if later else None
    message, _ = gateway.queue.enqueue(NewMessage(number, text, message_class="marketing", send_at=send_at))
    return message


def status(gateway: Gateway, message_id: int) -> str:
    message = gateway.queue.get(message_id)
    assert message is not None
    return str(message.status)


def last_reason(gateway: Gateway, message_id: int) -> str:
    return gateway.queue.events(message_id)[-1].reason or ""


def consent(gateway: Gateway, number: str) -> str:
    contact = gateway.queue.contact(number)
    return "unknown" if contact is None else contact.marketing


# -- every rule through the modems, and a restart ---------------------------------------------------------


OPT_OUTS = [
    # (sender, text, parts, encoding, keyword, language)
    (STOP_EN, "STOP", 1, "gsm7", "STOP", "en"),
    (STOP_RU, "СТОП", 1, "ucs2", "СТОП", "ru"),
    (STOP_KO, "수신거부요 " + "!" * 70 + " 🙏", 2, "ucs2", "수신거부", "ko"),
    (STOP_ES, "Hola. BAJA, por favor!!! Gracias... " + "." * 150, 2, "gsm7", "BAJA", "es"),
]


def test_keywords_through_the_modems_and_consent_across_a_restart(harness: Harness) -> None:
    modems = harness.modems(2)
    gateway = harness.gateway(modems, rules=RULES)

    # Opt-in by keyword: the welcome goes once, a second yes changes nothing.
    assert receive(harness, gateway, FAN, "START").intent == "opt_in"
    again = receive(harness, gateway, FAN, "yes", modem=1)
    assert (again.intent, again.keyword) == ("opt_in", "YES")
    assert receive(harness, gateway, FAN_TOO, "Yes please!").keyword == "YES"
    assert consent(gateway, FAN) == consent(gateway, FAN_TOO) == "opted_in"
    assert [e.to_state for e in gateway.queue.consent_history(FAN)] == ["opted_in"]

    # Opt-out in four languages, GSM-7 and UCS-2, single and multipart, fillers and punctuation around.
    pending = {}
    for index, (sender, text, parts, encoding, keyword, language) in enumerate(OPT_OUTS):
        gateway.queue.set_consent(sender, Consent.OPTED_IN, "import")  # an import sends no welcome
        pending[sender] = marketing(gateway, sender, f"Spring sale {index}", later=True)
        assert pending[sender].status == "scheduled"
        stop = receive(harness, gateway, sender, text, modem=index % 2, parts=parts)
        assert (stop.intent, stop.keyword, stop.encoding) == ("opt_out", keyword, encoding), text
        assert consent(gateway, sender) == "opted_out", text
        event = gateway.queue.consent_history(sender)[-1]
        assert (event.to_state, event.via, event.inbox_id) == ("opted_out", "keyword", stop.id)
        assert event.detail is not None and event.detail["language"] == language
        assert status(gateway, pending[sender].id) == "suppressed", text
        assert "recipient opted out (keyword" in last_reason(gateway, pending[sender].id)
    # A second STOP is stored but changes nothing and is not confirmed again.
    assert receive(harness, gateway, STOP_EN, "stop!!").intent == "opt_out"

    # HELP: answered, at most HELP_PER_HOUR times per number. (Different texts: the same text from the
    # same sender in the same second is, by its SMSC time stamp, the network delivering it twice.)
    for text in ("HELP", "help!", "Help please"):
        assert receive(harness, gateway, ASKER, text).intent == "help"

    # A custom keyword with emoji (UCS-2) gets its configured reply.
    pizza = receive(harness, gateway, PIZZA_FAN, "pizza friday!!! 🍕")
    assert (pizza.intent, pizza.keyword, pizza.encoding) == ("custom", PIZZA, "ucs2")

    # A sentence that contains "stop" is kept for the operator and changes nothing.
    gateway.queue.set_consent(DEALS, Consent.OPTED_IN, "import")
    deals = receive(harness, gateway, DEALS, "don't stop the deals")
    assert deals.intent is None
    assert deals.id in [m.id for m in gateway.queue.list_unmatched_inbound(limit=1000)]
    assert consent(gateway, DEALS) == "opted_in"

    gateway.queue.set_consent(DOWNTIME_STOP, Consent.OPTED_IN, "import")
    harness.settle(gateway)
    # The replies really left through a modem, each exactly as often as the rules say.
    assert accepted(harness, FAN) == [WELCOME]
    assert accepted(harness, FAN_TOO) == [WELCOME]
    for sender, *_ in OPT_OUTS:
        assert accepted(harness, sender) == [OPT_OUT_REPLY], sender
    assert accepted(harness, ASKER) == [HELP_REPLY] * HELP_PER_HOUR
    assert accepted(harness, PIZZA_FAN) == [PIZZA_REPLY]
    assert accepted(harness, DEALS) == []
    assert accepted(harness, DOWNTIME_STOP) == []

    # Daemon restart. A STOP that arrives while the gateway is down waits on the SIM and is read at start.
    gateway.stop()
    harness.gateways.remove(gateway)
    assert harness.emulator.deliver(harness.numbers[0], DOWNTIME_STOP, "Stop") == 1
    gateway = harness.gateway(modems, rules=RULES)
    wait_until(lambda: len(inbound_from(gateway, DOWNTIME_STOP)) == 1, timeout=10,
               what="the STOP stored on the SIM during the downtime to be read")
    assert consent(gateway, DOWNTIME_STOP) == "opted_out"

    # Consent persisted: marketing to everyone who opted out is suppressed, to everyone opted in it goes.
    opted_out = [sender for sender, *_ in OPT_OUTS] + [DOWNTIME_STOP]
    opted_in = [FAN, FAN_TOO, DEALS]
    after = {number: marketing(gateway, number, f"After the restart, for {number}") for number in opted_out + opted_in}
    # The HELP limit is in the database too: a fourth HELP within the hour gets no reply.
    assert receive(harness, gateway, ASKER, "HELP me").intent == "help"
    harness.settle(gateway)
    for number in opted_out:
        assert status(gateway, after[number].id) == "suppressed", number
        assert last_reason(gateway, after[number].id) == "recipient opted out of marketing", number
    for number in opted_in:
        assert status(gateway, after[number].id) in WENT, number
    for sender, *_ in OPT_OUTS:
        assert accepted(harness, sender) == [OPT_OUT_REPLY], sender
    assert accepted(harness, DOWNTIME_STOP) == [OPT_OUT_REPLY]
    assert accepted(harness, FAN) == [WELCOME, after[FAN].text]  # no second welcome after the restart
    assert accepted(harness, FAN_TOO) == [WELCOME, after[FAN_TOO].text]
    assert accepted(harness, DEALS) == [after[DEALS].text]
    assert accepted(harness, ASKER) == [HELP_REPLY] * HELP_PER_HOUR


# -- a STOP racing the send path --------------------------------------------------------------------------


RACE_MESSAGES = 20
RACE_HEAD_START = 3
"""Parts the SMSC must have accepted for the number before its STOP is delivered."""
RACE_NUMBERS = ("+447911223344", "+447911223355", "+447911223366")
"""One race per number, one after the other on the same gateway."""


IN_FLIGHT = "recipient opted out of marketing while the message was being sent"


def race_text(round_: int, index: int) -> str:
    """Unique per message; every third is three GSM-7 parts, so a STOP can fall between two parts."""
    head = f"Round {round_} offer {index}: 20% off everything."
    return f"{head} {'Terms apply. ' * 30}".strip() if index % 3 == 0 else head


def race_once(harness: Harness, gateway: Gateway, round_: int, number: str) -> int:
    """One race: offers to ``number`` flow over every modem, its STOP arrives mid-flow. Returns how many
    claims already under way were stopped at their written mark."""
    gateway.queue.set_consent(number, Consent.OPTED_IN, "import")
    ids = [marketing(gateway, number, race_text(round_, i)).id for i in range(RACE_MESSAGES)]
    wait_until(lambda: len(records_to(harness, number)) >= RACE_HEAD_START, timeout=10,
               what="the first marketing parts to go")
    stop = receive(harness, gateway, number, "STOP", modem=round_ % len(harness.numbers))
    assert stop.intent == "opt_out"
    harness.settle(gateway)

    opt_out = gateway.queue.consent_history(number)[-1]
    assert (opt_out.to_state, opt_out.inbox_id) == ("opted_out", stop.id)
    statuses = collections.Counter(status(gateway, i) for i in ids)
    assert set(statuses) <= WENT | {"suppressed"}, f"round {round_}: {statuses}"
    assert statuses["suppressed"] >= 1, (
        f"round {round_}: the STOP came after every message had gone ({statuses}); it proves nothing:"
        " raise RACE_MESSAGES or the send latency")
    assert sum(statuses[s] for s in WENT) >= 1, f"round {round_}: nothing went before the STOP ({statuses})"

    # Every part the network accepted for this number is one the database knows, and every marketing
    # part among them had its PDU written at or before the opt-out committed.
    known = {}
    for message in gateway.queue.list_messages(recipient=number, limit=1000):
        for part in gateway.queue.parts(message.id):
            if part.mr is not None:
                known[(part.modem, part.mr)] = (message, part)
    went_marketing = 0
    for record in records_to(harness, number):
        key = (record["modem"], record["mr"])
        assert key in known, f"round {round_}: the SMSC accepted a part the database does not know: {record}"
        message, part = known[key]
        if message.message_class != "marketing":
            assert message.text == OPT_OUT_REPLY
            continue
        went_marketing += 1
        assert part.pdu_written_at is not None and part.pdu_written_at <= opt_out.at, (
            f"round {round_}: message {message.id} part {part.part} was written at {part.pdu_written_at},"
            f" after the opt-out at {opt_out.at}, and the network accepted it")
    assert went_marketing >= RACE_HEAD_START
    assert accepted(harness, number).count(OPT_OUT_REPLY) == 1  # the confirmation went, once
    left = gateway.queue.list_messages(recipient=number, limit=1000)
    assert not [m.id for m in left if m.status in ("queued", "scheduled", "sending")]
    return sum(last_reason(gateway, i) == IN_FLIGHT for i in ids)


def test_no_marketing_part_goes_out_after_a_stop_that_races_the_send_path(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(3, latency=0.3), rules=RULES)
    stopped_in_flight = sum(race_once(harness, gateway, round_, number) for round_, number in enumerate(RACE_NUMBERS))
    # The queued offers are suppressed by the opt-out's own transaction; this makes sure the written
    # mark's check (a claim already under way) was exercised too, not only that easy path.
    assert stopped_in_flight >= 1, "no claim under way was stopped at its written mark in any round"


# -- number hygiene -----------------------------------------------------------------------------------------


def test_a_number_the_network_calls_unknown_is_marked_invalid_and_skipped(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(1), rules=RULES)
    ghost = "+447911999888"
    harness.emulator.reject_number(ghost, 30)  # +CMS ERROR: 30, unknown subscriber
    first, _ = gateway.queue.enqueue(NewMessage(ghost, "Your code is 1234"))
    harness.settle(gateway)
    failed = gateway.queue.get(first.id)
    assert failed is not None and (failed.status, failed.error_code, failed.attempts) == ("failed", 30, 1)
    invalid = gateway.queue.list_invalid_numbers()
    assert [c.number for c in invalid] == [ghost]
    assert "unknown subscriber" in (invalid[0].invalid_reason or "")

    # The network would take it now: if the gateway tried, the SMSC log would show it.
    harness.emulator.reject_number(ghost, None)
    second, _ = gateway.queue.enqueue(NewMessage(ghost, "Your code is 5678"))
    harness.settle(gateway)
    skipped = gateway.queue.get(second.id)
    assert skipped is not None and (skipped.status, skipped.attempts) == ("suppressed", 0)
    assert last_reason(gateway, second.id).startswith("number marked invalid")
    assert gateway.queue.parts(second.id) == []
    assert accepted(harness, ghost) == []

    # An operator clears the mark: the next message goes.
    assert gateway.queue.clear_invalid(ghost)
    third, _ = gateway.queue.enqueue(NewMessage(ghost, "Your code is 9012"))
    harness.settle(gateway)
    assert status(gateway, third.id) in WENT
    assert accepted(harness, ghost) == ["Your code is 9012"]
