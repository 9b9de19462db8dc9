"""Sources registered at run time, kept in the hub's store (table ``registered_sources``).

Sources in the configuration file are the operator's; sources registered with
``registerSource`` or ``tppo-hub adapter add`` live here, so they survive a restart and every
replica sharing the store serves them (:class:`hub.engine.sources.SourceRegistry` re-reads this table
every few seconds). A registration holds what is needed to rebuild the source — the mapping's
TOML text (or a Python adapter's entry-point name), the database URL, schema and timeout —
and a random ``revision`` that changes with every write, which is how a replica notices
that a source was replaced.

**Four eyes.** A registration made through the API does not serve at once: it waits in
``pending_sources`` (with the check's findings, shapes and counts only) until a *second* admin
approves it (:meth:`RegistrationStore.approve` moves it into ``registered_sources``) or
rejects it. Every decision is kept in ``source_reviews`` — who registered, who decided, when —
beside the audit chain's entries for the same events.

The URL may carry a password. Like the configuration file, the store is the operator's to
protect; the hub never returns a URL through its API and logs only redacted ones.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Float, Integer, String, Table, Text, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.engine.config import SourceConfig
from hub.storage.store import metadata


def _registration_columns() -> list[Column[Any]]:
    """The columns of a registration, served (``registered_sources``) or waiting (``pending_sources``)."""
    return [
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
    ]


registered_sources = Table("registered_sources", metadata, *_registration_columns())
#: Registrations waiting for a second admin; ``findings`` is the check's summary (JSON, shapes
#: and counts only) that the approver reads.
pending_sources = Table(
    "pending_sources", metadata, *_registration_columns(), Column("findings", Text, nullable=False)
)
#: Every approval and rejection: the four-eyes record.
source_reviews = Table(
    "source_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("revision", String(32), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("registered_by", String(200), nullable=False),
    Column("registered_at", String(40), nullable=False),
    Column("reviewed_by", String(200), nullable=False),
    Column("reviewed_at", String(40), nullable=False),
    Column("note", Text, nullable=True),
)


class ReviewRefused(ValueError):
    """An approval or rejection that cannot be made (nothing pending, or the same person)."""


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Pending:
    """A registration waiting for a second admin, with the findings the approver reads."""

    registration: Registration
    findings: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Review:
    """One four-eyes decision on a registration."""

    name: str
    revision: str
    decision: str
    registered_by: str
    registered_at: str
    reviewed_by: str
    reviewed_at: str
    note: str | None


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
        """Insert or replace a served registration; returns it with its new revision."""
        stored = _stamped(registration, by)
        async with self.engine.begin() as conn:
            await _upsert(conn, registered_sources, _row(stored))
        return stored

    # --- four eyes ---------------------------------------------------------------------------

    async def put_pending(
        self, registration: Registration, by: str, findings: list[dict[str, Any]]
    ) -> Registration:
        """Keep a registration until a second admin decides (replaces one pending of that name)."""
        stored = _stamped(registration, by)
        values = {**_row(stored), "findings": json.dumps(findings, sort_keys=True)}
        async with self.engine.begin() as conn:
            await _upsert(conn, pending_sources, values)
        return stored

    async def pending(self) -> list[Pending]:
        """The registrations waiting for a decision, by name."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(pending_sources).order_by(pending_sources.c.name))).all()
        return [Pending(_registration(r), json.loads(r.findings or "[]")) for r in rows]

    async def get_pending(self, name: str) -> Pending | None:
        stmt = select(pending_sources).where(pending_sources.c.name == name)
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return Pending(_registration(row), json.loads(row.findings or "[]")) if row is not None else None

    async def approve(self, name: str, by: str, revision: str | None = None) -> Registration:
        """Serve a pending registration: another person than its registrant approves it.

        ``revision`` (if given) must be the one the approver reviewed, so a registration
        replaced in the meantime is not approved unseen. Raises :class:`ReviewRefused`.
        """
        async with self.engine.begin() as conn:
            pending = await self._pending_for_review(conn, name, by, revision, approving=True)
            served = pending  # served under the revision the approver reviewed
            await _upsert(conn, registered_sources, _row(served))
            await conn.execute(delete(pending_sources).where(pending_sources.c.name == name))
            await conn.execute(insert(source_reviews).values(_review(pending, "approved", by, None)))
        return served

    async def reject(self, name: str, by: str, note: str | None = None) -> Registration:
        """Drop a pending registration, recording who rejected it and why."""
        async with self.engine.begin() as conn:
            pending = await self._pending_for_review(conn, name, by, None, approving=False)
            await conn.execute(delete(pending_sources).where(pending_sources.c.name == name))
            await conn.execute(insert(source_reviews).values(_review(pending, "rejected", by, note)))
        return pending

    async def _pending_for_review(
        self, conn: Any, name: str, by: str, revision: str | None, *, approving: bool
    ) -> Registration:
        row = (await conn.execute(select(pending_sources).where(pending_sources.c.name == name))).first()
        if row is None:
            raise ReviewRefused(f"no registration of {name!r} is waiting for a decision")
        pending = _registration(row)
        if approving and pending.registered_by == by:
            raise ReviewRefused(
                "four eyes: a registration must be approved by another admin than its registrant"
            )
        if revision is not None and revision != pending.revision:
            raise ReviewRefused("the registration changed since it was reviewed: review it again")
        return pending

    async def reviews(self, name: str | None = None) -> list[Review]:
        """The four-eyes decisions, oldest first (of one source, or of all)."""
        stmt = select(source_reviews).order_by(source_reviews.c.id)
        if name is not None:
            stmt = stmt.where(source_reviews.c.name == name)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Review(
                r.name,
                r.revision,
                r.decision,
                r.registered_by,
                r.registered_at,
                r.reviewed_by,
                r.reviewed_at,
                r.note,
            )
            for r in rows
        ]

    async def delete(self, name: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(registered_sources).where(registered_sources.c.name == name))
        return bool(result.rowcount)


def _stamped(registration: Registration, by: str) -> Registration:
    """``registration`` with a new revision, the time and its registrant."""
    return replace(registration, revision=secrets.token_hex(16), registered_at=_now(), registered_by=by)


async def _upsert(conn: Any, table: Table, values: dict[str, Any]) -> None:
    exists = (await conn.execute(select(table.c.name).where(table.c.name == values["name"]))).first()
    if exists:
        await conn.execute(update(table).where(table.c.name == values["name"]).values(values))
    else:
        await conn.execute(insert(table).values(values))


def _review(pending: Registration, decision: str, by: str, note: str | None) -> dict[str, Any]:
    return {
        "name": pending.name,
        "revision": pending.revision,
        "decision": decision,
        "registered_by": pending.registered_by,
        "registered_at": pending.registered_at,
        "reviewed_by": by,
        "reviewed_at": _now(),
        "note": note,
    }
