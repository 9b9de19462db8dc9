"""Statements sent again run straight through asyncpg on PostgreSQL (adapters/pgdirect.py, issue 13).

The direct path must change nothing but the work in the hub: the same answers (compared with
the same hub answering through SQLAlchemy's execution layer), every statement still counted and
announced through the engine's ``before_cursor_execute`` event, a dropped connection still
retried on a fresh one, a statement timeout still ``SOURCE_TIMEOUT``. And it must be taken: the
page's statements, from their second run on, never reach SQLAlchemy's ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Integer, String, bindparam, column, event, func, literal_column, select, table
from sqlalchemy.dialects import postgresql

from adapters.base import SourceTimeout
from adapters.engines import EngineOptions, create_readonly_engine
from adapters.pgdirect import _compile, _sql_and_values
from adapters.runner import StatementRunner
from hub.server import examples

PAGES = [
    (examples.PORTAL_LIST, {"after": None}),
    (examples.ANALYST_FILTER, {}),
    ("{ cases(first: 3) { edges { cursor node { id victims { id sex } services { type } } } } }", {}),
    (
        "{ cases(first: 37, orderBy: REPORTED_AT_ASC) { totalCount edges { node { id stage "
        "victims { id ageGroup isChild } witnesses { id } perpetrators { id } "
        "stageHistory { stage date } } } } }",
        {},
    ),
]


def _runners(hub: Any) -> list[StatementRunner]:
    return [entry.source._runner for entry in hub.registry.all() if entry.source is not None]


@contextmanager
def _sqlalchemy_only(hub: Any) -> Iterator[None]:
    runners = _runners(hub)
    kept = [r.direct for r in runners]
    for runner in runners:
        runner.direct = None
    try:
        yield
    finally:
        for runner, direct in zip(runners, kept, strict=True):
            runner.direct = direct


@contextmanager
def _events(hub: Any) -> Iterator[dict[str, list[Any]]]:
    """Statements announced (``before_cursor_execute``) and executed by SQLAlchemy (``before_execute``)."""
    seen: dict[str, list[Any]] = {"announced": [], "sqlalchemy": []}

    def announced(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen["announced"].append((statement, parameters))

    def executed(*_args: Any) -> None:
        seen["sqlalchemy"].append(1)

    engines = [entry.source._engine.sync_engine for entry in hub.registry.all() if entry.source is not None]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", announced)
        event.listen(engine, "before_execute", executed)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", announced)
            event.remove(engine, "before_execute", executed)


def _answer(result: Any) -> tuple[Any, Any, Any]:
    sources = [
        {k: v for k, v in s.items() if k != "elapsedMs"} for s in (result.extensions or {}).get("sources", [])
    ]
    return result.data, [e.formatted for e in result.errors or []], sources


async def test_repeated_statements_bypass_sqlalchemy_and_are_still_announced(pg_hub: Any) -> None:
    for _ in range(2):  # the first run goes through SQLAlchemy; the second compiles the shapes
        assert not (await pg_hub.execute(*PAGES[0])).errors
    with _events(pg_hub) as seen:
        result = await pg_hub.execute(*PAGES[0])
    assert not result.errors
    statements = sum(s["statements"] for s in result.extensions["sources"])
    assert statements >= 4
    assert len(seen["announced"]) == statements  # every statement announced and counted
    assert seen["sqlalchemy"] == []  # none went through SQLAlchemy's execution layer
    assert all(isinstance(values, tuple) for _, values in seen["announced"])


@pytest.mark.parametrize("index", range(len(PAGES)))
async def test_direct_answers_equal_sqlalchemy_answers(pg_hub: Any, index: int) -> None:
    query, variables = PAGES[index]
    with _sqlalchemy_only(pg_hub):
        reference = await pg_hub.execute(query, variables)
    answers = [await pg_hub.execute(query, variables) for _ in range(3)]  # seen, compiled, reused
    assert not reference.errors, reference.errors
    for answer in answers:
        assert _answer(answer) == _answer(reference)


async def test_every_batch_size_places_its_values(pg_hub: Any) -> None:
    """Pages of many sizes: each size is a new expansion of the relation statements' key lists."""
    query = (
        "query($n: Int!) { cases(first: $n) { edges { node { id victims { id sex } services { type } } } } }"
    )
    for n in (1, 2, 7, 20, 1, 7):
        with _sqlalchemy_only(pg_hub):
            reference = await pg_hub.execute(query, {"n": n})
        for _ in range(2):
            assert _answer(await pg_hub.execute(query, {"n": n})) == _answer(reference)


