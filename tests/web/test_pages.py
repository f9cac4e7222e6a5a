"""The operator pages, signed in: dashboard, messages, inbound, contacts and opt-outs, invalid numbers,
webhooks, settings, and the operator actions (test message, cancel / retry, consent by hand)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gatewayd.config import parse_config
from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.policy.inbound import TrustRules
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import NewMessage, Queue, Status
from gatewayd.webhooks.routes import WebhookRoutes
from tests.queue.conftest import deliver_parts, send_all
from tests.web.conftest import NOW, OPERATOR, OPERATOR_PASSWORD, clock, csrf_from, make_app, sign_in
from web.pages import CHART_MINUTES, throughput
from web.pages_admin import MASK, mask_url, masked
from web.passwords import hash_password

RECIPIENT = "+447911123456"


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> str:
    """Post a form the way a browser does after opening ``page``; returns the page redirected to."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    response = client.post(action, data={**data, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    location: str = response.headers["Location"]
    return location


def text_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def signed_in(queue: Queue, snapshots: list[ModemSnapshot]) -> FlaskClient:
    """A signed-in client of an app over ``queue`` (for tests that open a queue of their own)."""
    queue.set_operator(OPERATOR, hash_password(OPERATOR_PASSWORD))
    client = make_app(queue, snapshots).test_client()
    assert sign_in(client).status_code == 303
    return client


def sent_by(queue: Queue, modem: str, text: str = "hello") -> int:
    message, _ = queue.enqueue(NewMessage(RECIPIENT, text, priority=5))
    claim = queue.claim(modem)
    assert claim is not None and claim.message.id == message.id
    send_all(queue, message.id, modem)
    return message.id


# -- dashboard -------------------------------------------------------------------------------------------


def test_the_dashboard_has_a_card_per_modem_with_todays_work(page_client: FlaskClient, queue: Queue,
                                                             snapshots: list[ModemSnapshot]) -> None:
    snapshots.append(ModemSnapshot(modem_id="m2-<b>", port="", state=ModemState.QUARANTINED,
                                   last_error="no answer to AT <script>"))
    snapshots.append(ModemSnapshot(modem_id="m3", port="", state=ModemState.GONE, reconnects=2))
    sent_by(queue, "m1")
    sent_by(queue, "m1")
    failed, _ = queue.enqueue(NewMessage(RECIPIENT, "x", priority=5))
    assert queue.claim("m1") is not None
    queue.fail(failed.id, "barred", code=21)
    queue.enqueue(NewMessage(RECIPIENT, "waiting"))
    page = text_of(page_client, "/")
    cards = re.findall(r'<section class="card (\w+)" id="modem-([^"]+)" data-state="(\w+)">', page)
    assert cards == [("ready", "m1", "ready"), ("quarantined", "m2-&lt;b&gt;", "quarantined"), ("gone", "m3", "gone")]
    m1 = page[page.index('id="modem-m1"'):page.index('id="modem-m2')]
    assert "TestNet" in m1 and "-73 dBm" in m1 and 'aria-label="4 of 4 bars"' in m1
    assert '<dd class="sent-today">2</dd>' in m1 and '<dd class="bad">1</dd>' in m1
    assert "no answer to AT &lt;script&gt;" in page and "<script>" not in page.split("</main>")[0]
    assert '<td class="num" id="count-queued">1</td>' in page
    assert '<td class="num" id="count-sent">2</td>' in page and '<td class="num" id="count-failed">1</td>' in page
    assert 'name="viewport"' in page and 'id="test-message"' in page


def test_the_live_part_is_served_alone_for_the_refresh_script(page_client: FlaskClient) -> None:
    page = text_of(page_client, "/")
    assert 'data-src="/live"' in page and "fetch(live.dataset.src" in page
    live = text_of(page_client, "/live")
    assert 'id="modem-m1"' in live and "<html" not in live and 'id="test-message"' not in live


def test_the_dashboard_without_modems_says_so(page_client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots.clear()
    assert "No modems are configured" in text_of(page_client, "/")


def test_the_chart_shows_the_last_hour_scaled_to_its_peak() -> None:
    chart = throughput({"2026-11-23T08:59": 4, "2026-11-23T08:30": 1, "2026-11-23T07:59": 9}, NOW)
    assert len(chart.bars) == CHART_MINUTES and (chart.total, chart.peak) == (5, 4)  # 07:59 is over an hour ago
    assert chart.bars[-2].count == 4 and chart.bars[-2].height == chart.height
    assert chart.bars[-1].count == 0 and chart.bars[-1].height == 0
    assert chart.bars[29].count == 1 and chart.bars[29].height == chart.height / 4  # 08:01 ... 09:00
    assert throughput({}, NOW).peak == 0


def test_the_dashboard_draws_the_chart_and_counts_todays_opt_outs(page_client: FlaskClient, queue: Queue) -> None:
    sent_by(queue, "m1")
    queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "keyword")
    page = text_of(page_client, "/")
    assert "1 SMS part(s) sent; peak 1 a minute." in page
    assert page.count("</title></rect>") == CHART_MINUTES
    assert re.search(r'<a href="/opt-outs" id="opt-outs-today">1</a>', page)


