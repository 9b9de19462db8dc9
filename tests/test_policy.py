"""The role matrix of docs/architecture.md §3: what each role gets, field by field and row by row.

Expected values come from the generator's ground truth; what was audited is read from the
hub's store with plain SQL. The matrix covers every role, every personal field, a record of
the caller's own or of another agency, with and without a declared purpose.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from hub.access.policy import ROLES, Principal, statistics_k
from hub.engine.ids import GlobalId, encode_id
from hub.server.app import Hub
from hub.vocabulary.model import Entity, PersonRole
from resolvers.access import GuardedConverter
from tests.helpers import all_cases
from tests.test_ground_truth import truth_person_key

PERSONAL = {
    "fullName": "full_name",
    "nik": "nik",
    "birthDate": "birth_date",
    "passportNumber": "passport_number",
    "address": "address",
    "phone": "phone",
}
PROTECTED_ROLES = {"WITNESS", "VICTIM_WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}
NODE = "query($id: ID!) {{ node(id: $id) {{ ... on PersonRecord {{ id {fields} }} }} }}"


def is_protected(agency: str, person: dict[str, Any]) -> bool:
    return agency == "lpsk" and bool(PROTECTED_ROLES & set(person["roles"]))


@pytest.fixture(scope="module")
def full_record(truth: dict[str, Any]) -> dict[str, Any]:
    """A BP2MI record (agency BP2MI, not protected) with every personal field filled in.

    Its person has no POLRI record: the "other agency" caseworker (POLRI) must be refused
    whether or not the linkage index has been built (a linked person would be readable).
    """
    polri_people = {p["person"] for p in truth["agencies"]["polri"]["persons"]}
    person = next(
        p
        for p in truth["agencies"]["bp2mi"]["persons"]
        if all(p[name] for name in PERSONAL.values()) and p["person"] not in polri_people
    )
    return {**person, "id": encode_id("bp2mi", Entity.PERSON, truth_person_key("bp2mi", person))}


async def last_audit_id(hub: Hub) -> int:
    async with hub.store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM audit_log"))).scalar_one())


async def audit_rows_after(hub: Hub, after: int) -> list[dict[str, Any]]:
    async with hub.store.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM audit_log WHERE id > :after ORDER BY id"), {"after": after}
        )
        return [dict(r._mapping) for r in rows]


# --- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("field_name", list(PERSONAL))
@pytest.mark.parametrize("purpose", [None, "investigation"])
@pytest.mark.parametrize("own", [True, False], ids=["own-agency", "other-agency"])
@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(
    hub: Hub, full_record: dict[str, Any], role: str, own: bool, purpose: str | None, field_name: str
) -> None:
    principal = Principal(
        subject=f"matrix-{role}", role=role, agency="BP2MI" if own else "POLRI", purpose=purpose
    )
    query = NODE.format(fields=f"sex ageGroup {field_name}")
    before = await last_audit_id(hub)
    result = await hub.execute(query, {"id": full_record["id"]}, principal)
    audited = await audit_rows_after(hub, before)
    errors = [e.formatted for e in result.errors or []]

    if role == "public":  # statistics only: the operation itself is refused
        assert result.data is None
        assert [e["extensions"] for e in errors] == [{"code": "FORBIDDEN", "field": "node"}]
        assert audited == []
        return

    node = result.data["node"]
    assert node["id"] == full_record["id"] and node["sex"] == full_record["sex"]
    assert node["ageGroup"] == full_record["age_group"]  # analysts get the age band instead
    allowed = purpose is not None and (role == "coordinator" or (role == "caseworker" and own))
    if allowed:
        assert errors == []
        assert node[field_name] == full_record[PERSONAL[field_name]]
        (entry,) = audited
        assert {k: entry[k] for k in ("subject", "role", "agency", "purpose", "credential")} == {
            "subject": principal.subject,
            "role": role,
            "agency": principal.agency,
            "purpose": purpose,
            "credential": "in_process",
        }
        assert json.loads(entry["record_ids"]) == [full_record["id"]]
        assert json.loads(entry["fields"]) == [field_name]
        assert entry["query_hash"] == hashlib.sha256(query.encode()).hexdigest()
    else:
        assert node[field_name] is None
        (error,) = errors
        expected_reason = (
            "ROLE"
            if role in ("analyst", "admin")
            else "PURPOSE_REQUIRED"
            if purpose is None
            else "OTHER_AGENCY"
        )
        assert error["extensions"] == {"code": "FORBIDDEN", "field": field_name, "reason": expected_reason}
        assert error["path"] == ["node", field_name]
        assert str(full_record[PERSONAL[field_name]]) not in error["message"]
        assert audited == []


async def test_one_entry_per_request_names_every_record_and_field(hub: Hub, truth: dict[str, Any]) -> None:
    principal = Principal(subject="carol", role="coordinator", agency="KEMENPPPA", purpose="investigation")
    query = """{ cases(first: 5, orderBy: REPORTED_AT_ASC, filter: {agencies: ["POLRI"]}) {
        edges { node { victims { id fullName nik } } } } }"""
    before = await last_audit_id(hub)
    result = await hub.execute(query, None, principal)
    assert result.errors is None
    victims = [v for e in result.data["cases"]["edges"] for v in e["node"]["victims"]]
    assert victims
    expected = {truth_person_key("polri", p): p for p in truth["agencies"]["polri"]["persons"]}
    for victim in victims:
        person = expected[GlobalId.decode(victim["id"]).key]
        assert (victim["fullName"], victim["nik"]) == (person["full_name"], person["nik"])
    (entry,) = await audit_rows_after(hub, before)
    assert sorted(json.loads(entry["record_ids"])) == sorted(v["id"] for v in victims)
    assert json.loads(entry["fields"]) == ["fullName", "nik"]


async def test_nothing_personal_requested_nothing_audited(hub: Hub, full_record: dict[str, Any]) -> None:
    principal = Principal(role="coordinator", purpose="investigation")
    before = await last_audit_id(hub)
    result = await hub.execute(NODE.format(fields="sex roles"), {"id": full_record["id"]}, principal)
    assert result.errors is None and result.data["node"]["sex"] == full_record["sex"]
    assert await audit_rows_after(hub, before) == []


# Caseworkers reading records of persons linked to their agency: tests/test_caseworker_linkage.py,
# against the real linkage index.


# --- rows: protected witnesses -----------------------------------------------------------------

SEES_PROTECTED = {
    "analyst": False,
    "caseworker/POLRI": False,
    "coordinator/POLRI": False,
    "admin/LPSK": False,
    "caseworker/LPSK": True,
    "coordinator/LPSK": True,
}


def principal_of(label: str, purpose: str | None = None) -> Principal:
    role, _, agency = label.partition("/")
    return Principal(subject=f"rows-{label}", role=role, agency=agency or None, purpose=purpose)


@pytest.mark.parametrize("label", list(SEES_PROTECTED))
async def test_protected_witnesses_exist_only_for_lpsk_staff(
    hub: Hub, truth: dict[str, Any], label: str
) -> None:
    lpsk = truth["agencies"]["lpsk"]["persons"]
    witness = next(p for p in lpsk if p["roles"] == ["WITNESS"])
    victim = next(p for p in lpsk if p["roles"] == ["VICTIM"])
    principal = principal_of(label)
    query = NODE.format(fields="roles")
    for person, visible in ((witness, SEES_PROTECTED[label]), (victim, True)):
        gid = encode_id("lpsk", Entity.PERSON, person["key"])
        result = await hub.execute(query, {"id": gid}, principal)
        assert result.errors is None  # hidden means absent, not an error that confirms it exists
        assert (result.data["node"] is not None) == visible, (label, person["roles"])


@pytest.mark.parametrize("label", ["analyst", "coordinator/POLRI", "caseworker/LPSK"])
async def test_every_lpsk_record_is_shown_or_hidden_by_the_rule(
    hub: Hub, truth: dict[str, Any], label: str
) -> None:
    """Through case lists: exactly the truth's LPSK records, minus protected ones unless allowed."""
    principal = principal_of(label)
    cases = await all_cases(
        hub,
        first=500,
        fields="id victims { id } perpetrators { id } witnesses { id }",
        filter='filter: {agencies: ["LPSK"]}',
        principal=principal,
    )
    seen = {
        GlobalId.decode(p["id"]).key for c in cases for p in c["victims"] + c["perpetrators"] + c["witnesses"]
    }
    persons = truth["agencies"]["lpsk"]["persons"]
    expected = {p["key"] for p in persons if SEES_PROTECTED.get(label, False) or not is_protected("lpsk", p)}
    assert seen == expected
    assert len(expected) < len(persons) or SEES_PROTECTED.get(label)


