"""The fault matrix's harness: one emulator (with its control port) and one daemon, traffic, and the
operator's view of both (``/healthz``, ``/metrics``, the API).

A fault is injected through the emulator's control port while messages flow; what the test then looks
at is what an operator would: the HTTP answers of the running daemon, and afterwards the SMSC's log
against the database (invariants.py). Every wait polls and also watches the daemon process, so a
daemon that dies under a fault fails the test at once with its log, instead of timing out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from gatewayd.modem.pdu import plan_text
from gatewayd.owner import Recovery
from gatewayd.queue import NewMessage
from tests.faults.cycles import settle, snapshot
from tests.faults.invariants import Verdict, verify
from tests.faults.processes import DaemonProcess, EmulatorProcess, ProcessError
from tests.faults.workload import Expected, enqueue

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

TOKEN = "matrix-token-0123456789abcdef"
"""The API token of the matrix's LAN client (send and read scopes)."""
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTTP_TIMEOUT = 30.0
"""Well beyond the database's 5 s busy timeout: with the lock held, the write ahead of the request waits
5 s for it, then the request's own group waits 5 s more before its 503."""
CONTROL_TIMEOUT = 15.0
POLL_INTERVAL = 0.1
SETTLE_TIMEOUT = 45.0
STOP_TIMEOUT = 30.0
API_RECIPIENT_BASE = 447911100000
"""Recipients of API-posted messages: UK mobiles (the API validates numbers; +1555 ones are fictional)."""
URL_LINE = re.compile(r"web and API on (http://\S+) ")
MetricKey = tuple[str, frozenset[tuple[str, str]]]


class ControlClient:
    """The emulator's control port: one JSON request per line, one reply per line."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._sock = socket.create_connection(address, timeout=CONTROL_TIMEOUT)
        self._buffer = b""

    def __call__(self, op: str, **fields: Any) -> dict[str, Any]:
        """The reply; AssertionError when the emulator refused (a typo in a test must say so)."""
        self._sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ProcessError("the emulator closed its control port")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        assert reply.get("ok") is not False, f"control {op} {fields}: {reply}"
        return reply

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any
    headers: dict[str, str]


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    """One request; error statuses are answers too (a 503 is what some tests want)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**(headers or {}), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return HttpAnswer(status, parsed, got)


