"""``gatewayd run``: load the configuration, start the gateway and its periodic work, stop on SIGTERM.

One process: modem owners, the dispatcher, the scheduler (APScheduler) and, when configured, the
built-in emulator. Start-up order matters for "nothing lost": the queue is opened and recovered before
any modem is touched; systemd is told READY only when the gateway runs.

Exit codes: 0 after SIGTERM/SIGINT; 2 for a configuration error (systemd's RestartPreventExitStatus,
so a broken file does not restart-loop); 1 for any other start-up failure.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from gatewayd import discovery, systemd_notify
from gatewayd.clock import steady_interval
from gatewayd.config import Config, ConfigError, default_config, load_config
from gatewayd.dispatch.backoff import RetryPolicy
from gatewayd.gateway import Gateway, GatewayPlan, ModemPlan
from gatewayd.modem.errors import PortBusyError
from gatewayd.owner import ModemOwner, ModemSpec
from gatewayd.queue import Queue
from gatewayd.queue.errors import QueueError
from gatewayd.webhooks.deliverer import DeliverySettings
from web import login
from web.app import create_app
from web.auth import TokenStore
from web.server import WebServer, serve

LOGGER = logging.getLogger(__name__)

EXIT_CONFIG = 2
STARTUP_WAIT = 20.0
"""How long start-up waits for each modem's first connection attempt before going on without it."""
EMULATED_NUMBER = "+1555000{:04d}"
"""Numbers of the built-in emulated modems (+15550000001, ...): the 555 range is fictional."""


def _configure_logging(level: str) -> None:
    # One line per event, no timestamps of our own: journald (and a terminal's scrollback) add them.
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run at INFO


def _emulated_modems(config: Config, stack: ExitStack) -> list[ModemSpec]:
    from gatewayd.emulator.emulator import Emulator

    config.state_dir.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(log_path=str(config.state_dir / "emulator-smsc.jsonl"), control=("127.0.0.1", 0))
    specs = []
    for index in range(1, config.emulator.modems + 1):
        link = config.state_dir / f"emu{index}"
        emulator.add_modem(number=EMULATED_NUMBER.format(index), modem_id=f"emu{index}", pty=str(link),
                           send_latency=config.emulator.send_latency.total_seconds())
        specs.append(ModemSpec(modem_id=f"emu{index}", port=str(link), recovery=config.reconnect.recovery))
    stack.enter_context(emulator)
    control = emulator.control_address
    if control is not None:
        LOGGER.info("emulator: %d modem(s), control port %s:%s", config.emulator.modems, *control)
        print(f"Built-in emulator: modems {', '.join(EMULATED_NUMBER.format(i) for i in range(1, len(specs) + 1))};"
              f" control port {control[0]}:{control[1]} (JSON lines, see README).\n"
              "  send:    gatewayd send --to +447911123456 --text 'hello'\n"
              f"  receive: echo '{{\"op\": \"deliver\", \"to\": \"{EMULATED_NUMBER.format(1)}\", "
              f"\"from\": \"+447911123456\", \"text\": \"hi\"}}' | nc {control[0]} {control[1]}", flush=True)
    return specs


def build_plan(config: Config, specs: list[ModemSpec]) -> GatewayPlan:
    limits = {modem.id: modem for modem in config.modems}
    plans = []
    for spec in specs:
        modem = limits.get(spec.modem_id)
        plans.append(ModemPlan(
            spec=spec,
            rate_per_minute=modem.rate_per_minute if modem else None,
            daily_cap=modem.daily_cap if modem else None,
            prefixes=modem.prefixes if modem else (),
        ))
    dispatch = config.dispatch
    webhooks = config.webhooks
    return GatewayPlan(
        database=config.database, state_dir=config.state_dir, modems=plans,
        global_rate_per_minute=dispatch.rate_per_minute,
        retry=RetryPolicy(base=dispatch.retry_base, maximum=dispatch.retry_max, max_attempts=dispatch.max_attempts),
        health_interval=dispatch.health_interval, sticky_sender=dispatch.sticky_sender,
        retain_messages=config.retention.messages, retain_inbox=config.retention.inbox,
        rules=config.trust_rules(),
        webhooks=webhooks.routes, webhook_secret=config.webhook_secret(),
        webhook_delivery=DeliverySettings(timeout=webhooks.timeout, max_attempts=webhooks.max_attempts,
                                          retry_base=webhooks.retry_base, retry_max=webhooks.retry_max),
    )


def _busy_ports(gateway: Gateway) -> str | None:
    """Wait for each modem's first connection attempt; a port another program holds stops the start.

    Anything else (not plugged in, not answering, no network) is retried by the owner and shown in the
    logs; but a port held by another program (ModemManager, a terminal left open) is a set-up mistake
    the operator must fix, and carrying on would hide it.
    """
    for owner in gateway.owners.values():
        owner.first_attempt.wait(STARTUP_WAIT)
        if isinstance(owner.first_error, PortBusyError):
            return f"modem {owner.spec.modem_id}: {owner.first_error}"
    return None


