"""The app behind a real waitress server on 127.0.0.1, spoken to over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from flask import Flask

from gatewayd.queue import Queue
from tests.web.conftest import AUTH, VALID
from web.server import SHUTDOWN_TIMEOUT, serve


def request(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={**AUTH, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_post_then_get_through_waitress(app: Flask, queue: Queue) -> None:
    with serve(app, "127.0.0.1", 0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        status, created = request(f"{server.url}/api/v1/messages", {**VALID, "idempotency_key": "w-1"})
        assert status == 202
        status, message = request(f"{server.url}/api/v1/messages/{created['id']}")
        assert (status, message["id"], message["to"]) == (200, created["id"], VALID["to"])
        assert queue.counts_by_status()["queued"] == 1
        status, error = request(f"{server.url}/api/v1/messages", {**VALID, "text": ""})
        assert (status, error["error"]["field"]) == (400, "text")  # type: ignore[index]


def test_close_frees_the_port_even_with_an_idle_keep_alive_connection(app: Flask) -> None:
    server = serve(app, "127.0.0.1", 0)
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    idle.request("GET", "/healthz")
    assert idle.getresponse().read()  # HTTP/1.1: the connection stays open
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < SHUTDOWN_TIMEOUT
    assert f"web:{server.port}" not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    server.close()  # idempotent
    idle.close()


def test_body_over_the_limit_is_413_over_the_wire(app: Flask, queue: Queue) -> None:
    with serve(app, "127.0.0.1", 0) as server:
        status, error = request(f"{server.url}/api/v1/messages", {**VALID, "text": "a" * 20_000})
        assert (status, error["error"]["code"]) == (413, "body_too_large")  # type: ignore[index]
    assert sum(queue.counts_by_status().values()) == 0
