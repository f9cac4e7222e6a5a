"""The status page at ``/``: modems and queue counts, server-rendered, readable on a phone.

No login in this slice: the listener binds to 127.0.0.1 by default, and the page shows no message
content (only modem state and counts). Operator login comes with the operator pages; until then,
exposing the listener beyond loopback exposes this page too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, render_template

from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import QueueError, Status
from web.services import services

LOGGER = logging.getLogger(__name__)

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
    return render_template("status.html", modems=modems, counts=rows, database_error=database_error,
                           refresh=REFRESH_SECONDS)
