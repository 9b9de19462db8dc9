"""Units of the HTTP layer: media-type negotiation, persisted queries, request ids, JSON logs."""

from __future__ import annotations

import json
import logging

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hub.server.http import accepts_graphql_response
from hub.server.logs import REQUEST_ID, JSONFormatter, PersonalDataFilter, RequestIdMiddleware
from hub.server.persisted import PersistedQueries, Rejection, sha256


def test_accept_negotiation() -> None:
    assert accepts_graphql_response("application/graphql-response+json")
    assert accepts_graphql_response("application/graphql-response+json, application/json;q=0.9")
    assert not accepts_graphql_response("application/json")
    assert not accepts_graphql_response("application/json, application/graphql-response+json;q=0.5")
    assert not accepts_graphql_response("*/*")


def test_automatic_persisted_queries() -> None:
    store = PersistedQueries()
    query = "{ agencies { code } }"
    digest = sha256(query)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert store.resolve(None, extensions) == Rejection("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    assert store.resolve(query, extensions) == query
    assert store.resolve(None, extensions) == query
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    assert isinstance(store.resolve(query, wrong), Rejection)
    assert store.resolve("{ sources { name } }", None) == "{ sources { name } }"


def test_cache_is_bounded() -> None:
    store = PersistedQueries(max_cached=2)
    queries = [f"{{ a{i}: agencies {{ code }} }}" for i in range(3)]
    for q in queries:
        store.resolve(q, {"persistedQuery": {"version": 1, "sha256Hash": sha256(q)}})
    first = {"persistedQuery": {"version": 1, "sha256Hash": sha256(queries[0])}}
    assert isinstance(store.resolve(None, first), Rejection)


def test_allow_list_mode_rejects_other_queries() -> None:
    allowed = "{ agencies { code } }"
    store = PersistedQueries(allow_list={sha256(allowed): allowed})
    assert store.resolve(allowed, None) == allowed
    assert store.resolve(None, {"persistedQuery": {"version": 1, "sha256Hash": sha256(allowed)}}) == allowed
    rejected = store.resolve("{ sources { name } }", None)
    assert isinstance(rejected, Rejection) and rejected.code == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_request_id_header_and_log_field() -> None:
    seen: list[str | None] = []

    async def endpoint(_request: object) -> PlainTextResponse:
        seen.append(REQUEST_ID.get())
        return PlainTextResponse("ok")

    app = RequestIdMiddleware(Starlette(routes=[Route("/", endpoint)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        given = await client.get("/", headers={"X-Request-ID": "abc-123"})
        made = await client.get("/", headers={"X-Request-ID": "bad id with spaces\n"})
    assert given.headers["x-request-id"] == "abc-123" and seen[0] == "abc-123"
    assert made.headers["x-request-id"] == seen[1] and len(seen[1] or "") == 32


def test_json_formatter_and_filter() -> None:
    token = REQUEST_ID.set("r1")
    try:
        record = logging.LogRecord(
            "tppo_hub.x", logging.INFO, __file__, 1, "source %s open", ("polri",), None
        )
        line = json.loads(JSONFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "source polri open" and line["requestId"] == "r1" and line["level"] == "info"
    try:
        raise RuntimeError("NIK 3374011203900001 of Siti")
    except RuntimeError:
        import sys

        leaky = logging.LogRecord(
            "strawberry.execution",
            logging.ERROR,
            __file__,
            1,
            "%s",
            ("NIK 3374011203900001",),
            sys.exc_info(),
        )
    assert PersonalDataFilter().filter(leaky)
    text = JSONFormatter().format(leaky)
    assert "3374011203900001" not in text and "Siti" not in text


async def test_source_calls_are_traced_without_values(hub: object) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace._TRACER_PROVIDER = None  # allow replacing the global provider in this test
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(provider)
    try:
        result = await hub.execute('{ cases(first: 5, filter: {text: "LP/B/1"}) { totalCount } }')  # type: ignore[attr-defined]
        assert not result.errors
    finally:
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE._done = False
    spans = exporter.get_finished_spans()
    assert {s.attributes["source"] for s in spans if s.name == "tppo.source"} >= {"polri", "simfoni"}
    for recorded in spans:
        assert "LP/B/1" not in str(dict(recorded.attributes or {}))
