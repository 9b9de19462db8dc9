"""Exact scores of each linkage rule, worked out by hand from the weights table of docs/linkage.md §2.

Records are built field by field (no NIK facts are derived unless a test sets them), so a pair
differs from the plain pair — the same name, nothing else known, scoring the ``EXACT`` name's
5 points — in the fields a test names, and the expected score is the sum of the documented
points for those fields. Boundaries sit on both sides of each documented edge: birth dates 31
and 32 days apart, a day/month swap in one year or across two, age ranges exactly 7 years
apart or 8, name rarity at and above its 4-point cap. ``tests/test_linkage_compare.py`` checks
the same rules by comparing pairs with each other; this file pins the numbers.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from hub.linkage.features import LinkRecord
from hub.linkage.names import NameLevel, compare_names
from hub.linkage.normalise import normalise_name
from hub.linkage.scoring import (
    REVIEW_THRESHOLD,
    VETO,
    Agreement,
    Comparison,
    Levels,
    NameFrequencies,
    address_agreement,
    birth_agreement,
    birth_conflict,
    compare,
    levels,
    name_agreement,
    name_similarity,
    nik_agreement,
    nik_compatible,
    passport_agreement,
    patronym_agreement,
    phone_agreement,
    region_agreement,
)
from hub.vocabulary.model import AgeGroup, PersonRole, Sex
from tests.link_records import NAME, NIK, other, rec


def outcome(a: LinkRecord, b: LinkRecord, names: NameFrequencies | None = None) -> tuple[float, str, bool]:
    result = compare(a, b, names)
    return result.score, result.rule, result.corroborated


# --- a name alone --------------------------------------------------------------------------------


def test_the_same_name_and_nothing_else_is_a_name_only_pair_of_five_points() -> None:
    assert compare(rec(), other()) == Comparison(5.0, "NAME_ONLY", 100.0, False)


def test_name_levels_carry_their_documented_points() -> None:
    # (names, level, points): EXACT 5, VARIANT 4.5, SIMILAR 3.5, SUBSET 3.5, SHORT_FORM 3, FUZZY 1.5,
    # PARTIAL 1, WEAK 0, DIFFERENT -5. Birth dates agree exactly (+5) so every pair gets past the
    # name-only cap and the different-name shortcut is not taken (a passport agrees there).
    cases = [
        ("Siti Aminah", "Sity Aminah", NameLevel.VARIANT, 4.5),
        ("Susilawati", "Susilowati", NameLevel.SIMILAR, 3.5),
        ("Siti Lestari", "Siti Lestari Dewi", NameLevel.SUBSET, 3.5),
        ("Budi Santoso", "Budiman Santosa", NameLevel.SHORT_FORM, 3.0),
        ("Ratna Sari", "Ratih Sari", NameLevel.FUZZY, 1.5),
        ("Dewi", "Dewi Lestari", NameLevel.PARTIAL, 1.0),
        ("Siti Rahmawati", "Sito Rahmawita", NameLevel.WEAK, 0.0),
        ("Lestari Siti Rahmawati", NAME, NameLevel.EXACT, 5.0),  # any order
    ]
    born = date(1990, 4, 21)
    for left, right, level, points in cases:
        assert compare_names(normalise_name(left), normalise_name(right))[0] is level, (left, right)
        assert compare(rec(left, born=born), other(right, born=born)).score == points + 5.0, (left, right)


def test_a_name_missing_on_one_side_counts_nothing() -> None:
    born = date(1990, 4, 21)
    assert outcome(rec(None, born=born), other(born=born)) == (5.0, "NAME_BIRTH_DATE", True)
    assert outcome(rec(born=born), other("", born=born)) == (5.0, "NAME_BIRTH_DATE", True)
    assert compare(rec(None), other()).name_similarity == 0.0


def test_different_names_without_an_identifier_stop_at_minus_five() -> None:
    a, b = rec("Siti Rahmawati", born=date(1990, 4, 21)), other("Yohana Manuputty", born=date(1990, 4, 21))
    assert compare_names(a.name, b.name)[0] is NameLevel.DIFFERENT
    result = compare(a, b)
    assert (result.score, result.rule, result.corroborated) == (-5.0, "NAME_DIFFERENT", False)
    assert result.name_similarity == name_similarity(a, b) < 70
    # A passport on one side only, or two different passports, is no identifier that may agree.
    assert (
        compare(rec("Siti Rahmawati", passport="C1234567"), other("Yohana Manuputty")).rule
        == "NAME_DIFFERENT"
    )
    assert (
        compare(
            rec("Siti Rahmawati", passport="C1234567"), other("Yohana Manuputty", passport="C7654321")
        ).rule
        == "NAME_DIFFERENT"
    )
    assert (
        compare(rec("Siti Rahmawati", phone="812345678"), other("Yohana Manuputty")).rule == "NAME_DIFFERENT"
    )
    # A NIK on one side only is no identifier that may agree either.
    assert compare(rec("Siti Rahmawati", nik=NIK), other("Yohana Manuputty")).rule == "NAME_DIFFERENT"
    assert compare(rec("Siti Rahmawati"), other("Yohana Manuputty", nik=NIK)).rule == "NAME_DIFFERENT"
    # Two records of one agency without a case key are not one case.
    assert compare(rec("Siti Rahmawati"), other("Yohana Manuputty", source="polri")).rule == "NAME_DIFFERENT"


def test_different_names_with_an_identifier_are_scored_in_full() -> None:
    siti, yohana = "Siti Rahmawati", "Yohana Manuputty"
    # Same passport: -5 + 10, the rule is the passport.
    assert outcome(rec(siti, passport="C1234567"), other(yohana, passport="C1234567")) == (
        5.0,
        "PASSPORT",
        True,
    )
    # Same phone: -5 + 5.
    assert outcome(rec(siti, phone="812345678"), other(yohana, phone="812345678")) == (
        0.0,
        "NAME_PHONE",
        True,
    )
    # Both NIKs recorded (different): -5 - 8, capped nowhere (below the cap already).
    assert outcome(rec(siti, nik=NIK), other(yohana, nik="3374015006950099")) == (-13.0, "NAME_ONLY", False)
    # Victim and victim-witness of one case: -5 + 4.
    case = {"source": "polri", "case": "K1"}
    assert outcome(rec(siti, **case), other(yohana, **case, role=PersonRole.VICTIM_WITNESS)) == (
        -1.0,
        "NAME_SAME_CASE",
        True,
    )
    # An address is not counted when the names differ: still -5 + 10.
    assert outcome(
        rec(siti, passport="C1234567", address="jl melati no 5"),
        other(yohana, passport="C1234567", address="jl melati no 5"),
    ) == (5.0, "PASSPORT", True)


# --- NIK -------------------------------------------------------------------------------------------


def test_nik_levels_and_points() -> None:
    assert outcome(rec(nik=NIK), other(nik=NIK)) == (17.0, "NIK", True)  # 5 + 12
    assert outcome(rec(nik=NIK), other(nik="3374015006950002")) == (12.0, "NIK_ONE_DIGIT", True)  # 5 + 7
    assert outcome(rec(nik=NIK), other(nik="3374015006950010")) == (12.0, "NIK_ONE_DIGIT", True)  # swap
    assert outcome(rec(nik=NIK), other(nik="3374015006950099")) == (-3.0, "NAME_ONLY", False)  # 5 - 8
    assert outcome(rec(nik=NIK), other()) == (5.0, "NAME_ONLY", False)  # one side only: nothing


def test_a_one_digit_nik_needs_names_agreeing_at_least_fuzzy() -> None:
    near = "3374015006950002"
    assert outcome(rec("Ratna Sari", nik=NIK), other("Ratih Sari", nik=near)) == (8.5, "NIK_ONE_DIGIT", True)
    # One level lower (WEAK, 0 points): the near NIK is another person's, -8.
    assert outcome(rec("Siti Rahmawati", nik=NIK), other("Sito Rahmawita", nik=near)) == (
        -8.0,
        "NAME_ONLY",
        False,
    )
    # PARTIAL (1 point) is below FUZZY too.
    assert outcome(rec("Dewi", nik=NIK), other("Dewi Lestari", nik=near)) == (-7.0, "NAME_ONLY", False)


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (NIK, NIK, Agreement.EXACT),
        (NIK, "3374015006950002", Agreement.ONE_DIGIT),
        (NIK, "4374015006950001", Agreement.ONE_DIGIT),  # the first digit
        (NIK, "3374015006950010", Agreement.ONE_DIGIT),  # the last two swapped
        (NIK, "3734015006950001", Agreement.ONE_DIGIT),  # the first two swapped
        (NIK, "3374015006950100", Agreement.DIFFERENT),  # two digits swapped, not adjacent
        (NIK, "3374015006950023", Agreement.DIFFERENT),  # two adjacent digits, not a swap
        (NIK, "3374015006950020", Agreement.DIFFERENT),  # two adjacent, only one of them swapped in
        (NIK, "3374015006950012", Agreement.DIFFERENT),  # two adjacent, only the other swapped in
        (NIK, "3374015006951111", Agreement.DIFFERENT),  # three digits
        (NIK, "337401500695001", Agreement.DIFFERENT),  # a digit dropped: lengths differ
        (NIK, None, Agreement.MISSING),
        (None, NIK, Agreement.MISSING),
        ("", NIK, Agreement.MISSING),
    ],
)
def test_nik_agreement(a: str | None, b: str | None, level: Agreement) -> None:
    assert nik_agreement(a, b) is level
    assert nik_agreement(b, a) is level
    if a and b:
        assert nik_compatible(a, b) is (level in (Agreement.EXACT, Agreement.ONE_DIGIT))


# --- passport, phone, address, patronym, region ----------------------------------------------------


def test_passport_points_and_rule() -> None:
    assert outcome(rec(passport="C1234567"), other(passport="C1234567")) == (15.0, "PASSPORT", True)
    assert outcome(rec(passport="C1234567"), other(passport="C7654321")) == (-3.0, "NAME_ONLY", False)
    # A NIK names the rule before a passport does: 5 + 12 + 10.
    assert outcome(rec(nik=NIK, passport="C1234567"), other(nik=NIK, passport="C1234567")) == (
        27.0,
        "NIK",
        True,
    )
    assert passport_agreement("C1234567", None) is Agreement.MISSING
    assert passport_agreement(None, "C1234567") is Agreement.MISSING
    assert passport_agreement("C1234567", "C1234567") is Agreement.EXACT
    assert passport_agreement("C1234567", "C1234568") is Agreement.DIFFERENT


def test_phone_points_and_rule() -> None:
    assert outcome(rec(phone="812345678"), other(phone="812345678")) == (10.0, "NAME_PHONE", True)
    assert outcome(rec(phone="812345678"), other()) == (5.0, "NAME_ONLY", False)
    assert outcome(rec(), other(phone="812345678")) == (5.0, "NAME_ONLY", False)
    assert outcome(rec(phone="812345678"), other(phone="812345679")) == (
        5.0,
        "NAME_ONLY",
        False,
    )  # no penalty
    assert outcome(rec(nik=NIK, phone="812345678"), other(nik=NIK, phone="812345678")) == (22.0, "NIK", True)
    assert phone_agreement("812345678", "812345678") is Agreement.EXACT
    assert phone_agreement("812345678", "812345679") is Agreement.DIFFERENT
    assert phone_agreement(None, "812345678") is Agreement.MISSING
    assert phone_agreement("812345678", "") is Agreement.MISSING


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("jl melati no 5", "no 5 jl melati", Agreement.SAME),  # words in any order
        ("jl kenanga no 5 rt 3", "jl kenanga no 7 rt 8", Agreement.SAME),  # token-set ratio exactly 90
        ("jl kenanga no 15", "jl kenanga no 5 rt 3", Agreement.SIMILAR),  # 89.7
        ("jl melati no 15", "jl merdeka no 105", Agreement.SIMILAR),  # exactly 75
        ("jl melati no 5", "jl mawar no 5", Agreement.DIFFERENT),  # 74.1
        (None, "jl melati no 5", Agreement.MISSING),
        ("jl melati no 5", None, Agreement.MISSING),
    ],
)
def test_address_agreement_at_its_edges(a: str | None, b: str | None, level: Agreement) -> None:
    assert address_agreement(a, b) is level


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.sampled_from(["jl melati no 5", " ", "\t\n", ".", "a  b"]))
def test_one_address_on_both_sides_is_the_level_its_token_set_ratio_gives(address: str) -> None:
    """The shortcut for equal addresses gives what the ratio gives (100: ``SAME``; no words: 0)."""
    ratio = fuzz.token_set_ratio(address, address)
    expected = (
        Agreement.MISSING
        if not address
        else Agreement.SAME
        if ratio >= 90
        else Agreement.SIMILAR
        if ratio >= 75
        else Agreement.DIFFERENT
    )
    assert address_agreement(address, address) is expected


def test_address_points_and_rule() -> None:
    same, similar = ("jl kenanga no 5 rt 3", "jl kenanga no 7 rt 8"), ("jl melati no 15", "jl merdeka no 105")
    assert outcome(rec(address=same[0]), other(address=same[1])) == (8.0, "NAME_ADDRESS", True)
    # SIMILAR adds half a point and corroborates nothing.
    assert outcome(rec(address=similar[0]), other(address=similar[1])) == (5.5, "NAME_ONLY", False)
    assert outcome(rec(address="jl melati no 5"), other(address="jl mawar no 5")) == (5.0, "NAME_ONLY", False)
    # A phone names the rule before an address: 5 + 5 + 3.
    assert outcome(rec(phone="812345678", address=same[0]), other(phone="812345678", address=same[1])) == (
        13.0,
        "NAME_PHONE",
        True,
    )


def test_patronym_points() -> None:
    born = date(1990, 4, 21)  # +5, so the pair is corroborated and nothing is capped
    base = compare(rec(NAME, born=born), other(NAME, born=born)).score
    assert base == 10.0
    alike = compare(rec(f"{NAME} binti Wahyudi", born=born), other(f"{NAME} binti Wahyuni", born=born))
    assert alike.score == 11.0  # ratio 85.7: alike, +1
    exactly = compare(
        rec(f"{NAME} binti abcdefghijklmnopqrst", born=born),
        other(f"{NAME} binti abcdefghijklmnopqxyz", born=born),
    )
    assert exactly.score == 11.0  # ratio exactly 85: alike
    unlike = compare(rec(f"{NAME} binti Ismail", born=born), other(f"{NAME} binti Ismael", born=born))
    assert unlike.score == 7.0  # ratio 83.3: both written and different, -3
    assert compare(rec(f"{NAME} binti Ismail", born=born), other(NAME, born=born)).score == 10.0
    assert compare(rec(NAME, born=born), other(f"{NAME} binti Ismail", born=born)).score == 10.0
    # A patronym of two words is compared as written, words joined by one space: 87.0, alike.
    two = patronym_agreement(rec(f"{NAME} binti Abdul Rahman"), other(f"{NAME} binti Abdul Rahim"))
    assert two is Agreement.SAME
    a, b = rec(f"{NAME} binti Ismail"), other(f"{NAME} binti Ismael")
    assert patronym_agreement(a, b) is Agreement.DIFFERENT
    assert patronym_agreement(a, a) is Agreement.SAME
    assert patronym_agreement(a, other()) is Agreement.MISSING
    assert patronym_agreement(other(), a) is Agreement.MISSING


def test_region_points() -> None:
    assert outcome(rec(region="33.74"), other(region="33.74")) == (6.5, "NAME_ONLY", False)  # +1.5
    assert outcome(rec(region="33.74"), other(region="33.01")) == (5.5, "NAME_ONLY", False)  # +0.5
    assert outcome(rec(region="33.74"), other(region="52.01")) == (4.5, "NAME_ONLY", False)  # -0.5
    assert outcome(rec(region="33.74"), other()) == (5.0, "NAME_ONLY", False)
    # The regency the NIK encodes counts as a second region of the record.
    a, b = rec(region="33.01", nik_region="33.74"), other(region="33.74")
    assert region_agreement(a, b) is Agreement.SAME_REGENCY
    assert region_agreement(b, a) is Agreement.SAME_REGENCY
    assert region_agreement(rec(region="33.74"), other(region="34.74")) is Agreement.DIFFERENT
    assert region_agreement(rec(), other(region="33.74")) is Agreement.MISSING
    assert region_agreement(rec(region="33.74"), other()) is Agreement.MISSING


def test_a_regency_is_no_corroboration_but_the_same_case_is() -> None:
    # A regency never names the rule of a corroborated pair: 5 + 5 + 1.5.
    assert outcome(
        rec(born=date(1990, 4, 21), region="33.74"), other(born=date(1990, 4, 21), region="33.74")
    ) == (
        11.5,
        "NAME_BIRTH_DATE",
        True,
    )
    case = {"source": "polri", "case": "K1"}
    # Name 5 + regency 1.5 + same case 4: the region rule gives way to the case.
    assert outcome(
        rec(region="33.74", **case), other(region="33.74", **case, role=PersonRole.VICTIM_WITNESS)
    ) == (10.5, "NAME_SAME_CASE", True)


# --- birth dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "points", "level"),
    [
        (date(1995, 6, 10), date(1995, 6, 10), 5.0, Agreement.EXACT),
        (date(1995, 3, 7), date(1995, 7, 3), 3.0, Agreement.SWAPPED),
        (date(1995, 6, 5), date(1995, 5, 6), 3.0, Agreement.SWAPPED),  # a swap within a month: still a swap
        (date(1995, 3, 7), date(1996, 7, 3), -1.0, Agreement.YEAR_OFF_ONE),  # day/month swapped, year not
        (date(1995, 3, 7), date(1995, 7, 4), -4.0, Agreement.SAME_YEAR_CONFLICT),  # only the day is the month
        (date(1995, 3, 7), date(1995, 4, 3), 2.0, Agreement.NEAR),  # only the month is the day: 27 days
        (date(1995, 6, 10), date(1995, 6, 11), 2.0, Agreement.NEAR),
        (date(1995, 6, 10), date(1995, 7, 11), 2.0, Agreement.NEAR),  # 31 days
        (date(1995, 7, 11), date(1995, 6, 10), 2.0, Agreement.NEAR),  # 31 days, the other way
        (date(1995, 12, 20), date(1996, 1, 10), 2.0, Agreement.NEAR),  # across a new year
        (date(1995, 6, 10), date(1995, 7, 12), -4.0, Agreement.SAME_YEAR_CONFLICT),  # 32 days
        (date(1995, 7, 12), date(1995, 6, 10), -4.0, Agreement.SAME_YEAR_CONFLICT),
        (date(1995, 12, 1), date(1996, 1, 2), -1.0, Agreement.YEAR_OFF_ONE),  # 32 days across a new year
        (date(1996, 1, 2), date(1995, 12, 1), -1.0, Agreement.YEAR_OFF_ONE),
        (date(1995, 6, 10), date(1997, 6, 10), -6.0, Agreement.CONFLICT),
        (date(1997, 6, 10), date(1995, 6, 10), -6.0, Agreement.CONFLICT),
        # One side known only by its year (written 1 January).
        (date(1995, 1, 1), date(1995, 6, 10), 1.0, Agreement.YEAR),
        (date(1995, 1, 1), date(1995, 1, 1), 1.0, Agreement.YEAR),
        (date(1995, 1, 1), date(1996, 6, 10), -1.0, Agreement.YEAR_OFF_ONE),
        (date(1996, 6, 10), date(1995, 1, 1), -1.0, Agreement.YEAR_OFF_ONE),
        (date(1995, 1, 1), date(1997, 6, 10), -6.0, Agreement.CONFLICT),
    ],
)
def test_birth_date_levels_and_points(a: date, b: date, points: float, level: Agreement) -> None:
    ra, rb = rec(born=a), other(born=b)
    assert birth_agreement(ra, rb) is level
    expected = 5.0 + points
    result = compare(ra, rb)
    if points > 0:
        rule = "NAME_BIRTH_YEAR" if level is Agreement.YEAR else "NAME_BIRTH_DATE"
        assert (result.score, result.rule, result.corroborated) == (expected, rule, True)
    else:
        assert (result.score, result.rule, result.corroborated) == (expected, "NAME_ONLY", False)


def test_no_birth_date_on_one_side_is_missing() -> None:
    assert birth_agreement(rec(born=date(1995, 6, 10)), other()) is Agreement.MISSING
    assert birth_agreement(rec(), other(born=date(1995, 1, 1))) is Agreement.MISSING


def test_the_best_of_recorded_and_nik_dates_counts() -> None:
    # A's recorded date is a year off, its NIK's date agrees with B's recorded one: EXACT.
    a = rec(born=date(1996, 3, 3), nik_birth=date(1995, 6, 10))
    b = other(born=date(1995, 6, 10))
    assert birth_agreement(a, b) is Agreement.EXACT
    assert birth_agreement(b, a) is Agreement.EXACT
    # The best level by rank, not by name: EXACT beats CONFLICT (which sorts first alphabetically).
    c = rec(born=date(1990, 3, 3), nik_birth=date(1995, 6, 10))
    assert birth_agreement(c, b) is Agreement.EXACT
    assert birth_agreement(b, c) is Agreement.EXACT
    # A NIK on one side only: its date counts (5 + 5).
    assert outcome(rec(nik=NIK, nik_birth=date(1995, 6, 10)), other(born=date(1995, 6, 10))) == (
        10.0,
        "NAME_BIRTH_DATE",
        True,
    )
    # NIKs one digit apart outside the date digits: their dates count (5 + 7 + 5).
    assert outcome(
        rec(nik=NIK, nik_birth=date(1995, 6, 10)), other(nik="3374015006950002", nik_birth=date(1995, 6, 10))
    ) == (17.0, "NIK_ONE_DIGIT", True)
    # A year taken from the NIK meets a year-only record: YEAR (5 + 1).
    assert outcome(rec(nik_birth=date(1995, 6, 10)), other(born=date(1995, 1, 1))) == (
        6.0,
        "NAME_BIRTH_YEAR",
        True,
    )


def test_niks_differing_in_their_date_digits_compare_recorded_dates_only() -> None:
    near = "3374015106950001"  # digit 8 differs: day 51 (the 11th) instead of 50 (the 10th)
    assert nik_agreement(NIK, near) is Agreement.ONE_DIGIT
    a = rec(nik=NIK, nik_birth=date(1995, 6, 10), born=date(1996, 3, 3))
    b = other(nik=near, nik_birth=date(1995, 6, 11), born=date(1995, 6, 10))
    # Recorded only: 1996-03-03 / 1995-06-10 is a year off (-1), not the NIK-date match (+5).
    assert birth_agreement(a, b) is Agreement.YEAR_OFF_ONE
    assert outcome(a, b) == (11.0, "NIK_ONE_DIGIT", True)  # 5 + 7 - 1
    # Years too come from the recorded dates only: A records none, so nothing is compared.
    c = rec(nik=NIK, nik_birth=date(1995, 6, 10))
    d = other(nik=near, nik_birth=date(1995, 6, 11), born=date(1995, 1, 1))
    assert birth_agreement(c, d) is Agreement.MISSING
    assert birth_agreement(d, c) is Agreement.MISSING
    e = rec(nik=NIK, nik_birth=date(1995, 6, 10), born=date(1995, 1, 1))
    assert birth_agreement(e, d) is Agreement.YEAR
    assert outcome(e, d) == (13.0, "NIK_ONE_DIGIT", True)  # 5 + 7 + 1


def test_birth_conflict_is_more_than_a_year_apart() -> None:
    assert birth_conflict(date(1995, 6, 10), date(1997, 6, 10)) is True
    assert birth_conflict(date(1997, 6, 10), date(1995, 6, 10)) is True
    assert birth_conflict(date(1995, 1, 1), date(1996, 12, 31)) is False
    assert birth_conflict(date(1995, 6, 10), date(1995, 6, 10)) is False
    assert birth_conflict(None, date(1995, 6, 10)) is False
    assert birth_conflict(date(1995, 6, 10), None) is False
    assert birth_conflict(None, None) is False


# --- vetoes ----------------------------------------------------------------------------------------


def test_a_sex_conflict_vetoes() -> None:
    vetoed = Comparison(VETO, "SEX_CONFLICT", 0.0, False)
    assert compare(rec(sex=Sex.FEMALE, nik=NIK), other(sex=Sex.MALE, nik=NIK)) == vetoed
    assert outcome(rec(sex=Sex.FEMALE), other()) == (5.0, "NAME_ONLY", False)
    assert outcome(rec(), other(sex=Sex.MALE)) == (5.0, "NAME_ONLY", False)
    assert outcome(rec(sex=Sex.MALE), other(sex=Sex.MALE)) == (5.0, "NAME_ONLY", False)


def test_the_same_case_vetoes_unless_victim_and_victim_witness() -> None:
    case = {"source": "polri", "case": "K1"}
    vetoed = Comparison(VETO, "SAME_CASE", 0.0, False)
    assert compare(rec(**case), other(**case, role=PersonRole.WITNESS)) == vetoed
    assert compare(rec(**case), other(**case)) == vetoed  # two victims of one case are two people
    assert outcome(rec(**case), other(**case, role=PersonRole.VICTIM_WITNESS)) == (
        9.0,
        "NAME_SAME_CASE",
        True,
    )
    assert outcome(rec(nik=NIK, **case), other(nik=NIK, **case, role=PersonRole.VICTIM_WITNESS)) == (
        21.0,
        "NIK",
        True,
    )
    # The same case key in two agencies is a coincidence: neither veto nor bonus.
    assert outcome(rec(case="K1"), other(case="K1", role=PersonRole.WITNESS)) == (5.0, "NAME_ONLY", False)
    # No case key on either side is not "the same case".
    assert outcome(rec(source="polri"), other(source="polri", role=PersonRole.WITNESS)) == (
        5.0,
        "NAME_ONLY",
        False,
    )


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        # Bands: the lower bound of one at most 7 years above the upper bound of the other.
        ({"age": AgeGroup.AGE_6_12}, {"age": AgeGroup.AGE_18_24}, True),  # 18 <= 12 + 7
        ({"age": AgeGroup.AGE_6_12}, {"age": AgeGroup.AGE_25_44}, False),  # 25 > 19
        ({"age": AgeGroup.AGE_25_44}, {"age": AgeGroup.AGE_6_12}, False),
        ({"age": AgeGroup.AGE_13_17}, {"age": AgeGroup.AGE_25_44}, False),  # 25 > 17 + 7
        # A birth year is an age of (2018 - year) to (2026 - year) over the observed report dates.
        ({"age": AgeGroup.AGE_13_17}, {"born": date(1994, 6, 10)}, True),  # 2018-1994 = 24 = 17 + 7
        ({"age": AgeGroup.AGE_13_17}, {"born": date(1993, 6, 10)}, False),  # 25
        ({"born": date(1994, 6, 10)}, {"age": AgeGroup.AGE_13_17}, True),
        ({"born": date(1993, 6, 10)}, {"age": AgeGroup.AGE_13_17}, False),
        ({"age": AgeGroup.AGE_45_59}, {"born": date(1988, 6, 10)}, True),  # 2026-1988 = 38, + 7 = 45
        ({"age": AgeGroup.AGE_45_59}, {"born": date(1989, 6, 10)}, False),  # 37 + 7 = 44 < 45
        ({"born": date(1989, 6, 10)}, {"age": AgeGroup.AGE_45_59}, False),
        # Two birth years: (2018 - y1) <= (2026 - y2) + 7, i.e. at most 15 years apart.
        ({"born": date(1990, 6, 10)}, {"born": date(2005, 6, 10)}, True),
        ({"born": date(1990, 6, 10)}, {"born": date(2006, 6, 10)}, False),
        ({"born": date(2006, 6, 10)}, {"born": date(1990, 6, 10)}, False),
        # A birth year outweighs the band of the same record.
        ({"born": date(1994, 6, 10), "age": AgeGroup.AGE_0_5}, {"born": date(1994, 6, 10)}, True),
        # One side without any age: nothing to compare.
        ({"age": AgeGroup.AGE_0_5}, {}, True),
        ({}, {"age": AgeGroup.AGE_60_PLUS}, True),
    ],
)
def test_age_windows(a: dict, b: dict, compatible: bool) -> None:
    result = compare(rec(**a), other(**b))
    if compatible:
        assert result.rule != "AGE_CONFLICT"
        assert result.score > VETO
    else:
        assert result == Comparison(VETO, "AGE_CONFLICT", 0.0, False)


# --- rare names ------------------------------------------------------------------------------------


def frequencies() -> NameFrequencies:
    """64 name tokens: 63 × budi and one zulkarnaen. log2(64) = 6 bits per token position."""
    return NameFrequencies([("budi",)] * 63 + [("zulkarnaen",)])


def test_name_surplus_is_bits_beyond_the_number_of_records() -> None:
    names = frequencies()
    assert names.records == 1
    assert names.surplus(("zulkarnaen",)) == 6 - math.log2(1 + 1)  # 5 bits
    assert names.surplus(("zulkarnain",)) == 5.0  # the same sound key (z-l-k-r-n)
    assert names.surplus(("budi",)) == 0.0  # 6 - log2(63 + 1)
    assert names.surplus(("xavier",)) == 6.0  # never seen: 6 - log2(1)
    assert names.surplus(("xo",)) == 6.0  # two letters count
    assert names.surplus(("x", "zulkarnaen")) == 5.0  # an initial does not, and the rest still counts
    assert names.surplus(("xavier", "zulkarnaen")) == 11.0
    names.set_records(4)
    assert names.records == 4
    assert names.surplus(("zulkarnaen",)) == 3.0  # 5 - log2(4)
    names.set_records(0)
    assert names.records == 1
    assert names.surplus(("zulkarnaen",)) == 5.0
    assert NameFrequencies([]).surplus(("xavier",)) == 0.0  # no tokens: log2(1) = 0
    assert NameFrequencies([("a", "budi", "budi")]).surplus(("budi",)) == math.log2(3) - math.log2(3)


# --- the floor: the documented bound, returned as it is ---------------------------------------------

OTHER_NIK = "3171234509870002"  # differs from NIK in most digits: DIFFERENT, -8


def test_below_the_floor_the_bound_is_returned_as_documented() -> None:
    """compare(floor=…) ends early with the most the pair could score: the best name (5), the
    identifiers and birth date as graded (-8 for different NIKs), plus 5 for a phone on both
    sides and equal, 3 for an address on both sides, 1 for a patronym on both sides, 4 for one
    case of one source; a field on one side only adds nothing."""
    floor = REVIEW_THRESHOLD
    base = {"nik": NIK}
    cases: list[tuple[LinkRecord, LinkRecord, float]] = [
        (rec(**base), other(nik=OTHER_NIK), -3.0),
        (rec(phone="81234567890", **base), other(nik=OTHER_NIK), -3.0),
        (rec(phone="81234567890", **base), other(nik=OTHER_NIK, phone="81234567890"), 2.0),
        (rec(address="Jl. Melati 3 Semarang", **base), other(nik=OTHER_NIK), -3.0),
        (rec(address="Jl. Melati 3", **base), other(nik=OTHER_NIK, address="Jl. Mawar 9"), 0.0),
        (rec(NAME + " binti Ahmad", **base), other(nik=OTHER_NIK), -3.0),
        (rec(NAME + " binti Ahmad", **base), other(NAME + " binti Umar", nik=OTHER_NIK), -2.0),
        # the same case of one source (a victim and a victim-witness): +4
        (
            rec(case="C1", **base),
            other(nik=OTHER_NIK, source="polri", case="C1", role=PersonRole.VICTIM_WITNESS),
            1.0,
        ),
        # one source, other cases; other sources, no case: nothing
        (rec(case="C1", **base), other(nik=OTHER_NIK, source="polri", case="C2"), -3.0),
        (rec(**base), other(nik=OTHER_NIK), -3.0),
    ]
    for a, b, bound in cases:
        assert bound < floor
        assert compare(a, b, floor=floor) == Comparison(bound, "BELOW_FLOOR", 0.0, False), (a, b)
        assert compare(a, b).score < floor  # the full comparison agrees that the pair is out


def test_a_floor_at_or_below_different_names_never_ends_early() -> None:
    """With a floor of -5 (a DIFFERENT name's points) or less, the names are always compared:
    the result is the full comparison's."""
    a, b = rec(nik=NIK, passport="A1234567"), other(nik=OTHER_NIK, passport="B7654321")
    full = compare(a, b)
    assert full.rule != "BELOW_FLOOR"
    for floor in (-5.0, -6.0):
        assert compare(a, b, floor=floor) == full


def test_spellings_of_one_sound_are_counted_together() -> None:
    """16 tokens: zulkarnaen ×3 and zulkarnain ×5 (one sound key) and budi ×8. Either spelling
    is one of 8 that sound alike: 4 − log2(8 + 1) bits; budi the same."""
    names = NameFrequencies([("zulkarnaen",)] * 3 + [("zulkarnain",)] * 5 + [("budi",)] * 8)
    for token in ("zulkarnaen", "zulkarnain", "budi"):
        assert names.surplus((token,)) == pytest.approx(4 - math.log2(9), abs=1e-12)


def test_name_agreement_is_compare_names_of_the_two_records() -> None:
    """The level and similarity a caller tests before compare(): compare_names on the two names."""
    pairs = [
        (rec(), other()),
        (rec(), other(name="Siti Rahmawati")),
        (rec(name="Budi Santoso"), other(name="Santoso Budi")),
        (rec(name="Muhammad Yusuf"), other(name="Moh. Jusuf")),
        (rec(), other(name="Agus Salim")),
        (rec(name=None), other()),
    ]
    for a, b in pairs:
        assert name_agreement(a, b) == compare_names(a.name, b.name)
        assert name_agreement(b, a)[0] == compare_names(b.name, a.name)[0]
    assert name_agreement(rec(), other()) == (NameLevel.EXACT, 100.0)
    assert name_agreement(rec(), other(name="Agus Salim"))[0] is NameLevel.DIFFERENT


def test_rare_names_earn_up_to_four_points_on_an_exact_or_variant_match() -> None:
    born = date(1990, 4, 21)
    names = frequencies()
    # 5 bits of surplus: 5 - 2 = 3 points on top of the exact name (5) and birth date (5).
    assert outcome(rec("Zulkarnaen", born=born), other("Zulkarnaen", born=born), names) == (
        13.0,
        "NAME_BIRTH_DATE",
        True,
    )
    # 11 bits: capped at 4.
    assert (
        compare(rec("Xavier Zulkarnaen", born=born), other("Xavier Zulkarnaen", born=born), names).score
        == 14.0
    )
    # A common name: no points (never negative).
    assert compare(rec("Budi", born=born), other("Budi", born=born), names).score == 10.0
    # 4 records: 5 - 2 = 3 bits, 1 point.
    names.set_records(4)
    assert compare(rec("Zulkarnaen", born=born), other("Zulkarnaen", born=born), names).score == 11.0
    names.set_records(16)  # 5 - 4 = 1 bit: below the 2 bits chance explains, no points
    assert compare(rec("Zulkarnaen", born=born), other("Zulkarnaen", born=born), names).score == 10.0
    # A variant match earns them too (4.5 + 4 + 5); a merely similar one does not (3.5 + 5).
    names = frequencies()
    # siti and xavier are unseen: 6 + 6 bits, 4 points.
    assert compare_names(normalise_name("Siti Xavier"), normalise_name("Sity Xavier"))[0] is NameLevel.VARIANT
    assert compare(rec("Siti Xavier", born=born), other("Sity Xavier", born=born), names).score == 13.5
    similar = compare(rec("Xavier Susilawati", born=born), other("Xavier Susilowati", born=born), names)
    assert compare_names(normalise_name("Xavier Susilawati"), normalise_name("Xavier Susilowati"))[0] is (
        NameLevel.SIMILAR
    )
    assert similar.score == 3.5 + 5.0


def test_a_rare_name_alone_is_capped_below_the_link_threshold() -> None:
    names = frequencies()
    # 5 + 4 (rarity) + 1.5 (regency) = 10.5, capped at 8 - 0.5.
    assert outcome(
        rec("Xavier Zulkarnaen", region="33.74"), other("Xavier Zulkarnaen", region="33.74"), names
    ) == (7.5, "NAME_ONLY", False)
    # Below the cap the score stands: 5 + 0 (common name).
    assert outcome(rec("Budi"), other("Budi"), names) == (5.0, "NAME_ONLY", False)


# --- levels (the evidence shown to reviewers) ------------------------------------------------------


def test_levels_of_a_pair() -> None:
    a = rec(
        f"{NAME} binti Ismail",
        nik=NIK,
        passport="C1234567",
        sex=Sex.FEMALE,
        born=date(1995, 6, 10),
        region="33.74",
        phone="812345678",
        address="jl melati no 15",
    )
    b = other(
        f"{NAME} binti Ismael",
        nik="3374015006950002",
        passport="C7654321",
        sex=Sex.FEMALE,
        born=date(1995, 7, 11),
        region="33.01",
        phone="812345679",
        address="jl merdeka no 105",
    )
    assert levels(a, b) == Levels(
        name=NameLevel.EXACT,
        nik=Agreement.ONE_DIGIT,
        passport=Agreement.DIFFERENT,
        birth_date=Agreement.NEAR,
        sex=Agreement.EXACT,
        phone=Agreement.DIFFERENT,
        address=Agreement.SIMILAR,
        region=Agreement.SAME_PROVINCE,
        patronym=Agreement.DIFFERENT,
    )
    assert levels(a, b).as_dict() == {
        "name": "EXACT",
        "nik": "ONE_DIGIT",
        "passportNumber": "DIFFERENT",
        "birthDate": "NEAR",
        "sex": "EXACT",
        "phone": "DIFFERENT",
        "address": "SIMILAR",
        "region": "SAME_PROVINCE",
        "patronym": "DIFFERENT",
    }
    assert levels(a, other(sex=Sex.MALE)).sex is Agreement.CONFLICT
    assert levels(a, other()).sex is Agreement.MISSING
    assert levels(other(), a).sex is Agreement.MISSING
    assert levels(rec(), other("Yohana Manuputty")).name is NameLevel.DIFFERENT
