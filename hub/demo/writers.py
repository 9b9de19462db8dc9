"""Writing the demo agency tables: SQLite files, PostgreSQL schemas, the truth and hub.toml.

Tables are described once (:class:`TableSpec`) and written the same way to both engines, with
the indexes an agency DBA would add on foreign keys and filter columns. Bulk loads use the
fastest path each engine has (one ``executemany`` per table in one transaction with journaling
off; ``COPY`` through asyncpg) and build indexes after the load, then ``ANALYZE``.

Every file is written under a temporary name and renamed into place, so a reader (a running
hub, a test) sees either the old file or the complete new one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

Row = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "INTEGER" or "TEXT": the only two types the demo schemas use
    nullable: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One table as both engines create it: columns, primary key, secondary indexes."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def create_table(self, schema: str | None = None) -> str:
        cols = [f"{c.name} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in self.columns]
        cols.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE {_qualified(self.name, schema)} ({', '.join(cols)})"

    def create_indexes(self, schema: str | None = None) -> list[str]:
        statements = []
        for unique, groups in ((True, self.unique), (False, self.indexes)):
            for cols in groups:
                name = f"{'ux' if unique else 'ix'}_{self.name}_{'_'.join(cols)}"
                kind = "UNIQUE INDEX" if unique else "INDEX"
                statements.append(
                    f"CREATE {kind} {name} ON {_qualified(self.name, schema)} ({', '.join(cols)})"
                )
        return statements


def _qualified(table: str, schema: str | None) -> str:
    return f"{schema}.{table}" if schema else table


# -- SQLite -----------------------------------------------------------------------------------


def write_sqlite(path: Path, specs: Sequence[TableSpec], tables: dict[str, list[Row]]) -> None:
    """Create ``path`` from scratch with the given tables, replacing an old file atomically."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        # Bulk-load settings, for this connection only: a crash just leaves a .partial file.
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-131072")
        con.execute("BEGIN")
        for spec in specs:
            con.execute(spec.create_table())
            marks = ", ".join("?" * len(spec.columns))
            con.executemany(f"INSERT INTO {spec.name} VALUES ({marks})", tables[spec.name])
        con.execute("COMMIT")
        for spec in specs:
            for statement in spec.create_indexes():
                con.execute(statement)
        con.execute("ANALYZE")
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("PRAGMA synchronous=FULL")
    finally:
        con.close()
    os.replace(tmp, path)


# -- PostgreSQL -------------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    """asyncpg wants ``postgresql://``; accept SQLAlchemy's ``postgresql+asyncpg://`` too."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("postgres_url must be a postgresql:// URL")
    return f"postgresql://{rest}"


async def write_postgres(
    url: str, schema: str, specs: Sequence[TableSpec], tables: dict[str, list[Row]]
) -> None:
    """Drop and recreate one agency schema, COPY its tables in, index and analyse them.

    All in one transaction, so a hub reading the schema meanwhile sees the old data or the
    new, never a half-loaded schema.
    """
    import asyncpg  # imported here: SQLite-only generation must not need a PostgreSQL driver

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await conn.execute(f"CREATE SCHEMA {schema}")
            for spec in specs:
                await conn.execute(spec.create_table(schema))
                if tables[spec.name]:
                    await conn.copy_records_to_table(
                        spec.name,
                        records=tables[spec.name],
                        columns=spec.column_names,
                        schema_name=schema,
                    )
            for spec in specs:
                for statement in spec.create_indexes(schema):
                    await conn.execute(statement)
        for spec in specs:
            await conn.execute(f"ANALYZE {schema}.{spec.name}")
    finally:
        await conn.close()


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(make))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(_await(make))).result()


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


# -- ground truth and hub.toml ----------------------------------------------------------------


def dumps_record(record: dict[str, Any]) -> str:
    """One truth record as one line of JSON (records are kept serialised: a dict costs ~3x)."""
    return json.dumps(record, ensure_ascii=False)


class TruthWriter:
    """Streams ``ground_truth.json`` (one record a line) so large scales never hold it whole."""

    def __init__(self, path: Path, seed: int, scale: float) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.partial")
        self.fh = self.tmp.open("w", encoding="utf-8", newline="\n")
        self.fh.write(f'{{"seed": {json.dumps(seed)}, "scale": {json.dumps(scale)},\n')
        self.agencies = 0

    def array(self, key: str, lines: Iterable[str], indent: str = " ") -> None:
        """Write ``"key": [ ... ]`` from records already serialised by :func:`dumps_record`."""
        self.fh.write(f'{indent}"{key}": [')
        first = True
        for line in lines:
            self.fh.write(f"\n{indent} " if first else f",\n{indent} ")
            self.fh.write(line)
            first = False
        self.fh.write("]" if first else f"\n{indent}]")

    def world(self, persons: Iterable[dict[str, Any]], cases: Iterable[dict[str, Any]]) -> None:
        self.array("persons", map(dumps_record, persons))
        self.fh.write(",\n")
        self.array("cases", map(dumps_record, cases))
        self.fh.write(',\n "agencies": {')

    def agency(self, name: str, truth: dict[str, list[str]]) -> None:
        self.fh.write(",\n" if self.agencies else "\n")
        self.fh.write(f'  "{name}": {{\n')
        for i, kind in enumerate(("cases", "persons", "services", "stage_events", "restitutions")):
            if i:
                self.fh.write(",\n")
            self.array(kind, truth.get(kind, ()), indent="   ")
        self.fh.write("\n  }")
        self.agencies += 1

    def close(self) -> None:
        self.fh.write("\n }\n}\n")
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


_RELATIVE_NOTE = "# relative paths are relative to this file"


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def hub_toml(agencies: Sequence[str], seed: int, scale: float, postgres_url: str | None) -> str:
    """The hub configuration that serves the generated databases (read by hub/engine/config.py)."""
    lines = [
        f"# Demo hub configuration written by `tppo-hub demo generate` (seed {seed}, scale {float(scale)}).",
        "[hub]",
        "demo = true",
    ]
    for name in agencies:
        lines += [
            "",
            "[[sources]]",
            f"name = {_toml_string(name)}",
            f"mapping = {_toml_string(name)}",
        ]
        if postgres_url:
            lines += [f"url = {_toml_string(postgres_url)}", f"schema = {_toml_string(name)}"]
        else:
            lines.append(f'url = "sqlite:///{name}.sqlite"   {_RELATIVE_NOTE}')
    return "\n".join(lines) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
