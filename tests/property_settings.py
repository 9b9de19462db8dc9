"""Hypothesis settings of the property tests that build a database per example.

One definition for every such test (tests/test_properties.py, test_date_walk.py,
test_raw_groups.py): examples are the same on every run unless ``TPPO_HYPOTHESIS_RANDOM=1``
asks for fresh ones, and a failing example is printed as drawn, without shrinking (each
example costs a database round trip, and shrinking would cost hundreds).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

DATABASE_PROPERTIES = settings(
    derandomize=os.environ.get("TPPO_HYPOTHESIS_RANDOM") != "1",
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
