"""The clerical review queue: possible links offered to coordinators, and their decisions.

A pair of records in the uncertain band (:data:`~hub.linkage.scoring.REVIEW_THRESHOLD` up to
the link threshold, or a name-only pair the rules refuse to link) is not linked: it is stored
here, one row per pair of persons, with the agreement level of every field
(:class:`~hub.linkage.scoring.Levels`) — never a name, NIK or any other value. A coordinator
confirms or rejects it:

- ``CONFIRMED``: the two persons are merged in the linkage index at once (the smaller person
  id is kept, so ids stay stable), and every later run links the pair first;
- ``REJECTED``: later runs never put the two records in one person, and never offer the pair
  again.

A decision can be **undone** (:meth:`ReviewQueue.undo`): the pair is ``PENDING`` again, later
runs no longer bind themselves to it, and an undone confirmation splits the merged person back
into the two it joined. What a confirmation changed in the index is kept for that purpose in
``linkage_review_merge`` (record references, person ids, scores and rules — nothing personal):
the records that came from the absorbed person leave the merged one again, under that
person's id (or a new one if the id was given out since), with the rule and score they had.
Records that joined the merged person after the confirmation stay where they are; the next
full run re-clusters them without the decision.

Decisions are kept across runs (a full run replaces only the *pending* rows) and written to
the audit chain by the caller. All SQL of the queue lives here (resolvers know no SQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.linkage.index import RecordRef, linkage_record
from hub.storage.store import metadata
from hub.vocabulary.model import PersonRole

linkage_review = Table(
    "linkage_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_a", String(64), nullable=False, doc="Source of the first record."),
    Column("key_a", String(255), nullable=False, doc="The source's own key of the first record."),
    Column("source_b", String(64), nullable=False),
    Column("key_b", String(255), nullable=False),
    Column("score", Float, nullable=False, doc="The pair's score (below the link threshold)."),
    Column("rule", String(64), nullable=False, doc="The strongest evidence, e.g. NAME_ONLY."),
    Column("levels", Text, nullable=False, doc="JSON: field → agreement level (no values)."),
    Column("status", String(16), nullable=False, default="PENDING"),
    Column("found_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("decided_by", String(200), nullable=True, doc="Subject of the reviewer."),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source_a", "key_a", "source_b", "key_b", name="uq_linkage_review_pair"),
    Index("ix_linkage_review_status", "status", "id"),
)


linkage_review_merge = Table(
    "linkage_review_merge",
    metadata,
    Column("review_id", Integer, primary_key=True, doc="The confirmed pair (linkage_review.id)."),
    Column("source", String(64), primary_key=True, doc="Source of a record the confirmation changed."),
    Column("record_key", String(255), primary_key=True, doc="The source's own key of that record."),
    Column("person_before", Integer, nullable=False, doc="Its person id before the confirmation."),
    Column("moved", Integer, nullable=False, doc="1: it came from the absorbed person; 0: rule only."),
    Column("score_before", Float, nullable=True),
    Column("rule_before", String(64), nullable=False),
)


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One pair in the queue: record references, score, levels and the decision, if any."""

    id: int
    left: RecordRef
    right: RecordRef
    score: float
    rule: str
    levels: dict[str, str]
    status: ReviewStatus
    found_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    #: the persons the two records belong to now (None when a record left the index)
    left_person: int | None = None
    right_person: int | None = None


@dataclass(frozen=True, slots=True)
class NewPair:
    """A possible link found by a run, to be queued."""

    left: RecordRef
    right: RecordRef
    score: float
    rule: str
    levels: dict[str, str]


@dataclass(frozen=True, slots=True)
class Decided:
    """A reviewer's decision, as later runs need it."""

    left: RecordRef
    right: RecordRef
    status: ReviewStatus


class ReviewNotFound(LookupError):
    """No queued pair has that id."""


