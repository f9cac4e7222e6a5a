"""The traffic and the configuration of a crash run.

Every message goes to its own recipient and carries a unique tag, so each PDU in the SMSC's log can
be traced back to one message and one part without trusting anything the daemon recorded. The mix
covers the four shapes a send can take: single part and concatenated, GSM 7-bit and UCS-2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from gatewayd.modem.pdu import plan_text
from gatewayd.queue import NewMessage, Queue

RECIPIENT_BASE = 15552000000
"""Recipients +15552000000 + i: distinct, and none is an emulated modem's own number (+1555000000x)."""
SHAPES = ("gsm7-single", "gsm7-multi", "ucs2-single", "ucs2-multi")
GSM_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "ÄÖÑÜ", "{braces}", "[brackets]", "euro €", "tilde ~", "caret ^", "pipe |")
UCS2_WORDS = ("привет", "мир", "γειά", "σου", "こんにちは", "世界", "שלום", "🙂", "ünïcödé", "κόσμε")  # noqa: RUF001


@dataclass(frozen=True)
class Expected:
    """What the harness enqueued, and the part texts the SMSC must see for it."""

    id: int
    recipient: str
    text: str
    shape: str
    encoding: str
    part_texts: tuple[str, ...]

    @property
    def parts(self) -> int:
        return len(self.part_texts)


def _text(rng: random.Random, index: int, shape: str) -> str:
    tag = f"#{index:05d}"
    words = UCS2_WORDS if shape.startswith("ucs2") else GSM_WORDS
    # One part holds 160 septets or 70 UCS-2 units; the last word may fall short of the target by one
    # word (13 characters at most), so multipart targets start well above those limits.
    target = {"gsm7-single": 60, "ucs2-single": 25, "gsm7-multi": rng.randint(185, 420),
              "ucs2-multi": rng.randint(90, 190)}[shape]
    text = tag
    while True:
        word = rng.choice(words)
        if len(text) + 1 + len(word) > target:
            return text
        text += " " + word


def make_messages(rng: random.Random, count: int) -> list[NewMessage]:
    """``count`` messages, shapes in turn (a quarter of each), random words, a unique tag each."""
    messages = []
    for index in range(count):
        shape = SHAPES[index % len(SHAPES)]
        text = _text(rng, index, shape)
        encoding, parts = plan_text(text)
        expected_multi = shape.endswith("multi")
        if (len(parts) > 1) != expected_multi or encoding != shape.split("-")[0]:
            raise AssertionError(f"workload bug: {shape} text planned as {encoding} x{len(parts)}: {text!r}")
        messages.append(NewMessage(recipient=f"+{RECIPIENT_BASE + index}", text=text,
                                   metadata={"shape": shape}))
    return messages


def enqueue(database: Path, messages: list[NewMessage]) -> dict[int, Expected]:
    """Store the messages before any daemon runs, as the API would; returns them by message id."""
    expected: dict[int, Expected] = {}
    with Queue(database) as queue:
        for message, created in queue.enqueue_many(messages):
            assert created
            encoding, parts = plan_text(message.text)
            shape = (message.metadata or {})["shape"]
            expected[message.id] = Expected(message.id, message.recipient, message.text, shape, encoding,
                                            tuple(parts))
    return expected


def write_config(workdir: Path, links: list[str]) -> Path:
    """A daemon configuration for the run: no rate limits, short retries, status reports on."""
    modems = "".join(
        f"  - id: m{index}\n"
        f"    port: {link}\n"
        f"    rate_per_minute: null\n"
        f"    status_reports: true\n"
        for index, link in enumerate(links))
    config = workdir / "gatewayd.yaml"
    config.write_text(
        f"database: {workdir / 'gatewayd.db'}\n"
        f"state_dir: {workdir / 'state'}\n"
        f"modems:\n{modems}"
        # Any free port: runs in parallel (and a gateway already on 8080) must not collide.
        "web:\n"
        "  listen: \"127.0.0.1:0\"\n"
        "dispatch:\n"
        "  rate_per_minute: null\n"
        "  retry_base: 1s\n"
        "  retry_max: 2s\n"
        # Kills are not failures: a claim cut short is recovered and claimed again, and counts
        # an attempt each time. Only an exhausted retry budget would fail a message here.
        "  max_attempts: 100\n"
        "emulator:\n"
        "  enabled: false\n"
        "logging:\n"
        "  level: info\n",
        encoding="utf-8")
    return config
