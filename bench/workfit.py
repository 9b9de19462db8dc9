"""The work model's constants fitted to measured times (``python -m bench.abuse --calibrate``).

:func:`resolvers.safety.estimate_work` is linear in the constants it is fitted by (for the
calibration's operations, which count cases): each operation's estimate is Σ kᵢ·fᵢ, where fᵢ
is what the operation has of component i (a page, its rows, its relation rows, a total, a
statistics field, its populated cells, their square). :func:`features` reads the fᵢ from the
estimator itself — each constant set to 1 and the others to 0 in turn — so the fit can never
disagree with what the model computes. :func:`fit` then finds the non-negative constants that
bring the estimates nearest the measured times in *relative* error (a 10 ms page and a 1 s
table weigh alike), by least squares with negative constants dropped and the rest refitted
(Lawson–Hanson's idea, enough for a handful of constants).

Held at their values, because these timings cannot tell them apart from what is fitted:
``WORK_FIELD`` (every page has exactly one, so it is ``WORK_PAGE``'s twin here; it also prices
root fields the calibration does not time) and ``WORK_TOTAL`` (one operation has a total, so
its fit would be that operation's residual). ``WORK_SUPPRESSION`` is fitted like the rest: where
the timings show no cost growing with the square of the cells, it is 0 (a table's cells are
bounded by the model's 6,000 records, and larger tables are refused by the suppression itself).

What is written into ``resolvers/safety.py`` is the fit times :data:`MARGIN`, rounded up to
two figures (:func:`proposed`): the fit is made on an unloaded machine in-process, and under
load every request takes tens of per cent longer, so a model priced at the fit itself would
let the budgets buy more work than they say.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from resolvers import safety

#: The constants fitted, in the order printed.
FITTED = ("WORK_PAGE", "WORK_ROW", "WORK_RELATION_ROW", "WORK_STATISTICS", "WORK_CELL", "WORK_SUPPRESSION")
#: Held at their values (see the module docstring).
HELD = ("WORK_FIELD", "WORK_TOTAL")
#: The proposed constants are the fit times this (see the module docstring).
MARGIN = 1.5


@contextlib.contextmanager
def _constants(values: Mapping[str, float]) -> Iterator[None]:
    """``resolvers.safety``'s constants set to ``values`` while inside; put back after."""
    before = {name: getattr(safety, name) for name in values}
    try:
        for name, value in values.items():
            setattr(safety, name, value)
        yield
    finally:
        for name, value in before.items():
            setattr(safety, name, value)


def features(estimate: Callable[[], float]) -> tuple[dict[str, float], float]:
    """What ``estimate`` (an operation's :func:`~resolvers.safety.estimate_work`) has of each
    fitted component, and the part priced by the held constants at their values."""
    zero = dict.fromkeys(FITTED, 0.0)
    with _constants(zero):
        held = estimate()
    found: dict[str, float] = {}
    for name in FITTED:
        with _constants({**zero, name: 1.0}):
            found[name] = estimate() - held
    return found, held


def fit(rows: Sequence[tuple[Mapping[str, float], float, float]]) -> dict[str, float]:
    """The non-negative constants that bring Σ kᵢ·fᵢ + held nearest each measured time, in
    relative error. ``rows``: (features, held part, measured ms) per operation. A constant no
    operation has keeps its value in ``resolvers.safety``."""
    used = [name for name in FITTED if any(f[name] for f, _, _ in rows)]
    matrix = np.array([[f[name] / measured for name in used] for f, _, measured in rows])
    target = np.array([(measured - held) / measured for _, held, measured in rows])
    active = list(range(len(used)))
    solution = np.zeros(len(used))
    while active:
        found, *_ = np.linalg.lstsq(matrix[:, active], target, rcond=None)
        if (found >= 0).all():
            solution[:] = 0.0
            solution[active] = found
            break
        active.pop(int(np.argmin(found)))  # the most negative constant is dropped, the rest refitted
    fitted = {name: float(getattr(safety, name)) for name in FITTED}
    fitted.update({name: float(solution[i]) for i, name in enumerate(used)})
    return fitted


def proposed(fitted: Mapping[str, float]) -> dict[str, float]:
    """The constants to write down: the fit times :data:`MARGIN`, rounded up to two figures."""
    return {name: rounded(value * MARGIN) for name, value in fitted.items()}


def rounded(value: float) -> float:
    """``value`` rounded up to two significant figures (a constant as it is written down)."""
    if value <= 0:
        return 0.0
    exponent = int(np.floor(np.log10(value))) - 1
    step = 10.0**exponent
    return float(np.ceil(value / step - 1e-9) * step)
