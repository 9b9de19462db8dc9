"""The compiled path (resolvers/compiled.py) answers exactly what graphql-core's field-by-field path answers.

Every documented operation — the GraphiQL examples, every ``graphql`` block of the README and
of docs/ — runs twice on the demo hub, once completed by plan and once field by field, under
the roles that may run it; data, errors and extensions (timings aside) must be equal. A second
group of tests drives the plan into its fall-backs (a null in a non-null field, a value a scalar
cannot serialise, an object of another type, a field with its own resolver, @include) and
checks the errors and partial data are still graphql-core's own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from hub.access.policy import Principal
from hub.server import examples
from hub.server.repeats import RepeatedOperations
from resolvers.compiled import Fallback, PlanCache, _object_completer, execution_context_for

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (path.name, block)
    for path in DOCUMENTS
    for block in re.findall(r"```graphql\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
]
#: Mutations change the hub's state, so two runs cannot be compared; the compiled path completes
#: query results and a mutation's payload alike, and the payload types are covered by queries.
OPERATIONS = [
    *(
        (f"{name} #{i}", block)
        for i, (name, block) in enumerate(BLOCKS)
        if not block.lstrip().startswith("mutation")
    ),
    ("examples.PORTAL_LIST", examples.PORTAL_LIST),
    ("examples.ANALYST_FILTER", examples.ANALYST_FILTER),
    ("examples.CASE_DETAIL", examples.CASE_DETAIL),
    # Personal fields have resolvers of their own (the policy point): the plan must stop there.
    (
        "personal fields",
        "{ cases(first: 8) { edges { node { id victims { id sex fullName nik birthDate phone "
        "services { type } } } } } }",
    ),
    (
        "aliases and __typename",
        "{ c: cases(first: 3) { t: __typename edges { n: node { __typename a: id } } } }",
    ),
]
PRINCIPALS = {
    "analyst": Principal(subject="t-analyst", role="analyst"),
    "coordinator": Principal(subject="t-coordinator", role="coordinator", purpose="test"),
    "admin": Principal(subject="t-admin", role="admin"),
}
#: Keys whose values are wall-clock measurements, not answers — and ``statements``, which
#: counts how a request's loads were batched: the engine expands relations concurrently, and
#: whether loads issued after two concurrent statements share one batch depends on which
#: statement answered first, so a loaded machine can split a batch (seen once: README #4, the
#: linked persons, as coordinator). The rows read do not depend on it and are compared.
TIMINGS = {"elapsedMs", "durationMs", "elapsed_ms", "statements"}


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


async def _variables(hub: Any, query: str) -> dict[str, Any]:
    if "$id" in query:
        first = await hub.execute("{ cases(first: 1) { edges { node { id } } } }")
        return {"id": first.data["cases"]["edges"][0]["node"]["id"]}
    return {"after": None} if "$after" in query else {}


def _answer(result: Any) -> tuple[Any, Any, Any]:
    errors = [e.formatted for e in result.errors or []]
    return result.data, errors, _without_timings(result.extensions)


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
@pytest.mark.parametrize(("name", "query"), OPERATIONS, ids=[name for name, _ in OPERATIONS])
async def test_compiled_path_equals_normal_path(hub: Any, name: str, query: str, role: str) -> None:
    principal = PRINCIPALS[role]
    variables = await _variables(hub, query)
    compiled_before = hub.schema.plans.compiled
    normal = await hub.execute(query, variables, principal, compiled=False)
    planned = await hub.execute(query, variables, principal, compiled=True)
    if _answer(planned) != _answer(normal):
        # The hub's state may move between the two runs — reading the audit log is itself
        # logged; a linkage run finishing in the background changes ``extensions.linkage``
        # (seen once: README #4 as coordinator) — so a second normal run, taken after the
        # planned one, must then agree with it. A plan that answers wrongly agrees with neither.
        again = await hub.execute(query, variables, principal, compiled=False)
        assert _answer(planned) == _answer(again)
    assert hub.schema.plans.compiled >= compiled_before
    assert planned.data is not None or planned.errors


async def test_the_portal_page_is_planned_whole(hub: Any) -> None:
    """Not vacuous: the portal page's connection is completed by one plan, reused on the next run."""
    await hub.execute(examples.PORTAL_LIST, {"after": None}, compiled=True)
    hits = hub.schema.plans.hits
    result = await hub.execute(examples.PORTAL_LIST, {"after": None})  # known: planned by default
    assert not result.errors and result.data["cases"]["edges"]
    assert hub.schema.plans.hits == hits + 1  # one plan lookup for the whole connection


