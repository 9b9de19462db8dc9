"""The attacker: differencing attacks on published statistics (issue 12), against the truth.

An anonymous (``public``) caller tries to recover cells that suppression hides by asking
several tables and subtracting: region lists (``T([R, BIG]) − T([BIG])``, the attack that
recovered 106 of 106 cells before the cell-key method), date windows, agency lists, filter
complements, measure pairs, groupBy pairs and repeated queries. ``T(f)`` is always the
published ``total`` of ``statistics(groupBy: [AGENCY], filter: f)``.

Every attack is first checked on the ground truth: on exact counts its difference *is* the
hidden cell (targets where that identity does not hold are left out), so a failure to recover
is the perturbation's doing. The attacker's estimate is the rounded mean of its differences,
clamped to ``1 … k−1`` (it knows a suppressed cell is under k and not empty). Success is
measured against the best guess that asks nothing at all: always answering the most common
value of the hidden cells (which is generous: a real guesser does not know it). To keep the
test deterministic and not a lucky draw, the whole attack is run under several fixed cell-key
secrets and the shares are pooled.

Utility is checked against the truth too: every published cell of 100 or more is within 2 %,
and every published value (cells and totals) is within its documented noise bound.
"""

from __future__ import annotations

import calendar
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hub.access.cellkey import CellKeys
from hub.access.policy import Principal
from hub.server.app import Hub
from tests.test_statistics import expected

PUBLIC = Principal(subject="attacker", role="public", method="anonymous")
K = 11
SECRETS = [hashlib.sha256(f"attack-{i}".encode()).digest() for i in range(2)]
AGENCY_CODE = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}
VICTIM_ROLES = {"VICTIM", "VICTIM_WITNESS"}
HIDDEN_FROM_PUBLIC = {"WITNESS", "VICTIM_WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}
TOTAL_QUERY = """query($m: Measure!, $g: [Dimension!]!, $f: CaseFilter) {
  statistics(measure: $m, groupBy: $g, filter: $f) { total } }"""
TABLE_QUERY = """query($m: Measure!, $g: [Dimension!]!, $f: CaseFilter) {
  statistics(measure: $m, groupBy: $g, filter: $f) { total rows { keys { value } count suppressed } } }"""


@contextmanager
def secret(hub: Hub, value: bytes) -> Iterator[None]:
    """Run the hub under a fixed cell-key secret (restored afterwards)."""
    before = hub.cell_keys
    hub.cell_keys = CellKeys(value)
    try:
        yield
    finally:
        hub.cell_keys = before


async def published_total(
    hub: Hub, f: dict[str, Any], measure: str = "CASES", group: str = "AGENCY"
) -> int | None:
    """The published total, or None when it is suppressed or the query is refused."""
    result = await hub.execute(TOTAL_QUERY, {"m": measure, "g": [group], "f": f}, PUBLIC)
    if result.errors:
        assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"], result.errors
        assert result.errors[0].extensions["argument"].startswith("filter.")
        return None
    return result.data["statistics"]["total"]


async def suppressed_cells(
    hub: Hub, measure: str, groups: list[str], f: dict[str, Any] | None = None
) -> list[tuple[str | None, ...]]:
    result = await hub.execute(TABLE_QUERY, {"m": measure, "g": groups, "f": f}, PUBLIC)
    assert not result.errors, [e.formatted for e in result.errors]
    rows = result.data["statistics"]["rows"]
    return [tuple(k["value"] for k in r["keys"]) for r in rows if r["suppressed"]]


# --- the truth -----------------------------------------------------------------------------------


def truth_cases(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**c, "agency": AGENCY_CODE[a]} for a, data in truth["agencies"].items() for c in data["cases"]]


