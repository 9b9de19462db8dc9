"""The landing page's statement is planned once per connection on PostgreSQL (issue 13).

PostgreSQL plans a prepared statement that has bound parameters anew ("custom plans") for its
first five executions and keeps doing so whenever the generic plan looks dearer; for the
walked page that cost ~0.8 ms of planning per page, more than reading the page. And a generic
plan of a statement whose LIMIT is a parameter guesses a tenth of the table for it, and reads
the whole case table. So the walk's own constants and the page size are written into the
statement's text: the portal's landing page (first page, no filter) has no parameter at all,
and PostgreSQL plans it once per connection. Values from a request (a cursor's day, a
filter) stay bound. The pages' contents are proven elsewhere (tests/test_date_walk.py,
tests/test_pagination.py); this test pins the statements' shape and the plan cache's use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from hub.vocabulary.model import CaseSearch, Keyset, SortOrder
from tests.statements import recorded
from tests.test_narrow_statements import sent_by


async def sent_with_parameters(source: Any, call: Callable[[], Awaitable[Any]]) -> list[tuple[str, Any]]:
    """The statements ``call`` sent, each with the parameters it was sent with."""
    with recorded(source) as sent:
        await call()
    return sent


async def plans_after(
    source: Any, statement: str, parameters: tuple[Any, ...], runs: int
) -> list[tuple[int, int]]:
    """``(generic_plans, custom_plans)`` of ``statement`` on one connection after ``runs`` runs."""
    async with source._engine.connect() as conn:
        for _ in range(runs):
            await conn.exec_driver_sql(statement, parameters)
        rows = (
            await conn.exec_driver_sql(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            )
        ).all()
    return [(generic, custom) for text, generic, custom in rows if text == statement]


def ran_here(plans: list[tuple[int, int]]) -> tuple[int, int]:
    """The entry of the statement as :func:`plans_after` ran it. The same text may be prepared
    twice on one connection — once by the adapter's direct path (asyncpg's own statement cache,
    when the pool handed that connection to the request before), once by SQLAlchemy's — and
    ``pg_prepared_statements`` lists them in no particular order: the one with most plans."""
    return max(plans, key=sum)


async def test_the_landing_page_sends_no_parameter(pg_hub: Any) -> None:
    source = pg_hub.registry.get("simfoni").source
    assert source._walk is not None, "simfoni's ISO text date is walked on PostgreSQL"
    for order in (SortOrder.DESC, SortOrder.ASC):
        sent = await sent_with_parameters(
            source, lambda o=order: source.search_cases(CaseSearch(order=o, limit=21))
        )
        assert sent
        for statement, parameters in sent:
            assert not parameters, (order, parameters)
            assert "LIMIT 21" in statement, statement[-300:]


async def test_a_cursor_day_stays_bound(pg_hub: Any) -> None:
    """A request's own values are parameters: one statement shape serves every cursor."""
    source = pg_hub.registry.get("simfoni").source
    texts = set()
    for day in (date(2022, 3, 1), date(2023, 7, 15)):
        after = Keyset(day, "simfoni", "1")
        sent = await sent_with_parameters(
            source, lambda a=after: source.search_cases(CaseSearch(after=a, limit=21))
        )
        assert sent and all(parameters for _statement, parameters in sent)
        texts.add(sent[0][0])
        assert day.isoformat() not in sent[0][0]
    assert len(texts) == 1


async def test_postgres_plans_the_landing_page_once(pg_hub: Any) -> None:
    """On one connection, the page's statement runs on its cached generic plan, never re-planned."""
    source = pg_hub.registry.get("simfoni").source
    _page, sent = await sent_by(source, lambda: source.search_cases(CaseSearch(limit=21)))
    (statement,) = sent
    plans = await plans_after(source, statement, (), runs=8)
    assert plans, "the page statement is prepared on the connection"
    generic, custom = ran_here(plans)
    assert custom == 0 and generic >= 8, (generic, custom)


async def test_postgres_plans_a_cursor_page_once(pg_hub: Any) -> None:
    """A cursor's page (its day and key bound) runs on the cached generic plan after the five
    custom plans PostgreSQL always makes first: the plan that serves one cursor serves every
    cursor, so a connection does not plan the page again on every request (issue 13)."""
    source = pg_hub.registry.get("simfoni").source
    first = await source.search_cases(CaseSearch(limit=21))
    last = first[-1]
    after = Keyset(last.reported_at, "simfoni", last.key)
    sent = await sent_with_parameters(source, lambda: source.search_cases(CaseSearch(after=after, limit=21)))
    (statement, parameters), *_ = sent
    assert parameters, "a cursor's day and key are bound"
    plans = await plans_after(source, statement, tuple(parameters), runs=12)
    assert plans, "the cursor page's statement is prepared on the connection"
    generic, custom = ran_here(plans)
    assert custom <= 5 and generic >= 7, (generic, custom)


def _filters(plan: dict[str, Any]) -> list[str]:
    """Every row filter of a JSON plan, its sub-plans included."""
    found = [plan[k] for k in ("Filter", "Recheck Cond") if k in plan]
    for child in plan.get("Plans", []):
        found.extend(_filters(child))
    return found


async def test_the_walk_computes_a_case_date_once_per_row(pg_hub: Any) -> None:
    """The walked page reads its candidates through subqueries PostgreSQL keeps whole: the
    canonical date (its ``translate`` shape test) is computed in their output once per row and
    never in a row filter, where PostgreSQL computed it again for each place naming it — the
    dated test, the cursor's terms, the sort key (issue 13: 0.43 → 0.33 ms for the landing
    page, 0.73 → 0.53 ms for a cursor page on the peer bench's 16,038 cases)."""
    import json

    source = pg_hub.registry.get("simfoni").source
    first = await source.search_cases(CaseSearch(limit=21))
    last = first[-1]
    after = Keyset(last.reported_at, "simfoni", last.key)
    for search in (CaseSearch(limit=21), CaseSearch(after=after, limit=21)):
        sent = await sent_with_parameters(source, lambda s=search: source.search_cases(s))
        statement, parameters = sent[0]
        assert "OFFSET 0) AS walk_candidates" in statement, statement[-600:]
        async with source._engine.connect() as conn:
            (plan,) = (
                await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, tuple(parameters))
            ).one()
        filters = _filters((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
        assert filters, "the walk filters its rows"
        assert not [f for f in filters if "translate(" in f], filters
