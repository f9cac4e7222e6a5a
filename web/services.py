"""What the views need from the gateway, held by the app so blueprints import no daemon state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from prometheus_client import CollectorRegistry

from gatewayd.config import ApiConfig
from gatewayd.dispatch.ratelimit import TokenBucket
from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Queue
from web.auth import TokenStore

EXTENSION = "gatewayd"


@dataclass(frozen=True)
class Services:
    queue: Queue
    modems: Callable[[], list[ModemSnapshot]]
    tokens: TokenStore
    api: ApiConfig
    clock: Callable[[], datetime]
    registry: CollectorRegistry
    mobile_only: bool = False
    """policy.reject_non_mobile: the API refuses numbers that cannot be mobiles."""
    rate_buckets: dict[str, TokenBucket] = field(default_factory=dict)
    """Per API client (token name): the API's own rate limit."""
    rate_lock: threading.Lock = field(default_factory=threading.Lock)


def services() -> Services:
    """The current app's services (inside a request)."""
    found: Services = current_app.extensions[EXTENSION]
    return found
