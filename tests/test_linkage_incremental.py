"""Incremental linkage: an agency adds records; only those are linked and person ids stay stable.

A copy of the demo databases is made in a temporary directory and rows are inserted with
``sqlite3``, as the agency's own system would. Expected links come from what was inserted
(a known person again, and a new person), not from the hub.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from hub.engine.config import load_config
from hub.linkage.index import FORBIDDEN_COLUMNS, LinkageIndex, linkage_record, linkage_run
from hub.server.app import Hub
from tests.linkage_helpers import run_job, truth_labels


@pytest.fixture
def world_copy(demo_dir: Path, tmp_path: Path) -> Path:
    for item in demo_dir.iterdir():
        if item.suffix in (".sqlite", ".toml") and not item.name.startswith("hub-store"):
            shutil.copy(item, tmp_path / item.name)
    return tmp_path


def _insert_korban(db: Path, truth: dict) -> tuple[str, str, dict]:
    """Two new simfoni victims: a person simfoni already knows, and a new one. Their keys."""
    known = next(
        p
        for p in truth["agencies"]["simfoni"]["persons"]
        if p["roles"] == ["VICTIM"] and p["nik"] and p["birth_date"]
    )
    with sqlite3.connect(db) as conn:
        next_id = (
            conn.execute(
                "SELECT MAX(id) FROM (SELECT id_korban AS id FROM korban UNION SELECT id_pelaku FROM pelaku)"
            ).fetchone()[0]
            + 1
        )
        case = conn.execute("SELECT id_kasus FROM kasus ORDER BY id_kasus DESC LIMIT 1").fetchone()[0]
        row = conn.execute(
            "SELECT jenis_kelamin, alamat, kode_wilayah_domisili FROM korban WHERE id_korban = ?",
            (int(known["key"]),),
        ).fetchone()
        conn.execute(
            "INSERT INTO korban VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                next_id,
                case,
                known["full_name"].upper(),
                known["nik"],
                row[0],
                known["birth_date"],
                row[1],
                row[2],
                None,
                "WNI",
            ),
        )
        conn.execute(
            "INSERT INTO korban VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                next_id + 1,
                case,
                "Wulandari Prameswari Zulkarnaen",
                "3578016112040001",
                "P",
                "2004-12-21",
                "Jl. Baru 1",
                "35.78",
                None,
                "WNI",
            ),
        )
    return f"korban/{next_id}", f"korban/{next_id + 1}", known


async def test_incremental_run_links_only_new_records_and_keeps_ids(world_copy: Path, truth: dict) -> None:
    hub = Hub(load_config(world_copy / "hub.toml"))
    await hub.start()
    try:
        first = await run_job(hub)
        assert first.mode == "full"
        index = LinkageIndex(hub.store.engine)
        before = await index.assignments()
        assert set(before) == set(truth_labels(truth))
    finally:
        await hub.stop()

    again_key, new_key, known = _insert_korban(world_copy / "simfoni.sqlite", truth)

    hub = Hub(load_config(world_copy / "hub.toml"))
    await hub.start()
    try:
        report = await run_job(hub)
        after = await LinkageIndex(hub.store.engine).assignments()
        assert report.mode == "incremental"
        assert report.new_records == 2
        # Every record already linked keeps its person id.
        assert {ref: after[ref] for ref in before} == before
        # The known person's new record joins that person; the stranger is a new person.
        known_ref = ("simfoni", f"korban/{known['key']}")
        assert after[("simfoni", again_key)] == before[known_ref]
        assert after[("simfoni", new_key)] not in set(before.values())

        # A second incremental run finds nothing new; a full run keeps every id.
        assert (await run_job(hub)).new_records == 0
        full = await run_job(hub, full=True)
        assert full.mode == "full"
        assert await LinkageIndex(hub.store.engine).assignments() == after
    finally:
        await hub.stop()


async def test_index_holds_no_personal_data(hub: Any, truth: dict) -> None:
    await run_job(hub, full=True)
    async with hub.store.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda sync: {
                t: [c["name"] for c in inspect(sync).get_columns(t)]
                for t in ("linkage_record", "linkage_run")
            }
        )
        rows = (await conn.execute(linkage_record.select())).all()
        runs = (await conn.execute(linkage_run.select())).all()
    for table, names in columns.items():
        assert not FORBIDDEN_COLUMNS & set(names), table
        assert not any(
            word in name
            for name in names
            for word in ("name", "nik", "birth", "address", "phone", "passport")
        )
    personal = {
        str(p[field])
        for data in truth["agencies"].values()
        for p in data["persons"]
        for field in ("full_name", "nik", "birth_date", "passport_number", "address", "phone")
        if p[field]
    }
    values = {str(v) for row in rows + runs for v in row}
    assert not personal & values
    assert rows and runs


def test_cli_link_command(world_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.server.cli import main

    assert main(["link", "--config", str(world_copy / "hub.toml")]) == 0
    assert main(["link", "--config", str(world_copy / "hub.toml"), "--full"]) == 0
    err = capsys.readouterr().err
    assert "linkage (full)" in err and "persons" in err
    assert main(["link", "--config", str(world_copy / "missing.toml")]) == 2

