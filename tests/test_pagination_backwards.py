"""Relay pagination backwards (``last``/``before``) and the complete PageInfo.

Paging backwards from the end visits every case once, in the documented order read back to
front (expected order from the generator's ground truth, as in tests/test_pagination.py);
pages agree with forward paging; ``startCursor``/``hasPreviousPage`` let a client turn back.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.engine.ids import GlobalId
from tests.test_pagination import truth_order

PAGE = """
query Back($last: Int, $before: String) {
  cases(last: $last, before: $before, orderBy: %s) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id source reportedAt } }
  }
}
"""


async def page(hub: Any, order: str, last: int, before: str | None) -> dict[str, Any]:
    result = await hub.execute(PAGE % order, {"last": last, "before": before})
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data["cases"]


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC"])
async def test_paging_backwards_by_97_visits_every_case_once_in_order(
    hub: Any, truth: dict, order: str
) -> None:
    pages: list[list[dict[str, Any]]] = []
    before = None
    first_page = True
    while True:
        current = await page(hub, order, 97, before)
        info = current["pageInfo"]
        assert info["hasNextPage"] is (not first_page)
        assert info["startCursor"] == current["edges"][0]["cursor"]
        assert info["endCursor"] == current["edges"][-1]["cursor"]
        pages.append([edge["node"] for edge in current["edges"]])
        first_page = False
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    nodes = [node for p in reversed(pages) for node in p]
    seen = [(n["reportedAt"] or "0000-00-00", n["source"], GlobalId.decode(n["id"]).key) for n in nodes]
    expected = truth_order(truth, descending=order.endswith("DESC"))
    assert len(seen) == len(set(seen)) == len(expected) == current["totalCount"]
    assert sorted(seen) == sorted(expected)
    assert [s[:2] for s in seen] == [e[:2] for e in expected]


async def test_turning_back_gives_the_previous_page(hub: Any) -> None:
    forward = await hub.execute(
        "{ cases(first: 30) { edges { cursor } pageInfo { hasPreviousPage endCursor } } }"
    )
    ids = [edge["cursor"] for edge in forward.data["cases"]["edges"]]
    assert forward.data["cases"]["pageInfo"]["hasPreviousPage"] is False
    second = await hub.execute(
        "query($after: String) { cases(first: 10, after: $after) { edges { cursor } "
        "pageInfo { hasPreviousPage startCursor } } }",
        {"after": ids[19]},
    )
    info = second.data["cases"]["pageInfo"]
    assert info["hasPreviousPage"] is True
    assert [e["cursor"] for e in second.data["cases"]["edges"]] == ids[20:30]
    back = await page(hub, "REPORTED_AT_DESC", 20, info["startCursor"])
    assert [e["cursor"] for e in back["edges"]] == ids[:20]
    assert back["pageInfo"]["hasPreviousPage"] is False
    assert back["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ("before: $c", "last"),  # before without last
        ("last: 5, after: $c", "after"),  # both directions
        ("last: 5, orderBy: AGENCY_ASC", "last"),  # agency orders cannot be reversed
        ("last: -1", "last"),
        ("last: 5, before: \"not-a-cursor\"", "before"),
    ],
)
async def test_bad_backward_arguments_are_bad_user_input(hub: Any, arguments: str, argument: str) -> None:
    first = await hub.execute("{ cases(first: 1) { edges { cursor } } }")
    cursor = first.data["cases"]["edges"][0]["cursor"]
    declared = "($c: String)" if "$c" in arguments else ""
    variables = {"c": cursor} if declared else None
    query = f"query{declared} {{ cases({arguments}) {{ edges {{ cursor }} }} }}"
    result = await hub.execute(query, variables)
    assert result.errors
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert result.errors[0].extensions.get("argument") == argument
