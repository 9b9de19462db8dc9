"""The mapping compiler (:mod:`adapters.compiler`) on one small database using every field form.

A register of a fictional provincial social service (``dinsos``) is written here with sqlite3:
a row filter, two date formats, region names and codes, an ISO alpha-3 country, several codes
in one cell, a child table of means, the latest of a case's steps with a default, two person
tables (so their keys are prefixed), joins, a yes/no flag, digits-only NIKs, a code list for a
text field, and a services table without a key whose cells hold several services. Every
expected value below is written out from the rows inserted and the documented rules
(docs/mapping.md), never computed by the adapter. A second group compiles broken mappings and
checks each problem's message and the mapping line it points at (found by searching the text).

The file is small and runs in a few seconds: it is the test set of ``make mutate compiler``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, MetaData, String, create_engine, select
from sqlalchemy import column as sql_column

from adapters.base import SourceError
from adapters.compiler import (
    _country_lookup,
    compile_source,
    convert_keys,
    key_converter,
)
from adapters.engines import EngineOptions
from adapters.mapping import LocatedMappingError, load_mapping_text
from adapters.sql import MappedSQLSource
from hub.vocabulary.model import (
    AgeGroup,
    CaseFilter,
    CaseSearch,
    CaseStage,
    Dimension,
    Entity,
    ExploitationType,
    Measure,
    PersonRole,
    ServiceStatus,
    ServiceType,
    Sex,
    StatisticsRequest,
    TraffickingMeans,
)

SCHEMA = """
CREATE TABLE kasus (id INTEGER PRIMARY KEY, no_reg TEXT, tgl TEXT, jenis TEXT, kab TEXT, prov TEXT,
                    negara TEXT, bentuk TEXT);
CREATE TABLE kasus_cara (id_kasus INTEGER, kode TEXT);
CREATE TABLE tahapan (id INTEGER PRIMARY KEY, id_kasus INTEGER, tahap TEXT, urut INTEGER);
CREATE TABLE klien (id_klien INTEGER PRIMARY KEY, telp TEXT);
CREATE TABLE korban (id INTEGER PRIMARY KEY, id_kasus INTEGER NOT NULL, nama TEXT, jk TEXT, lahir TEXT,
                     umur TEXT, anak TEXT, nik TEXT, wilayah TEXT, wn TEXT, id_klien INTEGER);
CREATE TABLE pelaku (kode TEXT PRIMARY KEY, id_kasus INTEGER, status TEXT, umur INTEGER);
CREATE TABLE saksi (id INTEGER PRIMARY KEY, id_kasus INTEGER, peran TEXT);
CREATE TABLE layanan (id_kasus INTEGER, jenis TEXT, id_korban INTEGER, status TEXT);
INSERT INTO kasus VALUES
    (1, 'R-1', '05/01/2023', 'TPPO', 'Kota Semarang', 'Jawa Tengah', 'MYS', 'ES, KP'),
    (2, 'R-2', '2023-02-10', 'TPPO-ANAK', 'KAB. INDRAMAYU', 'JAWA BARAT', 'SGP', 'XX'),
    (3, 'R-3', '01/03/2023', 'KDRT', 'Kota Semarang', 'Jawa Tengah', 'MYS', 'ES'),
    (4, 'R-4', 'bukan tanggal', 'TPPO', NULL, NULL, NULL, NULL),
    (5, 'R-5', '15/04/2023', 'TPPO', 'Kota Bandung', 'Jawa Barat', 'zzz', 'KP');
INSERT INTO kasus_cara VALUES (1, 'ANC'), (1, 'TIPU'), (2, 'TIPU'), (5, 'ZZZ'), (3, 'ANC');
INSERT INTO tahapan VALUES (1, 1, 'LIDIK', 1), (2, 1, 'SIDIK', 3), (3, 1, 'P21', 2), (4, 2, 'XYZ', 1);
INSERT INTO klien VALUES (10, '0811'), (11, NULL);
INSERT INTO korban VALUES
    (1, 1, 'Ani', 'P', '10-01-2006', NULL, NULL, '3374.0101.0101.0001', '3374', 'WNI', 10),
    (2, 1, 'Budi', 'L', NULL, '25', 'Tidak', 'NIK 32', '32.73', 'WNA', 11),
    (3, 2, 'Citra', 'X', NULL, NULL, 'Ya', NULL, NULL, NULL, NULL),
    (4, 5, 'Dewi', NULL, '05-04-2005', NULL, NULL, '32 01-5', NULL, 'WNI', NULL),
    (5, 3, 'Eko', 'L', NULL, '30', NULL, NULL, NULL, NULL, NULL);
INSERT INTO pelaku VALUES ('P-1', 1, 'TSK', 40), ('P-2', 2, 'TDW', NULL), ('P-3', 1, NULL, 15);
INSERT INTO saksi VALUES (1, 4, 'SK'), (2, 1, 'SAKSI');
INSERT INTO layanan VALUES (1, 'RS;REH', 1, 'ONGOING'), (1, 'PUL', 2, 'COMPLETED'),
    (1, 'PUL', 2, 'COMPLETED'), (2, 'RS;ZZ', NULL, NULL);
"""

MAPPING = """\
[source]
agency = { code = "DINSOS", name = "Dinas Sosial Provinsi", type = "LOCAL_GOVERNMENT" }

[case]
table = "kasus"
key = "id"
source_key = "no_reg"
where = { jenis = ["TPPO", "TPPO-ANAK"] }
reported_at = { column = "tgl", format = ["DD/MM/YYYY", "YYYY-MM-DD"] }
region = { regency_name = "kab", province_name = "prov" }
country = { column = "negara", format = "alpha3" }
exploitation_types = { column = "bentuk", codes = "bentuk", split = "," }
means = { table = "kasus_cara", key = "id_kasus", column = "kode", codes = "cara" }
stage = { latest_of = "stage_event", field = "stage", default = "REPORTED" }

