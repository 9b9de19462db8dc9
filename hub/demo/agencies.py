"""Encoding the ground-truth world into the five agency databases (docs/demo-agencies.md).

Each encoder picks the cases its agency would know of, writes them in that agency's own
schema, codes and conventions, with its own noise, and records alongside what the hub must
report for every row it wrote (the per-agency ground truth). The code tables here are the
generator's own, written from the document and deliberately independent of ``adapters/``:
tests compare the hub's mapping files against this encoding.

Each agency draws from its own random stream (``"<seed>:<agency>"``), so the agencies do not
disturb each other and the output is identical run after run.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import noise
from .noise import NameStyle
from .population import (
    CHILD_LABOUR,
    CRIMINALITY,
    DOMESTIC,
    LABOUR,
    LAST_DAY,
    MARRIAGE,
    ORGAN,
    OTHER,
    SEXUAL,
    STAGE_ORDER,
    Case,
    Person,
    World,
    add_days,
    age_at,
    make_address,
)
from .writers import Column, Row, TableSpec, dumps_record

AGENCIES = ("simfoni", "polri", "lpsk", "bp2mi", "kemlu")

# -- the agencies' own code tables ------------------------------------------------------------

COUNTRY_NAMES_ID = {
    "MY": "Malaysia",
    "SA": "Arab Saudi",
    "HK": "Hongkong",
    "KH": "Kamboja",
    "TW": "Taiwan",
    "MM": "Myanmar",
    "AE": "Uni Emirat Arab",
    "JP": "Jepang",
    "KR": "Korea Selatan",
    "SG": "Singapura",
    "PH": "Filipina",
}
COUNTRY_ISO3 = {
    "MY": "MYS",
    "SA": "SAU",
    "HK": "HKG",
    "KH": "KHM",
    "TW": "TWN",
    "MM": "MMR",
    "AE": "ARE",
    "JP": "JPN",
    "KR": "KOR",
    "SG": "SGP",
    "PH": "PHL",
}
SIMFONI_TYPES = {
    "EKS-SEKS": SEXUAL,
    "KERJA-PAKSA": LABOUR,
    "PRT": DOMESTIC,
    "PERBUDAKAN": "SLAVERY_OR_SIMILAR",
    "KAWIN-KONTRAK": MARRIAGE,
    "ORGAN": ORGAN,
    "REPRODUKSI": "REPRODUCTIVE_EXPLOITATION",
    "PEKERJA-ANAK": CHILD_LABOUR,
    "MENGEMIS": "FORCED_BEGGING",
    "KEJAHATAN-PAKSA": CRIMINALITY,
    "ADOPSI": "ILLEGAL_ADOPTION",
    "LAIN": OTHER,
}
SIMFONI_RETIRED = "XX-LAMA"
SIMFONI_STATUS = {
    "BARU": "REPORTED",
    "PROSES_HUKUM": "INVESTIGATION",
    "SIDANG": "TRIAL",
    "PUTUS": "FIRST_INSTANCE_VERDICT",
    "DIHENTIKAN": "DISCONTINUED",
}
SIMFONI_SERVICES = {
    "PENGADUAN": "COMPLAINT_IDENTIFICATION",
    "PENDAMPINGAN": "CASE_ACCOMPANIMENT",
    "KESEHATAN": "HEALTH_REHABILITATION",
    "PSIKOLOGIS": "PSYCHOLOGICAL_SUPPORT",
    "REHSOS": "SOCIAL_REHABILITATION",
    "RUMAH_AMAN": "SHELTER",
    "BANTUAN_HUKUM": "LEGAL_AID",
    "PEMULANGAN": "REPATRIATION",
    "REINTEGRASI": "SOCIAL_REINTEGRATION",
}
SIMFONI_SERVICE_STATUS = {
    "RENCANA": "PLANNED",
    "BERJALAN": "ONGOING",
    "SELESAI": "COMPLETED",
    "DITOLAK": "REFUSED",
}
POLRI_MODUS = {
    "TPPO-SEKSUAL": SEXUAL,
    "TPPO-PMI-ILEGAL": LABOUR,
    "TPPO-ART": DOMESTIC,
    "TPPO-PENGANTIN-PESANAN": MARRIAGE,
    "TPPO-ORGAN": ORGAN,
    "TPPO-ONLINE-SCAM": CRIMINALITY,
    "TPPO-ANAK": CHILD_LABOUR,
    "TPPO-LAINNYA": OTHER,
}
POLRI_STAGES = {
    "LIDIK": "INQUIRY",
    "SIDIK": "INVESTIGATION",
    "P19": "DOSSIER_RETURNED",
    "P21": "DOSSIER_COMPLETE",
    "TAHAP2": "HANDOVER_TO_PROSECUTOR",
    "SP3": "DISCONTINUED",
}
POLRI_SUSPECT_ROLES = {"TERSANGKA": "SUSPECT", "TERDAKWA": "DEFENDANT", "TERPIDANA": "CONVICTED"}
LPSK_TYPES = {
    "Eksploitasi Seksual": SEXUAL,
    "Kerja Paksa": LABOUR,
    "Pekerja Rumah Tangga": DOMESTIC,
    "Perbudakan": "SLAVERY_OR_SIMILAR",
    "Kawin Kontrak": MARRIAGE,
    "Pengambilan Organ": ORGAN,
    "Eksploitasi Anak": CHILD_LABOUR,
    "Penipuan Daring": CRIMINALITY,
    "Lainnya": OTHER,
}
LPSK_ROLES = {
    "KORBAN": "VICTIM",
    "SAKSI": "WITNESS",
    "SAKSI_KORBAN": "VICTIM_WITNESS",
    "PELAPOR": "REPORTER",
    "SAKSI_PELAKU": "JUSTICE_COLLABORATOR",
}
LPSK_PROGRAMS = {
    "PERLINDUNGAN_FISIK": "PROTECTION_PHYSICAL",
    "HAK_PROSEDURAL": "PROTECTION_PROCEDURAL_RIGHTS",
    "BANTUAN_MEDIS": "PROTECTION_MEDICAL_PSYCHOSOCIAL",
    "BANTUAN_PSIKOSOSIAL": "PROTECTION_MEDICAL_PSYCHOSOCIAL",
    "FASILITASI_RESTITUSI": "RESTITUTION_FACILITATION",
}
LPSK_STATUS = {"AKTIF": "ONGOING", "SELESAI": "COMPLETED", "DIHENTIKAN": "REFUSED"}
BP2MI_TYPES = {
    "Pelecehan/eksploitasi seksual": SEXUAL,
    "Kerja tidak sesuai perjanjian": LABOUR,
    "Gaji tidak dibayar": LABOUR,
    "PRT dieksploitasi": DOMESTIC,
    "Dipekerjakan di perusahaan online scam": CRIMINALITY,
    "Dinikahkan paksa": MARRIAGE,
    "Lainnya": OTHER,
}
KEMLU_TYPES = {
    "TIP-SEXUAL": SEXUAL,
    "TIP-LABOUR": LABOUR,
    "TIP-DOMESTIC": DOMESTIC,
    "TIP-SCAM": CRIMINALITY,
    "TIP-MARRIAGE": MARRIAGE,
    "TIP-OTHER": OTHER,
}
KEMLU_KINDS = {
    "SHELTER": "SHELTER",
    "REPATRIATION": "REPATRIATION",
    "LEGAL": "LEGAL_AID",
    "CONSULAR_VISIT": "CONSULAR_PROTECTION",
    "MEDICAL": "HEALTH_REHABILITATION",
    "COUNSELLING": "PSYCHOLOGICAL_SUPPORT",
}
KEMLU_STATUS = {"PLANNED": "PLANNED", "ONGOING": "ONGOING", "DONE": "COMPLETED"}
# Missions (and the code in their case numbers) by country, most-used first.
KEMLU_MISSIONS = {
    "MY": (
        ("KBRI Kuala Lumpur", "KUL"),
        ("KJRI Johor Bahru", "JHB"),
        ("KJRI Kuching", "KCH"),
        ("KJRI Kota Kinabalu", "BKI"),
    ),
    "SA": (("KBRI Riyadh", "RUH"), ("KJRI Jeddah", "JED")),
    "HK": (("KJRI Hong Kong", "HKG"),),
    "KH": (("KBRI Phnom Penh", "PNH"),),
    "TW": (("KDEI Taipei", "TPE"),),
    "MM": (("KBRI Yangon", "RGN"),),
    "AE": (("KBRI Abu Dhabi", "AUH"), ("KJRI Dubai", "DXB")),
    "JP": (("KBRI Tokyo", "TYO"), ("KJRI Osaka", "OSA")),
    "KR": (("KBRI Seoul", "SEL"),),
    "SG": (("KBRI Singapura", "SIN"),),
    "PH": (("KBRI Manila", "MNL"), ("KJRI Davao City", "DVO")),
}

AGE_BANDS = (
    (5, "AGE_0_5"),
    (12, "AGE_6_12"),
    (17, "AGE_13_17"),
    (24, "AGE_18_24"),
    (44, "AGE_25_44"),
    (59, "AGE_45_59"),
)


def age_group(age: int | None) -> str:
    """The Simfoni PPA age band of an age in completed years (UNKNOWN without one)."""
    if age is None:
        return "UNKNOWN"
    for upper, band in AGE_BANDS:
        if age <= upper:
            return band
    return "AGE_60_PLUS"


def _reverse(table: dict[str, str]) -> dict[str, str]:
    """National value -> first agency code for it (the agency's usual choice)."""
    out: dict[str, str] = {}
    for code, value in table.items():
        out.setdefault(value, code)
    return out


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _dmy(day: date | None) -> str | None:
    return day.strftime("%d/%m/%Y") if day else None


def _unix(day: date | None) -> int | None:
    if day is None:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _roman(month: int) -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")[month - 1]


def _col(name: str, kind: str = "TEXT", nullable: bool = False) -> Column:
    return Column(name, kind, nullable)


INT, TXT = "INTEGER", "TEXT"

# -- schemas (docs/demo-agencies.md, to the letter) -------------------------------------------

SCHEMAS: dict[str, tuple[TableSpec, ...]] = {
    "simfoni": (
        TableSpec(
            "kasus",
            (
                _col("id_kasus", INT),
                _col("no_registrasi"),
                _col("tgl_lapor"),
                _col("kode_wilayah"),
                _col("negara_tujuan", nullable=True),
                _col("status_kasus"),
            ),
            ("id_kasus",),
            (("tgl_lapor",), ("kode_wilayah",), ("negara_tujuan",), ("status_kasus",)),
            (("no_registrasi",),),
        ),
        TableSpec(
            "kasus_eksploitasi",
            (_col("id_kasus", INT), _col("kode_eksploitasi")),
            ("id_kasus", "kode_eksploitasi"),
            (("kode_eksploitasi",),),
        ),
        TableSpec(
            "korban",
            (
                _col("id_korban", INT),
                _col("id_kasus", INT),
                _col("nama_lengkap"),
                _col("nik", nullable=True),
                _col("jenis_kelamin"),
                _col("tgl_lahir", nullable=True),
                _col("alamat"),
                _col("kode_wilayah_domisili"),
                _col("no_hp", nullable=True),
                _col("kewarganegaraan"),
            ),
            ("id_korban",),
            (("id_kasus",), ("nik",), ("tgl_lahir",), ("kode_wilayah_domisili",)),
        ),
        TableSpec(
            "pelaku",
            (
                _col("id_pelaku", INT),
                _col("id_kasus", INT),
                _col("nama"),
                _col("jenis_kelamin"),
                _col("usia", INT, nullable=True),
                _col("hubungan"),
            ),
            ("id_pelaku",),
            (("id_kasus",),),
        ),
        TableSpec(
            "layanan",
            (
                _col("id_layanan", INT),
                _col("id_kasus", INT),
                _col("id_korban", INT),
                _col("jenis_layanan"),
                _col("unit_layanan"),
                _col("tgl_mulai"),
                _col("tgl_selesai", nullable=True),
                _col("status_layanan"),
            ),
            ("id_layanan",),
            (("id_kasus",), ("id_korban",), ("jenis_layanan",), ("tgl_mulai",)),
        ),
    ),
    "polri": (
        TableSpec(
            "laporan_polisi",
            (
                _col("no_lp"),
                _col("tgl_lp"),
                _col("provinsi"),
                _col("kabupaten"),
                _col("modus"),
                _col("negara", nullable=True),
                _col("satker"),
            ),
            ("no_lp",),
            (("tgl_lp",), ("provinsi", "kabupaten"), ("modus",), ("negara",)),
        ),
        TableSpec(
            "tahapan",
            (
                _col("id", INT),
                _col("no_lp"),
                _col("tahap"),
                _col("tgl"),
                _col("no_surat", nullable=True),
            ),
            ("id",),
            (("no_lp",), ("tahap",)),
        ),
        TableSpec(
            "korban",
            (
                _col("id", INT),
                _col("no_lp"),
                _col("nama"),
                _col("nik", nullable=True),
                _col("jk", INT),
                _col("tgl_lahir", nullable=True),
                _col("umur", INT, nullable=True),
                _col("alamat"),
                _col("telp", nullable=True),
            ),
            ("id",),
            (("no_lp",), ("nik",)),
        ),
        TableSpec(
            "tersangka",
            (
                _col("id", INT),
                _col("no_lp"),
                _col("nama"),
                _col("nik", nullable=True),
                _col("jk", INT),
                _col("umur", INT),
                _col("status"),
            ),
            ("id",),
            (("no_lp",), ("nik",)),
        ),
        TableSpec(
            "saksi",
            (
                _col("id", INT),
                _col("no_lp"),
                _col("nama"),
                _col("nik", nullable=True),
                _col("jk", INT),
                _col("umur", INT, nullable=True),
                _col("alamat"),
                _col("saksi_korban", INT),
            ),
            ("id",),
            (("no_lp",), ("nik",)),
        ),
    ),
    "lpsk": (
        TableSpec(
            "permohonan",
            (
                _col("no_permohonan"),
                _col("tanggal_permohonan"),
                _col("no_lp_terkait", nullable=True),
                _col("kode_kabupaten"),
                _col("jenis_eksploitasi"),
                _col("negara_kejadian", nullable=True),
                _col("keputusan"),
            ),
            ("no_permohonan",),
            (
                ("tanggal_permohonan",),
                ("no_lp_terkait",),
                ("kode_kabupaten",),
                ("jenis_eksploitasi",),
                ("negara_kejadian",),
            ),
        ),
        TableSpec(
            "terlindung",
            (
                _col("id_terlindung", INT),
                _col("no_permohonan"),
                _col("nama"),
                _col("nik", nullable=True),
                _col("jenis_kelamin"),
                _col("tanggal_lahir", nullable=True),
                _col("status_hukum"),
                _col("alamat"),
                _col("telepon", nullable=True),
                _col("kode_kabupaten_domisili"),
            ),
            ("id_terlindung",),
            (("no_permohonan",), ("nik",), ("status_hukum",)),
        ),
        TableSpec(
            "program_perlindungan",
            (
                _col("id_program", INT),
                _col("id_terlindung", INT),
                _col("no_permohonan"),
                _col("jenis_program"),
                _col("mulai"),
                _col("selesai", nullable=True),
                _col("status"),
            ),
            ("id_program",),
            (("id_terlindung",), ("no_permohonan",), ("jenis_program",), ("mulai",)),
        ),
        TableSpec(
            "restitusi",
            (
                _col("id_restitusi", INT),
                _col("id_terlindung", INT),
                _col("nilai_dihitung", INT),
                _col("nilai_diputus", INT, nullable=True),
                _col("nilai_dibayar", INT, nullable=True),
            ),
            ("id_restitusi",),
            (("id_terlindung",),),
        ),
    ),
    "bp2mi": (
        TableSpec(
            "pengaduan",
            (
                _col("id_pengaduan", INT),
                _col("no_pengaduan"),
                _col("tanggal_pengaduan"),
                _col("nama_pmi"),
                _col("nik", nullable=True),
                _col("jenis_kelamin"),
                _col("tgl_lahir", nullable=True),
                _col("no_paspor", nullable=True),
                _col("alamat_asal"),
                _col("kab_asal"),
                _col("negara_penempatan"),
                _col("jenis_pengaduan"),
                _col("status_pengaduan"),
                _col("no_hp", nullable=True),
                _col("tgl_pemulangan", nullable=True),
                _col("debarkasi", nullable=True),
            ),
            ("id_pengaduan",),
            (
                ("tanggal_pengaduan",),
                ("kab_asal",),
                ("negara_penempatan",),
                ("jenis_pengaduan",),
                ("nik",),
                ("no_paspor",),
                ("tgl_pemulangan",),
            ),
            (("no_pengaduan",),),
        ),
    ),
    "kemlu": (
        TableSpec(
            "cases",
            (
                _col("case_id"),
                _col("opened_at", INT),
                _col("mission"),
                _col("country_iso3"),
                _col("category"),
                _col("status"),
            ),
            ("case_id",),
            (("opened_at",), ("country_iso3",), ("category",)),
        ),
        TableSpec(
            "citizens",
            (
                _col("citizen_id", INT),
                _col("case_id"),
                _col("full_name"),
                _col("passport_no", nullable=True),
                _col("nik", nullable=True),
                _col("sex"),
                _col("date_of_birth", INT, nullable=True),
                _col("home_regency", nullable=True),
                _col("phone", nullable=True),
                _col("role"),
            ),
            ("citizen_id",),
            (("case_id",), ("passport_no",), ("nik",), ("home_regency",)),
        ),
        TableSpec(
            "assistance",
            (
                _col("assistance_id", INT),
                _col("case_id"),
                _col("citizen_id", INT),
                _col("kind"),
                _col("started_at", INT),
                _col("ended_at", INT, nullable=True),
                _col("status"),
            ),
            ("assistance_id",),
            (("case_id",), ("citizen_id",), ("kind",), ("started_at",)),
        ),
    ),
}


@dataclass
class AgencyData:
    """One agency's tables (rows in column order) and what the hub must report for them.

    ``truth`` holds the per-agency ground truth as JSON lines (see ``writers.dumps_record``),
    serialised as they are made so a million-row generation stays within a few hundred MB.
    """

    name: str
    tables: dict[str, list[Row]]
    truth: dict[str, list[str]] = field(
        default_factory=lambda: {
            "cases": [],
            "persons": [],
            "services": [],
            "stage_events": [],
            "restitutions": [],
        }
    )

    @property
    def row_counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.tables.items()}


