"""A compiled execution path for known operations: a page's objects to JSON without per-field overhead.

graphql-core completes every field of every object one by one: a resolver call, a resolve-info
object, a path entry, a null check, a type dispatch (~2.5 µs a field, ``shared/notes/stack.md``
§3). For a portal page that is ~500 fields and a fifth of the hub's CPU per page. Yet almost all
of them are plain attributes of the dataclasses the root resolvers already built
(:mod:`resolvers.types`): nothing is left to decide but which attributes to read and how to
serialise them. So, the way graphql-jit or Grafast plan an operation once, this module plans
each selection once — the first time an operation runs — into a tree of small functions that
read the attributes and serialise the leaves, and reuses the plan on every later run.

What stays the same: parsing, validation, variables, the query-safety and access extensions,
every root resolver (policy, audit, federation, loaders) and every field with a resolver that
sees more than its object (personal fields pass the policy point one by one). The plan covers
only subtrees whose every field is a basic attribute or a plain synchronous method of its object
(no ``info``, no arguments, no directives) of a concrete object type. Anything unusual at run
time — a null in a non-null field, a value a scalar cannot serialise, an object of an
unexpected type, a method that raises — abandons the plan for that object, and graphql-core
completes it instead, producing exactly the error and partial result it always would. A plan
never changes an answer; it only skips work. Tests compare both paths on every documented
operation (``tests/test_compiled.py``).

Which operations: known ones (``Context.known_operation``): the hub's documented examples,
allow-listed and persisted queries, and any text sent for the second time
(:mod:`hub.server.repeats`). Plans are kept per schema in a bounded LRU keyed by the parsed
document's field nodes; a text sent once takes the normal path and costs no plan memory.
"""

from __future__ import annotations

import keyword
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetails
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

#: How many selection plans a schema keeps (a plan is a few closures per field).
MAX_PLANS = 1024
#: Where strawberry keeps its field definition on a graphql-core field.
_STRAWBERRY_FIELD = "strawberry-definition"

Complete = Callable[[Any], Any]


class Fallback(Exception):
    """The plan cannot complete this value; graphql-core's normal path must."""


class _NotCompilable(Exception):
    """A selection the planner leaves to graphql-core (compile time only)."""


class PlanCache:
    """Plans of one schema: (object type, field nodes) → the completer of that selection.

    The entry keeps the field nodes themselves alive, so the ids in its key can never be
    reused by another document's nodes while the entry exists.
    """

    def __init__(self, max_plans: int = MAX_PLANS) -> None:
        self.max_plans = max_plans
        self._plans: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Complete | None]] = OrderedDict()
        self.hits = 0
        self.compiled = 0

    def __len__(self) -> int:
        return len(self._plans)

    def get(self, key: tuple[Any, ...]) -> tuple[bool, Complete | None]:
        entry = self._plans.get(key)
        if entry is None:
            return False, None
        self._plans.move_to_end(key)
        self.hits += 1
        return True, entry[1]

    def put(self, key: tuple[Any, ...], nodes: tuple[Any, ...], plan: Complete | None) -> None:
        self._plans[key] = (nodes, plan)
        self.compiled += 1
        while len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)


def _key(object_type: GraphQLObjectType, field_details_list: list[FieldDetails]) -> tuple[Any, ...]:
    return (object_type.name, *(id(fd.node) for fd in field_details_list))