[[stage_event]]
table = "tahapan"
key = "id"
order_by = "urut"
case_key = "id_kasus"
stage = { column = "tahap", codes = "tahap" }

[[person]]
name = "korban"
table = "korban"
key = "id"
joins = [
    { table = "klien", on = { id_klien = "id_klien" } },
    { table = "kasus", on = { id_kasus = "id" } },
]
case_key = "id_kasus"
roles = { value = "VICTIM" }
sex = { column = "jk", codes = "jk" }
birth_date = { column = "lahir", format = "DD-MM-YYYY" }
age = "umur"
age_at = { column = "kasus.tgl", format = ["DD/MM/YYYY", "YYYY-MM-DD"] }
child = { column = "anak", format = "boolean" }
nik = { column = "nik", clean = "digits" }
domicile_region = { column = "wilayah" }
citizenship = { column = "wn", codes = "wn" }
full_name = "nama"
phone = "klien.telp"

[[person]]
name = "pelaku"
table = "pelaku"
key = "kode"
require = ["status"]
case_key = "id_kasus"
roles = { column = "status", codes = "status" }
age = "umur"

[[person]]
name = "saksi"
table = "saksi"
key = "id"
case_key = "id_kasus"
roles = { column = "peran", codes = "peran" }

[[service]]
table = "layanan"
case_key = "id_kasus"
type = { column = "jenis", codes = "layanan", split = ";" }
recipient_key = { column = "id_korban", part = "korban" }
status = "status"

[codes.bentuk]
ES = "SEXUAL_EXPLOITATION"
KP = "FORCED_LABOUR"
"*" = "OTHER"

[codes.cara]
ANC = "THREAT_OF_VIOLENCE"
TIPU = "DECEPTION"

[codes.tahap]
LIDIK = "INQUIRY"
SIDIK = "INVESTIGATION"
P21 = "DOSSIER_COMPLETE"

[codes.jk]
L = "MALE"
P = "FEMALE"

[codes.wn]
WNI = "ID"

[codes.status]
TSK = "SUSPECT"
TDW = "DEFENDANT"

[codes.peran]
SK = "VICTIM_WITNESS"
SAKSI = "WITNESS"

[codes.layanan]
RS = "SHELTER"
REH = "SOCIAL_REHABILITATION"
PUL = "REPATRIATION"
"*" = "LEGAL_AID"
"""

E = ExploitationType
CASE_KEYS = ["1", "2", "4", "5"]  # case 3 is not TPPO: left out by the row filter


def write_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.commit()
    db.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database, written once for the module (the source only reads it)."""
    folder = tmp_path_factory.mktemp("compiler")
    write_database(folder / "dinsos.sqlite")
    return folder


@pytest.fixture()
async def source(folder: Path) -> AsyncIterator[MappedSQLSource]:
    # Opened (and so compiled) for every test: ``make mutate`` then runs every test that reads
    # the source against a mutant of the compiler, not only the first test of the module.
    src = MappedSQLSource(
        load_mapping_text(MAPPING, "dinsos"), EngineOptions("sqlite:///dinsos.sqlite"), folder
    )
    await src.open()
    yield src
    await src.close()


async def test_cases_read_every_field_form(source: MappedSQLSource) -> None:
    cases = {c.key: c for c in await source.search_cases(CaseSearch(limit=50))}
    assert sorted(cases) == CASE_KEYS
    assert {k: c.source_key for k, c in cases.items()} == {"1": "R-1", "2": "R-2", "4": "R-4", "5": "R-5"}
    assert {k: c.reported_at for k, c in cases.items()} == {
        "1": date(2023, 1, 5),
        "2": date(2023, 2, 10),  # the second format
        "4": None,  # junk is no date
        "5": date(2023, 4, 15),
    }
    assert {k: c.region for k, c in cases.items()} == {"1": "33.74", "2": "32.12", "4": None, "5": "32.73"}
    assert {k: c.country for k, c in cases.items()} == {"1": "MY", "2": "SG", "4": None, "5": None}
    assert {k: set(c.exploitation_types) for k, c in cases.items()} == {
        "1": {E.SEXUAL_EXPLOITATION, E.FORCED_LABOUR},
        "2": {E.OTHER},  # an unlisted code: the "*" default
        "4": {E.UNKNOWN},  # nothing recorded
        "5": {E.FORCED_LABOUR},
    }
    m = TraffickingMeans
    assert {k: set(c.means) for k, c in cases.items()} == {
        "1": {m.THREAT_OF_VIOLENCE, m.DECEPTION},
        "2": {m.DECEPTION},
        "4": {m.UNKNOWN},  # no child row
        "5": {m.UNKNOWN},  # an unlisted code, and the list has no default
    }
    assert {k: c.stage for k, c in cases.items()} == {
        "1": CaseStage.INVESTIGATION,  # the step with the highest urut, not the highest key
        "2": None,  # its latest step has an unknown code: not the default
        "4": CaseStage.REPORTED,  # no step at all: the default
        "5": CaseStage.REPORTED,
    }
    assert {c.source for c in cases.values()} == {"dinsos"}


async def test_cases_load_by_key_and_count(source: MappedSQLSource) -> None:
    loaded = await source.load(Entity.CASE, ["5", "1", "3", "x", "99"])
    assert sorted(c.key for c in loaded) == ["1", "5"]  # 3 is filtered out, x cannot be a key
    assert await source.count_cases(CaseFilter()) == 4
    assert await source.count_cases(CaseFilter(exploitation_types=(E.FORCED_LABOUR,))) == 2
    assert await source.count_cases(CaseFilter(countries_of_exploitation=("MY",))) == 1
    assert await source.count_cases(CaseFilter(regions=("32",))) == 2
    assert await source.count_cases(CaseFilter(stages=(CaseStage.REPORTED,))) == 2
    assert await source.count_cases(CaseFilter(text="R-2")) == 1


