"""A transient connection failure is retried: the agency's database drops every connection and
refuses the next one, and the hub still answers in full (adapters/runner.py, RETRY_BACKOFF).

A small TCP proxy stands between the hub and the real PostgreSQL server of the session; the
test arms it to cut every open connection and refuse the next new one, as a restarting
firewall or a failover would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.demo.generate import generate
from hub.engine.config import parse_config
from hub.server.app import Hub
from tests.conftest import SEED

QUERY = '{ cases(first: 500, filter: {agencies: ["LPSK"]}) { totalCount edges { node { id } } } }'


class FlakyProxy:
    """Forwards TCP to PostgreSQL; can cut every connection and refuse the next ``refuse`` ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refuse = 0
        self.refused = 0
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def proxied_hub(
    postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Hub, FlakyProxy, int]]:
    url = postgres_server.create_database("retry", replace=True)
    out = tmp_path_factory.mktemp("retry")
    generate(out, seed=SEED, scale=1.0, postgres_url=url)
    proxy = FlakyProxy(postgres_server.port)
    await proxy.start()
    proxied = url.replace(f":{postgres_server.port}/", f":{proxy.port}/")
    assert proxied != url
    source = {"name": "lpsk", "mapping": "lpsk", "url": proxied, "schema": "lpsk", "timeout_seconds": 20}
    hub = Hub(parse_config({"sources": [source]}, out))
    await hub.start()
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    truth_cases = len(truth["agencies"]["lpsk"]["cases"])
    try:
        yield hub, proxy, truth_cases
    finally:
        await hub.stop()
        await proxy.close()


async def test_dropped_connections_and_one_refusal_are_retried(proxied_hub: Any) -> None:
    hub, proxy, cases = proxied_hub
    first = await hub.execute(QUERY)
    assert not first.errors and first.data["cases"]["totalCount"] == cases
    proxy.refuse = 1
    proxy.cut_all()
    again = await hub.execute(QUERY)
    assert not again.errors, [e.formatted for e in again.errors]
    assert again.data["cases"]["totalCount"] == cases
    assert len(again.data["cases"]["edges"]) == min(cases, 500)
    assert proxy.refused == 1  # the failure did happen, and was got over


async def test_a_source_that_stays_unreachable_fails_after_the_retries(proxied_hub: Any) -> None:
    hub, proxy, _ = proxied_hub
    assert not (await hub.execute(QUERY)).errors
    proxy.refuse = 1000
    proxy.cut_all()
    down = await hub.execute(QUERY)
    assert [e.extensions for e in down.errors] == [{"code": "SOURCE_UNAVAILABLE", "source": "lpsk"}]
    assert proxy.refused >= 2  # tried again before giving up
