"""Running it like production: metrics, readiness, request ids, GraphQL over HTTP, APQ, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.engine.config import load_config, parse_config
from hub.server.app import create_app
from hub.server.persisted import sha256


@pytest.fixture(scope="module")
async def client(demo_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    raw = {
        "hub": {"demo": True},
        # "List" has its own metrics series; any other operation name counts as "other".
        "http": {"cors_origins": ["https://portal.example.go.id"], "metrics_operations": ["List"]},
        "sources": [
            {"name": s.name, "mapping": s.mapping, "url": s.url}
            for s in load_config(demo_dir / "hub.toml").sources
        ],
    }
    app = create_app(parse_config(raw, demo_dir))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            yield http


async def test_metrics_parse_and_carry_per_source_series(client: httpx.AsyncClient) -> None:
    await client.post("/graphql", json={"query": "query List { cases(first: 5) { edges { node { id } } } }"})
    await client.post("/graphql", json={"query": "query Unlisted { agencies { code } }"})
    text = (await client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    calls = families["tppo_hub_source_calls"]
    assert {s.labels["source"] for s in calls.samples} >= {"simfoni", "polri", "lpsk", "bp2mi", "kemlu"}
    requests = families["tppo_hub_requests"]
    assert any(
        s.labels.get("operation") == "List" and s.labels.get("outcome") == "ok" for s in requests.samples
    )
    operations = {s.labels.get("operation") for s in requests.samples}
    assert "Unlisted" not in operations and "other" in operations
    assert {s.labels["source"] for s in families["tppo_hub_source_breaker_state"].samples} >= {"polri"}
    assert "tppo_hub_source_pool_checked_out" in families and "tppo_hub_request_seconds" in families


async def test_readiness_reports_store_and_sources(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz")).json()
    assert body["ready"] is True and body["store"] == "up"
    assert {s["source"]: s["breaker"] for s in body["sources"]}["polri"] == "closed"


async def test_request_id_is_returned(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ agencies { code } }"}, headers={"X-Request-ID": "r-42"}
    )
    assert response.headers["x-request-id"] == "r-42"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_graphql_response_json_on_request_errors(client: httpx.AsyncClient) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    parse_error = await client.post("/graphql", json={"query": "{ cases {"}, headers=accept)
    assert parse_error.status_code == 400
    assert parse_error.headers["content-type"].startswith("application/graphql-response+json")
    assert "data" not in parse_error.json() and parse_error.json()["errors"]
    ok = await client.post("/graphql", json={"query": "{ agencies { code } }"}, headers=accept)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(
        "application/graphql-response+json"
    )
    legacy = await client.post("/graphql", json={"query": "{ cases {"})
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")


async def test_automatic_persisted_queries_over_http(client: httpx.AsyncClient) -> None:
    query = "{ sources { name } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    first = (await client.post("/graphql", json={"extensions": extensions})).json()
    assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = (await client.post("/graphql", json={"query": query, "extensions": extensions})).json()
    assert "errors" not in registered
    again = (await client.post("/graphql", json={"extensions": extensions})).json()
    assert again["data"] == registered["data"]


async def test_cors_for_configured_portals_only(client: httpx.AsyncClient) -> None:
    preflight = {"Origin": "https://portal.example.go.id", "Access-Control-Request-Method": "POST"}
    allowed = await client.options("/graphql", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == "https://portal.example.go.id"
    other = await client.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_allow_list_mode(demo_dir: Path, tmp_path: Path) -> None:
    allowed = "{ agencies { code } }"
    (tmp_path / "allow.json").write_text(f'["{allowed}"]')
    raw: dict[str, Any] = {
        "hub": {"demo": True},
        "http": {"persisted_queries": "allow.json"},
        "sources": [{"name": "polri", "mapping": "polri", "url": f"sqlite:///{demo_dir / 'polri.sqlite'}"}],
    }
    app = create_app(parse_config(raw, tmp_path))
    transport = httpx.ASGITransport(app=app)
    http_client = httpx.AsyncClient(transport=transport, base_url="http://t")
    async with app.router.lifespan_context(app), http_client as http:
        ok = (await http.post("/graphql", json={"query": allowed})).json()
        refused = (await http.post("/graphql", json={"query": "{ sources { name } }"})).json()
    assert ok["data"]["agencies"] == [{"code": "POLRI"}]
    assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
