"""Pages of cases in report-date order that an index on the raw date column serves.

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

Unix seconds in an integer column (:class:`UnixSeconds`) walk the same way: a value's day
grows with the value, so the page's last day is the day of the ``n``-th value in numeric order.
The statement must also be one SQLite can parse (the Unix value is a long expression, nested
one level deeper here than in the canonical page): it is run once at open, else no walk.

Descending, the dated phase comes first and the undated cases last; ascending, the other way
round. The keyset cursor already says which phase a page continues in: its report date is
None after an undated case. A page that crosses from one phase to the other takes a second
statement; every other page takes one, as before. Where the probe fails (a linguistic
collation, a non-ISO format, a date from another table) the page is ordered by the canonical
expression itself, as it always was: the answer is the same either way, only its cost differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, Select
from sqlalchemy.types import Date

from adapters import pagewith
from adapters.compiler import CompiledPart
from adapters.narrow import function_of_raw, narrowed
from adapters.sqldates import ISO, UNIX, canonical_format

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
#: Seconds in a day; the largest Unix time the value layer reads (11 digits).
_DAY = 86_400
_UNIX_LIMIT = 99_999_999_999


class Scale(ABC):
    """How one raw date column orders its days: the index ranges a walk reads.

    ``ranged``: the raw values in which dated values are walked, in an order that never puts
    a later day before an earlier one; ``others``: where the remaining dated values lie (an
    index range, empty in clean data); ``last``: what the walk picks from the page's last
    row; ``from_last`` / ``up_to_last``: the raw values of that row's day and the days after
    (before) it; ``before_day`` / ``from_day``: the raw values of days up to / from a cursor's
    day. Every range may hold more than it must (extra candidates are sorted out by the exact
    (day, key) order); none may miss a row it must hold.
    """

    @abstractmethod
    def ranged(self, raw: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        """See the class docstring."""

    @abstractmethod
    def others(self, raw: ColumnElement[Any]) -> ColumnElement[bool]:
        """See the class docstring."""

    @abstractmethod
    def last(self, raw: ColumnElement[Any], day: ColumnElement[Any]) -> ColumnElement[Any]:
        """See the class docstring."""

    @abstractmethod
    def from_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        """See the class docstring."""

    @abstractmethod
    def up_to_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        """See the class docstring."""

    @abstractmethod
    def before_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        """See the class docstring."""

    @abstractmethod
    def from_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        """See the class docstring."""


class IsoText(Scale):
    """ISO text in byte order: values starting with a digit, by their first ten characters."""

    def ranged(self, raw: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        return [raw >= _constant(_DIGITS_FROM), raw < _constant(_DIGITS_TO)]

    def others(self, raw: ColumnElement[Any]) -> ColumnElement[bool]:
        return raw < _constant(_DIGITS_FROM)  # leading spaces (trimmed by the value layer)

    def last(self, raw: ColumnElement[Any], day: ColumnElement[Any]) -> ColumnElement[Any]:
        return day

    def from_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        return raw >= func.coalesce(last, _constant(_DIGITS_FROM))

    def up_to_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        upper = cast(last, String) + _constant(_AFTER_DAY)
        return raw < func.coalesce(upper, _constant(_DIGITS_TO))

    def before_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        return raw < day.isoformat() + _AFTER_DAY

    def from_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        return raw >= day.isoformat()


@dataclass(frozen=True, slots=True)
class UnixSeconds(Scale):
    """Unix seconds in an integer column: the day of a value grows with the value.

    The value layer reads up to 11 digits (a fraction, which SQLite can keep in an INTEGER
    column, is cut off towards zero), so the ranges reach one second beyond a day's bounds.
    On SQLite, text kept in the column sorts after every number: that range is added.
    """

    sqlite: bool

    def ranged(self, raw: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        return [raw >= _seconds(-_UNIX_LIMIT), raw <= _seconds(_UNIX_LIMIT)]

    def others(self, raw: ColumnElement[Any]) -> ColumnElement[bool]:
        return raw >= _constant("") if self.sqlite else _constant(False, Boolean())

    def last(self, raw: ColumnElement[Any], day: ColumnElement[Any]) -> ColumnElement[Any]:
        whole = cast(raw, BigInteger)
        day = _seconds(_DAY)
        return whole - ((whole % day) + day) % day  # the start of the row's day

    def from_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        return raw > func.coalesce(last, _seconds(-_UNIX_LIMIT - 1)) - _seconds(1)

    def up_to_last(self, raw: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
        return raw < func.coalesce(last, _seconds(_UNIX_LIMIT)) + _seconds(_DAY + 1)

    def before_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        return raw < literal(_epoch(day) + _DAY + 1, BigInteger)  # a cursor's day: bound

    def from_day(self, raw: ColumnElement[Any], day: date) -> ColumnElement[bool]:
        return raw > literal(_epoch(day) - 1, BigInteger)


def _epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days * _DAY


def _seconds(value: int) -> ColumnElement[Any]:
    """A number of seconds as a 64-bit constant: it may not fit the column's own type."""
    return _constant(value, BigInteger())


