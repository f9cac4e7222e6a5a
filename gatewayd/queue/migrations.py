"""The schema, as numbered migrations applied at start (sqlite-utils ``Migrations``).

Rules: a migration is never edited once released; a change is a new function appended below. The
schema version is the number of migrations applied, which ``gatewayd db check`` compares with
``SCHEMA_VERSION`` (a database newer than this gatewayd is refused rather than misread).

Index notes (each index costs every write, so each is here for one query):

- ``messages_claimable``: partial, only rows in 'queued', in claim order. claim() reads its first
  entries, so a claim costs the same with a thousand or a million messages in the table, and the
  index stays as small as the backlog.
- ``messages_due`` / ``messages_expiring``: partial, only rows that can still become due or expire:
  promote_due(), next_due() and expire_due() read a range, not the table.
- ``messages_idempotency``: partial UNIQUE on (client, key) where a key was given: the database
  itself refuses a second row for the same key.
- ``messages_status`` / ``messages_recipient``: list_messages() filters with id cursor pagination.
- ``messages_purgeable``: partial on updated_at for rows with no work left: purge() range-scans it.
- ``message_parts_reports``: (modem, mr, sent_at) where an mr is known: status-report matching.
- ``events_message``: one message's history, and purge.
- ``inbox_parts_open``: partial, only parts not yet joined into a message: reassembly and expiry.
- ``inbox_unmatched``: partial, inbound messages no keyword matched: the operator's to-read list.
- ``messages_marketing_went``: partial, marketing that went, by recipient and time: frequency caps
  count a recipient's last week with one range scan.
- ``contacts_invalid``: partial, numbers marked invalid: the hygiene list.

``message_counts`` is kept by triggers so that counts_by_status() (the status page, metrics scrapes)
reads ten rows instead of counting a million; check() verifies it against a real count.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATION_SET = "gatewayd.queue"
MIGRATIONS = Migrations(MIGRATION_SET)

_STATUSES = "'queued','scheduled','sending','sent','delivered','failed','expired','cancelled','suppressed','unknown'"
_ACTIVE = "'queued','scheduled','sending'"

_INITIAL = f"""
-- AUTOINCREMENT: ids are handed to clients (API, webhooks); after a purge they must never name
-- a different message, which plain rowid reuse could do.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client          TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT,
    recipient       TEXT    NOT NULL
                    CHECK (recipient GLOB '+[0-9]*' AND substr(recipient, 2) NOT GLOB '*[^0-9]*'
                           AND length(recipient) BETWEEN 2 AND 21),
    text            TEXT    NOT NULL,
    class           TEXT    NOT NULL DEFAULT 'transactional' CHECK (class IN ('transactional', 'marketing')),
    priority        INTEGER NOT NULL DEFAULT 0,
    send_at         TEXT,
    expires_at      TEXT,
    metadata        TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    parts           INTEGER NOT NULL CHECK (parts BETWEEN 1 AND 255),
    encoding        TEXT    NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    status          TEXT    NOT NULL CHECK (status IN ({_STATUSES})),
    attempts        INTEGER NOT NULL DEFAULT 0,
    modem           TEXT,
    pinned_modem    TEXT,
    concat_ref      INTEGER,
    due_at          TEXT    CHECK ((status = 'scheduled') = (due_at IS NOT NULL)),
    last_error      TEXT,
    error_code      INTEGER,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX messages_claimable ON messages (priority DESC, id) WHERE status = 'queued';