def truth_victims(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Victim records as the public sees them: LPSK's protected witnesses are not there."""
    result = []
    for agency, data in truth["agencies"].items():
        cases = {c["key"]: c for c in data["cases"]}
        for p in data["persons"]:
            if not VICTIM_ROLES & set(p["roles"]):
                continue
            if agency == "lpsk" and HIDDEN_FROM_PUBLIC & set(p["roles"]):
                continue
            result.append({**cases[p["case_key"]], "agency": AGENCY_CODE[agency]})
    return result


def matches(item: dict[str, Any], f: dict[str, Any]) -> bool:
    day = item["reported_at"]
    if "reportedFrom" in f and not (day and day >= f["reportedFrom"]):
        return False
    if "reportedTo" in f and not (day and day <= f["reportedTo"]):
        return False
    if "regions" in f and not (item["region"] and any(item["region"].startswith(p) for p in f["regions"])):
        return False
    return not ("agencies" in f and item["agency"] not in f["agencies"])


def count(items: list[dict[str, Any]], f: dict[str, Any]) -> int:
    return sum(1 for item in items if matches(item, f))


# --- attacks -------------------------------------------------------------------------------------

#: An attack on one target: its true value, and pairs of filters whose difference it is.
Attack = tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]]


def month_end(month: str) -> str:
    year, number = (int(x) for x in month.split("-"))
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def previous_month_end(month: str) -> str:
    year, number = (int(x) for x in month.split("-"))
    year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return month_end(f"{year:04d}-{number:02d}")


def biggest_regions(items: list[dict[str, Any]], n: int) -> list[str]:
    return [r for r, _ in Counter(i["region"] for i in items if i["region"]).most_common(n)]


async def region_list_attacks(
    hub: Hub, items: list[dict[str, Any]], measure: str, pairs: int
) -> list[Attack]:
    bigs = biggest_regions(items, pairs + 1)
    attacks = []
    for (region,) in await suppressed_cells(hub, measure, ["REGENCY"]):
        if region is None:
            continue
        others = [b for b in bigs if b != region][:pairs]
        x = count(items, {"regions": [region]})
        pair_list = [({"regions": [region, b]}, {"regions": [b]}) for b in others]
        attacks.append((x, pair_list))
    return attacks


async def date_window_attacks(hub: Hub, items: list[dict[str, Any]]) -> list[Attack]:
    """Months of the busiest province, each as the difference of two windows ending a month apart."""
    attacks = []
    for province in Counter(i["region"][:2] for i in items if i["region"]).most_common(3):
        where = {"regions": [province[0]]}
        for (month,) in await suppressed_cells(hub, "CASES", ["MONTH"], where):
            if month is None:
                continue
            start = {**where, "reportedFrom": "2000-01-01"}
            pair = (
                {**start, "reportedTo": month_end(month)},
                {**start, "reportedTo": previous_month_end(month)},
            )
            x = count(items, {**where, "reportedFrom": f"{month}-01", "reportedTo": month_end(month)})
            attacks.append((x, [pair]))
    return attacks


async def agency_list_attacks(hub: Hub, items: list[dict[str, Any]]) -> list[Attack]:
    agencies = sorted(AGENCY_CODE.values())
    attacks = []
    for region, agency in await suppressed_cells(hub, "CASES", ["REGENCY", "AGENCY"]):
        if region is None or count(items, {"regions": [region]}) < K + 4:
            continue  # the region's own total must be published for this attack
        others = [a for a in agencies if a != agency]
        x = count(items, {"regions": [region], "agencies": [agency]})
        attacks.append((x, [({"regions": [region]}, {"regions": [region], "agencies": others})]))
    return attacks


async def complement_attacks(hub: Hub, items: list[dict[str, Any]]) -> list[Attack]:
    """A regency as its province minus the province's other regencies."""
    by_province: dict[str, set[str]] = defaultdict(set)
    for i in items:
        if i["region"] and "." in i["region"]:
            by_province[i["region"][:2]].add(i["region"])
    attacks = []
    for (region,) in await suppressed_cells(hub, "CASES", ["REGENCY"]):
        if region is None or "." not in region:
            continue
        province = region[:2]
        rest = sorted(by_province[province] - {region})
        x = count(items, {"regions": [region]})
        if not rest or count(items, {"regions": [province]}) - count(items, {"regions": rest}) != x:
            continue
        attacks.append((x, [({"regions": [province]}, {"regions": rest})]))
    return attacks


