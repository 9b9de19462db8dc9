"""Case filters and keyset positions (:mod:`adapters.filters`) in each source's SQL, on a small world.

The same plain-Python reading of the filter semantics as tests/test_filters.py (imported from
there) gives the expected cases from the generator's ground truth; here the engine is asked
directly, on a world small enough that the file runs in seconds (for ``make mutate``). The
filters are a fixed list — every field alone, at its edges (a date range of one day, the
boundaries themselves), and combined — so every run checks the same thing.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from hub.server.app import Hub
from hub.vocabulary.model import (
    AgeGroup,
    CaseFilter,
    CaseStage,
    ExploitationType,
    Keyset,
    PersonRole,
    Sex,
    SortOrder,
)
from tests import small_world
from tests.test_filters import AGE_GROUPS, COUNTRIES, EXPLOITATION, STAGES, VICTIM_ROLES, expected_cases

world = small_world.fixture()


def case_filter(f: dict[str, Any]) -> CaseFilter:
    """The GraphQL-shaped filter dict of tests/test_filters.py as the engine's CaseFilter."""
    return CaseFilter(
        reported_from=date.fromisoformat(f["reportedFrom"]) if "reportedFrom" in f else None,
        reported_to=date.fromisoformat(f["reportedTo"]) if "reportedTo" in f else None,
        regions=tuple(f.get("regions", ())),
        exploitation_types=tuple(ExploitationType[x] for x in f.get("exploitationTypes", ())),
        stages=tuple(CaseStage[x] for x in f.get("stages", ())),
        victim_sex=tuple(Sex[x] for x in f.get("victimSex", ())),
        victim_age_groups=tuple(AgeGroup[x] for x in f.get("victimAgeGroups", ())),
        child_victim=f.get("childVictim"),
        countries_of_exploitation=tuple(f.get("countriesOfExploitation", ())),
        text=f.get("text"),
    )


async def engine_cases(hub: Hub, f: dict[str, Any]) -> set[tuple[str, str]]:
    page = await hub.federation.cases(
        hub.federation.new_context(), case_filter(f), SortOrder.DESC, 1000, None
    )
    found = [(n.record.source, n.record.key) for n in page.items]
    assert len(found) == len(set(found))
    return set(found)


