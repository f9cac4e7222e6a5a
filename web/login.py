"""Operator login for the pages: who may see what, the session cookie, and its signing key.

One ``before_request`` gate decides every request, so a page added later is protected without
remembering to: ``/login`` is open; ``/healthz`` and ``/metrics`` are open for probes (or want a bearer
token when ``web.metrics_token_sha256`` is set); ``/api/`` is the bearer-token API's own business
(web/api.py); everything else wants a signed-in operator, and every unsafe method wants the session's
CSRF token (web/csrf.py).

The session is Flask's signed cookie (HttpOnly, SameSite=Lax). It names the operator and carries an
HMAC of their stored password hash, checked on each request: a password changed with ``gatewayd user
add`` signs out every session made with the old one, and an operator removed from the database is
signed out at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from werkzeug.wrappers import Response as BaseResponse

from gatewayd.config import Config
from gatewayd.queue import Queue, QueueError
from web import csrf
from web.auth import token_hash
from web.errors import error_response
from web.pages_common import PageSetup, database_unavailable, install, page_setup, safe_path
from web.passwords import generate_password, hash_password, verify_password
from web.services import services
from web.throttle import LoginThrottle

LOGGER = logging.getLogger(__name__)

SECRET_KEY_FILE: Final = "web-secret-key"
"""The generated key's file name in ``state_dir`` when ``web.secret_key_file`` is not set."""
SECRET_KEY_BYTES: Final = 32
MIN_SECRET_KEY_CHARS: Final = 32
"""A configured key shorter than this is refused: it could be guessed, and sessions forged with it."""
DEMO_OPERATOR: Final = "demo"
API_PREFIX: Final = "/api/"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_ENDPOINTS: Final = frozenset({"login.login", "login.submit", "static"})
PROBE_ENDPOINTS: Final = frozenset({"health.healthz", "metrics.metrics"})
THROTTLE_EXTENSION: Final = "gatewayd.login_throttle"
SESSION_OPERATOR: Final = "operator"
SESSION_PROOF: Final = "proof"
CSP_NONCE_BYTES: Final = 16
CSP: Final = ("default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
              "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")

bp = Blueprint("login", __name__)
bp.register_error_handler(QueueError, database_unavailable)


# -- set-up --------------------------------------------------------------------------------------------


def load_secret_key(path: Path) -> bytes:
    """The session signing key in ``path``, made (random, mode 0600) the first time.

    A key kept on disk lets operators stay signed in across a restart; a new key signs everyone out.
    OSError when the file cannot be read or made; ValueError when it holds too short a key.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = secrets.token_hex(SECRET_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_secret_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text + "\n")
        LOGGER.info("web: made a new session key in %s", path)
        return text.encode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (put a long random string in it, e.g. openssl rand -hex 32)") from None
    if len(text) < MIN_SECRET_KEY_CHARS:
        raise ValueError(f"{path} holds {len(text)} characters; a session key needs at least {MIN_SECRET_KEY_CHARS}"
                         " (e.g. openssl rand -hex 32)")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        LOGGER.warning("web: %s is readable by other users; chmod 600 it (whoever reads it can forge logins)",
                       path)
    return text.encode("ascii")


def setup_from_config(config: Config) -> PageSetup:
    """The pages' set-up for the daemon; ConfigError (naming the key) when the session key is unusable."""
    configured = config.web.secret_key_file
    path = configured if configured is not None else config.state_dir / SECRET_KEY_FILE
    key = "web.secret_key_file" if configured is not None else "state_dir"
    try:
        if configured is None:
            config.state_dir.mkdir(parents=True, exist_ok=True)
        secret = load_secret_key(path)
    except OSError as exc:
        raise config.error(key, f"cannot read or create the session key {path} ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise config.error(key, str(exc)) from None
    return PageSetup(secret_key=secret, settings=config.to_dict(),
                     probe_token_sha256=config.web.metrics_token_sha256)


def demo_operator(queue: Queue) -> tuple[str, str]:
    """For the no-config demo: (name, password) of the ``demo`` operator, whose password is new at each
    start (like the demo API token), so a demo is usable with one command and no password outlives it."""
    password = generate_password()
    queue.set_operator(DEMO_OPERATOR, hash_password(password))
    return DEMO_OPERATOR, password


class PagesOnlySessions(SecureCookieSessionInterface):
    """The signed session cookie, for the pages only: ``/api/v1`` takes bearer tokens, never the cookie, so
    an API request neither reads nor sets one (and does not pay for verifying its signature)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return None  # Flask then gives the request a NullSession: any use of it is an error
        return super().open_session(app, request)


def init_app(app: Flask, setup: PageSetup | None) -> None:
    """Sessions, the gate and the login pages. Without ``setup`` (tests, tools) the key is random: sessions
    then last as long as the process."""
    setup = setup or PageSetup(secret_key=secrets.token_bytes(SECRET_KEY_BYTES))
    install(app, setup)
    app.secret_key = setup.secret_key
    app.session_interface = PagesOnlySessions()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="gatewayd_session", PERMANENT_SESSION_LIFETIME=setup.session_lifetime)
    app.before_request(_gate)
    app.after_request(_page_headers)
    app.context_processor(lambda: {"csrf_token": csrf.token, "csp_nonce": csp_nonce,
                                   "signed_in": g.get("operator")})
    app.extensions[THROTTLE_EXTENSION] = LoginThrottle()
    app.register_blueprint(bp)


# -- the gate --------------------------------------------------------------------------------------------


def _gate() -> BaseResponse | tuple[str, int] | None:
    endpoint = request.endpoint
    if endpoint is None or request.path.startswith(API_PREFIX):
        return None  # routing answers 404 / 405; the API checks its own bearer tokens
    if endpoint in PROBE_ENDPOINTS:
        return _probe_token_refusal()
    if request.method not in SAFE_METHODS and not csrf.valid():
        LOGGER.warning("web: %s %s refused: missing or wrong CSRF token", request.method, request.path)
        return render_template("error.html", title="Form expired",
                               message="This form was not sent from this gateway's page, or it is too old. "
                                       "Go back, reload the page and try again."), 400
    if endpoint in OPEN_ENDPOINTS:
        return None
    name = signed_in_operator()
    if name is None:
        target = request.full_path if request.method in SAFE_METHODS else request.path
        return redirect(url_for("login.login", next=target.rstrip("?")), code=303)
    g.operator = name
    return None


def csp_nonce() -> str:
    """This response's nonce for its inline <style> and <script> (the only inline code allowed)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(CSP_NONCE_BYTES)
    nonce: str = g.csp_nonce
    return nonce


def _page_headers(response: BaseResponse) -> BaseResponse:
    """Pages hold personal data and operator actions: never cached, never framed (clickjacking), and
    only our own inline code runs (an injected script would need the nonce)."""
    if request.path.startswith(API_PREFIX) or response.mimetype != "text/html":
        return response
    nonce = csp_nonce()
    response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=nonce))
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _probe_token_refusal() -> BaseResponse | None:
    wanted = page_setup().probe_token_sha256
    if not wanted:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token and hmac.compare_digest(token_hash(token), wanted):
        return None
    return error_response(401, "unauthorized", "this gateway wants 'Authorization: Bearer <token>' for "
                                               "/metrics and /healthz (web.metrics_token_sha256)",
                          headers={"WWW-Authenticate": 'Bearer realm="gatewayd"'})


