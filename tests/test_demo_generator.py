"""The demo agency generator writes what docs/demo-agencies.md promises, the same every time.

Expected values come from the document itself (parsed here), from the Kemendagri reference
CSVs and from direct SQL on the written databases, never from the generator's own tables.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.demo import GenerationReport, generate

pytest_plugins = ["tests._pg"]

ROOT = Path(__file__).resolve().parents[1]
AGENCIES = ["simfoni", "polri", "lpsk", "bp2mi", "kemlu"]
SCALE = 0.3  # 450 cases: every code path, a fraction of a second per generation


# -- the contract, read from the document -----------------------------------------------------


def _doc_schemas() -> dict[str, dict[str, list[tuple[str, str, bool, bool]]]]:
    """agency -> table -> [(column, type, nullable, primary key)] from docs/demo-agencies.md."""
    schemas: dict[str, dict[str, list[tuple[str, str, bool, bool]]]] = {}
    agency = None
    for line in (ROOT / "docs" / "demo-agencies.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\w+) — ", line)
        if heading:
            agency = heading[1]
            schemas[agency] = {}
            continue
        row = re.match(r"^\| `(\w+)` \| (.*) \|$", line)
        if not (row and agency):
            continue
        cell = row[2]
        found = list(re.finditer(r"`([a-z][a-z0-9_]*)`(?: (INTEGER|TEXT|ISO date))?", cell))
        columns = []
        for i, match in enumerate(found):
            end = found[i + 1].start() if i + 1 < len(found) else len(cell)
            segment = cell[match.end() : end]
            assert match[2], f"{agency}.{row[1]}.{match[1]}: the document gives no type"
            kind = "TEXT" if match[2] == "ISO date" else match[2]
            is_pk = " PK" in segment or "PK both columns" in cell
            columns.append((match[1], kind, "or NULL" in segment, is_pk))
        schemas[agency][row[1]] = columns
    return schemas


DOC = _doc_schemas()


def _reference() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(province code -> name, regency code -> (province code, name)) from the ODbL CSVs."""
    for base in (ROOT / "hub" / "vocabulary" / "reference_data", ROOT.parent / "shared" / "reference"):
        if (base / "regencies.csv").is_file():
            break
    with (base / "provinces.csv").open(encoding="utf-8") as fh:
        provinces = {r["code"]: r["name"] for r in csv.DictReader(fh)}
    with (base / "regencies.csv").open(encoding="utf-8") as fh:
        regencies = {r["code"]: (r["province_code"], r["name"]) for r in csv.DictReader(fh)}
    return provinces, regencies


PROVINCES, REGENCIES = _reference()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("demo_gen")
    return out, generate(out, seed=7, scale=SCALE)


@pytest.fixture(scope="module")
def out_dir(generated: tuple[Path, GenerationReport]) -> Path:
    return generated[0]


@pytest.fixture(scope="module")
def report(generated: tuple[Path, GenerationReport]) -> GenerationReport:
    return generated[1]


@pytest.fixture(scope="module")
def truth(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "ground_truth.json").read_text(encoding="utf-8"))