async def test_persons_of_three_tables(source: MappedSQLSource) -> None:
    people = {p.key: p for p in await source.children(Entity.PERSON, "case_key", CASE_KEYS)}
    people = {k: p for k, p in people.items() if not k.startswith("saksi/")}
    assert sorted(people) == ["korban/1", "korban/2", "korban/3", "korban/4", "pelaku/P-1", "pelaku/P-2"]
    assert {k: p.case_key for k, p in people.items()} == {
        "korban/1": "1",
        "korban/2": "1",
        "korban/3": "2",
        "korban/4": "5",
        "pelaku/P-1": "1",
        "pelaku/P-2": "2",
    }  # pelaku P-3 has no status: left out by require
    assert {k: p.roles for k, p in people.items()} == {
        "korban/1": (PersonRole.VICTIM,),
        "korban/2": (PersonRole.VICTIM,),
        "korban/3": (PersonRole.VICTIM,),
        "korban/4": (PersonRole.VICTIM,),
        "pelaku/P-1": (PersonRole.SUSPECT,),
        "pelaku/P-2": (PersonRole.DEFENDANT,),
    }
    victims = {k: p for k, p in people.items() if k.startswith("korban/")}
    assert {k: p.sex for k, p in victims.items()} == {
        "korban/1": Sex.FEMALE,
        "korban/2": Sex.MALE,
        "korban/3": Sex.UNKNOWN,  # an unlisted code
        "korban/4": Sex.UNKNOWN,  # nothing recorded
    }
    assert {k: p.birth_date for k, p in victims.items()} == {
        "korban/1": date(2006, 1, 10),
        "korban/2": None,
        "korban/3": None,
        "korban/4": date(2005, 4, 5),
    }
    # Completed years at the case's report date: 16 (the birthday five days later), 25 (the
    # recorded age), none, and 18 (ten days after the 18th birthday).
    assert {k: (p.age_group, p.is_child) for k, p in victims.items()} == {
        "korban/1": (AgeGroup.AGE_13_17, True),
        "korban/2": (AgeGroup.AGE_25_44, False),
        "korban/3": (AgeGroup.UNKNOWN, True),  # no age: the yes/no flag
        "korban/4": (AgeGroup.AGE_18_24, False),
    }
    assert {k: p.nik for k, p in victims.items()} == {
        "korban/1": "3374010101010001",
        "korban/2": None,  # letters left: no NIK
        "korban/3": None,
        "korban/4": "32015",
    }
    assert {k: p.domicile_region for k, p in victims.items()} == {
        "korban/1": "33.74",
        "korban/2": "32.73",
        "korban/3": None,
        "korban/4": None,
    }
    assert {k: p.citizenship for k, p in victims.items()} == {
        "korban/1": "ID",
        "korban/2": None,  # not in the list, and the list has no default
        "korban/3": None,
        "korban/4": "ID",
    }
    assert {k: (p.full_name, p.phone) for k, p in victims.items()} == {
        "korban/1": ("Ani", "0811"),
        "korban/2": ("Budi", None),
        "korban/3": ("Citra", None),
        "korban/4": ("Dewi", None),
    }
    # The pelaku table gives an age but no child flag: the flag follows the age alone.
    assert {k: (p.sex, p.age_group, p.is_child) for k, p in people.items() if k.startswith("pelaku/")} == {
        "pelaku/P-1": (Sex.UNKNOWN, AgeGroup.AGE_25_44, False),  # sex not mapped: records show UNKNOWN
        "pelaku/P-2": (Sex.UNKNOWN, AgeGroup.UNKNOWN, None),
    }


async def test_the_third_table_and_its_roles(source: MappedSQLSource) -> None:
    people = await source.children(Entity.PERSON, "case_key", CASE_KEYS)
    assert sorted((p.key, p.case_key, p.roles) for p in people if p.key.startswith("saksi/")) == [
        ("saksi/1", "4", (PersonRole.VICTIM_WITNESS,)),
        ("saksi/2", "1", (PersonRole.WITNESS,)),
    ]


VICTIM_FILTERS: list[tuple[CaseFilter, list[str]]] = [
    # Unknown sex: korban/3 (an unlisted code), korban/4 (NULL), and saksi/1, whose table
    # does not map sex at all (a record shows UNKNOWN, so the filter must agree).
    (CaseFilter(victim_sex=(Sex.UNKNOWN,)), ["2", "4", "5"]),
    (CaseFilter(victim_sex=(Sex.FEMALE,)), ["1"]),
    (CaseFilter(victim_sex=(Sex.MALE,)), ["1"]),
    (CaseFilter(victim_age_groups=(AgeGroup.AGE_13_17,)), ["1"]),
    (CaseFilter(victim_age_groups=(AgeGroup.AGE_18_24,)), ["5"]),
    (CaseFilter(victim_age_groups=(AgeGroup.UNKNOWN,)), ["2", "4"]),
    (CaseFilter(child_victim=True), ["1", "2"]),
    (CaseFilter(child_victim=False), ["1", "5"]),
    # One victim must meet both: korban/1 is a girl of 16, korban/2 a man of 25.
    (CaseFilter(victim_sex=(Sex.MALE,), child_victim=True), []),
    (CaseFilter(victim_sex=(Sex.FEMALE,), child_victim=True), ["1"]),
    # Hidden victim-witnesses leave saksi/1 out: case 4 has no other victim.
    (
        CaseFilter(victim_sex=(Sex.UNKNOWN,), hidden_roles=frozenset({PersonRole.VICTIM_WITNESS})),
        ["2", "5"],
    ),
]


