"""``gatewayd token create|list|revoke`` and ``gatewayd status``: running a gateway from a shell.

Tokens live in the gateway's database (only their SHA-256); the daemon notices a new or revoked one
within web.auth.DB_TOKENS_TTL seconds, without a restart. ``status`` reads the queue counts from the
database and the modems from the running daemon's ``/healthz``, and exits 1 with a one-line reason when
the daemon is not running or no modem is ready, so it can gate a script or a monitoring check.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
STATUS_TIMEOUT = 5.0
"""Seconds ``gatewayd status`` waits for the daemon's /healthz."""
DEFAULT_SCOPES = "send,read"
"""A new token may post and read; admin (consent changes, every client's messages) must be asked for."""


class AdminError(Exception):
    """One line for the operator; the CLI prints it and exits 1."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="API tokens kept in the database (create, list, revoke)")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="make a token for an application; printed once, only its hash kept")
    create.add_argument("name", help="the application's name (its messages are filed under it)")
    create.add_argument("--scopes", default=DEFAULT_SCOPES,
                        help=f"comma-separated: send, read, admin (default {DEFAULT_SCOPES})")
    _database_options(create)
    create.set_defaults(func=cmd_token_create)
    listing = token_sub.add_parser("list", help="tokens with their scopes and state (never the tokens)")
    _database_options(listing)
    listing.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token by name (takes effect within seconds)")
    revoke.add_argument("name")
    _database_options(revoke)
    revoke.set_defaults(func=cmd_token_revoke)

    status = sub.add_parser("status", help="modems and queue counts of the running gateway")
    _database_options(status)
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=cmd_status)


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", help="configuration file (its database is used)")
    parser.add_argument("--database", help="database file (instead of the configuration's)")


def _config(args: argparse.Namespace) -> Any:
    from gatewayd.config import ConfigError, default_config, load_config

    try:
        return load_config(args.config) if args.config else default_config()
    except ConfigError as exc:
        raise AdminError(str(exc)) from exc


def _open_queue(args: argparse.Namespace, *, read_only: bool = False) -> Any:
    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import Queue

    path = Path(args.database) if args.database else _config(args).database
    if read_only and not path.exists():
        raise AdminError(f"{path}: no such database (start 'gatewayd run' first, or pass -c)")
    try:
        return Queue(path, read_only=read_only)
    except QueueError as exc:
        raise AdminError(f"{path}: {exc}") from exc


def cmd_token_create(args: argparse.Namespace) -> int:
    from gatewayd.queue.errors import QueueError
    from web.auth import new_token, token_hash

    scopes = frozenset(part.strip() for part in args.scopes.split(",") if part.strip())
    token = new_token()
    queue = _open_queue(args)
    try:
        stored = queue.create_token(args.name, token_hash(token), scopes)
    except QueueError as exc:
        raise AdminError(str(exc)) from exc
    finally:
        queue.close()
    print(token)
    print(f"token {stored.name!r} created with scopes {', '.join(sorted(stored.scopes))}; it is shown only "
          "this once: give it to the application now", file=sys.stderr)
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace) -> int:
    queue = _open_queue(args, read_only=True)
    try:
        tokens = queue.list_tokens()
    finally:
        queue.close()
    for stored in tokens:
        print(json.dumps({"name": stored.name, "scopes": sorted(stored.scopes),
                          "created_at": stored.created_at.isoformat(),
                          "revoked_at": None if stored.revoked_at is None else stored.revoked_at.isoformat()}))
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    queue = _open_queue(args)
    try:
        revoked = queue.revoke_token(args.name)
    finally:
        queue.close()
    if not revoked:
        raise AdminError(f"no active token named {args.name!r} (see 'gatewayd token list')")
    print(f"token {args.name!r} revoked", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    config = _config(args)
    queue = _open_queue(args, read_only=True)
    try:
        counts = {status: n for status, n in queue.counts_by_status().items() if n}
    finally:
        queue.close()
    host, port = config.web.listen
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    health, problem = _healthz(url)
    if args.json:
        print(json.dumps({"queue": counts, "daemon": health, "problem": problem}, indent=1))
    else:
        _print_table(health, counts)
    if problem is not None:
        print(f"gatewayd: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _healthz(url: str) -> tuple[dict[str, Any] | None, str | None]:
    """The daemon's health document and, when something is wrong, the one-line reason."""
    try:
        with urllib.request.urlopen(url, timeout=STATUS_TIMEOUT) as response:
            body: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:  # 503: running, but not able to send
        body = json.load(exc)
        return body, str(body.get("reason", f"/healthz answered {exc.code}"))
    except (OSError, ValueError) as exc:
        return None, f"the daemon is not answering at {url} ({getattr(exc, 'reason', exc)})"
    return body, None


def _print_table(health: dict[str, Any] | None, counts: dict[str, int]) -> None:
    rows = [("MODEM", "STATE", "SIGNAL", "NETWORK", "OPERATOR", "LAST ERROR")]
    for modem in (health or {}).get("modems", []):
        dbm = modem.get("signal_dbm")
        rows.append((modem["id"], modem["state"], "-" if dbm is None else f"{dbm} dBm",
                     modem.get("registration") or "-", modem.get("operator") or "-", modem.get("last_error") or ""))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    print()
    print("QUEUE  " + ("  ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "empty"))
