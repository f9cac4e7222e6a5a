"""Batch accept, listing with cursors, cancel and retry, inbound and modems over /api/v1."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Queue
from tests.queue.conftest import deliver_parts
from tests.web.conftest import ADMIN_AUTH, API, AUTH, NOW, OTHER_AUTH, VALID, error_of, make_app

NUMBERS = [f"+4479111234{i:02d}" for i in range(12)]


def batch(client: FlaskClient, items: list[dict[str, object]], headers: dict[str, str] = AUTH) -> object:
    return client.post("/api/v1/messages/batch", json={"messages": items}, headers=headers)


def test_a_batch_is_stored_in_one_go_and_answered_per_item(client: FlaskClient, queue: Queue) -> None:
    items = [{"to": n, "text": f"hello {i}", "idempotency_key": f"k{i}"} for i, n in enumerate(NUMBERS[:3])]
    response = batch(client, items)
    assert response.status_code == 202
    answer = response.get_json()["items"]
    assert [item["created"] for item in answer] == [True, True, True]
    assert sorted(m.recipient for m in queue.list_messages()) == NUMBERS[:3]
    again = batch(client, items)
    assert again.status_code == 200
    assert [item["id"] for item in again.get_json()["items"]] == [item["id"] for item in answer]
    assert len(queue.list_messages()) == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": []}, "messages"),
    ({"messages": "x"}, "messages"),
    ({"messages": [VALID, "x"]}, "messages[1]"),
    ({"messages": [VALID, {"to": "12", "text": "x"}]}, "messages[1].to"),
    ({"messages": [VALID, {**VALID, "colour": 1}]}, "messages[1].colour"),
    ({"messages": [VALID], "extra": 1}, "extra"),
])
def test_one_bad_item_refuses_the_whole_batch(client: FlaskClient, queue: Queue, body: dict[str, object],
                                              field: str) -> None:
    response = client.post("/api/v1/messages/batch", json=body, headers=AUTH)
    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert queue.list_messages() == []


def test_a_batch_over_the_limit_is_refused(queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    client = make_app(queue, snapshots, replace(API, batch_limit=2)).test_client()
    response = batch(client, [VALID, VALID, VALID])
    assert response.status_code == 400
    assert "at most 2" in error_of(response)["message"]
    assert queue.list_messages() == []


def test_the_list_pages_newest_first_with_a_cursor_and_filters(client: FlaskClient) -> None:
    batch(client, [{"to": n, "text": "a"} for n in NUMBERS[:5]])
    batch(client, [{"to": NUMBERS[0], "text": "b"}], headers=OTHER_AUTH)
    first = client.get("/api/v1/messages?limit=2", headers=AUTH).get_json()
    assert [m["to"] for m in first["items"]] == [NUMBERS[4], NUMBERS[3]]
    second = client.get(f"/api/v1/messages?limit=2&cursor={first['next']}", headers=AUTH).get_json()
    third = client.get(f"/api/v1/messages?limit=2&cursor={second['next']}", headers=AUTH).get_json()
    assert [m["to"] for m in second["items"] + third["items"]] == [NUMBERS[2], NUMBERS[1], NUMBERS[0]]
    assert third["next"] is None
    own = client.get(f"/api/v1/messages?to={NUMBERS[0]}", headers=AUTH).get_json()["items"]
    assert [m["text"] for m in own] == ["a"]  # app-two's message to the same number is not app-one's
    everyone = client.get(f"/api/v1/messages?to=%2B{NUMBERS[0][1:]}", headers=ADMIN_AUTH).get_json()["items"]
    assert sorted(m["text"] for m in everyone) == ["a", "b"]
    queued = client.get("/api/v1/messages?status=queued&since=2026-11-23T08:00:00Z", headers=AUTH).get_json()
    assert len(queued["items"]) == 5
    later = client.get("/api/v1/messages?since=2026-11-23T10:00:00+00:00", headers=AUTH).get_json()
    assert later["items"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("status=lost", "status"), ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
    ("cursor=-1", "cursor"), ("cursor=abc", "cursor"), ("since=yesterday", "since"),
    ("since=2026-11-23T10:00:00", "since"), ("to=12", "to"),
])
def test_bad_list_queries_are_400_with_the_field(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/api/v1/messages?{query}", headers=AUTH)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_a_message_detail_has_its_events_and_delivery(client: FlaskClient, queue: Queue) -> None:
    created = client.post("/api/v1/messages", json=VALID, headers=AUTH).get_json()
    claim = queue.claim("m1")
    assert claim is not None
    queue.part_written(created["id"], 0, "m1")
    queue.part_sent(created["id"], 0, 42)
    queue.mark_sent(created["id"])
    detail = client.get(f"/api/v1/messages/{created['id']}", headers=AUTH).get_json()
    assert detail["status"] == "sent"
    assert [e["to"] for e in detail["events"]] == ["queued", "sending", "sent"]
    assert detail["delivery"] == [{"part": 1, "state": "sent", "modem": "m1", "mr": 42, "sent_at": detail[
        "delivery"][0]["sent_at"], "report_status": None, "reported_at": None}]
    assert detail["delivery"][0]["sent_at"].endswith("Z")


def test_cancel_and_retry_follow_the_state_machine(client: FlaskClient, queue: Queue) -> None:
    created = client.post("/api/v1/messages", json=VALID, headers=AUTH).get_json()
    assert client.post(f"/api/v1/messages/{created['id']}/cancel", headers=OTHER_AUTH).status_code == 404
    cancelled = client.post(f"/api/v1/messages/{created['id']}/cancel", headers=AUTH)
    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")
    again = client.post(f"/api/v1/messages/{created['id']}/cancel", headers=AUTH)
    assert again.status_code == 409
    assert error_of(again)["code"] == "illegal_transition"
    assert client.post(f"/api/v1/messages/{created['id']}/retry", headers=AUTH).status_code == 409

    second = client.post("/api/v1/messages", json={**VALID, "text": "second"}, headers=AUTH).get_json()
    assert queue.claim("m1") is not None
    queue.part_written(second["id"], 0, "m1")
    queue.mark_unknown(second["id"], "no answer after PDU written")
    retried = client.post(f"/api/v1/messages/{second['id']}/retry", headers=AUTH)
    assert (retried.status_code, retried.get_json()["status"]) == (200, "queued")
    assert client.post("/api/v1/messages/999/retry", headers=AUTH).status_code == 404


def test_inbound_is_listed_oldest_first_and_polled_with_next(client: FlaskClient, queue: Queue) -> None:
    empty = client.get("/api/v1/inbound", headers=AUTH).get_json()
    assert empty == {"items": [], "next": None}
    for reference, text in enumerate(("first", "second", "third")):
        for part in deliver_parts(text, sender="+447911123456", reference=reference,
                                  when=NOW + timedelta(seconds=reference)):
            queue.record_inbound(part)
    page = client.get("/api/v1/inbound?limit=2", headers=AUTH).get_json()
    assert [m["text"] for m in page["items"]] == ["first", "second"]
    assert page["items"][0]["from"] == "+447911123456"
    rest = client.get(f"/api/v1/inbound?cursor={page['next']}", headers=AUTH).get_json()
    assert [m["text"] for m in rest["items"]] == ["third"]
    nothing_new = client.get(f"/api/v1/inbound?cursor={rest['next']}", headers=AUTH).get_json()
    assert nothing_new == {"items": [], "next": rest["next"]}


def test_modems_are_listed_with_state_signal_and_operator(client: FlaskClient) -> None:
    (modem,) = client.get("/api/v1/modems", headers=AUTH).get_json()["items"]
    assert (modem["id"], modem["state"], modem["operator"]) == ("m1", "ready", "TestNet")
    assert modem["signal"] == {"rssi": 20, "dbm": -73, "bars": 4}
