"""Hypothesis strategies shared by the codec tests."""

from __future__ import annotations

from hypothesis import strategies as st

from gatewayd.modem.gsm7 import ESC, GSM7_BASIC, GSM7_EXTENSION

GSM7_CHARS = [ch for i, ch in enumerate(GSM7_BASIC) if i != ESC] + list(GSM7_EXTENSION)
EMOJI = ["😀", "👍🏽", "🇩🇪", "💩", "𝄞", "👨‍👩‍👧"]

gsm7_text = st.text(alphabet=st.sampled_from(GSM7_CHARS), max_size=800)
"""Texts of the default alphabet and its extension table, up to six parts long."""

unicode_text = st.lists(
    st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(EMOJI)), max_size=300
).map("".join)
"""Arbitrary Unicode (no lone surrogates, which no str we are given can encode) with many emoji."""

phone_number = st.from_regex(r"\+?[1-9][0-9]{3,14}", fullmatch=True)