async def run_attack(
    hub: Hub, attacks: list[Attack], measure: str = "CASES", groups: tuple[str, ...] = ("AGENCY",)
) -> tuple[int, int, int]:
    """(cells recovered exactly, cells attacked, cells whose attack could not be asked).

    The attacker's estimate is its rounded, clamped mean difference; where the hub refuses a
    query or suppresses a total it needs, it falls back to guessing the most common value.
    """
    fallback = Counter(x for x, _ in attacks).most_common(1)[0][0] if attacks else 0
    recovered = refused = 0
    for x, pairs in attacks:
        differences = []
        for plus, minus in pairs:
            for group in groups:
                a = await published_total(hub, plus, measure, group)
                b = await published_total(hub, minus, measure, group)
                if a is not None and b is not None:
                    differences.append(a - b)
        if differences:
            estimate = min(K - 1, max(1, round(sum(differences) / len(differences))))
        else:
            refused += 1
            estimate = fallback
        recovered += estimate == x
    return recovered, len(attacks), refused


def guessing(attacks: list[Attack]) -> float:
    """Share of targets the best constant guess (the most common hidden value) gets right."""
    values = Counter(x for x, _ in attacks)
    return values.most_common(1)[0][1] / len(attacks)


def check_truth(items: list[dict[str, Any]], attacks: list[Attack]) -> None:
    """On exact counts every attack recovers its target: the leak the perturbation must close."""
    for x, pairs in attacks:
        for plus, minus in pairs:
            assert count(items, plus) - count(items, minus) == x


AttackBuilder = Callable[[Hub, dict[str, Any]], Any]


async def _region_lists(hub: Hub, truth: dict[str, Any]) -> tuple[list[Attack], list[dict[str, Any]], str]:
    items = truth_cases(truth)
    return await region_list_attacks(hub, items, "CASES", pairs=1), items, "CASES"


async def _date_windows(hub: Hub, truth: dict[str, Any]) -> tuple[list[Attack], list[dict[str, Any]], str]:
    items = truth_cases(truth)
    return await date_window_attacks(hub, items), items, "CASES"


async def _agency_lists(hub: Hub, truth: dict[str, Any]) -> tuple[list[Attack], list[dict[str, Any]], str]:
    items = truth_cases(truth)
    return await agency_list_attacks(hub, items), items, "CASES"


async def _complements(hub: Hub, truth: dict[str, Any]) -> tuple[list[Attack], list[dict[str, Any]], str]:
    items = truth_cases(truth)
    return await complement_attacks(hub, items), items, "CASES"


async def _measure_pairs(hub: Hub, truth: dict[str, Any]) -> tuple[list[Attack], list[dict[str, Any]], str]:
    """The region-list attack on victim records, whose hidden cells sit beside published cases."""
    items = truth_victims(truth)
    return await region_list_attacks(hub, items, "VICTIM_RECORDS", pairs=1), items, "VICTIM_RECORDS"


FAMILIES = {
    "region lists": _region_lists,
    "date windows": _date_windows,
    "agency lists": _agency_lists,
    "filter complements": _complements,
    "measure pairs": _measure_pairs,
}


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_differencing_recovers_no_more_than_guessing(
    hub: Hub, truth: dict[str, Any], family: str
) -> None:
    recovered = attacked = refusals = 0
    baseline_hits = 0.0
    for value in SECRETS:
        with secret(hub, value):
            attacks, items, measure = await FAMILIES[family](hub, truth)
            attacks = attacks[:20]
            check_truth(items, attacks)
            hits, tried, refused = await run_attack(hub, attacks, measure)
        assert tried >= 10, f"{family}: too few hidden cells to attack ({tried})"
        refusals += refused
        recovered += hits
        attacked += tried
        baseline_hits += guessing(attacks) * tried
    share, baseline = recovered / attacked, baseline_hits / attacked
    # "No better than guessing", as a one-sided test: the attacker's share may exceed the
    # guesser's only by the sampling error of the cells attacked (two standard errors).
    margin = 2 * math.sqrt(baseline * (1 - baseline) / attacked)
    assert share <= baseline + margin, (
        f"{family}: {share:.3f} of {attacked} hidden cells recovered; guessing gets {baseline:.3f}"
    )
    print(
        f"{family}: recovered {share:.3f} of {attacked} hidden cells ({refusals} attacks refused); "
        f"guessing {baseline:.3f}"
    )


