"""``tppo-hub serve --check``: the checklist run before a hub goes live (docs/operations.md).

Each check is one line, ``OK`` or ``FAIL`` with a reason; the command exits non-zero when any
fails. The checks touch what serving touches, the way serving touches it:

1. the configuration file is valid (the same typed models the hub starts from);
2. the hub is not in demo mode and its secrets are present (``[auth]``: the environment
   variable or file the signing secret comes from, the JWKS file);
3. every configured source is reachable, its mapping fits its database, and the connection
   the hub uses is *proved* read-only by asking the database (SQLite ``PRAGMA query_only``,
   PostgreSQL ``SHOW default_transaction_read_only``);
4. the hub's store is writable (a table created and a row written inside a transaction that
   is rolled back, so nothing is left behind);
5. the audit hash chain is intact.

Nothing personal is read or printed: only names, counts and redacted URLs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import MappingError
from adapters.engines import EngineOptions, create_readonly_engine, redact_url
from hub.access.audit import AuditLog
from hub.access.auth import load_auth
from hub.engine.config import ConfigError, HubConfig, SourceConfig, load_config
from hub.engine.sources import build_source
from hub.storage.store import Store

#: Time limit of one check that talks to a database.
CHECK_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the checklist."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        detail = "; ".join(part.strip(" -") for part in self.detail.splitlines() if part.strip())
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {detail}"


async def run_checks(path: Path) -> list[CheckResult]:
    """Every check for the configuration at ``path``; later checks are skipped when it is invalid."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [CheckResult("configuration", False, str(exc))]
    results = [
        CheckResult("configuration", True, f"{path.name} valid, {len(config.sources)} source(s)"),
        _secrets(config),
    ]
    for source in config.sources:
        results.append(await _guard(f"source {source.name}", lambda s=source: _source(s, config)))
    store = Store(config.store_url, config.base_dir)
    results.append(await _guard("store", lambda: _store_writable(store, config)))
    if store.is_open:
        results.append(await _guard("audit chain", lambda: _audit(store)))
        await store.close()
    else:
        results.append(CheckResult("audit chain", False, "not checked: the store cannot be opened"))
    return results


async def _guard(name: str, check: Callable[[], Awaitable[str]]) -> CheckResult:
    """Run one check with a time limit; any failure becomes a FAIL line with its reason."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return CheckResult(name, True, await check())
    except TimeoutError:
        return CheckResult(name, False, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s")
    except (MappingError, ValueError, OSError, SQLAlchemyError, RuntimeError) as exc:
        return CheckResult(name, False, _reason(exc))


def _reason(exc: BaseException) -> str:
    """One line: our own messages as they are, a driver's error by its class and first line."""
    if isinstance(exc, SQLAlchemyError):
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return f"{type(exc).__name__}: {first}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _secrets(config: HubConfig) -> CheckResult:
    if config.demo:
        return CheckResult(
            "secrets", False, "[hub].demo is on: anonymous callers act as analysts (demo only)"
        )
    try:
        settings = load_auth(config, create_dev_secret=False)
    except ConfigError as exc:
        return CheckResult("secrets", False, str(exc))
    present = (("signing secret", settings.secret), ("JWKS", settings.jwks))
    found = [what for what, value in present if value]
    keys = len(settings.api_keys)
    if not found and not keys:
        return CheckResult("secrets", False, "no signing secret, JWKS or API key: nobody can authenticate")
    return CheckResult("secrets", True, f"{', '.join(found) or 'no token verification'}, {keys} API key(s)")


async def _source(source: SourceConfig, config: HubConfig) -> str:
    """Reachable, mapping fits, and the hub's connection refuses writes (asked of the database)."""
    instance = build_source(source, config)
    try:
        await instance.open()
    finally:
        await instance.close()
    options = EngineOptions(url=source.url, schema=source.schema, pool_size=1, max_overflow=0)
    engine = create_readonly_engine(options, config.base_dir)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                value = (await conn.execute(text("PRAGMA query_only"))).scalar()
                read_only = str(value) == "1"
                how = "PRAGMA query_only = 1, opened mode=ro"
            elif engine.dialect.name == "postgresql":
                value = (await conn.execute(text("SHOW default_transaction_read_only"))).scalar()
                read_only = str(value).lower() == "on"
                how = "default_transaction_read_only = on"
            else:
                value = (await conn.execute(text("SELECT @@SESSION.transaction_read_only"))).scalar()
                read_only = str(value) == "1"
                how = "transaction_read_only = 1"
    finally:
        await engine.dispose()
    if not read_only:
        raise RuntimeError(f"the connection is NOT read-only ({how.split(' ')[0]} = {value})")
    return f"reachable at {redact_url(source.url)}, read-only ({how})"


async def _store_writable(store: Store, config: HubConfig) -> str:
    await store.open()
    async with store.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            await conn.execute(text("CREATE TABLE tppo_hub_preflight (probe INTEGER)"))
            await conn.execute(text("INSERT INTO tppo_hub_preflight (probe) VALUES (1)"))
        finally:
            await transaction.rollback()
    return f"writable at {redact_url(config.store_url)}"


async def _audit(store: Store) -> str:
    audit = AuditLog(store)
    await audit.open()  # a new store gets its chain head, as at start-up
    report = await audit.verify()
    if not report.ok:
        problems = "; ".join(report.problems[:3])
        raise RuntimeError(f"BROKEN after {report.entries} entries: {problems}")
    return f"intact, {report.entries} entries"
