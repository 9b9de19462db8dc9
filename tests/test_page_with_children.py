"""A page of one source carries its cases' relations in its own statement; a page of several
sources reads each source's relations in one statement (issue 13).

``Source.search_cases_with`` must give exactly what the page and then ``children`` (or
``children_in_roles``) give for the page's cases — the same cases in the same order, and per
case the same records in the same order — and ``Source.children_together`` what ``children``
gives relation by relation, on SQLite and PostgreSQL, for every agency, both orders, several
page sizes, a cursor and a filter. Through GraphQL, a page of one source then sends one
statement, a page of all sources two per source, every case's victims and services are the
generator's, the row rule still hides what a viewer may not see (checked against the
generator's ground truth), and a database that refuses the combined statement still gets right
answers, relation by relation, from then on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import column, select, table

from adapters import pagewith
from adapters.base import SourceError
from adapters.sql import MappedSQLSource
from hub.access.policy import Principal
from hub.engine.ids import GlobalId
from hub.server.app import Hub
from hub.vocabulary.model import (
    PERSONAL_FIELDS,
    VICTIM_ROLES,
    CaseFilter,
    CaseSearch,
    ChildrenRequest,
    Entity,
    Keyset,
    Record,
    SortOrder,
)
from tests.statements import recorded
from tests.test_federation_engine import total_cases
from tests.test_hidden_records import HIDDEN_FROM, LPSK_STAFF, protected_keys, visible_in_case

VICTIM_NAMES = {role.name for role in VICTIM_ROLES}
REQUESTS = (
    ChildrenRequest(Entity.PERSON, "case_key"),
    ChildrenRequest(Entity.PERSON, "case_key", VICTIM_ROLES),
    ChildrenRequest(Entity.SERVICE, "case_key"),
    ChildrenRequest(Entity.STAGE_EVENT, "case_key"),
)
#: The same requests from a request that selects no personal field.
UNASKED = tuple(dataclasses.replace(r, personal=False) for r in REQUESTS)


def without_personal(record: Record) -> Record:
    """``record`` as read for a request that selects no personal field: those are None."""
    if not any(hasattr(record, name) for name in PERSONAL_FIELDS):
        return record
    return dataclasses.replace(record, **dict.fromkeys(PERSONAL_FIELDS))  # type: ignore[type-var]


def searches(first_page: list[Any]) -> list[CaseSearch]:
    """First pages in both orders and several sizes, a filtered page and a page after a cursor."""
    found = [
        CaseSearch(order=order, limit=n) for order in (SortOrder.DESC, SortOrder.ASC) for n in (1, 7, 21, 60)
    ]
    found.append(CaseSearch(filter=CaseFilter(child_victim=True), limit=15))
    if first_page:
        found.append(CaseSearch(after=Keyset.of(first_page[-1]), limit=25))
    return found


def by_parent(records: list[Record], field: str) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        grouped[getattr(record, field)].append(record)
    return dict(grouped)


async def separately(source: MappedSQLSource, request: ChildrenRequest, keys: list[str]) -> list[Record]:
    if not keys:
        return []
    if request.roles is None:
        return await source.children(request.entity, request.field, keys)
    return await source.children_in_roles(request.entity, request.field, keys, request.roles)


async def assert_same_as_separately(hub: Hub) -> int:
    """Every source's pages with children against page-then-children; the children compared,
    also as read for a request that selects no personal field (those fields None, the rest
    the same)."""
    compared = 0
    personal = {"read": 0}
    for entry in hub.registry.all():
        source = entry.source
        assert isinstance(source, MappedSQLSource) and source.combines_children
        first = await source.search_cases(CaseSearch(limit=30))
        for search in searches(first):
            read = await source.search_cases_with(search, REQUESTS)
            cases, found = read.cases, read.children
            assert cases == await source.search_cases(search), (entry.name, search)
            assert read.total is None
            keys = [case.key for case in cases]
            together = await source.children_together(REQUESTS, keys)
            unasked_read = await source.search_cases_with(dataclasses.replace(search, count=True), UNASKED)
            unasked_cases, unasked = unasked_read.cases, unasked_read.children
            assert unasked_cases == cases, (entry.name, search)
            assert unasked_read.total == await source.count_cases(search.filter), (entry.name, search)
            unasked_together = await source.children_together(UNASKED, keys)
            answers = zip(REQUESTS, found, together, unasked, unasked_together, strict=True)
            for request, records, read_together, records_unasked, together_unasked in answers:
                alone = await separately(source, request, keys)
                want = by_parent(alone, request.field)
                assert by_parent(records, request.field) == want, (entry.name, request)
                assert by_parent(read_together, request.field) == want, (entry.name, request)
                want_unasked = by_parent([without_personal(r) for r in alone], request.field)
                assert by_parent(records_unasked, request.field) == want_unasked, (entry.name, request)
                assert by_parent(together_unasked, request.field) == want_unasked, (entry.name, request)
                compared += sum(len(v) for v in want.values())
                personal["read"] += sum(getattr(r, "full_name", None) is not None for r in alone)
    assert personal["read"] > 100, "the records read alone hold names: leaving them out shows"
    return compared


async def test_sqlite_pages_with_children_equal_page_then_children(hub: Hub) -> None:
    assert await assert_same_as_separately(hub) > 1000


async def test_postgres_pages_with_children_equal_page_then_children(pg_hub: Hub) -> None:
    assert await assert_same_as_separately(pg_hub) > 1000


PAGE = """{ cases(first: 30, filter: {agencies: ["KEMENPPPA"]}) {
  %s edges { node { id victims { id sex } services { id type } } } } }"""


@pytest.mark.parametrize("total", ["", "totalCount"])
async def test_a_page_of_one_source_is_one_statement_on_postgres(
    pg_hub: Hub, truth: dict[str, Any], total: str
) -> None:
    """The page, its cases' victims and services, and its total: one statement."""
    source = pg_hub.registry.get("simfoni").source
    await pg_hub.execute(PAGE % total)  # plans and builds once
    with recorded(source) as sent:
        result = await pg_hub.execute(PAGE % total)
    assert result.errors is None, result.errors
    statements = [s for s, _ in sent]
    assert len(statements) == 1 and pagewith.PAGE_CTE in statements[0], statements
    if total:  # the demo databases of both dialects hold the generator's cases
        assert result.data["cases"]["totalCount"] == total_cases(truth, {"simfoni"})
    edges = result.data["cases"]["edges"]
    assert (
        sum(len(e["node"]["victims"]) for e in edges) > 0
        and sum(len(e["node"]["services"]) for e in edges) > 0
    )