def _constant(value: Any, type_: Any = None) -> ColumnElement[Any]:
    """A constant of the walk, written into the statement's text rather than bound.

    PostgreSQL plans a prepared statement with bound values anew for the first executions and
    may keep doing so (a custom plan costs ~0.8 ms for the page statement); a statement whose
    constants are part of its text and that has no other parameter (the unfiltered first page,
    a portal's landing page) is planned once per connection and its plan reused (issue 13).
    Only the walk's own constants go here; values from a request (a cursor's day) stay bound.
    """
    return literal(value, type_ if type_ is not None else String(), literal_execute=True)


@dataclass(frozen=True, slots=True)
class DateWalk:
    """How one case part's pages walk its raw date column (see the module docstring)."""

    raw: ColumnElement[Any]
    scale: Scale
    #: The canonical day of any raw value (:func:`raw_day_reader`); None: the undated phase
    #: tests every row's canonical day.
    day_of: DayOf | None = None

    def dated_keys(
        self,
        part: CompiledPart,
        narrowing: list[ColumnElement[bool]],
        descending: bool,
        after_day: date | None,
        cursor: list[ColumnElement[bool]] | None = None,
    ) -> Select[Any]:
        """Keys of up to ``page_limit`` dated cases in (day, key) order, after ``after_day``.

        ``narrowing`` holds the filter's conditions, ``cursor`` the keyset's (both on the
        canonical values, so they decide exactly); the raw ranges below only let the index
        find the candidates. Parameters: ``page_limit`` and ``page_offset`` (= ``page_limit`` − 1),
        both written into the statement's text when it runs (:func:`_constant` says why).

        On PostgreSQL the rows the raw ranges and the filter admit are read in a subquery kept
        whole (:func:`_fenced`): the canonical day is computed there once per row, and the
        test that a row is dated, the cursor's condition and the order read that one value.
        Flattened, PostgreSQL computed it again for each place naming it (the walk's filter,
        its output, the candidates' filter, their sort key, the cursor's terms; issue 13).
        """
        assert part.date_expr is not None
        day, key, raw, scale = part.date_expr, part.key_column, self.raw, self.scale
        after = list(cursor or [])
        ranged = scale.ranged(raw)
        if after_day is not None:
            ranged.append(scale.before_day(raw, after_day) if descending else scale.from_day(raw, after_day))
        dated = day.is_not(None)
        raw_order = raw.desc() if descending else raw.asc()
        order = (day.desc(), key.desc()) if descending else (day.asc(), key.asc())
        page_limit = bindparam("page_limit", type_=Integer, literal_execute=True)
        page_offset = bindparam("page_offset", type_=Integer, literal_execute=True)
        if not _fences(part):
            base = (*part.row_conditions, *narrowing, *after, dated)
            # The page's last day: from the n-th dated value in raw order (an index walk of n rows).
            last = (
                select(scale.last(raw, day))
                .select_from(part.from_clause)
                .where(*base, *ranged)
                .order_by(raw_order)
                .limit(_constant(1, Integer()))
                .offset(page_offset)
                .scalar_subquery()
            )
            within = scale.from_last(raw, last) if descending else scale.up_to_last(raw, last)
            return (
                select(key)
                .select_from(part.from_clause)
                .where(*base, or_(and_(*ranged, within), scale.others(raw)))
                .order_by(*order)
                .limit(page_limit)
            )
        walked = _fenced(part, [*narrowing, *ranged], [raw_order], "walk_last")
        on = _mover(part, walked)
        last = (
            select(on(scale.last(raw, day)))
            .select_from(walked)
            .where(on(dated), *map(on, after))
            .order_by(on(raw_order))
            .limit(_constant(1, Integer()))
            .offset(page_offset)
            .scalar_subquery()
        )
        within = scale.from_last(raw, last) if descending else scale.up_to_last(raw, last)
        candidates = _fenced(
            part, [*narrowing, or_(and_(*ranged, within), scale.others(raw))], [], "walk_candidates"
        )
        on = _mover(part, candidates)
        # The day goes out with the key: the page's rows take it from here instead of
        # parsing the date once more (issue 13; :func:`_rows_of`).
        return (
            select(on(key), on(day))
            .select_from(candidates)
            .where(on(dated), *map(on, after))
            .order_by(*map(on, order))
            .limit(page_limit)
        )

    def page(
        self,
        part: CompiledPart,
        phase: str,
        narrowing: list[ColumnElement[bool]],
        descending: bool,
        after_day: date | None,
        counted: list[ColumnElement[bool]] | None = None,
        numbered: bool = False,
    ) -> Select[Any]:
        """The rows of one phase's page (``dated`` or ``undated``) in the canonical order.

        ``counted``: the filter's conditions, the leading part of ``narrowing`` (the rest is
        the cursor's); None when ``narrowing`` is all the filter's, as for a first page.
        """
        assert part.date_expr is not None
        filtering = list(counted) if counted is not None else list(narrowing)
        prefix = narrowing[: len(filtering)]
        if len(prefix) < len(filtering) or any(a is not b for a, b in zip(filtering, prefix, strict=True)):
            filtering = []  # not a prefix: every condition is read outside the fence
        # The keys come from a cut of the value layer with only the columns they need; the
        # full row is computed once, for the page's keys (issue 13: planning, not reading).
        cut = narrowed(part, [self.raw, *narrowing])
        raw, *moved = cut.expressions
        keys = (
            DateWalk(raw, self.scale).dated_keys(
                cut.part, moved[: len(filtering)], descending, after_day, moved[len(filtering) :]
            )
            if phase == "dated"
            else undated_keys(cut.part, raw, self.day_of, moved, descending)
        )
        return _rows_of(part, keys, descending, numbered)


