"""HTTP: GraphiQL for browsers at GET /graphql, JSON answers to POST, health endpoints."""

from __future__ import annotations

from typing import Any

import httpx

# `client`: the demo hub over HTTP, from tests/conftest.py.


async def test_graphiql_is_served_to_a_browser_with_the_example_query(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert "query PortalList" in response.text


async def test_post_answers_json_with_source_report(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ cases(first: 3) { edges { node { id agency { code } victims { sex } } } } }"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert "errors" not in body
    assert len(body["data"]["cases"]["edges"]) == 3
    sources = {s["source"]: s for s in body["extensions"]["sources"]}
    assert set(sources) == {"simfoni", "polri", "lpsk", "bp2mi", "kemlu"}
    for entry in sources.values():
        assert set(entry) == {"source", "status", "elapsedMs", "statements", "rows"}
        assert entry["status"] == "ok"


async def test_get_query_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ agencies { code } }"})
    assert response.status_code == 200
    codes = {a["code"] for a in response.json()["data"]["agencies"]}
    assert codes == {"KEMENPPPA", "POLRI", "LPSK", "BP2MI", "KEMLU"}


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert {s["status"] for s in ready.json()["sources"]} == {"up"}