@dataclass
class Links:
    """Keys one agency hands to another (LPSK cites the police report number)."""

    polri_reports: dict[int, str] = field(default_factory=dict)  # case index -> no_lp


# -- shared encoder machinery -----------------------------------------------------------------


class _Encoder(abc.ABC):
    """Common state and helpers; a subclass per agency implements ``encode``."""

    name = ""

    def __init__(self, world: World, links: Links) -> None:
        self.world = world
        self.links = links
        self.rng = random.Random(f"{world.seed}:{self.name}")
        self.regencies = world.regions.regencies
        self.data = AgencyData(self.name, {spec.name: [] for spec in SCHEMAS[self.name]})
        self.year_seq: dict[Any, int] = {}

    def person(self, index: int) -> Person:
        return self.world.persons[index]

    def subset(self, indexes: Sequence[int], share: float, *, at_least_one: bool) -> list[int]:
        """The people of a case this agency met: each with ``share``, optionally never none."""
        chosen = [i for i in indexes if self.rng.random() < share]
        if not chosen and at_least_one and indexes:
            chosen = [indexes[0]]
        return chosen

    def next_number(self, bucket: Any, max_gap: int) -> int:
        """Running number per year (or per mission and year), with gaps for other matters."""
        value = self.year_seq.get(bucket, 0) + self.rng.randint(1, max_gap)
        self.year_seq[bucket] = value
        return value

    def case_region(self, case: Case) -> str:
        """Mostly where it happened; sometimes where the victim lives (reported at home)."""
        if self.rng.random() < 0.9:
            return case.region
        return self.person(case.victims[0]).origin_region

    def other_regency(self, code: str) -> str:
        """Another regency of the same province (people move; clerks pick the wrong one)."""
        siblings = self.world.regions.by_province[code[:2]]
        return self.rng.choice(siblings)

    def address(self, person: Person, *, moved: float, upper: float = 0.1) -> tuple[str, str]:
        """(address, regency code): usually the person's home, sometimes where they live now."""
        if self.rng.random() < moved:
            region = self.other_regency(person.origin_region)
            text = make_address(self.rng, self.world.names, self.regencies[region])
        else:
            region, text = person.origin_region, person.address
        return noise.restyle_address(text, self.rng, upper=upper), region

    def name_of(self, person: Person, style: NameStyle) -> str:
        return noise.record_name(person.given, person.patronym, person.title, self.rng, style)

    def add_case(
        self,
        key: str,
        source_key: str,
        case: Case,
        reported: date,
        region: str | None,
        country: str | None,
        types: list[str],
        stage: str | None,
    ) -> None:
        self.data.truth["cases"].append(
            dumps_record(
                {
                    "key": key,
                    "source_key": source_key,
                    "case": case.id,
                    "reported_at": reported.isoformat(),
                    "region": region,
                    "country": country,
                    "exploitation_types": sorted(set(types)),
                    "stage": stage,
                }
            )
        )

    def add_person(
        self,
        key: str,
        case_key: str,
        person: Person,
        role: str,
        *,
        reported: date,
        birth: date | None = None,
        umur: int | None = None,
        nik: str | None = None,
        name: str,
        domicile: str | None = None,
        citizenship: str | None = None,
        passport: str | None = None,
        phone: str | None = None,
        address: str | None = None,
    ) -> None:
        age = age_at(birth, reported) if birth else umur
        self.data.truth["persons"].append(
            dumps_record(
                {
                    "key": key,
                    "case_key": case_key,
                    "person": person.id,
                    "roles": [role],
                    "sex": person.sex,
                    "age_group": age_group(age),
                    "is_child": None if age is None else age < 18,
                    "birth_date": _iso(birth),
                    "nik": nik,
                    "full_name": name,
                    "domicile_region": domicile,
                    "citizenship": citizenship,
                    "passport_number": passport,
                    "phone": phone,
                    "address": address,
                }
            )
        )

    def add_service(
        self,
        key: str,
        case_key: str,
        recipient_key: str,
        kind: str,
        start: date,
        end: date | None,
        status: str,
        unit: str | None,
    ) -> None:
        self.data.truth["services"].append(
            dumps_record(
                {
                    "key": key,
                    "case_key": case_key,
                    "recipient_key": recipient_key,
                    "type": kind,
                    "start_date": start.isoformat(),
                    "end_date": _iso(end),
                    "status": status,
                    "provider_unit": unit,
                }
            )
        )

    def pick_cases(self, share: float, offset: tuple[int, int]) -> list[tuple[date, Case]]:
        """The cases this agency holds, each with the agency's own date, in the agency's order.

        Agencies number their records as they come in, so rows are sorted by the agency's
        date (ties by the world's case order) before they get their keys.
        """
        picked = []
        for case in self.world.cases:
            if self.rng.random() < share:
                picked.append((add_days(case.reported_at, self.rng.randint(*offset)), case))
        picked.sort(key=lambda item: (item[0], item[1].index))
        return picked

    @abc.abstractmethod
    def encode(self) -> AgencyData:
        """This agency's tables and ground truth, encoded its own way."""


