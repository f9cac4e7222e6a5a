"""/healthz and /metrics read the queue and the modem snapshots as they are now (the pages: test_pages.py)."""

from __future__ import annotations

from flask.testing import FlaskClient

from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import NewMessage, Queue
from tests.web.conftest import AUTH, VALID, make_app, ready_modem


def test_healthz_ok_with_a_ready_modem(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {
        "database": "ok", "modems_ready": 1,
        "modems": [{"id": "m1", "state": "ready", "signal_dbm": -73, "registration": "registered (home)",
                    "operator": "TestNet", "last_error": None}]})


def test_healthz_503_without_a_ready_modem(client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [ModemSnapshot(modem_id="m1", port="/dev/ttyUSB0", state=ModemState.QUARANTINED)]
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["modems_ready"], body["reason"]) == (0, "no modem is ready")
    assert [(m["id"], m["state"]) for m in body["modems"]] == [("m1", "quarantined")]
    snapshots.append(ready_modem("m2"))
    assert client.get("/healthz").get_json()["modems_ready"] == 1


def test_metrics_expose_queue_depth_and_modems(client: FlaskClient, queue: Queue,
                                               snapshots: list[ModemSnapshot]) -> None:
    snapshots.append(ModemSnapshot(modem_id="m2", port="", state=ModemState.GONE, reconnects=3))
    queue.enqueue(NewMessage(recipient="+447911123456", text="a"))
    queue.enqueue(NewMessage(recipient="+447911123456", text="b"))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    for line in (
        "gatewayd_database_up 1.0",
        'gatewayd_queue_messages{status="queued"} 2.0',
        'gatewayd_queue_messages{status="unknown"} 0.0',
        'gatewayd_modem_state{modem="m1",state="ready"} 1.0',
        'gatewayd_modem_state{modem="m1",state="gone"} 0.0',
        'gatewayd_modem_state{modem="m2",state="gone"} 1.0',
        'gatewayd_modem_signal_rssi{modem="m1"} 20.0',
        'gatewayd_modem_signal_dbm{modem="m1"} -73.0',
        'gatewayd_modem_reconnects_total{modem="m2"} 3.0',
    ):
        assert line in text.splitlines(), line
    assert 'gatewayd_modem_signal_dbm{modem="m2"}' not in text  # unknown signal: no sample, not a fake 0


def test_metrics_count_api_answers_by_code(client: FlaskClient) -> None:
    client.post("/api/v1/messages", json=VALID, headers=AUTH)
    client.post("/api/v1/messages", json=VALID)
    client.post("/api/v1/messages", json=VALID)
    text = client.get("/metrics").get_data(as_text=True).splitlines()
    assert 'gatewayd_api_responses_total{code="202"} 1.0' in text
    assert 'gatewayd_api_responses_total{code="401"} 2.0' in text


def test_two_apps_in_one_process_keep_their_own_metrics(queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    first, second = make_app(queue, snapshots), make_app(queue, [])
    assert 'modem="m1"' in first.test_client().get("/metrics").get_data(as_text=True)
    assert 'modem="m1"' not in second.test_client().get("/metrics").get_data(as_text=True)

