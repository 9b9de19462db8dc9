"""Transitive-safe clustering: one bad pair must not chain unrelated people together.

Plain connected components over links are fragile: if A-B is right and B-C is a mistake, A
and C end up as one "person" although nothing says they are. Here links are merged in order
of decreasing score, and every merge is checked against the whole clusters it would join:

- one passport and one sex in a cluster, and NIKs at most one digit (or one adjacent swap)
  apart from each other;
- birth years in a cluster at most one year apart, and full birth dates at most a month
  apart unless day and month are swapped — unless both clusters hold NIKs (by then known to agree to
  a digit), which outweigh a mistyped date — or the mistyped NIK digit that encodes it;
- no two records of the same case in the same source, except a victim and the same victim
  examined as a witness (saksi korban);
- a weak link (below :data:`~hub.linkage.scoring.STRONG_THRESHOLD`) only joins clusters
  whose names all agree with each other.

A merge that breaks any of these is refused, so a bad pair can at worst add one wrong record
to a cluster, never join two people. Reviewers' decisions bind: a rejected pair never ends up
in one cluster, a confirmed pair is merged first (:meth:`Clusterer.force`). In an incremental
run, clusters that already carry a person id are *locked*: new records may join them, but two
of them are never merged, so ids stay stable (a full run may re-cluster).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from hub.linkage.features import LinkRecord
from hub.linkage.names import compare_names
from hub.linkage.scoring import STRONG_THRESHOLD, nik_compatible
from hub.vocabulary.model import PersonRole, Sex

_VICTIM_PAIR = frozenset({PersonRole.VICTIM, PersonRole.VICTIM_WITNESS})
#: Weak merges check names pairwise only up to this many record pairs (clusters are small).
_NAME_CHECK_LIMIT = 64
_NAME_AGREEMENT = 75


CaseSlot = tuple[str, str]  # (source, case key)


@dataclass(slots=True)
class _Cluster:
    """What a cluster's consistency checks need, as small tuples (distinct values each).

    Tuples, not sets: most clusters hold one or two records, and an empty tuple is shared
    while an empty set costs 216 bytes — tens of thousands of clusters are alive at once.
    """

    members: list[int]
    niks: tuple[str, ...] = ()
    passports: tuple[str, ...] = ()
    sexes: tuple[Sex, ...] = ()
    years: tuple[int, int] | None = None
    births: tuple[date, ...] = ()
    #: (case, roles of one member in it), one entry per member recorded in a case
    cases: tuple[tuple[CaseSlot, frozenset[PersonRole]], ...] = ()
    locked: bool = False
    #: records a reviewer said are *not* this person (rejected links), of any member
    apart: set[int] | None = None


def _single(record: LinkRecord) -> _Cluster:
    cluster = _Cluster([record.ref])
    if record.nik:
        cluster.niks = (record.nik,)
    if record.passport:
        cluster.passports = (record.passport,)
    if record.sex is not None:
        cluster.sexes = (record.sex,)
    if record.birth_year is not None:  # as recorded, else as in the NIK
        cluster.years = (record.birth_year, record.birth_year)
    if record.exact_birth is not None:  # as recorded, else as in the NIK (which may be mistyped)
        cluster.births = (record.exact_birth,)
    if record.case_key is not None:
        cluster.cases = (((record.source, record.case_key), record.roles),)
    return cluster


def _joined(a: tuple, b: tuple) -> tuple:  # type: ignore[type-arg]
    """The distinct values of both, in first-seen order."""
    if not b:
        return a
    if not a:
        return b
    return tuple(dict.fromkeys(a + b))


def _cases_compatible(a: _Cluster, b: _Cluster) -> bool:
    """No two records of one case, except a victim and the same victim examined as a witness."""
    if not a.cases or not b.cases:
        return True
    mine: dict[CaseSlot, list[frozenset[PersonRole]]] = {}
    for slot, roles in a.cases:
        mine.setdefault(slot, []).append(roles)
    theirs: dict[CaseSlot, list[frozenset[PersonRole]]] = {}
    for slot, roles in b.cases:
        theirs.setdefault(slot, []).append(roles)
    for slot, roles_b in theirs.items():
        if slot in mine:
            together = mine[slot] + roles_b
            if len(together) > 2 or frozenset().union(*together) != _VICTIM_PAIR:
                return False
    return True


#: Two full birth dates of one person differ by at most this many days (a mistyped day or month).
BIRTH_DATE_TOLERANCE = 31


def _dates_agree(x: date, y: date) -> bool:
    if abs((x - y).days) <= BIRTH_DATE_TOLERANCE:
        return True
    return x.year == y.year and x.day == y.month and x.month == y.day


def _pair_consistent(a: LinkRecord, b: LinkRecord) -> bool:
    """:meth:`Clusterer._consistent` of two records that are each alone, on the records themselves.

    Alone, never locked (a seeded person has its cluster) nor named by a reviewer's rejection
    (those have theirs too): what is left of the checks is one passport, one sex, NIKs one
    slip apart — or else birth years and dates that agree — and not two people of one case.
    Two records are never more than two, so a weak link needs no name check.
    """
    if a.passport and b.passport and a.passport != b.passport:
        return False
    if a.sex is not None and b.sex is not None and a.sex is not b.sex:
        return False
    if a.nik and b.nik:
        if not nik_compatible(a.nik, b.nik):
            return False
    else:
        if a.birth_year is not None and b.birth_year is not None and abs(a.birth_year - b.birth_year) > 1:
            return False
        x, y = a.exact_birth, b.exact_birth
        if x is not None and y is not None and not _dates_agree(x, y):
            return False
    if a.case_key is not None and a.case_key == b.case_key and a.source == b.source:
        return (a.roles | b.roles) == _VICTIM_PAIR
    return True


class Clusterer:
    """Union-find over record positions with per-cluster consistency checks."""

    def __init__(self, records: Sequence[LinkRecord], apart: Iterable[tuple[int, int]] = ()) -> None:
        self.records = records
        self.parent = list(range(len(records)))
        #: root → its cluster, made when a record first takes part in a merge or check: most
        #: records of a big run stay alone, and a cluster's sets cost about a kilobyte.
        self.clusters: dict[int, _Cluster] = {}
        self.refused = 0
        for i, j in apart:  # rejected by a reviewer: never in one cluster
            for x, y in ((i, j), (j, i)):
                cluster = self._cluster(x)
                if cluster.apart is None:
                    cluster.apart = set()
                cluster.apart.add(y)

    def _cluster(self, root: int) -> _Cluster:
        """The cluster rooted at ``root`` (a root alone is made on first use)."""
        cluster = self.clusters.get(root)
        if cluster is None:
            cluster = self.clusters[root] = _single(self.records[root])
        return cluster

    def force(self, i: int, j: int) -> bool:
        """Merge on a reviewer's confirmation: only a rejection or two locked persons stop it."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        a, b = self._cluster(ri), self._cluster(rj)
        if (a.locked and b.locked) or self._kept_apart(a, b):
            return False
        self._union(ri, rj)
        return True

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def seed(self, groups: Iterable[Sequence[int]]) -> None:
        """Start from existing clusters (an incremental run); they become locked."""
        for group in groups:
            if not group:
                continue
            first = group[0]
            for other in group[1:]:
                self._union(self.find(first), self.find(other))
            self._cluster(self.find(first)).locked = True

    def link(self, i: int, j: int, score: float) -> bool:
        """Merge the clusters of ``i`` and ``j`` if that keeps both consistent."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        clusters = self.clusters
        if ri not in clusters and rj not in clusters:
            # Two records alone (half the links of a run): record against record.
            consistent = _pair_consistent(self.records[ri], self.records[rj])
        else:
            consistent = self._consistent(
                self._cluster(ri), self._cluster(rj), strong=score >= STRONG_THRESHOLD
            )
        if not consistent:
            self.refused += 1
            return False
        self._union(ri, rj)
        return True

    def groups(self) -> list[list[int]]:
        """Every cluster as a list of record positions."""
        parent, clusters = self.parent, self.clusters
        return [
            clusters[root].members if root in clusters else [root]
            for root in range(len(parent))
            if parent[root] == root
        ]

    def merged(self) -> list[list[int]]:
        """The clusters of more than one record (cheaper than :meth:`groups` on a big run)."""
        return [c.members for c in self.clusters.values() if len(c.members) > 1]

    def root_and_size(self, i: int) -> tuple[int, int]:
        """The root of ``i``'s cluster and how many records it holds (no cluster is made)."""
        root = self.find(i)
        cluster = self.clusters.get(root)
        return root, (len(cluster.members) if cluster is not None else 1)

    def cluster_of(self, i: int) -> list[int]:
        root = self.find(i)
        cluster = self.clusters.get(root)
        return cluster.members if cluster is not None else [root]

    # -- internals ---------------------------------------------------------------------------

    def kept_apart(self, i: int, j: int) -> bool:
        """Whether a reviewer's rejection keeps the clusters of ``i`` and ``j`` apart."""
        ri, rj = self.find(i), self.find(j)
        if ri not in self.clusters and rj not in self.clusters:
            return False  # two records alone: no reviewer's rejection names either
        return self._kept_apart(self._cluster(ri), self._cluster(rj))

    @staticmethod
    def _kept_apart(a: _Cluster, b: _Cluster) -> bool:
        if not a.apart and not b.apart:
            return False
        return bool(
            (a.apart and any(m in a.apart for m in b.members))
            or (b.apart and any(m in b.apart for m in a.members))
        )

    def _consistent(self, a: _Cluster, b: _Cluster, *, strong: bool) -> bool:
        if a.locked and b.locked:
            return False
        if self._kept_apart(a, b):
            return False
        if len(_joined(a.passports, b.passports)) > 1 or len(_joined(a.sexes, b.sexes)) > 1:
            return False
        if not all(nik_compatible(x, y) for x in a.niks for y in b.niks):
            return False
        # NIKs on both sides that agree (to a digit) outweigh a birth date: the mistyped one
        # is the date, or the NIK digit that encodes it.
        same_nik = bool(a.niks and b.niks)
        if (
            not same_nik
            and a.years
            and b.years
            and max(a.years[1], b.years[1]) - min(a.years[0], b.years[0]) > 1
        ):
            return False
        if (
            not same_nik
            and a.births
            and b.births
            and not all(_dates_agree(x, y) for x in a.births for y in b.births)
        ):
            return False
        if not _cases_compatible(a, b):
            return False
        if not strong and len(a.members) + len(b.members) > 2:
            return self._names_agree(a.members, b.members)
        return True

    def _names_agree(self, left: list[int], right: list[int]) -> bool:
        if len(left) * len(right) > _NAME_CHECK_LIMIT:
            left, right = left[:8], right[:8]
        for i in left:
            a = self.records[i].name
            for j in right:
                if compare_names(a, self.records[j].name)[1] < _NAME_AGREEMENT:
                    return False
        return True

    def _union(self, ri: int, rj: int) -> None:
        if ri == rj:
            return
        a, b = self._cluster(ri), self._cluster(rj)
        if len(a.members) < len(b.members):
            ri, rj, a, b = rj, ri, b, a
        self.parent[rj] = ri
        a.members.extend(b.members)
        a.niks = _joined(a.niks, b.niks)
        a.passports = _joined(a.passports, b.passports)
        a.sexes = _joined(a.sexes, b.sexes)
        a.births = _joined(a.births, b.births)
        if b.years:
            a.years = (
                b.years if a.years is None else (min(a.years[0], b.years[0]), max(a.years[1], b.years[1]))
            )
        a.cases = a.cases + b.cases
        a.locked = a.locked or b.locked
        if b.apart:
            a.apart = b.apart if not a.apart else a.apart | b.apart
        del self.clusters[rj]
