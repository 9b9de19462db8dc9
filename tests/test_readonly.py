"""No write can reach an agency database through the hub's connections."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

WRITES = [
    "UPDATE laporan_polisi SET satker = 'x'",
    "DELETE FROM korban",
    "INSERT INTO tahapan (id, no_lp, tahap, tgl) VALUES (999999, 'x', 'LIDIK', '01/01/2020')",
    "CREATE TABLE hub_was_here (x INTEGER)",
]


@pytest.mark.parametrize("statement", WRITES)
async def test_sqlite_source_rejects_writes(hub: Any, demo_dir: Any, statement: str) -> None:
    import sqlite3

    before = sqlite3.connect(demo_dir / "polri.sqlite").execute("SELECT count(*) FROM korban").fetchone()
    engine = hub.registry.get("polri").source._engine
    with pytest.raises(DBAPIError, match=r"readonly|read-only|query_only"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    after = sqlite3.connect(demo_dir / "polri.sqlite").execute("SELECT count(*) FROM korban").fetchone()
    assert before == after


async def test_every_sqlite_connection_bounds_its_page_cache(hub: Any) -> None:
    """Each pooled connection keeps its own page cache: bounded, or the hub's memory grows with
    every connection the pool opens (bench.faults). A negative ``cache_size`` is KiB."""
    from adapters.engines import SQLITE_CACHE_KIB

    engine = hub.registry.get("polri").source._engine
    async with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB < 2000, "below SQLite's default of 2,000 KiB"