def _fences(part: CompiledPart) -> bool:
    """Whether the walk reads its candidates through :func:`_fenced` (PostgreSQL's narrow
    layers; SQLite computes a value once per row already where it matters and was not measured)."""
    narrow = part.narrow
    return narrow is not None and narrow.dialect is not None and narrow.dialect.name == "postgresql"


def _fenced(part: CompiledPart, conditions: list[ColumnElement[bool]], order: list[Any], name: str) -> Any:
    """The rows of ``part``'s (narrow) layer that meet ``conditions``, in ``order``, as a
    subquery PostgreSQL keeps whole (``OFFSET 0``): each column computed once per row, in
    that subquery, however often the statement around it names the column. The conditions
    (raw ranges, the filter's) still reach the table's scan and its index."""
    layer = part.from_clause
    return (
        select(*layer.c)
        .select_from(layer)
        .where(*part.row_conditions, *conditions)
        .order_by(*order)
        .offset(literal_column("0"))
        .subquery(name)
    )


def _mover(part: CompiledPart, fenced: Any) -> Callable[[Any], Any]:
    """Moves an expression on ``part``'s layer onto the same-named columns of ``fenced``."""
    layer = part.from_clause

    def move(node: Any) -> Any:
        return fenced.c[node.name] if isinstance(node, ColumnClause) and node.table is layer else None

    return lambda e: visitors.replacement_traverse(e, {}, move)


