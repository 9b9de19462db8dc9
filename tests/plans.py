"""Reading PostgreSQL's ``EXPLAIN (ANALYZE, FORMAT JSON)`` plans in tests that bound what a
statement computes per row (which node sees how many rows, and what it evaluates)."""

from __future__ import annotations

import json
from typing import Any


def json_plan(records: list[Any]) -> dict[str, Any]:
    """The top plan node of an ``EXPLAIN (FORMAT JSON)`` answer."""
    value = records[0][0]
    return (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]  # type: ignore[no-any-return]


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of ``plan``, itself first."""
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes(child))]


def own_text(node: dict[str, Any]) -> str:
    """A plan node's own expressions (output, filter, sort key), not its children's."""
    return json.dumps({k: v for k, v in node.items() if k != "Plans"})


def rows_of(node: dict[str, Any]) -> float:
    """The rows a node produced over all its loops."""
    return float(node.get("Actual Rows", 0)) * float(node.get("Actual Loops", 1))


def evaluating(plan: dict[str, Any], text: str, wide: float) -> list[str]:
    """Types of the nodes that see more than ``wide`` rows and evaluate ``text`` themselves.

    A ``Memoize`` node, and a ``Nested Loop`` whose inner side is one or is a lateral
    subquery's ``Result``, show the lateral value as the expression that computed it (EXPLAIN
    deparses a reference to a subquery's output that way) but only pass it on: the node under
    the ``Memoize`` computes it, once per cache miss, and the ``Result`` once per outer row —
    each counted here like any other when it sees more than ``wide`` rows.
    """
    passing: set[int] = set()
    for node in nodes(plan):
        children = node.get("Plans", [])
        if node.get("Node Type") == "Memoize" or (
            node.get("Node Type") == "Nested Loop"
            and len(children) == 2
            and children[1].get("Node Type") in ("Memoize", "Result")
        ):
            passing.add(id(node))
    return [
        node["Node Type"]
        for node in nodes(plan)
        if rows_of(node) > wide and id(node) not in passing and text in own_text(node)
    ]


def memoized_misses(plan: dict[str, Any]) -> list[int]:
    """The cache misses of each ``Memoize`` node (the rows computed under it)."""
    return [int(node.get("Cache Misses", 0)) for node in nodes(plan) if node.get("Node Type") == "Memoize"]
