"""The OpenAPI document against the app: valid, complete, and true of every answer schemathesis provokes.

Schemathesis generates requests from the document (valid ones and, in its negative mode, requests that
break it) and sends them to the WSGI app over a real Queue; every answer must be a documented status
whose body matches the document's schema, and never a 5xx. The hand-written cases below pin the issue's
classes of bad input: a 4xx with the error shape, and nothing stored.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gatewayd.config import ApiToken
from gatewayd.modem.device import Status as ModemStatus
from gatewayd.modem.parsing import Signal
from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import NewMessage, Queue
from gatewayd.queue.model import Status
from tests.queue.conftest import deliver_parts
from tests.web.conftest import ADMIN_AUTH, API, NOW, VALID, clock, error_of, make_app, ready_modem
from web.auth import ALL_SCOPES, token_hash
from web.openapi import DOCUMENT, MAX_ID, PATH

MAX_EXAMPLES = 40
"""Fuzzed cases per operation (the examples and coverage phases add a few dozen): ~15 s for 14 operations."""
FUZZ_API = replace(API, rate_per_minute=1e9)
"""Schemathesis sends hundreds of requests a second: the rate limit would answer most of them 429."""
SNAPSHOTS = [
    ready_modem("m1"),
    ModemSnapshot(modem_id="m2", port="socket://localhost:7001", state=ModemState.QUARANTINED,
                  identity={"imei": "490154203237518", "iccid": None},
                  status=ModemStatus(signal=Signal(rssi=99, ber=99), registration=None, operator=None),
                  last_error="no answer to AT", reconnects=3),
    ModemSnapshot(modem_id="m3", port="/dev/ttyUSB2", state=ModemState.STARTING),
]
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
API_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _seed(queue: Queue) -> None:
    """One row of each kind, so the answers schemathesis checks include items, events and delivery."""
    unknown, _ = queue.enqueue(NewMessage(recipient="+447911123457", text="ж" * 80, client="ops"))
    claim = queue.claim("m1")
    assert claim is not None and claim.message.id == unknown.id
    queue.part_written(unknown.id, 0, "m1")
    queue.part_sent(unknown.id, 0, 17)
    queue.part_written(unknown.id, 1, "m1")
    queue.mark_unknown(unknown.id, "no answer after PDU written")
    queue.enqueue(NewMessage(recipient="+447911123456", text="hello", client="ops", idempotency_key="k1",
                             metadata={"order": 1}, message_class="marketing"))
    for part in deliver_parts("STOP", sender="+447911123458", when=NOW):
        queue.record_inbound(part)
    queue.mark_invalid("+447911123459", "unallocated number")
    queue.set_consent("+447911123456", Consent.OPTED_IN, "api", detail={"source": "shop counter"})


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for all generated cases: a queue per case would cost more than the cases themselves."""
    path: Path = tmp_path_factory.mktemp("openapi") / "gatewayd.db"
    with Queue(path, clock=clock) as queue:
        _seed(queue)
        yield make_app(queue, SNAPSHOTS, FUZZ_API)


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_answer_is_documented_and_never_a_server_error(case: schemathesis.Case[Any], fuzz_app: Flask) -> None:
    response = case.call(app=fuzz_app, headers=ADMIN_AUTH)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                             response_schema_conformance, response_headers_conformance])


# -- the document itself ------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3() -> None:
    SCHEMA.validate()  # the OpenAPI 3.0 JSON Schema, as published by the OAI
    refs = set(re.findall(r'"#/components/(\w+)/(\w+)"', json.dumps(DOCUMENT)))
    missing = {(kind, name) for kind, name in refs if name not in DOCUMENT["components"][kind]}
    assert not missing
    assert {name for kind, name in refs if kind == "schemas"} == set(DOCUMENT["components"]["schemas"])


def test_it_is_served_without_a_token(client: FlaskClient) -> None:
    response = client.get(PATH)
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(DOCUMENT))


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    routes = {(method.lower(), _openapi_path(rule.rule))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in (rule.methods or set()) & API_METHODS}
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() if path.startswith("/api/v1/")
                  for method in item if method != "parameters"}
    assert routes == documented
    for path in ("/healthz", "/metrics"):
        assert any(rule.rule == path for rule in app.url_map.iter_rules()), path
        assert path in DOCUMENT["paths"]


