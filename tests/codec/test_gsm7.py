"""GSM 7-bit alphabet, septet packing and fill bits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem.gsm7 import (
    ESC,
    GSM7_BASIC,
    GSM7_EXTENSION,
    can_encode_gsm7,
    decode_septets,
    encode_septets,
    pack_septets,
    unpack_septets,
)
from gatewayd.modem.pdu import PduError, SmsDeliver, decode_pdu, encode_deliver

# Published packing vectors: faucamp/python-gsmmodem test/test_pdu.py, TestGsm7.
PACKING_VECTORS = [
    ("123", [49, 217, 12]),
    ("12345678", [49, 217, 140, 86, 179, 221, 112]),
    ("123456789", [49, 217, 140, 86, 179, 221, 112, 57]),
    ("Hello World!", [200, 50, 155, 253, 6, 93, 223, 114, 54, 57, 4]),
    ("[{abc}]~", [27, 222, 6, 21, 22, 143, 55, 169, 141, 111, 211, 3]),
    ("{åΦΓΛΩΠΨΣΘ€}", [27, 212, 67, 50, 161, 84, 44, 23, 76, 102, 83, 222, 164, 0]),
    ("a[]{}€", [225, 13, 111, 227, 219, 160, 54, 169, 77, 25]),
]


def test_tables_have_the_right_shape() -> None:
    assert len(GSM7_BASIC) == 128
    assert len(set(GSM7_BASIC)) == 128
    assert GSM7_BASIC[0] == "@" and GSM7_BASIC[ESC] == "\x1b" and GSM7_BASIC[0x7F] == "à"
    assert set(GSM7_EXTENSION) == set("\f^{}\\[~]|€")


@pytest.mark.parametrize(("text", "packed"), PACKING_VECTORS)
def test_published_packing(text: str, packed: list[int]) -> None:
    septets = encode_septets(text)
    assert pack_septets(septets) == bytes(packed)
    assert unpack_septets(bytes(packed), len(septets)) == septets
    assert decode_septets(septets) == text


def test_extension_characters_cost_two_septets() -> None:
    assert encode_septets("€") == [ESC, 0x65]
    assert can_encode_gsm7("€[]") and not can_encode_gsm7("ç") and not can_encode_gsm7("😀")
    with pytest.raises(PduError):
        encode_septets("ç")


def test_escape_rules_of_23038() -> None:
    # Unknown escape code: the basic-table character. ESC ESC: a space. Trailing ESC: a space.
    assert decode_septets([ESC, 0x41]) == "A"
    assert decode_septets([ESC, ESC, 0x41]) == " A"
    assert decode_septets([0x41, ESC]) == "A "
    assert decode_septets([0xC1]) == "A"  # only the low 7 bits count


def test_national_single_shift_tables() -> None:
    assert decode_septets([ESC, 0x47, ESC, 0x65], single_shift=1) == "Ğ€"  # Turkish
    assert decode_septets([ESC, 0x41, ESC, 0x09], single_shift=2) == "Áç"  # Spanish
    assert decode_septets([ESC, 0x41], single_shift=99) == "A"  # unknown language: default table


@pytest.mark.parametrize("fill", range(7))
def test_fill_bits_are_zero_and_skipped(fill: int) -> None:
    septets = encode_septets("Hello")
    packed = pack_septets(septets, fill)
    assert packed[0] & ((1 << fill) - 1) == 0
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill) == septets


def test_unpack_refuses_short_data() -> None:
    with pytest.raises(PduError):
        unpack_septets(b"\x00", 2)
    with pytest.raises(PduError):
        pack_septets([1], 7)


def test_16bit_concat_header_needs_no_fill_and_keeps_the_first_character() -> None:
    """Pins the python-gsmmodem bug: a 7-octet UDH ends on a septet boundary (56 bits), so the first
    character starts at bit 0 of the next octet. gsmmodem skips an octet's worth and loses it."""
    text = "W" + "x" * 200
    pdus = encode_deliver("+31600000000", text, timestamp=datetime(2024, 1, 1, tzinfo=UTC),
                          concat_reference=0x1234, concat_16bit=True)
    raw = bytes.fromhex(pdus[0])
    udl_at = raw.index(bytes.fromhex("0608041234"))  # UDHL=6, IEI 08, len 4, ref 0x1234
    assert raw[udl_at - 1] == 160  # UDL: 8 header septets + 152 text septets
    first_text_octet = raw[udl_at + 7]
    assert first_text_octet & 0x7F == ord("W")  # no fill bits before the first septet
    msg = decode_pdu(pdus[0])
    assert isinstance(msg, SmsDeliver) and msg.text == text[:152]


def test_8bit_concat_header_needs_one_fill_bit() -> None:
    pdus = encode_deliver("+31600000000", "W" + "x" * 200, timestamp=datetime(2024, 1, 1, tzinfo=UTC),
                          concat_reference=7)
    raw = bytes.fromhex(pdus[0])
    at = raw.index(bytes.fromhex("05000307"))
    assert raw[at - 1] == 160  # 7 header septets + 153 text septets
    assert raw[at + 6] == ord("W") << 1  # one zero fill bit, then the septet


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 127), max_size=200), st.integers(0, 6))
def test_pack_unpack_round_trip(septets: list[int], fill: int) -> None:
    assert unpack_septets(pack_septets(septets, fill), len(septets), fill) == septets


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 127), max_size=200))
def test_decode_never_raises_for_septets(septets: list[int]) -> None:
    assert isinstance(decode_septets(septets), str)
