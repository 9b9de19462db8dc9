"""Python adapters: the example package in examples/csv_adapter, found by its entry point.

The test makes the package importable and registers its entry point the way ``pip install``
would — a ``*.dist-info`` folder on ``sys.path`` whose ``entry_points.txt`` is written from the
package's own ``pyproject.toml`` — so it needs no network and no build tools.
"""

from __future__ import annotations

import csv
import shutil
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.sources import ADAPTER_ENTRY_POINTS
from hub.server.app import Hub
from tests.helpers import all_cases

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "examples" / "csv_adapter"
SAMPLE = PACKAGE / "sample"
REGISTER = "mutation($i: RegisterSourceInput!) { registerSource(input: $i) { activated FIELDS } }"


@pytest.fixture()
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install the example's entry points into a folder on sys.path; returns the adapter name."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["entry-points"][ADAPTER_ENTRY_POINTS]
    site = tmp_path / "site"
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n", encoding="utf-8"
    )
    lines = [f"[{ADAPTER_ENTRY_POINTS}]", *(f"{name} = {target}" for name, target in declared.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(PACKAGE))
    monkeypatch.syspath_prepend(str(site))
    (name,) = declared
    return name


@pytest.fixture()
async def hub(installed: str, demo_dir: Path, tmp_path: Path) -> AsyncIterator[Hub]:
    shutil.copytree(SAMPLE, tmp_path / "exports")
    shutil.copy(demo_dir / "kemlu.sqlite", tmp_path / "kemlu.sqlite")
    config = parse_config(
        {
            "hub": {"store": "sqlite:///hub-store.sqlite"},
            "sources": [
                {"name": "kemlu", "mapping": "kemlu", "url": "sqlite:///kemlu.sqlite"},
                {
                    "name": "shelter_csv",
                    "adapter": installed,
                    "url": "csv://exports",
                    "agency_code": "KEMENSOS",
                    "agency_name": "Kementerian Sosial",
                    "agency_type": "SOCIAL_REHAB_CENTRE",
                },
            ],
        },
        tmp_path,
    )
    instance = Hub(config)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


def rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


async def test_the_entry_point_builds_the_adapter_and_it_serves(hub: Hub) -> None:
    result = await hub.execute("{ sources { name status agency { code } } }")
    assert {s["name"]: (s["status"], s["agency"]["code"]) for s in result.data["sources"]} == {
        "kemlu": ("UP", "KEMLU"),
        "shelter_csv": ("UP", "KEMENSOS"),
    }
    fields = "sourceKey reportedAt exploitationTypes victims { roles sex } services { type status }"
    cases = await all_cases(hub, first=7, fields=fields + " agency { code }")
    csv_cases = [c for c in cases if c["agency"]["code"] == "KEMENSOS"]
    assert sorted(c["sourceKey"] for c in csv_cases) == sorted(r["id"] for r in rows("cases.csv"))
    assert len(cases) == len({(c["agency"]["code"], c["sourceKey"]) for c in cases})  # each case once
    by_key = {c["sourceKey"]: c for c in csv_cases}
    for row in rows("cases.csv"):
        assert by_key[row["id"]]["exploitationTypes"] == sorted(row["exploitation_types"].split(";"))
    victims = [p for p in rows("persons.csv") if p["role"] == "VICTIM"]
    assert sum(len(c["victims"]) for c in csv_cases) == len(victims)
    assert sum(len(c["services"]) for c in csv_cases) == len(rows("services.csv"))


async def test_filters_it_cannot_evaluate_exclude_it(hub: Hub) -> None:
    result = await hub.execute("{ cases(filter: {stages: [TRIAL]}) { totalCount } }")
    statuses = {s["source"]: s["status"] for s in result.extensions["sources"]}
    assert statuses["shelter_csv"] == "excluded"
    window = '{reportedFrom: "2023-02-01", reportedTo: "2023-12-31", agencies: ["KEMENSOS"]}'
    result = await hub.execute(f"{{ cases(filter: {window}) {{ totalCount }} }}")
    expected = [r for r in rows("cases.csv") if "2023-02-01" <= r["reported_at"] <= "2023-12-31"]
    assert result.data["cases"]["totalCount"] == len(expected)


async def test_register_a_python_adapter_and_its_quality_status(
    hub: Hub, installed: str, tmp_path: Path
) -> None:
    admin = Principal(subject="ops", role="admin")
    result = await hub.execute(
        REGISTER.replace("FIELDS", "source { name status } findings { message }"),
        {"i": {"name": "shelter_two", "adapter": installed, "url": "csv://exports"}},
        principal=admin,
    )
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data["registerSource"]["activated"] is False  # four eyes: waits for approval
    approved = await hub.execute(
        'mutation { approveSource(name: "shelter_two") { activated source { name status } } }',
        principal=Principal(subject="second-admin", role="admin"),
    )
    assert not approved.errors, [e.formatted for e in approved.errors]
    assert approved.data["approveSource"] == {
        "activated": True,
        "source": {"name": "shelter_two", "status": "UP"},
    }
    result = await hub.execute(
        REGISTER.replace("FIELDS", "findings { kind }"),
        {"i": {"name": "shelter_bad", "adapter": "no_such_adapter", "url": "csv://exports"}},
        principal=admin,
    )
    assert result.data["registerSource"] == {"activated": False, "findings": [{"kind": "adapter"}]}
    result = await hub.execute('{ dataQuality(sources: ["shelter_csv", "kemlu"]) { source status } }')
    assert {r["source"]: r["status"] for r in result.data["dataQuality"]} == {
        "shelter_csv": "NOT_SUPPORTED",
        "kemlu": "MEASURED",
    }


def test_the_example_package_declares_its_entry_point() -> None:
    project: dict[str, Any] = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"][ADAPTER_ENTRY_POINTS] == {"csv": "tppo_csv_adapter:CsvSource"}
