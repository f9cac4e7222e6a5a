"""CSRF protection for the operator pages: one random token per session, in every form.

The pages are authenticated by a cookie, which a browser attaches to any request, including a form
another site makes it post. Such a site cannot read our pages, so it cannot know the token: a POST
without the session's token is refused. SameSite=Lax cookies already stop most of this; the token
also covers old browsers and anything served from a sibling host on the LAN. The bearer-token API is
not cookie-authenticated and needs none of this.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Final

from flask import request, session

LOGGER = logging.getLogger(__name__)

FIELD: Final = "csrf_token"
"""The hidden form field (and the ``X-CSRF-Token`` header, for a script on our own page)."""
HEADER: Final = "X-CSRF-Token"
SESSION_KEY: Final = "csrf"
TOKEN_BYTES: Final = 32


def token() -> str:
    """This session's token, made on first use (templates call it for each form)."""
    current = session.get(SESSION_KEY)
    if not isinstance(current, str) or not current:
        current = secrets.token_urlsafe(TOKEN_BYTES)
        session[SESSION_KEY] = current
    return current


def rotate() -> None:
    """A new token (at login): one seen before the session was authenticated is worth nothing after."""
    session[SESSION_KEY] = secrets.token_urlsafe(TOKEN_BYTES)


def valid() -> bool:
    """Whether the current request carries this session's token."""
    expected = session.get(SESSION_KEY)
    presented = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
