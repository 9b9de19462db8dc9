"""Property tests: a value means the same in a list, a filter, a count and a page — by construction.

Hypothesis draws messy registers (``tests/messy/register.py``: random date formats, junk,
NULLs, duplicated rows, several codes in one cell) and random case filters, on SQLite and on
the real PostgreSQL of the suite. For each, three independent computations of one fact must
agree:

- ``count_cases(filter)`` (a COUNT in the database);
- the records ``search_cases`` returns, paging the filtered cases to the end — and, evaluated
  here in Python on the *unfiltered* records and their victims, the records that satisfy the
  filter;
- the ``statistics`` total with the same filter (GROUP BY in the database).

And paging every case in both orders at several page sizes visits each exactly once and ends.

The examples are derandomized (the same ones on every run, as CI needs); set
``TPPO_HYPOTHESIS_RANDOM=1`` to explore new ones.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.engines import EngineOptions
from adapters.mapping import load_mapping_text
from adapters.sql import MappedSQLSource
from hub.vocabulary import reference
from hub.vocabulary.model import (
    AgeGroup,
    CaseFilter,
    CaseRecord,
    CaseSearch,
    Entity,
    ExploitationType,
    Keyset,
    Measure,
    PersonRecord,
    PersonRole,
    Sex,
    SortOrder,
    StatisticsRequest,
)
from tests.messy.register import DATE_WRITERS, Options, mapping_text, write_postgres, write_sqlite
from tests.opened_sources import sqlite_source
from tests.property_settings import DATABASE_PROPERTIES

registers = st.builds(
    Options,
    cases=st.integers(10, 28),
    date_formats=st.lists(st.sampled_from(sorted(DATE_WRITERS)), min_size=1, max_size=4, unique=True).map(
        tuple
    ),
    junk=st.sampled_from([0.0, 0.1, 0.3]),
    nulls=st.sampled_from([0.0, 0.1, 0.3]),
    duplicates=st.sampled_from([0.0, 0.3]),
    multi_valued=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 10_000),
)


def _some(values: list[Any], most: int = 2) -> st.SearchStrategy[tuple[Any, ...]]:
    """No condition (an empty tuple), or one to ``most`` of ``values``."""
    return st.one_of(
        st.just(()), st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True).map(tuple)
    )


filters = st.builds(
    CaseFilter,
    reported_from=st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2024, 12, 31))),
    reported_to=st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2024, 12, 31))),
    regions=_some(["32", "32.17", "32.7", "32.0", "33"]),
    exploitation_types=_some(list(ExploitationType)),
    victim_sex=_some(list(Sex)),
    victim_age_groups=_some(list(AgeGroup)),
    child_victim=st.one_of(st.none(), st.booleans()),
    countries_of_exploitation=_some(["MY", "SA", "HK", "KH"]),
)


def _matches(case: CaseRecord, victims: list[PersonRecord], f: CaseFilter) -> bool:
    """The filter evaluated here, on a record the hub returned (no SQL involved)."""
    if f.reported_from is not None and (case.reported_at is None or case.reported_at < f.reported_from):
        return False
    if f.reported_to is not None and (case.reported_at is None or case.reported_at > f.reported_to):
        return False
    if f.regions:
        prefixes = [reference.normalize_prefix(p) or "" for p in f.regions]
        if case.region is None or not any(case.region.startswith(p) for p in prefixes):
            return False
    if f.exploitation_types and not set(case.exploitation_types) & set(f.exploitation_types):
        return False
    if f.countries_of_exploitation and case.country not in f.countries_of_exploitation:
        return False
    if f.victim_sex or f.victim_age_groups or f.child_victim is not None:
        return any(
            PersonRole.VICTIM in v.roles
            and (not f.victim_sex or v.sex in f.victim_sex)
            and (not f.victim_age_groups or v.age_group in f.victim_age_groups)
            and (f.child_victim is None or v.is_child is f.child_victim)
            for v in victims
        )
    return True


async def _pages(source: MappedSQLSource, f: CaseFilter, order: SortOrder, size: int) -> list[CaseRecord]:
    """Every case matching ``f``, page by page with keyset cursors; fails if it never ends."""
    seen: list[CaseRecord] = []
    after: Keyset | None = None
    for _ in range(1000):
        page = await source.search_cases(CaseSearch(filter=f, order=order, after=after, limit=size))
        seen.extend(page)
        if len(page) < size:
            return seen
        last = page[-1]
        after = Keyset(last.reported_at, source.name, last.key)
    raise AssertionError("paging did not end")


async def _check_register(source: MappedSQLSource, cases: int, examples: list[CaseFilter], size: int) -> None:
    everything = await _pages(source, CaseFilter(), SortOrder.DESC, 50)
    assert len(everything) == cases
    victims: dict[str, list[PersonRecord]] = {}
    for person in await source.children(Entity.PERSON, "case_key", [c.key for c in everything]):
        victims.setdefault(person.case_key or "", []).append(person)  # type: ignore[union-attr]
    # Paging everything, in both orders, at this page size: each case once, and it ends.
    for order in (SortOrder.ASC, SortOrder.DESC):
        keys = [c.key for c in await _pages(source, CaseFilter(), order, size)]
        assert len(keys) == len(set(keys)) == cases
        dates = [c.reported_at or date.min for c in await _pages(source, CaseFilter(), order, size)]
        assert dates == sorted(dates, reverse=order is SortOrder.DESC)
    for f in examples:
        counted = await source.count_cases(f)
        paged = await _pages(source, f, SortOrder.ASC, size)
        expected = {c.key for c in everything if _matches(c, victims.get(c.key, []), f)}
        cells = await source.aggregate(StatisticsRequest(Measure.CASES, (), f))
        assert counted == len(paged) == len({c.key for c in paged}) == sum(cells.values()), f
        assert {c.key for c in paged} == expected, f
        assert all(_matches(c, victims.get(c.key, []), f) for c in paged), f


@settings(DATABASE_PROPERTIES, max_examples=8)
@given(
    options=registers,
    examples=st.lists(filters, min_size=3, max_size=3),
    size=st.sampled_from([1, 3, 7, 16]),
)
async def test_counts_pages_and_statistics_agree_on_sqlite(
    tmp_path: Path, options: Options, examples: list[CaseFilter], size: int
) -> None:
    path = tmp_path / f"register-{uuid.uuid4().hex}.sqlite"
    truth = write_sqlite(path, options)
    async with sqlite_source(load_mapping_text(mapping_text(truth), "jabar"), path) as source:
        await _check_register(source, options.cases, examples, size)


@pytest.fixture(scope="module")
def register_database(postgres_server: Any) -> str:
    return str(postgres_server.create_database("messy_properties", replace=True))


@settings(DATABASE_PROPERTIES, max_examples=6)
@given(
    options=registers,
    examples=st.lists(filters, min_size=3, max_size=3),
    size=st.sampled_from([1, 4, 16]),
)
async def test_counts_pages_and_statistics_agree_on_postgres(
    register_database: str, options: Options, examples: list[CaseFilter], size: int
) -> None:
    truth = await write_postgres(register_database, options)
    source = MappedSQLSource(
        load_mapping_text(mapping_text(truth), "jabar"), EngineOptions(register_database)
    )
    await source.open()
    try:
        await _check_register(source, options.cases, examples, size)
    finally:
        await source.close()
