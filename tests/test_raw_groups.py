"""Statistics that group by raw region names read each name as records do.

:mod:`adapters.rawgroups` lets statistics count cases per distinct raw regency and province
name first and compute the region key once per such group (polri's register: 59k cases, 513
distinct name pairs). That is exact only where grouping merges identical texts alone. Hypothesis
draws registers of name spellings — case, spaces around, abbreviations, junk, empty text and
NULL, many repeats — on SQLite and on the suite's PostgreSQL, and checks the counts by
province, regency and year three ways: against the regions written out here by hand from the
reference data (``hub/vocabulary/reference_data/regencies.csv``), against the records the
same source lists, and against the per-case key (the grouping switched off). A column whose
collation merges texts the key tells apart is refused the grouped path; a plan test checks
that on PostgreSQL no plan node that sees every case computes the key. On PostgreSQL a key of
one name column (bp2mi's regency name alone) is grouped raw too, and checked the same three ways.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.engines import EngineOptions
from adapters.mapping import load_mapping_text
from adapters.sql import MappedSQLSource
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
from tests.plans import evaluating, json_plan, nodes, rows_of
from tests.property_settings import DATABASE_PROPERTIES
from tests.statements import recorded

MAPPING = """[source]
agency = { code = "RAWG", name = "Raw grouping test agency", type = "OTHER" }
[case]
table = "kasus"
key = "id"
reported_at = "tgl"
region = { regency_name = "kab", province_name = "prov" }
"""

#: (regency name, province name) as a register writes them → the regency's Kemendagri code
#: (regencies.csv: 32.01 Kabupaten Bogor, 32.71 Kota Bogor, 32.16 Kabupaten Bekasi, 32.75 Kota
#: Bekasi, 32.12 Kabupaten Indramayu; province 32 Jawa Barat). None: no region.
SPELLINGS: dict[tuple[str | None, str | None], str | None] = {
    ("Kabupaten Bogor", "Jawa Barat"): "32.01",
    ("KABUPATEN BOGOR", "JAWA BARAT"): "32.01",
    ("  Kabupaten Bogor", "Jawa Barat "): "32.01",
    ("Kota Bogor", "Jawa Barat"): "32.71",
    ("KOTA BOGOR", "Jawa Barat"): "32.71",
    ("Kota Bogor ", "  JAWA BARAT"): "32.71",
    ("Kabupaten Bekasi", "Jawa Barat"): "32.16",
    ("Kota Bekasi", "Jawa Barat"): "32.75",
    ("kota bekasi", "jawa barat"): "32.75",
    ("Kabupaten Indramayu", "Jawa Barat"): "32.12",
    ("Kabupaten Indramayu", " Jawa Barat"): "32.12",
    ("Negeri Antah Berantah", "Jawa Barat"): None,
    ("", ""): None,
    (None, None): None,
    ("   ", None): None,
}
YEARS = ["2021-05-01", "2022-12-31", "2023-01-01", None, "junk"]

registers = st.lists(
    st.tuples(st.sampled_from(sorted(SPELLINGS, key=str)), st.sampled_from(YEARS)), min_size=4, max_size=40
)


def expected(rows: list[tuple[tuple[str | None, str | None], str | None]]) -> Counter[tuple[Any, ...]]:
    """Cases by (province, regency, year), from the hand-written truth above."""
    cells: Counter[tuple[Any, ...]] = Counter()
    for names, day in rows:
        code = SPELLINGS[names]
        year = day[:4] if day is not None and day[:1].isdigit() else None
        cells[(code[:2] if code else None, code, year)] += 1
    return cells


async def records_by_cell(source: MappedSQLSource) -> Counter[tuple[Any, ...]]:
    """Cases by (province, regency, year) as the source's records read them."""
    cells: Counter[tuple[Any, ...]] = Counter()
    after: Keyset | None = None
    for _ in range(100):
        search = CaseSearch(filter=CaseFilter(), order=SortOrder.DESC, after=after, limit=51)
        page = await source.search_cases(search)
        for case in page[:50]:
            year = str(case.reported_at.year) if case.reported_at else None
            cells[(case.region[:2] if case.region else None, case.region, year)] += 1
        if len(page) <= 50:
            return cells
        after = Keyset(page[49].reported_at, source.name, page[49].key)
    raise AssertionError("paging did not end")