async def test_groupby_pairs_and_repeated_queries_give_the_same_total(
    hub: Hub, truth: dict[str, Any]
) -> None:
    """The same records always get the same noise: asking again or grouping otherwise adds nothing."""
    items = truth_cases(truth)
    with secret(hub, SECRETS[0]):
        attacks = (await date_window_attacks(hub, items))[:15]
        published = 0
        for _x, [(plus, minus)] in attacks:
            for f in (plus, minus):
                seen = {await published_total(hub, f, "CASES", g) for g in ("AGENCY", "YEAR", "PROVINCE")}
                seen |= {await published_total(hub, f) for _ in range(3)}
                assert len(seen) == 1, f"{f}: {seen}"
                published += None not in seen
        single = await run_attack(hub, attacks)
        averaged = await run_attack(hub, attacks, groups=("AGENCY", "YEAR", "EXPLOITATION_TYPE"))
    assert single == averaged
    assert published >= 10


async def test_a_small_value_hidden_in_a_list_filter_is_refused(hub: Hub, truth: dict[str, Any]) -> None:
    """The region-list attack is not even answered: each listed value must count 0 or >= k alone."""
    items = truth_cases(truth)
    big = biggest_regions(items, 1)[0]
    by_region = Counter(i["region"] for i in items if i["region"])
    small = next(r for r, n in sorted(by_region.items()) if 0 < n < K and "." in r)
    result = await hub.execute(
        TOTAL_QUERY, {"m": "CASES", "g": ["AGENCY"], "f": {"regions": [small, big]}}, PUBLIC
    )
    assert [(e.extensions["code"], e.extensions["argument"]) for e in result.errors] == [
        ("BAD_USER_INPUT", "filter.regions")
    ]
    assert small in result.errors[0].message and big not in result.errors[0].message
    others = [r for r, n in by_region.most_common(3)]
    assert await published_total(hub, {"regions": others}) is not None  # every value large: answered
    assert await published_total(hub, {"regions": [small]}) is None  # alone: suppressed, not refused
    coordinator = Principal(subject="c", role="coordinator", purpose="statistics")
    exact = await hub.execute(
        TOTAL_QUERY, {"m": "CASES", "g": ["AGENCY"], "f": {"regions": [small, big]}}, coordinator
    )
    assert exact.data["statistics"]["total"] == by_region[small] + by_region[big]
    agencies = await hub.execute(
        TOTAL_QUERY,
        {"m": "CASES", "g": ["AGENCY"], "f": {"regions": [big], "agencies": ["POLRI", "LPSK", "KEMENPPPA"]}},
        PUBLIC,
    )
    per_agency = Counter(i["agency"] for i in items if i["region"] == big)
    small_agency = [a for a in ("KEMENPPPA", "LPSK", "POLRI") if 0 < per_agency[a] < K]
    if small_agency:
        assert agencies.errors and agencies.errors[0].extensions["argument"] == "filter.agencies"
    else:
        assert not agencies.errors


async def test_the_published_answer_before_perturbation_was_recoverable(
    hub: Hub, truth: dict[str, Any]
) -> None:
    """The issue's attack on exact counts (a coordinator's view) recovers every cell it tries."""
    items = truth_cases(truth)
    attacks = (await region_list_attacks(hub, items, "CASES", pairs=1))[:20]
    coordinator = Principal(subject="c", role="coordinator", purpose="statistics")
    hits = 0
    for x, [(plus, minus)] in attacks:
        totals = []
        for f in (plus, minus):
            result = await hub.execute(TOTAL_QUERY, {"m": "CASES", "g": ["AGENCY"], "f": f}, coordinator)
            totals.append(result.data["statistics"]["total"])
        hits += totals[0] - totals[1] == x
    assert hits == len(attacks) >= 10


# --- utility -------------------------------------------------------------------------------------


UTILITY_TABLES = [
    ("CASES", ["PROVINCE"]),
    ("CASES", ["YEAR"]),
    ("CASES", ["AGENCY"]),
    ("CASES", ["EXPLOITATION_TYPE"]),
    ("SERVICES", ["SERVICE_TYPE"]),
    ("CASES", ["PROVINCE", "YEAR"]),
]


