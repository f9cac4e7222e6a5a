"""Done when: log in, see every modem on the dashboard, send a test message from the form and see it
reach the emulator: in headless Chromium against the real daemon."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.browser.conftest import OPERATOR, PASSWORD, Gateway

RECIPIENT = "+447911123456"
TEXT = "Hello from Chromium <b>not bold</b> & done"
INBOUND = "Thanks <i>a lot</i>"
SEND_TIMEOUT_MS = 20_000
"""The message page reloads itself every few seconds while the message is on its way."""
LIVE_TIMEOUT_MS = 20_000
"""The dashboard's live part reloads every pages.REFRESH_SECONDS (10 s)."""


def _smsc_lines(gateway: Gateway) -> list[dict[str, Any]]:
    if not gateway.smsc_log.exists():
        return []
    return [json.loads(line) for line in gateway.smsc_log.read_text(encoding="utf-8").splitlines() if line]


def test_log_in_see_every_modem_send_a_test_message_and_it_reaches_the_emulator(browser: Any,
                                                                                 gateway: Gateway) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    # Script errors and Content-Security-Policy refusals; not "Failed to load resource" (the 401 of the
    # wrong password below is one).
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(gateway.url + "/")
    expect(page).to_have_url(gateway.url + "/login?next=/")  # every page wants a login first

    page.fill("input[name=username]", OPERATOR)
    page.fill("input[name=password]", "not the password")
    page.click("#login button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("Wrong user name or password")

    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page).to_have_url(gateway.url + "/")
    cards = page.locator(".card")
    expect(cards).to_have_count(len(gateway.modems))
    for modem in gateway.modems:
        card = page.locator(f"#modem-{modem}")
        expect(card).to_have_attribute("data-state", "ready")
        expect(card).to_contain_text("Sent today")

    page.fill("#test-message input[name=to]", RECIPIENT)
    page.fill("#test-message textarea[name=text]", TEXT)
    page.click("#test-message button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text(f"to {RECIPIENT} is queued")
    expect(page).to_have_url(f"{gateway.url}/messages/1")
    # sent (+CMGS), and usually delivered a moment later: the emulated network sends a status report
    expect(page.locator("#message-status")).to_have_text(re.compile(r"^(sent|delivered)$"), timeout=SEND_TIMEOUT_MS)
    expect(page.locator("#message-facts")).to_contain_text(TEXT)  # shown as text, never as markup
    expect(page.locator("#events")).to_contain_text("sending → sent")

    reached = [line for line in _smsc_lines(gateway) if line["to"] == RECIPIENT]
    assert [(line["text"], line["parts"]) for line in reached] == [(TEXT, 1)]

    page.goto(gateway.url + "/")
    assert int(page.locator("#count-sent").inner_text()) + int(page.locator("#count-delivered").inner_text()) == 1
    sent_today = sum(int(page.locator(f"#modem-{m} .sent-today").inner_text()) for m in gateway.modems)
    assert sent_today == 1

    # The live part refreshes on its own: an SMS arriving while the dashboard is open shows up in it.
    reply = gateway.control_request({"op": "deliver", "to": "+15550000001", "from": RECIPIENT, "text": INBOUND})
    assert reply["ok"], reply
    expect(page.locator("#recent-inbound")).to_contain_text(INBOUND, timeout=LIVE_TIMEOUT_MS)
    assert page.locator("#recent-inbound i").count() == 0  # its markup arrived as text

    page.click("header button[type=submit]")  # sign out
    expect(page).to_have_url(gateway.url + "/login")
    page.goto(gateway.url + "/messages/1")
    expect(page).to_have_url(gateway.url + "/login?next=/messages/1")
    assert problems == []  # no script error, nothing the Content-Security-Policy blocked
    context.close()
