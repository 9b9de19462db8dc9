"""The source registry: builds, opens, tracks and closes the agency sources of a hub.

A source that cannot be opened at start-up (database down, mapping that does not fit) does
not stop the hub: it is kept with status ``down`` and the reason, and the rest serve. The
registry is created by the app factory and lives for the app's lifetime; it holds no
per-request state.

Besides the configured sources, the registry serves the sources registered at run time
(:mod:`hub.engine.registration`, table ``registered_sources`` of the hub's store): it loads them at
start and re-reads the table every :attr:`SourceRegistry.watch_seconds`, so a source added by
``tppo-hub adapter add`` or by another replica joins without a restart. :meth:`register` and
:meth:`remove` change the set of sources while queries run without losing any: a query that
already chose its sources keeps using the entries it holds, and a removed or replaced source
is closed only after :meth:`drain_seconds` (its engine is disposed once no query can still be
using it). New queries see the change at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points

from adapters.base import MappingError, Source, SourceError
from adapters.engines import EngineOptions
from adapters.mapping import load_mapping, load_mapping_text, resolve_mapping_path
from adapters.sql import MappedSQLSource
from hub.engine.breaker import CircuitBreaker
from hub.engine.config import ConfigError, HubConfig, SourceConfig
from hub.engine.registration import Registration, RegistrationStore
from hub.storage.store import Store

log = logging.getLogger("tppo_hub.sources")

#: Concurrent calls into one source: half its default pool of kept connections
#: (``adapters.engines.EngineOptions.pool_size``), because a page or statistics call runs two
#: statements at once.
DEFAULT_SLOTS = 6

#: Entry-point group under which Python adapters register their Source classes.
ADAPTER_ENTRY_POINTS = "tppo_hub.adapters"


class SourceState(enum.Enum):
    """Whether a source is serving."""

    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class RegisteredSource:
    """A configured source and what the hub knows of its state.

    ``source`` is the built adapter (None only when its mapping cannot be read: that needs a
    configuration change, not a retry). ``opened`` says whether it has connected; a source
    that was down at start-up is opened again on use, at most as often as its breaker lets a
    probe through, so it joins as soon as its database is back.
    """

    config: SourceConfig
    source: Source | None
    state: SourceState
    detail: str
    last_checked_at: datetime | None
    timeout_seconds: float
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    opened: bool = False
    #: Calls allowed into the source at once (each may use two pooled connections).
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DEFAULT_SLOTS))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> str:
        return self.config.name


def build_source(config: SourceConfig, hub: HubConfig) -> Source:
    """The Source object for one configured source (not yet opened)."""
    if config.mapping is not None:
        path = resolve_mapping_path(config.mapping, hub.base_dir)
        mapping = load_mapping(path, config.name)
        return MappedSQLSource(mapping, engine_options(config, hub), hub.base_dir)
    matches = [ep for ep in entry_points(group=ADAPTER_ENTRY_POINTS) if ep.name == config.adapter]
    if not matches:
        raise MappingError(
            config.name, [f"no adapter {config.adapter!r} registered under {ADAPTER_ENTRY_POINTS}"]
        )
    factory = matches[0].load()
    source: Source = factory(name=config.name, url=config.url, base_dir=hub.base_dir, **config.options)
    return source


def engine_options(config: SourceConfig, hub: HubConfig) -> EngineOptions:
    """Connection settings of a mapped source."""
    return EngineOptions(
        url=config.url,
        schema=config.schema,
        # A little under the engine's own timeout, so the database stops the statement
        # before the hub gives up waiting for it.
        statement_timeout_ms=int((config.timeout_seconds or hub.source_timeout_seconds) * 900),
    )


def build_registered_source(registration: Registration, hub: HubConfig) -> Source:
    """The Source of a run-time registration: its mapping text, or its Python adapter."""
    config = registration.config()
    if registration.mapping_text is not None:
        origin = registration.mapping_name or f"{registration.name}.toml"
        mapping = load_mapping_text(registration.mapping_text, registration.name, origin)
        return MappedSQLSource(mapping, engine_options(config, hub), hub.base_dir)
    return build_source(config, hub)


class SourceRegistry:
    """All sources of one hub, by name, in configuration order (registered ones after)."""

    #: Seconds between two reads of the registrations in the store (0 turns the watch off).
    watch_seconds: float = 5.0

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self._sources: dict[str, RegisteredSource] = {}
        #: Registered (not configured) sources by name → the revision being served.
        self._revisions: dict[str, str] = {}
        #: Removed or replaced entries, closed once no query can still be using them.
        self._retired: list[RegisteredSource] = []
        self._closers: set[asyncio.Task[None]] = set()
        self._store: Store | None = None
        self.registrations: RegistrationStore | None = None
        self._watcher: asyncio.Task[None] | None = None
        #: Serialises registrations, removals and store syncs (each is check → write → swap).
        self.changes = asyncio.Lock()
        #: Configured sources that cannot serve whatever their database does, and why.
        self._unusable: dict[str, str] = {}

    async def open(self) -> None:
        """Build and open every configured source concurrently; failures mark it down.

        Then the sources registered in the store join (see :meth:`sync_registrations`).
        """
        entries = [self._build(c) for c in self.config.sources]
        self._sources = {e.name: e for e in entries}
        await asyncio.gather(*(self.reopen(e) for e in entries if e.source is not None))
        required = {c.name for c in self.config.sources if c.required}
        refused = {name: why for name, why in self._unusable.items() if name in required}
        if refused:
            # A source that can never serve (its mapping or adapter is wrong) stops start-up, so an
            # operator does not run a national view silently missing an agency. A source that is
            # merely down is not refused: it rejoins when it answers (partial results).
            await self.close()
            lines = "\n".join(f"  - {name}: {why}" for name, why in sorted(refused.items()))
            raise ConfigError(
                f"source(s) cannot be used:\n{lines}\n"
                "Fix them, or set required = false in their [[sources]] entry to start without them."
            )
        await self._open_registrations()

    # --- sources registered at run time ---------------------------------------------------------

    def configured(self, name: str) -> bool:
        """Whether ``name`` is a source of the configuration file (not removable at run time)."""
        return any(c.name == name for c in self.config.sources)

    def is_registered(self, name: str) -> bool:
        """Whether ``name`` is served from a run-time registration."""
        return name in self._revisions

    def drain_seconds(self, entry: RegisteredSource) -> float:
        """How long a retired source stays open for the queries that may still hold it."""
        return max(30.0, 3 * entry.timeout_seconds)

    def register(
        self, config: SourceConfig, source: Source, *, opened: bool, revision: str
    ) -> RegisteredSource:
        """Serve ``source`` under ``config.name`` from now on (replacing a registered one).

        The caller has checked the source (``adapter check``); ``opened`` says whether it is
        connected already. Queries that started before keep the entry they chose; the one
        replaced is retired (closed after :meth:`drain_seconds`).
        """
        if self.configured(config.name):
            raise ValueError(f"source {config.name!r} is in the configuration file")
        entry = self._entry(config, source, opened=opened)
        self._install(entry, revision)
        log.info("source %s: registered (%s)", config.name, source.agency.code)
        return entry

    def _entry(self, config: SourceConfig, source: Source, *, opened: bool) -> RegisteredSource:
        timeout = config.timeout_seconds or self.config.source_timeout_seconds
        breaker = CircuitBreaker(self.config.breaker_threshold, self.config.breaker_reset_seconds)
        state, detail = (SourceState.UP, "") if opened else (SourceState.DOWN, "not yet opened")
        return RegisteredSource(
            config, source, state, detail, datetime.now(UTC), timeout, breaker, opened=opened
        )

    def _install(self, entry: RegisteredSource, revision: str) -> None:
        previous = self._sources.get(entry.name)
        self._sources[entry.name] = entry
        self._revisions[entry.name] = revision
        if previous is not None:
            self._retire(previous)

    def remove(self, name: str) -> bool:
        """Stop serving a registered source: new queries no longer see it; it closes later."""
        if self.configured(name):
            raise ValueError(f"source {name!r} is in the configuration file")
        entry = self._sources.pop(name, None)
        self._revisions.pop(name, None)
        if entry is None:
            return False
        self._retire(entry)
        log.info("source %s: removed", name)
        return True

    def _retire(self, entry: RegisteredSource) -> None:
        self._retired.append(entry)
        task = asyncio.get_running_loop().create_task(self._close_later(entry))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close_later(self, entry: RegisteredSource) -> None:
        await asyncio.sleep(self.drain_seconds(entry))
        await self._close_retired(entry)

    async def _close_retired(self, entry: RegisteredSource) -> None:
        if entry in self._retired:
            self._retired.remove(entry)
            if entry.source is not None and entry.opened:
                try:
                    await entry.source.close()
                except Exception as exc:  # closing must never fail the caller
                    log.warning("source %s: close failed (%s)", entry.name, type(exc).__name__)

    async def _open_registrations(self) -> None:
        """Connect to the store, load the registered sources, and start watching for changes."""
        store = Store(self.config.store_url, self.config.base_dir)
        try:
            await store.open()
        except Exception as exc:  # the configured sources serve without the store
            log.warning("registered sources unavailable: store cannot be opened (%s)", type(exc).__name__)
            return
        self._store = store
        self.registrations = RegistrationStore(store.engine)
        try:
            await self.sync_registrations()
        except Exception as exc:
            log.warning("registered sources could not be loaded (%s)", type(exc).__name__)
        if self.watch_seconds > 0:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_seconds)
            try:
                await self.sync_registrations()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be briefly unreachable: try again later
                log.warning("registered sources could not be re-read (%s)", type(exc).__name__)

    async def sync_registrations(self) -> None:
        """Serve exactly the registrations in the store: add new, replace changed, drop removed.

        Sources found here were checked when they were registered; they are opened (not
        checked again), and one that cannot be opened is served as down, like a configured one.
        """
        if self.registrations is None:
            return
        async with self.changes:
            # Read under the lock: a registration that completed while this sync waited for
            # the lock must not be mistaken for one removed from the store.
            wanted = await self.registrations.revisions()
            for name in [n for n in self._revisions if n not in wanted]:
                self.remove(name)
            changed = [n for n, rev in wanted.items() if self._revisions.get(n) != rev]
            if not changed:
                return
            opening: list[tuple[RegisteredSource, str]] = []
            for name in changed:
                if self.configured(name):
                    log.warning("registered source %s ignored: the configuration file names it", name)
                    continue
                registration = await self.registrations.get(name)
                if registration is not None:
                    opening.append((self._build_registered(registration), registration.revision))
            # Opened before they are installed, so queries never meet a half-open source.
            await asyncio.gather(*(self.reopen(e) for e, _ in opening))
            for entry, revision in opening:
                self._install(entry, revision)
                log.info("source %s: registered from the store (%s)", entry.name, entry.state.value)

    def _build_registered(self, registration: Registration) -> RegisteredSource:
        config = registration.config()
        try:
            source = build_registered_source(registration, self.config)
        except (MappingError, ValueError, FileNotFoundError) as exc:
            # E.g. a Python adapter not installed on this replica: shown as down, not retried.
            log.error("registered source %s cannot be built (%s)", registration.name, type(exc).__name__)
            timeout = config.timeout_seconds or self.config.source_timeout_seconds
            return RegisteredSource(
                config, None, SourceState.DOWN, "configuration error", datetime.now(UTC), timeout
            )
        return self._entry(config, source, opened=False)

    def _build(self, config: SourceConfig) -> RegisteredSource:
        timeout = config.timeout_seconds or self.config.source_timeout_seconds
        now = datetime.now(UTC)
        try:
            source = build_source(config, self.config)
        except MappingError as exc:
            log.error("source %s: mapping cannot be used: %s", config.name, exc)
            self._unusable[config.name] = f"mapping cannot be used: {exc}"
            return RegisteredSource(config, None, SourceState.DOWN, "mapping error", now, timeout)
        except (ValueError, FileNotFoundError) as exc:
            # Our own messages: a file path or a redacted URL, never personal data.
            log.error("source %s: configuration cannot be used: %s", config.name, exc)
            self._unusable[config.name] = f"configuration cannot be used: {exc}"
            return RegisteredSource(config, None, SourceState.DOWN, "configuration error", now, timeout)
        breaker = CircuitBreaker(self.config.breaker_threshold, self.config.breaker_reset_seconds)
        return RegisteredSource(config, source, SourceState.DOWN, "not yet opened", now, timeout, breaker)

    async def reopen(self, entry: RegisteredSource) -> bool:
        """Open (connect and check) a source that is not open; True when it is open."""
        if entry.opened:
            return True
        if entry.source is None:
            return False
        async with entry._lock:
            if entry.opened:
                return True
            entry.last_checked_at = datetime.now(UTC)
            try:
                async with asyncio.timeout(max(entry.timeout_seconds, 5.0)):
                    await entry.source.open()
            except MappingError as exc:
                log.error("source %s: mapping does not fit its database: %s", entry.name, exc)
                entry.state, entry.detail = SourceState.DOWN, "mapping does not fit the database"
                self._unusable[entry.name] = f"mapping does not fit its database: {exc}"
                return False
            except FileNotFoundError as exc:
                # Our own message names the resolved path (never personal data): which file is
                # missing is what the operator needs.
                log.warning("source %s: cannot open: %s", entry.name, exc)
                entry.state, entry.detail = SourceState.DOWN, "unavailable"
                return False
            except (SourceError, OSError, TimeoutError) as exc:
                log.warning("source %s: cannot open (%s)", entry.name, type(exc).__name__)
                entry.state, entry.detail = SourceState.DOWN, "unavailable"
                return False
            entry.opened = True
            entry.state, entry.detail = SourceState.UP, ""
            log.info("source %s: open (%s)", entry.name, entry.source.agency.code)
            return True

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for task in list(self._closers):
            task.cancel()
        await asyncio.gather(*(self._close_retired(e) for e in list(self._retired)))
        await asyncio.gather(*(e.source.close() for e in self._sources.values() if e.source and e.opened))
        if self._store is not None:
            await self._store.close()
            self._store = None
            self.registrations = None

    def all(self) -> list[RegisteredSource]:
        return list(self._sources.values())

    def get(self, name: str) -> RegisteredSource | None:
        """The source serving ``name``; a just-removed one while it drains, so a query that
        chose it before the removal can still load its nested records."""
        found = self._sources.get(name)
        if found is None:
            found = next((e for e in reversed(self._retired) if e.name == name), None)
        return found
