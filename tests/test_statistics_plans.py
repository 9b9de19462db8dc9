"""How the statistics statements are executed, read from the databases' own plans.

The numbers themselves are checked elsewhere against independent readings
(tests/test_properties.py, tests/test_date_walk.py, tests/test_statistics.py); these tests pin
the plan shape that keeps them cheap on a large register (bench/RESULTS.md §4).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adapters.engines import EngineOptions
from adapters.mapping import load_mapping_text
from adapters.sql import MappedSQLSource
from hub.vocabulary.model import CaseFilter, Dimension, Measure, StatisticsRequest
from tests.statements import recorded

MAPPING = """[source]
agency = { code = "PLAN", name = "Statistics plan test agency", type = "OTHER" }
[case]
table = "kasus"
key = "id"
reported_at = "tgl"
region = { column = "kode" }
"""


async def test_sqlite_groups_by_region_reading_the_table_once_not_the_region_index(tmp_path: Path) -> None:
    """SQLite would meet the region groups in the order of the region column's index and fetch
    every case's row at random for its date; the grouped value is marked so no index serves it
    (``+kode``), and the table is read once."""
    path = tmp_path / "plan.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kode TEXT)")
    db.execute("CREATE INDEX ix_kode ON kasus (kode)")
    db.execute("CREATE INDEX ix_tgl ON kasus (tgl)")
    codes = ["32.01", "32.04", "33.74", "35.78", "31.71"]
    rows = [(i, f"202{i % 4}-0{1 + i % 9}-1{i % 10}", codes[i % len(codes)]) for i in range(1, 3001)]
    db.executemany("INSERT INTO kasus VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    source = MappedSQLSource(load_mapping_text(MAPPING, "plan"), EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        with recorded(source) as sent:
            request = StatisticsRequest(Measure.CASES, (Dimension.PROVINCE, Dimension.YEAR), CaseFilter())
            cells = await source.aggregate(request)
    finally:
        await source.close()
    expected: dict[tuple[str | None, ...], int] = {}
    for _key, day, code in rows:
        cell = (code[:2], day[:4])
        expected[cell] = expected.get(cell, 0) + 1
    assert cells == expected
    (statement, parameters), *_ = sent
    db = sqlite3.connect(path)
    try:
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
    finally:
        db.close()
    assert not any("ix_kode" in step for step in plan), plan
