"""Fixed-shape statements on PostgreSQL sent straight through asyncpg (issue 13).

SQLAlchemy's execution layer costs more CPU than the statement itself: for each call it opens an
``AsyncConnection`` (two greenlet switches), walks the statement for its cache key, builds an
execution context, expands the ``IN`` lists into a new SQL string, and wraps every row in a
``Row``. For the portal page's four statements that was 2.8–3.5 ms of the hub's CPU against
1.1–1.3 ms for the same statements as asyncpg prepared statements on the same pooled
connections (in-process, alternating, medians of 100 pages).

A statement the adapter sends again (the same statement object: the fixed shapes that
:meth:`adapters.sql.SqlSource._statement` builds once) is therefore compiled once here and
afterwards run as asyncpg's own prepared statement on a connection of the engine's pool: one
pool, the same read-only settings and timeouts, the same connections (so ``pg_prepared_statements``
and the pool's events see what they saw). What the layer still did is kept:

- each statement is announced through the engine's ``before_cursor_execute`` event with its SQL
  and positional values, so statement counters (``extensions.sources[].statements``) and
  anything else listening see every statement, as before (the event's connection, cursor and
  execution context are None: no SQLAlchemy connection is involved);
- ``IN`` lists and values written into the text (``literal_execute``: the page size) are
  rendered by SQLAlchemy's own :meth:`SQLCompiler.construct_expanded_state`, once per list
  length and literal value, and the values are then placed by position (checked against
  SQLAlchemy's expansion when the shape is first seen);
- only statements whose values need no conversion take this path: no bind processors, and
  result columns of types asyncpg returns as SQLAlchemy would (integers, text, booleans, dates,
  untyped expressions). Anything else, and every statement seen for the first time, goes
  through SQLAlchemy as before;
- a failure is reported as what it is (:class:`DirectFailure`: a timeout, a lost connection —
  after which every connection opened before it is replaced, as SQLAlchemy does on a
  disconnect — or a statement the database refused), and the runner retries or reports it by
  the same rules as the SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType
from sqlalchemy.util.concurrency import greenlet_spawn

#: Statement objects remembered (seen once, or compiled): a source's fixed shapes fit easily;
#: statements built per request pass through and are forgotten.
MAX_STATEMENTS = 256
#: Expansions kept per statement (one per length of its ``IN`` lists).
MAX_EXPANSIONS = 512
#: Result column types whose values asyncpg returns exactly as SQLAlchemy's asyncpg dialect
#: hands them on (no result processor): ``int``, ``str``, ``bool``, ``datetime.date``.
_PLAIN_RESULTS = (Integer, String, Boolean, Date, NullType)

#: asyncpg errors that mean the connection (not the statement) failed.
_DISCONNECTS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    OSError,
    ConnectionError,
)

#: Errors of a statement or of the client's protocol state. ``InternalClientError`` is what
#: asyncpg raises when the server ends the session while a statement is in flight (a backend
#: terminated mid-protocol); it derives from ``Exception`` only, so it is named here: with the
#: connection closed it is a disconnect (retried on a fresh connection), else an error.
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)

Getter = Callable[[Mapping[str, Any]], Any]


class DirectFailure(Exception):
    """A statement sent directly failed: ``kind`` is ``timeout``, ``disconnect`` or ``error``."""

    def __init__(self, kind: str, original: BaseException) -> None:
        super().__init__(kind)
        self.kind = kind
        self.original = original


@dataclass(slots=True)
class _Expansion:
    """One SQL text of a statement (for given ``IN`` list lengths) and how to place its values."""

    sql: str
    #: Per position: a function of the call's parameters; None when values must be expanded
    #: by SQLAlchemy on every call (a list of tuples, a callable bind value).
    getters: tuple[Getter, ...] | None


@dataclass(slots=True)
class _Shape:
    compiled: SQLCompiler
    #: Parameter keys whose values are lists (expanded per call).
    expanding: tuple[str, ...]
    #: Parameter keys whose values are written into the SQL text (``literal_execute``).
    literal: tuple[str, ...]
    expansions: OrderedDict[tuple[Any, ...], _Expansion] = field(default_factory=OrderedDict)


class DirectStatements:
    """The direct path of one PostgreSQL engine: which statements take it, and running them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        #: id(statement) → (statement, its shape, or None if it cannot take the direct path);
        #: the statement itself is kept so its id is not reused while remembered.
        self._shapes: OrderedDict[int, tuple[Any, _Shape | None]] = OrderedDict()
        #: id(statement) → a weak reference to a statement seen once. Weak: most statements
        #: seen once are built per request (filtered pages, statistics) and never come back; a
        #: strong reference kept up to :data:`MAX_STATEMENTS` of them alive per engine, each
        #: a whole expression tree of the value layer — the hub's memory grew under load for
        #: as long as new ones arrived (``python -m bench.faults``). A dead reference, or one
        #: to another object that got the same id, is a statement not seen before.
        self._seen: OrderedDict[int, weakref.ref[Any]] = OrderedDict()

    def shape(self, stmt: Any) -> _Shape | None:
        """The compiled shape of ``stmt`` if it takes the direct path (from its second run on)."""
        key = id(stmt)
        entry = self._shapes.get(key)
        if entry is not None and entry[0] is stmt:
            return entry[1]
        seen = self._seen.get(key)
        if seen is None or seen() is not stmt:
            self._remember(self._seen, key, weakref.ref(stmt))
            return None
        self._seen.pop(key, None)
        shape = _compile(stmt, self.dialect)
        self._remember(self._shapes, key, (stmt, shape))
        return shape

    @staticmethod
    def _remember(table: OrderedDict[int, Any], key: int, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > MAX_STATEMENTS:
            table.popitem(last=False)

    async def fetch(self, shape: _Shape, parameters: Mapping[str, Any] | None) -> list[Sequence[Any]]:
        """Run the statement on a pooled connection; rows as asyncpg records (index access)."""
        params = dict(parameters or {})
        sql, values = _sql_and_values(shape, params)
        self.engine.sync_engine.dispatch.before_cursor_execute(None, None, sql, values, None, False)
        raw = await self.engine.raw_connection()
        driver = raw.driver_connection
        healthy = False
        try:
            rows = await driver.fetch(sql, *values)  # type: ignore[union-attr]
            healthy = True
            return rows  # type: ignore[no-any-return]
        except asyncpg.exceptions.QueryCanceledError as exc:
            healthy = True  # the server cancelled the statement; the session is fine
            raise DirectFailure("timeout", exc) from None
        except TimeoutError as exc:  # asyncpg's client-side command timeout
            raise DirectFailure("timeout", exc) from None
        except (*_DISCONNECTS, *_CLIENT_ERRORS) as exc:
            if isinstance(exc, _DISCONNECTS) or driver.is_closed():  # type: ignore[union-attr]
                # As SQLAlchemy does on a disconnect: every connection opened before now is
                # replaced at its next checkout, and this one now.
                pool = self.engine.sync_engine.pool
                invalidate = getattr(pool, "_invalidate", None)
                if invalidate is not None:
                    await greenlet_spawn(invalidate, raw, exc)
                else:  # a pool without SQLAlchemy's pool-wide invalidation: this connection only
                    await greenlet_spawn(raw.invalidate, exc)
                raise DirectFailure("disconnect", exc) from None
            healthy = isinstance(exc, asyncpg.PostgresError)
            raise DirectFailure("error", exc) from None
        finally:
            if not healthy and raw.is_valid:
                # Cancelled mid-statement (a call's timeout) or an interface error: the session
                # may be mid-protocol, so it is closed rather than handed to the next caller.
                await asyncio.shield(greenlet_spawn(raw.invalidate))
            await give_back(raw)


async def give_back(raw: Any) -> None:
    """Return a connection of the direct path to its pool.

    Outside a transaction — always on this path: the engine runs in autocommit and nothing here
    begins one — the pool's check-in sends nothing to the server (its reset is a rollback of no
    transaction), so it runs to its end without suspending and a cancellation has no point at
    which to interrupt it: it needs no shield, and no task of its own (four a portal page,
    ~2 % of its instructions, issue 13). A connection inside a transaction would talk to the
    server on its way back, so that check-in is shielded, as every one was before.
    """
    driver = raw.driver_connection
    if driver is not None and not driver.is_closed() and not driver.is_in_transaction():
        await greenlet_spawn(raw.close)
    else:
        await asyncio.shield(greenlet_spawn(raw.close))


def _compile(stmt: Any, dialect: Any) -> _Shape | None:
    """The statement compiled for the direct path, or None if it must go through SQLAlchemy."""
    columns = getattr(stmt, "selected_columns", None)
    if columns is None:
        return None
    for column in columns:
        type_ = column.type
        if not isinstance(type_, _PLAIN_RESULTS):
            return None
        if type_.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return None
    compiled = stmt.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        return None
    if compiled.escaped_bind_names:
        return None  # names with characters a driver cannot take: SQLAlchemy renames them per call
    if any(b.callable is not None for b in compiled.binds.values()):
        return None
    expanding = tuple(b.key for b in compiled.binds.values() if b.expanding)
    literal = tuple(dict.fromkeys(b.key for b in compiled.literal_execute_params))
    return _Shape(compiled, expanding, literal)


def _sql_and_values(shape: _Shape, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    # The text depends on which values are given, the lengths of the lists and the literals.
    try:
        lengths: tuple[Any, ...] | None = (
            tuple(params),
            tuple(len(params[name]) for name in shape.expanding),
            tuple(params.get(name) for name in shape.literal),
        )
        expansion = shape.expansions.get(lengths)  # type: ignore[arg-type]
    except (KeyError, TypeError):  # a list given in the statement itself, an unhashable literal
        lengths, expansion = None, None
    if expansion is None:
        state = shape.compiled.construct_expanded_state(params)
        if state.processors:
            raise AssertionError("statements with bind processors never take the direct path")
        expected = state.positional_parameters
        getters = _getters(shape.compiled, state, params, expected)
        expansion = _Expansion(state.statement, getters)
        if lengths is not None:
            shape.expansions[lengths] = expansion
            while len(shape.expansions) > MAX_EXPANSIONS:
                shape.expansions.popitem(last=False)
        return expansion.sql, expected
    if expansion.getters is None:
        state = shape.compiled.construct_expanded_state(params)
        return state.statement, state.positional_parameters
    return expansion.sql, tuple(get(params) for get in expansion.getters)


def _getters(
    compiled: SQLCompiler, state: Any, params: Mapping[str, Any], expected: tuple[Any, ...]
) -> tuple[Getter, ...] | None:
    """Per position of the expanded statement: where its value comes from (None: no fixed rule).

    A position is a value of the call (by the bind parameter's key, an element of a list for an
    ``IN``) or the statement's own value (constant for this statement object). A name that
    cannot be traced back to its bind parameter leaves the statement to SQLAlchemy's expansion
    on every call.
    """
    key_of = {name: bind.key for bind, name in compiled.bind_names.items()}

    def key_for(name: str) -> str | None:
        return key_of.get(name)

    origin: dict[str, tuple[str, int]] = {}
    for name, expanded in state.parameter_expansion.items():
        for index, each in enumerate(expanded):
            origin[each] = (name, index)
    getters: list[Getter] = []
    for name in state.positiontup or ():
        bind_name, index = origin.get(name, (name, None))
        key = key_for(bind_name)
        if key is None:
            return None
        if key not in params:
            getters.append(lambda _p, value=state.parameters[name]: value)
        elif index is None:
            getters.append(lambda p, key=key: p[key])
        else:
            getters.append(lambda p, key=key, index=index: p[key][index])
    placed = tuple(get(params) for get in getters)
    if placed != expected or any(isinstance(v, tuple) for v in placed):
        return None
    return tuple(getters)
