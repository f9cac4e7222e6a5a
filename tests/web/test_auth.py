"""Bearer tokens: only hashes are kept, the token's name is the client, every API route is guarded."""

from __future__ import annotations

import hashlib

import pytest
from flask.testing import FlaskClient

from gatewayd.config import ApiConfig, ApiToken
from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Queue
from tests.web.conftest import API, AUTH, OTHER_TOKEN, TOKEN, VALID, error_of, make_app
from web.auth import ALL_SCOPES, DB_TOKENS_TTL, TokenStore, token_hash


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_store_names_the_client_of_a_token() -> None:
    store = TokenStore.from_config(API.tokens)
    assert store.client_for(f"Bearer {TOKEN}") == "app-one"
    assert store.client_for(f"bearer   {TOKEN}") == "app-one"
    assert store.client_for(f"Bearer {TOKEN}x") is None
    assert store.client_for(f"Basic {TOKEN}") is None
    assert store.client_for("Bearer ") is None
    assert store.client_for(None) is None
    assert TokenStore.from_config(()).client_for(f"Bearer {TOKEN}") is None


def test_generated_token_is_random_and_only_its_hash_is_kept() -> None:
    token, store = TokenStore.generate("demo")
    other, _ = TokenStore.generate("demo")
    assert token != other and len(token) >= 40
    assert store.tokens == ("demo",)
    assert token not in repr(store) and token not in repr(vars(store))
    assert store.client_for(f"Bearer {token}") == "demo"


@pytest.mark.parametrize(("headers", "hint"), [
    ({}, ""),
    ({"Authorization": "Bearer wrong-token"}, 'error="invalid_token"'),
    ({"Authorization": f"Basic {TOKEN}"}, 'error="invalid_token"'),
])
def test_missing_or_wrong_token_is_401_and_stores_nothing(client: FlaskClient, queue: Queue,
                                                          headers: dict[str, str], hint: str) -> None:
    for response in (client.post("/api/v1/messages", json=VALID, headers=headers),
                     client.get("/api/v1/messages/1", headers=headers)):
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="gatewayd"')
        assert hint in response.headers["WWW-Authenticate"]
    assert sum(queue.counts_by_status().values()) == 0


def test_auth_comes_before_the_body_is_judged(client: FlaskClient) -> None:
    response = client.post("/api/v1/messages", data=b"{not json", content_type="application/json")
    assert response.status_code == 401


def test_right_token_is_accepted(client: FlaskClient) -> None:
    assert client.post("/api/v1/messages", json=VALID, headers=AUTH).status_code == 202


def test_health_metrics_and_page_need_no_token(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/").status_code == 303  # the pages want an operator's login instead (test_login.py)


def test_database_tokens_are_reread_after_their_ttl_so_a_revocation_takes_effect() -> None:
    now = [0.0]
    rows = [("crm", token_hash("crm-token"), frozenset({"send"}))]
    store = TokenStore((), database=lambda: list(rows), clock=lambda: now[0])
    found = store.principal_for("Bearer crm-token")
    assert found is not None and (found.name, found.scopes) == ("crm", frozenset({"send"}))
    rows.clear()  # revoked by `gatewayd token revoke` in another process
    assert store.client_for("Bearer crm-token") == "crm"  # still cached
    now[0] += DB_TOKENS_TTL
    assert store.client_for("Bearer crm-token") is None


def test_configured_tokens_without_scopes_hold_all_of_them() -> None:
    store = TokenStore((ApiToken("ops", token_hash("t1")), ApiToken("app", token_hash("t2"), ("send",))))
    ops, app = store.principal_for("Bearer t1"), store.principal_for("Bearer t2")
    assert ops is not None and ops.scopes == ALL_SCOPES
    assert app is not None and app.may("send") and not app.may("read")


def test_a_token_without_the_scope_gets_403_and_changes_nothing(queue: Queue,
                                                                snapshots: list[ModemSnapshot]) -> None:
    api = ApiConfig(tokens=(ApiToken("reader", token_hash("r"), ("read",)),
                            ApiToken("sender", token_hash("s"), ("send",))))
    client = make_app(queue, snapshots, api).test_client()
    refused = client.post("/api/v1/messages", json=VALID, headers={"Authorization": "Bearer r"})
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    assert sum(queue.counts_by_status().values()) == 0
    assert client.post("/api/v1/messages", json=VALID, headers={"Authorization": "Bearer s"}).status_code == 202
    assert client.get("/api/v1/messages/1", headers={"Authorization": "Bearer s"}).status_code == 403
    assert client.get("/api/v1/modems", headers={"Authorization": "Bearer r"}).status_code == 200


def test_over_the_rate_limit_a_token_gets_429_with_retry_after(queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    api = ApiConfig(tokens=API.tokens, rate_per_minute=3)
    client = make_app(queue, snapshots, api).test_client()
    codes = [client.get("/api/v1/modems", headers=AUTH).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/modems", headers=AUTH)
    assert error_of(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    other = client.get("/api/v1/modems", headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    assert other.status_code == 200  # per token