def _rows_of(part: CompiledPart, keys: Select[Any], descending: bool, numbered: bool = False) -> Select[Any]:
    """The full rows of a page's keys, in the canonical (day, key) order; ``numbered``: with
    each row's place in it (:func:`adapters.pagewith.numbered`).

    ``keys``: the page's keys, or its keys and their days (the same day expression on a cut
    of the same layer, so the same values): then the rows are joined to them and take the
    day from there, each date parsed once less per row (issue 13: 0.35M of 5.7M
    instructions of a portal page's statement). A case key is its table's key: one row each.
    """
    assert part.date_expr is not None
    day: ColumnElement[Any] = part.date_expr
    if len(keys.selected_columns) == 1:
        rows = part.select.where(part.key_column.in_(keys.scalar_subquery()))
        order = (
            (day.desc().nulls_last(), part.key_column.desc())
            if descending
            else (day.asc().nulls_first(), part.key_column.asc())
        )
    else:
        picked = keys.subquery("walk_page")
        key_col, day_col = list(picked.c)
        date = part.date_expr

        def swap(node: Any) -> Any:
            return day_col if node is date else None

        columns = [visitors.replacement_traverse(c, {}, swap) for c in part.select.selected_columns]
        joined = part.from_clause.join(picked, part.key_column == key_col)
        rows = select(*columns).select_from(joined)
        # The keys' own order (their days are all set: :meth:`DateWalk.dated_keys`), so
        # PostgreSQL keeps the keys' sorted order through the join instead of sorting again.
        order = (day_col.desc(), key_col.desc()) if descending else (day_col.asc(), key_col.asc())
    rows = rows.order_by(*order)
    return pagewith.numbered(rows, order) if numbered else rows


def materialized(statement: Select[Any], name: str) -> Any:
    """``statement`` as a CTE computed once, as it is written.

    Without the fence the planners move a condition on the canonical day of a distinct raw
    value down to the raw column's scan — PostgreSQL and SQLite both push predicates on
    grouping columns below the GROUP BY — and the day is computed for every row again (seen:
    417 ms of 571 on polri's 59k reports). ``MATERIALIZED``: PostgreSQL 12+, SQLite 3.35+
    (an older server fails the walk's probe at open and pages are ordered row by row).
    """
    return statement.cte(name).prefix_with("MATERIALIZED")


def undated_keys(
    part: CompiledPart,
    raw: ColumnElement[Any],
    day_of: DayOf | None,
    narrowing: list[ColumnElement[bool]],
    descending: bool,
) -> Select[Any]:
    """Keys of up to ``page_limit`` undated cases (NULL or unparsable date) in key order.

    With ``day_of`` a case is undated when its raw value is NULL or one of the distinct raw
    values whose canonical day is NULL: the same test (the day is a function of the raw value
    alone), but the canonical expression runs once per distinct value, not once per case —
    in a clean register no value is undated and the index on the raw column answers at once.
    """
    assert part.date_expr is not None
    key = part.key_column
    undated: ColumnElement[bool] = part.date_expr.is_(None)
    if day_of is not None:
        distinct = materialized(
            select(raw.label("raw")).select_from(part.from_clause).group_by(raw), "walk_u"
        )
        unparsed = select(distinct.c.raw).where(day_of(distinct.c.raw).is_(None))
        undated = or_(raw.is_(None), raw.in_(unparsed))
    return (
        select(key)
        .select_from(part.from_clause)
        .where(*part.row_conditions, *narrowing, undated)
        .order_by(key.desc() if descending else key.asc())
        .limit(bindparam("page_limit", type_=Integer, literal_execute=True))
    )