def _service_status(
    rng: random.Random, start: date, *, max_days: int, refused: float = 0.05
) -> tuple[str, date | None]:
    """Planned, ongoing, completed or refused, and when it ended; recent services still run."""
    age = (LAST_DAY - start).days
    roll = rng.random()
    if age < 30 and roll < 0.5:
        return "PLANNED", None
    if roll < refused:
        return "REFUSED", None
    if age < 60 or roll < 0.2:
        return "ONGOING", None
    end = start + timedelta(days=rng.randint(1, max_days))
    return ("COMPLETED", end) if end <= LAST_DAY else ("ONGOING", None)


def _weighted_sample(rng: random.Random, weights: dict[str, float], count: int) -> list[str]:
    """``count`` distinct codes drawn by weight (a victim gets each service type at most once)."""
    pool = dict(weights)
    out: list[str] = []
    while pool and len(out) < count:
        code = rng.choices(list(pool), list(pool.values()))[0]
        out.append(code)
        del pool[code]
    return out


# -- simfoni ----------------------------------------------------------------------------------

SIMFONI_NAMES = NameStyle(keep_patronym=0.2, respell=0.08, abbreviate=0.3, typo=0.02, title=0.3, upper=0.05)
_SIMFONI_CODE = _reverse(SIMFONI_TYPES)
_SIMFONI_LADDER = ("BARU", "PROSES_HUKUM", "SIDANG", "PUTUS")
_SIMFONI_FROM_STAGE = {
    "REPORTED": "BARU",
    "INQUIRY": "BARU",
    "INVESTIGATION": "PROSES_HUKUM",
    "DOSSIER_RETURNED": "PROSES_HUKUM",
    "DOSSIER_COMPLETE": "PROSES_HUKUM",
    "HANDOVER_TO_PROSECUTOR": "PROSES_HUKUM",
    "PROSECUTION": "PROSES_HUKUM",
    "TRIAL": "SIDANG",
    "FIRST_INSTANCE_VERDICT": "PUTUS",
    "APPEAL": "PUTUS",
    "CASSATION": "PUTUS",
    "FINAL_AND_BINDING": "PUTUS",
    "DISCONTINUED": "DIHENTIKAN",
}
_SIMFONI_RELATIONS = (
    "Calo/Sponsor",
    "Calo/Sponsor",
    "Kenalan",
    "Teman",
    "Tetangga",
    "Pacar",
    "Keluarga",
    "Majikan",
    "Tidak Kenal",
    "Kenalan Media Sosial",
    "Suami",
    "Orang Tua",
)
_SIMFONI_SERVICE_WEIGHTS = {
    "PENGADUAN": 30,
    "PENDAMPINGAN": 25,
    "KESEHATAN": 12,
    "PSIKOLOGIS": 20,
    "REHSOS": 8,
    "RUMAH_AMAN": 10,
    "BANTUAN_HUKUM": 12,
    "PEMULANGAN": 4,
    "REINTEGRASI": 5,
}
_SIMFONI_STATUS_CODE = {v: k for k, v in SIMFONI_SERVICE_STATUS.items()}


