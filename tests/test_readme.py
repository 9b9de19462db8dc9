"""The README's example queries and the GraphiQL examples run against the demo data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub.server import examples

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


async def first_case_id(hub: Any) -> str:
    result = await hub.execute("{ cases(first: 1) { edges { node { id } } } }")
    return result.data["cases"]["edges"][0]["node"]["id"]


@pytest.mark.parametrize(
    "query", [*BLOCKS, examples.PORTAL_LIST, examples.ANALYST_FILTER, examples.CASE_DETAIL]
)
async def test_example_runs_without_errors(hub: Any, query: str) -> None:
    variables = {"id": await first_case_id(hub), "after": None} if "$id" in query else {"after": None}
    if "$" not in query:
        variables = {}
    result = await hub.execute(query, variables)
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data and all(value is not None for value in result.data.values())


def test_readme_has_the_examples_the_issue_names() -> None:
    assert len(BLOCKS) >= 4
    text = README.read_text(encoding="utf-8")
    for needle in ("make demo", "make test", "make bench", "bench/RESULTS.md", "docs/mapping.md"):
        assert needle in text
