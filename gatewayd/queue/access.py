"""Who may use the gateway: API tokens (``gatewayd token``) and page operators (``gatewayd user add``).

Only hashes are stored: the SHA-256 of a token (a token is 256 random bits, so a fast hash is enough),
and a scrypt hash of an operator's password (people choose weak passwords; a slow KDF makes a stolen
database expensive to crack). Hashing happens in the callers (web/auth.py); this module stores.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from gatewayd.queue.errors import AlreadyExists, InvalidMessage
from gatewayd.queue.timefmt import from_stamp, maybe_datetime
from gatewayd.queue.tx import Tx

SCOPES = ("send", "read", "admin")
"""send: post messages; read: read messages, inbound, modems, contacts; admin: everything, including
consent changes, cancel and retry."""


@dataclass(frozen=True)
class StoredToken:
    name: str
    token_sha256: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredToken:
        return cls(name=row["name"], token_sha256=row["token_sha256"], scopes=frozenset(row["scopes"].split()),
                   created_at=from_stamp(row["created_at"]), revoked_at=maybe_datetime(row["revoked_at"]))


def create_token(tx: Tx, name: str, token_sha256: str, scopes: frozenset[str]) -> StoredToken:
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise InvalidMessage(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    if tx.one("SELECT 1 FROM api_tokens WHERE name = ?", (name,)) is not None:
        raise AlreadyExists(f"a token named {name!r} exists (revoked ones keep their name: choose another)")
    row = tx.one("INSERT INTO api_tokens (name, token_sha256, scopes, created_at) VALUES (?, ?, ?, ?) RETURNING *",
                 (name, token_sha256, " ".join(sorted(scopes)), tx.stamp))
    assert row is not None
    return StoredToken.from_row(row)


def list_tokens(tx: Tx) -> list[StoredToken]:
    return [StoredToken.from_row(row) for row in tx.all("SELECT * FROM api_tokens ORDER BY name")]


def revoke_token(tx: Tx, name: str) -> bool:
    cursor = tx.run("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (tx.stamp, name))
    return cursor.rowcount == 1


def active_tokens(tx: Tx) -> list[StoredToken]:
    return [StoredToken.from_row(row) for row in tx.all("SELECT * FROM api_tokens WHERE revoked_at IS NULL")]


def set_operator(tx: Tx, username: str, password_hash: str) -> bool:
    """Add an operator or change their password; True when the operator is new."""
    existing = tx.one("SELECT 1 FROM operators WHERE username = ?", (username,))
    tx.run("INSERT INTO operators (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)"
           " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"
           " updated_at = excluded.updated_at", (username, password_hash, tx.stamp, tx.stamp))
    return existing is None


def operator_hash(tx: Tx, username: str) -> str | None:
    value: str | None = tx.scalar("SELECT password_hash FROM operators WHERE username = ?", (username,))
    return value


def list_operators(tx: Tx) -> list[tuple[str, str, str]]:
    """(username, created_at, updated_at) of every operator, by name; never the hashes."""
    return [(row["username"], row["created_at"], row["updated_at"])
            for row in tx.all("SELECT username, created_at, updated_at FROM operators ORDER BY username")]


def remove_operator(tx: Tx, username: str) -> bool:
    """True when there was such an operator. Their open sessions end at their next request (login.py
    checks each session against the stored hash)."""
    return tx.run("DELETE FROM operators WHERE username = ?", (username,)).rowcount == 1


def operator_count(tx: Tx) -> int:
    return int(tx.scalar("SELECT count(*) FROM operators") or 0)
