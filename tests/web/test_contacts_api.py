"""Consent and number hygiene over the API: PUT/GET /api/v1/contacts/<e164>, GET /api/v1/invalid-numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gatewayd.config import ApiConfig
from gatewayd.owner import ModemSnapshot
from gatewayd.policy.inbound import Replies, TrustRules
from gatewayd.queue import NewMessage, Queue
from tests.web.conftest import ADMIN_AUTH, API, AUTH, clock, error_of, make_app
from web.app import create_app
from web.auth import TokenStore

NUMBER = "+447911123456"


@pytest.fixture
def trusted(db_path: Path) -> Iterator[Queue]:
    with Queue(db_path, clock=clock, rules=TrustRules(replies=Replies(welcome="Welcome to Acme!"))) as opened:
        yield opened


@pytest.fixture
def api(trusted: Queue, snapshots: list[ModemSnapshot]) -> FlaskClient:
    return make_app(trusted, snapshots).test_client()


def test_an_opt_in_through_the_api_records_its_source_and_welcomes_once(api: FlaskClient, trusted: Queue) -> None:
    response = api.put(f"/api/v1/contacts/{NUMBER}", json={"marketing": "opted_in", "source": "web form"},
                       headers=ADMIN_AUTH)
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert (body["number"], body["marketing"], body["consent_via"]) == (NUMBER, "opted_in", "api")
    assert body["history"][0]["detail"] == {"client": "ops", "source": "web form"}
    api.put(f"/api/v1/contacts/{NUMBER}", json={"marketing": "opted_in", "source": "again"}, headers=ADMIN_AUTH)
    welcomes = [m for m in trusted.list_messages(recipient=NUMBER) if m.text == "Welcome to Acme!"]
    assert len(welcomes) == 1


def test_an_opt_out_through_the_api_suppresses_queued_marketing(api: FlaskClient, trusted: Queue) -> None:
    api.put(f"/api/v1/contacts/{NUMBER}", json={"marketing": "opted_in", "source": "counter"}, headers=ADMIN_AUTH)
    queued, _ = trusted.enqueue(NewMessage(NUMBER, "sale!", message_class="marketing"))
    response = api.put(f"/api/v1/contacts/{NUMBER}", json={"marketing": "opted_out"}, headers=ADMIN_AUTH)
    assert response.get_json()["marketing"] == "opted_out"
    message = trusted.get(queued.id)
    assert message is not None and message.status == "suppressed"


def test_a_national_number_in_the_path_is_not_a_contact(api: FlaskClient) -> None:
    response = api.get("/api/v1/contacts/07911123456", headers=AUTH)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_plus_may_be_percent_encoded(api: FlaskClient) -> None:
    response = api.get("/api/v1/contacts/%2B447911123456", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["marketing"] == "unknown"


@pytest.mark.parametrize(("body", "field"), [
    ({"marketing": "maybe"}, "marketing"),
    ({"marketing": "opted_in"}, "source"),
    ({"marketing": "opted_in", "source": ""}, "source"),
    ({"marketing": "opted_in", "source": 7}, "source"),
    ({"invalid": True}, "invalid"),
    ({}, "marketing"),
    ({"marketing": "opted_out", "colour": "red"}, "colour"),
])
def test_bad_contact_updates_are_refused_and_change_nothing(api: FlaskClient, trusted: Queue,
                                                            body: dict[str, object], field: str) -> None:
    response = api.put(f"/api/v1/contacts/{NUMBER}", json=body, headers=ADMIN_AUTH)
    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert trusted.contact(NUMBER) is None


def test_contacts_need_a_token(api: FlaskClient) -> None:
    assert api.get(f"/api/v1/contacts/{NUMBER}").status_code == 401
    assert api.put(f"/api/v1/contacts/{NUMBER}", json={"marketing": "opted_out"}).status_code == 401


def test_invalid_numbers_are_listed_as_json_and_csv_and_can_be_cleared(api: FlaskClient, trusted: Queue) -> None:
    trusted.mark_invalid("+447911000001", "+CMS ERROR: 1 (unassigned number)")
    trusted.mark_invalid(NUMBER, "3 consecutive failed delivery reports")
    listed = api.get("/api/v1/invalid-numbers", headers=AUTH).get_json()
    assert [item["number"] for item in listed["items"]] == ["+447911000001", NUMBER]
    assert listed["next"] is None

    response = api.get("/api/v1/invalid-numbers?format=csv", headers=AUTH)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["number"], r["reason"]) for r in rows] == [("+447911000001", "+CMS ERROR: 1 (unassigned number)"),
                                                          (NUMBER, "3 consecutive failed delivery reports")]

    page = api.get("/api/v1/invalid-numbers?limit=1", headers=AUTH).get_json()
    assert page["next"] == "+447911000001"
    rest = api.get(f"/api/v1/invalid-numbers?limit=1&after={page['next']}", headers=AUTH).get_json()
    assert [item["number"] for item in rest["items"]] == [NUMBER]

    assert api.put(f"/api/v1/contacts/{NUMBER}", json={"invalid": False}, headers=AUTH).status_code == 403
    cleared = api.put(f"/api/v1/contacts/{NUMBER}", json={"invalid": False}, headers=ADMIN_AUTH).get_json()
    assert cleared["invalid"] is False
    assert [c.number for c in trusted.list_invalid_numbers()] == ["+447911000001"]


def test_a_fixed_line_number_is_refused_when_the_gateway_sends_to_mobiles_only(
        trusted: Queue, snapshots: list[ModemSnapshot]) -> None:
    app = create_app(queue=trusted, modems=lambda: list(snapshots), tokens=TokenStore.from_config(API.tokens),
                     api=ApiConfig(tokens=API.tokens), clock=clock, mobile_only=True)
    client = app.test_client()
    landline = client.post("/api/v1/messages", json={"to": "+442079460000", "text": "hi"}, headers=AUTH)
    assert landline.status_code == 400
    assert error_of(landline)["field"] == "to"
    assert "not a mobile" in error_of(landline)["message"]
    assert trusted.list_messages() == []
    mobile = client.post("/api/v1/messages", json={"to": NUMBER, "text": "hi"}, headers=AUTH)
    assert mobile.status_code == 202
    # The North American plan does not tell fixed lines from mobiles: such numbers must pass.
    nanp = client.post("/api/v1/messages", json={"to": "+12125551234", "text": "hi"}, headers=AUTH)
    assert nanp.status_code == 202
