"""The GraphQL object types of the national schema (schema v1).

Types are plain strawberry dataclasses filled by :mod:`resolvers.convert` from engine
results: leaf fields are sync attributes read by the default resolver, which keeps execution
cheap (see ``shared/notes/stack.md`` §3). Relations are filled by the root resolver's
look-ahead, not resolved per item. The only per-item resolvers are the personal fields, which
must pass the policy point one by one.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from hub.engine.ids import encode_cursor
from hub.vocabulary import model
from resolvers.enums import (
    AgeGroup,
    BreakerStatus,
    CaseStage,
    EntityKind,
    ExploitationType,
    OrgType,
    PersonRole,
    RegionLevel,
    ServiceStatus,
    ServiceType,
    Sex,
    SourceStatus,
    TraffickingMeans,
)
from resolvers.personal import personal_field


@strawberry.interface(description="An object with a global id (Relay Node). Fetch any with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Global id: opaque, stable across restarts, names the source and the agency's own key."
    )


@strawberry.federation.type(
    keys=["code"], description="A data-holding institution (Lembaga), e.g. POLRI, KEMENPPPA, LPSK."
)
class Agency:
    code: str = strawberry.field(description="National agency code (Kode lembaga), e.g. `POLRI`.")
    name: str = strawberry.field(description="Official name (Nama resmi).")
    type: OrgType = strawberry.field(description="Type of organisation (Jenis lembaga).")

    @classmethod
    def resolve_reference(cls, info: Info, code: str) -> Agency | None:
        """Federation: the agency with this code (``_entities``)."""
        return info.context.entities.agency(info, code)


@strawberry.type(description="An administrative region (Wilayah) by its Kemendagri code.")
class Region:
    code: str = strawberry.field(
        description="Kemendagri code (Kode wilayah): `33` province, `33.73` regency/city."
    )
    name: str = strawberry.field(description="Official name (Nama wilayah).")
    level: RegionLevel = strawberry.field(description="Province or regency/city (Tingkat wilayah).")
    province: Region | None = strawberry.field(
        description="The province a regency lies in (Provinsi); the region itself for a province."
    )


@strawberry.type(name="Source", description="A registered agency database (Sumber data), queried in place.")
class SourceInfo:
    name: str = strawberry.field(description="Name of the source in the hub configuration, e.g. `polri`.")
    agency: Agency | None = strawberry.field(
        description="The agency that holds this database (Lembaga pemilik)."
    )
    description: str = strawberry.field(description="What the source holds, from its mapping (Keterangan).")
    status: SourceStatus = strawberry.field(description="Whether the source is serving (Status).")
    detail: str = strawberry.field(description="Why a source is down, without internals (Keterangan status).")
    last_checked_at: datetime | None = strawberry.field(
        description="When the hub last opened or probed the source (Terakhir diperiksa), UTC."
    )
    entities: list[EntityKind] = strawberry.field(description="Kinds of record it holds (Jenis rekaman).")
    breaker: BreakerStatus = strawberry.field(
        description="Its circuit breaker: OPEN while it keeps failing (Pemutus sirkuit)."
    )


@strawberry.type(description="One procedural step of a case (Tahapan perkara), e.g. P-21.")
class StageEvent:
    stage: CaseStage | None = strawberry.field(description="The stage reached (Tahap); null if unmappable.")
    date: date | None = strawberry.field(description="When the stage was reached (Tanggal).")
    agency: Agency = strawberry.field(description="The agency that recorded the step (Lembaga pencatat).")
    reference: str | None = strawberry.field(
        description="The agency's document reference, e.g. a P-21 letter number (Nomor surat)."
    )


@strawberry.federation.type(
    keys=["id"], description="One person as one agency recorded them in one case (Rekam orang)."
)
class PersonRecord(Node):
    agency: Agency = strawberry.field(description="The agency that holds the record (Lembaga pencatat).")
    roles: list[PersonRole] = strawberry.field(description="Roles in the case (Peran dalam perkara).")
    sex: Sex = strawberry.field(description="Sex as recorded (Jenis kelamin).")
    age_group: AgeGroup = strawberry.field(description="Age band at the report date (Kelompok umur).")
    is_child: bool | None = strawberry.field(
        description="Under 18 at the report date (Anak, UU 21/2007); null when the age is unknown."
    )
    citizenship: str | None = strawberry.field(
        description="Citizenship as ISO 3166-1 alpha-2 (Kewarganegaraan), e.g. `ID`."
    )
    domicile_region: Region | None = strawberry.field(description="Regency of domicile or origin (Domisili).")
    case: Case | None = strawberry.field(description="The case this record belongs to (Kasus).")
    services: list[Service] = strawberry.field(
        description="Services this agency recorded for this person (Layanan yang diterima)."
    )
    full_name: str | None = personal_field(
        "full_name", "Full name as recorded (Nama lengkap). Personal data."
    )
    nik: str | None = personal_field("nik", "National identity number (NIK). Personal data.")
    birth_date: date | None = personal_field("birth_date", "Date of birth (Tanggal lahir). Personal data.")
    passport_number: str | None = personal_field(
        "passport_number", "Passport number (Nomor paspor). Personal data."
    )
    address: str | None = personal_field("address", "Address as recorded (Alamat). Personal data.")
    phone: str | None = personal_field("phone", "Telephone number (Nomor telepon). Personal data.")
    record: strawberry.Private[model.PersonRecord]
    person: Person | None = strawberry.field(
        default=None,
        description="The same human being across agencies, from record linkage (Orang lintas lembaga); "
        "null until the linkage job has seen this record.",
    )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> PersonRecord | None:
        """Federation: the person record with this global id, batched and policy-checked."""
        return await info.context.entities.record(info, id, model.Entity.PERSON)


@strawberry.type(description="A service an agency provided to a victim or witness (Layanan).")
class Service(Node):
    type: ServiceType = strawberry.field(description="Kind of service (Jenis layanan).")
    status: ServiceStatus = strawberry.field(description="Where the service stands (Status layanan).")
    provider: Agency = strawberry.field(description="The agency that provided it (Lembaga pemberi layanan).")
    provider_unit: str | None = strawberry.field(
        description="The unit that provided it, e.g. a UPTD PPA or an embassy (Unit layanan)."
    )
    recipient: PersonRecord | None = strawberry.field(description="Who received it (Penerima layanan).")
    case: Case | None = strawberry.field(description="The case it belongs to (Kasus).")
    start_date: date | None = strawberry.field(description="When it started (Tanggal mulai).")
    end_date: date | None = strawberry.field(description="When it ended, if it has (Tanggal selesai).")
    location: str | None = strawberry.field(description="Where it was provided (Lokasi layanan).")


@strawberry.federation.type(
    keys=["id"], description="A trafficking case (Kasus TPPO) as one agency recorded it."
)
class Case(Node):
    agency: Agency = strawberry.field(description="The agency that holds the case (Lembaga pencatat).")
    source: str = strawberry.field(description="The source (agency database) it was read from.")
    source_key: str | None = strawberry.field(
        description="The agency's own reference, e.g. police report number `LP/B/123/2023` (Nomor register)."
    )
    reported_at: date | None = strawberry.field(description="Date reported to the agency (Tanggal laporan).")
    region: Region | None = strawberry.field(description="Regency where it was reported or arose (Wilayah).")
    country_of_exploitation: str | None = strawberry.field(
        description="Country of exploitation, ISO 3166-1 alpha-2 (Negara tempat eksploitasi); "
        "null if domestic or unknown."
    )
    exploitation_types: list[ExploitationType] = strawberry.field(
        description="Forms of exploitation (Bentuk eksploitasi); UNKNOWN if the agency recorded none."
    )
    means: list[TraffickingMeans] = strawberry.field(
        description="Means used (Cara); UNKNOWN if not recorded."
    )
    stage: CaseStage | None = strawberry.field(
        description="Current procedural stage as this agency knows it (Tahapan); null if it records none."
    )
    stage_history: list[StageEvent] = strawberry.field(
        description="Procedural steps in date order (Riwayat tahapan)."
    )
    victims: list[PersonRecord] = strawberry.field(
        description="Victims, incl. victim-witnesses (Korban, saksi korban)."
    )
    perpetrators: list[PersonRecord] = strawberry.field(
        description="Suspects, defendants, convicted persons and justice collaborators (Pelaku)."
    )
    witnesses: list[PersonRecord] = strawberry.field(
        description="Witnesses, incl. victim-witnesses, reporters and justice collaborators (Saksi)."
    )
    services: list[Service] = strawberry.field(description="Services recorded in this case (Layanan).")

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Case | None:
        """Federation: the case with this global id, batched like every page."""
        return await info.context.entities.record(info, id, model.Entity.CASE)


@strawberry.type(description="Position in a connection (Relay PageInfo, Cursor Connections spec).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more items follow the last one (paging backwards: true when `before` was given)."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede the first one. Paging forwards this is true when `after` was "
        "given (the spec allows not counting them); paging backwards it is exact."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first item: pass it as `before` to page backwards."
    )
    end_cursor: str | None = strawberry.field(description="Cursor of the last item: pass it as `after`.")


def page_info(cursors: list[str], *, has_next: bool, has_previous: bool) -> PageInfo:
    """The PageInfo of a page whose edges have these cursors, in order."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type(description="A case and its cursor.")
