"""The GSM 7-bit default alphabet of 3GPP TS 23.038 clause 6.2.1, its extension table, and septet packing.

Kept apart from the PDU layout because the same tables serve three places: message text, alphanumeric
addresses, and the part planner that must count septets exactly (an extension character costs two).

Decoding never fails for in-range septets: 23.038 6.2.1.1 says an escape followed by a code with no
extension character is shown as the basic-table character, and ESC ESC (reserved for a further table)
as a space. A lone ESC at the very end of a text is shown as a space for the same reason. Only the
Spanish and Turkish *single shift* tables of 23.038 annex A are provided (decode side, selected by a
UDH information element 0x25); locking shift tables (IE 0x24) are not, and such text decodes with the
default alphabet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

LOGGER = logging.getLogger(__name__)

ESC = 0x1B
"""The escape septet that introduces a character of the extension (or single shift) table."""

SEPTET_MASK = 0x7F

GSM7_BASIC: str = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
"""The 128 characters of the default alphabet, indexed by septet value. Index 0x1B is ESC, never encoded."""

GSM7_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
"""Characters reached through ESC (0x1B), mapped to the septet that follows the escape."""

_BASIC_INDEX: dict[str, int] = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESC}
_EXTENSION_DECODE: dict[int, str] = {code: ch for ch, code in GSM7_EXTENSION.items()}

# 23.038 annex A.2: single shift tables (decode only). Both keep the default extension characters.
_SINGLE_SHIFT_TURKISH: dict[int, str] = {
    **_EXTENSION_DECODE,
    0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş",  # noqa: RUF001
}
_SINGLE_SHIFT_SPANISH: dict[int, str] = {
    **_EXTENSION_DECODE,
    0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x61: "á", 0x69: "í", 0x6F: "ó", 0x75: "ú",
}
SINGLE_SHIFT_TABLES: dict[int, dict[int, str]] = {
    0: _EXTENSION_DECODE,
    1: _SINGLE_SHIFT_TURKISH,
    2: _SINGLE_SHIFT_SPANISH,
}
"""National language identifier (23.038 6.2.1.2.4) -> the table reached through ESC. 0 is the default."""


class PduError(ValueError):
    """The one error the codec raises for input it cannot represent or parse (re-exported by ``pdu``).

    Defined here, at the bottom of the codec, so both modules raise the same type without an import
    cycle. A ValueError because bad input is what it always means.
    """


_BASIC_CHARS = frozenset(_BASIC_INDEX)
_ENCODABLE_CHARS = _BASIC_CHARS | frozenset(GSM7_EXTENSION)
"""Set forms of the tables: ``issuperset`` tests a whole text in C, which matters on the API's accept path
(every accepted message is planned, a batch of 500 at once)."""


def can_encode_gsm7(text: str) -> bool:
    """Whether every character of ``text`` exists in the default alphabet or its extension table."""
    return _ENCODABLE_CHARS.issuperset(text)


def septet_length(text: str) -> int:
    """Septets ``text`` needs in GSM-7 (extension characters count two). Raises PduError if not encodable."""
    if _BASIC_CHARS.issuperset(text):
        return len(text)
    total = 0
    for ch in text:
        if ch in _BASIC_INDEX:
            total += 1
        elif ch in GSM7_EXTENSION:
            total += 2
        else:
            raise PduError(f"character {ch!r} (U+{ord(ch):04X}) is not in the GSM 7-bit alphabet")
    return total


def encode_septets(text: str) -> list[int]:
    """Map text to septet values; extension characters become ``[0x1B, code]``."""
    out: list[int] = []
    for ch in text:
        code = _BASIC_INDEX.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = GSM7_EXTENSION.get(ch)
        if ext is None:
            raise PduError(f"character {ch!r} (U+{ord(ch):04X}) is not in the GSM 7-bit alphabet")
        out.append(ESC)
        out.append(ext)
    return out


def decode_septets(septets: Sequence[int], *, single_shift: int = 0) -> str:
    """Map septet values to text. ``single_shift`` selects a national single shift table for ESC codes."""
    table = SINGLE_SHIFT_TABLES.get(single_shift, _EXTENSION_DECODE)
    chars: list[str] = []
    escaped = False
    for raw in septets:
        value = raw & SEPTET_MASK
        if escaped:
            escaped = False
            if value == ESC:
                chars.append(" ")  # ESC ESC: reserved for another extension table, shown as a space
            else:
                chars.append(table.get(value, GSM7_BASIC[value]))
        elif value == ESC:
            escaped = True
        else:
            chars.append(GSM7_BASIC[value])
    if escaped:
        chars.append(" ")
    return "".join(chars)


def pack_septets(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first (23.038 6.1.2.1.1), after ``fill_bits`` zero bits (0-6) that align a UDH."""
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill_bits must be 0..6, not {fill_bits}")
    out = bytearray()
    acc = 0
    nbits = fill_bits
    for septet in septets:
        acc |= (septet & SEPTET_MASK) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Unpack ``count`` septets that start after ``fill_bits`` bits of ``data``; PduError if data is short."""
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill_bits must be 0..6, not {fill_bits}")
    if count < 0:
        raise PduError(f"negative septet count {count}")
    needed_bits = fill_bits + 7 * count
    if len(data) * 8 < needed_bits:
        raise PduError(f"{count} septets need {(needed_bits + 7) // 8} octets, only {len(data)} present")
    out: list[int] = []
    acc = 0
    nbits = -fill_bits  # negative: bits still to discard before the first septet
    index = 0
    while len(out) < count:
        while nbits < 7:
            byte = data[index]
            index += 1
            if nbits < 0:  # the first octet: drop the fill bits
                acc = byte >> -nbits
            else:
                acc |= byte << nbits
            nbits += 8
        out.append(acc & SEPTET_MASK)
        acc >>= 7
        nbits -= 7
    return out
