"""A hidden record (an LPSK protected witness) changes nothing its viewer can observe (issue 12).

For every role that may not see LPSK's protected witnesses, and for LPSK's own staff who may,
the answers are compared with the generator's ground truth: a protected witness's record and
the protection programmes it receives are absent, and the per-source row counts
(``extensions.sources[].rows``) report what the viewer may see — never "1 row read, 0 shown".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.ids import GlobalId, encode_id
from hub.linkage.index import LinkageIndex
from hub.server.app import Hub
from hub.vocabulary.model import Entity
from tests.linkage_helpers import linked_fixture, truth_records  # noqa: F401 - fixture

PROTECTED_ROLES = {"WITNESS", "VICTIM_WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}
#: Viewers who may not see LPSK's protected witnesses, and LPSK's own staff, who may.
HIDDEN_FROM = {
    "analyst": Principal(subject="h-analyst", role="analyst"),
    "caseworker/POLRI": Principal(subject="h-cw", role="caseworker", agency="POLRI", purpose="investigation"),
    "coordinator": Principal(subject="h-co", role="coordinator", agency="KEMENPPPA", purpose="coordination"),
    "admin": Principal(subject="h-admin", role="admin"),
}
LPSK_STAFF = Principal(subject="h-lpsk", role="caseworker", agency="LPSK", purpose="protection")
CASE = """query($id: ID!) { case(id: $id) {
  id victims { id } witnesses { id } services { id type recipient { id } } } }"""


def protected_keys(truth: dict[str, Any]) -> set[str]:
    return {p["key"] for p in truth["agencies"]["lpsk"]["persons"] if PROTECTED_ROLES & set(p["roles"])}


def visible_in_case(
    lpsk: dict[str, Any], case_key: str, protected: set[str], sees_all: bool
) -> tuple[set[str], set[str]]:
    """The generator's persons and services of an LPSK case that a viewer may see: a protected
    person and the services it receives are hidden unless the viewer ``sees_all``."""
    persons = {
        p["key"]
        for p in lpsk["persons"]
        if p["case_key"] == case_key and (sees_all or p["key"] not in protected)
    }
    services = {
        s["key"]
        for s in lpsk["services"]
        if s["case_key"] == case_key and (sees_all or s["recipient_key"] not in protected)
    }
    return persons, services


def lpsk_rows(result: Any) -> int:
    return sum(s["rows"] for s in result.extensions["sources"] if s["source"] == "lpsk")


@pytest.mark.parametrize("viewer", list(HIDDEN_FROM))
async def test_a_protected_witness_leaves_no_row_count(hub: Hub, truth: dict[str, Any], viewer: str) -> None:
    key = sorted(protected_keys(truth))[0]
    query = "query($id: ID!) { node(id: $id) { id } }"
    gid = encode_id("lpsk", Entity.PERSON, key)
    hidden = await hub.execute(query, {"id": gid}, HIDDEN_FROM[viewer])
    missing = await hub.execute(
        query, {"id": encode_id("lpsk", Entity.PERSON, "no-such-key")}, HIDDEN_FROM[viewer]
    )
    assert hidden.errors is None and hidden.data["node"] is None
    # Indistinguishable from a record that does not exist: the same answer, the same row count.
    assert hidden.data == missing.data and lpsk_rows(hidden) == lpsk_rows(missing) == 0
    shown = await hub.execute(query, {"id": gid}, LPSK_STAFF)
    assert shown.data["node"]["id"] == gid and lpsk_rows(shown) >= 1


@pytest.mark.parametrize("viewer", [*HIDDEN_FROM, "lpsk staff"])
async def test_a_case_shows_no_trace_of_its_protected_witnesses(
    hub: Hub, truth: dict[str, Any], viewer: str
) -> None:
    lpsk = truth["agencies"]["lpsk"]
    protected = protected_keys(truth)
    principal = HIDDEN_FROM.get(viewer, LPSK_STAFF)
    sees_all = viewer == "lpsk staff"
    cases = sorted(
        {s["case_key"] for s in lpsk["services"] if s["recipient_key"] in protected}
        & {p["case_key"] for p in lpsk["persons"] if p["key"] not in protected}
    )[:5]
    assert cases, "the demo has LPSK cases with protected and unprotected persons"
    for case_key in cases:
        result = await hub.execute(CASE, {"id": encode_id("lpsk", Entity.CASE, case_key)}, principal)
        assert result.errors is None, [e.formatted for e in result.errors]
        case = result.data["case"]
        persons = {GlobalId.decode(p["id"]).key for p in case["victims"] + case["witnesses"]}
        services = {GlobalId.decode(s["id"]).key for s in case["services"]}
        truth_persons, truth_services = visible_in_case(lpsk, case_key, protected, sees_all)
        assert persons == truth_persons
        assert services == truth_services
        # A service shown has its recipient shown: none is left with recipient null.
        assert all(s["recipient"] is not None for s in case["services"])


@pytest.mark.parametrize("viewer", list(HIDDEN_FROM))
async def test_linked_persons_match_nothing_through_a_protected_witness(
    hub: Hub, linked: Any, truth: dict[str, Any], viewer: str
) -> None:
    """A person filter that only a protected LPSK record satisfies matches no one for outsiders."""
    query = """{ persons(first: 500,
        filter: {agencies: ["LPSK"], roles: [WITNESS, REPORTER, JUSTICE_COLLABORATOR]}) {
        totalCount edges { node { id } } } }"""
    # Every LPSK record in those roles is a protected witness's (the rule names the roles).
    assert any(PROTECTED_ROLES & set(p["roles"]) for p in truth["agencies"]["lpsk"]["persons"])
    result = await hub.execute(query, None, HIDDEN_FROM[viewer])
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data["persons"] == {"totalCount": 0, "edges": []}
    # LPSK staff see every person with such a record: counted from the index's clusters and the
    # ground truth's roles of each record.
    clusters: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for ref, person in (await LinkageIndex(hub.store.engine).assignments()).items():
        clusters[person].add(ref)
    records = truth_records(truth)
    wanted = {"WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}
    expected = sum(
        1
        for refs in clusters.values()
        if any(source == "lpsk" and wanted & set(records[(source, key)]["roles"]) for source, key in refs)
    )
    staff = await hub.execute(query, None, LPSK_STAFF)
    assert expected > 0 and staff.data["persons"]["totalCount"] == expected


CASES = """query($f: CaseFilter) { cases(first: 5, filter: $f) { totalCount edges { node { id } } } }"""


def hidden_victim_cases(truth: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """LPSK cases whose only victims are protected victim-witnesses, with one such victim."""
    lpsk = truth["agencies"]["lpsk"]
    found = []
    for case in lpsk["cases"]:
        victims = [
            p
            for p in lpsk["persons"]
            if p["case_key"] == case["key"] and {"VICTIM", "VICTIM_WITNESS"} & set(p["roles"])
        ]
        if victims and all(PROTECTED_ROLES & set(p["roles"]) for p in victims):
            hidden = next((v for v in victims if v["is_child"] is not None and v["sex"] != "UNKNOWN"), None)
            if hidden is not None:
                found.append((case, hidden))
    return found[:4]


@pytest.mark.parametrize("viewer", [*HIDDEN_FROM, "lpsk staff"])
async def test_case_filters_never_match_through_a_protected_witness(
    hub: Hub, truth: dict[str, Any], viewer: str
) -> None:
    principal = HIDDEN_FROM.get(viewer, LPSK_STAFF)
    sees = viewer == "lpsk staff"
    cases = hidden_victim_cases(truth)
    assert cases, "the demo has LPSK cases whose only victims are protected"
    for case, victim in cases:
        pinned = {"agencies": ["LPSK"], "text": case["source_key"]}
        alone = await hub.execute(CASES, {"f": pinned}, principal)
        assert alone.data["cases"]["totalCount"] >= 1  # the case itself is visible to everyone
        for extra in (
            {"childVictim": victim["is_child"]},
            {"victimSex": [victim["sex"]]},
            {"victimAgeGroups": [victim["age_group"]]},
        ):
            result = await hub.execute(CASES, {"f": {**pinned, **extra}}, principal)
            assert not result.errors, [e.formatted for e in result.errors]
            ids = {GlobalId.decode(e["node"]["id"]).key for e in result.data["cases"]["edges"]}
            assert (case["key"] in ids) is sees, (viewer, extra)
            # The count agrees with the rows: no hidden match counted.
            assert result.data["cases"]["totalCount"] == len(result.data["cases"]["edges"])
