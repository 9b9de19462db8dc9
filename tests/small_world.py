"""A small demo world (scale 0.05: 158 cases in five SQLite sources) and a hub serving it.

For tests that call the engine directly and must stay fast enough to run once per mutant
(``make mutate``): generating and opening it takes a few seconds. Import the fixture into a
test module (``world = small_world.fixture()``); each module gets its own world.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.demo.generate import generate
from hub.engine.config import load_config
from hub.server.app import Hub


async def open_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Hub, dict[str, Any]]]:
    out: Path = tmp_path_factory.mktemp("small-world")
    generate(out, seed=2023, scale=0.05)
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    hub = Hub(load_config(out / "hub.toml"))
    await hub.start()
    yield hub, truth
    await hub.stop()


def fixture() -> Any:
    """The module-scoped ``world`` fixture: (hub, ground truth)."""
    return pytest.fixture(scope="module", name="world")(open_world)
