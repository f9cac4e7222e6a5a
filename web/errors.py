"""Every error the web layer answers is JSON ``{"error": {"code", "message", "field"}}``.

Clients are programs: they branch on ``code`` and show ``message`` to a person; ``field`` names the
request field to fix (null when no one field is at fault). Bad input is always a 4xx: a 5xx means the
gateway itself could not do its job (the database is unavailable: 503, try again later, nothing was
stored).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gatewayd.queue.db import translate
from gatewayd.queue.errors import (
    DatabaseUnavailable,
    IdempotencyConflict,
    IllegalTransition,
    InvalidMessage,
    NotFound,
    QueueClosed,
    QueueError,
)

LOGGER = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
"""What a 503 asks the client to wait: long enough for a locked or full database to be dealt with."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A refusal with its HTTP status, machine-readable code and (when one is at fault) field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def invalid(field: str, message: str) -> ApiError:
    """A 400 for one request field."""
    return ApiError(400, "invalid_field", message, field)


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, code, exc.description or exc.name, None, headers)


def _queue_error(exc: QueueError) -> Response:
    if isinstance(exc, InvalidMessage):
        return error_response(400, "invalid_message", str(exc))
    if isinstance(exc, IdempotencyConflict):
        return error_response(409, "idempotency_conflict", str(exc), "idempotency_key")
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, IllegalTransition):
        return error_response(409, "illegal_transition", str(exc))
    if isinstance(exc, DatabaseUnavailable | QueueClosed):
        LOGGER.warning("answering 503: %s", exc)
        return error_response(503, "database_unavailable", f"the database cannot take this now: {exc}",
                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    LOGGER.error("queue error: %s", exc)
    return error_response(500, "internal_error", "the gateway failed; see its log")


def _sqlite_error(exc: sqlite3.Error) -> Response:
    """An SQLite error the queue did not translate (one raised while it rolled back after a full disk or an
    I/O error, say): the same answer as the translated one, so a full disk is a 503, never a 500."""
    return _queue_error(translate(exc))


def _unexpected(exc: Exception) -> Response:
    LOGGER.exception("unhandled error in a request")
    return error_response(500, "internal_error", "the gateway failed; see its log")


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueueError, _queue_error)
    app.register_error_handler(sqlite3.Error, _sqlite_error)
    app.register_error_handler(Exception, _unexpected)
