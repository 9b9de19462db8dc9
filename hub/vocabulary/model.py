"""The national vocabulary: the records and code lists every agency is translated into.

This module is the ground floor of the hub. It imports nothing of the project, so adapters,
the engine and the GraphQL layer can all share one definition of what a case, a person record
or a service *is*, and of every code value with its English and Indonesian label.

Enum members carry their labels (``member.label_en``, ``member.label_id``) so that the schema
descriptions, the ``vocabulary`` query and reports are all generated from this single list.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.vocabulary.reference import RegionPrefix


class Labelled(enum.Enum):
    """An enum whose members carry an English and an Indonesian label.

    Members are declared as ``NAME = "NAME", "English label", "Label Indonesia"``; the value
    is the name itself, which is what mapping files and the GraphQL schema use.
    """

    label_en: str
    label_id: str

    #: Members are singletons compared by identity, so identity is a valid hash — and a C one:
    #: ``Enum.__hash__`` is a Python call (``hash(self._name_)``), and a portal page hashes
    #: ~300 members (role sets, the plans' name tables, dictionaries keyed by code). Issue 13.
    __hash__ = object.__hash__

    def __new__(cls, value: str, label_en: str, label_id: str) -> Labelled:
        member = object.__new__(cls)
        member._value_ = value
        member.label_en = label_en
        member.label_id = label_id
        return member

    @classmethod
    def parse(cls, name: str) -> Any:
        """The member called ``name``; raises ``ValueError`` listing the valid names."""
        try:
            return cls[name]
        except KeyError:
            valid = ", ".join(m.name for m in cls)
            raise ValueError(f"{name!r} is not a {cls.__name__} (valid: {valid})") from None

    def label(self, lang: str = "en") -> str:
        """The label in ``lang`` (``en`` or ``id``)."""
        return self.label_id if lang == "id" else self.label_en


class ExploitationType(Labelled):
    """Form of exploitation (UU 21/2007 Pasal 1 and HTCDS v2); a case may have several."""

    SEXUAL_EXPLOITATION = (
        "SEXUAL_EXPLOITATION",
        "Sexual exploitation (incl. prostitution, pornography)",
        "Eksploitasi seksual (termasuk pelacuran)",
    )
    FORCED_LABOUR = "FORCED_LABOUR", "Forced labour or services", "Kerja atau pelayanan paksa"
    DOMESTIC_SERVITUDE = (
        "DOMESTIC_SERVITUDE",
        "Domestic servitude",
        "Penghambaan/kerja paksa di rumah tangga",
    )
    SLAVERY_OR_SIMILAR = (
        "SLAVERY_OR_SIMILAR",
        "Slavery or practices similar to slavery",
        "Perbudakan atau praktik serupa perbudakan",
    )
    FORCED_MARRIAGE = (
        "FORCED_MARRIAGE",
        "Forced, contract or mail-order marriage",
        "Perkawinan paksa/kawin kontrak/pengantin pesanan",
    )
    ORGAN_REMOVAL = (
        "ORGAN_REMOVAL",
        "Unlawful organ or tissue removal or transplant",
        "Pengambilan/transplantasi organ atau jaringan tubuh",
    )
    REPRODUCTIVE_EXPLOITATION = (
        "REPRODUCTIVE_EXPLOITATION",
        "Exploitation of reproductive organs (incl. surrogacy)",
        "Pemanfaatan organ reproduksi",
    )
    CHILD_LABOUR = (
        "CHILD_LABOUR",
        "Child labour or economic exploitation of children",
        "Eksploitasi ekonomi anak/pekerja anak",
    )
    FORCED_BEGGING = "FORCED_BEGGING", "Forced begging", "Dipaksa mengemis"
    FORCED_CRIMINALITY = (
        "FORCED_CRIMINALITY",
        "Forced criminal activity (e.g. online scams, gambling)",
        "Dipaksa melakukan kejahatan (penipuan daring, judi online)",
    )
    ILLEGAL_ADOPTION = "ILLEGAL_ADOPTION", "Forced or illegal adoption", "Adopsi ilegal"
    OTHER = "OTHER", "Other", "Lainnya"
    UNKNOWN = "UNKNOWN", "Unknown", "Tidak diketahui"


class TraffickingMeans(Labelled):
    """Means used to traffic the victim (UU 21/2007 Pasal 1, "cara"); multi-valued."""

    THREAT_OF_VIOLENCE = "THREAT_OF_VIOLENCE", "Threat of violence", "Ancaman kekerasan"
    USE_OF_VIOLENCE = "USE_OF_VIOLENCE", "Use of violence", "Penggunaan kekerasan"
    ABDUCTION = "ABDUCTION", "Abduction", "Penculikan"
    CONFINEMENT = "CONFINEMENT", "Confinement", "Penyekapan"
    FORGERY = "FORGERY", "Document forgery", "Pemalsuan"
    DECEPTION = "DECEPTION", "Deception or false promises", "Penipuan"
    ABUSE_OF_POWER_OR_VULNERABILITY = (
        "ABUSE_OF_POWER_OR_VULNERABILITY",
        "Abuse of power or of a position of vulnerability",
        "Penyalahgunaan kekuasaan atau posisi rentan",
    )
    DEBT_BONDAGE = "DEBT_BONDAGE", "Debt bondage", "Penjeratan utang"
    PAYMENT_TO_CONTROLLER = (
        "PAYMENT_TO_CONTROLLER",
        "Payments or benefits given to obtain the consent of a controlling person",
        "Memberi bayaran atau manfaat",
    )
    UNKNOWN = "UNKNOWN", "Unknown", "Tidak diketahui"


class CaseStage(Labelled):
    """Procedural stage of a case, in procedural order (Tahapan perkara, KUHAP)."""

    REPORTED = "REPORTED", "Report or complaint received", "Laporan/pengaduan"
    INQUIRY = "INQUIRY", "Preliminary inquiry", "Penyelidikan"
    INVESTIGATION = "INVESTIGATION", "Investigation (suspect named, SPDP)", "Penyidikan"
    DOSSIER_RETURNED = (
        "DOSSIER_RETURNED",
        "Dossier returned incomplete (P-19)",
        "Berkas dikembalikan (P-19)",
    )
    DOSSIER_COMPLETE = (
        "DOSSIER_COMPLETE",
        "Dossier declared complete (P-21)",
        "Berkas lengkap (P-21)",
    )
    HANDOVER_TO_PROSECUTOR = (
        "HANDOVER_TO_PROSECUTOR",
        "Suspect and evidence handed over to the prosecutor (Tahap II)",
        "Penyerahan tersangka dan barang bukti (Tahap II)",
    )
    PROSECUTION = "PROSECUTION", "Prosecution, indictment filed", "Penuntutan"
    TRIAL = "TRIAL", "Trial", "Persidangan"
    FIRST_INSTANCE_VERDICT = (
        "FIRST_INSTANCE_VERDICT",
        "First-instance verdict",
        "Putusan pengadilan negeri",
    )
    APPEAL = "APPEAL", "Appeal", "Banding"
    CASSATION = "CASSATION", "Cassation", "Kasasi"
    FINAL_AND_BINDING = (
        "FINAL_AND_BINDING",
        "Final and binding (inkracht)",
        "Berkekuatan hukum tetap (inkracht)",
    )
    DISCONTINUED = (
        "DISCONTINUED",
        "Investigation or prosecution terminated (SP3)",
        "Dihentikan (SP3/penghentian penuntutan)",
    )


class ServiceType(Labelled):
    """Service provided to a victim or witness (Layanan; UU 21/2007 Pasal 51, UU 31/2014)."""

    COMPLAINT_IDENTIFICATION = (
        "COMPLAINT_IDENTIFICATION",
        "Complaint intake and identification",
        "Layanan pengaduan/identifikasi",
    )
    CASE_ACCOMPANIMENT = "CASE_ACCOMPANIMENT", "Case accompaniment", "Pendampingan"
    HEALTH_REHABILITATION = (
        "HEALTH_REHABILITATION",
        "Health or medical rehabilitation",
        "Rehabilitasi kesehatan",
    )
    PSYCHOLOGICAL_SUPPORT = (
        "PSYCHOLOGICAL_SUPPORT",
        "Psychological counselling",
        "Layanan psikologis",
    )
    SOCIAL_REHABILITATION = "SOCIAL_REHABILITATION", "Social rehabilitation", "Rehabilitasi sosial"
    SHELTER = "SHELTER", "Shelter or safe house", "Rumah perlindungan/rumah aman"
    LEGAL_AID = "LEGAL_AID", "Legal aid or legal services", "Bantuan hukum/layanan hukum"
    REPATRIATION = "REPATRIATION", "Repatriation, return home", "Pemulangan"
    SOCIAL_REINTEGRATION = (
        "SOCIAL_REINTEGRATION",
        "Social reintegration (incl. economic empowerment)",
        "Reintegrasi sosial",
    )
    PROTECTION_PHYSICAL = (
        "PROTECTION_PHYSICAL",
        "Physical protection of a witness or victim (protection programme)",
        "Perlindungan fisik saksi/korban",
    )
    PROTECTION_PROCEDURAL_RIGHTS = (
        "PROTECTION_PROCEDURAL_RIGHTS",
        "Fulfilment of a witness's or victim's procedural rights (protection programme)",
        "Pemenuhan hak prosedural",
    )
    PROTECTION_MEDICAL_PSYCHOSOCIAL = (
        "PROTECTION_MEDICAL_PSYCHOSOCIAL",
        "Medical, psychological or psychosocial aid (protection programme)",
        "Bantuan medis/psikologis/psikososial",
    )
    RESTITUTION_FACILITATION = (
        "RESTITUTION_FACILITATION",
        "Restitution assessment and facilitation",
        "Fasilitasi/penghitungan restitusi",
    )
    CONSULAR_PROTECTION = (
        "CONSULAR_PROTECTION",
        "Consular protection abroad",
        "Pelindungan WNI oleh Perwakilan RI",
    )
    OTHER = "OTHER", "Other", "Lainnya"


class ServiceStatus(Labelled):
    """Where a service stands (Status layanan)."""

    PLANNED = "PLANNED", "Planned", "Direncanakan"
    ONGOING = "ONGOING", "Ongoing", "Sedang berjalan"
    COMPLETED = "COMPLETED", "Completed", "Selesai"
    REFUSED = "REFUSED", "Refused or stopped", "Ditolak/dihentikan"
    UNKNOWN = "UNKNOWN", "Unknown", "Tidak diketahui"


class Sex(Labelled):
    """Legal sex as recorded (Jenis kelamin, as in Dukcapil)."""

    MALE = "MALE", "Male", "Laki-laki"
    FEMALE = "FEMALE", "Female", "Perempuan"
    UNKNOWN = "UNKNOWN", "Unknown or not recorded", "Tidak diketahui"


class AgeGroup(Labelled):
    """Age band at the time of the report (Kelompok umur, Simfoni PPA bands)."""

    AGE_0_5 = "AGE_0_5", "0–5 years", "0–5 tahun"
    AGE_6_12 = "AGE_6_12", "6–12 years", "6–12 tahun"
    AGE_13_17 = "AGE_13_17", "13–17 years", "13–17 tahun"
    AGE_18_24 = "AGE_18_24", "18–24 years", "18–24 tahun"
    AGE_25_44 = "AGE_25_44", "25–44 years", "25–44 tahun"
    AGE_45_59 = "AGE_45_59", "45–59 years", "45–59 tahun"
    AGE_60_PLUS = "AGE_60_PLUS", "60 years and over", "60 tahun ke atas"
    UNKNOWN = "UNKNOWN", "Unknown", "Tidak diketahui"

    @classmethod
    def for_age(cls, years: int | None) -> AgeGroup:
        """The band for an age in whole years (``None`` or negative → UNKNOWN)."""
        if years is None or years < 0:
            return cls.UNKNOWN
        for band, (low, high) in AGE_RANGES.items():
            if years >= low and (high is None or years <= high):
                return band
        return cls.UNKNOWN


#: The Simfoni PPA age bands as inclusive ranges of completed years (None: open upper bound).
#: The one definition: records, SQL filters, statistics and linkage all read it.
AGE_RANGES: Mapping[AgeGroup, tuple[int, int | None]] = MappingProxyType(
    {
        AgeGroup.AGE_0_5: (0, 5),
        AgeGroup.AGE_6_12: (6, 12),
        AgeGroup.AGE_13_17: (13, 17),
        AgeGroup.AGE_18_24: (18, 24),
        AgeGroup.AGE_25_44: (25, 44),
        AgeGroup.AGE_45_59: (45, 59),
        AgeGroup.AGE_60_PLUS: (60, None),
    }
)

#: The oldest plausible age in whole years: older values are data errors (data quality), and
#: comparisons that need a closed range close the open band here.
MAX_PLAUSIBLE_AGE = 120

#: Under this age a person is a child (anak) under UU 21/2007 Pasal 1 angka 5.
CHILD_AGE_LIMIT = 18


class PersonRole(Labelled):
    """Procedural role of a person in a case (Peran dalam perkara)."""

    VICTIM = "VICTIM", "Victim", "Korban"
    WITNESS = "WITNESS", "Witness", "Saksi"
    VICTIM_WITNESS = "VICTIM_WITNESS", "Victim-witness", "Saksi korban"
    REPORTER = "REPORTER", "Reporting person", "Pelapor"
    SUSPECT = "SUSPECT", "Suspect", "Tersangka"
    DEFENDANT = "DEFENDANT", "Defendant", "Terdakwa"
    CONVICTED = "CONVICTED", "Convicted person", "Terpidana"
    JUSTICE_COLLABORATOR = (
        "JUSTICE_COLLABORATOR",
        "Cooperating perpetrator-witness (justice collaborator)",
        "Saksi pelaku",
    )


#: Roles that make a record one of a case's victims.
VICTIM_ROLES = frozenset({PersonRole.VICTIM, PersonRole.VICTIM_WITNESS})
#: Roles that make a record one of a case's perpetrators (at any procedural stage).
PERPETRATOR_ROLES = frozenset(
    {
        PersonRole.SUSPECT,
        PersonRole.DEFENDANT,
        PersonRole.CONVICTED,
        PersonRole.JUSTICE_COLLABORATOR,
    }
)
#: Roles that make a record one of a case's witnesses: a victim-witness and a justice
#: collaborator testify too, and a reporter is heard as a witness (saksi pelapor).
WITNESS_ROLES = frozenset(
    {
        PersonRole.WITNESS,
        PersonRole.VICTIM_WITNESS,
        PersonRole.REPORTER,
        PersonRole.JUSTICE_COLLABORATOR,
    }
)


class OrgType(Labelled):
    """Type of organisation (HTCDS v2 organisation types plus Indonesian actors)."""

    LAW_ENFORCEMENT = "LAW_ENFORCEMENT", "Law enforcement", "Aparat penegak hukum"
    PROSECUTION = "PROSECUTION", "Prosecution service", "Kejaksaan"
    COURT = "COURT", "Court", "Pengadilan"
    CENTRAL_GOVERNMENT = (
        "CENTRAL_GOVERNMENT",
        "Central government ministry or agency",
        "Kementerian/Lembaga",
    )
    LOCAL_GOVERNMENT = "LOCAL_GOVERNMENT", "Local government", "Pemerintah daerah/Dinas"
    SERVICE_UNIT = "SERVICE_UNIT", "Integrated service unit", "UPTD PPA/P2TP2A/PPT"
    SOCIAL_REHAB_CENTRE = (
        "SOCIAL_REHAB_CENTRE",
        "Social rehabilitation centre",
        "RPTC/Sentra/Balai rehabilitasi sosial",
    )
    WITNESS_PROTECTION = (
        "WITNESS_PROTECTION",
        "Witness and victim protection",
        "Perlindungan saksi dan korban",
    )
    MIGRANT_WORKER_PROTECTION = (
        "MIGRANT_WORKER_PROTECTION",
        "Migrant worker protection",
        "Pelindungan pekerja migran (BP2MI)",
    )
    IMMIGRATION = "IMMIGRATION", "Immigration", "Imigrasi"
    DIPLOMATIC_MISSION = (
        "DIPLOMATIC_MISSION",
        "Foreign affairs and diplomatic missions",
        "Kementerian Luar Negeri/Perwakilan RI",
    )
    HEALTH_SERVICE = "HEALTH_SERVICE", "Health service", "Fasilitas kesehatan"
    LEGAL_SERVICE = "LEGAL_SERVICE", "Legal aid organisation", "Lembaga bantuan hukum"
    NGO = "NGO", "Non-governmental organisation", "Lembaga swadaya masyarakat"
    PLACEMENT_COMPANY = (
        "PLACEMENT_COMPANY",
        "Migrant worker placement company (P3MI)",
        "Perusahaan penempatan (P3MI)",
    )
    INTERNATIONAL_ORG = (
        "INTERNATIONAL_ORG",
        "International organisation",
        "Organisasi internasional",
    )
    OTHER = "OTHER", "Other", "Lainnya"


class RegionLevel(Labelled):
    """Administrative level of a region (Tingkat wilayah, Kemendagri)."""

    PROVINCE = "PROVINCE", "Province", "Provinsi"
    REGENCY = "REGENCY", "Regency or city", "Kabupaten/kota"


class Entity(enum.Enum):
    """The kinds of record a source can hold; the value appears in global ids."""

    __hash__ = object.__hash__  # as Labelled's: members are singletons, compared by identity

    CASE = "case"
    PERSON = "person"
    SERVICE = "service"
    STAGE_EVENT = "stage"
    RESTITUTION = "restitution"


#: Every labelled code list of the national vocabulary, for the ``vocabulary`` query.
VOCABULARY: tuple[type[Labelled], ...] = (
    ExploitationType,
    TraffickingMeans,
    CaseStage,
    ServiceType,
    ServiceStatus,
    Sex,
    AgeGroup,
    PersonRole,
    OrgType,
    RegionLevel,
)


@dataclass(frozen=True, slots=True)
class Agency:
    """A data-holding institution (Lembaga), as declared by its source's mapping."""

    code: str
    name: str
    type: OrgType