async def test_victims_read_their_cases_report_date_from_the_page(pg_hub: Hub) -> None:
    """Simfoni's persons join the case table only for the report date (their age is counted
    at it): read with a page, they take it from the page's rows instead of joining the case
    table once more. (Their ages equal those read on their own: the equality tests above.)"""
    source = pg_hub.registry.get("simfoni").source
    await pg_hub.execute(PAGE % "")
    with recorded(source) as sent:
        result = await pg_hub.execute(PAGE % "")
    assert result.errors is None, result.errors
    (statement,) = [s for s, _ in sent]
    assert f"JOIN {pagewith.PAGE_CTE} AS" in statement
    assert "JOIN kasus" not in statement, statement


async def test_children_with_integer_keys_are_numbered_by_their_key_on_postgres(pg_hub: Hub) -> None:
    """Simfoni's victims and services have integer keys: on PostgreSQL their rows carry the key
    as their number (Python orders integers as the database does), so the statement has one
    window, the page's, and no sort for them. (Their order equals their own statements': the
    equality tests above fail when the numbers are reversed.)"""
    plan, _ = await plan_of(pg_hub, PAGE % "")
    assert plan.count("WindowAgg") == 1, plan


PERSONAL_PAGE = """query Page { cases(first: 30, filter: {agencies: ["KEMENPPPA"]}) {
  edges { node { victims { id ...Who } } } } }
fragment Who on PersonRecord { fullName nik }"""
COORDINATOR = Principal(subject="page-test", role="coordinator", agency="KEMENPPPA", purpose="coordination")
#: What PostgreSQL computes from simfoni's victims' names (its mapping: ``nama_lengkap``).
NAME_READ = "TRIM(BOTH FROM korban.nama_lengkap)"


