"""The thread that owns the database connection (the Moonraker pattern).

SQLite connections are not meant to be shared between threads, and one writer at a time is all
SQLite allows anyway; so one thread opens the connection, runs every operation handed to it in
order, and the callers (API threads, modem owners, the dispatcher) wait on a Future. Operations are
short transactions; nothing here blocks on anything but the disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from gatewayd.queue.errors import QueueClosed, QueueError

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

JOIN_TIMEOUT = 30.0
"""How long close() waits for operations already queued to finish."""


class _Stop:
    pass


_STOP = _Stop()


class DbWorker:
    """Runs ``open_fn()`` on its own thread, then each submitted ``fn(resource)`` in order.

    ``close_fn(resource)`` runs on the same thread at close().
    """

    def __init__(self, name: str, open_fn: Callable[[], R], close_fn: Callable[[R], None]) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[Any], Any], Future[Any]] | _Stop] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        opened: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(open_fn, close_fn, opened), name=name,
                                        daemon=True)
        self._thread.start()
        opened.result()  # re-raises an error from open_fn here, in the caller

    def _run(self, open_fn: Callable[[], Any], close_fn: Callable[[Any], None], opened: Future[None]) -> None:
        try:
            resource = open_fn()
        except BaseException as exc:
            self._closed.set()
            opened.set_exception(exc)
            return
        opened.set_result(None)
        try:
            while True:
                job = self._jobs.get()
                if isinstance(job, _Stop):
                    break
                fn, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(resource))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            try:
                close_fn(resource)
            except Exception:
                LOGGER.exception("closing the database failed")
            self._fail_pending()

    def _fail_pending(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not isinstance(job, _Stop):
                job[1].set_exception(QueueClosed("queue closed"))

    def call(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(resource)`` on the worker thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            # A listener calling back into the queue would wait for itself forever.
            raise QueueError("queue operation called from the queue's own thread (a listener must not)")
        future: Future[T] = Future()
        with self._lock:
            if self._closed.is_set():
                raise QueueClosed("queue closed")
            self._jobs.put((fn, future))
        return future.result()

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            self._jobs.put(_STOP)
        self._thread.join(JOIN_TIMEOUT)
        if self._thread.is_alive():
            LOGGER.error("database thread still busy %.0f s after close", JOIN_TIMEOUT)