# --- Records ------------------------------------------------------------------------------
# One record is one row of one agency's data, already in the national vocabulary. ``source``
# names the registered source and ``key`` is that source's own primary key as text: together
# they identify the record for ever (global ids are built from them).


@dataclass(slots=True)
class CaseRecord:
    """A case (Kasus) as one agency recorded it."""

    source: str
    key: str
    source_key: str | None
    reported_at: date | None
    region: str | None
    country: str | None
    exploitation_types: tuple[ExploitationType, ...]
    means: tuple[TraffickingMeans, ...]
    stage: CaseStage | None


@dataclass(slots=True)
class PersonRecord:
    """One person as one agency recorded them in one case (Rekam orang).

    ``full_name``, ``nik``, ``birth_date``, ``passport_number``, ``address`` and ``phone``
    are personal data (UU 27/2022): they leave the hub only through the policy point.
    """

    source: str
    key: str
    case_key: str | None
    roles: tuple[PersonRole, ...]
    sex: Sex
    age_group: AgeGroup
    is_child: bool | None
    citizenship: str | None
    domicile_region: str | None
    full_name: str | None
    nik: str | None
    birth_date: date | None
    passport_number: str | None
    address: str | None
    phone: str | None


#: The fields of ``PersonRecord`` that are personal data (UU 27/2022): the one list that the policy
#: point, the resolvers, data quality and the mapping checks all read.
PERSONAL_FIELDS: tuple[str, ...] = (
    "full_name",
    "nik",
    "birth_date",
    "passport_number",
    "address",
    "phone",
)
#: The same fields as a set, for membership tests.
PERSONAL_FIELD_SET: frozenset[str] = frozenset(PERSONAL_FIELDS)


