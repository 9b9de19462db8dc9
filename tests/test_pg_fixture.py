"""The session's PostgreSQL is a real server: it speaks the wire protocol, stores rows, and can
be killed and brought back on the same URL (for the hub's fault tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest

if TYPE_CHECKING:
    from tests._pg import EmbeddedPostgres


async def test_server_is_real_postgresql(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://tppo@127.0.0.1:")
    assert postgres_url.endswith("/tppo_test")
    conn = await asyncpg.connect(postgres_url)
    try:
        version = await conn.fetchval("select version()")
        assert version.startswith("PostgreSQL ")
        assert await conn.fetchval("select current_database()") == "tppo_test"
        await conn.execute("create table pg_fixture_probe (id integer primary key, name text not null)")
        try:
            await conn.executemany(
                "insert into pg_fixture_probe (id, name) values ($1, $2)",
                [(1, "Kota Semarang"), (2, "Kabupaten Cilacap")],
            )
            rows = await conn.fetch("select id, name from pg_fixture_probe order by id")
            assert [tuple(r) for r in rows] == [(1, "Kota Semarang"), (2, "Kabupaten Cilacap")]
        finally:
            await conn.execute("drop table pg_fixture_probe")
    finally:
        await conn.close()


async def test_server_runs_unprivileged(postgres_server: EmbeddedPostgres) -> None:
    # PostgreSQL refuses to run as root; when we are root the plugin runs it as `nobody`.
    pid = postgres_server.pid()
    assert pid is not None
    if Path("/proc").is_dir():  # Linux; elsewhere the data_directory check below must do
        owner = Path(f"/proc/{pid}").stat().st_uid
        assert owner != 0 if os.geteuid() == 0 else owner == os.geteuid()
    conn = await asyncpg.connect(postgres_server.url)
    try:
        assert await conn.fetchval("show data_directory") == str(postgres_server.data_dir)
        assert await conn.fetchval("show port") == str(postgres_server.port)
    finally:
        await conn.close()


async def test_create_database(postgres_server: EmbeddedPostgres) -> None:
    url = postgres_server.create_database("pg_fixture_extra", replace=True)
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select current_database()") == "pg_fixture_extra"
    finally:
        await conn.close()


@pytest.mark.parametrize("mode", ["fast", "kill"])
async def test_stop_and_restart_on_same_url(postgres_server: EmbeddedPostgres, mode: str) -> None:
    url = postgres_server.url
    conn = await asyncpg.connect(url)
    await conn.execute("create table if not exists pg_fixture_survivor (n integer)")
    await conn.execute("insert into pg_fixture_survivor values (42)")
    await conn.close()

    with postgres_server.stopped(mode):
        assert not postgres_server.is_running()
        with pytest.raises((OSError, asyncpg.PostgresError)):
            await asyncpg.connect(url, timeout=5)

    assert postgres_server.is_running()
    assert postgres_server.url == url
    conn = await asyncpg.connect(url)
    try:
        assert 42 in [r["n"] for r in await conn.fetch("select n from pg_fixture_survivor")]
        await conn.execute("drop table pg_fixture_survivor")
    finally:
        await conn.close()
