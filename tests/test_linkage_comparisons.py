"""Each comparison rule of the linkage on its own (issue 14), then the rules that bind clusters.

Hand-made values with the answer a person reading them would give; the end-to-end quality
bars live in ``test_linkage_quality.py`` and ``test_linkage_noise.py``.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.linkage.cluster import Clusterer
from hub.linkage.engine import link
from hub.linkage.features import link_record
from hub.linkage.names import NameLevel, compare_names, token_match
from hub.linkage.normalise import (
    is_patronym_marker,
    modern_spelling,
    normalise_address,
    normalise_name,
    normalise_phone,
    sound_key,
)
from hub.linkage.scoring import (
    LINK_THRESHOLD,
    REVIEW_THRESHOLD,
    Agreement,
    NameFrequencies,
    address_agreement,
    birth_agreement,
    compare,
    levels,
    nik_agreement,
)
from hub.linkage.variants import knowledge
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole, Sex

NIK = "3374056504910003"  # a woman born 25 April 1991, registered in regency 33.74


def person(
    key: str,
    name: str | None,
    *,
    source: str = "a",
    nik: str | None = None,
    born: date | None = None,
    region: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    sex: Sex = Sex.FEMALE,
) -> PersonRecord:
    return PersonRecord(
        source=source,
        key=key,
        case_key=f"case-{key}",
        roles=(PersonRole.VICTIM,),
        sex=sex,
        age_group=AgeGroup.UNKNOWN,
        is_child=None,
        citizenship=None,
        domicile_region=region,
        full_name=name,
        nik=nik,
        birth_date=born,
        passport_number=None,
        address=address,
        phone=phone,
    )


def pair(a: PersonRecord, b: PersonRecord):
    return link_record(0, a), link_record(1, b)


# --- reviewed data files ------------------------------------------------------------------------


def test_the_reviewed_tables_load_and_say_what_the_issue_lists() -> None:
    names = knowledge()
    assert ("oe", "u") in names.spelling and ("dj", "j") in names.spelling and ("tj", "c") in names.spelling
    for variant in ("moh", "mochammad", "muhamad", "mohammad"):
        assert names.canonical[variant] == "muhammad"
    assert names.canonical["noor"] == "nur"
    assert "muhammad" in names.nicknames["memet"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("yahja", "yahya"),
        ("khasanah", "hasanah"),
        ("fatimah", "fatima"),
        ("ammar", "amar"),
        ("rizkie", "rizki"),
    ],
)
def test_sound_keys_join_spelling_variants(a: str, b: str) -> None:
    assert sound_key(modern_spelling(a)) == sound_key(modern_spelling(b))


def test_sound_keys_keep_different_names_apart() -> None:
    assert sound_key("budi") != sound_key("bayu")
    assert sound_key("joko") != sound_key("juki")


def test_old_spelling_and_given_name_forms() -> None:
    assert normalise_name("Moh. Tjahjo Soedjono").tokens == ("muhammad", "cahjo", "sujono")
    assert normalise_name("Mochammad Noor").tokens == ("muhammad", "nur")
    assert normalise_name("Chairul").tokens == ("khairul",)


@pytest.mark.parametrize("word", ["bin", "binti", "bnti", "bintii", "binit", "bt"])
def test_patronym_markers_include_one_slip_from_binti(word: str) -> None:
    assert is_patronym_marker(word)


@pytest.mark.parametrize("word", ["bintang", "budi", "bintoro"])
def test_words_like_binti_but_longer_are_names(word: str) -> None:
    assert not is_patronym_marker(word)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("Budi Santoso", "SANTOSO BUDI", NameLevel.EXACT),  # order
        ("Noor Hasanah", "NUR HASANAH", NameLevel.EXACT),  # given-name table
        ("Yahja", "YAHYA", NameLevel.VARIANT),  # j/y
        ("Chasanah", "HASANAH", NameLevel.VARIANT),  # ch/kh/h
        ("Memet Yusuf", "Muhammad Yusuf", NameLevel.VARIANT),  # listed nickname
        ("HQLIMA", "Halima", NameLevel.SIMILAR),  # one typing slip
        ("Putri Haryanti", "PUTRI HALIMA HARYANTI", NameLevel.SUBSET),  # dropped middle name
        ("ANTO", "Irnanto", NameLevel.SHORT_FORM),  # tail short form
        ("Tut", "TOETI", NameLevel.SHORT_FORM),  # head short form of the old spelling
        ("Putri", "Putri Halima", NameLevel.PARTIAL),
        ("Budi Santoso", "Joko Widodo", NameLevel.DIFFERENT),
        ("Budi", None, NameLevel.MISSING),
    ],
)
def test_name_levels(a: str, b: str | None, level: NameLevel) -> None:
    assert compare_names(normalise_name(a), normalise_name(b))[0] is level


def test_token_matches_need_enough_of_the_word() -> None:
    assert token_match("an", "irnanto") == 0  # two letters are no short form
    assert token_match("ant", "rahmantoyo") == 0  # neither head nor tail
    assert token_match("m", "muhammad") > 0 and token_match("m", "budi") == 0


# --- identifiers and dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (NIK, NIK, Agreement.EXACT),
        (NIK, "3374056504910004", Agreement.ONE_DIGIT),  # last digit
        (NIK, "3374056504190003", Agreement.ONE_DIGIT),  # adjacent digits swapped
        (NIK, "3374056504910030", Agreement.ONE_DIGIT),  # another adjacent swap
        (NIK, "3374056504910113", Agreement.DIFFERENT),  # two digits apart
        (NIK, "3201011208150001", Agreement.DIFFERENT),
        (NIK, None, Agreement.MISSING),
    ],
)
def test_nik_agreement_is_graded(a: str, b: str | None, level: Agreement) -> None:
    assert nik_agreement(a, b) is level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (date(1978, 6, 2), date(1978, 6, 2), Agreement.EXACT),
        (date(1978, 6, 2), date(1978, 2, 6), Agreement.SWAPPED),
        (date(1978, 6, 2), date(1978, 6, 20), Agreement.NEAR),
        (date(1978, 6, 2), date(1978, 1, 1), Agreement.YEAR),  # 1 January: only the year known
        (date(1978, 6, 2), date(1978, 11, 20), Agreement.SAME_YEAR_CONFLICT),
        (date(1978, 6, 2), date(1979, 11, 20), Agreement.YEAR_OFF_ONE),
        (date(1978, 6, 2), date(1990, 6, 2), Agreement.CONFLICT),
        (date(1978, 6, 2), None, Agreement.MISSING),
    ],
)
def test_birth_agreement(a: date, b: date | None, level: Agreement) -> None:
    x, y = pair(person("1", "Sari", born=a), person("2", "Sari", born=b))
    assert birth_agreement(x, y) is level


def test_birth_date_encoded_in_the_nik_counts() -> None:
    x, y = pair(person("1", "Sari", nik=NIK), person("2", "Sari", born=date(1991, 4, 25)))
    assert birth_agreement(x, y) is Agreement.EXACT
    # a mistyped recorded date still meets the NIK's date on the other side
    x, y = pair(person("1", "Sari", nik=NIK, born=date(1991, 4, 28)), person("2", "Sari", nik=NIK))
    assert birth_agreement(x, y) is Agreement.EXACT


def test_phone_and_address_normalise_across_house_styles() -> None:
    assert normalise_phone("+62 812-3456-7890") == normalise_phone("0812-3456-7890") == "234567890"
    assert normalise_phone("6281234567890") == normalise_phone("081234567890")
    assert normalise_phone("12345") is None
    a = normalise_address("Jl. Melati No. 5, RT 008/RW 003, Kel. Sukajadi")
    b = normalise_address("JALAN MELATI NO.5 RT.08 RW.03 KELURAHAN SUKAJADI")
    assert a is not None and address_agreement(a, b) is Agreement.SAME
    c = normalise_address("Jl. Kenanga No. 17, RT 001/RW 009, Kel. Cibeunying")
    assert address_agreement(a, c) is Agreement.DIFFERENT


# --- the pair -----------------------------------------------------------------------------------


def test_a_one_digit_nik_with_the_same_name_links() -> None:
    x, y = pair(person("1", "Siti Aminah", nik=NIK), person("2", "SITI AMINAH", nik="3374056504910008"))
    result = compare(x, y)
    assert result.score >= LINK_THRESHOLD and result.rule == "NIK_ONE_DIGIT"


def test_a_different_nik_is_evidence_against_not_a_veto() -> None:
    x, y = pair(
        person("1", "Siti Aminah", nik=NIK, region="33.74"),
        person("2", "Siti Aminah", nik="3374055203850001", region="33.74"),
    )
    result = compare(x, y)
    assert -100 < result.score < LINK_THRESHOLD


def _crowd(rare: str) -> list[PersonRecord]:
    """Two records of a rare name (and nothing else) among many of common names."""
    common = ["Budi Santoso", "Siti Aminah", "Dewi Lestari", "Agus Setiawan", "Sri Wahyuni"]
    crowd = [
        person(f"c{n}", common[n % 5], born=date(1960 + n % 40, 1 + n % 12, 1 + n % 28), source=f"s{n % 3}")
        for n in range(300)
    ]
    return [person("r1", rare), person("r2", rare.upper(), source="b"), *crowd]


def test_a_name_alone_never_links_however_rare() -> None:
    records = [link_record(i, r) for i, r in enumerate(_crowd("Tjahyo Rafid Waloeyo binti Okto"))]
    names = NameFrequencies(r.name.tokens for r in records)
    names.set_records(len(records))
    result = compare(records[0], records[1], names)
    assert result.rule == "NAME_ONLY" and not result.corroborated
    assert REVIEW_THRESHOLD <= result.score < LINK_THRESHOLD, "rare enough to review, never to link"
    linkage = link(records)
    assert not any({0, 1} <= set(g) for g in linkage.groups)
    assert any({p.left, p.right} == {0, 1} and p.rule == "NAME_ONLY" for p in linkage.possible)


def test_a_name_with_one_other_agreeing_field_links() -> None:
    for extra in ({"phone": "0812-3456-7890"}, {"born": date(1990, 3, 4)}):
        x, y = pair(person("1", "Tjahyo Rafid Waloeyo", **extra), person("2", "Cahyo Rafid Waluyo", **extra))  # type: ignore[arg-type]
        result = compare(x, y)
        assert result.corroborated and result.score >= LINK_THRESHOLD, extra


def test_a_nickname_with_the_same_birth_date_links() -> None:
    born = date(1985, 9, 14)
    x, y = pair(person("1", "ANTO", born=born, sex=Sex.MALE), person("2", "Irnanto", born=born, sex=Sex.MALE))
    assert compare(x, y).score >= LINK_THRESHOLD


def test_day_month_swap_with_the_same_nik_links() -> None:
    nik = "3374054206780003"  # a woman born 2 June 1978
    records = [
        person("1", "Zulaikha", nik=nik, born=date(1978, 6, 2)),
        person("2", "ZULAIKHA", nik=nik, born=date(1978, 2, 6), source="b"),
    ]
    result = link([link_record(i, r) for i, r in enumerate(records)])
    assert [sorted(g) for g in result.groups] == [[0, 1]]


def test_levels_carry_no_values() -> None:
    x, y = pair(
        person("1", "Siti", nik=NIK, phone="081234567890", address="Jl. Melati 5"),
        person("2", "Siti", nik=NIK, phone="081234567890"),
    )
    shown = levels(x, y).as_dict()
    assert shown["nik"] == "EXACT" and shown["phone"] == "EXACT" and shown["address"] == "MISSING"
    assert all(NIK not in v and "Siti" not in v for v in shown.values())


# --- reviewers' decisions bind the clustering ---------------------------------------------------------


def test_a_rejected_pair_never_ends_up_in_one_cluster() -> None:
    records = [link_record(i, person(str(i), "Siti Aminah", nik=NIK, source=f"s{i}")) for i in range(3)]
    assert sorted(map(len, link(records).groups)) == [3]
    result = link(records, rejected=[(0, 2)])
    assert not any({0, 2} <= set(g) for g in result.groups)


def test_a_confirmed_pair_is_merged_and_not_offered_again() -> None:
    records = [link_record(i, r) for i, r in enumerate(_crowd("Tjahyo Rafid Waloeyo"))]
    assert any({p.left, p.right} == {0, 1} for p in link(records).possible)
    result = link(records, confirmed=[(0, 1)])
    assert any({0, 1} <= set(g) for g in result.groups)
    assert not any({p.left, p.right} == {0, 1} for p in result.possible)


def test_clusters_hold_niks_one_digit_apart_but_not_two() -> None:
    records = [
        link_record(0, person("0", "Siti Aminah", nik=NIK)),
        link_record(1, person("1", "Siti Aminah", nik="3374056504910004", source="b")),
    ]
    clusterer = Clusterer(records)
    assert clusterer.link(0, 1, 20.0)
    far = [records[0], link_record(1, person("1", "Siti Aminah", nik="3374056504910114", source="b"))]
    assert not Clusterer(far).link(0, 1, 20.0)


# --- properties -----------------------------------------------------------------------------------

_digits = st.text(alphabet="0123456789", min_size=16, max_size=16)
_names = st.lists(
    st.sampled_from(
        ["siti", "sity", "aminah", "budi", "santoso", "muhammad", "m", "nur", "anto", "irnanto", "tuti"]
    ),
    min_size=1,
    max_size=3,
).map(" ".join)


@given(_digits, _digits)
def test_nik_agreement_matches_its_definition(a: str, b: str) -> None:
    diffs = [k for k in range(16) if a[k] != b[k]]
    swap = (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and a[diffs[0]] == b[diffs[1]]
        and a[diffs[1]] == b[diffs[0]]
    )
    expected = "EXACT" if not diffs else "ONE_DIGIT" if len(diffs) == 1 or swap else "DIFFERENT"
    assert nik_agreement(a, b).value == expected == nik_agreement(b, a).value


@settings(max_examples=200)
@given(_names, _names, st.booleans())
def test_pair_scores_do_not_depend_on_the_order_of_the_pair(a: str, b: str, same_birth: bool) -> None:
    born = date(1990, 5, 6)
    x = person("1", a, born=born)
    y = person("2", b, born=born if same_birth else date(1990, 6, 5), source="b")
    fx, fy = pair(x, y)
    fy2, fx2 = pair(y, x)
    assert compare(fx, fy).score == compare(fy2, fx2).score
    assert compare_names(fx.name, fy.name)[0] is compare_names(fy.name, fx.name)[0]


def test_twins_with_consecutive_niks_are_not_linked() -> None:
    born = date(1991, 4, 25)
    x, y = pair(
        person("1", "Siti Aminah", nik=NIK, born=born, region="33.74", address="Jl. Melati 5"),
        person(
            "2", "Dewi Lestari", nik="3374056504910004", born=born, region="33.74", address="Jl. Melati 5"
        ),
    )
    assert levels(x, y).nik is Agreement.ONE_DIGIT
    assert compare(x, y).score < REVIEW_THRESHOLD


def test_a_nik_mistyped_in_its_date_digits_does_not_make_a_birth_conflict() -> None:
    # the second NIK's day is mistyped (65 → 66): its encoded date is the 26th, not the 25th
    x, y = pair(person("1", "Siti Aminah", nik=NIK), person("2", "SITI AMINAH", nik="3374056604910003"))
    assert birth_agreement(x, y) is Agreement.MISSING
    assert compare(x, y).score >= LINK_THRESHOLD
