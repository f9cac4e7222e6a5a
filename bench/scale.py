"""Scale: claim cost and the API's list queries with 10^3, 10^5 and 10^6 messages queued; bytes per million.

Each database is filled through ``Queue.enqueue_many`` (the API's own insert path: the row, its
'queued' event, the counters) in batches of ``FILL_BATCH``, with ``synchronous=OFF`` for the FILLING
only (a power cut during the fill does not matter to a benchmark; measured with FULL afterwards). The
messages belong to the API client ``shop``, go to 100,000 distinct mobile numbers (so at 10^6 each
number has 10 messages) and are spread over time: each batch is stamped one minute after the previous.
The inbox gets one received message per ten queued (bulk SQL, there is no bulk path for inbound).

Then, with ``synchronous=FULL`` (what the daemon pays):

- claim(): reused from bench/claim_cost.py (median of ``--claims`` claims, each row then failed);
- the API's list queries through the real Flask app (``create_app`` and Flask's test client, so routing,
  auth, validation, the query and JSON rendering are all in the time, but no socket), as an admin token
  (every client's messages) and as the ``shop`` token (read scope: its own messages only, the usual
  application): GET /api/v1/messages?limit=100 first page, a deep cursor page, ?status=queued,
  ?status=failed (none match), ?to=<a number>, ?since=<the last minute>; GET /api/v1/inbound first page,
  a deep cursor, ?since=<recent>. Median and p99 per query and size, the ratio largest/smallest, and
  SQLite's EXPLAIN QUERY PLAN of each messages query (the SQL of outbox.list_messages).
- file bytes per million messages (after a checkpoint), messages only (before the inbox fill).

    .venv/bin/python bench/scale.py [--sizes 1000,100000,1000000] [--json bench/out/scale.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from claim_cost import file_bytes, measure_claims

from gatewayd.config import ApiConfig, ApiToken
from gatewayd.queue import NewMessage, Queue
from gatewayd.queue.timefmt import to_stamp
from web.app import create_app
from web.auth import TokenStore

FILL_BATCH = 5_000
RECIPIENTS = 100_000
RECIPIENT_BASE = 447911000000
INBOX_SHARE = 10
"""One inbound message per this many queued messages."""
CLIENT = "shop"
ADMIN_TOKEN = "bench-scale-admin-token"
CLIENT_TOKEN = "bench-scale-client-token"
WARMUP = 5
QUERY_BUDGET = 10.0
MILLION = 1_000_000
START = datetime(2026, 1, 1, tzinfo=UTC)


class BatchClock:
    """The queue's clock during the fill: one minute later for each batch (text order is time order)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def fill(path: Path, count: int) -> dict[str, Any]:
    clock = BatchClock()
    start = time.perf_counter()
    with Queue(path, synchronous="OFF", clock=clock) as queue:
        for first in range(0, count, FILL_BATCH):
            queue.enqueue_many([NewMessage(recipient=f"+{RECIPIENT_BASE + i % RECIPIENTS}",
                                           text=f"Your code is {i:06d}", client=CLIENT)
                                for i in range(first, min(count, first + FILL_BATCH))])
            clock.now += timedelta(minutes=1)
    seconds = time.perf_counter() - start
    messages_bytes = file_bytes(path)
    inbox_last = fill_inbox(path, count // INBOX_SHARE, clock.now)
    return {"fill_seconds": round(seconds, 1), "messages_file_bytes": messages_bytes,
            "last_batch_at": to_stamp(clock.now - timedelta(minutes=1)), "inbox_last_at": inbox_last}


def fill_inbox(path: Path, count: int, end: datetime) -> str:
    """``count`` received messages, a batch a minute up to ``end``; returns the last batch's stamp."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    sql = ("INSERT INTO inbox (modem, sender, text, sc_timestamp, received_at, parts, parts_expected, complete,"
           " encoding, pdus) VALUES ('m1', ?, ?, ?, ?, 1, 1, 1, 'gsm7', '[]')")
    conn.execute("BEGIN")
    for first in range(0, count, FILL_BATCH):
        stamp = to_stamp(end - timedelta(minutes=(count - first + FILL_BATCH - 1) // FILL_BATCH))
        conn.executemany(sql, [(f"+{RECIPIENT_BASE + i % RECIPIENTS}", f"reply {i}", stamp, stamp)
                               for i in range(first, min(count, first + FILL_BATCH))])
    conn.execute("COMMIT")
    conn.close()
    return to_stamp(end - timedelta(minutes=1))


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3)}


def app_for(queue: Queue) -> Any:
    tokens = TokenStore([ApiToken("admin", hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()),
                         ApiToken(CLIENT, hashlib.sha256(CLIENT_TOKEN.encode()).hexdigest(), ("send", "read"))])
    return create_app(queue=queue, modems=list, tokens=tokens, api=ApiConfig(rate_per_minute=1e9))


def queries(count: int, last_batch_at: str, inbox_last_at: str) -> dict[str, str]:
    return {
        "messages first page": "/api/v1/messages?limit=100",
        "messages deep cursor": f"/api/v1/messages?limit=100&cursor={min(count, 300)}",
        "messages status=queued": "/api/v1/messages?limit=100&status=queued",
        "messages status=failed (rare)": "/api/v1/messages?limit=100&status=failed",
        "messages to=<number>": f"/api/v1/messages?limit=100&to=%2B{RECIPIENT_BASE + 4242 % count}",
        "messages since=<last minute>": f"/api/v1/messages?limit=100&since={last_batch_at}",
        "messages since=<now> (none newer)": "/api/v1/messages?limit=100&since=2026-12-31T00:00:00Z",
        "inbound first page": "/api/v1/inbound?limit=100",
        "inbound deep cursor": f"/api/v1/inbound?limit=100&cursor={max(0, count // INBOX_SHARE - 150)}",
        "inbound since=<recent>": f"/api/v1/inbound?limit=100&since={inbox_last_at}",
    }


def measure_api(path: Path, count: int, filled: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Each query ``repeats`` times, fewer for a slow one (about ``QUERY_BUDGET`` seconds, at least 10)."""
    out: dict[str, Any] = {}
    with Queue(path) as queue:
        client = app_for(queue).test_client()
        for who, token in (("admin", ADMIN_TOKEN), ("client", CLIENT_TOKEN)):
            headers = {"Authorization": f"Bearer {token}"}
            for name, url in queries(count, filled["last_batch_at"], filled["inbox_last_at"]).items():
                if who == "client" and name.startswith("inbound"):
                    continue  # inbound is not per client: the same query as admin's

                def get(url: str = url, headers: dict[str, str] = headers) -> int:
                    answer = client.get(url, headers=headers)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{url}: {answer.status_code} {answer.get_data(as_text=True)}")
                    return len(answer.get_json()["items"])

                items = get()
                first = min(timed(get) for _ in range(WARMUP))
                n = max(10, min(repeats, int(QUERY_BUDGET / first)))
                out[f"{who}: {name}"] = {**summary([timed(get) for _ in range(n)]), "items": items, "n": n}
    return out


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plans(path: Path, count: int, last_batch_at: str) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of outbox.list_messages' SQL for each filter (descending, as the API asks)."""
    shapes = {
        "first page": ("", {}),
        "status": ("WHERE status = :status", {"status": "queued"}),
        "to": ("WHERE recipient = :recipient", {"recipient": f"+{RECIPIENT_BASE + 4242 % count}"}),
        "since": ("WHERE created_at >= :since", {"since": last_batch_at}),
        "client + to": ("WHERE client = :client AND recipient = :recipient",
                        {"client": CLIENT, "recipient": f"+{RECIPIENT_BASE + 4242 % count}"}),
        "client + status": ("WHERE client = :client AND status = :status", {"client": CLIENT, "status": "queued"}),
        "client + since": ("WHERE client = :client AND created_at >= :since", {"client": CLIENT,
                                                                               "since": last_batch_at}),
    }
    conn = sqlite3.connect(path)
    try:
        found = {name: [row[3] for row in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM messages {where} ORDER BY id DESC LIMIT :limit",
            {**params, "limit": 100})] for name, (where, params) in shapes.items()}
        found["inbound since (inbox.list_inbound)"] = [row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM inbox WHERE received_at >= ? ORDER BY id ASC LIMIT 100",
            (last_batch_at,))]
        return found
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=200, help="timed requests per query and size")
    parser.add_argument("--dir", help="where the database files go (default: a temporary directory)")
    parser.add_argument("--json", help="write the figures to this file too (e.g. bench/out/scale.json)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.python_version()}, SQLite "
                                      f"{sqlite3.sqlite_version}", "date": datetime.now(UTC).date().isoformat(),
                           "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="scale-", dir=args.dir) as tmp:
        for size in sizes:
            path = Path(tmp) / f"scale-{size}.db"
            filled = fill(path, size)
            result: dict[str, Any] = {
                "fill_seconds": filled["fill_seconds"],
                "bytes_per_million_messages": round(filled["messages_file_bytes"] / size * MILLION),
                "claim_sync_full": measure_claims(path, args.claims, "FULL"),
                "api": measure_api(path, size, filled, args.repeats),
                "query_plans": plans(path, size, str(filled["last_batch_at"])),
            }
            out["sizes"][str(size)] = result
            print(f"{size}: {json.dumps(result)}", file=sys.stderr)
            path.unlink()
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    small, large = (out["sizes"][str(s)] for s in (sizes[0], sizes[-1]))
    out["ratio_largest_vs_smallest"] = {
        "claim": round(large["claim_sync_full"]["median_ms"] / small["claim_sync_full"]["median_ms"], 2),
        **{name: round(large["api"][name]["median_ms"] / small["api"][name]["median_ms"], 2)
           for name in small["api"]}}
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
