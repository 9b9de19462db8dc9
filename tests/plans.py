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