async def test_an_ad_hoc_query_is_planned_when_sent_again_and_answers_the_same(hub: Any) -> None:
    """A text sent once makes no plan; sent again, it is planned (hub/server/repeats.py) and its
    answer is the one completed field by field."""
    query = (
        "{ statistics(measure: CASES, groupBy: [PROVINCE, YEAR]) "
        "{ total rows { keys { value label } count } } }"
    )
    coordinator = PRINCIPALS["coordinator"]
    before = len(hub.schema.plans)
    first = await hub.execute(query, None, coordinator)
    assert not first.errors and len(hub.schema.plans) == before
    again = await hub.execute(query, None, coordinator)
    assert len(hub.schema.plans) > before
    by_field = await hub.execute(query, None, coordinator, compiled=False)
    assert _answer(again) == _answer(by_field) == _answer(first)
    assert len(again.data["statistics"]["rows"]) > 50


def test_repeated_operations_remember_digests_in_a_bounded_lru() -> None:
    repeated = RepeatedOperations(size=2)
    assert not repeated.seen_before("{ a }")
    assert repeated.seen_before("{ a }")
    assert not repeated.seen_before("{ b }")
    assert repeated.seen_before("{ a }")  # now the most recent
    assert not repeated.seen_before("{ c }")  # evicts "{ b }", the least recent
    assert len(repeated) == 2
    assert not repeated.seen_before("{ b }")
    assert repeated.seen_before("{ c }")
    with pytest.raises(ValueError):
        RepeatedOperations(size=0)


# --- fall-backs, on a small schema whose resolvers return what we choose --------------------------


@strawberry.type
class Item:
    name: str
    size: int | None
    tags: list[str]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Other:
    name: str


@strawberry.type
class Query:
    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Item]:
        return info.context.items


class _Context:
    def __init__(self, items: list[Any], known: bool) -> None:
        self.items = items
        self.known_operation = known


def _schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=execution_context_for(PlanCache()),
    )


CASES = {
    "plain": [Item(name="a", size=1, tags=["x"]), Item(name="b", size=None, tags=[])],
    "null in a non-null field": [Item(name="a", size=1, tags=[]), Item(name=None, size=2, tags=[])],  # type: ignore[arg-type]
    "unserialisable int": [Item(name="a", size="many", tags=[])],  # type: ignore[arg-type]
    "null list item": [Item(name="a", size=1, tags=["x", None])],  # type: ignore[list-item]
    "object of another type": [Other(name="o")],
    "tuple for a list": [Item(name="a", size=1, tags=("x", "y"))],  # type: ignore[arg-type]
}
QUERIES = {
    "plain fields": "{ items { name size tags __typename } }",
    "own resolver": "{ items { name shout } }",
    "include directive": "query Q($on: Boolean!) { items { name size @include(if: $on) } }",
}


@pytest.mark.parametrize("query_name", sorted(QUERIES))
@pytest.mark.parametrize("case", sorted(CASES))
async def test_fallbacks_answer_like_graphql_core(case: str, query_name: str) -> None:
    schema = _schema()
    query = QUERIES[query_name]
    variables = {"on": True} if "$on" in query else None
    for _ in range(2):  # the second run reuses the plan (or the verdict that there is none)
        normal = await schema.execute(query, variables, context_value=_Context(CASES[case], known=False))
        planned = await schema.execute(query, variables, context_value=_Context(CASES[case], known=True))
        assert planned.data == normal.data
        assert [e.formatted for e in planned.errors or []] == [e.formatted for e in normal.errors or []]


# --- which requests are known, over HTTP ---------------------------------------------------------


async def test_http_plans_known_operations_only(demo_dir: Path) -> None:
    """Examples sent as text and APQ-registered queries are planned; other texts only when
    sent again."""
    import httpx

    from hub.engine.config import load_config
    from hub.server.app import create_app
    from hub.server.persisted import sha256

    app = create_app(load_config(demo_dir / "hub.toml"))
    plans = app.state.hub.schema.plans
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            ad_hoc = "{ cases(first: 2) { edges { node { sourceKey victims { sex } } } } }"
            once = (await http.post("/graphql", json={"query": ad_hoc})).json()
            assert once["data"] and len(plans) == 0
            page = (await http.post("/graphql", json={"query": examples.PORTAL_LIST})).json()
            assert page["data"]["cases"]["edges"] and len(plans) == 1
            persisted = "{ cases(first: 2) { edges { node { reportedAt stage } } } }"
            apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256(persisted)}}
            first = await http.post("/graphql", json={"query": persisted, "extensions": apq})
            again = await http.post("/graphql", json={"extensions": apq})
            assert first.json()["data"] == again.json()["data"] and len(plans) == 2
            # The ad-hoc text sent again: planned now, the same answer.
            twice = (await http.post("/graphql", json={"query": ad_hoc})).json()
            assert twice["data"] == once["data"] and len(plans) == 3


