"""Statistics whose days and names PostgreSQL computes once per distinct value read each case
as its record does.

Two ways of computing less per case, both on PostgreSQL (issue 11's bench regression):

* a date-time's date part (``adapters.sqldates.day_key``) computed once per case in a fenced
  ``LATERAL`` subquery, and its day in another that PostgreSQL memoizes by the date part
  (``adapters.statistics._DayLookup``): the day once per distinct date part;
* region and country lookups applied by the database (``adapters.sqlnames``): the grouped
  keys joined to the lookup's learnt table under ``COLLATE "C"``, grouped by the national
  name, instead of every key's row translated in Python.

Hypothesis draws registers of messy date-times (times, ``T``, spaces around, an 11th
character that is a digit or a tab, impossible days, junk, empty text, NULL) and messy region
spellings (case, spaces, unknown names, empty, NULL), on SQLite and on the suite's PostgreSQL,
and checks the counts by province, regency, year and month three ways: against the cells
written out here from the inserted texts (the date rule of ``tests/test_date_walk.py`` and the
regions of ``tests/test_raw_groups.py``, both written by hand), against the records the same
source lists, and — on PostgreSQL — against the rows translated in Python (the names table
switched off). Region and report-date filters too. A plan test bounds what PostgreSQL computes
per case; a key column whose collation is not the database's is still joined exactly.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import sqlnames
from adapters.engines import EngineOptions
from adapters.mapping import load_mapping_text
from adapters.sql import MappedSQLSource
from hub.access.policy import Principal
from hub.vocabulary.model import (
    CaseFilter,
    CaseSearch,
    Dimension,
    Keyset,
    Measure,
    SortOrder,
    StatisticsRequest,
)
from tests.opened_sources import sqlite_source
from tests.plans import evaluating, json_plan, memoized_misses, nodes, rows_of
from tests.property_settings import DATABASE_PROPERTIES
from tests.statements import recorded
from tests.test_date_walk import canonical_day, datetime_junk, datetime_texts
from tests.test_raw_groups import MAPPING as RAW_GROUPS_MAPPING
from tests.test_raw_groups import SPELLINGS

#: The raw-grouping tests' register (regions by name), as another agency.
NAMES_MAPPING = RAW_GROUPS_MAPPING.replace(
    'code = "RAWG", name = "Raw grouping test agency"',
    'code = "SQLN", name = "Statistics in SQL test agency"',
)

CODES_MAPPING = NAMES_MAPPING.replace(
    'region = { regency_name = "kab", province_name = "prov" }', 'region = { column = "kode" }'
)

#: A regency code as a register writes it → its Kemendagri code (regencies.csv: 32.01
#: Kabupaten Bogor, 32.71 Kota Bogor, 35.78 Kota Surabaya), None: no region.
CODES: dict[str | None, str | None] = {
    "32.01": "32.01",
    "3201": "32.01",
    "32.71": "32.71",
    "3578": "35.78",
    "35.78": "35.78",
    "99.99": None,
    "junk": None,
    "": None,
    None: None,
}

DIMENSIONS = (Dimension.PROVINCE, Dimension.REGENCY, Dimension.YEAR, Dimension.MONTH)

cases = st.lists(
    st.tuples(
        st.one_of(datetime_texts, datetime_texts, datetime_junk, st.none()),
        st.sampled_from(sorted(SPELLINGS, key=str)),
        st.sampled_from(sorted(CODES, key=str)),
    ),
    min_size=4,
    max_size=50,
)


def with_unique_times(register: list[Any]) -> list[Any]:
    """``register`` plus cases with date-times of their own (120 and as many again), so the raw
    dates cannot repeat enough to key the day while their date parts do: statistics key the
    day by the date part (as bp2mi's are)."""
    spellings = sorted(SPELLINGS, key=str)
    codes = sorted(CODES, key=str)
    filler = [
        (f"2023-01-{1 + i % 5:02d} {i // 60 % 24:02d}:{i % 60:02d}:07", spellings[i % 7], codes[i % 5])
        for i in range(len(register) + 120)
    ]
    return [*register, *filler]


def _region(case: tuple[Any, ...], by_code: bool) -> str | None:
    return CODES[case[2]] if by_code else SPELLINGS[case[1]]


def expected(register: list[Any], by_code: bool) -> Counter[tuple[Any, ...]]:
    """Cases by (province, regency, year, month), from the hand-written rules above."""
    cells: Counter[tuple[Any, ...]] = Counter()
    for case in register:
        code, day = _region(case, by_code), canonical_day(case[0])
        cells[(code[:2] if code else None, code, day[:4] if day else None, day[:7] if day else None)] += 1
    return cells


async def records_by_cell(source: MappedSQLSource) -> Counter[tuple[Any, ...]]:
    """Cases by (province, regency, year, month) as the source's records read them."""
    cells: Counter[tuple[Any, ...]] = Counter()
    after: Keyset | None = None
    for _ in range(100):
        page = await source.search_cases(CaseSearch(CaseFilter(), SortOrder.DESC, after, 101))
        for case in page[:100]:
            day = case.reported_at.isoformat() if case.reported_at else None
            region = case.region
            cells[
                (region[:2] if region else None, region, day[:4] if day else None, day[:7] if day else None)
            ] += 1
        if len(page) <= 100:
            return cells
        after = Keyset(page[99].reported_at, source.name, page[99].key)
    raise AssertionError("paging did not end")


def _summed(cells: Counter[tuple[Any, ...]], keep: Any) -> dict[tuple[Any, ...], int]:
    """``cells`` added up onto the dimensions ``keep`` picks (zero cells left out)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for cell, count in cells.items():
        out[keep(cell)] += count
    return {cell: count for cell, count in out.items() if count}


async def check(source: MappedSQLSource, register: list[Any], by_code: bool, postgres: bool) -> None:
    wanted = expected(register, by_code)
    request = StatisticsRequest(Measure.CASES, DIMENSIONS, CaseFilter())
    with recorded(source) as sent:
        cells = await source.aggregate(request)
    assert cells == dict(wanted), register
    assert cells == dict(await records_by_cell(source)), register
    statements = " ".join(statement for statement, _ in sent)
    assert postgres == ("stat_key" in statements), "the date part once per case, on PostgreSQL"
    assert postgres == ("unnest" in statements), "the names applied by PostgreSQL"
    if postgres:
        # The same counts with every row translated in Python.
        tables, source._names_tables = source._names_tables, _NoNames()
        source._statistics.clear()  # the statements built with the names
        try:
            with recorded(source) as sent:
                assert await source.aggregate(request) == cells
            assert not any("unnest" in statement for statement, _ in sent)
        finally:
            source._names_tables = tables
            source._statistics.clear()
    # By province alone, a region filter, and a report-date filter: the frame, the names and
    # the filters read the same values.
    by_province = await source.aggregate(
        StatisticsRequest(Measure.CASES, (Dimension.PROVINCE,), CaseFilter())
    )
    assert by_province == _summed(wanted, lambda c: (c[0],)), register
    in_bogor = await source.aggregate(
        StatisticsRequest(Measure.CASES, (Dimension.REGENCY, Dimension.YEAR), CaseFilter(regions=("32.71",)))
    )
    assert in_bogor == _summed(
        Counter({c: n for c, n in wanted.items() if c[1] == "32.71"}), lambda c: (c[1], c[2])
    )
    span = CaseFilter(reported_from=date(2022, 12, 31), reported_to=date(2023, 1, 2))
    in_span = await source.aggregate(
        StatisticsRequest(Measure.CASES, (Dimension.PROVINCE, Dimension.MONTH), span)
    )
    inside = [
        case for case in register if (day := canonical_day(case[0])) and "2022-12-31" <= day <= "2023-01-02"
    ]
    assert in_span == _summed(expected(inside, by_code), lambda c: (c[0], c[3])), register


class _NoNames(sqlnames.NamesTables):
    """No lookup applied by the database: every grouped row translated in Python."""

    def __init__(self) -> None:
        super().__init__("sqlite")


def _rows(register: list[Any]) -> list[tuple[Any, ...]]:
    return [(key, day, names[0], names[1], code) for key, (day, names, code) in enumerate(register, start=1)]


def _mapping(by_code: bool) -> Any:
    return load_mapping_text(CODES_MAPPING if by_code else NAMES_MAPPING, "sqln")


@settings(DATABASE_PROPERTIES, max_examples=15)
@given(register=cases, by_code=st.booleans())
async def test_statistics_read_each_case_as_records_do_on_sqlite(
    tmp_path: Path, register: list[Any], by_code: bool
) -> None:
    register = with_unique_times(register)
    path = tmp_path / f"sqln-{uuid.uuid4().hex}.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT, kode TEXT)")
    db.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
    db.executemany("INSERT INTO kasus VALUES (?, ?, ?, ?, ?)", _rows(register))
    db.commit()
    db.close()
    async with sqlite_source(_mapping(by_code), path) as source:
        await check(source, register, by_code, postgres=False)


@pytest.fixture(scope="module")
def sqln_database(postgres_server: Any) -> str:
    return str(postgres_server.create_database("statistics_in_sql", replace=True))


async def _postgres_cases(url: str, register: list[Any], *alter: str) -> None:
    """The register as ``kasus(id, tgl, kab, prov, kode)``, the ``alter`` statements run on
    the empty table."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute(
            "CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT, kode TEXT)"
        )
        for statement in alter:
            await connection.execute(statement)
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2, $3, $4, $5)", _rows(register))
        await connection.execute("ANALYZE kasus")
    finally:
        await connection.close()


