"""The fault matrix: each fault injected into the WHOLE daemon (``gatewayd run``, real ptys, the emulator
as a separate process) while messages flow. Every test asserts that nothing is lost or doubled (the
SMSC's log against the database, invariants.py), that the daemon keeps serving (``/healthz``, and a
message posted after the fault goes out), and that ``/healthz`` and ``/metrics`` show the fault.

| matrix row                                 | proved by (M = this file; S = tests/session, I = tests/integration,  |
|                                            | D = tests/dispatch, W = tests/web, C = tests/faults/test_crash.py)   |
|--------------------------------------------|----------------------------------------------------------------------|
| modem unplugged mid-send, back on a new    | M::test_modem_unplugged_mid_send_comes_back_on_a_new_path;           |
|   device path, same IMEI                   |   D/test_identity.py::test_owner_follows_the_modem_to_its_new_port   |
| ... back on the SAME device node           | M::test_modem_replugged_at_its_old_path_is_found_again               |
| modem stops answering: timeout, resync,    | M::test_modem_that_stops_answering_is_resynced_and_recovers;         |
|   recovery                                 |   D/test_send_path.py::test_hang_mid_send_marks_unknown_and_...      |
| ... quarantine (reconnect: configured)     | M::test_modem_that_keeps_failing_is_quarantined_probed_and_recovers  |
| garbage bytes on the line                  | M::test_garbage_on_the_line_costs_nothing; S/test_framing.py;        |
|                                            |   I/test_device.py::test_garbage_on_the_line_does_not_break_commands |
| bursts of +CMS ERROR 500                   | M::test_burst_of_cms_500_is_retried_without_doubles;                 |
|                                            |   D/test_send_path.py::test_transient_error_is_retried_with_backoff  |
| permanent CMS errors                       | M::test_permanent_cms_error_fails_those_recipients_alone;            |
|                                            |   D/test_send_path.py::test_a_bad_number_fails_alone                 |
| registration lost                          | M::test_registration_lost_then_back; D/test_send_path.py::           |
|                                            |   test_scheduled_health_checks_see_registration_lost_and_back        |
| SIM PIN required: right PIN; wrong PIN,    | M::test_sim_pin_right_is_entered_wrong_is_tried_once_and_left_alone; |
|   no second attempt                        |   I/test_device.py::test_pin_entered_once,                           |
|                                            |   ::test_wrong_pin_is_never_retried_and_low_attempts_stop_us         |
| SIM storage full on receive                | M::test_sim_storage_full_on_receive_loses_no_inbound                 |
| unsolicited codes inside every response    | I/test_device.py::test_urc_inside_every_response; S/test_session.py  |
| a +CDS split across reads                  | S/test_session.py::test_pdu_line_in_a_later_write_while_idle,        |
|                                            |   ::test_cmt_pdu_in_a_later_write_inside_a_response                  |
| status report for an unknown reference     | M::test_status_report_for_an_unknown_reference_changes_no_message    |
| database locked (503, nothing unstored     | M::test_database_locked_answers_503_and_loses_nothing;               |
|   acknowledged)                            |   W/test_unavailable.py                                              |
| disk full                                  | test_clock_and_disk.py::test_disk_full_answers_503_and_loses_nothing |
|                                            |   [file_size_limit] (SQLITE_IOERR), [full_file_system] (SQLITE_FULL) |
|                                            |   [4]; W/test_unwritable.py; W/test_unavailable.py                   |
| SIGKILL at random points                   | C::test_sigkill_cycles_lose_nothing_and_double_nothing;              |
|                                            |   bench/crash_cycles.py (>= 200 cycles)                              |
| SIGTERM                                    | C::test_sigterm_during_traffic_exits_0_and_leaves_the_rest_queued    |
| clock step (no RTC, NTP time late)         | test_clock_and_disk.py::test_clock_stepped_forward_after_a_boot_...  |
|                                            |   ::test_clock_stepped_back [5]; D/test_clock_step.py,               |
|                                            |   D/test_ratelimit.py::test_daily_cap_counts_elapsed_time_across_... |

[1]-[3] closed: the ``reconnect`` section makes quarantine take seconds; the emulator's control port sets a
    SIM PIN per modem (op ``sim``) and sends status reports nobody asked for (op ``status_report``).
[4] tests/faults/test_clock_and_disk.py: the running daemon's files may not grow (prlimit RLIMIT_FSIZE:
    EFBIG, SQLITE_IOERR_WRITE) and, where the test may mount (root; skipped elsewhere), its database is on
    a small tmpfs another file fills up (ENOSPC, SQLITE_FULL).
[5] The same file: libfaketime (Debian package faketime) preloaded into the daemon alone steps its wall
    clock, forward 400 days and back one hour; .ci/run installs it and sets GATEWAYD_REQUIRE_FAKETIME=1
    (elsewhere the two tests skip without it). The emulator keeps the host's true clock.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatewayd.owner import Recovery
from gatewayd.queue import NewMessage
from tests.faults.cycles import snapshot, write_lock
from tests.faults.matrix_harness import ControlClient, Matrix, matrix, metric, write_matrix_config
from tests.faults.processes import EmulatorProcess
from tests.faults.workload import enqueue, make_messages

SEED = 20240611
REPLUG_TIMEOUT = 8.0
"""Past the first reconnect backoffs (1 + 2 s) plus init or a port scan: a modem that is there is ready."""
HANG_DETECTED = 25.0
"""Prompt timeout (5 s), resync (3 x 1 s), the owner's probe (resync + 2 s), with room to spare."""
HANG_LIMIT = 60.0
"""The emulator's own end of the hang; the test clears it long before (a failed test must not leave a
modem deaf for the emulator's next user)."""
EMU0 = "modem1"
"""The emulator's id for the daemon's m0 (the CLI names its modems modem1..N)."""
EMU1 = "modem2"
QUICK_RECOVERY = Recovery(backoff=(0.2,), quarantine_after=2, probe_interval=1.0)
"""The configuration's ``reconnect`` section for the quarantine row: quarantined after two failed reopens
0.2 s apart, then probed every second (the defaults take ~18 s to quarantine and probe every 5 min)."""
QUARANTINE_SEEN = 5.0
"""The pty's EIO, two failed reopens and the 0.2 s between them, with room to spare."""
PROBE_SEEN = 5.0
"""A probe a second, plus init, the first health check and sweep before READY."""
RIGHT_PIN, WRONG_PIN = "2468", "1357"
PIN_ATTEMPTS = 3
"""A fresh emulated SIM's PIN attempts (gatewayd/emulator/sim.py)."""


