"""Pairwise quality of a clustering against known labels: precision, recall, F1.

A *pair* is two records said to be one person. Precision is the share of predicted pairs that
are true, recall the share of true pairs that were predicted. Both are counted from cluster
sizes (no pair lists), so measuring a million records stays cheap. Labels come from outside
the hub (the demo generator's ground truth); this module only counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PairQuality:
    """Pair counts and the measures derived from them."""

    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pair_quality(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> PairQuality:
    """Compare two labellings of the same records: record → predicted cluster, record → true person.

    Records missing from ``predicted`` count as singletons.
    """
    predicted_sizes: Counter[Hashable] = Counter()
    true_sizes: Counter[Hashable] = Counter()
    both: Counter[tuple[Hashable, Hashable]] = Counter()
    for record, person in truth.items():
        cluster = predicted.get(record, ("singleton", record))
        predicted_sizes[cluster] += 1
        true_sizes[person] += 1
        both[(cluster, person)] += 1
    return PairQuality(
        predicted_pairs=sum(_pairs(n) for n in predicted_sizes.values()),
        true_pairs=sum(_pairs(n) for n in true_sizes.values()),
        correct_pairs=sum(_pairs(n) for n in both.values()),
    )


def labels_from_groups(groups: Iterable[Iterable[Hashable]]) -> dict[Hashable, int]:
    """record → cluster number, from clusters given as lists of records."""
    return {record: n for n, group in enumerate(groups) for record in group}
