"""The audit trail: every read of a personal field, in a tamper-evident hash chain.

One entry per request that released personal data (UU 27/2022 PDP accountability): who
(subject, role, agency, credential), why (declared purpose), what (global ids of the records
and the personal fields read), when, and a hash of the query. Entries are appended *before*
the response leaves; if the append fails, the personal values are withheld (see
:mod:`resolvers.access`).

Tamper evidence: entry *n* stores ``hash = SHA-256(canonical JSON of its fields ‖ prev_hash)``
with ``prev_hash`` the hash of entry *n-1* (the first links to 64 zeros), ids are gapless,
and a one-row head table holds the id and hash of the last entry. :meth:`AuditLog.verify`
walks the chain: a modified, deleted, inserted or reordered entry, or a truncated tail, breaks
it. (Someone able to rewrite the whole table *and* the head could forge a consistent chain;
anchor the head hash printed by ``tppo-hub audit verify`` outside the store to rule that out.)

Appends are serialised: in-process by a lock, across replicas by the row lock the first
statement (``UPDATE audit_head … RETURNING``) takes on PostgreSQL and SQLite alike.
A separate index table (record id → entry) serves "who read this victim's data?" quickly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hub.access.policy import PersonalRead, Principal
from hub.engine.ids import decode_number_cursor, encode_number_cursor
from hub.storage.store import Store, metadata

log = logging.getLogger("tppo_hub.audit")

GENESIS = "0" * 64

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    # ISO 8601 UTC text with microseconds: sorts as time and hashes exactly as stored.
    Column("at", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency", String(40)),
    Column("purpose", String(200)),
    Column("credential", String(120), nullable=False),
    Column("query_hash", String(64), nullable=False),
    Column("record_ids", Text, nullable=False),  # JSON list of global ids, sorted
    Column("fields", Text, nullable=False),  # JSON list of GraphQL field names, sorted
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_subject", "subject"),
)

audit_record = Table(
    "audit_record",
    metadata,
    Column("entry_id", BigInteger, ForeignKey("audit_log.id"), primary_key=True),
    Column("record_id", String(400), primary_key=True),
    Index("ix_audit_record_record", "record_id"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)


class AuditUnavailable(Exception):
    """The audit log could not be written: personal data must not be released."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit log."""

    id: int
    at: str
    subject: str
    role: str
    agency: str | None
    purpose: str | None
    credential: str
    query_hash: str
    record_ids: tuple[str, ...]
    fields: tuple[str, ...]
    prev_hash: str
    hash: str

    @property
    def at_datetime(self) -> datetime:
        return datetime.fromisoformat(self.at)


