"""Phone numbers: every recipient is stored in E.164 ("+447700900123"), normalised with phonenumbers.

Normalising at the door matters beyond tidiness: consent, quiet hours and frequency caps are all keyed
by the number, so "07700 900123" and "+44 7700 900123" must be the same person.
"""

from __future__ import annotations

import functools

import phonenumbers


class InvalidNumber(ValueError):
    """The text is not a valid phone number; the message says why in one line."""


NORMALISE_CACHE = 4096
"""Numbers remembered by normalise(): lists are sent to again and again, and a validity check costs
50-100 µs (phonenumbers matches the number against its region's patterns). An entry keeps ~300 bytes
(the argument, the result, the cache's links): 4096 are ~1.2 MB, 65536 would be ~20 MB, beyond the
daemon's whole budget; past the cache a number costs its 50-100 µs again, small beside a send."""


def normalise(number: str, *, default_region: str | None = None) -> str:
    """``number`` in E.164. Without ``+``, ``default_region`` (ISO 3166 code such as "GB") is required."""
    return _normalise(number, default_region)


@functools.lru_cache(maxsize=NORMALISE_CACHE)
def _normalise(number: str, default_region: str | None) -> str:
    text = number.strip()
    if not text:
        raise InvalidNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and default_region is None:
            raise InvalidNumber(f"{text!r}: give it in international form (+country code ...)") from None
        raise InvalidNumber(f"{text!r}: {exc._msg}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sender_number(sender: str, home_region: str | None) -> str | None:
    """The E.164 number an inbound ``sender`` can be answered at and keyed by, or None.

    Networks deliver most senders in international form ("+447911123456"), but some give national
    digits ("07911123456", "89161234567"). A STOP from such a sender must still opt that person out, so
    with ``home_region`` (the country of our SIMs) national digits are read as a number of that country.
    Alphanumeric senders ("BANK") and short codes that are not valid numbers give None."""
    if sender.startswith("+") and sender[1:].isdigit() and sender[1:].isascii():
        return sender
    if home_region is None or not sender.isascii() or not sender.isdigit():
        return None
    try:
        return normalise(sender, default_region=home_region)
    except InvalidNumber:
        return None


def is_region(code: str) -> bool:
    """Whether ``code`` is a region phonenumbers knows (ISO 3166-1 alpha-2, such as "GB")."""
    return code in phonenumbers.SUPPORTED_REGIONS


MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})
"""FIXED_LINE_OR_MOBILE: numbering plans (the US, Canada, China...) that do not tell the two apart;
refusing those would refuse every mobile there."""


def is_mobile(e164: str) -> bool:
    """Whether ``e164`` can be a mobile number, by phonenumbers' metadata for its range."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in MOBILE_TYPES
