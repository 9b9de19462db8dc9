"""Person views over GraphQL, checked against the generator's ground truth.

For persons whose records the linkage joined exactly as the truth says, every part of the
Person — records, agencies, cases, the service timeline, service gaps and last known
location — is recomputed from ``ground_truth.json`` with the rules documented in
``hub/engine/persons.py``, independently of the hub.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.ids import GlobalId, encode_id
from hub.linkage.counting import count_distinct, deduplicate
from hub.linkage.index import LinkageIndex
from hub.vocabulary.model import Entity
from tests.conftest import run
from tests.helpers import assert_exactly_full_last_page
from tests.linkage_helpers import (  # noqa: F401 - fixture
    linked_fixture,
    truth_cases,
    truth_persons,
    truth_records,
    truth_services,
)

#: A task-force coordinator seconded from LPSK: sees every agency's records, LPSK's protected witnesses
#: included, with a declared purpose.
COORDINATOR = Principal(subject="test-coordinator", role="coordinator", agency="LPSK", purpose="COORDINATION")
PERSON_FIELDS = """
  id agencies { code } roles isVictim
  records { id agency { code } }
  cases { id }
  services { id type startDate endDate provider { code } }
  lastKnownLocation { date basis source region { code } country place }
  serviceGaps { type legalBasis }
  links { recordId rule score }
"""
GAP_ORDER = [
    "HEALTH_REHABILITATION",
    "SOCIAL_REHABILITATION",
    "REPATRIATION",
    "SOCIAL_REINTEGRATION",
    "LEGAL_AID",
]
SATISFIES = {
    "HEALTH_REHABILITATION": {"HEALTH_REHABILITATION", "PROTECTION_MEDICAL_PSYCHOSOCIAL"},
    "SOCIAL_REHABILITATION": {"SOCIAL_REHABILITATION"},
    "REPATRIATION": {"REPATRIATION"},
    "SOCIAL_REINTEGRATION": {"SOCIAL_REINTEGRATION"},
    "LEGAL_AID": {"LEGAL_AID"},
}
PRIORITY = {"SERVICE": 2, "DOMICILE": 1, "CASE_REGION": 0}


def _agency_codes(hub: Any) -> dict[str, str]:
    return {e.name: e.source.agency.code for e in hub.registry.all() if e.source is not None}


def expected_person(truth: dict, refs: list[tuple[str, str]], codes: dict[str, str]) -> dict[str, Any]:
    """A Person's parts, from the ground truth alone."""
    records, services_of, cases = truth_records(truth), truth_services(truth), truth_cases(truth)
    services = [s for ref in refs for s in services_of.get(ref, [])]
    services.sort(key=lambda s: (s["start_date"], s["end_date"] or "", s["agency"], s["key"]))
    person_cases = {(ref[0], records[ref]["case_key"]) for ref in refs}
    roles = {role for ref in refs for role in records[ref]["roles"]}
    victim = bool(roles & {"VICTIM", "VICTIM_WITNESS"})
    gaps = None
    if victim:
        received = {s["type"] for s in services}
        cross_border = any(cases[c]["country"] for c in person_cases)
        gaps = [
            g for g in GAP_ORDER if not (received & SATISFIES[g]) and (g != "REPATRIATION" or cross_border)
        ]
    candidates = []
    for s in services:
        if s["status"] != "PLANNED":
            candidates.append((s["end_date"] or s["start_date"], PRIORITY["SERVICE"], "SERVICE"))
    for ref in refs:
        case = cases[(ref[0], records[ref]["case_key"])]
        if records[ref]["domicile_region"]:
            candidates.append((case["reported_at"], PRIORITY["DOMICILE"], "DOMICILE"))
        elif case["region"] or case["country"]:
            candidates.append((case["reported_at"], PRIORITY["CASE_REGION"], "CASE_REGION"))
    best = max(candidates) if candidates else None
    return {
        "records": {encode_id(s, Entity.PERSON, k) for s, k in refs},
        "agencies": {codes[s] for s, _ in refs},
        "cases": {encode_id(s, Entity.CASE, k) for s, k in person_cases},
        "timeline": [(s["type"], s["start_date"], s["end_date"], codes[s["agency"]]) for s in services],
        "gaps": gaps,
        "location": (best[0], best[2]) if best else None,
    }


@pytest.fixture(scope="module")
async def exact_persons(hub: Any, linked: Any, truth: dict) -> list[list[tuple[str, str]]]:
    """Truth persons with records in several agencies that the linkage joined exactly."""
    assigned = await LinkageIndex(hub.store.engine).assignments()
    by_person: dict[int, set] = defaultdict(set)
    for ref, pid in assigned.items():
        by_person[pid].add(ref)
    exact = []
    for refs in truth_persons(truth).values():
        ids = {assigned[r] for r in refs}
        if len(ids) == 1 and by_person[ids.pop()] == set(refs) and len({s for s, _ in refs}) >= 2:
            exact.append(sorted(refs))
    # Prefer people with services and several agencies: they exercise the timeline and gaps.
    services = truth_services(truth)
    exact.sort(key=lambda refs: (-sum(len(services.get(r, [])) for r in refs), -len(refs), refs))
    return exact[:40]


