"""Test-wide settings.

Hypothesis explores new examples on every developer run; under CI (CI=true) it is derandomised, so a
submission's result does not depend on luck. Anything it finds locally is pinned as an explicit test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
