"""Read-only async engines for agency databases, with per-call statement counting.

Every agency database is opened read-only at the driver/session level, not just by
convention: SQLite through a ``mode=ro`` URI plus ``PRAGMA query_only``; PostgreSQL with
``default_transaction_read_only`` as a server setting of every connection. A mapping bug or
an injected statement therefore cannot write.

Statements are counted through an engine event into the running call's
:class:`adapters.base.CallStats`, which is how ``extensions.sources[].statements`` and the
"no N+1" tests see what was sent.

One round trip per statement (issue 13). Server databases run in autocommit: the hub only
reads, one statement per connection checkout, so a transaction around it buys nothing but a
BEGIN and a ROLLBACK round trip each (the read-only guarantee holds for the implicit
transaction of every statement: ``default_transaction_read_only`` / ``transaction_read_only``).
There is no ping per checkout (``pool_pre_ping`` cost another round trip, or two, per
statement). Reconnection is driven by errors instead: a statement on a connection the server
dropped fails with a disconnect, SQLAlchemy then invalidates every pooled connection opened
before it, and the adapter retries the statement once on a fresh one (``_is_transient`` in the
SQL adapter). Statements are cached twice: SQLAlchemy's compiled cache (one compile per
statement shape) and asyncpg's prepared statements per connection (:data:`PREPARED_CACHE`, so a
page's statements are parsed and planned once per connection, not once per request).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.base import CURRENT_CALL
from adapters.cellkeys import register_sqlite


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Connection settings of one source (from the hub configuration)."""

    url: str
    schema: str | None = None
    statement_timeout_ms: int = 10_000
    #: Connections kept open: as many as the engine's concurrent calls into one source can use
    #: at once (``hub.engine.sources.DEFAULT_SLOTS`` calls, each up to two statements at a
    #: time). Connections beyond the pool are closed when returned: a pool of 8 under 32
    #: concurrent portal pages opened a new PostgreSQL session every ten pages (a backend
    #: started, its statements prepared and planned again), PostgreSQL CPU per page 2.0 →
    #: 3.0 ms (issue 13).
    pool_size: int = 12
    max_overflow: int = 4


#: asyncpg prepared statements kept per connection: a source's statement shapes (page, count,
#: each relation by batch size) fit; the default of 100 is shared with introspection.
PREPARED_CACHE = 500
#: Longest statement text asyncpg keeps prepared (its default, 15 KB, would prepare and plan a
#: longer one on every run: a mapped source's value layer can be longer than that).
MAX_CACHED_STATEMENT = 256 * 1024
#: Connections older than this are replaced at checkout (firewalls and PgBouncer drop idle ones
#: silently); well below the usual one-hour limits.
RECYCLE_SECONDS = 1800


def _count_statement(*_args: Any) -> None:
    stats = CURRENT_CALL.get()
    if stats is not None:
        stats.statements += 1


def _sqlite_cell_keys(dbapi_connection: Any, _record: Any) -> None:
    """SQLite has no hash function: the cell-key method's record key is registered (adapters.cellkeys)."""
    register_sqlite(dbapi_connection)


#: Page cache of each SQLite connection, KiB (SQLite's default is 2,000). Every pooled connection
#: keeps its own cache, filled as it reads: at 2 MB, a pool of 12 + 4 connections per source
#: held ~30 MB of copies of the same pages per source, and the hub's memory kept growing under
#: load until every connection had filled its cache (``python -m bench.faults``). The pages
#: are in the operating system's file cache anyway, so a smaller cache costs a system call per
#: page read again, not a disk read (bench, 1M rows: pages and statistics within their noise).
SQLITE_CACHE_KIB = 512


def _sqlite_page_cache(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


#: The async driver module each supported backend needs. Only backends the test suite runs are
#: here: MySQL/MariaDB is refused as unsupported (no server of it runs in the suite).
DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def parse_url(text: str) -> URL:
    """A source URL checked before any engine is built, so a typo is one clear line, not a traceback.

    Raises ``ValueError`` for a URL without a scheme, an unsupported backend (anything but
    SQLite and PostgreSQL, the two the suite tests), or a backend whose async driver is missing.
    The message never repeats the URL (it may hold a password), only its redacted form.
    """
    if "://" not in text:
        raise ValueError(
            "the database URL has no scheme: give sqlite:///path/to/file.sqlite "
            "or postgresql://user@host/database"
        )
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError(f"database URL {redact_url(text)!r} cannot be parsed") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise ValueError(f"unsupported database backend {backend!r} (sqlite, postgresql)")
    if importlib.util.find_spec(DRIVERS[backend]) is None:
        raise ValueError(
            f"this hub cannot open {backend} databases: the driver {DRIVERS[backend]} is not installed"
        )
    return url


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def sqlite_file(options: EngineOptions, base_dir: Path | None = None) -> Path | None:
    """The database file of a SQLite URL (relative paths against ``base_dir``); None otherwise."""
    url = make_url(options.url)
    if url.get_backend_name() != "sqlite":
        return None
    path = Path(url.database or "")
    if not path.is_absolute() and base_dir is not None:
        path = (base_dir / path).resolve()
    return path


def create_readonly_engine(options: EngineOptions, base_dir: Path | None = None) -> AsyncEngine:
    """An async engine that cannot write to the database behind ``options.url``.

    Accepts plain URLs (``sqlite:///relative/file.sqlite``, ``postgresql://…``) and picks the
    async driver; relative SQLite paths are resolved against
    ``base_dir`` (the directory of the configuration file).
    """
    url = parse_url(options.url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = sqlite_file(options, base_dir)
        assert path is not None
        if not path.exists():
            # The full path (a file-system location, never personal data) tells the operator
            # which relative path was resolved against which directory.
            raise FileNotFoundError(f"SQLite database not found: {path}")
        engine = create_async_engine(
            f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true",
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_query_only)
        event.listen(engine.sync_engine, "connect", _sqlite_page_cache)
        event.listen(engine.sync_engine, "connect", _sqlite_cell_keys)
    elif backend == "postgresql":
        settings = {
            "default_transaction_read_only": "on",
            "statement_timeout": str(options.statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(options.statement_timeout_ms * 2),
            "application_name": "tppo-hub",
        }
        if options.schema:
            settings["search_path"] = options.schema
        engine = create_async_engine(
            url.set(drivername="postgresql+asyncpg").update_query_dict(
                {"prepared_statement_cache_size": str(PREPARED_CACHE)}
            ),
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_recycle=RECYCLE_SECONDS,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "server_settings": settings,
                "timeout": 5,
                "command_timeout": options.statement_timeout_ms / 1000 + 1,
                # asyncpg's own cache of prepared statements, used by the direct path
                # (adapters/pgdirect.py) beside SQLAlchemy's.
                "statement_cache_size": PREPARED_CACHE,
                "max_cacheable_statement_size": MAX_CACHED_STATEMENT,
            },
        )
    else:  # parse_url admits only the backends above
        raise ValueError(f"unsupported database backend {backend!r} (sqlite, postgresql)")
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine
