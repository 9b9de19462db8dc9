"""A page's total reused while PostgreSQL proves nothing has committed (adapters/countreuse.py).

What must hold: every total a page reports equals the count a fresh statement gives at that
moment (and, unfiltered, the generator's cases plus the rows this test committed), whatever
commits, rolls back or is still running between two pages, in this database or another one
of the server. And the reuse must really happen: a total planted in the source's memory is
answered only while the database's snapshot still carries its mark.

The demo agencies are generated into a database of their own here, because these tests write
to the agencies' tables (as the agencies' own applications would).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Text, func

from adapters import countreuse, filters
from adapters.sql import MappedSQLSource
from hub.demo.generate import generate
from hub.engine.config import load_config
from hub.server.app import Hub
from hub.vocabulary.model import CaseFilter, CaseSearch, ExploitationType
from tests._pg import EmbeddedPostgres
from tests.property_settings import DATABASE_PROPERTIES
from tests.statements import recorded

SEED = 11
#: The agencies read here: simfoni pages by the walk of its text dates, kemlu by its own order.
AGENCIES = {"simfoni": ("kasus", "id_kasus"), "kemlu": ("cases", "case_id")}
FILTERS = (
    CaseFilter(),
    CaseFilter(exploitation_types=(ExploitationType.FORCED_LABOUR,)),
    CaseFilter(regions=("33",)),
)


class World:
    """The hub over the demo agencies; on their database a writer that commits each statement
    and one whose transactions stay open across pages; a connection to another database."""

    def __init__(self, hub: Hub, truth: dict[str, Any], writer: Any, pending: Any, elsewhere: Any) -> None:
        self.hub, self.truth, self.writer, self.elsewhere = hub, truth, writer, elsewhere
        self.pending = pending
        self.copies: dict[str, list[Any]] = {name: [] for name in AGENCIES}
        #: Copies made so far (each copy's unique values are told apart by it).
        self.made = 0

    def source(self, name: str) -> MappedSQLSource:
        source = self.hub.registry.get(name).source
        assert isinstance(source, MappedSQLSource)
        return source

    def cases(self, name: str) -> int:
        """The source's cases by the generator, plus the copies this test has committed."""
        return len(self.truth["agencies"][name]["cases"]) + len(self.copies[name])

    async def fresh_count(self, name: str, filter: CaseFilter) -> int:
        """The count of a statement of its own that reuses nothing (the source's plain COUNT)."""
        source = self.source(name)
        part = source.compiled.case_part()
        conditions = filters.case_conditions(source.compiled, part, filter)
        return int((await source.fetch(source._counting(part, conditions)))[0][0])

    async def total(self, name: str, filter: CaseFilter = FILTERS[0]) -> int | None:
        read = await self.source(name).search_cases_with(CaseSearch(filter=filter, limit=3, count=True), [])
        return read.total

    async def copy_case(self, name: str, connection: Any = None) -> Any:
        """A copy of the source's first case under a new key, its other unique columns made
        unique too (committed unless ``connection`` is in a transaction): the agency
        registering one more case."""
        table, key = AGENCIES[name]
        conn = connection or self.writer
        columns = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            name,
            table,
        )
        unique = {
            r[0]
            for r in await conn.fetch(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisunique",
                f"{name}.{table}",
            )
        }
        numeric = {r["column_name"] for r in columns if r["data_type"] in ("integer", "bigint")}
        self.made += 1
        fresh = await conn.fetchval(f"SELECT max({key}) FROM {name}.{table}")
        # Told apart by ``made`` too: a copy in a transaction still open is not in ``max``.
        fresh = fresh + 1000 + self.made if key in numeric else f"{fresh}-{self.made}"

        def value(column: str) -> str:
            if column == key:
                return "$1"
            if column not in unique:
                return column
            return f"{column} + {10_000 + self.made}" if column in numeric else f"{column} || '-{self.made}'"

        names = ", ".join(r["column_name"] for r in columns)
        values = ", ".join(value(r["column_name"]) for r in columns)
        first = f"(SELECT min({key}) FROM {name}.{table})"
        await conn.execute(
            f"INSERT INTO {name}.{table} ({names}) SELECT {values} FROM {name}.{table} WHERE {key} = {first}",
            fresh,
        )
        return fresh

    async def drop_case(self, name: str, key: Any) -> None:
        table, column = AGENCIES[name]
        await self.writer.execute(f"DELETE FROM {name}.{table} WHERE {column} = $1", key)

    async def write_elsewhere(self) -> None:
        await self.elsewhere.execute("INSERT INTO unrelated (x) VALUES (1)")


