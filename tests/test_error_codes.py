"""Every error a client can get has ``extensions.code``: syntax errors, schema validation,
and requests refused before GraphQL runs (not JSON, unknown operation name)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# `client`: the demo hub over HTTP, from tests/conftest.py.


async def test_a_syntax_error_has_a_code(hub: Any) -> None:
    result = await hub.execute("{ cases(")
    assert [e.extensions["code"] for e in result.errors] == ["GRAPHQL_PARSE_FAILED"]


async def test_a_document_the_schema_rejects_has_a_code(hub: Any) -> None:
    result = await hub.execute("{ nope }")
    assert [e.extensions["code"] for e in result.errors] == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_syntax_errors_over_http(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.post("/graphql", json={"query": "{ cases("}, headers={"accept": accept})
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"content": "not json", "headers": {"content-type": "application/json"}}, 400),
        ({"json": {"query": "{ __typename }", "operationName": "Missing"}}, 400),
        ({"json": {"variables": {}}}, 400),
    ],
)
async def test_refused_requests_answer_a_graphql_error_body(
    client: httpx.AsyncClient, request_kwargs: dict[str, Any], status: int
) -> None:
    response = await client.post("/graphql", **request_kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
    assert errors[0]["message"]
