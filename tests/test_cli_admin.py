"""``gatewayd token`` and ``gatewayd status`` as an operator runs them: real processes, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gatewayd.queue import Queue
from web.auth import token_hash

ROOT = Path(__file__).resolve().parent.parent


def gatewayd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatewayd", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False)


def test_a_token_is_printed_once_stored_as_a_hash_listed_and_revoked(tmp_path: Path) -> None:
    database = tmp_path / "gatewayd.db"
    created = gatewayd("token", "create", "crm", "--database", str(database), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 40 and "shown only this once" in created.stderr
    with Queue(database, read_only=True) as queue:
        (stored,) = queue.active_tokens()
    assert (stored.name, stored.token_sha256, stored.scopes) == ("crm", token_hash(token),
                                                                 frozenset({"send", "read"}))
    assert token.encode() not in database.read_bytes()

    again = gatewayd("token", "create", "crm", "--database", str(database), cwd=tmp_path)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.startswith("gatewayd: a token named 'crm' exists")
    bad = gatewayd("token", "create", "x", "--scopes", "send,root", "--database", str(database), cwd=tmp_path)
    assert bad.returncode == 1 and "scopes" in bad.stderr

    listed = gatewayd("token", "list", "--database", str(database), cwd=tmp_path)
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["crm"]
    assert token not in listed.stdout
    assert gatewayd("token", "revoke", "crm", "--database", str(database), cwd=tmp_path).returncode == 0
    twice = gatewayd("token", "revoke", "crm", "--database", str(database), cwd=tmp_path)
    assert twice.returncode == 1 and "no active token" in twice.stderr
    assert json.loads(gatewayd("token", "list", "--database", str(database), cwd=tmp_path).stdout)["revoked_at"]


def test_status_without_a_running_daemon_exits_1_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gatewayd.yaml"
    config.write_text("modems:\n  - id: m1\n    port: socket://127.0.0.1:9\nweb:\n  listen: 127.0.0.1:9\n",
                      encoding="utf-8")
    with Queue(tmp_path / "gatewayd.db"):
        pass
    result = gatewayd("status", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not answering" in result.stderr
    assert "QUEUE  empty" in result.stdout
