"""GraphQL enums generated from the national vocabulary in :mod:`hub.vocabulary.model`.

Each GraphQL enum value wraps the model's own member, so resolvers hand model values to
strawberry unchanged, and every value's description is its English and Indonesian label —
one list, no drift between code and schema.
"""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from hub.vocabulary import model


def vocabulary_enum(source: type[model.Labelled], description: str) -> Any:
    """A strawberry enum with the members of ``source`` and their bilingual labels."""
    members = {
        member.name: strawberry.enum_value(member, description=f"{member.label_en} ({member.label_id})")
        for member in source
    }
    return strawberry.enum(enum.Enum(source.__name__, members), description=description)  # type: ignore[arg-type]


def to_model(value: Any) -> Any:
    """The model member behind a GraphQL enum input value."""
    return value.value if isinstance(value, enum.Enum) and isinstance(value.value, enum.Enum) else value


ExploitationType = vocabulary_enum(
    model.ExploitationType,
    "Form of exploitation (Bentuk eksploitasi; UU 21/2007 Pasal 1, HTCDS v2). A case may have several.",
)
TraffickingMeans = vocabulary_enum(
    model.TraffickingMeans,
    "Means used to traffic the victim (Cara; UU 21/2007 Pasal 1). Multi-valued.",
)
CaseStage = vocabulary_enum(
    model.CaseStage, "Procedural stage of a case (Tahapan perkara), listed in procedural order."
)
ServiceType = vocabulary_enum(
    model.ServiceType,
    "Service provided to a victim or witness (Jenis layanan; UU 21/2007 Pasal 51).",
)
ServiceStatus = vocabulary_enum(model.ServiceStatus, "Where a service stands (Status layanan).")
Sex = vocabulary_enum(model.Sex, "Legal sex as recorded by the agency (Jenis kelamin).")
AgeGroup = vocabulary_enum(
    model.AgeGroup, "Age band at the time of the report (Kelompok umur; Simfoni PPA bands)."
)
PersonRole = vocabulary_enum(model.PersonRole, "Procedural role of a person in a case (Peran dalam perkara).")
OrgType = vocabulary_enum(
    model.OrgType, "Type of organisation (Jenis lembaga; HTCDS v2 plus Indonesian actors)."
)
RegionLevel = vocabulary_enum(model.RegionLevel, "Administrative level of a region (Tingkat wilayah).")

#: GraphQL enum of each model code list, for the ``vocabulary`` query.
BY_MODEL: dict[type[model.Labelled], Any] = {
    model.ExploitationType: ExploitationType,
    model.TraffickingMeans: TraffickingMeans,
    model.CaseStage: CaseStage,
    model.ServiceType: ServiceType,
    model.ServiceStatus: ServiceStatus,
    model.Sex: Sex,
    model.AgeGroup: AgeGroup,
    model.PersonRole: PersonRole,
    model.OrgType: OrgType,
    model.RegionLevel: RegionLevel,
}


Measure = vocabulary_enum(model.Measure, "What a statistic counts (Ukuran).")
Dimension = vocabulary_enum(model.Dimension, "What a statistic is grouped by (Dimensi).")


@strawberry.enum(
    description="How a source took part in answering (Status sumber dalam jawaban). Spelled exactly as "
    "`extensions.sources[].status` of every response (lower case, the response contract), so one "
    "comparison serves both."
)
class CoverageStatus(enum.Enum):
    ok = strawberry.enum_value("ok", description="Answered (Menjawab).")
    error = strawberry.enum_value("error", description="Failed or unavailable (Gagal/tidak tersedia).")
    timeout = strawberry.enum_value("timeout", description="Did not answer in time (Melewati batas waktu).")
    skipped = strawberry.enum_value(
        "skipped", description="Not asked: left out by the agency filter (Tidak ditanya)."
    )
    excluded = strawberry.enum_value(
        "excluded", description="Left out: cannot evaluate a filter field (Dikecualikan)."
    )


@strawberry.enum(description="Order of a case list.")
class CaseOrder(enum.Enum):
    REPORTED_AT_DESC = strawberry.enum_value(
        "REPORTED_AT_DESC",
        description="Newest report first (Laporan terbaru dahulu); ties by agency and key.",
    )
    AGENCY_ASC = strawberry.enum_value(
        "AGENCY_ASC",
        description="By agency code A to Z, newest report first within each agency (Per lembaga).",
    )
    AGENCY_DESC = strawberry.enum_value(
        "AGENCY_DESC",
        description="By agency code Z to A, newest report first within each agency (Per lembaga).",
    )
    REPORTED_AT_ASC = strawberry.enum_value(
        "REPORTED_AT_ASC",
        description="Oldest report first (Laporan terlama dahulu); ties by agency and key.",
    )


@strawberry.enum(description="Whether a source is serving (Status sumber data).")
class SourceStatus(enum.Enum):
    UP = strawberry.enum_value("UP", description="Open and answering (Aktif).")
    DOWN = strawberry.enum_value("DOWN", description="Could not be opened or reached (Tidak tersedia).")


@strawberry.enum(description="State of a source's circuit breaker (Pemutus sirkuit).")
class BreakerStatus(enum.Enum):
    CLOSED = strawberry.enum_value("CLOSED", description="Calls go through (Normal).")
    OPEN = strawberry.enum_value(
        "OPEN", description="Failing: calls fail fast until a probe is due (Terbuka, gagal cepat)."
    )
    HALF_OPEN = strawberry.enum_value(
        "HALF_OPEN", description="One probe call may test whether it is back (Setengah terbuka)."
    )


@strawberry.enum(description="Kinds of record a source can hold (Jenis rekaman).")
class EntityKind(enum.Enum):
    CASE = strawberry.enum_value("CASE", description="Cases (Kasus).")
    PERSON = strawberry.enum_value("PERSON", description="Person records (Rekam orang).")
    SERVICE = strawberry.enum_value("SERVICE", description="Services (Layanan).")
    STAGE_EVENT = strawberry.enum_value("STAGE_EVENT", description="Stage events (Tahapan perkara).")
    RESTITUTION = strawberry.enum_value(
        "RESTITUTION", description="Restitution claimed, ordered and paid (Restitusi)."
    )
