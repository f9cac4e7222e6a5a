"""The ``gatewayd`` command line.

Every failure ends with one line on stderr naming the cause (``gatewayd: <cause>``) and a non-zero
exit: 1 for an operational failure (port busy, SIM PIN, +CMS ERROR ...), 2 for a usage error.
Machine-readable results go to stdout as JSON, so scripts and operators' tooling can use them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from gatewayd import __version__, cli_admin

LOGGER = logging.getLogger(__name__)

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line and exit 1."""


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex().upper()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _print_json(obj: object) -> None:
    print(json.dumps(obj, default=_json_default, ensure_ascii=False), flush=True)


# -- modem diagnostics ------------------------------------------------------------------------------


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", help="device path (/dev/ttyUSB0, /dev/serial/by-id/...) or pyserial URL "
                                     "(socket://host:port, rfc2217://host:port)")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument("--rtscts", action="store_true", help="hardware flow control")
    parser.add_argument("--pin", help="SIM PIN, entered once if the SIM asks (never retried if rejected)")


@contextmanager
def _open_modem(args: argparse.Namespace) -> Iterator[Any]:
    from gatewayd.modem.device import Modem, ModemSettings
    from gatewayd.modem.session import AtSession
    from gatewayd.modem.transport import open_port

    port = open_port(args.port, baudrate=args.baud, rtscts=args.rtscts)
    session = AtSession(port, modem_id=args.port)
    session.start()
    modem = Modem(session, modem_id=args.port, settings=ModemSettings(pin=args.pin))
    try:
        modem.initialise()
        yield modem
    finally:
        modem.close()
        session.close()


def cmd_modem_probe(args: argparse.Namespace) -> int:
    with _open_modem(args) as modem:
        status = modem.status()
        identity = modem.identity
        registration = status.registration
        _print_json({
            "manufacturer": identity.manufacturer,
            "model": identity.model,
            "revision": identity.revision,
            "imei": identity.imei,
            "imsi": identity.imsi,
            "iccid": identity.iccid,
            "operator": status.operator,
            "registration": registration.text if registration else None,
            "registered": registration.registered if registration else None,
            "signal_csq": status.signal.rssi if status.signal else None,
            "signal_dbm": status.signal.dbm if status.signal else None,
            "sim": modem.sim_state,
            "smsc": modem.smsc(),
        })
    return 0


def cmd_modem_send(args: argparse.Namespace) -> int:
    from gatewayd.modem.refcounter import FileReferenceCounter

    with _open_modem(args) as modem:
        if args.state_file:
            modem.references = FileReferenceCounter(args.state_file)
        modem.require_network()
        result = modem.send(args.to, args.text, status_report=args.report)
        _print_json({"parts": result.parts, "references": result.references, "encoding": result.encoding})
    return 0


def cmd_modem_inbox(args: argparse.Namespace) -> int:
    from gatewayd.modem.pdu import SmsDeliver, SmsStatusReport
    from gatewayd.modem.reassembly import Reassembler

    reassembler = Reassembler()
    with _open_modem(args) as modem:
        for item in modem.list_stored():
            message = item.message
            if isinstance(message, SmsDeliver):
                whole = reassembler.add(message)
                if whole is not None:
                    _print_json({"from": whole.sender, "text": whole.text, "timestamp": whole.timestamp,
                                 "parts": len(whole.parts)})
            elif isinstance(message, SmsStatusReport):
                _print_json({"status_report": {"reference": message.message_reference,
                                               "recipient": message.recipient, "status": message.status,
                                               "delivered": message.delivered,
                                               "discharge_time": message.discharge_time}})
            else:
                # Undecodable (or a stored SMS-SUBMIT): shown, and never deleted.
                _print_json({"undecodable" if message is None else "stored_submit": {
                    "storage": item.storage, "index": item.index, "pdu": item.pdu, "error": item.error}})
                continue
            if args.delete and item.index is not None and item.storage is not None:
                modem.delete_stored(item.storage, item.index)
        for partial in reassembler.flush():
            _print_json({"from": partial.sender, "text": partial.text, "timestamp": partial.timestamp,
                         "parts": len(partial.parts), "incomplete": True})
    return 0


