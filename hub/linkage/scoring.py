"""Scoring a candidate pair: graded agreement per field, and how much it says "the same person".

Each field is compared on its own into an *agreement level* (the evidence a clerical
reviewer sees, :class:`Levels`), and each level carries a weight in points — a log-odds in the
spirit of Fellegi–Sunter: agreement on a rare, reliable field counts much; disagreement on a
field people rarely get wrong counts heavily against. The weights were calibrated offline
(``docs/linkage.md`` says how and against what); the rarity of a name is estimated from the
data of each run (:class:`NameFrequencies`).

=============  ==========================================================  =======
field          level                                                        points
=============  ==========================================================  =======
NIK            ``EXACT``                                                    +12
               ``ONE_DIGIT``: one digit or two adjacent digits differ,      +7
               with names agreeing at least ``FUZZY`` (else ``DIFFERENT``)
               ``DIFFERENT``                                                -8
passport       ``EXACT`` / ``DIFFERENT`` (renewals happen)                  +10 / -8
sex            conflict                                                     veto
birth date     ``EXACT`` (recorded or encoded in the NIK)                   +5
               ``SWAPPED`` day and month                                    +3
               ``NEAR`` within a month                                      +2
               ``YEAR`` (one side knows only the year)                      +1
               ``YEAR_OFF_ONE`` / ``SAME_YEAR_CONFLICT`` / ``CONFLICT``      -1 / -4 / -6
name           ``EXACT`` 5, ``VARIANT`` 4.5, ``SIMILAR`` 3.5, ``SUBSET`` 3.5,
               ``SHORT_FORM`` 3, ``FUZZY`` 1.5, ``PARTIAL`` 1, ``WEAK`` 0,
               ``DIFFERENT`` -5 (:mod:`hub.linkage.names`)
rare name      up to +4 for an exact or variant match on a name rarer than
               the number of records explains
patronym       alike / both written and different                           +1 / -3
phone          ``EXACT`` (last nine digits)                                 +5
address        ``SAME`` / ``SIMILAR`` (people move: no penalty)             +3 / +0.5
region         same regency / same province / different                    +1.5 / +0.5 / -0.5
age band       bands cannot meet within 7 years                             veto
same case      victim and victim-witness of one case / other roles          +4 / veto
=============  ==========================================================  =======

**No link on a name alone**: a pair whose only agreement is its name — no NIK, passport,
birth date or year, phone, address or shared case agrees (a regency is shared by too many
people to single one out) — is never linked automatically, however rare the name: its score
is capped below :data:`LINK_THRESHOLD`, its rule is ``NAME_ONLY``, and when the name is rare
enough to reach :data:`REVIEW_THRESHOLD` it goes to clerical review.

A pair at or above :data:`LINK_THRESHOLD` is a link; between :data:`REVIEW_THRESHOLD` and it
a *possible* link, offered to coordinators for review. The *rule* names the strongest
evidence (``NIK``, ``NIK_ONE_DIGIT``, ``PASSPORT``, ``NAME_BIRTH_DATE``, …) and is stored in
the linkage index so an auditor can see why two records were joined, without the data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import chain
from operator import ne
from typing import NamedTuple

from rapidfuzz import fuzz

from hub.linkage.features import LinkRecord
from hub.linkage.names import NameLevel, compare_names, compare_tokens
from hub.linkage.normalise import phonetic
from hub.vocabulary.model import PersonRole

#: Score at which a candidate pair is a link.
LINK_THRESHOLD = 8.0
#: Score from which a pair that is not a link is offered for clerical review.
REVIEW_THRESHOLD = 6.0
#: Links at or above this score carry an identifier or several agreeing fields: only these
#: may join two clusters that are each already larger than one record.
STRONG_THRESHOLD = 11.0
VETO = -100.0
#: Where a name-only pair's score is capped (below the link threshold, inside the review band).
_NAME_ONLY_CAP = LINK_THRESHOLD - 0.5

_VICTIM_PAIR = frozenset({PersonRole.VICTIM, PersonRole.VICTIM_WITNESS})


class Agreement(StrEnum):
    """Agreement level of one field of a pair (identifier, birth date or contact)."""

    EXACT = "EXACT"
    ONE_DIGIT = "ONE_DIGIT"
    SWAPPED = "SWAPPED"
    NEAR = "NEAR"
    YEAR = "YEAR"
    YEAR_OFF_ONE = "YEAR_OFF_ONE"
    SAME = "SAME"
    SIMILAR = "SIMILAR"
    SAME_REGENCY = "SAME_REGENCY"
    SAME_PROVINCE = "SAME_PROVINCE"
    SAME_YEAR_CONFLICT = "SAME_YEAR_CONFLICT"
    CONFLICT = "CONFLICT"
    DIFFERENT = "DIFFERENT"
    MISSING = "MISSING"


NAME_POINTS: dict[NameLevel, float] = {
    NameLevel.EXACT: 5.0,
    NameLevel.VARIANT: 4.5,
    NameLevel.SIMILAR: 3.5,
    NameLevel.SUBSET: 3.5,
    NameLevel.SHORT_FORM: 3.0,
    NameLevel.FUZZY: 1.5,
    NameLevel.PARTIAL: 1.0,
    NameLevel.WEAK: 0.0,
    NameLevel.DIFFERENT: -5.0,
    NameLevel.MISSING: 0.0,
}
NIK_POINTS = {Agreement.EXACT: 12.0, Agreement.ONE_DIGIT: 7.0, Agreement.DIFFERENT: -8.0}
BIRTH_POINTS = {
    Agreement.EXACT: 5.0,
    Agreement.SWAPPED: 3.0,
    Agreement.NEAR: 2.0,
    Agreement.YEAR: 1.0,
    Agreement.YEAR_OFF_ONE: -1.0,
    Agreement.SAME_YEAR_CONFLICT: -4.0,
    Agreement.CONFLICT: -6.0,
}
PHONE_POINTS = 5.0
ADDRESS_POINTS = {Agreement.SAME: 3.0, Agreement.SIMILAR: 0.5}
REGION_POINTS = {Agreement.SAME_REGENCY: 1.5, Agreement.SAME_PROVINCE: 0.5, Agreement.DIFFERENT: -0.5}


#: Names whose surplus :class:`NameFrequencies` remembers (then it starts again).
_SURPLUS_KEPT = 131_072


class NameFrequencies:
    """How common each name token is in this run, to weigh an exact name match.

    Two people sharing ``Budi`` is ordinary; sharing ``Tjahyo Rafid Waloeyo`` is not. The
    information of a name is the sum over its tokens of ``log2(N / count)``; what remains
    after subtracting ``log2(N)`` (the number of other records it could collide with) is the
    *surplus*: how many bits beyond chance the agreement carries. Only counts are kept.
    """

    def __init__(self, names: Iterable[tuple[str, ...]]) -> None:
        # Counted as written first (a million records hold a few thousand distinct tokens),
        # then by sound.
        written = Counter(chain.from_iterable(names))
        self.counts: Counter[str] = Counter()
        for token, count in written.items():
            self.counts[phonetic(token)] += count
        self.total = max(written.total(), 1)
        self.records = 1
        self._log_total = math.log2(self.total)
        #: bits of each token as written, worked out on first use
        self._bits: dict[str, float] = {}
        #: :meth:`surplus` of each name met (every pair compared asks for one side's)
        self._surplus: dict[tuple[str, ...], float] = {}

    def set_records(self, records: int) -> None:
        self.records = max(records, 1)
        self._surplus.clear()

    def surplus(self, tokens: tuple[str, ...]) -> float:
        """Bits of a name beyond those needed to single it out among all records."""
        found = self._surplus.get(tokens)
        if found is None:
            if len(self._surplus) >= _SURPLUS_KEPT:
                self._surplus.clear()
            found = self._surplus[tokens] = self._bits_of(tokens) - math.log2(self.records)
        return found

    def _bits_of(self, tokens: tuple[str, ...]) -> float:
        bits = 0.0
        known = self._bits
        for token in tokens:
            if len(token) < 2:
                continue
            more = known.get(token)
            if more is None:
                more = known[token] = self._log_total - math.log2(self.counts.get(phonetic(token), 0) + 1)
            bits += more
        return bits


def _rarity_points(surplus: float) -> float:
    """0 up to 4 points for an exact match on a name rarer than chance explains."""
    return max(0.0, min(4.0, surplus - 2.0))


class Comparison(NamedTuple):
    """The outcome of comparing two records (a tuple: millions are made in a big run)."""

    score: float
    rule: str
    name_similarity: float
    #: Whether anything but the name agrees (the pair may be linked automatically).
    corroborated: bool = True


@dataclass(frozen=True, slots=True)
class Levels:
    """The agreement level of every field of a pair: the evidence shown to a reviewer.

    Levels only: no value of either record, so they can be stored and shown to any role
    that may see that the pair exists.
    """

    name: NameLevel
    nik: Agreement
    passport: Agreement
    birth_date: Agreement
    sex: Agreement
    phone: Agreement
    address: Agreement
    region: Agreement
    patronym: Agreement

    def as_dict(self) -> dict[str, str]:
        """Field (GraphQL name) → level name, as stored in the review queue."""
        return {
            "name": self.name.name,
            "nik": self.nik.value,
            "passportNumber": self.passport.value,
            "birthDate": self.birth_date.value,
            "sex": self.sex.value,
            "phone": self.phone.value,
            "address": self.address.value,
            "region": self.region.value,
            "patronym": self.patronym.value,
        }


# --- field comparisons (each tested on its own) ---------------------------------------------


def nik_agreement(a: str | None, b: str | None) -> Agreement:
    """``EXACT``, ``ONE_DIGIT`` (one digit, or two adjacent digits swapped), ``DIFFERENT``."""
    if not a or not b:
        return Agreement.MISSING
    if a == b:
        return Agreement.EXACT
    if len(a) == len(b):
        # Differing digits counted in C (a third of the time of a loop that stops at the
        # third difference); their places are looked for only when there are two.
        count = sum(map(ne, a, b))
        if count == 1:
            return Agreement.ONE_DIGIT
        if count == 2:
            k = next(k for k in range(len(a)) if a[k] != b[k])
            if k + 1 < len(a) and a[k] == b[k + 1] and a[k + 1] == b[k]:
                return Agreement.ONE_DIGIT
    return Agreement.DIFFERENT


def _date_agreement(x: date, y: date) -> Agreement:
    if x == y:
        return Agreement.EXACT
    if x.year == y.year and x.day == y.month and x.month == y.day:
        return Agreement.SWAPPED
    if abs((x - y).days) <= 31:
        return Agreement.NEAR
    if x.year == y.year:
        return Agreement.SAME_YEAR_CONFLICT
    return Agreement.YEAR_OFF_ONE if abs(x.year - y.year) == 1 else Agreement.CONFLICT


_BIRTH_ORDER = (
    Agreement.EXACT,
    Agreement.SWAPPED,
    Agreement.NEAR,
    Agreement.YEAR,
    Agreement.YEAR_OFF_ONE,
    Agreement.SAME_YEAR_CONFLICT,
    Agreement.CONFLICT,
)
_BIRTH_RANK = {level: rank for rank, level in enumerate(_BIRTH_ORDER)}


def _nik_date_differs(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether both NIKs are recorded and differ in their date digits (positions 7-12)."""
    return bool(a.nik and b.nik and a.nik[6:12] != b.nik[6:12])