def test_the_dashboard_shows_recent_inbound_and_unmatched_replies_escaped(db_path: Path,
                                                                         snapshots: list[ModemSnapshot]) -> None:
    with Queue(db_path, clock=clock, rules=TrustRules()) as queue:
        for reference, text in enumerate(("please don't text me <b>again</b>", "STOP")):
            for part in deliver_parts(text, sender=RECIPIENT, reference=reference):
                queue.record_inbound(part)
        client = signed_in(queue, snapshots)
        page = text_of(client, "/")
        unmatched = page[page.index('<table id="unmatched">'):]
        assert "please don&#39;t text me &lt;b&gt;again&lt;/b&gt;" in unmatched
        assert "STOP" not in unmatched  # matched by the keyword engine: not on the operator's to-read list
        recent = page[page.index('<table id="recent-inbound">'):page.index('<table id="unmatched">')]
        assert "STOP" in recent and "opt_out" in recent


def test_the_dashboard_says_when_there_is_nothing_to_read(page_client: FlaskClient) -> None:
    page = text_of(page_client, "/")
    assert 'id="unmatched-none"' in page and 'id="inbound-none"' in page


# -- messages ----------------------------------------------------------------------------------------------


def test_messages_search_by_number_and_status(page_client: FlaskClient, queue: Queue) -> None:
    first = queue.enqueue(NewMessage(RECIPIENT, "to the first <i>number</i>"))[0]
    other = queue.enqueue(NewMessage("+447700900123", "to another"))[0]
    queue.cancel(other.id)
    listed = text_of(page_client, "/messages")
    assert listed.index(f'data-id="{other.id}"') < listed.index(f'data-id="{first.id}"')  # newest first
    assert "to the first &lt;i&gt;number&lt;/i&gt;" in listed
    by_number = text_of(page_client, "/messages?number=447911123456")  # the '+' may be left out
    assert f'data-id="{first.id}"' in by_number and f'data-id="{other.id}"' not in by_number
    by_status = text_of(page_client, "/messages?status=cancelled")
    assert f'data-id="{other.id}"' in by_status and f'data-id="{first.id}"' not in by_status
    assert 'id="messages-none"' in text_of(page_client, "/messages?status=delivered")
    assert 'class="flash error"' in text_of(page_client, "/messages?number=12")


def test_messages_page_by_the_last_id(page_client: FlaskClient, queue: Queue) -> None:
    from web.pages_common import PAGE_SIZE

    queue.enqueue_many([NewMessage(RECIPIENT, f"n{i}") for i in range(PAGE_SIZE + 3)])
    first = text_of(page_client, "/messages")
    assert first.count("data-id=") == PAGE_SIZE
    older = re.search(r'href="(/messages\?before=\d+)">Older', first)
    assert older is not None
    assert text_of(page_client, older.group(1).replace("&amp;", "&")).count("data-id=") == 3


def test_a_message_page_shows_its_history_and_parts(page_client: FlaskClient, queue: Queue) -> None:
    message_id = sent_by(queue, "m1", "hello <there>")
    page = text_of(page_client, f"/messages/{message_id}")
    assert '<span class="state ready" id="message-status">sent</span>' in page
    assert "hello &lt;there&gt;" in page
    assert "queued → sending" in page and "sending → sent" in page
    assert '<table id="parts">' in page
    assert 'id="cancel"' not in page and 'id="retry"' not in page  # nothing to do for a sent message
    assert 'http-equiv="refresh"' not in page  # settled: no more reloading
    assert page_client.get("/messages/999").status_code == 404


def test_an_operator_cancels_a_queued_message_and_retries_a_failed_one(page_client: FlaskClient,
                                                                       queue: Queue) -> None:
    queued = queue.enqueue(NewMessage(RECIPIENT, "wait"))[0]
    page = text_of(page_client, f"/messages/{queued.id}")
    assert 'id="cancel"' in page and 'http-equiv="refresh"' in page
    location = post_form(page_client, f"/messages/{queued.id}", f"/messages/{queued.id}/cancel", {})
    assert location == f"/messages/{queued.id}"
    after = text_of(page_client, location)
    assert f"Message {queued.id} cancelled." in after and f"cancelled by operator {OPERATOR}" in after
    assert queue.get(queued.id).status == Status.CANCELLED  # type: ignore[union-attr]
    post_form(page_client, f"/messages/{queued.id}", f"/messages/{queued.id}/cancel", {})
    assert "was not cancelled" in text_of(page_client, f"/messages/{queued.id}")

    failed = queue.enqueue(NewMessage(RECIPIENT, "fails", priority=9))[0]
    assert queue.claim("m1") is not None
    queue.fail(failed.id, "barred")
    post_form(page_client, f"/messages/{failed.id}", f"/messages/{failed.id}/retry", {})
    assert queue.get(failed.id).status == Status.QUEUED  # type: ignore[union-attr]
    assert f"retry by operator {OPERATOR}" in [e.reason for e in queue.events(failed.id)][-1]


