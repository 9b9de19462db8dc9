"""Shared fixtures: one demo world per session, and hubs serving it.

The demo databases are generated once per test session into a temporary directory (seed
2023, scale 1); ``truth`` is the generator's ground truth, which tests use for expected
values — never the hub's own output.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.config import load_config
from hub.demo.generate import generate

pytest_plugins = ["tests._pg"]

SEED = 2023


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=SEED, scale=1.0)
    return out


@pytest.fixture(scope="session")
def truth(demo_dir: Path) -> dict[str, Any]:
    return json.loads((demo_dir / "ground_truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
async def hub(demo_dir: Path) -> AsyncIterator[Hub]:
    instance = Hub(load_config(demo_dir / "hub.toml"))
    await instance.start()
    yield instance
    await instance.stop()


async def run(hub: Hub, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute and fail loudly on errors; returns data plus extensions under ``_ext``."""
    result = await hub.execute(query, variables)
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data is not None
    return {**result.data, "_ext": result.extensions}


@pytest.fixture(scope="session")
async def pg_hub(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    out = tmp_path_factory.mktemp("demo-pg")
    generate(out, seed=SEED, scale=1.0, postgres_url=postgres_url)
    config = load_config(out / "hub.toml")
    assert all(s.url.startswith("postgresql") for s in config.sources)
    hub = Hub(config)
    await hub.start()
    yield hub
    await hub.stop()
