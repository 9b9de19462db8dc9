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
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from hub import examples, model
from hub.audit import AuditLog
from hub.auth import Authenticator, load_auth, principal_of
from hub.config import HubConfig
from hub.federation import Federation
from hub.policy import ANONYMOUS, Guard, LinkedAgencies, Principal
from hub.sources import SourceRegistry, SourceState
from hub.store import Store
from resolvers.access import GuardedConverter
from resolvers.schema import HubSchema, build_schema

log = logging.getLogger("tppo_hub.app")


class Hub:
    """One running hub: sources, engine and schema."""

    def __init__(self, config: HubConfig, schema: HubSchema | None = None) -> None:
        self.config = config
        self.store = Store(config.store_url, config.base_dir)
        self.registry = SourceRegistry(config)
        self.federation = Federation(self.registry, config)
        self.schema = schema or build_schema()
        # Access (hub/auth.py, hub/policy.py, hub/audit.py): checked here, so a bad [auth]
        # section stops the hub before it serves anything.
        self.auth = load_auth(config)
        self.authenticator = Authenticator(self.auth)
        self.audit = AuditLog(self.store)
        #: Policy hook for linkage (issue 5): lets caseworkers read records of persons linked
        #: to their agency's records. None until the linkage index provides one.
        self.linkage: LinkedAgencies | None = None

    async def start(self) -> None:
        # aiosqlite logs every statement with its parameters at DEBUG: never personal data in logs.
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))
        await self.store.open()
        await self.audit.open()
        await self.authenticator.start()
        await self.registry.open()

    async def stop(self) -> None:
        await self.registry.close()
        await self.store.close()

    def context(self, principal: Principal = ANONYMOUS, **extra: Any) -> dict[str, Any]:
        """A fresh per-request context (call inside the running event loop)."""
        guard = Guard(principal, self._agency_of, self.auth.access, self.linkage)
        return {
            "hub": self.federation.new_context(),
            "federation": self.federation,
            "converter": GuardedConverter(self.registry, guard),
            "guard": guard,
            "audit": self.audit,
            "limits": self.auth.access.limits,
            "store": self.store,  # linkage index for person views (hub.persons)
            "principal": principal,
            **extra,
        }

    def _agency_of(self, source: str) -> model.Agency | None:
        entry = self.registry.get(source)
        return entry.source.agency if entry is not None and entry.source is not None else None

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, principal: Principal = ANONYMOUS
    ) -> ExecutionResult:
        """Run one operation in-process (tests, benchmarks, scripts)."""
        return await self.schema.execute(
            query, variable_values=variables, context_value=self.context(principal)
        )


class HubGraphQL(GraphQL):
    """Strawberry's ASGI view with the hub's per-request context and GraphiQL example."""

    def __init__(self, hub: Hub, **kwargs: Any) -> None:
        super().__init__(hub.schema, **kwargs)
        self.hub = hub

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        principal = principal_of(request.scope)  # authenticated by hub.auth.AuthMiddleware
        if principal.demo:
            response.headers["X-TPPO-Demo-Role"] = principal.role
        return self.hub.context(principal, request=request, response=response)

    async def render_graphql_ide(self, request: Request) -> Response:
        html = self.graphql_ide_html
        start = html.find("const EXAMPLE_QUERY = `")
        end = html.find("`;", start)
        if start >= 0 and end >= 0:
            example = (self.hub.config.example_query or examples.PORTAL_LIST).replace("`", "'")
            html = html[: start + len("const EXAMPLE_QUERY = `")] + example + html[end:]
        return HTMLResponse(html)


def create_app(config: HubConfig) -> Starlette:
    """The ASGI app serving ``/graphql``, ``/healthz`` and ``/readyz`` for ``config``."""
    hub = Hub(config)
    graphql = HubGraphQL(hub, graphql_ide="graphiql" if config.graphiql else None)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await hub.start()  # logs a warning when demo mode is on, and which secret is in use
        try:
            yield
        finally:
            await hub.stop()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        sources = [
            {"source": e.name, "status": e.state.value, "detail": e.detail} for e in hub.registry.all()
        ]
        ready = any(e.state is SourceState.UP for e in hub.registry.all())
        body = json.dumps({"ready": ready, "sources": sources})
        return Response(body, status_code=200 if ready else 503, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/graphql", hub.authenticator.protect(graphql), methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
