"""The typed request context every resolver and schema extension receives as ``info.context``.

One :class:`Context` is built per operation by the server (``Hub.context``); resolvers read its
attributes instead of string keys, so a missing or misspelt dependency is a type error, not a
``KeyError`` at run time. It is the resolvers' only door into the engine: the federation (the
engine's facade), the engine's per-request scope, the policy point and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from strawberry.types import Info

from hub.access.audit import AuditLog
from hub.access.budgets import Budgets
from hub.access.cellkey import CellKeys
from hub.access.policy import Guard, Principal, QueryLimits
from hub.engine.federation import Federation
from hub.engine.metrics import HubMetrics
from hub.engine.scope import RequestContext
from hub.linkage.index import LinkageIndex
from hub.vocabulary.model import Entity

if TYPE_CHECKING:
    from resolvers.convert import Converter


class EntityResolver(Protocol):
    """Resolves federation entity references (``_entities``) through the request's loaders."""

    async def record(self, info: Info, raw_id: str, entity: Entity) -> Any: ...

    def agency(self, info: Info, code: str) -> Any: ...


@dataclass(slots=True, kw_only=True)
class Context:
    """Everything that belongs to one GraphQL operation (never shared between requests)."""

    #: The engine's per-request state: source usage, failures, exclusions, loaders.
    scope: RequestContext
    federation: Federation
    converter: Converter
    guard: Guard
    principal: Principal
    limits: QueryLimits
    entities: EntityResolver
    audit: AuditLog | None = None
    #: The linkage index of the hub's store; None when the hub has no open store.
    linkage: LinkageIndex | None = None
    metrics: HubMetrics | None = None
    #: The cell-key secret of perturbed statistics; None before the hub has opened its store
    #: (statistics for roles below coordinator then fail closed).
    cell_keys: CellKeys | None = None
    #: Per-principal work budgets of HTTP callers, and this caller's key in them (None in-process).
    budgets: Budgets | None = None
    budget_key: str | None = None
    #: The HTTP request and response when served over HTTP (strawberry's integration).
    request: Any = None
    response: Any = None
    #: A known operation (documented example, allow-listed, persisted, or a text sent before):
    #: its plain subtrees are completed by a plan made once (resolvers/compiled.py), not field
    #: by field.
    known_operation: bool = False


def context_of(info: Info) -> Context:
    """The typed context of a resolver's ``info``."""
    return info.context


def optional_context(value: Any) -> Context | None:
    """The context of a schema extension; None when an operation runs without one (bare schema)."""
    return value if isinstance(value, Context) else None