class SimfoniEncoder(_Encoder):
    """KemenPPPA's Simfoni PPA: victim-centred, dotted region codes, services by UPTD PPA."""

    name = "simfoni"

    def encode(self) -> AgencyData:
        rng = self.rng
        tables = self.data.tables
        person_ids = iter(range(1, 10**9))  # korban and pelaku share one sequence
        service_ids = iter(range(1, 10**9))
        picked = []
        for case in self.world.cases:
            child_or_sexual = SEXUAL in case.exploitation_types or any(
                age_at(self.person(v).birth_date, case.reported_at) < 18 for v in case.victims
            )
            if rng.random() < (0.56 if child_or_sexual else 0.4):
                offset = rng.choice((0, 0, 1, 2, 3, 5, 7, 14, -2))
                picked.append((add_days(case.reported_at, offset), case))
        picked.sort(key=lambda item: (item[0], item[1].index))
        for id_kasus, (reported, case) in enumerate(picked, start=1):
            year = reported.year
            no_reg = f"SPPA-{year}-{self.next_number(year, 25):06d}"
            region = self.case_region(case)
            status = _SIMFONI_FROM_STAGE[case.stage]
            if status in _SIMFONI_LADDER[1:] and rng.random() < 0.1:  # not yet updated
                status = _SIMFONI_LADDER[_SIMFONI_LADDER.index(status) - 1]
            tables["kasus"].append((id_kasus, no_reg, reported.isoformat(), region, case.country, status))
            codes = [_SIMFONI_CODE[t] for t in case.exploitation_types]
            if rng.random() < 0.01 * len(codes):
                codes[rng.randrange(len(codes))] = SIMFONI_RETIRED
            for code in codes:
                tables["kasus_eksploitasi"].append((id_kasus, code))
            types = [SIMFONI_TYPES.get(code, "UNKNOWN") for code in codes]
            key = str(id_kasus)
            self.add_case(key, no_reg, case, reported, region, case.country, types, SIMFONI_STATUS[status])
            victims = self.subset(case.victims, 0.95, at_least_one=True)
            for index in victims:
                id_korban = next(person_ids)
                self._korban(id_korban, id_kasus, index, reported)
                self._services(id_kasus, id_korban, case, reported, region, next_id=service_ids)
            for index in self.subset(case.perpetrators, 0.85, at_least_one=False):
                self._pelaku(next(person_ids), id_kasus, index, reported)
        return self.data

    def _korban(self, id_korban: int, id_kasus: int, index: int, reported: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, SIMFONI_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.75)
        birth = noise.record_birth_date(p.birth_date, rng, missing=0.1)
        address, domicile = self.address(p, moved=0.15, upper=0.05)
        phone = noise.record_phone(p.phone, rng, present=0.6, style="local")
        self.data.tables["korban"].append(
            (
                id_korban,
                id_kasus,
                name,
                nik,
                "P" if p.sex == "FEMALE" else "L",
                _iso(birth),
                address,
                domicile,
                phone,
                "WNI",
            )
        )
        self.add_person(
            str(id_korban),
            str(id_kasus),
            p,
            "VICTIM",
            reported=reported,
            birth=birth,
            nik=nik,
            name=name,
            domicile=domicile,
            citizenship="ID",
            phone=phone,
            address=address,
        )

    def _pelaku(self, id_pelaku: int, id_kasus: int, index: int, reported: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, SIMFONI_NAMES)
        usia = noise.record_age(age_at(p.birth_date, reported), rng, missing=0.3)
        self.data.tables["pelaku"].append(
            (
                id_pelaku,
                id_kasus,
                name,
                "P" if p.sex == "FEMALE" else "L",
                usia,
                rng.choice(_SIMFONI_RELATIONS),
            )
        )
        self.add_person(str(id_pelaku), str(id_kasus), p, "SUSPECT", reported=reported, umur=usia, name=name)

    def _services(
        self,
        id_kasus: int,
        id_korban: int,
        case: Case,
        reported: date,
        region: str,
        *,
        next_id: Any,
    ) -> None:
        rng = self.rng
        weights = dict(_SIMFONI_SERVICE_WEIGHTS)
        if case.country:
            weights["PEMULANGAN"] = 15
        count = rng.choices((0, 1, 2, 3, 4), (25, 40, 22, 10, 3))[0]
        start = reported
        for code in _weighted_sample(rng, weights, count):
            start = start + timedelta(days=rng.randint(0, 30))
            if start > LAST_DAY:
                break
            status, end = _service_status(rng, start, max_days=120)
            regency = self.regencies[region]
            if rng.random() < 0.5:
                unit = f"UPTD PPA Provinsi {self.world.regions.provinces[regency.province_code]}"
            else:
                unit = f"UPTD PPA {regency.name}"
            id_layanan = next(next_id)
            self.data.tables["layanan"].append(
                (
                    id_layanan,
                    id_kasus,
                    id_korban,
                    code,
                    unit,
                    start.isoformat(),
                    _iso(end),
                    _SIMFONI_STATUS_CODE[status],
                )
            )
            self.add_service(
                str(id_layanan),
                str(id_kasus),
                str(id_korban),
                SIMFONI_SERVICES[code],
                start,
                end,
                status,
                unit,
            )


