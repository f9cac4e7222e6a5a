"""/healthz, /metrics and the status page read the queue and the modem snapshots as they are now."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import NewMessage, Queue
from tests.web.conftest import AUTH, VALID, make_app, ready_modem


def test_healthz_ok_with_a_ready_modem(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"database": "ok", "modems_ready": 1})


def test_healthz_503_without_a_ready_modem(client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots[:] = [ModemSnapshot(modem_id="m1", port="/dev/ttyUSB0", state=ModemState.QUARANTINED)]
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "ok", "modems_ready": 0, "reason": "no modem is ready"}
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


def test_page_shows_modems_and_counts(client: FlaskClient, queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    snapshots.append(ModemSnapshot(modem_id="m2-<b>", port="", state=ModemState.FAILED,
                                   last_error="SIM PIN rejected <script>"))
    for text in ("a", "b", "c"):
        queue.enqueue(NewMessage(recipient="+447911123456", text=text))
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="viewport"' in page
    assert "<td>m1</td>" in page and "TestNet" in page and "-73 dBm" in page
    assert "m2-&lt;b&gt;" in page and "SIM PIN rejected &lt;script&gt;" in page  # escaped, never markup
    assert '<td class="num" id="count-queued">3</td>' in page
    assert '<td class="num" id="count-sent">0</td>' in page


def test_page_without_modems_says_so(client: FlaskClient, snapshots: list[ModemSnapshot]) -> None:
    snapshots.clear()
    assert "No modems are configured" in client.get("/").get_data(as_text=True)


def test_the_page_shows_unmatched_replies_and_invalid_numbers_escaped(db_path: object,
                                                                     snapshots: list[ModemSnapshot]) -> None:
    from gatewayd.policy.inbound import TrustRules
    from tests.queue.conftest import deliver_parts

    with Queue(db_path, rules=TrustRules()) as queue:  # type: ignore[arg-type]
        for reference, text in enumerate(("please don't text me <b>again</b>", "STOP")):
            for part in deliver_parts(text, sender="+447911123456", reference=reference):
                queue.record_inbound(part)
        queue.mark_invalid("+447911000001", "+CMS ERROR: 1 (unassigned number)")
        client = make_app(queue, snapshots).test_client()
        page = client.get("/").get_data(as_text=True)
        assert "please don&#39;t text me &lt;b&gt;again&lt;/b&gt;" in page
        assert page.count("+447911123456") == 1  # the STOP was matched: not on the operator's list
        assert "+447911000001" in page and "unassigned number" in page
        rows = list(csv.DictReader(io.StringIO(client.get("/invalid-numbers.csv").get_data(as_text=True))))
        assert [(r["number"], r["reason"], r["failed_reports"]) for r in rows] == [
            ("+447911000001", "+CMS ERROR: 1 (unassigned number)", "0")]
        assert rows[0]["marked_at"].endswith("Z")


def test_the_page_says_none_when_there_is_nothing_to_read(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'id="unmatched-none"' in page and 'id="invalid-none"' in page