def _operations() -> list[tuple[str, str, str]]:
    return [(method, path, operation["x-scope"]) for path, item in DOCUMENT["paths"].items()
            for method, operation in item.items() if method != "parameters" and "x-scope" in operation]


def _concrete(path: str) -> str:
    return path.replace("{message_id}", "1").replace("{number}", "+447911123456")


@pytest.mark.parametrize(("method", "path", "scope"), _operations())
def test_each_operation_demands_the_scope_it_documents(queue: Queue, snapshots: list[ModemSnapshot], method: str,
                                                       path: str, scope: str) -> None:
    """A token with every other non-admin scope is refused 403; one with just this scope is not."""
    others = sorted(ALL_SCOPES - {scope, "admin"})
    api = replace(API, tokens=(ApiToken("without", token_hash("t-without"), tuple(others)),
                               ApiToken("with", token_hash("t-with"), (scope,))))
    client = make_app(queue, snapshots, api).test_client()
    without = client.open(_concrete(path), method=method.upper(), json={},
                          headers={"Authorization": "Bearer t-without"})
    assert (without.status_code, error_of(without)["code"]) == (403, "forbidden")
    allowed = client.open(_concrete(path), method=method.upper(), json={}, headers={"Authorization": "Bearer t-with"})
    assert allowed.status_code != 403
    assert str(allowed.status_code) in DOCUMENT["paths"][path][method]["responses"]


def test_an_unauthenticated_call_gets_the_documented_401(client: FlaskClient) -> None:
    for method, path, _ in _operations():
        response = client.open(_concrete(path), method=method.upper())
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "401" in DOCUMENT["paths"][path][method]["responses"]