async def test_a_service_of_a_protected_witness_is_hidden_too(hub: Hub, truth: dict[str, Any]) -> None:
    """A protection programme tells that its recipient exists: it is as absent as the recipient."""
    lpsk = truth["agencies"]["lpsk"]
    protected = {p["key"] for p in lpsk["persons"] if is_protected("lpsk", p)}
    service = next(s for s in lpsk["services"] if s["recipient_key"] in protected)
    query = "query($id: ID!) { node(id: $id) { ... on Service { id type recipient { id } } } }"
    gid = encode_id("lpsk", Entity.SERVICE, service["key"])
    hidden = await hub.execute(query, {"id": gid}, principal_of("analyst"))
    assert hidden.errors is None
    assert hidden.data["node"] is None
    assert [s["rows"] for s in hidden.extensions["sources"] if s["source"] == "lpsk"] == [0]
    shown = await hub.execute(query, {"id": gid}, principal_of("caseworker/LPSK"))
    assert shown.data["node"]["type"] == service["type"]
    assert GlobalId.decode(shown.data["node"]["recipient"]["id"]).key == service["recipient_key"]


async def test_lpsk_caseworker_reads_a_protected_witness_with_a_purpose(
    hub: Hub, truth: dict[str, Any]
) -> None:
    witness = next(
        p for p in truth["agencies"]["lpsk"]["persons"] if p["roles"] == ["WITNESS"] and p["phone"]
    )
    gid = encode_id("lpsk", Entity.PERSON, witness["key"])
    before = await last_audit_id(hub)
    result = await hub.execute(
        NODE.format(fields="fullName phone"), {"id": gid}, principal_of("caseworker/LPSK", "protection")
    )
    assert result.errors is None
    assert result.data["node"] == {"id": gid, "fullName": witness["full_name"], "phone": witness["phone"]}
    (entry,) = await audit_rows_after(hub, before)
    assert json.loads(entry["record_ids"]) == [gid] and entry["agency"] == "LPSK"


