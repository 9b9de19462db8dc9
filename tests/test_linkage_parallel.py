"""Scoring in several processes gives exactly the linkage of one process.

:func:`hub.linkage.engine.link` with ``workers=2`` forks a process that scores every second
candidate pair; the links and uncertain pairs of both are merged and sorted before clustering,
so every output — persons, evidence, review queue, counts — must equal the one-process run's.
The records are the demo world perturbed by the independent noise model (``bench.perturb``).
"""

from __future__ import annotations

import pytest

from bench.linkage import _records
from bench.perturb import perturb
from hub.linkage import engine
from hub.linkage.features import link_record


def test_two_processes_link_exactly_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    records, labels = _records(2023, 0.5)
    data = perturb(records, labels, seed=7)
    features = [link_record(i, r) for i, r in enumerate(data.records)]
    alone = engine.link(features)
    monkeypatch.setattr(engine, "PARALLEL_MIN_RECORDS", 0)
    calls: list[int] = []
    original = engine._score_in_processes

    def spy(*args: object) -> object:
        calls.append(1)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_score_in_processes", spy)
    shared = engine.link(features, workers=2)
    assert calls, "the run was shared between processes"
    assert alone.candidate_pairs > 3000 and alone.links > 1000
    assert sorted(map(sorted, shared.groups)) == sorted(map(sorted, alone.groups))
    assert shared.evidence == alone.evidence
    assert shared.possible == alone.possible
    assert (shared.candidate_pairs, shared.links, shared.refused) == (
        alone.candidate_pairs,
        alone.links,
        alone.refused,
    )
