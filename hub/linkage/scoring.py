"""Scoring a candidate pair: how much the evidence says "the same human being".

Each field adds or subtracts points, in the spirit of Fellegi-Sunter weights (agreement on a
rare, reliable field counts much; disagreement on a field that people rarely get wrong counts
heavily against):

=================  ===========================================  =========================
field              agrees                                        disagrees
=================  ===========================================  =========================
NIK                +12 (the national identity number)            veto (different people)
passport           +10                                           -8 (renewals happen)
sex                0 (half of everybody agrees)                  veto
birth date         +4 exact, +2 within a month or day/month      -6 more than a year apart
                   swapped, +1/+0.5 same year
name               +5 (≥ 97), +3.5 (≥ 90), +1.5 (≥ 80)           -5 below 70 (rapidfuzz)
rare name          up to +4 for an exact match on a name rarer   —
                   than the number of records explains
patronym           +1 when both write it alike                   -3 when both write it
region             +1.5 same regency, +0.5 same province         -0.5 (people move)
age band           —                                             veto if the bands cannot
                                                                 meet within 7 years
same case          +4 victim and victim-witness of one case      veto for any other roles
=================  ===========================================  =========================

A pair is a link when its score reaches :data:`LINK_THRESHOLD`. The *rule* names the
strongest evidence (``NIK``, ``PASSPORT``, ``NAME_BIRTH_DATE``, …) and is stored in the
linkage index so an auditor can see why two records were joined, without seeing the data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz

from hub.linkage.features import LinkRecord
from hub.linkage.normalise import phonetic
from hub.vocabulary.model import PersonRole

#: Score at which a candidate pair is a link.
LINK_THRESHOLD = 8.0
#: Links at or above this score carry an identifier or several agreeing fields: only these
#: may join two clusters that are each already larger than one record.
STRONG_THRESHOLD = 11.0
VETO = -100.0

_VICTIM_PAIR = frozenset({PersonRole.VICTIM, PersonRole.VICTIM_WITNESS})


class NameFrequencies:
    """How common each name token is in this run, to weigh an exact name match.

    Two people sharing ``Budi`` is ordinary; sharing ``Tjahyo Rafid Waloeyo`` is not. The
    information of a name is the sum over its tokens of ``log2(N / count)``; what remains
    after subtracting ``log2(N)`` (the number of other records it could collide with) is the
    *surplus*: how many bits beyond chance the agreement carries. Only counts are kept.
    """

    def __init__(self, names: Iterable[tuple[str, ...]]) -> None:
        self.counts: Counter[str] = Counter()
        total = 0
        for tokens in names:
            for token in tokens:
                self.counts[phonetic(token)] += 1
                total += 1
        self.total = max(total, 1)
        self.records = 1
        self._log_total = math.log2(self.total)

    def set_records(self, records: int) -> None:
        self.records = max(records, 1)

    def surplus(self, tokens: tuple[str, ...]) -> float:
        """Bits of a name beyond those needed to single it out among all records."""
        bits = 0.0
        for token in tokens:
            if len(token) < 2:
                continue
            bits += self._log_total - math.log2(self.counts.get(phonetic(token), 0) + 1)
        return bits - math.log2(self.records)


def _rarity_points(surplus: float) -> float:
    """0 up to 4 points for an exact match on a name rarer than chance explains."""
    return max(0.0, min(4.0, surplus - 2.0))


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing two records."""

    score: float
    rule: str
    name_similarity: float


def name_similarity(a: LinkRecord, b: LinkRecord) -> float:
    """0-100: how alike the given names are, order-free, initials matching their word."""
    ta, tb = a.name.tokens, b.name.tokens
    if not ta or not tb:
        return 0.0
    if any(len(t) == 1 for t in ta) or any(len(t) == 1 for t in tb):
        ta, tb = _expand_initials(ta, tb), _expand_initials(tb, ta)
    return fuzz.token_sort_ratio(" ".join(ta), " ".join(tb))


def _expand_initials(tokens: tuple[str, ...], other: tuple[str, ...]) -> tuple[str, ...]:
    """``a yusuf`` against ``ahmad yusuf`` reads as ``ahmad yusuf``."""
    out = []
    for token in tokens:
        if len(token) == 1:
            match = next((o for o in other if len(o) > 1 and o[0] == token), None)
            out.append(match or token)
        else:
            out.append(token)
    return tuple(out)