@dataclass(frozen=True, slots=True)
class CountedDays:
    """Pages of a report date no index orders (``DD/MM/YYYY``, several formats, month names).

    The canonical day is a function of the raw value alone, and a register has far fewer
    distinct raw values than cases (one per day it reports on). So the dated phase counts the
    cases per raw value (``GROUP BY`` the raw column, which its index serves without reading
    a row), computes the canonical day of each *distinct* value, and finds the page's last
    day ``L`` from the running count in (day, direction) order; only the cases whose raw value
    has a day between the cursor and ``L`` are then read and ordered by their canonical day.
    Before, every case's day was computed and every case sorted (PostgreSQL: ~4× the direct
    SQL on the bench's 59k polri reports).

    Exact because a count may only be too low, never too high: the filter's conditions apply
    to the counts (``counted``), the cursor's day counts nothing (some of its cases are
    already shown), and ``page_limit`` cases at or beyond ``L`` then exist, so the page's
    cases all lie there. Where fewer remain (the end of the dated cases), ``L`` is NULL and
    every dated case is a candidate.
    """

    raw: ColumnElement[Any]
    day_of: DayOf

    def page(
        self,
        part: CompiledPart,
        phase: str,
        narrowing: list[ColumnElement[bool]],
        descending: bool,
        after_day: date | None,
        counted: list[ColumnElement[bool]] | None = None,
        numbered: bool = False,
    ) -> Select[Any]:
        """The rows of one phase's page (``dated`` or ``undated``) in the canonical order.

        ``counted``: the conditions of ``narrowing`` that do not depend on the cursor (the
        filter's), which the counts must apply; None when ``narrowing`` is only the cursor's.
        """
        counted = list(counted or [])
        cut = narrowed(part, [self.raw, *narrowing, *counted])
        raw, *moved = cut.expressions
        narrowing_cut, counted_cut = moved[: len(narrowing)], moved[len(narrowing) :]
        if phase == "dated":
            keys = self.dated_keys(cut.part, raw, narrowing_cut, counted_cut, descending, after_day)
        else:
            keys = undated_keys(cut.part, raw, self.day_of, narrowing_cut, descending)
        return _rows_of(part, keys, descending, numbered)

    def dated_keys(
        self,
        part: CompiledPart,
        raw: ColumnElement[Any],
        narrowing: list[ColumnElement[bool]],
        counted: list[ColumnElement[bool]],
        descending: bool,
        after_day: date | None,
    ) -> Select[Any]:
        """Keys of up to ``page_limit`` dated cases in (day, key) order (see the class)."""
        assert part.date_expr is not None
        day, key = part.date_expr, part.key_column
        per_raw = (
            select(raw.label("raw"), func.count().label("n"))
            .select_from(part.from_clause)
            .where(*part.row_conditions, *counted, raw.is_not(None))
            .group_by(raw)
            .cte("walk_raw")
        )
        days = materialized(
            select(per_raw.c.raw, self.day_of(per_raw.c.raw).label("day"), per_raw.c.n), "walk_days"
        )
        in_range: list[ColumnElement[bool]] = [days.c.day.is_not(None)]
        count: ColumnElement[Any] = days.c.n
        if after_day is not None:
            cursor = literal(after_day.isoformat(), String)
            in_range.append(days.c.day <= cursor if descending else days.c.day >= cursor)
            count = case((days.c.day == cursor, literal(0, Integer)), else_=days.c.n)
        running = (
            select(
                days.c.day,
                func.sum(count)
                .over(order_by=days.c.day.desc() if descending else days.c.day.asc())
                .label("cum"),
            )
            .where(*in_range)
            .subquery("walk_running")
        )
        edge = func.max(running.c.day) if descending else func.min(running.c.day)
        limit = bindparam("page_limit", type_=Integer, literal_execute=True)
        last = select(edge).where(running.c.cum >= limit).scalar_subquery()
        reach = days.c.day >= last if descending else days.c.day <= last
        chosen = select(days.c.raw).where(*in_range, or_(last.is_(None), reach))
        order = (day.desc(), key.desc()) if descending else (day.asc(), key.asc())
        return (
            select(key)
            .select_from(part.from_clause)
            .where(*part.row_conditions, *narrowing, raw.in_(chosen), day.is_not(None))
            .order_by(*order)
            .limit(bindparam("page_limit", type_=Integer, literal_execute=True))
        )