class CaseEdge:
    node: Case = strawberry.field(description="The case.")
    #: The list's order and the case's position in it, encoded only if ``cursor`` is asked
    #: for: a portal page asks for the page's end cursor only (issue 13).
    order: strawberry.Private[model.SortOrder]
    position: strawberry.Private[model.Keyset]

    @strawberry.field(description="Opaque position of this case: pass it as `after`.")
    def cursor(self) -> str:
        return encode_cursor(self.order, self.position)


@strawberry.type(description="A page of cases from all agencies, merged in order (Relay connection).")
class CaseConnection:
    edges: list[CaseEdge] = strawberry.field(description="The cases of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more pages follow, and where.")
    # Counted only when selected (the resolver looks ahead), so known whenever it is asked for:
    # a plain field, which the compiled path completes with the rest of the connection.
    total_count: int = strawberry.field(
        description="All cases matching the filter across the sources that answered (COUNT in each source)."
    )


@strawberry.type(description="One value of a code list with its labels (Nilai kode).")
class VocabularyValue:
    value: str = strawberry.field(description="The enum value, as used in queries.")
    label_en: str = strawberry.field(description="English label.")
    label_id: str = strawberry.field(description="Indonesian label (Label Bahasa Indonesia).")

    @strawberry.field(description="The label in a language: `en` or `id`.")
    def label(self, lang: Annotated[str, strawberry.argument(description="`en` or `id`.")] = "en") -> str:
        return self.label_id if lang == "id" else self.label_en


