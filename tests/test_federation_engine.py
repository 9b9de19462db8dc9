"""The federation engine called directly on a small demo world: fan-out, merge, paging, failures.

A world of scale 0.05 (158 cases in five SQLite sources) is generated for this module, so the
whole file runs in seconds. Expected orders and counts come from the generator's ground truth:
cases ordered by (report date, source name, the source's key order — numeric for the sources
whose keys are integers), agency orders by agency code then source, newest first within each.
Paging checks every page size that matters: 1, a divisor of the total (every page exactly
full, the last one too), the total itself, one less and one more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

import pytest

from adapters.base import Source, SourceDataError, SourceError, SourceTimeout
from adapters.cellkeys import record_key
from hub.engine.federation import CasePage, Federation
from hub.engine.ids import GlobalId
from hub.engine.scope import CallOutcome, RequestContext, SourceFailure
from hub.server.app import Hub
from hub.vocabulary.model import (
    CaseFilter,
    CaseRecord,
    CaseSearch,
    CaseStage,
    ChildrenRequest,
    Dimension,
    Entity,
    ExploitationType,
    Keyset,
    Measure,
    PersonRole,
    Sex,
    SortOrder,
    StatisticsRequest,
)
from tests import small_world

world = small_world.fixture()

AGENCY = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}


def key_order(source: str, key: str, truth: dict[str, Any]) -> tuple[int, Any]:
    keys = [c["key"] for c in truth["agencies"][source]["cases"]]
    return (0, int(key)) if all(k.isdigit() for k in keys) else (1, key)


def expected(
    truth: dict[str, Any], order: SortOrder, sources: set[str] | None = None
) -> list[tuple[str, str]]:
    """(source, key) of every case in ``order``, from the ground truth."""
    rows = [
        (date.fromisoformat(c["reported_at"]) if c["reported_at"] else date.min, source, c["key"])
        for source, data in truth["agencies"].items()
        if sources is None or source in sources
        for c in data["cases"]
    ]

    def newest_first(r: tuple[date, str, str]) -> tuple[Any, ...]:
        return (r[0], key_order(r[1], r[2], truth))

    if order in (SortOrder.ASC, SortOrder.DESC):
        rows.sort(key=lambda r: (r[0], r[1], key_order(r[1], r[2], truth)), reverse=order is SortOrder.DESC)
        return [(s, k) for _, s, k in rows]
    agencies = sorted({(AGENCY[s], s) for _, s, _ in rows}, reverse=order is SortOrder.AGENCY_DESC)
    out = []
    for _, source in agencies:
        mine = sorted((r for r in rows if r[1] == source), key=newest_first, reverse=True)
        out += [(s, k) for _, s, k in mine]
    return out


async def page_through(
    federation: Federation, order: SortOrder, first: int, filter: CaseFilter | None = None
) -> tuple[list[tuple[str, str]], list[CasePage]]:
    pages: list[CasePage] = []
    seen: list[tuple[str, str]] = []
    after = None
    for _ in range(1000):
        page = await federation.cases(federation.new_context(), filter or CaseFilter(), order, first, after)
        pages.append(page)
        seen += [(n.record.source, n.record.key) for n in page.items]
        if not page.has_next:
            return seen, pages
        last = page.items[-1].record
        after = Keyset(last.reported_at, last.source, last.key)
    raise AssertionError("paging did not end")


def total_cases(truth: dict[str, Any], sources: set[str] | None = None) -> int:
    return sum(len(d["cases"]) for s, d in truth["agencies"].items() if sources is None or s in sources)


async def test_the_engine_serves_the_hubs_configuration_and_metrics(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """The resolvers read the page cap from the engine's configuration (the hub's own), and
    the engine counts its calls in the hub's /metrics. First in the module: the hub is built
    while it runs (``make mutate`` maps the engine's constructor to this test)."""
    hub, _ = world
    assert hub.federation.config is hub.config
    assert hub.federation.config.max_page_size == 500  # the documented default; the demo sets none
    assert hub.federation.metrics is hub.metrics


@pytest.mark.parametrize("order", list(SortOrder))
async def test_pages_follow_the_order_and_end_exactly(
    world: tuple[Hub, dict[str, Any]], order: SortOrder
) -> None:
    hub, truth = world
    want = expected(truth, order)
    n = len(want)
    assert n == total_cases(truth) == 158
    divisor = 79  # 158 = 2 x 79: two pages, both exactly full
    for first in (7, divisor, n - 1, n, n + 1):
        got, pages = await page_through(hub.federation, order, first)
        assert got == want, (order, first)
        sizes = [len(p.items) for p in pages]
        full, rest = divmod(n, first)
        assert sizes == [first] * full + ([rest] if rest else []), (order, first)
        assert [p.has_next for p in pages] == [True] * (len(pages) - 1) + [False]
    assert sum((await hub.federation.count_cases(hub.federation.new_context(), CaseFilter())).values()) == n
    # Pages of one: the cursor moves one case at a time (the first few are enough).
    after, got = None, []
    for _ in range(6):
        page = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, 1, after)
        assert len(page.items) == 1 and page.has_next is True
        last = page.items[0].record
        got.append((last.source, last.key))
        after = Keyset(last.reported_at, last.source, last.key)
    assert got == want[:6]