def _birth_points(a: LinkRecord, b: LinkRecord) -> tuple[float, str | None]:
    da, db = a.exact_birth, b.exact_birth
    if da is not None and db is not None:
        if da == db:
            return 4.0, "BIRTH_DATE"
        if abs((da - db).days) <= 31 or (da.year == db.year and da.day == db.month and da.month == db.day):
            return 2.0, "BIRTH_DATE"
        if da.year == db.year:  # both dates written in full, months apart: two people
            return -4.0, None
        return (-1.0 if abs(da.year - db.year) == 1 else -6.0), None
    ya, yb = a.birth_year, b.birth_year
    if ya is not None and yb is not None:
        if ya == yb:
            return 1.0, "BIRTH_YEAR"
        return (-1.0 if abs(ya - yb) == 1 else -6.0), None
    return 0.0, None


def _age_compatible(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether recorded ages (bands at report dates 2019-2025) and birth years can agree."""
    ranges = []
    for record in (a, b):
        if record.birth_year is not None:
            # Age at any report date of the observed window, one year of slack either side.
            ranges.append((2018 - record.birth_year, 2026 - record.birth_year))
        elif record.age_range is not None:
            ranges.append(record.age_range)
    if len(ranges) < 2:
        return True
    (lo1, hi1), (lo2, hi2) = ranges
    return lo1 <= hi2 + 7 and lo2 <= hi1 + 7


def _region_points(a: LinkRecord, b: LinkRecord) -> float:
    ra, rb = a.regions, b.regions
    if not ra or not rb:
        return 0.0
    if any(x == y for x in ra for y in rb):
        return 1.5
    if any(x[:2] == y[:2] for x in ra for y in rb):
        return 0.5
    return -0.5


def _name_points(similarity: float) -> float:
    if similarity >= 97:
        return 5.0
    if similarity >= 90:
        return 3.5
    if similarity >= 80:
        return 1.5
    if similarity >= 70:
        return 0.0
    return -5.0


def compare(a: LinkRecord, b: LinkRecord, names: NameFrequencies | None = None) -> Comparison:
    """Score the pair; a veto gives a score far below any threshold.

    With ``names``, an exact name match also earns points for how rare the name is.
    """
    if a.sex is not None and b.sex is not None and a.sex is not b.sex:
        return Comparison(VETO, "SEX_CONFLICT", 0.0)
    if a.nik and b.nik and a.nik != b.nik:
        return Comparison(VETO, "NIK_CONFLICT", 0.0)
    same_case = a.source == b.source and a.case_key is not None and a.case_key == b.case_key
    if same_case and (a.roles | b.roles) != _VICTIM_PAIR:
        return Comparison(VETO, "SAME_CASE", 0.0)
    if not _age_compatible(a, b):
        return Comparison(VETO, "AGE_CONFLICT", 0.0)

    similarity = name_similarity(a, b)
    score = _name_points(similarity)
    rule = "NAME"
    if names is not None and similarity >= 97:
        score += _rarity_points(names.surplus(a.name.tokens))
    if a.nik and a.nik == b.nik:
        score += 12.0
        rule = "NIK"
    if a.passport and b.passport:
        if a.passport == b.passport:
            score += 10.0
            rule = "PASSPORT" if rule == "NAME" else rule
        else:
            score -= 8.0
    birth, birth_rule = _birth_points(a, b)
    score += birth
    if rule == "NAME" and birth_rule is not None:
        rule = f"NAME_{birth_rule}"
    if a.name.patronym and b.name.patronym:
        pat = fuzz.ratio(" ".join(a.name.patronym), " ".join(b.name.patronym))
        score += 1.0 if pat >= 85 else -3.0
    region = _region_points(a, b)
    score += region
    if rule == "NAME" and region > 1:
        rule = "NAME_REGION"
    if same_case:
        score += 4.0
        if rule.startswith("NAME"):
            rule = "NAME_SAME_CASE"
    return Comparison(score, rule, similarity)


def birth_conflict(a: date | None, b: date | None) -> bool:
    """Whether two birth dates cannot belong to one person (more than a year apart)."""
    return a is not None and b is not None and abs(a.year - b.year) > 1
