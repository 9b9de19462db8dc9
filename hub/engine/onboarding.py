"""Registering a source without a restart: check, store, activate — or activate nothing.

Used by the ``registerSource`` / ``removeSource`` mutations (in the running hub) and by
``tppo-hub adapter add`` / ``remove`` (which write the store; running hubs pick the change up
within :attr:`hub.engine.sources.SourceRegistry.watch_seconds`). In both, a registration is checked
exactly as ``tppo-hub adapter check`` does (:mod:`adapters.check`), and only a source that can
serve is stored and activated. The check's opened connection is handed to the registry, so
activation costs no second connection.

Connection URLs are stored (the hub needs them to reconnect) but never returned or logged:
reports carry the redacted URL, log lines only the source name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.base import MappingError, Source, SourceError
from adapters.check import DEFAULT_SAMPLE, ERROR, CheckReport, check_text
from adapters.engines import redact_url
from hub.engine.config import HubConfig, SourceConfig
from hub.engine.registration import Registration, RegistrationStore
from hub.engine.sources import RegisteredSource, SourceRegistry, build_source, engine_options
from hub.storage.store import Store
from hub.vocabulary.model import CaseSearch

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_BACKENDS = ("sqlite", "postgresql", "mysql")
#: Largest mapping text accepted through the API (the demo's largest is about 3 KB).
MAX_MAPPING_BYTES = 256 * 1024


class RegistrationRefused(ValueError):
    """The request itself is unusable (bad name, URL, …): nothing was checked or stored.

    ``argument`` names the offending input, for ``BAD_USER_INPUT`` errors.
    """

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class StoreUnavailable(RuntimeError):
    """The hub's store cannot be reached: registrations cannot be persisted."""


#: What to register: a mapping's TOML text *or* a Python adapter, and its database. The same
#: record the store keeps; :meth:`Registration.registration` fills in its defaults.
RegistrationRequest = Registration


@dataclass(slots=True)
class RegistrationOutcome:
    """What happened: the check's report, and whether the source now serves."""

    report: CheckReport
    activated: bool
    replaced: bool = False
    entry: RegisteredSource | None = None


def validate_request(request: RegistrationRequest, registry_config: HubConfig) -> None:
    """Refuse a request that cannot even be checked (raises :class:`RegistrationRefused`)."""
    if not _NAME.match(request.name):
        raise RegistrationRefused("name must be lower-case letters, digits or _ (at most 40)", "name")
    if any(c.name == request.name for c in registry_config.sources):
        raise RegistrationRefused(
            f"source {request.name!r} is in the hub's configuration file; choose another name", "name"
        )
    if (request.mapping_text is None) == (request.adapter is None):
        raise RegistrationRefused("give exactly one of mapping (TOML text) or adapter", "mapping")
    if request.mapping_text is not None and len(request.mapping_text.encode("utf-8")) > MAX_MAPPING_BYTES:
        raise RegistrationRefused(f"mapping is larger than {MAX_MAPPING_BYTES // 1024} KiB", "mapping")
    if request.mapping_text is not None:  # a Python adapter reads its own kind of URL
        try:
            backend = make_url(request.url).get_backend_name()
        except (ArgumentError, ValueError):
            raise RegistrationRefused(
                "url is not a database URL (sqlite:///…, postgresql://…)", "url"
            ) from None
        if backend not in _BACKENDS:
            raise RegistrationRefused(
                f"url: unsupported database {backend!r} ({', '.join(_BACKENDS)})", "url"
            )
    if request.timeout_seconds is not None and not request.timeout_seconds > 0:
        raise RegistrationRefused("timeoutSeconds must be positive", "timeoutSeconds")


async def check_request(
    request: RegistrationRequest, config: HubConfig, *, sample: int = DEFAULT_SAMPLE, keep_open: bool = False
) -> tuple[CheckReport, Source | None]:
    """Check a request as ``adapter check`` does; with ``keep_open`` return the open source."""
    source_config = request.registration().config()
    if request.mapping_text is not None:
        origin = request.mapping_name or f"{request.name}.toml"
        report, mapped = await check_text(
            request.mapping_text,
            request.name,
            origin,
            engine_options(source_config, config),
            config.base_dir,
            sample=sample,
            keep_open=keep_open,
        )
        return report, mapped
    return await check_adapter(source_config, config, keep_open=keep_open)


