"""The root Query: thin translation between GraphQL arguments and engine requests.

Each resolver validates its arguments (a wrong one is a ``BAD_USER_INPUT`` error naming it),
reads the selection once to know which relations to fetch, asks the engine, and converts the
engine's records into GraphQL objects. No SQL, no agency knowledge, no per-item awaits.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from hub.engine import persons
from hub.engine.federation import Federation, Linked
from hub.engine.ids import GlobalId, InvalidId, decode_cursor
from hub.vocabulary import model
from hub.vocabulary.model import Entity, Keyset, SortOrder
from resolvers import enums, inputs, selection, types
from resolvers.convert import Converter, agency_of, source_info
from resolvers.errors import bad_input
from resolvers.inputs import CaseFilter
from resolvers.persons import load_person


def _known_agencies(federation: Federation) -> set[str]:
    return {e.source.agency.code for e in federation.registry.all() if e.source is not None}


def _federation(info: Info) -> Federation:
    return info.context.federation


def _converter(info: Info) -> Converter:
    return info.context.converter


async def _expand(
    info: Info, entity: Entity, type_name: str, nodes: list[Linked], selections: Any, *, at_once: bool = False
) -> None:
    include = selection.include_tree(selections, type_name)
    await _expand_included(info, entity, nodes, include, at_once=at_once)


async def _expand_included(
    info: Info, entity: Entity, nodes: list[Linked], include: Any, *, at_once: bool = False
) -> None:
    # persons.expand = Federation.expand + the linked Person of person records (PersonRecord.person).
    federation, linkage = _federation(info), info.context.linkage
    await persons.expand(info.context.scope, federation, linkage, entity, nodes, include, at_once=at_once)


_SORT_ORDER = {
    enums.CaseOrder.REPORTED_AT_DESC: SortOrder.DESC,
    enums.CaseOrder.REPORTED_AT_ASC: SortOrder.ASC,
    enums.CaseOrder.AGENCY_ASC: SortOrder.AGENCY_ASC,
    enums.CaseOrder.AGENCY_DESC: SortOrder.AGENCY_DESC,
}
#: The order that lists the same cases back to front (report-date orders only).
_REVERSED = {SortOrder.DESC: SortOrder.ASC, SortOrder.ASC: SortOrder.DESC}

_ENTITY_TYPE = {Entity.CASE: "Case", Entity.PERSON: "PersonRecord", Entity.SERVICE: "Service"}


@strawberry.type(description="Cases, agencies and sources: the federated core queries.")
class CaseQueries:
    @strawberry.field(description="Agencies whose databases are registered (Lembaga).")
    def agencies(self, info: Info) -> list[types.Agency]:
        seen: dict[str, types.Agency] = {}
        for entry in _federation(info).registry.all():
            if entry.source is not None:
                agency = agency_of(entry)
                seen.setdefault(agency.code, agency)
        return list(seen.values())

    @strawberry.field(description="Registered agency databases and their state (Sumber data).")
    def sources(self, info: Info) -> list[types.SourceInfo]:
        return [source_info(entry) for entry in _federation(info).registry.all()]

    @strawberry.field(description="Cases from every agency, merged and paginated by keyset (Daftar kasus).")
    async def cases(
        self,
        info: Info,
        filter: Annotated[
            CaseFilter | None, strawberry.argument(description="Conditions on the cases.")
        ] = None,
        order_by: Annotated[
            enums.CaseOrder, strawberry.argument(description="Sort order.")
        ] = enums.CaseOrder.REPORTED_AT_DESC,
        first: Annotated[
            int,
            strawberry.argument(description="Page size (at most the hub's cap, default cap 500)."),
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the last case of the previous page."),
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page backwards: this many cases before `before` (or the last ones). "
                "Report-date orders only; replaces `first`."
            ),
        ] = None,
        before: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the first case of the next page (with `last`)."),
        ] = None,
    ) -> types.CaseConnection:
        federation = _federation(info)
        cap = federation.config.max_page_size
        order = _SORT_ORDER[order_by]
        backwards = last is not None or before is not None
        if backwards:
            if last is None:
                raise bad_input("before needs last: page backwards with last and before", "last")
            if after is not None:
                raise bad_input("give after (forwards) or before (backwards), not both", "after")
            if order.by_agency:
                raise bad_input(
                    "last/before page by report date only (agency orders are newest first within each "
                    "agency and cannot be reversed)",
                    "last",
                )
        size = last if last is not None else first
        argument = "last" if last is not None else "first"
        if not 0 <= size <= cap:
            raise bad_input(f"{argument} must be between 0 and {cap}", argument)
        cursor, cursor_argument = (before, "before") if backwards else (after, "after")
        position: Keyset | None = None
        if cursor is not None:
            try:
                position = decode_cursor(cursor, order)
            except InvalidId as exc:
                raise bad_input(f"invalid cursor: {exc}", cursor_argument) from None
        engine_filter = inputs.engine_filter(filter, _known_agencies(federation))
        selections = selection.selected(info)
        want_total = selection.selects(selections, "CaseConnection", "totalCount")
        # Backwards is forwards in the reverse order from the cursor, then turned around.
        engine_order = _REVERSED[order] if backwards else order
        scope = info.context.scope
        scope.reads_personal = selection.selects_personal(info)
        # The relations the page's cases select: a source may read them with the page, and
        # the total too (one round trip and one snapshot per source).
        include = selection.include_tree(selection.child(selections, "edges", "node"), "Case")
        page = await federation.cases(
            scope, engine_filter, engine_order, size, position, include, count=want_total
        )
        items = page.items[::-1] if backwards else page.items
        # A page is the only resolver of its level: its relations' keys are all here.
        await _expand_included(info, Entity.CASE, items, include, at_once=True)
        total = page.total
        convert = _converter(info)
        edges = [
            types.CaseEdge(node=convert.case(item), order=order, position=Keyset.of(item.record))  # type: ignore[arg-type]
            for item in items
        ]
        cursors = [edges[0].cursor(), edges[-1].cursor()] if edges else []
        if backwards:
            pagination = types.page_info(cursors, has_next=before is not None, has_previous=page.has_next)
        else:
            pagination = types.page_info(cursors, has_next=page.has_next, has_previous=after is not None)
        return types.CaseConnection(edges=edges, page_info=pagination, total_count=total)  # type: ignore[arg-type]

    @strawberry.field(description="One case by its global id (Kasus).")
    async def case(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id of the case.")],
    ) -> types.Case | None:
        node = await load_node(info, id, expected=Entity.CASE)
        return _converter(info).case(node) if node is not None else None

    @strawberry.field(description="Any object by its global id (Relay node).")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id.")],
    ) -> types.Node | None:
        try:
            person_id = persons.decode_person_id(id)
        except InvalidId:
            raise bad_input("malformed id", "id") from None
        if person_id is not None:  # a linked Person (resolvers/persons.py)
            return await load_person(info, person_id, selection.selected(info))
        node = await load_node(info, id, expected=None)
        return _converter(info).any(node) if node is not None else None

    @strawberry.field(
        description="The national code lists with English and Indonesian labels (Kosakata nasional)."
    )
    def vocabulary(self) -> list[types.VocabularyEnum]:
        result = []
        for code_list in model.VOCABULARY:
            gql = enums.BY_MODEL[code_list]
            definition = gql.__strawberry_definition__ if hasattr(gql, "__strawberry_definition__") else None
            result.append(
                types.VocabularyEnum(
                    name=code_list.__name__,
                    description=(definition.description if definition else "") or "",
                    values=[
                        types.VocabularyValue(value=m.name, label_en=m.label_en, label_id=m.label_id)
                        for m in code_list
                    ],
                )
            )
        return result


async def load_node(info: Info, raw_id: str, expected: Entity | None) -> Linked | None:
    try:
        gid = GlobalId.decode(raw_id)
    except InvalidId:
        raise bad_input("malformed id", "id") from None
    if expected is not None and gid.entity is not expected:
        raise bad_input(f"id names a {gid.entity.value}, not a {expected.value}", "id")
    if gid.entity not in _ENTITY_TYPE:
        return None
    federation = _federation(info)
    node = await federation.get(info.context.scope, gid)
    if node is None:
        return None
    await _expand(info, gid.entity, _ENTITY_TYPE[gid.entity], [node], selection.selected(info))
    return node
