"""Pages that walk the index of an ISO text date column come in exactly the canonical order.

:mod:`adapters.datewalk` orders a page by the raw text (which an index serves) instead of the
canonical day (which every row would have to compute). Hypothesis draws registers of messy
date texts — clean days with many ties, times after a day (`` 08:00``, ``T08:00``), spaces
around, impossible days, other formats, junk, empty text and NULL — on SQLite and on the
suite's PostgreSQL (``C`` collation), and page sizes, both orders and report-date filters.
The expected order is computed here in Python from the inserted texts (the value layer's
rule, written out independently: ``YYYY-MM-DD`` after trimming spaces, then nothing, a space
or a ``T``, and a real calendar day; anything else is undated and sorts as the earliest).
Paging to the end must visit each matching case once, in that order.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.datewalk import REPEATS_ENOUGH, CountedDays
from adapters.engines import EngineOptions
from adapters.mapping import load_mapping_text
from adapters.sql import MappedSQLSource
from hub.vocabulary.model import (
    CaseFilter,
    CaseRecord,
    CaseSearch,
    Dimension,
    Keyset,
    Measure,
    SortOrder,
    StatisticsRequest,
)
from tests.opened_sources import sqlite_source
from tests.plans import evaluating, json_plan, nodes, own_text, rows_of
from tests.property_settings import DATABASE_PROPERTIES
from tests.statements import recorded

MAPPING = """[source]
agency = { code = "WALK", name = "Date walk test agency", type = "OTHER" }
[case]
table = "kasus"
key = "id"
reported_at = "tgl"
"""

DAYS = ["2022-12-30", "2022-12-31", "2023-01-01", "2023-01-02", "2024-02-29"]
dated_texts = st.builds(
    lambda day, suffix, left, right: f"{left}{day}{suffix}{right}",
    st.sampled_from(DAYS),
    st.sampled_from(["", "", "", " 08:00", "T08:00:00", " ", "T"]),
    st.sampled_from(["", "", "", " ", "  "]),
    st.sampled_from(["", "", " "]),
)
junk_texts = st.sampled_from(
    [
        "2023-02-29",  # not a leap year
        "2023-13-01",
        "0000-01-01",
        "20230101",
        "2023-01-01x",
        "2023-01-01-",
        "01/01/2023",
        "\t2023-01-01",  # only spaces are trimmed
        "",
        "   ",
        "abc",
        "~",
        "-1",
    ]
)
registers = st.lists(st.one_of(dated_texts, dated_texts, junk_texts, st.none()), min_size=8, max_size=60)
ranges = st.one_of(
    st.none(),
    st.tuples(st.sampled_from([None, *DAYS]), st.sampled_from([None, *DAYS])),
)

_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( .*)?", re.DOTALL)


def _sqlite_cases(path: Path, values: list[Any], *, column_type: str = "TEXT", indexed: bool = True) -> None:
    """A SQLite file with ``kasus(id, tgl)``: the report dates ``values`` keyed 1, 2, … in order,
    and an index on ``tgl`` unless ``indexed`` is False."""
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl {column_type})")
    if indexed:
        db.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
    db.executemany("INSERT INTO kasus VALUES (?, ?)", list(enumerate(values, start=1)))
    db.commit()
    db.close()


def canonical_day(text: str | None) -> str | None:
    """The value layer's reading of an ISO date text, written out independently."""
    if text is None:
        return None
    trimmed = text.strip(" ")
    if not (_SHAPE.fullmatch(trimmed) or _SHAPE.fullmatch(trimmed.replace("T", " "))):
        return None
    year, month, day = trimmed[0:4], trimmed[5:7], trimmed[8:10]
    if year == "0000":
        return None
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return None
    return trimmed[:10]


def unix_day(value: Any) -> str | None:
    """The value layer's reading of Unix seconds (whole seconds; a fraction cut off; ≤ 11 digits)."""
    if value is None:
        return None
    text = str(value).strip(" ")
    negative = text.startswith("-")
    head, _, tail = (text[1:] if negative else text).partition(".")
    ascii_digits = re.compile(r"[0-9]+")
    if not ascii_digits.fullmatch(head) or not (tail == "" or ascii_digits.fullmatch(tail)) or len(head) > 11:
        return None
    seconds = -int(head) if negative else int(head)
    return (date(1970, 1, 1) + timedelta(seconds=seconds)).isoformat()