def _messages(count: int) -> list[NewMessage]:
    return make_messages(random.Random(SEED), count)


def _submits_from(run: Matrix, number: str) -> int:
    return sum(1 for record in run.control("sent")["messages"] if record["from"] == number)


def _wait_submits(run: Matrix, number: str, count: int) -> None:
    run.wait_until(lambda: _submits_from(run, number) >= count, f"{count} submits from {number}")


def _bound_by_imei(workdir: Path, dev: Path) -> Callable[[EmulatorProcess, ControlClient], Path]:
    """m0 bound by IMEI, found by a port scan of dev/usb* (usb0 points at its pty); m1 by its link."""
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        first = control("status")["modems"][0]
        os.symlink(first["device"], dev / "usb0")
        return write_matrix_config(workdir, [None, emulator.links[1]], identities={0: first["imei"]},
                                   scan=[str(dev / "usb*")])
    return configure


def _unplug_mid_send(run: Matrix) -> str:
    """Close m0's pty while a send is in flight on it; returns the device it was on once the daemon
    has dropped it from the pool (m1 still serves, so /healthz stays 200)."""
    number0 = run.emulator.numbers[0]
    old_device = run.control("status")["modems"][0]["device"]
    run.wait_until(lambda: snapshot(run.database).sending >= 1 and _submits_from(run, number0) >= 2,
                   "m0 sending")
    run.control("fault", modem=EMU0, kind="disconnect")
    gone = run.wait_until(lambda: (line := run.modem_states()["m0"])["state"] != "ready" and line,
                          "m0 to leave the pool")
    assert gone["state"] in ("gone", "quarantined"), gone
    assert run.healthz().status == 200, "m1 is still ready: the daemon must stay healthy"
    assert metric(run.metrics(), "gatewayd_modem_state", modem="m0", state="ready") == 0
    return str(old_device)


