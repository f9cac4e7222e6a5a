"""purge(): only finished rows past their age, with parts, events and reports; inbox too."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from gatewayd.queue import Queue, Status
from gatewayd.queue.retention import PURGE_BATCH
from tests.queue.conftest import MODEM, RECIPIENT, Clock, bring_to, deliver_parts, report

DAY = timedelta(days=1)


def _count(db_path: Path, table: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_purge_keeps_active_and_young_rows(queue: Queue, clock: Clock, db_path: Path) -> None:
    old = {status: bring_to(queue, clock, status) for status in Status}
    queue.record_status_report(MODEM, report(200, RECIPIENT, 0, clock.now), "unmatched")
    queue.record_inbound(deliver_parts("old inbound")[0])
    queue.record_event("modem_quarantined", "no answer to AT", modem=MODEM, detail={"after_s": 30})
    clock.advance(31 * DAY)
    queue.record_event("modem_ready", "back", modem=MODEM)
    young = bring_to(queue, clock, Status.DELIVERED)
    fresh_inbound = queue.record_inbound(deliver_parts("new inbound", reference=2)[0])
    finished = [s for s in Status if s not in (Status.QUEUED, Status.SCHEDULED, Status.SENDING)]
    doomed_events = sum(len(queue.events(old[s].id)) for s in finished) + 1  # + the old system event
    counts = queue.purge(messages_older_than=30 * DAY, inbox_older_than=30 * DAY)
    assert counts["events"] == doomed_events
    assert counts["messages"] == len(finished)
    assert counts["inbox"] == 1 and counts["inbox_parts"] == 1 and counts["status_reports"] == 2
    for status, message in old.items():
        assert (queue.get(message.id) is None) == (status in finished), status
    assert queue.get(young.id) is not None and len(queue.events(young.id)) == 5  # 4 changes + report
    assert fresh_inbound is not None and queue.get_inbound(fresh_inbound.id) is not None
    remaining = queue.recent_events(limit=1000)
    assert [e.kind for e in remaining if e.message_id is None] == ["modem_ready"]
    assert len(remaining) == sum(len(queue.events(m.id)) for m in [*old.values(), young]) + 1
    assert queue.check().ok
    assert not any(queue.purge(messages_older_than=30 * DAY, inbox_older_than=30 * DAY).values())


def test_purge_works_in_batches(queue: Queue, clock: Clock, db_path: Path) -> None:
    for _ in range(PURGE_BATCH + 5):
        bring_to(queue, clock, Status.CANCELLED)
    clock.advance(2 * DAY)
    assert queue.purge(messages_older_than=DAY, inbox_older_than=DAY)["messages"] == PURGE_BATCH + 5
    assert _count(db_path, "messages") == 0 and _count(db_path, "events") == 0


def test_settled_webhook_deliveries_age_out_pending_ones_stay(queue: Queue, clock: Clock) -> None:
    from gatewayd.queue import webhook_outbox

    ids = queue._write(lambda tx: [webhook_outbox.enqueue(tx, "http://127.0.0.1:9/h", "status", {"n": i})
                                   for i in range(3)])
    queue.record_webhook_attempt(ids[0], delivered=True, status=204, error=None, retry_at=None)
    queue.record_webhook_attempt(ids[1], delivered=False, status=500, error="HTTP 500", retry_at=None)
    clock.advance(31 * DAY)
    counts = queue.purge(messages_older_than=30 * DAY, inbox_older_than=30 * DAY)
    assert counts["webhook_deliveries"] == 2
    assert [d.id for d in queue.webhooks_due()] == [ids[2]]  # still pending: never purged
