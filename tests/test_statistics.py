"""statistics equals counts computed independently from the ground truth, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from itertools import product
from typing import Any

import pytest

from hub.access.policy import Principal
from tests.linkage_helpers import linked_fixture  # noqa: F401 - fixture
from tests.test_filters import truth_victims

AGENCY_CODE = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}
CASE_DIMENSIONS = [
    "YEAR",
    "MONTH",
    "PROVINCE",
    "REGENCY",
    "AGENCY",
    "EXPLOITATION_TYPE",
    "STAGE",
    "COUNTRY_OF_EXPLOITATION",
]


def case_values(agency: str, case: dict[str, Any], dimension: str) -> list[str | None]:
    day, region = case["reported_at"], case["region"]
    return {
        "YEAR": lambda: [day[:4] if day else None],
        "MONTH": lambda: [day[:7] if day else None],
        "PROVINCE": lambda: [region[:2] if region else None],
        "REGENCY": lambda: [region],
        "AGENCY": lambda: [AGENCY_CODE[agency]],
        "EXPLOITATION_TYPE": lambda: sorted(set(case["exploitation_types"])) or ["UNKNOWN"],
        "STAGE": lambda: [case["stage"]],
        "COUNTRY_OF_EXPLOITATION": lambda: [case["country"]],
    }[dimension]()


def person_values(person: dict[str, Any], dimension: str) -> list[str | None]:
    child = person["is_child"]
    return {
        "SEX": [person["sex"]],
        "AGE_GROUP": [person["age_group"]],
        "CHILD": [None if child is None else ("true" if child else "false")],
    }[dimension]


#: LPSK's protected witnesses: absent for everyone but LPSK's own staff, in counts too.
PROTECTED_ROLES = {"WITNESS", "VICTIM_WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}


def expected(truth: dict[str, Any], measure: str, dimensions: list[str]) -> tuple[Counter, int]:
    """Cells and total as a viewer outside LPSK sees them (protected witnesses left out)."""
    cells: Counter = Counter()
    total = 0
    for agency, data in truth["agencies"].items():
        cases = {c["key"]: c for c in data["cases"]}
        hidden = {p["key"] for p in data["persons"] if agency == "lpsk" and PROTECTED_ROLES & set(p["roles"])}
        if measure == "CASES":
            items = [(c, None, None) for c in data["cases"]]
        elif measure == "VICTIM_RECORDS":
            items = [
                (cases[p["case_key"]], p, None)
                for p in data["persons"]
                if {"VICTIM", "VICTIM_WITNESS"} & set(p["roles"]) and p["key"] not in hidden
            ]
        else:
            items = [
                (cases[s["case_key"]], None, s) for s in data["services"] if s["recipient_key"] not in hidden
            ]
        for case, person, service in items:
            total += 1
            options = []
            for dimension in dimensions:
                if dimension in ("SEX", "AGE_GROUP", "CHILD"):
                    options.append(person_values(person, dimension))
                elif dimension == "SERVICE_TYPE":
                    options.append([service["type"]])
                else:
                    options.append(case_values(agency, case, dimension))
            for cell in product(*options):
                cells[cell] += 1
    return cells, total


QUERY = """query($m: Measure!, $d: [Dimension!]!) {
  statistics(measure: $m, groupBy: $d) { total rows { keys { dimension value label } count suppressed } }
}"""


#: Exact counts are for coordinators; other roles get suppressed tables (tested below).
COORDINATOR = Principal(subject="test", role="coordinator", purpose="statistics")


async def got(hub: Any, measure: str, dimensions: list[str]) -> tuple[Counter, int]:
    result = await hub.execute(QUERY, {"m": measure, "d": dimensions}, COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    stats = result.data["statistics"]
    cells: Counter = Counter()
    for row in stats["rows"]:
        assert [k["dimension"] for k in row["keys"]] == dimensions
        assert not row["suppressed"]
        cells[tuple(k["value"] for k in row["keys"])] += row["count"]
    return cells, stats["total"]


CASES = [("CASES", [d]) for d in CASE_DIMENSIONS]
CASES += [("VICTIM_RECORDS", [d]) for d in [*CASE_DIMENSIONS, "SEX", "AGE_GROUP", "CHILD"]]
CASES += [("SERVICES", [d]) for d in [*CASE_DIMENSIONS, "SERVICE_TYPE"]]
CASES += [
    ("CASES", ["PROVINCE", "YEAR", "EXPLOITATION_TYPE"]),
    ("VICTIM_RECORDS", ["AGENCY", "SEX", "CHILD"]),
    ("SERVICES", ["AGENCY", "SERVICE_TYPE", "YEAR"]),
]


@pytest.mark.parametrize(("measure", "dimensions"), CASES)
async def test_statistics_match_the_ground_truth(
    hub: Any, truth: dict, measure: str, dimensions: list[str]
) -> None:
    assert await got(hub, measure, dimensions) == expected(truth, measure, dimensions)


@pytest.mark.parametrize(
    ("measure", "dimensions"),
    [
        ("CASES", ["PROVINCE", "YEAR", "EXPLOITATION_TYPE"]),
        ("VICTIM_RECORDS", ["AGENCY", "AGE_GROUP"]),
        ("SERVICES", ["SERVICE_TYPE", "STAGE"]),
    ],
)
async def test_statistics_on_postgres_match_the_ground_truth(
    pg_hub: Any, truth: dict, measure: str, dimensions: list[str]
) -> None:
    assert await got(pg_hub, measure, dimensions) == expected(truth, measure, dimensions)


async def test_filtered_statistics(hub: Any, truth: dict) -> None:
    """Child victims of forced criminality reported 2019-2025 in Java, by agency."""
    query = """{ statistics(measure: CASES, groupBy: [AGENCY], filter: {
      regions: ["31","32","33","34","35","36"],
      childVictim: true, exploitationTypes: [FORCED_CRIMINALITY, CHILD_LABOUR]}) {
      total rows { keys { value } count } coverage { source status excludedFor } } }"""
    result = await hub.execute(query, None, COORDINATOR)
    assert not result.errors
    victims = truth_victims(truth)
    want: Counter = Counter()
    for agency, data in truth["agencies"].items():
        if agency == "kemlu":
            continue  # records no region: excluded
        for case in data["cases"]:
            if (
                case["region"]
                and case["region"][:2] in {"31", "32", "33", "34", "35", "36"}
                and {"FORCED_CRIMINALITY", "CHILD_LABOUR"} & set(case["exploitation_types"])
                and any(v["is_child"] for v in victims.get((agency, case["key"]), []))
            ):
                want[AGENCY_CODE[agency]] += 1
    stats = result.data["statistics"]
    assert {r["keys"][0]["value"]: r["count"] for r in stats["rows"]} == dict(want)
    assert stats["total"] == sum(want.values())
    coverage = {c["source"]: c for c in stats["coverage"]}
    assert coverage["kemlu"]["status"] == "excluded" and coverage["kemlu"]["excludedFor"] == ["regions"]


async def test_each_source_sends_group_by(hub: Any) -> None:
    result = await hub.execute("{ statistics(measure: CASES, groupBy: [PROVINCE, YEAR]) { total } }")
    for source in result.extensions["sources"]:
        # The grouped counts alone: the total is the sum of their groups' counts
        # (adapters.statistics.aggregate_counted), nothing per row.
        assert source["statements"] == 1


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ("measure: CASES, groupBy: []", "groupBy"),
        ("measure: CASES, groupBy: [YEAR, MONTH, AGENCY, STAGE]", "groupBy"),
        ("measure: CASES, groupBy: [YEAR, YEAR]", "groupBy"),
        ("measure: CASES, groupBy: [SEX]", "groupBy"),
        ("measure: VICTIM_RECORDS, groupBy: [SERVICE_TYPE]", "groupBy"),
        ('measure: CASES, groupBy: [YEAR], filter: {regions: ["00"]}', "filter.regions"),
    ],
)
async def test_bad_statistics_arguments(hub: Any, args: str, argument: str) -> None:
    result = await hub.execute(f"{{ statistics({args}) {{ total }} }}")
    (error,) = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": argument}


async def test_analysts_get_suppressed_cells_and_no_small_counts(hub: Any) -> None:
    query = """{ statistics(measure: VICTIM_RECORDS, groupBy: [REGENCY, SEX]) {
        suppressed total rows { count suppressed } } }"""
    result = await hub.execute(query, None, Principal(role="analyst"))
    assert not result.errors
    stats = result.data["statistics"]
    assert stats["suppressed"] and any(r["suppressed"] for r in stats["rows"])
    assert all(r["count"] is None or r["count"] >= 11 for r in stats["rows"])
    exact = await hub.execute(query, None, COORDINATOR)
    assert not exact.data["statistics"]["suppressed"]
    assert all(r["count"] is not None for r in exact.data["statistics"]["rows"])


async def test_victims_are_distinct_persons(hub: Any, linked: Any, truth: dict) -> None:
    query = """{
      v: statistics(measure: VICTIMS, groupBy: [AGENCY]) {
        total rows { keys { value } count }
        doubleCounting { recordTotal agencySum distinct duplicates perAgency { agency records persons } }
      }
      r: statistics(measure: VICTIM_RECORDS, groupBy: [AGENCY]) { total }
    }"""
    result = await hub.execute(query, None, COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    victims, records = result.data["v"], result.data["r"]
    truth_records = [
        p
        for agency, data in truth["agencies"].items()
        for p in data["persons"]
        if {"VICTIM", "VICTIM_WITNESS"} & set(p["roles"])
        and not (agency == "lpsk" and PROTECTED_ROLES & set(p["roles"]))
    ]
    truth_persons = {p["person"] for p in truth_records}
    double = victims["doubleCounting"]
    assert records["total"] == len(truth_records) == double["recordTotal"]
    # Linkage is measured at precision >= 0.98, recall >= 0.95: distinct persons land close to
    # the truth, far below the record count that adding agencies up would give.
    assert abs(victims["total"] - len(truth_persons)) <= 0.05 * len(truth_persons)
    assert victims["total"] == double["distinct"] < double["recordTotal"]
    assert double["duplicates"] == double["agencySum"] - double["distinct"] > 0
    per_agency = {a["agency"]: a for a in double["perAgency"]}
    assert {r["keys"][0]["value"]: r["count"] for r in victims["rows"]} == {
        code: a["persons"] for code, a in per_agency.items()
    }


async def test_double_counting_is_for_coordinators(hub: Any) -> None:
    result = await hub.execute(
        "{ statistics(measure: CASES, groupBy: [YEAR]) { total doubleCounting { distinct } } }",
        None,
        Principal(role="analyst"),
    )
    assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
    assert result.data["statistics"]["doubleCounting"] is None
    assert result.data["statistics"]["total"] is not None