def test_modem_unplugged_mid_send_comes_back_on_a_new_path(tmp_path: Path) -> None:
    """Row: a modem unplugged mid-send (pty closed) and plugged back (new device path, same IMEI).

    m0 is bound by IMEI and found by a port scan of dev/usb*; its pty is closed while sends are in
    flight, and it returns as another pty under another name (usb1). The other modem carries on.
    """
    dev = tmp_path / "dev"
    dev.mkdir()
    with matrix(tmp_path, _messages(40), send_latency=0.2, configure=_bound_by_imei(tmp_path, dev)) as run:
        number0 = run.emulator.numbers[0]
        old_device = _unplug_mid_send(run)
        placeholder = os.openpty()  # the kernel would hand the freed pty number straight back
        try:
            new_device = run.control("reconnect", modem=EMU0)["device"]
            assert os.path.realpath(new_device) != os.path.realpath(old_device)
            (dev / "usb0").unlink()
            os.symlink(new_device, dev / "usb1")
            before = _submits_from(run, number0)
            run.wait_state("m0", "ready", timeout=REPLUG_TIMEOUT)
        finally:
            for fd in placeholder:
                os.close(fd)
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_reconnects_total", modem="m0") == 1
        assert metric(samples, "gatewayd_modem_state", modem="m0", state="ready") == 1
        assert f"m0: found at {os.path.realpath(new_device)}" in run.daemon.log_text()
        for i in range(4):
            run.post_accepted(f"after the replug {i}")
        run.settle()
        assert _submits_from(run, number0) > before, "m0 sent nothing from its new path"
        verdict = run.stop_and_verify(max_unknown=1)  # the part in the air when the pty closed
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] >= len(run.expected) - 1, verdict.summary()


def test_modem_replugged_at_its_old_path_is_found_again(tmp_path: Path) -> None:
    """Row: a modem unplugged mid-send and plugged back at the same device node (same IMEI).

    The commonest USB reset: the kernel hands the freed node straight back. The identity scan must
    find the modem there again within the first reconnect backoffs (1 s, 2 s, 5 s).
    """
    dev = tmp_path / "dev"
    dev.mkdir()
    with matrix(tmp_path, _messages(40), send_latency=0.2, configure=_bound_by_imei(tmp_path, dev)) as run:
        old_device = _unplug_mid_send(run)
        new_device = run.control("reconnect", modem=EMU0)["device"]
        if os.path.realpath(new_device) != os.path.realpath(old_device):
            pytest.skip(f"the kernel gave another pty ({new_device}, was {old_device}): not this case")
        run.wait_state("m0", "ready", timeout=REPLUG_TIMEOUT)
        run.settle()
        verdict = run.stop_and_verify(max_unknown=1)
    assert verdict.violations == [], verdict.violations


def test_modem_that_stops_answering_is_resynced_and_recovers(tmp_path: Path) -> None:
    """Row: a modem that stops answering (timeout, resync, recovery). Quarantine: see the table.

    m0 goes deaf mid-traffic (what it is sent waits in its buffer, as with wedged firmware): the send
    times out waiting for the prompt (5 s), the resync (3 x 1 s) and the owner's probe fail, and the
    owner drops it from the pool (gone, ~13 s of product timeouts). It wakes up as soon as /healthz
    shows that; the owner reopens it, and the bytes it buffered (a late AT+CMGS, the ESC that
    cancels it, the resync ATs) must not send anything twice.
    """
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        # Health checks every 5 s: the hang is found even if m0 happens to be idle when it starts.
        return write_matrix_config(tmp_path, list(emulator.links), health_interval=5)

    with matrix(tmp_path, _messages(40), send_latency=0.2, configure=configure) as run:
        number0 = run.emulator.numbers[0]
        run.wait_until(lambda: _submits_from(run, number0) >= 2, "m0 sending")
        run.control("fault", modem=EMU0, kind="hang", seconds=HANG_LIMIT)
        gone = run.wait_state("m0", "gone", timeout=HANG_DETECTED)
        assert "not answering" in gone["last_error"], gone
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_state", modem="m0", state="gone") == 1
        assert metric(samples, "gatewayd_send_attempts_total", modem="m0", outcome="retry") >= 1
        assert run.healthz().status == 200, "m1 is still ready"
        run.control("clear", modem=EMU0)
        run.wait_state("m0", "ready", timeout=REPLUG_TIMEOUT)
        assert metric(run.metrics(), "gatewayd_modem_reconnects_total", modem="m0") == 1
        for i in range(4):
            run.post_accepted(f"after the hang {i}")
        run.settle()
        verdict = run.stop_and_verify(max_unknown=1)
    assert verdict.violations == [], verdict.violations


