"""A served hub freezes its start-up objects for the garbage collector (hub/server/heap.py).

Full collections over the ~150,000 objects a started hub holds cost a fifth of a portal
page's CPU (issue 13); the server freezes them once started. A hub built in-process (tests,
scripts) leaves the collector as it is, so a process that builds many hubs frees them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.engine.config import load_config
from hub.server import heap
from hub.server.app import create_app


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone after it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_a_served_hub_freezes_its_objects_once_started(demo_dir: Path, collector: None) -> None:
    gc.unfreeze()
    app = create_app(load_config(demo_dir / "hub.toml"), settle_heap=True)
    assert gc.get_freeze_count() == 0, "nothing is frozen before the hub has started"
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen  # the schema, compiled mappings, statement caches
        assert gc.get_threshold()[0] >= heap.YOUNG_THRESHOLD
        # The hub's own long-lived objects are among the frozen ones: no pass scans them.
        hub = app.state.hub
        assert all(o is not hub for o in gc.get_objects())


async def test_each_worker_of_a_served_hub_freezes_too(
    demo_dir: Path, collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tppo-hub serve --workers N`` builds each worker's app with app_from_environment."""
    from hub.server.app import CONFIG_ENV, app_from_environment

    gc.unfreeze()
    monkeypatch.setenv(CONFIG_ENV, str(demo_dir / "hub.toml"))
    app = app_from_environment()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000


async def test_an_app_built_for_tests_leaves_the_collector_alone(demo_dir: Path, collector: None) -> None:
    gc.unfreeze()
    threshold = gc.get_threshold()
    app = create_app(load_config(demo_dir / "hub.toml"))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == threshold


def test_settle_keeps_a_higher_threshold(collector: None) -> None:
    gc.set_threshold(50_000, 10, 10)
    heap.settle()
    assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_freeze_count() > 0
