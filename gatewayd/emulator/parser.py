"""Splitting an AT command line into its commands (ITU-T V.250 5.2 / 5.4).

A line such as ``ATE0Q0V1&C1+CMEE=1;+CREG=2`` carries basic commands concatenated and extended ones
separated by ';'. The interpreter runs them in order and answers once, so the parser only has to
cut the line into ``Request`` objects; it never knows what a command means.
"""

from __future__ import annotations

from gatewayd.emulator.commands.base import Form, Request

EXTENDED_PREFIXES = "+^$#%*!"
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!%-./:_")


class ParseError(ValueError):
    """The line is not a valid command sequence (the modem answers ERROR)."""


def split_args(text: str) -> tuple[str | None, ...]:
    """Comma-separated values; quotes protect commas; quoted values lose their quotes; empty -> None."""
    args: list[str | None] = []
    current: list[str] = []
    quoted = in_quotes = False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
            quoted = True
        elif ch == "," and not in_quotes:
            value = "".join(current)
            args.append(value if quoted else (value.strip() or None))
            current, quoted = [], False
        else:
            current.append(ch)
    if in_quotes:
        raise ParseError("unterminated string")
    value = "".join(current)
    args.append(value if quoted else (value.strip() or None))
    return tuple(args)


def _extended(body: str, pos: int) -> tuple[Request, int]:
    start = pos
    pos += 1
    while pos < len(body) and body[pos].upper() in NAME_CHARS:
        pos += 1
    name = body[start:pos].upper()
    if len(name) < 2:
        raise ParseError(f"empty command name at {start}")
    form: Form = "exec"
    args: tuple[str | None, ...] = ()
    raw = ""
    if body.startswith("=?", pos):
        form, pos = "test", pos + 2
    elif body.startswith("?", pos):
        form, pos = "read", pos + 1
    elif body.startswith("=", pos):
        pos += 1
        end, in_quotes = pos, False
        while end < len(body) and (in_quotes or body[end] != ";"):
            if body[end] == '"':
                in_quotes = not in_quotes
            end += 1
        raw = body[pos:end]
        form, args, pos = "set", split_args(raw), end
    return Request(name=name, form=form, args=args, raw=raw), pos


def _basic(body: str, pos: int) -> tuple[Request, int]:
    start = pos
    if body[pos] == "&":
        pos += 1
        if pos >= len(body) or not body[pos].isalpha():
            raise ParseError("& without a letter")
    letter = body[pos].upper()
    name = body[start:pos].upper() + letter
    pos += 1
    if letter == "D":  # dial: the rest of the line is the dial string
        return Request(name="D", form="set", args=(body[pos:],), raw=body[pos:]), len(body)
    if letter == "S" and name == "S":
        digits_start = pos
        while pos < len(body) and body[pos].isdigit():
            pos += 1
        digits = body[digits_start:pos]
        if body.startswith("?", pos):
            return Request(name="S", form="read", digits=digits), pos + 1
        if body.startswith("=", pos):
            end = pos + 1
            while end < len(body) and body[end].isdigit():
                end += 1
            return Request(name="S", form="set", digits=digits, args=(body[pos + 1:end],)), end
        return Request(name="S", form="exec", digits=digits), pos
    digits_start = pos
    while pos < len(body) and body[pos].isdigit():
        pos += 1
    form: Form = "exec"
    if body.startswith("?", pos):
        form, pos = "read", pos + 1
    return Request(name=name, form=form, digits=body[digits_start:pos]), pos


def parse_line(line: str) -> list[Request]:
    """The commands of one line; ``line`` must start with "AT" (any case). Raises ParseError."""
    if line[:2].upper() != "AT":
        raise ParseError("no AT prefix")
    body = line[2:]
    requests: list[Request] = []
    pos = 0
    while pos < len(body):
        ch = body[pos]
        if ch in "; \t":
            pos += 1
            continue
        if ch in EXTENDED_PREFIXES:
            request, pos = _extended(body, pos)
        elif ch.isalpha() or ch == "&":
            request, pos = _basic(body, pos)
        else:
            raise ParseError(f"unexpected {ch!r} at {pos}")
        requests.append(request)
    return requests
