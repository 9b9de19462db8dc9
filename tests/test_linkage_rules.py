"""Normalisation, scoring and clustering rules, and the hard cases of issue 5.

Each hard case is checked twice: on hand-made records (the rule itself) and, where the demo
world contains such people, on the demo data against the generator's ground truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from hub.linkage.engine import link
from hub.linkage.features import link_record
from hub.linkage.index import LinkageIndex
from hub.linkage.normalise import (
    name_key,
    nik_facts,
    normalise_birth_date,
    normalise_name,
    normalise_nik,
    normalise_passport,
)
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole, Sex
from tests.linkage_helpers import linked_fixture, truth_persons, truth_records  # noqa: F401 - fixture


def record(
    source: str,
    key: str,
    name: str,
    *,
    case: str | None = None,
    role: PersonRole = PersonRole.VICTIM,
    sex: Sex = Sex.FEMALE,
    nik: str | None = None,
    born: date | None = None,
    passport: str | None = None,
    region: str | None = None,
    age: AgeGroup = AgeGroup.UNKNOWN,
) -> PersonRecord:
    return PersonRecord(
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
    )


def clusters(records: list[PersonRecord]) -> list[set[str]]:
    features = [link_record(i, r) for i, r in enumerate(records)]
    result = link(features)
    return sorted(({f"{records[i].source}:{records[i].key}" for i in g} for g in result.groups), key=min)


def together(groups: list[set[str]], *refs: str) -> bool:
    return any(set(refs) <= g for g in groups)


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tokens", "patronym"),
    [
        ("Hj. Siti Nurjanah binti Soelaiman", ("siti", "nurjanah"), ("sulaiman",)),
        ("BUDI SANTOSO, S.Pd.", ("budi", "santoso"), ()),
        ("Drs. Tjahyo  Soesanto", ("cahyo", "susanto"), ()),
        ("H.Achmad Djunaidi", ("ahmad", "junaidi"), ()),
        ("M. Yusuf bin Ahmad", ("muhammad", "yusuf"), ("ahmad",)),
        ("Moh. Sjaiful", ("muhammad", "syaiful"), ()),
        ("Ir. Njoman", ("nyoman",), ()),
        ("Chairul Anwar", ("khairul", "anwar"), ()),
        ("dr. Abd. Rahman", ("abdul", "rahman"), ()),
        ("", (), ()),
    ],
)
def test_names_normalise(raw: str, tokens: tuple[str, ...], patronym: tuple[str, ...]) -> None:
    parts = normalise_name(raw)
    assert parts.tokens == tokens
    assert parts.patronym == patronym


def test_name_key_ignores_order_case_and_orthography() -> None:
    assert name_key(normalise_name("Soesanto TJAHYO")) == name_key(normalise_name("cahyo susanto"))
    assert name_key(normalise_name("Joko Widodo")) != name_key(normalise_name("Joko Santoso"))


def test_nik_facts_decode_sex_birth_date_and_region() -> None:
    woman = nik_facts("3374056504910003")
    assert (woman.region, woman.sex, woman.birth_date) == ("33.74", Sex.FEMALE, date(1991, 4, 25))
    man = nik_facts("3201011208150001")
    assert (man.sex, man.birth_date) == (Sex.MALE, date(2015, 8, 12))
    assert normalise_nik(" 3374-0565-0491-0003 ") == "3374056504910003"
    assert normalise_nik("12345") is None
    assert normalise_passport("c 123 4567") == "C1234567"


def test_year_only_birth_dates() -> None:
    assert normalise_birth_date(date(1990, 1, 1)).year_only  # type: ignore[union-attr]
    assert not normalise_birth_date(date(1990, 3, 1)).year_only  # type: ignore[union-attr]


# --- hard cases: rules ------------------------------------------------------------------------


def test_same_common_name_and_birth_year_are_not_linked() -> None:
    born_a, born_b = date(1995, 3, 14), date(1995, 9, 2)
    records = [
        record("simfoni", "1", "Siti Aminah", born=born_a, region="33.01"),
        record("polri", "2", "SITI AMINAH", born=born_b),
        record("lpsk", "3", "Siti Aminah", born=date(1995, 1, 1), region="35.07"),  # year only
        record("bp2mi", "4", "SITI AMINAH", nik="3201015409950001"),  # NIK of a third woman
        record("kemlu", "5", "Siti Aminah", nik="3301015403950001", born=born_a),  # the first again
    ]
    groups = clusters(records)
    assert not together(groups, "simfoni:1", "polri:2")
    assert not together(groups, "simfoni:1", "bp2mi:4")
    assert not together(groups, "polri:2", "bp2mi:4")
    assert together(groups, "simfoni:1", "kemlu:5")
    # The year-only record could be either woman: it must not chain them together.
    assert not any({"simfoni:1", "polri:2"} <= g for g in groups)


def test_nik_in_one_agency_and_only_a_passport_in_another() -> None:
    nik = "5203156501910001"
    records = [
        record("simfoni", "1", "Raina Hastuti", nik=nik, born=date(1991, 1, 25), region="52.03"),
        record("kemlu", "2", "RAINA HASTUTI", passport="B0454760", born=date(1991, 1, 25)),
        record("bp2mi", "3", "RAINA HASTUTI", passport="B0454760", region="52.03"),
    ]
    groups = clusters(records)
    assert together(groups, "simfoni:1", "kemlu:2", "bp2mi:3")


def test_old_and_new_orthography_link() -> None:
    records = [
        record("polri", "1", "TJAHYO SOESANTO", sex=Sex.MALE, born=date(1968, 7, 15)),
        record("simfoni", "2", "Cahyo Susanto", sex=Sex.MALE, born=date(1968, 7, 15), region="33.73"),
        record("lpsk", "3", "Djoko Soedjono", sex=Sex.MALE, nik="3373011507680001"),
    ]
    groups = clusters(records)
    assert together(groups, "polri:1", "simfoni:2")
    assert not together(groups, "polri:1", "lpsk:3")


def test_child_witness_in_one_agency_and_victim_in_another() -> None:
    born = date(2009, 5, 19)
    records = [
        record(
            "lpsk", "1", "Sakoera binti Akarsana", role=PersonRole.WITNESS, nik="3526195905090001", born=born
        ),
        record("simfoni", "2", "Sakura", born=born, region="35.26", age=AgeGroup.AGE_13_17),
        record("polri", "korban/3", "SAKURA BINTI AKARSANA", nik="3526195905090001", age=AgeGroup.AGE_13_17),
    ]
    groups = clusters(records)
    assert together(groups, "lpsk:1", "simfoni:2", "polri:korban/3")


def test_one_bad_pair_does_not_chain_two_people() -> None:
    # Two women, each well identified; a vague record resembles both.
    records = [
        record("simfoni", "1", "Dewi Lestari", nik="3201014101900001", born=date(1990, 1, 1)),
        record("polri", "2", "DEWI LESTARI", nik="3201014101900001"),
        record("lpsk", "3", "Dewi Lestari", nik="3302055506920002", born=date(1992, 6, 15)),
        record("kemlu", "4", "Dewi Lestari", nik="3302055506920002"),
        record("bp2mi", "5", "DEWI LESTARI"),
    ]
    groups = clusters(records)
    assert not together(groups, "simfoni:1", "lpsk:3")


def test_sex_and_same_case_veto() -> None:
    records = [
        record("simfoni", "1", "Nur Hidayah", born=date(2000, 2, 2), sex=Sex.FEMALE),
        record("polri", "2", "Nur Hidayah", born=date(2000, 2, 2), sex=Sex.MALE),
        record("polri", "korban/3", "Ani", case="LP/1", born=date(2001, 1, 5)),
        record("polri", "korban/4", "Ani", case="LP/1", born=date(2001, 1, 5)),
        record("polri", "saksi/5", "ANI", case="LP/1", role=PersonRole.VICTIM_WITNESS),
    ]
    groups = clusters(records)
    assert not together(groups, "simfoni:1", "polri:2")
    assert not together(groups, "polri:korban/3", "polri:korban/4")  # two victims of one case


# --- hard cases on the demo data (ground truth) ---------------------------------------------


async def _assignments(hub: Any) -> dict[tuple[str, str], int]:
    return await LinkageIndex(hub.store.engine).assignments()


def _pairs_linked(pairs: list[tuple[Any, Any]], assigned: dict) -> float:
    return sum(1 for a, b in pairs if assigned[a] == assigned[b]) / len(pairs)


async def test_demo_nik_versus_passport_only(hub: Any, linked: Any, truth: dict) -> None:
    records = truth_records(truth)
    pairs = []
    for refs in truth_persons(truth).values():
        with_nik = [r for r in refs if records[r]["nik"] and not records[r]["passport_number"]]
        with_passport = [r for r in refs if records[r]["passport_number"] and not records[r]["nik"]]
        pairs += [(a, b) for a in with_nik for b in with_passport]
    assert len(pairs) > 50
    assert _pairs_linked(pairs, await _assignments(hub)) >= 0.95


async def test_demo_old_and_new_orthography(hub: Any, linked: Any, truth: dict) -> None:
    records = truth_records(truth)
    old = ("oe", "dj", "tj", "nj", "sj")
    pairs = []
    for refs in truth_persons(truth).values():
        names = {r: records[r]["full_name"].lower() for r in refs}
        olds = [r for r in refs if any(o in names[r] for o in old)]
        news = [r for r in refs if not any(o in names[r] for o in old)]
        pairs += [(a, b) for a in olds for b in news]
    assert len(pairs) > 30
    assert _pairs_linked(pairs, await _assignments(hub)) >= 0.9


async def test_demo_same_name_and_birth_year_different_people(hub: Any, linked: Any, truth: dict) -> None:
    records = truth_records(truth)
    by_name_year: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    for ref, p in records.items():
        if p["birth_date"]:
            key = (name_key(normalise_name(p["full_name"])), int(p["birth_date"][:4]))
            by_name_year[key].append(ref)
    pairs = [
        (a, b)
        for refs in by_name_year.values()
        for i, a in enumerate(refs)
        for b in refs[i + 1 :]
        if records[a]["person"] != records[b]["person"]
    ]
    assert len(pairs) > 20, "the demo world should contain namesakes born in the same year"
    assigned = await _assignments(hub)
    wrongly = [(a, b) for a, b in pairs if assigned[a] == assigned[b]]
    # Namesakes with birth dates weeks apart and no NIK are indistinguishable from one
    # person whose date was mistyped; the rest must stay apart.
    print(f"namesake pairs born in the same year: {len(pairs)}, linked: {len(wrongly)}")
    assert len(wrongly) <= 0.1 * len(pairs)


async def test_demo_child_witness_and_victim(hub: Any, linked: Any, truth: dict) -> None:
    records = truth_records(truth)
    pairs = []
    for refs in truth_persons(truth).values():
        witness = [
            r
            for r in refs
            if records[r]["roles"][0] in ("WITNESS", "VICTIM_WITNESS") and records[r]["is_child"]
        ]
        victim = [r for r in refs if records[r]["roles"][0] == "VICTIM" and records[r]["is_child"]]
        pairs += [(a, b) for a in witness for b in victim if a[0] != b[0]]
    assert len(pairs) > 10
    assert _pairs_linked(pairs, await _assignments(hub)) >= 0.9
