"""``dataQuality``: per source and national field, measured in the source's own database.

Expected values come from direct SQL on the demo databases and from the mapping files read
with tomllib — never from the code under test.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.server.app import Hub
from hub.vocabulary.model import CaseStage, ExploitationType
from resolvers.schema import schema

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "adapters" / "mappings"

QUERY = """
query($sources: [String!]) {
  dataQuality(sources: $sources) {
    source status agency { code } measuredAt unmappedCount parseFailures invalidNiks
    rows { entity part rows }
    fields {
      entity part table field columns mapped constant rows nonNull completeness
      unmappedCount unmappedValues { value count mapsTo }
      parseFailures parseFailureExamples { value count }
      invalidNiks nikProblems { value count }
      suspicious { value count }
      approximateMatches { value count mapsTo }
      coverage { vocabulary covered missing ratio }
      mappingLine error
    }
  }
}"""


def sql(demo_dir: Path, source: str, statement: str) -> Any:
    with contextlib.closing(sqlite3.connect(demo_dir / f"{source}.sqlite")) as db:
        return db.execute(statement).fetchone()[0]


def codes(source: str, name: str) -> dict[str, Any]:
    mapping = tomllib.loads((MAPPINGS / f"{source}.toml").read_text(encoding="utf-8"))
    return mapping["codes"][name]


#: LPSK's data officer: the one role that may see every record of every demo source (LPSK's
#: protected witnesses included), so every source can be measured for them.
DATA_OFFICER = Principal(subject="quality", role="caseworker", agency="LPSK", purpose="data quality")


async def report(hub: Hub, sources: list[str] | None = None) -> tuple[dict[str, Any], Any]:
    result = await hub.execute(QUERY, {"sources": sources}, DATA_OFFICER)
    assert not result.errors, [e.formatted for e in result.errors]
    return {r["source"]: r for r in result.data["dataQuality"]}, result.extensions


def fields_of(source_report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["part"], f["field"]): f for f in source_report["fields"]}


async def test_every_source_is_measured(hub: Hub) -> None:
    reports, _ = await report(hub)
    assert set(reports) == {"simfoni", "polri", "lpsk", "bp2mi", "kemlu"}
    assert all(r["status"] == "MEASURED" and r["measuredAt"] for r in reports.values())


async def test_a_source_with_records_hidden_from_the_asker_is_not_measured_for_them(hub: Hub) -> None:
    """Whole-table counts would tell that LPSK's protected witnesses exist: restricted for others."""
    result = await hub.execute(QUERY, {"sources": None}, Principal(role="analyst"))
    assert not result.errors
    reports = {r["source"]: r for r in result.data["dataQuality"]}
    assert reports["lpsk"]["status"] == "RESTRICTED" and reports["lpsk"]["rows"] == []
    assert reports["lpsk"]["fields"] == [] and reports["lpsk"]["unmappedCount"] == 0
    assert all(r["status"] == "MEASURED" for name, r in reports.items() if name != "lpsk")


async def test_completeness_is_counted_in_the_source(hub: Hub, demo_dir: Path) -> None:
    reports, extensions = await report(hub, ["simfoni", "polri"])
    simfoni = fields_of(reports["simfoni"])
    rows = sql(demo_dir, "simfoni", "SELECT count(*) FROM korban")
    with_nik = sql(demo_dir, "simfoni", "SELECT count(nik) FROM korban")
    nik = simfoni[("korban", "nik")]
    assert (nik["rows"], nik["nonNull"]) == (rows, with_nik)
    assert nik["completeness"] == round(100 * with_nik / rows, 2)
    phone = fields_of(reports["polri"])[("korban", "phone")]
    assert phone["nonNull"] == sql(demo_dir, "polri", "SELECT count(telp) FROM korban")
    parts = {(r["entity"], r["part"]): r["rows"] for r in reports["simfoni"]["rows"]}
    assert parts[("CASE", "kasus")] == sql(demo_dir, "simfoni", "SELECT count(*) FROM kasus")
    assert parts[("SERVICE", "layanan")] == sql(demo_dir, "simfoni", "SELECT count(*) FROM layanan")
    # COUNT and GROUP BY in the source: far fewer rows come back than the tables hold (the
    # largest groups are the distinct region codes, bounded by the ~500 regencies).
    read = {s["source"]: s["rows"] for s in extensions["sources"]}
    held = sum(
        sql(demo_dir, "simfoni", f"SELECT count(*) FROM {t}")
        for t in ("kasus", "kasus_eksploitasi", "korban", "pelaku", "layanan")
    )
    assert read["simfoni"] < held / 5