def birth_agreement(a: LinkRecord, b: LinkRecord) -> Agreement:
    """The best agreement between the full birth dates the records state (recorded or in the NIK).

    Day and month swapped (``1978-06-02`` / ``1978-02-06``) is its own level; with one side
    known only by its year, the years are compared. When the two NIKs disagree in their date
    digits (one of them mistyped, or two people), only recorded dates are compared.
    """
    if _nik_date_differs(a, b):
        da, db = a.recorded_births, b.recorded_births
        ya, yb = a.recorded_year, b.recorded_year
    else:
        da, db = a.births, b.births
        ya, yb = a.birth_year, b.birth_year
    if da and db:
        if len(da) == 1 and len(db) == 1:
            return _date_agreement(da[0], db[0])
        return min((_date_agreement(x, y) for x in da for y in db), key=_BIRTH_RANK.__getitem__)
    if ya is not None and yb is not None:
        if ya == yb:
            return Agreement.YEAR
        return Agreement.YEAR_OFF_ONE if abs(ya - yb) == 1 else Agreement.CONFLICT
    return Agreement.MISSING


def passport_agreement(a: str | None, b: str | None) -> Agreement:
    if not a or not b:
        return Agreement.MISSING
    return Agreement.EXACT if a == b else Agreement.DIFFERENT


