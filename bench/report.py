"""How bench figures leave a bench: each script prints (and keeps) its JSON; run_all.py turns one run's JSONs
into a Markdown report with the goals each figure is held to.

Why the goals live here and not in the scripts: a script measures, whatever the figure; whether 0.985 is
good enough is a product decision, written once, next to the words that present it. A figure a script no
longer emits (or a step that failed) shows as "n/a" instead of breaking the report: the report of a long
run must come out even when one step went wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN_MARKER = "<!-- run_all:begin -->"
END_MARKER = "<!-- run_all:end -->"
NOISY_BUSY_PERCENT = 20.0
"""CPU busy (all cores, the second before a step) above which the step is flagged: something else ran."""
STDERR_TAIL_LINES = 25
MIB = 2**20


def emit(figures: Any, path: str | Path | None, *, shown: Any = None) -> None:
    """Print ``shown`` (default: ``figures``) as indented JSON; write ``figures`` to ``path`` if given."""
    print(json.dumps(figures if shown is None else shown, indent=2, ensure_ascii=False))
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- figures and goals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """``value <op> target``; ``op`` is one of ``>=``, ``<=``, ``==``."""

    op: str
    target: float | int | bool | str

    def met(self, value: Any) -> bool:
        if self.op == "==":
            return bool(value == self.target)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        assert isinstance(self.target, int | float)
        return value >= self.target if self.op == ">=" else value <= self.target

    def text(self, unit: str) -> str:
        target = fmt(self.target)
        return f"{'=' if self.op == '==' else self.op} {target}{' ' + unit if unit else ''}"


def at_least(target: float) -> Goal:
    return Goal(">=", target)


def at_most(target: float) -> Goal:
    return Goal("<=", target)


def equal(target: float | int | bool | str) -> Goal:
    return Goal("==", target)


@dataclass(frozen=True)
class Figure:
    """One line of the report: what was measured, the value, and the goal it is held to (if any)."""

    label: str
    value: Any
    unit: str = ""
    goal: Goal | None = None

    @property
    def verdict(self) -> str:
        """PASS / MISS against the goal; "" without a goal; "n/a" when the value is missing."""
        if self.goal is None:
            return ""
        if self.value is None:
            return "n/a"
        return "PASS" if self.goal.met(self.value) else "MISS"


def fmt(value: Any) -> str:
    """Readable numbers: thousands separated, 4 significant digits below 1,000 (ratios keep 0.9923)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def dig(data: Any, path: str) -> Any:
    """``dig(d, "a.b.0.c")``: the value at that path, or None as soon as a key or index is missing."""
    for key in path.split("."):
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


def _mib(value: Any) -> float | None:
    return round(value / MIB, 1) if isinstance(value, int | float) else None


def _sizes(data: dict[str, Any]) -> list[str]:
    return sorted((dig(data, "sizes") or {}), key=int)


def session_cost(d: dict[str, Any]) -> list[Figure]:
    return [Figure("AT sends per second (zero latency, real pty)", dig(d, "sends_per_second"), "/s"),
            Figure("gatewayd CPU per send", dig(d, "gatewayd_cpu_ms_per_send"), "ms"),
            Figure("emulator CPU per send", dig(d, "emulator_cpu_ms_per_send"), "ms")]


