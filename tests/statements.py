"""The SQL statements a source sends, recorded for tests that look at their shape or plan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from adapters.sql import MappedSQLSource


@contextmanager
def recorded(source: MappedSQLSource) -> Iterator[list[tuple[str, Any]]]:
    """``(statement, parameters)`` of every statement ``source`` sends while the block runs.

    Listens on the engine's ``before_cursor_execute``, which the direct asyncpg path
    (adapters/pgdirect.py) dispatches too, so both paths are seen.
    """
    assert source._engine is not None, "open the source first"
    engine = source._engine.sync_engine
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