async def test_most_multi_agency_persons_are_linked_exactly(hub: Any, linked: Any, truth: dict) -> None:
    assigned = await LinkageIndex(hub.store.engine).assignments()
    multi = [refs for refs in truth_persons(truth).values() if len({s for s, _ in refs}) >= 2]
    joined = sum(1 for refs in multi if len({assigned[r] for r in refs}) == 1)
    assert joined / len(multi) >= 0.9


async def test_person_from_a_record_matches_truth(hub: Any, truth: dict, exact_persons: list) -> None:
    codes = _agency_codes(hub)
    assert len(exact_persons) >= 30
    query = (
        f"query($id: ID!) {{ node(id: $id) {{ ... on PersonRecord {{ person {{ {PERSON_FIELDS} }} }} }} }}"
    )
    with_gaps = with_services = 0
    for refs in exact_persons:
        expected = expected_person(truth, refs, codes)
        source, key = refs[0]
        result = await hub.execute(
            query, {"id": encode_id(source, Entity.PERSON, key)}, principal=COORDINATOR
        )
        assert not result.errors, [e.formatted for e in result.errors]
        person = result.data["node"]["person"]
        assert {r["id"] for r in person["records"]} == expected["records"]
        assert {a["code"] for a in person["agencies"]} == expected["agencies"]
        assert {c["id"] for c in person["cases"]} == expected["cases"]
        timeline = [
            (s["type"], s["startDate"], s["endDate"], s["provider"]["code"]) for s in person["services"]
        ]
        assert timeline == expected["timeline"]
        gaps = None if person["serviceGaps"] is None else [g["type"] for g in person["serviceGaps"]]
        assert gaps == expected["gaps"]
        assert person["isVictim"] == (expected["gaps"] is not None)
        location = person["lastKnownLocation"]
        assert ((location["date"], location["basis"]) if location else None) == expected["location"]
        assert {link["recordId"] for link in person["links"]} == expected["records"]
        with_gaps += bool(gaps)
        with_services += bool(timeline)
    assert with_gaps and with_services


async def test_person_by_id_and_node(hub: Any, exact_persons: list) -> None:
    source, key = exact_persons[0][0]
    data = await run(
        hub,
        "query($id: ID!) { node(id: $id) { ... on PersonRecord { person { id } } } }",
        {"id": encode_id(source, Entity.PERSON, key)},
    )
    person_id = data["node"]["person"]["id"]
    data = await run(
        hub,
        "query($id: ID!) { person(id: $id) { id records { id person { id } } } "
        "node(id: $id) { id ... on Person { agencies { code } } } }",
        {"id": person_id},
    )
    assert data["person"]["id"] == data["node"]["id"] == person_id
    assert all(r["person"]["id"] == person_id for r in data["person"]["records"])
    wrong = await hub.execute(
        "query($id: ID!) { person(id: $id) { id } }", {"id": encode_id(source, Entity.PERSON, key)}
    )
    assert wrong.errors and wrong.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_persons_pages_visit_everyone_once(hub: Any, linked: Any) -> None:
    expected = len(set((await LinkageIndex(hub.store.engine).assignments()).values()))
    query = """query($after: String) { persons(first: 500, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }"""
    seen: list[str] = []
    after = None
    while True:
        result = await hub.execute(query, {"after": after}, COORDINATOR)  # LPSK staff see everyone
        assert not result.errors
        page = result.data["persons"]
        assert page["totalCount"] == expected
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == expected


PERSON_FILTERS = [
    ('minAgencies: 3, roles: [VICTIM], agencies: ["LPSK"]', 3, {"VICTIM"}, {"lpsk"}),
    (
        'roles: [WITNESS, REPORTER], agencies: ["POLRI", "KEMLU"]',
        1,
        {"WITNESS", "REPORTER"},
        {"polri", "kemlu"},
    ),
    ("minAgencies: 2", 2, set(), set()),
    ('agencies: ["BP2MI"], roles: [VICTIM_WITNESS]', 1, {"VICTIM_WITNESS"}, {"bp2mi"}),
]


