"""Small helpers for tests: paging through every case of the hub."""

from __future__ import annotations

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
