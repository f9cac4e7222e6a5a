"""``/healthz`` for load balancers, systemd checks and monitoring: 200 only when a message could go out.

"Could go out" means the queue answers a read, can store a write (not a full disk) and at least one
modem is READY; anything less is a 503 with the reason, so a probe's log says what to fix.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from gatewayd.owner import ModemSnapshot, ModemState
from gatewayd.queue import Queue, QueueError
from web.services import services

LOGGER = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    svc = services()
    snapshots = sorted(svc.modems(), key=lambda s: s.modem_id)
    ready = sum(1 for snapshot in snapshots if snapshot.state is ModemState.READY)
    body: dict[str, Any] = {"database": "ok", "modems_ready": ready,
                            "modems": [_modem_line(snapshot) for snapshot in snapshots]}
    reasons = []
    try:
        svc.queue.counts_by_status()
    except QueueError as exc:
        body["database"] = "unavailable"
        reasons.append(f"database: {exc}")
    else:
        unwritable = database_unwritable(svc.queue)
        if unwritable is not None:
            body["database"] = "unwritable"  # a full disk: reads go on, nothing new can be stored
            reasons.append(f"database: {unwritable}")
    if ready == 0:
        reasons.append("no modem is ready")
    if reasons:
        body["reason"] = "; ".join(reasons)
        LOGGER.debug("healthz: %s", body["reason"])
        return jsonify(body), 503
    return jsonify(body), 200


def database_unwritable(queue: Queue) -> str | None:
    """Why the queue cannot store writes, or None. Only after a write failed: then one probe write tells
    whether space came back (reads cannot tell, and an operator's check must not stay red by itself)."""
    if queue.write_health.error is None:
        return None
    try:
        queue.probe_write()
    except QueueError as exc:
        return queue.write_health.error or str(exc)
    return None


def _modem_line(snapshot: ModemSnapshot) -> dict[str, Any]:
    """What ``gatewayd status`` prints per modem: no identity (IMSI, ICCID) on an unauthenticated URL."""
    status = snapshot.status
    signal = status.signal if status else None
    return {"id": snapshot.modem_id, "state": snapshot.state.value,
            "signal_dbm": signal.dbm if signal else None,
            "registration": status.registration.text if status and status.registration else None,
            "operator": status.operator if status else None, "last_error": snapshot.last_error}