class _Planner:
    """Builds the completer of one selection, asking the execution context to collect fields."""

    def __init__(self, context: StrawberryGraphQLCoreExecutionContext) -> None:
        self.context = context

    def object(self, object_type: GraphQLObjectType, field_details_list: list[FieldDetails]) -> Complete:
        """The completer of an object's selection set (its own type check excluded)."""
        for details in field_details_list:
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                raise _NotCompilable
        grouped, defer_usages, forbidden = self.context.collect_subfields(object_type, field_details_list)
        if defer_usages or forbidden:
            raise _NotCompilable
        readers: list[tuple[str, Any, Any]] = []
        for response_key, sub_details in grouped.items():
            nodes = [d.node for d in sub_details]
            if any(node.directives for node in nodes):
                raise _NotCompilable  # @skip/@include depend on variables: not part of the key
            name = nodes[0].name.value
            if name == "__typename":
                readers.append((response_key, None, object_type.name))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or field_def.args or any(node.arguments for node in nodes):
                raise _NotCompilable
            definition = field_def.extensions.get(_STRAWBERRY_FIELD)
            python_name = getattr(definition, "python_name", None)
            if not isinstance(python_name, str):
                raise _NotCompilable
            read: str | Callable[[Any], Any] = python_name
            if not getattr(field_def.resolve, "_is_default", False):
                read = _pure_method(definition)  # or _NotCompilable (personal fields, info, args)
            readers.append((response_key, read, self.value(field_def.type, list(sub_details))))
        return _object_completer(readers)

    def value(self, type_: GraphQLOutputType, field_details_list: list[FieldDetails]) -> Complete:
        if isinstance(type_, GraphQLNonNull):
            return _non_null(self.value(type_.of_type, field_details_list))
        if isinstance(type_, GraphQLList):
            return _list(self.value(type_.of_type, field_details_list))
        if isinstance(type_, GraphQLEnumType):
            return _enum_leaf(type_)
        if isinstance(type_, GraphQLScalarType):
            return _leaf(type_.serialize, _PLAIN.get(type_.name), _PLAIN_TYPES.get(type_.name))
        if isinstance(type_, GraphQLObjectType):
            inner = self.object(type_, field_details_list)
            return _typed_object(type_, inner)
        raise _NotCompilable  # interfaces and unions: the runtime type needs graphql-core


def _pure_method(definition: Any) -> Callable[[Any], Any]:
    """A field computed by a plain synchronous method of the object (``def f(self) -> T``).

    Such a method sees nothing but its object: no arguments, no ``info`` (so no context, no
    policy point, no audit), no permission classes or field extensions. Calling it from the plan
    is what graphql-core would do; if it raises, the plan falls back and graphql-core calls it
    again and reports the error where it belongs.
    """
    resolver = getattr(definition, "base_resolver", None)
    if (
        resolver is None
        or resolver.is_async
        or resolver.arguments
        or resolver.self_parameter is None
        or resolver.info_parameter is not None
        or resolver.root_parameter is not None
        or definition.permission_classes
        or definition.extensions
    ):
        raise _NotCompilable
    method = resolver.wrapped_func

    def read(value: Any) -> Any:
        try:
            return method(value)
        except Exception:
            raise Fallback from None

    return read


def _object_completer(readers: list[tuple[str, Any, Any]]) -> Complete:
    """The completer of one selection set, written out as one straight function.

    Each field becomes two lines — read the attribute (or call the pure method), then keep the
    value when the field's completer would return it unchanged (a plain value of its type, a
    null where null is allowed) or complete it — instead of a loop over a table of fields
    that unpacks and branches on each entry for every object of every page. What the
    generated code names comes from its namespace (response keys, completers, methods); only
    attribute names that are Python identifiers are written into its text, so an alias in a
    query can never become code.
    """
    names: dict[str, Any] = {"Fallback": Fallback, "getattr": getattr, "type": type}
    body: list[str] = []
    for i, (response_key, read, completer) in enumerate(readers):
        names[f"k{i}"] = response_key
        if read is None:  # __typename: the completer slot holds the type's name
            names[f"t{i}"] = completer
            body.append(f"        out[k{i}] = t{i}")
            continue
        if isinstance(read, str) and read.isidentifier() and not keyword.iskeyword(read):
            found = f"value.{read}"
        elif isinstance(read, str):
            names[f"a{i}"] = read
            found = f"getattr(value, a{i})"
        else:
            names[f"r{i}"] = read
            found = f"r{i}(value)"
        names[f"c{i}"] = completer
        unchanged = []
        plain = getattr(completer, "plain", None)
        if plain is not None:
            names[f"p{i}"] = plain
            unchanged.append(f"type(f) is p{i}")
        if getattr(completer, "nullable", False):
            unchanged.append("f is None")
        body.append(f"        f = {found}")
        if unchanged:
            body.append(f"        out[k{i}] = f if {' or '.join(unchanged)} else c{i}(f)")
        else:
            body.append(f"        out[k{i}] = c{i}(f)")
    code = "\n".join(
        [
            "def complete(value):",
            "    out = {}",
            "    try:",
            *(body or ["        pass"]),
            "    except AttributeError:",  # graphql-core reports the missing attribute as a field error
            "        raise Fallback from None",
            "    return out",
        ]
    )
    exec(compile(code, "<compiled selection>", "exec"), names)
    return names["complete"]  # type: ignore[no-any-return]


