"""Nested fields batch: SQL statements per page do not grow with the page size (no N+1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.statements import recorded

PAGE = """query($first: Int!) {
  cases(first: $first) {
    edges { node {
      id
      victims { id sex services { type } }
      perpetrators { id }
      witnesses { id }
      services { type recipient { id ageGroup } }
      stageHistory { stage date }
    } }
  }
}"""


async def statements_by_source(hub: Any, first: int) -> dict[str, int]:
    result = await hub.execute(PAGE, {"first": first})
    assert not result.errors
    assert len(result.data["cases"]["edges"]) == first
    return {s["source"]: s["statements"] for s in result.extensions["sources"]}


async def test_statement_count_is_the_same_for_10_and_200_cases(hub: Any) -> None:
    small = await statements_by_source(hub, 10)
    large = await statements_by_source(hub, 200)
    assert small.keys() == large.keys() == {"simfoni", "polri", "lpsk", "bp2mi", "kemlu"}
    # A page of 10 may contain no case of some source (then it gets no relation query); a
    # source never needs more statements for the bigger page than for the smaller one.
    for source, count in small.items():
        assert count <= large[source]
    # 200 cases span every source: search + count-free page + one statement per relation table.
    assert max(large.values()) <= 8


@pytest.mark.parametrize("agency", ["KEMENPPPA", "POLRI", "LPSK", "BP2MI", "KEMLU"])
async def test_statements_per_agency_are_constant_in_page_size(hub: Any, agency: str) -> None:
    query = PAGE.replace("cases(first: $first)", f'cases(first: $first, filter: {{agencies: ["{agency}"]}})')
    counts = []
    for first in (10, 100, 300):
        result = await hub.execute(query, {"first": first})
        assert not result.errors
        assert len(result.data["cases"]["edges"]) == first
        counts.append(
            {s["source"]: s["statements"] for s in result.extensions["sources"] if s["status"] == "ok"}
        )
    assert counts[0] == counts[1] == counts[2]
    assert len(counts[0]) == 1


async def test_sql_events_agree_with_the_extension(hub: Any) -> None:
    """Count statements independently with a SQLAlchemy event on one source's engine."""
    with recorded(hub.registry.get("polri").source) as seen:
        result = await hub.execute(PAGE, {"first": 200})
    polri = next(s for s in result.extensions["sources"] if s["source"] == "polri")
    assert polri["statements"] == len(seen)
    assert polri["status"] == "ok"