@pytest.mark.parametrize("order", list(SortOrder))
@pytest.mark.parametrize(("agency", "source"), [("POLRI", "polri"), ("LPSK", "lpsk")])
async def test_one_agency_pages_end_on_an_exactly_full_page(
    world: tuple[Hub, dict[str, Any]], order: SortOrder, agency: str, source: str
) -> None:
    hub, truth = world
    n = total_cases(truth, {source})
    want = expected(truth, order, {source})
    divisor = max(d for d in range(1, n) if n % d == 0)
    for first in (divisor, n, n - 1):
        got, pages = await page_through(hub.federation, order, first, CaseFilter(agencies=(agency,)))
        assert got == want
        assert [p.has_next for p in pages] == [True] * (len(pages) - 1) + [False]
        assert len(pages) == -(-n // first)


async def test_a_first_page_in_each_order(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    page = await hub.federation.cases(hub.federation.new_context(), CaseFilter(), SortOrder.DESC, 5, None)
    assert page.has_next is True
    assert [(n.record.source, n.record.key) for n in page.items] == expected(truth, SortOrder.DESC)[:5]
    by_agency = await hub.federation.cases(
        hub.federation.new_context(), CaseFilter(), SortOrder.AGENCY_ASC, 5, None
    )
    assert by_agency.has_next is True
    assert [(n.record.source, n.record.key) for n in by_agency.items] == expected(
        truth, SortOrder.AGENCY_ASC
    )[:5]


async def test_a_cursor_of_an_unknown_source_in_agency_order_ends_the_list(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    hub, _ = world
    after = Keyset(date(2020, 1, 1), "nowhere", "1")
    page = await hub.federation.cases(
        hub.federation.new_context(), CaseFilter(), SortOrder.AGENCY_ASC, 10, after
    )
    assert page.items == [] and page.has_next is False


async def test_agency_order_continues_in_the_next_source(world: tuple[Hub, dict[str, Any]]) -> None:
    """A page that ends inside one source, and the next page that crosses into the next one."""
    hub, truth = world
    want = expected(truth, SortOrder.AGENCY_ASC)
    first_source = want[0][0]
    size = sum(1 for s, _ in want if s == first_source)
    last = (await hub.federation.cases(
        hub.federation.new_context(), CaseFilter(), SortOrder.AGENCY_ASC, size - 1, None
    )).items[-1].record  # fmt: skip
    page = await hub.federation.cases(
        hub.federation.new_context(),
        CaseFilter(),
        SortOrder.AGENCY_ASC,
        3,
        Keyset(last.reported_at, last.source, last.key),
    )
    assert [(n.record.source, n.record.key) for n in page.items] == want[size - 1 : size + 2]
    assert page.has_next is True


@pytest.mark.parametrize("order", list(SortOrder))
async def test_a_pushed_filter_holds_in_every_order(
    world: tuple[Hub, dict[str, Any]], order: SortOrder
) -> None:
    """A filter each source evaluates (here: an exploitation type) selects the same cases in
    every order, agency orders included."""
    hub, truth = world
    wanted = {
        (s, c["key"])
        for s, d in truth["agencies"].items()
        for c in d["cases"]
        if "FORCED_LABOUR" in c["exploitation_types"]
    }
    got, _pages = await page_through(
        hub.federation, order, 10, CaseFilter(exploitation_types=(ExploitationType.FORCED_LABOUR,))
    )
    assert got == [ref for ref in expected(truth, order) if ref in wanted]
    counts = await hub.federation.count_cases(
        hub.federation.new_context(), CaseFilter(exploitation_types=(ExploitationType.FORCED_LABOUR,))
    )
    total = sum(counts.values())
    assert 10 < len(got) < 158 and total == len(wanted)


async def test_skipped_and_excluded_sources_are_reported(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    ctx = hub.federation.new_context()
    chosen = CaseFilter(sources=("polri", "kemlu"))
    page = await hub.federation.cases(ctx, chosen, SortOrder.DESC, 500, None)
    assert hub.federation.total(page, await hub.federation.count_cases(ctx, chosen)) == total_cases(
        truth, {"polri", "kemlu"}
    )
    assert {name: u.status for name, u in ctx.usage.items()} == {
        "polri": CallOutcome.OK,
        "kemlu": CallOutcome.OK,
        "simfoni": CallOutcome.SKIPPED,
        "lpsk": CallOutcome.SKIPPED,
        "bp2mi": CallOutcome.SKIPPED,
    }
    ctx = hub.federation.new_context()
    bp2mi = CaseFilter(agencies=("BP2MI",))
    page = await hub.federation.cases(ctx, bp2mi, SortOrder.DESC, 500, None)
    assert hub.federation.total(page, await hub.federation.count_cases(ctx, bp2mi)) == total_cases(
        truth, {"bp2mi"}
    )
    assert [name for name, u in ctx.usage.items() if u.status is CallOutcome.OK] == ["bp2mi"]
    # Stages are not recorded by lpsk, bp2mi and kemlu (docs/demo-agencies.md): left out, and said so.
    ctx = hub.federation.new_context()
    stages = CaseFilter(stages=tuple(CaseStage))
    page = await hub.federation.cases(ctx, stages, SortOrder.DESC, 500, None)
    assert hub.federation.total(page, await hub.federation.count_cases(ctx, stages)) == total_cases(
        truth, {"simfoni", "polri"}
    )
    excluded = {name for name, u in ctx.usage.items() if u.status is CallOutcome.EXCLUDED}
    assert excluded == {"lpsk", "bp2mi", "kemlu"} == set(ctx.exclusions)
    assert all(fields == ["stages"] for fields in ctx.exclusions.values())


async def test_statistics_sum_over_the_sources(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    ctx = hub.federation.new_context()
    result = await hub.federation.statistics(ctx, StatisticsRequest(Measure.CASES, (Dimension.AGENCY,)))
    assert result.cells == {(AGENCY[s],): len(d["cases"]) for s, d in truth["agencies"].items()}
    assert result.total == 158 and result.keys is None and result.total_key is None
    years = await hub.federation.statistics(
        hub.federation.new_context(),
        StatisticsRequest(Measure.CASES, (Dimension.YEAR,), CaseFilter(agencies=("POLRI", "LPSK"))),
    )
    want = Counter(
        c["reported_at"][:4]
        for s in ("polri", "lpsk")
        for c in truth["agencies"][s]["cases"]
        if c["reported_at"]
    )
    assert years.cells == {(year,): n for year, n in want.items()}
    assert years.total == total_cases(truth, {"polri", "lpsk"})


async def test_victims_need_the_linkage_index(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = world
    with pytest.raises(ValueError, match=r"^counting distinct persons needs the linkage index$"):
        await hub.federation.statistics(
            hub.federation.new_context(), StatisticsRequest(Measure.VICTIMS, (Dimension.AGENCY,))
        )


async def test_single_records_by_id(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    case = truth["agencies"]["polri"]["cases"][0]
    found = await hub.federation.get(
        hub.federation.new_context(), GlobalId("polri", Entity.CASE, case["key"])
    )
    assert (
        found is not None
        and found.record.key == case["key"]
        and found.record.source_key == case["source_key"]
    )
    assert (
        await hub.federation.get(hub.federation.new_context(), GlobalId("nowhere", Entity.CASE, "1")) is None
    )
    assert (
        await hub.federation.get(hub.federation.new_context(), GlobalId("polri", Entity.CASE, "no-such"))
        is None
    )


# --- failures become partial results --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "outcome"),
    [
        (SourceError("database is down"), "SOURCE_UNAVAILABLE", CallOutcome.ERROR),
        (SourceDataError("unparsable value in column x"), "SOURCE_DATA_ERROR", CallOutcome.ERROR),
        (SourceTimeout("too slow"), "SOURCE_TIMEOUT", CallOutcome.TIMEOUT),
        (RuntimeError("adapter bug with a secret 3374000000000001"), "SOURCE_UNAVAILABLE", CallOutcome.ERROR),
    ],
)
async def test_a_failing_call_returns_the_default_and_is_reported(
    world: tuple[Hub, dict[str, Any]], error: Exception, code: str, outcome: CallOutcome
) -> None:
    hub, _ = world
    entry = hub.registry.get("kemlu")
    assert entry is not None

    async def work(source: Any) -> list[str]:
        raise error

    ctx: RequestContext = hub.federation.new_context()
    try:
        assert await hub.federation.call(ctx, entry, work, ["default"]) == ["default"]
    finally:
        entry.breaker.record_success()  # a single failure in a test must not open the circuit for others
    assert ctx.usage["kemlu"].status is outcome and ctx.usage["kemlu"].calls == 1
    assert [f.code for f in ctx.failures] == [code] and ctx.failures[0].source == "kemlu"
    message = ctx.failures[0].message
    if isinstance(error, RuntimeError):
        assert message == "source 'kemlu' failed" and "3374" not in message
    elif isinstance(error, SourceTimeout):
        assert message == "source 'kemlu' did not answer in time"
    else:
        assert message == str(error)


async def test_a_successful_call_counts_statements_and_rows(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    entry = hub.registry.get("lpsk")
    assert entry is not None
    ctx = hub.federation.new_context()

    async def work(source: Any) -> int:
        return await source.count_cases(CaseFilter())

    assert await hub.federation.call(ctx, entry, work, -1) == total_cases(truth, {"lpsk"})
    usage = ctx.usage["lpsk"]
    assert usage.status is CallOutcome.OK and usage.calls == 1 and usage.statements >= 1
    assert ctx.failures == []


@pytest.mark.parametrize("order", [SortOrder.DESC, SortOrder.ASC, SortOrder.AGENCY_ASC])
async def test_a_counted_page_totals_the_sources_whose_page_answered(
    world: tuple[Hub, dict[str, Any]], order: SortOrder
) -> None:
    """``cases(count=True)``: each source's total read with its page (one call per source in
    the date orders), summed over the sources whose page answered, as paging lists them."""
    hub, truth = world
    ctx = hub.federation.new_context()
    page = await hub.federation.cases(ctx, CaseFilter(), order, 5, None, count=True)
    assert page.total == total_cases(truth)
    assert page.counts == {s: total_cases(truth, {s}) for s in truth["agencies"]}
    if not order.by_agency:
        assert all(usage.calls == 1 for usage in ctx.usage.values()), ctx.usage
    female = CaseFilter(victim_sex=(Sex.FEMALE,))
    uncounted = await hub.federation.cases(hub.federation.new_context(), female, order, 5, None)
    assert uncounted.total is None and uncounted.counts is None
    counted = await hub.federation.cases(hub.federation.new_context(), female, order, 5, None, count=True)
    separately = await hub.federation.count_cases(hub.federation.new_context(), female)
    assert counted.counts == separately and [n.record.key for n in counted.items] == [
        n.record.key for n in uncounted.items
    ]

    entry = hub.registry.get("lpsk")
    assert entry is not None and entry.source is not None
    source = entry.source

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise SourceError("source 'lpsk' is unavailable")

    originals = source.search_cases, source.search_cases_with
    source.search_cases = source.search_cases_with = broken  # type: ignore[method-assign]
    try:
        failing_ctx = hub.federation.new_context()
        partial = await hub.federation.cases(failing_ctx, CaseFilter(), order, 500, None, count=True)
    finally:
        source.search_cases, source.search_cases_with = originals  # type: ignore[method-assign]
        entry.breaker.record_success()
    # lpsk's page failed: its total is left out, as paging leaves out its cases.
    assert partial.total == total_cases(truth) - total_cases(truth, {"lpsk"}) == len(partial.items)
    assert [f.source for f in failing_ctx.failures] == ["lpsk"]


async def test_a_source_without_its_own_counted_page_counts_beside_it(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """The contract's default :meth:`Source.search_cases_with` (a source that reads its page
    and count apart): the same page, children and total as the SQL source's one statement;
    a failing count fails the call with the count's own error, and stops the page."""
    hub, truth = world
    source = hub.registry.get("simfoni").source
    assert source is not None
    requests = [ChildrenRequest(Entity.PERSON, "case_key", frozenset({PersonRole.VICTIM}))]
    search = CaseSearch(limit=7, count=True)
    default = await Source.search_cases_with(source, search, requests)
    combined = await source.search_cases_with(search, requests)
    assert default.total == combined.total == total_cases(truth, {"simfoni"})
    assert default.cases == combined.cases and len(default.cases) == 7
    assert sorted(r.key for r in default.children[0]) == sorted(r.key for r in combined.children[0])
    assert (await Source.search_cases_with(source, CaseSearch(limit=7), requests)).total is None

    stopped: list[bool] = []

    class Slow(type(source)):  # type: ignore[misc]
        async def search_cases(self, search: CaseSearch) -> list[CaseRecord]:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                stopped.append(True)
                raise
            return []

        async def count_cases(self, filter: CaseFilter) -> int:
            raise SourceTimeout("source 'simfoni' did not answer in time")

    slow = object.__new__(Slow)
    with pytest.raises(SourceTimeout):
        await Source.search_cases_with(slow, search, requests)
    await asyncio.sleep(0)
    assert stopped == [True]


async def test_one_failing_source_leaves_a_partial_page(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    entry = hub.registry.get("lpsk")
    assert entry is not None
    source = entry.source
    assert source is not None

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise SourceError("source 'lpsk' is unavailable")

    original = source.search_cases
    source.search_cases = broken  # type: ignore[method-assign]
    try:
        ctx = hub.federation.new_context()
        page = await hub.federation.cases(ctx, CaseFilter(), SortOrder.DESC, 500, None)
    finally:
        source.search_cases = original  # type: ignore[method-assign]
        entry.breaker.record_success()
    source.search_cases = broken  # type: ignore[method-assign]
    try:
        by_agency_ctx = hub.federation.new_context()
        by_agency = await hub.federation.cases(by_agency_ctx, CaseFilter(), SortOrder.AGENCY_ASC, 500, None)
        counts = await hub.federation.count_cases(by_agency_ctx, CaseFilter())
    finally:
        source.search_cases = original  # type: ignore[method-assign]
        entry.breaker.record_success()
    others = {"simfoni", "polri", "bp2mi", "kemlu"}
    assert [(n.record.source, n.record.key) for n in by_agency.items] == expected(
        truth, SortOrder.AGENCY_ASC, others
    )
    # lpsk counted, but its page failed: the total leaves it out, as paging does.
    assert counts["lpsk"] == total_cases(truth, {"lpsk"})
    assert hub.federation.total(by_agency, counts) == 158 - total_cases(truth, {"lpsk"})
    assert [(n.record.source, n.record.key) for n in page.items] == expected(truth, SortOrder.DESC, others)
    assert page.has_next is False
    assert ctx.failures == [SourceFailure("lpsk", "SOURCE_UNAVAILABLE", "source 'lpsk' is unavailable")]
    assert ctx.usage["lpsk"].status is CallOutcome.ERROR


# --- relations ------------------------------------------------------------------------------------


async def test_relations_of_a_page_match_the_ground_truth(world: tuple[Hub, dict[str, Any]]) -> None:
    """Victims and perpetrators (loaded once, together, as the case's participants of either
    kind), services and stage history of every case, and from a participant back to the case."""
    hub, truth = world
    federation = hub.federation
    ctx = federation.new_context()
    page = await federation.cases(ctx, CaseFilter(), SortOrder.DESC, 200, None)
    include = {
        "victims": {"case": {}},
        "perpetrators": {},
        "services": {"recipient": {}},
        "stage_history": {},
    }
    await federation.expand(ctx, Entity.CASE, page.items, include)
    wanted_roles = {"VICTIM", "VICTIM_WITNESS", "SUSPECT", "DEFENDANT", "CONVICTED", "JUSTICE_COLLABORATOR"}
    participants: Counter[tuple[str, str]] = Counter()
    for source, data in truth["agencies"].items():
        for p in data["persons"]:
            if set(p["roles"]) & wanted_roles:
                participants[(source, p["case_key"])] += 1
    services = Counter((s, x["case_key"]) for s, d in truth["agencies"].items() for x in d["services"])
    stages = Counter((s, x["case_key"]) for s, d in truth["agencies"].items() for x in d["stage_events"])
    assert len(page.items) == 158
    for node in page.items:
        ref = (node.record.source, node.record.key)
        assert set(node.links) == {"participants", "services", "stage_history"}
        assert len(node.links["participants"]) == participants[ref], ref
        assert len(node.links["services"]) == services[ref], ref
        assert len(node.links["stage_history"]) == stages[ref], ref
        for person in node.links["participants"]:
            assert {r.name for r in person.record.roles} & wanted_roles
            assert person.record.case_key == node.record.key
            assert person.links["case"].record.key == node.record.key  # and back to the same case
        for service in node.links["services"]:
            recipient = service.links["recipient"]
            assert recipient is None or recipient.record.key == service.record.recipient_key
    assert sum(len(n.links["participants"]) for n in page.items) == sum(participants.values()) > 0
    assert sum(len(n.links["services"]) for n in page.items) == sum(services.values()) > 0
    assert sum(len(n.links["stage_history"]) for n in page.items) == sum(stages.values()) > 0
    # Victims alone: only the victim roles are loaded.
    ctx = federation.new_context()
    alone = [type(n)(n.record) for n in page.items]
    await federation.expand(ctx, Entity.CASE, alone, {"victims": {}})
    victims = Counter(
        (s, p["case_key"])
        for s, d in truth["agencies"].items()
        for p in d["persons"]
        if set(p["roles"]) & {"VICTIM", "VICTIM_WITNESS"}
    )
    assert all(len(n.links["participants"]) == victims[(n.record.source, n.record.key)] for n in alone)


def _links(nodes: list[Any]) -> dict[tuple[str, str], dict[str, list[Any]]]:
    return {
        (n.record.source, n.record.key): {name: [c.record for c in kids] for name, kids in n.links.items()}
        for n in nodes
    }


async def test_relations_read_together_are_those_read_relation_by_relation(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """A page's relations asked at once (``at_once``) are read per source in one statement
    (``children_together``): the same records, case by case and in the same order, as the
    loaders read relation by relation; with a role hidden, without personal fields asked, and
    with a source failing (reported once, its relations empty)."""
    hub, truth = world
    federation = hub.federation
    page = await federation.cases(federation.new_context(), CaseFilter(), SortOrder.DESC, 200, None)
    assert len(page.items) == 158
    include = {"victims": {}, "services": {}, "stage_history": {}}
    witnesses = {"VICTIM_WITNESS"}
    assert any(witnesses & set(p["roles"]) for p in truth["agencies"]["lpsk"]["persons"])

    def hidden(source: str) -> frozenset[PersonRole]:
        return frozenset({PersonRole.VICTIM_WITNESS}) if source == "lpsk" else frozenset()

    for personal, hide in ((True, False), (False, False), (True, True)):
        apart_ctx, ctx = federation.new_context(), federation.new_context()
        for c in (apart_ctx, ctx):
            c.reads_personal = personal
            if hide:
                c.hidden_roles = hidden
        apart = [type(n)(n.record) for n in page.items]
        await federation.expand(apart_ctx, Entity.CASE, apart, include)
        together = [type(n)(n.record) for n in page.items]
        await federation.expand(ctx, Entity.CASE, together, include, at_once=True)
        got = _links(together)
        if personal:
            assert got == _links(apart), (personal, hide)
        else:  # relation by relation the loaders read personal fields; together, none is read
            want = _links(apart)
            assert {k: {n: len(v) for n, v in d.items()} for k, d in got.items()} == {
                k: {n: len(v) for n, v in d.items()} for k, d in want.items()
            }
            victims = [v for d in got.values() for v in d["participants"]]
            assert victims and all(v.full_name is None and v.nik is None for v in victims)
        # One statement per source for its relations (each source holds two or more of them;
        # relation by relation polri sends four, the others two).
        if not hide:
            assert {name: u.statements for name, u in apart_ctx.usage.items()} == {
                name: 4 if name == "polri" else 2 for name in AGENCY
            }
            assert {name: u.statements for name, u in ctx.usage.items()} == {name: 1 for name in AGENCY}
        assert ctx.failures == []
        victims_of_lpsk = [v for (s, _), d in got.items() if s == "lpsk" for v in d["participants"]]
        assert victims_of_lpsk
        assert any(PersonRole.VICTIM_WITNESS in v.roles for v in victims_of_lpsk) is not hide

    # Two relations are enough to read together: simfoni holds victims and services (one
    # statement for both, two apart); polri holds victims only (its one relation, read as the
    # loaders read it).
    ctx = federation.new_context()
    pair = [type(n)(n.record) for n in page.items]
    await federation.expand(ctx, Entity.CASE, pair, {"victims": {}, "services": {}}, at_once=True)
    apart_ctx = federation.new_context()
    apart = [type(n)(n.record) for n in page.items]
    await federation.expand(apart_ctx, Entity.CASE, apart, {"victims": {}, "services": {}})
    assert (ctx.usage["simfoni"].statements, apart_ctx.usage["simfoni"].statements) == (1, 2)
    assert ctx.usage["polri"].statements == apart_ctx.usage["polri"].statements
    assert _links(pair) == _links(apart)

    # lpsk fails on its relations: reported once, its cases' relations empty, the others whole.
    entry = hub.registry.get("lpsk")
    assert entry is not None and entry.source is not None
    source = entry.source
    original = source.children_together

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise SourceError("lpsk", "source 'lpsk' is unavailable")

    apart = [type(n)(n.record) for n in page.items]
    await federation.expand(federation.new_context(), Entity.CASE, apart, include)
    source.children_together = refuse  # type: ignore[method-assign]
    try:
        ctx = federation.new_context()
        together = [type(n)(n.record) for n in page.items]
        await federation.expand(ctx, Entity.CASE, together, include, at_once=True)
    finally:
        source.children_together = original  # type: ignore[method-assign]
        entry.breaker.record_success()
    assert [f.source for f in ctx.failures] == ["lpsk"]
    got, want = _links(together), _links(apart)
    for ref, links in got.items():
        if ref[0] == "lpsk":
            assert all(kids == [] for kids in links.values()), ref
        else:
            assert links == want[ref], ref
    assert ctx.usage["lpsk"].statements == 0


async def test_a_missing_link_is_none_and_nothing_to_expand_is_a_no_op(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    hub, truth = world
    federation = hub.federation
    ctx = federation.new_context()
    services = [s for s in truth["agencies"]["simfoni"]["services"]]
    assert services
    found = await federation.get(ctx, GlobalId("simfoni", Entity.SERVICE, services[0]["key"]))
    assert found is not None
    found.record.case_key = None  # a service recorded without its case
    await federation.expand(ctx, Entity.SERVICE, [found], {"case": {}})
    assert found.links == {"case": None}
    await federation.expand(ctx, Entity.SERVICE, [], {"case": {}})
    await federation.expand(ctx, Entity.SERVICE, [found], {})
    assert found.links == {"case": None}


# --- distinct persons, row disclosure, unavailable sources ----------------------------------------


async def test_victims_without_links_count_each_record_once(world: tuple[Hub, dict[str, Any]]) -> None:
    """No linkage run yet: every victim record is its own person (and counted as unlinked)."""
    hub, truth = world
    from hub.linkage.index import LinkageIndex

    index = LinkageIndex(hub.store.engine)
    records = {
        AGENCY[s]: sum(1 for p in d["persons"] if set(p["roles"]) & {"VICTIM", "VICTIM_WITNESS"})
        for s, d in truth["agencies"].items()
    }
    ctx = hub.federation.new_context()
    result = await hub.federation.statistics(
        ctx, StatisticsRequest(Measure.VICTIMS, (Dimension.AGENCY,)), index=index, disclose_rows=False
    )
    assert result.cells == {(agency,): n for agency, n in records.items()}
    assert result.total == sum(records.values()) == result.unlinked
    assert result.double_counting is not None
    assert {u.rows for u in ctx.usage.values()} == {0}  # the rows read would be an exact count
    cases = await hub.federation.statistics(
        hub.federation.new_context(),
        StatisticsRequest(Measure.CASES, (Dimension.AGENCY,)),
        index=index,
        double_counting=True,
    )
    assert cases.total == 158 and cases.unlinked == sum(records.values())
    assert cases.double_counting is not None


async def test_rows_read_are_reported_unless_withheld(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = world
    request = StatisticsRequest(Measure.CASES, (Dimension.YEAR,))
    shown = hub.federation.new_context()
    await hub.federation.statistics(shown, request)
    assert all(u.rows > 0 for u in shown.usage.values())
    hidden = hub.federation.new_context()
    await hub.federation.statistics(hidden, request, disclose_rows=False)
    assert {u.rows for u in hidden.usage.values()} == {0}
    assert all(u.statements > 0 for u in hidden.usage.values())


async def test_an_open_circuit_answers_without_asking_the_source(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = world
    entry = hub.registry.get("bp2mi")
    assert entry is not None
    asked: list[str] = []

    async def work(source: Any) -> str:
        asked.append(source.name)
        return "answer"

    def errors(code: str) -> float:
        labels = {"source": "bp2mi", "code": code}
        return hub.metrics.registry.get_sample_value("tppo_hub_source_errors_total", labels) or 0.0

    while entry.breaker.allow() and entry.breaker.state.name != "OPEN":
        entry.breaker.record_failure()
    try:
        before = errors("SOURCE_UNAVAILABLE")
        ctx = hub.federation.new_context()
        assert await hub.federation.call(ctx, entry, work, "default") == "default"
        assert asked == []
        assert errors("SOURCE_UNAVAILABLE") == before + 1  # counted in /metrics, by source and code
        assert ctx.failures == [
            SourceFailure("bp2mi", "SOURCE_UNAVAILABLE", "source 'bp2mi' is unavailable (circuit open)")
        ]
        assert ctx.usage["bp2mi"].status is CallOutcome.ERROR and ctx.usage["bp2mi"].calls == 0
    finally:
        entry.breaker.record_success()
    ctx = hub.federation.new_context()
    assert await hub.federation.call(ctx, entry, work, "default") == "answer" and asked == ["bp2mi"]


async def test_hidden_roles_are_sent_to_the_source_they_concern(world: tuple[Hub, dict[str, Any]]) -> None:
    """The request's row rule travels with the filter to each source: LPSK's protected
    witnesses no longer make a case match a victim filter there, elsewhere nothing changes."""
    from tests.test_filters import expected_cases, truth_victims

    hub, truth = world
    protected = frozenset(
        r for r in PersonRole if r.name in {"WITNESS", "VICTIM_WITNESS", "REPORTER", "JUSTICE_COLLABORATOR"}
    )
    ctx = hub.federation.new_context()
    ctx.hidden_roles = lambda source: protected if source == "lpsk" else frozenset()
    female = CaseFilter(victim_sex=(Sex.FEMALE,))
    page = await hub.federation.cases(ctx, female, SortOrder.DESC, 500, None)
    want = expected_cases(truth, truth_victims(truth), {"victimSex": ["FEMALE"]})
    assert {(n.record.source, n.record.key) for n in page.items} == want
    assert hub.federation.total(page, await hub.federation.count_cases(ctx, female)) == len(want)
    everyone = await hub.federation.cases(hub.federation.new_context(), female, SortOrder.DESC, 500, None)
    assert len(everyone.items) > len(want)  # the hidden witnesses did match before


# --- cell keys, hidden roles and failures in statistics -------------------------------------------


class _Keying:
    """A keying hook with fixed salts and a fallback written out here (not the hub's secret)."""

    def salt(self, source: str) -> str:
        return f"salt-of-{source}"

    def person_key(self, person: Any) -> int:
        return record_key("persons/", repr(person))

    def fallback_key(self, source: str, cell: Any, count: int) -> int:
        return record_key("fallback/", f"{source}/{cell!r}/{count}")


def _case_keys(hub: Hub, truth: dict[str, Any], source: str, year: str | None = None) -> int:
    """The sum of the record keys of a source's cases (of ``year``), from the ground truth."""
    entry = hub.registry.get(source)
    assert entry is not None and entry.source is not None
    part = entry.source.compiled.case_part().part.name
    salt = f"salt-of-{source}/{part}/"
    return sum(
        record_key(salt, c["key"])
        for c in truth["agencies"][source]["cases"]
        if year is None or (c["reported_at"] or "").startswith(year)
    )


async def test_keyed_statistics_sum_each_sources_record_keys(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    request = StatisticsRequest(Measure.CASES, (Dimension.AGENCY,))
    result = await hub.federation.statistics(hub.federation.new_context(), request, keying=_Keying())
    assert result.cells == {(AGENCY[s],): len(d["cases"]) for s, d in truth["agencies"].items()}
    assert result.keys == {(AGENCY[s],): _case_keys(hub, truth, s) for s in truth["agencies"]}
    assert result.total == 158
    assert result.total_key == sum(_case_keys(hub, truth, s) for s in truth["agencies"])


async def test_keyed_statistics_of_a_source_without_matching_cases(world: tuple[Hub, dict[str, Any]]) -> None:
    """A year in which one source has no case: that source answers no cell and no total row."""
    hub, truth = world
    years = {
        s: Counter((c["reported_at"] or "")[:4] for c in d["cases"]) for s, d in truth["agencies"].items()
    }
    year = next(y for y in ("2024", "2020") if any(not n[y] for n in years.values()))
    empty = {s for s, n in years.items() if not n[year]}
    assert empty and len(empty) < 5
    f = CaseFilter(reported_from=date(int(year), 1, 1), reported_to=date(int(year), 12, 31))
    request = StatisticsRequest(Measure.CASES, (Dimension.AGENCY,), f)
    keyed = await hub.federation.statistics(hub.federation.new_context(), request, keying=_Keying())
    plain = await hub.federation.statistics(hub.federation.new_context(), request)
    want = {(AGENCY[s],): n[year] for s, n in years.items() if n[year]}
    assert keyed.cells == plain.cells == want
    assert keyed.total == plain.total == sum(want.values())
    assert keyed.total_key == sum(_case_keys(hub, truth, s, year) for s in truth["agencies"])


async def test_a_source_that_cannot_key_its_records_gets_fallback_keys(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """kemlu answers no keyed grouping (but does key its total): all its cells, the total too,
    are then keyed by count; the other sources' keys are their records' keys."""
    hub, truth = world
    from hub.engine.federation import _TOTAL

    entry = hub.registry.get("kemlu")
    assert entry is not None and entry.source is not None
    source = entry.source
    original = source.aggregate_keyed

    async def grouped_unkeyed(request: StatisticsRequest, salt: str) -> Any:
        return None if request.dimensions else await original(request, salt)

    async def not_counted(request: StatisticsRequest, salt: str | None) -> None:
        return None  # such a source answers the cells and the total in two calls

    source.aggregate_keyed = grouped_unkeyed  # type: ignore[method-assign]
    source.aggregate_counted = not_counted  # type: ignore[method-assign]
    ctx = hub.federation.new_context()
    try:
        request = StatisticsRequest(Measure.CASES, (Dimension.AGENCY,))
        result = await hub.federation.statistics(ctx, request, keying=_Keying())
    finally:
        source.aggregate_keyed = original  # type: ignore[method-assign]
        del source.aggregate_counted
    keying = _Keying()
    n = len(truth["agencies"]["kemlu"]["cases"])
    assert ctx.failures == []
    assert result.cells == {(AGENCY[s],): len(d["cases"]) for s, d in truth["agencies"].items()}
    assert result.keys == {
        (AGENCY[s],): (
            keying.fallback_key("kemlu", ("KEMLU",), n) if s == "kemlu" else _case_keys(hub, truth, s)
        )
        for s in truth["agencies"]
    }
    others = sum(_case_keys(hub, truth, s) for s in truth["agencies"] if s != "kemlu")
    assert result.total_key == others + keying.fallback_key("kemlu", _TOTAL, n)


async def test_statistics_leave_out_the_records_hidden_at_a_source(world: tuple[Hub, dict[str, Any]]) -> None:
    """Victim records and distinct victims under LPSK's row rule: its protected witnesses are
    not counted there (and nowhere else is anything hidden)."""
    from hub.linkage.index import LinkageIndex
    from tests.test_filters import PROTECTED_ROLES, truth_victims

    hub, truth = world
    protected = frozenset(r for r in PersonRole if r.name in PROTECTED_ROLES)
    want = Counter(AGENCY[source] for (source, _case), people in truth_victims(truth).items() for _ in people)
    assert want["LPSK"] < sum(
        1 for p in truth["agencies"]["lpsk"]["persons"] if set(p["roles"]) & {"VICTIM", "VICTIM_WITNESS"}
    )
    for measure, index in ((Measure.VICTIM_RECORDS, None), (Measure.VICTIMS, LinkageIndex(hub.store.engine))):
        ctx = hub.federation.new_context()
        ctx.hidden_roles = lambda source: protected if source == "lpsk" else frozenset()
        result = await hub.federation.statistics(
            ctx, StatisticsRequest(measure, (Dimension.AGENCY,)), index=index
        )
        assert result.cells == {(agency,): n for agency, n in want.items()}, measure
        assert result.total == sum(want.values())


async def test_distinct_victims_without_a_failing_source(world: tuple[Hub, dict[str, Any]]) -> None:
    from hub.linkage.index import LinkageIndex

    hub, truth = world
    entry = hub.registry.get("lpsk")
    assert entry is not None and entry.source is not None
    source = entry.source

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise SourceError("source 'lpsk' is unavailable")

    original = source.victim_records
    source.victim_records = broken  # type: ignore[method-assign]
    ctx = hub.federation.new_context()
    try:
        result = await hub.federation.statistics(
            ctx, StatisticsRequest(Measure.VICTIMS, (Dimension.AGENCY,)), index=LinkageIndex(hub.store.engine)
        )
    finally:
        source.victim_records = original  # type: ignore[method-assign]
        entry.breaker.record_success()
    want = {
        (AGENCY[s],): sum(1 for p in d["persons"] if set(p["roles"]) & {"VICTIM", "VICTIM_WITNESS"})
        for s, d in truth["agencies"].items()
        if s != "lpsk"
    }
    assert result.cells == want and result.total == sum(want.values())
    assert ctx.failures == [SourceFailure("lpsk", "SOURCE_UNAVAILABLE", "source 'lpsk' is unavailable")]


async def test_the_agency_of_a_source(world: tuple[Hub, dict[str, Any]]) -> None:
    """Linkage counts double counting between agencies: a source's agency code, or its own
    name for a source the registry does not know."""
    hub, _ = world
    assert {s: hub.federation._agency_code(s) for s in AGENCY} == AGENCY
    assert hub.federation._agency_code("nowhere") == "nowhere"


async def test_relations_loaded_under_one_name_and_three_levels_deep(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """``participants`` (every role) with ``victims`` (some roles) is one load of every role,
    in either order; a service's recipient's case is the service's own case."""
    hub, truth = world
    federation = hub.federation
    page = await federation.cases(federation.new_context(), CaseFilter(), SortOrder.DESC, 200, None)
    persons = Counter((s, p["case_key"]) for s, d in truth["agencies"].items() for p in d["persons"])
    for include in ({"participants": {}, "victims": {}}, {"victims": {}, "participants": {}}):
        nodes = [type(n)(n.record) for n in page.items]
        await federation.expand(federation.new_context(), Entity.CASE, nodes, include)
        assert {(n.record.source, n.record.key): len(n.links["participants"]) for n in nodes} == {
            (n.record.source, n.record.key): persons[(n.record.source, n.record.key)] for n in nodes
        }
    nodes = [type(n)(n.record) for n in page.items]
    await federation.expand(
        federation.new_context(), Entity.CASE, nodes, {"services": {"recipient": {"case": {}}}}
    )
    recipients = {
        (s, x["key"]): x["recipient_key"] for s, d in truth["agencies"].items() for x in d["services"]
    }
    reached = 0
    for node in nodes:
        for service in node.links["services"]:
            recipient = service.links["recipient"]
            want = recipients[(service.record.source, service.record.key)]
            # A source with several person parts prefixes the part (korban/88).
            got = recipient.record.key.rsplit("/", 1)[-1] if recipient is not None else None
            assert got == want, (service.record.source, service.record.key)
            if recipient is not None:
                assert recipient.links["case"].record.key == node.record.key
                reached += 1
    assert reached == sum(1 for key in recipients.values() if key is not None) > 0


async def test_statistics_with_no_source_to_ask(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = world
    request = StatisticsRequest(Measure.CASES, (Dimension.AGENCY,), CaseFilter(sources=("nowhere",)))
    plain = await hub.federation.statistics(hub.federation.new_context(), request)
    assert (plain.cells, plain.total, plain.keys, plain.total_key) == ({}, 0, None, None)
    keyed = await hub.federation.statistics(hub.federation.new_context(), request, keying=_Keying())
    assert (keyed.cells, keyed.total, keyed.keys, keyed.total_key) == ({}, 0, {}, 0)


async def test_a_failing_source_is_left_out_of_grouped_statistics(world: tuple[Hub, dict[str, Any]]) -> None:
    hub, truth = world
    entry = hub.registry.get("lpsk")
    assert entry is not None and entry.source is not None
    source = entry.source

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise SourceError("source 'lpsk' is unavailable")

    original = source.aggregate
    source.aggregate = broken  # type: ignore[method-assign]
    source.aggregate_counted = broken  # type: ignore[method-assign]
    ctx = hub.federation.new_context()
    try:
        result = await hub.federation.statistics(ctx, StatisticsRequest(Measure.CASES, (Dimension.AGENCY,)))
    finally:
        source.aggregate = original  # type: ignore[method-assign]
        del source.aggregate_counted
        entry.breaker.record_success()
    assert result.cells == {
        (AGENCY[s],): len(d["cases"]) for s, d in truth["agencies"].items() if s != "lpsk"
    }
    assert result.total == 158 - total_cases(truth, {"lpsk"})
    assert ctx.failures == [SourceFailure("lpsk", "SOURCE_UNAVAILABLE", "source 'lpsk' is unavailable")]


async def test_keyed_distinct_victims_and_double_counting(world: tuple[Hub, dict[str, Any]]) -> None:
    """Without a linkage run each victim record is its own person, keyed by (source, key); the
    records are listed by each source itself. Rows read are shown unless withheld."""
    from hub.linkage.index import LinkageIndex

    hub, truth = world
    keying = _Keying()
    index = LinkageIndex(hub.store.engine)
    request = StatisticsRequest(Measure.VICTIMS, (Dimension.AGENCY,))
    persons: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for name in AGENCY:
        entry = hub.registry.get(name)
        assert entry is not None and entry.source is not None
        for key, _cells in await entry.source.victim_records(request):
            persons.setdefault((AGENCY[name],), []).append((name, key))
    ctx = hub.federation.new_context()
    result = await hub.federation.statistics(ctx, request, index=index, keying=keying)
    assert result.cells == {cell: len(people) for cell, people in persons.items()}
    assert result.keys == {
        cell: sum(keying.person_key(p) for p in people) for cell, people in persons.items()
    }
    assert result.total_key == sum(keying.person_key(p) for people in persons.values() for p in people)
    assert all(u.rows > 0 for u in ctx.usage.values())
    ctx = hub.federation.new_context()
    cases = StatisticsRequest(Measure.CASES, (Dimension.AGENCY,))
    both = await hub.federation.statistics(ctx, cases, index=index, double_counting=True, keying=keying)
    assert both.keys == {(AGENCY[s],): _case_keys(hub, truth, s) for s in truth["agencies"]}
    assert both.total_key == sum(_case_keys(hub, truth, s) for s in truth["agencies"])
    assert all(u.rows > 0 for u in ctx.usage.values())


async def test_each_source_is_asked_for_one_case_more_than_the_page(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """One more than ``first`` says whether a next page exists; fewer would cut a page short
    (a source holding more than the default of 50), more would read rows for nothing."""
    hub, _ = world
    entry = hub.registry.get("polri")
    assert entry is not None and entry.source is not None
    source = entry.source
    original = source.search_cases
    limits: list[int] = []

    async def recording(search: Any) -> Any:
        limits.append(search.limit)
        return await original(search)

    source.search_cases = recording  # type: ignore[method-assign]
    try:
        for order in (SortOrder.DESC, SortOrder.AGENCY_ASC):
            for first in (1, 7, 60):
                await hub.federation.cases(hub.federation.new_context(), CaseFilter(), order, first, None)
    finally:
        source.search_cases = original  # type: ignore[method-assign]
    assert limits == [2, 8, 61, 2, 8, 61]


async def test_a_source_without_a_usable_configuration(world: tuple[Hub, dict[str, Any]]) -> None:
    """A source whose mapping cannot be read has no adapter: every query reports it unavailable
    and goes on with the others, in every order."""
    hub, truth = world
    entry = hub.registry.get("kemlu")
    assert entry is not None
    source, entry.source = entry.source, None
    try:
        ctx = hub.federation.new_context()

        async def work(_source: Any) -> str:
            return "answer"

        assert await hub.federation.call(ctx, entry, work, "default") == "default"
        assert ctx.failures == [
            SourceFailure("kemlu", "SOURCE_UNAVAILABLE", "source 'kemlu' is not configured correctly")
        ]
        assert ctx.usage["kemlu"].status is CallOutcome.ERROR
        others = {"simfoni", "polri", "lpsk", "bp2mi"}
        for order in (SortOrder.AGENCY_ASC, SortOrder.AGENCY_DESC, SortOrder.DESC):
            ctx = hub.federation.new_context()
            page = await hub.federation.cases(ctx, CaseFilter(), order, 500, None)
            assert [(n.record.source, n.record.key) for n in page.items] == expected(truth, order, others)
            counts = await hub.federation.count_cases(ctx, CaseFilter())
            assert hub.federation.total(page, counts) == total_cases(truth, others)
            assert [f.source for f in ctx.failures] == ["kemlu"]
    finally:
        entry.source = source
        entry.breaker.record_success()


async def test_a_source_that_is_not_open_is_opened_on_use(world: tuple[Hub, dict[str, Any]]) -> None:
    """Down at start-up: the first call opens it (and answers); while it cannot be opened the
    call answers the default, reports it and counts a failure for its breaker."""
    hub, truth = world
    entry = hub.registry.get("bp2mi")
    assert entry is not None and entry.source is not None
    source = entry.source
    original = source.open
    opened: list[str] = []

    async def down() -> None:
        opened.append("failed")
        raise SourceError("connection refused")

    async def up() -> None:
        opened.append("opened")

    async def work(s: Any) -> int:
        return await s.count_cases(CaseFilter())

    try:
        entry.opened = False
        source.open = down  # type: ignore[method-assign]
        ctx = hub.federation.new_context()
        failures_before = entry.breaker.failures
        assert await hub.federation.call(ctx, entry, work, -1) == -1
        assert ctx.failures == [SourceFailure("bp2mi", "SOURCE_UNAVAILABLE", "source 'bp2mi' is unavailable")]
        assert entry.breaker.failures == failures_before + 1 and entry.opened is False
        source.open = up  # type: ignore[method-assign]
        ctx = hub.federation.new_context()
        assert await hub.federation.call(ctx, entry, work, -1) == total_cases(truth, {"bp2mi"})
        assert ctx.failures == [] and entry.opened is True
        assert opened == ["failed", "opened"]
    finally:
        source.open = original  # type: ignore[method-assign]
        entry.opened = True
        entry.breaker.record_success()


async def test_a_busy_source_times_out_in_the_queue(world: tuple[Hub, dict[str, Any]]) -> None:
    """Every slot taken: the call waits at most the source's timeout for one, then answers the
    default as a timeout of the hub's own congestion (not counted against the source)."""
    import asyncio

    hub, _ = world
    entry = hub.registry.get("lpsk")
    assert entry is not None
    held = 0
    while not entry.slots.locked():
        await entry.slots.acquire()
        held += 1
    timeout, entry.timeout_seconds = entry.timeout_seconds, 0.05
    loop = asyncio.get_running_loop()
    # A slot comes free long after the timeout (so a call that never times out still ends).
    freed = loop.call_later(5.0, entry.slots.release)
    asked: list[str] = []

    async def work(s: Any) -> str:
        asked.append(s.name)
        return "answer"

    def errors() -> float:
        labels = {"source": "lpsk", "code": "SOURCE_TIMEOUT"}
        return hub.metrics.registry.get_sample_value("tppo_hub_source_errors_total", labels) or 0.0

    before = errors()
    failures = entry.breaker.failures
    try:
        ctx = hub.federation.new_context()
        assert await hub.federation.call(ctx, entry, work, "default") == "default"
    finally:
        freed.cancel()
        entry.timeout_seconds = timeout
        for _ in range(held):
            entry.slots.release()
    assert asked == []
    assert ctx.failures == [SourceFailure("lpsk", "SOURCE_TIMEOUT", "source 'lpsk' is busy (no free slot)")]
    usage = ctx.usage["lpsk"]
    assert (usage.status, usage.calls, usage.statements, usage.rows) == (CallOutcome.TIMEOUT, 1, 0, 0)
    assert errors() == before + 1
    assert entry.breaker.failures == failures


# --- health, breaker and metrics of each call -----------------------------------------------------


def _sample(hub: Hub, name: str, **labels: str) -> float:
    return hub.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_each_call_is_counted_in_the_metrics(world: tuple[Hub, dict[str, Any]]) -> None:
    """Calls by outcome, statements, latency (the same elapsed time the request reports) and
    failures by code, per source."""
    hub, _ = world
    entry = hub.registry.get("simfoni")
    assert entry is not None

    async def count(source: Any) -> int:
        return await source.count_cases(CaseFilter())

    before = {
        "ok": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="ok"),
        "error": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="error"),
        "timeout": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="timeout"),
        "statements": _sample(hub, "tppo_hub_source_statements_total", source="simfoni"),
        "seconds": _sample(hub, "tppo_hub_source_seconds_sum", source="simfoni"),
        "latencies": _sample(hub, "tppo_hub_source_seconds_count", source="simfoni"),
        "data": _sample(hub, "tppo_hub_source_errors_total", source="simfoni", code="SOURCE_DATA_ERROR"),
        "slow": _sample(hub, "tppo_hub_source_errors_total", source="simfoni", code="SOURCE_TIMEOUT"),
    }
    ctx = hub.federation.new_context()
    assert await hub.federation.call(ctx, entry, count, -1) == 37
    usage = ctx.usage["simfoni"]
    # Its latency in seconds is the milliseconds the request reports for it.
    first_seconds = _sample(hub, "tppo_hub_source_seconds_sum", source="simfoni") - before["seconds"]
    assert first_seconds == pytest.approx(usage.elapsed_ms / 1000, rel=1e-9)

    async def bad_data(source: Any) -> int:
        raise SourceDataError("unparsable value")

    async def slow(source: Any) -> int:
        raise SourceTimeout("too slow")

    try:
        await hub.federation.call(hub.federation.new_context(), entry, bad_data, -1)
        await hub.federation.call(hub.federation.new_context(), entry, slow, -1)
    finally:
        entry.breaker.record_success()
    after = {
        "ok": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="ok"),
        "error": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="error"),
        "timeout": _sample(hub, "tppo_hub_source_calls_total", source="simfoni", outcome="timeout"),
        "statements": _sample(hub, "tppo_hub_source_statements_total", source="simfoni"),
        "seconds": _sample(hub, "tppo_hub_source_seconds_sum", source="simfoni"),
        "latencies": _sample(hub, "tppo_hub_source_seconds_count", source="simfoni"),
        "data": _sample(hub, "tppo_hub_source_errors_total", source="simfoni", code="SOURCE_DATA_ERROR"),
        "slow": _sample(hub, "tppo_hub_source_errors_total", source="simfoni", code="SOURCE_TIMEOUT"),
    }
    assert usage.statements >= 1
    assert {k: after[k] - before[k] for k in ("ok", "error", "timeout", "latencies", "data", "slow")} == {
        "ok": 1,
        "error": 1,
        "timeout": 1,
        "latencies": 3,
        "data": 1,
        "slow": 1,
    }
    assert after["statements"] - before["statements"] == usage.statements


async def test_a_call_keeps_the_source_state_and_breaker_up_to_date(
    world: tuple[Hub, dict[str, Any]],
) -> None:
    """A success marks the source up; errors count for its breaker, which opens at its
    threshold and marks the source down; a timeout counts only when a probe fails too."""
    import asyncio

    hub, _ = world
    entry = hub.registry.get("kemlu")
    assert entry is not None and entry.source is not None
    source = entry.source

    async def ok(s: Any) -> str:
        return "answer"

    async def broken(s: Any) -> str:
        raise SourceError("database is down")

    async def slow(s: Any) -> str:
        raise SourceTimeout("too slow")

    original_health = source.health
    try:
        entry.state, entry.detail, entry.last_checked_at = entry.state.__class__("down"), "unavailable", None
        assert await hub.federation.call(hub.federation.new_context(), entry, ok, "default") == "answer"
        assert (entry.state.value, entry.detail, entry.breaker.failures) == ("up", "", 0)
        assert entry.last_checked_at is not None and entry.last_checked_at.utcoffset() is not None
        # A timeout of a healthy source is the query's cost: no failure, still up.
        entry.detail = "stale"
        await hub.federation.call(hub.federation.new_context(), entry, slow, "default")
        assert (entry.state.value, entry.detail, entry.breaker.failures) == ("up", "", 0)

        # A probe slower than the source's own timeout fails it: then the timeout counts.
        async def slow_health() -> Any:
            await asyncio.sleep(1.0)
            return await original_health()

        source.health = slow_health  # type: ignore[method-assign]
        timeout, entry.timeout_seconds = entry.timeout_seconds, 0.05
        try:
            await hub.federation.call(hub.federation.new_context(), entry, slow, "default")
        finally:
            entry.timeout_seconds = timeout
            source.health = original_health  # type: ignore[method-assign]
        assert entry.breaker.failures == 1
        entry.breaker.record_success()
        # Errors count; at the threshold the circuit opens and the source is down.
        for n in range(1, entry.breaker.threshold + 1):
            await hub.federation.call(hub.federation.new_context(), entry, broken, "default")
            assert entry.breaker.failures == n
            if n < entry.breaker.threshold:
                assert entry.breaker.state.name == "CLOSED" and entry.state.value == "up"
        assert entry.breaker.state.name == "OPEN"
        assert (entry.state.value, entry.detail) == ("down", "failing (circuit open)")
    finally:
        source.health = original_health  # type: ignore[method-assign]
        entry.breaker.record_success()
        entry.state, entry.detail = entry.state.__class__("up"), ""


async def test_an_adapter_bug_is_logged_by_source_and_type_only(
    world: tuple[Hub, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    hub, _ = world
    entry = hub.registry.get("kemlu")
    assert entry is not None

    async def bug(source: Any) -> str:
        raise KeyError("3374000000000001")

    caplog.set_level("ERROR", logger="tppo_hub.federation")
    try:
        await hub.federation.call(hub.federation.new_context(), entry, bug, "default")
    finally:
        entry.breaker.record_success()
    assert [r.getMessage() for r in caplog.records if r.name == "tppo_hub.federation"] == [
        "source kemlu failed with KeyError"
    ]


async def test_rows_of_double_counting_are_both_reads(world: tuple[Hub, dict[str, Any]]) -> None:
    """Counting with double counting reads the victim records and the groups: the rows it
    reports per source are the sum of the two reads made alone."""
    from hub.linkage.index import LinkageIndex

    hub, _ = world
    index = LinkageIndex(hub.store.engine)
    cases = StatisticsRequest(Measure.CASES, (Dimension.YEAR,))
    alone_groups = hub.federation.new_context()
    await hub.federation.statistics(alone_groups, cases)
    alone_victims = hub.federation.new_context()
    await hub.federation.statistics(
        alone_victims, StatisticsRequest(Measure.VICTIMS, (Dimension.YEAR,)), index=index
    )
    both = hub.federation.new_context()
    await hub.federation.statistics(both, cases, index=index, double_counting=True)
    assert {s: u.rows for s, u in both.usage.items()} == {
        s: alone_groups.usage[s].rows + alone_victims.usage[s].rows for s in AGENCY
    }
    assert all(u.rows > 0 for u in alone_groups.usage.values())


async def test_a_source_slower_than_its_timeout_is_cut_off(world: tuple[Hub, dict[str, Any]]) -> None:
    import asyncio

    hub, _ = world
    entry = hub.registry.get("kemlu")
    assert entry is not None
    finished: list[str] = []

    async def slow(source: Any) -> str:
        await asyncio.sleep(5.0)
        finished.append(source.name)
        return "answer"

    timeout, entry.timeout_seconds = entry.timeout_seconds, 0.05
    ctx = hub.federation.new_context()
    try:
        assert await hub.federation.call(ctx, entry, slow, "default") == "default"
    finally:
        entry.timeout_seconds = timeout
        entry.breaker.record_success()
    assert finished == []
    assert ctx.failures == [SourceFailure("kemlu", "SOURCE_TIMEOUT", "source 'kemlu' did not answer in time")]
    assert ctx.usage["kemlu"].status is CallOutcome.TIMEOUT


async def test_double_counting_withholds_every_rows_read(world: tuple[Hub, dict[str, Any]]) -> None:
    from hub.linkage.index import LinkageIndex

    hub, _ = world
    ctx = hub.federation.new_context()
    await hub.federation.statistics(
        ctx,
        StatisticsRequest(Measure.CASES, (Dimension.YEAR,)),
        index=LinkageIndex(hub.store.engine),
        double_counting=True,
        disclose_rows=False,
    )
    assert {u.rows for u in ctx.usage.values()} == {0}
    assert all(u.statements > 0 for u in ctx.usage.values())