def cmd_modem_ussd(args: argparse.Namespace) -> int:
    with _open_modem(args) as modem:
        reply = modem.ussd(args.code)
        _print_json({"status": reply.status, "text": reply.text, "dcs": reply.dcs})
    return 0


# -- PDU ---------------------------------------------------------------------------------------------


def cmd_pdu_decode(args: argparse.Namespace) -> int:
    import dataclasses

    from gatewayd.modem.pdu import PduError, decode_pdu

    try:
        message = decode_pdu(args.hex, has_smsc=not args.no_smsc)
    except PduError as exc:
        raise CliError(f"not a valid PDU: {exc}") from exc
    payload = {"type": type(message).__name__, **dataclasses.asdict(message)}
    for name in ("delivered", "pending", "failed", "status_text"):
        if hasattr(message, name):
            payload[name] = getattr(message, name)
    _print_json(payload)
    return 0


# -- database and configuration ------------------------------------------------------------------------


def _database_path(args: argparse.Namespace) -> str:
    if args.database:
        return str(args.database)
    from gatewayd.config import ConfigError, default_config, load_config

    try:
        config = load_config(args.config) if args.config else default_config()
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    return str(config.database)


def cmd_db_check(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import Queue

    path = _database_path(args)
    if not Path(path).exists():
        raise CliError(f"{path}: no such database")
    try:
        queue = Queue(path, read_only=True)
    except QueueError as exc:
        raise CliError(f"{path}: {exc}") from exc
    try:
        report = queue.check()
    finally:
        queue.close()
    _print_json({**dataclasses.asdict(report), "ok": report.ok})
    if not report.ok:
        problems = [name for name, bad in (
            ("schema version", report.schema_version != report.expected_schema_version),
            ("integrity", report.integrity != ["ok"]),
            ("foreign keys", report.foreign_key_violations != 0),
            ("journal mode", report.journal_mode != "wal"),
            ("counts", not report.counts_consistent),
        ) if bad]
        raise CliError(f"{path}: check failed: {', '.join(problems) or 'see the JSON above'}")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    """Enqueue one message in the gateway's database; a running daemon picks it up within a second."""
    from pathlib import Path

    from gatewayd.numbers import InvalidNumber, normalise
    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import NewMessage, Queue

    try:
        recipient = normalise(args.to, default_region=args.region)
    except InvalidNumber as exc:
        raise CliError(str(exc)) from exc
    if not args.text:
        raise CliError("--text is empty")
    send_at = None
    if args.at:
        try:
            send_at = datetime.fromisoformat(args.at)
        except ValueError:
            raise CliError(f"--at {args.at!r}: not an ISO 8601 time (e.g. 2026-11-23T18:30:00+01:00)") from None
        if send_at.tzinfo is None:
            raise CliError(f"--at {args.at!r}: give a time zone (e.g. +01:00 or Z)")
    path = _database_path(args)
    if not Path(path).exists():
        raise CliError(f"{path}: no such database (start 'gatewayd run' first, or pass -c)")
    try:
        queue = Queue(path)
        try:
            message, _created = queue.enqueue(NewMessage(recipient=recipient, text=args.text,
                                                         message_class=args.message_class, send_at=send_at,
                                                         client="cli"))
        finally:
            queue.close()
    except QueueError as exc:
        raise CliError(f"{path}: {exc}") from exc
    _print_json({"id": message.id, "to": message.recipient, "status": str(message.status),
                 "parts": message.parts, "encoding": message.encoding})
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from gatewayd.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        config.check_ports()
    except ConfigError as exc:
        print(f"gatewayd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _print_json({"ok": True, "config": str(args.config), "database": str(config.database),
                 "modems": [m.id for m in config.modems], "emulator": config.emulator.enabled})
    return 0


