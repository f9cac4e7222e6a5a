"""The queue's public face: one object, one connection, one thread (see worker.py).

Each public method hands a closure to the database thread and waits for its result. A write runs in
one ``BEGIN IMMEDIATE`` transaction and returns only after COMMIT (fsynced, see db.py): when
``enqueue`` returns, the message survives a power cut; when it raises, nothing of it was stored.
All time comes from the injected ``clock`` (aware UTC), read once per operation.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlite_utils import Database

from gatewayd.modem.device import Received
from gatewayd.modem.pdu import SmsStatusReport
from gatewayd.policy.inbound import TrustRules
from gatewayd.policy.send_policy import Consent
from gatewayd.queue import access, contacts, events, inbox, keywords, outbox, parts, reports, retention, webhook_outbox
from gatewayd.queue import check as checks
from gatewayd.queue import reporting as page_queries
from gatewayd.queue import waits as derived_waits
from gatewayd.queue.access import StoredToken
from gatewayd.queue.db import BUSY_TIMEOUT, Synchronous, open_database, read_transaction, rollback, translate
from gatewayd.queue.errors import DatabaseUnavailable, QueueError
from gatewayd.queue.migrations import SCHEMA_VERSION, migrate, schema_version
from gatewayd.queue.model import (
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
)
from gatewayd.queue.timefmt import from_stamp, to_stamp, utcnow
from gatewayd.queue.tx import Tx
from gatewayd.queue.webhook_outbox import WebhookDelivery
from gatewayd.queue.worker import DbWorker, Outcome
from gatewayd.queue.writable import WriteHealth
from gatewayd.queue.writable import probe as probe_space
from gatewayd.webhooks.routes import WebhookRoutes

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["Claim", "Event", "InboundMessage", "Message", "NewMessage", "Part", "Queue"]


class Queue:
    """The durable outbox, inbox and history of one gateway (see the package docstring)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] = utcnow,
                 busy_timeout: float = BUSY_TIMEOUT, max_size_bytes: int | None = None, read_only: bool = False,
                 synchronous: Synchronous = "FULL", rules: TrustRules | None = None,
                 webhooks: WebhookRoutes | None = None) -> None:
        """Open (creating) the database and apply pending migrations.

        ``rules``: the keyword engine, replies and send-time policy (consent, quiet hours, caps) applied
        to inbound messages and at every claim. None: neither (a bare queue, for tools and tests);
        an opted-out number still never gets marketing, and consent can still be recorded.

        ``max_size_bytes``: cap the file; beyond it writes raise DatabaseUnavailable. ``read_only``:
        inspection only (no migrations; writes raise DatabaseUnavailable). ``synchronous`` other than
        FULL gives up durability on power loss: benchmarks only. ``webhooks``: the URLs status changes,
        inbound messages and opt-outs are announced to, written in the change's own transaction.
        """
        self.path = Path(path)
        self._clock = clock
        self._rules = rules
        self._listeners: list[Callable[[], None]] = []
        self._webhooks = webhooks
        self._webhook_listeners: list[Callable[[], None]] = []

        def open_db() -> Database:
            db = open_database(self.path, busy_timeout=busy_timeout, synchronous=synchronous,
                               max_size_bytes=max_size_bytes, read_only=read_only)
            try:
                version = schema_version(db) if read_only else migrate(db)
            except sqlite3.Error as exc:
                db.close()
                raise translate(exc) from exc
            except RuntimeError as exc:
                db.close()
                raise QueueError(str(exc)) from exc
            if version != SCHEMA_VERSION:
                db.close()
                raise QueueError(f"{self.path}: schema version {version}, this gatewayd needs {SCHEMA_VERSION}")
            db.conn.row_factory = sqlite3.Row
            LOGGER.info("queue %s open (schema %d)", self.path, version)
            return db

        self.write_health = WriteHealth(tracked=not read_only)
        """Whether writes are stored (a full disk); see writable.py."""
        self._worker = DbWorker(f"queue-db:{self.path.name}", open_db, lambda db: db.close(),
                                group_fn=self._run_writes)

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Finish operations already handed over, then close the connection."""
        self._worker.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs on the queue thread after each commit that made a message claimable, or
        gave one a due time (the dispatcher must then wake to recompute when to look again).

        It must return at once (set an Event) and must not call the queue.
        """
        self._listeners.append(callback)

    def add_webhook_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs on the queue thread after each commit that wrote a webhook delivery; the
        same rules as add_listener."""
        self._webhook_listeners.append(callback)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise QueueError("the queue's clock returned a naive datetime")
        return now

    def _notify(self, listeners: list[Callable[[], None]] | None = None) -> None:
        for callback in list(self._listeners if listeners is None else listeners):
            try:
                callback()
            except Exception:
                LOGGER.exception("queue listener %r failed", callback)

    def _write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in a write transaction (possibly grouped with others: see worker.py); returns only
        after COMMIT. Raises what ``fn`` raised (nothing of it stored) or DatabaseUnavailable."""
        try:
            result: T = self._worker.call(fn, groupable=True)
        except DatabaseUnavailable as exc:
            self.write_health.failed(exc)
            raise
        return result

    def probe_write(self) -> None:
        """A write that needs space; clears ``write_health`` when stored (raises DatabaseUnavailable if not)."""
        self._write(probe_space)
        self.write_health.probe_succeeded()

    def _run_writes(self, db: Database, ops: list[Callable[[Tx], Any]]) -> list[Outcome]:
        """The worker's group function: ``ops`` in one transaction, each in its own savepoint, one COMMIT."""
        conn = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(False, translate(exc))] * len(ops)
        outcomes: list[Outcome] = []
        done: list[Tx] = []
        for index, op in enumerate(ops):
            savepoint = f"write_{index}"
            conn.execute(f"SAVEPOINT {savepoint}")
            try:
                tx = Tx(conn, self._now(), webhooks=self._webhooks)
                outcomes.append((True, op(tx)))
                done.append(tx)
                conn.execute(f"RELEASE {savepoint}")
            except BaseException as exc:
                error = translate(exc) if isinstance(exc, sqlite3.Error) else exc
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (disk full, I/O error): nothing of the
                    # group was stored, so no one in it may be told otherwise.
                    return [(False, error)] * len(ops)
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
                outcomes.append((False, error))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(conn)
            return [(False, translate(exc))] * len(ops)
        if any(tx.claimable for tx in done):
            self._notify()
        if any(tx.webhooks_enqueued for tx in done):
            self._notify(self._webhook_listeners)
        return outcomes

    def _read(self, fn: Callable[[Tx], T]) -> T:
        def job(db: Database) -> T:
            with read_transaction(db.conn):
                return fn(Tx(db.conn, self._now()))

        return self._worker.call(job)

    # -- accepting --------------------------------------------------------------------------------

    def enqueue(self, new: NewMessage) -> tuple[Message, bool]:
        """Store one message; (row, created). The same (client, idempotency key) returns the first row."""
        return self._write(lambda tx: outbox.enqueue(tx, new))

    def enqueue_many(self, items: list[NewMessage]) -> list[tuple[Message, bool]]:
        """All or nothing, in one transaction (one fsync for the batch)."""
        if not items or any(new.idempotency_key is not None for new in items):
            return self._write(lambda tx: outbox.enqueue_many(tx, items))
        # Validation and the answer in this thread; the database thread only inserts (outbox.PreparedBatch).
        batch = outbox.prepare_batch(items, self._now())
        first, stamp = self._write(lambda tx: (outbox.insert_batch(tx, batch), tx.stamp))
        return outbox.stored_batch(batch, first, stamp)

    # -- the send path ----------------------------------------------------------------------------

    def claim(self, modem_id: str, *, exclude_recipients: frozenset[str] = frozenset(),
              pinned_ok: bool = True, prefixes: tuple[str, ...] = (),
              sticky_among: frozenset[str] | None = None) -> Claim | None:
        """The best queued message for ``modem_id`` (priority, then age) -> 'sending'.

        Messages pinned to another modem (a multipart resume) are skipped; ``pinned_ok=False`` skips
        pinned messages altogether. Recipients in ``exclude_recipients`` are skipped (one in flight).
        With ``prefixes``, only recipients starting with one of them are claimed (routing). With
        ``sticky_among`` (the modems able to send), a recipient last served by another of those modems
        is left for it (sticky sender).
        """
        policy = None if self._rules is None else self._rules.policy
        return self._write(lambda tx: outbox.claim(tx, modem_id, exclude_recipients, pinned_ok, prefixes=prefixes,
                                                   sticky_among=sticky_among, policy=policy))

    def set_concat_ref(self, message_id: int, ref: int) -> None:
        self._write(lambda tx: outbox.set_concat_ref(tx, message_id, ref))

    def part_written(self, message_id: int, part: int, modem_id: str) -> None:
        """Commit "this part's PDU is about to leave" (0-based part). Raising aborts the PDU."""
        self._write(lambda tx: parts.part_written(tx, message_id, part, modem_id))

    def part_sent(self, message_id: int, part: int, mr: int) -> None:
        self._write(lambda tx: parts.part_sent(tx, message_id, part, mr))

    def mark_sent(self, message_id: int) -> Message:
        """Every part accepted -> 'sent' (then straight on if status reports came before this call)."""
        def op(tx: Tx) -> Message:
            sent = outbox.mark_sent(tx, message_id)
            return reports.roll_up(tx, sent) or sent

        return self._write(op)

    def retry_later(self, message_id: int, reason: str, *, delay: timedelta) -> Message:
        return self._write(lambda tx: outbox.retry_later(tx, message_id, reason, delay))

    def fail(self, message_id: int, reason: str, *, code: int | None = None) -> Message:
        """A permanent failure; a +CMS code saying the number does not exist marks it invalid too."""
        def op(tx: Tx) -> Message:
            failed = outbox.fail(tx, message_id, reason, code)
            if code in contacts.INVALID_CMS_CODES:
                contacts.mark_invalid(tx, failed.recipient, reason)
            return failed

        return self._write(op)

    def mark_unknown(self, message_id: int, reason: str) -> Message:
        return self._write(lambda tx: outbox.mark_unknown(tx, message_id, reason))

    def suppress(self, message_id: int, reason: str) -> Message:
        return self._write(lambda tx: outbox.suppress(tx, message_id, reason))

    def hold(self, message_id: int, reason: str, until: datetime) -> Message:
        return self._write(lambda tx: outbox.hold(tx, message_id, reason, until))

    def cancel(self, message_id: int, reason: str = "cancelled") -> Message:
        return self._write(lambda tx: outbox.cancel(tx, message_id, reason))

    def retry(self, message_id: int, reason: str = "operator retry") -> Message:
        return self._write(lambda tx: outbox.retry(tx, message_id, reason))

    # -- time-driven ------------------------------------------------------------------------------

    def promote_due(self) -> int:
        """Scheduled rows whose time came -> 'queued' (at most outbox.DUE_BATCH per call)."""
        return self._write(outbox.promote_due)

    def next_due(self) -> datetime | None:
        stamp = self._read(outbox.next_due)
        return None if stamp is None else from_stamp(stamp)

    def expire_due(self) -> int:
        return self._write(outbox.expire_due)

    def release_waits(self, reason: str) -> int:
        """After a clock step: retry backoffs and policy holds -> 'queued', to be judged again (waits.py)."""
        released = 0
        while True:
            batch = self._write(lambda tx: derived_waits.release_derived(tx, reason))
            released += batch
            if batch < derived_waits.RELEASE_BATCH:
                return released

    def recover(self) -> dict[str, int]:
        """At start, before any claim: settle what a crash left in 'sending' (see outbox.recover)."""
        return self._write(outbox.recover)

    # -- receiving --------------------------------------------------------------------------------

    def record_inbound(self, received: Received) -> InboundMessage | None:
        """Store one received part; the whole message once complete, matched and acted on (keywords.py)
        in the same transaction."""
        def op(tx: Tx) -> InboundMessage | None:
            message = inbox.record(tx, received)
            return None if message is None else self._act_on(tx, message)

        return self._write(op)

    def _act_on(self, tx: Tx, message: InboundMessage) -> InboundMessage:
        return message if self._rules is None else keywords.apply(tx, message, self._rules)

    def record_status_report(self, modem_id: str, report: SmsStatusReport, pdu: str) -> Message | None:
        return self._write(lambda tx: reports.record(tx, modem_id, report, pdu))

    def expire_inbound_groups(self, max_age: timedelta) -> list[InboundMessage]:
        return self._write(lambda tx: [self._act_on(tx, m) for m in inbox.expire_groups(tx, max_age)])

    def get_inbound(self, inbox_id: int) -> InboundMessage | None:
        return self._read(lambda tx: inbox.get(tx, inbox_id))

    def list_inbound(self, *, limit: int = 100, after_id: int | None = None,
                     since: datetime | None = None) -> list[InboundMessage]:
        return self._read(lambda tx: inbox.list_inbox(tx, limit=limit, after_id=after_id, since=since))

    # -- contacts -----------------------------------------------------------------------------------

    def contact(self, number: str) -> Contact | None:
        return self._read(lambda tx: contacts.get(tx, number))

    def set_consent(self, number: str, consent: Consent, via: str, *, detail: dict[str, Any] | None = None,
                    welcome: bool | None = None) -> ConsentChange:
        """Record marketing consent for ``number`` (E.164). An opt-out suppresses queued marketing to it in
        the same transaction. An opt-in sends the configured welcome message once per change when
        ``welcome`` (default: only for opt-ins through the API; an import or an operator recording a
        paper form must not text a whole list at once)."""
        text = None if self._rules is None else self._rules.replies.welcome
        wanted = via == "api" if welcome is None else welcome
        reply = text if consent == Consent.OPTED_IN and wanted else None
        return self._write(lambda tx: contacts.set_consent(tx, number, consent, via, detail=detail, reply=reply))

    def consent_history(self, number: str) -> list[ConsentEvent]:
        return self._read(lambda tx: contacts.consent_history(tx, number))

    def mark_invalid(self, number: str, reason: str) -> None:
        self._write(lambda tx: contacts.mark_invalid(tx, number, reason))

    def clear_invalid(self, number: str) -> bool:
        return self._write(lambda tx: contacts.clear_invalid(tx, number))

    def list_invalid_numbers(self, *, limit: int = 100, after: str | None = None) -> list[Contact]:
        return self._read(lambda tx: contacts.list_invalid(tx, limit=limit, after=after))

    def list_unmatched_inbound(self, *, limit: int = 100, after_id: int | None = None,
                               newest_first: bool = False) -> list[InboundMessage]:
        """Inbound messages no keyword matched (oldest first, or newest first): what an operator should read."""
        return self._read(lambda tx: inbox.list_inbox(tx, limit=limit, after_id=after_id, unmatched=True,
                                                      newest_first=newest_first))

    # -- access: API tokens and page operators (hashes only; see access.py) ----------------------------

    def create_token(self, name: str, token_sha256: str, scopes: frozenset[str]) -> StoredToken:
        return self._write(lambda tx: access.create_token(tx, name, token_sha256, scopes))

    def list_tokens(self) -> list[StoredToken]:
        return self._read(access.list_tokens)

    def revoke_token(self, name: str) -> bool:
        return self._write(lambda tx: access.revoke_token(tx, name))

    def active_tokens(self) -> list[StoredToken]:
        return self._read(access.active_tokens)

    def set_operator(self, username: str, password_hash: str) -> bool:
        return self._write(lambda tx: access.set_operator(tx, username, password_hash))

    def operator_hash(self, username: str) -> str | None:
        return self._read(lambda tx: access.operator_hash(tx, username))

    def list_operators(self) -> list[tuple[str, str, str]]:
        return self._read(access.list_operators)

    def remove_operator(self, username: str) -> bool:
        return self._write(lambda tx: access.remove_operator(tx, username))

    def operator_count(self) -> int:
        return self._read(access.operator_count)

    # -- webhook outbox (rows are written by the changes they report; see webhook_outbox.py) ------------

    def webhooks_due(self, *, limit: int = 100) -> list[WebhookDelivery]:
        return self._read(lambda tx: webhook_outbox.due(tx, limit=limit))

    def webhooks_next_due(self) -> datetime | None:
        return self._read(webhook_outbox.next_due)

    def record_webhook_attempt(self, delivery_id: int, *, delivered: bool, status: int | None, error: str | None,
                               retry_at: datetime | None) -> None:
        self._write(lambda tx: webhook_outbox.record_attempt(tx, delivery_id, delivered=delivered, status=status,
                                                             error=error, retry_at=retry_at))

    def failing_webhooks(self, *, limit: int = 50) -> list[WebhookDelivery]:
        return self._read(lambda tx: webhook_outbox.failing(tx, limit=limit))

    def webhook_counts(self) -> dict[str, int]:
        return self._read(webhook_outbox.counts)

    # -- housekeeping -----------------------------------------------------------------------------

    def purge(self, *, messages_older_than: timedelta, inbox_older_than: timedelta) -> dict[str, int]:
        """Delete old finished rows in batches of retention.PURGE_BATCH; returns rows deleted per table."""
        now = self._now()
        messages_before = to_stamp(now - messages_older_than)
        inbox_before = to_stamp(now - inbox_older_than)
        totals = dict.fromkeys(retention.TABLES, 0)
        while True:
            counts = self._write(lambda tx: retention.purge_batch(tx, messages_before=messages_before,
                                                                  inbox_before=inbox_before))
            for table, n in counts.items():
                totals[table] += n
            if not any(counts.values()):
                return totals

    def check(self) -> CheckReport:
        return self._read(lambda tx: checks.check(tx, str(self.path)))

    # -- reading ----------------------------------------------------------------------------------

    def get(self, message_id: int) -> Message | None:
        return self._read(lambda tx: outbox.get(tx, message_id))

    def events(self, message_id: int) -> list[Event]:
        return self._read(lambda tx: events.for_message(tx, message_id))

    def record_event(self, kind: str, reason: str, *, modem: str | None = None,
                     detail: dict[str, Any] | None = None) -> None:
        """A modem or system event (modem quarantined, SIM swapped, ...) in the same timeline."""
        self._write(lambda tx: events.record(tx, message_id=None, kind=kind, reason=reason, modem=modem,
                                             detail=detail))

    def recent_events(self, *, limit: int = 100, after_id: int | None = None) -> list[Event]:
        return self._read(lambda tx: events.recent(tx, limit=limit, after_id=after_id))

    def parts(self, message_id: int) -> list[Part]:
        return self._read(lambda tx: parts.list_parts(tx, message_id))

    def list_messages(self, *, status: str | None = None, recipient: str | None = None,
                      since: datetime | None = None, limit: int = 100, after_id: int | None = None,
                      descending: bool = False, client: str | None = None) -> list[Message]:
        """Cursor pagination by id; ``descending`` lists newest first (``after_id`` then means older).
        ``client``: only that API client's messages."""
        return self._read(lambda tx: outbox.list_messages(tx, status=status, recipient=recipient, since=since,
                                                          limit=limit, after_id=after_id, descending=descending,
                                                          client=client))

    def counts_by_status(self) -> dict[str, int]:
        return self._read(outbox.counts_by_status)

    def parts_sent_since(self, modem_id: str, since: datetime) -> int:
        """Message parts ``modem_id`` got accepted since ``since``: a restart must not reset daily caps."""
        return self._read(lambda tx: int(tx.conn.execute(
            "SELECT count(*) FROM message_parts WHERE modem = ? AND sent_at >= ?",
            (modem_id, to_stamp(since))).fetchone()[0]))

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when ANOTHER connection (another process, such as
        ``gatewayd send``) committed. Cheap (no I/O beyond the WAL index); the dispatcher uses it to
        notice messages it was not told about."""
        return self._worker.call(lambda db: int(db.conn.execute("PRAGMA data_version").fetchone()[0]))

    # -- page queries (read-only, for the operator pages; see reporting.py) -------------------------------

    def modem_activity(self, since: datetime) -> dict[str, page_queries.ModemActivity]:
        """Per modem: parts sent and messages that ended in error since ``since``."""
        return self._read(lambda tx: page_queries.modem_activity(tx, since))

    def parts_per_minute(self, since: datetime) -> dict[str, int]:
        return self._read(lambda tx: page_queries.parts_per_minute(tx, since))

    def opt_outs_since(self, since: datetime) -> int:
        return self._read(lambda tx: page_queries.opt_outs_since(tx, since))

    def consent_ledger(self, *, limit: int = 100, before_id: int | None = None,
                       to_state: str | None = None) -> list[ConsentEvent]:
        return self._read(lambda tx: page_queries.consent_ledger(tx, limit=limit, before_id=before_id,
                                                              to_state=to_state))

    def list_contacts(self, *, limit: int = 100, prefix: str = "", after: str | None = None,
                      marketing: str | None = None) -> list[Contact]:
        return self._read(lambda tx: page_queries.list_contacts(tx, limit=limit, prefix=prefix, after=after,
                                                             marketing=marketing))

    def recent_inbound(self, *, limit: int = 100, before_id: int | None = None) -> list[InboundMessage]:
        """Inbound messages newest first (``before_id``: the last id of the previous page)."""
        return self._read(lambda tx: inbox.list_inbox(tx, limit=limit, after_id=before_id, newest_first=True))