def test_vocabulary_enums_are_named_by_the_plan_as_serialize_names_them(hub: Any) -> None:
    """Records carry the vocabulary's enums (``hub.vocabulary.model.AgeGroup``), not the schema's
    copies; the plan names them from the type's own table, without ``serialize`` (issue 13)."""
    from graphql import GraphQLEnumType

    from resolvers.compiled import _enum_leaf
    from resolvers.enums import BY_MODEL

    types = {t.name: t for t in hub.schema._schema.type_map.values() if isinstance(t, GraphQLEnumType)}
    checked = 0
    for vocabulary, schema_enum in BY_MODEL.items():
        graphql_type = types[schema_enum.__name__]
        expected = {member: graphql_type.serialize(member) for member in vocabulary}

        def refuse(_value: Any) -> Any:
            raise AssertionError("serialize called for a vocabulary member")

        original = graphql_type.serialize
        graphql_type.serialize = refuse  # type: ignore[method-assign]
        try:
            leaf = _enum_leaf(graphql_type)
            for member, name in expected.items():
                assert leaf(member) == name
                checked += 1
        finally:
            graphql_type.serialize = original  # type: ignore[method-assign]
    assert checked > 50


# --- plain leaves are placed without a call (issue 13) --------------------------------------------


def test_plain_leaves_skip_their_completer_and_the_rest_do_not() -> None:
    from types import SimpleNamespace

    from resolvers.compiled import Fallback, _non_null, _nullable, _object_completer

    calls: list[Any] = []

    def serialize(value: Any) -> Any:
        calls.append(value)
        return str(value)

    leaf = _nullable(serialize, str)
    plan = _object_completer([("a", "a", leaf), ("b", "b", _non_null(leaf)), ("c", "c", leaf)])
    assert plan(SimpleNamespace(a="x", b="y", c=None)) == {"a": "x", "b": "y", "c": None}
    assert calls == []  # plain strings and a nullable null: no call
    assert plan(SimpleNamespace(a=7, b="y", c=None)) == {"a": "7", "b": "y", "c": None}
    assert calls == [7]  # anything else goes through the completer
    with pytest.raises(Fallback):
        plan(SimpleNamespace(a="x", b=None, c=None))  # null in a non-null field: graphql-core's


def test_a_generated_completer_reads_names_from_its_namespace_never_from_its_text() -> None:
    """The completer of a selection is generated code: response keys, odd attribute names
    (a keyword, a name that is no identifier) and methods reach it as values, so any text
    in them stays text; plain values pass unchanged, others go through their completer."""

    class Row:
        name = "a"
        number = 7

        def __getattr__(self, attribute: str) -> Any:
            return {"class": "kw", "not an identifier": "odd"}.get(attribute) or object.__getattribute__(
                self, attribute
            )

    def upper(value: str) -> str:
        return value.upper()

    upper.plain = None  # type: ignore[attr-defined]
    upper.nullable = True  # type: ignore[attr-defined]

    def plain_str(value: Any) -> Any:
        raise AssertionError("a plain string is kept as it is")

    plain_str.plain = str  # type: ignore[attr-defined]
    plain_str.nullable = True  # type: ignore[attr-defined]
    readers = [
        ('k"}; raise SystemExit  #', "name", plain_str),
        ("kw", "class", upper),
        ("odd", "not an identifier", upper),
        ("method", lambda row: row.number * 2, _plus_one()),
        ("__typename", None, "Row"),
    ]
    complete = _object_completer(readers)
    assert complete(Row()) == {
        'k"}; raise SystemExit  #': "a",
        "kw": "KW",
        "odd": "ODD",
        "method": 15,
        "__typename": "Row",
    }

    class Missing:
        pass

    with pytest.raises(Fallback):
        complete(Missing())


def _plus_one() -> Any:
    def complete(value: int) -> int:
        return value + 1

    return complete