def ports_held_by_others(owners: Iterable[ModemOwner], searching: Mapping[str, str]) -> set[str]:
    """Ports the identity scan must not touch: those of every owner but the one looking for ``searching``,
    whose own last port stays in the scan (a USB modem that resets usually returns on the same node)."""
    return {o.snapshot.port for o in owners if o.snapshot.port and dict(o.spec.identity) != dict(searching)}


def _serve_web(config: Config, gateway: Gateway) -> WebServer:
    """The API and status page on waitress. Without configured tokens (the demo) a token is made at
    each start and printed once; only its hash is kept."""
    queue = gateway.queue

    def database_tokens() -> list[tuple[str, str, frozenset[str]]]:
        return [(t.name, t.token_sha256, t.scopes) for t in queue.active_tokens()]

    if config.api.tokens or queue.active_tokens():
        tokens = TokenStore.from_config(config.api.tokens, database=database_tokens)
    else:
        token, tokens = TokenStore.generate("demo", database=database_tokens)
        print(f"API token (shown once, new at each start): {token}", flush=True)
    pages_setup = login.setup_from_config(config)  # ConfigError when the session key is unusable
    _announce_operators(config, queue)
    app = create_app(queue=gateway.queue, tokens=tokens, api=config.api,
                     modems=lambda: [owner.snapshot for owner in gateway.owners.values()],
                     mobile_only=config.policy.reject_non_mobile, pages_setup=pages_setup,
                     activity=gateway.activity)
    return serve(app, *config.web.listen, trusted_proxy=config.web.trusted_proxy)


def _announce_operators(config: Config, queue: Queue) -> None:
    """The no-config demo gets a ``demo`` operator with a new password at each start (printed once, like
    its API token); a configured gateway without operators says how to make one."""
    if config.path is None:
        name, password = login.demo_operator(queue)
        print(f"Web login (demo, new password at each start): user {name}, password {password}", flush=True)
    elif queue.operator_count() == 0:
        LOGGER.warning("no operator can sign in to the web pages yet")
        print(f"No operator can sign in to the web pages yet: gatewayd user add NAME -c {config.path}", flush=True)


def run(config_path: str | None = None) -> int:
    """Run until SIGTERM / SIGINT; returns the exit code."""
    try:
        config = load_config(config_path) if config_path else default_config(Path.cwd())
        config.check_ports()
        _configure_logging(config.logging.level)
    except ConfigError as exc:
        print(f"gatewayd: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        LOGGER.info("%s: finishing the sends in flight, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    with ExitStack() as stack:
        try:
            specs = _emulated_modems(config, stack) if config.emulator.enabled else []
            owners: dict[str, ModemOwner] = {}

            def held(searching: Mapping[str, str]) -> set[str]:
                return ports_held_by_others(owners.values(), searching)

            specs += config.modem_specs(locate=discovery.locator(config.scan.patterns, held))
            gateway = Gateway(build_plan(config, specs))
            owners.update(gateway.owners)
        except ConfigError as exc:
            print(f"gatewayd: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except (QueueError, OSError) as exc:
            print(f"gatewayd: cannot open the database {config.database}: {exc}", file=sys.stderr)
            return 1
        gateway.start()
        busy = _busy_ports(gateway)
        if busy:
            gateway.stop()
            print(f"gatewayd: {busy}", file=sys.stderr)  # last, after the shutdown's own log lines
            return 1
        try:
            server = _serve_web(config, gateway)
        except ConfigError as exc:
            gateway.stop()
            print(f"gatewayd: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except OSError as exc:
            gateway.stop()
            print(f"gatewayd: web.listen {config.web.listen[0]}:{config.web.listen[1]}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
        stack.callback(server.close)  # first out: requests in flight finish before the queue closes
        interval = systemd_notify.watchdog_interval()
        if interval:
            # No ping when the dispatcher died or the queue hangs: systemd then restarts the daemon.
            gateway.scheduler.add_job(lambda: gateway.alive() and systemd_notify.watchdog(),
                                      steady_interval(interval / 2), id="watchdog", coalesce=True, max_instances=1)
        counts = gateway.queue.counts_by_status()
        LOGGER.info("gateway running: %d modem(s), database %s, queue %s", len(specs), config.database,
                    {k: v for k, v in counts.items() if v})
        print(f"gatewayd running: {len(specs)} modem(s) ({', '.join(s.modem_id for s in specs)}), "
              f"database {config.database}, web and API on {server.url} . Stop with Ctrl-C.", flush=True)
        systemd_notify.ready(f"{len(specs)} modem(s)")
        stop.wait()
        systemd_notify.stopping()
        server.close()
        gateway.stop()
    LOGGER.info("stopped")
    return 0
