"""Reflecting the tables a mapping names, once, for the adapter and for ``adapter check``.

Both the source (at open) and the conformance check need the same answer: which of the
tables the mapping names exist — its parts' tables, their joins' and the child tables of
multi-valued fields — as SQLAlchemy :class:`Table` objects, and which are missing. Views
count as tables: agencies often expose a reporting view to the hub rather than base tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.mapping import ChildValues, Part, SourceMapping


def tables_of_part(part: Part) -> set[str]:
    """The tables a part reads: its own, its joins', its child tables'."""
    names = {part.table, *(j.table for j in part.joins)}
    names.update(s.table for s in part.fields.values() if isinstance(s, ChildValues))
    return names


def tables_named(mapping: SourceMapping) -> set[str]:
    """Every table the mapping reads."""
    names: set[str] = set()
    for parts in mapping.parts.values():
        for part in parts:
            names |= tables_of_part(part)
    return names


async def reflect_tables(engine: AsyncEngine, wanted: set[str]) -> tuple[dict[str, Table], list[str]]:
    """The ``wanted`` tables that exist (by name) and the sorted names of those that do not.

    Raises :class:`sqlalchemy.exc.SQLAlchemyError` when the schema cannot be read; callers
    turn it into their own error.
    """
    metadata = MetaData()

    def reflect(sync_conn: Any) -> list[str]:
        inspector = inspect(sync_conn)
        existing = set(inspector.get_table_names()) | set(inspector.get_view_names())
        metadata.reflect(sync_conn, only=sorted(wanted & existing), views=True)
        return sorted(wanted - existing)

    async with engine.connect() as conn:
        missing = await conn.run_sync(reflect)
    return {t.name: t for t in metadata.tables.values()}, missing
