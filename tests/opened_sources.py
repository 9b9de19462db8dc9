"""Mapped sources opened over a register file for the length of a block (property tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from adapters.engines import EngineOptions
from adapters.mapping import SourceMapping
from adapters.sql import MappedSQLSource


@asynccontextmanager
async def sqlite_source(mapping: SourceMapping, path: Path) -> AsyncIterator[MappedSQLSource]:
    """A source of ``mapping`` over the SQLite file ``path``, open for the block; the file is
    removed afterwards (hypothesis writes one per example into the same temporary folder)."""
    source = MappedSQLSource(mapping, EngineOptions(f"sqlite:///{path}"))
    await source.open()
    try:
        yield source
    finally:
        await source.close()
        path.unlink(missing_ok=True)
