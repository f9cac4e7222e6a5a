"""The ``webhooks`` section: parsing, the secret rule, the secret file read at start, the daemon's plan."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from gatewayd.config import ConfigError, WebhooksConfig, load_config
from gatewayd.daemon import build_plan
from gatewayd.webhooks.deliverer import DeliverySettings
from gatewayd.webhooks.routes import WebhookRoutes

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
SECRET_TEXT = "0123456789abcdef0123456789abcdef"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("emulator: {enabled: true}\n" + textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook.secret"
    path.write_text(SECRET_TEXT + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


def test_the_section_parses_and_feeds_the_gateway_plan(tmp_path: Path, secret_file: Path) -> None:
    path = write(tmp_path, """\
        webhooks:
          secret_file: webhook.secret
          inbound: [http://127.0.0.1:9000/in]
          status: [http://127.0.0.1:9000/status, https://crm.example/status]
          opt_out: [http://127.0.0.1:9000/stop]
          timeout: 5s
          max_attempts: 4
          retry_base: 30s
          retry_max: 2h
        """)
    config = load_config(path)
    assert config.webhooks == WebhooksConfig(
        secret_file=secret_file, inbound=("http://127.0.0.1:9000/in",),
        status=("http://127.0.0.1:9000/status", "https://crm.example/status"),
        opt_out=("http://127.0.0.1:9000/stop",), timeout=timedelta(seconds=5), max_attempts=4,
        retry_base=timedelta(seconds=30), retry_max=timedelta(hours=2))
    assert config.webhook_secret() == SECRET_TEXT.encode()  # the newline stripped
    plan = build_plan(config, [])
    assert plan.webhooks == WebhookRoutes(inbound=("http://127.0.0.1:9000/in",),
                                          status=("http://127.0.0.1:9000/status", "https://crm.example/status"),
                                          opt_out=("http://127.0.0.1:9000/stop",))
    assert plan.webhook_secret == SECRET_TEXT.encode()
    assert plan.webhook_delivery == DeliverySettings(timeout=timedelta(seconds=5), max_attempts=4,
                                                     retry_base=timedelta(seconds=30), retry_max=timedelta(hours=2))
    assert load_config(path).to_dict()["webhooks"]["retry_max"] == "2h"
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(config.to_dict()), encoding="utf-8")
    assert load_config(again) == config


def test_without_the_section_nothing_is_announced_and_no_secret_is_needed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.webhooks == WebhooksConfig()
    assert config.webhook_secret() is None
    plan = build_plan(config, [])
    assert (plan.webhooks, plan.webhook_secret) == (WebhookRoutes(), None)


@pytest.mark.parametrize(("text", "line", "key"), [
    ("webhooks:\n  status: [http://127.0.0.1:9000/s]\n", 3, "webhooks.status[0]"),
    ("keywords:\n  custom:\n    - keyword: PRICE\n      webhook: http://127.0.0.1:9000/price\n", 5,
     "keywords.custom[0].webhook"),
])
def test_a_url_without_a_secret_file_is_an_error_naming_its_line(tmp_path: Path, text: str, line: int,
                                                                  key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}:{line}: {key}: a webhook URL needs webhooks.secret_file "
                               "(the key its requests are signed with)")


@pytest.mark.parametrize(("text", "message"), [
    ("webhooks:\n  status: [ftp://x/y]\n", r":3: webhooks\.status\[0\]: expected an http:// or https:// URL"),
    ("webhooks:\n  retry_base: 1h\n  retry_max: 1m\n", r":4: webhooks\.retry_max: must not be shorter than"),
    ("webhooks:\n  max_attempts: 0\n", r":3: webhooks\.max_attempts: must be between 1 and 100"),
    ("webhooks:\n  timeout: 10\n", r":3: webhooks\.timeout: give a unit"),
    ("webhooks:\n  secret: abc\n", r":3: webhooks\.secret: unknown key \(did you mean 'secret_file'\?\)"),
])
def test_bad_values_are_errors_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_the_secret_file_is_read_at_start_with_clear_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "webhooks:\n  secret_file: absent.secret\n  status: [http://127.0.0.1:9/s]\n")
    config = load_config(path)  # loading does not read it: a file can be checked on another machine
    with pytest.raises(ConfigError) as info:
        config.webhook_secret()
    assert str(info.value) == (f"{path}:3: webhooks.secret_file: cannot read {tmp_path / 'absent.secret'} "
                               "(No such file or directory)")
    (tmp_path / "absent.secret").write_text("short\n")
    with pytest.raises(ConfigError, match=r":3: webhooks\.secret_file: .* at least 16 bytes of secret \(got 5;"):
        config.webhook_secret()


def test_a_secret_readable_by_everyone_is_used_with_a_warning(tmp_path: Path, secret_file: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    secret_file.chmod(0o644)
    config = load_config(write(tmp_path, "webhooks:\n  secret_file: webhook.secret\n"))
    assert config.webhook_secret() == SECRET_TEXT.encode()
    assert "readable by every user" in caplog.text


def test_the_example_documents_every_key_with_its_default() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    section = text[text.index("\nwebhooks:"):]
    for field in dataclasses.fields(WebhooksConfig):
        assert re.search(rf"^\s+{field.name}:", section, re.MULTILINE), field.name
    assert load_config(EXAMPLE).webhooks == WebhooksConfig()
    assert WebhooksConfig().timeout == DeliverySettings().timeout
    assert (WebhooksConfig().max_attempts, WebhooksConfig().retry_base, WebhooksConfig().retry_max) == (
        DeliverySettings().max_attempts, DeliverySettings().retry_base, DeliverySettings().retry_max)
