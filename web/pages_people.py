"""The people at the other end: contacts and their consent (with the ledger), opt-outs, invalid numbers.

An operator records an opt-out or opt-in by hand (a phone call, a paper form) with a reason; it goes in
the consent ledger as ``via: operator`` with the reason and the operator's name, next to the STOPs and
API calls, so the audit trail of a number is one list. A hand-made opt-in sends no welcome message:
an operator recording forms must not text anyone by doing so.
"""

from __future__ import annotations

import logging
from typing import Final

from flask import render_template, request
from werkzeug.exceptions import NotFound as HttpNotFound
from werkzeug.wrappers import Response

from gatewayd.numbers import InvalidNumber, normalise
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import QueueError
from web.pages_common import (
    PAGE_SIZE,
    back,
    bp,
    describe,
    done,
    local_midnight,
    operator,
    page_number,
    queue_now,
    refused,
)
from web.pages_messages import number_filter
from web.present import INVALID_CSV_MAX, csv_response, iso
from web.services import services

LOGGER = logging.getLogger(__name__)

MARKETING_STATES: Final = ("opted_in", "opted_out", "unknown")
CONSENT_CHOICES: Final = {"opted_out": Consent.OPTED_OUT, "opted_in": Consent.OPTED_IN}
MAX_REASON: Final = 500
"""Characters of an operator's reason kept in the ledger (a sentence, not a file)."""
RECENT_MESSAGES: Final = 20
NUMBER_PREFIX_CHARS: Final = frozenset("+0123456789")


def _number_in_path(text: str) -> str:
    try:
        return normalise(text)
    except InvalidNumber as exc:
        raise HttpNotFound(f"no such number: {exc}") from None


@bp.get("/contacts")
def contacts() -> str:
    """Contacts by number; the search is a prefix ("+4479" lists that range), so a partial number works."""
    typed = request.args.get("number", "").strip().replace(" ", "")
    prefix = typed if typed.startswith("+") or not typed else "+" + typed
    error = None
    if not set(prefix) <= NUMBER_PREFIX_CHARS or prefix.count("+") > 1:
        error, prefix = "a number is '+' and digits", ""
    marketing = request.args.get("marketing") or None
    if marketing not in MARKETING_STATES:
        marketing = None
    after = request.args.get("after") or None
    found = [] if error else services().queue.list_contacts(limit=PAGE_SIZE, prefix=prefix, after=after,
                                                             marketing=marketing)
    return render_template("contacts.html", contacts=found, number=typed, error=error, marketing=marketing or "",
                           states=MARKETING_STATES, more=len(found) == PAGE_SIZE, iso=iso)


@bp.get("/contacts/<number>")
def contact(number: str) -> str:
    number = _number_in_path(number)
    queue = services().queue
    return render_template("contact.html", number=number, contact=queue.contact(number),
                           history=queue.consent_history(number),
                           messages=queue.list_messages(recipient=number, limit=RECENT_MESSAGES, descending=True),
                           iso=iso, max_reason=MAX_REASON)


@bp.post("/contacts/<number>/consent")
def set_consent(number: str) -> Response:
    number = _number_in_path(number)
    choice = CONSENT_CHOICES.get(request.form.get("consent", ""))
    reason = " ".join(request.form.get("reason", "").split())[:MAX_REASON]
    if choice is None:
        refused("Choose opt-out or opt-in.")
    elif not reason:
        refused("Give a reason (it is kept in the consent ledger).")
    else:
        try:
            change = services().queue.set_consent(number, choice, "operator", welcome=False,
                                                  detail={"reason": reason, "operator": operator()})
        except QueueError as exc:
            refused(f"Not recorded: {describe(exc)}")
        else:
            if change.event is None:
                done(f"{number} was already {choice}; nothing recorded.")
            else:
                LOGGER.info("web: operator %s recorded %s for %s", operator(), choice, number)
                suppressed = f"; {len(change.suppressed)} queued marketing message(s) suppressed" \
                    if change.suppressed else ""
                done(f"{number}: {change.event.from_state} -> {change.event.to_state} recorded{suppressed}.")
    return back("pages.contact", number=number)


@bp.get("/opt-outs")
def opt_outs() -> str:
    """The consent ledger across numbers, newest first; opt-outs only unless asked for every change."""
    every = request.args.get("all") == "1"
    before = page_number(request.args.get("before"))
    queue = services().queue
    ledger = queue.consent_ledger(limit=PAGE_SIZE, before_id=before, to_state=None if every else "opted_out")
    return render_template("opt_outs.html", ledger=ledger, every=every, more=len(ledger) == PAGE_SIZE,
                           today=queue.opt_outs_since(local_midnight(queue_now())), iso=iso)


@bp.get("/invalid-numbers")
def invalid_numbers() -> str:
    after, _error = number_filter(request.args.get("after", ""))
    found = services().queue.list_invalid_numbers(limit=PAGE_SIZE, after=after)
    return render_template("invalid_numbers.html", invalid=found, more=len(found) == PAGE_SIZE, iso=iso)


@bp.get("/invalid-numbers.csv")
def invalid_numbers_csv() -> Response:
    """Every number marked invalid, for the operator to clean their lists (same columns as the API's CSV)."""
    return csv_response(services().queue.list_invalid_numbers(limit=INVALID_CSV_MAX))