async def test_values_that_did_not_map_are_grouped_with_counts(hub: Hub, demo_dir: Path) -> None:
    reports, _ = await report(hub, ["simfoni"])
    known = "', '".join(codes("simfoni", "eksploitasi"))
    expected = sql(
        demo_dir,
        "simfoni",
        f"SELECT count(*) FROM kasus_eksploitasi WHERE kode_eksploitasi NOT IN ('{known}')",
    )
    assert expected > 0
    exploitation = fields_of(reports["simfoni"])[("kasus", "exploitation_types")]
    assert exploitation["unmappedCount"] == expected
    assert exploitation["unmappedValues"] == [{"value": "XX-LAMA", "count": expected, "mapsTo": "UNKNOWN"}]
    assert reports["simfoni"]["unmappedCount"] == expected  # nothing else is unmapped in simfoni


async def test_code_list_coverage_of_the_national_vocabulary(hub: Hub) -> None:
    reports, _ = await report(hub, ["simfoni", "kemlu"])
    stage = fields_of(reports["simfoni"])[("kasus", "stage")]["coverage"]
    produced = set(codes("simfoni", "status_kasus").values())
    national = [s.name for s in CaseStage if s.name != "UNKNOWN"]
    assert stage["vocabulary"] == "CaseStage"
    assert stage["covered"] == [s for s in national if s in produced]
    assert stage["missing"] == [s for s in national if s not in produced]
    assert stage["ratio"] == round(len(stage["covered"]) / len(national), 4)
    sex = fields_of(reports["simfoni"])[("korban", "sex")]["coverage"]
    assert sex["covered"] == ["MALE", "FEMALE"] and sex["missing"] == []
    kinds = fields_of(reports["kemlu"])[("cases", "exploitation_types")]["coverage"]
    assert set(kinds["covered"]) == set(codes("kemlu", "category").values())
    assert len(kinds["covered"]) + len(kinds["missing"]) == len(
        [e for e in ExploitationType if e.name != "UNKNOWN"]
    )


async def test_niks_are_checked_in_form(hub: Hub, demo_dir: Path) -> None:
    reports, _ = await report(hub)
    for source, table in (
        ("simfoni", "korban"),
        ("polri", "korban"),
        ("lpsk", "terlindung"),
        ("bp2mi", "pengaduan"),
    ):
        with contextlib.closing(sqlite3.connect(demo_dir / f"{source}.sqlite")) as db:
            niks = [r[0] for r in db.execute(f"SELECT nik FROM {table} WHERE nik IS NOT NULL")]
        invalid = sum(1 for n in niks if not _valid(n))
        nik = fields_of(reports[source])[(table, "nik")]
        assert nik["invalidNiks"] == invalid, source
        assert nik["unmappedValues"] == [] and nik["parseFailureExamples"] == []


def _valid(nik: str) -> bool:
    if len(nik) != 16 or not nik.isdigit():
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    return (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12 and nik[12:] != "0000"


async def test_fields_the_mapping_does_not_give_are_listed(hub: Hub) -> None:
    reports, _ = await report(hub, ["kemlu"])
    kemlu = fields_of(reports["kemlu"])
    assert kemlu[("cases", "region")]["mapped"] is False and kemlu[("cases", "region")]["nonNull"] == 0
    assert kemlu[("cases", "country")]["mapped"] is True
    assert kemlu[("citizens", "citizenship")]["constant"] is True
    line = kemlu[("cases", "country")]["mappingLine"]
    text = (MAPPINGS / "kemlu.toml").read_text(encoding="utf-8").splitlines()
    assert text[line - 1].startswith("country =")


async def test_a_source_that_is_down_is_reported_not_fatal(demo_dir: Path, tmp_path: Path) -> None:
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    config = parse_config(
        {
            "sources": [
                {"name": "polri", "mapping": "polri", "url": "sqlite:///polri.sqlite"},
                {"name": "kemlu", "mapping": "kemlu", "url": "sqlite:///missing.sqlite"},
            ]
        },
        tmp_path,
    )
    hub = Hub(config)
    await hub.start()
    try:
        result = await hub.execute("{ dataQuality { source status fields { field } } }")
        statuses = {r["source"]: r["status"] for r in result.data["dataQuality"]}
        assert statuses == {"polri": "MEASURED", "kemlu": "UNAVAILABLE"}
        assert [e.extensions for e in result.errors] == [{"code": "SOURCE_UNAVAILABLE", "source": "kemlu"}]
        result = await hub.execute('{ dataQuality(sources: ["nope"]) { source } }')
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "argument": "sources"}
    finally:
        await hub.stop()


def test_quality_types_are_described_in_english_and_indonesian() -> None:
    types = schema._schema.type_map
    for name in (
        "SourceQuality",
        "FieldQuality",
        "ValueCount",
        "VocabularyCoverage",
        "PartRows",
        "CheckFinding",
    ):
        gql_type = types[name]
        assert isinstance(gql_type, GraphQLObjectType)
        assert "(" in (gql_type.description or ""), name
        for field_name, field in gql_type.fields.items():
            assert field.description and "(" in field.description, f"{name}.{field_name}"
    assert str(types["Query"].fields["dataQuality"].type) == "[SourceQuality!]!"
