"""Each linkage rule on its own edge, through ``compare`` on hand-made records.

The pair in each test differs from an otherwise identical pair in one field only, so what the
score does is that field's rule: a veto, a step at a documented boundary (a birth date within
31 days, a name similarity of 97/90/80/70), or an agreement bonus. Assertions compare scores
of pairs with each other and with the link threshold rather than restating the weights, so
they hold while the weights are tuned and fail when a rule stops doing its job.
"""

from __future__ import annotations

from datetime import date, timedelta

from hub.linkage.features import LinkRecord, link_record
from hub.linkage.scoring import LINK_THRESHOLD, STRONG_THRESHOLD, compare
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole, Sex

BORN = date(1995, 6, 10)
#: NIKs of two different women registered in Semarang (33.74), both born 10 June 1995.
NIK_A = "3374015006950001"
NIK_B = "3374015006950002"


def rec(
    key: str,
    name: str = "Siti Rahmawati Lestari",
    *,
    source: str = "polri",
    nik: str | None = None,
    born: date | None = BORN,
    sex: Sex = Sex.FEMALE,
    region: str | None = "33.74",
    passport: str | None = None,
    case: str | None = None,
    role: PersonRole = PersonRole.VICTIM,
    age: AgeGroup = AgeGroup.UNKNOWN,
) -> LinkRecord:
    return link_record(
        0,
        PersonRecord(
            source=source,
            key=key,
            case_key=case or f"case-{key}",
            roles=(role,),
            sex=sex,
            age_group=age,
            is_child=None,
            citizenship=None,
            domicile_region=region,
            full_name=name,
            nik=nik,
            birth_date=born,
            passport_number=passport,
            address=None,
            phone=None,
        ),
    )


def score(a: LinkRecord, b: LinkRecord) -> float:
    return compare(a, b).score


def test_the_plain_pair_links() -> None:
    """The baseline every other test varies: same name, birth date and regency."""
    result = compare(rec("1"), rec("2", source="lpsk"))
    assert result.score >= LINK_THRESHOLD
    assert result.rule == "NAME_BIRTH_DATE"


# --- vetoes -----------------------------------------------------------------------------------


def test_niks_one_digit_apart_agree_and_farther_apart_refuse() -> None:
    """A NIK mistyped in one digit is graded, not a veto (issue 14); two digits apart it is
    another person's number, and an otherwise perfect pair does not link."""
    typo = compare(rec("1", nik=NIK_A), rec("2", source="lpsk", nik=NIK_B))
    assert typo.rule == "NIK_ONE_DIGIT"
    assert typo.score >= LINK_THRESHOLD
    other = compare(rec("1", nik=NIK_A), rec("2", source="lpsk", nik="3374015006950099"))
    assert other.score < LINK_THRESHOLD
    assert other.score < score(rec("1", nik=NIK_A), rec("2", source="lpsk"))


def test_a_nik_on_one_side_only_is_no_veto() -> None:
    assert score(rec("1", nik=NIK_A), rec("2", source="lpsk")) >= LINK_THRESHOLD


def test_the_same_nik_is_strong_evidence() -> None:
    result = compare(rec("1", nik=NIK_A), rec("2", source="lpsk", nik=NIK_A))
    assert result.rule == "NIK"
    assert result.score >= STRONG_THRESHOLD
    assert result.score > score(rec("1"), rec("2", source="lpsk"))
    # Enough on its own: a NIK match links names that are not alike at all.
    assert score(rec("1", "Siti Rahma", nik=NIK_A), rec("2", "Dewi Anggraini", source="lpsk", nik=NIK_A)) >= (
        LINK_THRESHOLD
    )


def test_different_sexes_veto() -> None:
    result = compare(rec("1", sex=Sex.FEMALE), rec("2", source="lpsk", sex=Sex.MALE))
    assert (result.rule, result.score < LINK_THRESHOLD) == ("SEX_CONFLICT", True)
    assert score(rec("1", sex=Sex.FEMALE), rec("2", source="lpsk", sex=Sex.UNKNOWN)) >= LINK_THRESHOLD


def test_two_people_of_one_case_are_two_people_unless_victim_and_victim_witness() -> None:
    same = {"case": "k1"}
    result = compare(rec("1", **same), rec("2", **same, role=PersonRole.WITNESS))
    assert (result.rule, result.score < LINK_THRESHOLD) == ("SAME_CASE", True)
    pair = compare(rec("1", **same), rec("2", **same, role=PersonRole.VICTIM_WITNESS))
    assert pair.rule == "NAME_SAME_CASE"
    assert pair.score > score(rec("1"), rec("2"))  # the same case adds evidence
    # The same case key in two agencies is a coincidence, not a case.
    assert (
        compare(rec("1", **same), rec("2", source="lpsk", **same, role=PersonRole.WITNESS)).score
        >= LINK_THRESHOLD
    )


