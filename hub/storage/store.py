"""The hub's own store: registered sources, the linkage index and the audit log — nothing else.

It never holds agency data: only derived, non-identifying indexes and the hub's own records
(docs/architecture.md §2). SQLite by default (a file next to the configuration); a PostgreSQL URL lets
several hub replicas share it. Modules that keep tables here declare them on :data:`metadata`
at import time; :meth:`Store.open` creates what is missing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: Tables of the hub's store (audit log, linkage index, …) register here.
metadata = MetaData()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """An async engine on the hub's store database, with its tables created."""

    def __init__(self, url: str, base_dir: Path | None = None) -> None:
        self.url = url
        self.base_dir = base_dir
        self._engine: AsyncEngine | None = None

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not open")
        return self._engine

    async def open(self) -> None:
        url = make_url(self.url)
        backend = url.get_backend_name()
        if backend == "sqlite":
            path = Path(url.database or "hub-store.sqlite")
            if not path.is_absolute() and self.base_dir is not None:
                path = self.base_dir / path
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        elif backend == "postgresql":
            engine = create_async_engine(url.set(drivername="postgresql+asyncpg"), pool_pre_ping=True)
        else:
            raise ValueError(f"unsupported store backend {backend!r} (sqlite, postgresql)")
        for attempt in range(5):
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                break
            except SQLAlchemyError:
                # Another worker or replica created the same tables at the same moment
                # ("already exists"): look again; a real problem fails every attempt.
                if attempt == 4:
                    await engine.dispose()
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        self._engine = engine

    async def ping(self) -> bool:
        """Whether the store answers (for ``/readyz``)."""
        if self._engine is None:
            return False
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
