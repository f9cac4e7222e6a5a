"""Operator passwords: scrypt with a random salt, stored as one self-describing string.

People choose weak passwords and databases get copied, so the stored form must make every guess
expensive: scrypt (memory-hard, in the standard library) at n=2**14, r=8, p=1 costs ~16 MiB and tens of
milliseconds per guess. The parameters travel with each hash (``scrypt$n$r$p$salt$hash``), so raising
them later does not lock out operators whose hash was made with the old ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from typing import Final

LOGGER = logging.getLogger(__name__)

SCHEME: Final = "scrypt"
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
MAX_SCRYPT_N: Final = 2**20
"""The largest cost a stored hash may ask for: a tampered row must not make a login eat gigabytes."""
SCRYPT_MAXMEM: Final = 256 * 1024 * 1024
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024
"""Longer input is refused before hashing: scrypt's cost grows with it, and nobody types more."""
USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")
MAX_USERNAME_LENGTH: Final = 64
DEMO_PASSWORD_BYTES: Final = 12
"""Entropy of a generated password (96 bits, 16 URL-safe characters)."""

_DUMMY_SALT = b"\0" * SALT_BYTES


class PasswordRefused(ValueError):
    """A password or user name that cannot be used; the message says why in one line."""


def check_username(username: str) -> str:
    if not 1 <= len(username) <= MAX_USERNAME_LENGTH or not set(username) <= USERNAME_CHARS:
        raise PasswordRefused(f"user name {username!r}: 1 to {MAX_USERNAME_LENGTH} letters, digits or _.@-")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(f"the password is too short (at least {MIN_PASSWORD_LENGTH} characters)")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRefused(f"the password is too long (at most {MAX_PASSWORD_LENGTH} characters)")
    return password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, *, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=SCRYPT_MAXMEM)


def hash_password(password: str) -> str:
    """``scrypt$16384$8$1$<salt b64>$<hash b64>`` for ``password`` (checked for length first)."""
    check_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, length=HASH_BYTES)
    return "$".join((SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; an unknown user (None) costs the same scrypt as a known
    one, so the answer time does not tell which user names exist."""
    if stored is None or len(password) > MAX_PASSWORD_LENGTH:
        _derive(password[:MAX_PASSWORD_LENGTH], _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P, length=HASH_BYTES)
        return False
    try:
        scheme, n_text, r_text, p_text, salt_text, hash_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(hash_text, validate=True)
    except (ValueError, binascii.Error):
        LOGGER.error("an operator's stored password hash is malformed; reset it with 'gatewayd user add'")
        return False
    if scheme != SCHEME or not (2 <= n <= MAX_SCRYPT_N and r >= 1 and p >= 1 and expected):
        LOGGER.error("an operator's stored password hash has unusable parameters (%s n=%d r=%d p=%d)",
                     scheme, n, r, p)
        return False
    try:
        presented = _derive(password, salt, n, r, p, length=len(expected))
    except ValueError as exc:  # n not a power of two, memory beyond maxmem
        LOGGER.error("an operator's stored password hash cannot be checked: %s", exc)
        return False
    return hmac.compare_digest(presented, expected)


def generate_password() -> str:
    """A random password for the no-config demo's operator (printed once at start)."""
    return secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
