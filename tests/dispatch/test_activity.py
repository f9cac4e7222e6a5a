"""/metrics shows what the gateway did: attempts by outcome, parts, send duration, inbound, reports."""

from __future__ import annotations

from prometheus_client import generate_latest

from gatewayd.queue.queue import NewMessage
from tests.dispatch.conftest import Harness, wait_until
from web.metrics import build_registry

LONG = "x" * 200  # two GSM-7 parts


def test_sends_inbound_and_reports_are_counted_per_modem(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(1, latency=0.05))
    harness.emulator.reject_number("+447911000030", 30)
    gateway.queue.enqueue(NewMessage("+447911123456", LONG))
    gateway.queue.enqueue(NewMessage("+447911000030", "to nobody"))
    harness.settle(gateway)
    harness.emulator.deliver(harness.numbers[0], "+447911123456", "hello back")
    wait_until(lambda: len(gateway.queue.list_inbound()) == 1, what="the inbound message")
    wait_until(lambda: gateway.queue.counts_by_status().get("delivered", 0) == 1, what="the delivery report")

    registry = build_registry(gateway.queue, lambda: [o.snapshot for o in gateway.owners.values()],
                              gateway.activity)
    text = generate_latest(registry).decode()
    lines = set(text.splitlines())
    assert 'gatewayd_send_attempts_total{modem="m1",outcome="sent"} 1.0' in lines
    assert 'gatewayd_send_attempts_total{modem="m1",outcome="failed"} 1.0' in lines
    assert 'gatewayd_parts_sent_total{modem="m1"} 2.0' in lines
    assert 'gatewayd_send_seconds_count{modem="m1"} 2.0' in lines
    seconds = next(float(line.split()[-1]) for line in lines if line.startswith('gatewayd_send_seconds_sum{'))
    assert seconds >= 0.1  # two parts, each held 0.05 s by the emulated network
    assert 'gatewayd_inbound_messages_total{modem="m1"} 1.0' in lines
    assert 'gatewayd_delivery_reports_total{modem="m1",result="delivered"} 1.0' in lines
    assert "gatewayd_opt_outs_today 0.0" in lines
