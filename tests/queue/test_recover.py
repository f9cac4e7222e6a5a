"""Crashes at every point of the send path: close without finishing, reopen, recover().

Plus the real thing: a subprocess streaming operations is killed with SIGKILL at random moments,
several times on the same file, and the invariants are checked after each restart.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gatewayd.queue import NewMessage, PartState, Queue, Status
from tests.queue.conftest import LONG_TEXT, MODEM, RECIPIENT

CHILD = Path(__file__).with_name("crash_child.py")
KILL_ROUNDS = 4
KILL_AFTER_LINES = (20, 200)


def _crash_after(open_queue: Callable[..., Queue], steps: Callable[[Queue, int], None],
                 text: str = "hello") -> tuple[Queue, int, dict[str, int]]:
    """Run ``steps`` on a fresh claim, 'crash' (close without settling), reopen and recover."""
    first = open_queue()
    message, _ = first.enqueue(NewMessage(RECIPIENT, text))
    claim = first.claim(MODEM)
    assert claim is not None
    steps(first, message.id)
    first.close()
    second = open_queue()
    return second, message.id, second.recover()


def test_crash_after_claim_requeues(open_queue: Callable[..., Queue]) -> None:
    queue, mid, counts = _crash_after(open_queue, lambda q, m: None)
    assert counts == {"unknown": 0, "requeued": 1, "resumed": 0, "sent": 0}
    message = queue.get(mid)
    assert message is not None and message.status == Status.QUEUED and message.pinned_modem is None
    last = queue.events(mid)[-1]
    assert (last.from_status, last.to_status, last.reason) == ("sending", "queued", "recovered after restart")
    claim = queue.claim("m2")
    assert claim is not None and claim.parts_to_send == [0] and claim.message.attempts == 2


def test_crash_after_pdu_written_is_unknown_and_never_retried(open_queue: Callable[..., Queue]) -> None:
    queue, mid, counts = _crash_after(open_queue, lambda q, m: q.part_written(m, 0, MODEM))
    assert counts["unknown"] == 1
    message = queue.get(mid)
    assert message is not None and message.status == Status.UNKNOWN
    assert queue.claim(MODEM) is None and queue.promote_due() == 0
    assert queue.events(mid)[-1].detail == {"outcome": "unknown", "sent_parts": [], "written_parts": [0]}


def test_crash_after_part_accepted_but_before_mark_sent_is_sent(open_queue: Callable[..., Queue]) -> None:
    def steps(q: Queue, m: int) -> None:
        q.part_written(m, 0, MODEM)
        q.part_sent(m, 0, 12)

    queue, mid, counts = _crash_after(open_queue, steps)
    assert counts["sent"] == 1
    message = queue.get(mid)
    assert message is not None and message.status == Status.SENT
    assert queue.claim(MODEM) is None


def test_crash_between_parts_resumes_the_rest_on_the_same_modem(open_queue: Callable[..., Queue]) -> None:
    def steps(q: Queue, m: int) -> None:
        q.set_concat_ref(m, 200)
        q.part_written(m, 0, MODEM)
        q.part_sent(m, 0, 12)

    queue, mid, counts = _crash_after(open_queue, steps, LONG_TEXT)
    assert counts["resumed"] == 1
    message = queue.get(mid)
    assert message is not None and message.status == Status.QUEUED and message.pinned_modem == MODEM
    assert queue.claim("m2") is None
    resume = queue.claim(MODEM)
    assert resume is not None and resume.parts_to_send == [1] and resume.concat_ref == 200


def test_crash_in_the_second_part_is_unknown(open_queue: Callable[..., Queue]) -> None:
    def steps(q: Queue, m: int) -> None:
        q.part_written(m, 0, MODEM)
        q.part_sent(m, 0, 12)
        q.part_written(m, 1, MODEM)

    queue, _, counts = _crash_after(open_queue, steps, LONG_TEXT)
    assert counts["unknown"] == 1
    assert queue.claim(MODEM) is None


def test_recover_is_idempotent(open_queue: Callable[..., Queue]) -> None:
    queue, _, _ = _crash_after(open_queue, lambda q, m: None)
    assert queue.recover() == {"unknown": 0, "requeued": 0, "resumed": 0, "sent": 0}


def _kill_child_midway(db_path: Path, rng: random.Random) -> list[list[str]]:
    proc = subprocess.Popen([sys.executable, str(CHILD), str(db_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[list[str]] = []
    target = rng.randint(*KILL_AFTER_LINES)
    try:
        while len(lines) < target:
            line = proc.stdout.readline()
            assert line, f"child exited early ({proc.poll()})"
            lines.append(line.split())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Whatever else it printed before dying was acknowledged too.
    lines.extend(line.split() for line in proc.stdout.read().splitlines())
    return lines


def test_sigkill_mid_stream_loses_and_doubles_nothing(db_path: Path) -> None:
    rng = random.Random()
    enqueued: set[int] = set()
    accepted: set[tuple[int, int]] = set()
    for _ in range(KILL_ROUNDS):
        for kind, *args in _kill_child_midway(db_path, rng):
            if kind == "E":
                enqueued.add(int(args[0]))
            elif kind == "S":
                accepted.add((int(args[0]), int(args[1])))
        with Queue(db_path) as queue:
            queue.recover()
            report = queue.check()
            assert report.ok, report
            assert sum(report.counts.values()) >= len(enqueued)
            for mid in enqueued:
                message = queue.get(mid)
                assert message is not None, f"acknowledged message {mid} lost"
                assert message.status in (Status.QUEUED, Status.SENT, Status.UNKNOWN), message
                states = {p.part: p.state for p in queue.parts(mid)}
                assert PartState.WRITTEN not in states.values() or message.status == Status.UNKNOWN
                if message.status == Status.QUEUED:
                    # Claimable again: parts the modem accepted stay sent (never offered, see below).
                    assert all(states.get(i) == PartState.SENT for m, i in accepted if m == mid)
                    assert message.pinned_modem == ("m1" if any(m == mid for m, _ in accepted) else None)
            for mid, part in accepted:
                states = {p.part: p.state for p in queue.parts(mid)}
                assert states[part] == PartState.SENT, f"accepted part {mid}/{part} not recorded sent"
    # Finally drain what is claimable: no accepted part is ever offered again.
    with Queue(db_path) as queue:
        while (claim := queue.claim("m1")) is not None:
            offered = {(claim.message.id, part) for part in claim.parts_to_send}
            assert not offered & accepted
            queue.fail(claim.message.id, "drained")
