"""Mapping files for real schemas: errors at their line, the JSON Schema, approximate region names.

Expected lines are found by searching the mapping text; expected region codes are written out.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from adapters.base import MappingError
from adapters.engines import EngineOptions
from adapters.mapping import LocatedMappingError, load_mapping, load_mapping_text, parse_mapping
from adapters.mapping_schema import schema_text
from adapters.regions import match_regency
from adapters.sql import MappedSQLSource
from hub.engine.config import ConfigError, HubConfig, parse_config
from hub.server.app import Hub
from hub.support.locator import TomlLocator
from hub.vocabulary.model import CaseFilter, CaseSearch, Dimension, Measure, StatisticsRequest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "docs" / "mapping.schema.json"
SHIPPED = [
    *sorted((ROOT / "adapters" / "mappings").glob("*.toml")),
    ROOT / "examples" / "kemensos" / "mapping.toml",
]
POLRI = (ROOT / "adapters" / "mappings" / "polri.toml").read_text(encoding="utf-8")


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[occurrence - 1]


# --- the JSON Schema ----------------------------------------------------------------------------


def test_the_committed_schema_is_generated_from_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/mapping.schema.json is stale: python -m adapters.mapping_schema > docs/mapping.schema.json"
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_shipped_mapping_validates_against_the_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(tomllib.loads(path.read_text("utf-8"))))
    assert errors == []


def test_the_schema_rejects_what_the_hub_rejects() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    good = tomllib.loads(POLRI)
    for broken in (
        {**good, "case": {**good["case"], "colour": "red"}},  # unknown field
        {
            **good,
            "case": {**good["case"], "reported_at": {"column": "tgl_lp", "fromat": "unix"}},
        },  # unknown key
        {**good, "case": {**good["case"], "key": 5}},  # wrong type
        {
            **good,
            "case": {**good["case"], "reported_at": {"column": "tgl_lp", "format": "MM-DD"}},
        },  # bad format
        {**good, "sources": {}},  # unknown section
    ):
        assert list(validator.iter_errors(broken)), broken
        with pytest.raises(MappingError):
            parse_mapping(broken, "polri")


# --- errors at their line -------------------------------------------------------------------------


def test_the_locator_finds_keys_tables_and_array_items() -> None:
    locator = TomlLocator(POLRI)
    assert locator.line_of(("case", "reported_at")) == line_of(POLRI, "reported_at = {")
    assert locator.line_of(("case", 0, "region", "province_name")) == line_of(POLRI, "region = {")
    assert locator.line_of(("person", 1, "roles")) == line_of(POLRI, 'roles = { column = "status"')
    assert locator.line_of(("person", 0, "joins", 0, "on")) == line_of(POLRI, "joins = [")
    assert locator.line_of(("codes", "jk", "2")) == line_of(POLRI, '"2" = "FEMALE"')
    assert locator.line_of(("person", 2, "no_such_key")) == line_of(POLRI, "[[person]]", 3)


BROKEN = {
    "bad TOML": (POLRI.replace('key = "no_lp"', 'key = "no_lp', 1), 'key = "no_lp', "not valid TOML"),
    "unknown key": (
        POLRI.replace('format = "DD/MM/YYYY" }\nregion', 'fromat = "DD/MM/YYYY" }\nregion'),
        'fromat = "DD/MM/YYYY"',
        "unknown key 'fromat'",
    ),
    "unknown field": (POLRI.replace('full_name = "nama"', 'fullname = "nama"', 1), "fullname", "'fullname'"),
    "wrong type": (
        POLRI.replace('order_by = "id"', "order_by = 3"),
        "order_by = 3",
        "order_by must be a string",
    ),
    "missing table": (
        POLRI.replace('table = "tahapan"', 'table = "tahap"'),
        'table = "tahap"',
        "'tahap' does not exist",
    ),
    "missing column": (
        POLRI.replace('reference = "no_surat"', 'reference = "nomor"'),
        'reference = "nomor"',
        "nomor",
    ),
}


@pytest.mark.parametrize("kind", list(BROKEN))
async def test_a_malformed_mapping_names_key_and_line_and_stops_start_up_unless_optional(
    kind: str, demo_dir: Path, truth: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text, fragment, words = BROKEN[kind]
    (tmp_path / "polri_broken.toml").write_text(text, encoding="utf-8")
    for name in ("polri", "kemlu"):
        shutil.copy(demo_dir / f"{name}.sqlite", tmp_path / f"{name}.sqlite")
    with pytest.raises(MappingError) as raised:
        source = MappedSQLSource(
            load_mapping(tmp_path / "polri_broken.toml", "polri"),
            EngineOptions("sqlite:///polri.sqlite"),
            tmp_path,
        )
        await source.open()
    assert isinstance(raised.value, LocatedMappingError)
    expected = f"polri_broken.toml:{line_of(text, fragment)}:"
    assert any(p.startswith(expected) and words in p for p in raised.value.problems), raised.value.problems

    def config(required: bool) -> HubConfig:
        broken = {"name": "polri", "mapping": "polri_broken.toml", "url": "sqlite:///polri.sqlite"}
        return parse_config(
            {
                "hub": {"store": "sqlite:///hub-store.sqlite"},
                "sources": [
                    {**broken, "required": required},
                    {"name": "kemlu", "mapping": "kemlu", "url": "sqlite:///kemlu.sqlite"},
                ],
            },
            tmp_path,
        )

    # A required source (the default) that can never serve stops start-up, naming the line.
    hub = Hub(config(required=True))
    with pytest.raises(ConfigError) as refused:
        await hub.start()
    await hub.stop()
    assert expected in str(refused.value)
    # Declared optional, the hub starts without it and says so.
    hub = Hub(config(required=False))
    await hub.start()
    try:
        result = await hub.execute(
            '{ sources { name status } cases(filter: {agencies: ["KEMLU"]}) { totalCount } }'
        )
        assert {s["name"]: s["status"] for s in result.data["sources"]} == {"polri": "DOWN", "kemlu": "UP"}
        # Every kemlu case the generator wrote is served: the broken source takes nothing from the other.
        assert result.data["cases"]["totalCount"] == len(truth["agencies"]["kemlu"]["cases"])
        assert expected in caplog.text  # the operator's log names the line too
    finally:
        await hub.stop()


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = POLRI.replace('full_name = "nama"', "full_name = 7", 1).replace("[codes.tahap]", "[codes.tahapan]")
    with pytest.raises(LocatedMappingError) as raised:
        load_mapping_text(text, "polri", "polri.toml")
    lines = [p.line for p in raised.value.located]
    assert lines == sorted(lines) and len(lines) == 2  # full_name, and the code list tahap
    assert any("did you mean 'tahapan'" in p for p in raised.value.problems)


# --- regions as agencies type them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "province", "code", "exact"),
    [
        ("KAB. INDRAMAYU", None, "32.12", True),
        ("Kabupaten Indramajoe", None, "32.12", False),  # old spelling
        ("Kota Surabaja", None, "35.78", False),
        ("Kab. Cilacapp", None, "33.01", False),  # typo
        ("Kab Banyumass", "Jawa Tengah", "33.02", False),
        ("Semarang", None, None, None),  # a kabupaten and a kota: not guessed
        ("Antah Berantah", None, None, None),
    ],
)
def test_region_names_exact_first_then_close_variants(
    name: str, province: str | None, code: str | None, exact: bool | None
) -> None:
    found = match_regency(name, province)
    assert (found.region.code, found.exact) == (code, exact) if found else code is None


def test_approximate_matching_can_be_turned_off() -> None:
    assert match_regency("Kab. Cilacapp", None, False) is None


@pytest.fixture()
async def variants(tmp_path: Path) -> Any:
    db = sqlite3.connect(tmp_path / "v.sqlite")
    db.executescript(
        """
        CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT, kab TEXT, jenis TEXT);
        INSERT INTO kasus VALUES (1, '2023-01-01', 'Kab. Indramayu', 'TPPO'),
            (2, '2023-01-02', 'Kabupaten Indramajoe', 'TPPO'), (3, '2023-01-03', 'Kota Surabaja', 'TPPO'),
            (4, '2023-01-04', 'Kab. Cilacap', 'KDRT'), (5, '2023-01-05', 'Antah Berantah', 'TPPO');
        """
    )
    db.commit()
    db.close()
    mapping: dict[str, Any] = {
        "source": {"agency": {"code": "UJI", "name": "Uji"}},
        # A dotted bare key in TOML is a nested table: it names a column like a quoted key does.
        "case": {
            "table": "kasus",
            "key": "id",
            "where": {"kasus": {"jenis": "TPPO"}},
            "reported_at": "tgl",
            "region": {"regency_name": "kab"},
        },
    }
    source = MappedSQLSource(parse_mapping(mapping, "uji"), EngineOptions("sqlite:///v.sqlite"), tmp_path)
    await source.open()
    yield source
    await source.close()


async def test_region_filters_and_statistics_agree_with_approximate_names(variants: Any) -> None:
    cases = {c.key: c.region for c in await variants.search_cases(CaseSearch(limit=10))}
    assert cases == {"1": "32.12", "2": "32.12", "3": "35.78", "5": None}  # row 4 is filtered out
    west_java = await variants.search_cases(CaseSearch(filter=CaseFilter(regions=("32",)), limit=10))
    assert sorted(c.key for c in west_java) == ["1", "2"]
    assert await variants.count_cases(CaseFilter(regions=("35.78",))) == 1
    cells = await variants.aggregate(StatisticsRequest(Measure.CASES, (Dimension.REGENCY,)))
    assert cells == {("32.12",): 2, ("35.78",): 1, (None,): 1}