async def test_victim_filters_look_at_every_person_table(source: MappedSQLSource) -> None:
    found = {
        repr(victims): sorted(c.key for c in await source.search_cases(CaseSearch(filter=victims, limit=50)))
        for victims, _ in VICTIM_FILTERS
    }
    assert found == {repr(victims): expected for victims, expected in VICTIM_FILTERS}


async def test_a_source_without_person_tables_has_no_victims(tmp_path: Path) -> None:
    """Asked directly (the engine leaves such a source out of victim filters), it finds none."""
    write_database(tmp_path / "dinsos.sqlite")
    cut = MAPPING.index("[[person]]")
    text = MAPPING[:cut] + MAPPING[MAPPING.index("[codes.bentuk]") :]
    src = MappedSQLSource(
        load_mapping_text(text, "dinsos"), EngineOptions("sqlite:///dinsos.sqlite"), tmp_path
    )
    await src.open()
    try:
        assert await src.count_cases(CaseFilter()) == 4
        assert await src.count_cases(CaseFilter(victim_sex=(Sex.UNKNOWN,))) == 0
        assert await src.search_cases(CaseSearch(filter=CaseFilter(child_victim=False), limit=50)) == []
    finally:
        await src.close()


async def test_persons_load_by_prefixed_key(source: MappedSQLSource) -> None:
    loaded = await source.load(Entity.PERSON, ["pelaku/P-2", "korban/4", "korban/x", "P-1", "pelaku/P-3"])
    assert sorted(p.key for p in loaded) == ["korban/4", "pelaku/P-2"]


async def test_services_of_a_table_without_a_key_and_cells_of_several(source: MappedSQLSource) -> None:
    """Each row is numbered within its case, ordered by all its columns (the two identical
    PUL rows get 1 and 2, RS;REH sorts after them); each code of a cell is a service."""
    services = {s.key: s for s in await source.children(Entity.SERVICE, "case_key", CASE_KEYS)}
    assert {k: (s.case_key, s.type, s.recipient_key, s.status) for k, s in services.items()} == {
        "1/1#PUL": ("1", ServiceType.REPATRIATION, "korban/2", ServiceStatus.COMPLETED),
        "1/2#PUL": ("1", ServiceType.REPATRIATION, "korban/2", ServiceStatus.COMPLETED),
        "1/3#RS": ("1", ServiceType.SHELTER, "korban/1", ServiceStatus.ONGOING),
        "1/3#REH": ("1", ServiceType.SOCIAL_REHABILITATION, "korban/1", ServiceStatus.ONGOING),
        "2/1#RS": ("2", ServiceType.SHELTER, None, ServiceStatus.UNKNOWN),
        "2/1#*": ("2", ServiceType.LEGAL_AID, None, ServiceStatus.UNKNOWN),  # ZZ: the "*" default
    }
    loaded = await source.load(Entity.SERVICE, ["1/3#REH", "2/1#*", "9/1#RS"])
    assert sorted(s.key for s in loaded) == ["1/3#REH", "2/1#*"]
    received = await source.children(Entity.SERVICE, "recipient_key", ["korban/1", "pelaku/P-1", "2"])
    assert sorted(s.key for s in received) == ["1/3#REH", "1/3#RS"]


async def test_stage_events(source: MappedSQLSource) -> None:
    events = await source.children(Entity.STAGE_EVENT, "case_key", CASE_KEYS)
    assert sorted((e.key, e.case_key, e.stage) for e in events) == [
        ("1", "1", CaseStage.INQUIRY),
        ("2", "1", CaseStage.INVESTIGATION),
        ("3", "1", CaseStage.DOSSIER_COMPLETE),
        ("4", "2", None),
    ]


async def test_statistics_group_by_the_compiled_values(source: MappedSQLSource) -> None:
    cases = await source.aggregate(StatisticsRequest(Measure.CASES, (Dimension.EXPLOITATION_TYPE,)))
    assert cases == {("SEXUAL_EXPLOITATION",): 1, ("FORCED_LABOUR",): 2, ("OTHER",): 1, ("UNKNOWN",): 1}
    ages = await source.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.AGE_GROUP,)))
    # saksi/1, a victim-witness of a table without ages, has no age band either.
    assert ages == {("AGE_13_17",): 1, ("AGE_25_44",): 1, ("UNKNOWN",): 2, ("AGE_18_24",): 1}
    sexes = await source.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.SEX,)))
    # An unlisted code, a NULL, and saksi/1, whose table does not map sex.
    assert sexes == {("FEMALE",): 1, ("MALE",): 1, ("UNKNOWN",): 3}
    children = await source.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.CHILD,)))
    assert children == {("true",): 2, ("false",): 2, (None,): 1}  # saksi/1: neither
    services = await source.aggregate(StatisticsRequest(Measure.SERVICES, (Dimension.SERVICE_TYPE,)))
    assert services == {
        ("REPATRIATION",): 2,
        ("SHELTER",): 2,
        ("SOCIAL_REHABILITATION",): 1,
        ("LEGAL_AID",): 1,
    }
    stages = await source.aggregate(StatisticsRequest(Measure.CASES, (Dimension.STAGE,)))
    assert stages == {("INVESTIGATION",): 1, ("REPORTED",): 2, (None,): 1}


# --- keys -------------------------------------------------------------------------------------------


def test_keys_travel_as_text_and_integer_columns_take_integers() -> None:
    assert key_converter(sql_column("k", Integer())) is int
    assert key_converter(sql_column("k", String())) is str
    assert convert_keys(["3", "x", "3", "12", ""], int) == [3, 12]
    assert convert_keys(["b", "a", "b"], str) == ["b", "a"]