@pytest.mark.parametrize(("condition", "min_sources", "roles", "sources"), PERSON_FILTERS)
async def test_persons_filter_returns_exactly_the_matching_persons(
    hub: Any, linked: Any, truth: dict, condition: str, min_sources: int, roles: set[str], sources: set[str]
) -> None:
    """Recall and precision: the persons listed are exactly the linked clusters that match,
    computed here from the index's clusters and the ground truth's roles of each record."""
    clusters: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for ref, person in (await LinkageIndex(hub.store.engine).assignments()).items():
        clusters[person].add(ref)
    records = truth_records(truth)
    expected = {
        frozenset(refs)
        for refs in clusters.values()
        if len({source for source, _ in refs}) >= min_sources
        and (not sources or any(source in sources for source, _ in refs))
        and (not roles or any(roles & set(records[ref]["roles"]) for ref in refs))
    }
    assert expected, "the filter must match someone for the test to mean anything"
    query = f"""query($after: String) {{ persons(first: 500, after: $after, filter: {{ {condition} }}) {{
      totalCount pageInfo {{ hasNextPage endCursor }}
      edges {{ node {{ records {{ id }} }} }} }} }}"""
    seen: set[frozenset[tuple[str, str]]] = set()
    after, total = None, None
    while True:
        result = await hub.execute(query, {"after": after}, COORDINATOR)  # LPSK staff: every record
        assert not result.errors, result.errors
        page = result.data["persons"]
        total = page["totalCount"]
        for edge in page["edges"]:
            seen.add(frozenset(_ref(r["id"]) for r in edge["node"]["records"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
    assert total == len(expected)


async def test_persons_exactly_full_last_page_says_no_next_page(hub: Any, linked: Any) -> None:
    """Persons seen by at least ``m`` agencies (the smallest ``m`` that fits on one page),
    counted from the index's clusters: a page of all of them, or a last page that ends exactly
    on the last one, has no next page; one short has."""
    clusters: dict[int, set[str]] = defaultdict(set)
    for (source, _), person in (await LinkageIndex(hub.store.engine).assignments()).items():
        clusters[person].add(source)
    at_least = {m: sum(1 for sources in clusters.values() if len(sources) >= m) for m in range(2, 8)}
    m, n = next((m, n) for m, n in at_least.items() if n <= 500)
    assert n >= 2, "the test needs a few persons seen by several agencies"
    query = """query($first: Int!, $after: String, $m: Int!) { persons(first: $first, after: $after,
      filter: { minAgencies: $m }) { pageInfo { hasNextPage endCursor } edges { node { id } } } }"""

    async def page(first: int, after: str | None = None) -> dict:
        result = await hub.execute(query, {"first": first, "after": after, "m": m}, COORDINATOR)
        assert not result.errors, result.errors
        return result.data["persons"]

    await assert_exactly_full_last_page(page, n)


async def test_case_victims_lead_to_their_person_in_batches(hub: Any, linked: Any) -> None:
    query = """{ cases(first: 40) { edges { node { victims { id person { id records { id } } } } } } }"""
    result = await hub.execute(query)
    assert not result.errors
    victims = [v for e in result.data["cases"]["edges"] for v in e["node"]["victims"]]
    assert victims and all(
        v["person"] and v["id"] in {r["id"] for r in v["person"]["records"]} for v in victims
    )
    # Batched: a handful of statements per source, whatever the page size.
    assert all(s["statements"] <= 8 for s in result.extensions["sources"])


async def test_deduplicated_victim_counts(hub: Any, linked: Any, truth: dict) -> None:
    codes = _agency_codes(hub)
    records = truth_records(truth)
    victims = [ref for ref, p in records.items() if p["roles"][0] in ("VICTIM", "VICTIM_WITNESS")]
    dedup = await deduplicate(LinkageIndex(hub.store.engine), victims, agency_of=codes.__getitem__)
    true_distinct = len({records[ref]["person"] for ref in victims})
    assert abs(dedup.distinct - true_distinct) <= 0.03 * true_distinct
    figures = dedup.double_counting
    assert figures.record_total == len(victims)
    assert figures.distinct == dedup.distinct < figures.agency_sum <= figures.record_total
    assert figures.duplicates == figures.agency_sum - figures.distinct > 0
    per_agency = count_distinct(dedup, {ref: [codes[ref[0]]] for ref in victims})
    assert per_agency == {c.agency: c.persons for c in figures.per_agency}
    assert figures.overlap  # agencies do record the same victims


async def test_protected_witnesses_are_not_listed_to_analysts(hub: Any, linked: Any) -> None:
    """LPSK protected-witness records: invisible in person views unless LPSK staff ask."""
    query = """{ persons(first: 500,
        filter: {agencies: ["LPSK"], roles: [WITNESS, REPORTER, JUSTICE_COLLABORATOR]}) {
        totalCount edges { node { records { agency { code } roles } } } } }"""
    analyst = await hub.execute(query, None, Principal(role="analyst"))
    assert not analyst.errors
    for edge in analyst.data["persons"]["edges"]:
        for record in edge["node"]["records"]:
            assert not (record["agency"]["code"] == "LPSK" and {"WITNESS", "REPORTER"} & set(record["roles"]))
    staff = Principal(role="coordinator", agency="LPSK", purpose="coordination")
    lpsk = await hub.execute(query, None, staff)
    assert not lpsk.errors
    assert lpsk.data["persons"]["totalCount"] > analyst.data["persons"]["totalCount"]


def _ref(gid: str) -> tuple[str, str]:
    decoded = GlobalId.decode(gid)
    return decoded.source, decoded.key
