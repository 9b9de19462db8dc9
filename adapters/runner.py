"""Running one read-only SELECT against an agency database: timeouts, retries, clean errors.

Every statement a mapped source sends goes through :meth:`StatementRunner.fetch`, so three
rules hold everywhere at once:

- a statement stops at the source's statement timeout (PostgreSQL ``statement_timeout`` is a
  server setting of the engine; SQLite's statement is
  interrupted from the event loop, because asyncio cannot cancel aiosqlite's thread);
- only failures to *reach* the database are retried (a refused or dropped connection, with a
  short backoff); a statement that failed on a live connection is never repeated;
- error messages name the error type and, for a failed statement, the database's own message
  with its literals removed (see :func:`database_message`) — never SQL, bound parameters or
  connection strings.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import SourceDataError, SourceError, SourceTimeout, count_rows
from adapters.engines import EngineOptions
from adapters.pgdirect import DirectFailure, DirectStatements

#: Pauses before retrying a transient connection failure (then give up).
RETRY_BACKOFF = (0.05, 0.25)

#: Quoted literals in a database message (a value from a row could be personal data).
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


#: PostgreSQL's SQLSTATE for a statement cancelled (``statement_timeout``, a cancel request).
QUERY_CANCELED = "57014"


def is_timeout(exc: SQLAlchemyError) -> bool:
    """A statement cancelled by its timeout: SQLite interrupt, PostgreSQL statement_timeout.

    SQLAlchemy 2.1's asyncpg adapter wraps asyncpg's ``QueryCanceledError`` in a generic
    ``Error`` that keeps the SQLSTATE: the class name alone does not tell.
    """
    original = getattr(exc, "orig", None)
    name = type(original).__name__ if original is not None else ""
    text = str(original).lower() if original is not None else ""
    cancelled = name in {"QueryCanceledError", "QueryCanceled"}
    cancelled = cancelled or getattr(original, "sqlstate", None) == QUERY_CANCELED
    return cancelled or text == "interrupted"


def is_undecodable(exc: SQLAlchemyError) -> bool:
    """The source returned text that is not text (SQLite: bytes in a TEXT column that are not
    UTF-8): its rows cannot be read, which is a data error, not an unavailable source."""
    return "could not decode to utf-8" in str(getattr(exc, "orig", "")).lower()


def is_transient(exc: SQLAlchemyError) -> bool:
    """A failure to reach the database (worth a retry), not a failure of the statement."""
    original = getattr(exc, "orig", None)
    invalidated = bool(getattr(exc, "connection_invalidated", False))
    return invalidated or isinstance(original, OSError | ConnectionError)


def database_message(exc: BaseException) -> str:
    """The database's own first line about a failed statement, with quoted literals removed.

    ``operator does not exist: text > integer`` or ``no such column: tgl`` tell a data officer
    what is wrong; the SQL text, parameters and quoted values (which could be row data) are
    never included.
    """
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    # asyncpg wraps the server's message: "<class '...'>: message"
    text = re.sub(r"^<class '[^']+'>:\s*", "", text)
    text = _QUOTED.sub("'…'", text)
    return text[:200]


class StatementRunner:
    """Sends SELECTs for one source over its read-only engine."""

    def __init__(self, name: str, engine: AsyncEngine, options: EngineOptions) -> None:
        self.name = name
        self.engine = engine
        self.options = options
        #: Statements sent again go straight through asyncpg on PostgreSQL (adapters/pgdirect.py).
        self.direct = (
            DirectStatements(engine)
            if engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
            else None
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    async def fetch(
        self, stmt: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[Sequence[Any]]:
        """Run one SELECT (with values for its bound parameters); retry transient connection
        failures, enforce the statement timeout.

        Raises :class:`SourceTimeout` or :class:`SourceError`; the error's ``detail`` holds the
        database's message without literals (for ``adapter check``), its text only the type.
        """
        for pause in (*RETRY_BACKOFF, None):
            try:
                shape = self.direct.shape(stmt) if self.direct is not None else None
                if shape is not None:
                    rows = await self.direct.fetch(shape, parameters)  # type: ignore[union-attr]
                else:
                    rows = await self._execute(stmt, parameters)
            except DirectFailure as exc:
                if exc.kind == "timeout":
                    raise SourceTimeout(f"source {self.name!r}: statement timed out") from None
                if pause is not None and exc.kind == "disconnect":
                    await asyncio.sleep(pause)
                    continue
                error = SourceError(f"source {self.name!r}: database error ({type(exc.original).__name__})")
                error.detail = database_message(exc.original)
                raise error from None
            except SQLAlchemyError as exc:
                if is_timeout(exc):
                    raise SourceTimeout(f"source {self.name!r}: statement timed out") from None
                if pause is not None and is_transient(exc):
                    await asyncio.sleep(pause)
                    continue
                if is_undecodable(exc):
                    message = f"source {self.name!r}: rows cannot be read (text that is not UTF-8)"
                    raise SourceDataError(message) from None
                error = SourceError(f"source {self.name!r}: database error ({type(exc).__name__})")
                error.detail = database_message(exc)
                raise error from None
            except OSError as exc:
                if pause is not None:
                    await asyncio.sleep(pause)
                    continue
                raise SourceError(f"source {self.name!r}: connection failed ({type(exc).__name__})") from None
            count_rows(len(rows))
            return rows
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _execute(self, stmt: Select[Any], parameters: Mapping[str, Any] | None) -> list[Sequence[Any]]:
        async with self.engine.connect() as conn:
            interrupt = None
            if self.dialect == "sqlite" and self.options.statement_timeout_ms > 0:
                # aiosqlite runs the statement in a thread that asyncio cannot cancel; SQLite's
                # own interrupt stops it at the deadline (docs/architecture.md §7).
                driver = (await conn.get_raw_connection()).driver_connection
                deadline = self.options.statement_timeout_ms / 1000
                interrupt = asyncio.get_running_loop().call_later(
                    deadline, lambda: asyncio.ensure_future(driver.interrupt())
                )
            try:
                result = await (conn.execute(stmt, dict(parameters)) if parameters else conn.execute(stmt))
                return list(result.all())
            finally:
                if interrupt is not None:
                    interrupt.cancel()
