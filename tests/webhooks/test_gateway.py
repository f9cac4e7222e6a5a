"""The wiring: a Gateway with routes and a secret posts what happens on an emulated modem, and stops cleanly."""

from __future__ import annotations

from pathlib import Path

from gatewayd.emulator.emulator import Emulator
from gatewayd.gateway import Gateway, GatewayPlan, ModemPlan
from gatewayd.modem.device import ModemSettings
from gatewayd.owner import ModemSpec
from gatewayd.queue import NewMessage
from gatewayd.webhooks.routes import WebhookRoutes
from gatewayd.webhooks.signing import SIGNATURE_HEADER, verify
from tests.webhooks.conftest import SECRET, Receiver

READY_TIMEOUT = 15.0
SEND_TIMEOUT = 10.0
MODEM_NUMBER = "+15550000001"
RECIPIENT = "+447700900123"
SENDER = "+447700900555"


def test_a_gateway_announces_sends_reports_and_a_stop_from_its_modem(tmp_path: Path, receiver: Receiver) -> None:
    with Emulator(log_path=str(tmp_path / "smsc.jsonl")) as emulator:
        link = tmp_path / "modem1"
        emulator.add_modem(number=MODEM_NUMBER, pty=str(link), modem_id="m1")
        routes = WebhookRoutes(inbound=(receiver.url + "/in",), status=(receiver.url + "/status",),
                               opt_out=(receiver.url + "/stop",))
        spec = ModemSpec(modem_id="m1", port=str(link), settings=ModemSettings(send_timeout=2.0))
        gateway = Gateway(GatewayPlan(database=tmp_path / "gatewayd.db", state_dir=tmp_path / "state",
                                      modems=[ModemPlan(spec=spec)], webhooks=routes, webhook_secret=SECRET))
        gateway.start()
        try:
            assert gateway.owners["m1"].ready.wait(READY_TIMEOUT)
            assert gateway.webhooks is not None and gateway.webhooks.running
            message, _ = gateway.queue.enqueue(NewMessage(RECIPIENT, "hello"))
            sent, delivered = receiver.wait_for(2, SEND_TIMEOUT)
            assert [(r.path, r.json["id"], r.json["status"]) for r in (sent, delivered)] == [
                ("/hook/status", message.id, "sent"), ("/hook/status", message.id, "delivered")]

            emulator.deliver(MODEM_NUMBER, SENDER, "STOP")
            inbound, opt_out = receiver.wait_for(4, SEND_TIMEOUT)[2:]
            assert (inbound.path, inbound.json["from"], inbound.json["intent"]) == ("/hook/in", SENDER, "opt_out")
            assert (opt_out.path, opt_out.json["number"], opt_out.json["via"]) == ("/hook/stop", SENDER, "keyword")
            for request in receiver.requests:
                assert verify(SECRET, request.headers[SIGNATURE_HEADER], request.body)
        finally:
            gateway.stop()
        assert not gateway.webhooks.running
