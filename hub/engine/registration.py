"""Sources registered at run time, kept in the hub's store (table ``registered_sources``).

Sources in the configuration file are the operator's; sources registered with
``registerSource`` or ``tppo-hub adapter add`` live here, so they survive a restart and every
replica sharing the store serves them (:class:`hub.engine.sources.SourceRegistry` re-reads this table
every few seconds). A registration holds what is needed to rebuild the source — the mapping's
TOML text (or a Python adapter's entry-point name), the database URL, schema and timeout —
and a random ``revision`` that changes with every write, which is how a replica notices
that a source was replaced.

The URL may carry a password. Like the configuration file, the store is the operator's to
protect; the hub never returns a URL through its API and logs only redacted ones.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Float, String, Table, Text, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.engine.config import SourceConfig
from hub.storage.store import metadata

registered_sources = Table(
    "registered_sources",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("mapping_name", String(200), nullable=True),
    Column("mapping_text", Text, nullable=True),
    Column("adapter", String(200), nullable=True),
    Column("url", Text, nullable=False),
    Column("db_schema", String(200), nullable=True),
    Column("timeout_seconds", Float, nullable=True),
    Column("options", Text, nullable=False),
    Column("revision", String(32), nullable=False),
    Column("registered_at", String(40), nullable=False),
    Column("registered_by", String(200), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Registration:
    """One source registered at run time (see the module docstring)."""

    name: str
    url: str
    mapping_text: str | None = None
    mapping_name: str | None = None
    adapter: str | None = None
    schema: str | None = None
    timeout_seconds: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    revision: str = ""
    registered_at: str = ""
    registered_by: str = ""

    def registration(self) -> Registration:
        """This registration with its defaults filled in (a mapping given as text is kept as
        ``<name>.toml``) and its own copy of the options."""
        mapping_name = self.mapping_name or (f"{self.name}.toml" if self.mapping_text is not None else None)
        return replace(self, mapping_name=mapping_name, options=dict(self.options))

    def config(self) -> SourceConfig:
        """The source's configuration, as if it were written in the configuration file."""
        return SourceConfig(
            name=self.name,
            url=self.url,
            mapping=self.mapping_name if self.mapping_text is not None else None,
            adapter=self.adapter,
            schema=self.schema,
            timeout_seconds=self.timeout_seconds,
            options=dict(self.options),
        )


def _row(registration: Registration) -> dict[str, Any]:
    return {
        "name": registration.name,
        "mapping_name": registration.mapping_name,
        "mapping_text": registration.mapping_text,
        "adapter": registration.adapter,
        "url": registration.url,
        "db_schema": registration.schema,
        "timeout_seconds": registration.timeout_seconds,
        "options": json.dumps(registration.options, sort_keys=True),
        "revision": registration.revision,
        "registered_at": registration.registered_at,
        "registered_by": registration.registered_by,
    }


def _registration(row: Any) -> Registration:
    return Registration(
        name=row.name,
        url=row.url,
        mapping_text=row.mapping_text,
        mapping_name=row.mapping_name,
        adapter=row.adapter,
        schema=row.db_schema,
        timeout_seconds=row.timeout_seconds,
        options=json.loads(row.options or "{}"),
        revision=row.revision,
        registered_at=row.registered_at,
        registered_by=row.registered_by,
    )


class RegistrationStore:
    """Read and write ``registered_sources`` on the hub's store engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self) -> list[Registration]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(registered_sources).order_by(registered_sources.c.name))).all()
        return [_registration(r) for r in rows]

    async def revisions(self) -> dict[str, str]:
        """Name → revision of every registration (cheap: what the watcher polls)."""
        stmt = select(registered_sources.c.name, registered_sources.c.revision)
        async with self.engine.connect() as conn:
            return {name: revision for name, revision in (await conn.execute(stmt)).all()}

    async def get(self, name: str) -> Registration | None:
        stmt = select(registered_sources).where(registered_sources.c.name == name)
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _registration(row) if row is not None else None

    async def put(self, registration: Registration, by: str) -> Registration:
        """Insert or replace; returns the stored registration with its new revision."""
        stored = Registration(
            **{
                **{f: getattr(registration, f) for f in registration.__dataclass_fields__},
                "revision": secrets.token_hex(16),
                "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "registered_by": by,
            }
        )
        values = _row(stored)
        async with self.engine.begin() as conn:
            exists = (
                await conn.execute(
                    select(registered_sources.c.name).where(registered_sources.c.name == stored.name)
                )
            ).first()
            if exists:
                await conn.execute(
                    update(registered_sources).where(registered_sources.c.name == stored.name).values(values)
                )
            else:
                await conn.execute(insert(registered_sources).values(values))
        return stored

    async def delete(self, name: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(registered_sources).where(registered_sources.c.name == name))
        return bool(result.rowcount)
