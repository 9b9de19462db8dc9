"""Caseworkers read personal fields of persons their own agency also holds (via linkage).

Expected decisions come from the generator's ground truth (which persons KEMLU recorded),
for records the linkage index links the same way the truth does.
"""

from __future__ import annotations

from typing import Any

from hub.access.policy import Principal
from hub.engine.ids import encode_id
from hub.linkage.index import LinkageIndex
from hub.vocabulary.model import Entity
from tests.linkage_helpers import linked_fixture  # noqa: F401 - fixture

CASEWORKER = Principal(subject="cw", role="caseworker", agency="KEMLU", purpose="victim_services")


async def test_caseworker_reads_only_records_of_persons_their_agency_holds(
    hub: Any, linked: Any, truth: dict
) -> None:
    index = LinkageIndex(hub.store.engine)
    kemlu_people = {p["person"] for p in truth["agencies"]["kemlu"]["persons"]}
    victims = [p for p in truth["agencies"]["polri"]["persons"] if p["roles"] == ["VICTIM"]][:300]
    refs = [("polri", f"korban/{p['key']}") for p in victims]
    person_of = await index.persons_of(refs)
    entries = await index.records_of(sorted(set(person_of.values())))
    linked_to_kemlu = {pid for pid, records in entries.items() if any(e.source == "kemlu" for e in records)}
    shared, other = [], []
    for person, ref in zip(victims, refs, strict=True):
        in_index = person_of.get(ref) in linked_to_kemlu
        in_truth = person["person"] in kemlu_people
        if in_index and in_truth:
            shared.append((person, ref))
        elif not in_index and not in_truth:
            other.append((person, ref))
    assert shared and other
    for (person, ref), allowed in [(shared[0], True), (other[0], False)]:
        gid = encode_id(ref[0], Entity.PERSON, ref[1])
        result = await hub.execute(
            "query($id: ID!) { node(id: $id) { ... on PersonRecord { fullName } } }", {"id": gid}, CASEWORKER
        )
        if allowed:
            assert not result.errors, [e.formatted for e in result.errors]
            assert result.data["node"]["fullName"] == person["full_name"]
        else:
            assert result.data["node"]["fullName"] is None
            assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