# -- polri ------------------------------------------------------------------------------------

POLRI_NAMES = NameStyle(keep_patronym=0.3, respell=0.1, abbreviate=0.2, typo=0.03, title=0.6, upper=0.7)
_POLRI_CODE = _reverse(POLRI_MODUS)
_POLRI_LETTER = {
    "LIDIK": "SP.Lidik/{n}/{r}/{y}/Reskrim",
    "SIDIK": "SP.Sidik/{n}/{r}/{y}/Reskrim",
    "P19": "B-{n}/P-19/{m:02d}/{y}",
    "P21": "B-{n}/P-21/{m:02d}/{y}",
    "TAHAP2": "BA-{n}/TAHAP-II/{m:02d}/{y}",
    "SP3": "SP3/{n}/{r}/{y}/Reskrim",
}


class PolriEncoder(_Encoder):
    """The police: report numbers, DD/MM/YYYY text dates, 1/2 sex codes, regions by name."""

    name = "polri"

    def encode(self) -> AgencyData:
        rng, tables = self.rng, self.data.tables
        person_ids = iter(range(1, 10**9))  # korban, tersangka, saksi share one sequence
        stage_ids = iter(range(1, 10**9))
        for reported, case in self.pick_cases(0.6, (-3, 3)):
            no_lp = f"LP/B/{self.next_number(reported.year, 40)}/{reported.year}"
            self.links.polri_reports[case.index] = no_lp
            regency = self.regencies[case.region]
            province = self.world.regions.provinces[regency.province_code]
            modus = _POLRI_CODE.get(case.exploitation_types[0], "TPPO-LAINNYA")
            tables["laporan_polisi"].append(
                (
                    no_lp,
                    _dmy(reported),
                    province,
                    regency.name,
                    modus,
                    COUNTRY_NAMES_ID[case.country] if case.country else None,
                    self._satker(case, province),
                )
            )
            stage = "REPORTED"
            for tahap, day in self._history(case, reported):
                stage_id = next(stage_ids)
                letter = None
                if rng.random() < 0.85:
                    letter = _POLRI_LETTER[tahap].format(
                        n=rng.randint(1, 999), r=_roman(day.month), m=day.month, y=day.year
                    )
                tables["tahapan"].append((stage_id, no_lp, tahap, _dmy(day), letter))
                stage = POLRI_STAGES[tahap]
                self.data.truth["stage_events"].append(
                    dumps_record(
                        {
                            "key": str(stage_id),
                            "case_key": no_lp,
                            "stage": stage,
                            "date": day.isoformat(),
                            "reference": letter,
                        }
                    )
                )
            self.add_case(
                no_lp, no_lp, case, reported, case.region, case.country, [POLRI_MODUS[modus]], stage
            )
            victims = self.subset(case.victims, 0.95, at_least_one=True)
            for index in victims:
                self._korban(next(person_ids), no_lp, index, reported)
            for index in self.subset(case.perpetrators, 0.85, at_least_one=False):
                self._tersangka(next(person_ids), no_lp, index, case, reported)
            for index in self.subset(case.witnesses, 0.9, at_least_one=False):
                self._saksi(next(person_ids), no_lp, index, reported, victim=False)
            if rng.random() < 0.3:  # the victim examined again as a witness (saksi korban)
                self._saksi(next(person_ids), no_lp, victims[0], reported, victim=True)
        return self.data

    def _satker(self, case: Case, province: str) -> str:
        roll = self.rng.random()
        if case.country and roll < 0.1:
            return "Bareskrim Polri"
        if roll < 0.3:
            short = self.regencies[case.region].name.replace("Kabupaten ", "").replace("Kota ", "")
            return f"Polres {short}"
        return "Polda Metro Jaya" if case.region.startswith("31") else f"Polda {province}"

    def _history(self, case: Case, reported: date) -> list[tuple[str, date]]:
        """The investigation steps up to the case's stage, dated, cut at the observation day."""
        rng, level = self.rng, STAGE_ORDER[case.stage]
        steps: list[str] = []
        if case.stage == "DISCONTINUED":
            steps = ["LIDIK", "SIDIK", "SP3"] if rng.random() < 0.5 else ["LIDIK", "SP3"]
        else:
            if level >= STAGE_ORDER["INQUIRY"] and not (
                level >= STAGE_ORDER["INVESTIGATION"] and rng.random() < 0.15
            ):
                steps.append("LIDIK")
            if level >= STAGE_ORDER["INVESTIGATION"]:
                steps.append("SIDIK")
            if case.stage == "DOSSIER_RETURNED" or (
                level > STAGE_ORDER["DOSSIER_RETURNED"] and rng.random() < 0.3
            ):
                steps.append("P19")
            if level >= STAGE_ORDER["DOSSIER_COMPLETE"]:
                steps.append("P21")
            if level >= STAGE_ORDER["HANDOVER_TO_PROSECUTOR"]:
                steps.append("TAHAP2")
        history, day = [], reported
        for step in steps:
            day = day + timedelta(days=rng.randint(1, 45))
            if day > LAST_DAY:
                break
            history.append((step, day))
        return history

    def _korban(self, pid: int, no_lp: str, index: int, reported: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, POLRI_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.65)
        birth = noise.record_birth_date(p.birth_date, rng, missing=0.35)
        umur = noise.record_age(age_at(p.birth_date, reported), rng, missing=0.1)
        address, _ = self.address(p, moved=0.1, upper=0.5)
        phone = noise.record_phone(p.phone, rng, present=0.5, style="dashed")
        self.data.tables["korban"].append(
            (
                pid,
                no_lp,
                name,
                nik,
                2 if p.sex == "FEMALE" else 1,
                _dmy(birth),
                umur,
                address,
                phone,
            )
        )
        self.add_person(
            str(pid),
            no_lp,
            p,
            "VICTIM",
            reported=reported,
            birth=birth,
            umur=umur,
            nik=nik,
            name=name,
            phone=phone,
            address=address,
        )

    def _tersangka(self, pid: int, no_lp: str, index: int, case: Case, reported: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, POLRI_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.7)
        umur = noise.record_age(age_at(p.birth_date, reported), rng, missing=0.0)
        level = STAGE_ORDER[case.stage]
        status = "TERSANGKA"
        if case.stage != "DISCONTINUED":
            if level >= STAGE_ORDER["FIRST_INSTANCE_VERDICT"]:
                status = "TERPIDANA" if rng.random() < 0.6 else "TERDAKWA"
            elif level >= STAGE_ORDER["HANDOVER_TO_PROSECUTOR"] and rng.random() < 0.8:
                status = "TERDAKWA"
        self.data.tables["tersangka"].append(
            (
                pid,
                no_lp,
                name,
                nik,
                2 if p.sex == "FEMALE" else 1,
                umur,
                status,
            )
        )
        self.add_person(
            str(pid),
            no_lp,
            p,
            POLRI_SUSPECT_ROLES[status],
            reported=reported,
            umur=umur,
            nik=nik,
            name=name,
        )

    def _saksi(self, pid: int, no_lp: str, index: int, reported: date, *, victim: bool) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, POLRI_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.5)
        umur = noise.record_age(age_at(p.birth_date, reported), rng, missing=0.2)
        address, _ = self.address(p, moved=0.1, upper=0.5)
        self.data.tables["saksi"].append(
            (
                pid,
                no_lp,
                name,
                nik,
                2 if p.sex == "FEMALE" else 1,
                umur,
                address,
                int(victim),
            )
        )
        self.add_person(
            str(pid),
            no_lp,
            p,
            "VICTIM_WITNESS" if victim else "WITNESS",
            reported=reported,
            umur=umur,
            nik=nik,
            name=name,
            address=address,
        )


