"""A provincial service unit's TPPO register, as a spreadsheet imported into a database as-is.

Not one of the demo agencies: its own generator and its own ground truth. Like the registers
the hub meets in practice, it was kept in a spreadsheet and imported without cleaning:

- one upper-case table with spaces in its column names, one row = one case = one victim;
- report and birth dates in several formats in one column (``DD/MM/YYYY``, ``YYYY/MM/DD``,
  ``DD-MM-YYYY``, ``7 Juli 1980``, spreadsheet serial numbers), plus junk and blanks;
- regencies of West Java (province 32) written as abbreviations and in "X Kota"/"X (Kab)"/
  "X Kab." forms, with no province column; blanks (the province itself) and junk;
- ages as text (``34 th``, ``34 tahun``, ``8 bln``), sex codes ``L``/``P`` with junk;
- several exploitation codes in one cell (``"ES, KP"``); NIKs written with dots;
- a services table *without a key*, several services comma-separated in one cell, and rows
  duplicated by the import.

:func:`generate` writes the register and returns its ground truth — what each value *means*,
decided while writing it, never by reading it back through the hub. The options let property
tests draw many different messy sources (formats used, share of junk, NULLs, duplicates).
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hub.vocabulary.model import AgeGroup

CASE_TABLE = "REGISTER KASUS TPPO"
SERVICE_TABLE = "LAYANAN"
PROVINCE = "32"

#: How the register writes a regency, and the Kemendagri code it means.
REGENCY_SPELLINGS: dict[str, str] = {
    "KBB": "32.17",
    "Bandung Barat": "32.17",
    "Bekasi Kota": "32.75",
    "Kota Bekasi": "32.75",
    "Bogor (Kab)": "32.01",
    "Kab. Bogor": "32.01",
    "Cirebon Kab.": "32.09",
    "Kota Cirebon": "32.74",
    "Kota Bandung": "32.73",
    "Kab. Garut": "32.05",
    "GARUT": "32.05",
    "Sukabumi Kota": "32.72",
    "Kab Indramayu": "32.12",
    "Karawang": "32.15",
    "Kota Depok": "32.76",
    "Tasikmalaya (Kab)": "32.06",
}
#: Region cells that name no region (junk) — NULL on every path.
REGION_JUNK = ["Luar Jabar", "??", "belum diisi"]

#: Exploitation codes of the register and their national values.
EXPLOITATION_CODES = {
    "ES": "SEXUAL_EXPLOITATION",
    "KP": "FORCED_LABOUR",
    "PRT": "DOMESTIC_SERVITUDE",
    "PA": "CHILD_LABOUR",
    "JO": "FORCED_CRIMINALITY",
}
SERVICE_CODES = {
    "Rumah Aman": "SHELTER",
    "Pendampingan Hukum": "LEGAL_AID",
    "Konseling": "PSYCHOLOGICAL_SUPPORT",
    "Pemulangan": "REPATRIATION",
    "Rehabilitasi Kesehatan": "HEALTH_REHABILITATION",
}
COUNTRIES = {"Malaysia": "MY", "Arab Saudi": "SA", "Kamboja": "KH", "Hongkong": "HK", "Taiwan": "TW"}

MONTH_NAMES = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]  # fmt: skip

#: Date formats the register uses and how each writes a date.
DATE_WRITERS = {
    "DD/MM/YYYY": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "D/M/YYYY": lambda d: f"{d.day}/{d.month}/{d.year}",
    "YYYY/MM/DD": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "DD-MM-YYYY": lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    "D MMMM YYYY": lambda d: f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}",
    "serial": lambda d: (d - date(1899, 12, 30)).days,
}
#: The mapping's formats for each writer (D/M/YYYY is read by the DD/MM/YYYY pattern).
MAPPING_FORMAT = {
    "DD/MM/YYYY": "DD/MM/YYYY",
    "D/M/YYYY": "DD/MM/YYYY",
    "YYYY/MM/DD": "YYYY/MM/DD",
    "DD-MM-YYYY": "DD-MM-YYYY",
    "D MMMM YYYY": "D MMMM YYYY",
    "serial": "serial",
}
#: Values of a date column that are no date (NULL on every path).
DATE_JUNK = ["-", "?", "31/02/2023", "2023/13/01", "belum", "00/00/0000"]
AGE_JUNK = ["dewasa", "-", "tidak tahu"]


@dataclass
class Options:
    """What a generated register looks like (property tests draw these)."""

    cases: int = 120
    date_formats: tuple[str, ...] = tuple(DATE_WRITERS)
    junk: float = 0.05
    nulls: float = 0.05
    duplicates: float = 0.1
    multi_valued: float = 0.4
    seed: int = 11


@dataclass
class Truth:
    """What every value of the register means."""

    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (case key, national service type) of every service, duplicates of the import removed.
    services: list[tuple[str, str]] = field(default_factory=list)

    def formats(self) -> list[str]:
        return sorted({MAPPING_FORMAT[f] for f in self.date_formats_used})

    date_formats_used: set[str] = field(default_factory=set)


def _age_group(years: int | None) -> str:
    return AgeGroup.for_age(years).name


def _years(born: date, at: date) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def _nik(rng: random.Random, born: date, female: bool) -> str:
    day = born.day + (40 if female else 0)
    area = f"32{rng.randint(1, 79):02d}{rng.randint(1, 20):02d}"
    return f"{area}{day:02d}{born.month:02d}{born.year % 100:02d}{rng.randint(1, 9999):04d}"


def build(options: Options) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Truth]:
    """The rows of both tables and the truth, from ``options`` alone (deterministic)."""
    rng = random.Random(options.seed)
    truth = Truth()
    case_rows: list[tuple[Any, ...]] = []
    service_rows: list[tuple[Any, ...]] = []

    def maybe(probability: float) -> bool:
        return rng.random() < probability

    def write_date(value: date) -> Any:
        fmt = rng.choice(options.date_formats)
        truth.date_formats_used.add(fmt)
        return DATE_WRITERS[fmt](value)

    spellings = list(REGENCY_SPELLINGS)
    for number in range(1, options.cases + 1):
        key = str(number)
        reported = date(2019, 1, 1) + timedelta(days=rng.randint(0, 5 * 365))
        # Report date: a date in one of the formats, junk, or blank.
        if maybe(options.nulls):
            reported_cell, reported_truth = None, None
        elif maybe(options.junk):
            reported_cell, reported_truth = rng.choice(DATE_JUNK), None
        else:
            reported_cell, reported_truth = write_date(reported), reported
        # Region: a spelling, junk, or blank (the province itself).
        if maybe(options.nulls):
            region_cell, region_truth = rng.choice([None, ""]), PROVINCE
        elif maybe(options.junk):
            region_cell, region_truth = rng.choice(REGION_JUNK), None
        else:
            region_cell = rng.choice(spellings)
            region_truth = REGENCY_SPELLINGS[region_cell]
        # Exploitation: one code, several in one cell, junk, blank.
        codes = rng.sample(sorted(EXPLOITATION_CODES), 2 if maybe(options.multi_valued) else 1)
        if maybe(options.nulls):
            exploitation_cell, exploitation_truth = None, ["UNKNOWN"]
        elif maybe(options.junk):
            exploitation_cell = ", ".join([*codes, "XX"])
            exploitation_truth = sorted({EXPLOITATION_CODES[c] for c in codes} | {"OTHER"})
        else:
            exploitation_cell = rng.choice([", ", ",", " , "]).join(codes)
            exploitation_truth = sorted({EXPLOITATION_CODES[c] for c in codes})
        country_name = rng.choice(sorted(COUNTRIES))
        country_cell, country_truth = (
            (None, None) if maybe(options.nulls) else (country_name, COUNTRIES[country_name])
        )
        # The victim: sex, birth date and/or age as text, NIK with dots.
        female = maybe(0.7)
        sex_cell = "P" if female else "L"
        sex_truth = "FEMALE" if female else "MALE"
        if maybe(options.junk):
            sex_cell, sex_truth = rng.choice(["X", "?"]), "UNKNOWN"
        elif maybe(options.nulls):
            sex_cell, sex_truth = None, "UNKNOWN"
        years_true = rng.choice([rng.randint(0, 17), rng.randint(18, 70)])
        born = reported - timedelta(days=365 * years_true + rng.randint(0, 360))
        birth_cell: Any = None
        birth_truth: date | None = None
        if maybe(0.6):
            if maybe(options.junk):
                birth_cell = rng.choice(DATE_JUNK)
            else:
                birth_cell, birth_truth = write_date(born), born
        age_known = _years(born, reported)
        age_cell: Any = None
        age_truth: int | None = None
        if maybe(0.7):
            if maybe(options.junk):
                age_cell = rng.choice(AGE_JUNK)
            elif age_known < 2 and maybe(0.5):
                months = age_known * 12 + rng.randint(0, 11)
                age_cell, age_truth = rng.choice([f"{months} bln", f"{months} bulan"]), months // 12
            else:
                age_cell = rng.choice(
                    [str(age_known), f"{age_known} th", f"{age_known} tahun", f"{age_known}th"]
                )
                age_truth = age_known
        if birth_truth is not None and reported_truth is not None:
            years: int | None = _years(birth_truth, reported_truth)
        else:
            years = age_truth
        nik = _nik(rng, born, female)
        nik_cell = rng.choice(
            [nik, f"{nik[:4]}.{nik[4:8]}.{nik[8:12]}.{nik[12:]}", f"{nik[:6]} {nik[6:12]} {nik[12:]}"]
        )
        if maybe(options.nulls):
            nik_cell, nik = None, None
        name = f"Korban {number}"
        case_rows.append(
            (
                number,
                f"REG/{reported.year}/{number:04d}",
                reported_cell,
                region_cell,
                exploitation_cell,
                country_cell,
                name,
                nik_cell,
                sex_cell,
                birth_cell,
                age_cell,
            )
        )
        truth.cases[key] = {
            "key": key,
            "source_key": f"REG/{reported.year}/{number:04d}",
            "reported_at": reported_truth.isoformat() if reported_truth else None,
            "region": region_truth,
            "country": country_truth,
            "exploitation_types": exploitation_truth,
            "victim": {
                "sex": sex_truth,
                "age_group": _age_group(years) if years is None or years >= 0 else "UNKNOWN",
                "is_child": None if years is None or years < 0 else years < 18,
                "nik": nik,
                "full_name": name,
                "birth_date": birth_truth.isoformat() if birth_truth else None,
            },
        }
        # Services: some cases have none; a cell may hold several; the import duplicated rows.
        for _ in range(rng.choice([0, 1, 1, 2])):
            kinds = rng.sample(sorted(SERVICE_CODES), 2 if maybe(options.multi_valued) else 1)
            cell = ", ".join(kinds)
            start = write_date(reported + timedelta(days=rng.randint(0, 60)))
            row = (number, cell, start)
            copies = 2 if maybe(options.duplicates) else 1
            service_rows.extend([row] * copies)
            for _copy in range(copies):
                truth.services.extend((key, SERVICE_CODES[k]) for k in kinds)
    return case_rows, service_rows, truth


CASE_COLUMNS = (
    ("NO", "INTEGER"),
    ("NO REGISTRASI", "TEXT"),
    ("TANGGAL LAPOR", ""),
    ("KAB/KOTA", "TEXT"),
    ("BENTUK EKSPLOITASI", "TEXT"),
    ("NEGARA TUJUAN", "TEXT"),
    ("NAMA KORBAN", "TEXT"),
    ("NIK KORBAN", "TEXT"),
    ("JK", "TEXT"),
    ("TGL LAHIR", ""),
    ("UMUR", "TEXT"),
)
SERVICE_COLUMNS = (("NO KASUS", "INTEGER"), ("JENIS LAYANAN", "TEXT"), ("TANGGAL", ""))


def write_sqlite(path: Path, options: Options) -> Truth:
    """Write the register into a new SQLite file, typed as a spreadsheet import leaves it
    (date columns without a type: text and serial numbers side by side)."""
    case_rows, service_rows, truth = build(options)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    for table, columns, rows in (
        (CASE_TABLE, CASE_COLUMNS, case_rows),
        (SERVICE_TABLE, SERVICE_COLUMNS, service_rows),
    ):
        defs = ", ".join(f'"{name}" {kind}'.strip() for name, kind in columns)
        db.execute(f'CREATE TABLE "{table}" ({defs})')
        marks = ", ".join("?" for _ in columns)
        db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
    db.commit()
    db.close()
    return truth


async def write_postgres(url: str, options: Options) -> Truth:
    """The same register in a PostgreSQL database (all cells text, as an import leaves them)."""
    import asyncpg

    case_rows, service_rows, truth = build(options)
    conn = await asyncpg.connect(url)
    try:
        for table, columns, rows in (
            (CASE_TABLE, CASE_COLUMNS, case_rows),
            (SERVICE_TABLE, SERVICE_COLUMNS, service_rows),
        ):
            defs = ", ".join(
                f'"{name}" {"INTEGER" if kind == "INTEGER" else "TEXT"}' for name, kind in columns
            )
            await conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            await conn.execute(f'CREATE TABLE "{table}" ({defs})')
            text_rows = [
                tuple(
                    v if kind == "INTEGER" or v is None else str(v)
                    for v, (_n, kind) in zip(row, columns, strict=True)
                )
                for row in rows
            ]
            await conn.copy_records_to_table(table, records=text_rows)
    finally:
        await conn.close()
    return truth


def mapping_text(truth: Truth | None = None) -> str:
    """The register's mapping (the one ``docs/onboarding-spreadsheet.md`` arrives at)."""
    formats = truth.formats() if truth is not None else sorted(set(MAPPING_FORMAT.values()))
    fmt = "[" + ", ".join(f'"{f}"' for f in formats) + "]"
    exploitation = "\n".join(f'{code} = "{value}"' for code, value in EXPLOITATION_CODES.items())
    services = "\n".join(f'"{code}" = "{value}"' for code, value in SERVICE_CODES.items())
    return f"""\
[source]
agency = {{ code = "UPTD_PPA_JABAR", name = "UPTD PPA Provinsi Jawa Barat", type = "SERVICE_UNIT" }}

[case]
table = "{CASE_TABLE}"
key = "NO"
source_key = "NO REGISTRASI"
reported_at = {{ column = "TANGGAL LAPOR", format = {fmt} }}
region = {{ regency_name = "KAB/KOTA", province = "{PROVINCE}" }}
country = {{ column = "NEGARA TUJUAN", format = "name" }}
exploitation_types = {{ column = "BENTUK EKSPLOITASI", codes = "bentuk", split = "," }}

[[person]]
table = "{CASE_TABLE}"
key = "NO"
case_key = "NO"
roles = {{ value = "VICTIM" }}
full_name = "NAMA KORBAN"
nik = {{ column = "NIK KORBAN", clean = "digits" }}
sex = {{ column = "JK", codes = "jk" }}
birth_date = {{ column = "TGL LAHIR", format = {fmt} }}
age = "UMUR"
age_at = {{ column = "TANGGAL LAPOR", format = {fmt} }}

[[service]]
table = "{SERVICE_TABLE}"
case_key = "NO KASUS"
type = {{ column = "JENIS LAYANAN", codes = "layanan", split = "," }}
start_date = {{ column = "TANGGAL", format = {fmt} }}

[codes.bentuk]
{exploitation}
"*" = "OTHER"

[codes.jk]
L = "MALE"
P = "FEMALE"

[codes.layanan]
{services}
"""
