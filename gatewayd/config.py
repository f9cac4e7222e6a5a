"""The configuration file: read once at start, validated completely before anything touches a modem.

The gateway runs unattended, so a mistake in the file must stop it at once with one line that says
where the mistake is and what is wrong, e.g.::

    /etc/gatewayd/config.yaml:12: modems[1].rate_per_minute: expected a number, got 'fast'

That is why the file is read with ``yaml.compose`` (nodes that remember their line) instead of
``yaml.safe_load`` (plain values that do not), and why every value goes through a small typed parser
below rather than being trusted and failing later, far from its cause, on the modem's thread.

Checks that depend on the machine rather than the file (does the device exist?) are a separate step,
:meth:`Config.check_ports`, so that a configuration can be validated on another machine.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gatewayd.modem.device import DEFAULT_CNMI, ModemSettings
from gatewayd.owner import QUARANTINE_AFTER, QUARANTINE_PROBE_INTERVAL, RECONNECT_BACKOFF, ModemSpec, Recovery
from gatewayd.policy.inbound import REPLIES_PER_NUMBER_PER_HOUR, CustomKeyword, Replies, TrustRules
from gatewayd.policy.keywords import Intent, KeywordMatcher
from gatewayd.policy.quiet_hours import SendWindow, parse_window
from gatewayd.policy.send_policy import WEEKDAYS, FrequencyCaps, SendPolicy
from gatewayd.webhooks.routes import WebhookRoutes

LOGGER = logging.getLogger(__name__)

DEFAULT_DATABASE = "gatewayd.db"
DEFAULT_LISTEN = ("127.0.0.1", 8080)
"""Loopback only: the API accepts messages for sending, so exposing it is an explicit decision."""
DEFAULT_SCAN_PATTERNS = ("/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*")
DEFAULT_EMULATED_MODEMS = 2

MODEM_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
"""Modem ids appear in log lines, metrics labels and URLs: keep them plain."""
PORT_SCHEMES = ("socket", "rfc2217")
"""pyserial URL handlers that reach a real modem over the network (ser2net raw / telnet mode)."""
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000,
             2000000, 3000000, 3686400, 4000000)
"""Rates a UART actually runs at; anything else is almost certainly a typo (11520, 1152000)."""
LOG_LEVELS = ("debug", "info", "warning", "error")
CNMI_PATTERN = re.compile(r"\d(,\d){0,4}")
PREFIX_PATTERN = re.compile(r"\+\d{1,15}")
"""Destinations are E.164 with a '+', so a routing prefix is one too ("+44", "+4477")."""
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
PIN_LENGTH = (4, 8)
IMEI_LENGTH = (14, 16)
"""15 digits normally; 14 without the check digit, 16 for an IMEISV."""
ICCID_LENGTH = (18, 22)
MIN_VALIDITY = timedelta(minutes=5)
MAX_VALIDITY = timedelta(weeks=63)
"""The range of the relative TP-VP field (TS 23.040 9.2.3.12.1)."""
MAX_EMULATED_MODEMS = 16
MIN_WEBHOOK_SECRET_BYTES = 16
"""A shorter HMAC key could be guessed; ``openssl rand -hex 32`` makes a good one."""
SUGGESTIONS = 1


# -- errors and positions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where a key was written: shown as ``file:line`` (1-based, like editors)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class ConfigError(ValueError):
    """The configuration cannot be used. ``str()`` is one line: ``file:line: key.path: reason``."""

    def __init__(self, reason: str, *, key: str | None = None, location: Location | str | None = None) -> None:
        self.reason = reason
        self.key = key
        self.location = location
        prefix = "".join(f"{part}: " for part in (location, key) if part)
        super().__init__(f"{prefix}{reason}")


# -- the typed configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WebConfig:
    listen: tuple[str, int] = DEFAULT_LISTEN
    secret_key_file: Path | None = None
    metrics_token_sha256: str | None = None
    """When set, /metrics and /healthz want ``Authorization: Bearer <token>`` (None: open, for probes)."""
    trusted_proxy: str | None = None
    """The address of a reverse proxy in front of us: its X-Forwarded-For / -Proto are believed (only its)."""


@dataclass(frozen=True)
class ApiToken:
    name: str
    token_sha256: str
    scopes: tuple[str, ...] = ()
    """Of send, read, admin; empty: all of them (a token in the file is the operator's own)."""


@dataclass(frozen=True)
class ApiConfig:
    tokens: tuple[ApiToken, ...] = ()
    max_body_bytes: int = 1024 * 1024
    max_parts: int = 10
    batch_limit: int = 500
    rate_per_minute: float = 600.0


@dataclass(frozen=True)
class ModemConfig:
    id: str
    port: str | None = None
    imei: str | None = None
    iccid: str | None = None
    baudrate: int = 115200
    rtscts: bool = False
    pin: str | None = None
    pin_file: Path | None = None
    rate_per_minute: float | None = 6.0
    daily_cap: int | None = None
    prefixes: tuple[str, ...] = ()
    status_reports: bool = True
    validity: timedelta | None = timedelta(days=2)
    cnmi: str = DEFAULT_CNMI
    init: tuple[str, ...] = ()

    @property
    def identity(self) -> dict[str, str]:
        """What to look for when the modem is bound by identity instead of a port (for discovery)."""
        return {key: value for key, value in (("imei", self.imei), ("iccid", self.iccid)) if value}


@dataclass(frozen=True)
class DispatchConfig:
    rate_per_minute: float | None = 60.0
    sticky_sender: bool = False
    retry_base: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    health_interval: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class ReconnectConfig:
    """How every modem that cannot be (re)opened is retried, then quarantined (owner.Recovery)."""

    backoff: tuple[timedelta, ...] = tuple(timedelta(seconds=s) for s in RECONNECT_BACKOFF)
    """Waits before the 1st, 2nd, ... new attempt; the last one repeats until quarantine."""
    quarantine_after: int = QUARANTINE_AFTER
    """Failed attempts in a row after which the modem is quarantined."""
    quarantine_probe_interval: timedelta = timedelta(seconds=QUARANTINE_PROBE_INTERVAL)
    """How often a quarantined modem is tried again."""

    @property
    def recovery(self) -> Recovery:
        return Recovery(backoff=tuple(wait.total_seconds() for wait in self.backoff),
                        quarantine_after=self.quarantine_after,
                        probe_interval=self.quarantine_probe_interval.total_seconds())


@dataclass(frozen=True)
class RetentionConfig:
    messages: timedelta = timedelta(days=90)
    inbox: timedelta = timedelta(days=90)
    events: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class ScanConfig:
    patterns: tuple[str, ...] = DEFAULT_SCAN_PATTERNS
    interval: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class EmulatorConfig:
    enabled: bool = False
    modems: int = DEFAULT_EMULATED_MODEMS
    send_latency: timedelta = timedelta(0)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"


@dataclass(frozen=True)
class PolicyConfig:
    """Send-time rules (gatewayd/policy/send_policy.py); the defaults are the respectful ones."""

    marketing_requires_opt_in: bool = True
    quiet_hours: tuple[time, time] | None = (time(8, 0), time(21, 0))
    """The recipient's local window for marketing; None: no quiet hours."""
    weekends: bool = True
    """Marketing on Saturdays and Sundays (recipient's local calendar)."""
    quiet_hours_for_transactional: bool = False
    default_timezone: str | None = None
    """For numbers whose zone phonenumbers does not know; None: such numbers are not held."""
    max_per_day: int | None = None
    max_per_week: int | None = None
    over_cap: str = "hold"
    skip_invalid_numbers: bool = True
    reject_non_mobile: bool = False
    home_region: str | None = None
    """ISO 3166 code of the SIMs' country: inbound senders given as national digits are read in it."""


@dataclass(frozen=True)
class CustomKeywordConfig:
    keyword: str
    reply: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class KeywordsConfig:
    """Added to the lists shipped in gatewayd/policy/keyword_lists.py (docs/keywords.md)."""

    opt_out: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    custom: tuple[CustomKeywordConfig, ...] = ()


@dataclass(frozen=True)
class RepliesConfig:
    opt_out: str | None = Replies.opt_out
    welcome: str | None = None
    help: str | None = None
    per_number_per_hour: int = REPLIES_PER_NUMBER_PER_HOUR


@dataclass(frozen=True)
class WebhooksConfig:
    """Signed POSTs to the application (gatewayd/webhooks/); the secret is read at start, like a PIN file."""

    secret_file: Path | None = None
    inbound: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    opt_out: tuple[str, ...] = ()
    timeout: timedelta = timedelta(seconds=10)
    max_attempts: int = 10
    retry_base: timedelta = timedelta(seconds=10)
    retry_max: timedelta = timedelta(hours=1)

    @property
    def routes(self) -> WebhookRoutes:
        return WebhookRoutes(inbound=self.inbound, status=self.status, opt_out=self.opt_out)


@dataclass(frozen=True)
class Config:
    database: Path
    state_dir: Path
    web: WebConfig = field(default_factory=WebConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    modems: tuple[ModemConfig, ...] = ()
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    keywords: KeywordsConfig = field(default_factory=KeywordsConfig)
    replies: RepliesConfig = field(default_factory=RepliesConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    path: Path | None = field(default=None, compare=False)
    """The file it was read from; None for :func:`default_config`."""
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)
    """``key.path -> file:line`` of every key written in the file, for errors found after loading."""

    def error(self, key: str, reason: str) -> ConfigError:
        """An error about ``key`` found after loading (a missing device, an unreadable PIN file)."""
        return ConfigError(reason, key=key, location=self.locations.get(key))

    def check_ports(self) -> None:
        """Check that every local device path exists, is a character device, and is used once.

        Separate from loading because it depends on this machine at this moment; the daemon calls it
        at start. Network URLs are not checked (the owner reconnects to them with backoff).
        """
        seen: dict[str, int] = {}
        for index, modem in enumerate(self.modems):
            if modem.port is None or "://" in modem.port:
                continue
            key = f"modems[{index}].port"
            try:
                mode = os.stat(modem.port).st_mode
            except FileNotFoundError:
                raise self.error(key, f"{modem.port} does not exist (is the modem plugged in? "
                                      "see ls -l /dev/serial/by-id/)") from None
            except OSError as exc:
                raise self.error(key, f"{modem.port}: {exc.strerror or exc}") from None
            if not stat.S_ISCHR(mode):
                raise self.error(key, f"{modem.port} is not a character device")
            real = os.path.realpath(modem.port)
            if real in seen:
                raise self.error(key, f"{modem.port} is the same device ({real}) as modems[{seen[real]}].port")
            seen[real] = index

    def modem_specs(self, ports: Mapping[str, str] | None = None, *,
                    locate: Callable[[Mapping[str, str]], Callable[[], str | None]] | None = None
                    ) -> list[ModemSpec]:
        """The owners' view of the configured modems.

        ``ports`` maps modem ids bound by identity (no ``port`` in the file) to the device discovery found
        for them; such a modem not in ``ports`` is left out with a warning, because it is not plugged in
        yet and the scan will look again. With ``locate`` (the daemon's way), every identity-bound modem
        gets a spec whose ``locate`` finds its port before each connect, so its owner follows it.
        PIN files are read here, so that a secret never sits in the configuration object longer than
        needed and an unreadable one is reported with its line.
        """
        specs: list[ModemSpec] = []
        for index, modem in enumerate(self.modems):
            port = modem.port or (ports or {}).get(modem.id)
            if port is None and locate is None:
                LOGGER.warning("modem %s: no device found for %s yet", modem.id,
                               " ".join(f"{k} {v}" for k, v in modem.identity.items()))
                continue
            pin = modem.pin
            if modem.pin_file is not None:
                pin = self._read_pin_file(index, modem)
            settings = ModemSettings(pin=pin, status_reports=modem.status_reports, validity=modem.validity,
                                     cnmi=modem.cnmi, extra_init=list(modem.init))
            spec = ModemSpec(modem_id=modem.id, port=port or "", baudrate=modem.baudrate, rtscts=modem.rtscts,
                             settings=settings, identity=dict(modem.identity), recovery=self.reconnect.recovery)
            if not modem.port and locate is not None:
                spec.locate = locate(spec.identity)
            specs.append(spec)
        return specs

    def _read_pin_file(self, index: int, modem: ModemConfig) -> str:
        key = f"modems[{index}].pin_file"
        assert modem.pin_file is not None
        try:
            text = modem.pin_file.read_text(encoding="ascii").strip()
            mode = modem.pin_file.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise self.error(key, f"cannot read {modem.pin_file} ({reason})") from None
        if not (text.isdigit() and PIN_LENGTH[0] <= len(text) <= PIN_LENGTH[1]):
            raise self.error(key, f"{modem.pin_file} must hold the PIN alone: {PIN_LENGTH[0]} to "
                                  f"{PIN_LENGTH[1]} digits")
        if mode & stat.S_IROTH:
            LOGGER.warning("modem %s: %s is readable by every user; chmod o-r it", modem.id, modem.pin_file)
        return text

    def webhook_secret(self) -> bytes | None:
        """The HMAC key from ``webhooks.secret_file`` (None without one). Read at start, not at load, for
        the reason PIN files are: the secret stays out of the configuration object and a copy of the
        file can be validated on another machine."""
        path = self.webhooks.secret_file
        if path is None:
            return None
        key = "webhooks.secret_file"
        try:
            secret = path.read_bytes().strip()
            mode = path.stat().st_mode
        except OSError as exc:
            raise self.error(key, f"cannot read {path} ({exc.strerror or exc})") from None
        if len(secret) < MIN_WEBHOOK_SECRET_BYTES:
            raise self.error(key, f"{path} must hold at least {MIN_WEBHOOK_SECRET_BYTES} bytes of secret "
                                  f"(got {len(secret)}; make one with: openssl rand -hex 32 > {path})")
        if mode & stat.S_IROTH:
            LOGGER.warning("webhooks: %s is readable by every user; chmod o-r it", path)
        return secret

    def trust_rules(self) -> TrustRules:
        """Keywords, replies and send-time policy as the queue applies them. ConfigError (naming the key)
        when keywords conflict, e.g. one word configured both as opt-out and as a custom keyword."""
        policy = self.policy
        window = SendWindow() if policy.quiet_hours is None else SendWindow(
            start=policy.quiet_hours[0], end=policy.quiet_hours[1],
            days=frozenset(range(7)) if policy.weekends else WEEKDAYS)
        send_policy = SendPolicy(
            marketing_requires_opt_in=policy.marketing_requires_opt_in, window=window,
            quiet_hours=policy.quiet_hours is not None,
            quiet_hours_for_transactional=policy.quiet_hours_for_transactional,
            fallback_zone=None if policy.default_timezone is None else ZoneInfo(policy.default_timezone),
            caps=FrequencyCaps(per_day=policy.max_per_day, per_week=policy.max_per_week,
                               over_cap="suppress" if policy.over_cap == "suppress" else "hold"),
            skip_invalid_numbers=policy.skip_invalid_numbers)
        words = self.keywords
        try:
            matcher = KeywordMatcher(opt_out=words.opt_out, opt_in=words.opt_in, help=words.help,
                                     custom=[c.keyword for c in words.custom], fillers=words.fillers)
        except ValueError as exc:
            raise self.error("keywords", str(exc)) from None
        custom = {}
        for item in words.custom:
            found = matcher.match(item.keyword)
            if found is None or found.intent != Intent.CUSTOM:
                raise self.error("keywords.custom", f"{item.keyword!r} does not match itself as a custom keyword "
                                                    f"(it is {found.intent if found else 'only filler'})")
            custom[found.keyword] = CustomKeyword(keyword=item.keyword, reply=item.reply, webhook=item.webhook)
        replies = Replies(opt_out=self.replies.opt_out, welcome=self.replies.welcome, help=self.replies.help,
                          per_number_per_hour=self.replies.per_number_per_hour)
        return TrustRules(matcher=matcher, replies=replies, custom=custom, policy=send_policy,
                          home_region=self.policy.home_region)

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the file's own format (durations as "30s", listen as "host:port").

        Loading its YAML dump gives an equal configuration; ``gatewayd`` can print the effective
        configuration with it. The PIN is included as written: redact before showing it to anyone.
        """
        result = _plain(self)
        assert isinstance(result, dict)
        return result


def _plain(value: object) -> object:
    if isinstance(value, WebConfig):
        return {"listen": format_listen(value.listen), "secret_key_file": _plain(value.secret_key_file),
                "metrics_token_sha256": value.metrics_token_sha256}
    if isinstance(value, PolicyConfig):
        plain = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        plain["quiet_hours"] = None if value.quiet_hours is None else format_window(*value.quiet_hours)
        return plain
    if is_dataclass(value) and not isinstance(value, type):
        skip = {"path", "locations"}
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.name not in skip}
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# -- small value formats, usable on their own --------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"7d"``, ``"1h30m"`` -> timedelta; ValueError otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    total = 0.0
    position = 0
    for match in DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError(f"not a duration: {text!r} (use a number with s, m, h or d, like 30s, 5m, 2h, 7d)")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling parse_duration accepts ("90d", "1h30m", "0.5s")."""
    if value < timedelta(0):
        raise ValueError(f"negative duration: {value}")
    whole, micro = divmod(value // timedelta(microseconds=1), 1_000_000)
    parts: list[str] = []
    for unit, size in DURATION_UNITS.items():
        count, whole = divmod(whole, size)
        if count or (unit == "s" and micro):
            fraction = f".{micro:06d}".rstrip("0") if unit == "s" and micro else ""
            parts.append(f"{count}{fraction}{unit}")
    return "".join(parts) or "0s"


def format_window(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"``, ``"[::1]:8080"``, ``"localhost:8080"`` -> (host, port); ValueError otherwise.

    Port 0 asks the system for any free port (tests; the daemon prints the real URL)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        _check_ip(host, 6)
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, like [::1]:8080, got {text!r}")
    elif host.replace(".", "").isdigit():
        _check_ip(host, 4)
    elif not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?", host):
        raise ValueError(f"not a host name: {host!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port must be 0 to 65535 (0: any free port), got {port_text!r}")
    return host, int(port_text)


def _check_ip(host: str, version: int) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IPv{version} address: {host!r}") from None
    if address.version != version:
        raise ValueError(f"not an IPv{version} address: {host!r}")


def format_listen(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_port_url(text: str) -> str:
    """A device path or a ``socket://host:port`` / ``rfc2217://host:port`` URL; ValueError otherwise."""
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() not in PORT_SCHEMES:
            raise ValueError(f"unsupported URL scheme {scheme + '://'!r} (use a device path, "
                             + " or ".join(f"{s}://host:port" for s in PORT_SCHEMES) + ")")
        address = rest.split("?", 1)[0].rstrip("/")
        parse_listen(address)
        return text
    if not text.startswith("/"):
        raise ValueError(f"expected an absolute device path (/dev/...) or "
                         f"{' or '.join(s + '://host:port' for s in PORT_SCHEMES)}, got {text!r}")
    return os.path.normpath(text)


# -- reading the node tree -----------------------------------------------------------------------------

T = TypeVar("T")
MERGE_TAG = "tag:yaml.org,2002:merge"
Parser = Callable[["_Reader", Node, str], Any]


class _Reader:
    """Turns nodes into values; remembers where each key was written."""

    def __init__(self, file: str, base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.locations: dict[str, Location] = {}
        self._constructor = SafeConstructor()
        self._local_keys: dict[int, set[int]] = {}
        self._nodes: list[Node] = []

    def where(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1)

    def fail(self, node: Node, key: str, reason: str) -> ConfigError:
        return ConfigError(reason, key=key or "top level", location=self.where(node))

    def scalar(self, node: Node, key: str, expected: str) -> object:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, key, f"expected {expected}, got {_describe_node(node)}")
        try:
            return self._constructor.construct_object(node)
        except ConstructorError as exc:
            raise self.fail(node, key, f"expected {expected}: {exc.problem}") from None

    def mapping(self, node: Node, key: str, parsers: Mapping[str, Parser]) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            what = "a mapping of sections" if not key else "a mapping"
            raise self.fail(node, key, f"expected {what} ({', '.join(parsers)}), got {_describe_node(node)}")
        local = self.flatten(node, key)
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(name, str):
                raise self.fail(key_node, key, f"keys must be names, got {_describe_node(key_node)}")
            path = f"{key}.{name}" if key else name
            if name in entries and id(entries[name][0]) in local:
                first = self.where(entries[name][0]).line
                raise self.fail(key_node, path, f"duplicate key (first on line {first})")
            if name not in parsers:
                raise self.fail(key_node, path, "unknown key" + _suggest(name, parsers))
            entries[name] = (key_node, value_node)  # a key written here overrides one merged in
        values: dict[str, Any] = {}
        for name, (key_node, value_node) in entries.items():
            path = f"{key}.{name}" if key else name
            self.locations[path] = self.where(key_node)
            values[name] = parsers[name](self, value_node, path)
        return values

    def flatten(self, node: MappingNode, key: str) -> set[int]:
        """Apply YAML merge keys (``<<: *defaults``) in place; the ids of the keys written in ``node``.

        Idempotent: the keys written in the mapping itself are remembered at the first call, because
        only duplicates among those are mistakes (a merged-in key is meant to be overridden).
        """
        if id(node) not in self._local_keys:
            self._local_keys[id(node)] = {id(k) for k, _ in node.value if k.tag != MERGE_TAG}
            self._nodes.append(node)  # keeps the id from being reused while the reader lives
            try:
                self._constructor.flatten_mapping(node)
            except ConstructorError as exc:
                raise self.fail(node, key, str(exc.problem)) from None
        return self._local_keys[id(node)]

    def sequence(self, node: Node, key: str, item: Parser) -> list[Any]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, key, f"expected a list, got {_describe_node(node)}")
        result = []
        for index, child in enumerate(node.value):
            path = f"{key}[{index}]"
            self.locations[path] = self.where(child)
            result.append(item(self, child, path))
        return result


def _describe_node(node: Node) -> str:
    """The value as written ("+44", not the 44 YAML makes of it), for "expected ..., got ..." messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing (null)"
    return repr(node.value) if node.tag == "tag:yaml.org,2002:str" else str(node.value)


def _suggest(name: str, known: Mapping[str, object]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=SUGGESTIONS)
    if matches:
        return f" (did you mean {matches[0]!r}?)"
    return f" (known: {', '.join(known)})"


# -- value parsers ----------------------------------------------------------------------------------


def _optional(parser: Parser) -> Parser:
    """``parser``, or None when the value is written as null (``~``, ``null`` or nothing)."""

    def parse(reader: _Reader, node: Node, key: str) -> Any:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return parser(reader, node, key)

    return parse


def _bool(reader: _Reader, node: Node, key: str) -> bool:
    value = reader.scalar(node, key, "true or false")
    if not isinstance(value, bool):
        raise reader.fail(node, key, f"expected true or false, got {_describe_node(node)}")
    return value


def _int(low: int, high: int) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> int:
        value = reader.scalar(node, key, "a whole number")
        if isinstance(value, bool) or not isinstance(value, int):
            raise reader.fail(node, key, f"expected a whole number, got {_describe_node(node)}")
        if not low <= value <= high:
            raise reader.fail(node, key, f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _number(low: float, high: float) -> Parser:
    """A positive rate or similar: greater than ``low`` (exclusive) and at most ``high``."""

    def parse(reader: _Reader, node: Node, key: str) -> float:
        value = reader.scalar(node, key, "a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise reader.fail(node, key, f"expected a number, got {_describe_node(node)}")
        if not low < value <= high:
            raise reader.fail(node, key, f"must be more than {low:g} and at most {high:g}, got {value:g}")
        return float(value)

    return parse


def _string(reader: _Reader, node: Node, key: str) -> str:
    value = reader.scalar(node, key, "a string")
    if not isinstance(value, str):
        raise reader.fail(node, key, f"expected a string, got {_describe_node(node)}")
    if not value.strip():
        raise reader.fail(node, key, "must not be empty")
    return value


def _matching(pattern: re.Pattern[str], what: str, *, lower: bool = False) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> str:
        value = _string(reader, node, key).strip()
        value = value.lower() if lower else value
        if not pattern.fullmatch(value):
            raise reader.fail(node, key, f"expected {what}, got {value!r}")
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> str:
        value = _string(reader, node, key).strip().lower()
        if value not in options:
            raise reader.fail(node, key, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return parse


def _digits(what: str, length: tuple[int, int]) -> Parser:
    """Digit strings (PIN, IMEI, ICCID) from the text as written: unquoted ``0123`` is octal 83 to YAML."""

    def parse(reader: _Reader, node: Node, key: str) -> str:
        if not isinstance(node, ScalarNode):
            raise reader.fail(node, key, f"expected {what}, got {_describe_node(node)}")
        text = str(node.value).strip()
        if not text.isdigit() or not length[0] <= len(text) <= length[1]:
            raise reader.fail(node, key, f"expected {what} ({length[0]} to {length[1]} digits), got {text!r}")
        return text

    return parse


def _duration(low: timedelta, high: timedelta) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> timedelta:
        value = reader.scalar(node, key, "a duration like 30s, 5m, 2h or 7d")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise reader.fail(node, key, f"expected a duration like 30s, 5m, 2h or 7d, got "
                                         f"{_describe_node(node)}")
        if isinstance(value, str):
            try:
                result = parse_duration(value)
            except ValueError as exc:
                raise reader.fail(node, key, str(exc)) from None
        elif value == 0:
            result = timedelta(0)
        else:
            raise reader.fail(node, key, f"give a unit: {value}s, {value}m, {value}h or {value}d")
        if not low <= result <= high:
            raise reader.fail(node, key, f"must be between {format_duration(low)} and {format_duration(high)}, "
                                         f"got {format_duration(result)}")
        return result

    return parse


def _path(reader: _Reader, node: Node, key: str) -> Path:
    """Relative paths are relative to the configuration file, not to wherever the daemon was started."""
    path = Path(os.path.expanduser(_string(reader, node, key)))
    return path if path.is_absolute() else reader.base_dir / path


def _listen(reader: _Reader, node: Node, key: str) -> tuple[str, int]:
    try:
        return parse_listen(_string(reader, node, key))
    except ValueError as exc:
        raise reader.fail(node, key, str(exc)) from None


def _ip_address(reader: _Reader, node: Node, key: str) -> str:
    text = _string(reader, node, key).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise reader.fail(node, key, f"{text!r} is not an IP address (the proxy's, e.g. 127.0.0.1)") from None


def _port(reader: _Reader, node: Node, key: str) -> str:
    try:
        return check_port_url(_string(reader, node, key).strip())
    except ValueError as exc:
        raise reader.fail(node, key, str(exc)) from None


def _baudrate(reader: _Reader, node: Node, key: str) -> int:
    value = _int(1, 10_000_000)(reader, node, key)
    if value not in BAUDRATES:
        raise reader.fail(node, key, f"{value} is not a standard rate (common: 9600, 115200, 460800, 921600)")
    return int(value)


def _at_command(reader: _Reader, node: Node, key: str) -> str:
    value = _string(reader, node, key).strip()
    if not value.upper().startswith("AT") or any(ord(c) < 32 for c in value):
        raise reader.fail(node, key, f"expected one AT command on one line (like AT+CSMS=1), got {value!r}")
    return value


def _list(item: Parser, *, non_empty: bool = False) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> tuple[Any, ...]:
        values = tuple(reader.sequence(node, key, item))
        if non_empty and not values:
            raise reader.fail(node, key, "must not be empty")
        return values

    return parse


def _section(cls: Callable[..., T], parsers: Mapping[str, Parser],
             check: Callable[[_Reader, Node, str, T], None] | None = None) -> Parser:
    def parse(reader: _Reader, node: Node, key: str) -> T:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return cls()  # "web:" with nothing under it: all defaults
        value = cls(**reader.mapping(node, key, parsers))
        if check is not None:
            check(reader, node, key, value)
        return value

    return parse


def _mapping_with(required: Mapping[str, str], parser: Parser) -> Parser:
    """``parser`` for a list item that must be a mapping with ``required`` keys (name -> hint)."""

    def parse(reader: _Reader, node: Node, key: str) -> Any:
        if not isinstance(node, MappingNode):
            raise reader.fail(node, key, f"expected a mapping ({', '.join(required)}, ...), got "
                                         f"{_describe_node(node)}")
        reader.flatten(node, key)
        names = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
        for name, hint in required.items():
            if name not in names:
                raise reader.fail(node, f"{key}.{name}", f"required{hint}")
        return parser(reader, node, key)

    return parse


def _window(reader: _Reader, node: Node, key: str) -> tuple[time, time]:
    try:
        return parse_window(_string(reader, node, key))
    except ValueError as exc:
        raise reader.fail(node, key, str(exc)) from None


def _region(reader: _Reader, node: Node, key: str) -> str:
    from gatewayd.numbers import is_region

    code = _string(reader, node, key).strip().upper()
    if not is_region(code):
        raise reader.fail(node, key, f"unknown region {code!r} (an ISO 3166 country code like GB, DE, ID)")
    return code


def _timezone(reader: _Reader, node: Node, key: str) -> str:
    name = _string(reader, node, key).strip()
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise reader.fail(node, key, f"unknown time zone {name!r} (use an IANA name like Europe/London)") from None
    return name


def _webhook_url(reader: _Reader, node: Node, key: str) -> str:
    value = _string(reader, node, key).strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise reader.fail(node, key, f"expected an http:// or https:// URL, got {value!r}")
    return value


# -- the schema -------------------------------------------------------------------------------------

_TOKEN = _mapping_with({"name": "", "token_sha256": " (sha256sum of the token itself)"}, _section(ApiToken, {
    "name": _matching(re.compile(r"[A-Za-z0-9_.@-]{1,64}"), "a name of letters, digits and _.@-"),
    "token_sha256": _matching(SHA256_PATTERN, "the SHA-256 of the token as 64 hex digits", lower=True),
    "scopes": _list(_choice(("send", "read", "admin"))),
}))


def _check_modem(reader: _Reader, node: Node, key: str, modem: ModemConfig) -> None:
    if modem.port is None and not modem.identity:
        raise reader.fail(node, key, "give a port, or an imei / iccid to find the modem by identity")
    if modem.pin is not None and modem.pin_file is not None:
        raise reader.fail(node, f"{key}.pin_file", "give pin or pin_file, not both")


_MODEM_FIELDS: dict[str, Parser] = {
    "id": _matching(MODEM_ID_PATTERN, "1 to 32 letters, digits or _.-"),
    "port": _optional(_port),
    "imei": _optional(_digits("an IMEI", IMEI_LENGTH)),
    "iccid": _optional(_digits("an ICCID", ICCID_LENGTH)),
    "baudrate": _baudrate,
    "rtscts": _bool,
    "pin": _optional(_digits("a SIM PIN", PIN_LENGTH)),
    "pin_file": _optional(_path),
    "rate_per_minute": _optional(_number(0, 600)),
    "daily_cap": _optional(_int(1, 1_000_000)),
    "prefixes": _list(_matching(PREFIX_PATTERN, "a '+' and country/number digits, like +44")),
    "status_reports": _bool,
    "validity": _optional(_duration(MIN_VALIDITY, MAX_VALIDITY)),
    "cnmi": _matching(CNMI_PATTERN, "AT+CNMI parameters like 2,1,0,1,0"),
    "init": _list(_at_command),
}


_MODEM = _mapping_with({"id": " (a short name like sim1)"}, _section(ModemConfig, _MODEM_FIELDS, _check_modem))


def _check_dispatch(reader: _Reader, node: Node, key: str, dispatch: DispatchConfig) -> None:
    if dispatch.retry_max < dispatch.retry_base:
        raise reader.fail(node, f"{key}.retry_max", f"must not be shorter than retry_base "
                                                    f"({format_duration(dispatch.retry_base)})")


def _check_reconnect(reader: _Reader, node: Node, key: str, reconnect: ReconnectConfig) -> None:
    longest = max(reconnect.backoff)
    if reconnect.quarantine_probe_interval < longest:
        where = reader.locations.get(f"{key}.quarantine_probe_interval") or reader.where(node)
        raise ConfigError(f"must not be shorter than the longest backoff ({format_duration(longest)}): "
                          "quarantine is the slow way of trying", key=f"{key}.quarantine_probe_interval",
                          location=where)


def _check_webhooks(reader: _Reader, node: Node, key: str, webhooks: WebhooksConfig) -> None:
    if webhooks.retry_max < webhooks.retry_base:
        where = reader.locations.get(f"{key}.retry_max") or reader.where(node)
        raise ConfigError(f"must not be shorter than retry_base ({format_duration(webhooks.retry_base)})",
                          key=f"{key}.retry_max", location=where)


_DAY = timedelta(days=1)
_RETENTION = _duration(timedelta(hours=1), timedelta(days=3650))

_TOP: dict[str, Parser] = {
    "database": _path,
    "state_dir": _path,
    "web": _section(WebConfig, {
        "listen": _listen,
        "secret_key_file": _optional(_path),
        "metrics_token_sha256": _optional(_matching(SHA256_PATTERN, "the SHA-256 of the token as 64 hex digits",
                                                    lower=True)),
        "trusted_proxy": _optional(_ip_address),
    }),
    "api": _section(ApiConfig, {
        "tokens": _list(_TOKEN),
        "max_body_bytes": _int(1024, 64 * 1024 * 1024),
        "max_parts": _int(1, 255),
        "batch_limit": _int(1, 100_000),
        "rate_per_minute": _number(0, 1_000_000),
    }),
    "modems": _optional(_list(_MODEM)),
    "dispatch": _section(DispatchConfig, {
        "rate_per_minute": _optional(_number(0, 100_000)),
        "sticky_sender": _bool,
        "retry_base": _duration(timedelta(seconds=1), _DAY),
        "retry_max": _duration(timedelta(seconds=1), 7 * _DAY),
        "max_attempts": _int(1, 100),
        "health_interval": _duration(timedelta(seconds=5), timedelta(hours=1)),
    }, _check_dispatch),
    "reconnect": _section(ReconnectConfig, {
        "backoff": _list(_duration(timedelta(seconds=0.1), timedelta(hours=1)), non_empty=True),
        "quarantine_after": _int(1, 1000),
        "quarantine_probe_interval": _duration(timedelta(seconds=1), _DAY),
    }, _check_reconnect),
    "retention": _section(RetentionConfig, {"messages": _RETENTION, "inbox": _RETENTION, "events": _RETENTION}),
    "scan": _section(ScanConfig, {
        "patterns": _list(_matching(re.compile(r"/\S+"), "an absolute path or glob like /dev/ttyUSB*"),
                          non_empty=True),
        "interval": _duration(timedelta(seconds=1), timedelta(hours=1)),
    }),
    "emulator": _section(EmulatorConfig, {
        "enabled": _bool,
        "modems": _int(1, MAX_EMULATED_MODEMS),
        "send_latency": _duration(timedelta(0), timedelta(seconds=60)),
    }),
    "logging": _section(LoggingConfig, {"level": _choice(LOG_LEVELS)}),
    "policy": _section(PolicyConfig, {
        "marketing_requires_opt_in": _bool,
        "quiet_hours": _optional(_window),
        "weekends": _bool,
        "quiet_hours_for_transactional": _bool,
        "default_timezone": _optional(_timezone),
        "max_per_day": _optional(_int(1, 1000)),
        "max_per_week": _optional(_int(1, 10_000)),
        "over_cap": _choice(("hold", "suppress")),
        "skip_invalid_numbers": _bool,
        "reject_non_mobile": _bool,
        "home_region": _optional(_region),
    }),
    "keywords": _section(KeywordsConfig, {
        "opt_out": _list(_string),
        "opt_in": _list(_string),
        "help": _list(_string),
        "fillers": _list(_string),
        "custom": _list(_mapping_with({"keyword": ""}, _section(CustomKeywordConfig, {
            "keyword": _string,
            "reply": _optional(_string),
            "webhook": _optional(_webhook_url),
        }))),
    }),
    "replies": _section(RepliesConfig, {
        "opt_out": _optional(_string),
        "welcome": _optional(_string),
        "help": _optional(_string),
        "per_number_per_hour": _int(0, 100),
    }),
    "webhooks": _section(WebhooksConfig, {
        "secret_file": _optional(_path),
        "inbound": _list(_webhook_url),
        "status": _list(_webhook_url),
        "opt_out": _list(_webhook_url),
        "timeout": _duration(timedelta(seconds=1), timedelta(minutes=5)),
        "max_attempts": _int(1, 100),
        "retry_base": _duration(timedelta(seconds=1), _DAY),
        "retry_max": _duration(timedelta(seconds=1), 7 * _DAY),
    }, _check_webhooks),
}


def _check_webhook_secret(reader: _Reader, root: Node, config: Config) -> None:
    """Every webhook URL, including a custom keyword's, needs the secret that signs its requests."""
    if config.webhooks.secret_file is not None:
        return
    urls = [f"webhooks.{kind}[{i}]" for kind in ("inbound", "status", "opt_out")
            for i in range(len(getattr(config.webhooks, kind)))]
    urls += [f"keywords.custom[{i}].webhook" for i, item in enumerate(config.keywords.custom) if item.webhook]
    if urls:
        location = reader.locations.get(urls[0]) or reader.where(root)
        raise ConfigError("a webhook URL needs webhooks.secret_file (the key its requests are signed with)",
                          key=urls[0], location=location)


def _check_modems(reader: _Reader, root: Node, config: Config) -> None:
    """Checks across modems: each id, port, IMEI and ICCID names one modem only."""

    def fail(key: str, reason: str) -> ConfigError:
        location = reader.locations.get(key) or reader.where(root)
        return ConfigError(reason, key=key, location=location)

    if not config.modems and not config.emulator.enabled:
        raise fail("modems", "at least one modem is required (or set emulator.enabled: true for a demo)")
    reserved = ({f"emu{i}" for i in range(1, config.emulator.modems + 1)} if config.emulator.enabled
                else set())
    for attribute in ("id", "port", "imei", "iccid"):
        seen: dict[str, int] = {}
        for index, modem in enumerate(config.modems):
            value = getattr(modem, attribute)
            if value is None:
                continue
            if attribute == "id" and value in reserved:
                raise fail(f"modems[{index}].id", f"{value!r} is the id of an emulated modem; choose another")
            if value in seen:
                first = seen[value]
                line = reader.locations[f"modems[{first}].{attribute}"].line
                what = {"id": "modem id", "port": "port", "imei": "IMEI", "iccid": "ICCID"}[attribute]
                raise fail(f"modems[{index}].{attribute}",
                           f"duplicate {what} {value!r} (also modems[{first}], line {line})")
            seen[value] = index
    names: dict[str, int] = {}
    for index, token in enumerate(config.api.tokens):
        if token.name in names:
            raise fail(f"api.tokens[{index}].name", f"duplicate token name {token.name!r}")
        names[token.name] = index


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate ``path``; raise ConfigError (one line, with file:line) at the first problem."""
    file = os.fspath(path)
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration ({exc.strerror or exc})", location=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", location=file) from None
    return parse_config(text, file=file, base_dir=Path(file).resolve().parent)


def parse_config(text: str, *, file: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate configuration text (``file`` is only used in messages)."""
    base = base_dir if base_dir is not None else Path.cwd()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        location = Location(file, mark.line + 1) if mark is not None else file
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"YAML syntax error: {problem}{column}", location=location) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", location=file) from None
    if root is None:
        raise ConfigError("the file is empty (start from config.example.yaml)", location=Location(file, 1))
    reader = _Reader(file, base)
    values = reader.mapping(root, "", _TOP)
    values.setdefault("database", base / DEFAULT_DATABASE)
    values.setdefault("state_dir", base)
    values["modems"] = values.get("modems") or ()
    config = Config(**values, path=Path(file), locations=reader.locations)
    _check_modems(reader, root, config)
    _check_webhook_secret(reader, root, config)
    config.trust_rules()  # keyword conflicts are configuration errors, found before anything starts
    return config


def default_config(cwd: str | os.PathLike[str] | None = None) -> Config:
    """The configuration without a file: the built-in emulator, a database in ``cwd``, the page on loopback."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    return Config(database=base / DEFAULT_DATABASE, state_dir=base, emulator=EmulatorConfig(enabled=True))