@pytest.fixture(scope="module")
async def world(
    postgres_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = postgres_server.create_database("count_reuse", replace=True)
    other = postgres_server.create_database("count_reuse_elsewhere", replace=True)
    out: Path = tmp_path_factory.mktemp("count-reuse")
    generate(out, seed=SEED, scale=0.2, postgres_url=url)
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    hub = Hub(load_config(out / "hub.toml"))
    await hub.start()
    writer, pending = await asyncpg.connect(url), await asyncpg.connect(url)
    elsewhere = await asyncpg.connect(other)
    await elsewhere.execute("CREATE TABLE unrelated (x integer)")
    try:
        yield World(hub, truth, writer, pending, elsewhere)
    finally:
        for connection in (writer, pending, elsewhere):
            await connection.close()
        await hub.stop()


def plant(source: MappedSQLSource, filter: CaseFilter, total: int) -> None:
    """Replace the source's remembered total of ``filter`` by ``total``, keeping its mark."""
    memo = source._counts
    assert memo is not None
    mark = memo.parameters(filter)[countreuse.SEEN_MARK]
    assert mark, "nothing was learnt for this filter"
    memo.total(filter, (total, mark))


# --- the memory alone -------------------------------------------------------------------------


def test_a_memo_learns_only_rows_with_a_mark_and_keeps_the_newest_few() -> None:
    memo = countreuse.CountMemo(size=2)
    assert memo.parameters("a") == {countreuse.SEEN_MARK: "", countreuse.SEEN_TOTAL: 0}
    assert memo.total("a", (5, None)) == 5 and len(memo) == 0
    assert memo.total("a", (5, "7:1", False)) == 5
    assert memo.parameters("a") == {countreuse.SEEN_MARK: "7:1", countreuse.SEEN_TOTAL: 5}
    assert memo.total("a", (5, "7:1", True)) == 5
    assert (memo.reused, memo.counted) == (1, 2)
    memo.total("b", (6, "7:1"))
    memo.parameters("a")  # used: "b" is now the oldest
    memo.total("c", (8, "9:1"))
    assert len(memo) == 2 and memo.parameters("b")[countreuse.SEEN_MARK] == ""
    assert memo.parameters("a")[countreuse.SEEN_TOTAL] == 5


# --- on PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", AGENCIES)
async def test_a_total_is_reused_only_while_nothing_has_committed(world: World, name: str) -> None:
    source = world.source(name)
    assert await world.total(name) == world.cases(name)
    # The database answers a planted total only while its snapshot keeps the mark it was learnt
    # at: so this is the reuse branch, not a count.
    plant(source, CaseFilter(), 424242)
    assert await world.total(name) == 424242
    # A write anywhere on the server, even in another database, ends it: the next page counts.
    await world.write_elsewhere()
    assert await world.total(name) == world.cases(name)
    # A write not yet committed changes nothing the page sees: the reuse goes on until it ends.
    plant(source, CaseFilter(), 424242)
    transaction = world.elsewhere.transaction()
    await transaction.start()
    await world.elsewhere.execute("INSERT INTO unrelated (x) VALUES (2)")
    assert await world.total(name) == 424242
    await transaction.commit()
    assert await world.total(name) == world.cases(name)
    # A write rolled back ends the reuse as well (conservative: its transaction ended).
    plant(source, CaseFilter(), 424242)
    transaction = world.elsewhere.transaction()
    await transaction.start()
    await world.elsewhere.execute("INSERT INTO unrelated (x) VALUES (3)")
    await transaction.rollback()
    assert await world.total(name) == world.cases(name)


@pytest.mark.parametrize("name", AGENCIES)
async def test_a_case_committed_between_pages_is_counted(world: World, name: str) -> None:
    assert await world.total(name) == world.cases(name)
    assert await world.total(name) == world.cases(name)
    key = await world.copy_case(name)
    world.copies[name].append(key)
    assert await world.total(name) == world.cases(name)
    await world.drop_case(name, world.copies[name].pop())
    assert await world.total(name) == world.cases(name)


@pytest.mark.parametrize("name", AGENCIES)
async def test_a_case_being_written_is_counted_once_its_transaction_commits(world: World, name: str) -> None:
    assert await world.total(name) == world.cases(name)
    transaction = world.pending.transaction()
    await transaction.start()
    key = await world.copy_case(name, world.pending)
    # Running: invisible to the page, so the total is the one learnt, rightly.
    assert await world.total(name) == world.cases(name)
    assert await world.total(name) == world.cases(name)
    await transaction.commit()
    world.copies[name].append(key)
    assert await world.total(name) == world.cases(name)
    await world.drop_case(name, world.copies[name].pop())
    assert await world.total(name) == world.cases(name)


async def test_a_snapshot_with_a_transaction_running_reuses_and_learns_nothing(world: World) -> None:
    """While an older transaction is running, a newer one's commit leaves the snapshot with a
    running transaction below its xmax: such a snapshot matches no mark and marks nothing."""
    name = "kemlu"
    source = world.source(name)
    memo = source._counts
    assert memo is not None
    older = world.elsewhere.transaction()
    await older.start()
    await world.elsewhere.execute("INSERT INTO unrelated (x) VALUES (4)")  # takes a transaction id
    key = await world.copy_case(name)  # a newer one commits
    world.copies[name].append(key)
    current = await world.writer.fetchval(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text || ':'"
        " || extract(epoch FROM pg_postmaster_start_time())::text"
    )
    memo.total(CaseFilter(), (424242, current))  # a planted total at this snapshot's xmax
    assert await world.total(name) == world.cases(name)
    assert memo.parameters(CaseFilter())[countreuse.SEEN_TOTAL] == 424242  # nothing learnt
    await older.rollback()
    await world.drop_case(name, world.copies[name].pop())
    assert await world.total(name) == world.cases(name)


async def test_totals_are_remembered_per_filter(world: World) -> None:
    source = world.source("simfoni")
    fresh = [await world.fresh_count("simfoni", f) for f in FILTERS]
    assert len(set(fresh)) == len(FILTERS), "the filters must tell their totals apart"
    for _ in range(2):
        assert [await world.total("simfoni", f) for f in FILTERS] == fresh
        assert [await source.count_cases(f) for f in FILTERS] == fresh


async def test_total_count_over_graphql_sees_a_committed_case(world: World) -> None:
    query = '{ cases(first: 2, filter: {agencies: ["KEMLU"]}) { totalCount } }'

    async def total() -> int:
        result = await world.hub.execute(query)
        assert not result.errors, result.errors
        assert result.data is not None
        return int(result.data["cases"]["totalCount"])

    assert await total() == world.cases("kemlu")
    assert await total() == world.cases("kemlu")
    key = await world.copy_case("kemlu")
    world.copies["kemlu"].append(key)
    assert await total() == world.cases("kemlu")
    await world.drop_case("kemlu", world.copies["kemlu"].pop())
    assert await total() == world.cases("kemlu")


agencies = st.sampled_from(sorted(AGENCIES))
#: What happens between two pages: a page, a case committed or removed, a transaction begun,
#: committed or rolled back, a write in another database.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("page"), agencies, st.integers(0, len(FILTERS) - 1)),
        st.tuples(
            st.sampled_from(["copy", "drop", "begin", "commit", "rollback"]),
            st.sampled_from(sorted(AGENCIES)),
        ),
        st.just(("elsewhere",)),
    ),
    min_size=4,
    max_size=14,
)