async def check_adapter(
    source_config: SourceConfig, config: HubConfig, *, keep_open: bool = False
) -> tuple[CheckReport, Source | None]:
    """The check of a Python adapter: it builds, opens, answers its health probe and a page."""
    report = CheckReport(
        source_config.name,
        f"adapter {source_config.adapter}",
        redact_url(source_config.url),
        datetime.now(UTC),
    )
    try:
        source = build_source(source_config, config)
    except MappingError as exc:
        for problem in exc.problems:
            report.add(ERROR, "adapter", problem)
        return report, None
    except (ValueError, TypeError, FileNotFoundError) as exc:
        report.add(ERROR, "adapter", f"the adapter cannot be built ({type(exc).__name__})")
        return report, None
    try:
        await source.open()
        health = await source.health()
        if not health.ok:
            report.add(ERROR, "connection", "the adapter's health probe failed")
        else:
            cases = await source.search_cases(CaseSearch(limit=20))
            report.sampled["case"] = len(cases)
    except (SourceError, MappingError, OSError, ValueError, TypeError, TimeoutError) as exc:
        report.add(ERROR, "adapter", f"the adapter failed ({type(exc).__name__})")
    if not report.ok or not keep_open:
        await source.close()
        return report, None
    return report, source


async def register_source(
    registry: SourceRegistry, request: RegistrationRequest, by: str, *, sample: int = DEFAULT_SAMPLE
) -> RegistrationOutcome:
    """Check, store and activate a source in the running hub; activate nothing if it fails."""
    validate_request(request, registry.config)
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable: sources cannot be registered now")
    async with registry.changes:
        report, source = await check_request(request, registry.config, sample=sample, keep_open=True)
        if not report.ok or source is None:
            return RegistrationOutcome(report, activated=False)
        try:
            stored = await registry.registrations.put(request.registration(), by)
        except BaseException:
            await source.close()
            raise
        replaced = any(e.name == request.name for e in registry.all())
        entry = registry.register(stored.config(), source, opened=True, revision=stored.revision)
    return RegistrationOutcome(report, activated=True, replaced=replaced, entry=entry)


async def remove_source(registry: SourceRegistry, name: str) -> bool:
    """Stop serving a registered source and delete its registration; False if unknown."""
    if registry.configured(name):
        raise RegistrationRefused(
            f"source {name!r} is in the hub's configuration file: remove it there", "name"
        )
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable: sources cannot be removed now")
    async with registry.changes:
        deleted = await registry.registrations.delete(name)
        removed = registry.remove(name) if registry.is_registered(name) else False
    return deleted or removed


# --- without a running hub (the command line) ---------------------------------------------------


async def add_to_store(
    config: HubConfig, request: RegistrationRequest, by: str, *, sample: int = DEFAULT_SAMPLE
) -> tuple[CheckReport, Registration | None]:
    """Check a request and, if it can serve, store it for the hubs sharing ``config``'s store."""
    validate_request(request, config)
    report, _ = await check_request(request, config, sample=sample)
    if not report.ok:
        return report, None
    store = Store(config.store_url, config.base_dir)
    await store.open()
    try:
        stored = await RegistrationStore(store.engine).put(request.registration(), by)
    finally:
        await store.close()
    return report, stored


async def remove_from_store(config: HubConfig, name: str) -> bool:
    """Delete a registration from ``config``'s store (hubs drop the source at their next sync)."""
    if any(c.name == name for c in config.sources):
        raise RegistrationRefused(
            f"source {name!r} is in the hub's configuration file: remove it there", "name"
        )
    store = Store(config.store_url, config.base_dir)
    await store.open()
    try:
        return await RegistrationStore(store.engine).delete(name)
    finally:
        await store.close()


async def list_store(config: HubConfig) -> list[Registration]:
    """The registrations in ``config``'s store."""
    store = Store(config.store_url, config.base_dir)
    await store.open()
    try:
        return await RegistrationStore(store.engine).all()
    finally:
        await store.close()


def read_mapping_file(path: Path) -> str:
    """The text of a mapping file (a one-line error if it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"mapping file not found: {path}") from None