def _nullable(complete: Complete, plain: type | None = None) -> Complete:
    """Mark a completer for :func:`_object_completer`: it returns None for None (``nullable``)
    and values of type ``plain`` unchanged, so the object's loop may skip the call for them."""
    complete.nullable = True  # type: ignore[attr-defined]
    complete.plain = plain  # type: ignore[attr-defined]
    return complete


def _typed_object(object_type: GraphQLObjectType, inner: Complete) -> Complete:
    is_type_of = object_type.is_type_of

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if is_type_of is not None and is_type_of(value, None) is not True:
            raise Fallback
        return inner(value)

    return _nullable(complete)


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            raise Fallback
        completed = inner(value)
        if completed is None:
            raise Fallback
        return completed

    # A value the inner completer passes unchanged is not None, so it passes here too.
    complete.plain = getattr(inner, "plain", None)  # type: ignore[attr-defined]
    complete.nullable = False  # type: ignore[attr-defined]
    return complete


def _list(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise Fallback  # graphql-core accepts other iterables; let it
        return [inner(item) for item in value]

    return _nullable(complete)


#: Built-in scalars whose ``serialize`` returns a value of this exact Python type unchanged.
_PLAIN: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: type(v) is str,
    "ID": lambda v: type(v) is str,
    "Boolean": lambda v: type(v) is bool,
    "Int": lambda v: type(v) is int and -(2**31) <= v < 2**31,
}
#: Of those, the ones where every value of the type passes (``Int`` is bounded: not all ints).
_PLAIN_TYPES: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}


def _leaf(
    serialize: Callable[[Any], Any],
    plain: Callable[[Any], bool] | None = None,
    plain_type: type | None = None,
) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if plain is not None and plain(value):
            return value  # what ``serialize`` returns for it, without the call
        try:
            serialized = serialize(value)
        except Exception:
            raise Fallback from None
        if serialized is None or serialized is Undefined:
            raise Fallback
        return serialized

    return _nullable(complete, plain_type)


def _enum_leaf(type_: GraphQLEnumType) -> Complete:
    """An enum's names by member, looked up once (strawberry's ``serialize`` compares each
    member of the enum in turn); anything else goes through ``serialize`` as before.

    Values that are not members of strawberry's class (the vocabulary's own enums, which the
    engine's records carry: ``hub.vocabulary.model.AgeGroup`` beside the schema's
    ``AgeGroup``) are what ``serialize`` hands on to graphql-core, which looks them up in the
    type's table of values: the plan does that lookup itself, in the same table.
    """
    wrapped = getattr(type_, "wrapped_cls", None)
    names: dict[Any, str] = {}
    if wrapped is not None:
        for member in wrapped:
            for name, value in type_.values.items():
                if member.value == value.value:
                    names[member] = name
                    break
    by_value: dict[Any, str] = dict(type_._value_lookup)
    general = _leaf(type_.serialize)

    def complete(value: Any) -> Any:
        kind = type(value)
        if kind is wrapped:
            name = names.get(value)
            if name is not None:
                return name
        elif value is not None and wrapped is not None and not isinstance(value, wrapped):
            try:
                name = by_value.get(value)
            except TypeError:  # unhashable: graphql-core scans the values; let it
                name = None
            if name is not None:
                return name
        return general(value)

    return _nullable(complete)


class CompiledExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with planned completion of known operations' plain subtrees.

    ``plans`` is set per schema (:func:`execution_context_for`); ``Context.known_operation``
    switches the plans on for one request.
    """

    plans: PlanCache

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if getattr(self.context_value, "known_operation", False):
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result)
                except Fallback:
                    pass  # graphql-core completes this object; its children may still use plans
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> Complete | None:
        key = _key(object_type, field_details_list)
        found, plan = self.plans.get(key)
        if found:
            return plan
        try:
            plan = _Planner(self).object(object_type, list(field_details_list))
        except _NotCompilable:
            plan = None
        self.plans.put(key, tuple(fd.node for fd in field_details_list), plan)
        return plan


def execution_context_for(plans: PlanCache) -> type[CompiledExecutionContext]:
    """An execution context class bound to one schema's plans (no state shared between schemas)."""
    return type("CompiledExecutionContext", (CompiledExecutionContext,), {"plans": plans})
