"""The page's keys and the count read a narrow cut of the value layer (issue 13).

The case part's full row (its mapped values, among them the correlated subquery over
``kasus_eksploitasi`` for the exploitation types) belongs in the statement once, in the outer
half that computes the page's rows; the inner halves that pick the page's keys (the walked
page nests two) and the count need the key and the report date only. A statement that nests
the whole layer in its inner halves names the child table once per copy; PostgreSQL planned
every copy (7.8 ms of planning per page at one point). The pages' contents are proven equal to
independent computations elsewhere (tests/test_date_walk.py, tests/test_pagination.py,
tests/test_properties.py); this test pins the statements' shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from hub.vocabulary.model import CaseFilter, CaseSearch, SortOrder
from tests.statements import recorded


async def sent_by(source: Any, call: Callable[[], Awaitable[Any]]) -> tuple[Any, list[str]]:
    """What ``call`` returns and the SQL statements it sent."""
    with recorded(source) as sent:
        result = await call()
    return result, [statement for statement, _parameters in sent]


async def test_the_page_computes_the_full_row_once_and_picks_keys_from_the_date(hub: Any) -> None:
    source = hub.registry.get("simfoni").source
    assert source._walk is not None, "simfoni's ISO text date is walked on SQLite"
    since = CaseFilter(reported_from=date(2021, 1, 1))
    for order in (SortOrder.DESC, SortOrder.ASC):
        for filter in (CaseFilter(), since):
            page, sent = await sent_by(
                source, lambda o=order, f=filter: source.search_cases(CaseSearch(filter=f, order=o, limit=21))
            )
            assert page and sent
            for statement in sent:
                assert statement.count("FROM kasus_eksploitasi") == 1, (order, filter, statement)


async def test_the_count_computes_no_mapped_value(hub: Any) -> None:
    source = hub.registry.get("simfoni").source
    for filter in (CaseFilter(), CaseFilter(reported_from=date(2021, 1, 1))):
        total, sent = await sent_by(source, lambda f=filter: source.count_cases(f))
        assert total > 0 and len(sent) == 1
        assert "kasus_eksploitasi" not in sent[0], sent[0]


PAGE_WITHOUT_TOTAL = """
query {
  cases(first: 20) {
    pageInfo { hasNextPage endCursor }
    edges { node { id reportedAt victims { id sex } } }
  }
}
"""


async def test_a_count_only_when_total_count_is_selected(hub: Any) -> None:
    """``totalCount`` costs a COUNT over every case (the largest statement of the portal
    page on PostgreSQL, issue 13); a query that does not select it sends none, by plan and
    field by field alike. With it, one COUNT per source."""
    source = hub.registry.get("simfoni").source
    with_total = PAGE_WITHOUT_TOTAL.replace("pageInfo {", "totalCount pageInfo {")
    for compiled in (True, False):
        for query, counts in ((PAGE_WITHOUT_TOTAL, 0), (with_total, 1)):
            result, sent = await sent_by(source, lambda q=query, c=compiled: hub.execute(q, compiled=c))
            assert not result.errors, result.errors
            assert len(result.data["cases"]["edges"]) == 20
            counting = [s for s in sent if "count(*)" in s.lower()]
            assert len(counting) == counts, (compiled, query, counting)
