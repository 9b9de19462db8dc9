"""Linkage quality on the demo data, measured against the generator's ground truth.

The expected pairs come from ``ground_truth.json`` (which person each agency record really
is), never from the hub's own output. Targets (issue 5): precision ≥ 0.98, recall ≥ 0.95.
"""

from __future__ import annotations

from typing import Any

from hub.linkage.index import LinkageIndex
from hub.linkage.quality import pair_quality
from tests.linkage_helpers import linked_fixture, truth_labels  # noqa: F401 - fixture

PRECISION_TARGET = 0.98
RECALL_TARGET = 0.95


async def test_every_record_is_indexed(hub: Any, linked: Any, truth: dict) -> None:
    labels = truth_labels(truth)
    assignments = await LinkageIndex(hub.store.engine).assignments()
    assert set(assignments) == set(labels)
    assert linked.records_read == len(labels)


async def test_pairwise_precision_and_recall(hub: Any, linked: Any, truth: dict) -> None:
    labels = truth_labels(truth)
    predicted = await LinkageIndex(hub.store.engine).assignments()
    quality = pair_quality(predicted, labels)
    assert quality.true_pairs > 3000, "the demo data should hold many records of the same people"
    assert quality.precision >= PRECISION_TARGET, quality
    assert quality.recall >= RECALL_TARGET, quality


def test_pair_quality_counts() -> None:
    truth = {"a": 1, "b": 1, "c": 1, "d": 2}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y"}
    q = pair_quality(predicted, truth)
    assert (q.predicted_pairs, q.true_pairs, q.correct_pairs) == (2, 3, 1)
    assert q.precision == 0.5 and round(q.recall, 3) == 0.333
