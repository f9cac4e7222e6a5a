"""What a claim costs with 10^3 and with 10^6 messages queued, and what durability costs per enqueue.

The claim reads the first entry of a partial index that holds only 'queued' rows, so its cost should
not grow with the backlog (goal: claim(10^6) / claim(10^3) <= 1.5). Measured through the public
``Queue`` API, on real files:

- claim(): median and p90 over many claims; each claimed row leaves 'queued' (-> 'sending', then it
  is failed, untimed). Measured with ``synchronous=OFF`` (the SQL and index cost, which is what could
  grow) and with FULL (what the daemon pays: one WAL fsync per commit).
- a whole send (claim, part_written, part_sent, mark_sent) with FULL.
- list_messages(status=...) first page and counts_by_status().
- enqueue() with synchronous FULL / NORMAL / OFF: the price of surviving a power cut.
- file size: per million queued rows (bulk fill), and per million messages through their whole life
  (events, part, status report) extrapolated from a sample.

Filling uses one bulk INSERT transaction (not the API) so the run stays within a few minutes.

    .venv/bin/python bench/claim_cost.py [--sizes 1000,1000000] [--claims 400] [--json bench/out/claim_cost.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatewayd.modem.pdu import SmsStatusReport, decode_pdu, encode_status_report
from gatewayd.queue import NewMessage, Queue
from gatewayd.queue.timefmt import to_stamp

FILL_BATCH = 50_000
WARMUP = 20
LIFECYCLE_SAMPLE = 2_000
ENQUEUE_SAMPLE = 200
LIST_SAMPLE = 200
MILLION = 1_000_000


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 4),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 4), "n": len(ordered)}


def fill(path: Path, count: int) -> float:
    """``count`` queued single-part messages in bulk; returns seconds taken."""
    Queue(path).close()  # create the schema through the real migrations
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    stamp = to_stamp(datetime.now(UTC))
    sql = ("INSERT INTO messages (recipient, text, priority, parts, encoding, status, created_at, updated_at)"
           " VALUES (?, ?, ?, 1, 'gsm7', 'queued', ?, ?)")
    for first in range(0, count, FILL_BATCH):
        rows = [(f"+4477009{i % 100_000:05d}", f"Your code is {i:06d}", i % 3, stamp, stamp)
                for i in range(first, min(count, first + FILL_BATCH))]
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start


def file_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    return int(size)


def measure_claims(path: Path, claims: int, synchronous: str) -> dict[str, float]:
    samples = []
    with Queue(path, synchronous=synchronous) as queue:  # type: ignore[arg-type]
        for _ in range(WARMUP):  # page cache and statement cache, untimed
            warm = queue.claim("m1")
            assert warm is not None
            queue.fail(warm.message.id, "bench warm-up")
        for _ in range(claims):
            start = time.perf_counter()
            claim = queue.claim("m1")
            samples.append(time.perf_counter() - start)
            assert claim is not None
            queue.fail(claim.message.id, "bench")
    return _summary(samples)


def measure_sends(path: Path, sends: int) -> dict[str, float]:
    samples = []
    with Queue(path) as queue:
        def send() -> None:
            claim = queue.claim("m1")
            assert claim is not None
            queue.part_written(claim.message.id, 0, "m1")
            queue.part_sent(claim.message.id, 0, 7)
            queue.mark_sent(claim.message.id)

        for _ in range(sends):
            samples.append(_timed(send))
    return _summary(samples)


def measure_reads(path: Path) -> dict[str, dict[str, float]]:
    with Queue(path) as queue:
        return {
            "list_queued_page": _summary([_timed(lambda: queue.list_messages(status="queued", limit=100))
                                          for _ in range(LIST_SAMPLE)]),
            "list_failed_page": _summary([_timed(lambda: queue.list_messages(status="failed", limit=100))
                                          for _ in range(LIST_SAMPLE)]),
            "counts_by_status": _summary([_timed(queue.counts_by_status) for _ in range(LIST_SAMPLE)]),
        }


def measure_enqueue(directory: Path) -> dict[str, dict[str, float]]:
    results = {}
    for synchronous in ("FULL", "NORMAL", "OFF"):
        path = directory / f"enqueue-{synchronous}.db"
        with Queue(path, synchronous=synchronous) as queue:
            samples = []
            for i in range(ENQUEUE_SAMPLE):
                new = NewMessage("+447700900123", f"message {i}")
                start = time.perf_counter()
                queue.enqueue(new)
                samples.append(time.perf_counter() - start)
        results[synchronous] = _summary(samples)
    return results


def lifecycle_bytes_per_message(directory: Path) -> float:
    """Bytes one message costs through its whole life: row, events, part, status report."""
    path = directory / "lifecycle.db"
    Queue(path).close()
    before = file_bytes(path)
    now = datetime.now(UTC)
    with Queue(path, synchronous="OFF") as queue:
        for i in range(LIFECYCLE_SAMPLE):
            recipient = f"+4477009{i:05d}"
            message, _ = queue.enqueue(NewMessage(recipient, f"Your code is {i:06d}", client="shop",
                                                  idempotency_key=f"order-{i}"))
            claim = queue.claim("m1")
            assert claim is not None
            queue.part_written(message.id, 0, "m1")
            queue.part_sent(message.id, 0, i % 256)
            queue.mark_sent(message.id)
            pdu = encode_status_report(i % 256, recipient, sc_timestamp=now, discharge_time=now, status=0)
            report = decode_pdu(pdu)
            assert isinstance(report, SmsStatusReport)
            queue.record_status_report("m1", report, pdu)
    return (file_bytes(path) - before) / LIFECYCLE_SAMPLE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--claims", type=int, default=400)
    parser.add_argument("--dir", help="where the database files go (default: a temporary directory); put it on "
                                          "the disk the gateway will use, fsync cost depends on it")
    parser.add_argument("--json", help="write the figures to this file too (e.g. bench/out/claim_cost.json)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.python_version()}, SQLite "
                                      f"{sqlite3.sqlite_version}", "date": datetime.now(UTC).date().isoformat(),
                           "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="claim-cost-", dir=args.dir) as tmp:
        directory = Path(tmp)
        for size in sizes:
            path = directory / f"queue-{size}.db"
            extra = 3 * args.claims + 2 * WARMUP  # rows the measurements consume
            seconds = fill(path, size + extra)
            fill_size = file_bytes(path)
            out["sizes"][str(size)] = {
                "fill_seconds": round(seconds, 1),
                "bytes_per_million_queued": round(fill_size / (size + extra) * MILLION),
                "claim_sync_off": measure_claims(path, args.claims, "OFF"),
                "claim_sync_full": measure_claims(path, args.claims, "FULL"),
                "send_cycle_sync_full": measure_sends(path, args.claims // 2),
                **measure_reads(path),
            }
            print(f"{size}: {json.dumps(out['sizes'][str(size)])}", file=sys.stderr)
        if len(sizes) == 2:
            small, large = (out["sizes"][str(s)] for s in sizes)
            out["claim_ratio_sync_off"] = round(large["claim_sync_off"]["median_ms"]
                                                / small["claim_sync_off"]["median_ms"], 3)
            out["claim_ratio_sync_full"] = round(large["claim_sync_full"]["median_ms"]
                                                 / small["claim_sync_full"]["median_ms"], 3)
        out["enqueue"] = measure_enqueue(directory)
        out["lifecycle_bytes_per_message"] = round(lifecycle_bytes_per_message(directory))
        out["lifecycle_mb_per_million_messages"] = round(out["lifecycle_bytes_per_message"] * MILLION / 2**20)
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
