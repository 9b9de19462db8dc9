"""The hub returns exactly what each agency recorded, translated as the generator intended.

Expected values come from the demo generator's ground truth (written independently of the
mapping files and adapters), compared field by field for every case, person record, service
and stage event of every agency.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hub.engine.ids import GlobalId
from hub.vocabulary.model import Entity
from tests.helpers import EVERY_ROW, all_cases

AGENCIES = ["simfoni", "polri", "lpsk", "bp2mi", "kemlu"]

#: Sources whose persons come from several tables: the table a role lives in (see
#: docs/demo-agencies.md), which prefixes the record key in the hub.
PERSON_TABLES = {
    "polri": {
        "VICTIM": "korban",
        "SUSPECT": "tersangka",
        "DEFENDANT": "tersangka",
        "CONVICTED": "tersangka",
        "WITNESS": "saksi",
        "VICTIM_WITNESS": "saksi",
    },
    "simfoni": {"VICTIM": "korban", "SUSPECT": "pelaku"},
}


def truth_person_key(agency: str, person: dict[str, Any]) -> str:
    tables = PERSON_TABLES.get(agency)
    if tables is None:
        return person["key"]
    return f"{tables[person['roles'][0]]}/{person['key']}"


def key_of(global_id: str) -> str:
    return GlobalId.decode(global_id).key


@pytest.fixture(scope="module")
async def hub_cases(hub: Any) -> dict[str, list[dict[str, Any]]]:
    by_source: dict[str, list[dict[str, Any]]] = {a: [] for a in AGENCIES}
    # Every row, protected witnesses included (analysts do not see those: tests/test_policy.py).
    for case in await all_cases(hub, first=500, principal=EVERY_ROW):
        by_source[case["source"]].append(case)
    return by_source


@pytest.mark.parametrize("agency", AGENCIES)
async def test_cases_match_truth(agency: str, hub_cases: dict, truth: dict) -> None:
    expected = {
        c["key"]: (
            c["source_key"],
            c["reported_at"],
            c["region"],
            c["country"],
            sorted(c["exploitation_types"]),
            c["stage"],
        )
        for c in truth["agencies"][agency]["cases"]
    }
    got = {
        key_of(c["id"]): (
            c["sourceKey"],
            c["reportedAt"],
            c["region"]["code"] if c["region"] else None,
            c["countryOfExploitation"],
            sorted(c["exploitationTypes"]),
            c["stage"],
        )
        for c in hub_cases[agency]
    }
    assert len(got) == len(hub_cases[agency]), "a case was returned twice"
    assert got == expected


@pytest.mark.parametrize("agency", AGENCIES)
async def test_person_records_match_truth(agency: str, hub_cases: dict, truth: dict) -> None:
    expected = {
        truth_person_key(agency, p): (
            p["case_key"],
            p["roles"],
            p["sex"],
            p["age_group"],
            p["is_child"],
            p["domicile_region"],
            p["citizenship"],
        )
        for p in truth["agencies"][agency]["persons"]
    }
    got: dict[str, tuple] = {}
    for case in hub_cases[agency]:
        for person in case["victims"] + case["perpetrators"] + case["witnesses"]:
            got[key_of(person["id"])] = (
                key_of(case["id"]),
                person["roles"],
                person["sex"],
                person["ageGroup"],
                person["isChild"],
                (person["domicileRegion"] or {}).get("code"),
                person["citizenship"],
            )
    assert got.keys() == expected.keys()
    assert got == expected


@pytest.mark.parametrize("agency", AGENCIES)
async def test_services_match_truth(agency: str, hub_cases: dict, truth: dict) -> None:
    person_keys = {
        p["key"]: truth_person_key(agency, p)
        for p in truth["agencies"][agency]["persons"]
        if p["roles"][0] == "VICTIM" or agency not in PERSON_TABLES
    }
    expected = {
        s["key"]: (
            s["case_key"],
            person_keys.get(s["recipient_key"], s["recipient_key"]),
            s["type"],
            s["status"],
            s["start_date"],
            s["end_date"],
            s["provider_unit"],
        )
        for s in truth["agencies"][agency]["services"]
    }
    got = {
        key_of(s["id"]): (
            key_of(case["id"]),
            key_of(s["recipient"]["id"]) if s["recipient"] else None,
            s["type"],
            s["status"],
            s["startDate"],
            s["endDate"],
            s["providerUnit"],
        )
        for case in hub_cases[agency]
        for s in case["services"]
    }
    assert got == expected


async def test_stage_history_matches_truth(hub_cases: dict, truth: dict) -> None:
    expected = Counter(
        (e["case_key"], e["stage"], e["date"], e["reference"])
        for e in truth["agencies"]["polri"]["stage_events"]
    )
    got = Counter(
        (key_of(c["id"]), e["stage"], e["date"], e["reference"])
        for c in hub_cases["polri"]
        for e in c["stageHistory"]
    )
    assert got == expected
    for case in hub_cases["polri"]:
        dates = [e["date"] for e in case["stageHistory"]]
        assert dates == sorted(dates)


async def test_unmapped_codes_become_unknown_and_are_counted(hub: Any, truth: dict) -> None:
    retired = [c for c in truth["agencies"]["simfoni"]["cases"] if "UNKNOWN" in c["exploitation_types"]]
    assert retired, "the demo data should contain retired exploitation codes"
    from adapters.quality import measure

    report = await measure(hub.registry.get("simfoni").source)
    field = next(q for q in report.fields if q.part == "kasus" and q.field == "exploitation_types")
    assert any(v.value == "XX-LAMA" and v.count >= 1 for v in field.unmapped)


@pytest.mark.parametrize("agency", ["polri", "simfoni", "kemlu"])
async def test_scan_reads_every_person_record_once(hub: Any, truth: dict, agency: str) -> None:
    source = hub.registry.get(agency).source
    keys: list[str] = []
    position = None
    while True:
        records, position = await source.scan(Entity.PERSON, position, 97)
        keys.extend(r.key for r in records)
        if position is None:
            break
    expected = [truth_person_key(agency, p) for p in truth["agencies"][agency]["persons"]]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(expected)
