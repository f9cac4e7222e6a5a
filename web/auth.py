"""API tokens: only their SHA-256 is ever kept, so a leaked config file or core dump cannot send SMS.

A token's configured name becomes the queue's ``client``: idempotency keys are per client, and a client
sees only its own messages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from gatewayd.config import ApiToken

TOKEN_BYTES = 32
"""Entropy of a generated token (256 bits, URL-safe text of 43 characters)."""
SCHEME = "Bearer"


def token_hash(token: str) -> str:
    """What the config holds for ``token`` (the same as ``printf %s TOKEN | sha256sum``)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenStore:
    """The configured (name, SHA-256) pairs; answers "which client holds this token?"."""

    tokens: tuple[ApiToken, ...]

    @classmethod
    def from_config(cls, tokens: Iterable[ApiToken]) -> TokenStore:
        return cls(tuple(tokens))

    @classmethod
    def generate(cls, name: str = "demo") -> tuple[str, TokenStore]:
        """A fresh random token and a store that knows only its hash (the no-config demo).

        The caller prints the token once; it is not kept anywhere, so a restart makes a new one.
        """
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return token, cls((ApiToken(name=name, token_sha256=token_hash(token)),))

    def client_for(self, authorization: str | None) -> str | None:
        """The token's name for an ``Authorization`` header value, or None if it is missing or wrong.

        Every configured hash is compared (constant time each, no early exit), so the answer time says
        nothing about which token nearly matched.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != SCHEME.lower() or not token:
            return None
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found: str | None = None
        for configured in self.tokens:
            if hmac.compare_digest(presented, bytes.fromhex(configured.token_sha256)) and found is None:
                found = configured.name
        return found
