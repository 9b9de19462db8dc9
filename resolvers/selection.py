"""Look-ahead: which relations a query selects below a field, as an engine include tree.

The root resolver reads the selection once and asks the engine for exactly the relations
requested, level by level, so nested fields need no resolvers of their own (and no N+1).
Fragments and inline fragments are merged; a fragment on another type is ignored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection
from strawberry.utils.str_converters import to_camel_case

from hub.vocabulary.model import PERSONAL_FIELDS, Entity
from hub.vocabulary.relations import RELATIONS

#: The GraphQL type of each entity's records.
TYPE_OF: dict[Entity, str] = {
    Entity.CASE: "Case",
    Entity.PERSON: "PersonRecord",
    Entity.SERVICE: "Service",
    Entity.STAGE_EVENT: "StageEvent",
}
_ENTITY_OF = {name: entity for entity, name in TYPE_OF.items()}

#: GraphQL field → the vocabulary's relation it follows (hub.vocabulary.relations), per GraphQL
#: type. Victims, perpetrators and witnesses are each a relation narrowed to roles, all attached
#: as the case's participants (and loaded together when asked together). What a relation leads
#: to is the vocabulary's to say.
FIELD_RELATIONS: dict[str, dict[str, str]] = {
    "Case": {
        "victims": "victims",
        "perpetrators": "perpetrators",
        "witnesses": "witnesses",
        "services": "services",
        "stageHistory": "stage_history",
    },
    "PersonRecord": {"case": "case", "services": "services"},
    "Service": {"recipient": "recipient", "case": "case"},
}

#: The parts of a linked person (hub.engine.persons), assembled from its records' relations:
#: not relations between a source's records, so not in the vocabulary's table.
PERSON_PARTS: dict[str, dict[str, tuple[str, str]]] = {
    "PersonRecord": {"person": ("person", "Person")},
    "Person": {
        "records": ("records", "PersonRecord"),
        "cases": ("cases", "Case"),
        "services": ("services", "Service"),
        "lastKnownLocation": ("location", "KnownLocation"),
        "serviceGaps": ("gaps", "ServiceGap"),
    },
}


def _relation_fields() -> dict[str, dict[str, tuple[str, str]]]:
    """GraphQL field → (engine relation, GraphQL type of what it leads to), per GraphQL type."""
    table: dict[str, dict[str, tuple[str, str]]] = {}
    for type_name, fields in FIELD_RELATIONS.items():
        entity = _ENTITY_OF[type_name]
        table[type_name] = {
            field: (relation, TYPE_OF[RELATIONS[(entity, relation)].target])
            for field, relation in fields.items()
        }
    for type_name, parts in PERSON_PARTS.items():
        table.setdefault(type_name, {}).update(parts)
    return table


#: GraphQL field → (engine relation, GraphQL type of what it leads to), per GraphQL type.
RELATION_FIELDS: dict[str, dict[str, tuple[str, str]]] = _relation_fields()

_INTERFACES = {"Node"}


def fields_of(selections: Iterable[Any], type_name: str | None) -> list[SelectedField]:
    """The fields selected on ``type_name`` (any type if None), with fragments flattened."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            condition = selection.type_condition
            if type_name is None or condition in (None, type_name) or condition in _INTERFACES:
                found.extend(fields_of(selection.selections, type_name))
    return found


def child(selections: Iterable[Any], *path: str) -> list[Any]:
    """The selections under ``path`` (e.g. ``edges``, ``node``)."""
    current = list(selections)
    for name in path:
        nested: list[Any] = []
        for field in fields_of(current, None):
            if field.name == name:
                nested.extend(field.selections)
        current = nested
    return current


def selects(selections: Iterable[Any], type_name: str, name: str) -> bool:
    """Whether field ``name`` is selected."""
    return any(f.name == name for f in fields_of(selections, type_name))


def include_tree(selections: Iterable[Any], type_name: str) -> dict[str, Any]:
    """The engine include tree for what is selected on an object of ``type_name``."""
    tree: dict[str, Any] = {}
    relations = RELATION_FIELDS.get(type_name, {})
    for field in fields_of(selections, type_name):
        target = relations.get(field.name)
        if target is None:
            continue
        relation, target_type = target
        _merge(tree.setdefault(relation, {}), include_tree(field.selections, target_type))
    return tree


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        _merge(into.setdefault(key, {}), value)


