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
- work: the calibrated estimate of the milliseconds of hub and source time an operation costs
  (:func:`estimate_work`): statistics priced by the cells their dimensions make and by
  suppression, pages by their rows and the relations loaded per row, every alias on its own.
  Over ``max_work`` it is ``QUERY_TOO_COMPLEX`` (limit ``work``); below, it is charged to the
  caller's work budget (:mod:`hub.access.budgets`, HTTP callers), ``RATE_LIMITED`` when spent;
- timeout: the whole execution runs under ``request_timeout_seconds``;
- introspection: off when ``introspection = false`` (``FORBIDDEN``, reason ``INTROSPECTION_DISABLED``).

Introspection fields (``__schema``, ``__type``) do not count towards depth and cost: their
size is bounded by the schema, and GraphiQL needs them.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    EnumValueNode,
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
    ListValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    StringValueNode,
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
from strawberry.extensions.max_aliases import count_fields_with_alias

from hub.access.budgets import Budgets, RateLimited
from hub.access.policy import Guard, QueryLimits
from hub.engine.indicators import builtin_registry
from hub.engine.indicators.spec import Need
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
            # strawberry's count (MaxAliasesLimiter's): an alias inside a fragment counts once
            # per spread of the fragment, as it is executed.
            fragments = _fragments(node)
            count = sum(
                count_fields_with_alias(definition, fragments)
                for definition in node.definitions
                if isinstance(definition, OperationDefinitionNode)
            )
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


# --- cost --------------------------------------------------------------------------------------


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    list_size: int,
) -> int:
    """Estimated fields an operation resolves (see the module docstring)."""
    found = _operation(schema, document, operation_name)
    if found is None:
        return 0
    operation, root, defaults = found
    estimator = _Cost(schema, _fragments(document), dict(variables or {}), defaults, list_size)
    return estimator.selection(operation.selection_set, root, frozenset())