def expected_keys(
    texts: list[Any],
    descending: bool,
    span: tuple[str | None, str | None] | None,
    canonical: Callable[[Any], str | None] = canonical_day,
) -> list[str]:
    rows = [(canonical(text), key) for key, text in enumerate(texts, start=1)]
    if span is not None:
        low, high = span
        rows = [
            (day, key)
            for day, key in rows
            if (low is None or (day is not None and day >= low))
            and (high is None or (day is not None and day <= high))
        ]
    ordered = sorted(rows, key=lambda row: (row[0] or "", row[1]), reverse=descending)
    return [str(key) for _, key in ordered]


async def page_all(
    source: MappedSQLSource, size: int, order: SortOrder, filter: CaseFilter
) -> list[CaseRecord]:
    """Every case through keyset pages of ``size`` (cursors as the engine makes them)."""
    seen: list[CaseRecord] = []
    after: Keyset | None = None
    for _ in range(1000):
        page = await source.search_cases(CaseSearch(filter=filter, order=order, after=after, limit=size + 1))
        seen.extend(page[:size])
        if len(page) <= size:
            return seen
        last = page[size - 1]
        after = Keyset(last.reported_at, source.name, last.key)
    raise AssertionError("paging did not end")


async def check(
    source: MappedSQLSource,
    texts: list[Any],
    size: int,
    span: Any,
    canonical: Callable[[Any], str | None] = canonical_day,
    walked: bool = True,
) -> None:
    assert (source._walk is not None) is walked, "the page must take the index walk on this database"
    filter = CaseFilter()
    if span is not None:
        low, high = span
        filter = CaseFilter(
            reported_from=date.fromisoformat(low) if low else None,
            reported_to=date.fromisoformat(high) if high else None,
        )
    for order in (SortOrder.DESC, SortOrder.ASC):
        got = await page_all(source, size, order, filter)
        wanted = expected_keys(texts, order is SortOrder.DESC, span, canonical)
        assert [c.key for c in got] == wanted, (order, texts)
        days = {str(k): canonical(t) for k, t in enumerate(texts, start=1)}
        assert all((c.reported_at.isoformat() if c.reported_at else None) == days[c.key] for c in got)


def _mapping() -> Any:
    return load_mapping_text(MAPPING, "walk")


@settings(DATABASE_PROPERTIES, max_examples=25)
@given(texts=registers, size=st.sampled_from([1, 2, 3, 7]), span=ranges)
async def test_walked_pages_follow_the_canonical_order_on_sqlite(
    tmp_path: Path, texts: list[str | None], size: int, span: Any
) -> None:
    path = tmp_path / f"walk-{uuid.uuid4().hex}.sqlite"
    _sqlite_cases(path, texts)
    async with sqlite_source(_mapping(), path) as source:
        await check(source, texts, size, span)


@pytest.fixture(scope="module")
def walk_database(postgres_server: Any) -> str:
    return str(postgres_server.create_database("date_walk", replace=True))


@settings(DATABASE_PROPERTIES, max_examples=15)
@given(texts=registers, size=st.sampled_from([1, 3, 7]), span=ranges)
async def test_walked_pages_follow_the_canonical_order_on_postgres(
    walk_database: str, texts: list[str | None], size: int, span: Any
) -> None:
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", list(enumerate(texts, start=1)))
    finally:
        await connection.close()
    source = MappedSQLSource(_mapping(), EngineOptions(walk_database))
    await source.open()
    try:
        await check(source, texts, size, span)
    finally:
        await source.close()


