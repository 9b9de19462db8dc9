"""The application factory: a hub built from a configuration, served over HTTP.

:class:`Hub` holds what lives as long as the process — the source registry, the federation
engine, the schema — and makes a fresh per-request context for every operation. It is used
both by the Starlette app (``create_app``) and directly in-process (tests, benchmarks,
``Hub.execute``). There is no module-level mutable state: two hubs in one process are
independent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.types import ExecutionResult

from hub.access.audit import AuditLog
from hub.access.auth import Authenticator, load_auth
from hub.access.budgets import Budgets, budget_key
from hub.access.cellkey import CellKeys
from hub.access.policy import ANONYMOUS, Guard, LinkedAgencies, Principal
from hub.engine import tracing
from hub.engine.config import ConfigError, HubConfig, load_config
from hub.engine.federation import Federation
from hub.engine.metrics import HubMetrics
from hub.engine.sources import SourceRegistry, SourceState
from hub.linkage.access import RequestLinkage
from hub.linkage.index import LinkageIndex
from hub.server import examples, heap, pages
from hub.server.authn import principal_of, protect
from hub.server.http import BodyLimit, GraphQLOverHTTP
from hub.server.logs import RequestIdMiddleware
from hub.server.persisted import PersistedQueries, operation_names
from hub.server.repeats import RepeatedOperations
from hub.storage.store import Store
from hub.vocabulary import model
from resolvers.access import GuardedConverter
from resolvers.context import Context
from resolvers.entities import ENTITIES
from resolvers.schema import HubSchema, build_schema

log = logging.getLogger("tppo_hub.app")


class Hub:
    """One running hub: sources, engine and schema."""

    def __init__(self, config: HubConfig, schema: HubSchema | None = None) -> None:
        self.config = config
        self.store = Store(config.store_url, config.base_dir)
        self.registry = SourceRegistry(config)
        self.metrics = HubMetrics(_metrics_operations(config))
        self.federation = Federation(self.registry, config, self.metrics)
        self.schema = schema or build_schema()
        # Access (hub/access/: auth, policy, audit): checked here, so a bad [auth]
        # section stops the hub before it serves anything.
        self.auth = load_auth(config)
        self.authenticator = Authenticator(self.auth)
        #: Operations the hub documents (its examples): run by plan (resolvers/compiled.py) even
        #: when sent as text; allow-listed and persisted queries are known over HTTP too.
        self.known_queries = frozenset(
            q for q in (*examples.OPERATIONS, config.example_query) if isinstance(q, str) and q
        )
        #: Other operation texts, known from their second run on (hub/server/repeats.py).
        self.repeated = RepeatedOperations()
        self.audit = AuditLog(self.store)
        #: Per-principal concurrency and work budgets of HTTP callers (hub.access.budgets).
        self.budgets = Budgets(self.auth.access.limits)
        #: Policy hook for linkage (issue 5): lets caseworkers read records of persons linked
        #: to their agency's records. None until the linkage index provides one.
        self.linkage: LinkedAgencies | None = None
        #: The cell-key secret for perturbed statistics, read from (or created in) the store at start.
        self.cell_keys: CellKeys | None = None

    async def start(self) -> None:
        # aiosqlite logs every statement with its parameters at DEBUG: never personal data in logs.
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))
        await self.store.open()
        await self.audit.open()
        self.cell_keys = await CellKeys.open(self.store)
        await self.authenticator.start()
        await self.registry.open()

    async def stop(self) -> None:
        await self.registry.close()
        await self.store.close()

    def context(
        self,
        principal: Principal = ANONYMOUS,
        request: Any = None,
        response: Any = None,
        budgets: Budgets | None = None,
        budget_key: str | None = None,
    ) -> Context:
        """A fresh per-request context (call inside the running event loop)."""
        scope = self.federation.new_context()
        linkage = self.linkage
        if linkage is None and principal.role == "caseworker" and self.store.is_open:
            # Caseworkers may read records of persons their agency also holds: the policy asks
            # the linkage index, prefetched once per page (hub.engine.persons.expand).
            linkage = scope.linkage = RequestLinkage(LinkageIndex(self.store.engine), self._agency_code)
        guard = Guard(principal, self._agency_of, self.auth.access, linkage)
        scope.hidden_roles = guard.hidden_roles  # the row rule, applied by the engine
        return Context(
            scope=scope,
            federation=self.federation,
            converter=GuardedConverter(self.registry, guard),
            guard=guard,
            principal=principal,
            limits=self.auth.access.limits,
            entities=ENTITIES,
            audit=self.audit,
            linkage=LinkageIndex(self.store.engine) if self.store.is_open else None,
            metrics=self.metrics,
            cell_keys=self.cell_keys,  # perturbed statistics (hub.access.cellkey)
            budgets=budgets,
            budget_key=budget_key,
            request=request,
            response=response,
        )

    def _agency_code(self, source: str) -> str | None:
        agency = self._agency_of(source)
        return agency.code if agency is not None else None

    def _agency_of(self, source: str) -> model.Agency | None:
        entry = self.registry.get(source)
        return entry.source.agency if entry is not None and entry.source is not None else None

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        principal: Principal = ANONYMOUS,
        *,
        compiled: bool | None = None,
    ) -> ExecutionResult:
        """Run one operation in-process (tests, benchmarks, scripts).

        ``compiled``: complete plain subtrees by plan (True) or field by field (False); by
        default, by plan when the query is one of :attr:`known_queries`, as over HTTP.
        """
        context = self.context(principal)
        if compiled is None:
            compiled = query in self.known_queries or self.repeated.seen_before(query)
        context.known_operation = compiled
        return await self.schema.execute(query, variable_values=variables, context_value=context)


class HubGraphQL(GraphQLOverHTTP):
    """The GraphQL-over-HTTP view with the hub's per-request context and GraphiQL example."""

    def __init__(self, hub: Hub, **kwargs: Any) -> None:
        super().__init__(hub.schema, **kwargs)
        self.hub = hub
        self.persisted = _persisted_queries(hub.config)
        self.known_queries = hub.known_queries
        self.repeated = hub.repeated

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = principal_of(request.scope)  # authenticated by hub.server.authn.AuthMiddleware
        if principal.demo:
            response.headers["X-TPPO-Demo-Role"] = principal.role
        client = request.client.host if getattr(request, "client", None) is not None else None
        # HTTP callers spend per-principal budgets (in-process callers hold the config anyway).
        return self.hub.context(
            principal,
            request=request,
            response=response,
            budgets=self.hub.budgets,
            budget_key=budget_key(principal, client),
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """The hub's own GraphiQL page (no CDN): the configured example first, then every example."""
        tabs = [self.hub.config.example_query] if self.hub.config.example_query else []
        return pages.graphiql_page(request, [*tabs, *examples.GRAPHIQL_TABS])


def _persisted_queries(config: HubConfig) -> PersistedQueries | None:
    """APQ by default; an allow-list file in production; None when switched off."""
    if config.persisted_queries is None:
        return None
    if config.persisted_queries == "apq":
        return PersistedQueries()
    path = Path(config.persisted_queries)
    if not path.is_absolute():
        path = config.base_dir / path
    try:
        return PersistedQueries.from_file(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"[http].persisted_queries: cannot read the allow-list ({type(exc).__name__})"
        ) from None


def create_app(config: HubConfig, *, settle_heap: bool = False) -> Starlette:
    """The ASGI app for ``config``: ``/graphql`` (API and GraphiQL), ``/`` (the Task Force
    dashboard), ``/static/`` (their assets), ``/healthz``, ``/readyz`` and ``/metrics``.

    ``settle_heap``: once started, freeze the process's objects for the garbage collector
    (:mod:`hub.server.heap`); for a server process that serves one hub until it exits.
    """
    hub = Hub(config)
    if config.tracing:
        tracing.configure(exporter=config.tracing)
    graphql = HubGraphQL(hub, graphql_ide="graphiql" if config.graphiql else None)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await hub.start()  # logs a warning when demo mode is on, and which secret is in use
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            await hub.stop()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        sources = [
            {"source": e.name, "status": e.state.value, "breaker": e.breaker.state.value, "detail": e.detail}
            for e in hub.registry.all()
        ]
        store_ok = await hub.store.ping()
        ready = store_ok and any(e.state is SourceState.UP for e in hub.registry.all())
        body = json.dumps({"ready": ready, "store": "up" if store_ok else "down", "sources": sources})
        return Response(body, status_code=200 if ready else 503, media_type="application/json")

    async def metrics(_request: Request) -> Response:
        return Response(hub.metrics.render(hub.registry), media_type=hub.metrics.content_type)

    app = Starlette(
        routes=[
            Route("/graphql", protect(graphql, hub.authenticator), methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/", pages.dashboard_page, name="dashboard"),
            Mount(pages.STATIC_PATH, app=pages.static_files(), name="static"),
        ],
        middleware=_middleware(config),
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


def _metrics_operations(config: HubConfig) -> frozenset[str]:
    """Operation names with their own metrics series: the examples, ``[http].metrics_operations``
    and the persisted allow-list's operations (every other name is ``other``)."""
    known = operation_names([examples.PORTAL_LIST, examples.ANALYST_FILTER, examples.CASE_DETAIL])
    persisted = _persisted_queries(config)
    allow_listed = persisted.operation_names() if persisted is not None else frozenset()
    return known | allow_listed | frozenset(config.metrics_operations)


def _middleware(config: HubConfig) -> list[Middleware]:
    """Request ids on every response and in every log line; a request body limit; CORS for
    configured portals."""
    stack = [Middleware(RequestIdMiddleware), Middleware(BodyLimit, max_bytes=config.max_body_bytes)]
    if config.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Purpose", "X-API-Key", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            )
        )
    return stack


#: Environment variable naming the configuration file for :func:`app_from_environment`.
CONFIG_ENV = "TPPO_HUB_CONFIG"


def app_from_environment() -> Starlette:
    """App factory for ``uvicorn --factory`` with several workers: config from ``TPPO_HUB_CONFIG``."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"set {CONFIG_ENV} to the hub configuration file")
    return create_app(load_config(Path(path)), settle_heap=True)
