"""When the database cannot take a write, the client gets 503 + Retry-After and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Queue
from tests.web.conftest import AUTH, VALID, clock, error_of, make_app, sign_in
from web.errors import RETRY_AFTER_SECONDS


@pytest.fixture
def read_only_queue(db_path: Path) -> Iterator[Queue]:
    Queue(db_path, clock=clock).close()  # the file exists with its schema
    with Queue(db_path, clock=clock, read_only=True) as opened:
        yield opened


def test_read_only_database_is_503_with_retry_after(read_only_queue: Queue, db_path: Path,
                                                    snapshots: list[ModemSnapshot]) -> None:
    client = make_app(read_only_queue, snapshots).test_client()
    response = client.post("/api/v1/messages", json=VALID, headers=AUTH)
    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    with Queue(db_path, clock=clock) as reopened:
        assert sum(reopened.counts_by_status().values()) == 0
    # Reads still work: health is fine, the page renders.
    assert client.get("/healthz").status_code == 200


def test_closed_queue_is_503_everywhere_but_the_page(queue: Queue, snapshots: list[ModemSnapshot],
                                                     operator: str) -> None:
    client: FlaskClient = make_app(queue, snapshots).test_client()
    sign_in(client)  # a signed session stays valid while the database cannot check it
    queue.close()
    post = client.post("/api/v1/messages", json=VALID, headers=AUTH)
    assert (post.status_code, error_of(post)["code"]) == (503, "database_unavailable")
    assert client.get("/api/v1/messages/1", headers=AUTH).status_code == 503
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["database"] == "unavailable"
    page = client.get("/")
    assert page.status_code == 200
    assert b"The database is unavailable" in page.data
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "gatewayd_database_up 0.0" in metrics
    assert 'gatewayd_modem_state{modem="m1",state="ready"} 1.0' in metrics
