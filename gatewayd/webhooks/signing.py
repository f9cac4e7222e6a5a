"""The signature a receiver checks before trusting a webhook: HMAC-SHA256 over the timestamp and body.

``X-Gatewayd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, b"<t>." + body)>``

The timestamp is inside the MAC so a captured request cannot be replayed later with a fresh time;
a receiver refuses signatures older than its tolerance. The body is signed as sent (bytes, not
re-serialised JSON), so receivers must verify the raw body before parsing it. The scheme is the one
Stripe and others use, which receivers' developers will recognise.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Gatewayd-Signature"
EVENT_HEADER = "X-Gatewayd-Event"
DELIVERY_HEADER = "X-Gatewayd-Delivery"
"""The delivery id: the same on every retry of one delivery, so a receiver can drop duplicates."""
SCHEME = "v1"
TOLERANCE_SECONDS = 300
"""How old (or how far in the future) a signature ``verify`` accepts by default: clocks on a LAN drift
a little, and a retry is signed afresh at each attempt."""


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Gatewayd-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={_mac(secret, timestamp, body)}"


def parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, [v1 signatures]) from a header value; ValueError if it has no usable timestamp."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            signatures.append(value.lower())
    if timestamp is None:
        raise ValueError(f"no t=<unix seconds> in signature header {header!r}")
    return timestamp, signatures


def verify(secret: bytes, header: str, body: bytes, *, now: float | None = None,
           tolerance: float = TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance``
    of ``now`` (default: this machine's clock). For receivers written in Python, and for tests."""
    try:
        timestamp, signatures = parse(header)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
