"""Every bad request is a 4xx JSON error naming its field, and leaves nothing in the queue."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from gatewayd.queue import Queue
from tests.web.conftest import API, AUTH, NOW, VALID, error_of
from web.validation import MAX_IDEMPOTENCY_KEY, MAX_METADATA_BYTES

GSM7_CONCAT_PART = 153  # septets of one part of a concatenated GSM-7 message


def with_(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def without(name: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != name}


def assert_nothing_stored(queue: Queue) -> None:
    assert sum(queue.counts_by_status().values()) == 0
    assert queue.list_messages() == []
    assert queue.recent_events() == []


BAD_FIELDS = [
    pytest.param(without("to"), "to", id="to-missing"),
    pytest.param(with_(to=None), "to", id="to-null"),
    pytest.param(with_(to=447700900123), "to", id="to-number"),
    pytest.param(with_(to="07700 900123"), "to", id="to-national-without-region"),
    pytest.param(with_(to="+999123"), "to", id="to-invalid"),
    pytest.param(with_(to="call me"), "to", id="to-words"),
    pytest.param(without("text"), "text", id="text-missing"),
    pytest.param(with_(text=""), "text", id="text-empty"),
    pytest.param(with_(text=["hi"]), "text", id="text-array"),
    pytest.param(with_(text="a" * (GSM7_CONCAT_PART * API.max_parts + 1)), "text", id="text-too-many-parts"),
    pytest.param(with_(text="é€" + "ж" * 300), "text", id="text-ucs2-too-many-parts"),
    pytest.param(with_(**{"class": "promo"}), "class", id="class-unknown"),
    pytest.param(with_(**{"class": ""}), "class", id="class-empty"),
    pytest.param(with_(**{"class": 1}), "class", id="class-number"),
    pytest.param(with_(send_at="tomorrow"), "send_at", id="send_at-words"),
    pytest.param(with_(send_at="2026-11-24T09:00:00"), "send_at", id="send_at-naive"),
    pytest.param(with_(send_at=(NOW - timedelta(minutes=2)).isoformat()), "send_at", id="send_at-past"),
    pytest.param(with_(send_at=1795000000), "send_at", id="send_at-epoch-number"),
    pytest.param(with_(idempotency_key=""), "idempotency_key", id="key-empty"),
    pytest.param(with_(idempotency_key="k" * (MAX_IDEMPOTENCY_KEY + 1)), "idempotency_key", id="key-too-long"),
    pytest.param(with_(idempotency_key=42), "idempotency_key", id="key-number"),
    pytest.param(with_(metadata=["a"]), "metadata", id="metadata-array"),
    pytest.param(with_(metadata="a=b"), "metadata", id="metadata-string"),
    pytest.param(with_(metadata={"a": "x" * (MAX_METADATA_BYTES - 7)}), "metadata", id="metadata-too-big"),
]


@pytest.mark.parametrize(("body", "field"), BAD_FIELDS)
def test_bad_field_is_400_naming_it_and_nothing_is_stored(client: FlaskClient, queue: Queue,
                                                           body: dict[str, Any], field: str) -> None:
    response = client.post("/api/v1/messages", json=body, headers=AUTH)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", field)
    assert_nothing_stored(queue)


def test_unknown_field_is_named(client: FlaskClient, queue: Queue) -> None:
    response = client.post("/api/v1/messages", json=with_(priority=5), headers=AUTH)
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("unknown_field", "priority")
    assert_nothing_stored(queue)


@pytest.mark.parametrize("raw", [
    pytest.param(b'{"to": "+447911123456", "text": ', id="truncated"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"to": "+447911123456", "text": "hi", "metadata": {"x": NaN}}', id="nan"),
    pytest.param(b'{"to": "+447911123456", "text": "\xff\xfe"}', id="not-utf8"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="deeply-nested"),
])
def test_malformed_json_is_400(client: FlaskClient, queue: Queue, raw: bytes) -> None:
    response = client.post("/api/v1/messages", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("malformed_json", None)
    assert_nothing_stored(queue)


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"to": "+447911123456", "text": "\\ud800"}', "text"),
    (b'{"to": "+447911123456", "text": "hi", "idempotency_key": "\\udfff"}', "idempotency_key"),
    (b'{"to": "+447911123456", "text": "hi", "metadata": {"k": "\\ud800"}}', "metadata"),
])
def test_unpaired_surrogate_is_400_not_500(client: FlaskClient, queue: Queue, raw: bytes, field: str) -> None:
    response = client.post("/api/v1/messages", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert_nothing_stored(queue)


def test_body_over_the_limit_is_413(client: FlaskClient, queue: Queue) -> None:
    body = json.dumps(with_(text="a" * API.max_body_bytes)).encode()
    response = client.post("/api/v1/messages", data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert_nothing_stored(queue)


# -- the edges that must still be accepted -----------------------------------------------------------


@pytest.mark.parametrize("body", [
    pytest.param(with_(text="a" * (GSM7_CONCAT_PART * API.max_parts)), id="text-at-max-parts"),
    pytest.param(with_(idempotency_key="k" * MAX_IDEMPOTENCY_KEY), id="key-at-max-length"),
    pytest.param(with_(metadata={"a": "x" * (MAX_METADATA_BYTES - 8)}), id="metadata-at-max-size"),
    pytest.param(with_(send_at=(NOW - timedelta(seconds=50)).isoformat()), id="send_at-within-grace"),
    pytest.param(with_(send_at=None, idempotency_key=None, metadata=None), id="optional-nulls"),
])
def test_edges_are_accepted(client: FlaskClient, queue: Queue, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/messages", json=body, headers=AUTH)
    assert response.status_code == 202, response.get_json()
    assert queue.counts_by_status()["queued"] == 1
