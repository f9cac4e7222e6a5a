"""Operator login: passwords (scrypt), sessions, CSRF, the session key, the probe token, ``gatewayd user add``."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from gatewayd import cli
from gatewayd.config import parse_config
from gatewayd.owner import ModemSnapshot
from gatewayd.queue import NewMessage, Queue, Status
from tests.web.conftest import (
    AUTH,
    OPERATOR,
    OPERATOR_PASSWORD,
    clock,
    csrf_from,
    make_app,
    sign_in,
)
from web import login
from web.app import create_app
from web.auth import TokenStore, token_hash
from web.pages_common import PageSetup
from web.passwords import (
    MIN_PASSWORD_LENGTH,
    SCRYPT_N,
    PasswordRefused,
    hash_password,
    verify_password,
)
from web.throttle import MAX_FAILURES, LoginThrottle

PAGES = ["/", "/live", "/messages", "/messages/1", "/inbound", "/contacts", "/contacts/+447911123456",
         "/opt-outs", "/invalid-numbers", "/invalid-numbers.csv", "/webhooks", "/settings"]
"""Every page an operator can open: all of them want a login."""


# -- passwords ---------------------------------------------------------------------------------------


def test_a_password_hash_is_scrypt_with_its_parameters_and_a_random_salt() -> None:
    first, second = hash_password("hunter2hunter2"), hash_password("hunter2hunter2")
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", SCRYPT_N, 8, 1)
    assert len(salt) == 24 and len(digest) == 44  # 16 and 32 bytes in base64
    assert first != second  # a fresh salt each time: equal passwords do not show as equal hashes
    assert verify_password("hunter2hunter2", first) and verify_password("hunter2hunter2", second)
    assert not verify_password("hunter2hunter3", first)
    assert "hunter2" not in first


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$x$8$1$AA==$AA==", "md5$16384$8$1$AAAA$AAAA",
                                    "scrypt$1099511627776$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
                                    "scrypt$16384$8$1$not base64$AAAA"])
def test_an_unknown_user_or_a_broken_hash_never_verifies(stored: str | None) -> None:
    assert not verify_password("anything-at-all", stored)


def test_short_and_huge_passwords_are_refused_before_hashing() -> None:
    with pytest.raises(PasswordRefused, match="too short"):
        hash_password("x" * (MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(PasswordRefused, match="too long"):
        hash_password("x" * 5000)


# -- who may see what -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_signed_out_browser_to_the_login(client: FlaskClient, operator: str, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": [path]})


def test_probes_and_the_api_are_not_sent_to_the_login(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    api = client.get("/api/v1/messages")
    assert api.status_code == 401 and api.is_json  # the API's own bearer-token refusal
    assert client.get("/no-such-page").status_code == 404


def test_without_operators_the_login_page_says_how_to_make_one(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'id="no-operators"' in page and "gatewayd user add NAME" in page
    assert 'name="password"' not in page


def test_sign_in_with_the_right_password_goes_where_the_operator_was_going(client: FlaskClient,
                                                                           operator: str) -> None:
    token = csrf_from(client.get("/login?next=/messages").get_data(as_text=True))
    wrong = client.post("/login", data={"username": OPERATOR, "password": "wrong password", "csrf_token": token,
                                        "next": "/messages"})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.get_data(as_text=True)
    assert client.get("/messages").status_code == 303
    unknown = client.post("/login", data={"username": "mallory", "password": OPERATOR_PASSWORD,
                                          "csrf_token": token})
    assert unknown.status_code == 401
    right = client.post("/login", data={"username": OPERATOR, "password": OPERATOR_PASSWORD, "csrf_token": token,
                                        "next": "/messages"})
    assert (right.status_code, right.headers["Location"]) == (303, "/messages")
    assert client.get("/messages").status_code == 200
    assert f"{OPERATOR}</span>" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", ""])
def test_the_login_never_redirects_off_the_site(client: FlaskClient, operator: str, target: str) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": OPERATOR, "password": OPERATOR_PASSWORD,
                                           "csrf_token": token, "next": target})
    assert (response.status_code, response.headers["Location"]) == (303, "/")


def test_the_session_cookie_is_http_only_and_same_site(client: FlaskClient, operator: str) -> None:
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("gatewayd_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_sign_out_ends_the_session(page_client: FlaskClient) -> None:
    token = csrf_from(page_client.get("/").get_data(as_text=True))
    assert page_client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"
    assert page_client.get("/").status_code == 303


def test_a_new_password_signs_out_the_sessions_made_with_the_old_one(page_client: FlaskClient,
                                                                     queue: Queue) -> None:
    assert page_client.get("/").status_code == 200
    queue.set_operator(OPERATOR, hash_password("a brand new password"))
    assert page_client.get("/").status_code == 303
    assert sign_in(page_client).status_code == 401
    assert sign_in(page_client, password="a brand new password").status_code == 303


def test_the_api_neither_reads_nor_sets_the_session_cookie(page_client: FlaskClient) -> None:
    """A signed-in browser's cookie is no credential for /api/v1 (bearer tokens only), and API answers
    carry no cookie."""
    assert page_client.get("/").status_code == 200  # the client now holds a valid session cookie
    answer = page_client.get("/api/v1/modems")
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers
    answer = page_client.get("/api/v1/modems", headers=AUTH)
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert page_client.get("/").status_code == 200  # and the page session is untouched


def test_removing_an_operator_ends_their_session(page_client: FlaskClient, queue: Queue) -> None:
    assert page_client.get("/").status_code == 200
    assert queue.remove_operator(OPERATOR) is True
    assert page_client.get("/").status_code == 303
    assert 'id="no-operators"' in page_client.get("/login").get_data(as_text=True)  # the only one is gone
    assert queue.remove_operator(OPERATOR) is False


def test_a_session_survives_a_restart_with_the_same_key_and_not_with_another(queue: Queue, operator: str,
                                                                              snapshots: list[ModemSnapshot],
                                                                              tmp_path: Path) -> None:
    key = login.load_secret_key(tmp_path / "key")

    def app(secret: bytes) -> FlaskClient:
        made = create_app(queue=queue, modems=lambda: list(snapshots), tokens=TokenStore(), api=make_app(
            queue, snapshots).extensions["gatewayd"].api, clock=clock, pages_setup=PageSetup(secret_key=secret))
        return made.test_client()

    before = app(key)
    assert sign_in(before).status_code == 303
    cookie = before.get_cookie("gatewayd_session")
    assert cookie is not None
    after = app(login.load_secret_key(tmp_path / "key"))
    after.set_cookie("gatewayd_session", cookie.value)
    assert after.get("/").status_code == 200
    other = app(b"another key of at least thirty-two characters")
    other.set_cookie("gatewayd_session", cookie.value)
    assert other.get("/").status_code == 303


# -- CSRF ------------------------------------------------------------------------------------------------


def test_a_form_post_without_the_session_token_changes_nothing(page_client: FlaskClient, queue: Queue) -> None:
    message, _ = queue.enqueue(NewMessage(recipient="+447911123456", text="hello"))
    for data in ({}, {"csrf_token": "guessed"}):
        response = page_client.post(f"/messages/{message.id}/cancel", data=data)
        assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
    assert queue.get(message.id).status == Status.QUEUED  # type: ignore[union-attr]
    token = csrf_from(page_client.get(f"/messages/{message.id}").get_data(as_text=True))
    assert page_client.post(f"/messages/{message.id}/cancel", data={"csrf_token": token}).status_code == 303
    assert queue.get(message.id).status == Status.CANCELLED  # type: ignore[union-attr]


def test_the_login_form_wants_its_token_too(client: FlaskClient, operator: str) -> None:
    response = client.post("/login", data={"username": OPERATOR, "password": OPERATOR_PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 303


def test_the_token_changes_at_sign_in(client: FlaskClient, operator: str) -> None:
    before = csrf_from(client.get("/login").get_data(as_text=True))
    sign_in(client)
    assert csrf_from(client.get("/").get_data(as_text=True)) != before


def test_the_bearer_api_needs_no_csrf_token(client: FlaskClient) -> None:
    from tests.web.conftest import VALID

    assert client.post("/api/v1/messages", json=VALID, headers=AUTH).status_code == 202


# -- headers -----------------------------------------------------------------------------------------------


def test_pages_are_not_framed_cached_or_open_to_injected_scripts(page_client: FlaskClient) -> None:
    response = page_client.get("/")
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'<script nonce="{nonce.group(1)}">' in response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert page_client.get("/").headers["Content-Security-Policy"] != policy  # a new nonce per response
    assert "Content-Security-Policy" not in page_client.get("/healthz").headers


# -- the session key ---------------------------------------------------------------------------------------


def test_the_session_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "web-secret-key"
    first = login.load_secret_key(path)
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert login.load_secret_key(path) == first


def test_a_short_configured_key_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("too short\n")
    config = parse_config(f"emulator:\n  enabled: true\nweb:\n  secret_key_file: {tmp_path / 'key'}\n",
                          base_dir=tmp_path)
    with pytest.raises(ValueError, match=r"web\.secret_key_file: .* at least 32"):
        login.setup_from_config(config)


def test_without_a_configured_key_one_is_kept_in_the_state_dir(tmp_path: Path) -> None:
    config = parse_config("emulator:\n  enabled: true\nstate_dir: state\n", base_dir=tmp_path)
    setup = login.setup_from_config(config)
    assert setup.secret_key == (tmp_path / "state" / login.SECRET_KEY_FILE).read_text().strip().encode()
    assert setup.settings["state_dir"] == str(tmp_path / "state")


# -- the probe token ----------------------------------------------------------------------------------------


def test_metrics_and_healthz_can_require_a_token(queue: Queue, snapshots: list[ModemSnapshot]) -> None:
    api = make_app(queue, snapshots).extensions["gatewayd"].api
    app = create_app(queue=queue, modems=lambda: list(snapshots), tokens=TokenStore(), api=api, clock=clock,
                     pages_setup=PageSetup(secret_key=os.urandom(32), probe_token_sha256=token_hash("scrape-me")))
    client = app.test_client()
    for path in ("/metrics", "/healthz"):
        refused = client.get(path)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_the_probe_token_is_a_configuration_key() -> None:
    digest = token_hash("scrape-me")
    config = parse_config(f"emulator:\n  enabled: true\nweb:\n  metrics_token_sha256: {digest.upper()}\n")
    assert config.web.metrics_token_sha256 == digest


# -- gatewayd user add and the demo operator ---------------------------------------------------------------


def _user_add(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: Path, name: str,
              stdin: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))  # not a terminal: the first line is the password
    code = cli.main(["user", "add", name, "--database", str(db)])
    out, err = capsys.readouterr()
    return code, out, err


def test_user_add_reads_the_password_from_standard_input(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    code, out, _ = _user_add(monkeypatch, capsys, db_path, "bob", "s3cret password\n")
    assert code == 0 and json.loads(out) == {"user": "bob", "created": True, "database": str(db_path)}
    code, out, _ = _user_add(monkeypatch, capsys, db_path, "bob", "another password\r\n")
    assert code == 0 and json.loads(out)["created"] is False
    with Queue(db_path) as queue:
        stored = queue.operator_hash("bob")
        assert stored is not None and stored.startswith("scrypt$")
        assert verify_password("another password", stored) and not verify_password("s3cret password", stored)
        assert queue.operator_count() == 1


@pytest.mark.parametrize("case", [
    ("carol", "", "no password on standard input"),
    ("carol", "short\n", "too short"),
    ("not a name", "long enough password\n", "user name"),
])
def test_user_add_refuses_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                        db_path: Path, case: tuple[str, str, str]) -> None:
    name, stdin, why = case
    code, out, err = _user_add(monkeypatch, capsys, db_path, name, stdin)
    assert code == 1 and out == "" and why in err and err.count("\n") == 1


def test_the_demo_operator_gets_a_new_password_at_each_start(queue: Queue) -> None:
    name, first = login.demo_operator(queue)
    _, second = login.demo_operator(queue)
    stored = queue.operator_hash(name)
    assert first != second and verify_password(second, stored) and not verify_password(first, stored)


def test_with_the_database_down_the_login_page_says_so_in_html(client: FlaskClient, queue: Queue) -> None:
    queue.close()
    response = client.get("/login")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "Database unavailable" in response.get_data(as_text=True)


def test_repeated_wrong_passwords_are_throttled_even_the_right_one_then(client: FlaskClient, operator: str) -> None:
    codes = [sign_in(client, password="wrong-guess").status_code for _ in range(MAX_FAILURES)]
    assert codes == [401] * MAX_FAILURES
    refused = sign_in(client)  # the right password, but the address is over its limit
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)


def test_the_throttle_window_slides_and_a_success_clears_it() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, window=60, clock=lambda: now[0])
    throttle.failed("addr:a", "user:x")
    now[0] = 30
    throttle.failed("addr:a", "user:x")
    assert throttle.wait_time("addr:a") == 30  # the first failure leaves the window at 60
    assert throttle.wait_time("user:x", "addr:b") == 30  # per user name too
    now[0] = 60
    assert throttle.wait_time("addr:a") == 0
    throttle.failed("addr:a")
    throttle.succeeded("addr:a")
    assert throttle.wait_time("addr:a") == 0


def test_user_list_and_user_remove(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    for name in ("bob", "alice"):
        assert _user_add(monkeypatch, capsys, db_path, name, "long enough password\n")[0] == 0
    assert cli.main(["user", "list", "--database", str(db_path)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["user"] for row in listed] == ["alice", "bob"]
    assert all(set(row) == {"user", "created_at", "password_changed_at"} for row in listed)
    assert cli.main(["user", "remove", "bob", "--database", str(db_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"user": "bob", "removed": True, "database": str(db_path)}
    with Queue(db_path) as queue:
        assert queue.operator_hash("bob") is None and queue.operator_count() == 1
    assert cli.main(["user", "remove", "bob", "--database", str(db_path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no operator named 'bob'" in err and err.count("\n") == 1
