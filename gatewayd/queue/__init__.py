"""The durable SQLite queue: outbox, inbox, status reports and the history of every change.

Promise: nothing lost, nothing doubled. A message is committed (fsynced) before ``enqueue`` returns;
before a PDU leaves a modem its part is marked written; after the modem accepts it the TP-MR is
recorded; so after a crash, kill -9 or power cut ``recover()`` knows which parts may be sent again,
which never, and which are unknown (never retried automatically).

Modules: db (open, pragmas, transactions), migrations (schema), worker (the connection's thread),
model (types, states, the transition table), outbox, parts, inbox, reports, events, retention,
check; ``Queue`` in queue.py ties them together.
"""

from gatewayd.queue.errors import (
    DatabaseUnavailable,
    IdempotencyConflict,
    IllegalTransition,
    InvalidMessage,
    NotFound,
    QueueClosed,
    QueueError,
    SendRefused,
)
from gatewayd.queue.model import (
    TRANSITIONS,
    CheckReport,
    Claim,
    ConsentChange,
    ConsentEvent,
    Contact,
    Event,
    InboundMessage,
    Message,
    NewMessage,
    Part,
    PartState,
    Status,
)
from gatewayd.queue.queue import Queue

__all__ = [
    "TRANSITIONS",
    "CheckReport",
    "Claim",
    "ConsentChange",
    "ConsentEvent",
    "Contact",
    "DatabaseUnavailable",
    "Event",
    "IdempotencyConflict",
    "IllegalTransition",
    "InboundMessage",
    "InvalidMessage",
    "Message",
    "NewMessage",
    "NotFound",
    "Part",
    "PartState",
    "Queue",
    "QueueClosed",
    "QueueError",
    "SendRefused",
    "Status",
]