@pytest.mark.parametrize(
    ("fmt", "written", "expected"),
    [
        ("alpha2", " my ", "MY"),
        ("alpha2", "XQ", None),
        ("alpha2", "  ", None),
        ("alpha3", "MYS", "MY"),
        ("alpha3", "", None),
        ("name", "Malaysia", "MY"),
        ("name", "Atlantis", None),
    ],
)
def test_country_formats(fmt: str, written: str, expected: str | None) -> None:
    assert _country_lookup(sql_column("negara"), fmt).resolve(written) == expected


# --- problems at their line -------------------------------------------------------------------------


def _tables(path: Path) -> dict[str, Any]:
    write_database(path)
    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    metadata.reflect(engine)
    engine.dispose()
    return dict(metadata.tables)


def _line(text: str, needle: str, start: str | None = None) -> int:
    """The 1-based line of the first ``needle`` (after the line holding ``start``)."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if start in line) if start else 0
    return next(i for i, line in enumerate(lines) if i >= first and needle in line) + 1


def _problems(text: str, tables: dict[str, Any]) -> list[tuple[int | None, str]]:
    with pytest.raises(LocatedMappingError) as raised:
        compile_source(load_mapping_text(text, "dinsos"), tables)
    assert raised.value.source == "dinsos"
    return [(p.line, p.message) for p in raised.value.located]


def test_every_missing_column_is_reported_at_its_line(tmp_path: Path) -> None:
    text = (
        MAPPING.replace('source_key = "no_reg"', 'source_key = "nomor"')
        .replace('on = { id_klien = "id_klien" }', 'on = { id_klien = "klien_id" }')
        .replace('full_name = "nama"', 'full_name = "rujukan.nama"')
        .replace('key = "id_kasus", column = "kode"', 'key = "id_kasus", column = "kode_cara"')
        .replace('where = { jenis = ["TPPO", "TPPO-ANAK"] }', 'where = { kategori = ["TPPO"] }')
        .replace('require = ["status"]', 'require = ["aktif"]')
    )
    # Every problem of the file at once, in the order of their lines.
    assert _problems(text, _tables(tmp_path / "db.sqlite")) == sorted(
        [
            (_line(text, "where = "), "case part 'kasus': column kategori does not exist"),
            (_line(text, "source_key"), "case part 'kasus': column nomor does not exist"),
            (_line(text, "means = "), "case part 'kasus'.means: child table columns not found"),
            (
                _line(text, 'table = "klien"'),
                "person part 'korban': join korban.id_klien = klien.klien_id: no such column",
            ),
            (
                _line(text, "full_name"),
                "person part 'korban': rujukan.nama names a table that is neither the part's nor joined",
            ),
            (_line(text, "require = "), "person part 'pelaku': column aktif does not exist"),
        ]
    )


def test_latest_of_needs_a_usable_section(tmp_path: Path) -> None:
    tables = _tables(tmp_path / "db.sqlite")
    stage = "stage = { latest_of"
    no_order = MAPPING.replace('order_by = "urut"', 'order_by = "langkah"')
    assert _problems(no_order, tables) == [
        (_line(no_order, stage), "case part 'kasus'.stage: order_by column of [stage_event] not found")
    ]
    keyless = MAPPING.replace('key = "id"\norder_by', "order_by")
    assert _problems(keyless, tables) == [
        (
            _line(keyless, stage),
            "case part 'kasus'.stage: [stage_event].stage must be a plain column, with key and case_key",
        )
    ]
    from_services = MAPPING.replace(
        'stage = { latest_of = "stage_event", field = "stage", default = "REPORTED" }',
        'stage = { latest_of = "service", field = "status" }',
    )
    assert _problems(from_services, tables) == [
        (
            _line(from_services, "latest_of"),
            "case part 'kasus'.stage: [service].status must be a plain column, with key and case_key",
        )
    ]
    section = '[[stage_event]]\ntable = "tahapan"\nkey = "id"\norder_by = "urut"\ncase_key = "id_kasus"\n'
    twice = MAPPING.replace(section, section + 'stage = { column = "tahap", codes = "tahap" }\n\n' + section)
    assert twice.count("[[stage_event]]") == 2
    assert _problems(twice, tables) == [
        (_line(twice, stage), "case part 'kasus'.stage: latest_of needs a single-table [stage_event] section")
    ]
    renamed = MAPPING.replace('stage = { column = "tahap", codes', 'stage = { column = "langkah", codes')
    assert _problems(renamed, tables) == sorted(
        [
            (_line(renamed, stage), "case part 'kasus'.stage: column langkah not found"),
            (_line(renamed, 'column = "langkah"'), "stage part 'tahapan': column langkah does not exist"),
        ]
    )


def test_a_table_without_a_key_needs_its_own_case_key_column(tmp_path: Path) -> None:
    tables = _tables(tmp_path / "db.sqlite")
    joined = MAPPING.replace(
        'table = "layanan"\ncase_key = "id_kasus"',
        'table = "layanan"\njoins = [{ table = "kasus", on = { id_kasus = "id" } }]\ncase_key = "kasus.id"',
    )
    assert _problems(joined, tables) == [
        (
            _line(joined, "case_key", start="[[service]]"),
            "service part 'layanan': without a key, case_key must be a column of its table",
        )
    ]
    missing = MAPPING.replace(
        'table = "layanan"\ncase_key = "id_kasus"', 'table = "layanan"\ncase_key = "kasus_id"'
    )
    assert _problems(missing, tables) == [
        (
            _line(missing, "case_key", start="[[service]]"),
            "service part 'layanan': column kasus_id does not exist",
        )
    ]


async def test_a_person_table_that_cannot_name_its_case_is_passed_over(tmp_path: Path) -> None:
    """A person table whose case_key is a constant relates no record to a case: victim filters
    go on to the person tables after it."""
    write_database(tmp_path / "dinsos.sqlite")
    first = MAPPING.index("[[person]]")
    text = (
        MAPPING[:first]
        + '[[person]]\nname = "anonim"\ntable = "saksi"\nkey = "id"\ncase_key = { value = "1" }\n'
        + 'roles = { value = "VICTIM" }\n\n'
        + MAPPING[first:]
    )
    src = MappedSQLSource(
        load_mapping_text(text, "dinsos"), EngineOptions("sqlite:///dinsos.sqlite"), tmp_path
    )
    await src.open()
    try:
        found = await src.search_cases(CaseSearch(filter=CaseFilter(victim_sex=(Sex.FEMALE,)), limit=50))
        assert [c.key for c in found] == ["1"]
    finally:
        await src.close()


async def test_split_services_without_a_code_list(tmp_path: Path) -> None:
    """National names in the cell; a name that is no service type is OTHER."""
    write_database(tmp_path / "dinsos.sqlite")
    db = sqlite3.connect(tmp_path / "dinsos.sqlite")
    db.executescript(
        "DELETE FROM layanan; INSERT INTO layanan VALUES (1, 'SHELTER; REPATRIATION', 1, 'PLANNED'), "
        "(2, 'FOO;LEGAL_AID', NULL, 'REFUSED');"
    )
    db.commit()
    db.close()
    text = MAPPING.replace(
        'type = { column = "jenis", codes = "layanan", split = ";" }',
        'type = { column = "jenis", split = ";" }',
    )
    src = MappedSQLSource(
        load_mapping_text(text, "dinsos"), EngineOptions("sqlite:///dinsos.sqlite"), tmp_path
    )
    await src.open()
    try:
        services = await src.children(Entity.SERVICE, "case_key", CASE_KEYS)
        assert sorted((s.key, s.type, s.status) for s in services) == [
            ("1/1#REPATRIATION", ServiceType.REPATRIATION, ServiceStatus.PLANNED),
            ("1/1#SHELTER", ServiceType.SHELTER, ServiceStatus.PLANNED),
            ("2/1#*", ServiceType.OTHER, ServiceStatus.REFUSED),
            ("2/1#LEGAL_AID", ServiceType.LEGAL_AID, ServiceStatus.REFUSED),
        ]
    finally:
        await src.close()


def test_the_case_table_must_give_a_report_date(tmp_path: Path) -> None:
    tables = _tables(tmp_path / "db.sqlite")
    assert compile_source(load_mapping_text(MAPPING, "dinsos"), tables).case_part().part.table == "kasus"
    undated = MAPPING.replace('reported_at = { column = "tgl", format = ["DD/MM/YYYY", "YYYY-MM-DD"] }\n', "")
    with pytest.raises(SourceError) as raised:
        compile_source(load_mapping_text(undated, "dinsos"), tables).case_part()
    assert str(raised.value) == "source 'dinsos' has no case table with a report date"


def test_age_in_years_of_each_person_table(tmp_path: Path) -> None:
    """Completed years at the report (the rule of docs/mapping.md), evaluated by SQLite; none
    for a table that gives no age."""
    path = tmp_path / "db.sqlite"
    tables = _tables(path)
    compiled = compile_source(load_mapping_text(MAPPING, "dinsos"), tables)
    korban, pelaku, saksi = compiled.parts_of(Entity.PERSON)
    years = compiled.age_years(korban)
    assert years is not None
    assert compiled.age_years(pelaku) is not None and compiled.age_years(saksi) is None
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(korban.key_column, years).select_from(korban.from_clause)).all()
    finally:
        engine.dispose()
    assert sorted(rows) == [(1, 16), (2, 25), (3, None), (4, 18), (5, 30)]


def test_part_prefixes_relations_and_incomplete_databases(tmp_path: Path) -> None:
    tables = _tables(tmp_path / "db.sqlite")
    compiled = compile_source(load_mapping_text(MAPPING, "dinsos"), tables)
    assert compiled.tables is not None and set(compiled.tables) == set(tables)
    (service,) = compiled.parts_of(Entity.SERVICE)
    assert service.prefix == ""  # one service table: keys as they are
    recipient = service.relation_columns["recipient_key"][1]
    assert recipient("korban/7") == 7  # an integer column takes an integer
    with pytest.raises(ValueError, match=r"^key of another table$"):
        recipient("pelaku/7")
    # Two person tables are enough for prefixed keys.
    two = MAPPING[: MAPPING.index('[[person]]\nname = "saksi"')] + MAPPING[MAPPING.index("[[service]]") :]
    two = two.replace('SK = "VICTIM_WITNESS"\nSAKSI = "WITNESS"\n', "").replace("[codes.peran]\n", "")
    assert [
        p.prefix for p in compile_source(load_mapping_text(two, "dinsos"), tables).parts_of(Entity.PERSON)
    ] == [
        "korban/",
        "pelaku/",
    ]
    # Without the services table only the parts whose tables exist are compiled (to report
    # every problem of the others at once).
    partial = {name: table for name, table in tables.items() if name != "layanan"}
    incomplete = compile_source(load_mapping_text(MAPPING, "dinsos"), partial, complete=False)
    assert incomplete.parts_of(Entity.SERVICE) == []
    assert [p.part.name for p in incomplete.parts_of(Entity.PERSON)] == ["korban", "pelaku", "saksi"]


def test_the_fenced_layer_of_a_persons_parents_on_postgresql(tmp_path: Path) -> None:
    """PostgreSQL only: the layer with the parent-key condition inside and OFFSET 0 to keep it
    whole (issue 13), the same columns as the plain layer, built once per relation. Other
    databases, a layer compiled without a dialect and an unknown relation use the plain layer."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    tables = _tables(tmp_path / "db.sqlite")
    mapping = load_mapping_text(MAPPING, "dinsos")
    korban = compile_source(mapping, tables, dialect=postgresql.dialect()).parts_of(Entity.PERSON)[0]
    assert korban.narrow is not None
    fenced = korban.narrow.of_parents("rel0")  # rel0: the case_key relation, korban.id_kasus
    assert fenced is not None and korban.narrow.of_parents("rel0") is fenced
    assert [c.name for c in fenced.c] == [c.name for c in korban.from_clause.c]
    sql = str(select(fenced.c.k).compile(dialect=postgresql.dialect()))
    assert sql.endswith(
        "LEFT OUTER JOIN kasus AS j_kasus ON korban.id_kasus = j_kasus.id \n"
        "WHERE korban.id_kasus IN (__[POSTCOMPILE_keys])\n LIMIT ALL OFFSET 0) AS v_korban"
    )
    assert sql.count("POSTCOMPILE_keys") == 1 and "__tppo_parent_keys__" not in sql
    assert korban.narrow.of_parents("rel9") is None
    on_sqlite = compile_source(mapping, tables, dialect=sqlite_dialect.dialect()).parts_of(Entity.PERSON)[0]
    assert on_sqlite.narrow is not None and on_sqlite.narrow.of_parents("rel0") is None
    plain = compile_source(mapping, tables).parts_of(Entity.PERSON)[0]
    assert plain.narrow is not None and plain.narrow.of_parents("rel0") is None


