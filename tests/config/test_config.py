"""What a valid configuration turns into: defaults, paths, the example file, and the owners' ModemSpecs."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.config import (
    ApiConfig,
    Config,
    DispatchConfig,
    EmulatorConfig,
    LoggingConfig,
    ModemConfig,
    ReconnectConfig,
    RetentionConfig,
    ScanConfig,
    WebConfig,
    check_port_url,
    default_config,
    format_duration,
    load_config,
    parse_duration,
    parse_listen,
)
from gatewayd.modem.device import ModemSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_example_loads_and_documents_the_real_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.database == EXAMPLE.parent / "gatewayd.db"
    assert config.state_dir == EXAMPLE.parent
    assert config.modems == (ModemConfig(id="sim1", port="/dev/ttyUSB2"),)
    assert (config.web, config.api, config.dispatch, config.retention, config.scan, config.emulator,
            config.logging, config.reconnect) == (WebConfig(), ApiConfig(), DispatchConfig(), RetentionConfig(),
                                                  ScanConfig(), EmulatorConfig(), LoggingConfig(), ReconnectConfig())


@pytest.mark.parametrize("section", [WebConfig, ApiConfig, ModemConfig, DispatchConfig, ReconnectConfig,
                                     RetentionConfig, ScanConfig, EmulatorConfig, LoggingConfig, Config])
def test_example_mentions_every_key(section: type) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for field in dataclasses.fields(section):
        if field.name in ("path", "locations"):
            continue
        assert re.search(rf"^\s*(#\s*)?(- )?{field.name}:", text, re.MULTILINE), field.name


def test_default_config_without_a_file(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    assert config.emulator == EmulatorConfig(enabled=True, modems=2)
    assert config.database == tmp_path / "gatewayd.db"
    assert config.web.listen == ("127.0.0.1", 8080)
    assert config.modems == ()
    assert config.path is None


def test_defaults_round_trip_through_a_file(tmp_path: Path) -> None:
    original = default_config(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(original.to_dict()), encoding="utf-8")
    assert load_config(path) == original


def test_full_configuration_round_trips(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    path = write_config("""\
        database: db/queue.sqlite
        web: {listen: "[::1]:9000", secret_key_file: secret.key}
        api:
          tokens:
            - name: crm
              token_sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
        modems:
          - id: uk
            port: /dev/serial/by-id/usb-SimTech-if02-port0
            prefixes: ["+44"]
            validity: 1h30m
            rate_per_minute: 2.5
            daily_cap: 400
            init: [AT+CSMS=1]
          - id: far
            port: rfc2217://10.0.0.5:4001
            validity: null
          - id: roaming
            iccid: "8944110068256270054"
        dispatch: {rate_per_minute: null, retry_base: 10s, retry_max: 2h}
        scan: {patterns: [/dev/ttyUSB*], interval: 1m}
        logging: {level: DEBUG}
        """)
    config = load_config(path)
    assert config.database == tmp_path / "db" / "queue.sqlite"
    assert config.web == WebConfig(listen=("::1", 9000), secret_key_file=tmp_path / "secret.key")
    assert config.api.tokens[0].token_sha256 == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    uk, far, roaming = config.modems
    assert uk.validity == timedelta(hours=1, minutes=30)
    assert (uk.rate_per_minute, uk.daily_cap, uk.prefixes, uk.init) == (2.5, 400, ("+44",), ("AT+CSMS=1",))
    assert far.validity is None
    assert roaming.port is None and roaming.identity == {"iccid": "8944110068256270054"}
    assert config.dispatch.rate_per_minute is None
    assert config.logging.level == "debug"
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(config.to_dict()), encoding="utf-8")
    assert load_config(again) == config


def test_relative_paths_follow_the_config_file_not_the_cwd(write_config: Callable[[str], Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config("database: q.db\nstate_dir: state\nemulator: {enabled: true}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(os.path.relpath(path))
    assert config.database == tmp_path / "q.db"
    assert config.state_dir == tmp_path / "state"


def test_digits_keep_leading_zeros_even_unquoted(write_config: Callable[[str], Path]) -> None:
    # YAML 1.1 reads 0123 as octal 83; a PIN must stay the digits the operator typed.
    config = load_config(write_config("modems:\n  - id: a\n    port: /dev/ttyUSB0\n    pin: 0123\n"))
    assert config.modems[0].pin == "0123"


def test_merge_keys_share_modem_settings(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config("""\
        modems:
          - &base
            id: a
            port: /dev/ttyUSB0
            rate_per_minute: 3
            prefixes: ["+44"]
          - <<: *base
            id: b
            port: /dev/ttyUSB4
        """))
    assert config.modems[1] == dataclasses.replace(config.modems[0], id="b", port="/dev/ttyUSB4")


def test_empty_sections_mean_defaults(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config("web:\ndispatch:\nemulator:\n  enabled: true\n"))
    assert (config.web, config.dispatch) == (WebConfig(), DispatchConfig())


def test_locations_point_at_keys(write_config: Callable[[str], Path]) -> None:
    path = write_config("emulator: {enabled: true}\nmodems:\n  - id: a\n    port: /dev/ttyUSB0\n")
    config = load_config(path)
    assert str(config.locations["modems[0].port"]) == f"{path}:4"
    assert str(config.error("modems[0].port", "gone")) == f"{path}:4: modems[0].port: gone"
    assert str(default_config().error("modems", "none")) == "modems: none"


# -- ModemSpec -------------------------------------------------------------------------------------


def test_modem_specs_carry_settings(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    pin_file = tmp_path / "sim2.pin"
    pin_file.write_text("4321\n")
    pin_file.chmod(0o600)
    config = load_config(write_config(f"""\
        modems:
          - id: sim1
            port: /dev/ttyUSB2
            baudrate: 921600
            rtscts: true
            pin: "1234"
            status_reports: false
            validity: 10m
            cnmi: "1,1,0,2,0"
            init: [AT+CSMS=1, "AT+CPMS?"]
          - id: sim2
            port: socket://gw.local:4001
            pin_file: {pin_file}
        """))
    first, second = config.modem_specs()
    assert (first.modem_id, first.port, first.baudrate, first.rtscts) == ("sim1", "/dev/ttyUSB2", 921600, True)
    assert first.settings == ModemSettings(pin="1234", status_reports=False, validity=timedelta(minutes=10),
                                           cnmi="1,1,0,2,0", extra_init=["AT+CSMS=1", "AT+CPMS?"])
    assert (second.port, second.settings.pin) == ("socket://gw.local:4001", "4321")


def test_identity_bound_modems_need_a_discovered_port(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config("""\
        modems:
          - id: fixed
            port: /dev/ttyUSB0
          - id: roaming
            imei: "356938035643809"
        """))
    assert [spec.modem_id for spec in config.modem_specs()] == ["fixed"]
    specs = config.modem_specs({"roaming": "/dev/ttyUSB7", "fixed": "/dev/ignored"})
    assert [(spec.modem_id, spec.port) for spec in specs] == [("fixed", "/dev/ttyUSB0"), ("roaming", "/dev/ttyUSB7")]


# -- value formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("2h", timedelta(hours=2)),
    ("7d", timedelta(days=7)), ("1h30m", timedelta(minutes=90)), ("0.5s", timedelta(milliseconds=500)),
    ("1.5h", timedelta(minutes=90)), (" 2D ", timedelta(days=2)), ("0s", timedelta(0)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "s", "5 minutes", "-5m", "1h-30m", "5ms", "1w", "h1"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@settings(max_examples=300, deadline=None)
@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5000)))
def test_duration_format_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::]:8080", ("::", 8080)),
    ("localhost:1", ("localhost", 1)), ("gw.example.org:65535", ("gw.example.org", 65535)),
])
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", [":8080", "8080", "host:", "[::1:80", "bad_host:80", "1.2.3:80", "host:65536"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("/dev//ttyUSB0", "/dev/ttyUSB0"), ("socket://10.0.0.2:4001", "socket://10.0.0.2:4001"),
    ("rfc2217://ser2net.lan:7000?timeout=3", "rfc2217://ser2net.lan:7000?timeout=3"),
])
def test_port_urls(text: str, expected: str) -> None:
    assert check_port_url(text) == expected