async def test_a_date_column_of_another_format_keeps_the_canonical_order(tmp_path: Path) -> None:
    """A DD/MM/YYYY column is not walked by ranges; its pages count cases per distinct value."""
    path = tmp_path / "other.sqlite"
    _sqlite_cases(path, ["02/01/2023", "01/02/2023", "x"], indexed=False)
    text = MAPPING.replace('reported_at = "tgl"', 'reported_at = { column = "tgl", format = "DD/MM/YYYY" }')
    source = MappedSQLSource(load_mapping_text(text, "walk"), EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        assert isinstance(source._walk, CountedDays)
        page = await source.search_cases(CaseSearch(order=SortOrder.DESC, limit=5))
        assert [c.key for c in page] == ["2", "1", "3"]
        page = await source.search_cases(CaseSearch(order=SortOrder.ASC, limit=5))
        assert [c.key for c in page] == ["3", "1", "2"]
    finally:
        await source.close()


async def test_the_newest_page_reads_a_page_of_rows_not_the_table_on_postgres(walk_database: str) -> None:
    """The walk is what PostgreSQL executes: no plan node reads more than a few pages' rows."""
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT NOT NULL)")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.execute(
            "INSERT INTO kasus SELECT i, to_char(date '2020-01-01' + (i % 1500), 'YYYY-MM-DD') "
            "FROM generate_series(1, 20000) AS i"
        )
        await connection.execute("ANALYZE kasus")
        source = MappedSQLSource(_mapping(), EngineOptions(walk_database))
        await source.open()
        try:
            with recorded(source) as sent:
                page = await source.search_cases(CaseSearch(order=SortOrder.DESC, limit=21))
        finally:
            await source.close()
        assert len(sent) == 1 and len(page) == 21
        statement, parameters = sent[0]
        plan = await connection.fetch(
            "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) " + statement, *parameters
        )
    finally:
        await connection.close()
    root = json_plan(plan)
    rows_read = _rows_per_node(root)
    assert max(rows_read) < 200, rows_read  # 20,000 rows in the table; ~14 a day
    # The page's rows take their day from the walk, which parsed it already: the rows' own
    # output parses no date (issue 13).
    assert not any("pg_input_is_valid" in column for column in root["Output"]), root["Output"]


def _rows_per_node(plan: dict[str, Any]) -> list[float]:
    rows = [float(plan.get("Actual Rows", 0)) * float(plan.get("Actual Loops", 1))]
    for child in plan.get("Plans", []):
        rows.extend(_rows_per_node(child))
    return rows


# --- Unix seconds in an integer column ----------------------------------------------------------

UNIX_MAPPING = MAPPING.replace('reported_at = "tgl"', 'reported_at = { column = "tgl", format = "unix" }')
UNIX_DAYS = [-2, -1, 0, 19_358, 19_359, 19_360]  # 1969-12-30 … 2023-01-01 … 2023-01-03
unix_whole = st.builds(
    lambda day, offset: day * 86_400 + offset,
    st.sampled_from(UNIX_DAYS),
    st.sampled_from([0, 0, 1, 43_200, 86_399]),
)
unix_junk = st.sampled_from([100_000_000_000, -100_000_000_000])  # 12 digits: not read
unix_registers = st.lists(st.one_of(unix_whole, unix_whole, unix_junk, st.none()), min_size=8, max_size=60)
# SQLite keeps what an INTEGER column is given when it is not an integer: fractions and text.
sqlite_unix_registers = st.lists(
    st.one_of(
        unix_whole,
        unix_whole,
        unix_junk,
        st.none(),
        st.builds(lambda whole: whole + 0.5, unix_whole),
        st.sampled_from([-0.5, -86_400.5, "abc", ""]),
    ),
    min_size=8,
    max_size=60,
)
unix_ranges = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([None, "1969-12-31", "2023-01-01", "2023-01-02"]),
        st.sampled_from([None, "1969-12-31", "2023-01-01", "2023-01-02"]),
    ),
)


@settings(DATABASE_PROPERTIES, max_examples=20)
@given(values=sqlite_unix_registers, size=st.sampled_from([1, 2, 3, 7]), span=unix_ranges)
async def test_walked_unix_seconds_follow_the_canonical_order_on_sqlite(
    tmp_path: Path, values: list[Any], size: int, span: Any
) -> None:
    path = tmp_path / f"unix-{uuid.uuid4().hex}.sqlite"
    _sqlite_cases(path, values, column_type="INTEGER")
    async with sqlite_source(load_mapping_text(UNIX_MAPPING, "walk"), path) as source:
        # With the compact Unix expression (adapters/sqldates.py) SQLite parses the walk too.
        await check(source, values, size, span, unix_day, walked=True)


