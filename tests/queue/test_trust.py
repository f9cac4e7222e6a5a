"""Recipient trust inside the queue: consent ledger, opt-out atomicity, claim-time policy, hygiene.

Real SQLite files and the injectable clock; the keyword engine and quiet hours are the real ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gatewayd.policy.inbound import Replies, TrustRules
from gatewayd.policy.send_policy import Consent, FrequencyCaps, SendPolicy
from gatewayd.queue import InvalidMessage, NewMessage, Queue, SendRefused, Status
from tests.queue.conftest import LONG_TEXT, MODEM, Clock, deliver_parts, report, send_all

NUMBER = "+447911123456"
"""A UK mobile: one time zone, Europe/London (UTC+0 in November)."""
OTHER = "+447911654321"
DAYTIME = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 10:00 in London
NIGHT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 03:00 in London
RULES = TrustRules(replies=Replies(opt_out="Unsubscribed. Reply START to rejoin.", welcome="Welcome to Acme!",
                                   help="Acme alerts. Reply STOP to end.", per_number_per_hour=3))


@pytest.fixture
def trusted(open_queue: Callable[..., Queue], clock: Clock) -> Queue:
    clock.now = DAYTIME
    return open_queue(rules=RULES)


def marketing(queue: Queue, to: str = NUMBER, text: str = "20% off today", **kwargs: object) -> int:
    message, _ = queue.enqueue(NewMessage(to, text, message_class="marketing", **kwargs))  # type: ignore[arg-type]
    return message.id


def status(queue: Queue, message_id: int) -> Status:
    message = queue.get(message_id)
    assert message is not None
    return message.status


def last_reason(queue: Queue, message_id: int) -> str:
    reason = queue.events(message_id)[-1].reason
    assert reason is not None
    return reason


def opt_in(queue: Queue, number: str = NUMBER) -> None:
    queue.set_consent(number, Consent.OPTED_IN, "import")


# -- consent ledger and opt-out atomicity -------------------------------------------------------------


def test_an_opt_out_suppresses_queued_and_scheduled_marketing_to_that_number_only(trusted: Queue,
                                                                                  clock: Clock) -> None:
    opt_in(trusted)
    opt_in(trusted, OTHER)
    queued = marketing(trusted)
    scheduled = marketing(trusted, send_at=clock.now + timedelta(days=1))
    other = marketing(trusted, OTHER)
    code, _ = trusted.enqueue(NewMessage(NUMBER, "Your code is 1234"))

    change = trusted.set_consent(NUMBER, Consent.OPTED_OUT, "operator", detail={"by": "ops"})

    assert sorted(change.suppressed) == sorted([queued, scheduled])
    assert change.event is not None and (change.event.from_state, change.event.to_state) == ("opted_in", "opted_out")
    assert status(trusted, queued) == status(trusted, scheduled) == Status.SUPPRESSED
    assert "opted out" in last_reason(trusted, queued)
    assert status(trusted, other) == Status.QUEUED
    assert status(trusted, code.id) == Status.QUEUED
    contact = trusted.contact(NUMBER)
    assert contact is not None and (contact.marketing, contact.consent_via) == ("opted_out", "operator")


def test_a_repeated_opt_out_records_nothing_and_the_ledger_is_append_only(trusted: Queue, db_path: Path) -> None:
    trusted.set_consent(NUMBER, Consent.OPTED_OUT, "api")
    again = trusted.set_consent(NUMBER, Consent.OPTED_OUT, "api")
    assert again.event is None
    history = trusted.consent_history(NUMBER)
    assert [(e.from_state, e.to_state, e.via) for e in history] == [("unknown", "opted_out", "api")]
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE consent_events SET via = 'operator'")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            conn.execute("DELETE FROM consent_events")
    finally:
        conn.close()


def test_consent_via_must_be_known_and_unknown_is_not_a_target(trusted: Queue) -> None:
    with pytest.raises(InvalidMessage, match="via"):
        trusted.set_consent(NUMBER, Consent.OPTED_OUT, "carrier pigeon")
    with pytest.raises(InvalidMessage, match="unknown"):
        trusted.set_consent(NUMBER, Consent.UNKNOWN, "api")
    with pytest.raises(InvalidMessage, match=r"E\.164"):
        trusted.set_consent("07911123456", Consent.OPTED_IN, "api")
    assert trusted.contact(NUMBER) is None


def test_an_opt_in_sends_the_welcome_once_per_change(trusted: Queue) -> None:
    first = trusted.set_consent(NUMBER, Consent.OPTED_IN, "api", detail={"source": "web form"})
    again = trusted.set_consent(NUMBER, Consent.OPTED_IN, "api")
    assert first.reply_id is not None and again.reply_id is None
    welcome = trusted.get(first.reply_id)
    assert welcome is not None
    assert (welcome.text, welcome.message_class, welcome.client) == ("Welcome to Acme!", "transactional", "gatewayd")


# -- STOP while a send is under way ---------------------------------------------------------------


def test_a_stop_recorded_after_the_claim_stops_the_pdu_at_its_written_mark(trusted: Queue) -> None:
    opt_in(trusted)
    message_id = marketing(trusted)
    claim = trusted.claim(MODEM)
    assert claim is not None and claim.message.id == message_id
    trusted.set_consent(NUMBER, Consent.OPTED_OUT, "keyword")
    with pytest.raises(SendRefused, match="opted out"):
        trusted.part_written(message_id, 0, MODEM)
    assert trusted.parts(message_id) == []  # nothing marked: the PDU never left
    trusted.suppress(message_id, "recipient opted out of marketing while the message was being sent")
    assert status(trusted, message_id) == Status.SUPPRESSED


def test_a_stop_between_two_parts_stops_the_rest_of_a_marketing_message(trusted: Queue) -> None:
    opt_in(trusted)
    message_id = marketing(trusted, text=LONG_TEXT)
    assert trusted.claim(MODEM) is not None
    trusted.part_written(message_id, 0, MODEM)
    trusted.part_sent(message_id, 0, 41)
    trusted.set_consent(NUMBER, Consent.OPTED_OUT, "keyword")
    with pytest.raises(SendRefused):
        trusted.part_written(message_id, 1, MODEM)
    trusted.suppress(message_id, "recipient opted out of marketing while the message was being sent")
    assert [(p.part, str(p.state)) for p in trusted.parts(message_id)] == [(0, "sent")]


def test_transactional_messages_go_to_an_opted_out_number(trusted: Queue) -> None:
    trusted.set_consent(NUMBER, Consent.OPTED_OUT, "keyword")
    message, _ = trusted.enqueue(NewMessage(NUMBER, "Your code is 1234"))
    claim = trusted.claim(MODEM)
    assert claim is not None and claim.message.id == message.id
    assert send_all(trusted, message.id).status == Status.SENT


# -- claim-time policy ----------------------------------------------------------------------------


def test_marketing_to_a_number_that_never_opted_in_is_suppressed_at_the_claim(trusted: Queue) -> None:
    message_id = marketing(trusted)
    assert trusted.claim(MODEM) is None
    assert status(trusted, message_id) == Status.SUPPRESSED
    assert last_reason(trusted, message_id) == "recipient never opted in to marketing (opt-in required)"


def test_without_the_opt_in_requirement_unknown_numbers_get_marketing(open_queue: Callable[..., Queue],
                                                                      clock: Clock) -> None:
    clock.now = DAYTIME
    queue = open_queue(rules=TrustRules(policy=SendPolicy(marketing_requires_opt_in=False)))
    message_id = marketing(queue)
    claim = queue.claim(MODEM)
    assert claim is not None and claim.message.id == message_id


def test_marketing_at_night_is_held_until_the_window_opens_then_goes(trusted: Queue, clock: Clock) -> None:
    opt_in(trusted)
    clock.now = NIGHT
    message_id = marketing(trusted)
    code, _ = trusted.enqueue(NewMessage(NUMBER, "Your code is 1234"))
    claim = trusted.claim(MODEM)
    assert claim is not None and claim.message.id == code.id  # transactional ignores quiet hours
    assert trusted.claim(MODEM) is None
    held = trusted.get(message_id)
    assert held is not None and held.status == Status.SCHEDULED
    assert held.due_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert last_reason(trusted, message_id).startswith("quiet hours")
    assert held.attempts == 0  # a hold is not an attempt

    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert trusted.promote_due() == 1
    claim = trusted.claim(MODEM)
    assert claim is not None and claim.message.id == message_id


def test_the_frequency_cap_holds_the_third_marketing_message_of_a_day(open_queue: Callable[..., Queue],
                                                                     clock: Clock) -> None:
    clock.now = DAYTIME
    queue = open_queue(rules=TrustRules(policy=SendPolicy(caps=FrequencyCaps(per_day=2, per_week=6))))
    opt_in(queue)
    first_at = clock.now
    for _ in range(2):
        message_id = marketing(queue)
        assert queue.claim(MODEM) is not None
        send_all(queue, message_id)
        clock.advance(timedelta(hours=1))
    third = marketing(queue)
    assert queue.claim(MODEM) is None
    held = queue.get(third)
    assert held is not None and held.status == Status.SCHEDULED
    assert held.due_at == first_at + timedelta(days=1)
    assert "frequency cap: 2 marketing message(s) in the last day (limit 2)" in last_reason(queue, third)


def test_over_the_cap_with_suppress_the_message_is_suppressed(open_queue: Callable[..., Queue],
                                                             clock: Clock) -> None:
    clock.now = DAYTIME
    queue = open_queue(rules=TrustRules(policy=SendPolicy(caps=FrequencyCaps(per_day=1, over_cap="suppress"))))
    opt_in(queue)
    first = marketing(queue)
    assert queue.claim(MODEM) is not None
    send_all(queue, first)
    second = marketing(queue)
    assert queue.claim(MODEM) is None
    assert status(queue, second) == Status.SUPPRESSED


def test_a_refused_marketing_send_does_not_count_against_the_cap(open_queue: Callable[..., Queue],
                                                                clock: Clock) -> None:
    clock.now = DAYTIME
    queue = open_queue(rules=TrustRules(policy=SendPolicy(caps=FrequencyCaps(per_day=1))))
    opt_in(queue)
    first = marketing(queue)
    assert queue.claim(MODEM) is not None
    queue.part_written(first, 0, MODEM)
    queue.retry_later(first, "+CMS ERROR: 500", delay=timedelta(seconds=1))  # the modem refused the part
    clock.advance(timedelta(seconds=2))
    queue.promote_due()
    claim = queue.claim(MODEM)
    assert claim is not None and claim.message.id == first


# -- inbound keywords -----------------------------------------------------------------------------


def stop_from(queue: Queue, text: str, sender: str = NUMBER, reference: int = 7) -> None:
    """``text`` from ``sender``; each ``reference`` is another message (its own SC time stamp)."""
    parts = deliver_parts(text, sender=sender, reference=reference, when=DAYTIME + timedelta(seconds=reference))
    results = [queue.record_inbound(part) for part in parts]
    assert results[-1] is not None


def test_an_inbound_stop_opts_out_suppresses_and_confirms_in_one_transaction(trusted: Queue) -> None:
    opt_in(trusted)
    queued = marketing(trusted)
    stop_from(trusted, "Stop please!")

    inbound = trusted.list_inbound()[-1]
    assert (inbound.intent, inbound.keyword) == ("opt_out", "STOP")
    assert status(trusted, queued) == Status.SUPPRESSED
    history = trusted.consent_history(NUMBER)
    assert history[-1].via == "keyword" and history[-1].inbox_id == inbound.id
    replies = [m for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd" and m.id != queued]
    assert [r.text for r in replies if "Unsubscribed" in r.text] == ["Unsubscribed. Reply START to rejoin."]


def test_the_same_stop_read_twice_is_stored_once_and_confirmed_once(trusted: Queue) -> None:
    parts = deliver_parts("STOP", sender=NUMBER)
    assert trusted.record_inbound(parts[0]) is not None
    assert trusted.record_inbound(parts[0]) is None
    assert len(trusted.list_inbound()) == 1
    assert len([m for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd"]) == 1


def test_a_second_stop_gets_no_second_confirmation(trusted: Queue) -> None:
    stop_from(trusted, "STOP", reference=1)
    stop_from(trusted, "stop", reference=2)
    assert len(trusted.list_inbound()) == 2
    assert len([m for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd"]) == 1


def test_help_replies_are_rate_limited_per_number(trusted: Queue, clock: Clock) -> None:
    for reference in range(5):
        stop_from(trusted, "HELP", reference=reference)
    helps = [m for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd"]
    assert [m.text for m in helps] == ["Acme alerts. Reply STOP to end."] * 3
    clock.advance(timedelta(hours=1, seconds=1))
    stop_from(trusted, "HELP", reference=9)
    assert len([m for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd"]) == 4


def test_a_sentence_that_contains_stop_is_kept_unmatched_for_the_operator(trusted: Queue) -> None:
    opt_in(trusted)
    stop_from(trusted, "don't stop the deals")
    contact = trusted.contact(NUMBER)
    assert contact is not None and contact.marketing == "opted_in"
    unmatched = trusted.list_unmatched_inbound()
    assert [m.text for m in unmatched] == ["don't stop the deals"]


def test_start_after_stop_opts_in_again_and_welcomes(trusted: Queue) -> None:
    stop_from(trusted, "STOP", reference=1)
    stop_from(trusted, "START", reference=2)
    contact = trusted.contact(NUMBER)
    assert contact is not None and contact.marketing == "opted_in"
    texts = [m.text for m in trusted.list_messages(recipient=NUMBER) if m.client == "gatewayd"]
    assert texts == ["Unsubscribed. Reply START to rejoin.", "Welcome to Acme!"]


def test_a_multipart_ucs2_stop_in_russian_opts_out(trusted: Queue) -> None:
    text = "СТОП " + "пожалуйста " * 1 + "!" * 70  # long enough for two UCS-2 parts
    stop_from(trusted, text)
    contact = trusted.contact(NUMBER)
    assert contact is not None and contact.marketing == "opted_out"


# -- number hygiene -------------------------------------------------------------------------------


def test_an_unknown_subscriber_marks_the_number_invalid_and_later_messages_are_suppressed(trusted: Queue) -> None:
    first, _ = trusted.enqueue(NewMessage(NUMBER, "hello"))
    assert trusted.claim(MODEM) is not None
    trusted.fail(first.id, "+CMS ERROR: 30 (unknown subscriber)", code=30)
    assert [c.number for c in trusted.list_invalid_numbers()] == [NUMBER]

    second, _ = trusted.enqueue(NewMessage(NUMBER, "hello again"))
    assert trusted.claim(MODEM) is None
    assert status(trusted, second.id) == Status.SUPPRESSED
    assert last_reason(trusted, second.id).startswith("number marked invalid")

    assert trusted.clear_invalid(NUMBER)
    third, _ = trusted.enqueue(NewMessage(NUMBER, "hello at last"))
    claim = trusted.claim(MODEM)
    assert claim is not None and claim.message.id == third.id


def test_a_barred_number_is_not_marked_invalid(trusted: Queue) -> None:
    message, _ = trusted.enqueue(NewMessage(NUMBER, "hello"))
    assert trusted.claim(MODEM) is not None
    trusted.fail(message.id, "+CMS ERROR: 10 (call barred)", code=10)
    assert trusted.list_invalid_numbers() == []


def test_three_failed_delivery_reports_in_a_row_mark_a_number_invalid(trusted: Queue, clock: Clock) -> None:
    for index in range(3):
        message, _ = trusted.enqueue(NewMessage(NUMBER, f"hello {index}"))
        assert trusted.claim(MODEM) is not None
        send_all(trusted, message.id, first_mr=20 + index)
        assert trusted.list_invalid_numbers() == []
        trusted.record_status_report(MODEM, report(20 + index, NUMBER, 0x41, clock.now), f"0{index}")
    invalid = trusted.list_invalid_numbers()
    assert [(c.number, c.invalid_reason) for c in invalid] == [(NUMBER, "3 consecutive failed delivery reports")]


def test_a_delivery_resets_the_failed_report_count(trusted: Queue, clock: Clock) -> None:
    for index, code in enumerate((0x41, 0x41, 0x00, 0x41, 0x41)):
        message, _ = trusted.enqueue(NewMessage(NUMBER, f"hello {index}"))
        assert trusted.claim(MODEM) is not None
        send_all(trusted, message.id, first_mr=30 + index)
        trusted.record_status_report(MODEM, report(30 + index, NUMBER, code, clock.now), f"1{index}")
    assert trusted.list_invalid_numbers() == []


def test_consent_survives_reopening_the_database(open_queue: Callable[..., Queue], db_path: Path,
                                                 clock: Clock) -> None:
    clock.now = DAYTIME
    first = open_queue(rules=RULES)
    stop_from(first, "STOP")
    first.close()
    second = open_queue(rules=RULES)
    later = marketing(second)
    confirmation = second.claim(MODEM)
    assert confirmation is not None and confirmation.message.client == "gatewayd"
    assert second.claim(MODEM) is None
    assert status(second, later) == Status.SUPPRESSED
    assert last_reason(second, later) == "recipient opted out of marketing"


def test_a_national_sender_opts_out_when_the_home_region_is_known(open_queue: Callable[..., Queue],
                                                                  clock: Clock) -> None:
    clock.now = DAYTIME
    queue = open_queue(rules=TrustRules(replies=RULES.replies, home_region="GB"))
    opt_in(queue)
    queued = marketing(queue)
    stop_from(queue, "STOP", sender="07911123456")  # as some networks deliver it: national digits
    assert queue.list_inbound()[-1].sender == "07911123456"  # stored as received
    contact = queue.contact(NUMBER)
    assert contact is not None and contact.marketing == "opted_out"
    assert status(queue, queued) == Status.SUPPRESSED
    confirmations = [m for m in queue.list_messages(recipient=NUMBER) if m.client == "gatewayd"]
    assert [m.text for m in confirmations] == ["Unsubscribed. Reply START to rejoin."]


def test_without_a_home_region_a_national_sender_changes_nothing(trusted: Queue) -> None:
    opt_in(trusted)
    queued = marketing(trusted)
    stop_from(trusted, "STOP", sender="07911123456")
    assert trusted.list_inbound()[-1].intent == "opt_out"  # matched and kept for the operator...
    contact = trusted.contact(NUMBER)
    assert contact is not None and contact.marketing == "opted_in"  # ...but no number to key it by
    assert status(trusted, queued) == Status.QUEUED


@pytest.mark.parametrize(("sender", "region", "expected"), [
    ("+447911123456", None, "+447911123456"),
    ("+447911123456", "DE", "+447911123456"),
    ("07911123456", "GB", "+447911123456"),
    ("07911123456", None, None),
    ("BANK", "GB", None),
    ("12345", "GB", None),  # a short code: not a number of the region
    ("٠٧٩١١١٢٣٤٥٦", "GB", None),  # non-ASCII digits are not read as a number
])
def test_sender_number(sender: str, region: str | None, expected: str | None) -> None:
    from gatewayd.numbers import sender_number

    assert sender_number(sender, region) == expected
