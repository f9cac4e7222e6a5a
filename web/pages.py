"""The status page at ``/``: modems, queue counts, replies no keyword matched, numbers marked invalid.

Server-rendered, readable on a phone. No login in this slice: the listener binds to 127.0.0.1 by
default. The page shows the senders and texts of unmatched replies (the operator must read them: a
"please don't text me" is not an automatic opt-out) and the invalid numbers, so exposing the listener
beyond loopback before operator login exists exposes those too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, Response, render_template

from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import Contact, InboundMessage, QueueError, Status
from web.present import INVALID_CSV_MAX, csv_response, iso
from web.services import services

LOGGER = logging.getLogger(__name__)

UNMATCHED_SHOWN = 20
"""The newest unmatched replies on the page; the API lists them all."""
INVALID_SHOWN = 20
REFRESH_SECONDS = 30
"""The page reloads itself (meta refresh, no JavaScript) so a screen left open stays current."""

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class ModemRow:
    modem_id: str
    state: str
    ready: bool
    operator: str
    signal: str
    registration: str
    last_error: str


def modem_row(snapshot: ModemSnapshot) -> ModemRow:
    status = snapshot.status
    signal = status.signal if status else None
    dbm = signal.dbm if signal else None
    return ModemRow(
        modem_id=snapshot.modem_id,
        state=snapshot.state.value,
        ready=snapshot.state is ModemState.READY,
        operator=(status.operator if status else None) or "-",
        signal="-" if signal is None or dbm is None else f"{dbm} dBm ({signal.bars}/4)",
        registration=status.registration.text if status and status.registration else "-",
        last_error=snapshot.last_error or "",
    )


@bp.get("/")
def status_page() -> str:
    svc = services()
    modems = [modem_row(snapshot) for snapshot in sorted(svc.modems(), key=lambda s: s.modem_id)]
    database_error = None
    counts: dict[str, int] = {}
    try:
        counts = svc.queue.counts_by_status()
    except QueueError as exc:
        LOGGER.warning("status page: queue counts unavailable: %s", exc)
        database_error = str(exc)
    rows = [(str(status), counts.get(str(status), 0)) for status in Status]
    unmatched: list[InboundMessage] = []
    invalid: list[Contact] = []
    if database_error is None:
        try:
            unmatched = svc.queue.list_unmatched_inbound(limit=UNMATCHED_SHOWN, newest_first=True)
            invalid = svc.queue.list_invalid_numbers(limit=INVALID_SHOWN)
        except QueueError as exc:
            LOGGER.warning("status page: inbound / contacts unavailable: %s", exc)
            database_error = str(exc)
    return render_template("status.html", modems=modems, counts=rows, database_error=database_error,
                           refresh=REFRESH_SECONDS, unmatched=unmatched, invalid=invalid, iso=iso)


@bp.get("/invalid-numbers.csv")
def invalid_numbers_csv() -> Response:
    """Every number marked invalid, for the operator to clean their lists (same columns as the API's CSV)."""
    return csv_response(services().queue.list_invalid_numbers(limit=INVALID_CSV_MAX))
