"""Mapping features for real schemas: link tables, row filters, code-list defaults, yes/no flags.

A small agency database is built here with sqlite3; expected values are written out from the
rows inserted, not computed by the adapter.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adapters.engines import EngineOptions
from adapters.mapping import parse_mapping
from adapters.sql import MappedSQLSource
from hub.vocabulary.model import (
    AgeGroup,
    CaseFilter,
    CaseSearch,
    Dimension,
    Entity,
    ExploitationType,
    Measure,
    PersonRole,
    StatisticsRequest,
)

MAPPING: dict[str, Any] = {
    "source": {"agency": {"code": "KEMENSOS", "name": "Kementerian Sosial", "type": "SOCIAL_REHAB_CENTRE"}},
    "case": {
        "table": "rujukan",
        "key": "id",
        "where": {"jenis_kasus": ["TPPO", "TPPO-ANAK"]},
        "reported_at": "tanggal",
        "exploitation_types": {"column": "bentuk", "codes": "bentuk"},
    },
    "person": {
        "table": "rujukan_klien",  # link table: a client may be referred in several cases
        "key": "id",
        "joins": [{"table": "klien", "on": {"id_klien": "id_klien"}}],
        "case_key": "id_rujukan",
        "roles": {"value": "VICTIM"},
        "child": {"column": "klien.anak", "format": "boolean"},
        "full_name": "klien.nama",
    },
    "codes": {"bentuk": {"SEKS": "SEXUAL_EXPLOITATION", "*": "OTHER"}},
}


@pytest.fixture()
async def source(tmp_path: Path) -> Any:
    db = sqlite3.connect(tmp_path / "kemensos.sqlite")
    db.executescript(
        """
        CREATE TABLE rujukan (id INTEGER PRIMARY KEY, tanggal TEXT, jenis_kasus TEXT, bentuk TEXT);
        CREATE TABLE klien (id_klien INTEGER PRIMARY KEY, nama TEXT, anak TEXT);
        CREATE TABLE rujukan_klien (id INTEGER PRIMARY KEY, id_rujukan INTEGER, id_klien INTEGER);
        INSERT INTO rujukan VALUES (1, '2023-01-05', 'TPPO', 'SEKS'), (2, '2023-02-01', 'KDRT', 'SEKS'),
            (3, '2023-03-01', 'TPPO-ANAK', 'MENGEMIS'), (4, '2023-04-01', 'TPPO', NULL);
        INSERT INTO klien VALUES (10, 'A', 'Ya'), (11, 'B', 'Tidak'), (12, 'C', 'T');
        INSERT INTO rujukan_klien VALUES (100, 1, 10), (101, 3, 10), (102, 3, 11), (103, 4, 12), (104, 2, 11);
        """
    )
    db.commit()
    db.close()
    src = MappedSQLSource(
        parse_mapping(MAPPING, "kemensos"), EngineOptions("sqlite:///kemensos.sqlite"), tmp_path
    )
    await src.open()
    yield src
    await src.close()


async def test_row_filter_keeps_only_trafficking_cases(source: Any) -> None:
    cases = await source.search_cases(CaseSearch(limit=10))
    assert sorted(c.key for c in cases) == ["1", "3", "4"]
    assert await source.count_cases(CaseFilter()) == 3


async def test_code_list_default_and_null(source: Any) -> None:
    cases = {c.key: c.exploitation_types for c in await source.search_cases(CaseSearch(limit=10))}
    assert cases == {
        "1": (ExploitationType.SEXUAL_EXPLOITATION,),
        "3": (ExploitationType.OTHER,),  # MENGEMIS is not listed: the "*" default
        "4": (ExploitationType.UNKNOWN,),  # nothing recorded
    }
    other = await source.search_cases(
        CaseSearch(filter=CaseFilter(exploitation_types=(ExploitationType.OTHER,)))
    )
    assert [c.key for c in other] == ["3"]


async def test_link_table_gives_one_record_per_case_and_person(source: Any) -> None:
    people = await source.children(Entity.PERSON, "case_key", ["1", "3", "4"])
    assert sorted((p.case_key, p.key, p.full_name) for p in people) == [
        ("1", "100", "A"),
        ("3", "101", "A"),
        ("3", "102", "B"),
        ("4", "103", "C"),
    ]
    assert all(p.roles == (PersonRole.VICTIM,) for p in people)


async def test_yes_no_child_flag(source: Any) -> None:
    people = {p.key: p for p in await source.children(Entity.PERSON, "case_key", ["1", "3", "4"])}
    assert (people["100"].is_child, people["102"].is_child, people["103"].is_child) == (True, False, False)
    assert people["100"].age_group is AgeGroup.UNKNOWN
    child_cases = await source.search_cases(CaseSearch(filter=CaseFilter(child_victim=True)))
    assert sorted(c.key for c in child_cases) == ["1", "3"]
    adult_cases = await source.search_cases(CaseSearch(filter=CaseFilter(child_victim=False)))
    assert sorted(c.key for c in adult_cases) == ["3", "4"]


async def test_statistics_respect_the_row_filter(source: Any) -> None:
    cells = await source.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.EXPLOITATION_TYPE,)))
    assert cells == {("SEXUAL_EXPLOITATION",): 1, ("OTHER",): 2, ("UNKNOWN",): 1}


async def test_child_dimension_uses_the_flag_when_no_age_is_known(source: Any) -> None:
    cells = await source.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.CHILD,)))
    assert cells == {("true",): 2, ("false",): 2}