def _operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode, GraphQLObjectType, dict[str, Any]] | None:
    """The operation to run, its root type and its variables' defaults (None: nothing runs)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    defaults = {
        d.variable.name.value: d.default_value
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    return operation, root, defaults


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


# --- work (the calibrated model) -------------------------------------------------------------

#: The work model's constants, in milliseconds on the reference machine (2-core EPYC, demo
#: scale 1, five SQLite sources), fitted by ``python -m bench.abuse --calibrate`` (the fit and
#: its residuals are in bench/RESULTS.md): what a request really costs, so that statistics
#: dimensions, aliases and relation fan-out are priced by their time, not by their size.
#:
#: They now price requests at ~9× their measured work (§8's calibration table; issue 13 made
#: pages and tables that much cheaper), and must not be refitted alone: the budgets' defaults
#: (``work_per_second``, ``work_burst``) and ``max_work`` were sized through them. Tried on
#: 2026-12-07 with the fit × 1.5: the attacker of ``python -m bench.abuse`` then got 8× the
#: real work through the same buckets and the ordinary clients' p95 rose 2.24× (target 1.5×).
#: A refit needs the budgets in real milliseconds (÷ ~8) and a ``max_work`` no longer bound to
#: the anonymous bucket (``max_work ≤ work_burst × anonymous_share``).
WORK_FIELD = 2.0  # any root field that reaches the sources (fan-out, merge)
WORK_PAGE = 8.0  # a page of cases or persons (one search per source)
WORK_ROW = 0.15  # per row of a page (read, merge, convert)
WORK_RELATION_ROW = 0.6  # per parent row, per relation loaded below it (victims, services, …)
WORK_TOTAL = 6.0  # a `totalCount` (one COUNT per source)
WORK_STATISTICS = 40.0  # a statistics field: two GROUP BYs per source, merge, cell keys
WORK_CELL = 0.9  # per populated statistics cell, grouped in the sources, merged, labelled
WORK_SUPPRESSION = 0.000041  # per cell², complementary suppression below coordinator
WORK_DISTINCT = 1.3  # factor for VICTIMS (distinct persons through the linkage index)
WORK_QUALITY = 150.0  # per source measured by `dataQuality`
#: An `indicator` (bench/RESULTS.md, "Indicators"): a person indicator reads every matching
#: person record and every service of every source and counts through the linkage index
#: (240–700 ms at demo scale 1 on the reference machine); a case indicator is a GROUP BY.
WORK_INDICATOR_PERSONS = 600.0
WORK_INDICATOR_CASES = 40.0
#: Dimension cardinalities on a national deployment (years and months over a decade).
CARDINALITY = {
    "YEAR": 12,
    "MONTH": 144,
    "PROVINCE": 38,
    "REGENCY": 514,
    "AGENCY": 10,
    "EXPLOITATION_TYPE": 13,
    "STAGE": 13,
    "SEX": 3,
    "AGE_GROUP": 8,
    "CHILD": 2,
    "COUNTRY_OF_EXPLOITATION": 60,
    "SERVICE_TYPE": 15,
}
#: Dimensions a statistics query may group by (more is the resolver's BAD_USER_INPUT).
MAX_DIMENSIONS = 3
#: Records a table's cells are drawn from (demo scale 1: ~6,000 with multi-valued dimensions):
#: the populated cells of P possible ones are about N·(1 − e^(−P/N)), balls into bins.
STATISTICS_RECORDS = 6_000
#: Object types whose fields load records from the sources (relations).
RECORD_TYPES = frozenset({"Case", "PersonRecord", "Service", "StageEvent", "Person"})
#: Root fields that page records (``first`` rows).
PAGED_ROOTS = frozenset({"cases", "persons", "auditLog"})


def estimate_work(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
    *,
    suppressed: bool = True,
    sources: int = 5,
) -> float:
    """Estimated milliseconds of hub and source time of an operation (see the module docstring).

    ``suppressed`` says whether the caller's statistics are suppressed (below coordinator);
    ``sources`` is how many sources a fan-out reaches.
    """
    found = _operation(schema, document, operation_name)
    if found is None:
        return 0.0
    operation, root, defaults = found
    estimator = _Work(
        schema, _fragments(document), dict(variables or {}), defaults, limits, suppressed, sources
    )
    return round(estimator.root(operation.selection_set, root), 1)


class _Work(_Cost):
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        defaults: dict[str, Any],
        limits: QueryLimits,
        suppressed: bool,
        sources: int,
    ) -> None:
        super().__init__(schema, fragments, variables, defaults, limits.list_size)
        self.suppressed = suppressed
        self.sources = sources

    def root(self, selection_set: SelectionSetNode, parent: Any) -> float:
        total = 0.0
        for node, field_parent in self._fields(selection_set, parent, frozenset()):
            name = node.name.value
            definition = field_parent.fields.get(name)
            if name.startswith("__") or definition is None:
                continue
            target = get_named_type(definition.type)
            if name == "statistics":
                total += self._statistics(node)
            elif name in PAGED_ROOTS:
                rows = self._first(node, definition.args["first"].default_value)
                total += WORK_FIELD + WORK_PAGE + rows * WORK_ROW + self._connection(node, target, rows)
            elif name == "dataQuality":
                total += WORK_FIELD + WORK_QUALITY * self.sources
            elif name == "indicator":
                total += WORK_FIELD + self._indicator(node)
            elif name == "_entities":
                rows = self._representations(node)
                total += WORK_FIELD + rows * WORK_ROW + self._relations(node.selection_set, target, rows)
            elif isinstance(
                target, GraphQLObjectType | GraphQLInterfaceType
            ) and target.name in RECORD_TYPES | {"Node"}:
                total += WORK_FIELD + WORK_ROW + self._relations(node.selection_set, target, 1)
        return total

    def _fields(
        self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any]]:
        """The fields of a selection set with their parent type, fragments flattened."""
        if selection_set is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                yield node, parent
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(node.selection_set, target, seen)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None and node.name.value not in seen:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self._fields(fragment.selection_set, target, seen | {node.name.value})

    def _connection(self, node: FieldNode, connection: Any, rows: int) -> float:
        work = 0.0
        for field, parent in self._fields(node.selection_set, connection, frozenset()):
            name = field.name.value
            if name == "totalCount":
                work += WORK_TOTAL
            elif name == "edges":
                edge = get_named_type(parent.fields[name].type)
                for inner, inner_parent in self._fields(field.selection_set, edge, frozenset()):
                    if inner.name.value == "node":
                        target = get_named_type(inner_parent.fields["node"].type)
                        work += self._relations(inner.selection_set, target, rows)
        return work

    def _relations(self, selection_set: SelectionSetNode | None, parent: Any, rows: float) -> float:
        """Work of the relations selected below ``rows`` records of type ``parent``."""
        work = 0.0
        for field, field_parent in self._fields(selection_set, parent, frozenset()):
            definition = field_parent.fields.get(field.name.value)
            if definition is None:
                continue
            target = get_named_type(definition.type)
            if (
                not isinstance(target, GraphQLObjectType | GraphQLInterfaceType)
                or target.name not in RECORD_TYPES
            ):
                continue
            many = is_list_type(get_nullable_type(definition.type))
            below = rows * (self.list_size if many else 1)
            work += rows * WORK_RELATION_ROW + self._relations(field.selection_set, target, below)
        return work

    def _statistics(self, node: FieldNode) -> float:
        dimensions: list[str] = []
        measure = ""
        for argument in node.arguments or ():
            value = self._value(argument.value)
            if argument.name.value == "groupBy":
                dimensions = [
                    str(v) for v in (value if isinstance(value, list) else [value]) if v is not None
                ]
            elif argument.name.value == "measure":
                measure = str(value)
        if not 1 <= len(dimensions) <= MAX_DIMENSIONS or len(set(dimensions)) != len(dimensions):
            return WORK_STATISTICS  # refused by the resolver with the argument named, not priced
        possible = 1
        for dimension in dimensions:
            possible *= CARDINALITY.get(dimension, 20)
        cells = STATISTICS_RECORDS * -math.expm1(-possible / STATISTICS_RECORDS)
        work = (
            WORK_STATISTICS
            + cells * WORK_CELL
            + (cells * cells * WORK_SUPPRESSION if self.suppressed else 0.0)
        )
        return work * (WORK_DISTINCT if measure == "VICTIMS" else 1.0)

    def _indicator(self, node: FieldNode) -> float:
        """A person indicator (or one not known yet) is priced as one; a case indicator less."""
        ident = next((self._value(a.value) for a in node.arguments or () if a.name.value == "id"), None)
        spec = builtin_registry().get(ident) if isinstance(ident, str) else None
        if spec is not None and Need.LINKAGE not in spec.needs:
            return WORK_INDICATOR_CASES
        return WORK_INDICATOR_PERSONS

    def _representations(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "representations":
                value = self._value(argument.value)
                return len(value) if isinstance(value, list) else 1
        return 0

    def _value(self, value: Any) -> Any:
        """A literal or variable argument as plain Python (enum names as strings)."""
        if isinstance(value, VariableNode):
            given = self.variables.get(value.name.value)
            if given is None:
                default = self.defaults.get(value.name.value)
                return self._value(default) if default is not None else None
            return given
        if isinstance(value, ListValueNode):
            return [self._value(v) for v in value.values]
        if isinstance(value, EnumValueNode | StringValueNode | IntValueNode):
            return value.value
        return None


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
            refusal = _refusal(
                context.schema._schema,
                document,
                context.operation_name,
                context.variables,
                context.context,
                limits,
                getattr(context.schema, "estimates", None),
            )
            if refusal is not None:
                context.result = ExecutionResult(data=None, errors=[refusal])
        try:
            async with asyncio.timeout(limits.request_timeout_seconds):
                yield
        except TimeoutError:
            raise too_complex(
                f"the request took longer than {limits.request_timeout_seconds:g} s and was stopped",
                "timeout",
                limits.request_timeout_seconds,
            ) from None


class Estimates:
    """Cost and work estimates of operations already priced (bounded LRU, kept per schema).

    Both are functions of the document, the operation, the variables, the hub's limits, whether
    the caller's statistics are suppressed and how many sources a fan-out reaches; a portal
    sending the same operation again is priced once (two walks of its selection: ~5 % of the
    hub's CPU per portal page, issue 13). The entry keeps the document and the limits alive, so
    the ids in its key are never reused while it exists. Variables that are not plain JSON
    values are priced afresh every time.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, Any, int, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        limits: QueryLimits,
        suppressed: bool,
        sources: int,
    ) -> tuple[int, float | None]:
        """(cost, work) of the operation, from the cache or estimated now; the work is not
        estimated (None) for an operation whose cost is over the limit already."""
        frozen = _frozen(variables or {})
        key = None
        if frozen is not _UNHASHABLE:
            key = (id(schema), id(document), operation_name, frozen, id(limits), suppressed, sources)
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[2], found[3]
        cost = estimate_cost(schema, document, operation_name, variables, limits.list_size)
        work = None
        if cost <= limits.max_cost:
            work = estimate_work(
                schema, document, operation_name, variables, limits, suppressed=suppressed, sources=sources
            )
        if key is not None:
            self._entries[key] = ((schema, document), limits, cost, work)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return cost, work


