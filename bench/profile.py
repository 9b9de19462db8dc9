"""Where an in-process request's time goes: a sampling profile folded into a few categories.

pyinstrument samples the event-loop thread (wall clock), so time spent in the database shows
up as the loop idling in ``epoll`` (SQLite runs in aiosqlite's worker threads, PostgreSQL in
its server processes) and everything else as Python frames. Each sample's *leaf* frame decides
its category by the file it belongs to, which answers "how much is GraphQL, how much is
SQLAlchemy, how much is our row translation, how much is waiting". pyinstrument is optional
(it is in the ``test`` extra); without it the section says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

#: (category, substrings of the leaf frame's file path), first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GraphQL execution (strawberry, graphql-core)", ("/strawberry/", "/graphql/")),
    ("SQLAlchemy (statement compile, execute, result rows)", ("/sqlalchemy/",)),
    ("database drivers (aiosqlite, asyncpg)", ("/aiosqlite/", "/asyncpg/", "sqlite3")),
    ("adapters (mapping: SQL building, row translation)", ("/adapters/",)),
    ("region reference lookups (hub/vocabulary/reference.py)", ("/hub/vocabulary/reference.py",)),
    ("hub engine (federation, loaders, merge)", ("/hub/",)),
    ("resolvers (conversion to GraphQL objects)", ("/resolvers/",)),
    ("event loop and tasks (asyncio)", ("/asyncio/", "selectors.py")),
    ("aiodataloader", ("aiodataloader",)),
)
IDLE = "waiting for the database (event loop idle)"
OTHER = "other Python (stdlib, dataclasses, json, …)"


def available() -> bool:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return False
    return True


def _category(frame: Any) -> str:
    path = frame.file_path or ""
    function = frame.function or ""
    if function in ("poll", "select", "epoll.poll", "control") or function.endswith(".poll"):
        return IDLE
    for name, needles in CATEGORIES:
        if any(n in path for n in needles):
            return name
    return OTHER


def _fold(frame: Any, into: dict[str, float]) -> None:
    own = frame.total_self_time
    if own:
        into[_category(frame)] += own
    for child in frame.children:
        if not child.is_synthetic:
            _fold(child, into)


async def breakdown(run: Callable[[], Awaitable[Any]], rounds: int) -> tuple[list[tuple[str, float]], float]:
    """Share of wall time per category over ``rounds`` calls of ``run`` (after one warm-up).

    Returns ``([(category, share)], milliseconds per call)``, largest share first.
    """
    from pyinstrument import Profiler

    await run()
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        for _ in range(rounds):
            await run()
    finally:
        session = profiler.stop()
    root = session.root_frame()
    totals: dict[str, float] = defaultdict(float)
    if root is not None:
        _fold(root, totals)
    whole = sum(totals.values()) or 1.0
    shares = sorted(((name, t / whole) for name, t in totals.items()), key=lambda x: -x[1])
    return shares, session.duration / rounds * 1000