class NotDecided(ValueError):
    """The pair has no decision to undo (it is pending)."""


def ordered(a: RecordRef, b: RecordRef) -> tuple[RecordRef, RecordRef]:
    return (a, b) if a <= b else (b, a)


def _item(row: Any) -> ReviewItem:
    return ReviewItem(
        id=row.id,
        left=(row.source_a, row.key_a),
        right=(row.source_b, row.key_b),
        score=row.score,
        rule=row.rule,
        levels=json.loads(row.levels),
        status=ReviewStatus(row.status),
        found_at=row.found_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        left_person=getattr(row, "person_a", None),
        right_person=getattr(row, "person_b", None),
    )


_la = linkage_record.alias("la")
_lb = linkage_record.alias("lb")


def _open_pairs() -> Any:
    """Pending pairs whose records are both indexed and still two persons."""
    return (
        select(linkage_review, _la.c.person_id.label("person_a"), _lb.c.person_id.label("person_b"))
        .join(
            _la, and_(_la.c.source == linkage_review.c.source_a, _la.c.record_key == linkage_review.c.key_a)
        )
        .join(
            _lb, and_(_lb.c.source == linkage_review.c.source_b, _lb.c.record_key == linkage_review.c.key_b)
        )
        .where(linkage_review.c.status == ReviewStatus.PENDING.value, _la.c.person_id != _lb.c.person_id)
    )


def _hidden(hidden: Sequence[tuple[str, Sequence[PersonRole]]]) -> list[Any]:
    """Conditions leaving out pairs with a record the caller may not see (the row rule)."""
    conditions = []
    for table in (_la, _lb):
        padded = "," + table.c.roles + ","
        for source, roles in hidden:
            has_hidden_role = or_(*(padded.like(f"%,{role.name},%") for role in roles))
            conditions.append(not_(and_(table.c.source == source, has_hidden_role)))
    return conditions


