"""Ages on the edges: birthdays on the report date, 17 against 18, every band edge, leap days.

A copy of the simfoni database is cut down to a handful of cases with one victim each, whose
report date and birth date the test sets. The expected age of each victim is computed here by
plain date arithmetic (completed years at the report date), and the hub must agree three ways:
in the records it returns (``ageGroup``, ``isChild``), in the filters pushed into SQL
(``childVictim``, ``victimAgeGroups``) and in statistics grouped by age.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.ids import GlobalId
from hub.server.app import Hub

COORDINATOR = Principal(subject="age-test", role="coordinator", agency="KEMENPPPA")

#: (report date, birth date) per case.
EDGES: list[tuple[str, str]] = [
    ("2023-06-15", "2005-06-15"),  # 18th birthday on the report date: 18, an adult
    ("2023-06-15", "2005-06-16"),  # one day short of 18: a child
    ("2023-06-15", "2005-06-14"),
    ("2023-01-01", "2005-01-01"),  # birthday on New Year's day
    ("2022-12-31", "2004-12-31"),
    ("2022-12-31", "2005-01-01"),  # 17 on New Year's eve
    ("2023-03-10", "2017-03-10"),  # 6: band edge 0-5 / 6-12
    ("2023-03-10", "2017-03-11"),  # 5
    ("2023-03-10", "2010-03-10"),  # 13: band edge 6-12 / 13-17
    ("2023-03-10", "2010-03-11"),  # 12
    ("2023-03-10", "1998-03-10"),  # 25: band edge 18-24 / 25-44
    ("2023-03-10", "1998-03-11"),  # 24
    ("2023-03-10", "1978-03-10"),  # 45
    ("2023-03-10", "1978-03-11"),  # 44
    ("2023-03-10", "1963-03-10"),  # 60
    ("2023-03-10", "1963-03-11"),  # 59
    ("2023-02-28", "2004-02-29"),  # leap-day birth: not yet 19 on 28 February
    ("2023-03-01", "2004-02-29"),  # 19 on 1 March
    ("2024-02-29", "2006-02-28"),  # 18 on a leap day
    ("2024-02-28", "2006-02-28"),  # 18 exactly, in a leap year
    ("2023-11-30", "2005-12-01"),  # month rolls over: 17
    ("2023-12-01", "2005-11-30"),  # 18
]

BANDS = [
    ("AGE_0_5", 0, 5),
    ("AGE_6_12", 6, 12),
    ("AGE_13_17", 13, 17),
    ("AGE_18_24", 18, 24),
    ("AGE_25_44", 25, 44),
    ("AGE_45_59", 45, 59),
    ("AGE_60_PLUS", 60, 200),
]


def completed_years(born: date, at: date) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def band(years: int) -> str:
    return next(name for name, low, high in BANDS if low <= years <= high)


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> tuple[Path, dict[str, int]]:
    """simfoni cut to one case per edge; returns the folder and case key → expected age."""
    folder = tmp_path_factory.mktemp("age-edges")
    db_path = folder / "simfoni.sqlite"
    shutil.copy(demo_dir / "simfoni.sqlite", db_path)
    expected: dict[str, int] = {}
    with sqlite3.connect(db_path) as db:
        single = [
            row[0]
            for row in db.execute(
                "SELECT id_kasus FROM korban GROUP BY id_kasus HAVING count(*) = 1 ORDER BY id_kasus"
            )
        ][: len(EDGES)]
        assert len(single) == len(EDGES)
        keep = ",".join(str(k) for k in single)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if "id_kasus" in columns:
                db.execute(f"DELETE FROM {table} WHERE id_kasus NOT IN ({keep})")
        for case, (reported, born) in zip(single, EDGES, strict=True):
            db.execute("UPDATE kasus SET tgl_lapor = ? WHERE id_kasus = ?", (reported, case))
            db.execute("UPDATE korban SET tgl_lahir = ? WHERE id_kasus = ?", (born, case))
            expected[str(case)] = completed_years(date.fromisoformat(born), date.fromisoformat(reported))
    return folder, expected


@pytest.fixture(scope="module")
async def edge_hub(edge_db: tuple[Path, dict[str, int]]) -> AsyncIterator[Hub]:
    folder, _ = edge_db
    config = parse_config(
        {"sources": [{"name": "simfoni", "mapping": "simfoni", "url": "sqlite:///simfoni.sqlite"}]}, folder
    )
    hub = Hub(config)
    await hub.start()
    yield hub
    await hub.stop()


async def case_keys(hub: Hub, filter: str) -> set[str]:
    result = await hub.execute(
        f"{{ cases(first: 100, filter: {{ {filter} }}) {{ totalCount edges {{ node {{ id }} }} }} }}",
        principal=COORDINATOR,
    )
    assert not result.errors, result.errors
    keys = {_key(e["node"]["id"]) for e in result.data["cases"]["edges"]}
    assert result.data["cases"]["totalCount"] == len(keys)
    return keys


def _key(gid: str) -> str:
    return GlobalId.decode(gid).key


def test_the_edges_are_what_they_claim() -> None:
    """The expected ages themselves, on the edges named in the comments."""
    ages = [completed_years(date.fromisoformat(b), date.fromisoformat(r)) for r, b in EDGES]
    assert ages[:3] == [18, 17, 18]
    assert ages[16:18] == [18, 19]


async def test_records_carry_the_age_band_and_child_flag(edge_hub: Hub, edge_db: Any) -> None:
    _, expected = edge_db
    result = await edge_hub.execute(
        "{ cases(first: 100) { edges { node { id victims { ageGroup isChild } } } } }", principal=COORDINATOR
    )
    assert not result.errors
    seen = {}
    for edge in result.data["cases"]["edges"]:
        (victim,) = edge["node"]["victims"]
        seen[_key(edge["node"]["id"])] = (victim["ageGroup"], victim["isChild"])
    assert seen == {key: (band(years), years < 18) for key, years in expected.items()}


async def test_child_filter_splits_exactly_at_the_18th_birthday(edge_hub: Hub, edge_db: Any) -> None:
    _, expected = edge_db
    assert await case_keys(edge_hub, "childVictim: true") == {k for k, y in expected.items() if y < 18}
    assert await case_keys(edge_hub, "childVictim: false") == {k for k, y in expected.items() if y >= 18}


@pytest.mark.parametrize("name", [b[0] for b in BANDS])
async def test_age_group_filter_matches_each_band_exactly(edge_hub: Hub, edge_db: Any, name: str) -> None:
    _, expected = edge_db
    assert await case_keys(edge_hub, f"victimAgeGroups: [{name}]") == {
        k for k, y in expected.items() if band(y) == name
    }


async def test_statistics_by_age_group_count_each_band_exactly(edge_hub: Hub, edge_db: Any) -> None:
    _, expected = edge_db
    result = await edge_hub.execute(
        "{ statistics(measure: VICTIM_RECORDS, groupBy: [AGE_GROUP]) "
        "{ total rows { keys { value } count } } }",
        principal=COORDINATOR,
    )
    assert not result.errors, result.errors
    got = {row["keys"][0]["value"]: row["count"] for row in result.data["statistics"]["rows"] if row["count"]}
    assert got == dict(Counter(band(y) for y in expected.values()))
    assert result.data["statistics"]["total"] == len(expected)
