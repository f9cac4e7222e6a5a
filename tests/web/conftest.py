"""A real Queue on a SQLite file in tmp_path, a fixed clock, a known token, and the app over them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gatewayd.config import ApiConfig, ApiToken
from gatewayd.modem.device import Status as ModemStatus
from gatewayd.modem.parsing import Registration, Signal
from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import Queue
from web.app import create_app
from web.auth import TokenStore, token_hash
from web.passwords import hash_password

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOKEN = "test-token-for-app-one"
OTHER_TOKEN = "test-token-for-app-two"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_TOKEN}"}
APP_SCOPES = ("send", "read")
"""The LAN apps of these tests: no admin, so each sees only its own messages."""
ADMIN_TOKEN = "test-token-for-the-operator"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
API = ApiConfig(tokens=(ApiToken("app-one", token_hash(TOKEN), APP_SCOPES),
                        ApiToken("app-two", token_hash(OTHER_TOKEN), APP_SCOPES),
                        ApiToken("ops", token_hash(ADMIN_TOKEN))),
                max_body_bytes=16 * 1024, max_parts=3)
VALID = {"to": "+447911123456", "text": "hello"}


def clock() -> datetime:
    return NOW


def ready_modem(modem_id: str = "m1") -> ModemSnapshot:
    return ModemSnapshot(modem_id=modem_id, port="/dev/ttyUSB0", state=ModemState.READY,
                         status=ModemStatus(signal=Signal(rssi=20, ber=0), registration=Registration(stat=1),
                                            operator="TestNet"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gatewayd.db"


@pytest.fixture
def queue(db_path: Path) -> Iterator[Queue]:
    with Queue(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def snapshots() -> list[ModemSnapshot]:
    """The modems the app sees; a test changes this list to change what the app reads."""
    return [ready_modem("m1")]


def make_app(queue: Queue, snapshots: list[ModemSnapshot], api: ApiConfig = API) -> Flask:
    app = create_app(queue=queue, modems=lambda: list(snapshots), tokens=TokenStore.from_config(api.tokens),
                     api=api, clock=clock)
    app.testing = True
    return app


@pytest.fixture
def app(queue: Queue, snapshots: list[ModemSnapshot]) -> Flask:
    return make_app(queue, snapshots)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def error_of(response: Any) -> dict[str, Any]:
    """The error object of a refusal, after checking the shape every error shares."""
    assert response.is_json, response.data
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


# -- operator pages (login) ----------------------------------------------------------------------------

OPERATOR = "ops"
OPERATOR_PASSWORD = "correct horse battery staple"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(page: str) -> str:
    """The CSRF token of the first form on ``page`` (what a browser would post back)."""
    found = _CSRF_FIELD.search(page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str = OPERATOR, password: str = OPERATOR_PASSWORD) -> Any:
    """Post the login form as a browser would (token from the login page); returns the response."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def operator(queue: Queue) -> str:
    """An operator in the database (a scrypt hash, as ``gatewayd user add`` makes it)."""
    queue.set_operator(OPERATOR, hash_password(OPERATOR_PASSWORD))
    return OPERATOR


@pytest.fixture
def page_client(client: FlaskClient, operator: str) -> FlaskClient:
    """A browser-like client signed in as ``operator``."""
    assert sign_in(client).status_code == 303
    return client