async def check(source: MappedSQLSource, rows: list[Any]) -> None:
    assert source._raw_keys, "the name columns compare bytes: statistics group by the raw names"
    request = StatisticsRequest(
        Measure.CASES, (Dimension.PROVINCE, Dimension.REGENCY, Dimension.YEAR), CaseFilter()
    )
    with recorded(source) as sent:
        grouped = await source.aggregate(request)
    assert any("raw_groups" in statement for statement, _ in sent), "the grouped path was taken"
    wanted = expected(rows)
    assert grouped == dict(wanted), rows
    assert grouped == dict(await records_by_cell(source)), rows
    keys, source._raw_keys = source._raw_keys, {}
    try:
        assert await source.aggregate(request) == grouped
    finally:
        source._raw_keys = keys
    by_province = await source.aggregate(
        StatisticsRequest(Measure.CASES, (Dimension.PROVINCE,), CaseFilter())
    )
    provinces: Counter[tuple[Any, ...]] = Counter()
    for (province, _, _), count in wanted.items():
        provinces[(province,)] += count
    assert by_province == dict(provinces), rows
    filtered = await source.aggregate(
        StatisticsRequest(Measure.CASES, (Dimension.REGENCY,), CaseFilter(regions=("32.71",)))
    )
    assert filtered == ({("32.71",): wanted_count} if (wanted_count := _count(wanted, "32.71")) else {})


def _count(cells: Counter[tuple[Any, ...]], regency: str) -> int:
    return sum(count for (_, code, _), count in cells.items() if code == regency)


def _rows(register: list[Any]) -> list[tuple[Any, ...]]:
    return [(key, day, names[0], names[1]) for key, (names, day) in enumerate(register, start=1)]


def _write_sqlite(path: Path, register: list[Any], regency: str = "kab TEXT") -> None:
    """The register as ``kasus(id, tgl, kab, prov)`` in a SQLite file (``regency``: the regency
    column's definition)."""
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, {regency}, prov TEXT)")
    db.executemany("INSERT INTO kasus VALUES (?, ?, ?, ?)", _rows(register))
    db.commit()
    db.close()


@settings(DATABASE_PROPERTIES, max_examples=20)
@given(register=registers)
async def test_statistics_grouped_by_raw_names_read_each_name_as_records_do_on_sqlite(
    tmp_path: Path, register: list[Any]
) -> None:
    path = tmp_path / f"raw-{uuid.uuid4().hex}.sqlite"
    _write_sqlite(path, register)
    async with sqlite_source(load_mapping_text(MAPPING, "rawg"), path) as source:
        await check(source, register)


@pytest.fixture(scope="module")
def raw_database(postgres_server: Any) -> str:
    return str(postgres_server.create_database("raw_groups", replace=True))


async def _load_kasus(database: str, rows: list[tuple[Any, ...]]) -> None:
    """The register's table afresh on PostgreSQL: (id, report date, regency, province) rows."""
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2, $3, $4)", rows)
    finally:
        await connection.close()


@settings(DATABASE_PROPERTIES, max_examples=12)
@given(register=registers)
async def test_statistics_grouped_by_raw_names_read_each_name_as_records_do_on_postgres(
    raw_database: str, register: list[Any]
) -> None:
    await _load_kasus(raw_database, _rows(register))
    source = MappedSQLSource(load_mapping_text(MAPPING, "rawg"), EngineOptions(raw_database))
    await source.open()
    try:
        await check(source, register)
    finally:
        await source.close()


