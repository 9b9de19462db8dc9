"""The linkage index in the hub's store: which records are one person — and nothing personal.

Two tables on :data:`hub.storage.store.metadata`:

- ``linkage_record``: one row per agency person record that the linkage job has seen:
  ``person_id``, ``source``, ``record_key``, ``roles`` (procedural roles as recorded, e.g.
  ``VICTIM``), ``score`` and ``rule`` (why the record joined its person), ``linked_at``
  and the ``run_id`` that placed it. No name, NIK, birth date, passport, address or phone —
  a test inspects the columns. ``person_id`` is an integer drawn from a sequence, so it says
  nothing about the person either.
- ``linkage_run``: one row per run (mode, start and end, counts), for operators.

Person ids are stable: an incremental run only adds records (to existing or new persons); a
full run re-clusters and then gives each new cluster the old id most of its records had, so an
id survives for as long as the same records stay linked.

All SQL of the linkage lives here (resolvers know no SQL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.store import metadata
from hub.vocabulary.model import VICTIM_ROLES, PersonRole

linkage_record = Table(
    "linkage_record",
    metadata,
    Column("source", String(64), primary_key=True, doc="Registered source name."),
    Column("record_key", String(255), primary_key=True, doc="The source's own key of the person record."),
    Column("person_id", Integer, nullable=False, doc="The linked person (opaque sequence number)."),
    Column("roles", String(255), nullable=False, default="", doc="Procedural roles, comma-separated."),
    Column("score", Float, nullable=True, doc="Score of the best link into the person; null alone."),
    Column("rule", String(64), nullable=False, doc="The rule that linked it, or SINGLE."),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Integer, nullable=False),
    Index("ix_linkage_record_person", "person_id", "source"),
)

linkage_run = Table(
    "linkage_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mode", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("records_read", Integer, nullable=False, default=0),
    Column("records_linked", Integer, nullable=False, default=0),
    Column("persons", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="running"),
)

#: Personal fields that must never be a column of the index (checked by a test).
FORBIDDEN_COLUMNS = frozenset(
    {"name", "full_name", "nik", "birth_date", "passport", "passport_number", "address", "phone"}
)

RecordRef = tuple[str, str]  # (source, record key)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One row of the linkage index."""

    person_id: int
    source: str
    key: str
    roles: tuple[PersonRole, ...]
    score: float | None
    rule: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class PersonQuery:
    """Conditions on linked persons, evaluated on the index alone (no source is asked)."""

    sources: tuple[str, ...] = ()  # at least one record in one of these sources
    roles: tuple[PersonRole, ...] = ()  # at least one record with one of these roles
    min_sources: int | None = None  # records in at least this many sources
    #: Entries the caller may not see (the policy's row rule): per source, the roles whose
    #: records are hidden. They are left out before grouping, so a person known only through
    #: hidden records is neither listed nor counted.
    hidden: tuple[tuple[str, tuple[PersonRole, ...]], ...] = ()


def encode_roles(roles: Iterable[PersonRole]) -> str:
    return ",".join(sorted(r.name for r in roles))


def decode_roles(text: str) -> tuple[PersonRole, ...]:
    return tuple(PersonRole[name] for name in text.split(",") if name)


def _entry(row: object) -> IndexEntry:
    return IndexEntry(
        person_id=row.person_id,  # type: ignore[attr-defined]
        source=row.source,  # type: ignore[attr-defined]
        key=row.record_key,  # type: ignore[attr-defined]
        roles=decode_roles(row.roles),  # type: ignore[attr-defined]
        score=row.score,  # type: ignore[attr-defined]
        rule=row.rule,  # type: ignore[attr-defined]
        linked_at=row.linked_at,  # type: ignore[attr-defined]
    )