@settings(DATABASE_PROPERTIES, max_examples=60)
@given(steps=steps)
async def test_every_total_equals_a_fresh_count_whatever_happens_between_pages(
    world: World, steps: list[tuple[Any, ...]]
) -> None:
    """Each page's total equals the count of a statement of its own right after it (which
    reuses nothing), and unfiltered, the generator's cases plus the committed copies."""
    open_transaction: tuple[Any, str, Any] | None = None
    try:
        for step in steps:
            what = step[0]
            if what == "page":
                name, which = step[1], FILTERS[step[2]]
                total = await world.total(name, which)
                assert total == await world.fresh_count(name, which), step
                assert await world.source(name).count_cases(which) == total, step
                if which == CaseFilter():
                    assert total == world.cases(name), step
            elif what == "copy":
                world.copies[step[1]].append(await world.copy_case(step[1]))
            elif what == "drop" and world.copies[step[1]]:
                await world.drop_case(step[1], world.copies[step[1]].pop())
            elif what == "begin" and open_transaction is None:
                transaction = world.pending.transaction()
                await transaction.start()
                open_transaction = (transaction, step[1], await world.copy_case(step[1], world.pending))
            elif what in ("commit", "rollback") and open_transaction is not None:
                transaction, name, key = open_transaction
                open_transaction = None
                if what == "commit":
                    await transaction.commit()
                    world.copies[name].append(key)
                else:
                    await transaction.rollback()
            elif what == "elsewhere":
                await world.write_elsewhere()
    finally:
        if open_transaction is not None:
            await open_transaction[0].rollback()
        for name, keys in world.copies.items():
            while keys:
                await world.drop_case(name, keys.pop())


