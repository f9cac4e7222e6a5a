"""The promise, checked from two independent records once the daemon has stopped.

The SMSC's log (written by the emulator process, which the kills never touch) is the ground truth of
what left the modems; the database is what the gateway believes. "Nothing lost, nothing doubled, an
unknown outcome never blindly retried" becomes a list of checks over the two. Each violation is one
readable line naming the message, so a failing run says exactly what went wrong.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd.queue import Queue
from tests.faults.workload import Expected

ACTIVE = frozenset({"queued", "scheduled", "sending"})
ACCEPTED = frozenset({"sent", "delivered"})
ALLOWED_FINAL = frozenset({"sent", "delivered", "unknown"})
"""No fault but the kills is injected: a message that failed, expired or was suppressed is a defect."""
LOGGED_PART_STATES = frozenset({"written", "sent", "delivered", "failed"})
"""A part the SMSC saw must be in one of these: its "written" mark is committed before the PDU goes."""
PAGE = 500
RECOVERED = "recovered after restart"


@dataclass(frozen=True)
class Submit:
    """One line of the SMSC log: a part the network accepted."""

    sender: str
    to: str
    part: int
    """1-based, as in the concatenation header (1 for a single-part message)."""
    parts: int
    ref: int | None
    mr: int
    text: str


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    pdus: int = 0
    unknown: list[int] = field(default_factory=list)
    unknown_parts: int = 0
    """Parts left 'written' (PDU handed over, no answer recorded) in unknown messages."""
    unknown_parts_on_air: int = 0
    """Of those, how many the SMSC did accept: the modem sent them; the kill came before +CMGS was read."""
    recoveries: Counter[str] = field(default_factory=Counter)
    check_ok: bool = False

    def fail(self, text: str) -> None:
        self.violations.append(text)

    def summary(self) -> dict[str, Any]:
        return {"messages": self.messages, "pdus_accepted_by_smsc": self.pdus, "statuses": dict(self.statuses),
                "unknown": len(self.unknown), "unknown_ids": self.unknown,
                "unknown_parts": self.unknown_parts, "unknown_parts_accepted_by_smsc": self.unknown_parts_on_air,
                "recoveries": dict(self.recoveries), "queue_check_ok": self.check_ok,
                "violations": len(self.violations)}


def read_smsc_log(path: Path) -> list[Submit]:
    if not path.exists():
        return []
    submits = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        submits.append(Submit(sender=record["from"], to=record["to"], part=record["part"], parts=record["parts"],
                              ref=record["ref"], mr=record["mr"], text=record["text"]))
    return submits


def recovery_counts(database: Path) -> Counter[str]:
    """How often recover() found a claim cut short, by outcome (unknown / resume / requeued / sent)."""
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT detail FROM events WHERE reason = ?", (RECOVERED,)).fetchall()
    finally:
        conn.close()
    return Counter(json.loads(detail)["outcome"] for (detail,) in rows if detail)


def _check_submits(verdict: Verdict, submits: list[Submit], by_recipient: dict[str, Expected]
                   ) -> dict[int, dict[int, list[Submit]]]:
    """Invariant 5 and the identity of every PDU; returns the submits by message id and 0-based part."""
    seen: dict[int, dict[int, list[Submit]]] = defaultdict(lambda: defaultdict(list))
    for submit in submits:
        message = by_recipient.get(submit.to)
        if message is None:
            verdict.fail(f"SMSC accepted a PDU to {submit.to}, which no enqueued message is for")
            continue
        index = submit.part - 1
        if submit.parts != message.parts or not 0 <= index < message.parts:
            verdict.fail(f"message {message.id}: SMSC saw part {submit.part}/{submit.parts}, "
                         f"expected {message.parts} part(s)")
            continue
        if submit.text != message.part_texts[index]:
            verdict.fail(f"message {message.id} part {submit.part}: SMSC text {submit.text!r} "
                         f"!= {message.part_texts[index]!r}")
        seen[message.id][index].append(submit)
    for message_id, by_part in seen.items():
        for index, copies in sorted(by_part.items()):
            if len(copies) > 1:
                verdict.fail(f"message {message_id} part {index + 1} DOUBLED: the SMSC accepted it {len(copies)} "
                             f"times (mr {[c.mr for c in copies]}, from {[c.sender for c in copies]})")
    return seen


def verify(database: Path, log_path: Path, expected: dict[int, Expected], modem_by_number: dict[str, str], *,
           max_unknown: int | None = None) -> Verdict:
    """All invariants; ``modem_by_number`` maps an emulated modem's number to the daemon's modem id."""
    verdict = Verdict(messages=len(expected))
    submits = read_smsc_log(log_path)
    verdict.pdus = len(submits)
    by_recipient = {message.recipient: message for message in expected.values()}
    on_air = _check_submits(verdict, submits, by_recipient)

    with Queue(database, read_only=True) as queue:
        report = queue.check()
        verdict.check_ok = report.ok
        if not report.ok:  # 7
            verdict.fail(f"Queue.check() not ok: {report}")
        rows = []
        after: int | None = None
        while page := queue.list_messages(limit=PAGE, after_id=after):
            rows.extend(page)
            after = page[-1].id
        parts = {row.id: queue.parts(row.id) for row in rows}
    stored = {row.id: row for row in rows}

    for message_id in sorted(set(stored) - set(expected)):
        verdict.fail(f"message {message_id} is in the database but was never enqueued")
    for message_id, want in sorted(expected.items()):
        row = stored.get(message_id)
        if row is None:  # 1
            verdict.fail(f"message {message_id} LOST: not in the database")
            continue
        if (row.recipient, row.text) != (want.recipient, want.text):
            verdict.fail(f"message {message_id}: stored recipient/text differ from what was enqueued")
        status = str(row.status)
        verdict.statuses[status] += 1
        if status in ACTIVE:  # 2
            verdict.fail(f"message {message_id} still {status} after the queue settled")
        elif status not in ALLOWED_FINAL:
            verdict.fail(f"message {message_id} ended {status} ({row.last_error}) with no fault injected")
        air = on_air.get(message_id, {})
        if status in ACCEPTED:  # 3
            missing = [i + 1 for i in range(want.parts) if not air.get(i)]
            if missing:
                verdict.fail(f"message {message_id} is {status} but the SMSC never saw part(s) {missing}")
        if status == "unknown":  # 4 (exactly-once for the rest is invariant 5, over every message)
            verdict.unknown.append(message_id)
            written = [part.part for part in parts.get(message_id, []) if str(part.state) == "written"]
            verdict.unknown_parts += len(written)
            verdict.unknown_parts_on_air += sum(1 for index in written if air.get(index))
            if any(len(copies) > 1 for copies in air.values()):
                verdict.fail(f"message {message_id} is unknown and was retried: a part went twice")
        refs = {copy.ref for copies in air.values() for copy in copies}
        if want.parts > 1 and air:  # 6
            if len(refs) != 1:
                verdict.fail(f"message {message_id}: its parts went with different concat references {refs}")
            elif row.concat_ref not in refs:
                verdict.fail(f"message {message_id}: SMSC saw reference {refs}, database says {row.concat_ref}")
        _check_part_marks(verdict, message_id, parts.get(message_id, []), air, modem_by_number)

    if max_unknown is not None and len(verdict.unknown) > max_unknown:
        verdict.fail(f"{len(verdict.unknown)} unknown outcomes, more than the {max_unknown} sends that can have "
                     f"been in flight at the kills")
    verdict.recoveries = recovery_counts(database)
    return verdict


def _check_part_marks(verdict: Verdict, message_id: int, parts: list[Any], air: dict[int, list[Submit]],
                      modem_by_number: dict[str, str]) -> None:
    """The database and the SMSC agree part by part: the written mark came first, the MR is the SMSC's."""
    marks = {part.part: part for part in parts}
    for index, copies in air.items():
        if not copies:
            continue
        mark = marks.get(index)
        state = str(mark.state) if mark is not None else "no row"
        if state not in LOGGED_PART_STATES:
            verdict.fail(f"message {message_id} part {index + 1} left the modem but the database has it "
                         f"{state}: the written mark did not precede the PDU")
            continue
        assert mark is not None
        if state == "written":
            continue  # unknown to the gateway, which is the point of 'written'
        copy = copies[0]
        modem = modem_by_number.get(copy.sender)
        if mark.modem != modem or (mark.mr is not None and mark.mr != copy.mr):
            verdict.fail(f"message {message_id} part {index + 1}: database says modem {mark.modem} mr {mark.mr}, "
                         f"SMSC says modem {modem} mr {copy.mr}")
    for index, mark in marks.items():
        if str(mark.state) in ("sent", "delivered", "failed") and not air.get(index):
            verdict.fail(f"message {message_id} part {index + 1} is {mark.state} in the database but the SMSC "
                         f"never accepted it")