#: Selection trees remembered (one per field node of a parsed document: a few per operation).
MAX_SELECTIONS = 1024

T = TypeVar("T")


class ByNodes(Generic[T]):
    """Values computed once per parsed syntax node(s), the most recent ``size`` of them.

    The parser cache hands the same node objects to every request with the same query text, so
    a value that depends on the nodes alone is computed once per text. Keys are the nodes' ids;
    each entry keeps its nodes alive, so an id in a key cannot be reused by another document
    while the entry exists (an entry whose nodes are not the ones asked about is computed anew).
    """

    def __init__(self, size: int | None = None) -> None:
        #: None: :data:`MAX_SELECTIONS`, read when an entry is added.
        self.size = size
        self._entries: OrderedDict[tuple[int, ...], tuple[tuple[Any, ...], T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, nodes: tuple[Any, ...], compute: Callable[[], T]) -> T:
        key = tuple(map(id, nodes))
        entry = self._entries.get(key)
        if entry is not None and all(a is b for a, b in zip(entry[0], nodes, strict=True)):
            self._entries.move_to_end(key)
            return entry[1]
        value = compute()
        self._entries[key] = (nodes, value)
        while len(self._entries) > (self.size if self.size is not None else MAX_SELECTIONS):
            self._entries.popitem(last=False)
        return value


_SELECTIONS: ByNodes[list[Selection]] = ByNodes()


def selected(info: Info) -> list[Selection]:
    """What is selected under the field being resolved: ``info.selected_fields[0].selections``
    for the look-ahead's needs (names, type conditions, nesting), read once per parsed document
    (:class:`ByNodes`).

    Strawberry converts the whole subtree on every request, arguments and directives included,
    evaluating every variable in it (~2 % of a portal page's CPU, issue 13). The look-ahead reads
    no argument and no directive, so the tree here carries none, and it depends on the field
    nodes alone.
    """
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    return _SELECTIONS.get(
        nodes, lambda: [s for node in nodes for s in _converted(_children(node), raw.fragments)]
    )


def _children(node: Any) -> list[SelectionNode]:
    return list(node.selection_set.selections) if node.selection_set is not None else []


def _converted(nodes: Iterable[SelectionNode], fragments: dict[str, Any]) -> list[Selection]:
    """Strawberry's selection objects for ``nodes``, without arguments or directives."""
    out: list[Selection] = []
    for node in nodes:
        if isinstance(node, FieldNode):
            out.append(
                SelectedField(
                    name=node.name.value,
                    directives={},
                    arguments={},
                    selections=_converted(_children(node), fragments),
                    alias=node.alias.value if node.alias is not None else None,
                )
            )
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition is not None else None
            out.append(
                InlineFragment(
                    type_condition=condition,  # type: ignore[arg-type]
                    selections=_converted(_children(node), fragments),
                    directives={},
                )
            )
        elif isinstance(node, FragmentSpreadNode):
            definition = fragments[node.name.value]
            out.append(
                FragmentSpread(
                    name=node.name.value,
                    type_condition=definition.type_condition.name.value,
                    directives={},
                    selections=_converted(_children(definition), fragments),
                )
            )
    return out


#: The GraphQL names of the personal fields (``fullName``, ``nik``, …).
PERSONAL_NAMES = frozenset(to_camel_case(name) for name in PERSONAL_FIELDS)
_PERSONAL: ByNodes[bool] = ByNodes()


def selects_personal(info: Info) -> bool:
    """Whether the operation selects a personal field anywhere (any field so named, in the
    operation or in any of the document's fragments, used or not: when in doubt, yes).

    Without one, nothing in the request can release a name, NIK, birth date, passport, address
    or phone, so the sources need not read them (:attr:`hub.engine.scope.RequestContext.reads_personal`).
    Decided once per parsed operation (:class:`ByNodes`).
    """
    raw = info._raw_info
    roots = [raw.operation, *raw.fragments.values()]
    return _PERSONAL.get((raw.operation,), lambda: any(_names_personal(_children(root)) for root in roots))


def _names_personal(nodes: Iterable[SelectionNode]) -> bool:
    for node in nodes:
        if isinstance(node, FieldNode) and node.name.value in PERSONAL_NAMES:
            return True
        if isinstance(node, FieldNode | InlineFragmentNode) and _names_personal(_children(node)):
            return True
    return False