# -- lpsk -------------------------------------------------------------------------------------

LPSK_NAMES = NameStyle(keep_patronym=0.4, respell=0.05, abbreviate=0.1, typo=0.01, title=0.4, upper=0.02)
_LPSK_CODE = _reverse(LPSK_TYPES)
_LPSK_PROGRAM_WEIGHTS = {
    "PERLINDUNGAN_FISIK": 10,
    "HAK_PROSEDURAL": 35,
    "BANTUAN_MEDIS": 15,
    "BANTUAN_PSIKOSOSIAL": 25,
    "FASILITASI_RESTITUSI": 20,
}
_LPSK_STATUS_CODE = {"ONGOING": "AKTIF", "COMPLETED": "SELESAI", "REFUSED": "DIHENTIKAN"}


class LpskEncoder(_Encoder):
    """Witness and victim protection: applications, protected persons, programmes, restitution."""

    name = "lpsk"

    def encode(self) -> AgencyData:
        rng, tables = self.rng, self.data.tables
        person_ids = iter(range(1, 10**9))
        program_ids = iter(range(1, 10**9))
        restitution_ids = iter(range(1, 10**9))
        picked = []
        for case in self.world.cases:
            share = 0.23 if STAGE_ORDER[case.stage] >= STAGE_ORDER["INVESTIGATION"] else 0.08
            if rng.random() < share:
                applied = case.reported_at + timedelta(days=rng.randint(10, 150))
                if applied <= LAST_DAY:  # applications still to come are not in the database
                    picked.append((applied, case))
        picked.sort(key=lambda item: (item[0], item[1].index))
        for applied, case in picked:
            no = f"PMH-{self.next_number(applied.year, 6):04d}/{applied.year}"
            police = self.links.polri_reports.get(case.index)
            if police and rng.random() >= 0.75:
                police = None
            region = self.case_region(case)
            jenis = _LPSK_CODE.get(case.exploitation_types[0], "Lainnya")
            pending = (LAST_DAY - applied).days
            if pending < 30 or (pending < 120 and rng.random() < 0.5):
                decision = "DALAM_PROSES"
            else:
                decision = "DITERIMA" if rng.random() < 0.82 else "DITOLAK"
            tables["permohonan"].append(
                (
                    no,
                    applied.isoformat(),
                    police,
                    region.replace(".", ""),
                    jenis,
                    case.country,
                    decision,
                )
            )
            self.add_case(no, no, case, applied, region, case.country, [LPSK_TYPES[jenis]], None)
            protected: list[tuple[int, str]] = []
            for index in self.subset(case.victims, 0.9, at_least_one=True):
                protected.append((index, "KORBAN" if rng.random() < 0.7 else "SAKSI_KORBAN"))
            for index in self.subset(case.witnesses, 0.5, at_least_one=False):
                protected.append((index, "SAKSI" if rng.random() < 0.8 else "PELAPOR"))
            if case.perpetrators and rng.random() < 0.04:
                protected.append((case.perpetrators[-1], "SAKSI_PELAKU"))
            for index, status in protected:
                pid = next(person_ids)
                self._terlindung(pid, no, index, status, applied)
                if decision == "DITERIMA":
                    self._programs(pid, no, status, case, applied, program_ids, restitution_ids)
        return self.data

    def _terlindung(self, pid: int, no: str, index: int, status: str, applied: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, LPSK_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.85)
        birth = noise.record_birth_date(p.birth_date, rng, missing=0.1)
        address, domicile = self.address(p, moved=0.15, upper=0.02)
        phone = noise.record_phone(p.phone, rng, present=0.7, style="intl")
        self.data.tables["terlindung"].append(
            (
                pid,
                no,
                name,
                nik,
                "Perempuan" if p.sex == "FEMALE" else "Laki-laki",
                _iso(birth),
                status,
                address,
                phone,
                domicile.replace(".", ""),
            )
        )
        self.add_person(
            str(pid),
            no,
            p,
            LPSK_ROLES[status],
            reported=applied,
            birth=birth,
            nik=nik,
            name=name,
            domicile=domicile,
            phone=phone,
            address=address,
        )

    def _programs(
        self,
        pid: int,
        no: str,
        status: str,
        case: Case,
        applied: date,
        program_ids: Any,
        restitution_ids: Any,
    ) -> None:
        rng = self.rng
        weights = dict(_LPSK_PROGRAM_WEIGHTS)
        if status not in ("KORBAN", "SAKSI_KORBAN"):
            del weights["FASILITASI_RESTITUSI"]
        for code in _weighted_sample(rng, weights, rng.choices((1, 2, 3), (50, 35, 15))[0]):
            start = applied + timedelta(days=rng.randint(7, 60))
            if start > LAST_DAY:
                continue
            kind, end = _service_status(rng, start, max_days=365)
            if kind == "PLANNED":  # LPSK has no planned state: a decided programme runs
                kind = "ONGOING"
            if kind == "REFUSED":  # stopped early: ended, with a date
                end = min(start + timedelta(days=rng.randint(10, 90)), LAST_DAY)
            id_program = next(program_ids)
            self.data.tables["program_perlindungan"].append(
                (
                    id_program,
                    pid,
                    no,
                    code,
                    start.isoformat(),
                    _iso(end),
                    _LPSK_STATUS_CODE[kind],
                )
            )
            self.add_service(str(id_program), no, str(pid), LPSK_PROGRAMS[code], start, end, kind, None)
            if code == "FASILITASI_RESTITUSI":
                self._restitution(next(restitution_ids), pid, case)

    def _restitution(self, rid: int, pid: int, case: Case) -> None:
        rng = self.rng
        computed = rng.randint(5, 400) * 1_000_000 + rng.randint(0, 999) * 1_000
        decided = paid = None
        verdict = STAGE_ORDER[case.stage] >= STAGE_ORDER["FIRST_INSTANCE_VERDICT"]
        if verdict and case.stage != "DISCONTINUED" and rng.random() < 0.8:
            decided = int(computed * rng.uniform(0.3, 1.0)) // 1000 * 1000
            roll = rng.random()
            if roll < 0.35:
                paid = decided
            elif roll < 0.6:
                paid = int(decided * rng.uniform(0.1, 0.9)) // 1000 * 1000
        self.data.tables["restitusi"].append((rid, pid, computed, decided, paid))
        self.data.truth["restitutions"].append(
            dumps_record(
                {
                    "key": str(rid),
                    "recipient_key": str(pid),
                    "requested_idr": computed,
                    "ordered_idr": decided,
                    "paid_idr": paid,
                }
            )
        )


