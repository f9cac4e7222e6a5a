"""The dashboard at ``/``: a card per modem, the queue by status, the last hour, today's opt-outs and
the newest inbound messages.

Server-rendered and readable on a phone. The live part is also served alone (``/live``) and swapped in
by a few lines of inline JavaScript every ``REFRESH_SECONDS``, so a screen left open stays current
without reloading the page (which would wipe a half-typed test message). The other pages live in
pages_messages, pages_people and pages_admin; their routes join the same blueprint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import render_template

from gatewayd.owner import ModemSnapshot, ModemState, SimStatus
from gatewayd.queue import InboundMessage, QueueError, Status
from gatewayd.queue.reporting import ModemActivity
from web import pages_admin, pages_messages, pages_people  # noqa: F401  (their routes join the blueprint)
from web.pages_common import bp, local_midnight, queue_now
from web.present import iso
from web.services import services

LOGGER = logging.getLogger(__name__)

REFRESH_SECONDS = 10
"""How often the dashboard's live part reloads itself."""
UNMATCHED_SHOWN = 20
"""The newest unmatched replies on the dashboard; the API lists them all."""
INBOUND_SHOWN = 10
CHART_MINUTES = 60
CHART_HEIGHT = 40
"""The chart's drawing height in SVG units; bars are scaled to the hour's peak."""
MINUTE_KEY = "%Y-%m-%dT%H:%M"
"""How reporting.parts_per_minute names a minute (UTC)."""
STATE_CLASSES = {ModemState.READY: "ready", ModemState.QUARANTINED: "quarantined", ModemState.GONE: "gone"}
"""The three states an operator acts on get their own colour; the rest (starting, failed...) are "other"."""

__all__ = ["bp"]


@dataclass(frozen=True)
class ModemCard:
    modem_id: str
    state: str
    state_class: str
    operator: str
    bars: int | None
    """0-4, None when the signal is unknown."""
    signal: str
    registration: str
    sim: str
    model: str
    sent_today: int | None
    """None when the database could not say."""
    errors_today: int | None
    reconnects: int
    last_error: str


SIM_LABELS = {SimStatus.READY: "ready", SimStatus.PIN_REQUIRED: "PIN required", SimStatus.PIN_WRONG: "PIN wrong",
              SimStatus.PUK_REQUIRED: "PUK required", SimStatus.NOT_INSERTED: "not inserted",
              SimStatus.FAILURE: "SIM failure"}
"""The card's words for the SIM states (owner.SimStatus); unknown shows as "-"."""


def sim_state(snapshot: ModemSnapshot) -> str:
    """The SIM as the modem's last initialisation found it (every state but "ready" needs a person)."""
    return SIM_LABELS.get(snapshot.sim, "-")


def modem_card(snapshot: ModemSnapshot, activity: ModemActivity | None) -> ModemCard:
    status = snapshot.status
    signal = status.signal if status else None
    dbm = signal.dbm if signal else None
    known = signal is not None and dbm is not None
    model = " ".join(filter(None, (snapshot.identity.get("manufacturer"), snapshot.identity.get("model"))))
    return ModemCard(
        modem_id=snapshot.modem_id,
        state=snapshot.state.value,
        state_class=STATE_CLASSES.get(snapshot.state, "other"),
        operator=(status.operator if status else None) or "-",
        bars=signal.bars if known and signal is not None else None,
        signal=f"{dbm} dBm" if known else "-",
        registration=status.registration.text if status and status.registration else "-",
        sim=sim_state(snapshot),
        model=model,
        sent_today=None if activity is None else activity.sent,
        errors_today=None if activity is None else activity.errors,
        reconnects=snapshot.reconnects,
        last_error=snapshot.last_error or "",
    )


@dataclass(frozen=True)
class ChartBar:
    x: int
    height: float
    count: int
    label: str


@dataclass(frozen=True)
class Throughput:
    bars: list[ChartBar]
    total: int
    peak: int
    height: int = CHART_HEIGHT


def throughput(per_minute: dict[str, int], now: datetime) -> Throughput:
    """Parts per minute for the last ``CHART_MINUTES`` minutes, oldest first, scaled to the peak."""
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    minutes = [current - timedelta(minutes=CHART_MINUTES - 1 - i) for i in range(CHART_MINUTES)]
    counts = [per_minute.get(minute.strftime(MINUTE_KEY), 0) for minute in minutes]
    peak = max(counts)
    bars = [ChartBar(x=i, height=(count / peak * CHART_HEIGHT) if peak else 0.0, count=count,
                     label=minute.astimezone().strftime("%H:%M"))
            for i, (minute, count) in enumerate(zip(minutes, counts, strict=True))]
    return Throughput(bars=bars, total=sum(counts), peak=peak)


@dataclass
class Live:
    """Everything the live part shows; the database parts stay empty when it cannot answer."""

    modems: list[ModemCard]
    counts: list[tuple[str, int]]
    chart: Throughput | None = None
    inbound: list[InboundMessage] | None = None
    unmatched: list[InboundMessage] | None = None
    opt_outs_today: int | None = None
    database_error: str | None = None


def gather() -> Live:
    svc = services()
    now = queue_now()
    snapshots = sorted(svc.modems(), key=lambda s: s.modem_id)
    try:
        activity = svc.queue.modem_activity(local_midnight(now))
        counts = svc.queue.counts_by_status()
    except QueueError as exc:
        LOGGER.warning("dashboard: the database cannot answer: %s", exc)
        return Live(modems=[modem_card(s, None) for s in snapshots], counts=[], database_error=str(exc))
    live = Live(modems=[modem_card(s, activity.get(s.modem_id, ModemActivity())) for s in snapshots],
                counts=[(str(status), counts.get(str(status), 0)) for status in Status])
    try:
        live.chart = throughput(svc.queue.parts_per_minute(now - timedelta(minutes=CHART_MINUTES)), now)
        live.inbound = svc.queue.recent_inbound(limit=INBOUND_SHOWN)
        live.unmatched = svc.queue.list_unmatched_inbound(limit=UNMATCHED_SHOWN, newest_first=True)
        live.opt_outs_today = svc.queue.opt_outs_since(local_midnight(now))
    except QueueError as exc:
        LOGGER.warning("dashboard: the database stopped answering: %s", exc)
        live.database_error = str(exc)
    return live


@bp.get("/")
def dashboard() -> str:
    return render_template("dashboard.html", live=gather(), refresh=REFRESH_SECONDS, iso=iso)


@bp.get("/live")
def dashboard_live() -> str:
    """The live part alone, for the dashboard's refresh script."""
    return render_template("dashboard_live.html", live=gather(), iso=iso)
