"""Registering a source without a restart: check, store, approve, activate — or nothing.

Used by the ``registerSource`` / ``approveSource`` / ``rejectSource`` / ``removeSource``
mutations (in the running hub) and by ``tppo-hub adapter add`` / ``remove`` (which write the
store; running hubs pick the change up within
:attr:`hub.engine.sources.SourceRegistry.watch_seconds`). In both, a registration is checked
exactly as ``tppo-hub adapter check`` does (:mod:`adapters.check`), and only a source that can
serve is stored.

A registration is a way around every personal-data control if nothing stops it, so:

- **allow-list**: the URL must name a host of ``[registration].allowed_hosts`` or a SQLite file
  under ``[registration].allowed_directories``; the hub's own store is refused whatever the list
  says (it holds the audit chain and the registrations, URLs included);
- **screening**: every column mapped into a non-personal field is sampled
  (:mod:`adapters.screening`); NIK-, phone- or name-shaped values there refuse the
  registration, a column whose name says it is personal is flagged for the approver;
- **four eyes**: through the API a registration waits (``pending_sources``) until a second
  admin approves it; only then does it serve. The command line (``tppo-hub adapter add``) is the
  operator's, who holds the store and the configuration file anyway: it stores directly.

Connection URLs are stored (the hub needs them to reconnect) but never returned or logged:
reports carry the redacted URL, log lines only the source name.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.base import MappingError, Source, SourceError
from adapters.check import DEFAULT_SAMPLE, ERROR, WARNING, CheckReport, check_text
from adapters.engines import redact_url
from adapters.screening import Suspicion, screen, shape
from adapters.sql import MappedSQLSource
from hub.engine.config import HubConfig, SourceConfig
from hub.engine.registration import Pending, Registration, RegistrationStore, ReviewRefused
from hub.engine.sources import RegisteredSource, SourceRegistry, build_source, engine_options
from hub.storage.store import Store
from hub.vocabulary.model import CaseSearch

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: The backends the test suite runs; MySQL/MariaDB is refused as unsupported (untested).
_BACKENDS = ("sqlite", "postgresql")
#: The async driver module each backend needs (the hub opens sources with it).
_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
#: Default port per backend, for allow-list entries given without one.
_PORTS = {"postgresql": 5432}
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
    """What happened: the check's report, and whether the source serves or waits for approval."""

    report: CheckReport
    activated: bool
    replaced: bool = False
    entry: RegisteredSource | None = None
    pending: Registration | None = None
    suspicions: list[Suspicion] = field(default_factory=list)


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
        if "://" not in request.url:
            raise RegistrationRefused("url is not a database URL (sqlite:///…, postgresql://…)", "url")
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
        if importlib.util.find_spec(_DRIVERS[backend]) is None:
            raise RegistrationRefused(
                f"url: this hub cannot open {backend} databases (driver {_DRIVERS[backend]} not installed)",
                "url",
            )
        check_allowed(request.url, registry_config)
    if request.timeout_seconds is not None and not request.timeout_seconds > 0:
        raise RegistrationRefused("timeoutSeconds must be positive", "timeoutSeconds")


def check_allowed(url: str, config: HubConfig) -> None:
    """Refuse a database URL outside ``[registration]``'s allow-list, or the hub's own store."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url, config.base_dir)
        if path is None:
            raise RegistrationRefused("url: an in-memory SQLite database cannot be registered", "url")
        store = (
            _sqlite_path(config.store_url, config.base_dir) if config.store_url.startswith("sqlite") else None
        )
        if store is not None and (
            path == store or (path.parent == store.parent and path.name.startswith(store.name))
        ):
            raise RegistrationRefused("url: the hub's own store cannot be registered as a source", "url")
        if not any(path.is_relative_to(d) for d in config.registration_directories):
            raise RegistrationRefused(
                "url: this SQLite file is not under [registration].allowed_directories of the hub's "
                "configuration",
                "url",
            )
        return
    host = (parsed.host or "").lower()
    port = parsed.port or _PORTS.get(backend)
    if not config.store_url.startswith("sqlite"):
        store = make_url(config.store_url)
        same_server = (store.host or "").lower() == host and (store.port or _PORTS.get(backend)) == port
        if same_server and store.database == parsed.database:
            raise RegistrationRefused("url: the hub's own store cannot be registered as a source", "url")
    # An entry "host" allows every port of that host; "host:port" only that port.
    allowed = set(config.registration_hosts)
    if not host or (host not in allowed and f"{host}:{port}" not in allowed):
        raise RegistrationRefused(
            "url: this database server is not in [registration].allowed_hosts of the hub's configuration",
            "url",
        )


def _sqlite_path(url: str, base_dir: Path) -> Path | None:
    """The resolved file of a SQLite URL (``file:`` URIs and query strings read as the engine does)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    database = database.removeprefix("file:").split("?", 1)[0]
    path = Path(database)
    return (path if path.is_absolute() else base_dir / path).resolve()


async def check_request(
    request: RegistrationRequest, config: HubConfig, *, sample: int = DEFAULT_SAMPLE, keep_open: bool = False
) -> tuple[CheckReport, Source | None]:
    """Check a request as ``adapter check`` does, and screen a mapped source for personal data
    in non-personal fields (:mod:`adapters.screening`); with ``keep_open`` return the open source."""
    report, source, _ = await screened_check(request, config, sample=sample, keep_open=keep_open)
    return report, source