# -- bp2mi ------------------------------------------------------------------------------------

BP2MI_NAMES = NameStyle(keep_patronym=0.6, respell=0.1, abbreviate=0.3, typo=0.03, title=0.1, upper=1.0)
_BP2MI_CODE = {
    SEXUAL: ("Pelecehan/eksploitasi seksual",),
    LABOUR: ("Kerja tidak sesuai perjanjian", "Gaji tidak dibayar"),
    DOMESTIC: ("PRT dieksploitasi",),
    CRIMINALITY: ("Dipekerjakan di perusahaan online scam",),
    MARRIAGE: ("Dinikahkan paksa",),
}
_DEBARKASI = {
    "52": "Bandara Zainuddin Abdul Madjid",
    "53": "Bandara El Tari",
    "61": "PLBN Entikong",
    "12": "Bandara Kualanamu",
    "35": "Bandara Juanda",
    "21": "Pelabuhan Batam Centre",
    "65": "Pelabuhan Tunon Taka Nunukan",
    "73": "Bandara Sultan Hasanuddin",
}


def regency_upper(name: str) -> str:
    """BP2MI's spelling of a regency: upper case, ``Kabupaten`` shortened to ``KAB.``."""
    upper = name.upper()
    return "KAB. " + upper[len("KABUPATEN ") :] if upper.startswith("KABUPATEN ") else upper