@dataclass(slots=True)
class ServiceRecord:
    """A service (Layanan) an agency provided to a person."""

    source: str
    key: str
    case_key: str | None
    recipient_key: str | None
    type: ServiceType
    status: ServiceStatus
    start_date: date | None
    end_date: date | None
    provider_unit: str | None
    location: str | None


@dataclass(slots=True)
class StageEventRecord:
    """One procedural step of a case (Tahapan perkara)."""

    source: str
    key: str
    case_key: str | None
    stage: CaseStage | None
    date: date | None
    reference: str | None


@dataclass(slots=True)
class RestitutionRecord:
    """Restitution for one victim (Restitusi, UU 21/2007 Pasal 48–50), as an agency recorded it.

    Amounts in rupiah: ``requested_idr`` claimed (as assessed for the claim, e.g. by the witness
    and victim protection agency), ``ordered_idr`` ordered by a court, ``paid_idr`` paid;
    None where the agency records none.
    """

    source: str
    key: str
    case_key: str | None
    recipient_key: str | None
    requested_idr: int | None
    ordered_idr: int | None
    paid_idr: int | None


Record = CaseRecord | PersonRecord | ServiceRecord | StageEventRecord | RestitutionRecord


# --- Requests -----------------------------------------------------------------------------


class SortOrder(enum.Enum):
    """Order of a case list: by report date, or by agency (newest first within an agency)."""

    ASC = "asc"
    DESC = "desc"
    AGENCY_ASC = "agency_asc"
    AGENCY_DESC = "agency_desc"

    @property
    def by_agency(self) -> bool:
        return self in (SortOrder.AGENCY_ASC, SortOrder.AGENCY_DESC)


