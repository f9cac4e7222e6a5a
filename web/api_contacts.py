"""``/api/v1/contacts`` and ``/api/v1/invalid-numbers``: consent and list hygiene for LAN apps.

``PUT /api/v1/contacts/<e164>`` records an opt-in or opt-out through the API with its source (the
consent ledger keeps both, with the token's name); an opt-out suppresses queued marketing to the
number in the same transaction, an opt-in sends the configured welcome once. ``invalid: false``
clears a number's invalid mark after the operator checked it.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from flask import Response, g, jsonify, request

from gatewayd.policy.send_policy import Consent
from gatewayd.queue import ConsentEvent, Contact
from web.api import bp, require
from web.errors import ApiError, invalid
from web.present import csv_response, invalid_number_json, iso
from web.services import services
from web.validation import parse_body, recipient_in_path

LOGGER = logging.getLogger(__name__)

CONTACT_FIELDS: Final = frozenset({"marketing", "source", "invalid"})
MAX_SOURCE = 200
PAGE_LIMIT = 1000


def contact_json(number: str, contact: Contact | None, history: list[ConsentEvent]) -> dict[str, Any]:
    return {
        "number": number,
        "marketing": contact.marketing if contact else str(Consent.UNKNOWN),
        "consent_via": contact.consent_via if contact else None,
        "consent_at": iso(contact.consent_at) if contact else None,
        "invalid": bool(contact and contact.invalid_at),
        "invalid_reason": contact.invalid_reason if contact else None,
        "history": [{"at": iso(e.at), "from": e.from_state, "to": e.to_state, "via": e.via,
                     "detail": e.detail} for e in history],
    }


@bp.get("/contacts/<path:number>")
def get_contact(number: str) -> Response:
    require("read")
    queue = services().queue
    e164 = recipient_in_path(number)
    return jsonify(contact_json(e164, queue.contact(e164), queue.consent_history(e164)))


@bp.put("/contacts/<path:number>")
def put_contact(number: str) -> Response:
    """Consent changes need the admin scope: they decide who receives marketing."""
    require("admin")
    queue = services().queue
    e164 = recipient_in_path(number)
    body = parse_body(request.get_data(cache=False))
    for name in body:
        if name not in CONTACT_FIELDS:
            raise ApiError(400, "unknown_field",
                           f"unknown field {name!r}; known: {', '.join(sorted(CONTACT_FIELDS))}", name)
    marketing = body.get("marketing")
    source = body.get("source")
    clear = body.get("invalid")
    if marketing is not None and marketing not in (Consent.OPTED_IN, Consent.OPTED_OUT):
        raise invalid("marketing", "marketing must be 'opted_in' or 'opted_out'")
    if source is not None and (not isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE):
        raise invalid("source", f"source must be a string of 1 to {MAX_SOURCE} characters (where the consent "
                                "was given: a web form, a shop counter)")
    if clear is not None and clear is not False:
        raise invalid("invalid", "invalid can only be set to false (to clear a number's invalid mark)")
    if marketing is None and clear is None:
        raise invalid("marketing", "give marketing (opted_in / opted_out) or invalid: false")
    if marketing == Consent.OPTED_IN and source is None:
        raise invalid("source", "an opt-in needs its source: where and how the person agreed")
    if marketing is not None:
        detail = {"client": g.client, **({"source": source} if source else {})}
        change = queue.set_consent(e164, Consent(marketing), "api", detail=detail)
        if change.event is not None:
            LOGGER.info("api: client %s set marketing consent of %s to %s (%d queued suppressed)", g.client,
                        e164, marketing, len(change.suppressed))
    if clear is False and queue.clear_invalid(e164):
        LOGGER.info("api: client %s cleared the invalid mark of %s", g.client, e164)
    return jsonify(contact_json(e164, queue.contact(e164), queue.consent_history(e164)))


@bp.get("/invalid-numbers")
def invalid_numbers() -> Response:
    """Numbers marked invalid, by number; ``?format=csv`` for a spreadsheet, ``?after=`` to page.

    ``after`` is a number; its '+' may be left out (an unencoded '+' in a query string is a space)."""
    require("read")
    after_text = request.args.get("after")
    after = None if after_text is None else "+" + after_text.strip().lstrip("+")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise invalid("format", "format must be json or csv")
    try:
        limit = int(request.args.get("limit", str(PAGE_LIMIT)))
    except ValueError:
        raise invalid("limit", "limit must be a whole number") from None
    if not 1 <= limit <= PAGE_LIMIT:
        raise invalid("limit", f"limit must be 1 to {PAGE_LIMIT}")
    rows = services().queue.list_invalid_numbers(limit=limit, after=after)
    if fmt == "csv":
        return csv_response(rows)
    items = [invalid_number_json(contact) for contact in rows]
    return jsonify({"items": items, "next": items[-1]["number"] if len(items) == limit else None})
