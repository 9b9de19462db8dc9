"""Linking in several processes gives exactly the linkage of one process.

:func:`hub.linkage.engine.link` with ``workers`` > 1 forks processes that share every step but
clustering: the blocking keys (each process a stretch of the records), the blocks (each the
hashes it owns), the scoring (each the pairs it owns) and the linked-case comparisons. The
links and uncertain pairs of all are merged and sorted before clustering, so every output —
persons, evidence, review queue, counts — must equal the one-process run's. The records are
the demo world perturbed by the independent noise model (``bench.perturb``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.linkage import _records
from bench.perturb import perturb
from hub.linkage import engine
from hub.linkage.features import LinkRecord, link_record
from tests.person_pools import assert_same_linkage


@pytest.fixture(scope="module")
def features() -> list[LinkRecord]:
    records, labels = _records(2023, 0.5)
    data = perturb(records, labels, seed=7)
    return [link_record(i, r) for i, r in enumerate(data.records)]


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``engine.<name>`` in this process."""
    calls: list[int] = []
    original: Callable[..., object] = getattr(engine, name)

    def spy(*args: object) -> object:
        calls.append(1)
        return original(*args)

    # Handed to the forked processes by name, as the original is: the name finds the spy there.
    spy.__module__, spy.__qualname__ = engine.__name__, name
    monkeypatch.setattr(engine, name, spy)
    return calls


@pytest.mark.parametrize("workers", [2, 3])
def test_several_processes_link_exactly_as_one(
    features: list[LinkRecord], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = engine.link(features)
    monkeypatch.setattr(engine, "PARALLEL_MIN_RECORDS", 0)
    shared_runs = _spy(monkeypatch, "_score_in_processes")
    key_shares = _spy(monkeypatch, "_keys_share")
    case_shares = _spy(monkeypatch, "_proposals_share")
    shared = engine.link(features, workers=workers)
    assert shared_runs, "the run was shared between processes"
    assert key_shares and case_shares, "this process took its share of blocking and of the linked cases"
    assert alone.candidate_pairs > 3000 and alone.links > 1000
    assert any(rule == "NAME_LINKED_CASE" for _score, rule in alone.evidence.values())
    assert_same_linkage(shared, alone)


def test_an_incremental_run_in_several_processes_links_as_in_one(
    features: list[LinkRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only pairs with a new record are compared, existing persons seeded: the same in both."""
    size = len(features)
    new = range(size - size // 5, size)
    old = engine.link(features[: new.start])
    existing = [group for group in old.groups if len(group) > 1]
    alone = engine.link(features, existing=existing, only=new)
    monkeypatch.setattr(engine, "PARALLEL_MIN_RECORDS", 0)
    shared_runs = _spy(monkeypatch, "_score_in_processes")
    shared = engine.link(features, existing=existing, only=new, workers=2)
    assert shared_runs
    assert alone.candidate_pairs > 500 and alone.links > 100
    assert_same_linkage(shared, alone)