async def plan_of(pg_hub: Hub, query: str, principal: Principal | None = None) -> tuple[str, Any]:
    """The answer to ``query`` and the plan (EXPLAIN VERBOSE) of its one page statement."""
    source = pg_hub.registry.get("simfoni").source
    who = (None, principal) if principal is not None else ()
    await pg_hub.execute(query, *who)
    with recorded(source) as sent:
        result = await pg_hub.execute(query, *who)
    assert result.errors is None, result.errors
    (statement, params), *_ = [(s, p) for s, p in sent if pagewith.PAGE_CTE in s]
    async with source._engine.connect() as conn:
        plan = await conn.exec_driver_sql(f"EXPLAIN (VERBOSE, COSTS OFF) {statement}", params)
        return "\n".join(row[0] for row in plan), result


async def test_a_page_that_selects_no_personal_field_computes_none_on_postgres(pg_hub: Hub) -> None:
    """Victims read with a page for a query that selects no personal field: PostgreSQL does
    not read or clean their names (it computes no output column nothing reads); a query that
    selects one — here in a fragment — reads them, and they are the generator's."""
    plan, _ = await plan_of(pg_hub, PAGE % "")
    assert NAME_READ not in plan, plan
    plan, _result = await plan_of(pg_hub, PERSONAL_PAGE, COORDINATOR)
    assert NAME_READ in plan, plan


async def test_personal_fields_on_a_page_are_the_generators(hub: Hub, truth: dict[str, Any]) -> None:
    """Names and NIKs selected through a fragment on a page whose relations come with it."""
    persons = {p["key"]: p for p in truth["agencies"]["simfoni"]["persons"]}
    result = await hub.execute(PERSONAL_PAGE, None, COORDINATOR)
    assert result.errors is None, [e.formatted for e in result.errors]
    victims = [v for e in result.data["cases"]["edges"] for v in e["node"]["victims"]]
    assert len(victims) > 10
    for victim in victims:
        person = persons[GlobalId.decode(victim["id"]).key.removeprefix("korban/")]
        assert (victim["fullName"], victim["nik"]) == (person["full_name"], person["nik"])


LPSK_PAGE = """{ cases(first: 200, filter: {agencies: ["LPSK"]}) { edges { node {
  sourceKey victims { id } witnesses { id } services { id recipient { id } } } } } }"""


@pytest.mark.parametrize("viewer", [*HIDDEN_FROM, "lpsk staff"])
async def test_a_page_with_its_relations_hides_protected_witnesses(
    hub: Hub, truth: dict[str, Any], viewer: str
) -> None:
    """The relations read with the page pass the row rule, as relations read alone do."""
    lpsk = truth["agencies"]["lpsk"]
    protected = protected_keys(truth)
    sees_all = viewer == "lpsk staff"
    result = await hub.execute(LPSK_PAGE, None, HIDDEN_FROM.get(viewer, LPSK_STAFF))
    assert result.errors is None, [e.formatted for e in result.errors]
    edges = result.data["cases"]["edges"]
    assert edges
    touched = 0
    for edge in edges:
        case = edge["node"]
        persons = {GlobalId.decode(p["id"]).key for p in case["victims"] + case["witnesses"]}
        services = {GlobalId.decode(s["id"]).key for s in case["services"]}
        want_persons, want_services = visible_in_case(lpsk, case["sourceKey"], protected, sees_all)
        assert persons == want_persons
        assert services == want_services
        assert all(s["recipient"] is not None for s in case["services"])
        touched += any(p["case_key"] == case["sourceKey"] and p["key"] in protected for p in lpsk["persons"])
    assert touched, "the page holds cases with protected persons"


async def test_a_refused_combined_statement_falls_back_to_statements_of_their_own(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    source = hub.registry.get("simfoni").source
    assert isinstance(source, MappedSQLSource)
    search = CaseSearch(limit=12)
    want_cases = await source.search_cases(search)
    keys = [case.key for case in want_cases]
    want = [await separately(source, request, keys) for request in REQUESTS]
    refused = pagewith.CombinedPage(select(column("x")).select_from(table("no_such_table")), (2,), ())
    original = source._combined
    source._combined = lambda *args: refused  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.WARNING, logger="tppo_hub.adapters.sql"):
            read = await source.search_cases_with(dataclasses.replace(search, count=True), REQUESTS)
        cases, found = read.cases, read.children
        assert cases == want_cases and read.total == await source.count_cases(search.filter)
        for request, records, expected in zip(REQUESTS, found, want, strict=True):
            assert by_parent(records, request.field) == by_parent(expected, request.field)
        assert not source._combining
        together = await source.children_together(REQUESTS, keys)
        for request, records, expected in zip(REQUESTS, together, want, strict=True):
            assert by_parent(records, request.field) == by_parent(expected, request.field)
        assert any(
            "read separately" in r.getMessage() and "simfoni" in r.getMessage() for r in caplog.records
        )
        with recorded(source) as sent:
            again = await source.search_cases_with(search, REQUESTS)
        assert again.cases == want_cases and not any(pagewith.PAGE_CTE in s for s, _ in sent)
    finally:
        source._combined = original  # type: ignore[method-assign]
        source._combining = True


