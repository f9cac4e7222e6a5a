"""The send path end to end: queue file -> dispatcher -> owners -> real AT sessions over ptys -> emulator.

Ground truth is the emulated SMSC's record of every part it accepted: a message is "sent once" when
its parts appear there exactly once each.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta

import pytest

from gatewayd.queue.queue import NewMessage
from tests.dispatch.conftest import Harness, wait_until


def went(counts: dict[str, int]) -> int:
    """Messages the network accepted (status reports may already have made them 'delivered')."""
    return counts.get("sent", 0) + counts.get("delivered", 0)


def parts_by_recipient_text(harness: Harness) -> collections.Counter[tuple[str, str]]:
    return collections.Counter((r["to"], r["text"]) for r in harness.emulator.sent())


@pytest.mark.parametrize("kind", ["pty", "tcp"])
def test_every_message_sent_exactly_once_over_two_modems(harness: Harness, kind: str) -> None:
    gateway = harness.gateway(harness.modems(2, latency=0.02, kind=kind))
    texts = {f"+4477009{i:05d}": (f"message {i} " * (30 if i % 5 == 0 else 1)).strip() for i in range(40)}
    for recipient, text in texts.items():
        gateway.queue.enqueue(NewMessage(recipient=recipient, text=text))
    counts = harness.settle(gateway)
    assert went(counts) == 40 and set(counts) <= {"sent", "delivered"}
    log = harness.emulator.sent()
    per_message = collections.defaultdict(list)
    for record in log:
        per_message[record["to"]].append(record)
    for recipient, text in texts.items():
        records = sorted(per_message[recipient], key=lambda r: r["part"])
        assert [r["part"] for r in records] == list(range(1, records[0]["parts"] + 1)), recipient
        assert "".join(r["text"] for r in records) == text
    assert {r["modem"] for r in log} == {"m1", "m2"}  # both modems carried traffic


def test_a_bad_number_fails_alone(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(1))
    harness.emulator.reject_number("+447700900666", 1)
    bad, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900666", text="to nowhere"))
    good = [gateway.queue.enqueue(NewMessage(recipient=f"+44770090{i:04d}", text="fine"))[0] for i in range(5)]
    counts = harness.settle(gateway)
    assert went(counts) == 5 and counts["failed"] == 1
    failed = gateway.queue.get(bad.id)
    assert failed is not None and failed.attempts == 1 and "unassigned" in (failed.last_error or "")
    assert all(gateway.queue.get(m.id).status in ("sent", "delivered") for m in good)  # type: ignore[union-attr]


def test_transient_error_is_retried_with_backoff(harness: Harness) -> None:
    modems = harness.modems(1)
    gateway = harness.gateway(modems)
    harness.emulator.fault("m1", "cms_error", code=500, count=2)
    message, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900123", text="try again"))
    assert went(harness.settle(gateway)) == 1
    final = gateway.queue.get(message.id)
    assert final is not None and final.attempts == 3
    kinds = [e.to_status for e in gateway.queue.events(message.id)]
    assert kinds.count("scheduled") == 2
    assert parts_by_recipient_text(harness) == {("+447700900123", "try again"): 1}


def test_hang_mid_send_marks_unknown_and_the_rest_fail_over(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(2, latency=0.05))
    harness.emulator.fault("m1", "hang", seconds=20)
    for i in range(10):
        gateway.queue.enqueue(NewMessage(recipient=f"+44770090{i:04d}", text=f"m{i}"))
    counts = harness.settle(gateway)
    # At most the one message in flight on the hung modem is unknown: its PDU was written, no answer came.
    assert counts.get("unknown", 0) <= 1 and went(counts) + counts.get("unknown", 0) == 10
    sent = parts_by_recipient_text(harness)
    assert all(count == 1 for count in sent.values())
    # The hung modem left the pool; once it answers again its owner brings it back.
    hung = gateway.owners["m1"]
    wait_until(lambda: not hung.ready.is_set(), timeout=15, what="the hung modem to leave the pool")
    harness.emulator.clear("m1")
    assert hung.ready.wait(30), hung.snapshot.last_error
    assert hung.snapshot.reconnects >= 1


def test_disconnect_mid_flow_loses_and_doubles_nothing(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(2, latency=0.05))
    for i in range(20):
        gateway.queue.enqueue(NewMessage(recipient=f"+44770091{i:04d}", text=f"d{i}"))
    wait_until(lambda: len(harness.emulator.sent()) >= 4, what="some traffic")
    harness.emulator.fault("m1", "disconnect")
    counts = harness.settle(gateway)
    assert went(counts) + counts.get("unknown", 0) == 20 and counts.get("unknown", 0) <= 1
    sent = parts_by_recipient_text(harness)
    assert all(count == 1 for count in sent.values())
    assert len(sent) >= 19


def test_rate_limit_spaces_sends(harness: Harness) -> None:
    modems = harness.modems(1)
    modems[0].rate_per_minute = 120  # one every 0.5 s after a burst of one
    gateway = harness.gateway(modems)
    for i in range(4):
        gateway.queue.enqueue(NewMessage(recipient=f"+44770092{i:04d}", text="paced"))
    harness.settle(gateway)
    sent_at = sorted(
        e.at for m in gateway.queue.list_messages() for e in gateway.queue.events(m.id) if e.to_status == "sent")
    # Lower bounds only: a slow machine can make gaps longer, never shorter.
    assert (sent_at[-1] - sent_at[0]).total_seconds() >= 3 * 0.5 - 0.05


def test_scheduled_message_waits_for_its_time(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(1))
    send_at = datetime.now(UTC) + timedelta(seconds=1.5)
    message, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900123", text="later", send_at=send_at))
    assert message.status == "scheduled"
    assert went(harness.settle(gateway)) == 1
    sent_event = next(e for e in gateway.queue.events(message.id) if e.to_status == "sent")
    assert sent_event.at >= send_at


def test_delivery_reports_roll_up_to_the_message(harness: Harness) -> None:
    modems = harness.modems(1)
    gateway = harness.gateway(modems)
    message, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900123", text="report me " * 40))
    assert message.parts == 3
    wait_until(lambda: gateway.queue.get(message.id).status == "delivered",  # type: ignore[union-attr]
               what="delivery")


def test_duplicate_inbound_is_stored_once(harness: Harness) -> None:
    from gatewayd.modem.pdu import encode_deliver

    gateway = harness.gateway(harness.modems(1))
    received: list[object] = []
    gateway._on_inbound = received.append
    (pdu,) = encode_deliver("+447700900999", "only once", timestamp=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert harness.emulator.deliver_pdu(harness.numbers[0], pdu)
    assert harness.emulator.deliver_pdu(harness.numbers[0], pdu)  # the network delivers it twice
    wait_until(lambda: harness.emulator.status()[0]["storage"]["SM"][0] == 0, what="storage emptied")
    assert len(received) == 1


def test_scheduled_health_checks_see_registration_lost_and_back(harness: Harness) -> None:
    from datetime import timedelta as td

    gateway = harness.gateway(harness.modems(1), health_interval=td(seconds=0.2))
    owner = gateway.owners["m1"]

    def registered() -> bool | None:
        status = owner.snapshot.status
        return None if status is None or status.registration is None else status.registration.registered

    assert registered() is True
    harness.emulator.fault("m1", "no_network", seconds=60)
    wait_until(lambda: registered() is False, timeout=10, what="the health check to see no network")
    harness.emulator.clear("m1")
    wait_until(lambda: registered() is True, timeout=10, what="the health check to see the network back")
    assert gateway.alive()


def test_routing_by_prefix(harness: Harness) -> None:
    modems = harness.modems(2)
    modems[0].prefixes = ("+44",)
    modems[1].prefixes = ("+33", "+49")
    gateway = harness.gateway(modems)
    for i in range(6):
        gateway.queue.enqueue(NewMessage(recipient=f"+4477009{i:05d}", text="uk"))
        gateway.queue.enqueue(NewMessage(recipient=f"+3361234{i:04d}", text="fr"))
    assert went(harness.settle(gateway)) == 12
    assert {(r["text"], r["modem"]) for r in harness.emulator.sent()} == {("uk", "m1"), ("fr", "m2")}


def test_sticky_sender_keeps_a_recipient_on_one_modem(harness: Harness) -> None:
    gateway = harness.gateway(harness.modems(3, latency=0.02), sticky_sender=True)
    recipients = [f"+4477009{i:05d}" for i in range(6)]
    for round_ in range(4):
        for recipient in recipients:
            gateway.queue.enqueue(NewMessage(recipient=recipient, text=f"round {round_}"))
        harness.settle(gateway)
    modems_per_recipient = collections.defaultdict(set)
    for record in harness.emulator.sent():
        modems_per_recipient[record["to"]].add(record["modem"])
    assert all(len(modems) == 1 for modems in modems_per_recipient.values()), modems_per_recipient
    assert len(set().union(*modems_per_recipient.values())) > 1  # and the load is still spread


def test_a_failed_sent_mark_is_recorded_late_never_resent(harness: Harness) -> None:
    """The modem accepted the part (+CMGS: mr) but its record failed (a full disk): the dispatcher records
    it as soon as the database takes writes again, rather than leaving a sent message unknown. (Killed
    before that, recover() makes it unknown from the written mark: tests/faults/test_crash.py.)"""
    from gatewayd.queue.errors import DatabaseUnavailable

    gateway = harness.gateway(harness.modems(1))
    original = gateway.queue.part_sent
    failures = []

    def part_sent_fails_once(message_id: int, part: int, mr: int) -> None:
        if not failures:
            failures.append(message_id)
            raise DatabaseUnavailable("disk I/O error (injected)")
        original(message_id, part, mr)

    gateway.queue.part_sent = part_sent_fails_once  # type: ignore[method-assign]
    message, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900123", text="accepted, not recorded"))
    counts = harness.settle(gateway)
    assert counts in ({"sent": 1}, {"delivered": 1}), counts
    assert len(harness.emulator.sent()) == 1  # the modem sent it once; gatewayd did not send it again
    assert [part.mr for part in gateway.queue.parts(message.id)] == [harness.emulator.sent()[0]["mr"]]


def test_daily_cap_holds_across_a_restart(harness: Harness) -> None:
    modems = harness.modems(1)
    modems[0].daily_cap = 3
    gateway = harness.gateway(modems)
    for i in range(5):
        gateway.queue.enqueue(NewMessage(recipient=f"+44770093{i:04d}", text="capped"))
    wait_until(lambda: len(harness.emulator.sent()) == 3, what="three sends")
    gateway.stop()
    harness.gateways.remove(gateway)
    restarted = harness.gateway(modems)
    assert restarted.pool.slots["m1"].cap.used == 3
    restarted.dispatcher.wake()
    assert restarted.queue.counts_by_status().get("queued") == 2
    assert len(harness.emulator.sent()) == 3  # the cap still holds after the restart
