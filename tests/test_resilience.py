"""Faults never fail the whole query: timeouts, dead servers, corrupt rows, late sources."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.demo.generate import generate
from hub.engine.config import parse_config
from hub.server.app import Hub
from tests.conftest import SEED

SQLITE_AGENCIES = ["polri", "lpsk", "bp2mi", "kemlu"]
PAGE = "{ cases(first: 30) { edges { node { agency { code } victims { sex } } } } }"


def agencies_of(result: Any) -> set[str]:
    return {e["node"]["agency"]["code"] for e in result.data["cases"]["edges"]}


def sqlite_sources(demo_dir: Path, names: list[str]) -> list[dict[str, Any]]:
    return [{"name": n, "mapping": n, "url": f"sqlite:///{demo_dir / (n + '.sqlite')}"} for n in names]


def _reader_active(path: Path) -> bool:
    """Whether some connection still reads ``path``: an exclusive lock cannot be taken then."""
    probe = sqlite3.connect(path, timeout=0)
    try:
        probe.execute("BEGIN EXCLUSIVE")
        probe.rollback()
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        probe.close()


async def test_never_ending_sqlite_statement_is_interrupted_at_its_timeout(tmp_path: Path) -> None:
    """A view that never finishes: the answer is SOURCE_TIMEOUT, and the statement itself stops
    (SQLite's interrupt), so it no longer holds the database. Without the interrupt it would read
    forever: the bounded wait below is a guard against a hang, not a measure of speed."""
    db = sqlite3.connect(tmp_path / "slow.sqlite")
    db.executescript(
        """
        CREATE TABLE base (id INTEGER PRIMARY KEY, tanggal TEXT);
        INSERT INTO base VALUES (1, '2023-01-01');
        CREATE VIEW kasus AS
          WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
          SELECT b.id AS id, b.tanggal AS tanggal FROM base b WHERE (SELECT count(*) FROM n) > 0;
        """
    )
    db.close()
    mapping = tmp_path / "slow.toml"
    mapping.write_text(
        '[source]\nagency = { code = "SLOW", name = "Slow agency", type = "OTHER" }\n'
        '[case]\ntable = "kasus"\nkey = "id"\nreported_at = "tanggal"\n'
    )
    config = parse_config(
        {
            "sources": [
                {
                    "name": "slow",
                    "mapping": str(mapping),
                    "url": "sqlite:///slow.sqlite",
                    "timeout_seconds": 0.5,
                }
            ]
        },
        tmp_path,
    )
    hub = Hub(config)
    await hub.start()
    try:
        for _ in range(2):  # and again: the source is not stuck behind the first statement
            result = await asyncio.wait_for(hub.execute("{ cases(first: 5) { edges { node { id } } } }"), 60)
            assert [e.extensions for e in result.errors] == [{"code": "SOURCE_TIMEOUT", "source": "slow"}]
            assert result.data == {"cases": {"edges": []}}
            for _ in range(300):
                if not _reader_active(tmp_path / "slow.sqlite"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the timed-out statement still reads the database after 30 s")
    finally:
        await asyncio.wait_for(hub.stop(), 60)


async def test_corrupt_rows_are_counted_not_fatal(demo_dir: Path, tmp_path: Path, truth: dict) -> None:
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    db = sqlite3.connect(tmp_path / "polri.sqlite")
    db.executescript(
        """
        UPDATE laporan_polisi SET tgl_lp = 'rusak' WHERE rowid % 50 = 0;
        UPDATE laporan_polisi SET modus = 'KODE-ANEH' WHERE rowid % 40 = 1;
        UPDATE korban SET jk = 9, tgl_lahir = '31/02/1990', umur = 'tiga puluh' WHERE rowid % 30 = 0;
        UPDATE tahapan SET tahap = 'P99', tgl = '??' WHERE rowid % 20 = 0;
        """
    )
    db.commit()
    db.close()
    hub = Hub(parse_config({"sources": sqlite_sources(tmp_path, ["polri"])}, tmp_path))
    await hub.start()
    try:
        query = (
            "{ cases(first: 500) { totalCount edges { node { reportedAt exploitationTypes "
            "victims { sex ageGroup } stageHistory { stage } } } } }"
        )
        result = await hub.execute(query)
        assert not result.errors
        edges = result.data["cases"]["edges"]
        assert len(edges) == 500
        assert result.data["cases"]["totalCount"] == len(truth["agencies"]["polri"]["cases"])
        nodes = [e["node"] for e in edges]
        assert any(n["reportedAt"] is None for n in await all_pages(hub))
        assert any("UNKNOWN" in n["exploitationTypes"] for n in nodes)
        assert any(v["sex"] == "UNKNOWN" for n in nodes for v in n["victims"])
        from adapters.quality import measure

        report = await measure(hub.registry.get("polri").source)
        fields = {(q.part, q.field): q for q in report.fields}
        codes = fields[("laporan_polisi", "exploitation_types")]
        assert any(v.value == "KODE-ANEH" for v in codes.unmapped)
        # Every written report date that is not a calendar date as DD/MM/YYYY, read in Python
        # (strptime) on the corrupted database: the "rusak" rows and whatever else is there.
        assert (
            fields[("laporan_polisi", "reported_at")].parse_failures
            == _unparsed_dates(
                tmp_path / "polri.sqlite", "SELECT tgl_lp FROM laporan_polisi WHERE tgl_lp IS NOT NULL"
            )
            >= _rows(tmp_path / "polri.sqlite", "SELECT count(*) FROM laporan_polisi WHERE tgl_lp = 'rusak'")
        )
    finally:
        await hub.stop()


async def all_pages(hub: Hub) -> list[dict[str, Any]]:
    from tests.helpers import all_cases

    return await all_cases(hub, first=500, fields="reportedAt")


@pytest.fixture()
async def mixed_hub(postgres_server: Any, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """simfoni from the real PostgreSQL server, the other four agencies from SQLite."""
    url = postgres_server.create_database("resilience", replace=True)
    out = tmp_path_factory.mktemp("resilience")
    generate(out, seed=SEED, scale=1.0, postgres_url=url)
    # The source's timeout is no subject here (a killed server refuses at once): generous, so a
    # first page on a freshly generated database is never a SOURCE_TIMEOUT on a busy machine
    # (with 3 s the first page timed out once at 2.9 s in a full suite beside other test runs).
    sources = [
        {"name": "simfoni", "mapping": "simfoni", "url": url, "schema": "simfoni", "timeout_seconds": 30}
    ]
    config = parse_config(
        {
            "hub": {"breaker_threshold": 2, "breaker_reset_seconds": 0.5},
            "sources": sources + sqlite_sources(demo_dir, SQLITE_AGENCIES),
        },
        out,
    )
    hub = Hub(config)
    await hub.start()
    yield hub
    await hub.stop()


async def test_killed_postgres_source_degrades_and_recovers_without_restart(
    mixed_hub: Hub, postgres_server: Any
) -> None:
    ok = await mixed_hub.execute(PAGE)
    assert not ok.errors and "KEMENPPPA" in agencies_of(ok)
    postgres_server.kill()
    try:
        for _ in range(3):  # enough failures to open the breaker
            down = await mixed_hub.execute(PAGE)
            assert down.data is not None
            assert agencies_of(down) <= {"POLRI", "LPSK", "BP2MI", "KEMLU"} and agencies_of(down)
            assert [e.extensions for e in down.errors] == [
                {"code": "SOURCE_UNAVAILABLE", "source": "simfoni"}
            ]
        state = await mixed_hub.execute("{ sources { name status breaker } }")
        simfoni = next(s for s in state.data["sources"] if s["name"] == "simfoni")
        assert simfoni == {"name": "simfoni", "status": "DOWN", "breaker": "OPEN"}
        breaker = mixed_hub.registry.get("simfoni").breaker
        failures = breaker.failures
        # The breaker's time stands still while it is checked: on a busy machine the queries
        # above can outlast its 0.5 s, and then this page would be its half-open probe.
        ticking, breaker.clock = breaker.clock, lambda: breaker.opened_at
        try:
            fast = await mixed_hub.execute(PAGE)  # breaker open: no connection attempt at all
        finally:
            breaker.clock = ticking
        assert [e.extensions for e in fast.errors] == [{"code": "SOURCE_UNAVAILABLE", "source": "simfoni"}]
        assert "circuit open" in fast.errors[0].message
        assert breaker.failures == failures  # an attempt would have failed and been counted
        (report,) = [s for s in fast.extensions["sources"] if s["source"] == "simfoni"]
        assert report["statements"] == 0
    finally:
        postgres_server.start()
    back = None
    for _ in range(40):
        back = await mixed_hub.execute(PAGE)
        if not back.errors:
            break
        await _sleep(0.25)
    assert back is not None and not back.errors and "KEMENPPPA" in agencies_of(back)
    state = await mixed_hub.execute("{ sources { name status breaker } }")
    assert {s["name"]: (s["status"], s["breaker"]) for s in state.data["sources"]}["simfoni"] == (
        "UP",
        "CLOSED",
    )


async def test_source_down_at_start_joins_when_it_comes_back(
    postgres_server: Any, demo_dir: Path, tmp_path: Path
) -> None:
    url = postgres_server.create_database("late_joiner", replace=True)
    generate(tmp_path, seed=SEED, scale=1.0, postgres_url=url)
    config = parse_config(
        {
            "hub": {"breaker_threshold": 1, "breaker_reset_seconds": 0.2},
            "sources": [
                {"name": "lpsk", "mapping": "lpsk", "url": url, "schema": "lpsk", "timeout_seconds": 3},
                *sqlite_sources(demo_dir, ["polri"]),
            ],
        },
        tmp_path,
    )
    hub = Hub(config)
    postgres_server.stop()
    try:
        await hub.start()  # must not raise although lpsk is down
        state = await hub.execute("{ sources { name status } }")
        assert {s["name"]: s["status"] for s in state.data["sources"]} == {"lpsk": "DOWN", "polri": "UP"}
        partial = await hub.execute(PAGE)
        assert agencies_of(partial) == {"POLRI"}
    finally:
        postgres_server.start()
    try:
        joined = None
        for _ in range(40):
            joined = await hub.execute('{ cases(first: 5, filter: {agencies: ["LPSK"]}) { totalCount } }')
            if not joined.errors:
                break
            await _sleep(0.25)
        lpsk_cases = len(
            json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))["agencies"]["lpsk"][
                "cases"
            ]
        )
        assert joined is not None and not joined.errors
        assert joined.data["cases"]["totalCount"] == lpsk_cases  # every case of the generator's truth
    finally:
        await hub.stop()


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_a_busy_hub_queues_calls_without_blaming_the_agency(demo_dir: Path, tmp_path: Path) -> None:
    """Calls beyond a source's slots wait before its timeout starts; waiting too long is a
    SOURCE_TIMEOUT that does not count against the agency's circuit breaker.

    Ordered by events, not by sleeps: the first call holds polri's only slot (with a long
    timeout) until the three calls queued behind it (with a short one) have timed out, so the
    outcome does not depend on how fast a loaded machine runs the query.
    """
    config = parse_config(
        {"hub": {"breaker_threshold": 1}, "sources": sqlite_sources(demo_dir, ["polri"])}, tmp_path
    )
    hub = Hub(config)
    await hub.start()
    try:
        entry = hub.registry.get("polri")
        entry.slots = asyncio.Semaphore(1)
        entry.timeout_seconds = 60.0
        original = entry.source.search_cases
        holding, release = asyncio.Event(), asyncio.Event()

        async def held(search: Any) -> Any:
            holding.set()
            await release.wait()
            return await original(search)

        entry.source.search_cases = held  # type: ignore[method-assign]
        query = "{ cases(first: 3) { edges { node { id } } } }"
        first = asyncio.create_task(hub.execute(query))
        await holding.wait()  # the first call holds the slot, under a 60 s timeout
        entry.timeout_seconds = 0.05  # the calls queued behind it wait 50 ms at most
        queued = await asyncio.gather(*(hub.execute(query) for _ in range(3)))
        release.set()
        answered = await first
        assert answered.errors is None and len(answered.data["cases"]["edges"]) == 3
        for result in queued:
            assert [e.extensions for e in result.errors] == [{"code": "SOURCE_TIMEOUT", "source": "polri"}]
        assert entry.breaker.state.value == "closed"  # the agency answered every call it got
    finally:
        await hub.stop()


async def test_rows_that_cannot_be_read_are_a_source_data_error(demo_dir: Path, tmp_path: Path) -> None:
    """Bytes that are not text in a column read as it is (the report number, a key): the source
    is up but its rows cannot be read.
    The answer says SOURCE_DATA_ERROR for that source (not "unavailable"), the other sources
    answer in full, and the error names no value."""
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    with sqlite3.connect(tmp_path / "polri.sqlite") as db:
        # Every report number gets a byte that is not UTF-8 in front (still unique).
        db.execute("UPDATE laporan_polisi SET no_lp = CAST(x'ff' || no_lp AS TEXT)")
    sources = sqlite_sources(tmp_path, ["polri"]) + sqlite_sources(demo_dir, ["kemlu"])
    hub = Hub(parse_config({"sources": sources}, tmp_path))
    await hub.start()
    try:
        result = await hub.execute("{ cases(first: 500) { totalCount edges { node { agency { code } } } } }")
        assert [e.extensions for e in result.errors] == [{"code": "SOURCE_DATA_ERROR", "source": "polri"}]
        assert result.errors[0].message == "source 'polri': rows cannot be read (text that is not UTF-8)"
        with sqlite3.connect(demo_dir / "kemlu.sqlite") as db:
            kemlu_cases = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        codes = [e["node"]["agency"]["code"] for e in result.data["cases"]["edges"]]
        assert codes == ["KEMLU"] * min(kemlu_cases, 500)
        statuses = {s["source"]: s["status"] for s in result.extensions["sources"]}
        assert statuses == {"polri": "error", "kemlu": "ok"}
    finally:
        await hub.stop()


def _rows(path: Path, query: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(query).fetchone()[0])


def _unparsed_dates(path: Path, query: str) -> int:
    """How many values of `query` strptime cannot read as DD/MM/YYYY, two digits each."""
    with closing(sqlite3.connect(path)) as db:
        values = [str(v) for (v,) in db.execute(query)]
    failed = 0
    for value in values:
        try:
            datetime.strptime(value, "%d/%m/%Y")
        except ValueError:
            failed += 1
        else:
            failed += len(value) != 10  # strptime also takes "1/2/2020"; the format asks for two digits
    return failed
