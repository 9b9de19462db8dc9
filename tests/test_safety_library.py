"""Why the depth, alias and token limits are the hub's own rules and not strawberry's
QueryDepthLimiter / MaxAliasesLimiter / MaxTokensLimiter (docs/architecture.md §7), shown on one
small schema: strawberry's errors carry no ``extensions.code``, no limit and no actual value,
its depth limiter reports one error per path that crosses the limit, and each extension takes
its limit when the schema is built, while the hub's limits are per hub ([auth.limits]).
Where strawberry's logic does the same job — counting aliases through fragment spreads — the
hub's rule uses it."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import parse, validate
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from resolvers.safety import QuerySafety, validation_rules


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def child(self) -> Item:
        return Item(name=self.name + "'")


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Item:
        return Item(name="root")


def library_schema(**limits: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=limits.get("depth", 100)),
            lambda: MaxAliasesLimiter(max_alias_count=limits.get("aliases", 100)),
            lambda: MaxTokensLimiter(max_token_count=limits.get("tokens", 10_000)),
        ],
    )


def hub_errors(document: str, *, depth: int = 100, aliases: int = 100) -> list[Any]:
    schema = strawberry.Schema(query=Query)
    return validate(schema._schema, parse(document), validation_rules(depth, aliases, True))


WIDE_AND_DEEP = "{ " + " ".join(f"a{i}: root {{ child {{ child {{ name }} }} }}" for i in range(20)) + " }"


def test_depth_errors_differ() -> None:
    result = library_schema(depth=2).execute_sync(WIDE_AND_DEEP)
    # strawberry: one error per aliased path, none with a code, the actual depth never known.
    assert len(result.errors) == 20
    assert {e.message for e in result.errors} == {"'anonymous' exceeds maximum operation depth of 2"}
    assert all(not e.extensions for e in result.errors)
    # The hub: one error for the operation, with the code, the limit, its maximum and the depth.
    (error,) = hub_errors(WIDE_AND_DEEP, depth=2)
    assert error.message == "query depth 4 exceeds the limit of 2"
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": "depth", "max": 2, "actual": 4}


def test_depth_is_counted_differently() -> None:
    # strawberry does not count the leaf level: this is depth 2 for it and 3 for the hub,
    # whose max_depth (default 12) clients have been told counts every level.
    document = "{ root { child { name } } }"
    assert library_schema(depth=2).execute_sync(document).errors is None
    (error,) = hub_errors(document, depth=2)
    assert error.extensions["actual"] == 3


def test_alias_errors_differ_but_the_count_is_the_same() -> None:
    document = "fragment F on Item { x: name y: name } { root { ...F child { ...F } } }"
    (error,) = library_schema(aliases=3).execute_sync(document).errors
    assert error.message == "4 aliases found. Allowed: 3" and not error.extensions
    (error,) = hub_errors(document, aliases=3)
    # The same count (each spread of F counts its aliases again), with the code and numbers.
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": "aliases", "max": 3, "actual": 4}
    assert hub_errors(document, aliases=4) == []


async def test_token_errors_differ() -> None:
    document = "{ root { " + "name " * 5100 + "} }"
    (error,) = library_schema(tokens=5000).execute_sync(document).errors
    # graphql-core's parser refusal, as a syntax error without a code.
    assert error.message == "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    assert not error.extensions
    # The hub sets the same parser option (its backstop) but refuses first, with a code
    # (the default limit of 5000 tokens: this schema has no hub context).
    (error,) = (await strawberry.Schema(query=Query, extensions=[QuerySafety]).execute(document)).errors
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": "tokens", "max": 5000}


def test_strawberry_limits_are_fixed_when_the_schema_is_built() -> None:
    # Its extensions are made per operation from argument-less factories: a factory cannot see
    # the request, so two hubs sharing one schema (as the hub's do) could not differ.
    schema = library_schema(depth=2)
    assert schema.execute_sync(WIDE_AND_DEEP, context_value={"limits": {"max_depth": 100}}).errors