CREATE INDEX messages_due ON messages (due_at) WHERE status = 'scheduled';
CREATE INDEX messages_expiring ON messages (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('queued', 'scheduled');
CREATE UNIQUE INDEX messages_idempotency ON messages (client, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_status ON messages (status, id);
CREATE INDEX messages_recipient ON messages (recipient, id);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_purgeable ON messages (updated_at) WHERE status NOT IN ({_ACTIVE});

-- Part rows are created when a part is first written (not at enqueue): half the writes per
-- accepted message, and a missing row simply means "pending".
CREATE TABLE message_parts (
    message_id     INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    part           INTEGER NOT NULL CHECK (part >= 0),
    state          TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'written', 'sent', 'delivered', 'failed')),
    modem          TEXT,
    pdu_written_at TEXT,
    mr             INTEGER CHECK (mr IS NULL OR mr BETWEEN 0 AND 255),
    sent_at        TEXT,
    report_status  INTEGER,
    reported_at    TEXT,
    PRIMARY KEY (message_id, part)
) WITHOUT ROWID;
CREATE INDEX message_parts_reports ON message_parts (modem, mr, sent_at) WHERE mr IS NOT NULL;

-- Append-only history: every state change of a message writes one row in the same transaction.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    message_id  INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    reason      TEXT,
    modem       TEXT,
    detail      TEXT    CHECK (detail IS NULL OR json_valid(detail))
);
CREATE INDEX events_message ON events (message_id, id);
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE message_counts (
    status TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO message_counts (status, n)
    SELECT value, 0 FROM json_each(json_array({_STATUSES}));
CREATE TRIGGER message_counts_insert AFTER INSERT ON messages
BEGIN
    UPDATE message_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER message_counts_update AFTER UPDATE OF status ON messages WHEN OLD.status <> NEW.status
BEGIN
    UPDATE message_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE message_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER message_counts_delete AFTER DELETE ON messages
BEGIN
    UPDATE message_counts SET n = n - 1 WHERE status = OLD.status;
END;

-- Every SMS-DELIVER part once. dedupe_key: sha256 of modem, sender, SC time stamp, concat IE and user
-- data, so the same PDU read from storage and from +CMT, or again after a crash, is one row.
CREATE TABLE inbox_parts (
    id           INTEGER PRIMARY KEY,
    dedupe_key   TEXT    NOT NULL UNIQUE,
    modem        TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    sc_timestamp TEXT    NOT NULL,
    concat_ref   INTEGER,
    concat_total INTEGER NOT NULL DEFAULT 1,
    concat_seq   INTEGER NOT NULL DEFAULT 1,
    concat_bits  INTEGER NOT NULL DEFAULT 0,
    encoding     TEXT    NOT NULL,
    compressed   INTEGER NOT NULL DEFAULT 0,
    data         BLOB    NOT NULL,
    text         TEXT    NOT NULL,
    pdu          TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    inbox_id     INTEGER REFERENCES inbox (id) ON DELETE CASCADE
);
CREATE INDEX inbox_parts_open ON inbox_parts (modem, sender, concat_ref, concat_total, concat_bits, concat_seq)
    WHERE inbox_id IS NULL;
CREATE INDEX inbox_parts_message ON inbox_parts (inbox_id) WHERE inbox_id IS NOT NULL;

CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    modem          TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    sc_timestamp   TEXT    NOT NULL,
    received_at    TEXT    NOT NULL,
    parts          INTEGER NOT NULL,
    parts_expected INTEGER NOT NULL,
    complete       INTEGER NOT NULL CHECK (complete IN (0, 1)),
    encoding       TEXT    NOT NULL,
    pdus           TEXT    NOT NULL CHECK (json_valid(pdus))
);
CREATE INDEX inbox_received ON inbox (received_at);

