"""The body of ``POST /api/v1/messages`` to a ``NewMessage``, refusing with the field to fix.

Everything a client can get wrong is caught here, before the queue is touched, so a refusal never
leaves a row behind and always names its field. The queue checks again (its own invariants); the web
layer is where the explanations are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from gatewayd.config import ApiConfig
from gatewayd.modem.pdu import PduError, plan_text
from gatewayd.numbers import InvalidNumber, is_mobile, normalise
from gatewayd.queue import NewMessage
from gatewayd.queue.model import MESSAGE_CLASSES
from web.errors import ApiError, invalid

FIELDS: Final = frozenset({"to", "text", "class", "send_at", "idempotency_key", "metadata"})
MAX_IDEMPOTENCY_KEY = 200
"""Characters; a key is an opaque client-chosen string (a UUID is 36)."""
MAX_METADATA_BYTES = 4096
"""Metadata is echoed back in webhooks and the API; it is a label, not a payload store."""
MAX_CURSOR_DIGITS = 18
"""A cursor is a message id: it fits SQLite's 64-bit integers."""
SEND_AT_GRACE = timedelta(minutes=1)
"""A send_at this far in the past is clock skew between the client and us, sent now; older is an error."""


@dataclass(frozen=True)
class Accepted:
    """A valid request: what to enqueue, and how it will be sent (for the answer)."""

    message: NewMessage
    parts: int
    encoding: str


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or 400 ``malformed_json``."""
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return document


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; storing them would make the row unreadable to other JSON parsers.
    raise ValueError(f"{name} is not allowed in JSON")


def new_message(body: dict[str, Any], *, client: str, api: ApiConfig, now: datetime,
                mobile_only: bool = False) -> Accepted:
    """Validate ``body`` field by field (the first error wins) for ``client``.

    ``mobile_only`` (policy.reject_non_mobile): a number that cannot be a mobile is refused."""
    for name in body:
        if name not in FIELDS:
            raise ApiError(400, "unknown_field", f"unknown field {name!r}; known: {', '.join(sorted(FIELDS))}",
                           name)
    recipient = _recipient(_string(body, "to", required=True))
    if mobile_only and recipient is not None and not is_mobile(recipient):
        raise invalid("to", f"{recipient} is not a mobile number; this gateway sends to mobiles only "
                            "(policy.reject_non_mobile)")
    text = _string(body, "text", required=True)
    assert recipient is not None and text is not None  # required=True
    encoding, parts = _plan(text, api.max_parts)
    message_class = _string(body, "class")
    if message_class is None:
        message_class = MESSAGE_CLASSES[0]
    elif message_class not in MESSAGE_CLASSES:
        raise invalid("class", f"class must be one of {', '.join(MESSAGE_CLASSES)}")
    send_at = _send_at(_string(body, "send_at"), now)
    key = _string(body, "idempotency_key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid("idempotency_key", f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    metadata = _metadata(body.get("metadata"))
    message = NewMessage(recipient=recipient, text=text, message_class=message_class, send_at=send_at,
                         idempotency_key=key, client=client, metadata=metadata)
    return Accepted(message=message, parts=parts, encoding=encoding)


def _string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(name, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise invalid(name, f"{name} must be a string, not {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(name, f"{name} contains an unpaired UTF-16 surrogate") from None
    return value


def recipient_in_path(text: str) -> str:
    """A number written in a URL (``/contacts/+447911123456``; ``%2B`` for the plus also works)."""
    try:
        return normalise(text)
    except InvalidNumber as exc:
        raise ApiError(404, "not_found", f"no such number: {exc}") from None


def _recipient(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return normalise(text)
    except InvalidNumber as exc:
        raise invalid("to", str(exc)) from None


def _plan(text: str, max_parts: int) -> tuple[str, int]:
    if not text:
        raise invalid("text", "text must not be empty")
    try:
        encoding, parts = plan_text(text)
    except PduError as exc:
        raise invalid("text", str(exc)) from None
    if len(parts) > max_parts:
        raise invalid("text", f"text needs {len(parts)} SMS parts ({encoding}); this gateway allows {max_parts}")
    return encoding, len(parts)


def _send_at(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise invalid("send_at", f"send_at {text!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise invalid("send_at", "send_at needs a time zone (Z or an offset such as +01:00)")
    _in_utc_range("send_at", when)
    if when < now - SEND_AT_GRACE:
        raise invalid("send_at", f"send_at {text} is in the past")
    return when


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("metadata", f"metadata must be an object, not {_json_type(value)}")
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid("metadata", "metadata contains an unpaired UTF-16 surrogate") from None
    if size > MAX_METADATA_BYTES:
        raise invalid("metadata", f"metadata is {size} bytes of JSON; at most {MAX_METADATA_BYTES}")
    return value


_JSON_TYPES: Final[tuple[tuple[type, str], ...]] = (
    (bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string"), (list, "an array"),
    (dict, "an object"),
)


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def page_args(default: int, maximum: int) -> tuple[int, int | None]:
    """``limit`` and ``cursor`` of a list request (the cursor is the ``next`` of the previous page)."""
    from flask import request

    limit_text = request.args.get("limit")
    cursor_text = request.args.get("cursor")
    try:
        limit = default if limit_text is None else int(limit_text)
    except ValueError:
        raise invalid("limit", "limit must be a whole number") from None
    if not 1 <= limit <= maximum:
        raise invalid("limit", f"limit must be 1 to {maximum}")
    if cursor_text is None:
        return limit, None
    # isascii: str.isdigit() also accepts digits int() refuses, such as '²'.
    if not (cursor_text.isascii() and cursor_text.isdigit()) or len(cursor_text) > MAX_CURSOR_DIGITS:
        raise invalid("cursor", "cursor must be the 'next' value of a previous page")
    return limit, int(cursor_text)


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace(" ", "+"))  # an unencoded '+' in a query string is a space
    except ValueError:
        raise invalid("since", f"since {text!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise invalid("since", "since needs a time zone (Z or an offset such as +01:00)")
    _in_utc_range("since", when)
    return when


def _in_utc_range(field: str, when: datetime) -> None:
    """0001-01-01T00:00+01:00 and 9999-12-31T23:59-01:00 parse, but have no UTC form to store or compare."""
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise invalid(field, f"{field} is out of range once converted to UTC") from None
