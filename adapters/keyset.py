"""The case page's keyset inside one source: its ORDER BY and "after this position", built once.

Cases are merged across sources in (report date, source name, key) order, a missing date being
the earliest (:class:`hub.vocabulary.model.Keyset`). Inside one source that order is an ORDER BY
on the date and the key, and resuming after a cursor is a WHERE condition on the same two
columns; both come from one :class:`CaseOrder`, so they cannot disagree on the direction, on
where undated cases go, or on which date expression is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, DateTime, and_, false, literal, or_, true, tuple_
from sqlalchemy.sql.expression import ColumnElement

from adapters.compiler import CompiledPart
from hub.vocabulary.model import Keyset, SortOrder


@dataclass(frozen=True, slots=True)
class CaseOrder:
    """(report date, key) order of one source's case part, in one direction."""

    source: str
    part: CompiledPart
    descending: bool
    #: What the ORDER BY sorts by: the canonical date, or the source's own DATE column (below).
    sort_day: ColumnElement[Any]
    #: Whether NULLS FIRST / LAST must be said (SQLite's default is the order wanted; a NOT
    #: NULL date makes it moot, and the plain order is the one an index serves).
    explicit_nulls: bool

    @classmethod
    def of(cls, source: str, part: CompiledPart, order: SortOrder, dialect: str) -> CaseOrder:
        assert part.date_expr is not None
        day, never_null = _sort_date(part, part.date_expr) if dialect != "sqlite" else (part.date_expr, False)
        return cls(source, part, order is SortOrder.DESC, day, dialect != "sqlite" and not never_null)

    def order_by(self) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """A missing date sorts as the earliest: NULLS FIRST ascending, NULLS LAST descending."""
        day, key = self.sort_day, self.part.key_column
        if self.descending:
            return (day.desc().nulls_last() if self.explicit_nulls else day.desc(), key.desc())
        return (day.asc().nulls_first() if self.explicit_nulls else day.asc(), key.asc())

    def after(self, position: Keyset) -> ColumnElement[bool]:
        """Rows strictly after ``position``, in the merged cross-source order.

        For another source only the date and the source names decide; for this source the key
        breaks ties, compared by the database (the hub never needs to know an agency's key order).

        After a dated position of this source the (date, key) pair is compared as one row value
        (``(day, key) < (:day, :key)``, PostgreSQL and SQLite alike): the same order as
        ``day < :day OR (day = :day AND key < :key)`` for a dated row (a row comparison decides
        on the first pair that differs), but the database computes the canonical date once per
        row instead of once per term — on PostgreSQL a cursor page spent ~0.3 ms of its
        ~0.9 ms re-computing it (issue 13). A NULL date makes the row comparison NULL, so the
        undated rows that follow a descending position are named on their own.
        """
        part = self.part
        assert part.date_expr is not None
        day, key, descending = part.date_expr, part.key_column, self.descending
        if position.reported_at is None:
            # After an undated case: descending, only undated cases remain (they come last);
            # ascending, every dated case still follows.
            tie: ColumnElement[bool]
            if position.source == self.source:
                db_key: Any = part.key_to_db(position.key)
                tie = key < db_key if descending else key > db_key
            else:
                tie = true() if self._follows(position) else false()
            same_day = and_(day.is_(None), tie)
            return same_day if descending else or_(day.is_not(None), same_day)
        last_day = position.reported_at.isoformat()
        dated: ColumnElement[bool]
        if position.source == self.source:
            pair, last = tuple_(day, key), tuple_(literal(last_day), part.key_to_db(position.key))
            dated = pair < last if descending else pair > last
        elif self._follows(position):  # this source's cases of that day come after it
            dated = day <= last_day if descending else day >= last_day
        else:
            dated = day < last_day if descending else day > last_day
        return or_(dated, day.is_(None)) if descending else dated

    def _follows(self, position: Keyset) -> bool:
        """Whether this source's cases follow ``position``'s (another source) on the same day."""
        return self.source < position.source if self.descending else self.source > position.source


def _sort_date(part: CompiledPart, day: ColumnElement[Any]) -> tuple[ColumnElement[Any], bool]:
    """What to ORDER BY for the report date, and whether it is never NULL.

    The canonical date (``day``) is ISO text computed from the source value. Where the source
    column is a SQL DATE of a database that enforces the type (not SQLite, where a DATE column
    can hold any text), its own order is the same order and it is NULL exactly when the
    canonical value is, so the page is ordered by the column itself, which an index on it
    serves (PostgreSQL walks the index instead of sorting every case; issue 13). A NOT NULL
    column of the case table also makes the NULL ordering moot.
    """
    value = part.values.get("reported_at")
    if value is None or len(value.raw) != 1 or value.from_child:
        return day, False
    raw = value.raw[0]
    if isinstance(raw.type, Date) and not isinstance(raw.type, DateTime):
        return raw, value.raw_never_null
    return day, False
