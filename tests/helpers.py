"""Small helpers for tests: paging through every case of the hub, and paging's last page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.access.policy import ANONYMOUS, Principal
from hub.server.app import Hub

#: A principal that sees every row (an LPSK coordinator: protected witnesses included) but,
#: without a purpose, no personal field: for tests that compare all records with the truth.
EVERY_ROW = Principal(subject="test-every-row", role="coordinator", agency="LPSK")

CASE_FIELDS = """
  id source sourceKey reportedAt region { code } countryOfExploitation exploitationTypes stage
  victims { ...P } perpetrators { ...P } witnesses { ...P }
  services { id type status startDate endDate providerUnit recipient { id } }
  stageHistory { stage date reference }
"""


async def all_cases(
    hub: Hub,
    first: int = 200,
    order: str = "REPORTED_AT_DESC",
    fields: str = CASE_FIELDS,
    filter: str = "",
    principal: Principal = ANONYMOUS,
) -> list[dict[str, Any]]:
    """Every case, paging with keyset cursors until hasNextPage is false."""
    fragment = (
        "fragment P on PersonRecord { id roles sex ageGroup isChild citizenship domicileRegion { code } }"
    )
    query = f"""{fragment if "...P" in fields else ""}
    query($after: String) {{
      cases(first: {first}, after: $after, orderBy: {order} {filter}) {{
        pageInfo {{ hasNextPage endCursor }}
        edges {{ cursor node {{ {fields} }} }}
      }}
    }}"""
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(10_000):
        result = await hub.execute(query, {"after": after}, principal)
        assert not result.errors, [e.formatted for e in result.errors]
        page = result.data["cases"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


async def assert_exactly_full_last_page(
    page: Callable[[int, str | None], Awaitable[dict[str, Any]]], n: int
) -> dict[str, Any]:
    """A connection of exactly ``n`` items (``page(first, after)`` gives it): a page of ``n``
    says there is no next page, a page of ``n - 1`` says there is one, and the page after it
    holds the last item alone and says there is none (``hasNextPage`` with ``>=`` fails here).
    Returns the whole page."""
    whole = await page(n, None)
    assert len(whole["edges"]) == n and whole["pageInfo"]["hasNextPage"] is False
    short = await page(n - 1, None)
    assert len(short["edges"]) == n - 1 and short["pageInfo"]["hasNextPage"] is True
    last = await page(1, short["pageInfo"]["endCursor"])
    assert len(last["edges"]) == 1 and last["pageInfo"]["hasNextPage"] is False
    assert last["edges"][0]["node"]["id"] == whole["edges"][-1]["node"]["id"]
    return whole
