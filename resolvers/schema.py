"""The strawberry schema of the hub, with its query-safety and reporting extensions.

The schema is static (no state): ``schema.graphql`` is generated from it with
``tppo-hub schema export`` and a test fails when the committed file differs.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from resolvers import types
from resolvers.access import AccessGate, AuditTrail
from resolvers.admin import AdminQueries
from resolvers.compiled import PlanCache, execution_context_for
from resolvers.context import optional_context
from resolvers.entities import check_representations
from resolvers.extensions import ErrorCodes, RequestMetrics, SourceReport, log
from resolvers.federation_docs import describe_federation
from resolvers.hooks import CachedHooksRunner
from resolvers.indicators import IndicatorQueries
from resolvers.onboarding import Mutation as SourceMutation
from resolvers.onboarding import QualityQueries
from resolvers.persons import PersonQueries
from resolvers.query import CaseQueries
from resolvers.review import ReviewMutation, ReviewQueries
from resolvers.safety import Estimates, QuerySafety
from resolvers.statistics import StatisticsQueries
from resolvers.validation import DocumentValidationCache


@strawberry.type(description="Read access to TPPO case data across agencies (Data TPPO lintas lembaga).")
class Query(
    CaseQueries,
    PersonQueries,
    StatisticsQueries,
    IndicatorQueries,
    AdminQueries,
    QualityQueries,
    ReviewQueries,
):
    """The root query: the query groups of each feature, composed by inheritance."""


@strawberry.type(
    description="Changes to the hub: agency sources (admins), linkage reviews (coordinators) (Perubahan)."
)
class Mutation(SourceMutation, ReviewMutation):
    """The root mutation: the mutation groups of each feature, composed by inheritance."""


class HubSchema(strawberry.federation.Schema):
    """Logs errors without tracebacks or messages of unexpected exceptions (no leaks); keeps the
    compiled plans of known operations (:mod:`resolvers.compiled`); checks ``_entities``
    representations before resolving them (:mod:`resolvers.entities`); enters extension hooks
    decided once per class (:mod:`resolvers.hooks`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.plans = PlanCache()
        #: Cost and work of operations already priced (resolvers/safety.py).
        self.estimates = Estimates()
        super().__init__(*args, execution_context_class=execution_context_for(self.plans), **kwargs)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        # The same hooks in the same order, decided once per extension class (resolvers/hooks.py).
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:  # these annotations make the `_entities` field: keep them
        ctx = optional_context(info.context)
        cap = ctx.federation.config.max_page_size if ctx is not None else DEFAULT_PAGE_CAP
        return super().entities_resolver(info, check_representations(representations, cap))  # type: ignore[arg-type]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GraphQLError):
                log.warning("error %s at %s", type(original).__name__, error.path)


#: The page cap when a context carries no federation (the configuration's default).
DEFAULT_PAGE_CAP = 500


def build_schema() -> HubSchema:
    """A new schema instance with the hub's extensions."""
    extensions: list[Any] = [
        # Audit first: its flush runs after the timeout scope of QuerySafety has closed.
        AuditTrail,
        # Depth, alias, token and cost limits, timeout, introspection (per hub: [auth.limits]).
        QuerySafety,
        AccessGate,
        lambda: ParserCache(maxsize=512),
        DocumentValidationCache,
        SourceReport,
        ErrorCodes,
        RequestMetrics,
    ]
    schema = HubSchema(
        query=Query,
        mutation=Mutation,
        types=[types.Case, types.PersonRecord, types.Service, types.Agency],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
    describe_federation(schema._schema)
    return schema


schema = build_schema()


def sdl() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return str(schema).rstrip() + "\n"