# -- operators of the web pages -------------------------------------------------------------------------


def _read_password(name: str) -> str:
    """From the terminal (asked twice, not echoed), or the first line of standard input when it is not a
    terminal, so scripts and tests can create operators (``printf '%s\\n' "$PW" | gatewayd user add x``)."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("the two passwords differ; nothing changed")
        return password
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input (give it as the first line)")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    """Add an operator of the web pages, or set a new password (which signs out their sessions)."""
    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import Queue
    from web.passwords import PasswordRefused, check_username, hash_password

    try:
        name = check_username(args.name)
        password_hash = hash_password(_read_password(name))
    except PasswordRefused as exc:
        raise CliError(str(exc)) from exc
    path = _database_path(args)
    try:
        with Queue(path) as queue:
            created = queue.set_operator(name, password_hash)
    except QueueError as exc:
        raise CliError(f"{path}: {exc}") from exc
    _print_json({"user": name, "created": created, "database": path})
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """JSON lines: each operator's name and dates (never a hash)."""
    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import Queue

    path = _database_path(args)
    try:
        with Queue(path) as queue:
            operators = queue.list_operators()
    except QueueError as exc:
        raise CliError(f"{path}: {exc}") from exc
    for name, created_at, updated_at in operators:
        print(json.dumps({"user": name, "created_at": created_at, "password_changed_at": updated_at}))
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    """Remove an operator: their sessions end at their next request."""
    from gatewayd.queue.errors import QueueError
    from gatewayd.queue.queue import Queue

    path = _database_path(args)
    try:
        with Queue(path) as queue:
            removed = queue.remove_operator(args.name)
    except QueueError as exc:
        raise CliError(f"{path}: {exc}") from exc
    if not removed:
        raise CliError(f"no operator named {args.name!r} (see 'gatewayd user list')")
    _print_json({"user": args.name, "removed": True, "database": path})
    return 0


# -- emulator and daemon --------------------------------------------------------------------------


def cmd_emulator(argv: list[str]) -> int:
    from gatewayd.emulator.cli import main as emulator_main

    return emulator_main(argv)


def cmd_run(args: argparse.Namespace) -> int:
    from gatewayd.daemon import run

    return run(config_path=args.config)