def phone_agreement(a: str | None, b: str | None) -> Agreement:
    """Phones agree on their last nine digits; a different number says little (numbers change)."""
    if not a or not b:
        return Agreement.MISSING
    return Agreement.EXACT if a == b else Agreement.DIFFERENT


def address_agreement(a: str | None, b: str | None) -> Agreement:
    """``SAME`` address words (any order, ≥ 90), ``SIMILAR`` (≥ 75), else ``DIFFERENT``."""
    if not a or not b:
        return Agreement.MISSING
    if a == b and not a.isspace():  # the same words (a third of the pairs compared): ratio 100
        return Agreement.SAME
    ratio = fuzz.token_set_ratio(a, b)
    if ratio >= 90:
        return Agreement.SAME
    return Agreement.SIMILAR if ratio >= 75 else Agreement.DIFFERENT


def region_agreement(a: LinkRecord, b: LinkRecord) -> Agreement:
    ra, rb = a.regions, b.regions
    if not ra or not rb:
        return Agreement.MISSING
    for x in ra:
        if x in rb:
            return Agreement.SAME_REGENCY
    for x in ra:
        province = x[:2]
        for y in rb:
            if y[:2] == province:
                return Agreement.SAME_PROVINCE
    return Agreement.DIFFERENT


def patronym_agreement(a: LinkRecord, b: LinkRecord) -> Agreement:
    if not a.name.patronym or not b.name.patronym:
        return Agreement.MISSING
    similar = fuzz.ratio(" ".join(a.name.patronym), " ".join(b.name.patronym)) >= 85
    return Agreement.SAME if similar else Agreement.DIFFERENT


