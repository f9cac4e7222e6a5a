"""The whole-text fast paths of the GSM-7 tables and ``plan_text`` agree with the per-character rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem import gsm7, pdu
from gatewayd.modem.gsm7 import GSM7_BASIC, GSM7_EXTENSION

# Texts drawn mostly from the GSM-7 tables (so both encodings and the extension table are exercised),
# with any other code point, lone surrogates and astral characters included.
_GSM_CHARS = st.sampled_from(sorted(set(GSM7_BASIC) | set(GSM7_EXTENSION)))
TEXTS = st.lists(st.one_of(_GSM_CHARS, _GSM_CHARS, st.characters()), max_size=400).map("".join)


def _septets_per_char(text: str) -> int | None:
    total = 0
    for ch in text:
        try:
            total += gsm7.septet_length(ch)
        except pdu.PduError:
            return None
    return total


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_septet_length_and_can_encode_agree_with_each_character(text: str) -> None:
    expected = _septets_per_char(text)
    assert gsm7.can_encode_gsm7(text) == (expected is not None)
    if expected is None:
        try:
            gsm7.septet_length(text)
        except pdu.PduError:
            return
        raise AssertionError("septet_length accepted a text with an unencodable character")
    assert gsm7.septet_length(text) == expected


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.sampled_from(["gsm7", "ucs2"]))
def test_total_units_is_the_sum_of_the_units(text: str, encoding: pdu.Encoding) -> None:
    if encoding == "gsm7" and not gsm7.can_encode_gsm7(text):
        return
    assert pdu._total_units(text, encoding) == sum(pdu._units(ch, encoding) for ch in text)


def test_a_single_part_limit_is_exact() -> None:
    assert pdu.plan_text("a" * 160) == ("gsm7", ["a" * 160])
    assert len(pdu.plan_text("a" * 161)[1]) == 2
    assert len(pdu.plan_text("€" * 80)[1]) == 1  # extension characters count two septets
    assert len(pdu.plan_text("€" * 81)[1]) == 2
    assert len(pdu.plan_text("😀" * 35)[1]) == 1  # astral characters are two UTF-16 units
    assert len(pdu.plan_text("😀" * 36)[1]) == 2
