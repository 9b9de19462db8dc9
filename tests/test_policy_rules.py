"""The policy point's rules one by one, without a hub: fast enough to run per mutant.

Expected answers are the role table of docs/architecture.md §3 / DESIGN.md §7 written out
here case by case (roles × operations, rows of a witness-protection agency, personal fields by
role, agency, link and purpose), and the defaults of docs/access.md's limit tables. The
end-to-end matrix through GraphQL lives in tests/test_policy.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hub.access import policy
from hub.access.policy import (
    ANONYMOUS,
    PUBLIC,
    AccessSettings,
    Decision,
    Guard,
    Principal,
    QueryLimits,
    Reason,
    is_protected,
    may_query,
    personal_decision,
    record_visible,
    statistics_k,
)
from hub.vocabulary.model import (
    AgeGroup,
    Agency,
    CaseRecord,
    OrgType,
    PersonRecord,
    PersonRole,
    Sex,
)

ROLES = ["public", "analyst", "caseworker", "coordinator", "admin"]
LPSK = Agency("LPSK", "Lembaga Perlindungan Saksi dan Korban", OrgType.WITNESS_PROTECTION)
POLRI = Agency("POLRI", "Kepolisian", OrgType.LAW_ENFORCEMENT)
BP2MI = Agency("BP2MI", "Badan Pelindungan Pekerja Migran Indonesia", OrgType.CENTRAL_GOVERNMENT)
AGENCIES = {"lpsk": LPSK, "polri": POLRI, "bp2mi": BP2MI}
WITNESS_ROLES = [
    PersonRole.WITNESS,
    PersonRole.VICTIM_WITNESS,
    PersonRole.REPORTER,
    PersonRole.JUSTICE_COLLABORATOR,
]
OTHER_ROLES = [r for r in PersonRole if r not in WITNESS_ROLES]


def who(role: str, agency: str | None = None, purpose: str | None = None) -> Principal:
    return Principal(subject="s", role=role, agency=agency, purpose=purpose, method="jwt")


# --- operations ---------------------------------------------------------------------------------

PUBLIC_FIELDS = ["statistics", "indicators", "indicator", "agencies", "vocabulary", "whoami", "__typename"]
INTROSPECTION = ["__schema", "__type"]
ADMIN_FIELDS = [
    "auditLog",
    "registerSource",
    "removeSource",
    "approveSource",
    "rejectSource",
    "pendingSources",
]
REVIEW_FIELDS = ["linkReviews", "confirmLink", "rejectLink", "undoLinkDecision"]
RECORD_FIELDS = ["cases", "persons", "node", "case", "dataQuality", "sources", "_entities"]


@pytest.mark.parametrize("role", [*ROLES, "superuser", ""])
def test_operations_per_role(role: str) -> None:
    principal = who(role)
    known = role in ROLES
    for name in PUBLIC_FIELDS + INTROSPECTION:
        assert may_query(principal, name) is known, name
    for name in ADMIN_FIELDS:
        assert may_query(principal, name) is (role == "admin"), name
    for name in REVIEW_FIELDS:
        assert may_query(principal, name) is (role == "coordinator"), name
    for name in RECORD_FIELDS:
        assert may_query(principal, name) is (role in {"analyst", "caseworker", "coordinator", "admin"}), name


def test_operation_lists_are_exactly_the_documented_ones() -> None:
    assert frozenset(PUBLIC_FIELDS) == policy.PUBLIC_OPERATIONS
    assert frozenset(ADMIN_FIELDS) == policy.ADMIN_OPERATIONS
    assert frozenset(REVIEW_FIELDS) == policy.REVIEW_OPERATIONS
    assert tuple(ROLES) == policy.ROLES


# --- rows ---------------------------------------------------------------------------------------


def test_protected_witnesses_are_witness_roles_held_by_a_protection_agency() -> None:
    for role in WITNESS_ROLES:
        assert is_protected(LPSK, [role]) is True
        assert is_protected(LPSK, [PersonRole.VICTIM, role]) is True
        assert is_protected(POLRI, [role]) is False
        assert is_protected(None, [role]) is False
    for role in OTHER_ROLES:
        assert is_protected(LPSK, [role]) is False
    assert is_protected(LPSK, []) is False
    assert is_protected(LPSK, iter([PersonRole.VICTIM, PersonRole.WITNESS])) is True


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_row_rule_per_role(role: str) -> None:
    reads_records = role in {"analyst", "caseworker", "coordinator", "admin"}
    for agency in ("LPSK", "POLRI", None):
        principal = who(role, agency)
        # Not protected: every role that reads records sees it, at any agency, or none.
        assert record_visible(principal, POLRI, [PersonRole.WITNESS]) is reads_records
        assert record_visible(principal, LPSK, [PersonRole.VICTIM]) is reads_records
        assert record_visible(principal, None, [PersonRole.WITNESS]) is reads_records
        # Protected: only LPSK's own caseworkers and coordinators.
        staff = role in {"caseworker", "coordinator"} and agency == "LPSK"
        for witness in WITNESS_ROLES:
            assert record_visible(principal, LPSK, [witness]) is staff, (role, agency, witness)


# --- personal fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["public", "analyst", "admin", "superuser"])
def test_roles_without_personal_access_are_refused_by_role(role: str) -> None:
    for purpose in (None, "investigation"):
        for agency in (None, "POLRI"):
            decision = personal_decision(who(role, agency, purpose), "POLRI", ["POLRI"])
            assert decision == Decision(False, Reason.ROLE)


def test_a_purpose_is_required() -> None:
    for role in ("caseworker", "coordinator"):
        for purpose in (None, ""):
            assert personal_decision(who(role, "POLRI", purpose), "POLRI") == Decision(
                False, Reason.PURPOSE_REQUIRED
            )


def test_coordinators_read_every_agency() -> None:
    for agency in ("POLRI", "KPAI", None):
        assert personal_decision(who("coordinator", agency, "task force"), "POLRI") == Decision(True)
        assert personal_decision(who("coordinator", agency, "task force"), "BP2MI").allowed is True


def test_caseworkers_read_their_own_agency_and_linked_persons() -> None:
    worker = who("caseworker", "POLRI", "investigation")
    assert personal_decision(worker, "POLRI") == Decision(True)
    assert personal_decision(worker, "BP2MI") == Decision(False, Reason.OTHER_AGENCY)
    assert personal_decision(worker, "BP2MI", ["KPAI"]) == Decision(False, Reason.OTHER_AGENCY)
    assert personal_decision(worker, "BP2MI", ["KPAI", "POLRI"]) == Decision(True)
    assert personal_decision(worker, "BP2MI", iter(["POLRI"])) == Decision(True)
    nowhere = who("caseworker", None, "investigation")
    assert personal_decision(nowhere, "POLRI", ["POLRI"]) == Decision(False, Reason.OTHER_AGENCY)


def test_denial_messages_name_the_field_and_the_rule() -> None:
    analyst = who("analyst")
    assert Decision(False, Reason.ROLE).message("nik", analyst) == (
        "not allowed to read nik: role analyst has no access to personal data"
    )
    assert Decision(False, Reason.PURPOSE_REQUIRED).message("fullName", analyst) == (
        "not allowed to read fullName: declare a purpose "
        "(X-Purpose header or purpose claim) to read personal data"
    )
    assert Decision(False, Reason.OTHER_AGENCY).message("phone", analyst) == (
        "not allowed to read phone: the record is held by another agency"
    )
    assert Decision(False).message("address", who("public")) == (
        "not allowed to read address: role public has no access to personal data"
    )
    assert [r.value for r in Reason] == ["ROLE", "PURPOSE_REQUIRED", "OTHER_AGENCY"]
    assert Decision(True, None) == policy.ALLOW


# --- statistics, limits, principals -------------------------------------------------------------


def test_statistics_are_exact_for_coordinators_only() -> None:
    for role in ROLES:
        expected = None if role == "coordinator" else 11
        assert statistics_k(who(role)) == expected
        assert statistics_k(who(role), 5) == (None if role == "coordinator" else 5)
    assert policy.DEFAULT_K == 11


def test_documented_limit_defaults() -> None:
    """docs/access.md, the limits and budgets tables."""
    limits = QueryLimits()
    assert (limits.max_depth, limits.max_aliases, limits.max_tokens, limits.max_cost) == (
        12,
        30,
        5000,
        250_000,
    )
    assert (limits.list_size, limits.max_work, limits.request_timeout_seconds) == (5, 5000.0, 30.0)
    assert limits.introspection is True
    assert (limits.concurrent_requests, limits.work_per_second, limits.work_burst) == (4, 200.0, 10_000.0)
    assert limits.anonymous_share == 0.5
    settings = AccessSettings()
    assert settings.suppression_k == 11 and settings.limits == QueryLimits()


def test_principals_and_their_credentials() -> None:
    assert (ANONYMOUS.subject, ANONYMOUS.role, ANONYMOUS.method, ANONYMOUS.agency, ANONYMOUS.purpose) == (
        "anonymous",
        "analyst",
        "in_process",
        None,
        None,
    )
    assert ANONYMOUS.demo is False and ANONYMOUS.credential == "in_process"
    assert (PUBLIC.subject, PUBLIC.role, PUBLIC.method, PUBLIC.credential) == (
        "anonymous",
        "public",
        "anonymous",
        "anonymous",
    )
    assert Principal(token_id="abc").credential == "jwt:abc"
    assert Principal(api_key_id="k1").credential == "api_key:k1"
    assert Principal(token_id="abc", api_key_id="k1").credential == "jwt:abc"
    assert Principal(method="jwt").credential == "jwt"


# --- the guard of one request -------------------------------------------------------------------


def person(source: str, key: str, *roles: PersonRole) -> PersonRecord:
    return PersonRecord(
        source, key, "C1", tuple(roles), Sex.FEMALE, AgeGroup.AGE_18_24, False, "ID", "33",
        "Siti", "3374000000000001", date(2000, 1, 1), None, None, None,
    )  # fmt: skip


class Links:
    """The linkage hook with fixed answers, counting how often it is asked."""

    def __init__(self, answer: frozenset[str]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def agencies_of_person(self, source: str, key: str) -> frozenset[str]:
        self.asked.append((source, key))
        return self.answer


def guard(principal: Principal, linkage: Links | None = None, k: int = 11) -> Guard:
    return Guard(principal, AGENCIES.get, AccessSettings(suppression_k=k), linkage)


def test_the_row_rule_is_decided_once_per_source_and_roles_and_afresh_for_other_shapes() -> None:
    """The documented cost contract of Guard.row_visible: one decision per (source, roles) in a
    request, counted by how often the guard looks up the record's agency; roles not in a tuple
    (a list, a set) are decided each time, and decided the same way as the tuple."""
    asked: list[str] = []

    def agency_of(source: str) -> Agency | None:
        asked.append(source)
        return AGENCIES.get(source)

    for principal, sees_witness in [(who("caseworker", "LPSK"), True), (who("caseworker", "POLRI"), False)]:
        asked.clear()
        g = Guard(principal, agency_of, AccessSettings())
        witness = person("lpsk", "P1", PersonRole.WITNESS)
        again = person("lpsk", "P9", PersonRole.WITNESS)
        assert [g.row_visible(witness), g.row_visible(again), g.row_visible(witness)] == [sees_witness] * 3
        assert asked == ["lpsk"]
        victim = person("lpsk", "P2", PersonRole.VICTIM)
        assert g.row_visible(victim) is True and asked == ["lpsk", "lpsk"]
        # The same roles in other containers: decided afresh, never from the cache, same answers.
        for roles in ([PersonRole.WITNESS], {PersonRole.WITNESS}):
            listed = replace(witness, roles=roles)  # type: ignore[arg-type]
            before = len(asked)
            assert g.row_visible(listed) is sees_witness
            assert g.row_visible(listed) is sees_witness
            assert asked[before:] == ["lpsk", "lpsk"]
        assert g.row_visible(replace(victim, roles=[PersonRole.VICTIM])) is True  # type: ignore[arg-type]


def test_guard_rows_and_hidden_roles() -> None:
    witness = person("lpsk", "P1", PersonRole.WITNESS)
    victim = person("lpsk", "P2", PersonRole.VICTIM)
    case = CaseRecord("lpsk", "C1", None, None, None, None, (), (), None)
    protected = frozenset(WITNESS_ROLES)
    for principal, sees_witness in [
        (who("analyst"), False),
        (who("caseworker", "POLRI"), False),
        (who("caseworker", "LPSK"), True),
        (who("coordinator", "LPSK"), True),
        (who("admin", "LPSK"), False),
    ]:
        g = guard(principal)
        assert g.row_visible(witness) is sees_witness
        assert g.row_visible(victim) is True and g.row_visible(case) is True
        assert g.entry_visible("lpsk", [PersonRole.WITNESS]) is sees_witness
        assert g.entry_visible("lpsk", [PersonRole.VICTIM]) is True
        assert g.entry_visible("polri", [PersonRole.WITNESS]) is True
        assert g.hidden_roles("lpsk") == (frozenset() if sees_witness else protected)
        assert g.hidden_roles("polri") == frozenset() and g.hidden_roles("unknown") == frozenset()
        hidden = () if sees_witness else (("lpsk", tuple(sorted(protected, key=lambda r: r.name))),)
        assert g.hidden_entries(["polri", "lpsk", "unknown"]) == hidden
        assert g.agency("lpsk") is LPSK and g.agency("nowhere") is None
        assert g.may_query("cases") is True and g.may_query("auditLog") is (principal.role == "admin")
    public = guard(who("public"))
    assert public.row_visible(case) is False and public.row_visible(victim) is False
    # A role that reads no records has every source's witnesses hidden (it sees no rows at all).
    assert public.hidden_entries(["polri"]) == (
        (
            "polri",
            (
                PersonRole.JUSTICE_COLLABORATOR,
                PersonRole.REPORTER,
                PersonRole.VICTIM_WITNESS,
                PersonRole.WITNESS,
            ),
        ),
    )


def test_guard_personal_decisions_consult_the_linkage_only_when_needed() -> None:
    links = Links(frozenset({"POLRI"}))
    worker = guard(who("caseworker", "POLRI", "investigation"), links)
    other = person("bp2mi", "B1", PersonRole.VICTIM)
    own = person("polri", "P1", PersonRole.VICTIM)
    assert worker.personal(own) == Decision(True)
    assert links.asked == []  # own agency: no need to ask
    assert worker.personal(other) == Decision(True)  # linked to a person POLRI holds
    assert worker.personal(other) == Decision(True)
    assert links.asked == [("bp2mi", "B1")]  # decided once per record
    unlinked = guard(who("caseworker", "POLRI", "investigation"), Links(frozenset({"KPAI"})))
    assert unlinked.personal(other) == Decision(False, Reason.OTHER_AGENCY)
    coordinator_links = Links(frozenset())
    coordinator = guard(who("coordinator", "KPAI", "task force"), coordinator_links)
    assert coordinator.personal(other) == Decision(True) and coordinator_links.asked == []
    # No agency known for the source, or a row the caller may not see: refused by role.
    assert worker.personal(person("nowhere", "X", PersonRole.VICTIM)) == Decision(False, Reason.ROLE)
    lpsk_witness = person("lpsk", "W", PersonRole.WITNESS)
    assert guard(who("coordinator", "POLRI", "p")).personal(lpsk_witness) == Decision(False, Reason.ROLE)
    assert guard(who("coordinator", "LPSK", "p")).personal(lpsk_witness) == Decision(True)
    assert guard(who("caseworker", "POLRI")).personal(own) == Decision(False, Reason.PURPOSE_REQUIRED)
    # Without a linkage index, another agency's record is refused (nothing links it).
    assert guard(who("caseworker", "POLRI", "p")).personal(other) == Decision(False, Reason.OTHER_AGENCY)
    assert guard(who("caseworker", "POLRI", "p")).personal(own) == Decision(True)
    assert guard(who("analyst", "POLRI", "p")).personal(own) == Decision(False, Reason.ROLE)


def test_guard_notes_releases_and_statistics_settings() -> None:
    g = guard(who("caseworker", "POLRI", "p"), k=7)
    assert g.reads == []
    g.released("rec-1", "nik", ("cases", 0, "nik"))
    g.released("rec-2", "fullName", ("node", "fullName"))
    assert g.reads == [
        policy.PersonalRead("rec-1", "nik", ("cases", 0, "nik")),
        policy.PersonalRead("rec-2", "fullName", ("node", "fullName")),
    ]
    assert g.statistics_k() == 7
    assert guard(who("coordinator"), k=7).statistics_k() is None
    assert Guard(who("analyst"), AGENCIES.get).statistics_k() == 11
    assert Guard(who("analyst"), AGENCIES.get).settings == AccessSettings()
    for role in ROLES:
        assert guard(who(role)).restricts_query_sets() is (role == "public")
    assert guard(who("superuser")).restricts_query_sets() is True
