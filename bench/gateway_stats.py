"""Pure arithmetic for bench/gateway.py: throughput against capacity, where the time between sends goes."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from gateway_emu import Timed

CMGS = "AT+CMGS="
BUSY_LOOKBACK = 0.02
"""A command taken this long before a message's accept may still hold the modem (a health check is ~3 ms)."""


def is_cmgs(record: Timed) -> bool:
    return record.kind == "command" and record.line.upper().startswith(CMGS)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50_ms": round(percentile(values, 50) * 1000, 2), "p90_ms": round(percentile(values, 90) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2), "max_ms": round(max(values) * 1000, 2),
            "mean_ms": round(sum(values) / len(values) * 1000, 2), "n": len(values)}


def throughput(records: Sequence[Timed], modems: int, latency: float) -> dict[str, Any]:
    """Achieved parts/s over the busy window against N/L, and the time each send cycle lost.

    Busy window: from the first AT+CMGS any modem received to the last part the SMSC accepted; in it, N
    modems answering every +CMGS after exactly L seconds could have sent N * window / L parts.
    Per modem (steady state): (k - 1) parts between its first and last accept, against 1/L.
    A send cycle is: turnaround (accept of part i -> AT+CMGS of part i+1: the gateway's bookkeeping,
    the dispatcher's claim; cycles where the owner also ran other commands, a health check, are counted
    apart) + submit (AT+CMGS -> the PDU's
    Ctrl-Z: the prompt round trip and the durable "PDU written" mark) + L.
    """
    cmgs: dict[str, list[float]] = defaultdict(list)
    accepts: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if is_cmgs(record):
            cmgs[record.modem].append(record.t)
        elif record.kind == "accept":
            accepts[record.modem].append(record.t)
    parts = sum(len(v) for v in accepts.values())
    if not parts:
        return {"parts": 0}
    start = min(min(v) for v in cmgs.values())
    end = max(max(v) for v in accepts.values())
    window = end - start
    ideal = modems / latency
    per_modem: list[float] = []
    turnaround: list[float] = []
    with_others: list[float] = []
    others_at: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.kind == "command" and not is_cmgs(record):
            others_at[record.modem].append(record.t)
    submit: list[float] = []
    for modem, times in accepts.items():
        if len(times) > 1:
            per_modem.append((len(times) - 1) / (times[-1] - times[0]) * latency)
        sends = cmgs[modem]
        for index, accepted in enumerate(times):
            if index < len(sends):
                submit.append(accepted - latency - sends[index])
            if index + 1 < len(sends):
                gap = sends[index + 1] - accepted
                between = any(accepted <= t < sends[index + 1] for t in others_at[modem])
                (with_others if between else turnaround).append(gap)
    others = Counter(r.line.split("=")[0].split("?")[0] for r in records
                     if r.kind == "command" and not is_cmgs(r) and start <= r.t <= end)
    first_sends = sorted(min(v) for v in cmgs.values())
    return {
        "parts": parts,
        "modems_used": len(accepts),
        "window_s": round(window, 3),
        "achieved_per_s": round(parts / window, 3),
        "capacity_per_s": round(ideal, 3),
        "ratio": round(parts / (window * ideal), 4),
        "per_modem_steady_ratio_mean": round(sum(per_modem) / len(per_modem), 4) if per_modem else None,
        "per_modem_steady_ratio_min": round(min(per_modem), 4) if per_modem else None,
        "first_send_spread_ms": round((first_sends[-1] - first_sends[0]) * 1000, 1),
        "turnaround": summary_ms(turnaround),
        "turnaround_with_health_check_between": summary_ms(with_others),
        "submit_overhead": summary_ms(submit),
        "other_commands_in_window": dict(sorted(others.items())),
    }


def match_latencies(accepted_at: Sequence[float], enqueued_at: Sequence[float],
                    records: Sequence[Timed]) -> dict[str, Any]:
    """Accept -> AT+CMGS per message on one modem, messages and AT+CMGS paired in order (FIFO, no retries).

    Also counts the other commands the modem took between a message's accept and its AT+CMGS: a health
    check or a status report being handled is what a message on an idle gateway may wait for.
    """
    sends = [r.t for r in records if is_cmgs(r) and r.t >= accepted_at[0]]
    if len(sends) != len(accepted_at):
        raise RuntimeError(f"{len(accepted_at)} messages but {len(sends)} AT+CMGS")
    total = [s - a for s, a in zip(sends, accepted_at, strict=True)]
    after_commit = [s - e for s, e in zip(sends, enqueued_at, strict=True)]
    commit = [e - a for e, a in zip(enqueued_at, accepted_at, strict=True)]
    waited: list[float] = []
    clear: list[float] = []
    for accepted, sent, latency in zip(accepted_at, sends, total, strict=True):
        busy = any(r.kind == "command" and not is_cmgs(r) and accepted - BUSY_LOOKBACK <= r.t < sent
                   for r in records)
        (waited if busy else clear).append(latency)
    return {"accept_to_cmgs": summary_ms(total), "enqueue_commit": summary_ms(commit),
            "commit_to_cmgs": summary_ms(after_commit),
            "while_modem_busy_with_other_commands": summary_ms(waited),
            "modem_free": summary_ms(clear)}
