"""A busy hub keeps its connections: no new database session per page under load (issue 13).

Connections beyond an engine's pool are closed when returned. If the engine's concurrent calls
into a source (``DEFAULT_SLOTS``, each up to two statements at once) can use more connections
than the pool keeps, every burst opens new ones: on PostgreSQL a new backend, whose statements
are then prepared and planned again. A pool of 8 under 32 concurrent portal pages opened a new
session every ten pages.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from adapters.engines import EngineOptions
from hub.engine.sources import DEFAULT_SLOTS
from hub.server.examples import PORTAL_LIST


def test_the_pool_keeps_what_the_slots_can_use() -> None:
    assert EngineOptions(url="sqlite://").pool_size >= 2 * DEFAULT_SLOTS


async def test_concurrent_pages_close_no_connection(pg_hub: Any) -> None:
    """Connections are opened as the load needs them and kept: none is closed on return."""
    engines = [entry.source._engine for entry in pg_hub.registry.all()]
    closed = [0]

    def count(*_args: Any) -> None:
        closed[0] += 1

    async def pages(rounds: int) -> None:
        async def one() -> None:
            for _ in range(rounds):
                result = await pg_hub.execute(PORTAL_LIST, {"after": None})
                assert not result.errors, result.errors

        await asyncio.gather(*(one() for _ in range(32)))

    for engine in engines:
        event.listen(engine.sync_engine, "close", count)
    try:
        await pages(3)
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "close", count)
    assert closed[0] == 0, f"{closed[0]} connections closed during 96 concurrent pages"
