"""Abuse limits: body size, `_entities` cap, bounded metrics, budgets (429), the work model,
per-principal persisted queries, breakers that count source faults only, and credentials."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from graphql import parse

from hub.access.auth import load_auth, mint_token
from hub.access.budgets import Budgets, RateLimited, budget_key
from hub.access.policy import ANONYMOUS, Principal, QueryLimits
from hub.engine.breaker import CircuitBreaker
from hub.engine.config import load_config, parse_config
from hub.engine.ids import encode_id
from hub.server.app import Hub, create_app
from hub.server.persisted import sha256
from hub.vocabulary.model import Entity
from resolvers.safety import estimate_work
from resolvers.schema import schema
from tests.test_resilience import sqlite_sources

CASES_VICTIMS = "cases(first: 500) { edges { node { victims { id } } } }"


@pytest.fixture
async def client(demo_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_config(demo_dir / "hub.toml"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


def _config_app(demo_dir: Path, tmp_path: Path, **sections: Any) -> Any:
    raw: dict[str, Any] = {"hub": {"demo": True}, "sources": sqlite_sources(demo_dir, ["polri"])}
    raw.update(sections)
    return create_app(parse_config(raw, tmp_path))


# --- request body limit -----------------------------------------------------------------------


async def test_bodies_over_the_limit_are_413(client: httpx.AsyncClient) -> None:
    big = b'{"query": "{ agencies { code } }", "x": "' + b"a" * 1_000_001 + b'"}'
    response = await client.post("/graphql", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "max": 1_000_000}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until the limit passes
        yield b'{"query": "{ agencies { code } }", "x": "'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"}'

    streamed = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    small = await client.post("/graphql", json={"query": "{ agencies { code } }"})
    assert small.status_code == 200 and small.json()["data"]["agencies"]


async def test_body_limit_is_configurable(demo_dir: Path, tmp_path: Path) -> None:
    app = _config_app(demo_dir, tmp_path, http={"max_body_bytes": 2048})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            padded = {"query": "{ agencies { code } }", "variables": {"pad": "x" * 3000}}
            assert (await http.post("/graphql", json=padded)).status_code == 413
            assert (await http.post("/graphql", json={"query": "{ agencies { code } }"})).status_code == 200


# --- malformed requests: 4xx or BAD_USER_INPUT, never 5xx ---------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "\xff\xfe"}',
        b"42",
        b'"query"',
        b"null",
        b"[" * 100_000,
        b'{"query": "{ a }", "operationName": 5}',
    ],
)
async def test_malformed_bodies_are_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("query($v: String) { cases(after: $v) { totalCount } }", _b64("[" * 50_000 + "]" * 50_000)),
        ("query($v: String) { persons(after: $v) { totalCount } }", _b64("person:" + "9" * 5000)),
        ("query($v: String) { persons(after: $v) { totalCount } }", _b64(f"person:{2**63}")),
        ("query($v: ID!) { person(id: $v) { id } }", _b64("_linkage:person:" + "9" * 5000)),
        ("query($v: ID!) { person(id: $v) { id } }", _b64(f"_linkage:person:{2**63}")),
        ("query($v: ID!) { node(id: $v) { id } }", _b64(f"_linkage:person:{2**63}")),
        ("query($v: ID!) { node(id: $v) { id } }", _b64("_linkage:person:٣")),
    ],
)
async def test_malformed_ids_and_cursors_are_bad_user_input(hub: Hub, query: str, value: str) -> None:
    result = await hub.execute(query, {"v": value})
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]


# --- _entities ----------------------------------------------------------------------------------

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Case { id sourceKey } } }"


async def test_entities_representations_are_capped_at_the_page_cap(hub: Hub) -> None:
    ids = [encode_id("polri", Entity.CASE, f"LP/B/{i}/2023") for i in range(501)]
    result = await hub.execute(ENTITIES, {"r": [{"__typename": "Case", "id": i} for i in ids]})
    (error,) = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "representations"}
    assert "500" in error.message
    within = await hub.execute(ENTITIES, {"r": [{"__typename": "Case", "id": i} for i in ids[:500]]})
    assert not within.errors and len(within.data["_entities"]) == 500


@pytest.mark.parametrize(
    "representation",
    [
        1,
        "Case",
        {"id": "x"},
        {"__typename": "Nope", "id": "x"},
        {"__typename": "Case"},
        {"__typename": "Case", "id": 5},
        {"__typename": "Case", "id": ["x"]},
        {"__typename": "Case", "id": "x", "extra": 1},
        {"__typename": "Agency", "code": {"a": 1}},
        {"__typename": "PersonRecord", "id": "x" * 5000},
    ],
)
async def test_malformed_representations_are_bad_input(hub: Hub, representation: Any) -> None:
    result = await hub.execute(ENTITIES, {"r": [representation]})
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]


# --- metrics labels -------------------------------------------------------------------------------


async def test_metrics_labels_are_bounded(client: httpx.AsyncClient) -> None:
    for i in range(40):
        await client.post("/graphql", json={"query": f"query Op{i} {{ agencies {{ code }} }}"})
    await client.post("/graphql", json={"query": "query PortalList { agencies { code } }"})
    text = (await client.get("/metrics")).text
    operations = {
        line.split('operation="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("tppo_hub_requests_total{")
    }
    assert operations == {"other", "PortalList"}


# --- budgets ----------------------------------------------------------------------------------------


def test_work_budget_refills_over_time() -> None:
    now = [0.0]
    budgets = Budgets(QueryLimits(work_per_second=100, work_burst=1000), clock=lambda: now[0])
    budgets.charge("a", 900)
    with pytest.raises(RateLimited) as refused:
        budgets.charge("a", 300)
    assert refused.value.budget == "work" and refused.value.retry_after == pytest.approx(2.0)
    assert refused.value.retry_after_header == "2"
    budgets.charge("b", 900)  # another principal has its own bucket
    now[0] = 2.0
    budgets.charge("a", 300)
    assert budgets.available("a") == pytest.approx(0.0)


def test_concurrency_budget_and_bounded_table() -> None:
    budgets = Budgets(QueryLimits(concurrent_requests=2), max_tracked=3)
    budgets.enter("a")
    budgets.enter("a")
    with pytest.raises(RateLimited) as refused:
        budgets.enter("a")
    assert refused.value.budget == "concurrency" and refused.value.retry_after_header == "1"
    budgets.leave("a")
    budgets.enter("a")
    for key in ("b", "c", "d", "e"):  # idle full buckets make room; "a" (in flight) stays
        budgets.enter(key)
        budgets.leave(key)
    with pytest.raises(RateLimited):
        budgets.enter("a")


def test_anonymous_callers_get_a_share_of_the_budget() -> None:
    budgets = Budgets(
        QueryLimits(work_per_second=100, work_burst=1000, anonymous_share=0.5), clock=lambda: 0.0
    )
    assert budgets.available("anonymous:10.0.0.1") == 500
    assert budgets.available("jwt:alice") == 1000
    with pytest.raises(RateLimited) as refused:
        budgets.charge("anonymous:10.0.0.1", 600)
    assert refused.value.retry_after == pytest.approx(2.0)  # 100 missing at 50 per second


def test_budget_keys_tell_principals_and_anonymous_clients_apart() -> None:
    anonymous = Principal(subject="anonymous", role="analyst", method="anonymous", demo=True)
    assert budget_key(anonymous, "10.0.0.1") != budget_key(anonymous, "10.0.0.2")
    alice = Principal(subject="alice", role="analyst", method="jwt", token_id="t")
    assert budget_key(alice, "10.0.0.1") == budget_key(alice, "10.0.0.2")


async def test_spent_work_budget_is_429_with_retry_after(demo_dir: Path, tmp_path: Path) -> None:
    limits = {"work_per_second": 1, "work_burst": 600, "max_work": 600, "anonymous_share": 1}
    app = _config_app(demo_dir, tmp_path, auth={"limits": limits})
    query = {"query": "{ cases(first: 500) { edges { node { id } } } }"}  # ~100 ms of work
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            statuses = [(await http.post("/graphql", json=query)).status_code for _ in range(8)]
            refused = await http.post("/graphql", json=query)
        assert statuses[0] == 200 and statuses[-1] == 429
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        (error,) = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["budget"] == "work"
        other = httpx.ASGITransport(app=app, client=("10.0.0.2", 1234))
        async with httpx.AsyncClient(transport=other, base_url="http://hub") as http:
            assert (await http.post("/graphql", json=query)).status_code == 200  # not their budget


async def test_concurrent_requests_of_one_caller_are_429(demo_dir: Path, tmp_path: Path) -> None:
    app = _config_app(demo_dir, tmp_path, auth={"limits": {"concurrent_requests": 1}})
    async with app.router.lifespan_context(app):
        hub: Hub = app.state.hub
        source = hub.registry.get("polri").source
        original = source.search_cases
        release = asyncio.Event()

        async def held(*args: Any, **kwargs: Any) -> Any:
            await release.wait()
            return await original(*args, **kwargs)

        source.search_cases = held  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            query = {"query": "{ cases(first: 1) { edges { node { id } } } }"}
            first = asyncio.create_task(http.post("/graphql", json=query))
            while not hub.budgets._buckets or not next(iter(hub.budgets._buckets.values())).in_flight:
                await asyncio.sleep(0.01)
            second = await http.post("/graphql", json=query)
            release.set()
            assert (await first).status_code == 200
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert second.json()["errors"][0]["extensions"]["budget"] == "concurrency"


# --- the work model -----------------------------------------------------------------------------------


def _work(query: str, suppressed: bool = True) -> float:
    return estimate_work(schema._schema, parse(query), None, {}, QueryLimits(), suppressed=suppressed)


def test_work_prices_dimensions_aliases_and_fan_out() -> None:
    one = _work("{ statistics(measure: CASES, groupBy: [PROVINCE]) { total } }")
    three = _work("{ statistics(measure: CASES, groupBy: [REGENCY, MONTH, EXPLOITATION_TYPE]) { total } }")
    assert three > 50 * one
    assert _work("{ statistics(measure: CASES, groupBy: [REGENCY, MONTH, STAGE]) { total } }", False) < three
    page = _work("{ cases(first: 500) { edges { node { id } } } }")
    with_victims = _work(f"{{ {CASES_VICTIMS} }}")
    assert with_victims > 3 * page
    aliased = " ".join(f"a{i}: {CASES_VICTIMS}" for i in range(30))
    assert _work(f"{{ {aliased} }}") == pytest.approx(30 * with_victims, rel=0.01)
    fragment = "fragment V on Case { victims { id services { id } } }"
    nested = _work(f"{fragment} {{ cases(first: 100) {{ edges {{ node {{ ...V }} }} }} }}")
    assert nested > _work("{ cases(first: 100) { edges { node { victims { id } } } } }")


async def test_thirty_aliased_pages_with_victims_do_not_pass(hub: Hub) -> None:
    aliased = " ".join(f"a{i}: {CASES_VICTIMS}" for i in range(30))
    result = await hub.execute(f"{{ {aliased} }}")
    (error,) = result.errors
    assert error.extensions["code"] == "QUERY_TOO_COMPLEX" and error.extensions["limit"] == "work"
    assert result.data is None
    single = await hub.execute(f"{{ {CASES_VICTIMS} }}")
    assert not single.errors


# --- persisted queries per principal ----------------------------------------------------------------


async def test_persisted_queries_are_kept_per_principal(client: httpx.AsyncClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    query = "{ agencies { code name } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    token = mint_token(hub.auth, "analyst", subject="alice")
    alice = {"Authorization": f"Bearer {token}"}
    bob = {"Authorization": f"Bearer {mint_token(hub.auth, 'analyst', subject='bob')}"}
    stored = await client.post("/graphql", json={"query": query, "extensions": extensions}, headers=alice)
    assert stored.json()["data"]["agencies"]
    again = await client.post("/graphql", json={"extensions": extensions}, headers=alice)
    assert again.json()["data"]["agencies"]
    other = await client.post("/graphql", json={"extensions": extensions}, headers=bob)
    assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


# --- credentials ---------------------------------------------------------------------------------------


async def test_duplicate_credential_headers_are_400(client: httpx.AsyncClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    token = mint_token(hub.auth, "analyst")
    for name, value in (("Authorization", f"Bearer {token}"), ("X-API-Key", "k"), ("X-Purpose", "p")):
        headers = httpx.Headers([(name, value), (name, value)])
        response = await client.post("/graphql", json={"query": "{ whoami { role } }"}, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_long_lived_tokens_and_audited_roles_without_jti_are_refused(client: httpx.AsyncClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    secret = hub.auth.secret
    now = int(time.time())
    base = {"sub": "s", "aud": "tppo-hub", "iss": "tppo-hub", "iat": now, "role": "analyst", "jti": "j"}

    async def status(claims: dict[str, Any]) -> int:
        token = jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")
        response = await client.post(
            "/graphql", json={"query": "{ whoami { role } }"}, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    assert await status({**base, "exp": now + 3600}) == 200
    assert await status({**base, "exp": now + 100 * 365 * 86400}) == 401  # a 100-year token
    assert await status({**base, "iat": None, "exp": now + 2 * 86400}) == 401
    assert await status({**base, "role": "coordinator", "exp": now + 600}) == 200
    assert await status({**base, "role": "coordinator", "jti": None, "exp": now + 600}) == 401
    assert await status({**base, "role": "analyst", "jti": None, "exp": now + 600}) == 200


def test_token_lifetime_is_configurable(demo_dir: Path, tmp_path: Path) -> None:
    config = parse_config({"hub": {"demo": True}, "auth": {"max_token_lifetime_seconds": 600}}, tmp_path)
    settings = load_auth(config)
    assert settings.max_token_lifetime_seconds == 600
    with pytest.raises(ValueError, match="maximum token lifetime"):
        mint_token(settings, "analyst", ttl_seconds=3600)


# --- breakers count source faults only ---------------------------------------------------------------


async def test_expensive_query_timeouts_do_not_open_the_breaker(demo_dir: Path, tmp_path: Path) -> None:
    sources = [{**s, "timeout_seconds": 0.3} for s in sqlite_sources(demo_dir, ["polri"])]
    config = parse_config({"hub": {"breaker_threshold": 2}, "sources": sources}, tmp_path)
    hub = Hub(config)
    await hub.start()
    try:
        entry = hub.registry.get("polri")
        source = entry.source

        async def expensive(*_args: Any, **_kwargs: Any) -> Any:
            await asyncio.sleep(2)

        source.search_cases = expensive  # type: ignore[method-assign]
        for _ in range(4):
            result = await hub.execute("{ cases(first: 5) { edges { node { id } } } }", principal=ANONYMOUS)
            assert [e.extensions["code"] for e in result.errors] == ["SOURCE_TIMEOUT"]
        assert entry.breaker.state.value == "closed"  # the source answered its probe every time

        async def unhealthy() -> Any:
            await asyncio.sleep(5)  # the probe times out as well: a fault of the source

        source.health = unhealthy  # type: ignore[method-assign]
        for _ in range(2):
            await hub.execute("{ cases(first: 5) { edges { node { id } } } }")
        assert entry.breaker.state.value == "open"
    finally:
        await hub.stop()


async def test_one_probe_judges_concurrent_timeouts() -> None:
    breaker = CircuitBreaker(threshold=1)
    calls = 0

    async def probe() -> bool:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return True

    verdicts = await asyncio.gather(*(breaker.judge_timeout(probe) for _ in range(5)))
    assert verdicts == [True] * 5 and calls == 1 and breaker.state.value == "closed"

    async def failing() -> bool:
        raise OSError("connection refused")

    assert await breaker.judge_timeout(failing) is False
    assert breaker.state.value == "open"
