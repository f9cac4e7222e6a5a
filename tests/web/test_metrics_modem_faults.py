"""A modem's faults as an operator sees them: /metrics, GET /api/v1/modems and the dashboard card all
read the same snapshot (the daemon-level proofs are in tests/faults/test_matrix.py)."""

from __future__ import annotations

import re
from dataclasses import replace

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from gatewayd.owner import ModemSnapshot, ModemState, SimStatus
from tests.web.conftest import AUTH, ready_modem

Samples = list[tuple[str, dict[str, str], float]]

WRONG_PIN = ModemSnapshot(modem_id="m2", port="/dev/ttyUSB1", state=ModemState.FAILED, sim=SimStatus.PIN_WRONG,
                          last_error="modem m2: SIM rejected the configured PIN", connect_failures=1)
QUARANTINED = ModemSnapshot(modem_id="m3", port="/dev/ttyUSB2", state=ModemState.QUARANTINED, sim=SimStatus.READY,
                            connect_failures=7, stray_lines=4, status_reports=11, reconnects=2)


def scrape(client: FlaskClient) -> Samples:
    text = client.get("/metrics").get_data(as_text=True)
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def metric(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(value for sample, have, value in samples if sample == name and labels.items() <= have.items())


def test_sim_state_connect_failures_noise_and_reports_are_on_metrics(client: FlaskClient,
                                                                    snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [replace(ready_modem("m1"), sim=SimStatus.READY), WRONG_PIN, QUARANTINED]
    samples = scrape(client)
    for modem, sim in (("m1", "ready"), ("m2", "pin_wrong"), ("m3", "ready")):
        assert metric(samples, "gatewayd_modem_sim_state", modem=modem, state=sim) == 1
        assert metric(samples, "gatewayd_modem_sim_state", modem=modem) == 1, "exactly one state per modem"
    assert metric(samples, "gatewayd_modem_sim_state", modem="m2", state="ready") == 0
    assert metric(samples, "gatewayd_modem_state", modem="m3", state="quarantined") == 1
    expected = {"gatewayd_modem_connect_failures_total": (0, 1, 7), "gatewayd_modem_stray_lines_total": (0, 0, 4),
                "gatewayd_modem_status_reports_total": (0, 0, 11)}
    for name, values in expected.items():
        assert tuple(metric(samples, name, modem=m) for m in ("m1", "m2", "m3")) == values, name


def test_a_modem_not_yet_answered_has_an_unknown_sim(client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [ModemSnapshot(modem_id="m1", port="/dev/ttyUSB0", state=ModemState.STARTING)]
    samples = scrape(client)
    assert metric(samples, "gatewayd_modem_sim_state", modem="m1", state="unknown") == 1
    assert client.get("/api/v1/modems", headers=AUTH).get_json()["items"][0]["sim"] == "unknown"


def test_the_api_names_the_sim_state(client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [WRONG_PIN, QUARANTINED]
    items = {item["id"]: item for item in client.get("/api/v1/modems", headers=AUTH).get_json()["items"]}
    assert (items["m2"]["state"], items["m2"]["sim"]) == ("failed", "pin_wrong")
    assert "rejected" in items["m2"]["last_error"]
    assert (items["m3"]["state"], items["m3"]["sim"]) == ("quarantined", "ready")


def test_the_card_shows_the_sim_state(page_client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [replace(ready_modem("m1"), sim=SimStatus.READY), WRONG_PIN,
                    replace(QUARANTINED, modem_id="m4", sim=SimStatus.NOT_INSERTED)]
    page = page_client.get("/live").get_data(as_text=True)
    cards = {mid: (cls, text) for mid, cls, text in
             re.findall(r'id="modem-(\w+)".*?<dt>SIM state</dt><dd class="([^"]*)">([^<]*)</dd>', page, re.S)}
    assert cards == {"m1": ("sim", "ready"), "m2": ("sim bad", "PIN wrong"), "m4": ("sim bad", "not inserted")}
