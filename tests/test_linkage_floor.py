"""Shortcuts of the scoring change no result: the floor of ``compare`` and the veto first in linked cases.

:func:`hub.linkage.scoring.compare` with ``floor`` grades the fields that need no name
comparison first and stops when even the best name, address and patronym could not lift the
pair to ``floor``; the linked-case pass tests a veto before the names. Both only skip work
whose outcome is thrown away. The reference here is the full comparison of every pair (no
floor, no early veto): for every candidate pair of the demo world perturbed by the independent
noise model (``bench.perturb``) the floored result equals the full one whenever the full one
reaches the floor, and stays below the floor otherwise; and the whole linkage — persons,
evidence, review queue, counts — is the same with the shortcuts and without them.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.linkage import _records
from bench.perturb import perturb
from hub.linkage import engine, scoring
from hub.linkage.blocking import candidate_pairs
from hub.linkage.features import LinkRecord, link_record
from hub.linkage.scoring import REVIEW_THRESHOLD, VETO, NameFrequencies, compare, vetoed
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole
from tests.person_pools import PersonPools, assert_same_linkage, person_records


@pytest.fixture(scope="module")
def features() -> list[LinkRecord]:
    records, labels = _records(2023, 0.5)
    data = perturb(records, labels, seed=7)
    return [link_record(i, r) for i, r in enumerate(data.records)]


@pytest.fixture(scope="module")
def names(features: list[LinkRecord]) -> NameFrequencies:
    frequencies = NameFrequencies(r.name.tokens for r in features)
    frequencies.set_records(len(features))
    return frequencies


def test_the_floor_changes_no_pair_that_reaches_it(
    features: list[LinkRecord], names: NameFrequencies
) -> None:
    pairs = sorted(candidate_pairs(features))
    below = reaching = 0
    for i, j in pairs:
        full = compare(features[i], features[j], names)
        floored = compare(features[i], features[j], names, floor=REVIEW_THRESHOLD)
        if full.score >= REVIEW_THRESHOLD:
            assert floored == full, (i, j)
            reaching += 1
        else:
            assert floored.score < REVIEW_THRESHOLD, (i, j)
            below += floored.rule == "BELOW_FLOOR"
    # Not vacuous: the floor does stop pairs early, and many pairs reach it.
    assert below > 100
    assert reaching > 1000


def test_vetoed_is_compare_s_veto(features: list[LinkRecord]) -> None:
    pairs = sorted(candidate_pairs(features))
    seen = 0
    for i, j in pairs:
        vetoes = compare(features[i], features[j]).score == VETO
        assert vetoed(features[i], features[j]) is vetoes
        seen += vetoes
    assert seen > 0


def _full_comparisons(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine without its shortcuts: no floor, no veto before the names."""
    plain = scoring.compare

    def compare_in_full(*args: object, floor: float | None = None, **kwargs: object) -> scoring.Comparison:
        return plain(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "compare", compare_in_full)
    monkeypatch.setattr(engine, "vetoed", lambda a, b: False)


def test_the_linkage_is_the_same_without_the_shortcuts(
    features: list[LinkRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = engine.link(features)
    _full_comparisons(monkeypatch)
    full = engine.link(features)
    assert_same_linkage(fast, full)
    assert fast.possible and fast.links  # not vacuous


# Small pools, so that fields agree and disagree in every combination.
NAMES = ("Siti Aminah", "SITI AMINAH binti Ahmad", "Siti", "Dewi Lestari", "Aminah Siti", None)
NIKS = ("3273014505900001", "3273014505900002", "3273015405900001", "3273014505900019", None)
BIRTHS = (date(1990, 5, 5), date(1990, 1, 1), date(1990, 5, 4), date(1991, 5, 5), None)


POOLS = PersonPools(
    names=NAMES,
    niks=NIKS,
    births=BIRTHS,
    regions=("32.73", "32.01", "33.01", None),
    roles=(PersonRole.VICTIM, PersonRole.VICTIM_WITNESS, PersonRole.WITNESS),
    age_groups=(AgeGroup.UNKNOWN, AgeGroup.AGE_25_44, AgeGroup.AGE_6_12),
    passports=("A1234567", "B7654321", None),
    addresses=("Jl. Melati No. 5", "JL MELATI 5 RT 3", "Gg. Mawar 2", None),
    phones=("081234567890", "+62 812-3456-7890", "0813111222333", None),
)


@settings(max_examples=400, deadline=None)
@given(person_records(POOLS), person_records(POOLS), st.floats(-120, 30, allow_nan=False))
def test_any_floor_keeps_every_result_that_reaches_it(a: PersonRecord, b: PersonRecord, floor: float) -> None:
    left, right = link_record(0, a), link_record(1, b)
    names = NameFrequencies([left.name.tokens, right.name.tokens])
    names.set_records(2)
    full = compare(left, right, names)
    floored = compare(left, right, names, floor=floor)
    if full.score >= floor:
        assert floored == full
    else:
        assert floored.score < floor
