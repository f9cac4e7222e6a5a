"""Serve the app with waitress on a background thread, and stop it cleanly with the daemon.

waitress, not Flask's development server: a production WSGI server with a bounded worker pool, pure
Python (nothing to compile on a Raspberry Pi). Its event loop runs on one thread we own; stopping hands
the loop a closure through waitress's trigger, because closing its sockets from another thread would
race with the poll.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer

LOGGER = logging.getLogger(__name__)

THREADS = 16
"""Request workers. Every write funnels into the queue's one database thread, which commits the writes
that wait together with one fsync (group commit): more workers mean bigger groups, not more contention."""
SHUTDOWN_TIMEOUT = 5.0
"""Seconds ``close`` waits for requests in flight, then for the event loop to end."""
CHANNEL_TIMEOUT = 30
"""Seconds an idle keep-alive connection is kept (waitress's default is 120)."""


QUEUE_WARNING_INTERVAL = 60.0
"""Seconds between two of waitress's "Task queue depth is N" warnings: it logs one for every request that
finds all workers busy, which under a burst of API posts is hundreds of journal lines a second."""


class _QueueDepthThrottle(logging.Filter):
    """Passes one "Task queue depth" warning per interval, naming how many were held back since."""

    def __init__(self, interval: float = QUEUE_WARNING_INTERVAL) -> None:
        super().__init__()
        self._interval = interval
        self._last = float("-inf")
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._interval:
                self._held += 1
                return False
            held, self._held, self._last = self._held, 0, now
        if held:
            record.msg = f"{record.getMessage()} ({held} more such warnings held back since the last one)"
            record.args = None
        return True


_QUEUE_LOGGER = logging.getLogger("waitress.queue")
if not any(isinstance(f, _QueueDepthThrottle) for f in _QUEUE_LOGGER.filters):
    _QUEUE_LOGGER.addFilter(_QueueDepthThrottle())


class WebServer:
    """A running waitress server; ``close()`` is idempotent and returns once the port is free."""

    def __init__(self, app: Any, host: str, port: int, *, threads: int = THREADS,
                 trusted_proxy: str | None = None) -> None:
        # A host name may resolve to several addresses (localhost: ::1 and 127.0.0.1); waitress then
        # listens on each, all in one map served by one loop. ``.host``/``.port`` name the first.
        self._map: dict[int, Any] = {}
        # Behind a reverse proxy, waitress itself takes the client's address and scheme from the headers
        # of that one proxy (and drops them from anyone else): login throttling and logs see the client.
        proxy: dict[str, Any] = {} if trusted_proxy is None else {
            "trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}, "clear_untrusted_proxy_headers": True}
        self._server = waitress.create_server(app, map=self._map, host=host, port=port, threads=threads,
                                              channel_timeout=CHANNEL_TIMEOUT, ident="gatewayd", **proxy)
        self._listeners = [d for d in self._map.values() if isinstance(d, BaseWSGIServer)]
        first = self._listeners[0]
        self.host: str = first.effective_host
        self.port: int = int(first.effective_port)
        self._closed = False
        self._thread = threading.Thread(target=self._server.run, name=f"web:{self.port}", daemon=True)
        self._thread.start()
        LOGGER.info("web: serving on %s", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        trigger = self._listeners[0].trigger
        # 1. stop accepting (in the loop thread), 2. let requests in flight finish, 3. close every channel.
        trigger.pull_trigger(self._stop_listening)
        self._server.task_dispatcher.shutdown(timeout=SHUTDOWN_TIMEOUT)
        trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
        self._thread.join(SHUTDOWN_TIMEOUT)
        if self._thread.is_alive():
            LOGGER.warning("web: the server thread did not stop within %.0f s", SHUTDOWN_TIMEOUT)
        else:
            LOGGER.info("web: stopped")

    def _stop_listening(self) -> None:
        for listener in self._listeners:
            wasyncore.dispatcher.close(listener)  # the socket only; its trigger still wakes the loop

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serve(app: Any, host: str, port: int, *, threads: int = THREADS, trusted_proxy: str | None = None) -> WebServer:
    """Start serving ``app`` (a WSGI app) on ``host:port`` (port 0: any free port, see ``.port``).
    ``trusted_proxy``: the reverse proxy's address, whose X-Forwarded-For and -Proto are believed."""
    return WebServer(app, host, port, threads=threads, trusted_proxy=trusted_proxy)
