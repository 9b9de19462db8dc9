"""docs/onboarding-spreadsheet.md, followed exactly: a messy register mapped with no SQL view.

The guide's blocks run as written: each ``toml`` block is written to the file its first line
names, each ``sh`` line is a ``tppo-hub`` command, the ``graphql`` queries go to a hub built
from the guide's ``hub.toml``. The register is ``tests/messy/register.py``'s, and every
expected value comes from its ground truth: at least 99% of the values of every field must
agree (in fact all do), and paging all agencies stays exact beside this register's junk dates.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.config import load_config, parse_config
from hub.server.app import Hub
from hub.server.cli import main
from tests.helpers import all_cases
from tests.messy.register import Options, Truth, write_sqlite

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "onboarding-spreadsheet.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", GUIDE, flags=re.S)
COORDINATOR = Principal(
    subject="task-force", role="coordinator", purpose="onboarding check", method="in_process"
)
#: Least share of values of each field that must agree with the ground truth.
AGREEMENT = 0.99


def _cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def _follow(workdir: Path) -> list[tuple[int, str]]:
    """Write the toml blocks and run the sh lines, in the guide's order; the check outputs."""
    outputs = []
    for language, text in BLOCKS:
        if language == "toml":
            first = text.splitlines()[0]
            assert first.startswith("# file: "), "each toml block names its file"
            (workdir / first.removeprefix("# file: ").strip()).write_text(text, encoding="utf-8")
        elif language == "sh":
            for line in filter(None, (raw.strip() for raw in text.splitlines())):
                argv = shlex.split(line)
                assert argv[0] == "tppo-hub", line
                outputs.append(_cli(argv[1:]))
    return outputs


def _agreement(pairs: list[tuple[Any, Any]]) -> float:
    return sum(1 for got, want in pairs if got == want) / len(pairs)


def _compare(truth: Truth, data: dict[str, Any]) -> dict[str, float]:
    nodes = [e["node"] for e in data["cases"]["edges"]]
    assert data["cases"]["totalCount"] == len(nodes) == len(truth.cases)
    by_reference = {c["source_key"]: c for c in truth.cases.values()}
    fields: dict[str, list[tuple[Any, Any]]] = {}

    def add(name: str, got: Any, want: Any) -> None:
        fields.setdefault(name, []).append((got, want))

    services_got: Counter[tuple[str, str]] = Counter()
    for node in nodes:
        case = by_reference[node["sourceKey"]]
        add("reportedAt", node["reportedAt"], case["reported_at"])
        add("region", (node["region"] or {}).get("code"), case["region"])
        add("countryOfExploitation", node["countryOfExploitation"], case["country"])
        add("exploitationTypes", sorted(node["exploitationTypes"]), case["exploitation_types"])
        (victim,) = node["victims"]
        want = case["victim"]
        add("sex", victim["sex"], want["sex"])
        add("ageGroup", victim["ageGroup"], want["age_group"])
        add("isChild", victim["isChild"], want["is_child"])
        add("nik", victim["nik"], want["nik"])
        services_got.update((case["key"], s["type"]) for s in node["services"])
    shares = {name: _agreement(pairs) for name, pairs in fields.items()}
    wanted = Counter(truth.services)
    shares["services"] = sum((services_got & wanted).values()) / max(sum(wanted.values()), 1)
    assert sum(services_got.values()) == sum(wanted.values())
    return shares


async def test_the_spreadsheet_guide_works_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = write_sqlite(tmp_path / "jabar.sqlite", Options())
    monkeypatch.chdir(tmp_path)
    first, final = await asyncio.to_thread(_follow, tmp_path)
    # The first mapping is refused, and the error proposes the formats the register uses.
    code, out = first
    assert code == 1 and "FAILED: the mapping cannot serve" in out
    flat = " ".join(out.split())
    (shown,) = [text for language, text in BLOCKS if language == "text"]
    assert " ".join(shown.split()) in flat
    for fmt in ("YYYY/MM/DD", "D MMMM YYYY", "serial"):
        assert f"match '{fmt}'" in flat
    # The mapping with the new keys passes.
    code, out = final
    assert code == 0 and "OK: the mapping can serve" in out
    assert "ERROR" not in out

    hub = Hub(load_config(tmp_path / "hub.toml"))
    await hub.start()
    try:
        cases_query, statistics_query = [text for language, text in BLOCKS if language == "graphql"]
        result = await hub.execute(cases_query, principal=COORDINATOR)
        assert not result.errors, [e.formatted for e in result.errors]
        shares = _compare(truth, result.data)
        assert all(share >= AGREEMENT for share in shares.values()), shares
        result = await hub.execute(statistics_query, principal=COORDINATOR)
        assert not result.errors, [e.formatted for e in result.errors]
        years = Counter((c["reported_at"] or "")[:4] or None for c in truth.cases.values())
        rows = {row["keys"][0]["value"]: row["count"] for row in result.data["statistics"]["rows"]}
        assert result.data["statistics"]["total"] == len(truth.cases)
        assert rows == {year: count for year, count in years.items()}
        # A filter and the list agree: regions under 32.17 (KBB) are exactly those listed.
        listed = sum(1 for c in truth.cases.values() if (c["region"] or "").startswith("32.17"))
        result = await hub.execute(
            '{ cases(filter: {regions: ["32.17"]}) { totalCount } }', principal=COORDINATOR
        )
        assert result.data["cases"]["totalCount"] == listed > 0
    finally:
        await hub.stop()


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC"])
async def test_paging_all_agencies_stays_exact_beside_a_register_with_junk_dates(
    demo_dir: Path, tmp_path: Path, order: str
) -> None:
    """Junk report dates are NULL in SQL as in the records: the register's undated cases sort
    as the earliest, and every case of every source is visited exactly once, pages end."""
    options = Options(cases=150, junk=0.3, nulls=0.1, seed=5)
    truth = write_sqlite(tmp_path / "jabar.sqlite", options)
    (tmp_path / "jabar.toml").write_text(
        next(
            text
            for language, text in BLOCKS
            if language == "toml" and "REGISTER KASUS TPPO" in text and "codes" in text
        ),
        encoding="utf-8",
    )
    config = parse_config(
        {
            "sources": [
                {"name": "polri", "mapping": "polri", "url": f"sqlite:///{demo_dir / 'polri.sqlite'}"},
                {"name": "jabar", "mapping": "jabar.toml", "url": "sqlite:///jabar.sqlite"},
            ]
        },
        tmp_path,
    )
    hub = Hub(config)
    await hub.start()
    try:
        for first in (29, 250):
            cases = await all_cases(hub, first=first, order=order, principal=COORDINATOR)
            ids = [c["id"] for c in cases]
            assert len(ids) == len(set(ids))
            by_source = Counter(c["source"] for c in cases)
            assert by_source["jabar"] == len(truth.cases)
            undated = sum(1 for c in truth.cases.values() if c["reported_at"] is None)
            assert sum(1 for c in cases if c["source"] == "jabar" and c["reportedAt"] is None) == undated > 0
            total = await hub.execute("{ cases { totalCount } }", principal=COORDINATOR)
            assert len(ids) == total.data["cases"]["totalCount"]
    finally:
        await hub.stop()
