"""Accepting and reading messages: durability before 202, idempotency, per-client visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from gatewayd.queue import Queue, Status
from tests.web.conftest import AUTH, NOW, OTHER_AUTH, VALID, error_of


def test_accepted_message_is_in_the_queue_when_202_arrives(client: FlaskClient, queue: Queue) -> None:
    response = client.post("/api/v1/messages", headers=AUTH, json={
        "to": "+44 7911 123456", "text": "Your code is 1234", "class": "marketing",
        "idempotency_key": "order-1", "metadata": {"order": 1, "tags": ["a"]}})
    assert response.status_code == 202
    body = response.get_json()
    assert body == {"id": body["id"], "status": "queued", "parts": 1, "encoding": "gsm7"}
    assert response.headers["Location"] == f"/api/v1/messages/{body['id']}"
    stored = queue.get(body["id"])
    assert stored is not None
    assert (stored.recipient, stored.text, stored.message_class, stored.client, stored.idempotency_key,
            stored.metadata) == ("+447911123456", "Your code is 1234", "marketing", "app-one", "order-1",
                                 {"order": 1, "tags": ["a"]})


def test_parts_and_encoding_are_quoted(client: FlaskClient) -> None:
    response = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "text": "Привет " * 20})
    assert response.status_code == 202
    assert (response.get_json()["parts"], response.get_json()["encoding"]) == (3, "ucs2")


def test_send_at_in_the_future_is_scheduled_with_its_zone_honoured(client: FlaskClient, queue: Queue) -> None:
    response = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "send_at": "2026-11-23T12:30:00+02:00"})
    assert response.status_code == 202
    assert response.get_json()["status"] == "scheduled"
    stored = queue.get(response.get_json()["id"])
    assert stored is not None
    assert stored.send_at == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def test_same_idempotency_key_returns_the_first_message_with_200(client: FlaskClient, queue: Queue) -> None:
    body = {**VALID, "idempotency_key": "k-1"}
    first = client.post("/api/v1/messages", headers=AUTH, json=body)
    again = client.post("/api/v1/messages", headers=AUTH, json=body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.get_json() == first.get_json()
    assert queue.counts_by_status()["queued"] == 1


def test_same_key_with_other_content_is_409_and_stores_nothing(client: FlaskClient, queue: Queue) -> None:
    first = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "idempotency_key": "k-1"})
    assert first.status_code == 202
    before = queue.counts_by_status()
    clash = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "text": "other", "idempotency_key": "k-1"})
    assert clash.status_code == 409
    error = error_of(clash)
    assert (error["code"], error["field"]) == ("idempotency_conflict", "idempotency_key")
    assert queue.counts_by_status() == before


def test_idempotency_keys_are_per_client(client: FlaskClient, queue: Queue) -> None:
    body = {**VALID, "idempotency_key": "shared"}
    one = client.post("/api/v1/messages", headers=AUTH, json=body)
    two = client.post("/api/v1/messages", headers=OTHER_AUTH, json={**body, "text": "other text"})
    assert (one.status_code, two.status_code) == (202, 202)
    assert one.get_json()["id"] != two.get_json()["id"]
    assert queue.counts_by_status()["queued"] == 2


def test_get_returns_the_message_and_its_events(client: FlaskClient, queue: Queue) -> None:
    created = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "metadata": {"ref": "x"}}).get_json()
    queue.cancel(created["id"], "changed my mind")
    response = client.get(f"/api/v1/messages/{created['id']}", headers=AUTH)
    assert response.status_code == 200
    message = response.get_json()
    assert (message["id"], message["to"], message["text"], message["status"], message["metadata"]) == (
        created["id"], "+447911123456", "hello", str(Status.CANCELLED), {"ref": "x"})
    assert message["created_at"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(e["from"], e["to"], e["reason"]) for e in message["events"]] == [
        (None, "queued", "accepted"), ("queued", "cancelled", "changed my mind")]


def test_get_unknown_id_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/messages/999", headers=AUTH)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_another_clients_message_is_not_found(client: FlaskClient) -> None:
    created = client.post("/api/v1/messages", headers=AUTH, json=VALID).get_json()
    response = client.get(f"/api/v1/messages/{created['id']}", headers=OTHER_AUTH)
    assert response.status_code == 404


def test_non_numeric_id_and_wrong_method_are_json_errors(client: FlaskClient) -> None:
    assert error_of(client.get("/api/v1/messages/abc", headers=AUTH))["code"] == "not_found"
    response = client.delete("/api/v1/messages", headers=AUTH)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_send_at_check_uses_the_apps_clock(client: FlaskClient) -> None:
    """NOW is in 2026: an hour before it is past, an hour after it is not (whatever the wall clock says)."""
    hour = timedelta(hours=1)
    past = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "send_at": (NOW - hour).isoformat()})
    future = client.post("/api/v1/messages", headers=AUTH, json={**VALID, "send_at": (NOW + hour).isoformat()})
    assert (past.status_code, future.status_code) == (400, 202)
