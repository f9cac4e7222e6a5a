"""What every operator page shares: the blueprint, the app's page set-up, the signed-in operator.

The pages are split by subject (pages.py: dashboard; pages_messages, pages_people, pages_admin); their
routes all join this one blueprint, so ``create_app`` registers one thing and ``url_for`` names stay
``pages.<view>``. A database failure on a page is an HTML page saying so (503), not the API's JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gatewayd.queue import IllegalTransition, InvalidMessage, NotFound, QueueError
from web.services import services

LOGGER = logging.getLogger(__name__)

EXTENSION: Final = "gatewayd.pages"
PAGE_SIZE: Final = 50
"""Rows per page of a list; the next page is asked for by the last id (or number) shown."""
SESSION_LIFETIME: Final = timedelta(hours=12)
"""How long a login lasts without use (a shift); each page view extends it."""

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class PageSetup:
    """What the pages need beyond the queue and modems, from the daemon's configuration."""

    secret_key: bytes
    """Signs the session cookie; kept in a file so logins survive a restart (see login.load_secret_key)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The effective configuration as plain data (Config.to_dict()), shown masked on /settings."""
    probe_token_sha256: str | None = None
    """web.metrics_token_sha256: when set, /metrics and /healthz want ``Authorization: Bearer <token>``."""
    session_lifetime: timedelta = SESSION_LIFETIME


def page_setup() -> PageSetup:
    found: PageSetup = current_app.extensions[EXTENSION]
    return found


def operator() -> str:
    """The signed-in operator's name (the login gate sets it before any page view runs)."""
    name: str = g.operator
    return name


def local_midnight(now: datetime) -> datetime:
    """The start of today in the gateway's own time zone: "today" as the operator (and daily caps) mean it."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def page_number(value: str | None) -> int | None:
    """A cursor from the query string (an id); anything else is "the first page"."""
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def back(endpoint: str, **values: Any) -> BaseResponse:
    """Redirect after a POST (303: a reload does not post again) to ``endpoint``."""
    return redirect(url_for(endpoint, **values), code=303)


def safe_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else the dashboard: a ``next=//evil.example`` or a
    forged ``back`` field must not turn a login or a form into a redirector to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.dashboard")


def back_to(target: str | None) -> BaseResponse:
    """Redirect after a POST to the page the form was on (its ``back`` field)."""
    return redirect(safe_path(target), code=303)


def refused(message: str) -> None:
    flash(message, "error")


def done(message: str) -> None:
    flash(message, "ok")


def describe(exc: QueueError) -> str:
    """An operator-facing sentence for a refusal from the queue."""
    if isinstance(exc, IllegalTransition | InvalidMessage | NotFound):
        return str(exc)
    return f"the database could not do this now ({exc}); try again"


def database_unavailable(exc: QueueError) -> tuple[str, int]:
    """The pages' answer to a database that cannot answer: an HTML page, not the API's JSON."""
    LOGGER.warning("page %s: database unavailable: %s", request.path, exc)
    return render_template("error.html", title="Database unavailable",
                           message=f"The database cannot answer now: {exc}. The page will work again once "
                                   "it does; nothing was changed."), 503


bp.register_error_handler(QueueError, database_unavailable)


def install(app: Flask, setup: PageSetup) -> None:
    app.extensions[EXTENSION] = setup


def queue_now() -> datetime:
    """The app's clock (tests fix it), so "today" and "the last hour" agree with the queue's stamps."""
    return services().clock()