# --- the data-quality report reads the compiled values ---------------------------------------------


async def test_data_quality_counts_what_each_field_form_could_not_read(source: MappedSQLSource) -> None:
    """``dataQuality`` counts, per field, the source values present but read as nothing, from
    the compiled value and its raw column (the rows above, counted by hand)."""
    from adapters.quality import measure

    report = await measure(source, today=date(2026, 1, 1))
    fields = {(q.part, q.field): q for q in report.fields}

    def seen(part: str, name: str) -> tuple[int, int, int, int]:
        q = fields[(part, name)]
        assert q.error is None, (part, name, q.error)
        return (q.rows, q.non_null, q.parse_failures, q.unmapped_count)

    assert report.rows == {
        "case:kasus": 4,  # case 3 is left out by the row filter
        "person:korban": 5,
        "person:pelaku": 2,  # P-3 has no status: left out by require
        "person:saksi": 2,
        "service:layanan": 6,  # a row per service of a cell
        "stage:tahapan": 4,
    }
    assert seen("kasus", "reported_at") == (4, 3, 1, 0)  # 'bukan tanggal'
    assert [(v.value, v.count) for v in fields[("kasus", "reported_at")].parse_examples] == [
        ("bukan tanggal", 1)
    ]
    assert seen("kasus", "country") == (4, 2, 0, 1)  # 'zzz' is no alpha-3 code
    assert seen("kasus", "region") == (4, 3, 0, 0)
    # An empty cell reads as UNKNOWN in records but is no value of the source: case 4's NULL.
    assert seen("kasus", "exploitation_types") == (4, 3, 0, 1)  # 'XX': the "*" default
    # Cases 1 and 2 name known means; case 5 only 'ZZZ' (read as UNKNOWN), case 4 none.
    assert seen("kasus", "means") == (4, 2, 0, 1)
    assert seen("korban", "birth_date") == (5, 2, 0, 0)
    assert seen("korban", "age") == (5, 2, 0, 0)
    assert seen("korban", "child") == (5, 2, 0, 0)
    assert seen("korban", "nik") == (5, 2, 1, 0)  # 'NIK 32' keeps letters
    assert fields[("korban", "nik")].invalid_niks == 1  # '32015': not 16 characters
    assert seen("korban", "sex") == (5, 4, 0, 1)  # korban/4's NULL; 'X' is a value not in the list
    assert seen("layanan", "status") == (6, 4, 0, 0)  # the RS;ZZ row's two services have none
    assert seen("pelaku", "age") == (2, 1, 0, 0)
    assert seen("layanan", "type")[3] == 1  # 'RS;ZZ': ZZ by the "*" default


