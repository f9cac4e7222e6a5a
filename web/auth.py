"""API tokens: only their SHA-256 is ever kept, so a leaked config file or core dump cannot send SMS.

Tokens come from two places: the configuration (``api.tokens``, all scopes unless listed) and the
database (``gatewayd token create NAME``, revocable with ``gatewayd token revoke``). A token's name
becomes the queue's ``client``: idempotency keys are per client, and a client sees only its own
messages (unless it holds the admin scope).

Database tokens are re-read at most every ``DB_TOKENS_TTL`` seconds, so a revocation made by the CLI
(another process) takes effect within that time without a database read on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gatewayd.config import ApiToken

TOKEN_BYTES = 32
"""Entropy of a generated token (256 bits, URL-safe text of 43 characters)."""
SCHEME = "Bearer"
ALL_SCOPES = frozenset({"send", "read", "admin"})
DB_TOKENS_TTL = 5.0
"""Seconds a read of the database's tokens is reused: the longest a revoked token keeps working."""


def token_hash(token: str) -> str:
    """What the config holds for ``token`` (the same as ``printf %s TOKEN | sha256sum``)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (the queue's client) and what it may do."""

    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class _Known:
    name: str
    digest: bytes
    scopes: frozenset[str]


class TokenStore:
    """Answers "which principal holds this token?" over configured and database tokens."""

    def __init__(self, tokens: Iterable[ApiToken] = (), *,
                 database: Callable[[], Iterable[tuple[str, str, frozenset[str]]]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``database()``: (name, sha256 hex, scopes) of active database tokens, re-read every TTL."""
        self._configured = tuple(_Known(t.name, bytes.fromhex(t.token_sha256), frozenset(t.scopes) or ALL_SCOPES)
                                 for t in tokens)
        self._database = database
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[_Known, ...] = ()
        self._cached_at: float | None = None

    @property
    def tokens(self) -> tuple[str, ...]:
        """Names of the configured tokens (database tokens are not listed here)."""
        return tuple(known.name for known in self._configured)

    @property
    def has_any(self) -> bool:
        return bool(self._configured) or bool(self._from_database())

    @classmethod
    def from_config(cls, tokens: Iterable[ApiToken], **kwargs: object) -> TokenStore:
        return cls(tokens, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def generate(cls, name: str = "demo", **kwargs: object) -> tuple[str, TokenStore]:
        """A fresh random token and a store that knows only its hash (the no-config demo).

        The caller prints the token once; it is not kept anywhere, so a restart makes a new one.
        """
        token = new_token()
        return token, cls((ApiToken(name=name, token_sha256=token_hash(token)),), **kwargs)  # type: ignore[arg-type]

    def _from_database(self) -> tuple[_Known, ...]:
        if self._database is None:
            return ()
        with self._lock:
            now = self._clock()
            if self._cached_at is None or now - self._cached_at >= DB_TOKENS_TTL:
                self._cached = tuple(_Known(name, bytes.fromhex(digest), scopes)
                                     for name, digest, scopes in self._database())
                self._cached_at = now
            return self._cached

    def principal_for(self, authorization: str | None) -> Principal | None:
        """The caller for an ``Authorization`` header value, or None if it is missing or wrong.

        Every known hash is compared (constant time each, no early exit), so the answer time says
        nothing about which token nearly matched.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != SCHEME.lower() or not token:
            return None
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found: Principal | None = None
        for known in (*self._configured, *self._from_database()):
            if hmac.compare_digest(presented, known.digest) and found is None:
                found = Principal(known.name, known.scopes)
        return found

    def client_for(self, authorization: str | None) -> str | None:
        principal = self.principal_for(authorization)
        return None if principal is None else principal.name
