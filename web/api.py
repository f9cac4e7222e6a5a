"""``/api/v1``: accept messages and report on them. Every route needs a bearer token.

A 202 is sent only after ``queue.enqueue`` returned, i.e. after the row is committed and fsynced: an
accepted message survives a power cut. The same idempotency key again answers 200 with the first
message, so a client that lost our answer can simply retry.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, jsonify, request, url_for

from web.errors import ApiError
from web.present import message_json, receipt
from web.services import services
from web.validation import new_message, parse_body

LOGGER = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REALM = "gatewayd"


@bp.before_request
def _authenticate() -> None:
    """Runs before the body is read, so an unauthenticated client cannot make us parse anything."""
    client = services().tokens.client_for(request.headers.get("Authorization"))
    if client is None:
        missing = "Authorization" not in request.headers
        LOGGER.info("api: %s %s from %s refused: %s", request.method, request.path, request.remote_addr,
                    "no token" if missing else "wrong token")
        raise ApiError(401, "unauthorized",
                       "send 'Authorization: Bearer <token>'" if missing else "the token is not valid",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'
                                + ("" if missing else ', error="invalid_token"')})
    g.client = client


@bp.post("/messages")
def post_message() -> tuple[Response, int, dict[str, str]]:
    svc = services()
    body = parse_body(request.get_data(cache=False))
    accepted = new_message(body, client=g.client, api=svc.api, now=svc.clock(), mobile_only=svc.mobile_only)
    message, created = svc.queue.enqueue(accepted.message)
    if created:
        LOGGER.info("message %d accepted from client %s: %d part(s), %s", message.id, g.client,
                    message.parts, message.status)
    else:
        LOGGER.info("message %d: idempotency key of client %s seen again", message.id, g.client)
    location = url_for("api.get_message", message_id=message.id)
    return jsonify(receipt(message)), 202 if created else 200, {"Location": location}


@bp.get("/messages/<int:message_id>")
def get_message(message_id: int) -> Response:
    """A client sees only its own messages: another client's id is answered as not found."""
    queue = services().queue
    message = queue.get(message_id)
    if message is None or message.client != g.client:
        raise ApiError(404, "not_found", f"no message {message_id}")
    return jsonify(message_json(message, queue.events(message_id)))