class LinkageIndex:
    """Reads and writes the linkage index through the store's async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- reads (per request: batched) ------------------------------------------------------

    async def persons_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, int]:
        """The person id of each record that the index knows (one statement per chunk)."""
        found: dict[RecordRef, int] = {}
        unique = list(dict.fromkeys(refs))
        async with self.engine.connect() as conn:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                by_source: dict[str, list[str]] = defaultdict(list)
                for source, key in chunk:
                    by_source[source].append(key)
                condition = or_(
                    *(
                        and_(linkage_record.c.source == s, linkage_record.c.record_key.in_(keys))
                        for s, keys in by_source.items()
                    )
                )
                stmt = select(
                    linkage_record.c.source, linkage_record.c.record_key, linkage_record.c.person_id
                )
                for source, key, person in (await conn.execute(stmt.where(condition))).all():
                    found[(source, key)] = person
        return found

    async def records_of(self, person_ids: Sequence[int]) -> dict[int, list[IndexEntry]]:
        """Every indexed record of each person, in (source, key) order."""
        result: dict[int, list[IndexEntry]] = {p: [] for p in person_ids}
        unique = list(dict.fromkeys(person_ids))
        async with self.engine.connect() as conn:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                stmt = (
                    select(linkage_record)
                    .where(linkage_record.c.person_id.in_(chunk))
                    .order_by(
                        linkage_record.c.person_id, linkage_record.c.source, linkage_record.c.record_key
                    )
                )
                for row in (await conn.execute(stmt)).all():
                    result[row.person_id].append(_entry(row))
        return result

    async def page(self, query: PersonQuery, after: int | None, limit: int) -> list[int]:
        """Up to ``limit`` person ids after ``after`` (keyset on the id) matching ``query``."""
        stmt = (
            select(linkage_record.c.person_id)
            .where(*self._visible(query))
            .group_by(linkage_record.c.person_id)
        )
        if after is not None:
            stmt = stmt.where(linkage_record.c.person_id > after)
        stmt = stmt.having(self._having(query)) if self._having(query) is not None else stmt
        stmt = stmt.order_by(linkage_record.c.person_id).limit(limit)
        async with self.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(stmt)).all()]

    async def count(self, query: PersonQuery) -> int:
        """How many persons match ``query``."""
        inner = (
            select(linkage_record.c.person_id)
            .where(*self._visible(query))
            .group_by(linkage_record.c.person_id)
        )
        having = self._having(query)
        if having is not None:
            inner = inner.having(having)
        stmt = select(func.count()).select_from(inner.subquery())
        async with self.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    @staticmethod
    def _visible(query: PersonQuery) -> list[Any]:
        conditions = []
        padded = "," + linkage_record.c.roles + ","
        for source, roles in query.hidden:
            has_hidden_role = or_(*(padded.like(f"%,{role.name},%") for role in roles))
            conditions.append(not_(and_(linkage_record.c.source == source, has_hidden_role)))
        return conditions

    @staticmethod
    def _having(query: PersonQuery) -> object | None:
        conditions = []
        if query.sources:
            hit = linkage_record.c.source.in_(query.sources)
            conditions.append(func.sum(func.cast(hit, Integer)) > 0)
        if query.roles:
            # roles is a sorted comma list: match whole names with delimiters on both sides.
            padded = "," + linkage_record.c.roles + ","
            hit = or_(*(padded.like(f"%,{role.name},%") for role in query.roles))
            conditions.append(func.sum(func.cast(hit, Integer)) > 0)
        if query.min_sources is not None and query.min_sources > 1:
            conditions.append(func.count(linkage_record.c.source.distinct()) >= query.min_sources)
        return and_(*conditions) if conditions else None

    async def exists(self, person_id: int) -> bool:
        stmt = select(linkage_record.c.person_id).where(linkage_record.c.person_id == person_id).limit(1)
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).first() is not None

    # --- reads for the job ---------------------------------------------------------------

    async def assignments(self) -> dict[RecordRef, int]:
        """Every (source, key) → person id (the job's starting point)."""
        out: dict[RecordRef, int] = {}
        stmt = select(linkage_record.c.source, linkage_record.c.record_key, linkage_record.c.person_id)
        async with self.engine.connect() as conn:
            result = await conn.stream(stmt)
            async for source, key, person in result:
                out[(source, key)] = person
        return out

    async def max_person_id(self) -> int:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(func.max(linkage_record.c.person_id)))).scalar()
        return int(value or 0)

    async def last_run_at(self) -> datetime | None:
        """When the last successful linkage run finished (None: linkage never ran)."""
        async with self.engine.connect() as conn:
            value = (
                await conn.execute(
                    select(func.max(linkage_run.c.finished_at)).where(linkage_run.c.status == "ok")
                )
            ).scalar()
        if value is not None and value.tzinfo is None:  # SQLite hands back naive datetimes
            value = value.replace(tzinfo=UTC)
        return value

    # --- writes (the job) ------------------------------------------------------------------

    async def start_run(self, mode: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(linkage_run).values(mode=mode, started_at=datetime.now(UTC), status="running")
            )
            return int(result.inserted_primary_key[0])

    async def finish_run(self, run_id: int, *, read: int, linked: int, persons: int, status: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(linkage_run)
                .where(linkage_run.c.id == run_id)
                .values(
                    finished_at=datetime.now(UTC),
                    records_read=read,
                    records_linked=linked,
                    persons=persons,
                    status=status,
                )
            )

    async def write(
        self,
        run_id: int,
        rows: Sequence[tuple[str, str, int, str, float | None, str]],
        *,
        replace_sources: Iterable[str] = (),
        remove: Iterable[RecordRef] = (),
    ) -> None:
        """Upsert ``(source, key, person_id, roles, score, rule)`` rows in one transaction.

        ``replace_sources`` empties those sources first (a full run rewrites what it read);
        ``remove`` deletes records that their source no longer holds.
        """
        now = datetime.now(UTC)
        replaced = set(replace_sources)
        async with self.engine.begin() as conn:
            for source in replaced:
                await conn.execute(delete(linkage_record).where(linkage_record.c.source == source))
            removed = list(remove)
            for start in range(0, len(removed), _CHUNK):
                chunk = removed[start : start + _CHUNK]
                await conn.execute(
                    delete(linkage_record).where(
                        tuple_(linkage_record.c.source, linkage_record.c.record_key).in_(chunk)
                    )
                )
            keys = [(r[0], r[1]) for r in rows if r[0] not in replaced]
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                await conn.execute(
                    delete(linkage_record).where(
                        tuple_(linkage_record.c.source, linkage_record.c.record_key).in_(chunk)
                    )
                )
            payload = [
                {
                    "source": source,
                    "record_key": key,
                    "person_id": person,
                    "roles": roles,
                    "score": score,
                    "rule": rule,
                    "linked_at": now,
                    "run_id": run_id,
                }
                for source, key, person, roles, score, rule in rows
            ]
            for start in range(0, len(payload), 5000):
                await conn.execute(insert(linkage_record), payload[start : start + 5000])


def is_victim(roles: Iterable[PersonRole]) -> bool:
    """Whether any of the roles makes the record a victim's (korban or saksi korban)."""
    return any(role in VICTIM_ROLES for role in roles)
