"""Webhooks end to end: a real state change in a real queue, the deliverer, a real HTTP receiver.

Time that matters to the outcome (backoff, due times) is the queue's injectable clock: a test moves it
and wakes the deliverer instead of waiting. Real time is only the bounded wait for something that
should happen at once, and the receive timeout of a request to a receiver that hangs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from gatewayd.policy.inbound import CustomKeyword, Replies, TrustRules
from gatewayd.policy.keywords import KeywordMatcher
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import Queue, Status
from gatewayd.queue import outbox as outbox_module
from gatewayd.webhooks.deliverer import Deliverer, DeliverySettings
from gatewayd.webhooks.routes import WebhookRoutes, iso
from gatewayd.webhooks.signing import SIGNATURE_HEADER, verify
from tests.queue.conftest import MODEM, RECIPIENT, Clock, bring_to, deliver_parts, report
from tests.webhooks.conftest import SECRET, SETTINGS, WAIT, Attempts, Receiver, Request

SENDER = "+447700900555"  # deliver_parts' default sender

StartDeliverer = Callable[..., Deliverer]
OpenQueue = Callable[..., Queue]


def assert_signed(request: Request) -> None:
    assert verify(SECRET, request.headers[SIGNATURE_HEADER], request.body)
    assert not verify(b"whsec-some-other-key-000", request.headers[SIGNATURE_HEADER], request.body)
    assert request.headers["Content-Type"] == "application/json"


def stored(queue: Queue, kind: str | None = None) -> list[dict[str, Any]]:
    """Payloads waiting in the outbox (due now on the test clock), oldest first."""
    return [d.payload for d in queue.webhooks_due() if kind is None or d.kind == kind]


# -- what is announced, from the transaction of the change ------------------------------------------------


def test_a_sent_then_delivered_message_is_posted_signed_with_its_payload(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    start_deliverer(queue)
    sent = bring_to(queue, clock, Status.SENT)
    (first,) = receiver.wait_for(1)
    assert first.event == "status"
    assert first.json == {"event": "message.status", "id": sent.id, "client": "", "to": RECIPIENT,
                          "status": "sent", "reason": "accepted by the modem", "at": iso(clock.now), "parts": 1,
                          "metadata": None}
    assert_signed(first)

    clock.advance(timedelta(seconds=30))
    queue.record_status_report(MODEM, report(10, RECIPIENT, 0, clock.now), "00")
    second = receiver.wait_for(2)[1]
    assert (second.json["status"], second.json["at"]) == ("delivered", iso(clock.now))
    assert second.json["reason"] == "status report: every part delivered"
    assert second.delivery != first.delivery
    assert_signed(second)
    assert [a.delivered for a in attempts.wait_for(2)] == [True, True]
    assert queue.webhook_counts() == {"pending": 0, "delivered": 2, "gave_up": 0}


@pytest.mark.parametrize(("status", "announced"), [
    (Status.QUEUED, []), (Status.SCHEDULED, []), (Status.SENDING, []), (Status.CANCELLED, []),
    (Status.EXPIRED, []), (Status.SENT, ["sent"]), (Status.DELIVERED, ["sent", "delivered"]),
    (Status.FAILED, ["failed"]), (Status.SUPPRESSED, ["suppressed"]), (Status.UNKNOWN, ["unknown"]),
])
def test_only_the_statuses_an_application_acts_on_are_announced_to_every_url(
        open_queue: OpenQueue, clock: Clock, status: Status, announced: list[str]) -> None:
    queue = open_queue(webhooks=WebhookRoutes(status=("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")))
    message = bring_to(queue, clock, status)
    deliveries = queue.webhooks_due()
    assert [(d.endpoint, d.payload["status"]) for d in deliveries] == [
        (url, s) for s in announced for url in ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")]
    assert {d.payload["id"] for d in deliveries} <= {message.id}


def test_a_queue_without_routes_announces_nothing(open_queue: OpenQueue, clock: Clock) -> None:
    queue = open_queue()
    bring_to(queue, clock, Status.DELIVERED)
    queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "api")
    assert queue.webhook_counts() == {"pending": 0, "delivered": 0, "gave_up": 0}


def test_a_rolled_back_change_announces_nothing_and_wakes_nobody(open_queue: OpenQueue, clock: Clock) -> None:
    queue = open_queue(webhooks=WebhookRoutes(status=("http://127.0.0.1:9/hook",)))
    woken: list[int] = []
    queue.add_webhook_listener(lambda: woken.append(1))
    claimed = bring_to(queue, clock, Status.SENDING)

    def fail_after_the_change(tx: Any) -> None:
        outbox_module.fail(tx, claimed.id, "barred", None)
        raise RuntimeError("the operation fails after its change")

    with pytest.raises(RuntimeError):
        queue._write(fail_after_the_change)
    assert queue.webhook_counts()["pending"] == 0
    assert woken == []
    got = queue.get(claimed.id)
    assert got is not None and got.status == Status.SENDING

    queue.fail(claimed.id, "barred")  # the same change, committed
    assert [d.payload["status"] for d in queue.webhooks_due()] == ["failed"]
    assert woken == [1]


def test_an_inbound_stop_posts_the_message_and_one_opt_out(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    routes = WebhookRoutes(inbound=(receiver.url + "/inbound",), opt_out=(receiver.url + "/opt-out",))
    queue = open_queue(webhooks=routes, rules=TrustRules())
    start_deliverer(queue)
    (received,) = deliver_parts("Stop please")
    message = queue.record_inbound(received)
    assert message is not None
    inbound, opt_out = receiver.wait_for(2)
    assert (inbound.path, inbound.event) == ("/hook/inbound", "inbound")
    assert inbound.json == {"event": "inbound", "id": message.id, "modem": MODEM, "from": SENDER,
                            "text": "Stop please", "received_at": iso(clock.now), "intent": "opt_out",
                            "keyword": "STOP"}
    assert (opt_out.path, opt_out.event) == ("/hook/opt-out", "opt_out")
    assert opt_out.json == {"event": "consent.opt_out", "number": SENDER, "via": "keyword", "at": iso(clock.now),
                            "inbox_id": message.id}
    for request in (inbound, opt_out):
        assert_signed(request)

    # A second STOP changes nothing: an inbound webhook, no second opt-out.
    (again,) = deliver_parts("STOP", reference=8)
    queue.record_inbound(again)
    third = receiver.wait_for(3)[2]
    assert (third.event, third.json["text"]) == ("inbound", "STOP")
    attempts.wait_for(3)
    assert stored(queue) == []


def test_an_opt_out_through_the_api_is_announced_once(open_queue: OpenQueue, clock: Clock) -> None:
    queue = open_queue(webhooks=WebhookRoutes(opt_out=("http://127.0.0.1:9/hook",)))
    queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "api")
    queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "api")  # no change
    queue.set_consent(RECIPIENT, Consent.OPTED_IN, "api")  # not announced
    assert stored(queue, "opt_out") == [{"event": "consent.opt_out", "number": RECIPIENT, "via": "api",
                                         "at": iso(clock.now), "inbox_id": None}]


def test_a_custom_keyword_posts_to_its_own_url(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, clock: Clock) -> None:
    rules = TrustRules(matcher=KeywordMatcher(custom=["Price"]), replies=Replies(),
                       custom={"Price": CustomKeyword("Price", reply=None, webhook=receiver.url + "/price")})
    queue = open_queue(webhooks=WebhookRoutes(inbound=(receiver.url,)), rules=rules)
    start_deliverer(queue)
    (received,) = deliver_parts("price?")
    message = queue.record_inbound(received)
    assert message is not None and message.keyword == "Price"
    by_event = {r.event: r for r in receiver.wait_for(2)}
    fields = {"id": message.id, "modem": MODEM, "from": SENDER, "text": "price?",
              "received_at": iso(clock.now), "intent": "custom", "keyword": "Price"}
    assert by_event["inbound"].json == {"event": "inbound", **fields}
    assert by_event["keyword"].path == "/hook/price"
    assert by_event["keyword"].json == {"event": "keyword", "keyword": "Price", "inbound": fields}
    for request in by_event.values():
        assert_signed(request)


# -- retries, giving up, restarts ---------------------------------------------------------------------


def test_failed_posts_are_retried_with_doubling_backoff_until_a_2xx(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    receiver.script = [500, 500]
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    deliverer = start_deliverer(queue)
    bring_to(queue, clock, Status.SUPPRESSED)

    first = attempts.wait_for(1)[0]
    assert (first.delivered, first.status, first.error) == (False, 500, "HTTP 500")
    assert first.retry_at == clock.now + SETTINGS.retry_base
    assert queue.webhooks_next_due() == first.retry_at
    (failing,) = queue.failing_webhooks()
    assert (failing.id, failing.attempts, failing.last_error) == (first.delivery_id, 1, "HTTP 500")

    clock.now = first.retry_at
    deliverer.wake()
    second = attempts.wait_for(2)[1]
    assert (second.attempt, second.status) == (2, 500)
    assert second.retry_at == clock.now + 2 * SETTINGS.retry_base

    clock.now = second.retry_at
    deliverer.wake()
    third = attempts.wait_for(3)[2]
    assert (third.attempt, third.delivered, third.status) == (3, True, 204)
    requests = receiver.wait_for(3)
    assert {r.delivery for r in requests} == {str(first.delivery_id)}
    for request in requests:
        assert_signed(request)  # each attempt signed afresh
    assert queue.failing_webhooks() == []
    assert queue.webhook_counts() == {"pending": 0, "delivered": 1, "gave_up": 0}
    assert queue.webhooks_next_due() is None


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = DeliverySettings(retry_base=timedelta(seconds=10), retry_max=timedelta(seconds=70))
    assert [settings.backoff(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 70, 70]
    assert settings.backoff(10_000) == timedelta(seconds=70)
    with pytest.raises(ValueError, match="retry_base"):
        DeliverySettings(retry_base=timedelta(0))


def test_a_delivery_is_given_up_after_max_attempts_and_stays_visible(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, attempts: Attempts, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(status=503)
    receiver.up()
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    deliverer = start_deliverer(queue, DeliverySettings(max_attempts=3, retry_base=timedelta(seconds=10)))
    with caplog.at_level(logging.WARNING, logger="gatewayd.webhooks.deliverer"):
        bring_to(queue, clock, Status.FAILED)
        for count in (1, 2):
            retry_at = attempts.wait_for(count)[-1].retry_at
            assert retry_at is not None
            clock.now = retry_at
            deliverer.wake()
        last = attempts.wait_for(3)[-1]
    assert (last.attempt, last.gave_up, last.status) == (3, True, 503)
    assert len(receiver.requests) == 3
    (failing,) = queue.failing_webhooks()
    assert (failing.attempts, failing.gave_up_at, failing.next_attempt_at) == (3, clock.now, None)
    assert (failing.last_status, failing.last_error) == (503, "HTTP 503")
    assert queue.webhook_counts() == {"pending": 0, "delivered": 0, "gave_up": 1}
    assert queue.webhooks_next_due() is None
    lines = [r.getMessage() for r in caplog.records if r.name == "gatewayd.webhooks.deliverer"]
    assert len(lines) == 3
    assert all(f"delivery {last.delivery_id} (status) to {receiver.url} failed: HTTP 503" in line for line in lines)
    assert "gave up after 3 attempt(s)" in lines[-1]
    receiver.down()


def test_a_refused_connection_and_a_timeout_are_failures_to_retry(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    receiver.down()
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    deliverer = start_deliverer(queue, DeliverySettings(timeout=timedelta(seconds=0.3)))
    bring_to(queue, clock, Status.UNKNOWN)
    refused = attempts.wait_for(1)[0]
    assert (refused.status, refused.error, refused.gave_up) == (None, "connection refused", False)

    receiver.hang = True
    receiver.up()
    assert refused.retry_at is not None
    clock.now = refused.retry_at
    deliverer.wake()
    timed_out = attempts.wait_for(2)[1]
    assert (timed_out.status, timed_out.error, timed_out.gave_up) == (None, "timed out", False)
    assert len(receiver.requests) == 1


def test_deliveries_survive_a_restart_and_arrive_once_with_the_same_id(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    receiver.down()
    routes = WebhookRoutes(opt_out=(receiver.url,))
    before = open_queue(webhooks=routes)
    first_run = start_deliverer(before)
    opted_at = clock.now
    before.set_consent(RECIPIENT, Consent.OPTED_OUT, "operator")
    failed = attempts.wait_for(1)[0]
    assert failed.error == "connection refused"
    first_run.stop()
    before.close()

    receiver.up()
    after = open_queue(webhooks=routes)
    assert after.webhooks_next_due() == failed.retry_at  # the backoff survived with the row
    assert failed.retry_at is not None
    clock.now = failed.retry_at
    second_run = start_deliverer(after)
    delivered = attempts.wait_for(2)[1]
    assert (delivered.delivery_id, delivered.attempt, delivered.delivered) == (failed.delivery_id, 2, True)
    second_run.stop()
    (request,) = receiver.requests
    assert request.delivery == str(failed.delivery_id)
    assert request.json == {"event": "consent.opt_out", "number": RECIPIENT, "via": "operator",
                            "at": iso(opted_at), "inbox_id": None}
    assert_signed(request)
    assert after.webhook_counts() == {"pending": 0, "delivered": 1, "gave_up": 0}


def test_deliveries_written_while_no_deliverer_ran_go_at_the_next_start(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    routes = WebhookRoutes(status=(receiver.url,))
    before = open_queue(webhooks=routes)
    sent = bring_to(before, clock, Status.SENT)  # the gateway stopped before anything was posted
    before.close()
    start_deliverer(open_queue(webhooks=routes))
    (request,) = receiver.wait_for(1)
    assert request.json["id"] == sent.id
    assert attempts.wait_for(1)[0].delivered


# -- one thread, fair to healthy endpoints, stops cleanly, never dies ------------------------------------


def test_a_hanging_endpoint_costs_the_others_one_timeout_per_batch(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    hanging = Receiver(hang=True)
    hanging.up()
    try:
        queue = open_queue(webhooks=WebhookRoutes(status=(hanging.url, receiver.url)))
        for _ in range(3):  # written before the deliverer starts: one batch of six, interleaved
            bring_to(queue, clock, Status.SUPPRESSED)
        start_deliverer(queue, DeliverySettings(timeout=timedelta(seconds=0.3)))
        seen = attempts.wait_for(4)
    finally:
        hanging.release()
        hanging.down()
    # The healthy endpoint's three deliveries went right after the first timeout, before a second one.
    assert [(a.endpoint, a.delivered) for a in seen[:4]] == [(hanging.url, False)] + [(receiver.url, True)] * 3
    assert seen[0].error == "timed out"


def test_stop_finishes_the_delivery_in_flight(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    receiver.hang = True
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    deliverer = start_deliverer(queue, DeliverySettings(timeout=timedelta(seconds=0.5)))
    bring_to(queue, clock, Status.SENT)
    receiver.wait_for(1)
    deliverer.stop()
    assert not deliverer.running
    (attempt,) = attempts.seen  # recorded before stop() returned
    assert attempt.error == "timed out"
    assert queue.webhook_counts()["pending"] == 1


def test_the_deliverer_survives_a_failing_queue(open_queue: OpenQueue, start_deliverer: StartDeliverer) -> None:
    queue = open_queue(webhooks=WebhookRoutes(status=("http://127.0.0.1:9/hook",)))
    failed = threading.Event()

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "delivery pass failed" in record.getMessage():
                failed.set()

    spy = Spy()
    logging.getLogger("gatewayd.webhooks.deliverer").addHandler(spy)
    try:
        deliverer = start_deliverer(queue)
        queue.close()
        deliverer.wake()
        assert failed.wait(WAIT)
        assert deliverer.running
    finally:
        logging.getLogger("gatewayd.webhooks.deliverer").removeHandler(spy)
    deliverer.stop()
    assert not deliverer.running


def test_a_redirect_is_a_failure_not_a_delivery(
        open_queue: OpenQueue, start_deliverer: StartDeliverer, receiver: Receiver, attempts: Attempts,
        clock: Clock) -> None:
    receiver.status = 302  # urllib would follow it as a GET without the body, and the GET gets a 200
    queue = open_queue(webhooks=WebhookRoutes(status=(receiver.url,)))
    deliverer = start_deliverer(queue)
    bring_to(queue, clock, Status.SENT)
    attempt = attempts.wait_for(1)[0]
    assert (attempt.delivered, attempt.status, attempt.error) == (False, 302, "HTTP 302")
    deliverer.stop()
    assert [r.path for r in receiver.requests] == ["/hook"]
