"""Typed errors of the queue, so callers decide by type, never by parsing messages.

The web layer maps them to answers: ``InvalidMessage`` is a 400, ``IdempotencyConflict`` a 409,
``NotFound`` a 404, ``IllegalTransition`` a 409 and ``DatabaseUnavailable`` a 503 (the client tries
again later: nothing was acknowledged, so nothing is lost).
"""

from __future__ import annotations


class QueueError(Exception):
    """Base class of everything the queue raises on purpose."""


class InvalidMessage(QueueError):
    """A message the queue refuses to store: bad recipient, naive datetime, text beyond 255 parts, ..."""


class IdempotencyConflict(QueueError):
    """The (client, idempotency key) pair is already used by a message with other content."""

    def __init__(self, client: str, key: str, existing_id: int) -> None:
        super().__init__(f"idempotency key {key!r} of client {client!r} already names message {existing_id} "
                         f"with different content")
        self.client = client
        self.key = key
        self.existing_id = existing_id


class AlreadyExists(QueueError):
    """A name that must be unique is taken (an API token name)."""


class NotFound(QueueError):
    def __init__(self, message_id: int) -> None:
        super().__init__(f"no message {message_id}")
        self.message_id = message_id


class IllegalTransition(QueueError):
    """A state change the transition table forbids; raised before anything is written."""

    def __init__(self, message_id: int, from_status: str, to_status: str, why: str = "") -> None:
        detail = f": {why}" if why else ""
        super().__init__(f"message {message_id}: {from_status} -> {to_status} is not allowed{detail}")
        self.message_id = message_id
        self.from_status = from_status
        self.to_status = to_status


class SendRefused(QueueError):
    """Policy refused a claimed message at its next PDU (the recipient opted out meanwhile).

    Nothing of that part was written; the sender suppresses the message with ``reason``.
    """

    def __init__(self, message_id: int, reason: str) -> None:
        super().__init__(f"message {message_id}: {reason}")
        self.message_id = message_id
        self.reason = reason


class DatabaseUnavailable(QueueError):
    """The database cannot take the write now (locked, full, read-only, I/O error).

    Raised only after the transaction was rolled back: the caller may report failure, and nothing of
    the operation is in the database.
    """

    def __init__(self, message: str, *, sqlite_error: str | None = None) -> None:
        super().__init__(message)
        self.sqlite_error = sqlite_error


class QueueClosed(QueueError):
    """The queue was closed (daemon stopping); no further operation runs."""