def _age_compatible(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether recorded ages (bands at report dates 2019-2025) and birth years can agree."""
    first, second = a.age_span, b.age_span  # (features: ``age_span``)
    if first is None or second is None:
        return True
    (lo1, hi1), (lo2, hi2) = first, second
    return lo1 <= hi2 + 7 and lo2 <= hi1 + 7


def _names(a: LinkRecord, b: LinkRecord) -> tuple[NameLevel, float]:
    """:func:`~hub.linkage.names.compare_names` on the record's precomputed forms."""
    ta, tb = a.name.tokens, b.name.tokens
    if not ta or not tb:
        return NameLevel.MISSING, 0.0
    if a.sorted_tokens == b.sorted_tokens:
        return NameLevel.EXACT, 100.0
    return compare_tokens(ta, tb, a.sound, b.sound)


def name_similarity(a: LinkRecord, b: LinkRecord) -> float:
    """0-100: how alike the given names are (order-free, variants and short forms credited)."""
    return _names(a, b)[1]


def name_agreement(a: LinkRecord, b: LinkRecord) -> tuple[NameLevel, float]:
    """The names' level and similarity, to test a pair on its name before :func:`compare`."""
    return _names(a, b)


# --- the pair -------------------------------------------------------------------------------


def _identifier_may_agree(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether NIK, passport or phone could add points (both recorded), or it is one case."""
    return bool(
        (a.nik and b.nik)
        or (a.passport and b.passport and a.passport == b.passport)
        or (a.phone and a.phone == b.phone)
        or (a.source == b.source and a.case_key is not None and a.case_key == b.case_key)
    )


def vetoed(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether :func:`compare` vetoes the pair (sex, same case, ages), without comparing the rest."""
    return _veto(a, b) is not None


def _veto(a: LinkRecord, b: LinkRecord) -> str | None:
    if a.sex is not None and b.sex is not None and a.sex is not b.sex:
        return "SEX_CONFLICT"
    same_case = a.source == b.source and a.case_key is not None and a.case_key == b.case_key
    if same_case and (a.roles | b.roles) != _VICTIM_PAIR:
        return "SAME_CASE"
    if not _age_compatible(a, b):
        return "AGE_CONFLICT"
    return None


#: Most points a name can give: ``EXACT``, plus :func:`_rarity_points` when it is rare.
_NAME_BEST = NAME_POINTS[NameLevel.EXACT]
#: Scores are sums of the same points in another order: a bound this far below the floor
#: may still be the score rounded, and counts as reaching it.
_SLACK = 1e-9
_NIK_BEST = {**NIK_POINTS, Agreement.MISSING: 0.0}
_PASSPORT_POINTS = {Agreement.EXACT: 10.0, Agreement.DIFFERENT: -8.0, Agreement.MISSING: 0.0}
_BIRTH_BEST = {**BIRTH_POINTS, Agreement.MISSING: 0.0}
_REGION_BEST = {**REGION_POINTS, Agreement.MISSING: 0.0}


def compare(
    a: LinkRecord,
    b: LinkRecord,
    names: NameFrequencies | None = None,
    name: tuple[NameLevel, float] | None = None,
    floor: float | None = None,
) -> Comparison:
    """Score the pair; a veto gives a score far below any threshold.

    With ``names``, an exact or variant name match also earns points for how rare the name is.
    ``name`` is :func:`name_agreement` of the pair when the caller has it already.

    ``floor``: the caller keeps only pairs scoring at least this (the run keeps links and
    possible links: :data:`REVIEW_THRESHOLD`). The fields that need no name comparison are
    graded first; when even the best the name, the address and the patronym could add leaves
    the pair below ``floor``, the names are not compared and the result is that bound (rule
    ``BELOW_FLOOR``, never reaching ``floor``). Half the candidate pairs of a million records
    end there: a shared name and regency and nothing else, or NIKs or birth dates that
    disagree. Every pair that can reach ``floor`` gets exactly the result it gets without it.
    """
    veto = _veto(a, b)
    if veto is not None:
        return Comparison(VETO, veto, 0.0, False)
    nik = passport = birth = region = rarity = None
    if floor is not None:
        nik = nik_agreement(a.nik, b.nik)
        passport = passport_agreement(a.passport, b.passport)
        birth = birth_agreement(a, b)
        region = region_agreement(a, b)
        # The most the pair can score: the name at its best (a one-digit NIK counted as such,
        # though weak names would make it DIFFERENT), a same address and patronym.
        bound = _NAME_BEST + _NIK_BEST[nik] + _PASSPORT_POINTS[passport] + _BIRTH_BEST[birth]
        bound += _REGION_BEST[region]
        if names is not None:
            rarity = _rarity_points(names.surplus(a.name.tokens))
            bound += rarity
        if a.phone and b.phone and a.phone == b.phone:
            bound += PHONE_POINTS
        if a.address and b.address:
            bound += ADDRESS_POINTS[Agreement.SAME]
        if a.name.patronym and b.name.patronym:
            bound += 1.0
        if a.source == b.source and a.case_key is not None and a.case_key == b.case_key:
            bound += 4.0
        if bound < floor - _SLACK and floor > NAME_POINTS[NameLevel.DIFFERENT]:  # (the early end below)
            return Comparison(bound, "BELOW_FLOOR", 0.0, False)
    level, similarity = _names(a, b) if name is None else name
    if level is NameLevel.DIFFERENT and not _identifier_may_agree(a, b):
        # Without an identifier, different names cannot reach the review band: at most
        # -5 + 5 (birth date) + 1 (patronym) + 1.5 (regency). Most blocked pairs end here.
        return Comparison(NAME_POINTS[level], "NAME_DIFFERENT", similarity, False)
    score = NAME_POINTS[level]
    rule = "NAME"
    corroborated = False
    if names is not None and level >= NameLevel.VARIANT:
        score += _rarity_points(names.surplus(a.name.tokens)) if rarity is None else rarity
    if nik is None:
        nik = nik_agreement(a.nik, b.nik)
    if nik is Agreement.ONE_DIGIT and level < NameLevel.FUZZY:
        # Twins born the same day in one regency get consecutive NIKs: a near NIK says
        # "the same person" only when the names agree too.
        nik = Agreement.DIFFERENT
    if nik is not Agreement.MISSING:
        score += NIK_POINTS[nik]
        if nik is not Agreement.DIFFERENT:
            corroborated = True
            rule = "NIK" if nik is Agreement.EXACT else "NIK_ONE_DIGIT"
    if passport is None:
        passport = passport_agreement(a.passport, b.passport)
    if passport is Agreement.EXACT:
        score += 10.0
        corroborated = True
        rule = "PASSPORT" if rule == "NAME" else rule
    elif passport is Agreement.DIFFERENT:
        score -= 8.0
    if birth is None:
        birth = birth_agreement(a, b)
    if birth is not Agreement.MISSING:
        points = BIRTH_POINTS[birth]
        score += points
        if points > 0:
            corroborated = True
            if rule == "NAME":
                rule = "NAME_BIRTH_YEAR" if birth is Agreement.YEAR else "NAME_BIRTH_DATE"
    if a.phone and b.phone and a.phone == b.phone:
        score += PHONE_POINTS
        corroborated = True
        rule = "NAME_PHONE" if rule == "NAME" else rule
    if a.address and b.address and level is not NameLevel.DIFFERENT:
        address = address_agreement(a.address, b.address)
        if address in ADDRESS_POINTS:
            score += ADDRESS_POINTS[address]
            if address is Agreement.SAME:
                corroborated = True
                rule = "NAME_ADDRESS" if rule == "NAME" else rule
    patronym = patronym_agreement(a, b)
    if patronym is Agreement.SAME:
        score += 1.0
    elif patronym is Agreement.DIFFERENT:
        score -= 3.0
    if region is None:
        region = region_agreement(a, b)
    if region is not Agreement.MISSING:
        # Points only: a regency corroborates nothing (shared by too many), so it never names
        # the rule — a pair with nothing better ends as NAME_ONLY or NAME_SAME_CASE below.
        score += REGION_POINTS[region]
    if a.source == b.source and a.case_key is not None and a.case_key == b.case_key:
        score += 4.0
        corroborated = True
        if rule.startswith("NAME"):
            rule = "NAME_SAME_CASE"
    if not corroborated:
        score, rule = min(score, _NAME_ONLY_CAP), "NAME_ONLY"
    return Comparison(score, rule, similarity, corroborated)


def levels(a: LinkRecord, b: LinkRecord) -> Levels:
    """Every field's agreement level for the pair (for clerical review; no values)."""
    sex = (
        Agreement.MISSING
        if a.sex is None or b.sex is None
        else (Agreement.EXACT if a.sex is b.sex else Agreement.CONFLICT)
    )
    return Levels(
        name=compare_names(a.name, b.name)[0],
        nik=nik_agreement(a.nik, b.nik),
        passport=passport_agreement(a.passport, b.passport),
        birth_date=birth_agreement(a, b),
        sex=sex,
        phone=phone_agreement(a.phone, b.phone),
        address=address_agreement(a.address, b.address),
        region=region_agreement(a, b),
        patronym=patronym_agreement(a, b),
    )


def nik_compatible(a: str, b: str) -> bool:
    """Whether two NIKs can be one person's (equal, or one digit or adjacent swap apart)."""
    return nik_agreement(a, b) in (Agreement.EXACT, Agreement.ONE_DIGIT)


def birth_conflict(a: date | None, b: date | None) -> bool:
    """Whether two birth dates cannot belong to one person (more than a year apart)."""
    return a is not None and b is not None and abs(a.year - b.year) > 1