@settings(DATABASE_PROPERTIES, max_examples=12)
@given(register=cases, by_code=st.booleans())
async def test_statistics_read_each_case_as_records_do_on_postgres(
    sqln_database: str, register: list[Any], by_code: bool
) -> None:
    register = with_unique_times(register)
    await _postgres_cases(sqln_database, register)
    source = MappedSQLSource(_mapping(by_code), EngineOptions(sqln_database))
    await source.open()
    try:
        await check(source, register, by_code, postgres=True)
    finally:
        await source.close()


async def test_a_key_of_another_collation_is_joined_exactly_on_postgres(sqln_database: str) -> None:
    """The region code column collates ``POSIX`` in a ``C`` database; the names the join finds
    (compared under ``COLLATE "C"``) are still the records'. (A non-deterministic collation,
    whose equality would find two entries for one key, needs ICU, which the suite's server
    lacks.)"""
    register = with_unique_times([("2023-01-01 08:00", ("Kota Bogor", "Jawa Barat"), "3201")])
    await _postgres_cases(
        sqln_database, register, 'ALTER TABLE kasus ALTER COLUMN kode TYPE TEXT COLLATE "POSIX"'
    )
    source = MappedSQLSource(_mapping(True), EngineOptions(sqln_database))
    await source.open()
    try:
        request = StatisticsRequest(Measure.CASES, DIMENSIONS, CaseFilter())
        with recorded(source) as sent:
            cells = await source.aggregate(request)
        assert any("unnest" in statement for statement, _ in sent)
        assert cells == dict(expected(register, True))
        assert cells == dict(await records_by_cell(source))
    finally:
        await source.close()


