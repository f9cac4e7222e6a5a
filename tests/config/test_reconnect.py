"""The ``reconnect`` section: how every modem that cannot be (re)opened is retried, then quarantined.

The owner's behaviour under it is proved at daemon level (tests/faults/test_matrix.py, the quarantine
row); here: the values, their defaults, and that they reach every modem's spec.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from gatewayd import owner
from gatewayd.config import ReconnectConfig, load_config
from gatewayd.owner import Recovery

MODEMS = """\
modems:
  - id: sim1
    port: /dev/ttyUSB0
  - id: sim2
    imei: "490154203237518"
"""


def test_defaults_are_the_owners_own() -> None:
    assert ReconnectConfig().recovery == Recovery() == Recovery(
        backoff=owner.RECONNECT_BACKOFF, quarantine_after=owner.QUARANTINE_AFTER,
        probe_interval=owner.QUARANTINE_PROBE_INTERVAL)


def test_the_section_reaches_every_modem_and_round_trips(write_config: Callable[[str], Path],
                                                         tmp_path: Path) -> None:
    config = load_config(write_config(MODEMS + "reconnect:\n"
                                               "  backoff: [0.2s, 1s, 1m30s]\n"
                                               "  quarantine_after: 2\n"
                                               "  quarantine_probe_interval: 10m\n"))
    expected = Recovery(backoff=(0.2, 1.0, 90.0), quarantine_after=2, probe_interval=600.0)
    assert config.reconnect.recovery == expected
    specs = config.modem_specs(locate=lambda identity: lambda: None)
    assert [(spec.modem_id, spec.recovery) for spec in specs] == [("sim1", expected), ("sim2", expected)]
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(config.to_dict()), encoding="utf-8")
    assert load_config(again) == config


def test_an_absent_section_keeps_todays_behaviour(write_config: Callable[[str], Path]) -> None:
    (spec,) = load_config(write_config("modems:\n  - id: sim1\n    port: /dev/ttyUSB0\n")).modem_specs()
    assert spec.recovery == Recovery()


@pytest.mark.parametrize(("policy", "delays"), [
    (Recovery(), [1.0, 2.0, 5.0, 10.0, 300.0, 300.0]),  # quarantined at the 5th failure
    (Recovery(backoff=(0.2,), quarantine_after=2, probe_interval=1.0), [0.2, 1.0, 1.0]),
    (Recovery(backoff=(1.0, 3.0), quarantine_after=4, probe_interval=60.0), [1.0, 3.0, 3.0, 60.0]),
    (Recovery(backoff=(5.0,), quarantine_after=1, probe_interval=30.0), [30.0, 30.0]),
])
def test_waits_after_each_failure(policy: Recovery, delays: list[float]) -> None:
    assert [policy.delay(failures) for failures in range(1, len(delays) + 1)] == delays
    quarantined_from = policy.quarantine_after
    assert [policy.quarantined(n) for n in range(1, len(delays) + 1)] == [
        n >= quarantined_from for n in range(1, len(delays) + 1)]


@pytest.mark.parametrize("kwargs", [{"backoff": ()}, {"backoff": (0.0,)}, {"quarantine_after": 0},
                                    {"probe_interval": 0.0}])
def test_an_unusable_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Recovery(**kwargs)  # type: ignore[arg-type]


def test_durations_are_kept_exactly() -> None:
    config = ReconnectConfig(backoff=(timedelta(milliseconds=250),), quarantine_probe_interval=timedelta(seconds=1))
    assert config.recovery.backoff == (0.25,) and config.recovery.probe_interval == 1.0