def _proof(stored_hash: str) -> str:
    """Binds a session to the password hash it was made with (the cookie is readable, so keyed)."""
    return hmac.new(page_setup().secret_key, stored_hash.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_in_operator() -> str | None:
    name = session.get(SESSION_OPERATOR)
    proof = session.get(SESSION_PROOF)
    if not isinstance(name, str) or not isinstance(proof, str):
        return None
    try:
        stored = services().queue.operator_hash(name)
    except QueueError as exc:
        # The cookie is signed with our key and unexpired, so we issued it; only a revocation since then
        # goes unseen until the database answers. The dashboard is needed most exactly then.
        LOGGER.warning("web: cannot check the session of %r against the database (%s); trusting its signature",
                       name, exc)
        return name
    if stored is None or not hmac.compare_digest(proof.encode("ascii", "replace"), _proof(stored).encode("ascii")):
        LOGGER.info("web: session of %r ended (operator removed or password changed)", name)
        session.clear()
        return None
    return name


# -- views -----------------------------------------------------------------------------------------------


@bp.get("/login")
def login() -> str | BaseResponse:
    if signed_in_operator() is not None:
        return redirect(safe_path(request.args.get("next")))
    return _login_page(error=None)


def _login_page(error: str | None, username: str = "") -> str:
    operators = services().queue.operator_count()
    return render_template("login.html", operators=operators, error=error, username=username,
                           next=request.values.get("next", ""))


@bp.post("/login")
def submit() -> tuple[str, int, dict[str, str]] | tuple[str, int] | BaseResponse:
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    keys = (f"addr:{request.remote_addr}", f"user:{username[:64].lower()}")
    throttle: LoginThrottle = current_app.extensions[THROTTLE_EXTENSION]
    wait = throttle.wait_time(*keys)
    if wait > 0:
        LOGGER.warning("web: login for user %r from %s refused: too many failures", username[:64],
                       request.remote_addr)
        minutes = max(1, math.ceil(wait / 60))
        return (_login_page(error=f"Too many failed sign-ins. Try again in {minutes} minute(s).", username=username),
                429, {"Retry-After": str(math.ceil(wait))})
    stored = services().queue.operator_hash(username) if username else None
    if not verify_password(password, stored) or stored is None:
        throttle.failed(*keys)
        LOGGER.warning("web: login refused for user %r from %s", username[:64], request.remote_addr)
        return _login_page(error="Wrong user name or password.", username=username), 401
    throttle.succeeded(*keys)
    session.clear()  # nothing from before the login carries over (session fixation)
    session.permanent = True
    session[SESSION_OPERATOR] = username
    session[SESSION_PROOF] = _proof(stored)
    csrf.rotate()
    LOGGER.info("web: operator %s signed in from %s", username, request.remote_addr)
    return redirect(safe_path(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> BaseResponse:
    LOGGER.info("web: operator %s signed out", g.get("operator"))
    session.clear()
    return redirect(url_for("login.login"), code=303)