async def test_paging_by_cursor_through_the_direct_path(pg_hub: Any) -> None:
    query = (
        "query($after: String) { cases(first: 9, after: $after) "
        "{ pageInfo { endCursor } edges { node { id } } } }"
    )
    for _ in range(2):
        cursor = None
        direct, reference = [], []
        for _ in range(4):
            page = await pg_hub.execute(query, {"after": cursor})
            with _sqlalchemy_only(pg_hub):
                same = await pg_hub.execute(query, {"after": cursor})
            assert _answer(page) == _answer(same)
            direct.append(page.data)
            reference.append(same.data)
            cursor = page.data["cases"]["pageInfo"]["endCursor"]
        assert direct == reference


async def test_dropped_connections_are_replaced_and_the_statement_retried(
    pg_hub: Any, postgres_url: str
) -> None:
    for _ in range(3):
        assert not (await pg_hub.execute(*PAGES[0])).errors
    before = await pg_hub.execute(*PAGES[0])
    admin = await asyncpg.connect(postgres_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'tppo-hub' AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 1  # the pool's connections were open, and are now dead
    after = await pg_hub.execute(*PAGES[0])
    assert not after.errors, [e.formatted for e in after.errors]
    assert after.data == before.data
    # The statement on a dead connection was sent (and counted), then retried on a fresh one.
    assert [s["status"] for s in after.extensions["sources"]] == ["ok"] * len(after.extensions["sources"])
    assert sum(s["statements"] for s in after.extensions["sources"]) > sum(
        s["statements"] for s in before.extensions["sources"]
    )


async def test_a_direct_statement_that_runs_too_long_is_a_source_timeout(postgres_url: str) -> None:
    engine = create_readonly_engine(EngineOptions(url=postgres_url, statement_timeout_ms=100))
    runner = StatementRunner("slow", engine, EngineOptions(url=postgres_url, statement_timeout_ms=100))
    assert runner.direct is not None
    series = func.generate_series(1, 2_000_000_000).table_valued("n")
    stmt = select(func.count().label("n"), literal_column("1", Integer).label("one")).select_from(series)
    try:
        for _ in range(2):  # through SQLAlchemy, then directly
            with pytest.raises(SourceTimeout):
                await runner.fetch(stmt)
        assert runner.direct.shape(stmt) is not None
        quick = select(literal_column("41", Integer).label("n"))
        assert [tuple(r) for r in await runner.fetch(quick)] == [(41,)]
        assert [tuple(r) for r in await runner.fetch(quick)] == [(41,)]  # directly, same session pool
    finally:
        await engine.dispose()


async def test_long_statements_stay_prepared_on_their_connection(postgres_url: str) -> None:
    """asyncpg keeps statements up to 15 KB by default; a longer one would be planned on every run."""
    options = EngineOptions(url=postgres_url, pool_size=1, max_overflow=0)
    engine = create_readonly_engine(options)
    runner = StatementRunner("long", engine, options)
    values = [literal_column(str(i), Integer) for i in range(4000)]
    stmt = select(func.coalesce(*values).label("n"))
    try:
        assert runner.direct is not None
        assert runner.direct.shape(stmt) is None  # seen once
        shape = runner.direct.shape(stmt)  # compiled: only the direct path ever prepares it
        assert shape is not None
        for _ in range(3):
            assert [tuple(r) for r in await runner.direct.fetch(shape, None)] == [(0,)]  # type: ignore[union-attr]
        sql = next(iter(shape.expansions.values())).sql
        assert len(sql) > 15 * 1024
        raw = await engine.raw_connection()
        try:
            prepared = await raw.driver_connection.fetchval(  # type: ignore[union-attr]
                "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", sql
            )
        finally:
            raw.close()
        assert prepared == 1
    finally:
        await engine.dispose()


# --- the placement of values, against SQLAlchemy's own expansion (no database) -----------------

_T = table("t", column("a", Integer), column("b", String))
_STATEMENT = (
    select(_T.c.a, _T.c.b)
    .where(
        _T.c.a.in_(bindparam("keys", expanding=True)),
        _T.c.b == bindparam("name"),
        _T.c.a > 5,
        _T.c.b.in_(bindparam("codes", expanding=True)),
    )
    .limit(bindparam("lim", type_=Integer, literal_execute=True))
)


@settings(max_examples=60)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "keys": st.lists(st.integers(-5, 5), max_size=4),
                "name": st.text(max_size=3),
                "codes": st.lists(st.text(max_size=2), max_size=3),
                "lim": st.integers(0, 3),
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_values_are_placed_as_sqlalchemy_expands_them(calls: list[dict[str, Any]]) -> None:
    shape = _compile(_STATEMENT, postgresql.asyncpg.dialect())
    assert shape is not None
    for params in calls:  # later calls reuse the expansions of earlier ones
        expected = shape.compiled.construct_expanded_state(dict(params))
        assert _sql_and_values(shape, dict(params)) == (expected.statement, expected.positional_parameters)


def test_names_a_driver_cannot_take_stay_with_sqlalchemy() -> None:
    stmt = select(_T.c.a).where(_T.c.b == bindparam("a.b[c]"))
    assert _compile(stmt, postgresql.asyncpg.dialect()) is None


async def test_a_statement_run_once_is_not_kept_alive(postgres_url: str) -> None:
    """Statements built per request (filtered pages, statistics) run once and are dropped: the
    direct path remembers them only weakly, or the hub's memory grows with every new one."""
    import gc
    import weakref

    engine = create_readonly_engine(EngineOptions(url=postgres_url))
    runner = StatementRunner("once", engine, EngineOptions(url=postgres_url))
    assert runner.direct is not None
    try:
        # (Through the runner, SQLAlchemy's compiled cache would keep one statement per shape:
        # bounded by the shapes; what is tested here is the direct path's own memory.)
        stmt = select(literal_column("7", Integer).label("n"))
        assert runner.direct.shape(stmt) is None  # seen once
        gone = weakref.ref(stmt)
        del stmt
        gc.collect()
        assert gone() is None, "a statement seen once must not be kept by the direct path"
        # A statement sent again is still recognised and takes the direct path.
        again = select(literal_column("8", Integer).label("n"))
        assert runner.direct.shape(again) is None
        assert runner.direct.shape(again) is not None
        # A new statement that happens to get a dead one's id is a statement not seen before.
        other = select(literal_column("9", Integer).label("n"))
        assert runner.direct.shape(other) is None
    finally:
        await engine.dispose()


async def test_a_connection_goes_back_to_its_pool_without_suspending(postgres_url: str) -> None:
    """The direct path returns its connection unshielded, in its own task (``give_back``): that
    is safe only because the check-in of a connection outside a transaction sends nothing to
    the server and so never suspends — checked here on a real connection after a statement."""
    from sqlalchemy.util.concurrency import greenlet_spawn

    options = EngineOptions(url=postgres_url, pool_size=1, max_overflow=0)
    engine = create_readonly_engine(options)
    runner = StatementRunner("giveback", engine, options)
    stmt = select(literal_column("1", Integer).label("n"))
    try:
        assert runner.direct is not None
        runner.direct.shape(stmt)
        shape = runner.direct.shape(stmt)
        assert shape is not None
        for _ in range(3):
            assert [tuple(r) for r in await runner.direct.fetch(shape, None)] == [(1,)]
        assert engine.sync_engine.pool.checkedout() == 0  # every fetch gave its connection back
        raw = await engine.raw_connection()
        await raw.driver_connection.fetchval("SELECT 1")  # type: ignore[union-attr]
        assert not raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
        checkin = greenlet_spawn(raw.close)
        with pytest.raises(StopIteration):
            checkin.send(None)  # ran to its end at the first step: no suspension point
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()