def test_modem_that_keeps_failing_is_quarantined_probed_and_recovers(tmp_path: Path) -> None:
    """Row: quarantine. m0 is unplugged mid-traffic (its device node goes away, so every reopen fails):
    with ``reconnect`` configured tight it is quarantined after two failed reopens and then probed once a
    second; m1 carries the traffic meanwhile. Plugged back, the next probe finds it and it sends again.
    """
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        return write_matrix_config(tmp_path, list(emulator.links), reconnect=QUICK_RECOVERY)

    with matrix(tmp_path, _messages(30), send_latency=0.1, configure=configure) as run:
        number0, number1 = run.emulator.numbers
        _wait_submits(run, number0, 2)
        run.control("fault", modem=EMU0, kind="unplug")
        quarantined = run.wait_state("m0", "quarantined", timeout=QUARANTINE_SEEN)
        assert "not found" in quarantined["last_error"], quarantined
        assert run.api_modems()["m0"]["state"] == "quarantined"
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_state", modem="m0", state="quarantined") == 1
        failures = metric(samples, "gatewayd_modem_connect_failures_total", modem="m0")
        assert failures >= QUICK_RECOVERY.quarantine_after, failures
        assert run.healthz().status == 200, "m1 is still ready"
        # Still probed (at the configured interval, not given up), and still failing: still quarantined.
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_modem_connect_failures_total", modem="m0")
                       >= failures + 2, "two quarantine probes of m0", timeout=4 * QUICK_RECOVERY.probe_interval)
        assert run.modem_states()["m0"]["state"] == "quarantined"
        sent_by_m1 = _submits_from(run, number1)
        run.post_accepted("while m0 is quarantined")
        _wait_submits(run, number1, sent_by_m1 + 1)
        run.control("reconnect", modem=EMU0)
        run.wait_state("m0", "ready", timeout=PROBE_SEEN)
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_reconnects_total", modem="m0") == 1
        assert metric(samples, "gatewayd_modem_state", modem="m0", state="quarantined") == 0
        sent_by_m0 = _submits_from(run, number0)
        for i in range(6):
            run.post_accepted(f"after the quarantine {i}")
        run.settle()
        assert _submits_from(run, number0) > sent_by_m0, "m0 sent nothing after it recovered"
        verdict = run.stop_and_verify(max_unknown=1)  # the part in the air when m0 was unplugged
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] >= len(run.expected) - 1, verdict.summary()


def test_garbage_on_the_line_costs_nothing(tmp_path: Path) -> None:
    """Row: garbage bytes on the line, between and inside answers, while sends are in flight.

    Noise is not a reason to drop a modem: no reconnect, no unknown outcome, every message once.
    """
    with matrix(tmp_path, _messages(30), send_latency=0.1) as run:
        number0 = run.emulator.numbers[0]
        for burst in range(6):
            _wait_submits(run, number0, burst + 1)
            run.control("fault", modem=EMU0, kind="garbage", count=48)
        for i in range(3):
            run.post_accepted(f"after the noise {i}")
        run.settle()
        # Noise while m0 is idle (the queue has settled) is a stray line for sure; inside an answer it
        # may be taken for the answer's own lines, so the bursts above need not have counted.
        strays = metric(run.metrics(), "gatewayd_modem_stray_lines_total", modem="m0")
        run.control("fault", modem=EMU0, kind="garbage", count=48)
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_modem_stray_lines_total", modem="m0") > strays,
                       "the noise counted as stray lines of m0")
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_reconnects_total", modem="m0") == 0, run.explain()
        assert metric(samples, "gatewayd_modem_state", modem="m0", state="ready") == 1
        assert metric(samples, "gatewayd_send_attempts_total", modem="m0", outcome="sent") > 0
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()


