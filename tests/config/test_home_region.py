"""``policy.home_region``: a region phonenumbers knows, upper-cased, reaching the trust rules."""

from __future__ import annotations

import pytest

from gatewayd.config import ConfigError, parse_config

DEMO = "emulator:\n  enabled: true\n"


def test_home_region_reaches_the_trust_rules() -> None:
    config = parse_config(DEMO + "policy:\n  home_region: gb\n")
    assert config.policy.home_region == "GB"
    assert config.trust_rules().home_region == "GB"
    assert parse_config(DEMO).trust_rules().home_region is None


def test_an_unknown_region_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"policy\.home_region: unknown region 'UK'"):
        parse_config(DEMO + "policy:\n  home_region: UK\n")