def test_problems_point_at_the_line_inside_a_sub_table(tmp_path: Path) -> None:
    """Joins and row filters written as TOML sub-tables, and the key and service type columns:
    each missing column is reported at the line that names it, not at its section's."""
    joins = (
        'joins = [\n    { table = "klien", on = { id_klien = "id_klien" } },\n'
        '    { table = "kasus", on = { id_kasus = "id" } },\n]\n'
    )
    assert joins in MAPPING
    sub_tables = (
        '\n[[person.joins]]\ntable = "klien"\non = { id_klien = "klien_id" }\n'
        '\n[[person.joins]]\ntable = "kasus"\non = { id_kasus = "id" }\n'
    )
    text = (
        MAPPING.replace(joins, "")
        .replace('phone = "klien.telp"\n', 'phone = "klien.telp"\n' + sub_tables)
        .replace('where = { jenis = ["TPPO", "TPPO-ANAK"] }\n', "")
        .replace("\n[[stage_event]]", '\n[case.where]\njenis = ["TPPO"]\nkategori = ["X"]\n\n[[stage_event]]')
        .replace('table = "saksi"\nkey = "id"', 'table = "saksi"\nkey = "nomor"')
        .replace('type = { column = "jenis", codes', 'type = { column = "jenis_layanan", codes')
    )
    assert _problems(text, _tables(tmp_path / "db.sqlite")) == sorted(
        [
            (_line(text, "kategori = "), "case part 'kasus': column kategori does not exist"),
            (
                _line(text, 'on = { id_klien = "klien_id" }'),
                "person part 'korban': join korban.id_klien = klien.klien_id: no such column",
            ),
            (_line(text, 'key = "nomor"'), "person part 'saksi': column nomor does not exist"),
            (
                _line(text, 'column = "jenis_layanan"'),
                "service part 'layanan': column jenis_layanan does not exist",
            ),
        ]
    )


