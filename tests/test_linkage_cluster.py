"""Each consistency rule of the clusterer on its own edge (docs/linkage.md §1 step 4).

A merge is checked against the whole clusters it would join: one passport, one sex, NIKs at
most one digit (or one adjacent swap) apart, birth years at most one year apart and full dates
at most 31 days apart or day/month swapped — unless both clusters hold NIKs —, no two records
of one case except a victim and the victim-witness, weak links (below 11) only between clusters
whose names all agree, reviewers' rejections and locked (already numbered) persons. Each test
builds the smallest clusters that sit on one side of one rule, and its mirror on the other.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.linkage.cluster import Clusterer, _pair_consistent, _single
from hub.linkage.features import LinkRecord
from hub.linkage.scoring import STRONG_THRESHOLD
from hub.vocabulary.model import PersonRole, Sex
from tests.link_records import NIK, rec

STRONG = 20.0
WEAK = 8.0


def records(*fields: dict) -> list[LinkRecord]:
    """Records 0..n-1 of one run, each from another agency unless the fields say otherwise."""
    return [rec(**{"source": f"s{n}", "key": str(n), **f}, ref=n) for n, f in enumerate(fields)]


def clusters(c: Clusterer) -> list[list[int]]:
    return sorted(sorted(g) for g in c.groups())


#: Each rule is checked with the first pair merged both ways: the record named first absorbs the
#: other (equal sizes), so a fact of the absorbed record must travel into the merged cluster.
BOTH_WAYS = pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])


def merge(c: Clusterer, i: int, j: int, backward: bool) -> bool:
    return c.link(j, i, STRONG) if backward else c.link(i, j, STRONG)


def test_links_merge_and_a_link_inside_one_cluster_is_accepted() -> None:
    c = Clusterer(records({}, {}, {}))
    assert clusters(c) == [[0], [1], [2]]
    assert c.link(0, 1, STRONG) is True
    assert clusters(c) == [[0, 1], [2]]
    assert c.cluster_of(1) == [0, 1]
    assert c.link(1, 0, -100.0) is True  # already one cluster: nothing to check
    assert c.refused == 0


def test_the_larger_cluster_absorbs_the_smaller_and_keeps_its_order() -> None:
    c = Clusterer(records({}, {}, {}))
    assert c.link(1, 0, STRONG)
    assert c.cluster_of(0) == [1, 0]  # equal sizes: the first named absorbs
    assert c.link(2, 0, STRONG)
    assert c.cluster_of(2) == [1, 0, 2]  # the pair absorbs the single record
    assert c.find(2) == c.find(0) == 1
    # Two pairs merged: the records of the absorbed pair are found through its old root.
    c = Clusterer(records({}, {}, {}, {}, {}))
    assert c.link(0, 1, STRONG) and c.link(2, 3, STRONG) and c.link(0, 2, STRONG)
    assert [c.find(n) for n in (3, 3, 2, 1, 0)] == [0, 0, 0, 0, 0]
    assert c.cluster_of(3) == [0, 1, 2, 3]
    assert clusters(c) == [[0, 1, 2, 3], [4]]


@BOTH_WAYS
def test_one_passport_per_cluster(backward: bool) -> None:
    c = Clusterer(records({"passport": "C1234567"}, {}, {"passport": "C7654321"}, {"passport": "C1234567"}))
    assert merge(c, 0, 1, backward)
    assert not c.link(1, 2, STRONG)  # the cluster's passport, through the record without one
    assert c.refused == 1
    assert c.link(1, 3, STRONG)
    assert clusters(c) == [[0, 1, 3], [2]]


@BOTH_WAYS
def test_one_sex_per_cluster(backward: bool) -> None:
    c = Clusterer(records({"sex": Sex.FEMALE}, {}, {"sex": Sex.MALE}, {"sex": Sex.FEMALE}))
    assert merge(c, 0, 1, backward)
    assert not c.link(2, 1, STRONG)
    assert c.link(3, 1, STRONG)
    assert c.refused == 1


@BOTH_WAYS
def test_niks_in_a_cluster_are_pairwise_at_most_one_digit_apart(backward: bool) -> None:
    one = "3374015006950002"  # one digit from NIK
    two = "3374015006950003"  # one digit from `one`, one from NIK too (the same position)
    far = "3374015006950012"  # one digit from `one`, two from NIK
    c = Clusterer(records({"nik": NIK}, {"nik": one}, {"nik": far}, {"nik": two}))
    assert merge(c, 0, 1, backward)
    assert not c.link(1, 2, STRONG)  # fits `one`, not NIK
    assert not c.link(2, 0, STRONG)
    assert c.link(3, 1, STRONG)
    assert c.refused == 2


@BOTH_WAYS
def test_birth_years_in_a_cluster_span_at_most_one_year(backward: bool) -> None:
    # Year-only dates (1 January): no full date is compared, only years.
    c = Clusterer(
        records(
            {"born": date(1990, 1, 1)},
            {"born": date(1991, 1, 1)},
            {"born": date(1992, 1, 1)},
            {"born": date(1989, 1, 1)},
            {"born": date(1991, 1, 1)},
        )
    )
    assert merge(c, 0, 1, backward)  # 1990-1991
    assert not c.link(2, 0, STRONG)  # 1990-1992 across the cluster
    assert not c.link(3, 1, STRONG)  # 1989-1991
    assert c.link(4, 0, STRONG)  # the pair (1990-1991) absorbs a 1991 record: still 1990-1991
    assert not c.link(0, 2, STRONG)  # 1992, the cluster named first
    # Two clusters with ranges: the merged range spans both lower ends.
    c = Clusterer(
        records(
            {"born": date(1991, 1, 1)},
            {"born": date(1991, 1, 1)},
            {"born": date(1990, 1, 1)},
            {"born": date(1991, 1, 1)},
            {"born": date(1992, 1, 1)},
        )
    )
    assert c.link(0, 1, STRONG) and c.link(2, 3, STRONG) and c.link(0, 2, STRONG)
    assert not c.link(4, 0, STRONG)  # 1990-1992
    assert Clusterer(records({"born": date(1992, 1, 1)}, {"born": date(1991, 1, 1)})).link(0, 1, STRONG)
    assert not Clusterer(records({"born": date(1989, 1, 1)}, {"born": date(1991, 1, 1)})).link(0, 1, WEAK)


def test_a_record_without_a_year_carries_the_year_of_the_cluster_it_joins() -> None:
    c = Clusterer(
        records({}, {"born": date(1990, 1, 1)}, {"born": date(1992, 1, 1)}, {"born": date(1991, 1, 1)})
    )
    assert c.link(0, 1, STRONG)  # the yearless record's cluster absorbs the 1990 one
    assert not c.link(0, 2, STRONG)
    assert c.link(0, 3, STRONG)
    c = Clusterer(records({"born": date(1990, 1, 1)}, {}, {"born": date(1992, 1, 1)}))
    assert c.link(0, 1, STRONG)
    assert not c.link(1, 2, STRONG)


@BOTH_WAYS
def test_full_birth_dates_in_a_cluster_are_within_31_days_or_swapped(backward: bool) -> None:
    born = date(1995, 6, 10)
    assert Clusterer(records({"born": born}, {"born": date(1995, 7, 11)})).link(0, 1, STRONG)  # 31 days
    assert not Clusterer(records({"born": born}, {"born": date(1995, 7, 12)})).link(0, 1, STRONG)  # 32
    assert Clusterer(records({"born": date(1995, 3, 7)}, {"born": date(1995, 7, 3)})).link(0, 1, STRONG)
    assert not Clusterer(records({"born": date(1995, 3, 7)}, {"born": date(1995, 7, 4)})).link(0, 1, STRONG)
    # Day and month swapped in another year is no typing slip of one date.
    assert not Clusterer(records({"born": date(1995, 3, 7)}, {"born": date(1996, 7, 3)})).link(0, 1, STRONG)
    # Every pair across the two clusters: 10 June - 11 July - 11 August is a chain, not one person.
    c = Clusterer(records({"born": born}, {"born": date(1995, 7, 11)}, {"born": date(1995, 8, 11)}))
    assert merge(c, 0, 1, backward)
    assert not c.link(2, 1, STRONG)


def test_niks_on_both_sides_outweigh_birth_dates_and_years() -> None:
    near = "3374015006950002"
    assert Clusterer(
        records({"nik": NIK, "born": date(1995, 6, 10)}, {"nik": near, "born": date(1995, 9, 10)})
    ).link(0, 1, STRONG)
    assert Clusterer(
        records({"nik": NIK, "born": date(1993, 1, 1)}, {"nik": NIK, "born": date(1996, 1, 1)})
    ).link(0, 1, STRONG)
    # A NIK on one side only does not.
    assert not Clusterer(records({"nik": NIK, "born": date(1995, 6, 10)}, {"born": date(1995, 9, 10)})).link(
        0, 1, STRONG
    )
    assert not Clusterer(records({"born": date(1995, 6, 10)}, {"nik": NIK, "born": date(1995, 9, 10)})).link(
        0, 1, STRONG
    )
    assert not Clusterer(records({"nik": NIK, "born": date(1993, 1, 1)}, {"born": date(1996, 1, 1)})).link(
        0, 1, STRONG
    )


@BOTH_WAYS
def test_one_case_holds_at_most_a_victim_and_the_same_victim_as_witness(backward: bool) -> None:
    case = {"source": "polri", "case": "K1"}
    c = Clusterer(
        records(
            {**case},
            {**case, "role": PersonRole.VICTIM_WITNESS},
            {**case, "role": PersonRole.VICTIM_WITNESS},
            {**case, "role": PersonRole.WITNESS},
            {"source": "lpsk", "case": "K1", "role": PersonRole.VICTIM},
            {"source": "polri", "case": "K2"},
            {**case},
        )
    )
    assert not c.link(0, 3, STRONG)  # victim and witness of one case
    assert merge(c, 0, 1, backward)
    assert not c.link(2, 0, STRONG)  # a third record of the case
    assert not c.link(6, 1, STRONG)  # another victim of it
    assert c.link(4, 0, STRONG)  # the same case key at another agency is another case
    assert c.link(5, 0, STRONG)  # another case of the same agency
    assert c.refused == 3
    # Two victims of one case are two people.
    assert not Clusterer(records({**case}, {**case})).link(0, 1, STRONG)


def test_weak_links_join_clusters_only_when_all_names_agree() -> None:
    c = Clusterer(records({"name": "Siti Rahmawati"}, {"name": "Siti Rahmawati"}, {"name": "Dewi Anggraini"}))
    assert c.link(0, 1, WEAK)  # two single records: the pair's own score decided
    assert not c.link(2, 0, STRONG_THRESHOLD - 0.5)
    assert c.link(2, 0, STRONG_THRESHOLD)  # strong: names are not checked
    # Names alike enough (similarity 78.6, at least 75) pass; unlike ones (69.2) do not.
    c = Clusterer(records({"name": "Siti Rahmawati"}, {"name": "Siti Rahmawati"}, {"name": "Sito Rahmawita"}))
    assert c.link(0, 1, STRONG)
    assert c.link(2, 1, WEAK)
    # Exactly 75 (Hayati is three quarters of Nur Hayati) is alike enough.
    c = Clusterer(records({"name": "Nur Hayati"}, {"name": "Nur Hayati"}, {"name": "Hayati"}))
    assert c.link(0, 1, STRONG)
    assert c.link(2, 1, WEAK)
    c = Clusterer(records({"name": "Rahmawati"}, {"name": "Rahmawati"}, {"name": "Rahmawaty Lestari"}))
    assert c.link(0, 1, STRONG)
    assert not c.link(2, 1, WEAK)
    # A single record joining a cluster of one is two records: no name check.
    assert Clusterer(records({"name": "Rahmawati"}, {"name": "Dewi Anggraini"})).link(0, 1, WEAK)


def _sized(left: int, right: int, odd: tuple[str, int]) -> tuple[Clusterer, int, int]:
    """Clusters of ``left`` and ``right`` records named alike except one (side, position)."""
    fields = [{"name": "Siti Rahmawati"} for _ in range(left + right)]
    side, position = odd
    fields[position if side == "left" else left + position] = {"name": "Dewi Anggraini"}
    c = Clusterer(records(*fields))
    for n in range(1, left):
        assert c.link(0, n, STRONG)
    for n in range(left + 1, left + right):
        assert c.link(left, n, STRONG)
    return c, 0, left


def test_names_of_large_clusters_are_checked_on_their_first_eight_records() -> None:
    # 16 x 4 = 64 record pairs: all are checked, the unlike name at position 15 refuses.
    c, i, j = _sized(16, 4, ("left", 15))
    assert not c.link(i, j, WEAK)
    # 9 x 8 = 72 > 64: the first eight of each side only; position 8 is not looked at.
    c, i, j = _sized(9, 8, ("left", 8))
    assert c.link(i, j, WEAK)
    c, i, j = _sized(8, 9, ("right", 8))
    assert c.link(i, j, WEAK)
    c, i, j = _sized(9, 8, ("left", 7))
    assert not c.link(i, j, WEAK)
    c, i, j = _sized(8, 9, ("right", 7))
    assert not c.link(i, j, WEAK)


def test_locked_persons_are_never_merged_but_take_new_records() -> None:
    c = Clusterer(records({}, {}, {}, {}, {}, {}))
    c.seed([[0, 1], [2, 3], [], [5]])
    assert clusters(c) == [[0, 1], [2, 3], [4], [5]]
    assert not c.link(1, 2, STRONG)
    assert not c.force(1, 2)  # not even a reviewer merges two numbered persons
    assert not c.link(0, 5, STRONG)  # a seeded single record is a locked person too
    assert c.link(4, 0, STRONG)  # a new record joins
    assert not c.link(4, 2, STRONG)  # and its cluster is still locked
    assert c.refused == 3
    assert clusters(c) == [[0, 1, 4], [2, 3], [5]]


def test_a_rejected_pair_is_kept_apart_through_every_merge() -> None:
    c = Clusterer(records({}, {}, {}, {}), apart=[(0, 1)])
    assert c.kept_apart(0, 1) and c.kept_apart(1, 0)
    assert not c.kept_apart(0, 2)
    assert not c.link(0, 1, STRONG)
    assert not c.force(0, 1)
    assert c.link(1, 2, STRONG)
    assert c.kept_apart(0, 2)
    assert not c.link(2, 0, STRONG)
    assert c.link(0, 3, STRONG)
    assert not c.link(3, 2, STRONG)  # the rejection travels with both clusters
    assert c.refused == 3
    assert clusters(c) == [[0, 3], [1, 2]]


def test_a_rejection_travels_with_records_absorbed_into_other_clusters() -> None:
    c = Clusterer(records({}, {}, {}, {}), apart=[(0, 1)])
    assert c.link(2, 0, STRONG)  # 2 absorbs 0
    assert c.link(3, 1, STRONG)  # 3 absorbs 1
    assert not c.link(2, 3, STRONG)
    assert not c.kept_apart(2, 2)
    assert c.kept_apart(3, 2)


def test_rejections_of_both_merged_clusters_are_kept() -> None:
    """0 and 2 merge, each with its own rejection; so do 1 and 4: the 0-1 rejection still holds."""
    c = Clusterer(records({}, {}, {}, {}, {}, {}), apart=[(0, 1), (2, 3), (4, 5)])
    assert c.link(0, 2, STRONG)
    assert c.link(1, 4, STRONG)
    assert c.kept_apart(0, 4) and c.kept_apart(4, 2)
    assert not c.link(2, 4, STRONG)
    assert not c.link(1, 0, STRONG)


def test_records_never_linked_are_alone_and_not_kept_apart() -> None:
    c = Clusterer(records({}, {}, {}))
    assert not c.kept_apart(0, 1)
    assert c.cluster_of(2) == [2]
    assert c.merged() == []
    assert not Clusterer(records({"sex": Sex.MALE}, {"sex": Sex.FEMALE})).link(0, 1, STRONG)
    refused = Clusterer(records({"sex": Sex.MALE}, {"sex": Sex.FEMALE}, {}))
    assert not refused.link(0, 1, STRONG)
    assert refused.merged() == []  # records checked and refused are still alone
    assert refused.link(0, 2, STRONG)
    assert refused.merged() == [[0, 2]]
    assert clusters(refused) == [[0, 2], [1]]


def test_seeding_a_group_that_names_a_record_twice_keeps_one_cluster() -> None:
    c = Clusterer(records({}, {}, {}))
    c.seed([[0, 1, 0]])
    assert clusters(c) == [[0, 1], [2]]
    assert c.cluster_of(1) == [0, 1]


def test_a_confirmation_overrides_the_consistency_rules() -> None:
    c = Clusterer(
        records({"sex": Sex.FEMALE, "passport": "C1234567"}, {"sex": Sex.MALE, "passport": "C7654321"})
    )
    assert c.force(0, 1)
    assert c.force(1, 0)  # already one cluster
    assert clusters(c) == [[0, 1]]
    assert c.refused == 0
    # One locked person may take a confirmed record.
    c = Clusterer(records({}, {}))
    c.seed([[0]])
    assert c.force(1, 0)


_PAIR_NIKS = (None, NIK, NIK[:-1] + "2", NIK[:5] + "99" + NIK[7:], "3374015106950001")
_PAIR_BIRTHS = (
    None,
    date(1995, 6, 10),
    date(1995, 10, 6),
    date(1995, 8, 1),
    date(1996, 6, 10),
    date(1995, 1, 1),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "nik": st.sampled_from(_PAIR_NIKS),
                "passport": st.sampled_from((None, "B1234567", "C7654321")),
                "sex": st.sampled_from((None, Sex.FEMALE, Sex.MALE)),
                "born": st.sampled_from(_PAIR_BIRTHS),
                "nik_birth": st.sampled_from((None, date(1995, 6, 10), date(1993, 2, 2))),
                "case": st.sampled_from((None, "c1", "c2")),
                "source": st.sampled_from(("polri", "lpsk")),
                "role": st.sampled_from((PersonRole.VICTIM, PersonRole.VICTIM_WITNESS, PersonRole.WITNESS)),
            }
        ),
        min_size=2,
        max_size=2,
    ),
    st.booleans(),
)
def test_two_records_alone_are_checked_as_two_clusters_would_be(fields: list[dict], strong: bool) -> None:
    """The shortcut for two records that are each alone gives the general check's answer."""
    a, b = records(*fields)
    general = Clusterer([a, b])._consistent(_single(a), _single(b), strong=strong)
    assert _pair_consistent(a, b) is general
    c = Clusterer([a, b])
    assert c.link(0, 1, STRONG_THRESHOLD if strong else 8.0) is general
    assert (c.refused, len(c.merged())) == ((0, 1) if general else (1, 0))
