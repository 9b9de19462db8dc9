"""``bench.abuse``'s calibration paragraph: the verdict follows the measured ratios, and the
model it names is the one ``resolvers/safety.py`` holds (no constants copied into the text)."""

from __future__ import annotations

import pytest

from bench.abuse import _calibration_verdict
from resolvers import safety


@pytest.mark.parametrize(
    ("ratios", "verdict"),
    [
        ([0.05, 0.12, 0.66], "at ~8× their measured work"),
        ([0.9, 1.1, 1.4], "near their measured work"),
        ([3.0, 4.0, 5.0], "at ~1/4 of their measured work"),
    ],
)
def test_the_verdict_follows_the_measured_ratios(ratios: list[float], verdict: str) -> None:
    text = _calibration_verdict(ratios)
    assert verdict in text
    assert f"range {min(ratios):.2f}–{max(ratios):.2f}" in text
    assert ("due a refit" in text) is (verdict != "near their measured work")


def test_the_paragraph_names_the_models_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "WORK_STATISTICS", 12.5)
    monkeypatch.setattr(safety, "WORK_ROW", 0.03)
    text = _calibration_verdict([1.0])
    assert "statistics 12.5 + " in text and " + 0.03 per row" in text
