"""The signature header: a pinned vector (computed with openssl), round trips, and what verify refuses."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.webhooks.signing import TOLERANCE_SECONDS, parse, sign, verify

SECRET = b"whsec-0123456789abcdef"
T = 1_700_000_000
BODY = b'{"event":"inbound"}'
OPENSSL = "4a8cf14df7ed22bc5612a9f49082eab14a507b11fd6e392a4104c10a67785e5b"
"""printf '1700000000.{"event":"inbound"}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'"""


def test_the_header_is_the_documented_hmac_of_timestamp_dot_body() -> None:
    assert sign(SECRET, T, BODY) == f"t={T},v1={OPENSSL}"


def test_verify_accepts_the_signature_within_the_tolerance_only() -> None:
    header = sign(SECRET, T, BODY)
    assert verify(SECRET, header, BODY, now=T)
    assert verify(SECRET, header, BODY, now=T + TOLERANCE_SECONDS)
    assert verify(SECRET, header, BODY, now=T - TOLERANCE_SECONDS)  # the sender's clock a little ahead
    assert not verify(SECRET, header, BODY, now=T + TOLERANCE_SECONDS + 1)  # a replay, too late
    assert not verify(SECRET, header, BODY, now=T + 3600, tolerance=60)
    assert verify(SECRET, header, BODY, now=T + 3600, tolerance=3601)


def test_verify_refuses_another_secret_body_or_timestamp() -> None:
    header = sign(SECRET, T, BODY)
    assert not verify(b"whsec-another-secret-0000", header, BODY, now=T)
    assert not verify(SECRET, header, BODY + b" ", now=T)
    assert not verify(SECRET, header.replace(f"t={T}", f"t={T + 1}"), BODY, now=T)


def test_verify_refuses_malformed_headers() -> None:
    for header in ("", "v1=" + OPENSSL, f"t={T}", f"t=now,v1={OPENSSL}", f"t={T},v0={OPENSSL}", "garbage"):
        assert not verify(SECRET, header, BODY, now=T), header


def test_any_of_several_v1_signatures_may_match_for_key_rotation() -> None:
    header = f"t={T},v1={'0' * 64},v1={OPENSSL.upper()}"
    assert parse(header) == (T, ["0" * 64, OPENSSL])
    assert verify(SECRET, header, BODY, now=T)


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(min_size=16, max_size=64), body=st.binary(max_size=512),
       timestamp=st.integers(min_value=0, max_value=2**40), flip=st.integers(min_value=0))
def test_round_trip_and_every_bit_matters(secret: bytes, body: bytes, timestamp: int, flip: int) -> None:
    header = sign(secret, timestamp, body)
    assert re.fullmatch(rf"t={timestamp},v1=[0-9a-f]{{64}}", header)
    assert verify(secret, header, body, now=timestamp)
    if body:
        index, bit = divmod(flip % (len(body) * 8), 8)
        tampered = bytearray(body)
        tampered[index] ^= 1 << bit
        assert not verify(secret, header, bytes(tampered), now=timestamp)
