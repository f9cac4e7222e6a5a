"""``web.trusted_proxy``: the client's address comes from that proxy's X-Forwarded-For, and only its."""

from __future__ import annotations

import http.client
import json

import pytest
from flask import Flask, request

from gatewayd.config import ConfigError, parse_config
from web.server import serve


def _echo_app() -> Flask:
    app = Flask("echo")

    @app.get("/who")
    def who() -> dict[str, str]:
        return {"addr": str(request.remote_addr), "scheme": request.scheme}

    return app


def _ask(port: int, headers: dict[str, str]) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/who", headers=headers)
        answer = conn.getresponse()
        assert answer.status == 200
        result: dict[str, str] = json.loads(answer.read())
        return result
    finally:
        conn.close()


FORWARDED = {"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https"}


def test_the_trusted_proxy_names_the_client_and_scheme() -> None:
    with serve(_echo_app(), "127.0.0.1", 0, threads=1, trusted_proxy="127.0.0.1") as server:
        assert _ask(server.port, FORWARDED) == {"addr": "192.0.2.7", "scheme": "https"}
        assert _ask(server.port, {}) == {"addr": "127.0.0.1", "scheme": "http"}


def test_without_a_trusted_proxy_the_headers_are_not_believed() -> None:
    with serve(_echo_app(), "127.0.0.1", 0, threads=1) as server:
        assert _ask(server.port, FORWARDED) == {"addr": "127.0.0.1", "scheme": "http"}


def test_another_address_as_proxy_is_not_believed() -> None:
    with serve(_echo_app(), "127.0.0.1", 0, threads=1, trusted_proxy="192.0.2.1") as server:
        assert _ask(server.port, FORWARDED) == {"addr": "127.0.0.1", "scheme": "http"}


DEMO = "emulator:\n  enabled: true\n"


def test_config_takes_an_address_and_names_the_key_when_it_is_not_one() -> None:
    assert parse_config(DEMO + "web:\n  trusted_proxy: ' 127.0.0.1 '\n").web.trusted_proxy == "127.0.0.1"
    assert parse_config(DEMO + "web:\n  trusted_proxy: '::1'\n").web.trusted_proxy == "::1"
    assert parse_config(DEMO + "web: {}\n").web.trusted_proxy is None
    with pytest.raises(ConfigError, match=r"web\.trusted_proxy.*not an IP address"):
        parse_config(DEMO + "web:\n  trusted_proxy: nginx.lan\n")
