"""waitress's per-request "Task queue depth" warning reaches the journal at most once per interval."""

from __future__ import annotations

import logging

import pytest

from web.server import _QueueDepthThrottle


def test_queue_depth_warnings_are_throttled_and_count_what_was_held(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.waitress.queue")
    throttle = _QueueDepthThrottle(interval=3600.0)
    logger.addFilter(throttle)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            for depth in range(1, 6):
                logger.warning("Task queue depth is %d", depth)
            throttle._last = float("-inf")  # the interval has passed
            logger.warning("Task queue depth is %d", 9)
    finally:
        logger.removeFilter(throttle)
    assert [r.getMessage() for r in caplog.records] == [
        "Task queue depth is 1",
        "Task queue depth is 9 (4 more such warnings held back since the last one)",
    ]


def test_the_throttle_is_installed_on_waitress_queue_logger() -> None:
    assert any(isinstance(f, _QueueDepthThrottle) for f in logging.getLogger("waitress.queue").filters)