def test_a_test_message_from_the_form_is_queued_as_the_operator(page_client: FlaskClient, queue: Queue) -> None:
    location = post_form(page_client, "/", "/messages/test", {"to": "+44 7911 123456", "text": "ping <b>", "back": "/"})
    message = queue.list_messages()[-1]
    assert location == f"/messages/{message.id}"
    assert (message.recipient, message.text, message.client) == (RECIPIENT, "ping <b>", f"operator:{OPERATOR}")
    assert "is queued (1 part(s), gsm7)" in text_of(page_client, location)


@pytest.mark.parametrize("form", [{"to": "12", "text": "x"}, {"to": RECIPIENT, "text": ""},
                                  {"to": RECIPIENT, "text": "x" * 2000}])
def test_a_refused_test_message_stores_nothing_and_says_why(page_client: FlaskClient, queue: Queue,
                                                            form: dict[str, str]) -> None:
    location = post_form(page_client, "/messages", "/messages/test", {**form, "back": "/messages"})
    assert location == "/messages"
    assert "Not sent:" in text_of(page_client, location)
    assert queue.list_messages() == []


def test_a_forged_back_field_does_not_leave_the_site(page_client: FlaskClient) -> None:
    location = post_form(page_client, "/", "/messages/test", {"to": "12", "text": "x", "back": "//evil.example"})
    assert location == "/"


def test_the_inbound_page_lists_every_message_newest_first(db_path: Path, snapshots: list[ModemSnapshot]) -> None:
    with Queue(db_path, clock=clock, rules=TrustRules()) as queue:
        for reference, text in enumerate(("first", "HELP", "third <x>")):
            for part in deliver_parts(text, sender=RECIPIENT, reference=reference):
                queue.record_inbound(part)
        client = signed_in(queue, snapshots)
        page = text_of(client, "/inbound")
        assert page.index("third &lt;x&gt;") < page.index("HELP") < page.index("first")
        assert "help (HELP)" in page and page.count(">unmatched<") == 2


# -- contacts, consent, opt-outs, invalid numbers --------------------------------------------------------------


def test_an_operator_records_an_opt_out_with_a_reason_and_it_joins_the_ledger(page_client: FlaskClient,
                                                                              queue: Queue) -> None:
    marketing = queue.enqueue(NewMessage(RECIPIENT, "offer", message_class="marketing"))[0]
    location = post_form(page_client, f"/contacts/{RECIPIENT}", f"/contacts/{RECIPIENT}/consent",
                         {"consent": "opted_out", "reason": "asked  by phone <today>"})
    assert location == f"/contacts/{RECIPIENT}"
    page = text_of(page_client, location)
    assert "unknown -&gt; opted_out recorded; 1 queued marketing message(s) suppressed" in page
    assert f"operator: {OPERATOR}; reason: asked by phone &lt;today&gt;" in page
    event = queue.consent_history(RECIPIENT)[-1]
    assert (event.via, event.detail) == ("operator", {"reason": "asked by phone <today>", "operator": OPERATOR})
    assert queue.get(marketing.id).status == Status.SUPPRESSED  # type: ignore[union-attr]

    post_form(page_client, f"/contacts/{RECIPIENT}", f"/contacts/{RECIPIENT}/consent",
              {"consent": "opted_in", "reason": "signed a paper form"})
    assert queue.contact(RECIPIENT).marketing == "opted_in"  # type: ignore[union-attr]
    assert [m.client for m in queue.list_messages()] == [""]  # a hand-made opt-in texts nobody
    ledger = text_of(page_client, "/opt-outs?all=1")
    assert ledger.index("opted_out → opted_in") < ledger.index("unknown → opted_out")
    assert "opted_out → opted_in" not in text_of(page_client, "/opt-outs")


@pytest.mark.parametrize("form", [{"consent": "opted_out", "reason": "   "}, {"consent": "unknown", "reason": "x"}])
def test_consent_by_hand_wants_a_choice_and_a_reason(page_client: FlaskClient, queue: Queue,
                                                     form: dict[str, str]) -> None:
    location = post_form(page_client, f"/contacts/{RECIPIENT}", f"/contacts/{RECIPIENT}/consent", form)
    assert 'class="flash error"' in text_of(page_client, location)
    assert queue.consent_history(RECIPIENT) == []