@dataclass(frozen=True, slots=True)
class Keyset:
    """The sort key of the last case of a page: cases after it come next.

    Cases are ordered by (report date, source name, the source's own key order); a missing
    report date sorts as the earliest date. Comparing keys of one source is left to that
    source's database, so the hub never has to know how an agency orders its keys.
    """

    reported_at: date | None
    source: str
    key: str

    @classmethod
    def of(cls, case: CaseRecord) -> Keyset:
        """The position of ``case`` (what its cursor holds)."""
        return cls(case.reported_at, case.source, case.key)

    @staticmethod
    def merge_key(case: CaseRecord) -> tuple[date, str]:
        """How the hub orders cases of several sources: by date, a missing one the earliest,
        then by source; cases of one source keep the order their database gave them (the key
        order, which only the database knows). Each source's SQL orders the same way
        (``adapters/keyset.py``)."""
        return (case.reported_at or date.min, case.source)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Conditions on cases; fields combine with AND, values within a list with OR.

    ``regions`` are Kemendagri code prefixes (``33`` = all of Central Java, ``33.73`` one
    city). The victim conditions hold for a case when *one* of its victims meets all of them.
    ``agencies`` and ``sources`` choose which sources are asked; every other field is pushed
    into each source's SQL (see :data:`PUSHED_FIELDS`).
    """

    reported_from: date | None = None
    reported_to: date | None = None
    #: Normalised once, where the filter enters the hub (plain strings are read as prefixes too).
    regions: tuple[RegionPrefix | str, ...] = ()
    agencies: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    exploitation_types: tuple[ExploitationType, ...] = ()
    stages: tuple[CaseStage, ...] = ()
    victim_sex: tuple[Sex, ...] = ()
    victim_age_groups: tuple[AgeGroup, ...] = ()
    child_victim: bool | None = None
    countries_of_exploitation: tuple[str, ...] = ()
    text: str | None = None
    #: Not a user condition: the person roles whose records the asker may not see *in the
    #: source this filter is sent to* (the policy's row rule, set per source by the engine).
    #: Victim conditions and victim/service counts leave those records out, so a hidden
    #: record never changes what its viewer can observe.
    hidden_roles: frozenset[PersonRole] = frozenset()

    def victim_roles(self) -> frozenset[PersonRole]:
        """The roles that make a record a victim for this asker (hidden roles left out)."""
        return VICTIM_ROLES - self.hidden_roles

    def pushed_fields(self) -> set[str]:
        """The names of the fields set in this filter that a source must evaluate."""
        return {name for name in PUSHED_FIELDS if getattr(self, name) not in (None, ())}


#: Filter fields evaluated inside each source (the rest pick sources).
PUSHED_FIELDS: tuple[str, ...] = (
    "reported_from",
    "reported_to",
    "regions",
    "exploitation_types",
    "stages",
    "victim_sex",
    "victim_age_groups",
    "child_victim",
    "countries_of_exploitation",
    "text",
)


class Measure(Labelled):
    """What a statistic counts (Ukuran)."""

    CASES = "CASES", "Cases, as recorded by each agency", "Kasus (per lembaga)"
    VICTIM_RECORDS = (
        "VICTIM_RECORDS",
        "Victim records, as recorded by each agency (one person may be counted by several)",
        "Rekam korban (per lembaga)",
    )
    VICTIMS = (
        "VICTIMS",
        "Victims: distinct persons across agencies, from record linkage",
        "Korban (orang berbeda, lintas lembaga)",
    )
    SERVICES = "SERVICES", "Services provided", "Layanan"


class Dimension(Labelled):
    """What a statistic is grouped by (Dimensi)."""

    YEAR = "YEAR", "Year reported", "Tahun laporan"
    MONTH = "MONTH", "Month reported (YYYY-MM)", "Bulan laporan"
    PROVINCE = "PROVINCE", "Province of the case", "Provinsi"
    REGENCY = "REGENCY", "Regency or city of the case", "Kabupaten/kota"
    AGENCY = "AGENCY", "Agency holding the record", "Lembaga"
    EXPLOITATION_TYPE = (
        "EXPLOITATION_TYPE",
        "Form of exploitation; multi-valued: a case with two forms counts once under each",
        "Bentuk eksploitasi (multi-nilai)",
    )
    STAGE = "STAGE", "Current procedural stage", "Tahapan perkara"
    SEX = "SEX", "Sex of the victim (victim measures only)", "Jenis kelamin korban"
    AGE_GROUP = "AGE_GROUP", "Age group of the victim (victim measures only)", "Kelompok umur korban"
    CHILD = "CHILD", "Whether the victim was a child (victim measures only)", "Anak/dewasa"
    COUNTRY_OF_EXPLOITATION = (
        "COUNTRY_OF_EXPLOITATION",
        "Country of exploitation (ISO 3166-1 alpha-2)",
        "Negara tempat eksploitasi",
    )
    SERVICE_TYPE = "SERVICE_TYPE", "Type of service (SERVICES measure only)", "Jenis layanan"


#: Dimensions that describe a victim record, and one that describes a service.
PERSON_DIMENSIONS = frozenset({Dimension.SEX, Dimension.AGE_GROUP, Dimension.CHILD})
SERVICE_DIMENSIONS = frozenset({Dimension.SERVICE_TYPE})


@dataclass(frozen=True, slots=True)
class StatisticsRequest:
    """Count ``measure`` grouped by ``dimensions`` over the cases matching ``filter``.

    Dimension values in results are national values as text: enum names, region codes,
    ``"2023"``, ``"2023-05"``, ``"true"``/``"false"``; ``None`` where the source records none.
    """

    measure: Measure
    dimensions: tuple[Dimension, ...]
    filter: CaseFilter = field(default_factory=CaseFilter)


@dataclass(frozen=True, slots=True)
class CaseSearch:
    """One source's part of a page of cases: filter, order, position and size.

    ``count``: also count every case matching ``filter`` (whatever ``after`` and ``limit``),
    with the page where the source can (:meth:`adapters.base.Source.search_cases_with`)."""

    filter: CaseFilter = field(default_factory=CaseFilter)
    order: SortOrder = SortOrder.DESC
    after: Keyset | None = None
    limit: int = 50
    count: bool = False


@dataclass(frozen=True, slots=True)
class ChildrenRequest:
    """The records of ``entity`` whose ``field`` is the key of a case on the page (its
    participants, its services): what :meth:`adapters.base.Source.search_cases_with` reads
    with the page. ``roles``: only person records that may hold one of them are needed.

    ``personal``: whether the records' personal fields (:data:`PERSONAL_FIELDS`) are needed.
    When the request selects none, a source may leave them out (None): the database neither
    reads nor cleans a name, NIK, address or phone nobody asked for (data minimisation, and
    a tenth of a portal page's PostgreSQL work, issue 13)."""

    entity: Entity
    field: str
    roles: frozenset[PersonRole] | None = None
    personal: bool = True