-- Every status report once (dedupe on its decoded fields), matched to a part or left unmatched.
CREATE TABLE status_reports (
    id             INTEGER PRIMARY KEY,
    dedupe_key     TEXT    NOT NULL UNIQUE,
    modem          TEXT    NOT NULL,
    mr             INTEGER NOT NULL,
    recipient      TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    sc_timestamp   TEXT    NOT NULL,
    discharge_time TEXT    NOT NULL,
    pdu            TEXT    NOT NULL,
    received_at    TEXT    NOT NULL,
    message_id     INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    part           INTEGER
);
CREATE INDEX status_reports_received ON status_reports (received_at);
CREATE INDEX status_reports_message ON status_reports (message_id) WHERE message_id IS NOT NULL;
"""


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.executescript(_INITIAL)


_TRUST = """
-- One row per number the gateway knows something about: marketing consent and list hygiene.
CREATE TABLE contacts (
    number         TEXT    PRIMARY KEY
                   CHECK (number GLOB '+[0-9]*' AND substr(number, 2) NOT GLOB '*[^0-9]*'
                          AND length(number) BETWEEN 2 AND 21),
    marketing      TEXT    NOT NULL DEFAULT 'unknown' CHECK (marketing IN ('unknown', 'opted_in', 'opted_out')),
    consent_via    TEXT,
    consent_at     TEXT,
    invalid_reason TEXT,
    invalid_at     TEXT,
    failed_reports INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX contacts_invalid ON contacts (invalid_at) WHERE invalid_at IS NOT NULL;

-- The consent ledger: every change, when, and through what. Append-only and never purged: it is
-- the operator's proof of consent.
CREATE TABLE consent_events (
    id         INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    number     TEXT    NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    via        TEXT    NOT NULL CHECK (via IN ('api', 'keyword', 'import', 'operator')),
    inbox_id   INTEGER,
    detail     TEXT    CHECK (detail IS NULL OR json_valid(detail))
);
CREATE INDEX consent_events_number ON consent_events (number, id);
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent events are append-only');
END;
CREATE TRIGGER consent_events_kept BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent events are never deleted');
END;

-- What the keyword engine made of each inbound message (NULL intent: unmatched, for the operator).
ALTER TABLE inbox ADD COLUMN intent TEXT;
ALTER TABLE inbox ADD COLUMN keyword TEXT;
CREATE INDEX inbox_unmatched ON inbox (id) WHERE intent IS NULL;

-- When a message's first PDU was handed to a modem: frequency caps count marketing that went.
ALTER TABLE messages ADD COLUMN went_at TEXT;
CREATE INDEX messages_marketing_went ON messages (recipient, went_at)
    WHERE class = 'marketing' AND went_at IS NOT NULL;
"""


@MIGRATIONS(name="0002_trust")
def m0002_trust(db: Database) -> None:
    db.executescript(_TRUST)


_SURFACE = """
-- API tokens made with `gatewayd token create`: only the SHA-256 of a token is stored.
CREATE TABLE api_tokens (
    name         TEXT    PRIMARY KEY,
    token_sha256 TEXT    NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    scopes       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
) WITHOUT ROWID;

-- Operators of the web pages (`gatewayd user add`): a scrypt hash, never the password.
CREATE TABLE operators (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) WITHOUT ROWID;

-- The webhook outbox: a row is written in the transaction of the change it reports, and stays until
-- delivered or given up; next_attempt_at is NULL once it is settled.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    gave_up_at      TEXT,
    last_status     INTEGER,
    last_error      TEXT
);
-- The API lists a client's own messages: by client, newest first.
CREATE INDEX messages_client ON messages (client, id);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_failing ON webhook_deliveries (endpoint, id)
    WHERE last_error IS NOT NULL AND delivered_at IS NULL;
"""


@MIGRATIONS(name="0003_surface")
def m0003_surface(db: Database) -> None:
    db.executescript(_SURFACE)


SCHEMA_VERSION = 3
"""The number of migrations this gatewayd knows; equal to ``len(MIGRATIONS._migrations)``."""


def schema_version(db: Database) -> int:
    """How many of our migrations the database has applied (0 for a new file)."""
    return len(MIGRATIONS.applied(db))


def known_names() -> list[str]:
    return [migration.name for migration in MIGRATIONS._migrations]


def migrate(db: Database) -> int:
    """Apply pending migrations; refuse a database written by a newer gatewayd. Returns the version."""
    applied = {migration.name for migration in MIGRATIONS.applied(db)}
    unknown = applied - set(known_names())
    if unknown:
        raise RuntimeError(f"database has migrations this gatewayd does not know: {sorted(unknown)}; "
                           f"it was written by a newer version")
    MIGRATIONS.apply(db)
    return schema_version(db)
