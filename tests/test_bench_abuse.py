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


def _calibration_components(truth: dict[str, float]) -> list[tuple[dict[str, float], float, float]]:
    """Each calibration operation's components (read from the estimator) and a time made from
    ``truth``'s constants: what a machine whose costs are exactly those would measure."""
    from graphql import parse

    from bench import workfit
    from bench.abuse import CALIBRATION, UNSUPPRESSED
    from hub.access.policy import QueryLimits
    from resolvers.schema import schema

    rows = []
    operations = [(q, True) for q in CALIBRATION] + [(q, False) for q in UNSUPPRESSED]
    for query, suppressed in operations:
        document = parse(query)

        def estimate(document: object = document, suppressed: bool = suppressed) -> float:
            return safety.estimate_work(
                schema._schema,
                document,  # type: ignore[arg-type]
                None,
                {},
                QueryLimits(),
                suppressed=suppressed,
            )

        found, held = workfit.features(estimate)
        rows.append((found, held, held + sum(truth[name] * found[name] for name in workfit.FITTED)))
    return rows


def test_the_fit_recovers_the_constants_the_times_were_made_from() -> None:
    from bench import workfit

    truth = {
        "WORK_PAGE": 9.0,
        "WORK_ROW": 0.04,
        "WORK_RELATION_ROW": 0.05,
        "WORK_STATISTICS": 7.0,
        "WORK_CELL": 0.11,
        "WORK_SUPPRESSION": 0.000012,
    }
    fitted = workfit.fit(_calibration_components(truth))
    assert fitted == pytest.approx(truth, rel=1e-6)


def test_a_component_the_times_do_not_pay_for_is_fitted_to_zero_not_below() -> None:
    from bench import workfit

    truth = {
        "WORK_PAGE": 9.0,
        "WORK_ROW": 0.04,
        "WORK_RELATION_ROW": 0.0,
        "WORK_STATISTICS": 7.0,
        "WORK_CELL": 0.11,
        "WORK_SUPPRESSION": 0.0,
    }
    rows = _calibration_components(truth)
    # The pages with relations measured a little faster than their rows alone would say.
    rows = [(f, held, m * 0.9 if f["WORK_RELATION_ROW"] else m) for f, held, m in rows]
    fitted = workfit.fit(rows)
    assert all(value >= 0 for value in fitted.values())
    assert fitted["WORK_RELATION_ROW"] == 0.0


def test_the_proposed_constants_are_the_fit_with_its_margin() -> None:
    from bench import workfit

    assert workfit.proposed({"WORK_ROW": 0.03, "WORK_PAGE": 10.0}) == {
        "WORK_ROW": pytest.approx(0.045),
        "WORK_PAGE": 15.0,
    }


@pytest.mark.parametrize(("value", "written"), [(0.0412, 0.042), (7.0, 7.0), (123.4, 130.0), (0.0, 0.0)])
def test_fitted_constants_are_rounded_up_to_two_figures(value: float, written: float) -> None:
    from bench import workfit

    assert workfit.rounded(value) == pytest.approx(written)
