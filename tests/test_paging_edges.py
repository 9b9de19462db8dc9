"""Paging on its edges: a last page exactly full, one item short of full, one item over.

``hasNextPage`` must be false on an exactly full last page and true when one more item
follows; the count of each agency comes from the generator's ground truth.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import EVERY_ROW

QUERY = """query($first: Int!, $after: String, $agencies: [String!]) {
  cases(first: $first, after: $after, orderBy: %s, filter: {agencies: $agencies}) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } }
  }
}"""
AGENCY = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}


async def pages(hub: Any, first: int, order: str, agencies: list[str]) -> list[tuple[int, bool]]:
    """(items, hasNextPage) of every page until hasNextPage is false; ids must not repeat."""
    out: list[tuple[int, bool]] = []
    seen: set[str] = set()
    after = None
    for _ in range(1000):
        result = await hub.execute(
            QUERY % order, {"first": first, "after": after, "agencies": agencies}, EVERY_ROW
        )
        assert not result.errors, result.errors
        page = result.data["cases"]
        ids = [e["node"]["id"] for e in page["edges"]]
        assert not seen & set(ids)
        seen |= set(ids)
        has_next = page["pageInfo"]["hasNextPage"]
        out.append((len(ids), has_next))
        if ids:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not has_next:
            return out
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def divisor(n: int) -> int:
    """The largest proper divisor of ``n`` up to 200 (2 or more pages of equal size)."""
    return max((d for d in range(1, min(n // 2, 200) + 1) if n % d == 0), default=1)


@pytest.fixture(scope="module")
def counts(truth: dict) -> dict[str, int]:
    return {source: len(data["cases"]) for source, data in truth["agencies"].items()}


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC", "AGENCY_ASC"])
@pytest.mark.parametrize("source", ["polri", "lpsk", "kemlu"])
async def test_exactly_full_last_page_says_no_next_page(
    hub: Any, counts: dict[str, int], source: str, order: str
) -> None:
    n = counts[source]
    size = divisor(n)
    assert await pages(hub, size, order, [AGENCY[source]]) == [(size, True)] * (n // size - 1) + [
        (size, False)
    ]


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "AGENCY_DESC"])
@pytest.mark.parametrize("source", ["lpsk", "kemlu"])
async def test_one_page_of_all_one_short_and_one_over(
    hub: Any, counts: dict[str, int], source: str, order: str
) -> None:
    n = counts[source]
    assert n <= 500, "the page cap"
    agencies = [AGENCY[source]]
    assert await pages(hub, n, order, agencies) == [(n, False)]
    assert await pages(hub, n + 1, order, agencies) == [(n, False)]
    assert await pages(hub, n - 1, order, agencies) == [(n - 1, True), (1, False)]


async def test_exactly_full_last_page_across_all_sources(hub: Any, counts: dict[str, int]) -> None:
    """Merged across the five sources: the cross-source merge decides the next page too."""
    n = sum(counts.values())
    size = divisor(n)
    agencies = list(AGENCY.values())
    assert await pages(hub, size, "REPORTED_AT_DESC", agencies) == [(size, True)] * (n // size - 1) + [
        (size, False)
    ]
