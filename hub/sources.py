"""The source registry: builds, opens, tracks and closes the agency sources of a hub.

A source that cannot be opened at start-up (database down, mapping that does not fit) does
not stop the hub: it is kept with status ``down`` and the reason, and the rest serve. The
registry is created by the app factory and lives for the app's lifetime; it holds no
per-request state.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points

from adapters.base import MappingError, Source, SourceError
from adapters.engines import EngineOptions
from adapters.mapping import load_mapping, resolve_mapping_path
from adapters.sql import MappedSQLSource
from hub.config import HubConfig, SourceConfig

log = logging.getLogger("tppo_hub.sources")

#: Entry-point group under which Python adapters register their Source classes.
ADAPTER_ENTRY_POINTS = "tppo_hub.adapters"


class SourceState(enum.Enum):
    """Whether a source is serving."""

    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class RegisteredSource:
    """A configured source and what the hub knows of its state."""

    config: SourceConfig
    source: Source | None
    state: SourceState
    detail: str
    last_checked_at: datetime | None
    timeout_seconds: float

    @property
    def name(self) -> str:
        return self.config.name


def build_source(config: SourceConfig, hub: HubConfig) -> Source:
    """The Source object for one configured source (not yet opened)."""
    if config.mapping is not None:
        path = resolve_mapping_path(config.mapping, hub.base_dir)
        mapping = load_mapping(path, config.name)
        options = EngineOptions(
            url=config.url,
            schema=config.schema,
            statement_timeout_ms=int((config.timeout_seconds or hub.source_timeout_seconds) * 1000),
        )
        return MappedSQLSource(mapping, options, hub.base_dir)
    matches = [ep for ep in entry_points(group=ADAPTER_ENTRY_POINTS) if ep.name == config.adapter]
    if not matches:
        raise MappingError(
            config.name, [f"no adapter {config.adapter!r} registered under {ADAPTER_ENTRY_POINTS}"]
        )
    factory = matches[0].load()
    source: Source = factory(name=config.name, url=config.url, base_dir=hub.base_dir, **config.options)
    return source


class SourceRegistry:
    """All sources of one hub, by name, in configuration order."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self._sources: dict[str, RegisteredSource] = {}

    async def open(self) -> None:
        """Build and open every configured source concurrently; failures mark it down."""
        entries = await asyncio.gather(*(self._open_one(c) for c in self.config.sources))
        self._sources = {e.name: e for e in entries}

    async def _open_one(self, config: SourceConfig) -> RegisteredSource:
        timeout = config.timeout_seconds or self.config.source_timeout_seconds
        now = datetime.now(UTC)
        try:
            source = build_source(config, self.config)
            async with asyncio.timeout(max(timeout, 5.0)):
                await source.open()
        except MappingError as exc:
            log.error("source %s: mapping does not fit: %s", config.name, exc)
            return RegisteredSource(config, None, SourceState.DOWN, "mapping error", now, timeout)
        except (SourceError, OSError, TimeoutError) as exc:
            log.error("source %s: cannot open (%s)", config.name, type(exc).__name__)
            return RegisteredSource(config, None, SourceState.DOWN, "unavailable", now, timeout)
        log.info("source %s: open (%s)", config.name, source.agency.code)
        return RegisteredSource(config, source, SourceState.UP, "", now, timeout)

    async def close(self) -> None:
        await asyncio.gather(*(e.source.close() for e in self._sources.values() if e.source))

    def all(self) -> list[RegisteredSource]:
        return list(self._sources.values())

    def serving(self) -> list[RegisteredSource]:
        """Sources that are open, in configuration order."""
        return [e for e in self._sources.values() if e.source is not None]

    def get(self, name: str) -> RegisteredSource | None:
        return self._sources.get(name)
