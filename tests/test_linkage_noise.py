"""Linkage quality on noise it was not tuned to: the demo records perturbed by ``bench.perturb``.

The noise model is written apart from the demo generator (its own nickname, spelling, NIK-digit,
missing-field and namesake classes) and keeps the ground truth, so the expected pairs come from
the generator's person ids and the noise model's own bookkeeping, never from the hub.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from bench.linkage import _records
from bench.perturb import CLASSES, dropped_middle, nik_digit, perturb
from hub.linkage.engine import link
from hub.linkage.features import link_record
from hub.linkage.quality import pair_quality

#: Floors per class, well under what the linkage reaches (bench/RESULTS.md) and far above the
#: old NIK veto's .31 and nickname .47 of issue 14.
CLASS_RECALL = {
    "nickname": 0.65,
    "spelling": 0.85,
    "nik_digit": 0.7,
    "missing": 0.75,
    "dropped_middle": 0.6,
    "typo": 0.8,
    "day_month": 0.85,
    "order": 0.85,
    "combined": 0.5,
}


@pytest.fixture(scope="module")
def noisy():
    records, labels = _records(2023, 1.0)
    data = perturb(records, labels, seed=2023)
    features = [link_record(i, r) for i, r in enumerate(data.records)]
    result = link(features)
    predicted = {i: n for n, group in enumerate(result.groups) for i in group}
    return data, predicted


def test_precision_holds_on_unfamiliar_noise(noisy) -> None:
    data, predicted = noisy
    quality = pair_quality(predicted, dict(enumerate(data.labels)))
    assert quality.precision >= 0.995, quality
    assert quality.recall >= 0.85, quality


def test_namesakes_are_never_merged(noisy) -> None:
    data, predicted = noisy
    members = defaultdict(list)
    for i, cluster in predicted.items():
        members[cluster].append(i)
    namesakes = [i for i, kind in data.classes.items() if kind == "namesake"]
    assert len(namesakes) > 100
    assert all(len(members[predicted[i]]) == 1 for i in namesakes)


@pytest.mark.parametrize("kind", CLASSES)
def test_recall_per_noise_class(noisy, kind: str) -> None:
    data, predicted = noisy
    by_label = defaultdict(list)
    for i, label in enumerate(data.labels):
        by_label[label].append(i)
    pairs = [(i, j) for i, k in data.classes.items() if k == kind for j in by_label[data.labels[i]] if j != i]
    assert len(pairs) >= 40, "each class should touch enough true pairs to measure"
    found = sum(predicted[i] == predicted[j] for i, j in pairs)
    assert found / len(pairs) >= CLASS_RECALL[kind], (kind, found, len(pairs))


def test_the_noise_model_does_what_it_says() -> None:
    import random

    rng = random.Random(1)
    nik = "3374056504910003"
    for _ in range(50):
        changed = nik_digit(nik, rng)
        assert changed is not None and changed != nik
        diffs = [k for k in range(16) if changed[k] != nik[k]]
        assert len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1)
    assert dropped_middle("Putri Halima Haryanti") == "Putri Haryanti"
    assert dropped_middle("Putri Haryanti") is None
