"""The thread that owns the database connection (the Moonraker pattern).

SQLite connections are not meant to be shared between threads, and one writer at a time is all
SQLite allows anyway; so one thread opens the connection, runs every operation handed to it in
order, and the callers (API threads, modem owners, the dispatcher) wait on a Future. Operations are
short transactions; nothing here blocks on anything but the disk.

Group commit: writes that queued up while the disk was busy with the previous fsync are run together,
each in its own savepoint of one transaction, and committed with one fsync. Each caller still gets
its own answer only after that COMMIT, and one write failing rolls back only its own savepoint; so
the durability promise is unchanged while concurrent API requests stop queueing behind each other's
fsync (the disk, not the CPU, is what limits single-message POSTs on an SD card).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from gatewayd.queue.errors import QueueClosed, QueueError

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

JOIN_TIMEOUT = 30.0
"""How long close() waits for operations already queued to finish."""
GROUP_MAX = 64
"""Most writes committed together: bounds the latency one slow job adds to the others."""

Outcome = tuple[bool, Any]
"""(True, result) or (False, exception) of one job in a group."""
GroupFn = Callable[[Any, list[Callable[[Any], Any]]], list[Outcome]]


class _Stop:
    pass


@dataclass(frozen=True)
class _Job:
    fn: Callable[[Any], Any]
    future: Future[Any]
    groupable: bool


_STOP = _Stop()


class DbWorker:
    """Runs ``open_fn()`` on its own thread, then each submitted ``fn(resource)`` in order.

    ``close_fn(resource)`` runs on the same thread at close().
    """

    def __init__(self, name: str, open_fn: Callable[[], R], close_fn: Callable[[R], None], *,
                 group_fn: GroupFn | None = None) -> None:
        """``group_fn(resource, fns)`` runs several groupable jobs together (see the module docstring)
        and returns one outcome per job, in order."""
        self._group_fn = group_fn
        self._jobs: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
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
            carried: _Job | _Stop | None = None
            while True:
                job = carried if carried is not None else self._jobs.get()
                carried = None
                if isinstance(job, _Stop):
                    break
                if job.groupable and self._group_fn is not None:
                    carried = self._run_group(resource, job)
                    continue
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    job.future.set_result(job.fn(resource))
                except BaseException as exc:
                    job.future.set_exception(exc)
        finally:
            try:
                close_fn(resource)
            except Exception:
                LOGGER.exception("closing the database failed")
            self._fail_pending()

    def _run_group(self, resource: Any, first: _Job) -> _Job | _Stop | None:
        """``first`` and the groupable jobs queued right behind it, together; returns the job that ended
        the group (to run next), if any."""
        assert self._group_fn is not None
        group = [first]
        carried: _Job | _Stop | None = None
        while len(group) < GROUP_MAX:
            try:
                following = self._jobs.get_nowait()
            except queue.Empty:
                break
            if isinstance(following, _Stop) or not following.groupable:
                carried = following
                break
            group.append(following)
        live = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not live:
            return carried
        try:
            outcomes = self._group_fn(resource, [job.fn for job in live])
        except BaseException as exc:
            outcomes = [(False, exc)] * len(live)
        for job, (ok, value) in zip(live, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        return carried

    def _fail_pending(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not isinstance(job, _Stop):
                job.future.set_exception(QueueClosed("queue closed"))

    def call(self, fn: Callable[[Any], T], *, groupable: bool = False) -> T:
        """Run ``fn(resource)`` on the worker thread and return its result (or raise its error).

        ``groupable``: ``fn`` is a write the group function may run together with its neighbours."""
        if threading.current_thread() is self._thread:
            # A listener calling back into the queue would wait for itself forever.
            raise QueueError("queue operation called from the queue's own thread (a listener must not)")
        future: Future[T] = Future()
        with self._lock:
            if self._closed.is_set():
                raise QueueClosed("queue closed")
            self._jobs.put(_Job(fn, future, groupable))
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