def test_burst_of_cms_500_is_retried_without_doubles(tmp_path: Path) -> None:
    """Row: bursts of +CMS ERROR 500 (unknown error, transient): each refused send is retried later,
    none is failed, none is sent twice, and /metrics counts them as retries."""
    with matrix(tmp_path, _messages(24), send_latency=0.05) as run:
        number0 = run.emulator.numbers[0]
        run.wait_until(lambda: _submits_from(run, number0) >= 1, "m0 sending")
        run.control("fault", modem=EMU0, kind="cms_error", code=500, count=6)
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_send_attempts_total", modem="m0",
                                      outcome="retry") >= 6, "six retries counted for m0")
        run.post_accepted("after the burst")
        run.settle()
        samples = run.metrics()
        assert metric(samples, "gatewayd_send_attempts_total", outcome="failed") == 0
        assert metric(samples, "gatewayd_queue_messages", status="failed") == 0
        assert run.healthz().status == 200
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()


def test_permanent_cms_error_fails_those_recipients_alone(tmp_path: Path) -> None:
    """Row: permanent CMS errors. The network refuses two recipients with +CMS ERROR: 21 (short
    message transfer rejected): those two end failed after one attempt each, everything else is sent."""
    messages = _messages(24)
    refused = {messages[4].recipient, messages[8].recipient}  # single-part GSM messages (shape index 0)

    with matrix(tmp_path, [], send_latency=0.05) as run:
        for number in refused:
            run.control("reject", number=number, code=21)
        run.expected.update(enqueue(run.database, messages))
        run.post_accepted("posted while two recipients are refused")
        run.settle()
        samples = run.metrics()
        assert metric(samples, "gatewayd_send_attempts_total", outcome="failed") == 2
        assert metric(samples, "gatewayd_queue_messages", status="failed") == 2
        assert metric(samples, "gatewayd_send_attempts_total", outcome="retry") == 0
        assert run.healthz().status == 200
        allowed = {m.id: "failed" for m in run.expected.values() if m.recipient in refused}
        verdict = run.stop_and_verify(allowed=allowed, max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["failed"] == 2, verdict.summary()
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected) - 2


def test_registration_lost_then_back(tmp_path: Path) -> None:
    """Row: registration lost. The only modem loses the network mid-traffic: sends are refused
    (+CMS ERROR: 331) and retried, /healthz shows it unregistered, and all goes out once it is back."""
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        return write_matrix_config(tmp_path, list(emulator.links), health_interval=5)

    with matrix(tmp_path, _messages(16), modems=1, send_latency=0.1, configure=configure) as run:
        registered = run.wait_until(lambda: run.modem_states()["m0"]["registration"], "m0 registration known")
        run.wait_finished(2)
        run.control("fault", modem=EMU0, kind="no_network")
        run.wait_until(lambda: run.modem_states()["m0"]["registration"] not in (None, registered),
                       "/healthz to show m0 unregistered", timeout=15.0)
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_send_attempts_total", modem="m0",
                                      outcome="retry") >= 1, "a refused send counted as a retry")
        run.control("clear", modem=EMU0)
        run.wait_until(lambda: run.modem_states()["m0"]["registration"] == registered,
                       "/healthz to show m0 registered again", timeout=15.0)
        run.post_accepted("after the network came back")
        run.settle()
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()