async def screened_check(
    request: RegistrationRequest, config: HubConfig, *, sample: int = DEFAULT_SAMPLE, keep_open: bool = False
) -> tuple[CheckReport, Source | None, list[Suspicion]]:
    """:func:`check_request` with the screening's suspicions."""
    source_config = request.registration().config()
    if request.mapping_text is None:
        report, adapter = await check_adapter(source_config, config, keep_open=keep_open)
        return report, adapter, []
    origin = request.mapping_name or f"{request.name}.toml"
    report, mapped = await check_text(
        request.mapping_text,
        request.name,
        origin,
        engine_options(source_config, config),
        config.base_dir,
        sample=sample,
        keep_open=True,
    )
    suspicions: list[Suspicion] = []
    if isinstance(mapped, MappedSQLSource):
        try:
            suspicions = await screen(mapped)
        except SourceError as exc:
            report.add(ERROR, "screening", f"the columns could not be screened ({type(exc).__name__})")
        _add_suspicions(report, suspicions)
    if mapped is not None and (not keep_open or not report.ok):
        await mapped.close()
        mapped = None
    return report, mapped, suspicions


def _add_suspicions(report: CheckReport, suspicions: list[Suspicion]) -> None:
    for found in suspicions:
        where = f"{found.entity.value}:{found.part}.{found.field}"
        if found.refused:
            report.add(
                ERROR,
                "personal_data",
                f"column {found.column} holds {found.reason.upper()}-shaped values ({found.matching} of "
                f"{found.sampled} sampled) but is mapped into the non-personal field {found.field}: personal "
                f"data may only be mapped into personal fields (shapes: {', '.join(found.shapes)})",
                field=where,
                count=found.matching,
            )
        else:
            report.add(
                WARNING,
                "personal_data",
                f"column {found.column} is named like personal data but is mapped into the non-personal "
                f"field {found.field}: the approving admin must confirm it holds none",
                field=where,
            )


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
    """Check a source and keep it for a second admin's approval; keep nothing if it fails."""
    validate_request(request, registry.config)
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable: sources cannot be registered now")
    report, _, suspicions = await screened_check(request, registry.config, sample=sample)
    if not report.ok:
        return RegistrationOutcome(report, activated=False, suspicions=suspicions)
    async with registry.changes:
        pending = await registry.registrations.put_pending(
            request.registration(), by, findings_summary(report)
        )
    return RegistrationOutcome(report, activated=False, pending=pending, suspicions=suspicions)


async def approve_source(
    registry: SourceRegistry, name: str, by: str, revision: str | None = None
) -> RegistrationOutcome:
    """Approve a pending registration (by another admin) and serve it at once.

    The allow-list is checked again (the configuration may have changed since) and so is the
    source, so what serves is what the database holds now.
    """
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable: sources cannot be approved now")
    waiting = await registry.registrations.get_pending(name)
    if waiting is None:
        raise RegistrationRefused(f"no registration of {name!r} is waiting for approval", "name")
    if waiting.registration.registered_by == by:
        raise RegistrationRefused(
            "four eyes: a registration must be approved by another admin than the one who registered it",
            "name",
        )
    request = waiting.registration
    validate_request(request, registry.config)
    async with registry.changes:
        report, source, suspicions = await screened_check(request, registry.config, keep_open=True)
        if not report.ok or source is None:
            return RegistrationOutcome(report, activated=False, suspicions=suspicions)
        try:
            stored = await registry.registrations.approve(name, by, revision)
        except ReviewRefused as exc:
            await source.close()
            raise RegistrationRefused(str(exc), "name") from None
        except BaseException:
            await source.close()
            raise
        replaced = any(e.name == name for e in registry.all())
        entry = registry.register(stored.config(), source, opened=True, revision=stored.revision)
    return RegistrationOutcome(report, activated=True, replaced=replaced, entry=entry, suspicions=suspicions)


async def reject_source(
    registry: SourceRegistry, name: str, by: str, note: str | None = None
) -> Registration:
    """Drop a pending registration, recording who rejected it (any admin, the registrant too)."""
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable: registrations cannot be rejected now")
    try:
        return await registry.registrations.reject(name, by, note)
    except ReviewRefused as exc:
        raise RegistrationRefused(str(exc), "name") from None


async def pending_sources(registry: SourceRegistry) -> list[Pending]:
    """Registrations waiting for a second admin."""
    if registry.registrations is None:
        raise StoreUnavailable("the hub's store is unavailable")
    return await registry.registrations.pending()


def findings_summary(report: CheckReport) -> list[dict[str, Any]]:
    """The findings an approver reads: severity, kind, message, line, field, counts — and the
    examples as shapes (:func:`adapters.screening.shape`), never as values."""
    return [
        {
            "severity": f.severity,
            "kind": f.kind,
            "message": f.message,
            "line": f.line,
            "field": f.field,
            "count": f.count,
            "examples": [
                {"shape": shape(e.value), "count": e.count, "mapsTo": e.maps_to} for e in f.examples
            ],
        }
        for f in report.findings
    ]


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
