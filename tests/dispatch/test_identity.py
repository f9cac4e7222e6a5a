"""A modem bound by IMEI follows its device to a new path after a USB reset (re-enumeration)."""

from __future__ import annotations

import os
from pathlib import Path

from gatewayd import discovery
from gatewayd.emulator.emulator import Emulator
from gatewayd.gateway import Gateway, GatewayPlan, ModemPlan
from gatewayd.modem.device import ModemSettings
from gatewayd.owner import ModemSpec, ModemState
from gatewayd.queue.queue import NewMessage
from tests.dispatch.conftest import wait_until

READY = 20.0


def _one_modem_gateway(tmp_path: Path, spec: ModemSpec) -> Gateway:
    gateway = Gateway(GatewayPlan(database=tmp_path / "q.db", state_dir=tmp_path / "state",
                                  modems=[ModemPlan(spec=spec)]))
    gateway.start()
    return gateway


def test_owner_follows_the_modem_to_its_new_port(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    with Emulator(log_path=str(tmp_path / "smsc.jsonl")) as emulator:
        handle = emulator.add_modem(number="+15550000001", modem_id="usb", imei="356938035643809")
        os.symlink(handle.device_path, dev / "ttyUSB0")
        wanted = {"imei": "356938035643809"}
        locate = discovery.locator([str(dev / "ttyUSB*")], held=lambda _wanted: set(), timeout=1.0)(wanted)
        spec = ModemSpec(modem_id="sim1", port="", identity=wanted, locate=locate,
                         settings=ModemSettings(send_timeout=2.0))
        gateway = _one_modem_gateway(tmp_path, spec)
        try:
            owner = gateway.owners["sim1"]
            assert owner.ready.wait(READY), owner.snapshot.last_error
            assert owner.snapshot.port == os.path.realpath(handle.device_path)
            first, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900001", text="before the reset"))
            wait_until(lambda: gateway.queue.get(first.id).status in ("sent", "delivered"))  # type: ignore[union-attr]

            # USB reset: the old node disappears, the modem comes back on another one. The kernel would
            # hand the freed pty number straight back, so something else takes it first (as another
            # device would take ttyUSB0 on a real hub).
            old = owner.snapshot.port
            emulator.fault("usb", "disconnect")
            wait_until(lambda: not owner.ready.is_set(), timeout=READY, what="the owner to notice the reset")
            placeholder = os.openpty()
            new_path = emulator.reconnect("usb")
            (dev / "ttyUSB0").unlink()
            os.symlink(new_path, dev / "ttyUSB1")
            wait_until(lambda: owner.snapshot.state is ModemState.READY and owner.snapshot.port != old,
                       timeout=READY, what="the owner to follow the modem")
            assert owner.snapshot.port == os.path.realpath(new_path)
            second, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900002", text="after the reset"))
            wait_until(lambda: gateway.queue.get(second.id).status in ("sent", "delivered"))  # type: ignore[union-attr]
            for fd in placeholder:
                os.close(fd)
        finally:
            gateway.stop()
        assert [r["text"] for r in emulator.sent()] == ["before the reset", "after the reset"]


def test_a_port_that_comes_back_with_another_modem_is_refused(tmp_path: Path) -> None:
    """A modem configured by port: after an unplug its node (here a symlink) leads to another modem, as
    a freed ttyUSB or pty number is given to the next device. That modem is not taken for the first."""
    with Emulator(log_path=str(tmp_path / "smsc.jsonl")) as emulator:
        first = emulator.add_modem(number="+15550000001", modem_id="first", imei="356938035643809")
        other = emulator.add_modem(number="+15550000002", modem_id="other", imei="490154203237518")
        port = tmp_path / "ttyUSB0"
        os.symlink(first.device_path, port)
        spec = ModemSpec(modem_id="sim1", port=str(port), settings=ModemSettings(send_timeout=2.0))
        gateway = _one_modem_gateway(tmp_path, spec)
        try:
            owner = gateway.owners["sim1"]
            assert owner.ready.wait(READY), owner.snapshot.last_error
            emulator.fault("first", "disconnect")
            wait_until(lambda: not owner.ready.is_set(), timeout=READY, what="the owner to notice the unplug")
            port.unlink()
            os.symlink(other.device_path, port)
            wait_until(lambda: "IMEI 490154203237518 where 356938035643809 was" in (owner.snapshot.last_error or ""),
                       timeout=READY, what="the owner to refuse the other modem")
            assert owner.snapshot.state is not ModemState.READY
            assert owner.snapshot.identity["imei"] == "356938035643809"
            message, _ = gateway.queue.enqueue(NewMessage(recipient="+447700900001", text="not from the other"))
            assert gateway.queue.get(message.id).status == "queued"  # type: ignore[union-attr]
        finally:
            gateway.stop()
        assert emulator.sent() == []