class ReviewQueue:
    """The queue in the hub's store."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- for coordinators -----------------------------------------------------------------

    async def page(
        self, after: int | None, limit: int, hidden: Sequence[tuple[str, Sequence[PersonRole]]] = ()
    ) -> list[ReviewItem]:
        """Open pairs after queue id ``after`` (keyset), best score first within a run."""
        stmt = _open_pairs().where(*_hidden(hidden))
        if after is not None:
            stmt = stmt.where(linkage_review.c.id > after)
        stmt = stmt.order_by(linkage_review.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [_item(row) for row in (await conn.execute(stmt)).all()]

    async def counts(self, hidden: Sequence[tuple[str, Sequence[PersonRole]]] = ()) -> tuple[int, int]:
        """(open pairs, distinct persons resting on them) visible to the caller."""
        pairs = _open_pairs().where(*_hidden(hidden)).subquery()
        persons = union(select(pairs.c.person_a.label("p")), select(pairs.c.person_b.label("p"))).subquery()
        async with self.engine.connect() as conn:
            open_pairs = int((await conn.execute(select(func.count()).select_from(pairs))).scalar_one())
            resting = int((await conn.execute(select(func.count()).select_from(persons))).scalar_one())
        return open_pairs, resting

    async def get(self, item_id: int) -> ReviewItem:
        stmt = (
            select(linkage_review, _la.c.person_id.label("person_a"), _lb.c.person_id.label("person_b"))
            .outerjoin(
                _la,
                and_(_la.c.source == linkage_review.c.source_a, _la.c.record_key == linkage_review.c.key_a),
            )
            .outerjoin(
                _lb,
                and_(_lb.c.source == linkage_review.c.source_b, _lb.c.record_key == linkage_review.c.key_b),
            )
            .where(linkage_review.c.id == item_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise ReviewNotFound(item_id)
        return _item(row)

    async def get_visible(
        self, item_id: int, hidden: Sequence[tuple[str, Sequence[PersonRole]]] = ()
    ) -> ReviewItem:
        """The pair, whatever its status, if both records are indexed and visible to the caller."""
        stmt = (
            select(linkage_review, _la.c.person_id.label("person_a"), _lb.c.person_id.label("person_b"))
            .join(
                _la,
                and_(_la.c.source == linkage_review.c.source_a, _la.c.record_key == linkage_review.c.key_a),
            )
            .join(
                _lb,
                and_(_lb.c.source == linkage_review.c.source_b, _lb.c.record_key == linkage_review.c.key_b),
            )
            .where(linkage_review.c.id == item_id, *_hidden(hidden))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise ReviewNotFound(item_id)
        return _item(row)

    async def decide(self, item_id: int, status: ReviewStatus, by: str) -> ReviewItem:
        """Record a decision; a confirmation merges the two persons in the index at once.

        The person with the smaller id absorbs the other (ids stay stable for the larger
        share of existing references); what the merge changed is kept so that it can be
        undone (:meth:`undo`). All of it happens in one transaction.
        """
        if status is ReviewStatus.PENDING:
            raise ValueError("a decision is CONFIRMED or REJECTED")
        item = await self.get(item_id)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(linkage_review)
                .where(linkage_review.c.id == item_id)
                .values(status=status.value, decided_by=by, decided_at=now)
            )
            keep, drop = item.left_person, item.right_person
            if status is ReviewStatus.CONFIRMED and keep is not None and drop is not None and keep != drop:
                keep, drop = min(keep, drop), max(keep, drop)
                await self._remember_merge(conn, item, drop)
                await conn.execute(
                    update(linkage_record).where(linkage_record.c.person_id == drop).values(person_id=keep)
                )
                for source, key in (item.left, item.right):
                    await conn.execute(
                        update(linkage_record)
                        .where(linkage_record.c.source == source, linkage_record.c.record_key == key)
                        .values(rule="CONFIRMED", score=None)
                    )
        return await self.get(item_id)

    @staticmethod
    async def _remember_merge(conn: Any, item: ReviewItem, drop: int) -> None:
        """Keep what confirming ``item`` changes: the absorbed person's records, the pair's rules."""
        pair = {item.left, item.right}
        stmt = select(
            linkage_record.c.source,
            linkage_record.c.record_key,
            linkage_record.c.person_id,
            linkage_record.c.score,
            linkage_record.c.rule,
        ).where(
            or_(
                linkage_record.c.person_id == drop,
                *(
                    and_(linkage_record.c.source == source, linkage_record.c.record_key == key)
                    for source, key in pair
                ),
            )
        )
        rows = [
            {
                "review_id": item.id,
                "source": source,
                "record_key": key,
                "person_before": person,
                "moved": int(person == drop),
                "score_before": score,
                "rule_before": rule,
            }
            for source, key, person, score, rule in (await conn.execute(stmt)).all()
        ]
        await conn.execute(delete(linkage_review_merge).where(linkage_review_merge.c.review_id == item.id))
        for start in range(0, len(rows), 2000):
            await conn.execute(insert(linkage_review_merge), rows[start : start + 2000])

    async def undo(self, item_id: int) -> ReviewItem:
        """Reverse a decision: the pair is pending again, and a confirmation's merge is split.

        The records that the confirmation moved out of the absorbed person and that are still
        in the merged person go back to a person of their own — the absorbed person's id when
        nobody holds it now, else a new one — with the score and rule they had; the pair's
        other record gets its rule and score back. Raises :class:`NotDecided` for a pending
        pair and :class:`ReviewNotFound` for an unknown id.
        """
        item = await self.get(item_id)
        if item.status is ReviewStatus.PENDING:
            raise NotDecided(item_id)
        async with self.engine.begin() as conn:
            if item.status is ReviewStatus.CONFIRMED:
                await self._split(conn, item)
            await conn.execute(
                delete(linkage_review_merge).where(linkage_review_merge.c.review_id == item_id)
            )
            await conn.execute(
                update(linkage_review)
                .where(linkage_review.c.id == item_id)
                .values(status=ReviewStatus.PENDING.value, decided_by=None, decided_at=None)
            )
        return await self.get(item_id)

    @staticmethod
    async def _split(conn: Any, item: ReviewItem) -> None:
        merged = item.left_person if item.left_person is not None else item.right_person
        if merged is None:
            return  # both records left the index: nothing to split
        remembered = (
            await conn.execute(
                select(linkage_review_merge).where(linkage_review_merge.c.review_id == item.id)
            )
        ).all()
        current = {
            (source, key): person
            for source, key, person in (
                await conn.execute(
                    select(
                        linkage_record.c.source, linkage_record.c.record_key, linkage_record.c.person_id
                    ).where(linkage_record.c.person_id == merged)
                )
            ).all()
        }
        back = [row for row in remembered if (row.source, row.record_key) in current]
        moving = [row for row in back if row.moved]
        if moving and len(moving) < len(current):
            absorbed = moving[0].person_before
            taken = (
                await conn.execute(
                    select(linkage_record.c.person_id).where(linkage_record.c.person_id == absorbed).limit(1)
                )
            ).first()
            if taken is None:
                target = absorbed
            else:
                highest = (await conn.execute(select(func.max(linkage_record.c.person_id)))).scalar()
                target = int(highest or 0) + 1
        else:
            target = merged  # nothing to move out (or everything would move): ids stay
        for row in back:
            person = target if row.moved else merged
            await conn.execute(
                update(linkage_record)
                .where(linkage_record.c.source == row.source, linkage_record.c.record_key == row.record_key)
                .values(person_id=person, score=row.score_before, rule=row.rule_before)
            )

    # --- for the linkage job ----------------------------------------------------------------

    async def decisions(self) -> list[Decided]:
        """Every confirmed or rejected pair (the job binds itself to them)."""
        stmt = select(
            linkage_review.c.source_a,
            linkage_review.c.key_a,
            linkage_review.c.source_b,
            linkage_review.c.key_b,
            linkage_review.c.status,
        ).where(linkage_review.c.status != ReviewStatus.PENDING.value)
        async with self.engine.connect() as conn:
            return [
                Decided((a, ka), (b, kb), ReviewStatus(status))
                for a, ka, b, kb, status in (await conn.execute(stmt)).all()
            ]

    async def queue(self, run_id: int, pairs: Iterable[NewPair], *, replace_pending: bool) -> int:
        """Queue a run's possible links; a full run first drops the pending rows it replaces.

        A pair already in the queue (pending or decided) keeps its row. Returns the number of
        pairs added.
        """
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            if replace_pending:
                await conn.execute(
                    delete(linkage_review).where(linkage_review.c.status == ReviewStatus.PENDING.value)
                )
            known = {
                ((a, ka), (b, kb))
                for a, ka, b, kb in (
                    await conn.execute(
                        select(
                            linkage_review.c.source_a,
                            linkage_review.c.key_a,
                            linkage_review.c.source_b,
                            linkage_review.c.key_b,
                        )
                    )
                ).all()
            }
            rows = []
            for pair in pairs:
                left, right = ordered(pair.left, pair.right)
                if (left, right) in known:
                    continue
                known.add((left, right))
                rows.append(
                    {
                        "source_a": left[0],
                        "key_a": left[1],
                        "source_b": right[0],
                        "key_b": right[1],
                        "score": round(pair.score, 3),
                        "rule": pair.rule,
                        "levels": json.dumps(pair.levels, sort_keys=True),
                        "status": ReviewStatus.PENDING.value,
                        "found_at": now,
                        "run_id": run_id,
                    }
                )
            for start in range(0, len(rows), 2000):
                await conn.execute(insert(linkage_review), rows[start : start + 2000])
        return len(rows)
