"""LineFramer: terminators, the prompt, garbage, bounds, and split-invariance."""

from __future__ import annotations

import itertools
import logging
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem.framing import Frame, Line, LineFramer, Prompt


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[Frame]:
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames


def bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


@pytest.mark.parametrize("terminator", [b"\r\n", b"\n\r", b"\r", b"\n", b"\r\r\n\n"])
def test_every_terminator_style(terminator: bytes) -> None:
    data = b"+CSQ: 20,99" + terminator + b"OK" + terminator
    assert LineFramer().feed(data) == [Line("+CSQ: 20,99"), Line("OK")]


def test_empty_and_blank_lines_are_dropped() -> None:
    assert LineFramer().feed(b"\r\n\r\n  \r\nOK\r\n\r\n") == [Line("OK")]


def test_unterminated_line_waits_for_its_terminator() -> None:
    framer = LineFramer()
    assert framer.feed(b"+CMTI: \"SM\"") == []
    assert framer.pending == '+CMTI: "SM"'
    assert framer.feed(b",3\r\n") == [Line('+CMTI: "SM",3')]


def test_prompt_after_crlf() -> None:
    assert LineFramer().feed(b"\r\n> ") == [Prompt()]


def test_prompt_split_between_feeds() -> None:
    framer = LineFramer()
    assert framer.feed(b"\r\n>") == []
    assert framer.feed(b" ") == [Prompt()]


def test_prompt_followed_by_echoed_payload() -> None:
    assert LineFramer().feed(b"\r\n> 0011AB\x1a\r\n") == [Prompt(), Line("0011AB\x1a")]


def test_greater_than_inside_a_line_is_not_a_prompt() -> None:
    assert LineFramer().feed(b"a> b\r\n") == [Line("a> b")]


def test_byte_by_byte_with_garbage_in_front_and_between() -> None:
    garbage = bytes(random.Random(7).randrange(256) for _ in range(200)).replace(b"\r", b"").replace(
        b"\n", b"")
    data = garbage + b"\r\n+CSQ: 20,99\r\n\x00\xff\xfe\x80\r\nOK\r\n\x00\x00> "
    frames = feed_all(LineFramer(), bytewise(data))
    assert frames[-3:] == [Line("\ufffd\ufffd\ufffd"), Line("OK"), Prompt()]
    assert Line("+CSQ: 20,99") in frames


def test_nul_bytes_are_dropped() -> None:
    assert LineFramer().feed(b"\x00O\x00K\x00\r\n") == [Line("OK")]


def test_undecodable_bytes_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    framer = LineFramer("m1")
    with caplog.at_level(logging.WARNING, logger="gatewayd.modem.framing"):
        for _ in range(50):
            framer.feed(b"\xff\xfe\r\n")
    warnings = [r for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert len(warnings) == 1
    assert "m1" in warnings[0].getMessage()


def test_utf8_split_across_feeds_is_kept() -> None:
    data = "Grüße €\r\n".encode()
    assert feed_all(LineFramer(), bytewise(data)) == [Line("Grüße €")]


def test_unterminated_garbage_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    framer = LineFramer(max_pending=100)
    with caplog.at_level(logging.WARNING, logger="gatewayd.modem.framing"):
        for _ in range(50):
            assert framer.feed(b"x" * 97) == []
    assert len(framer.pending) <= 100
    assert framer.dropped_chars >= 4800
    assert any("dropped" in r.getMessage() for r in caplog.records)
    assert framer.feed(b"\r\nOK\r\n")[-1] == Line("OK")


ALPHABET = [b"\r", b"\n", b"\x00", b">", b" ", b"OK", b"+CMT: ,23", b"\xff", b"\xe2\x82", b"\xac", b"A",
            b"\x1a"]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.sampled_from(ALPHABET), st.binary(max_size=8)), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    limit=st.sampled_from([8, 64 * 1024]),
)
def test_any_split_gives_the_same_frames(pieces: list[bytes], cuts: list[int], limit: int) -> None:
    data = b"".join(pieces)
    whole = LineFramer(max_pending=limit).feed(data)
    points = sorted({c for c in cuts if c <= len(data)} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert feed_all(LineFramer(max_pending=limit), chunks) == whole
    assert feed_all(LineFramer(max_pending=limit), bytewise(data)) == whole