async def test_the_date_part_is_computed_once_per_case_on_postgres(sqln_database: str) -> None:
    """Cases by region and year on PostgreSQL, one date-time a case (20,000): one plan node that
    sees every case computes the date part (the CTE's scan), none computes a day, and no node
    that sees every case translates a region."""
    connection = await asyncpg.connect(sqln_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute(
            "CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT, kode TEXT)"
        )
        await connection.execute(
            "INSERT INTO kasus SELECT i, to_char(timestamp '2020-01-01' + i * interval '131 minutes', "
            "'YYYY-MM-DD HH24:MI:SS'), 'Kota Bogor', 'Jawa Barat', (ARRAY['3201', '32.71', 'x'])[1 + i % 3] "
            "FROM generate_series(1, 20000) AS i"
        )
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.execute("ANALYZE kasus")
    finally:
        await connection.close()
    source = MappedSQLSource(_mapping(True), EngineOptions(sqln_database))
    await source.open()
    try:
        request = StatisticsRequest(Measure.CASES, (Dimension.PROVINCE, Dimension.YEAR), CaseFilter())
        with recorded(source) as sent:
            cells = await source.aggregate(request)
        assert sum(cells.values()) == 20000
        statement, parameters = next((s, p) for s, p in sent if "stat_key" in s)
    finally:
        await source.close()
    connection = await asyncpg.connect(sqln_database)
    try:
        plan = await connection.fetch(
            "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) " + statement, *parameters
        )
    finally:
        await connection.close()
    wide = [node for node in nodes(json_plan(plan)) if rows_of(node) >= 20000]
    assert wide, "some node reads the cases"
    # The date part: the first eleven characters of the trimmed text (adapters.sqlfuncs.Prefix).
    date_part = evaluating(json_plan(plan), "(TRIM(BOTH FROM kasus.tgl))::character varying(11)", 19999)
    assert len(date_part) == 1, date_part
    assert not evaluating(json_plan(plan), "pg_input_is_valid", 19999)
    assert not evaluating(json_plan(plan), "names_province", 19999)
    # The day of each date part computed once: 20,000 × 131 minutes span 1,820 days.
    assert memoized_misses(json_plan(plan)) == [1820], memoized_misses(json_plan(plan))


@pytest.mark.parametrize(
    "group_by", ["[PROVINCE, YEAR]", "[EXPLOITATION_TYPE]", "[EXPLOITATION_TYPE, STAGE]", "[AGENCY]"]
)
async def test_the_total_counts_each_case_once_from_the_grouped_statement(hub: Any, group_by: str) -> None:
    """The total comes from the grouped statement's groups (one statement a source), and a case
    of several exploitation types — counted in several cells — is in it once: it equals the
    cases the list counts, source by source."""
    query = f"{{ statistics(measure: CASES, groupBy: {group_by}) {{ total rows {{ count }} }} }}"
    # A coordinator: counts exact, no cell perturbed (an analyst's are protected).
    coordinator = Principal(
        subject="t", role="coordinator", agency="LPSK", purpose="test", method="in_process"
    )
    result = await hub.execute(query, None, coordinator)
    assert not result.errors
    listed = await hub.execute("{ cases(first: 1) { totalCount } }", None, coordinator)
    assert result.data["statistics"]["total"] == listed.data["cases"]["totalCount"]
    if "EXPLOITATION_TYPE" in group_by:
        assert (
            sum(row["count"] for row in result.data["statistics"]["rows"])
            > result.data["statistics"]["total"]
        )
    assert all(source["statements"] == 1 for source in result.extensions["sources"])


async def test_a_lookup_of_too_many_keys_is_translated_in_python_on_postgres(
    sqln_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above :data:`adapters.sqlnames.MAX_KEYS` the arrays would go with every execution: the
    rows are translated in Python instead, with the same counts."""
    register = with_unique_times([("2023-01-01 08:00", ("Kota Bogor", "Jawa Barat"), "3201")])
    await _postgres_cases(sqln_database, register)
    monkeypatch.setattr(sqlnames, "MAX_KEYS", 2)
    source = MappedSQLSource(_mapping(True), EngineOptions(sqln_database))
    await source.open()
    try:
        assert len(source.compiled.case_part().values["region"].lookup.table) > 2  # type: ignore[union-attr]
        with recorded(source) as sent:
            cells = await source.aggregate(StatisticsRequest(Measure.CASES, DIMENSIONS, CaseFilter()))
        assert not any("unnest" in statement for statement, _ in sent)
        assert cells == dict(expected(register, True))
    finally:
        await source.close()
