"""The OpenAPI 3 document of the gateway's HTTP API, served without a token at ``/api/v1/openapi.json``.

Written by hand as data, not generated from the views: the document is a promise to clients, and a
promise should be read and changed on purpose. It cannot drift unnoticed all the same:
tests/web/test_openapi.py checks that every ``/api/v1`` route is here (and nothing else), that each
operation's ``x-scope`` is the scope the view demands, and runs schemathesis over the app so every
answer must match the schema of its status. Enums are taken from the code's own enums for the same
reason. Limits that depend on the configuration (``api.max_parts``, ``api.batch_limit``,
``api.max_body_bytes``) are described in words, not as numbers a deployment might contradict.

OpenAPI 3.0 (not 3.1) because client generators still read it best; in 3.0 a bearer scheme cannot
carry scopes, so each operation names its scope in the ``x-scope`` extension.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from flask import Blueprint, Response, jsonify

from gatewayd import __version__
from gatewayd.owner import ModemState, SimStatus
from gatewayd.policy.keywords import Intent
from gatewayd.policy.send_policy import Consent
from gatewayd.queue.model import MESSAGE_CLASSES, PartState, Status
from web.auth import ALL_SCOPES
from web.validation import MAX_CURSOR_DIGITS, MAX_IDEMPOTENCY_KEY, MAX_METADATA_BYTES

LOGGER = logging.getLogger(__name__)

PATH: Final = "/api/v1/openapi.json"
OPENAPI_VERSION: Final = "3.0.3"
MAX_ID: Final = 2**63 - 1
"""Ids are SQLite integer keys: larger numbers can name no row."""
LIST_MAX: Final = 1000
"""The largest ``limit`` of every list (web.api.LIST_MAX, web.api_contacts.PAGE_LIMIT)."""
E164_PATTERN: Final = r"^\+[1-9][0-9]{1,14}$"
"""What ``gatewayd.numbers.normalise`` returns: every number the API answers with is in this form."""

ERROR_CODES: Final = (
    "bad_request", "malformed_json", "unknown_field", "invalid_field", "invalid_message",  # 400
    "unauthorized", "forbidden", "not_found", "method_not_allowed",  # 401, 403, 404, 405
    "idempotency_conflict", "illegal_transition",  # 409
    "body_too_large", "unsupported_media_type", "rate_limited",  # 413, 415, 429
    "database_unavailable", "http_error",  # 503, any other HTTP refusal
)

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's null: an enum must list null itself, or a validator refuses the null it allows."""
    out = {**schema, "nullable": True}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = (), strict: bool = True,
            description: str | None = None) -> dict[str, Any]:
    """An object whose properties are all present unless listed in ``optional``."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [name for name in properties if name not in optional]
    if required:  # OpenAPI 3.0 refuses an empty list
        schema["required"] = required
    if strict:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


STRING: Final = {"type": "string"}
INTEGER: Final = {"type": "integer"}
COUNT: Final = {"type": "integer", "minimum": 0}
BOOLEAN: Final = {"type": "boolean"}
DATE_TIME: Final = {"type": "string", "format": "date-time",
                    "description": "ISO 8601 in UTC with a Z, e.g. 2026-11-23T09:00:00.123456Z"}
E164: Final = {"type": "string", "pattern": E164_PATTERN, "example": "+447911123456"}
FREE_OBJECT: Final = {"type": "object", "additionalProperties": True}
STATUS: Final = {"type": "string", "enum": [str(s) for s in Status]}
ENCODING: Final = {"type": "string", "enum": ["gsm7", "ucs2"]}


def _message_properties() -> dict[str, Any]:
    return {
        "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "to": E164,
        "text": STRING,
        "class": {"type": "string", "enum": list(MESSAGE_CLASSES)},
        "status": STATUS,
        "parts": {"type": "integer", "minimum": 1},
        "encoding": ENCODING,
        "send_at": _nullable(DATE_TIME),
        "expires_at": _nullable(DATE_TIME),
        "idempotency_key": _nullable(STRING),
        "metadata": _nullable(FREE_OBJECT),
        "attempts": COUNT,
        "modem": _nullable({**STRING, "description": "The modem of the latest attempt."}),
        "last_error": _nullable(STRING),
        "error_code": _nullable({**INTEGER, "description": "The +CMS ERROR code of the last failure."}),
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
    }


def _schemas() -> dict[str, Any]:
    event = _object({
        "at": DATE_TIME,
        "kind": {**STRING, "description": "status, report, concat_ref, ..."},
        "from": _nullable(STATUS),
        "to": _nullable(STATUS),
        "reason": _nullable(STRING),
        "modem": _nullable(STRING),
        "detail": _nullable(FREE_OBJECT),
    })
    delivery = _object({
        "part": {"type": "integer", "minimum": 1},
        "state": {"type": "string", "enum": [str(s) for s in PartState]},
        "modem": _nullable(STRING),
        "mr": _nullable({**INTEGER, "minimum": 0, "maximum": 255,
                         "description": "TP-Message-Reference the modem gave the part."}),
        "sent_at": _nullable(DATE_TIME),
        "report_status": _nullable({**INTEGER, "description": "TP-Status of the status report (TS 23.040)."}),
        "reported_at": _nullable(DATE_TIME),
    })
    new_message = _object({
        "to": {**STRING, "description": "The recipient, in international form (+country code); stored in E.164.",
               "example": "+447911123456"},
        "text": {**STRING, "minLength": 1,
                 "description": "At most api.max_parts SMS parts (153 GSM-7 characters or 67 UCS-2 units each)."},
        "class": _nullable({"type": "string", "enum": list(MESSAGE_CLASSES), "default": MESSAGE_CLASSES[0],
                            "description": "marketing obeys consent, quiet hours and frequency caps."}),
        "send_at": _nullable({"type": "string", "format": "date-time",
                              "description": "With a time zone; at most a minute in the past. Absent: now."}),
        "idempotency_key": _nullable({**STRING, "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
                                      "description": "Per client: the same key again answers the first message."}),
        "metadata": _nullable({**FREE_OBJECT,
                               "description": f"Echoed in the API and webhooks; at most {MAX_METADATA_BYTES} "
                                              "bytes of JSON."}),
    }, optional=("class", "send_at", "idempotency_key", "metadata"),
        description="null in an optional field is the same as leaving it out.")
    new_message["example"] = {"to": "+447911123456", "text": "Your table for 2 is booked for 19:30.",
                              "idempotency_key": "booking-4711", "metadata": {"booking": 4711}}
    modem_line = _object({
        "id": STRING,
        "state": {"type": "string", "enum": [s.value for s in ModemState]},
        "signal_dbm": _nullable(INTEGER),
        "registration": _nullable(STRING),
        "operator": _nullable(STRING),
        "last_error": _nullable(STRING),
    })
    return {
        "Error": _object({"error": _object({
            "code": {"type": "string", "enum": list(ERROR_CODES),
                     "description": "What a program branches on."},
            "message": {**STRING, "minLength": 1, "description": "What a person reads."},
            "field": _nullable({**STRING, "description": "The request field to fix (messages[2].to in a batch); "
                                                         "null when no one field is at fault."}),
        })}, description="Every refusal, whatever its status."),
        "Receipt": _object({"id": _message_properties()["id"], "status": STATUS,
                            "parts": {"type": "integer", "minimum": 1}, "encoding": ENCODING}),
        "BatchReceipt": _object({"id": _message_properties()["id"], "status": STATUS,
                                 "parts": {"type": "integer", "minimum": 1}, "encoding": ENCODING,
                                 "created": {**BOOLEAN, "description": "false: its idempotency key was seen "
                                                                       "before; this is the first message."}}),
        "BatchItems": _object({"items": {"type": "array", "items": _ref("BatchReceipt")}}),
        "NewMessage": new_message,
        "Batch": _object({"messages": {"type": "array", "minItems": 1, "items": _ref("NewMessage"),
                                       "description": "At most api.batch_limit (500 unless configured)."}}),
        "Message": _object(_message_properties()),
        "MessageDetail": _object({**_message_properties(),
                                  "events": {"type": "array", "items": _ref("Event")},
                                  "delivery": {"type": "array", "items": _ref("Delivery")}}),
        "Event": event,
        "Delivery": delivery,
        "MessagePage": _page("Message", "The next (older) page: pass it as cursor."),
        "Inbound": _object({
            "id": {"type": "integer", "minimum": 1},
            "modem": STRING,
            "from": {**STRING, "description": "The sender's address as the network gave it (a number or a name)."},
            "text": STRING,
            "sc_timestamp": DATE_TIME,
            "received_at": DATE_TIME,
            "parts": {"type": "integer", "minimum": 1},
            "parts_expected": {"type": "integer", "minimum": 1},
            "complete": BOOLEAN,
            "encoding": {"type": "string", "enum": ["gsm7", "ucs2", "8bit", "mixed"]},
            "intent": _nullable({"type": "string", "enum": [str(i) for i in Intent],
                                 "description": "What the keyword engine made of it; null: no keyword matched."}),
            "keyword": _nullable(STRING),
        }),
        "InboundPage": _page("Inbound", "Poll with it as cursor; it stays the same while nothing new arrived."),
        "Modem": _object({
            "id": STRING,
            "port": STRING,
            "state": {"type": "string", "enum": [s.value for s in ModemState]},
            "identity": {"type": "object", "additionalProperties": _nullable(STRING),
                         "description": "imei, imsi, iccid, manufacturer, model, ... as far as known."},
            "signal": _nullable(_object({"rssi": {"type": "integer", "minimum": 0, "maximum": 99},
                                         "dbm": _nullable(INTEGER),
                                         "bars": {"type": "integer", "minimum": 0, "maximum": 4}})),
            "registration": _nullable(STRING),
            "operator": _nullable(STRING),
            "last_error": _nullable(STRING),
            "reconnects": COUNT,
            "sim": {"type": "string", "enum": [s.value for s in SimStatus],
                    "description": "The SIM as the modem's last initialisation found it; pin_wrong and "
                                   "pin_required need a person (the configured PIN is not tried again)."},
        }),
        "ModemList": _object({"items": {"type": "array", "items": _ref("Modem")}}),
        "Contact": _object({
            "number": E164,
            "marketing": {"type": "string", "enum": [str(c) for c in Consent]},
            "consent_via": _nullable({**STRING, "description": "api, keyword, import or operator"}),
            "consent_at": _nullable(DATE_TIME),
            "invalid": BOOLEAN,
            "invalid_reason": _nullable(STRING),
            "history": {"type": "array", "items": _object({
                "at": DATE_TIME,
                "from": {"type": "string", "enum": [str(c) for c in Consent]},
                "to": {"type": "string", "enum": [str(c) for c in Consent]},
                "via": STRING,
                "detail": _nullable(FREE_OBJECT),
            })},
        }),
        "ContactChange": _object({
            "marketing": _nullable({"type": "string", "enum": [str(Consent.OPTED_IN), str(Consent.OPTED_OUT)]}),
            "source": _nullable({**STRING, "minLength": 1, "maxLength": 200,
                                 "description": "Where and how the person agreed; required with opted_in."}),
            "invalid": _nullable({**BOOLEAN, "enum": [False], "description": "false clears the invalid mark."}),
        }, optional=("marketing", "source", "invalid"),
            description="Give marketing, or invalid: false, or both. Needs the admin scope.")
        | {"example": {"marketing": "opted_in", "source": "loyalty card form, shop 12"}},
        "InvalidNumber": _object({
            "number": E164,
            "reason": _nullable(STRING),
            "marked_at": _nullable(DATE_TIME),
            "failed_reports": COUNT,
        }),
        "InvalidNumberPage": _object({"items": {"type": "array", "items": _ref("InvalidNumber")},
                                      "next": _nullable({**E164, "description": "Pass it as after."})}),
        "Health": _object({
            "database": {"type": "string", "enum": ["ok", "unavailable"]},
            "modems_ready": COUNT,
            "modems": {"type": "array", "items": modem_line},
            "reason": {**STRING, "description": "Only on 503: what to fix."},
        }, optional=("reason",)),
    }


def _page(item: str, next_description: str) -> dict[str, Any]:
    return _object({"items": {"type": "array", "items": _ref(item)},
                    "next": _nullable({"type": "string", "pattern": r"^[0-9]+$", "description": next_description})})


# -- responses and parameters ----------------------------------------------------------------------------

_RETRY_AFTER: Final = {"Retry-After": {"description": "Seconds to wait.", "required": True,
                                        "schema": {"type": "integer", "minimum": 1}}}
_ERRORS: Final = {
    400: ("Bad input, nothing stored: malformed_json, unknown_field, invalid_field (see field), invalid_message.",
          None),
    401: ("No token, or not a valid one.",
          {"WWW-Authenticate": {"description": 'Bearer realm="gatewayd"', "required": True, "schema": STRING}}),
    403: ("The token lacks the operation's scope (x-scope).", None),
    404: ("No such message for this client (another client's message is not found either), or no such number.",
          None),
    409: ("idempotency_conflict (the key was used for another message) or illegal_transition (the message is "
          "past the point where this can be done).", None),
    413: ("The body is larger than api.max_body_bytes; nothing stored.", None),
    429: ("Over the token's rate limit (api.rate_per_minute).", _RETRY_AFTER),
    503: ("The database cannot answer now (locked, full, closed); nothing stored. Try again later.",
          _RETRY_AFTER),
}


def _responses() -> dict[str, Any]:
    out = {}
    for status, (description, headers) in _ERRORS.items():
        response: dict[str, Any] = {"description": description,
                                    "content": {"application/json": {"schema": _ref("Error")}}}
        if headers:
            response["headers"] = headers
        out[str(status)] = response
    return out


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


def _operation(operation_id: str, summary: str, scope: str, ok: dict[str, dict[str, Any]], errors: tuple[int, ...],
               *, tag: str = "messages", parameters: list[dict[str, Any]] | None = None, body: str | None = None,
               description: str | None = None) -> dict[str, Any]:
    """An authenticated operation: every one can also answer 401, 403, 429 and 503."""
    if scope not in ALL_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    statuses = sorted({*errors, 401, 403, 429, 503})
    operation: dict[str, Any] = {
        "operationId": operation_id, "summary": summary, "tags": [tag],
        "x-scope": scope,
        "responses": {**ok, **{str(s): {"$ref": f"#/components/responses/{s}"} for s in statuses}},
    }
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_MESSAGE_ID: Final = {"name": "message_id", "in": "path", "required": True,
                      "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "example": 1}
_LIMIT: Final = _query("limit", {"type": "integer", "minimum": 1, "maximum": LIST_MAX}, "Page size (default 100).")
_CURSOR: Final = _query("cursor", {"type": "string", "pattern": rf"^[0-9]{{1,{MAX_CURSOR_DIGITS}}}$"},
                        "The next of the previous page.")
_SINCE: Final = _query("since", {"type": "string", "format": "date-time"},
                       "Only rows from this time on; with a time zone (an unencoded + is read as one).")


def _paths() -> dict[str, Any]:
    location = {"Location": {"description": "The message's URL.", "required": True, "schema": STRING}}
    return {
        "/api/v1/messages": {
            "post": _operation(
                "sendMessage", "Queue one SMS", "send",
                {"202": _json("Receipt", "Stored durably; the daemon sends it.", location),
                 "200": _json("Receipt", "The idempotency key was seen before: the first message.", location)},
                (400, 409, 413), body="NewMessage",
                description="A 202 is sent only after the message is committed to disk."),
            "get": _operation(
                "listMessages", "This client's messages, newest first (every client's with admin)", "read",
                {"200": _json("MessagePage", "A page of messages (without events and delivery).")}, (400,),
                parameters=[_query("status", STATUS, "Only messages in this status."),
                            _query("to", STRING, "Only messages to this number (the + may be left out)."),
                            _SINCE, _LIMIT, _CURSOR]),
        },
        "/api/v1/messages/batch": {
            "post": _operation(
                "sendBatch", "Queue many SMS in one transaction: all or nothing", "send",
                {"202": _json("BatchItems", "Stored durably (at least one was new)."),
                 "200": _json("BatchItems", "Every idempotency key was seen before.")},
                (400, 409, 413), body="Batch",
                description="One bad item refuses the whole batch; field names it (messages[3].text)."),
        },
        "/api/v1/messages/{message_id}": {
            "get": _operation("getMessage", "One message with its history and delivery per part", "read",
                              {"200": _json("MessageDetail", "The message.")}, (404,), parameters=[_MESSAGE_ID]),
        },
        "/api/v1/messages/{message_id}/cancel": {
            "post": _operation("cancelMessage", "Withdraw a queued or scheduled message", "send",
                               {"200": _json("Message", "Cancelled.")}, (404, 409), parameters=[_MESSAGE_ID]),
        },
        "/api/v1/messages/{message_id}/retry": {
            "post": _operation("retryMessage", "Send an unknown or failed message again", "send",
                               {"200": _json("Message", "Queued again.")}, (404, 409), parameters=[_MESSAGE_ID],
                               description="An unknown message may then arrive twice; parts the modem "
                                           "acknowledged are never sent again."),
        },
        "/api/v1/inbound": {
            "get": _operation("listInbound", "Received messages, oldest first from cursor", "read",
                              {"200": _json("InboundPage", "A page of received messages.")}, (400,), tag="inbound",
                              parameters=[_SINCE, _LIMIT, _CURSOR]),
        },
        "/api/v1/modems": {
            "get": _operation("listModems", "The modems and what they last reported", "read",
                              {"200": _json("ModemList", "Every configured modem, by id.")}, (), tag="modems"),
        },
        "/api/v1/contacts/{number}": {
            "parameters": [{"name": "number", "in": "path", "required": True, "schema": STRING,
                            "example": "+447911123456",
                            "description": "A number in international form; %2B for the + also works."}],
            "get": _operation("getContact", "Consent and list hygiene of one number", "read",
                              {"200": _json("Contact", "What the gateway knows (unknown if nothing).")}, (404,),
                              tag="contacts"),
            "put": _operation("putContact", "Record an opt-in or opt-out, or clear an invalid mark", "admin",
                              {"200": _json("Contact", "The contact after the change.")}, (400, 404, 413),
                              tag="contacts", body="ContactChange",
                              description="An opt-out suppresses queued marketing to the number at once."),
        },
        "/api/v1/invalid-numbers": {
            "get": _operation(
                "listInvalidNumbers", "Numbers marked invalid, by number", "read",
                {"200": {"description": "A page of invalid numbers (JSON), or all of them as CSV.",
                         "content": {"application/json": {"schema": _ref("InvalidNumberPage")},
                                     "text/csv": {"schema": {"type": "string"}}}}},
                (400,), tag="contacts",
                parameters=[_query("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
                                   "csv: a spreadsheet download."),
                            _query("after", STRING, "The next of the previous page (the + may be left out)."),
                            _LIMIT]),
        },
        PATH: {
            "get": {"operationId": "getOpenapi", "summary": "This document", "tags": ["meta"], "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.0",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}}},
        },
        "/healthz": {
            "get": {"operationId": "healthz", "summary": "Could a message go out now?", "tags": ["meta"],
                    "security": [],
                    "responses": {"200": _json("Health", "The database answers and a modem is ready."),
                                  "503": _json("Health", "Not now; reason says why.")}},
        },
        "/metrics": {
            "get": {"operationId": "metrics", "summary": "Prometheus metrics", "tags": ["meta"], "security": [],
                    "responses": {"200": {"description": "Prometheus text exposition format.",
                                          "content": {"text/plain": {"schema": {"type": "string"}}}}}},
        },
    }


def _document() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gatewayd",
            "version": __version__,
            "description": "An on-premises SMS gateway. Every /api/v1 call needs 'Authorization: Bearer <token>' "
                           "of a token with the operation's scope (x-scope): send, read, or admin (all of it, "
                           "for every client). Every refusal is JSON {\"error\": {\"code\", \"message\", "
                           "\"field\"}}; bad input is a 4xx and stores nothing.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": name} for name in ("messages", "inbound", "modems", "contacts", "meta")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "A token from the configuration (api.tokens) or 'gatewayd token create'.",
                "x-scopes": sorted(ALL_SCOPES),
            }},
            "schemas": _schemas(),
            "responses": _responses(),
        },
    }


DOCUMENT: Final[dict[str, Any]] = _document()


@bp.get(PATH)
def openapi_json() -> Response:
    """No token needed: the document holds no data, and clients and tools fetch it before they have one."""
    return jsonify(DOCUMENT)
