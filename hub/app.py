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

from hub import examples
from hub.config import HubConfig
from hub.federation import Federation
from hub.policy import ANONYMOUS, Principal
from hub.sources import SourceRegistry, SourceState
from hub.store import Store
from resolvers.convert import Converter
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

    async def start(self) -> None:
        await self.store.open()
        await self.registry.open()

    async def stop(self) -> None:
        await self.registry.close()
        await self.store.close()

    def context(self, principal: Principal = ANONYMOUS, **extra: Any) -> dict[str, Any]:
        """A fresh per-request context (call inside the running event loop)."""
        return {
            "hub": self.federation.new_context(),
            "federation": self.federation,
            "converter": Converter(self.registry),
            "principal": principal,
            **extra,
        }

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
        return self.hub.context(request=request, response=response)

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
        await hub.start()
        if config.demo:
            log.warning("demo mode: anonymous users act as role 'analyst'")
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
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