def test_linked_person_views_drop_what_the_row_rule_hides(hub: Hub) -> None:
    """A Person (issue 5) must not reveal a protected record by its roles, services or location."""

    @dataclass
    class Entry:
        source: str
        key: str
        roles: tuple[PersonRole, ...]

    @dataclass
    class Rec:
        source: str
        key: str
        case_key: str
        roles: tuple[PersonRole, ...]
        recipient_key: str | None = None

    @dataclass
    class Node:
        record: Any

    @dataclass
    class Location:
        source: str

    @dataclass
    class View:
        entries: list[Any]
        records: list[Any]
        cases: list[Any]
        services: list[Any]
        last_location: Any
        gaps: Any

    from hub.vocabulary import model

    def person(source: str, key: str, role: PersonRole) -> Any:
        return Node(
            model.PersonRecord(
                source=source,
                key=key,
                case_key=f"c{key}",
                roles=(role,),
                sex=model.Sex.FEMALE,
                age_group=model.AgeGroup.UNKNOWN,
                is_child=None,
                citizenship=None,
                domicile_region=None,
                full_name=None,
                nik=None,
                birth_date=None,
                passport_number=None,
                address=None,
                phone=None,
            )
        )

    view = View(
        entries=[Entry("polri", "1", (PersonRole.VICTIM,)), Entry("lpsk", "2", (PersonRole.WITNESS,))],
        records=[person("polri", "1", PersonRole.VICTIM), person("lpsk", "2", PersonRole.WITNESS)],
        cases=[Node(Rec("polri", "c1", "c1", ())), Node(Rec("lpsk", "c2", "c2", ()))],
        services=[Node(Rec("lpsk", "s1", "c2", (), recipient_key="2"))],
        last_location=Location("lpsk"),
        gaps=["something"],
    )
    analyst = GuardedConverter(hub.registry, hub.context(principal_of("analyst")).guard)
    filtered = analyst.person_view(view)
    assert [(e.source, e.key) for e in filtered.entries] == [("polri", "1")]
    assert [n.record.key for n in filtered.records] == ["1"]
    assert [n.record.key for n in filtered.cases] == ["c1"]
    assert filtered.services == [] and filtered.last_location is None and filtered.gaps is None
    lpsk = GuardedConverter(hub.registry, hub.context(principal_of("caseworker/LPSK")).guard)
    assert lpsk.person_view(view) is view
    only_protected = View([view.entries[1]], [view.records[1]], [], [], None, None)
    assert analyst.person_view(only_protected) is None