def the_filters(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field alone and at its edges, then random combinations (fixed seed)."""
    days = sorted(
        {c["reported_at"] for d in truth["agencies"].values() for c in d["cases"] if c["reported_at"]}
    )
    regions = sorted({c["region"] for d in truth["agencies"].values() for c in d["cases"] if c["region"]})
    keys = sorted(
        {c["source_key"] for d in truth["agencies"].values() for c in d["cases"] if c["source_key"]}
    )
    middle = days[len(days) // 2]
    out: list[dict[str, Any]] = [
        {"reportedFrom": middle},
        {"reportedTo": middle},
        {"reportedFrom": middle, "reportedTo": middle},  # one day: both bounds inclusive
        {"reportedFrom": days[0]},
        {"reportedTo": days[0]},
        {"reportedFrom": days[-1]},
        {"regions": [regions[0]]},
        {"regions": [regions[0][:2]]},  # a province prefix
        {"regions": [regions[0][:2], regions[-1]]},
        {"exploitationTypes": ["FORCED_LABOUR"]},
        {"exploitationTypes": ["SEXUAL_EXPLOITATION", "UNKNOWN"]},
        {"stages": ["TRIAL", "REPORTED"]},
        {"countriesOfExploitation": ["MY"]},
        {"countriesOfExploitation": ["SA", "HK"]},
        {"text": keys[0][:4].lower()},
        {"text": keys[-1]},
        {"victimSex": ["FEMALE"]},
        {"victimSex": ["MALE"]},
        {"victimSex": ["UNKNOWN"]},
        {"victimAgeGroups": ["AGE_13_17"]},
        {"victimAgeGroups": ["AGE_18_24", "UNKNOWN"]},
        {"childVictim": True},
        {"childVictim": False},
        {"victimSex": ["FEMALE"], "childVictim": True},
        {"victimSex": ["MALE"], "victimAgeGroups": ["AGE_25_44"]},
    ]
    rng = random.Random(2023)
    for _ in range(10):
        f: dict[str, Any] = {}
        for name, pick in [
            ("reportedFrom", lambda: rng.choice(days)),
            ("regions", lambda: rng.sample(regions, 2)),
            ("exploitationTypes", lambda: rng.sample(EXPLOITATION, 2)),
            ("stages", lambda: rng.sample(STAGES, 3)),
            ("victimSex", lambda: [rng.choice(["MALE", "FEMALE"])]),
            ("victimAgeGroups", lambda: rng.sample(AGE_GROUPS, 2)),
            ("childVictim", lambda: rng.choice([True, False])),
            ("countriesOfExploitation", lambda: rng.sample(COUNTRIES, 3)),
        ]:
            if rng.random() < 0.3:
                f[name] = pick()
        out.append(f)
    return out


def every_victim(truth: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Victim records per case, protected witnesses included: the engine asked without a
    request's row rule hides nothing (the policy's hiding is tested in tests/test_filters.py)."""
    victims: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for agency, data in truth["agencies"].items():
        for person in data["persons"]:
            if set(person["roles"]) & VICTIM_ROLES:
                victims.setdefault((agency, person["case_key"]), []).append(person)
    return victims


async def test_filters_select_exactly_the_matching_cases(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    victims = every_victim(truth)
    nonempty = 0
    for f in the_filters(truth):
        want = expected_cases(truth, victims, f)
        assert await engine_cases(hub, f) == want, f
        nonempty += bool(want)
    assert nonempty >= 22  # the filters do select something, so a filter that drops all fails


@pytest.mark.parametrize("order", [SortOrder.ASC, SortOrder.DESC])
async def test_a_keyset_position_resumes_after_every_case(
    world: tuple[Hub, dict[str, Any]], order: SortOrder
) -> None:
    """From each case's position, the next page is exactly the cases after it in the order."""
    hub, _ = world
    page = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, 1000, None)
    ordered = [n.record for n in page.items]
    assert len(ordered) == 158
    for i in range(0, len(ordered), 9):
        at = ordered[i]
        following = await hub.federation.cases(
            hub.federation.new_context(),
            CaseFilter(),
            order,
            4,
            Keyset(at.reported_at, at.source, at.key),
        )
        assert [(r.record.source, r.record.key) for r in following.items] == [
            (r.source, r.key) for r in ordered[i + 1 : i + 5]
        ], i


@pytest.mark.parametrize("order", [SortOrder.ASC, SortOrder.DESC])
async def test_a_position_on_a_day_without_cases(world: tuple[Hub, dict[str, Any]], order: SortOrder) -> None:
    """A cursor from another source on the same day: sources after it by name follow."""
    hub, _ = world
    page = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, 1000, None)
    ordered = [(n.record.reported_at, n.record.source, n.record.key) for n in page.items]
    for day, source in sorted({(d, s) for d, s, _ in ordered[::16]}):
        for name in ("a", "zz", source + "~", source[:-1]):
            after = Keyset(day, name, "1")
            got = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, 1000, after)
            # No source has that name: the rest is strictly after (day, name) in the order.
            if order is SortOrder.ASC:
                rest = [r for r in ordered if (r[0], r[1]) > (day, name)]
            else:
                rest = [r for r in ordered if (r[0], r[1]) < (day, name)]
            assert [(n.record.reported_at, n.record.source, n.record.key) for n in got.items] == rest, (
                day,
                name,
            )


@pytest.mark.parametrize(("order", "count"), [(SortOrder.ASC, 158), (SortOrder.DESC, 0)])
async def test_after_an_undated_case(world: tuple[Hub, dict[str, Any]], order: SortOrder, count: int) -> None:
    """Undated cases sort as the earliest: after one, ascending, every dated case follows;
    descending, only undated ones (this world has none)."""
    hub, _ = world
    for name in ("a", "m", "zz"):
        after = Keyset(None, name, "1")
        got = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, 1000, after)
        assert len(got.items) == count


@pytest.mark.parametrize("hidden", ["VICTIM_WITNESS", "VICTIM"])
async def test_victim_conditions_skip_hidden_victim_roles(
    world: tuple[Hub, dict[str, Any]], hidden: str
) -> None:
    """A victim whose role the asker may not see does not make its case match a victim filter:
    the expected cases are the generator's, counting only victims with a role still visible."""
    hub, truth = world
    visible = VICTIM_ROLES - {hidden}
    victims: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for agency, data in truth["agencies"].items():
        for person in data["persons"]:
            if set(person["roles"]) & visible:
                victims.setdefault((agency, person["case_key"]), []).append(person)
    for f in ({"victimSex": ["FEMALE"]}, {"victimSex": ["MALE"]}, {"childVictim": True}):
        want = expected_cases(truth, victims, f)
        assert want != expected_cases(truth, every_victim(truth), f)  # the hidden role matters here
        ctx = hub.federation.new_context()
        ctx.hidden_roles = lambda _source: frozenset({PersonRole[hidden]})
        page = await hub.federation.cases(ctx, case_filter(f), SortOrder.DESC, 1000, None)
        assert {(n.record.source, n.record.key) for n in page.items} == want, f
