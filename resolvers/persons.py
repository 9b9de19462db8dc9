"""GraphQL for one person across agencies: ``persons``, ``person`` and the ``Person`` type.

Thin, like the case queries: arguments become an index query, the selection becomes an
include tree, :mod:`hub.engine.persons` does the work (index lookups, live reads through the
loaders), and the results are converted into plain objects whose fields are sync
attributes. The personal fields of the linked records still pass the policy point one by one
(:mod:`resolvers.personal`), exactly as on any other PersonRecord.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from hub.access.policy import Guard
from hub.engine.federation import Federation
from hub.engine.ids import InvalidId
from hub.engine.persons import (
    Persons,
    decode_person_cursor,
    decode_person_id,
    encode_person_cursor,
)
from hub.linkage.index import LinkageIndex, PersonQuery
from hub.vocabulary import model
from resolvers import selection, types
from resolvers.access import guard_of
from resolvers.convert import Converter
from resolvers.enums import PersonRole
from resolvers.errors import bad_input
from resolvers.linkage_status import LinkageStatus, report_linkage
from resolvers.types import Person


@strawberry.type(description="A person and its cursor.")
class PersonEdge:
    cursor: str = strawberry.field(description="Opaque position of this person: pass it as `after`.")
    node: Person = strawberry.field(description="The person (Orang).")


@strawberry.type(
    description="A page of linked persons (Relay connection; Daftar orang). Forward only (`first`/`after`): "
    "persons are in linkage-index order (person number), which has no meaning a reader would page "
    "backwards through."
)
class PersonConnection:
    edges: list[PersonEdge] = strawberry.field(description="The persons of this page with their cursors.")
    page_info: types.PageInfo = strawberry.field(description="Whether more pages follow, and where.")
    linkage: LinkageStatus = strawberry.field(
        description="Whether the linkage index these persons come from is current: NOT_RUN means no "
        "persons exist yet, STALE that sources changed after the last run (Status penautan)."
    )
    # Counted only when selected (the resolver looks ahead), so known whenever it is asked for.
    total_count: int = strawberry.field(description="All persons matching the filter (Jumlah orang).")


@strawberry.input(
    description="Conditions on linked persons (Filter orang). Fields combine with AND; lists with OR."
)
class PersonFilter:
    agencies: list[str] | None = strawberry.field(
        default=None, description="Recorded by at least one of these agencies, by code (Lembaga)."
    )
    roles: list[PersonRole] | None = strawberry.field(
        default=None, description="With at least one of these roles in some record (Peran)."
    )
    min_agencies: int | None = strawberry.field(
        default=None,
        description="Recorded by at least this many agencies (Minimal jumlah lembaga), e.g. 2 for overlaps.",
    )


# --- resolvers --------------------------------------------------------------------------------


def _federation(info: Info) -> Federation:
    return info.context.federation


def _index(info: Info) -> LinkageIndex:
    index = info.context.linkage
    if index is None:
        raise bad_input("the hub has no linkage store", "id")
    return index


def person_include(selections: Any) -> dict[str, Any]:
    """The engine include tree for what is selected on a Person."""
    return selection.include_tree(selections, "Person")


def _query(value: PersonFilter | None, federation: Federation, guard: Guard | None) -> PersonQuery:
    hidden = guard.hidden_entries(e.name for e in federation.registry.all()) if guard is not None else ()
    if value is None:
        return PersonQuery(hidden=hidden)
    sources: tuple[str, ...] = ()
    if value.agencies:
        codes = {code.upper() for code in value.agencies}
        by_agency = {e.name: e.source.agency.code for e in federation.registry.all() if e.source is not None}
        unknown = sorted(codes - set(by_agency.values()))
        if unknown:
            raise bad_input(f"unknown agency code(s): {', '.join(unknown)}", "filter.agencies")
        sources = tuple(name for name, code in by_agency.items() if code in codes)
    if value.min_agencies is not None and not 1 <= value.min_agencies <= 100:
        raise bad_input("minAgencies must be between 1 and 100", "filter.minAgencies")
    roles = tuple(model.PersonRole[r.name] for r in value.roles or ())
    return PersonQuery(sources=sources, roles=roles, min_sources=value.min_agencies, hidden=hidden)


@strawberry.type(description="Persons linked across agencies (Orang lintas lembaga).")
class PersonQueries:
    @strawberry.field(
        description="Linked persons, keyset-paginated over the linkage index (Daftar orang lintas lembaga)."
    )
    async def persons(
        self,
        info: Info,
        filter: Annotated[
            PersonFilter | None, strawberry.argument(description="Conditions on the persons.")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="Page size (at most the hub's cap, default cap 500).")
        ] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last person of the previous page.")
        ] = None,
    ) -> PersonConnection:
        federation = _federation(info)
        cap = federation.config.max_page_size
        if not 0 <= first <= cap:
            raise bad_input(f"first must be between 0 and {cap}", "first")
        position = None
        if after is not None:
            try:
                position = decode_person_cursor(after)
            except InvalidId as exc:
                raise bad_input(f"invalid cursor: {exc}", "after") from None
        query = _query(filter, federation, guard_of(info.context))
        selections = selection.selected(info)
        include = person_include(selection.child(selections, "edges", "node"))
        want_total = selection.selects(selections, "PersonConnection", "totalCount")
        page = await Persons(federation, _index(info)).page(
            info.context.scope, query, position, first, include, want_total
        )
        convert: Converter = info.context.converter
        edges = [
            PersonEdge(cursor=encode_person_cursor(view.person_id), node=convert.person_object(visible))
            for view in page.items
            if (visible := _visible_view(convert, view)) is not None
        ]
        linkage = await report_linkage(info.context, _index(info), federation.registry)
        return PersonConnection(
            edges=edges,
            page_info=types.page_info(
                [edge.cursor for edge in edges], has_next=page.has_next, has_previous=after is not None
            ),
            linkage=linkage,
            total_count=page.total,  # type: ignore[arg-type]
        )

    @strawberry.field(description="One linked person by id (Orang).")
    async def person(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id of the person.")],
    ) -> Person | None:
        try:
            person_id = decode_person_id(id)
        except InvalidId:
            raise bad_input("malformed id", "id") from None
        if person_id is None:
            raise bad_input("id does not name a person", "id")
        return await load_person(info, person_id, selection.selected(info))


async def load_person(info: Info, person_id: int, selections: Any) -> Person | None:
    """A Person by number with what ``selections`` ask for (also used by ``node(id:)``)."""
    include = person_include(selections)
    view = await Persons(_federation(info), _index(info)).get(info.context.scope, person_id, include)
    convert = info.context.converter
    visible = _visible_view(convert, view) if view is not None else None
    return convert.person_object(visible) if visible is not None else None


def _visible_view(convert: Any, view: Any) -> Any:
    """The view without what the policy's row rule hides (None if nothing is left)."""
    trim = getattr(convert, "person_view", None)
    return trim(view) if trim is not None else view
