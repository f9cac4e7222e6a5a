"""``/api/v1``: accept messages and report on them. Every route needs a bearer token and a scope.

A 202 is sent only after ``queue.enqueue`` returned, i.e. after the row is committed and fsynced: an
accepted message survives a power cut. The same idempotency key again answers 200 with the first
message, so a client that lost our answer can simply retry. A batch is all or nothing: one bad item
refuses the whole request (naming the item), and a good batch is one transaction.

Scopes: ``send`` posts, cancels and retries the client's own messages; ``read`` reads messages,
inbound messages, modems and contacts; ``admin`` may do all of that for every client, and change
consent. A client without ``admin`` sees only its own messages (another's id is a 404).
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, Response, g, jsonify, request, url_for

from gatewayd.dispatch.ratelimit import TokenBucket
from gatewayd.queue import Message, Status
from web.auth import Principal
from web.errors import ApiError, invalid
from web.present import inbound_json, message_json, modem_json, receipt
from web.services import services
from web.validation import new_message, page_args, parse_body, parse_since

LOGGER = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REALM = "gatewayd"
LIST_LIMIT = 100
"""Default page size of the list endpoints; ``limit`` may ask for up to ``LIST_MAX``."""
LIST_MAX = 1000


def principal() -> Principal:
    found: Principal = g.principal
    return found


def require(scope: str) -> Principal:
    caller = principal()
    if not caller.may(scope):
        raise ApiError(403, "forbidden", f"the token {caller.name!r} lacks the {scope!r} scope")
    return caller


@bp.before_request
def _authenticate() -> None:
    """Runs before the body is read, so an unauthenticated client cannot make us parse anything."""
    svc = services()
    caller = svc.tokens.principal_for(request.headers.get("Authorization"))
    if caller is None:
        missing = "Authorization" not in request.headers
        LOGGER.info("api: %s %s from %s refused: %s", request.method, request.path, request.remote_addr,
                    "no token" if missing else "wrong token")
        raise ApiError(401, "unauthorized",
                       "send 'Authorization: Bearer <token>'" if missing else "the token is not valid",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'
                                + ("" if missing else ', error="invalid_token"')})
    g.principal = caller
    g.client = caller.name
    _rate_limit(caller.name)


def _rate_limit(client: str) -> None:
    """Per token: a runaway client gets 429 with Retry-After instead of filling the queue."""
    svc = services()
    buckets: dict[str, TokenBucket] = svc.rate_buckets
    with svc.rate_lock:
        bucket = buckets.get(client)
        if bucket is None:
            bucket = buckets[client] = TokenBucket(svc.api.rate_per_minute,
                                                   burst=max(1, int(svc.api.rate_per_minute)))
        wait = bucket.wait_time()
        if wait == 0.0:
            bucket.take()
            return
    retry_after = max(1, math.ceil(wait))
    LOGGER.warning("api: client %s over its rate limit (%g per minute)", client, svc.api.rate_per_minute)
    raise ApiError(429, "rate_limited", f"more than {svc.api.rate_per_minute:g} requests per minute; retry in "
                                        f"{retry_after} s", headers={"Retry-After": str(retry_after)})


# -- messages -------------------------------------------------------------------------------------


@bp.post("/messages")
def post_message() -> tuple[Response, int, dict[str, str]]:
    require("send")
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


@bp.post("/messages/batch")
def post_batch() -> tuple[Response, int]:
    """``{"messages": [...]}``, each item as for POST /messages; all stored in one transaction."""
    require("send")
    svc = services()
    body = parse_body(request.get_data(cache=False))
    unknown = sorted(set(body) - {"messages"})
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field {unknown[0]!r}; known: messages", unknown[0])
    items = body.get("messages")
    if not isinstance(items, list) or not items:
        raise invalid("messages", "messages must be a non-empty array of message objects")
    if len(items) > svc.api.batch_limit:
        raise invalid("messages", f"{len(items)} messages; a batch holds at most {svc.api.batch_limit}")
    now = svc.clock()
    accepted = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"messages[{index}]", f"messages[{index}] must be an object")
        try:
            accepted.append(new_message(item, client=g.client, api=svc.api, now=now, mobile_only=svc.mobile_only))
        except ApiError as exc:
            raise ApiError(exc.status, exc.code, f"messages[{index}]: {exc.message}",
                           f"messages[{index}].{exc.field}" if exc.field else f"messages[{index}]") from None
    results = svc.queue.enqueue_many([a.message for a in accepted])
    created = sum(1 for _, new in results if new)
    LOGGER.info("batch from client %s: %d message(s), %d new", g.client, len(results), created)
    answer = [{**receipt(message), "created": new} for message, new in results]
    return jsonify({"items": answer}), 202 if created else 200


def _own_message(message_id: int) -> Message:
    caller = principal()
    message = services().queue.get(message_id)
    if message is None or (message.client != caller.name and "admin" not in caller.scopes):
        raise ApiError(404, "not_found", f"no message {message_id}")
    return message


@bp.get("/messages/<int(max=9223372036854775807):message_id>")
def get_message(message_id: int) -> Response:
    """A client sees only its own messages: another client's id is answered as not found."""
    require("read")
    message = _own_message(message_id)
    queue = services().queue
    return jsonify(message_json(message, queue.events(message_id), queue.parts(message_id)))