async def test_a_source_that_is_down_is_not_taken_for_one_that_refuses_the_combined_statement(
    hub: Hub,
) -> None:
    """A combined statement that fails because the database cannot be reached fails the page
    (the statements of their own fail too), and the source reads combined again once it is
    back: only a database that answers the plain statements and not the combined one has
    refused it."""
    source = hub.registry.get("simfoni").source
    assert isinstance(source, MappedSQLSource) and source._combining
    search = CaseSearch(limit=12, count=True)
    want = await source.search_cases_with(search, REQUESTS)
    original = source.fetch

    async def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise SourceError("source 'simfoni': connection failed (OSError)")

    source.fetch = unreachable  # type: ignore[method-assign]
    try:
        with pytest.raises(SourceError):
            await source.search_cases_with(search, REQUESTS)
        with pytest.raises(SourceError):
            await source.children_together(REQUESTS, [case.key for case in want.cases])
    finally:
        source.fetch = original  # type: ignore[method-assign]
    assert source._combining
    with recorded(source) as sent:
        again = await source.search_cases_with(search, REQUESTS)
    assert len(sent) == 1 and pagewith.PAGE_CTE in sent[0][0]
    assert again.cases == want.cases and again.total == want.total


NATIONAL = """{ cases(first: 80) { edges { node {
  id agency { code } victims { id } services { id } stageHistory { stage } } } } }"""


async def test_a_page_of_every_source_reads_each_sources_relations_in_one_statement(
    hub: Hub, truth: dict[str, Any]
) -> None:
    """The cases of all agencies with their victims and services, against the generator (seen
    by LPSK's staff, who may see LPSK's protected witnesses too)."""
    result = await hub.execute(NATIONAL, None, LPSK_STAFF)
    assert result.errors is None, [e.formatted for e in result.errors]
    by_source = {s["source"]: s for s in result.extensions["sources"]}
    assert len(by_source) == 5 and all(s["statements"] == 2 for s in by_source.values()), by_source
    agencies = {entry.source.agency.code: entry.name for entry in hub.registry.all()}
    checked = 0
    for edge in result.data["cases"]["edges"]:
        case = edge["node"]
        name = agencies[case["agency"]["code"]]
        held = truth["agencies"][name]
        key = GlobalId.decode(case["id"]).key
        # Person keys carry their table where an agency keeps persons in several (korban/12).
        victims = {GlobalId.decode(p["id"]).key.rsplit("/", 1)[-1] for p in case["victims"]}
        services = {GlobalId.decode(s["id"]).key for s in case["services"]}
        want_victims = {
            p["key"] for p in held["persons"] if p["case_key"] == key and VICTIM_NAMES & set(p["roles"])
        }
        want_services = {s["key"] for s in held["services"] if s["case_key"] == key}
        assert victims == want_victims, (name, key)
        assert services == want_services, (name, key)
        checked += len(want_victims) + len(want_services)
    assert checked > 100


async def test_a_source_failing_on_its_relations_is_reported_once_and_they_are_empty(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    polri = hub.registry.get("polri").source

    async def down(*args: Any) -> Any:
        raise SourceError("polri: connection lost")

    monkeypatch.setattr(polri, "children_together", down)
    result = await hub.execute(NATIONAL, None, LPSK_STAFF)
    report = {s["source"]: s for s in result.extensions["sources"]}
    assert report["polri"]["status"] == "error" and report["simfoni"]["status"] == "ok"
    failures = [e for e in result.errors or [] if "polri" in e.message]
    assert len(failures) == 1 and failures[0].extensions["code"] == "SOURCE_UNAVAILABLE", failures
    edges = result.data["cases"]["edges"]
    polri_cases = [e["node"] for e in edges if e["node"]["agency"]["code"] == "POLRI"]
    assert polri_cases and all(not c["victims"] and not c["services"] for c in polri_cases)
    assert any(e["node"]["victims"] for e in edges if e["node"]["agency"]["code"] != "POLRI")
