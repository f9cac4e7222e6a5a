"""Bearer tokens: only hashes are kept, the token's name is the client, every API route is guarded."""

from __future__ import annotations

import hashlib

import pytest
from flask.testing import FlaskClient

from gatewayd.config import ApiToken
from gatewayd.queue import Queue
from tests.web.conftest import API, AUTH, TOKEN, VALID, error_of
from web.auth import TokenStore, token_hash


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
    assert store.tokens == (ApiToken("demo", token_hash(token)),)
    assert token not in repr(store)
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
    assert client.get("/").status_code == 200