@bp.get("/messages")
def list_messages() -> Response:
    """``?status=&to=&since=&limit=&cursor=``, newest first; ``next`` is the cursor of the next page."""
    caller = require("read")
    limit, cursor = page_args(LIST_LIMIT, LIST_MAX)
    status = request.args.get("status")
    if status is not None and status not in {str(s) for s in Status}:
        raise invalid("status", f"status must be one of {', '.join(str(s) for s in Status)}")
    to = request.args.get("to")
    recipient = None if to is None else _number_arg(to)
    since = parse_since(request.args.get("since"))
    client = None if "admin" in caller.scopes else caller.name
    rows = services().queue.list_messages(status=status, recipient=recipient, since=since, limit=limit,
                                          after_id=cursor, descending=True, client=client)
    return jsonify({"items": [message_json(m) for m in rows],
                    "next": str(rows[-1].id) if len(rows) == limit else None})


def _number_arg(text: str) -> str:
    from gatewayd.numbers import InvalidNumber, normalise

    try:
        return normalise("+" + text.strip().lstrip("+"))  # an unencoded '+' in a query string is a space
    except InvalidNumber as exc:
        raise invalid("to", str(exc)) from None


@bp.post("/messages/<int(max=9223372036854775807):message_id>/cancel")
def cancel_message(message_id: int) -> Response:
    """Only a message not yet on its way (queued or scheduled) can be cancelled: 409 otherwise."""
    caller = require("send")
    _own_message(message_id)
    message = services().queue.cancel(message_id, f"cancelled by {caller.name} (API)")
    LOGGER.info("api: client %s cancelled message %d", caller.name, message_id)
    return jsonify(message_json(message))


@bp.post("/messages/<int(max=9223372036854775807):message_id>/retry")
def retry_message(message_id: int) -> Response:
    """Send an ``unknown`` or ``failed`` message again: the client accepts that an unknown one may arrive
    twice (parts the modem acknowledged are never sent again)."""
    caller = require("send")
    _own_message(message_id)
    message = services().queue.retry(message_id, f"retried by {caller.name} (API)")
    LOGGER.info("api: client %s retried message %d", caller.name, message_id)
    return jsonify(message_json(message))


# -- inbound and modems -----------------------------------------------------------------------------


@bp.get("/inbound")
def list_inbound() -> Response:
    """Received messages, oldest first from ``cursor`` (or ``since``): a client polls with ``next``."""
    require("read")
    limit, cursor = page_args(LIST_LIMIT, LIST_MAX)
    since = parse_since(request.args.get("since"))
    rows = services().queue.list_inbound(limit=limit, after_id=cursor, since=since)
    return jsonify({"items": [inbound_json(m) for m in rows],
                    "next": str(rows[-1].id) if rows else (str(cursor) if cursor is not None else None)})


@bp.get("/modems")
def list_modems() -> Response:
    require("read")
    snapshots = sorted(services().modems(), key=lambda s: s.modem_id)
    return jsonify({"items": [modem_json(s) for s in snapshots]})
