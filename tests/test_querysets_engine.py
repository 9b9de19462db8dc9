"""Query-set restriction (:mod:`hub.access.querysets`) at the k boundary, on the small world.

For each list field, two values are taken whose counts alone (from the generator's ground
truth) are a < b: with k = a the list is answered (a is not under k), with k = a + 1 it is
refused naming the smaller value, with the documented message. A value that counts none is
never refused, and a list of one value is never checked.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from hub.access.querysets import SmallComponent, check
from hub.server.app import Hub
from hub.vocabulary.model import (
    AgeGroup,
    CaseFilter,
    CaseStage,
    Dimension,
    ExploitationType,
    Measure,
    Sex,
    StatisticsRequest,
)
from tests import small_world
from tests.test_filters import VICTIM_ROLES, expected_cases

world = small_world.fixture()
AGENCY = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}


def cases(truth: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(source, c) for source, d in truth["agencies"].items() for c in d["cases"]]


def victims_by_case(truth: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for source, d in truth["agencies"].items():
        for p in d["persons"]:
            if set(p["roles"]) & VICTIM_ROLES:
                out.setdefault((source, p["case_key"]), []).append(p)
    return out


def counts(truth: dict[str, Any], field: str) -> Counter[str]:
    """Cases per value of a list field, each value alone (as the rules count them)."""
    found: Counter[str] = Counter()
    victims = victims_by_case(truth)
    for source, c in cases(truth):
        if field == "agencies":
            found[AGENCY[source]] += 1
        elif field == "province" and c["region"]:
            found[c["region"][:2]] += 1
        elif field == "regency" and c["region"] and "." in c["region"]:
            found[c["region"][:5]] += 1
        elif field == "exploitation_types":
            found.update(set(c["exploitation_types"]))
        elif field == "stages" and c["stage"] and source in ("simfoni", "polri"):
            found[c["stage"]] += 1
        elif field == "countries_of_exploitation" and c["country"]:
            found[c["country"]] += 1
        elif field in ("victim_sex", "victim_age_groups"):
            attribute = "sex" if field == "victim_sex" else "age_group"
            found.update({v[attribute] for v in victims.get((source, c["key"]), [])})
    return found


def as_value(field: str, name: str) -> Any:
    enum = {
        "exploitation_types": ExploitationType,
        "stages": CaseStage,
        "victim_sex": Sex,
        "victim_age_groups": AgeGroup,
    }.get(field)
    return enum[name] if enum else name


FIELDS = [
    ("agencies", "agencies"),
    ("regions", "province"),
    ("regions", "regency"),
    ("exploitation_types", "exploitation_types"),
    ("stages", "stages"),
    ("countries_of_exploitation", "countries_of_exploitation"),
    ("victim_sex", "victim_sex"),
    ("victim_age_groups", "victim_age_groups"),
]
GRAPHQL = {
    "agencies": "agencies",
    "regions": "regions",
    "exploitation_types": "exploitationTypes",
    "stages": "stages",
    "countries_of_exploitation": "countriesOfExploitation",
    "victim_sex": "victimSex",
    "victim_age_groups": "victimAgeGroups",
}


@pytest.mark.parametrize(("field", "counted"), FIELDS)
async def test_each_value_alone_at_the_k_boundary(
    world: tuple[Hub, dict[str, Any]], field: str, counted: str
) -> None:
    hub, truth = world
    found = counts(truth, counted)
    ranked = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))
    (small, a), (large, b) = ranked[0], ranked[-1]
    assert 0 < a < b, ranked
    request = StatisticsRequest(
        Measure.CASES, (), CaseFilter(**{field: (as_value(field, small), as_value(field, large))})
    )
    await check(hub.federation, hub.federation.new_context(), request, a)
    with pytest.raises(SmallComponent) as refused:
        await check(hub.federation, hub.federation.new_context(), request, a + 1)
    assert (refused.value.field, refused.value.value, refused.value.k) == (field, small, a + 1)
    assert str(refused.value) == (
        f"filter.{GRAPHQL[field]}: {small} alone counts fewer than {a + 1}; "
        "ask for it on its own (its count is suppressed) or leave it out"
    )
    # One value is never checked, however small.
    alone = StatisticsRequest(Measure.CASES, (), CaseFilter(**{field: (as_value(field, small),)}))
    await check(hub.federation, hub.federation.new_context(), alone, 10_000)


async def test_values_that_count_none_are_never_refused(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    big = max(counts(truth, "agencies").values())
    request = StatisticsRequest(Measure.CASES, (), CaseFilter(agencies=("POLRI", "NOBODY")))
    await check(hub.federation, hub.federation.new_context(), request, big)
    regions = StatisticsRequest(Measure.CASES, (), CaseFilter(regions=("99", "99.99")))
    await check(hub.federation, hub.federation.new_context(), regions, 10_000)


async def test_victims_are_checked_on_victim_records(world: tuple[Hub, dict[str, Any]]) -> None:
    """VICTIMS is counted on victim records (no linkage needed for the check)."""
    hub, truth = world
    records: Counter[str] = Counter()
    for source, d in truth["agencies"].items():
        records[AGENCY[source]] += sum(1 for p in d["persons"] if set(p["roles"]) & VICTIM_ROLES)
    (small, a), (large, _) = (
        sorted(records.items(), key=lambda kv: (kv[1], kv[0]))[0],
        max(records.items(), key=lambda kv: kv[1]),
    )
    request = StatisticsRequest(Measure.VICTIMS, (), CaseFilter(agencies=(small, large)))
    await check(hub.federation, hub.federation.new_context(), request, a)
    with pytest.raises(SmallComponent) as refused:
        await check(hub.federation, hub.federation.new_context(), request, a + 1)
    assert refused.value.value == small


async def test_each_value_is_counted_with_the_rest_of_the_filter(world: tuple[Hub, dict[str, Any]]) -> None:
    """Each value alone, "the rest of the filter unchanged": a date window restricts the count.

    Expected counts are the generator's cases per agency inside the window (the filter rules of
    tests/test_filters.py); the smaller agency has fewer cases in the window than in all, so a k
    just above its windowed count refuses it, and a check that forgot the window would not.
    """
    hub, truth = world
    days = sorted({c["reported_at"] for _, c in cases(truth) if c["reported_at"]})
    window = {"reportedFrom": days[len(days) // 2]}
    inside = Counter(AGENCY[source] for source, _ in expected_cases(truth, {}, window))
    every = counts(truth, "agencies")
    small, a = min(((n, agency) for agency, n in inside.items() if 0 < n < every[agency]))[::-1]
    large = max(inside, key=lambda agency: (inside[agency], agency))
    assert inside[large] > a
    f = CaseFilter(reported_from=date.fromisoformat(window["reportedFrom"]), agencies=(small, large))
    request = StatisticsRequest(Measure.CASES, (), f)
    await check(hub.federation, hub.federation.new_context(), request, a)
    with pytest.raises(SmallComponent) as refused:
        await check(hub.federation, hub.federation.new_context(), request, a + 1)
    assert (refused.value.field, refused.value.value, refused.value.k) == ("agencies", small, a + 1)


async def test_the_grouped_check_reports_no_rows(world: tuple[Hub, dict[str, Any]]) -> None:
    """The check's grouped counts are exact: the sources it asks report 0 rows read for them
    (``extensions.sources``), while the same count asked as a statistic reports its rows."""
    hub, truth = world
    by_agency = counts(truth, "agencies")
    request = StatisticsRequest(Measure.CASES, (), CaseFilter(agencies=tuple(sorted(by_agency))))
    ctx = hub.federation.new_context()
    await check(hub.federation, ctx, request, 1)
    asked = {name for name, usage in ctx.usage.items() if usage.calls}
    assert asked == set(truth["agencies"])
    assert {usage.rows for usage in ctx.usage.values()} == {0}
    shown = hub.federation.new_context()
    await hub.federation.statistics(
        shown, StatisticsRequest(Measure.CASES, (Dimension.AGENCY,), CaseFilter())
    )
    assert all(usage.rows > 0 for usage in shown.usage.values())
