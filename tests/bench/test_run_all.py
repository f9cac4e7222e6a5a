"""bench/run_all.py's report, rendered from a fixed results dict (no bench is run): verdicts against the goals,
the machine block, failed and noisy steps, and the replacement of the generated block in RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))  # the bench scripts import each other by bare name (`from report import emit`)

import report  # noqa: E402
import run_all  # noqa: E402

MACHINE = {"cpu_model": "AMD EPYC 7B13", "arch": "x86_64", "cores": 2, "ram_gib": 23.5,
           "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-18-amd64", "python": "3.11.7",
           "sqlite": "3.40.1", "workdir": "/var/tmp", "workdir_fs": "ext4"}
GATEWAY = {
    "throughput": [{"modems": 1, "send_latency_s": 1.0, "ratio": 0.9951, "gateway_cpu_ms_per_message": 7.1},
                   {"modems": 4, "send_latency_s": 1.0, "ratio": 0.9887, "gateway_cpu_ms_per_message": 5.5},
                   {"modems": 16, "send_latency_s": 1.0, "ratio": 0.9712, "gateway_cpu_ms_per_message": 12.5}],
    "start_in_process": {"start_to_first_cmgs_s": 0.0108},
    "idle_latency": {"accept_to_cmgs": {"p50_ms": 3.53, "p99_ms": 5.98}},
    "daemon": {"idle_after_start": {"rss_mb": 36.9, "cpu_percent_of_core": 0.4},
               "load": {"modems": 8, "start_to_first_cmgs_s": 0.4332, "cpu_ms_per_message": 4.562,
                        "rss_mb_under_load_max": 37.6, "throughput": {"ratio": 0.9836}}},
}
CRASH = {"kills": 200, "kills_with_pdu_written_unanswered": 196, "violations": 0, "modems_not_back": [],
         "settled": True, "queue_check_ok": True, "statuses": {"delivered": 315, "sent": 361, "unknown": 324}}


def step(name: str, figures: dict[str, Any] | None, *, status: str = "ok", busy: float = 3.0,
         load: float = 0.1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": f"bench/{name}.py", "argv_shown": [f"bench/{name}.py", "--json", "$RUN/x.json"],
            "status": status, "returncode": 0 if status == "ok" else 1, "wall_s": 189.4, "figures": figures,
            "load_before": [load, 0.2, 0.3], "cpu_busy_before_percent": busy, **extra}


def results(steps: list[dict[str, Any]], **git_end: Any) -> dict[str, Any]:
    start = {"commit": "766a0ae", "dirty_files": ["bench/api_accept.py"]}
    return {"schema": 1,
            "run": {"stamp": "20261123-140000", "quick": False, "started": "2026-11-23 14:00:00 UTC",
                    "finished": "2026-11-23 15:40:00 UTC", "wall_s": 6000.0,
                    "command": ".venv/bin/python bench/run_all.py --write-results"},
            "machine": MACHINE, "git": {"start": start, "end": {**start, **git_end}}, "steps": steps}


def row(markdown: str, label: str) -> str:
    found = [line for line in markdown.splitlines() if line.startswith(f"| {label} |")]
    assert len(found) == 1, f"{label!r}: {found}"
    return found[0]


def test_figures_are_held_to_their_goals() -> None:
    markdown = report.render_markdown(results([step("gateway", GATEWAY), step("crash_cycles", CRASH)]))
    assert row(markdown, "throughput ratio, 1 modem(s), L = 1.0 s") == \
        "| throughput ratio, 1 modem(s), L = 1.0 s | 0.9951 | >= 0.99 | PASS |"
    assert row(markdown, "throughput ratio, 16 modem(s), L = 1.0 s").endswith("| 0.9712 | >= 0.98 | MISS |")
    assert row(markdown, "throughput ratio, 4 modem(s), L = 1.0 s").endswith("| 0.9887 |  |  |")  # no goal
    assert row(markdown, "CPU per message, in process, 16 modem(s)").endswith("| 12.5 ms | <= 10 ms | MISS |")
    assert row(markdown, "accept to AT+CMGS, idle, p99").endswith("| 5.98 ms | <= 100 ms | PASS |")
    assert row(markdown, "violations (lost, doubled, retried unknown, ...)").endswith("| 0 | = 0 | PASS |")
    assert row(markdown, "queue settled; check() ok").endswith("| yes | = yes | PASS |")
    assert "| verdict | 13 PASS, 2 MISS, 0 n/a; steps failed: none |" in markdown


def test_a_figure_the_script_no_longer_emits_is_na_not_a_crash() -> None:
    partial = {"throughput": [{"modems": 1, "send_latency_s": 1.0}]}  # no ratio, no daemon section
    markdown = report.render_markdown(results([step("gateway", partial)]))
    assert row(markdown, "throughput ratio, 1 modem(s), L = 1.0 s").endswith("| n/a | >= 0.99 | n/a |")
    assert row(markdown, "daemon RSS, idle").endswith("| n/a | <= 50 MB | n/a |")


def test_machine_date_and_commit_block() -> None:
    markdown = report.render_markdown(results([step("crash_cycles", CRASH)]))
    assert "| CPU | AMD EPYC 7B13, 2 logical cores |" in markdown
    assert "| RAM | 23.5 GiB |" in markdown
    assert "| OS, kernel | Debian GNU/Linux 12 (bookworm), Linux 6.1.0-18-amd64 |" in markdown
    assert "| Python, SQLite | 3.11.7, SQLite 3.40.1 |" in markdown
    assert "| work directory | /var/tmp (ext4) |" in markdown
    assert "| date | 2026-11-23 14:00:00 UTC to 2026-11-23 15:40:00 UTC (1 h 40 min) |" in markdown
    assert "| commit | 766a0ae, tree dirty (1 files: bench/api_accept.py) |" in markdown
    changed = report.render_markdown(results([step("crash_cycles", CRASH)], commit="0123abc"))
    assert "**the tree changed during the run** (at the end: 0123abc, 1 dirty files)" in changed


def test_failed_step_shows_its_stderr_and_the_run_goes_on() -> None:
    failed = step("api_accept", None, status="failed", stderr_tail="Traceback ...\nSystemExit: wrk is needed")
    markdown = report.render_markdown(results([failed, step("crash_cycles", CRASH)]))
    assert "**failed** (exit code 1, after 3 min 09 s). Last lines of its stderr:" in markdown
    assert "SystemExit: wrk is needed" in markdown
    assert "steps failed: api_accept |" in markdown
    assert row(markdown, "SIGKILLs").endswith("| 200 | >= 200 | PASS |")  # the next step is still reported
    assert row(markdown, "api_accept").startswith("| api_accept | `bench/api_accept.py` | failed | 3 min 09 s |")


def test_steps_started_on_a_busy_machine_are_flagged() -> None:
    steps = [step("gateway", GATEWAY, busy=2.0, load=0.05), step("crash_cycles", CRASH, busy=85.0, load=1.9),
             step("fuzz", None, busy=4.0, load=3.5), step("soak", None, status="skipped")]
    markdown = report.render_markdown(results(steps))
    assert row(markdown, "gateway").endswith("| 0.05 / 0.20 / 0.30 | 2 % |  |")
    assert row(markdown, "crash_cycles").endswith("| 1.90 / 0.20 / 0.30 | 85 % | noisy |")
    # A high load average alone is the run's own step before (it lags): not flagged.
    assert row(markdown, "fuzz").endswith("| 3.50 / 0.20 / 0.30 | 4 % |  |")
    assert "Noisy machine: in the second before crash_cycles the CPU was more than 20 % busy" in markdown
    assert "### soak" not in markdown  # skipped steps get a row in the steps table only
    assert row(markdown, "soak").startswith("| soak | `bench/soak.py` | skipped | - |")


def test_quick_runs_say_so() -> None:
    quick = results([step("crash_cycles", CRASH)])
    quick["run"]["quick"] = True
    assert "**Quick smoke run**" in report.render_markdown(quick)
    assert "Quick smoke run" not in report.render_markdown(results([step("crash_cycles", CRASH)]))


def test_generated_block_is_replaced_and_the_hand_written_text_kept(tmp_path: Path) -> None:
    original = ("# Benchmark results\n\nWhat the block is.\n\n<!-- run_all:begin -->\nNo full run yet.\n"
                "<!-- run_all:end -->\n\n## Hand-written\n\nExplanations.\n")
    path = tmp_path / "RESULTS.md"
    path.write_text(original)
    block = report.render_markdown(results([step("crash_cycles", CRASH)]))
    run_all.write_results_md(block, path)
    first = path.read_text()
    assert first.startswith("# Benchmark results\n\nWhat the block is.\n\n<!-- run_all:begin -->\n## Benchmark run")
    assert first.endswith("<!-- run_all:end -->\n\n## Hand-written\n\nExplanations.\n")
    assert "No full run yet." not in first and "| SIGKILLs | 200 |" in first
    run_all.write_results_md("second run\n", path)
    assert path.read_text() == original.replace("No full run yet.", "second run")
    with pytest.raises(ValueError, match="markers"):
        report.replace_generated_block("# no markers here\n", block)


def test_the_real_results_md_has_the_markers_in_order() -> None:
    text = (BENCH / "RESULTS.md").read_text()
    assert text.index(report.BEGIN_MARKER) < text.index(report.END_MARKER) < text.index("\n## ")


def test_every_step_has_its_figures_and_only_and_skip_choose_steps() -> None:
    assert set(report.FIGURES) == set(run_all.STEP_NAMES)
    assert [s.name for s in run_all.chosen_steps(["soak", "gateway"], None)] == ["gateway", "soak"]  # run order
    assert "fuzz" not in [s.name for s in run_all.chosen_steps(None, ["fuzz"])]
    assert len(run_all.chosen_steps(None, None)) == len(run_all.STEPS)
    with pytest.raises(Exception, match="unknown step"):
        run_all.step_list("gateway,nonsense")
