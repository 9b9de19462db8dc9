"""Schema extensions: per-source report, source errors, error codes and masking.

- ``extensions.sources`` on every response: one entry per source touched (status, time,
  statements, rows), from the request context (docs/architecture.md §4, contract).
- A source that failed adds an error entry with ``extensions.code`` SOURCE_UNAVAILABLE,
  SOURCE_TIMEOUT or SOURCE_DATA_ERROR and ``extensions.source``; the data of the other
  sources is still returned.
- Every error carries ``extensions.code`` (``GRAPHQL_PARSE_FAILED`` for a syntax error,
  ``GRAPHQL_VALIDATION_FAILED`` for a document the schema rejects). An unexpected exception
  is masked: the client sees ``INTERNAL_SERVER_ERROR`` and nothing of its message (which
  could hold SQL or personal data), and the log gets the exception type only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from hub.engine.scope import RequestContext
from resolvers.context import optional_context

log = logging.getLogger("tppo_hub.graphql")

_LIMIT_WORDS = ("exceeds maximum operation depth", "aliases", "token", "cost")


def _request_context(extension: SchemaExtension) -> RequestContext | None:
    ctx = optional_context(extension.execution_context.context)
    if ctx is not None:
        return ctx.scope
    return None


class SourceReport(SchemaExtension):
    """Adds ``extensions.sources`` and one error entry per failed source."""

    def on_execute(self) -> Iterator[None]:
        yield
        ctx = _request_context(self)
        result = self.execution_context.result
        if ctx is None or result is None or not ctx.failures:
            return
        extra = [
            GraphQLError(f.message, extensions={"code": f.code, "source": f.source}) for f in ctx.failures
        ]
        result.errors = list(result.errors or []) + extra

    def get_results(self) -> dict[str, Any]:
        ctx = _request_context(self)
        results: dict[str, Any] = {"sources": ctx.extension() if ctx is not None else []}
        if ctx is not None and ctx.linkage_freshness is not None:
            results["linkage"] = ctx.linkage_freshness.as_extension()
        return results


def _classify(error: GraphQLError) -> GraphQLError:
    extensions = error.extensions or {}
    if "code" in extensions:
        return error
    original = error.original_error
    if original is None:
        message = error.message
        code = "QUERY_TOO_COMPLEX" if any(w in message for w in _LIMIT_WORDS) else "GRAPHQL_VALIDATION_FAILED"
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**extensions, "code": code},
        )
    if isinstance(original, GraphQLError) and "code" in (original.extensions or {}):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=dict(original.extensions or {}),
        )
    if isinstance(original, ValueError | TypeError | GraphQLError) and error.path is None:
        # Argument and variable coercion problems (bad enum, bad date, a string for a Boolean) are
        # the caller's input.
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            extensions={"code": "BAD_USER_INPUT"},
        )
    log.error("unexpected %s at %s", type(original).__name__, error.path)
    return GraphQLError(
        "Internal error.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorCodes(SchemaExtension):
    """Gives every error an ``extensions.code`` and masks unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            # A syntax error leaves the operation as an exception (raised by the parser cache)
            # and strawberry turns it into the response after every hook has run: name its
            # code on the error itself.
            if "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": _pre_execution_code(error)}
            raise
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_classify(e) for e in result.errors]


def _pre_execution_code(error: GraphQLError) -> str:
    """GRAPHQL_PARSE_FAILED for a syntax error; the usual classification otherwise."""
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return str((_classify(error).extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED"))


class RequestMetrics(SchemaExtension):
    """Counts operations by name and outcome (ok, partial, error) and times them."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = optional_context(self.execution_context.context)
        metrics = ctx.metrics if ctx is not None else None
        if metrics is None:
            return
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        data = getattr(result, "data", None)
        outcome = "ok" if not errors else ("partial" if data else "error")
        name = self.execution_context.operation_name or "anonymous"
        metrics.observe_request(name, outcome, time.perf_counter() - started)