async def test_constant_values_serve_records_filters_and_statistics(tmp_path: Path) -> None:
    """A table whose every row has the same value says so with ``{ value = … }``: an enum
    member (not a list, for a single-valued field) or a plain value, the same in a record, a
    filter and a count."""
    write_database(tmp_path / "dinsos.sqlite")
    text = MAPPING.replace(
        'case_key = "id_kasus"\nroles = { column = "peran", codes = "peran" }',
        'case_key = "id_kasus"\nroles = { column = "peran", codes = "peran" }\n'
        'sex = { value = "FEMALE" }\ncitizenship = { value = "ID" }',
    )
    assert text != MAPPING
    options = EngineOptions("sqlite:///dinsos.sqlite")
    src = MappedSQLSource(load_mapping_text(text, "dinsos"), options, tmp_path)
    await src.open()
    try:
        people = await src.children(Entity.PERSON, "case_key", CASE_KEYS)
        assert sorted((p.key, p.sex, p.citizenship) for p in people if p.key.startswith("saksi/")) == [
            ("saksi/1", Sex.FEMALE, "ID"),
            ("saksi/2", Sex.FEMALE, "ID"),
        ]
        # korban/1 and the victim-witness saksi/1 of case 4 (saksi/2 is a witness, no victim).
        females = await src.search_cases(CaseSearch(filter=CaseFilter(victim_sex=(Sex.FEMALE,)), limit=50))
        assert sorted(c.key for c in females) == ["1", "4"]
        assert await src.count_cases(CaseFilter(victim_sex=(Sex.UNKNOWN,))) == 2  # cases 2 and 5
        sexes = await src.aggregate(StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.SEX,)))
        assert sexes == {("FEMALE",): 2, ("MALE",): 1, ("UNKNOWN",): 2}
        from adapters.quality import measure

        fields = {(q.part, q.field): q for q in (await measure(src, today=date(2026, 1, 1))).fields}
        assert [(q.constant, q.rows, q.non_null) for q in (fields[("saksi", "sex")],)] == [(True, 2, 2)]
    finally:
        await src.close()


# --- regions: codes, names, a province column, a constant province, aliases, close variants ------

REGION_ROWS = [
    # (id, regency name, province name, code)
    (1, "Banjar", "Kalimantan Selatan", " 32.73 "),  # Kabupaten Banjar (63.03) by its province
    (2, "Banjar", "Jawa Barat", "3374"),  # Kota Banjar (32.79)
    (3, "Kab Kita", None, "99.99"),  # only the mapping's own alias knows it; no such code
    (4, "Kab. Cilacapp", "Jawa Tengah", None),  # a typo of Kabupaten Cilacap (33.01)
    (5, None, None, "x"),
    (6, "Kota Bandung", None, "3273011001"),  # a village code: its regency, 32.73
]
REGION_MAPPINGS = {
    "names": 'region = { regency_name = "kab", province_name = "prov", aliases = { "Kab Kita" = "32.04" } }',
    "exact names": 'region = { regency_name = "kab", province_name = "prov", fuzzy = false }',
    "in province 32": 'region = { regency_name = "kab", province = "32" }',
    "codes": 'region = { column = "kode" }',
}
#: Per mapping, each case's region as docs/mapping.md's rules and the Kemendagri list give it.
REGION_EXPECTED = {
    "names": {"1": "63.03", "2": "32.79", "3": "32.04", "4": "33.01", "5": None, "6": "32.73"},
    "exact names": {"1": "63.03", "2": "32.79", "3": None, "4": None, "5": None, "6": "32.73"},
    # Names matched inside the province; a blank name is the province itself.
    "in province 32": {"1": "32.79", "2": "32.79", "3": None, "4": None, "5": "32", "6": "32.73"},
    "codes": {"1": "32.73", "2": "33.74", "3": None, "4": None, "5": None, "6": "32.73"},
}


@pytest.mark.parametrize("form", sorted(REGION_MAPPINGS))
async def test_region_forms_in_records_filters_statistics_and_quality(tmp_path: Path, form: str) -> None:
    db = sqlite3.connect(tmp_path / "wilayah.sqlite")
    db.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, prov TEXT, kode TEXT)")
    db.executemany("INSERT INTO kasus VALUES (?, '2023-01-01', ?, ?, ?)", REGION_ROWS)
    db.commit()
    db.close()
    text = (
        '[source]\nagency = { code = "DINSOS", name = "Dinas Sosial", type = "LOCAL_GOVERNMENT" }\n\n'
        f'[case]\ntable = "kasus"\nkey = "id"\nreported_at = "tgl"\n{REGION_MAPPINGS[form]}\n'
    )
    options = EngineOptions("sqlite:///wilayah.sqlite")
    src = MappedSQLSource(load_mapping_text(text, "wilayah"), options, tmp_path)
    await src.open()
    try:
        expected = REGION_EXPECTED[form]
        cases = await src.search_cases(CaseSearch(limit=50))
        assert {c.key: c.region for c in cases} == expected
        in_32 = sorted(k for k, code in expected.items() if code is not None and code.startswith("32"))
        found = await src.search_cases(CaseSearch(filter=CaseFilter(regions=("32",)), limit=50))
        assert sorted(c.key for c in found) == in_32
        provinces: dict[tuple[str | None], int] = {}
        for code in expected.values():
            province = (code.split(".")[0] if code else None,)
            provinces[province] = provinces.get(province, 0) + 1
        assert await src.aggregate(StatisticsRequest(Measure.CASES, (Dimension.PROVINCE,))) == provinces
        from adapters.quality import measure

        (region,) = [q for q in (await measure(src, today=date(2026, 1, 1))).fields if q.field == "region"]
        # Values present in the source that read as no region (a blank name is no value).
        unread = sum(
            1
            for i, name, _, code in REGION_ROWS
            if expected[str(i)] is None and (code if form == "codes" else name)
        )
        assert (region.non_null, region.unmapped_count) == (
            sum(v is not None for v in expected.values()),
            unread,
        )
    finally:
        await src.close()