async def test_a_column_that_merges_texts_is_not_grouped_raw(tmp_path: Path) -> None:
    """``COLLATE NOCASE`` groups ``'Kota Bogor'`` with ``'KOTA BOGOR'``: the key per case."""
    path = tmp_path / "nocase.sqlite"
    register = [(names, "2023-01-01") for names in SPELLINGS] * 3
    _write_sqlite(path, register, regency="kab TEXT COLLATE NOCASE")
    source = MappedSQLSource(load_mapping_text(MAPPING, "rawg"), EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        assert source._raw_keys == {}
        request = StatisticsRequest(Measure.CASES, (Dimension.REGENCY, Dimension.YEAR), CaseFilter())
        with recorded(source) as sent:
            cells = await source.aggregate(request)
        assert not any("raw_groups" in statement for statement, _ in sent)
        assert cells == {(code, year): n for (_, code, year), n in expected(register).items()}
    finally:
        await source.close()


async def test_statistics_compute_the_region_key_per_group_not_per_case_on_postgres(
    raw_database: str,
) -> None:
    """20,000 cases by province and year: no plan node that sees them all trims a name."""
    connection = await asyncpg.connect(raw_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT)")
        await connection.execute(
            "INSERT INTO kasus SELECT i, '2023-01-01', "
            "(ARRAY['Kota Bogor', 'KOTA BEKASI ', 'Kabupaten Bogor'])[1 + i % 3], 'Jawa Barat' "
            "FROM generate_series(1, 20000) AS i"
        )
        await connection.execute("ANALYZE kasus")
        source = MappedSQLSource(load_mapping_text(MAPPING, "rawg"), EngineOptions(raw_database))
        await source.open()
        try:
            request = StatisticsRequest(Measure.CASES, (Dimension.PROVINCE, Dimension.YEAR), CaseFilter())
            with recorded(source) as sent:
                cells = await source.aggregate(request)
        finally:
            await source.close()
        assert cells == {("32", "2023"): 20000}
        (statement, parameters), *_ = sent
        explain = "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) "
        plan = await connection.fetch(explain + statement, *parameters)
    finally:
        await connection.close()
    wide = [node for node in nodes(json_plan(plan)) if rows_of(node) >= 20000]
    assert wide, "some node reads the cases"
    trimming = evaluating(json_plan(plan), "btrim", 19999) + evaluating(json_plan(plan), "TRIM", 19999)
    assert not trimming, trimming


#: One regency-name column and no province column (bp2mi's ``kab_asal``): PostgreSQL groups by
#: the raw name too (a trim per case costs more there than grouping; SQLite keeps the key per case).
SINGLE_MAPPING = MAPPING.replace(
    '{ regency_name = "kab", province_name = "prov" }', '{ regency_name = "kab" }'
)
#: A regency name as a register writes it → its Kemendagri code (regencies.csv), None: no region.
SINGLE_SPELLINGS: dict[str | None, str | None] = {
    "Kota Bogor": "32.71",
    "KOTA BOGOR": "32.71",
    "  Kota Bogor ": "32.71",
    "Kota Bogor  ": "32.71",
    "Kabupaten Bogor": "32.01",
    " kabupaten bogor": "32.01",
    "Kabupaten Indramayu": "32.12",
    "Negeri Antah Berantah": None,
    "": None,
    "   ": None,
    None: None,
}
single_registers = st.lists(
    st.tuples(st.sampled_from(sorted(SINGLE_SPELLINGS, key=str)), st.sampled_from(YEARS)),
    min_size=4,
    max_size=40,
)


@settings(DATABASE_PROPERTIES, max_examples=12)
@given(register=single_registers)
async def test_one_raw_name_column_is_grouped_raw_and_read_as_records_do_on_postgres(
    raw_database: str, register: list[Any]
) -> None:
    await _load_kasus(
        raw_database, [(key, day, name, None) for key, (name, day) in enumerate(register, start=1)]
    )
    source = MappedSQLSource(load_mapping_text(SINGLE_MAPPING, "rawg"), EngineOptions(raw_database))
    await source.open()
    try:
        assert source._raw_keys, "a single name column is grouped raw on PostgreSQL"
        request = StatisticsRequest(
            Measure.CASES, (Dimension.PROVINCE, Dimension.REGENCY, Dimension.YEAR), CaseFilter()
        )
        with recorded(source) as sent:
            grouped = await source.aggregate(request)
        assert any("raw_groups" in statement for statement, _ in sent), "the grouped path was taken"
        wanted: Counter[tuple[Any, ...]] = Counter()
        for name, day in register:
            code = SINGLE_SPELLINGS[name]
            year = day[:4] if day is not None and day[:1].isdigit() else None
            wanted[(code[:2] if code else None, code, year)] += 1
        assert grouped == dict(wanted), register
        assert grouped == dict(await records_by_cell(source)), register
        keys, source._raw_keys = source._raw_keys, {}
        try:
            assert await source.aggregate(request) == grouped
        finally:
            source._raw_keys = keys
    finally:
        await source.close()


async def test_one_raw_name_column_keeps_its_key_per_case_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "single.sqlite"
    _write_sqlite(path, [((name, None), "2023-01-01") for name in SINGLE_SPELLINGS])
    async with sqlite_source(load_mapping_text(SINGLE_MAPPING, "rawg"), path) as source:
        assert source._raw_keys == {}