# -- parser -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatewayd", description="On-premises SMS gateway for GSM modems.")
    parser.add_argument("--version", action="version", version=f"gatewayd {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging on stderr (-vv: every AT line)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway (built-in emulator when no config is given)")
    run.add_argument("-c", "--config", help="YAML configuration file (see config.example.yaml)")
    run.set_defaults(func=cmd_run)

    sub.add_parser("emulator", help="run emulated GSM modems (see 'gatewayd emulator --help')",
                   add_help=False)

    modem = sub.add_parser("modem", help="talk to one modem directly (diagnostics)")
    modem_sub = modem.add_subparsers(dest="modem_command", required=True, metavar="ACTION")
    probe = modem_sub.add_parser("probe", help="identity, SIM, network and signal as one JSON object")
    _add_port_options(probe)
    probe.set_defaults(func=cmd_modem_probe)
    send = modem_sub.add_parser("send", help="send one SMS; prints parts, references and encoding")
    _add_port_options(send)
    send.add_argument("--to", required=True, help="destination number (+E.164 for international)")
    send.add_argument("--text", required=True, help="message text (split into parts as needed)")
    send.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                      help="request a delivery status report (default: yes)")
    send.add_argument("--state-file", help="persist the multipart reference counter in this file")
    send.set_defaults(func=cmd_modem_send)
    inbox = modem_sub.add_parser("inbox", help="list stored messages and status reports as JSON lines")
    _add_port_options(inbox)
    inbox.add_argument("--delete", action="store_true", help="delete each message once printed")
    inbox.set_defaults(func=cmd_modem_inbox)
    ussd = modem_sub.add_parser("ussd", help="send a USSD code (e.g. *100#) and print the answer")
    _add_port_options(ussd)
    ussd.add_argument("code")
    ussd.set_defaults(func=cmd_modem_ussd)

    send = sub.add_parser("send", help="queue one SMS in the gateway's database (the daemon sends it)")
    send.add_argument("--to", required=True, help="recipient, +E.164 (or national with --region)")
    send.add_argument("--text", required=True, help="message text")
    send.add_argument("--class", dest="message_class", choices=["transactional", "marketing"],
                      default="transactional", help="message class (default transactional)")
    send.add_argument("--at", help="send at this ISO 8601 time with zone (default: now)")
    send.add_argument("--region", help="ISO country code for national numbers (e.g. GB)")
    send.add_argument("-c", "--config", help="configuration file (its database is used)")
    send.add_argument("--database", help="database file (instead of the configuration's)")
    send.set_defaults(func=cmd_send)

    db = sub.add_parser("db", help="the SQLite queue")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    check = db_sub.add_parser("check", help="schema version, integrity and counts (safe beside a running daemon)")
    check.add_argument("-c", "--config", help="configuration file (its database is checked)")
    check.add_argument("--database", help="database file (instead of the configuration's)")
    check.set_defaults(func=cmd_db_check)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_check = config_sub.add_parser("check", help="validate a configuration file and its ports")
    config_check.add_argument("-c", "--config", required=True, help="configuration file")
    config_check.set_defaults(func=cmd_config_check)

    user = sub.add_parser("user", help="operators of the web pages")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_add = user_sub.add_parser("add", help="add an operator or set a new password (read from the terminal, "
                                               "or from standard input when it is not one)")
    user_add.add_argument("name", help="user name for the login form (letters, digits, _.@-)")
    user_add.add_argument("-c", "--config", help="configuration file (its database is used)")
    user_add.add_argument("--database", help="database file (instead of the configuration's)")
    user_add.set_defaults(func=cmd_user_add)
    user_list = user_sub.add_parser("list", help="operators and when their passwords were set (never the hashes)")
    user_remove = user_sub.add_parser("remove", help="remove an operator; their sessions end at once")
    user_remove.add_argument("name", help="the operator's user name")
    for command, func in ((user_list, cmd_user_list), (user_remove, cmd_user_remove)):
        command.add_argument("-c", "--config", help="configuration file (its database is used)")
        command.add_argument("--database", help="database file (instead of the configuration's)")
        command.set_defaults(func=func)

    cli_admin.add_parsers(sub)

    pdu = sub.add_parser("pdu", help="PDU tools")
    pdu_sub = pdu.add_subparsers(dest="pdu_command", required=True, metavar="ACTION")
    decode = pdu_sub.add_parser("decode", help="decode an SMS PDU (hex) to JSON")
    decode.add_argument("hex")
    decode.add_argument("--no-smsc", action="store_true", help="the PDU has no leading SMSC field")
    decode.set_defaults(func=cmd_pdu_decode)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # The emulator has its own parser (its options are many and its own).
    if args_list and args_list[0] == "emulator":
        _configure_logging(0)
        return _guard(lambda: cmd_emulator(args_list[1:]))
    parser = build_parser()
    args = parser.parse_args(args_list)
    _configure_logging(args.verbose)
    func: Callable[[argparse.Namespace], int] = args.func
    return _guard(lambda: func(args))


def _guard(action: Callable[[], int]) -> int:
    from gatewayd.modem.device import describe_error
    from gatewayd.modem.errors import ModemError

    try:
        return action()
    except KeyboardInterrupt:
        return 130
    except (CliError, ModemError) as exc:
        print(f"gatewayd: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except cli_admin.AdminError as exc:
        print(f"gatewayd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
