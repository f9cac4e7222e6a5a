"""Finding modems by IMEI / ICCID among emulated modems on pty symlinks in tmp_path."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewayd import discovery
from gatewayd.emulator.emulator import Emulator, ModemHandle
from gatewayd.modem.device import Identity
from gatewayd.modem.transport import open_port

TIMEOUT = 0.3
"""Probe timeout in these tests: emulated modems answer in milliseconds."""


@pytest.fixture
def modems(emulator: Emulator, tmp_path: Path) -> list[ModemHandle]:
    return [emulator.add_modem(f"+1555000000{i}", pty=str(tmp_path / f"gsm{i}")) for i in (1, 2)]


@pytest.fixture
def silent_port(tmp_path: Path) -> Iterator[str]:
    """A pty nobody answers on: what a GPS or diagnostics interface looks like to a scan."""
    master, slave = os.openpty()
    link = tmp_path / "gsm9"
    link.symlink_to(os.ttyname(slave))
    yield str(link)
    os.close(master)
    os.close(slave)


def pattern(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "gsm*")]


def test_finds_modems_by_imei_and_by_iccid(modems: list[ModemHandle], tmp_path: Path) -> None:
    found = discovery.scan(pattern(tmp_path), timeout=TIMEOUT)
    assert set(found) == {os.path.realpath(tmp_path / "gsm1"), os.path.realpath(tmp_path / "gsm2")}
    first, second = modems
    assert discovery.find_port({"imei": first.imei}, found) == os.path.realpath(tmp_path / "gsm1")
    assert discovery.find_port({"iccid": second.modem.sim.iccid}, found) == os.path.realpath(tmp_path / "gsm2")
    assert discovery.find_port({"imei": first.imei, "iccid": first.modem.sim.iccid}, found) is not None
    assert discovery.find_port({"imei": first.imei, "iccid": second.modem.sim.iccid}, found) is None
    assert discovery.find_port({"imei": "490154203237518"}, found) is None


def test_follows_a_modem_to_its_new_port(emulator: Emulator, modems: list[ModemHandle], tmp_path: Path) -> None:
    target = modems[0]
    before = discovery.find_port({"imei": target.imei}, discovery.scan(pattern(tmp_path), timeout=TIMEOUT))
    emulator.fault(target.imei, "disconnect")
    # Take the freed pty number, as another device takes ttyUSB0 while a modem resets, so the
    # modem comes back under a new name (the kernel would otherwise hand the same number back).
    squatter = os.openpty()
    try:
        new_path = emulator.reconnect(target.imei)
    finally:
        for fd in squatter:
            os.close(fd)
    after = discovery.find_port({"imei": target.imei}, discovery.scan(pattern(tmp_path), timeout=TIMEOUT))
    assert after == os.path.realpath(new_path)
    assert after != before


def test_skips_a_port_another_program_holds(modems: list[ModemHandle], tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gatewayd.discovery")
    held = open_port(str(tmp_path / "gsm1"))
    try:
        found = discovery.scan(pattern(tmp_path), timeout=TIMEOUT)
    finally:
        held.close()
    assert set(found) == {os.path.realpath(tmp_path / "gsm2")}
    assert f"scan {os.path.realpath(tmp_path / 'gsm1')}: skipped, held by another program" in caplog.text


def test_skips_excluded_ports_under_any_name(modems: list[ModemHandle], tmp_path: Path) -> None:
    owned = os.path.realpath(tmp_path / "gsm1")
    found = discovery.scan([owned, *pattern(tmp_path)], exclude={str(tmp_path / "gsm1")}, timeout=TIMEOUT)
    assert set(found) == {os.path.realpath(tmp_path / "gsm2")}


def test_a_silent_port_costs_only_the_timeout(modems: list[ModemHandle], silent_port: str, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gatewayd.discovery")
    started = time.monotonic()
    assert discovery.probe(silent_port, timeout=TIMEOUT) is None
    assert time.monotonic() - started < TIMEOUT + 1.0  # not the seconds of a session resync
    assert "no answer to AT" in caplog.text
    found = discovery.scan(pattern(tmp_path), timeout=TIMEOUT)
    assert os.path.realpath(silent_port) not in found
    assert len(found) == 2


def test_candidates_are_deduplicated_by_real_path(modems: list[ModemHandle], tmp_path: Path) -> None:
    real = os.path.realpath(tmp_path / "gsm1")
    ports = discovery.candidates([real, str(tmp_path / "gsm1"), str(tmp_path / "gsm*")])
    assert ports == [real, os.path.realpath(tmp_path / "gsm2")]
    assert discovery.candidates([str(tmp_path / "nothing*")]) == []


def test_a_vanished_port_is_skipped(tmp_path: Path) -> None:
    assert discovery.probe(str(tmp_path / "gone"), timeout=TIMEOUT) is None


@pytest.mark.parametrize(("wanted", "identity", "expected"), [
    ({"imei": "356938035643809"}, Identity(imei="356938035643809"), True),
    ({"imei": "356938035643809"}, Identity(imei="3569380356438"), False),  # too short to be sure
    ({"imei": "356938035643809"}, Identity(imei="IMEI: 3569380356438012"), True),  # IMEISV, prefixed
    ({"imei": "35693803564380"}, Identity(imei="356938035643809"), True),  # no check digit
    ({"imei": "356938035643809"}, Identity(imei="356938035643817"), False),
    ({"iccid": "8944110068256270054"}, Identity(iccid="8944110068256270054"), True),
    ({"iccid": "8944110068256270054"}, Identity(iccid="894411006825627005"), True),  # check digit left off
    ({"iccid": "8944110068256270054"}, Identity(iccid="8944110068256270054f"), True),
    ({"iccid": "8944110068256270054"}, Identity(iccid="8944110068256270055"), False),
    ({"iccid": "8944110068256270054"}, Identity(iccid=None), False),
    ({}, Identity(imei="356938035643809"), False),
    ({"imei": None, "iccid": None}, Identity(imei="356938035643809"), False),
])
def test_matches(wanted: dict[str, str | None], identity: Identity, expected: bool) -> None:
    assert discovery.matches(wanted, identity) is expected


def test_two_interfaces_of_one_modem_give_a_stable_choice() -> None:
    identity = Identity(imei="356938035643809")
    found = {"/dev/ttyUSB3": identity, "/dev/ttyUSB2": identity}
    assert discovery.find_port({"imei": "356938035643809"}, found) == "/dev/ttyUSB2"