@settings(DATABASE_PROPERTIES, max_examples=12)
@given(
    values=unix_registers,
    size=st.sampled_from([1, 3, 7]),
    span=unix_ranges,
    column=st.sampled_from(["BIGINT", "INTEGER"]),
)
async def test_walked_unix_seconds_follow_the_canonical_order_on_postgres(
    walk_database: str, values: list[Any], size: int, span: Any, column: str
) -> None:
    if column == "INTEGER":  # a 32-bit column: the walk's 11-digit bounds must still fit
        values = [v for v in values if v is None or -(2**31) <= v < 2**31] or [None]
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute(f"CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl {column})")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", list(enumerate(values, start=1)))
    finally:
        await connection.close()
    source = MappedSQLSource(load_mapping_text(UNIX_MAPPING, "walk"), EngineOptions(walk_database))
    await source.open()
    try:
        await check(source, values, size, span, unix_day)
    finally:
        await source.close()


# --- formats no index orders: counts per distinct raw value (adapters.datewalk.CountedDays) -----

DMY_MAPPING = MAPPING.replace(
    'reported_at = "tgl"', 'reported_at = { column = "tgl", format = ["DD/MM/YYYY", "D MMMM YYYY"] }'
)
DMY_DAYS = [(30, 12, 2022), (31, 12, 2022), (1, 1, 2023), (2, 1, 2023), (29, 2, 2024), (10, 7, 2023)]
MONTH_NAMES = {1: "Januari", 2: "Feb", 7: "juli", 12: "December"}
dmy_texts = st.builds(
    lambda day, style, suffix, left: (
        left
        + (
            f"{day[0]:02d}/{day[1]:02d}/{day[2]}"
            if style == 0
            else f"{day[0]}/{day[1]}/{day[2]}"
            if style == 1
            else f"{day[0]} {MONTH_NAMES[day[1]]} {day[2]}"
        )
        + suffix
    ),
    st.sampled_from(DMY_DAYS),
    st.sampled_from([0, 0, 1, 2]),
    st.sampled_from(["", "", " 08:00", " "]),
    st.sampled_from(["", "", " "]),
)
dmy_junk = st.sampled_from(
    [
        "29/02/2023",
        "31/04/2023",
        "00/01/2023",
        "01/13/2023",
        "2023-01-01",
        "1/1/0000",
        "x",
        "",
        " ",
        "32 Juli 2023",
    ]
)
dmy_registers = st.lists(st.one_of(dmy_texts, dmy_texts, dmy_junk, st.none()), min_size=8, max_size=60)
_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})( .*)?", re.DOTALL)
_NAMED = re.compile(r"([0-9]{1,2}) ([A-Za-z]+) ([0-9]{4})( .*)?", re.DOTALL)
_MONTHS = {"januari": 1, "feb": 2, "juli": 7, "december": 12}


def dmy_day(text: str | None) -> str | None:
    """``DD/MM/YYYY`` (one- or two-digit parts, a time after a space), else ``D MMMM YYYY``:
    the value layer's rule for the names drawn here, written out independently."""
    if text is None:
        return None
    trimmed = text.strip(" ")
    numeric, named = _DMY.fullmatch(trimmed), _NAMED.fullmatch(trimmed)
    if numeric:
        parts = (int(numeric[3]), int(numeric[2]), int(numeric[1]))
    elif named and named[2].lower() in _MONTHS:
        parts = (int(named[3]), _MONTHS[named[2].lower()], int(named[1]))
    else:
        return None
    try:
        return date(*parts).isoformat() if parts[0] > 0 else None
    except ValueError:
        return None


async def check_counted(source: MappedSQLSource, texts: list[Any], size: int, span: Any) -> None:
    assert isinstance(source._walk, CountedDays), "pages must count cases per distinct value"
    await check(source, texts, size, span, dmy_day)


@settings(DATABASE_PROPERTIES, max_examples=25)
@given(texts=dmy_registers, size=st.sampled_from([1, 2, 3, 7]), span=ranges)
async def test_counted_pages_follow_the_canonical_order_on_sqlite(
    tmp_path: Path, texts: list[str | None], size: int, span: Any
) -> None:
    path = tmp_path / f"counted-{uuid.uuid4().hex}.sqlite"
    _sqlite_cases(path, texts)
    async with sqlite_source(load_mapping_text(DMY_MAPPING, "walk"), path) as source:
        await check_counted(source, texts, size, span)


@settings(DATABASE_PROPERTIES, max_examples=15)
@given(texts=dmy_registers, size=st.sampled_from([1, 3, 7]), span=ranges)
async def test_counted_pages_follow_the_canonical_order_on_postgres(
    walk_database: str, texts: list[str | None], size: int, span: Any
) -> None:
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", list(enumerate(texts, start=1)))
    finally:
        await connection.close()
    source = MappedSQLSource(load_mapping_text(DMY_MAPPING, "walk"), EngineOptions(walk_database))
    await source.open()
    try:
        await check_counted(source, texts, size, span)
    finally:
        await source.close()