def entry_hash(
    id: int,
    at: str,
    subject: str,
    role: str,
    agency: str | None,
    purpose: str | None,
    credential: str,
    query_hash: str,
    record_ids: Iterable[str],
    fields: Iterable[str],
    prev_hash: str,
) -> str:
    """The chain hash of an entry: SHA-256 over its canonical JSON and the previous hash."""
    payload = json.dumps(
        [id, at, subject, role, agency, purpose, credential, query_hash, list(record_ids), list(fields)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((payload + "|" + prev_hash).encode()).hexdigest()


def query_hash(query: str | None) -> str:
    """SHA-256 of the query text: names the query without storing it (or its variables)."""
    return hashlib.sha256((query or "").encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Conditions on entries (all optional, combined with AND)."""

    subject: str | None = None
    role: str | None = None
    agency: str | None = None
    record_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Entries newest first, and whether older ones follow."""

    entries: list[AuditEntry]
    has_next: bool


@dataclass(slots=True)
class VerifyReport:
    """The outcome of walking the chain."""

    entries: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive times are UTC, as the log is
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_audit_cursor(entry_id: int) -> str:
    """The cursor after entry ``entry_id`` (:mod:`hub.engine.ids` codec)."""
    return encode_number_cursor("audit", entry_id)


def decode_audit_cursor(cursor: str) -> int:
    """The entry id in a cursor; ``ValueError`` (:class:`InvalidId`) if the hub did not make it."""
    return decode_number_cursor(cursor, "audit")


class AuditLog:
    """The audit log in the hub's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Create the chain head if this store has none (tables exist once the store is open)."""
        async with self.store.engine.begin() as conn:
            if (await conn.execute(select(audit_head.c.id).where(audit_head.c.id == 1))).first():
                return
        try:
            async with self.store.engine.begin() as conn:
                await conn.execute(insert(audit_head).values(id=1, last_id=0, last_hash=GENESIS))
        except IntegrityError:
            pass  # another replica created it

    async def append(
        self, principal: Principal, query: str | None, reads: Iterable[PersonalRead]
    ) -> AuditEntry:
        """Append one entry for ``reads``; raises :class:`AuditUnavailable` if it cannot."""
        reads = list(reads)
        record_ids = tuple(sorted({r.record_id for r in reads}))
        field_names = tuple(sorted({r.field for r in reads}))
        at = _iso(datetime.now(UTC))
        qhash = query_hash(query)
        try:
            async with self._lock, self.store.engine.begin() as conn:
                head = (
                    await conn.execute(
                        update(audit_head)
                        .where(audit_head.c.id == 1)
                        .values(last_id=audit_head.c.last_id + 1)
                        .returning(audit_head.c.last_id, audit_head.c.last_hash)
                    )
                ).first()
                if head is None:
                    raise AuditUnavailable("audit chain head missing")
                entry_id, prev = int(head.last_id), str(head.last_hash)
                values = {
                    "id": entry_id,
                    "at": at,
                    "subject": principal.subject,
                    "role": principal.role,
                    "agency": principal.agency,
                    "purpose": principal.purpose,
                    "credential": principal.credential,
                    "query_hash": qhash,
                    "record_ids": record_ids,
                    "fields": field_names,
                    "prev_hash": prev,
                }
                digest = entry_hash(**values)
                await conn.execute(
                    insert(audit_log).values(
                        **{
                            **values,
                            "record_ids": json.dumps(list(record_ids)),
                            "fields": json.dumps(list(field_names)),
                        },
                        hash=digest,
                    )
                )
                if record_ids:
                    await conn.execute(
                        insert(audit_record), [{"entry_id": entry_id, "record_id": r} for r in record_ids]
                    )
                await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_hash=digest))
        except AuditUnavailable:
            raise
        except Exception as exc:
            log.error("audit append failed (%s)", type(exc).__name__)
            raise AuditUnavailable("audit log unavailable") from None
        return AuditEntry(hash=digest, **values)  # type: ignore[arg-type]

    async def entries(self, filter: AuditFilter, first: int, after: int | None = None) -> AuditPage:
        """Entries matching ``filter``, newest first, after entry id ``after`` (keyset)."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(first + 1)
        if after is not None:
            query = query.where(audit_log.c.id < after)
        if filter.subject is not None:
            query = query.where(audit_log.c.subject == filter.subject)
        if filter.role is not None:
            query = query.where(audit_log.c.role == filter.role)
        if filter.agency is not None:
            query = query.where(audit_log.c.agency == filter.agency)
        if filter.since is not None:
            query = query.where(audit_log.c.at >= _iso(filter.since))
        if filter.until is not None:
            query = query.where(audit_log.c.at <= _iso(filter.until))
        if filter.record_id is not None:
            query = query.where(
                exists().where(
                    audit_record.c.entry_id == audit_log.c.id, audit_record.c.record_id == filter.record_id
                )
            )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        entries = [_entry(row) for row in rows[:first]]
        return AuditPage(entries, has_next=len(rows) > first)

    async def verify(self, batch: int = 5000) -> VerifyReport:
        """Walk the whole chain in id order, in batches, and report every break (first 50)."""
        report = VerifyReport()
        expected_id, prev = 1, GENESIS
        async with self.store.engine.connect() as conn:
            head = (await conn.execute(select(audit_head).where(audit_head.c.id == 1))).mappings().first()
            last = 0
            while True:
                query = select(audit_log).where(audit_log.c.id > last).order_by(audit_log.c.id).limit(batch)
                rows = (await conn.execute(query)).mappings().all()
                if not rows:
                    break
                end = int(rows[-1]["id"])
                index = await self._index(conn, last, end)
                for row in rows:
                    entry = _entry(row)
                    report.entries += 1
                    report.problems.extend(_check(entry, expected_id, prev, index.pop(entry.id, set())))
                    expected_id, prev = entry.id + 1, entry.hash
                report.problems.extend(
                    f"entry {i}: record index names a missing entry" for i in sorted(index)
                )
                last = end
            orphans = await self._index(conn, last, None)
            report.problems.extend(f"entry {i}: record index names a missing entry" for i in sorted(orphans))
        if head is None:
            report.problems.append("chain head missing")
        else:
            report.head_id, report.head_hash = int(head["last_id"]), str(head["last_hash"])
            if report.head_id != expected_id - 1 or report.head_hash != prev:
                report.problems.append(
                    f"chain head names entry {report.head_id} but the log ends at entry {expected_id - 1}"
                )
        del report.problems[50:]
        return report

    @staticmethod
    async def _index(conn: Any, after: int, upto: int | None) -> dict[int, set[str]]:
        """The record index of entries ``after < id <= upto`` (to the end if ``upto`` is None)."""
        query = select(audit_record).where(audit_record.c.entry_id > after)
        if upto is not None:
            query = query.where(audit_record.c.entry_id <= upto)
        index: dict[int, set[str]] = {}
        for entry_id, record_id in (await conn.execute(query)).all():
            index.setdefault(int(entry_id), set()).add(record_id)
        return index


def _check(entry: AuditEntry, expected_id: int, prev: str, indexed: set[str]) -> list[str]:
    """What is wrong with one entry, given the one before it."""
    problems = []
    if entry.id != expected_id:
        problems.append(f"entry {expected_id}: missing (the next entry is {entry.id})")
    if entry.prev_hash != prev:
        problems.append(f"entry {entry.id}: does not link to the entry before it")
    recomputed = entry_hash(
        entry.id,
        entry.at,
        entry.subject,
        entry.role,
        entry.agency,
        entry.purpose,
        entry.credential,
        entry.query_hash,
        entry.record_ids,
        entry.fields,
        entry.prev_hash,
    )
    if recomputed != entry.hash:
        problems.append(f"entry {entry.id}: content does not match its hash")
    if set(entry.record_ids) != indexed:
        problems.append(f"entry {entry.id}: record index differs from the entry")
    return problems


def _json_list(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=str(row["at"]),
        subject=str(row["subject"]),
        role=str(row["role"]),
        agency=row["agency"],
        purpose=row["purpose"],
        credential=str(row["credential"]),
        query_hash=str(row["query_hash"]),
        record_ids=_json_list(row["record_ids"]),
        fields=_json_list(row["fields"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
    )
