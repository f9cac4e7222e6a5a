"""The Flask app of one gateway: API, health, metrics and status page over the queue and modem snapshots.

The app is built from what it reads (a ``Queue``, a function returning modem snapshots) and never
reaches a modem: it writes messages to the queue and the daemon's dispatcher sends them. Serve it with
``web.server.serve`` (waitress), never with Flask's development server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, request
from prometheus_client import Counter
from prometheus_client.registry import Collector

from gatewayd.config import ApiConfig
from gatewayd.owner import ModemSnapshot
from gatewayd.queue import Queue
from gatewayd.queue.timefmt import utcnow
from web import api as api_routes
from web import (
    api_contacts,  # noqa: F401  (its routes join the API blueprint)
    errors,
    health,
    login,
    metrics,
    openapi,
    pages,
)
from web.auth import TokenStore
from web.pages_common import PageSetup
from web.services import EXTENSION, Services

LOGGER = logging.getLogger(__name__)


def create_app(*, queue: Queue, modems: Callable[[], list[ModemSnapshot]], tokens: TokenStore, api: ApiConfig,
               clock: Callable[[], datetime] = utcnow, mobile_only: bool = False,
               pages_setup: PageSetup | None = None, activity: Collector | None = None) -> Flask:
    """``clock`` (aware UTC) judges whether a ``send_at`` lies in the past; tests pass a fixed one.
    ``mobile_only``: refuse numbers that cannot be mobiles (policy.reject_non_mobile). ``pages_setup``:
    the operator pages' session key, settings and probe token (None: a random key, for tests and tools)."""
    app = Flask(__name__)
    # Werkzeug refuses a longer body with 413 before the view reads it (with or without Content-Length).
    app.config["MAX_CONTENT_LENGTH"] = api.max_body_bytes
    registry = metrics.build_registry(queue, modems, activity)
    app.extensions[EXTENSION] = Services(queue=queue, modems=modems, tokens=tokens, api=api, clock=clock,
                                         registry=registry, mobile_only=mobile_only)
    if not tokens.has_any:
        LOGGER.warning("no API tokens: every /api/v1 request will be refused (401); make one with "
                       "'gatewayd token create NAME'")
    errors.register(app)
    app.register_blueprint(api_routes.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(pages.bp)
    login.init_app(app, pages_setup)  # operator sessions, CSRF, and who may reach which URL
    app.register_blueprint(openapi.bp)
    _count_api_responses(app, metrics.response_counter(registry))
    return app


def _count_api_responses(app: Flask, counter: Counter) -> None:
    @app.after_request
    def count(response: Response) -> Response:
        if request.blueprint == api_routes.bp.name:
            counter.labels(code=str(response.status_code)).inc()
        return response