class Bp2miEncoder(_Encoder):
    """Migrant-worker protection: one wide complaints table, one row per complainant."""

    name = "bp2mi"

    def encode(self) -> AgencyData:
        rng = self.rng
        complaints = []
        for case in self.world.cases:
            if case.country is None or rng.random() >= 0.7:
                continue
            for position, index in enumerate(self.subset(case.victims, 0.85, at_least_one=True)):
                day = add_days(case.reported_at, rng.randint(-30, 20))
                seconds = rng.randint(7 * 3600, 17 * 3600 - 1)
                complaints.append((day, seconds, case.index, position, case, index))
        complaints.sort(key=lambda item: item[:4])
        for id_pengaduan, (day, seconds, _, _, case, index) in enumerate(complaints, start=1):
            self._complaint(id_pengaduan, day, seconds, case, index)
        return self.data

    def _complaint(self, pid: int, day: date, seconds: int, case: Case, index: int) -> None:
        rng, p = self.rng, self.person(index)
        no = f"ADU/{day.year}/{self.next_number(day.year, 10):05d}"
        hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
        stamp = f"{day.isoformat()} {hh:02d}:{mm:02d}:{ss:02d}"
        name = self.name_of(p, BP2MI_NAMES)
        nik = noise.record_nik(p.nik, rng, present=0.6)
        birth = noise.record_birth_date(p.birth_date, rng, missing=0.15)
        passport = p.passport if p.passport and rng.random() < 0.9 else None
        address = noise.restyle_address(p.address, rng, upper=0.5)
        region = p.origin_region if rng.random() < 0.95 else self.other_regency(p.origin_region)
        assert case.country is not None
        kinds = _BP2MI_CODE.get(case.exploitation_types[0], ("Lainnya",))
        kind = rng.choice(kinds)
        recent = (LAST_DAY - day).days < 60
        if recent:
            status = "DITERIMA" if rng.random() < 0.6 else "PROSES"
        else:
            status = rng.choices(("SELESAI", "PROSES", "DITERIMA"), (70, 25, 5))[0]
        phone = noise.record_phone(p.phone, rng, present=0.7, style="62")
        returned = debarkasi = None
        if rng.random() < 0.5:
            returned = add_days(day, rng.randint(-20, 60))
            if rng.random() < 0.9:
                debarkasi = _DEBARKASI.get(p.origin_region[:2], "Bandara Soekarno-Hatta")
        self.data.tables["pengaduan"].append(
            (
                pid,
                no,
                stamp,
                name,
                nik,
                "PEREMPUAN" if p.sex == "FEMALE" else "LAKI-LAKI",
                _iso(birth),
                passport,
                address,
                regency_upper(self.regencies[region].name),
                COUNTRY_NAMES_ID[case.country],
                kind,
                status,
                phone,
                _iso(returned),
                debarkasi,
            )
        )
        key = str(pid)
        self.add_case(key, no, case, day, region, case.country, [BP2MI_TYPES[kind]], None)
        self.add_person(
            key,
            key,
            p,
            "VICTIM",
            reported=day,
            birth=birth,
            nik=nik,
            name=name,
            domicile=region,
            citizenship="ID",
            passport=passport,
            phone=phone,
            address=address,
        )
        if returned:
            self.add_service(key, key, key, "REPATRIATION", returned, None, "COMPLETED", None)


# -- kemlu ------------------------------------------------------------------------------------

KEMLU_NAMES = NameStyle(keep_patronym=0.75, respell=0.04, abbreviate=0.05, typo=0.01, title=0.0, upper=0.4)
_KEMLU_CODE = _reverse(KEMLU_TYPES)
_KEMLU_KIND_WEIGHTS = {
    "CONSULAR_VISIT": 30,
    "SHELTER": 20,
    "REPATRIATION": 25,
    "LEGAL": 12,
    "MEDICAL": 8,
    "COUNSELLING": 5,
}
_KEMLU_STATUS_CODE = {"PLANNED": "PLANNED", "ONGOING": "ONGOING", "COMPLETED": "DONE"}


class KemluEncoder(_Encoder):
    """Citizens abroad: English names, ISO-3 countries, passports, Unix-second dates."""

    name = "kemlu"

    def encode(self) -> AgencyData:
        rng, tables = self.rng, self.data.tables
        citizen_ids = iter(range(1, 10**9))
        assistance_ids = iter(range(1, 10**9))
        picked = []
        for case in self.world.cases:
            if case.country is not None and rng.random() < 0.6:
                picked.append((add_days(case.reported_at, -rng.randint(0, 45)), case))
        picked.sort(key=lambda item: (item[0], item[1].index))
        for opened, case in picked:
            assert case.country is not None
            missions = KEMLU_MISSIONS[case.country]
            mission, code = missions[0] if rng.random() < 0.7 else rng.choice(missions)
            case_id = f"PWNI/{code}/{opened.year}/{self.next_number((code, opened.year), 8):04d}"
            category = _KEMLU_CODE.get(case.exploitation_types[0], "TIP-OTHER")
            closed = (LAST_DAY - opened).days > 180 and rng.random() < 0.8
            tables["cases"].append(
                (
                    case_id,
                    _unix(opened),
                    mission,
                    COUNTRY_ISO3[case.country],
                    category,
                    "CLOSED" if closed else "OPEN",
                )
            )
            self.add_case(case_id, case_id, case, opened, None, case.country, [KEMLU_TYPES[category]], None)
            people = [(i, "VICTIM") for i in self.subset(case.victims, 0.9, at_least_one=True)]
            people += [(i, "WITNESS") for i in self.subset(case.witnesses, 0.4, at_least_one=False)]
            for index, role in people:
                cid = next(citizen_ids)
                self._citizen(cid, case_id, index, role, opened)
                if role == "VICTIM" or rng.random() < 0.1:
                    count = rng.choices((1, 2, 3), (55, 33, 12))[0] if role == "VICTIM" else 1
                    weights = _KEMLU_KIND_WEIGHTS if role == "VICTIM" else {"CONSULAR_VISIT": 1}
                    for kind in _weighted_sample(rng, weights, count):
                        self._assistance(next(assistance_ids), case_id, cid, kind, opened, mission)
        return self.data

    def _citizen(self, cid: int, case_id: str, index: int, role: str, opened: date) -> None:
        rng, p = self.rng, self.person(index)
        name = self.name_of(p, KEMLU_NAMES)
        passport = p.passport if p.passport and rng.random() < 0.9 else None
        nik = noise.record_nik(p.nik, rng, present=0.15)
        birth = noise.record_birth_date(p.birth_date, rng, missing=0.05, off=0.01, year_only=0.0)
        home = p.origin_region if rng.random() < 0.6 else None
        phone = noise.record_phone(p.phone, rng, present=0.5, style="intl_spaced")
        self.data.tables["citizens"].append(
            (
                cid,
                case_id,
                name,
                passport,
                nik,
                "F" if p.sex == "FEMALE" else "M",
                _unix(birth),
                home,
                phone,
                role,
            )
        )
        self.add_person(
            str(cid),
            case_id,
            p,
            role,
            reported=opened,
            birth=birth,
            nik=nik,
            name=name,
            domicile=home,
            citizenship="ID",
            passport=passport,
            phone=phone,
        )

    def _assistance(self, aid: int, case_id: str, cid: int, kind: str, opened: date, mission: str) -> None:
        rng = self.rng
        start = opened + timedelta(days=rng.randint(0, 30))
        if start > LAST_DAY:
            start = LAST_DAY
        status, end = _service_status(rng, start, max_days=90, refused=0.0)
        self.data.tables["assistance"].append(
            (
                aid,
                case_id,
                cid,
                kind,
                _unix(start),
                _unix(end),
                _KEMLU_STATUS_CODE[status],
            )
        )
        self.add_service(str(aid), case_id, str(cid), KEMLU_KINDS[kind], start, end, status, mission)


ENCODERS: dict[str, type[_Encoder]] = {
    "simfoni": SimfoniEncoder,
    "polri": PolriEncoder,
    "lpsk": LpskEncoder,
    "bp2mi": Bp2miEncoder,
    "kemlu": KemluEncoder,
}


def encode(agency: str, world: World, links: Links) -> AgencyData:
    """Encode the world for one agency. Agencies must be encoded in ``AGENCIES`` order
    (LPSK cites police report numbers that the police encoder hands over in ``links``)."""
    return ENCODERS[agency](world, links).encode()
