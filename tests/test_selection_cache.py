"""resolvers.selection.selected: the look-ahead's selection tree, read once per parsed document.

It must describe what strawberry's ``info.selected_fields`` describes (names, aliases, fragment
type conditions, nesting) for every shape of query, and be shared only by requests that parse to
the same document.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.extensions import ParserCache
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from resolvers import selection

SEEN: list[tuple[Any, Any]] = []


def _shape(selections: Any) -> list[Any]:
    out: list[Any] = []
    for s in selections:
        if isinstance(s, SelectedField):
            out.append(("field", s.name, s.alias, _shape(s.selections)))
        elif isinstance(s, InlineFragment):
            out.append(("inline", s.type_condition, _shape(s.selections)))
        elif isinstance(s, FragmentSpread):
            out.append(("spread", s.name, s.type_condition, _shape(s.selections)))
    return out


@strawberry.type
class Leaf:
    name: str = "x"
    size: int = 1


@strawberry.type
class Branch:
    leaf: Leaf = strawberry.field(default_factory=Leaf)
    leaves: list[Leaf] = strawberry.field(default_factory=lambda: [Leaf()])
    label: str = "b"


@strawberry.type
class Query:
    @strawberry.field
    def branch(self, info: Info, n: int = 0) -> Branch:
        SEEN.append((selection.selected(info), info.selected_fields[0].selections))
        return Branch()


SCHEMA = strawberry.Schema(Query, extensions=[ParserCache])

QUERIES = [
    "{ branch { label } }",
    "{ branch(n: 3) { b: label leaf { name } leaves { size name } } }",
    "query Q($n: Int!) { branch(n: $n) { ...F leaf { ... on Leaf { size } } } }"
    " fragment F on Branch { label leaves { name } }",
    "{ branch { ... on Branch { leaf { ...L } } ... { label } } } fragment L on Leaf { name size }",
    "{ a: branch { label } b: branch { leaf { name } } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_tree_is_what_strawberry_selects(query: str) -> None:
    SEEN.clear()
    result = await SCHEMA.execute(query, variable_values={"n": 2})
    assert result.errors is None
    assert SEEN
    for ours, strawberrys in SEEN:
        assert _shape(ours) == _shape(strawberrys)


async def test_one_tree_per_document_and_field() -> None:
    query = QUERIES[2]
    SEEN.clear()
    await SCHEMA.execute(query, variable_values={"n": 1})
    await SCHEMA.execute(query, variable_values={"n": 5})  # other variables: the same tree
    assert SEEN[0][0] is SEEN[1][0]
    SEEN.clear()
    await SCHEMA.execute(QUERIES[4])  # two fields of one document: two trees
    assert SEEN[0][0] is not SEEN[1][0]
    assert _shape(SEEN[0][0]) != _shape(SEEN[1][0])


async def test_another_document_never_shares_a_tree() -> None:
    SEEN.clear()
    await SCHEMA.execute("{ branch { label } }")
    await SCHEMA.execute("{ branch { leaf { name } } }")
    assert _shape(SEEN[0][0]) == [("field", "label", None, [])]
    assert _shape(SEEN[1][0]) == [("field", "leaf", None, [("field", "name", None, [])])]


async def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "MAX_SELECTIONS", 3)
    for i in range(8):
        await SCHEMA.execute(f"{{ branch(n: {i}) {{ label }} }}")
    assert len(selection._SELECTIONS) <= 3