@pytest.mark.parametrize("order", [SortOrder.DESC, SortOrder.ASC])
async def test_a_counted_page_reads_the_day_of_distinct_values_not_of_every_case_on_postgres(
    walk_database: str, order: SortOrder
) -> None:
    """What PostgreSQL executes: the plan nodes that see all 20,000 cases only read or count
    the raw column; the canonical day (its ``pg_input_is_valid``) is computed and sorted on in
    nodes that see the distinct values (1,500 days) or a page's candidates."""
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT NOT NULL)")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.execute(
            "INSERT INTO kasus SELECT i, to_char(date '2020-01-01' + (i % 1500), 'DD/MM/YYYY') "
            "FROM generate_series(1, 20000) AS i"
        )
        await connection.execute("ANALYZE kasus")
        source = MappedSQLSource(load_mapping_text(DMY_MAPPING, "walk"), EngineOptions(walk_database))
        await source.open()
        try:
            with recorded(source) as sent:
                page = await source.search_cases(CaseSearch(order=order, limit=21))
        finally:
            await source.close()
        assert len(page) == 21
        plans = []
        for statement, parameters in sent:
            plan = await connection.fetch(
                "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) " + statement, *parameters
            )
            plans.append(json_plan(plan))
    finally:
        await connection.close()
    wide = [node for plan in plans for node in nodes(plan) if rows_of(node) > 1600]
    assert wide, "some node reads the cases (or their raw values' index)"
    computing = [node["Node Type"] for node in wide if "pg_input_is_valid" in own_text(node)]
    assert not computing, computing


# --- statistics by year and month: each distinct raw value's day, computed once -----------------


async def check_years_and_months(source: MappedSQLSource, texts: list[Any]) -> None:
    assert source._days_repeat, "the raw dates repeat: statistics read them once per distinct value"
    request = StatisticsRequest(Measure.CASES, (Dimension.YEAR, Dimension.MONTH), CaseFilter())
    cells = await source.aggregate(request)
    days = [dmy_day(text) for text in texts]
    wanted = Counter((day[:4], day[:7]) if day else (None, None) for day in days)
    assert cells == dict(wanted), texts


@settings(DATABASE_PROPERTIES, max_examples=15)
@given(texts=dmy_registers)
async def test_statistics_by_year_and_month_read_each_value_as_records_do_on_sqlite(
    tmp_path: Path, texts: list[str | None]
) -> None:
    texts = texts * REPEATS_ENOUGH
    path = tmp_path / f"stats-{uuid.uuid4().hex}.sqlite"
    _sqlite_cases(path, texts, indexed=False)
    async with sqlite_source(load_mapping_text(DMY_MAPPING, "walk"), path) as source:
        await check_years_and_months(source, texts)


@settings(DATABASE_PROPERTIES, max_examples=10)
@given(texts=dmy_registers)
async def test_statistics_by_year_and_month_read_each_value_as_records_do_on_postgres(
    walk_database: str, texts: list[str | None]
) -> None:
    texts = texts * REPEATS_ENOUGH
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", list(enumerate(texts, start=1)))
    finally:
        await connection.close()
    source = MappedSQLSource(load_mapping_text(DMY_MAPPING, "walk"), EngineOptions(walk_database))
    await source.open()
    try:
        await check_years_and_months(source, texts)
    finally:
        await source.close()


async def test_statistics_compute_the_day_of_distinct_values_not_of_every_case_on_postgres(
    walk_database: str,
) -> None:
    """Cases by year on PostgreSQL: no plan node that sees all 20,000 cases computes a day."""
    computing = await _cases_by_year_nodes_computing_days(
        walk_database,
        [
            "INSERT INTO kasus SELECT i, to_char(date '2020-01-01' + (i % 1500), 'DD/MM/YYYY') "
            "FROM generate_series(1, 20000) AS i"
        ],
        load_mapping_text(DMY_MAPPING, "walk"),
        wide=1600,
    )
    assert not computing, computing