def test_contacts_search_by_prefix_and_consent(page_client: FlaskClient, queue: Queue) -> None:
    queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "keyword")
    queue.set_consent("+15550100001", Consent.OPTED_IN, "api", welcome=False)
    everyone = text_of(page_client, "/contacts")
    assert RECIPIENT in everyone and "+15550100001" in everyone
    uk = text_of(page_client, "/contacts?number=4479")
    assert RECIPIENT in uk and "+15550100001" not in uk
    assert "+15550100001" not in text_of(page_client, "/contacts?marketing=opted_out")
    assert "a number is" in text_of(page_client, "/contacts?number=abc")
    assert page_client.get("/contacts/not-a-number").status_code == 404
    assert 'id="ledger-none"' in text_of(page_client, "/contacts/+447911123457")


def test_the_invalid_numbers_page_and_its_csv(page_client: FlaskClient, queue: Queue) -> None:
    queue.mark_invalid("+447911000001", "+CMS ERROR: 1 (unassigned number) <x>")
    page = text_of(page_client, "/invalid-numbers")
    assert "+447911000001" in page and "unassigned number) &lt;x&gt;" in page and 'href="/invalid-numbers.csv"' in page
    rows = list(csv.DictReader(io.StringIO(text_of(page_client, "/invalid-numbers.csv"))))
    assert [(r["number"], r["failed_reports"]) for r in rows] == [("+447911000001", "0")]
    assert rows[0]["marked_at"].endswith("Z")


# -- webhooks and settings --------------------------------------------------------------------------------


def test_failing_webhook_deliveries_are_listed_with_credentials_masked(db_path: Path,
                                                                       snapshots: list[ModemSnapshot]) -> None:
    url = "https://app:hunter2@crm.example/hook"
    with Queue(db_path, clock=clock, webhooks=WebhookRoutes(opt_out=(url,))) as queue:
        queue.set_consent(RECIPIENT, Consent.OPTED_OUT, "api")
        queue.set_consent("+447700900123", Consent.OPTED_OUT, "api")
        first, second = queue.webhooks_due()
        queue.record_webhook_attempt(first.id, delivered=False, status=500, error="HTTP 500 <oops>",
                                     retry_at=NOW + timedelta(minutes=5))
        queue.record_webhook_attempt(second.id, delivered=False, status=None, error="refused", retry_at=None)
        client = signed_in(queue, snapshots)
        page = text_of(client, "/webhooks")
        assert "https://app:••••@crm.example/hook" in page and "hunter2" not in page
        assert "HTTP 500 &lt;oops&gt;" in page and "gave up" in page
        assert re.search(r"Waiting or retrying: <strong>1</strong>.*given up: <strong class=\"bad\">1</strong>",
                         page, re.DOTALL)


def test_masking_hides_secrets_and_url_passwords_but_not_paths() -> None:
    assert mask_url("http://user:pw@h/x and https://tok@h2/") == "http://user:••••@h/x and https://tok:••••@h2/"
    assert mask_url("https://crm.example/hook?a=1") == "https://crm.example/hook?a=1"
    shown = masked({"modems": [{"pin": "1234", "pin_file": "/etc/pin"}], "web": {"metrics_token_sha256": None}})
    assert shown == {"modems": [{"pin": MASK, "pin_file": "/etc/pin"}], "web": {"metrics_token_sha256": None}}


def test_the_settings_page_shows_the_configuration_with_secrets_masked(queue: Queue, operator: str,
                                                                       snapshots: list[ModemSnapshot]) -> None:
    from web.app import create_app
    from web.auth import TokenStore
    from web.pages_common import PageSetup

    digest = "ab" * 32
    config = parse_config(f"modems:\n  - id: sim1\n    port: /dev/ttyUSB0\n    pin: '4711'\n"
                          f"api:\n  tokens:\n    - name: crm\n      token_sha256: {digest}\n")
    app = create_app(queue=queue, modems=lambda: list(snapshots), tokens=TokenStore(), api=config.api, clock=clock,
                     pages_setup=PageSetup(secret_key=b"k" * 32, settings=config.to_dict()))
    client = app.test_client()
    sign_in(client)
    page = text_of(client, "/settings")
    assert "<code>modems[0].port</code></td><td class=\"pre\">/dev/ttyUSB0" in page
    assert "<code>modems[0].pin</code>" in page and "4711" not in page
    assert "<code>api.tokens[0].name</code></td><td class=\"pre\">crm" in page and digest not in page
    assert "<code>web.listen</code></td><td class=\"pre\">127.0.0.1:8080" in page