def _db(out_dir: Path, agency: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{out_dir / agency}.sqlite?mode=ro", uri=True)


def _query(out_dir: Path, agency: str, sql: str) -> list[tuple[Any, ...]]:
    con = _db(out_dir, agency)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# -- determinism and files --------------------------------------------------------------------


def test_same_seed_gives_identical_files(out_dir: Path, tmp_path: Path) -> None:
    """Run again in another process with other string hashing: nothing may depend on it."""
    script = (
        f"from pathlib import Path; from hub.demo import generate; "
        f"generate(Path({str(tmp_path)!r}), seed=7, scale={SCALE})"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["ground_truth.json", "hub.toml"] + [f"{a}.sqlite" for a in AGENCIES])
    for name in names:
        assert (out_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_another_world(truth: dict[str, Any], tmp_path: Path) -> None:
    generate(tmp_path, seed=8, scale=SCALE)
    other = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert other["seed"] == 8
    assert [p["nik"] for p in other["persons"]] != [p["nik"] for p in truth["persons"]]


def test_regeneration_replaces_files_in_place(tmp_path: Path) -> None:
    generate(tmp_path, seed=1, scale=0.05)
    small = generate(tmp_path, seed=1, scale=0.1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    counts = _query(tmp_path, "polri", "SELECT count(*) FROM laporan_polisi")[0][0]
    assert counts == small.row_counts["polri"]["laporan_polisi"]


def test_hub_toml_serves_the_sqlite_files(out_dir: Path) -> None:
    text = (out_dir / "hub.toml").read_text(encoding="utf-8")
    assert text.startswith(
        "# Demo hub configuration written by `tppo-hub demo generate` (seed 7, scale 0.3).\n"
    )
    config = tomllib.loads(text)
    assert config["hub"] == {"demo": True}
    assert [(s["name"], s["mapping"], s["url"]) for s in config["sources"]] == [
        (a, a, f"sqlite:///{a}.sqlite") for a in AGENCIES
    ]
    assert all("schema" not in s for s in config["sources"])


# -- the schemas of the document --------------------------------------------------------------


def test_document_lists_five_agencies() -> None:
    assert list(DOC) == AGENCIES
    assert [len(tables) for tables in DOC.values()] == [5, 5, 4, 1, 3]


@pytest.mark.parametrize("agency", AGENCIES)
def test_tables_and_columns_are_as_documented(out_dir: Path, agency: str) -> None:
    con = _db(out_dir, agency)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables - {"sqlite_stat1"} == set(DOC[agency])
        for table, columns in DOC[agency].items():
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            got = [(r[1], r[2], not r[3], r[5] > 0) for r in info]
            assert got == columns, table
    finally:
        con.close()


@pytest.mark.parametrize("agency", AGENCIES)
def test_values_have_the_documented_storage_types(out_dir: Path, agency: str) -> None:
    """SQLite is loosely typed: check the values, not only the declared column types."""
    for table, columns in DOC[agency].items():
        for column, kind, nullable, _ in columns:
            rows = _query(out_dir, agency, f"SELECT DISTINCT typeof({column}) FROM {table}")
            allowed = {kind.lower()} | ({"null"} if nullable else set())
            assert {r[0] for r in rows} <= allowed, f"{table}.{column}"


@pytest.mark.parametrize("agency", AGENCIES)
def test_reference_and_filter_columns_are_indexed(out_dir: Path, agency: str) -> None:
    keys = {"id_kasus", "id_korban", "no_lp", "no_permohonan", "id_terlindung", "case_id", "citizen_id"}
    dates = {
        "tgl_lapor",
        "tgl_lp",
        "tanggal_permohonan",
        "tanggal_pengaduan",
        "opened_at",
        "tgl_mulai",
        "mulai",
        "started_at",
    }
    con = _db(out_dir, agency)
    try:
        for table, columns in DOC[agency].items():
            leading = set()
            for index in con.execute(f"PRAGMA index_list({table})").fetchall():
                first = con.execute(f"PRAGMA index_info({index[1]})").fetchone()
                leading.add(first[2])
            pk = [c for c, _, _, is_pk in columns if is_pk]
            leading.add(pk[0])
            wanted = {c for c, *_ in columns if c in keys | dates}
            assert wanted <= leading, (table, wanted - leading)
        assert con.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        con.close()


# -- identities and regions -------------------------------------------------------------------


def test_niks_are_valid_in_form_and_match_sex_and_birth_date(truth: dict[str, Any]) -> None:
    niks = [p["nik"] for p in truth["persons"]]
    assert len(set(niks)) == len(niks)
    for person in truth["persons"]:
        nik, born = person["nik"], date.fromisoformat(person["birth_date"])
        assert re.fullmatch(r"\d{16}", nik), nik
        assert nik[:4] == person["origin_region"].replace(".", "")
        assert 1 <= int(nik[4:6]) <= 99
        day = int(nik[6:8]) - (40 if person["sex"] == "FEMALE" else 0)
        assert (day, int(nik[8:10]), int(nik[10:12])) == (born.day, born.month, born.year % 100)
        assert nik[12:] != "0000"


def test_agencies_copy_niks_exactly_or_leave_them_out(out_dir: Path, truth: dict) -> None:
    known = {p["nik"] for p in truth["persons"]}
    sql = {
        "simfoni": ["SELECT nik FROM korban"],
        "polri": ["SELECT nik FROM korban", "SELECT nik FROM tersangka", "SELECT nik FROM saksi"],
        "lpsk": ["SELECT nik FROM terlindung"],
        "bp2mi": ["SELECT nik FROM pengaduan"],
        "kemlu": ["SELECT nik FROM citizens"],
    }
    for agency, statements in sql.items():
        values = [r[0] for s in statements for r in _query(out_dir, agency, s)]
        present = [v for v in values if v is not None]
        assert present and set(present) <= known, agency
        assert len(present) < len(values), f"{agency} should miss some NIKs"


def test_passports_are_unique_and_in_indonesian_form(truth: dict[str, Any]) -> None:
    passports = [p["passport"] for p in truth["persons"] if p["passport"]]
    assert passports and len(set(passports)) == len(passports)
    assert all(re.fullmatch(r"[A-Z]\d{7}", p) for p in passports)


def _upper_regency(name: str) -> str:
    upper = name.upper()
    return "KAB. " + upper[len("KABUPATEN ") :] if upper.startswith("KABUPATEN ") else upper


def test_every_region_exists_in_the_reference(out_dir: Path, truth: dict[str, Any]) -> None:
    codes = set(REGENCIES)
    assert {p["origin_region"] for p in truth["persons"]} <= codes
    assert {c["region"] for c in truth["cases"]} <= codes
    for agency in AGENCIES:
        records = truth["agencies"][agency]
        regions = {c["region"] for c in records["cases"]} | {p["domicile_region"] for p in records["persons"]}
        assert regions - {None} <= codes, agency
    dotted = [
        ("simfoni", "SELECT kode_wilayah FROM kasus UNION SELECT kode_wilayah_domisili FROM korban"),
        ("kemlu", "SELECT home_regency FROM citizens WHERE home_regency IS NOT NULL"),
    ]
    for agency, sql in dotted:
        assert {r[0] for r in _query(out_dir, agency, sql)} <= codes
    four = _query(
        out_dir,
        "lpsk",
        "SELECT kode_kabupaten FROM permohonan UNION SELECT kode_kabupaten_domisili FROM terlindung",
    )
    assert {f"{r[0][:2]}.{r[0][2:]}" for r in four} <= codes
    names = {(PROVINCES[p], n) for p, n in REGENCIES.values()}
    assert set(_query(out_dir, "polri", "SELECT provinsi, kabupaten FROM laporan_polisi")) <= names
    upper = {_upper_regency(n) for _, n in REGENCIES.values()}
    assert {r[0] for r in _query(out_dir, "bp2mi", "SELECT kab_asal FROM pengaduan")} <= upper


# -- the world looks like the real thing ------------------------------------------------------


def test_world_has_the_documented_shape(truth: dict[str, Any]) -> None:
    cases, persons = truth["cases"], {p["id"]: p for p in truth["persons"]}
    assert len(cases) == round(1500 * SCALE)
    assert 0.32 < sum(c["country"] is not None for c in cases) / len(cases) < 0.48
    assert all("2019-01-01" <= c["reported_at"] <= "2025-12-31" for c in cases)
    assert {c["reported_at"][:4] for c in cases} == {str(y) for y in range(2019, 2026)}
    victims = [(c, persons[v]) for c in cases for v in c["victims"]]
    children = sum(
        _age(date.fromisoformat(p["birth_date"]), date.fromisoformat(c["reported_at"])) < 18
        for c, p in victims
    )
    assert 0.17 < children / len(victims) < 0.33
    for case in cases:
        assert 1 <= len(case["victims"]) <= 3 and len(case["perpetrators"]) <= 3
        assert len(case["witnesses"]) <= 2 and 1 <= len(case["exploitation_types"]) <= 2
    origins = Counter(persons[v]["origin_region"][:2] for c in cases for v in c["victims"])
    busiest = {code for code, _ in origins.most_common(7)}
    assert len(busiest & {"32", "33", "35", "52", "53", "12", "61"}) >= 5


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_agencies_hold_their_share_of_cases(truth: dict[str, Any]) -> None:
    total = len(truth["cases"])
    abroad = sum(c["country"] is not None for c in truth["cases"])

    def share(agency: str) -> float:
        held = {c["case"] for c in truth["agencies"][agency]["cases"]}
        return len(held) / (abroad if agency in ("bp2mi", "kemlu") else total)

    assert 0.4 < share("simfoni") < 0.6
    assert 0.5 < share("polri") < 0.7
    assert 0.13 < share("lpsk") < 0.28
    assert 0.6 < share("bp2mi") < 0.8
    assert 0.5 < share("kemlu") < 0.7


def test_the_same_person_is_written_differently_across_agencies(truth: dict[str, Any]) -> None:
    spellings: dict[str, set[str]] = {}
    for agency in AGENCIES:
        for record in truth["agencies"][agency]["persons"]:
            spellings.setdefault(record["person"], set()).add(record["full_name"])
    several = [names for names in spellings.values() if len(names) > 1]
    assert len(several) > 50
    text = " ".join(n for names in spellings.values() for n in names)
    for marker in ("oe", "Dj", "Tj", " bin ", " binti ", "H. ", "Hj. ", "S.Pd."):
        assert marker in text or marker.upper() in text, marker


# -- the truth matches the databases ----------------------------------------------------------


def test_report_counts_match_the_databases(out_dir: Path, report: GenerationReport) -> None:
    assert list(report.row_counts) == AGENCIES
    for agency in AGENCIES:
        for table in DOC[agency]:
            count = _query(out_dir, agency, f"SELECT count(*) FROM {table}")[0][0]
            assert report.row_counts[agency][table] == count, f"{agency}.{table}"
            assert count > 0, f"{agency}.{table} is empty"
    assert report.total_rows == sum(sum(t.values()) for t in report.row_counts.values())
    assert report.backend == "sqlite" and report.seconds > 0


COUNTS = {
    "simfoni": {
        "cases": "SELECT count(*) FROM kasus",
        "persons": "SELECT (SELECT count(*) FROM korban) + (SELECT count(*) FROM pelaku)",
        "services": "SELECT count(*) FROM layanan",
        "stage_events": "SELECT 0",
    },
    "polri": {
        "cases": "SELECT count(*) FROM laporan_polisi",
        "persons": "SELECT (SELECT count(*) FROM korban) + (SELECT count(*) FROM tersangka)"
        " + (SELECT count(*) FROM saksi)",
        "services": "SELECT 0",
        "stage_events": "SELECT count(*) FROM tahapan",
    },
    "lpsk": {
        "cases": "SELECT count(*) FROM permohonan",
        "persons": "SELECT count(*) FROM terlindung",
        "services": "SELECT count(*) FROM program_perlindungan",
        "stage_events": "SELECT 0",
    },
    "bp2mi": {
        "cases": "SELECT count(*) FROM pengaduan",
        "persons": "SELECT count(*) FROM pengaduan",
        "services": "SELECT count(*) FROM pengaduan WHERE tgl_pemulangan IS NOT NULL",
        "stage_events": "SELECT 0",
    },
    "kemlu": {
        "cases": "SELECT count(*) FROM cases",
        "persons": "SELECT count(*) FROM citizens",
        "services": "SELECT count(*) FROM assistance",
        "stage_events": "SELECT 0",
    },
}


@pytest.mark.parametrize("agency", AGENCIES)
def test_truth_has_one_record_per_row(out_dir: Path, truth: dict, agency: str) -> None:
    records = truth["agencies"][agency]
    for kind, sql in COUNTS[agency].items():
        assert len(records[kind]) == _query(out_dir, agency, sql)[0][0], kind
        keys = [r["key"] for r in records[kind]]
        if agency not in ("simfoni", "polri") or kind != "persons":
            assert len(set(keys)) == len(keys), kind
    world_cases = {c["id"] for c in truth["cases"]}
    world_persons = {p["id"] for p in truth["persons"]}
    assert {c["case"] for c in records["cases"]} <= world_cases
    assert {p["person"] for p in records["persons"]} <= world_persons


CASE_ROWS = {
    "simfoni": "SELECT id_kasus, no_registrasi, tgl_lapor, kode_wilayah, negara_tujuan FROM kasus",
    "polri": "SELECT no_lp, no_lp, tgl_lp, provinsi || '|' || kabupaten, negara FROM laporan_polisi",
    "lpsk": "SELECT no_permohonan, no_permohonan, tanggal_permohonan, kode_kabupaten,"
    " negara_kejadian FROM permohonan",
    "bp2mi": "SELECT id_pengaduan, no_pengaduan, tanggal_pengaduan, kab_asal, negara_penempatan"
    " FROM pengaduan",
    "kemlu": "SELECT case_id, case_id, opened_at, NULL, country_iso3 FROM cases",
}
COUNTRY_NAMES = {
    "Malaysia": "MY",
    "Arab Saudi": "SA",
    "Hongkong": "HK",
    "Kamboja": "KH",
    "Taiwan": "TW",
    "Myanmar": "MM",
    "Uni Emirat Arab": "AE",
    "Jepang": "JP",
    "Korea Selatan": "KR",
    "Singapura": "SG",
    "Filipina": "PH",
}
ISO3 = {
    "MYS": "MY",
    "SAU": "SA",
    "HKG": "HK",
    "KHM": "KH",
    "TWN": "TW",
    "MMR": "MM",
    "ARE": "AE",
    "JPN": "JP",
    "KOR": "KR",
    "SGP": "SG",
    "PHL": "PH",
}


def _national_case(agency: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Decode one case row by the document's rules, independently of the generator."""
    key, source_key, when, region, country = row
    if agency == "polri":
        when = datetime.strptime(when, "%d/%m/%Y").date().isoformat()
        province, regency = region.split("|")
        region = next(c for c, (p, n) in REGENCIES.items() if n == regency and PROVINCES[p] == province)
        country = COUNTRY_NAMES[country] if country else None
    elif agency == "lpsk":
        region = f"{region[:2]}.{region[2:]}"
    elif agency == "bp2mi":
        when = when[:10]
        region = next(c for c, (_, n) in REGENCIES.items() if _upper_regency(n) == region)
        country = COUNTRY_NAMES[country]
    elif agency == "kemlu":
        when = datetime.fromtimestamp(when, UTC).date().isoformat()
        country = ISO3[country]
    return (str(key), source_key, when, region, country)


@pytest.mark.parametrize("agency", AGENCIES)
def test_truth_cases_match_the_rows(out_dir: Path, truth: dict, agency: str) -> None:
    expected = {_national_case(agency, r) for r in _query(out_dir, agency, CASE_ROWS[agency])}
    got = {
        (c["key"], c["source_key"], c["reported_at"], c["region"], c["country"])
        for c in truth["agencies"][agency]["cases"]
    }
    assert got == expected


def test_retired_simfoni_codes_come_out_unknown(out_dir: Path, truth: dict) -> None:
    retired = _query(
        out_dir,
        "simfoni",
        "SELECT DISTINCT id_kasus FROM kasus_eksploitasi WHERE kode_eksploitasi = 'XX-LAMA'",
    )
    unknown = {
        c["key"] for c in truth["agencies"]["simfoni"]["cases"] if "UNKNOWN" in c["exploitation_types"]
    }
    assert unknown == {str(r[0]) for r in retired}
    assert unknown, "the demo data should contain the retired code"


def test_polri_stage_is_the_latest_tahapan(out_dir: Path, truth: dict) -> None:
    stages = {
        "LIDIK": "INQUIRY",
        "SIDIK": "INVESTIGATION",
        "P19": "DOSSIER_RETURNED",
        "P21": "DOSSIER_COMPLETE",
        "TAHAP2": "HANDOVER_TO_PROSECUTOR",
        "SP3": "DISCONTINUED",
    }
    latest = dict(_query(out_dir, "polri", "SELECT no_lp, tahap FROM tahapan ORDER BY id"))
    for case in truth["agencies"]["polri"]["cases"]:
        assert case["stage"] == stages.get(latest.get(case["key"]), "REPORTED")
    rows = _query(out_dir, "polri", "SELECT no_lp, tgl FROM tahapan ORDER BY id")
    by_report: dict[str, list[date]] = {}
    for no_lp, tgl in rows:
        by_report.setdefault(no_lp, []).append(datetime.strptime(tgl, "%d/%m/%Y").date())
    assert all(days == sorted(days) for days in by_report.values())


def test_polri_ages_come_from_birth_date_else_umur(out_dir: Path, truth: dict) -> None:
    rows = _query(
        out_dir,
        "polri",
        "SELECT k.id, k.tgl_lahir, k.umur, l.tgl_lp FROM korban k JOIN laporan_polisi l ON l.no_lp = k.no_lp",
    )
    bands = [
        (5, "AGE_0_5"),
        (12, "AGE_6_12"),
        (17, "AGE_13_17"),
        (24, "AGE_18_24"),
        (44, "AGE_25_44"),
        (59, "AGE_45_59"),
        (999, "AGE_60_PLUS"),
    ]
    victims = {p["key"]: p for p in truth["agencies"]["polri"]["persons"] if p["roles"] == ["VICTIM"]}
    for key, born, umur, reported in rows:
        on = datetime.strptime(reported, "%d/%m/%Y").date()
        age = _age(datetime.strptime(born, "%d/%m/%Y").date(), on) if born else umur
        band = "UNKNOWN" if age is None else next(b for top, b in bands if age <= top)
        assert victims[str(key)]["age_group"] == band
        assert victims[str(key)]["is_child"] == (None if age is None else age < 18)


# -- scale ------------------------------------------------------------------------------------


def test_rows_grow_linearly_with_scale(report: GenerationReport, tmp_path: Path) -> None:
    double = generate(tmp_path, seed=7, scale=SCALE * 2)
    assert double.truth_cases == 2 * report.truth_cases
    assert 1.8 < double.total_rows / report.total_rows < 2.2
    for agency in AGENCIES:
        ratio = sum(double.row_counts[agency].values()) / sum(report.row_counts[agency].values())
        assert 1.6 < ratio < 2.4, agency


# -- PostgreSQL -------------------------------------------------------------------------------


async def test_postgres_gets_the_same_tables(postgres_server: Any, tmp_path: Path) -> None:
    # A database of its own: the shared test database holds the session's demo (``pg_hub``),
    # which other test files read; regenerating there at another seed changed their answers.
    postgres_url = postgres_server.create_database("generator_schemas", replace=True)
    report = generate(tmp_path, seed=7, scale=0.1, postgres_url=postgres_url)
    config = tomllib.loads((tmp_path / "hub.toml").read_text(encoding="utf-8"))
    assert [(s["name"], s["url"], s["schema"]) for s in config["sources"]] == [
        (a, postgres_url, a) for a in AGENCIES
    ]
    assert report.backend == "postgresql"
    conn = await asyncpg.connect(postgres_url)
    try:
        for agency in AGENCIES:
            for table, columns in DOC[agency].items():
                count = await conn.fetchval(f"SELECT count(*) FROM {agency}.{table}")
                assert count == report.row_counts[agency][table], f"{agency}.{table}"
                info = await conn.fetch(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                    " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                    agency,
                    table,
                )
                assert [(r[0], r[1].upper(), r[2] == "YES") for r in info] == [
                    (c, kind, nullable) for c, kind, nullable, _ in columns
                ]
        indexes = {
            r[0] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'polri'")
        }
        assert {"ix_tahapan_no_lp", "ix_korban_no_lp", "ix_laporan_polisi_tgl_lp"} <= indexes
        # The SQLite file and the PostgreSQL schema hold the same rows.
        sqlite_rows = _query(tmp_path, "simfoni", "SELECT * FROM korban ORDER BY id_korban")
        pg_rows = await conn.fetch("SELECT * FROM simfoni.korban ORDER BY id_korban")
        assert [tuple(r) for r in pg_rows] == sqlite_rows
    finally:
        await conn.close()
    # Generating again drops and recreates the schemas.
    again = generate(tmp_path, seed=7, scale=0.05, postgres_url=postgres_url)
    conn = await asyncpg.connect(postgres_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM kemlu.cases")
        assert count == again.row_counts["kemlu"]["cases"]
    finally:
        await conn.close()