async def _cases_by_year_nodes_computing_days(
    walk_database: str, fill: list[str], mapping: Any, wide: int
) -> list[str]:
    """Cases by year of the 20,000 cases ``fill`` writes (2020–2024): the plan nodes of the
    statistics statement that see more than ``wide`` rows and compute a day."""
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT NOT NULL)")
        for statement in fill:
            await connection.execute(statement)
        await connection.execute("ANALYZE kasus")
        source = MappedSQLSource(mapping, EngineOptions(walk_database))
        await source.open()
        try:
            with recorded(source) as sent:
                by_year = StatisticsRequest(Measure.CASES, (Dimension.YEAR,), CaseFilter())
                cells = await source.aggregate(by_year)
        finally:
            await source.close()
        assert sum(cells.values()) == 20000 and set(cells) == {(str(y),) for y in range(2020, 2025)}
        (statement, parameters), *_ = sent
        plan = await connection.fetch(
            "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON) " + statement, *parameters
        )
    finally:
        await connection.close()
    wide_nodes = [node for node in nodes(json_plan(plan)) if rows_of(node) > wide]
    assert wide_nodes, "some node reads the cases"
    return evaluating(json_plan(plan), "pg_input_is_valid", wide)


# --- statistics of date-times: each day computed once per date part (adapters.sqldates.day_key) --
#
# A register whose ISO date-times are one raw value a case (bp2mi's ``YYYY-MM-DD HH:MM:SS``) has
# no repeated raw value to key the day by; its date part does repeat. The day read on the date
# part must be the day read on the whole value, for every text: times, ``T``, spaces around,
# an 11th character that is not a separator, impossible days, junk, NULL. Compared with the
# independent reading :func:`canonical_day`.

datetime_texts = st.builds(
    lambda day, time, left, right: f"{left}{day}{time}{right}",
    st.sampled_from(DAYS),
    st.one_of(
        st.sampled_from(["", " ", "T", "  08:00", "T23:59:59Z", " junk"]),
        st.builds(lambda s: f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}", st.integers(0, 86399)),
        st.builds(lambda s: f"T{s // 3600:02d}:{s // 60 % 60:02d}", st.integers(0, 86399)),
    ),
    st.sampled_from(["", "", " ", "  "]),
    st.sampled_from(["", "", " "]),
)
datetime_junk = st.sampled_from(
    [
        "2023-01-0108:00",  # the 11th character is a digit
        "2023-01-01x08:00",
        "2023-01-01\t08:00",  # only spaces separate
        "2023-01-01-08:00",
        "2023-02-29 08:00",
        "2023-13-01 08:00",
        "0000-01-01 08:00",
        "2023-1-01 08:00:00",
        "x2023-01-01 08:00",
        "2023-01-0",
        "2023-01-0 1",
        "",
        " ",
        "08:00",
    ]
)
datetime_registers = st.lists(
    st.one_of(datetime_texts, datetime_texts, datetime_junk, st.none()), min_size=8, max_size=60
)


def with_unique_times(texts: list[str | None]) -> list[str | None]:
    """``texts`` plus date-times of their own (as many as they and 120 more), so the raw values
    cannot repeat :data:`REPEATS_ENOUGH` times on average while their date parts (at most ~30
    distinct) do: the statistics must key the day by the date part."""
    filler = [f"{DAYS[i % len(DAYS)]} {i // 60:02d}:{i % 60:02d}:07" for i in range(len(texts) + 120)]
    return [*texts, *filler]


async def check_date_parts(source: MappedSQLSource, texts: list[Any]) -> None:
    reader = source.day_reader
    assert reader is not None and not source._days_repeat, "statistics key the day by its date part"
    request = StatisticsRequest(Measure.CASES, (Dimension.YEAR, Dimension.MONTH), CaseFilter())
    cells = await source.aggregate(request)
    days = [canonical_day(text) for text in texts]
    wanted = Counter((day[:4], day[:7]) if day else (None, None) for day in days)
    assert cells == dict(wanted), texts
    # The same cases through a filter on the report date: the frame's day and the filter's agree.
    span = CaseFilter(reported_from=date(2022, 12, 31), reported_to=date(2023, 1, 2))
    cells = await source.aggregate(StatisticsRequest(Measure.CASES, (Dimension.YEAR,), span))
    inside = Counter((day[:4],) for day in days if day is not None and "2022-12-31" <= day <= "2023-01-02")
    assert cells == dict(inside), texts


