"""Pages of cases in report-date order that an index on an ISO text date column serves.

A report date stored as text (``2023-07-01``, maybe with a time after it) has one canonical
value (:mod:`adapters.sqldates`): its day, or NULL when the text is not a calendar date —
and a NULL day sorts as the earliest. Ordering a page by that expression makes the database
compute it for every case and sort them all (105 ms for 16,038 cases on PostgreSQL), where
PostGraphile walks the agency's index on the column (0.1 ms; issue 13).

The raw text can serve the same order where the column compares in *byte order* (a ``C`` or
``POSIX`` collation, SQLite's ``BINARY``; probed once at open, :func:`byte_order_probe`):

- a dated value starts with its day's ten characters (after leading spaces, which the value
  layer trims), followed by nothing, a space or a ``T``; so in byte order all values of one
  day lie together, days follow each other in date order, and values that start with a
  space sort before every digit;
- hence the dated cases of a page, in (day, key) order, are found by walking the index over
  the values that start with a digit to the page's last day ``d`` (the ``n``-th dated value
  in raw order), then sorting, by (day, key), only the values between ``d`` and the walk's
  start, plus those that start with a space (an index range that clean data leaves empty);
- the undated cases (NULL, junk) form the other phase, in key order.

Descending, the dated phase comes first and the undated cases last; ascending, the other way
round. The keyset cursor already says which phase a page continues in: its report date is
None after an undated case. A page that crosses from one phase to the other takes a second
statement; every other page takes one, as before. Where the probe fails (a linguistic
collation, a non-ISO format, a date from another table) the page is ordered by the canonical
expression itself, as it always was: the answer is the same either way, only its cost differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, cast, func, literal, or_, select
from sqlalchemy.sql.expression import ColumnElement, Select
from sqlalchemy.types import Date

from adapters.compiler import CompiledPart
from adapters.sqldates import ISO, canonical_format

#: Byte-order comparisons that every linguistic collation gets the other way round at least
#: once: lower before upper case, a leading space, punctuation against digits, the characters
#: that may follow a day. True only where the column compares bytes.
_BYTE_ORDER_PAIRS = (
    ("B", "a"),  # 0x42 < 0x61; case-insensitive and linguistic collations put a first
    (" 9", "0"),  # a leading space is not ignored
    ("1-", "10"),  # hyphen before digits
    ("2023-01-05", "2023-01-05 "),  # a day before the same day with a time
    ("2023-01-05T", "2023-01-05~"),  # the characters after a day before the bound '~'
    ("2023-01-05~", "2023-01-06"),
    ("2023-12-31 23:59", "2024-01-01"),
)
#: Values starting with a digit lie in ['0', ':') in byte order; with a space, below '0'.
_DIGITS_FROM, _DIGITS_TO = "0", ":"
#: Appended to a day: above every character a dated value can have after its day.
_AFTER_DAY = "~"


@dataclass(frozen=True, slots=True)
class DateWalk:
    """How one case part's pages walk its raw ISO date column (see the module docstring)."""

    raw: ColumnElement[Any]

    def dated_keys(
        self,
        part: CompiledPart,
        narrowing: list[ColumnElement[bool]],
        descending: bool,
        after_day: date | None,
    ) -> Select[Any]:
        """Keys of up to ``page_limit`` dated cases in (day, key) order, after ``after_day``.

        ``narrowing`` holds the filter and the keyset condition (on the canonical day, so it
        decides exactly); the raw ranges below only let the index find the candidates.
        Bound parameters: ``page_limit`` and ``page_offset`` (= ``page_limit`` − 1).
        """
        assert part.date_expr is not None
        day, key, raw = part.date_expr, part.key_column, self.raw
        starts_with_digit = [raw >= _DIGITS_FROM, raw < _DIGITS_TO]
        if after_day is not None:
            bound = after_day.isoformat()
            starts_with_digit.append(raw < bound + _AFTER_DAY if descending else raw >= bound)
        dated = day.is_not(None)
        base = (*part.row_conditions, *narrowing, dated)
        # The page's last day: the n-th dated value in raw order (an index walk of n rows).
        last_day = (
            select(day)
            .select_from(part.from_clause)
            .where(*base, *starts_with_digit)
            .order_by(raw.desc() if descending else raw.asc())
            .limit(1)
            .offset(bindparam("page_offset", type_=Integer))
            .scalar_subquery()
        )
        if descending:
            within = raw >= func.coalesce(last_day, literal(_DIGITS_FROM, String))
        else:
            upper = cast(last_day, String) + literal(_AFTER_DAY, String)
            within = raw < func.coalesce(upper, literal(_DIGITS_TO, String))
        candidates = or_(and_(*starts_with_digit, within), raw < _DIGITS_FROM)
        order = (day.desc(), key.desc()) if descending else (day.asc(), key.asc())
        return (
            select(key)
            .select_from(part.from_clause)
            .where(*base, candidates)
            .order_by(*order)
            .limit(bindparam("page_limit", type_=Integer))
        )

    @staticmethod
    def undated_keys(
        part: CompiledPart, narrowing: list[ColumnElement[bool]], descending: bool
    ) -> Select[Any]:
        """Keys of up to ``page_limit`` undated cases (NULL or unparsable date) in key order."""
        assert part.date_expr is not None
        key = part.key_column
        return (
            select(key)
            .select_from(part.from_clause)
            .where(*part.row_conditions, *narrowing, part.date_expr.is_(None))
            .order_by(key.desc() if descending else key.asc())
            .limit(bindparam("page_limit", type_=Integer))
        )


def walkable_column(part: CompiledPart) -> ColumnElement[Any] | None:
    """The raw text column of the part's report date when only the ISO format reads it.

    None for a SQL DATE column (ordered by itself, :func:`adapters.sql._sort_date`), a date
    from another table, several columns or formats, or a format other than ISO text.
    """
    value = part.values.get("reported_at")
    if value is None or len(value.raw) != 1 or value.from_child or value.is_constant:
        return None
    if tuple(canonical_format(f) for f in value.date_formats) != (ISO,):
        return None
    raw = value.raw[0]
    if isinstance(raw.type, Date) or not isinstance(raw.type, String):
        return None
    return raw


def byte_order_probe(part: CompiledPart, raw: ColumnElement[Any]) -> Select[Any]:
    """One row of booleans, all true when ``raw``'s collation compares bytes.

    The literals take the column's collation from it (``literal || substr(raw, 1, 0)``), so the
    probe tests the collation the index was built with, not the database's default. No row
    (an empty table) counts as a failed probe.
    """
    empty = func.substr(func.coalesce(raw, literal("", String)), 1, 0, type_=String)
    checks = [
        (literal(low, String) + empty) < (literal(high, String) + empty) for low, high in _BYTE_ORDER_PAIRS
    ]
    return select(*checks).select_from(part.from_clause).limit(1)


def probe_passed(rows: list[Any]) -> bool:
    """Whether :func:`byte_order_probe` answered one row of true values."""
    return bool(rows) and all(bool(v) for v in rows[0])
