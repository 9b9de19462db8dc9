"""GraphQL for one person across agencies: ``persons``, ``person`` and the ``Person`` type.

Thin, like the case queries: arguments become an index query, the selection becomes an
include tree, :mod:`hub.engine.persons` does the work (index lookups, live reads through the
loaders), and the results are converted into plain objects whose fields are sync
attributes. The personal fields of the linked records still pass the policy point one by one
(:mod:`resolvers.personal`), exactly as on any other PersonRecord.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from hub.access.policy import Guard
from hub.engine.federation import Federation
from hub.engine.ids import InvalidId
from hub.engine.persons import (
    KnownLocation as EngineLocation,
)
from hub.engine.persons import (
    Persons,
    PersonView,
    decode_person_cursor,
    decode_person_id,
    encode_person_cursor,
    encode_person_id,
    index_of,
)
from hub.linkage.index import LinkageIndex, PersonQuery
from hub.vocabulary import model
from resolvers import selection, types
from resolvers.access import guard_of
from resolvers.convert import Converter, region
from resolvers.enums import PersonRole, ServiceType
from resolvers.linkage_status import LinkageStatus, report_linkage


def _bad_input(message: str, argument: str) -> Exception:
    from resolvers.query import bad_input

    return bad_input(message, argument)


@strawberry.enum(description="What a last known location is based on (Dasar lokasi terakhir).")
class LocationBasis(enum.Enum):
    SERVICE = strawberry.enum_value(
        "SERVICE", description="A service the person received there (Layanan yang diterima)."
    )
    DOMICILE = strawberry.enum_value(
        "DOMICILE", description="The domicile an agency recorded (Domisili yang dicatat lembaga)."
    )
    CASE_REGION = strawberry.enum_value(
        "CASE_REGION", description="The region or country of the person's case (Wilayah/negara kasus)."
    )


@strawberry.type(description="Where a person was last recorded, and by whom (Lokasi terakhir diketahui).")
class KnownLocation:
    date: date = strawberry.field(description="Date of the event that places the person there (Tanggal).")
    basis: LocationBasis = strawberry.field(description="What the location is based on (Dasar).")
    agency: types.Agency = strawberry.field(description="The agency that recorded it (Lembaga pencatat).")
    source: str = strawberry.field(description="The source (agency database) it was read from (Sumber data).")
    region: types.Region | None = strawberry.field(description="Regency, when known (Wilayah).")
    country: str | None = strawberry.field(
        description="Country, ISO 3166-1 alpha-2, when the location is abroad (Negara)."
    )
    place: str | None = strawberry.field(
        description="The place or providing unit, e.g. a UPTD PPA or an embassy (Tempat/unit layanan)."
    )


@strawberry.type(
    description="An entitlement of a victim that no agency has recorded yet (Hak korban yang belum tercatat)."
)
class ServiceGap:
    type: ServiceType = strawberry.field(description="The entitled service (Jenis layanan yang menjadi hak).")
    legal_basis: str = strawberry.field(
        description="Where the law grants it (Dasar hukum), e.g. UU 21/2007 Pasal 51."
    )
    satisfied_by: list[ServiceType] = strawberry.field(
        description="Recorded service types that would fulfil it (Layanan yang memenuhi)."
    )


@strawberry.type(description="Why a record belongs to a person, without personal data (Bukti keterkaitan).")
class RecordLink:
    record_id: strawberry.ID = strawberry.field(
        description="Global id of the linked person record (Rekam orang)."
    )
    agency: types.Agency = strawberry.field(description="The agency holding the record (Lembaga pencatat).")
    rule: str = strawberry.field(
        description="The linkage rule that joined it, e.g. `NIK`, `PASSPORT`, `NAME_BIRTH_DATE`, or `SINGLE` "
        "(Aturan keterkaitan)."
    )
    score: float | None = strawberry.field(description="Score of the link; null for a single record (Skor).")


@strawberry.type(
    description="One human being across agencies, from record linkage (Orang lintas lembaga). "
    "Records are read live from each agency."
)
class Person(types.Node):
    records: list[types.PersonRecord] = strawberry.field(
        description="Every linked record, one per agency encounter (Rekam orang di setiap lembaga)."
    )
    agencies: list[types.Agency] = strawberry.field(
        description="Agencies that recorded this person (Lembaga yang mencatat)."
    )
    roles: list[PersonRole] = strawberry.field(description="Roles across all records (Peran dalam perkara).")
    is_victim: bool = strawberry.field(
        description="Whether any agency recorded the person as a victim (Tercatat sebagai korban)."
    )
    cases: list[types.Case] = strawberry.field(
        description="Cases of the linked records, in report-date order (Kasus terkait)."
    )
    services: list[types.Service] = strawberry.field(
        description="One service timeline across agencies, ordered by start date (Riwayat layanan)."
    )
    last_known_location: KnownLocation | None = strawberry.field(
        description="Latest dated location from any source, with the source (Lokasi terakhir diketahui): "
        "the latest of the services received (at their unit) and the records (at their domicile, else "
        "the case's region); on the same date a service wins."
    )
    service_gaps: list[ServiceGap] | None = strawberry.field(
        description="Entitlements (UU 21/2007 Pasal 51, and legal aid) no agency has recorded for this "
        "victim (Hak layanan yang belum tercatat); null when no record names the person a victim."
    )
    links: list[RecordLink] = strawberry.field(
        description="Why each record belongs to this person (Bukti keterkaitan), without personal data."
    )


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
    total: strawberry.Private[int | None]

    @strawberry.field(description="All persons matching the filter (Jumlah orang).")
    def total_count(self) -> int:
        # Counted only when selected (look-ahead in the resolver), so always known here.
        if self.total is None:
            raise types.TotalNotSelected("totalCount was not prefetched")
        return self.total
    linkage: LinkageStatus = strawberry.field(
        description="Whether the linkage index these persons come from is current: NOT_RUN means no "
        "persons exist yet, STALE that sources changed after the last run (Status penautan)."
    )


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


# --- conversion -------------------------------------------------------------------------------


def _location(convert: Converter, loc: EngineLocation | None) -> KnownLocation | None:
    if loc is None:
        return None
    return KnownLocation(
        date=loc.date,
        basis=LocationBasis[loc.basis],
        agency=convert.agency(loc.source),
        source=loc.source,
        region=region(loc.region),
        country=loc.country,
        place=loc.place,
    )


def person_object(convert: Converter, view: PersonView) -> Person:
    """The GraphQL Person of an engine view (plain constructor, no I/O)."""
    agencies: dict[str, types.Agency] = {}
    for source in view.sources:
        agency = convert.agency(source)
        agencies.setdefault(agency.code, agency)
    return Person(
        id=strawberry.ID(encode_person_id(view.person_id)),
        records=[convert.person(r) for r in view.records],
        agencies=list(agencies.values()),
        roles=list(view.roles),
        is_victim=view.is_victim,
        cases=[convert.case(c) for c in view.cases],
        services=[convert.service(s) for s in view.services],
        last_known_location=_location(convert, view.last_location),
        service_gaps=None
        if view.gaps is None
        else [
            ServiceGap(type=g.type, legal_basis=g.legal_basis, satisfied_by=list(g.satisfied_by))
            for g in view.gaps
        ],
        links=[
            RecordLink(
                record_id=strawberry.ID(types_id(e.source, e.key)),
                agency=convert.agency(e.source),
                rule=e.rule,
                score=e.score,
            )
            for e in view.entries
        ],
    )


def types_id(source: str, key: str) -> str:
    from hub.engine.ids import encode_id

    return encode_id(source, model.Entity.PERSON, key)


# --- resolvers --------------------------------------------------------------------------------


def _federation(info: Info) -> Federation:
    return info.context["federation"]


def _index(info: Info) -> LinkageIndex:
    index = index_of(info.context)
    if index is None:
        raise _bad_input("the hub has no linkage store", "id")
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
            raise _bad_input(f"unknown agency code(s): {', '.join(unknown)}", "filter.agencies")
        sources = tuple(name for name, code in by_agency.items() if code in codes)
    if value.min_agencies is not None and not 1 <= value.min_agencies <= 100:
        raise _bad_input("minAgencies must be between 1 and 100", "filter.minAgencies")
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
            raise _bad_input(f"first must be between 0 and {cap}", "first")
        position = None
        if after is not None:
            try:
                position = decode_person_cursor(after)
            except InvalidId as exc:
                raise _bad_input(f"invalid cursor: {exc}", "after") from None
        query = _query(filter, federation, guard_of(info.context))
        selections = info.selected_fields[0].selections
        include = person_include(selection.child(selections, "edges", "node"))
        want_total = selection.selects(selections, "PersonConnection", "totalCount")
        page = await Persons(federation, _index(info)).page(
            info.context["hub"], query, position, first, include, want_total
        )
        convert: Converter = info.context["converter"]
        edges = [
            PersonEdge(cursor=encode_person_cursor(view.person_id), node=person_object(convert, visible))
            for view in page.items
            if (visible := _visible_view(convert, view)) is not None
        ]
        linkage = await report_linkage(info.context, _index(info), federation.registry)
        return PersonConnection(
            linkage=linkage,
            edges=edges,
            page_info=types.page_info(
                [edge.cursor for edge in edges], has_next=page.has_next, has_previous=after is not None
            ),
            total=page.total,
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
            raise _bad_input("malformed id", "id") from None
        if person_id is None:
            raise _bad_input("id does not name a person", "id")
        return await load_person(info, person_id, info.selected_fields[0].selections)


async def load_person(info: Info, person_id: int, selections: Any) -> Person | None:
    """A Person by number with what ``selections`` ask for (also used by ``node(id:)``)."""
    include = person_include(selections)
    view = await Persons(_federation(info), _index(info)).get(info.context["hub"], person_id, include)
    convert = info.context["converter"]
    visible = _visible_view(convert, view) if view is not None else None
    return person_object(convert, visible) if visible is not None else None


def _visible_view(convert: Any, view: Any) -> Any:
    """The view without what the policy's row rule hides (None if nothing is left)."""
    trim = getattr(convert, "person_view", None)
    return trim(view) if trim is not None else view
