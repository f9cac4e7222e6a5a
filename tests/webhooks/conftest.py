"""A real HTTP receiver on 127.0.0.1, queues on real SQLite files, and deliverers that report attempts.

The receiver is ``http.server`` in a thread: it records every request (headers and raw body, so the
signature is checked over the bytes that travelled) and answers as told: a status code script, a hang
until released, or nothing at all (down: the port refuses connections).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from gatewayd.queue import Queue
from gatewayd.webhooks.deliverer import Attempt, Deliverer, DeliverySettings
from gatewayd.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER

# The queue tests' fixtures: a Queue on the test's SQLite file and settable clock.
from tests.queue.conftest import Clock, clock, db_path, open_queue  # noqa: F401

SECRET = b"whsec-test-0123456789abcdef"
WAIT = 5.0
"""Seconds any test waits for something the deliverer should do at once: a failure, never a pace."""
POLL = 0.05
"""How often the receiver's serve loop looks for shutdown (the default 0.5 s makes every test slower)."""
HANG_LIMIT = 30.0
"""A hanging handler gives up by itself after this, should a test forget to release it."""
SETTINGS = DeliverySettings(timeout=timedelta(seconds=2), max_attempts=5, retry_base=timedelta(seconds=10),
                            retry_max=timedelta(minutes=1))


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def delivery(self) -> str:
        return self.headers[DELIVERY_HEADER]

    @property
    def event(self) -> str:
        return self.headers[EVENT_HEADER]


@dataclass
class Receiver:
    """Answers ``script`` in order, then ``status``; with ``hang`` set, holds each request until released."""

    status: int = 204
    script: list[int] = field(default_factory=list)
    hang: bool = False
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        """Listen (again, on the same port after ``down``)."""
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = receiver._record(Request(self.path, dict(self.headers.items()), body))
                if answer is None:
                    return
                self.send_response(answer)
                if 300 <= answer < 400:
                    self.send_header("Location", receiver.url + "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                """What a followed redirect would become: recorded, and answered 200 like a web page."""
                receiver._record(Request(self.path, dict(self.headers.items()), b""), answer=200)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL}, name="webhook-receiver",
                         daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        self._release.set()

    def _record(self, request: Request, answer: int | None = None) -> int | None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            hang = self.hang and answer is None
            if answer is None:
                answer = self.script.pop(0) if self.script else self.status
        if hang:
            self._release.wait(HANG_LIMIT)
            return None
        return answer

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Request]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"{len(self.requests)} request(s) arrived, expected {count}")
            return list(self.requests)


class Attempts:
    """The deliverer's ``on_attempt`` observer: what was recorded, in order, with a way to wait for it."""

    def __init__(self) -> None:
        self.seen: list[Attempt] = []
        self._changed = threading.Condition()

    def __call__(self, attempt: Attempt) -> None:
        with self._changed:
            self.seen.append(attempt)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Attempt]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.seen) >= count, timeout), (
                f"{len(self.seen)} attempt(s) recorded, expected {count}: {self.seen}")
            return list(self.seen)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.up()
    yield server
    server.release()
    server.down()


@pytest.fixture
def attempts() -> Attempts:
    return Attempts()


@pytest.fixture
def start_deliverer(clock: Clock, attempts: Attempts) -> Iterator[Callable[..., Deliverer]]:  # noqa: F811
    """``start_deliverer(queue, settings=...)``: a running Deliverer on the test's clock, stopped at the end."""
    started: list[Deliverer] = []

    def factory(queue: Queue, settings: DeliverySettings = SETTINGS) -> Deliverer:
        deliverer = Deliverer(queue, SECRET, settings=settings, clock=clock, on_attempt=attempts)
        deliverer.start()
        started.append(deliverer)
        return deliverer

    yield factory
    for deliverer in started:
        deliverer.stop()