def claim_cost(d: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for size in _sizes(d):
        at = f"sizes.{size}"
        label = f"{int(size):,} queued"
        out += [Figure(f"claim median, synchronous=OFF, {label}", dig(d, f"{at}.claim_sync_off.median_ms"), "ms"),
                Figure(f"claim median, synchronous=FULL, {label}", dig(d, f"{at}.claim_sync_full.median_ms"), "ms"),
                Figure(f"whole send bookkeeping, FULL, {label}", dig(d, f"{at}.send_cycle_sync_full.median_ms"), "ms"),
                Figure(f"list_messages page of 100, {label}", dig(d, f"{at}.list_queued_page.median_ms"), "ms")]
    out += [Figure("claim ratio largest / smallest, OFF", dig(d, "claim_ratio_sync_off"), "", at_most(1.5)),
            Figure("claim ratio largest / smallest, FULL", dig(d, "claim_ratio_sync_full"), "", at_most(1.5))]
    for sync in ("FULL", "NORMAL", "OFF"):
        out.append(Figure(f"enqueue median, synchronous={sync}", dig(d, f"enqueue.{sync}.median_ms"), "ms"))
    largest = _sizes(d)[-1] if _sizes(d) else ""
    out += [Figure("size per million queued rows (bulk rows)",
                   _mib(dig(d, f"sizes.{largest}.bytes_per_million_queued")), "MiB"),
            Figure("size per million messages over their life", dig(d, "lifecycle_mb_per_million_messages"), "MiB")]
    return out


def gateway(d: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    ratio_goals = {1: at_least(0.99), 16: at_least(0.98)}
    for run in dig(d, "throughput") or []:
        modems = run.get("modems")
        latency = run.get("send_latency_s")
        out.append(Figure(f"throughput ratio, {modems} modem(s), L = {latency} s", dig(run, "ratio"), "",
                          ratio_goals.get(modems)))
    for run in dig(d, "throughput") or []:
        out.append(Figure(f"CPU per message, in process, {run.get('modems')} modem(s)",
                          run.get("gateway_cpu_ms_per_message"), "ms", at_most(10)))
    load = "daemon.load"
    out += [
        Figure(f"throughput ratio, `gatewayd run`, {dig(d, load + '.modems')} modems",
               dig(d, f"{load}.throughput.ratio")),
        Figure("CPU per message, `gatewayd run`", dig(d, f"{load}.cpu_ms_per_message"), "ms", at_most(10)),
        Figure("start to first AT+CMGS, in process", dig(d, "start_in_process.start_to_first_cmgs_s"), "s"),
        Figure("start to first AT+CMGS, `gatewayd run` (from spawn)", dig(d, f"{load}.start_to_first_cmgs_s"), "s",
               at_most(0.5)),
        Figure("accept to AT+CMGS, idle, p50", dig(d, "idle_latency.accept_to_cmgs.p50_ms"), "ms"),
        Figure("accept to AT+CMGS, idle, p99", dig(d, "idle_latency.accept_to_cmgs.p99_ms"), "ms", at_most(100)),
        Figure("daemon RSS, idle", dig(d, "daemon.idle_after_start.rss_mb"), "MB", at_most(50)),
        Figure("daemon RSS, under load (max)", dig(d, f"{load}.rss_mb_under_load_max"), "MB", at_most(50)),
        Figure("daemon idle CPU", dig(d, "daemon.idle_after_start.cpu_percent_of_core"), "% of a core", at_most(1)),
    ]
    return out


def api_accept(d: dict[str, Any]) -> list[Figure]:
    single, batch = dig(d, "single") or {}, dig(d, "batch") or {}
    return [
        Figure(f"single POST accepted per second, {single.get('connections')} connections",
               single.get("per_second"), "/s", at_least(2000)),
        Figure("single POST p50 / p99", _pair(single.get("p50_ms"), single.get("p99_ms")), "ms"),
        Figure(f"batch rows accepted per second, {batch.get('rows_per_request')} rows, "
               f"{batch.get('connections')} connections", batch.get("rows_per_second"), "/s", at_least(20000)),
        Figure("batch request p50 / p99", _pair(batch.get("p50_ms"), batch.get("p99_ms")), "ms"),
        Figure("every acknowledged row stored", _all(single.get("every_ack_stored"), batch.get("every_ack_stored")),
               "", equal(True)),
        Figure("ceiling: the same POST on bare waitress (no-op WSGI)", dig(d, "ceiling.waitress_bare_wsgi_per_second"),
               "/s"),
        Figure("ceiling: the same POST on no-op Flask", dig(d, "ceiling.waitress_flask_noop_per_second"), "/s"),
        Figure("single POST rate / no-op Flask rate", dig(d, "ceiling.single_vs_flask_noop")),
    ]


def side_by_side(d: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for row in dig(d, "rows") or []:
        who = f"N = {row.get('modems')}, {row.get('daemon')}"
        if "skipped" in row:
            out.append(Figure(f"{who}", f"skipped: {row['skipped']}"))
            continue
        stopped = "" if row.get("finished") else " (stopped at the time limit)"
        out.append(Figure(f"throughput ratio, {who}{stopped}", dig(row, "throughput.ratio")))
        out.append(Figure(f"spawn to first AT+CMGS, {who}", row.get("start_to_first_cmgs_s"), "s"))
        if row.get("daemon") == "gatewayd":
            lost = _sum(dig(row, "smsc.missing"), dig(row, "smsc.doubled"))
            out.append(Figure(f"missing + doubled at the SMSC, {who}", lost, "", equal(0)))
    return out


def scale(d: dict[str, Any]) -> list[Figure]:
    sizes = _sizes(d)
    out = [Figure(f"claim median, FULL, {int(size):,} messages", dig(d, f"sizes.{size}.claim_sync_full.median_ms"),
                  "ms") for size in sizes]
    out.append(Figure("claim ratio largest / smallest", dig(d, "ratio_largest_vs_smallest.claim"), "", at_most(1.5)))
    if sizes:
        api = dig(d, f"sizes.{sizes[-1]}.api") or {}
        medians = {name: q.get("median_ms") for name, q in api.items() if isinstance(q, dict)}
        if medians:
            slowest = max(medians, key=lambda name: medians[name] or 0.0)
            out.append(Figure(f"slowest list query median at {int(sizes[-1]):,}: {slowest}", medians[slowest], "ms"))
        ratios = {k: v for k, v in (dig(d, "ratio_largest_vs_smallest") or {}).items() if k != "claim"}
        if ratios:
            worst = max(ratios, key=lambda name: ratios[name] or 0.0)
            out.append(Figure(f"list query ratio largest / smallest, worst: {worst}", ratios[worst]))
        out.append(Figure(f"database size per million messages (at {int(sizes[-1]):,})",
                          _mib(dig(d, f"sizes.{sizes[-1]}.bytes_per_million_messages")), "MiB"))
    return out


def inbound_stop(d: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for name, phase in (dig(d, "phases") or {}).items():
        out += [Figure(f"STOP delivered to opted out, {name}, p50", dig(phase, "delivered_to_opted_out.p50_ms"), "ms"),
                Figure(f"STOP delivered to opted out, {name}, p99", dig(phase, "delivered_to_opted_out.p99_ms"), "ms")]
    for name, phase in (dig(d, "phases") or {}).items():
        out.append(Figure(f"opt-outs recorded, {name}", phase.get("opt_outs_recorded"), "",
                          equal(phase.get("stops", -1))))
    out.append(Figure("SIGTERM exit code", dig(d, "sigterm_exit_code"), "", equal(0)))
    return out


def footprint(d: dict[str, Any]) -> list[Figure]:
    modems = dig(d, "plan.modems")
    return [
        Figure(f"daemon RSS idle, {modems} modems", dig(d, "idle.rss_mb"), "MB", at_most(50)),
        Figure(f"daemon CPU idle, {modems} modems", dig(d, "idle.cpu_percent_of_a_core"), "% of a core", at_most(1)),
        Figure(f"daemon RSS under load (max), {dig(d, 'plan.rate_per_s')} API messages/s",
               dig(d, "footprint.rss_mb.max"), "MB", at_most(50)),
        Figure("daemon CPU under load", dig(d, "footprint.cpu_percent_of_a_core"), "% of a core"),
        Figure("daemon CPU per message (HTTP API included)", dig(d, "footprint.cpu_ms_per_message"), "ms"),
        Figure("violations (lost, doubled, ...)", dig(d, "violations"), "", equal(0)),
    ]


def crash_cycles(d: dict[str, Any]) -> list[Figure]:
    return [
        Figure("SIGKILLs", dig(d, "kills"), "", at_least(200)),
        Figure("kills with a PDU written and unanswered", dig(d, "kills_with_pdu_written_unanswered")),
        Figure("violations (lost, doubled, retried unknown, ...)", dig(d, "violations"), "", equal(0)),
        Figure("modems left unusable", _len(dig(d, "modems_not_back")), "", equal(0)),
        Figure("queue settled; check() ok", _all(dig(d, "settled"), dig(d, "queue_check_ok")), "", equal(True)),
        Figure("messages delivered / sent / unknown", " / ".join(
            fmt(dig(d, f"statuses.{s}") or 0) for s in ("delivered", "sent", "unknown"))),
    ]


def fuzz(d: dict[str, Any]) -> list[Figure]:
    return [
        Figure("inputs", dig(d, "inputs"), "", at_least(1_000_000)),
        Figure(f"executions per second ({dig(d, 'workers')} workers)", dig(d, "exec_per_s"), "/s"),
        Figure("executions per CPU second", dig(d, "inputs_per_cpu_second"), "/s"),
        Figure("coverage: edges / features at the end", _pair(dig(d, "cov_end"), dig(d, "ft_end"))),
        Figure("crashes", dig(d, "crashes"), "", equal(0)),
    ]


def soak(d: dict[str, Any]) -> list[Figure]:
    return [
        Figure("duration", dig(d, "plan.minutes"), "min", at_least(30)),
        Figure("messages / faults injected", _pair(dig(d, "messages"), dig(d, "faults_total"))),
        Figure("violations", dig(d, "violations"), "", equal(0)),
        Figure("SIGTERM exit code", dig(d, "sigterm_exit_code"), "", equal(0)),
        Figure("inbound stored once / delivered", _pair(dig(d, "inbound.stored"), dig(d, "inbound.delivered"))),
        Figure("RSS first / last / max", " / ".join(fmt(dig(d, f"footprint.rss_mb.{k}")) for k in
                                                    ("first", "last", "max")), "MB"),
        Figure("RSS slope after warm-up", dig(d, "footprint.rss_mb.slope_per_hour_after_warmup"), "MB/h"),
        Figure("open fds first / last", _pair(dig(d, "footprint.fds.first"), dig(d, "footprint.fds.last"))),
        Figure("CPU", dig(d, "footprint.cpu_percent_of_a_core"), "% of a core"),
    ]


def _pair(first: Any, second: Any) -> str | None:
    return None if first is None and second is None else f"{fmt(first)} / {fmt(second)}"


def _all(*flags: Any) -> bool | None:
    return None if any(flag is None for flag in flags) else all(flags)


def _sum(*values: Any) -> int | None:
    return None if any(not isinstance(v, int) for v in values) else sum(values)


def _len(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None


FIGURES: dict[str, Callable[[dict[str, Any]], list[Figure]]] = {
    "session_cost": session_cost, "claim_cost": claim_cost, "gateway": gateway, "api_accept": api_accept,
    "side_by_side": side_by_side, "scale": scale, "inbound_stop": inbound_stop, "footprint": footprint,
    "crash_cycles": crash_cycles, "fuzz": fuzz, "soak": soak,
}
"""Step name (bench/run_all.py) -> the figures it reports, with their goals."""


def figures_of(step: dict[str, Any]) -> list[Figure]:
    extract = FIGURES.get(step.get("name", ""))
    data = step.get("figures")
    return extract(data) if extract is not None and isinstance(data, dict) else []


# -- Markdown -------------------------------------------------------------------------------------------------


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "n/a"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def is_noisy(step: dict[str, Any]) -> bool:
    """Judged by the CPU busy share just before the step, not by the load average, which lags by minutes
    and so mostly shows the run's own step before (shown for the record, not judged)."""
    busy = step.get("cpu_busy_before_percent")
    return isinstance(busy, int | float) and busy > NOISY_BUSY_PERCENT


def machine_lines(machine: dict[str, Any]) -> list[str]:
    return [
        f"| CPU | {machine.get('cpu_model', 'unknown')}, {fmt(machine.get('cores'))} logical cores |",
        f"| RAM | {fmt(machine.get('ram_gib'))} GiB |",
        f"| OS, kernel | {machine.get('os', 'unknown')}, Linux {machine.get('kernel', 'unknown')} |",
        f"| Python, SQLite | {machine.get('python', 'unknown')}, SQLite {machine.get('sqlite', 'unknown')} |",
        f"| work directory | {machine.get('workdir', 'unknown')} ({machine.get('workdir_fs', 'unknown')}) |",
    ]


def commit_text(git: dict[str, Any]) -> str:
    start, end = git.get("start") or {}, git.get("end") or {}
    text = f"{start.get('commit', 'unknown')}"
    dirty = start.get("dirty_files") or []
    text += f", tree dirty ({len(dirty)} files: {', '.join(dirty[:8])}{', ...' if len(dirty) > 8 else ''})" \
        if dirty else ", tree clean"
    if end and (end.get("commit") != start.get("commit") or end.get("dirty_files") != start.get("dirty_files")):
        text += f"; **the tree changed during the run** (at the end: {end.get('commit')}, " \
                f"{len(end.get('dirty_files') or [])} dirty files)"
    return text


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report of one run: header (date, command, commit, machine), steps, figures, failures."""
    run, machine, steps = results.get("run", {}), results.get("machine", {}), results.get("steps", [])
    figures = {step["name"]: figures_of(step) for step in steps}
    verdicts = [f.verdict for fs in figures.values() for f in fs]
    failed = [s["name"] for s in steps if s.get("status") not in ("ok", "skipped")]
    lines = [f"## Benchmark run {run.get('stamp', '')} (generated by `bench/run_all.py`)", ""]
    if run.get("quick"):
        lines += ["**Quick smoke run**: tiny sizes to check the orchestration and this report. These figures say "
                  "nothing about the product; goals are missed on purpose.", ""]
    lines += [
        "| | |", "|---|---|",
        f"| date | {run.get('started', 'n/a')} to {run.get('finished', 'n/a')} ({duration(run.get('wall_s'))}) |",
        f"| command | `{run.get('command', '')}` |",
        f"| commit | {commit_text(results.get('git', {}))} |",
        *machine_lines(machine),
        f"| verdict | {verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS, {verdicts.count('n/a')} n/a; "
        f"steps failed: {', '.join(failed) if failed else 'none'} |",
        "", "### Steps", "",
        "| step | script | status | wall time | load before (1 / 5 / 15 min) | CPU busy before | |",
        "|---|---|---|---|---|---|---|",
    ]
    noisy: list[str] = []
    for step in steps:
        load = step.get("load_before")
        load_text = " / ".join(f"{v:.2f}" for v in load) if load else "n/a"
        busy = step.get("cpu_busy_before_percent")
        flag = "noisy" if step.get("status") != "skipped" and is_noisy(step) else ""
        if flag:
            noisy.append(step["name"])
        lines.append(f"| {step['name']} | `{step.get('script', '')}` | {step.get('status')} "
                     f"| {duration(step.get('wall_s')) if step.get('status') != 'skipped' else '-'} | {load_text} "
                     f"| {fmt(busy)}{' %' if busy is not None else ''} | {flag} |")
    lines.append("")
    if noisy:
        lines += [f"Noisy machine: in the second before {', '.join(noisy)} the CPU was more than "
                  f"{NOISY_BUSY_PERCENT:g} % busy with other work (this run's steps run one at a time). Single "
                  "timings of those steps are noisy; ratios hold better.", ""]
    for step in steps:
        if step.get("status") == "skipped":
            continue
        lines += _step_section(step, figures[step["name"]])
    return "\n".join(lines).rstrip() + "\n"


def _step_section(step: dict[str, Any], figures: Iterable[Figure]) -> list[str]:
    lines = [f"### {step['name']}: `{' '.join(step.get('argv_shown') or [step.get('script', '')])}`", ""]
    if step.get("status") == "not run":
        return [*lines, "Not run: the run was interrupted before this step.", ""]
    if step.get("status") != "ok":
        lines += [f"**{step.get('status')}** (exit code {step.get('returncode')}, after "
                  f"{duration(step.get('wall_s'))}). Last lines of its stderr:", "", "```",
                  *(step.get("stderr_tail") or "(empty)").splitlines()[-STDERR_TAIL_LINES:], "```", ""]
    rows = [f"| {f.label} | {fmt(f.value)}{' ' + f.unit if f.unit and f.value is not None else ''} "
            f"| {f.goal.text(f.unit) if f.goal else ''} | {f.verdict} |" for f in figures]
    if rows:
        lines += ["| figure | result | goal | |", "|---|---|---|---|", *rows, ""]
    elif step.get("status") == "ok":
        lines += ["(no figures)", ""]
    return lines


def replace_generated_block(text: str, block: str) -> str:
    """``text`` with everything between the run_all markers replaced by ``block`` (markers kept)."""
    begin, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if begin < 0 or end < 0 or end < begin:
        raise ValueError(f"the markers {BEGIN_MARKER} ... {END_MARKER} are missing or out of order")
    return f"{text[:begin + len(BEGIN_MARKER)]}\n{block.strip()}\n{text[end:]}"
