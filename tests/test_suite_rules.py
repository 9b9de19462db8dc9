"""The suite's own rules, checked on the suite: skips are loud, nothing is timed, CI is repeatable.

- A test never skips itself (``skipif``, ``pytest.skip``, ``importorskip``) or expects to fail
  (``xfail``): a missing prerequisite goes through :func:`tests.prerequisites.require`, which
  fails unless ``TPPO_ALLOW_SKIP`` names it.
- No test reads a clock to judge speed (``perf_counter``): speed is the benchmarks' business.
- With ``CI=true`` hypothesis runs derandomized, so a red build reproduces.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

from tests import prerequisites

TESTS = Path(__file__).resolve().parent
FORBIDDEN = re.compile(r"pytest\.mark\.skipif|pytest\.skip\(|importorskip|xfail|perf_counter")
#: Files allowed to use a forbidden word: the prerequisite gate itself, this file, and the
#: mutation driver (which times mutmut runs, not the product).
ALLOWED = {"prerequisites.py", "test_suite_rules.py", "mutate.py"}


def test_no_test_skips_itself_or_times_anything() -> None:
    offences = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in ALLOWED and "node_modules" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offences == []


def test_hypothesis_is_derandomized_exactly_in_ci() -> None:
    in_ci = os.environ.get("CI", "").lower() == "true"
    assert settings.default.derandomize is in_ci
    assert (settings.default.database is None) is in_ci


def test_a_missing_prerequisite_fails_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prerequisites.ALLOW_SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="TPPO_ALLOW_SKIP=node"):
        prerequisites.require("node", False, "node is not on PATH")
    monkeypatch.setenv(prerequisites.ALLOW_SKIP_ENV, "chromium, node")
    with pytest.raises(pytest.skip.Exception, match="prerequisite node missing"):
        prerequisites.require("node", False, "node is not on PATH")
    prerequisites.require("node", True, "never said")  # present: nothing happens
    with pytest.raises(ValueError, match="unknown prerequisite"):
        prerequisites.require("nodejs", True, "a typo")