@strawberry.type(
    description="A code list of the national vocabulary (Daftar kode), for portals to render labels."
)
class VocabularyEnum:
    name: str = strawberry.field(description="The GraphQL enum name, e.g. `ExploitationType`.")
    description: str = strawberry.field(description="What the code list is.")
    values: list[VocabularyValue] = strawberry.field(description="Its values in order.")


__all__ = [
    "Agency",
    "Case",
    "CaseConnection",
    "CaseEdge",
    "Info",
    "Node",
    "PageInfo",
    "PersonRecord",
    "Region",
    "Service",
    "SourceInfo",
    "StageEvent",
    "VocabularyEnum",
    "VocabularyValue",
    "page_info",
]


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
    agency: Agency = strawberry.field(description="The agency that recorded it (Lembaga pencatat).")
    source: str = strawberry.field(description="The source (agency database) it was read from (Sumber data).")
    region: Region | None = strawberry.field(description="Regency, when known (Wilayah).")
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
    agency: Agency = strawberry.field(description="The agency holding the record (Lembaga pencatat).")
    rule: str = strawberry.field(
        description="The linkage rule that joined it, e.g. `NIK`, `PASSPORT`, `NAME_BIRTH_DATE`, or `SINGLE` "
        "(Aturan keterkaitan)."
    )
    score: float | None = strawberry.field(description="Score of the link; null for a single record (Skor).")


@strawberry.type(
    description="One human being across agencies, from record linkage (Orang lintas lembaga). "
    "Records are read live from each agency."
)
class Person(Node):
    records: list[PersonRecord] = strawberry.field(
        description="Every linked record, one per agency encounter (Rekam orang di setiap lembaga)."
    )
    agencies: list[Agency] = strawberry.field(
        description="Agencies that recorded this person (Lembaga yang mencatat)."
    )
    roles: list[PersonRole] = strawberry.field(description="Roles across all records (Peran dalam perkara).")
    is_victim: bool = strawberry.field(
        description="Whether any agency recorded the person as a victim (Tercatat sebagai korban)."
    )
    cases: list[Case] = strawberry.field(
        description="Cases of the linked records, in report-date order (Kasus terkait)."
    )
    services: list[Service] = strawberry.field(
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
