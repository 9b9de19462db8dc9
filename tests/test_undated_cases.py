"""Cases without a report date sort as the earliest, and keyset paging still visits each once.

Two small sources are built here (SQLite and a real PostgreSQL), with undated cases and many
ties on the same date; the expected order is written out from the rows inserted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.ids import GlobalId
from hub.server.app import Hub
from tests.helpers import all_cases

ROWS = [
    (1, "2023-01-02"),
    (2, None),
    (3, "2023-01-02"),
    (4, "2023-01-01"),
    (5, None),
    (6, "2023-01-03"),
    (7, "2023-01-02"),
]
MAPPING = """[source]
agency = {{ code = "{code}", name = "Test agency {code}", type = "OTHER" }}
[case]
table = "kasus"
key = "id"
reported_at = "tgl"
"""


def expected(sources: list[str], descending: bool) -> list[tuple[str, str]]:
    keyed = [((day or "0000-00-00"), source, key) for source in sources for key, day in ROWS]
    ordered = sorted(keyed, reverse=descending)
    return [(source, str(key)) for _, source, key in ordered]


@pytest.fixture()
async def hub(tmp_path: Path, postgres_server: Any) -> Any:
    db = sqlite3.connect(tmp_path / "a.sqlite")
    db.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
    db.executemany("INSERT INTO kasus VALUES (?, ?)", ROWS)
    db.commit()
    db.close()
    url = postgres_server.create_database("undated", replace=True)
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE TABLE kasus (id INTEGER PRIMARY KEY, tgl TEXT)")
    await connection.executemany("INSERT INTO kasus VALUES ($1, $2)", ROWS)
    await connection.close()
    for code in ("A", "B"):
        (tmp_path / f"{code}.toml").write_text(MAPPING.format(code=code))
    config = parse_config(
        {
            "sources": [
                {"name": "a_sqlite", "mapping": str(tmp_path / "A.toml"), "url": "sqlite:///a.sqlite"},
                {"name": "b_postgres", "mapping": str(tmp_path / "B.toml"), "url": url},
            ]
        },
        tmp_path,
    )
    instance = Hub(config)
    await instance.start()
    yield instance
    await instance.stop()


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC"])
@pytest.mark.parametrize("first", [1, 2, 3, 5])
async def test_undated_cases_page_exactly_once_in_order(hub: Any, order: str, first: int) -> None:
    nodes = await all_cases(
        hub, first=first, order=order, fields="id source reportedAt", principal=Principal(role="coordinator")
    )
    got = [(n["source"], GlobalId.decode(n["id"]).key) for n in nodes]
    assert got == expected(["a_sqlite", "b_postgres"], descending=order.endswith("DESC"))
