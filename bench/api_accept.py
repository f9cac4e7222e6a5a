"""Accepted messages per second through the HTTP API: single POSTs and batch rows.

The server is the product's own stack in its own process (waitress + Flask app + Queue on a SQLite file
with synchronous=FULL, so every 202 means fsynced); the load comes from wrk (Debian package) in another
process, over loopback, with keep-alive connections. Both share the machine's cores, as a LAN app on the
same Pi would. Every accepted message is checked afterwards: the database must hold exactly as many rows
as wrk counted 2xx answers (batch: times the rows per request).

    .venv/bin/python bench/api_accept.py [--seconds 10] [--connections 16] [--batch-rows 500] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit  # bench/report.py: bench/ is the script's own folder

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-bench-token-bench-token-000000"
SERVER = """
import sys, signal, threading
from gatewayd.config import ApiConfig, ApiToken
from gatewayd.queue import Queue
from web.app import create_app
from web.auth import TokenStore, token_hash
from web.server import serve

queue = Queue(sys.argv[1])
api = ApiConfig(tokens=(ApiToken("bench", token_hash(sys.argv[2])),), rate_per_minute=10_000_000,
                max_body_bytes=64 * 1024 * 1024, batch_limit=100_000)
app = create_app(queue=queue, modems=lambda: [], tokens=TokenStore.from_config(api.tokens), api=api)
server = serve(app, "127.0.0.1", 0)
print(server.url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
server.close()
queue.close()
"""
CEILING_SERVER = """
import sys, signal, threading
from flask import Flask, jsonify, request
from web.server import serve

ANSWER = b'{"id": 1}'

def bare(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]

flask_app = Flask("ceiling")

@flask_app.post("/api/v1/messages")
def accept():
    request.get_data(cache=False)
    return jsonify({"id": 1}), 202

server = serve(bare if sys.argv[1] == "wsgi" else flask_app, "127.0.0.1", 0)
print(server.url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
server.close()
"""
"""The stack's own ceiling: the same waitress settings (web/server.py) answering the same POST with no
work at all, bare WSGI and through a one-line Flask view. Our figure is quoted as a ratio of these."""
LUA = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
READY_TIMEOUT = 30.0


def run_wrk(url: str, body: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(LUA.format(body=body, token=TOKEN), encoding="utf-8")
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)

    def ms(match: re.Match[str] | None) -> float | None:
        if match is None:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return round(float(match.group(1)) * scale, 2)

    ok = requests - (int(non_2xx.group(1)) if non_2xx else 0)
    return {"requests": requests, "ok": ok, "per_second": round(ok / seconds, 1), "p50_ms": ms(p50),
            "p99_ms": ms(p99), "socket_errors": errors.group(1) if errors else None}


def count_rows(database: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


def ceiling(kind: str, body: str, *, connections: int, seconds: int, workdir: Path) -> dict[str, object]:
    """Requests per second of the do-nothing server ``kind`` ('wsgi' or 'flask')."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", CEILING_SERVER, kind], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url:
            raise SystemExit(f"ceiling {kind}: the server did not start")
        return run_wrk(f"{url}/api/v1/messages", body, seconds, connections, workdir)
    finally:
        server.terminate()
        server.wait(READY_TIMEOUT)


def measure(kind: str, body: str, rows_per_request: int, *, connections: int, args: argparse.Namespace,
            workdir: Path) -> dict[str, object]:
    database = workdir / f"{kind}.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(database), TOKEN], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url:
            raise SystemExit(f"{kind}: the server did not start")
        result = run_wrk(f"{url}/api/v1/{'messages/batch' if rows_per_request > 1 else 'messages'}", body,
                         args.seconds, connections, workdir)
    finally:
        server.terminate()
        server.wait(READY_TIMEOUT)
    stored = count_rows(database)
    acknowledged = int(result["ok"]) * rows_per_request
    return {**result, "connections": connections, "rows_per_request": rows_per_request,
            "rows_per_second": round(acknowledged / args.seconds, 1), "rows_acknowledged": acknowledged,
            "rows_stored": stored,
            # wrk stops mid-request: a row may be stored whose answer wrk never counted, never the reverse.
            "every_ack_stored": stored >= acknowledged}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch-rows", type=int, default=500)
    parser.add_argument("--batch-connections", type=int, default=4,
                        help="fewer than for single POSTs: each batch is a 30 KB body and one transaction")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    single = json.dumps({"to": "+447911123456", "text": "Your code is 123456"})
    batch = json.dumps({"messages": [{"to": f"+4479111{i % 100000:05d}", "text": f"Offer {i}"}
                                     for i in range(args.batch_rows)]})
    with tempfile.TemporaryDirectory(prefix="api-accept-") as tmp:
        workdir = Path(tmp)
        report = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "seconds": args.seconds,
                  "single": measure("single", single, 1, connections=args.connections, args=args, workdir=workdir),
                  "batch": measure("batch", batch, args.batch_rows, connections=args.batch_connections, args=args,
                                   workdir=workdir)}
        # The same POST answered by the bare stack: what no application code could beat on this machine.
        bare = ceiling("wsgi", single, connections=args.connections, seconds=args.seconds, workdir=workdir)
        flask = ceiling("flask", single, connections=args.connections, seconds=args.seconds, workdir=workdir)
        accepted = float(report["single"]["per_second"])  # type: ignore[index]
        report["ceiling"] = {"waitress_bare_wsgi_per_second": bare["per_second"],
                             "waitress_flask_noop_per_second": flask["per_second"],
                             "single_vs_bare": round(accepted / float(bare["per_second"]), 3),
                             "single_vs_flask_noop": round(accepted / float(flask["per_second"]), 3)}
    emit(report, args.json)
    return 0 if report["single"]["every_ack_stored"] and report["batch"]["every_ack_stored"] else 1  # type: ignore[index]


if __name__ == "__main__":
    raise SystemExit(main())