def parse_metrics(text: str) -> dict[MetricKey, float]:
    """Every sample by (name, labels); counters keep their ``_total`` suffix."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric(samples: dict[MetricKey, float], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def write_matrix_config(workdir: Path, links: list[str | None], *, identities: dict[int, str] | None = None,
                        scan: list[str] | None = None, health_interval: int = 60,
                        pins: dict[int, str] | None = None, reconnect: Recovery | None = None) -> Path:
    """Like workload.write_config, plus an API token, a health interval, and modems bound by IMEI.

    ``links[i]`` None with ``identities[i]`` set: modem ``m{i}`` is found by its IMEI among ``scan``.
    ``pins[i]``: the SIM PIN configured for ``m{i}``. ``reconnect``: the ``reconnect`` section.
    """
    identities = identities or {}
    pins = pins or {}
    modems = ""
    for index, link in enumerate(links):
        where = f"    imei: \"{identities[index]}\"\n" if index in identities else f"    port: {link}\n"
        modems += (f"  - id: m{index}\n{where}"
                   + (f"    pin: \"{pins[index]}\"\n" if index in pins else "")
                   + "    rate_per_minute: null\n"
                   "    status_reports: true\n")
    reconnect_section = "" if reconnect is None else (
        "reconnect:\n"
        f"  backoff: [{', '.join(f'{wait:g}s' for wait in reconnect.backoff)}]\n"
        f"  quarantine_after: {reconnect.quarantine_after}\n"
        f"  quarantine_probe_interval: {reconnect.probe_interval:g}s\n")
    scan_section = ("scan:\n  patterns:\n" + "".join(f"    - \"{p}\"\n" for p in scan)) if scan else ""
    config = workdir / "gatewayd.yaml"
    config.write_text(
        f"database: {workdir / 'gatewayd.db'}\n"
        f"state_dir: {workdir / 'state'}\n"
        f"modems:\n{modems}"
        f"{scan_section}"
        f"{reconnect_section}"
        "web:\n"
        "  listen: \"127.0.0.1:0\"\n"
        "api:\n"
        "  tokens:\n"
        "    - name: matrix\n"
        f"      token_sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}\n"
        "      scopes: [send, read]\n"
        "dispatch:\n"
        "  rate_per_minute: null\n"
        "  retry_base: 1s\n"
        "  retry_max: 2s\n"
        "  max_attempts: 100\n"
        f"  health_interval: {health_interval}s\n"
        "emulator:\n"
        "  enabled: false\n"
        "logging:\n"
        "  level: info\n",
        encoding="utf-8")
    return config


@dataclass
class Matrix:
    """One emulator, one running daemon, and everything a matrix test asks of them."""

    workdir: Path
    emulator: EmulatorProcess
    daemon: DaemonProcess
    control: ControlClient
    url: str
    expected: dict[int, Expected] = field(default_factory=dict)
    _api_index: int = 0

    @property
    def database(self) -> Path:
        return self.workdir / "gatewayd.db"

    @property
    def modem_by_number(self) -> dict[str, str]:
        return {number: f"m{i}" for i, number in enumerate(self.emulator.numbers)}

    def explain(self) -> str:
        return f"workdir {self.workdir}\n--- daemon stderr (last lines) ---\n{self.daemon.stderr_tail(60)}"

    # -- the operator's view ----------------------------------------------------------------------

    def healthz(self) -> HttpAnswer:
        return http("GET", self.url + "/healthz")

    def modem_states(self) -> dict[str, dict[str, Any]]:
        """``/healthz``'s modem lines by modem id."""
        return {line["id"]: line for line in self.healthz().body["modems"]}

    def api_modems(self) -> dict[str, dict[str, Any]]:
        """``GET /api/v1/modems`` by modem id: the daemon's whole view of each modem (SIM state included)."""
        answer = http("GET", self.url + "/api/v1/modems", headers=AUTH)
        assert answer.status == 200, answer
        return {item["id"]: item for item in answer.body["items"]}

    def metrics(self) -> dict[MetricKey, float]:
        answer = http("GET", self.url + "/metrics")
        assert answer.status == 200, answer
        return parse_metrics(answer.body)

    def post(self, text: str) -> tuple[HttpAnswer, str]:
        """POST one message to a fresh recipient; returns the answer and the recipient."""
        self._api_index += 1
        recipient = f"+{API_RECIPIENT_BASE + self._api_index}"
        return http("POST", self.url + "/api/v1/messages", {"to": recipient, "text": text}, AUTH), recipient

    def post_accepted(self, text: str) -> int:
        """POST and expect 202; the message joins the expected set."""
        answer, recipient = self.post(text)
        assert answer.status == 202, (answer, self.explain())
        message_id = int(answer.body["id"])
        self.expect(message_id, recipient, text)
        return message_id

    def expect(self, message_id: int, recipient: str, text: str) -> None:
        encoding, parts = plan_text(text)
        self.expected[message_id] = Expected(message_id, recipient, text, "api", encoding, tuple(parts))

    # -- waiting ----------------------------------------------------------------------------------

    def wait_until(self, probe: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
        """The first truthy ``probe()`` (polled); fails naming ``what`` if the daemon dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            code = self.daemon.wait(POLL_INTERVAL)
            if code is not None:
                raise ProcessError(f"daemon exited with {code} while waiting for {what}\n{self.explain()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:g} s\n{self.explain()}")

    def wait_state(self, modem: str, state: str, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait_until(lambda: (line := self.modem_states().get(modem)) and line["state"] == state
                               and line, f"modem {modem} {state} on /healthz", timeout)

    def wait_finished(self, count: int, timeout: float = 20.0) -> None:
        self.wait_until(lambda: snapshot(self.database).finished >= count, f"{count} messages finished", timeout)

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        assert settle(self.daemon, self.database, timeout), f"queue never settled: {snapshot(self.database)}\n" \
                                                            + self.explain()

    def stop_and_verify(self, *, allowed: dict[int, str] | None = None, max_unknown: int = 0) -> Verdict:
        """SIGTERM (exit 0 expected), then the invariants; ``allowed`` maps message ids to the final
        status the fault gives them (e.g. "failed" for a recipient the network refuses)."""
        assert self.daemon.terminate(STOP_TIMEOUT) == 0, self.explain()
        verdict = verify(self.database, self.emulator.log_path, self.expected, self.modem_by_number,
                         max_unknown=max_unknown)
        verdict.violations = [v for v in verdict.violations if not _excused(v, allowed or {})]
        return verdict


def _excused(violation: str, allowed: dict[int, str]) -> bool:
    """Violations that are the fault's own, declared outcome: "message N ended failed" and its parts
    marked failed without reaching the SMSC (the network refused them), for the declared ids only."""
    match = re.match(r"message (\d+) (?:ended (\w+) |part \d+ is (\w+) in the database but the SMSC never)",
                     violation)
    if match is None:
        return False
    status = match.group(2) or match.group(3)
    return allowed.get(int(match.group(1))) == status


@contextmanager
def matrix(workdir: Path, messages: list[NewMessage], *, modems: int = 2, send_latency: float = 0.1,
           configure: Callable[[EmulatorProcess, ControlClient], Path] | None = None,
           daemon_env: Mapping[str, str] | None = None) -> Iterator[Matrix]:
    """Emulator up, ``messages`` enqueued, daemon running and answering HTTP; all stopped at the end.

    ``configure`` writes the daemon's configuration (default: every modem by its pty link).
    ``daemon_env``: extra environment of the daemon alone (not of the emulator).
    """
    with EmulatorProcess(workdir, modems=modems, send_latency=send_latency, control=True) as emulator:
        assert emulator.control_address is not None
        control = ControlClient(emulator.control_address)
        try:
            config = (configure(emulator, control) if configure is not None
                      else write_matrix_config(workdir, list(emulator.links)))
            expected = enqueue(workdir / "gatewayd.db", messages) if messages else {}
            daemon = DaemonProcess(workdir, config, workdir.name, env=daemon_env).start()
            try:
                daemon.wait_running()
                found = URL_LINE.search((workdir / "daemon.stdout").read_text(encoding="utf-8"))
                assert found, "the daemon's running line names no URL"
                yield Matrix(workdir, emulator, daemon, control, found.group(1), expected)
            finally:
                daemon.ensure_stopped()
        finally:
            control.close()