def test_sim_pin_right_is_entered_wrong_is_tried_once_and_left_alone(tmp_path: Path) -> None:
    """Row: SIM PIN required. Both SIMs ask for a PIN: m0's configured PIN is right and m0 sends; m1's is
    wrong. The SIM's own counter proves m1's PIN was tried exactly once (3 attempts, 2 left), and it stays
    so while traffic flows: m1 is out of service ("failed", SIM "pin_wrong") and m0 carries everything.
    """
    def configure(emulator: EmulatorProcess, control: ControlClient) -> Path:
        for target in (EMU0, EMU1):
            assert control("sim", modem=target, pin=RIGHT_PIN)["pin_attempts"] == PIN_ATTEMPTS
        return write_matrix_config(tmp_path, list(emulator.links), pins={0: RIGHT_PIN, 1: WRONG_PIN})

    def sims() -> dict[str, dict[str, Any]]:
        return {modem["id"]: modem for modem in run.control("status")["modems"]}

    with matrix(tmp_path, _messages(16), send_latency=0.05, configure=configure) as run:
        number0, number1 = run.emulator.numbers
        failed = run.wait_state("m1", "failed")
        assert "rejected the configured PIN" in failed["last_error"], failed
        run.wait_state("m0", "ready")
        modems = run.api_modems()
        assert (modems["m0"]["state"], modems["m0"]["sim"]) == ("ready", "ready"), modems["m0"]
        assert (modems["m1"]["state"], modems["m1"]["sim"]) == ("failed", "pin_wrong"), modems["m1"]
        samples = run.metrics()
        assert metric(samples, "gatewayd_modem_sim_state", modem="m1", state="pin_wrong") == 1
        assert metric(samples, "gatewayd_modem_sim_state", modem="m0", state="ready") == 1
        assert metric(samples, "gatewayd_modem_state", modem="m1", state="failed") == 1
        assert metric(samples, "gatewayd_modem_connect_failures_total", modem="m1") == 1
        assert (sims()[EMU1]["sim"], sims()[EMU1]["pin_attempts"]) == ("SIM PIN", PIN_ATTEMPTS - 1)
        assert (sims()[EMU0]["sim"], sims()[EMU0]["pin_attempts"]) == ("READY", PIN_ATTEMPTS)
        for i in range(3):
            run.post_accepted(f"while m1 waits for a person {i}")
        run.settle()
        assert _submits_from(run, number1) == 0 and _submits_from(run, number0) > 0
        assert run.healthz().status == 200
        verdict = run.stop_and_verify(max_unknown=0)
        assert sims()[EMU1]["pin_attempts"] == PIN_ATTEMPTS - 1, "the wrong PIN was tried again"
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["sent"] + verdict.statuses["delivered"] == len(run.expected), verdict.summary()


def test_sim_storage_full_on_receive_loses_no_inbound(tmp_path: Path) -> None:
    """Row: SIM storage full on receive. While the modem is busy (wedged) the SIM fills up; the
    network holds the rest. Once it answers again every inbound message is stored exactly once."""
    inbound = 36  # over the emulated SIM's 30 slots
    with matrix(tmp_path, _messages(8), modems=1, send_latency=0.05) as run:
        run.settle()
        run.control("fault", modem=EMU0, kind="hang", seconds=20)
        for index in range(inbound):
            run.control("deliver", to=run.emulator.numbers[0], **{"from": "+447700900555"},
                        text=f"inbound {index:03d}")

        def full() -> bool:
            storage = run.control("status")["modems"][0]["storage"]
            return any(used == capacity for used, capacity in storage.values())

        run.wait_until(full, "the SIM to fill up")
        run.control("clear", modem=EMU0)
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_inbound_messages_total", modem="m0") >= inbound,
                       f"{inbound} inbound messages stored", timeout=30.0)
        run.post_accepted("after the SIM was full")
        run.settle()
        assert metric(run.metrics(), "gatewayd_inbound_messages_total", modem="m0") == inbound
        storage = run.control("status")["modems"][0]["storage"]
        assert all(used == 0 for used, _ in storage.values()), storage
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        texts = [text for (text,) in conn.execute("SELECT text FROM inbox ORDER BY text")]
    finally:
        conn.close()
    assert texts == [f"inbound {index:03d}" for index in range(inbound)]


