"""Messages out and in: search, one message with its history, cancel / retry, a test message; inbound.

Operator actions go through the queue like everything else (the web layer never reaches a modem) and
leave their trace in the message's events with the operator's name. A test message is an ordinary
message of client ``operator:<name>``, validated as the API validates, so what the test shows is what
an application would get.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from flask import render_template, request
from werkzeug.exceptions import NotFound as HttpNotFound
from werkzeug.wrappers import Response as BaseResponse

from gatewayd.numbers import InvalidNumber, normalise
from gatewayd.queue import QueueError, Status
from gatewayd.queue.model import ACTIVE, CANCELLABLE, OPERATOR_RETRYABLE
from web.errors import ApiError
from web.pages_common import PAGE_SIZE, back, back_to, bp, describe, done, operator, page_number, refused
from web.present import iso
from web.services import services
from web.validation import new_message

LOGGER = logging.getLogger(__name__)

OPERATOR_CLIENT: Final = "operator:{}"
"""The client name of messages an operator sends from the pages."""
TEXT_PREVIEW: Final = 80
"""Characters of a message's text shown in a list; the message's own page shows all of it."""
TEST_TEXT: Final = "Test message from gatewayd"
REFRESH_SECONDS: Final = 3
"""A message still on its way reloads its page this often (it has no form to lose), until it settles."""


def number_filter(text: str) -> tuple[str | None, str | None]:
    """(E.164 number, None) for a searched number, or (None, why not). A missing '+' is added:
    operators paste numbers from spreadsheets that dropped it."""
    text = text.strip()
    if not text:
        return None, None
    try:
        return normalise(text if text.startswith("+") else "+" + text), None
    except InvalidNumber as exc:
        return None, str(exc)


@bp.get("/messages")
def messages() -> str:
    number, number_error = number_filter(request.args.get("number", ""))
    status = request.args.get("status") or None
    if status is not None and status not in {str(s) for s in Status}:
        status = None
    before = page_number(request.args.get("before"))
    found = []
    if number_error is None:
        found = services().queue.list_messages(status=status, recipient=number, after_id=before, limit=PAGE_SIZE,
                                               descending=True)
    return render_template("messages.html", messages=found, number=request.args.get("number", ""),
                           number_error=number_error, status=status or "", statuses=[str(s) for s in Status],
                           more=len(found) == PAGE_SIZE, iso=iso, preview=TEXT_PREVIEW, test_text=TEST_TEXT)


@bp.get("/messages/<int:message_id>")
def message(message_id: int) -> str:
    queue = services().queue
    found = queue.get(message_id)
    if found is None:
        raise HttpNotFound(f"no message {message_id}")
    return render_template("message.html", message=found, events=queue.events(message_id),
                           parts=queue.parts(message_id), cancellable=found.status in CANCELLABLE,
                           retryable=found.status in OPERATOR_RETRYABLE, iso=iso,
                           refresh=REFRESH_SECONDS if found.status in ACTIVE else None)


@bp.post("/messages/<int:message_id>/cancel")
def cancel(message_id: int) -> BaseResponse:
    return _act(message_id, services().queue.cancel, f"cancelled by operator {operator()}",
                done_text="cancelled.", refused_text="was not cancelled", logged="cancelled")


@bp.post("/messages/<int:message_id>/retry")
def retry(message_id: int) -> BaseResponse:
    return _act(message_id, services().queue.retry, f"retry by operator {operator()}",
                done_text="is queued again.", refused_text="was not queued again", logged="queued again")


def _act(message_id: int, action: Callable[[int, str], object], reason: str, *, done_text: str,
         refused_text: str, logged: str) -> BaseResponse:
    """An operator's action on one message: the queue decides (its state machine), the flash says what."""
    try:
        action(message_id, reason)
    except QueueError as exc:
        refused(f"Message {message_id} {refused_text}: {describe(exc)}")
    else:
        LOGGER.info("web: operator %s %s message %d", operator(), logged, message_id)
        done(f"Message {message_id} {done_text}")
    return back("pages.message", message_id=message_id)


@bp.post("/messages/test")
def send_test() -> BaseResponse:
    svc = services()
    body = {"to": request.form.get("to", ""), "text": request.form.get("text", "")}
    try:
        accepted = new_message(body, client=OPERATOR_CLIENT.format(operator()), api=svc.api, now=svc.clock(),
                               mobile_only=svc.mobile_only)
        stored, _created = svc.queue.enqueue(accepted.message)
    except ApiError as exc:
        refused(f"Not sent: {exc.message}")
        return back_to(request.form.get("back"))
    except QueueError as exc:
        refused(f"Not sent: {describe(exc)}")
        return back_to(request.form.get("back"))
    LOGGER.info("web: operator %s queued test message %d to %s", operator(), stored.id, stored.recipient)
    done(f"Test message {stored.id} to {stored.recipient} is queued ({accepted.parts} part(s), {accepted.encoding}).")
    return back("pages.message", message_id=stored.id)


@bp.get("/inbound")
def inbound() -> str:
    before = page_number(request.args.get("before"))
    found = services().queue.recent_inbound(limit=PAGE_SIZE, before_id=before)
    return render_template("inbound.html", inbound=found, more=len(found) == PAGE_SIZE, iso=iso)