@pytest.mark.parametrize("name", AGENCIES)
async def test_a_count_alone_reuses_the_total_as_a_page_does(world: World, name: str) -> None:
    """``count_cases`` (the agency orders' totals) reads and learns the same remembered total."""
    source = world.source(name)
    assert await source.count_cases(CaseFilter()) == world.cases(name)
    plant(source, CaseFilter(), 424242)
    assert await source.count_cases(CaseFilter()) == 424242
    assert await world.total(name) == 424242
    key = await world.copy_case(name)
    world.copies[name].append(key)
    assert await source.count_cases(CaseFilter()) == world.cases(name)
    await world.drop_case(name, world.copies[name].pop())
    assert await source.count_cases(CaseFilter()) == world.cases(name)


@pytest.mark.parametrize("name", AGENCIES)
async def test_a_server_without_snapshot_functions_counts_every_time_and_still_combines(
    world: World, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that calls itself PostgreSQL 13 or later but has no ``pg_current_snapshot()``
    (a compatible database) refuses the reusing statement: the page and the count alone are
    answered plainly, the source counts every time from then on, and pages stay combined."""
    served = world.source(name)
    source = MappedSQLSource(served.mapping, served.options, served.base_dir)
    monkeypatch.setattr(countreuse, "_quiet_mark", lambda: func.tppo_no_such_function(type_=Text))
    await source.open()
    try:
        assert source._counts is not None
        with caplog.at_level(logging.WARNING, logger="tppo_hub.adapters.sql"):
            read = await source.search_cases_with(CaseSearch(limit=3, count=True), [])
        assert read.total == world.cases(name) and source._counts is None and source._combining
        assert any("counted on every page" in r.getMessage() for r in caplog.records)
        with recorded(source) as sent:
            again = await source.search_cases_with(CaseSearch(limit=3, count=True), [])
        assert again.total == world.cases(name) and again.cases == read.cases
        assert len(sent) == 1 and "count(*)" in sent[0][0] and "pg_current_snapshot" not in sent[0][0]
        assert await source.count_cases(CaseFilter()) == world.cases(name)
    finally:
        await source.close()
    # The count alone is the first statement to reuse: it falls back the same way.
    source = MappedSQLSource(served.mapping, served.options, served.base_dir)
    await source.open()
    try:
        assert await source.count_cases(CaseFilter()) == world.cases(name)
        assert source._counts is None and source._combining
        assert (await source.search_cases_with(CaseSearch(limit=3, count=True), [])).total == world.cases(
            name
        )
    finally:
        await source.close()


@pytest.mark.parametrize("name", AGENCIES)
async def test_concurrent_pages_never_see_a_total_go_back(world: World, name: str) -> None:
    """Eight readers page on while the agency registers cases one commit at a time: each
    reader's totals never decrease (every page reads a snapshot at least as new as its last
    one's), none leaves the range the register went through, and the last page after the last
    commit counts them all. A total reused from an older snapshot would go back."""
    start = world.cases(name)
    added = 12
    done = asyncio.Event()
    seen: list[list[int]] = [[] for _ in range(8)]

    async def reader(totals: list[int]) -> None:
        while not done.is_set():
            total = await world.total(name)
            assert total is not None
            totals.append(total)
            await asyncio.sleep(0)

    async def writer() -> None:
        try:
            for _ in range(added):
                world.copies[name].append(await world.copy_case(name))
                await asyncio.sleep(0.005)
        finally:
            done.set()

    try:
        await asyncio.gather(writer(), *(reader(totals) for totals in seen))
        assert await world.total(name) == start + added == world.cases(name)
        for totals in seen:
            assert totals, "a reader read no page"
            assert totals == sorted(totals), totals
            assert start <= totals[0] and totals[-1] <= start + added
        assert len({t for totals in seen for t in totals}) > 2  # the readers saw the register grow
    finally:
        while world.copies[name]:
            await world.drop_case(name, world.copies[name].pop())


async def test_the_metrics_count_totals_reused_and_counted(world: World) -> None:
    """``tppo_hub_source_totals`` says how many totals the database reused and how many it
    counted: as the statements themselves reported it, one each per page here."""
    source = world.source("kemlu")
    memo = source._counts
    assert memo is not None
    await world.write_elsewhere()  # whatever was learnt is out of date: the next page counts
    before = (memo.reused, memo.counted)
    await world.total("kemlu")
    await world.total("kemlu")
    await world.total("kemlu")
    assert (memo.reused - before[0], memo.counted - before[1]) == (2, 1)
    families = {
        f.name: f
        for f in text_string_to_metric_families(world.hub.metrics.render(world.hub.registry).decode())
    }
    samples = {
        (s.labels["source"], s.labels["how"]): s.value for s in families["tppo_hub_source_totals"].samples
    }
    assert samples[("kemlu", "reused")] == memo.reused and samples[("kemlu", "counted")] == memo.counted