# --- operations --------------------------------------------------------------------------------

OPERATIONS = {
    "agencies": "{ agencies { code } }",
    "vocabulary": "{ vocabulary { name } }",
    "whoami": "{ whoami { role } }",
    "cases": "{ cases(first: 1) { totalCount } }",
    "node": '{ node(id: "cG9scmk6Y2FzZTp4") { id } }',
    "sources": "{ sources { name } }",
    "auditLog": "{ auditLog(first: 1) { edges { cursor } } }",
}
ALLOWED = {
    "public": {"agencies", "vocabulary", "whoami"},
    "analyst": set(OPERATIONS) - {"auditLog"},
    "caseworker": set(OPERATIONS) - {"auditLog"},
    "coordinator": set(OPERATIONS) - {"auditLog"},
    "admin": set(OPERATIONS),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_operations_by_role(hub: Hub, role: str, operation: str) -> None:
    result = await hub.execute(OPERATIONS[operation], None, Principal(role=role, agency="POLRI"))
    codes = [e.extensions.get("code") for e in result.errors or []]
    if operation in ALLOWED[role]:
        assert "FORBIDDEN" not in codes and result.data is not None
    else:
        assert result.data is None and codes == ["FORBIDDEN"]
        assert result.errors[0].extensions["field"] == operation


async def test_fragments_cannot_smuggle_a_forbidden_root_field(hub: Hub) -> None:
    query = "query { ...F } fragment F on Query { agencies { code } ... on Query { cases { totalCount } } }"
    result = await hub.execute(query, None, Principal(role="public"))
    assert result.data is None and [e.extensions["field"] for e in result.errors] == ["cases"]


def test_statistics_are_exact_only_for_coordinators() -> None:
    assert {role: statistics_k(Principal(role=role)) for role in ROLES} == {
        "public": 11,
        "analyst": 11,
        "caseworker": 11,
        "coordinator": None,
        "admin": 11,
    }
    assert statistics_k(Principal(role="analyst"), k=5) == 5


@pytest.mark.parametrize("role", ["public", "analyst"])
async def test_no_count_under_k_reaches_a_role_below_coordinator(hub: Hub, role: str) -> None:
    query = """{ statistics(measure: VICTIM_RECORDS, groupBy: [PROVINCE, SEX]) {
        rows { count suppressed } total } }"""
    result = await hub.execute(query, None, Principal(role=role))
    assert result.errors is None
    rows = result.data["statistics"]["rows"]
    assert any(r["suppressed"] for r in rows)
    assert all(r["count"] is None or r["count"] >= 11 for r in rows)
    total = result.data["statistics"]["total"]
    assert total is None or total >= 11


# --- no personal data in logs or errors --------------------------------------------------------


async def test_no_personal_value_in_logs_or_errors(
    hub: Hub, truth: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    persons = truth["agencies"]["polri"]["persons"][:40]
    query = NODE.format(fields=" ".join(PERSONAL))
    with caplog.at_level(logging.DEBUG):
        messages = []
        for principal in (
            Principal(role="analyst"),
            Principal(role="caseworker", agency="KEMLU", purpose="investigation"),
            Principal(role="coordinator", purpose="investigation"),
        ):
            for person in persons:
                gid = encode_id("polri", Entity.PERSON, truth_person_key("polri", person))
                result = await hub.execute(query, {"id": gid}, principal)
                messages += [e.message for e in result.errors or []]
    logged = "\n".join(r.getMessage() for r in caplog.records) + "\n".join(messages)
    for person in persons:
        for name in PERSONAL.values():
            value = person[name]
            if value and len(str(value)) >= 6:
                assert str(value) not in logged, name
