"""API tokens, operators and the webhook outbox tables, through the Queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gatewayd.queue import Queue
from gatewayd.queue.errors import AlreadyExists, InvalidMessage
from tests.queue.conftest import Clock

HASH_A = "a" * 64
HASH_B = "b" * 64


def test_tokens_are_created_listed_and_revoked_by_name(queue: Queue) -> None:
    created = queue.create_token("crm", HASH_A, frozenset({"send", "read"}))
    assert (created.name, created.scopes, created.revoked_at) == ("crm", frozenset({"send", "read"}), None)
    with pytest.raises(AlreadyExists, match="crm"):
        queue.create_token("crm", HASH_B, frozenset({"send"}))
    with pytest.raises(InvalidMessage, match="scopes"):
        queue.create_token("other", HASH_B, frozenset({"root"}))
    with pytest.raises(InvalidMessage, match="scopes"):
        queue.create_token("other", HASH_B, frozenset())
    assert [t.name for t in queue.active_tokens()] == ["crm"]
    assert queue.revoke_token("crm")
    assert not queue.revoke_token("crm")
    assert queue.active_tokens() == []
    (listed,) = queue.list_tokens()
    assert listed.revoked_at is not None


def test_operators_are_added_and_their_password_changed(queue: Queue) -> None:
    assert queue.operator_count() == 0
    assert queue.set_operator("ana", "scrypt$1")
    assert not queue.set_operator("ana", "scrypt$2")
    assert queue.operator_hash("ana") == "scrypt$2"
    assert queue.operator_hash("bob") is None
    assert queue.operator_count() == 1


def test_webhook_deliveries_retry_then_deliver_or_give_up(queue: Queue, clock: Clock) -> None:
    from gatewayd.queue import webhook_outbox

    ids = queue._write(lambda tx: [webhook_outbox.enqueue(tx, "http://127.0.0.1:9/hook", "status", {"id": i})
                                   for i in range(2)])
    assert [d.id for d in queue.webhooks_due()] == ids
    queue.record_webhook_attempt(ids[0], delivered=False, status=500, error="HTTP 500",
                                 retry_at=clock.now + timedelta(seconds=30))
    queue.record_webhook_attempt(ids[1], delivered=False, status=None, error="connection refused", retry_at=None)
    assert queue.webhooks_due() == []
    assert queue.webhooks_next_due() == clock.now + timedelta(seconds=30)
    assert [d.id for d in queue.failing_webhooks()] == [ids[1], ids[0]]
    clock.advance(timedelta(seconds=30))
    (retry,) = queue.webhooks_due()
    assert (retry.id, retry.attempts, retry.payload) == (ids[0], 1, {"id": 0})
    queue.record_webhook_attempt(ids[0], delivered=True, status=204, error=None, retry_at=None)
    assert queue.webhook_counts() == {"pending": 0, "delivered": 1, "gave_up": 1}
    assert [d.id for d in queue.failing_webhooks()] == [ids[1]]
