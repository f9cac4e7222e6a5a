"""Every kind of configuration mistake stops loading with one line: ``file:line: key.path: reason``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd.config import ConfigError, load_config

MODEM = """\
modems:
  - id: sim1
    port: /dev/ttyUSB0
"""
"""Lines 1-3 of most cases: a valid start, so the mistake is on line 4 or later."""

CASES = [
    # (yaml, line, key, part of the reason)
    pytest.param(MODEM + "  - id: sim2\n    port: /dev/ttyUSB1\n    rate_per_minute: fast\n",
                 6, "modems[1].rate_per_minute", "expected a number, got 'fast'", id="wrong-type"),
    pytest.param(MODEM + "    rate_per_minut: 5\n", 4, "modems[0].rate_per_minut",
                 "unknown key (did you mean 'rate_per_minute'?)", id="unknown-key-suggestion"),
    pytest.param(MODEM + "modem:\n  - id: x\n", 4, "modem", "did you mean 'modems'?", id="unknown-section"),
    pytest.param(MODEM + "frobnicate: 1\n", 4, "frobnicate", "unknown key (known: database,", id="unknown-no-match"),
    pytest.param(MODEM + "    baudrate: 11520\n", 4, "modems[0].baudrate", "not a standard rate", id="baudrate"),
    pytest.param(MODEM + "    daily_cap: 0\n", 4, "modems[0].daily_cap", "between 1 and 1000000, got 0",
                 id="out-of-range"),
    pytest.param(MODEM + "    rate_per_minute: -1\n", 4, "modems[0].rate_per_minute", "more than 0",
                 id="negative-rate"),
    pytest.param(MODEM + "    rtscts: maybe\n", 4, "modems[0].rtscts", "expected true or false, got 'maybe'",
                 id="bool"),
    pytest.param(MODEM + "    prefixes: +44\n", 4, "modems[0].prefixes", "expected a list, got +44",
                 id="list-expected"),
    pytest.param(MODEM + "    prefixes: ['44']\n", 4, "modems[0].prefixes[0]", "like +44", id="prefix"),
    pytest.param(MODEM + "    init: [ATZ, 'CSMS=1']\n", 4, "modems[0].init[1]", "one AT command", id="init"),
    pytest.param(MODEM + "    cnmi: '2;1'\n", 4, "modems[0].cnmi", "AT+CNMI parameters", id="cnmi"),
    pytest.param(MODEM + "    pin: 12\n", 4, "modems[0].pin", "4 to 8 digits), got '12'", id="pin"),
    pytest.param(MODEM + "    pin: '1234'\n    pin_file: /etc/gatewayd/sim1.pin\n", 2, "modems[0].pin_file",
                 "pin or pin_file, not both", id="pin-and-pin-file"),
    pytest.param(MODEM + "    imei: 12345\n", 4, "modems[0].imei", "an IMEI (14 to 16 digits)", id="imei"),
    pytest.param(MODEM + "    iccid: '89x'\n", 4, "modems[0].iccid", "an ICCID", id="iccid"),
    pytest.param(MODEM + "    validity: 1m\n", 4, "modems[0].validity", "between 5m and 441d, got 1m",
                 id="validity-range"),
    pytest.param(MODEM + "    validity: 2 days\n", 4, "modems[0].validity", "not a duration: '2 days'",
                 id="duration-syntax"),
    pytest.param(MODEM + "    validity: 30\n", 4, "modems[0].validity", "give a unit: 30s, 30m", id="duration-unit"),
    pytest.param(MODEM + "  - id: sim1\n    port: /dev/ttyUSB1\n", 4, "modems[1].id",
                 "duplicate modem id 'sim1' (also modems[0], line 2)", id="duplicate-id"),
    pytest.param(MODEM + "  - id: sim2\n    port: /dev//ttyUSB0\n", 5, "modems[1].port",
                 "duplicate port '/dev/ttyUSB0' (also modems[0], line 3)", id="duplicate-port"),
    pytest.param(MODEM.replace("port: /dev/ttyUSB0", "imei: '356938035643809'")
                 + "  - id: sim2\n    imei: '356938035643809'\n", 5, "modems[1].imei", "duplicate IMEI",
                 id="duplicate-imei"),
    pytest.param(MODEM + "  - id: sim2\n    baudrate: 9600\n", 4, "modems[1]",
                 "give a port, or an imei / iccid", id="no-port-no-identity"),
    pytest.param(MODEM + "  - port: /dev/ttyUSB1\n", 4, "modems[1].id", "required", id="missing-id"),
    pytest.param(MODEM + "  - id: 'sim 2'\n    port: /dev/ttyUSB1\n", 4, "modems[1].id", "1 to 32 letters",
                 id="bad-id"),
    pytest.param(MODEM + "  - sim2\n", 4, "modems[1]", "expected a mapping (id, ...), got 'sim2'",
                 id="modem-not-mapping"),
    pytest.param(MODEM.replace("/dev/ttyUSB0", "ftp://host:21"), 3, "modems[0].port",
                 "unsupported URL scheme 'ftp://'", id="port-scheme"),
    pytest.param(MODEM.replace("/dev/ttyUSB0", "socket://host"), 3, "modems[0].port",
                 "expected host:port", id="socket-without-port"),
    pytest.param(MODEM.replace("/dev/ttyUSB0", "ttyUSB0"), 3, "modems[0].port",
                 "expected an absolute device path", id="relative-port"),
    pytest.param(MODEM + "web:\n  listen: 8080\n", 5, "web.listen", "expected a string, got 8080",
                 id="listen-type"),
    pytest.param(MODEM + "web:\n  listen: 'localhost'\n", 5, "web.listen", "expected host:port",
                 id="listen-no-port"),
    pytest.param(MODEM + "web:\n  listen: '0.0.0.0:80800'\n", 5, "web.listen", "port must be 0 to 65535",
                 id="listen-port-range"),
    pytest.param(MODEM + "web:\n  listen: '::1:8080'\n", 5, "web.listen", "in brackets", id="listen-ipv6"),
    pytest.param(MODEM + "web:\n  listen: '300.1.1.1:8080'\n", 5, "web.listen", "not an IPv4 address",
                 id="listen-bad-ip"),
    pytest.param(MODEM + "api:\n  tokens:\n    - name: crm\n      token_sha256: abc\n", 7,
                 "api.tokens[0].token_sha256", "64 hex digits", id="token-hash"),
    pytest.param(MODEM + "api:\n  tokens:\n    - name: crm\n", 6, "api.tokens[0].token_sha256", "required",
                 id="token-missing-hash"),
    pytest.param(MODEM + "api:\n  tokens:\n" + ("    - {name: crm, token_sha256: '" + "a" * 64 + "'}\n") * 2, 7,
                 "api.tokens[1].name", "duplicate token name 'crm'", id="duplicate-token"),
    pytest.param(MODEM + "dispatch:\n  retry_base: 2h\n  retry_max: 1h\n", 5, "dispatch.retry_max",
                 "must not be shorter than retry_base (2h)", id="retry-order"),
    pytest.param(MODEM + "logging:\n  level: verbose\n", 5, "logging.level",
                 "one of debug, info, warning, error", id="log-level"),
    pytest.param(MODEM + "scan:\n  patterns: []\n", 5, "scan.patterns", "must not be empty", id="empty-patterns"),
    pytest.param(MODEM + "emulator:\n  modems: 100\n", 5, "emulator.modems", "between 1 and 16", id="emulator-count"),
    pytest.param("emulator:\n  enabled: true\nmodems:\n  - id: emu1\n    port: /dev/ttyUSB0\n", 4, "modems[0].id",
                 "id of an emulated modem", id="emulator-id-clash"),
    pytest.param(MODEM + "web: [1, 2]\n", 4, "web",
                 "expected a mapping (listen, secret_key_file, metrics_token_sha256, trusted_proxy), got a list",
                 id="section-not-mapping"),
    pytest.param(MODEM + "web: {}\nweb: {}\n", 5, "web", "duplicate key (first on line 4)", id="duplicate-key"),
    pytest.param(MODEM + "database: !!python/object:os.system x\n", 4, "database", "expected a string",
                 id="unsafe-tag"),
    pytest.param("logging:\n  level: info\n", 1, "modems", "at least one modem is required",
                 id="no-modems"),
    pytest.param("modems: []\n", 1, "modems", "at least one modem is required", id="empty-modems"),
    pytest.param(MODEM + "reconnect:\n  backoff: []\n", 5, "reconnect.backoff", "must not be empty",
                 id="reconnect-empty-backoff"),
    pytest.param(MODEM + "reconnect:\n  backoff: [1s, 50ms]\n", 5, "reconnect.backoff[1]", "not a duration",
                 id="reconnect-backoff-syntax"),
    pytest.param(MODEM + "reconnect:\n  backoff: [0.05s]\n", 5, "reconnect.backoff[0]", "between 0.1s and 1h",
                 id="reconnect-backoff-range"),
    pytest.param(MODEM + "reconnect:\n  quarantine_after: 0\n", 5, "reconnect.quarantine_after",
                 "between 1 and 1000, got 0", id="reconnect-quarantine-after"),
    pytest.param(MODEM + "reconnect:\n  quarantine_probe_interval: 0.5s\n", 5, "reconnect.quarantine_probe_interval",
                 "between 1s and 1d", id="reconnect-probe-range"),
    pytest.param(MODEM + "reconnect:\n  backoff: [1s, 2m]\n  quarantine_probe_interval: 1m\n", 6,
                 "reconnect.quarantine_probe_interval", "not be shorter than the longest backoff (2m)",
                 id="reconnect-probe-shorter-than-backoff"),
    pytest.param(MODEM + "reconnect:\n  quarantine: 3\n", 5, "reconnect.quarantine",
                 "did you mean 'quarantine_after'?", id="reconnect-unknown-key"),
]


@pytest.mark.parametrize(("text", "line", "key", "reason"), CASES)
def test_error_names_file_line_and_key(write_config: Callable[[str], Path], text: str, line: int, key: str,
                                       reason: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert reason in message, message
    assert info.value.key == key


@pytest.mark.parametrize(("text", "line", "reason"), [
    pytest.param("modems: [\n", 2, "YAML syntax error: while parsing a flow node, expected the node content",
                 id="unclosed"),
    pytest.param("modems:\n  - id: a\n   port: x\n", 3, "YAML syntax error", id="indentation"),
    pytest.param("a: 1\n---\nb: 2\n", 2, "YAML syntax error: expected a single document", id="two-documents"),
    pytest.param("", 1, "the file is empty", id="empty"),
    pytest.param("# nothing but a comment\n", 1, "the file is empty", id="only-comments"),
    pytest.param("- a\n- b\n", 1, "top level: expected a mapping of sections (database,", id="list"),
    pytest.param("just text\n", 1, "top level: expected a mapping of sections", id="scalar"),
])
def test_file_level_errors(write_config: Callable[[str], Path], text: str, line: int, reason: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message, message


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    assert str(info.value) == f"{tmp_path / 'missing.yaml'}: cannot read the configuration (No such file or directory)"


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"modems:\n  - id: \xff\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: not UTF-8 text"):
        load_config(path)


def test_check_ports_missing_device_names_line(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB9"
    path = write_config(f"""\
        modems:
          - id: net
            port: socket://127.0.0.1:4001
          - id: usb
            port: {missing}
        """)
    config = load_config(path)  # loading does not look at the machine
    with pytest.raises(ConfigError) as info:
        config.check_ports()
    assert str(info.value).startswith(f"{path}:5: modems[1].port: {missing} does not exist")


def test_check_ports_rejects_a_regular_file(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    plain = tmp_path / "not-a-tty"
    plain.write_text("")
    path = write_config(f"modems:\n  - id: a\n    port: {plain}\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: modems\[0\]\.port: .* is not a character device$"):
        load_config(path).check_ports()


def test_check_ports_same_device_under_two_names(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        link = tmp_path / "gsm-sim1"
        link.symlink_to(os.ttyname(slave))
        path = write_config(f"""\
            modems:
              - id: a
                port: {os.ttyname(slave)}
              - id: b
                port: {link}
            """)
        with pytest.raises(ConfigError) as info:
            load_config(path).check_ports()
        assert str(info.value).startswith(f"{path}:5: modems[1].port: {link} is the same device")
    finally:
        os.close(master)
        os.close(slave)


def test_check_ports_accepts_existing_devices(write_config: Callable[[str], Path]) -> None:
    master, slave = os.openpty()
    try:
        config = load_config(write_config(f"modems:\n  - id: a\n    port: {os.ttyname(slave)}\n"))
        config.check_ports()
    finally:
        os.close(master)
        os.close(slave)


def test_unreadable_pin_file_names_line(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    path = write_config(f"""\
        modems:
          - id: sim1
            port: /dev/ttyUSB0
            pin_file: {tmp_path / 'absent.pin'}
        """)
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        config.modem_specs()
    assert str(info.value) == (f"{path}:4: modems[0].pin_file: cannot read {tmp_path / 'absent.pin'} "
                               "(No such file or directory)")


def test_pin_file_with_more_than_a_pin(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    pin_file = tmp_path / "sim1.pin"
    pin_file.write_text("PIN=1234\n")
    path = write_config(f"modems:\n  - id: sim1\n    port: /dev/ttyUSB0\n    pin_file: {pin_file}\n")
    with pytest.raises(ConfigError, match=rf"^{path}:4: modems\[0\]\.pin_file: .* must hold the PIN alone"):
        load_config(path).modem_specs()
