"""The real daemon (built-in emulator) as a subprocess, an operator made with ``gatewayd user add``, and
headless Chromium driven by Playwright.

Debian's chromium is used (``/usr/bin/chromium``), never a browser Playwright downloads: ``.ci/run``
installs it with apt-get. Without it (or without the playwright package) these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.processes import PYTHON, DaemonProcess, child_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""As root (CI) Chromium needs --no-sandbox; the rest keep it off the network and quick to start.
Playwright adds --headless and a fresh --user-data-dir of its own for each launch."""
OPERATOR = "alice"
PASSWORD = "browser-test-password"
USER_ADD_TIMEOUT = 30.0
URL_IN_RUNNING_LINE = re.compile(r"web and API on (http://\S+?) ")
CONTROL_PORT_LINE = re.compile(r"control port ([0-9.]+):([0-9]+)")
CONTROL_TIMEOUT = 10.0
EMULATED_MODEMS = 2


@dataclass(frozen=True)
class Gateway:
    url: str
    workdir: Path
    smsc_log: Path
    modems: tuple[str, ...]
    control: tuple[str, int]
    """The built-in emulator's control port (JSON lines): the network's side, for inbound SMS."""

    def control_request(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.create_connection(self.control, timeout=CONTROL_TIMEOUT) as conn:
            conn.sendall(json.dumps(request).encode() + b"\n")
            reply: dict[str, Any] = json.loads(conn.makefile("rb").readline())
        return reply


def _config(workdir: Path) -> Path:
    config = workdir / "gatewayd.yaml"
    config.write_text(
        f"database: {workdir / 'gatewayd.db'}\n"
        f"state_dir: {workdir / 'state'}\n"
        "web:\n"
        "  listen: \"127.0.0.1:0\"\n"
        "emulator:\n"
        "  enabled: true\n"
        f"  modems: {EMULATED_MODEMS}\n"
        "  send_latency: 0.05s\n"
        "dispatch:\n"
        "  rate_per_minute: null\n"
        "logging:\n"
        "  level: info\n",
        encoding="utf-8")
    return config


REQUIRE_BROWSER = "GATEWAYD_REQUIRE_BROWSER"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = None if CHROMIUM.exists() else f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    try:
        from playwright import sync_api
    except ImportError:
        missing = missing or "the playwright package is not installed (pip install -e '.[test]')"
    if missing is not None:
        # .ci/run sets GATEWAYD_REQUIRE_BROWSER: there a missing browser is a failure, never a skip.
        if os.environ.get(REQUIRE_BROWSER):
            pytest.fail(f"browser tests required ({REQUIRE_BROWSER}) but {missing}")
        pytest.skip(f"{missing}; the browser tests need it")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """``gatewayd run -c CONFIG`` on two emulated modems, with operator alice made first (password on stdin,
    as a provisioning script would give it)."""
    config = _config(tmp_path)
    made = subprocess.run([PYTHON, "-m", "gatewayd", "user", "add", OPERATOR, "-c", str(config)],
                          input=PASSWORD + "\n", capture_output=True, text=True, env=child_env(),
                          timeout=USER_ADD_TIMEOUT, check=False)
    assert made.returncode == 0, made.stderr
    daemon = DaemonProcess(tmp_path, config, "browser test")
    try:
        daemon.start().wait_running()
        printed = (tmp_path / "daemon.stdout").read_text(encoding="utf-8")
        url, control = URL_IN_RUNNING_LINE.search(printed), CONTROL_PORT_LINE.search(printed)
        assert url and control, f"no URL or control port in the daemon's output: {printed}"
        yield Gateway(url=url.group(1), workdir=tmp_path, smsc_log=tmp_path / "state" / "emulator-smsc.jsonl",
                      modems=tuple(f"emu{i}" for i in range(1, EMULATED_MODEMS + 1)),
                      control=(control.group(1), int(control.group(2))))
    finally:
        daemon.ensure_stopped()