def test_age_bands_that_cannot_meet_veto() -> None:
    child = rec("1", born=None, age=AgeGroup.AGE_6_12)
    old = rec("2", source="lpsk", born=None, age=AgeGroup.AGE_45_59)
    assert compare(child, old).rule == "AGE_CONFLICT"
    near = rec("2", source="lpsk", born=None, age=AgeGroup.AGE_13_17)
    assert compare(child, near).rule != "AGE_CONFLICT"


# --- birth dates --------------------------------------------------------------------------------


def born_apart(days: int) -> float:
    return score(rec("1", born=BORN), rec("2", source="lpsk", born=BORN + timedelta(days=days)))


def test_birth_dates_within_31_days_agree_a_little_and_beyond_disagree() -> None:
    exact, near, edge, beyond = born_apart(0), born_apart(1), born_apart(31), born_apart(32)
    assert exact > near
    assert near == edge == born_apart(-31) == born_apart(15)
    assert edge > beyond == born_apart(-32) == born_apart(150)
    assert near >= LINK_THRESHOLD > beyond


def test_day_and_month_swapped_count_as_near() -> None:
    """A swapped day and month (07/03 for 03/07) is a typing error: between an exact date and one
    day apart, and far above a date months away that is no swap."""
    a, b = rec("1", born=date(1995, 3, 7)), rec("2", source="lpsk", born=date(1995, 7, 3))
    assert born_apart(0) > score(a, b) > born_apart(1)
    assert score(a, b) >= LINK_THRESHOLD
    c = rec("2", source="lpsk", born=date(1995, 7, 4))  # not a swap: months apart
    assert score(a, c) == born_apart(150) < LINK_THRESHOLD


def test_a_year_apart_costs_less_than_several() -> None:
    one = score(rec("1", born=date(1995, 6, 10)), rec("2", source="lpsk", born=date(1996, 9, 20)))
    three = score(rec("1", born=date(1995, 6, 10)), rec("2", source="lpsk", born=date(1998, 9, 20)))
    same_year_far = born_apart(150)
    assert one > three
    assert one > same_year_far  # full dates months apart in one year are two people
    assert three == score(rec("1", born=date(1995, 6, 10)), rec("2", source="lpsk", born=date(1990, 1, 20)))


def test_birth_year_only_agrees_less_than_a_date() -> None:
    year_only = date(1995, 1, 1)  # how agencies write an unknown day and month
    same_year = score(rec("1", born=year_only), rec("2", source="lpsk", born=BORN))
    next_year = score(rec("1", born=year_only), rec("2", source="lpsk", born=date(1996, 6, 10)))
    far = score(rec("1", born=year_only), rec("2", source="lpsk", born=date(1999, 6, 10)))
    unknown = score(rec("1", born=None), rec("2", source="lpsk", born=BORN))
    assert born_apart(0) > same_year > unknown > next_year > far
    assert compare(rec("1", born=year_only), rec("2", source="lpsk", born=BORN)).rule == "NAME_BIRTH_YEAR"


# --- names, passports, regions -----------------------------------------------------------------


def test_unlike_names_do_not_link_on_birth_date_and_region_alone() -> None:
    assert score(rec("1", "Siti Rahmawati"), rec("2", "Yohana Manuputty", source="lpsk")) < LINK_THRESHOLD


def test_passports_agreeing_and_disagreeing() -> None:
    base = score(rec("1"), rec("2", source="lpsk"))
    same = compare(
        rec("1", "Siti R", born=None, passport="C1234567"),
        rec("2", "Dewi A", source="lpsk", born=None, passport="C1234567"),
    )
    assert same.rule == "PASSPORT"
    assert score(rec("1", passport="C1234567"), rec("2", source="lpsk", passport="C1234567")) > base
    assert score(rec("1", passport="C1234567"), rec("2", source="lpsk", passport="C7654321")) < base
    assert score(rec("1", passport="C1234567"), rec("2", source="lpsk")) == base


def test_regions_same_regency_same_province_elsewhere() -> None:
    regency = score(rec("1", region="33.74"), rec("2", source="lpsk", region="33.74"))
    province = score(rec("1", region="33.74"), rec("2", source="lpsk", region="33.01"))
    elsewhere = score(rec("1", region="33.74"), rec("2", source="lpsk", region="52.01"))
    unknown = score(rec("1", region="33.74"), rec("2", source="lpsk", region=None))
    assert regency > province > unknown > elsewhere
