"""``tppo-hub indicators export``: a period's indicators with metadata, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.access.policy import DEFAULT_K
from hub.engine.indicators import builtin_registry
from hub.server.cli import main
from tests.indicator_truth import Truth
from tests.linkage_helpers import linked_fixture  # noqa: F401 - fixture


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_export_as_coordinator_is_exact(
    demo_dir: Path, truth: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(demo_dir / "hub.toml")
    code, out, _ = run(
        capsys,
        "indicators",
        "export",
        "--config",
        config,
        "--format",
        "json",
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
        "--role",
        "coordinator",
        "--indicator",
        "enforcement.case_funnel",
        "--indicator",
        "coordination.freshness",
        "--by",
        "year",
    )
    assert code == 0
    document = json.loads(out)
    assert document["period"] == {"from": "2023-01-01", "to": "2023-12-31"}
    assert document["disclosureControlled"] is False
    funnel, freshness = document["indicators"]
    assert funnel["indicator"]["metadata"]["formula"].startswith("cases that reached step i")
    # Case indicators need no linkage: they equal the ground truth exactly.
    spec = builtin_registry().get("enforcement.case_funnel")
    assert spec is not None
    want = Truth(truth).evaluate(spec, ["YEAR"], ("2023-01-01", "2023-12-31"))
    got = {(t["keys"][0]["value"], None): (t["numerator"], t["denominator"]) for t in funnel["totals"]}
    got |= {
        (v["keys"][0]["value"], (v["keys"][1]["value"],)): (v["numerator"], v["denominator"])
        for v in funnel["values"]
    }
    assert got == {key: figure[:2] for key, figure in want.items()}
    assert freshness["asOf"] == "2023-12-31"


def test_csv_export_is_disclosure_controlled_by_default(
    demo_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "indicators.csv"
    code, out, _ = run(
        capsys,
        "indicators",
        "export",
        "--config",
        str(demo_dir / "hub.toml"),
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--by",
        "PROVINCE",
        "--output",
        str(target),
    )
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {r["indicator"] for r in rows} == {i.id for i in builtin_registry()}
    assert all(r["period_from"] == "2024-01-01" and r["formula"] and r["name_id"] for r in rows)
    assert any(r["suppressed"] == "true" for r in rows)
    for row in rows:
        for column in ("numerator", "denominator"):
            if row[column]:
                assert int(row[column]) == 0 or int(row[column]) >= DEFAULT_K, row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--indicator", "no.such"], "unknown indicator(s): no.such"),
        (["--from", "2024-13-01"], "--from must be a date"),
        (["--from", "2024-02-01", "--to", "2024-01-01"], "--from is after --to"),
        (["--role", "king"], "--role must be one of"),
    ],
)
def test_bad_arguments_exit_2(
    demo_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "indicators", "export", "--config", str(demo_dir / "hub.toml"), *args)
    assert code == 2 and message in err


async def test_readme_worked_example_is_what_the_export_writes(demo_dir: Path, linked: Any) -> None:
    """The README's worked example, run as written on the linked demo data."""
    from hub.engine.config import load_config
    from hub.server.indicator_export import ExportRequest, export

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("columns cut to `indicator,keys,numerator,denominator,value,suppressed`):\n\n```\n")[
        1
    ]
    expected = block.split("```")[0].splitlines()
    request = ExportRequest(
        period_from=date(2024, 1, 1),
        period_to=date(2024, 12, 31),
        indicators=("rights.repatriation", "enforcement.case_funnel"),
        disaggregate_by=("SEX",),
        role="coordinator",
    )
    text = await export(load_config(demo_dir / "hub.toml"), request, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = ("indicator", "keys", "numerator", "denominator", "value", "suppressed")
    assert [",".join(r[c] for c in columns) for r in rows] == expected


async def test_a_failing_source_stops_the_export_unless_partial_is_allowed(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report must not carry a partial figure silently."""
    from adapters.base import SourceError
    from adapters.sql import MappedSQLSource
    from hub.engine.config import load_config
    from hub.server.indicator_export import ExportError, ExportRequest, export

    original = MappedSQLSource.person_facts

    async def failing(self: MappedSQLSource, request: Any) -> Any:
        if self.name == "kemlu":
            raise SourceError("source 'kemlu' failed")
        return await original(self, request)

    monkeypatch.setattr(MappedSQLSource, "person_facts", failing)
    config = load_config(demo_dir / "hub.toml")
    request = ExportRequest(indicators=("rights.repatriation",), role="coordinator")
    with pytest.raises(ExportError, match="kemlu"):
        await export(config, request, "csv")
    text = await export(config, replace(request, allow_partial=True), "json")
    entry = json.loads(text)["indicators"][0]
    assert any("kemlu" in e for e in entry["errors"])
    assert {c["source"]: c["status"] for c in entry["coverage"]}["kemlu"] == "error"