@pytest.mark.parametrize(("measure", "groups"), UTILITY_TABLES)
async def test_large_cells_stay_within_two_percent(
    hub: Hub, truth: dict[str, Any], measure: str, groups: list[str]
) -> None:
    cells, total = expected(truth, measure, groups)
    rule = hub.cell_keys.rule if hub.cell_keys else None
    assert rule is not None
    result = await hub.execute(TABLE_QUERY, {"m": measure, "g": groups, "f": None}, PUBLIC)
    assert not result.errors
    stats = result.data["statistics"]
    large = 0
    for row in stats["rows"]:
        cell = tuple(k["value"] for k in row["keys"])
        true = cells[cell]
        if row["count"] is None:
            assert row["suppressed"]
            continue
        assert true >= K  # only true counts of k or more are published
        assert abs(row["count"] - true) <= rule.bound(true), (cell, row["count"], true)
        if true >= 100:
            large += 1
            assert abs(row["count"] - true) <= 0.02 * true, (cell, row["count"], true)
    if stats["total"] is not None:
        assert abs(stats["total"] - total) <= rule.bound(total)
        assert abs(stats["total"] - total) <= max(0.02 * total, rule.small_bound)
    assert large or measure != "CASES" or groups != ["PROVINCE"]


async def test_a_table_too_large_to_protect_is_query_too_complex(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: protect() raises TableTooLarge after the engine answered; it is the caller's error."""
    from hub.access import suppression

    monkeypatch.setattr(suppression, "MAX_CELLS", 10)
    result = await hub.execute(TABLE_QUERY, {"m": "CASES", "g": ["REGENCY"], "f": None}, PUBLIC)
    assert [e.extensions["code"] for e in result.errors or []] == ["QUERY_TOO_COMPLEX"]
    small = await hub.execute(TABLE_QUERY, {"m": "CASES", "g": ["AGENCY"], "f": None}, PUBLIC)
    assert not small.errors


async def test_record_keys_summed_in_sqlite_equal_the_keys_computed_apart(
    hub: Hub, truth: dict[str, Any]
) -> None:
    await check_record_keys(hub, truth)


async def test_record_keys_summed_in_postgres_equal_the_keys_computed_apart(
    pg_hub: Hub, truth: dict[str, Any]
) -> None:
    await check_record_keys(pg_hub, truth)


async def check_record_keys(hub: Hub, truth: dict[str, Any]) -> None:
    """Each source's SQL sums MD5-derived record keys; Python computes the same from the truth."""
    from adapters.cellkeys import KEY_SPACE, record_key
    from hub.vocabulary.model import Dimension, Measure, StatisticsRequest

    keys = CellKeys(SECRETS[0])
    result = await hub.federation.statistics(
        hub.federation.new_context(), StatisticsRequest(Measure.CASES, (Dimension.AGENCY,)), keying=keys
    )
    assert result.keys is not None and result.total_key is not None
    expected_total = 0
    for name, data in truth["agencies"].items():
        part = hub.registry.get(name).source.compiled.case_part().part.name
        salt = f"{keys.salt(name)}/{part}/"
        want = sum(record_key(salt, str(c["key"])) for c in data["cases"])
        expected_total += want
        assert result.cells[(AGENCY_CODE[name],)] == len(data["cases"])
        assert result.keys[(AGENCY_CODE[name],)] % KEY_SPACE == want % KEY_SPACE, name
    assert result.total_key % KEY_SPACE == expected_total % KEY_SPACE


async def test_a_filter_pinned_to_one_case_cannot_test_its_victims(hub: Hub, truth: dict[str, Any]) -> None:
    """ "None" and "a few" look alike below k, and no source reports the rows it read."""
    polri = truth["agencies"]["polri"]
    by_case = Counter(p["case_key"] for p in polri["persons"] if VICTIM_ROLES & set(p["roles"]))
    children = {p["case_key"] for p in polri["persons"] if p["is_child"] and VICTIM_ROLES & set(p["roles"])}
    case = next(c for c in polri["cases"] if c["key"] in children and by_case[c["key"]] >= 1)
    answers = []
    for child in (True, False):
        for measure in ("CASES", "VICTIM_RECORDS", "VICTIMS"):
            f = {"agencies": ["POLRI"], "text": case["source_key"], "childVictim": child}
            result = await hub.execute(TABLE_QUERY, {"m": measure, "g": ["AGENCY"], "f": f}, PUBLIC)
            assert not result.errors, [e.formatted for e in result.errors]
            answers.append(result.data["statistics"])
            assert all(s["rows"] == 0 for s in result.extensions["sources"])
    # One of the two child conditions matches the case and the other may not: same answers.
    assert all(a == {"total": None, "rows": []} for a in answers)