def _message_rows(database: Path) -> list[tuple[Any, ...]]:
    """Every message and part as the queue keeps them, plus the message events: what a report could change."""
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return (conn.execute("SELECT id, status, attempts, last_error, updated_at FROM messages ORDER BY id").fetchall()
                + conn.execute("SELECT message_id, part, state, mr, report_status, reported_at FROM message_parts"
                               " ORDER BY message_id, part").fetchall()
                + conn.execute("SELECT count(*) FROM events WHERE message_id IS NOT NULL").fetchall())
    finally:
        conn.close()


def test_status_report_for_an_unknown_reference_changes_no_message(tmp_path: Path) -> None:
    """Row: a status report for an unknown reference. The SMSC reports "delivered" to a recipient m0 did
    send to, under a TP-MR m0 never used: the daemon stores it unmatched, logs and counts it, and changes
    no message. It keeps serving, and the real report of a message sent afterwards still rolls it up.
    """
    with matrix(tmp_path, _messages(12), send_latency=0.05) as run:
        number0 = run.emulator.numbers[0]
        run.settle()
        before = _message_rows(run.database)
        samples = run.metrics()
        stored = metric(samples, "gatewayd_modem_status_reports_total", modem="m0")
        settled = metric(samples, "gatewayd_delivery_reports_total")
        by_m0 = [record for record in run.control("sent")["messages"] if record["from"] == number0]
        recipient = by_m0[0]["to"]
        mr = max(set(range(256)) - {record["mr"] for record in by_m0})
        run.control("status_report", modem=EMU0, mr=mr, recipient=recipient, status=0)
        run.wait_until(lambda: metric(run.metrics(), "gatewayd_modem_status_reports_total", modem="m0") > stored,
                       "the unknown report stored")
        assert _message_rows(run.database) == before, "a report that matches nothing changed a message"
        assert metric(run.metrics(), "gatewayd_delivery_reports_total") == settled
        conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            unmatched = conn.execute("SELECT modem, recipient, status FROM status_reports WHERE mr = ? AND"
                                     " message_id IS NULL", (mr,)).fetchall()
        finally:
            conn.close()
        assert unmatched == [("m0", recipient, 0)]
        assert f"status report for mr {mr} to {recipient} matches no sent part" in run.daemon.log_text()
        assert run.healthz().status == 200
        after = run.post_accepted("after the unknown report")
        run.wait_until(lambda: snapshot(run.database).statuses.get("delivered", 0) == len(run.expected),
                       f"message {after} delivered by its own report")
        assert metric(run.metrics(), "gatewayd_delivery_reports_total") == settled + 1
        run.settle()
        verdict = run.stop_and_verify(max_unknown=0)
    assert verdict.violations == [], verdict.violations
    assert verdict.statuses["delivered"] == len(run.expected), verdict.summary()


def test_database_locked_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    """Row: the database locked. Another process holds the write lock (BEGIN IMMEDIATE) past the
    busy timeout: the API answers 503 with Retry-After and stores nothing for it; what was accepted
    before is not lost, and once the lock is gone the API accepts and everything goes out."""
    with matrix(tmp_path, _messages(16), send_latency=0.1) as run:
        run.wait_finished(2)
        with write_lock(run.database):
            refused, refused_to = run.post("refused while locked")
            assert refused.status == 503, refused
            assert refused.headers.get("Retry-After"), refused.headers
            assert run.healthz().body["database"] == "ok"  # reads go on (WAL): the page keeps working
        samples = run.metrics()
        assert metric(samples, "gatewayd_api_responses_total", code="503") == 1
        assert metric(samples, "gatewayd_database_up") == 1
        run.post_accepted("accepted after the lock")
        run.settle()
        verdict = run.stop_and_verify(max_unknown=2)  # a send whose "sent" mark the lock refused
    assert verdict.violations == [], verdict.violations
    conn = sqlite3.connect(f"{run.database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        stored = conn.execute("SELECT count(*) FROM messages WHERE recipient = ?", (refused_to,)).fetchone()[0]
    finally:
        conn.close()
    assert stored == 0, "a 503 must acknowledge nothing, and store nothing the client would resend"