_UNHASHABLE = object()


def _frozen(value: Any) -> Any:
    """A hashable copy of a JSON value (dicts as sorted items, lists as tuples)."""
    if value is None or isinstance(value, str | bool | int | float):
        return (type(value), value)  # 1, 1.0 and True price alike, but are kept apart anyway
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            each = _frozen(v)
            if each is _UNHASHABLE or not isinstance(k, str):
                return _UNHASHABLE
            items.append((k, each))
        return ("{", tuple(sorted(items)))
    if isinstance(value, list | tuple):
        members = tuple(_frozen(v) for v in value)
        return _UNHASHABLE if any(m is _UNHASHABLE for m in members) else ("[", members)
    return _UNHASHABLE


def _refusal(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    context: Any,
    limits: QueryLimits,
    estimates: Estimates | None = None,
) -> GraphQLError | None:
    """Why an operation may not run (cost, work, or the caller's work budget), or None."""
    ctx = optional_context(context)
    guard = ctx.guard if ctx is not None else None
    suppressed = not isinstance(guard, Guard) or guard.statistics_k() is not None
    sources = max(1, len(ctx.federation.registry.all()) if ctx is not None else 5)
    if estimates is None:
        estimates = Estimates(max_entries=0)
    cost, work = estimates.get(schema, document, operation_name, variables, limits, suppressed, sources)
    if cost > limits.max_cost:
        return too_complex(
            f"estimated cost {cost} exceeds the limit of {limits.max_cost} "
            "(lower `first` or select fewer nested lists)",
            "cost",
            limits.max_cost,
            cost,
        )
    assert work is not None  # estimated whenever the cost is within the limit
    if work > limits.max_work:
        return too_complex(
            f"estimated work {work:.0f} ms exceeds the limit of {limits.max_work:.0f} ms "
            "(ask for fewer dimensions, rows, relations or aliases)",
            "work",
            limits.max_work,
            work,
        )
    budgets, key = (ctx.budgets, ctx.budget_key) if ctx is not None else (None, None)
    if isinstance(budgets, Budgets) and isinstance(key, str):
        try:
            budgets.charge(key, work)
        except RateLimited as exc:
            return GraphQLError(exc.message, extensions=exc.extensions())
    return None


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
