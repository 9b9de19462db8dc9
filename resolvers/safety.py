"""Query safety: depth, alias, token and cost limits, a per-request timeout, introspection switch.

Limits come from the hub's configuration (``[auth.limits]``, :class:`hub.access.policy.QueryLimits`)
through the request context, so one static schema serves hubs with different limits. Each
refusal is a ``QUERY_TOO_COMPLEX`` error saying what was exceeded::

    {"code": "QUERY_TOO_COMPLEX", "limit": "depth", "max": 12, "actual": 20}

- tokens: graphql-core stops parsing past ``max_tokens`` (before any other work);
- depth and aliases: validation rules (cached with the document's validation);
- cost: estimated fields resolved, every field 1, a list field multiplying what is below it
  by its ``first`` argument (or by ``list_size`` if it has none); checked before execution
  because it depends on the variables;
- timeout: the whole execution runs under ``request_timeout_seconds``;
- introspection: off when ``introspection = false`` (``FORBIDDEN``, reason ``INTROSPECTION_DISABLED``).

Introspection fields (``__schema``, ``__type``) do not count towards depth and cost: their
size is bounded by the schema, and GraphiQL needs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Lexer,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
)
from strawberry.extensions import SchemaExtension

from hub.access.policy import QueryLimits
from resolvers.context import optional_context


def too_complex(message: str, limit: str, maximum: float, actual: float | None = None) -> GraphQLError:
    """A ``QUERY_TOO_COMPLEX`` error naming the limit, its maximum and what was asked."""
    extensions: dict[str, Any] = {"code": "QUERY_TOO_COMPLEX", "limit": limit, "max": maximum}
    if actual is not None:
        extensions["actual"] = actual
    return GraphQLError(message, extensions=extensions)


def limits_of(context: Any) -> QueryLimits:
    """The hub's limits from the request context (defaults if the context has none)."""
    ctx = optional_context(context)
    return ctx.limits if ctx is not None else QueryLimits()


# --- depth and aliases (validation rules) ------------------------------------------------------


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, _depth(fragments[name].selection_set, fragments, seen | {name}))
    return deepest


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


@lru_cache(maxsize=64)
def validation_rules(
    max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    """The limit rules for these settings; the same classes each time, so validation stays cached."""

    class DepthLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            fragments = _fragments(node)
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _depth(definition.selection_set, fragments)
                    if depth > max_depth:
                        error = too_complex(
                            f"query depth {depth} exceeds the limit of {max_depth}", "depth", max_depth, depth
                        )
                        self.report_error(
                            GraphQLError(error.message, definition, extensions=error.extensions)
                        )

    class AliasLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            count = _count_aliases(node)
            if count > max_aliases:
                error = too_complex(
                    f"{count} aliases exceed the limit of {max_aliases}", "aliases", max_aliases, count
                )
                self.report_error(GraphQLError(error.message, extensions=error.extensions))

    rules: list[type[ASTValidationRule]] = [DepthLimit, AliasLimit]
    if not introspection:
        rules.append(_NoIntrospection)
    return tuple(rules)


class _NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with an error code."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        original = context.report_error

        def report(error: GraphQLError) -> None:
            original(
                GraphQLError(
                    "introspection is disabled on this hub",
                    error.nodes,
                    extensions={"code": "FORBIDDEN", "reason": "INTROSPECTION_DISABLED"},
                )
            )

        self.report_error = report  # type: ignore[method-assign]


def _count_aliases(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode) and selection.alias is not None:
                count += 1
            if getattr(selection, "selection_set", None) is not None:
                stack.append(selection.selection_set)
    return count


# --- cost --------------------------------------------------------------------------------------


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    list_size: int,
) -> int:
    """Estimated fields an operation resolves (see the module docstring)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    defaults = {
        d.variable.name.value: d.default_value
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    estimator = _Cost(schema, _fragments(document), dict(variables or {}), defaults, list_size)
    return estimator.selection(operation.selection_set, root, frozenset())


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        defaults: dict[str, Any],
        list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.list_size = list_size

    def selection(self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]) -> int:
        if selection_set is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, seen)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(node.selection_set, target, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selection(fragment.selection_set, target, seen | {name})
        return total

    def field(
        self, node: FieldNode, parent: GraphQLObjectType | GraphQLInterfaceType, seen: frozenset[str]
    ) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1
        definition = parent.fields.get(name)
        if definition is None:
            return 1
        below = self.selection(node.selection_set, get_named_type(definition.type), seen)
        multiplier = 1
        if "first" in definition.args:
            multiplier = self._first(node, definition.args["first"].default_value)
        elif is_list_type(get_nullable_type(definition.type)) and not parent.name.endswith("Connection"):
            multiplier = self.list_size  # a connection's edges are already counted by its `first`
        return 1 + multiplier * max(below, 1 if multiplier > 1 else 0)

    def _first(self, node: FieldNode, default: Any) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                name = value.name.value
                given = self.variables.get(name)
                if given is None and isinstance(self.defaults.get(name), IntValueNode):
                    given = int(self.defaults[name].value)
                return max(1, given) if isinstance(given, int) and not isinstance(given, bool) else 1
            return 1
        return max(1, default) if isinstance(default, int) else self.list_size


# --- the extension -----------------------------------------------------------------------------


class QuerySafety(SchemaExtension):
    """Applies the hub's query limits to every operation (see the module docstring)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        limits = limits_of(context.context)
        context.parse_options["max_tokens"] = limits.max_tokens  # graphql-core's own backstop
        context.validation_rules = (
            *context.validation_rules,
            *validation_rules(limits.max_depth, limits.max_aliases, limits.introspection),
        )
        yield

    def on_parse(self) -> Iterator[None]:
        # Counted here (only for texts long enough to exceed the limit) so that the refusal
        # carries its code: a parse error raised by the parser cache has none.
        query = self.execution_context.query
        limits = limits_of(self.execution_context.context)
        if query and len(query) > limits.max_tokens and _tokens_exceed(query, limits.max_tokens):
            raise too_complex(
                f"the query has more than {limits.max_tokens} tokens", "tokens", limits.max_tokens
            )
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        limits = limits_of(context.context)
        document = context.graphql_document
        if context.result is None and document is not None:
            cost = estimate_cost(
                context.schema._schema, document, context.operation_name, context.variables, limits.list_size
            )
            if cost > limits.max_cost:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        too_complex(
                            f"estimated cost {cost} exceeds the limit of {limits.max_cost} "
                            "(lower `first` or select fewer nested lists)",
                            "cost",
                            limits.max_cost,
                            cost,
                        )
                    ],
                )
        try:
            async with asyncio.timeout(limits.request_timeout_seconds):
                yield
        except TimeoutError:
            raise too_complex(
                f"the request took longer than {limits.request_timeout_seconds:g} s and was stopped",
                "timeout",
                limits.request_timeout_seconds,
            ) from None


def _tokens_exceed(query: str, maximum: int) -> bool:
    """Whether ``query`` has more than ``maximum`` tokens (a syntax error is the parser's to report)."""
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if count > maximum:
                return True
    except GraphQLError:
        return False
    return False
