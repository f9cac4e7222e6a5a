"""Plausible identities for emulated modems: IMEI and ICCID with valid Luhn check digits.

Clients validate these (some reject an IMEI whose check digit is wrong), and the gateway keys
modems by IMEI/ICCID to recognise one that came back on another device path, so every emulated
modem gets distinct, stable, well-formed values.
"""

from __future__ import annotations

import re

IMEI_PREFIX = "35693803"  # a TAC-like prefix
ICCID_PREFIX = "8901001"  # 89 (telecom) 01 (country) issuer 001
IMSI_PREFIX = "00101"  # test network MCC 001 MNC 01


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        value = int(ch) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def default_imei(index: int) -> str:
    body = f"{IMEI_PREFIX}{index:06d}"
    return body + luhn_digit(body)


def default_iccid(index: int) -> str:
    body = f"{ICCID_PREFIX}{index:011d}"
    return body + luhn_digit(body)


def default_imsi(index: int) -> str:
    return f"{IMSI_PREFIX}{index:010d}"


def nth_number(first: str, offset: int) -> str:
    """``first`` + offset, keeping the leading "+" and the width (for --modems N)."""
    match = re.fullmatch(r"(\+?)(\d+)", first)
    if not match:
        raise ValueError(f"not a phone number: {first!r}")
    digits = match.group(2)
    return match.group(1) + str(int(digits) + offset).zfill(len(digits))


def nth_imei(first: str, offset: int) -> str:
    """The offset-th IMEI after ``first`` (a 15-digit IMEI), with a fresh check digit."""
    if not re.fullmatch(r"\d{15}", first):
        raise ValueError(f"an IMEI has 15 digits: {first!r}")
    body = str(int(first[:14]) + offset).zfill(14)[-14:]
    return body + luhn_digit(body)