#: The canonical day of a raw value: the part's own date expression with its raw column
#: replaced by another column (the distinct raw values of a subquery).
DayOf = Callable[[ColumnElement[Any]], ColumnElement[Any]]


def raw_day_reader(part: CompiledPart) -> tuple[ColumnElement[Any], DayOf] | None:
    """The part's raw report-date column (on its value layer) and its day as a function of it.

    The function is the compiled date expression itself — the one records, filters, order,
    cursors and statistics use — with its one source column swapped for the given column,
    so it reads a value exactly as a row's day is read. None where the day is not a function
    of one column of the case's own rows (several columns, a child table's, a constant) or
    the part has no value layer.
    """
    value = part.values.get("reported_at")
    if (
        part.date_expr is None
        or value is None
        or len(value.raw) != 1
        or value.from_child
        or value.is_constant
    ):
        return None
    function = function_of_raw(part, part.date_expr, value.raw)
    if function is None:
        return None  # the day reads another column too: not a function of this one

    def day_of(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return function([column])

    return value.raw[0], day_of


def walkable(part: CompiledPart, dialect: str) -> tuple[ColumnElement[Any], Scale] | None:
    """The raw column of the part's report date and its scale, when pages can walk it.

    ISO text (the byte-order probe must pass too) or Unix seconds in an integer column. None
    for a SQL DATE column (ordered by itself, :func:`adapters.sql._sort_date`), a date from
    another table, several columns or formats, or any other format.
    """
    value = part.values.get("reported_at")
    if value is None or len(value.raw) != 1 or value.from_child or value.is_constant:
        return None
    formats = tuple(canonical_format(f) for f in value.date_formats)
    raw = value.raw[0]
    if formats == (ISO,) and isinstance(raw.type, String) and not isinstance(raw.type, Date):
        return raw, IsoText()
    if formats == (UNIX,) and isinstance(raw.type, Integer):
        return raw, UnixSeconds(sqlite=dialect == "sqlite")
    return None


#: A raw date column whose values repeat at least this often on average (cases per distinct
#: value) has its days computed once per distinct value by statistics; below it (date-times,
#: nearly one value a case) the join would cost more than the expression it saves.
REPEATS_ENOUGH = 4


def repetition_probe(part: CompiledPart, raw: ColumnElement[Any]) -> Select[Any]:
    """One row: the part's rows with a raw value, and its distinct raw values."""
    distinct = (
        select(raw.label("raw"), func.count().label("n"))
        .select_from(part.from_clause)
        .where(*part.row_conditions, raw.is_not(None))
        .group_by(raw)
        .subquery("repeats")
    )
    return select(func.coalesce(func.sum(distinct.c.n), 0), func.count())


def repeats_enough(rows: list[Any]) -> bool:
    """Whether :func:`repetition_probe` found values repeated :data:`REPEATS_ENOUGH` times."""
    if not rows:
        return False
    total, distinct = (int(v or 0) for v in rows[0])
    return distinct > 0 and total >= REPEATS_ENOUGH * distinct


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