def test_an_id_too_large_for_sqlite_is_not_found(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/messages/{MAX_ID + 1}", headers=ADMIN_AUTH)
    assert response.status_code == 404


# -- bad input: a 4xx with the error shape, and nothing stored --------------------------------------------------

LONG_GSM7 = "x" * (153 * FUZZ_API.max_parts + 1)


@dataclass(frozen=True)
class Bad:
    """One of the issue's classes of bad input, and the refusal it must get."""

    name: str
    body: bytes | dict[str, Any]
    status: int
    code: str
    field: str | None


BAD_MESSAGES = [
    Bad("invalid number", {**VALID, "to": "+44 12"}, 400, "invalid_field", "to"),
    Bad("number not international", {**VALID, "to": "07911123456"}, 400, "invalid_field", "to"),
    Bad("empty text", {**VALID, "text": ""}, 400, "invalid_field", "text"),
    Bad("text over max_parts", {**VALID, "text": LONG_GSM7}, 400, "invalid_field", "text"),
    Bad("unknown field", {**VALID, "colour": "red"}, 400, "unknown_field", "colour"),
    Bad("wrong type: text", {**VALID, "text": 42}, 400, "invalid_field", "text"),
    Bad("wrong type: metadata", {**VALID, "metadata": [1]}, 400, "invalid_field", "metadata"),
    Bad("class not in the enum", {**VALID, "class": "urgent"}, 400, "invalid_field", "class"),
    Bad("missing to", {"text": "hello"}, 400, "invalid_field", "to"),
    Bad("malformed JSON", b'{"to": "+447911123456", "text": ', 400, "malformed_json", None),
    Bad("not an object", b'["+447911123456", "hello"]', 400, "malformed_json", None),
    Bad("NaN", b'{"to": "+447911123456", "text": "x", "metadata": {"a": NaN}}', 400, "malformed_json", None),
    Bad("oversized body", {**VALID, "metadata": {"pad": "x" * FUZZ_API.max_body_bytes}}, 413, "body_too_large",
        None),
    Bad("send_at in the past", {**VALID, "send_at": "2026-11-23T08:00:00Z"}, 400, "invalid_field", "send_at"),
    Bad("send_at unparsable", {**VALID, "send_at": "tomorrow at nine"}, 400, "invalid_field", "send_at"),
    Bad("send_at without zone", {**VALID, "send_at": "2026-11-24T09:00:00"}, 400, "invalid_field", "send_at"),
    Bad("send_at beyond UTC", {**VALID, "send_at": "9999-12-31T23:59:59-01:00"}, 400, "invalid_field", "send_at"),
]


def _send(client: FlaskClient, path: str, body: bytes | dict[str, Any]) -> Any:
    if isinstance(body, bytes):
        return client.post(path, data=body, headers={**ADMIN_AUTH, "Content-Type": "application/json"})
    return client.post(path, json=body, headers=ADMIN_AUTH)


def _assert_documented_error(response: Any, method: str, path: str) -> dict[str, Any]:
    """The status is one the document lists for the operation, and the body is its Error."""
    assert str(response.status_code) in DOCUMENT["paths"][path][method]["responses"]
    error = error_of(response)
    assert error["code"] in DOCUMENT["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
        "enum"]
    return error


@pytest.mark.parametrize("bad", BAD_MESSAGES, ids=lambda bad: bad.name)
def test_bad_input_is_a_documented_4xx_and_stores_nothing(client: FlaskClient, queue: Queue, bad: Bad) -> None:
    response = _send(client, "/api/v1/messages", bad.body)
    error = _assert_documented_error(response, "post", "/api/v1/messages")
    assert (response.status_code, error["code"], error["field"]) == (bad.status, bad.code, bad.field)
    assert queue.list_messages() == []


@pytest.mark.parametrize("bad", [bad for bad in BAD_MESSAGES if isinstance(bad.body, dict)], ids=lambda bad: bad.name)
def test_one_bad_item_in_a_batch_is_a_documented_4xx_and_stores_nothing(client: FlaskClient, queue: Queue,
                                                                        bad: Bad) -> None:
    response = _send(client, "/api/v1/messages/batch", {"messages": [VALID, bad.body]})
    error = _assert_documented_error(response, "post", "/api/v1/messages/batch")
    assert (response.status_code, error["code"]) == (bad.status, bad.code)
    if bad.status == 400:
        assert error["field"] == f"messages[1].{bad.field}"
    assert queue.list_messages() == []


@pytest.mark.parametrize("query", ["cursor=%C2%B2", "cursor=-1", "limit=0", "limit=x", "since=yesterday",
                                   "since=0001-01-01T00:00:00%2B01:00", "status=lost", "to=12"])
def test_bad_list_queries_are_documented_400s(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/v1/messages?{query}", headers=ADMIN_AUTH)
    assert response.status_code == 400
    assert _assert_documented_error(response, "get", "/api/v1/messages")["field"] == query.partition("=")[0]


def test_a_refused_contact_change_stores_nothing(client: FlaskClient, queue: Queue) -> None:
    path = "/api/v1/contacts/{number}"
    for body in ({"marketing": "opted_in"}, {"marketing": "yes", "source": "web"}, {"colour": 1}, {"invalid": True}):
        response = client.put(_concrete(path), json=body, headers=ADMIN_AUTH)
        assert response.status_code == 400
        _assert_documented_error(response, "put", path)
    assert queue.contact("+447911123456") is None
    assert queue.consent_history("+447911123456") == []


def test_each_kind_of_row_matches_the_document(queue: Queue) -> None:
    """Most fuzzed answers are refusals or empty pages; here each kind of item is checked at least once."""
    _seed(queue)
    client = make_app(queue, SNAPSHOTS).test_client()
    for method, path in (("get", "/api/v1/messages/1"), ("get", "/api/v1/messages"), ("get", "/api/v1/inbound"),
                         ("get", "/api/v1/modems"), ("get", "/api/v1/contacts/+447911123456"),
                         ("get", "/api/v1/invalid-numbers"), ("get", "/healthz")):
        response = client.open(path, method=method.upper(), headers=ADMIN_AUTH)
        assert response.status_code == 200, response.data
        template = "/api/v1/messages/{message_id}" if path == "/api/v1/messages/1" else path
        if template.startswith("/api/v1/contacts/"):
            template = "/api/v1/contacts/{number}"
        operation = SCHEMA[template][method]
        operation.validate_response(response)
        body = response.get_json()
        assert body.get("items", True), path
    detail = client.get("/api/v1/messages/1", headers=ADMIN_AUTH).get_json()
    assert detail["status"] == Status.UNKNOWN and detail["events"] and len(detail["delivery"]) == 2
    csv = client.get("/api/v1/invalid-numbers?format=csv", headers=ADMIN_AUTH)
    assert csv.mimetype == "text/csv" and "+447911123459" in csv.get_data(as_text=True)