@settings(DATABASE_PROPERTIES, max_examples=20)
@given(texts=datetime_registers)
async def test_statistics_of_date_times_read_each_value_as_records_do_on_sqlite(
    tmp_path: Path, texts: list[str | None]
) -> None:
    texts = with_unique_times(texts)
    path = tmp_path / f"stats-{uuid.uuid4().hex}.sqlite"
    _sqlite_cases(path, texts)
    async with sqlite_source(_mapping(), path) as source:
        await check_date_parts(source, texts)


@settings(DATABASE_PROPERTIES, max_examples=12)
@given(texts=datetime_registers)
async def test_statistics_of_date_times_read_each_value_as_records_do_on_postgres(
    walk_database: str, texts: list[str | None]
) -> None:
    texts = with_unique_times(texts)
    connection = await asyncpg.connect(walk_database)
    try:
        await connection.execute("DROP TABLE IF EXISTS kasus")
        await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
        await connection.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
        await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", list(enumerate(texts, start=1)))
    finally:
        await connection.close()
    source = MappedSQLSource(_mapping(), EngineOptions(walk_database))
    await source.open()
    try:
        await check_date_parts(source, texts)
    finally:
        await source.close()


@pytest.mark.parametrize(
    ("formats", "keyed"),
    [
        ('"YYYY-MM-DD"', True),
        ('"YYYY-MM-DD HH:MM:SS"', True),  # the old spelling of the same format
        ('["YYYY-MM-DD", "DD/MM/YYYY"]', False),  # a numeric pattern reads up to the first space
        ('"DD-MM-YYYY"', False),
        ('"serial"', False),
    ],
)
async def test_only_an_iso_text_date_is_keyed_by_its_date_part(
    tmp_path: Path, formats: str, keyed: bool
) -> None:
    """Decided from the declared formats when the mapping is compiled, not from the values."""
    path = tmp_path / "keyed.sqlite"
    _sqlite_cases(path, with_unique_times([]))
    declared = f'reported_at = {{ column = "tgl", format = {formats} }}'
    mapping = MAPPING.replace('reported_at = "tgl"', declared)
    source = MappedSQLSource(load_mapping_text(mapping, "walk"), EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        assert (source.day_reader is not None) is keyed
        assert not source._days_repeat
    finally:
        await source.close()


async def test_statistics_of_date_times_compute_the_day_of_date_parts_not_of_every_case_on_postgres(
    walk_database: str,
) -> None:
    """Cases by year on PostgreSQL, one date-time a case: no plan node that sees all 20,000
    cases computes a day."""
    # 20,000 × 131 minutes from 2020-01-01 00:00 ends in 2024-12-27.
    computing = await _cases_by_year_nodes_computing_days(
        walk_database,
        [
            "INSERT INTO kasus SELECT i, to_char(timestamp '2020-01-01' + i * interval '131 minutes', "
            "'YYYY-MM-DD HH24:MI:SS') FROM generate_series(1, 20000) AS i",
            "CREATE INDEX ix_tgl ON kasus (tgl)",
        ],
        _mapping(),
        wide=2000,
    )
    assert not computing, computing


async def test_the_open_sends_its_probes_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk's trial page, the byte-order probe and the day-key probe are independent: sent
    concurrently, a source that takes seconds a statement opens in the time of one, within the
    open's time limit of one call (`python -m bench.faults`: lpsk, 2 s a statement, no longer
    opened once the probes were added one after another)."""
    import asyncio
    import contextlib

    from adapters.runner import StatementRunner

    path = tmp_path / "probes.sqlite"
    _sqlite_cases(path, with_unique_times([]))
    original = StatementRunner.fetch
    in_flight, most, together = 0, 0, asyncio.Event()

    async def fetch(self: StatementRunner, stmt: Any, parameters: Any = None) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight >= 3:
            together.set()
        try:
            # Held until three statements are out at once (a bound, not a measurement: one after
            # another, each waits it out and the assertion below fails).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await together.wait()
            return await original(self, stmt, parameters)
        finally:
            in_flight -= 1

    monkeypatch.setattr(StatementRunner, "fetch", fetch)
    source = MappedSQLSource(_mapping(), EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        assert most == 3, "trial page, byte-order probe and day-key probe sent at once"
        assert source._walk is not None and source.day_reader is not None
    finally:
        await source.close()
