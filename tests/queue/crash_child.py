"""Run by test_recover.py in a subprocess that is killed with SIGKILL at a random moment.

Streams enqueue / claim / part marks / mark_sent on a queue file and prints a line after each call
returned (so the parent knows what was acknowledged): ``E id``, ``W id part``, ``S id part``, ``M id``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gatewayd.queue import NewMessage, Queue

LONG = "".join(f"{i:04d} " for i in range(60))  # 2 parts


def main() -> None:
    queue = Queue(sys.argv[1])
    out = sys.stdout
    n = 0
    while True:
        n += 1
        text = LONG if n % 3 == 0 else f"message {n}"
        message, _ = queue.enqueue(NewMessage(f"+4477009{n % 1000:05d}", text))
        print("E", message.id, flush=True)
        if n % 2:
            continue
        claim = queue.claim("m1")
        if claim is None:
            continue
        mid = claim.message.id
        if claim.message.parts > 1 and claim.concat_ref is None:
            queue.set_concat_ref(mid, n % 256)
        for part in claim.parts_to_send:
            queue.part_written(mid, part, "m1")
            out.write(f"W {mid} {part}\n")
            out.flush()
            queue.part_sent(mid, part, (n + part) % 256)
            out.write(f"S {mid} {part}\n")
            out.flush()
        queue.mark_sent(mid)
        print("M", mid, flush=True)


if __name__ == "__main__":
    main()
