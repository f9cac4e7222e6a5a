from __future__ import annotations

import pytest

from gatewayd.numbers import InvalidNumber, normalise


@pytest.mark.parametrize(("text", "region", "e164"), [
    ("+44 7911 123456", None, "+447911123456"),
    ("07911 123456", "GB", "+447911123456"),
    ("+1 (415) 555-2671", None, "+14155552671"),
    ("  +79161234567 ", None, "+79161234567"),
])
def test_normalise(text: str, region: str | None, e164: str) -> None:
    assert normalise(text, default_region=region) == e164


@pytest.mark.parametrize(("text", "region", "why"), [
    ("", None, "empty"),
    ("07911 123456", None, "international form"),
    ("+44 12", None, "not a valid"),
    ("hello", "GB", "hello"),
])
def test_rejects_with_one_line_reason(text: str, region: str | None, why: str) -> None:
    with pytest.raises(InvalidNumber, match=why) as error:
        normalise(text, default_region=region)
    assert "\n" not in str(error.value)
