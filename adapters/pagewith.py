"""A page of cases and its cases' children in one statement (issue 13); or several relations
of the same cases in one statement.

A portal page lists cases with their victims and services. Read relation by relation, that is
three statements in two round trips: the page, then the relations of the page's keys. Here the
relations come with the page, in one statement::

    WITH tppo_hub__page AS MATERIALIZED (<the page; each row numbered in the page's order>)
    SELECT 0, ord, <page columns>, NULL ..., NULL ...            FROM tppo_hub__page
    UNION ALL
    SELECT 1, row_number() OVER (ORDER BY <key>), NULL ..., <victim columns>, NULL ...
      FROM <the victims' value layer> WHERE <case key> = ANY(ARRAY(SELECT c0 FROM tppo_hub__page))
    UNION ALL
    SELECT 2, ...  <services>

What stays the same, by construction: each branch is the SELECT its own statement would run
(the page's, :func:`adapters.narrow.of_parents`'s for a relation), so every value is the same
expression of the value layer, and each branch's rows are read by the same record builder from
the same columns. The branches share the statement's columns: each branch's columns take, type
by type, the first places of their type, so a row is as wide as the widest branch needs, not as
all branches together (a UNION has one type per column; every plan node above the branches
builds and copies rows of that width, which was a sixth of PostgreSQL's work for a portal page,
issue 13). The places a branch does not use are NULLs cast to their type (PostgreSQL types an
untyped NULL column as text). The branch number and the row number say which rows are whose and
in which order: the page in its own order, a relation's rows in key order, as their own
statements give them.

Only relations whose key compares with the case key in SQL as the hub compares record keys are
read this way (both integer, or both text, no key prefix); anything else is read in a statement
of its own, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Integer, Select, cast, func, literal_column, null, select, union_all
from sqlalchemy.sql.expression import ColumnElement, Label
from sqlalchemy.types import NullType

from adapters.compiler import CompiledPart
from adapters.narrow import of_parents_within, page_join_swap

#: The page's rows inside the combined statement (an unusual name: it shadows any table so named).
PAGE_CTE = "tppo_hub__page"
#: The page statement's column holding each row's place in the page's order.
ORDER_COLUMN = "tppo_hub__ord"

Row = Sequence[Any]


def numbered(page: Select[Any], order: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """``page`` (ordered by ``order``) with each row's place in that order as a last column."""
    return page.add_columns(func.row_number().over(order_by=list(order)).label(ORDER_COLUMN))


def key_compares(case: CompiledPart, child: CompiledPart, field: str) -> ColumnElement[Any] | None:
    """The column of ``child`` holding a case key (``field``), if its values equal the case key
    column's in SQL exactly when the record keys they become are equal in the hub.

    That holds when the case part has a key of its own and no prefix, and the child's column
    is read with the same converter (integers as integers, text as text, no prefix) from a
    column of the same kind. None otherwise: that relation is read in its own statement.
    """
    relation = child.relation_columns.get(field)
    if relation is None or case.prefix or not case.part.key:
        return None
    column, convert = relation
    if convert is not case.key_to_db or convert not in (int, str):
        return None
    kinds = {getattr(c, "type", NullType())._type_affinity for c in (column, case.key_column)}
    if len(kinds) != 1 or NullType in kinds:
        return None
    return column


@dataclass(frozen=True, slots=True)
class Branch:
    """A child part read with the page: where its columns are in a combined row."""

    part: CompiledPart
    #: The places in a combined row of the part's SELECT columns, in their order.
    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CombinedPage:
    """The combined statement and how to split its rows into the page's and each branch's."""

    statement: Select[Any]
    #: The places in a combined row of the page's columns, in their order.
    page_columns: tuple[int, ...]
    branches: tuple[Branch, ...]
    #: Whether the statement counts the cases matching the page's filter (:func:`combine`).
    counted: bool = False

    #: The places in a combined row of the count statement's columns after its first.
    count_columns: tuple[int, ...] = ()

    def split(self, rows: Sequence[Row]) -> tuple[list[Row], list[list[Row]], Row | None]:
        """The page's rows and each branch's, each in its own statement's order, as rows of
        their own SELECTs (the same columns in the same places); and the count statement's row
        (None when the statement has none)."""
        numbered_rows: list[list[tuple[int, Row]]] = [[] for _ in range(len(self.branches) + 2)]
        pickers = [
            _picker(self.page_columns),
            *(_picker(b.columns) for b in self.branches),
            _picker(self.count_columns),
        ]
        for row in rows:
            which = row[0]
            numbered_rows[which].append((row[1], pickers[which](row)))
        ordered = [[r for _, r in sorted(part, key=_first)] for part in numbered_rows[:-1]]
        count = numbered_rows[-1]
        if not self.counted:
            return ordered[0], ordered[1:], None
        if len(count) != 1:
            raise ValueError(f"a counted page statement gave {len(count)} count rows")
        first, rest = count[0]
        return ordered[0], ordered[1:], (first, *rest)


def _picker(places: tuple[int, ...]) -> Any:
    """A function of a combined row: the values at ``places``, as a tuple."""
    if not places:
        return lambda _row: ()
    get = itemgetter(*places)
    return (lambda row: (get(row),)) if len(places) == 1 else get


def _first(item: tuple[int, Row]) -> int:
    return item[0]


def combine(
    page: Select[Any] | None,
    children: Sequence[tuple[CompiledPart, ColumnElement[Any]]],
    case: CompiledPart | None = None,
    blank: frozenset[str] = frozenset(),
    integer_keys: bool = False,
    count: Select[Any] | None = None,
) -> CombinedPage | None:
    """The page (from :func:`numbered`) and the rows of ``children`` (each a part and its column
    holding the case key, from :func:`key_compares`) whose case is on the page, in one statement.

    Without a page, the rows of ``children`` whose key column is one of the expanding parameter
    ``keys`` (the same keys for every child part: they must read keys alike) — the relations of
    the cases a page of several sources kept, in one statement instead of one each.

    ``case``: the page's case part; with it, a child whose join to the case table gives only
    the report date takes it from the page (:func:`adapters.narrow.page_join_swap`).

    ``blank``: fields of the children that nobody asked for (a request without personal
    fields): their columns are NULLs of their types, so the database, which computes no output
    column that nothing reads, never reads or cleans them; their records hold None there.

    ``integer_keys``: the database's integer columns hold integers only (PostgreSQL; a SQLite
    column declared INTEGER may hold text). Then a child part ordered by an integer key gives
    the key itself as its row number: Python orders integers as the database does, and the
    branch needs no sort and no window (~5 % of a portal page's statement, issue 13).

    ``count``: a ``SELECT count(*)`` of the cases matching the page's filter, read as the last
    branch (its one row holds the count where the others hold their row number); or a statement
    of one row and no FROM whose first column is the count (:func:`adapters.countreuse.reusing`),
    its other columns read in the branch's places of their types. The page and
    its total then come in one round trip and from one snapshot: the total is the number of
    cases paging to the end lists at the moment the page was read, however the source changes
    in between. One statement fewer per portal page: for PostgreSQL the same work within noise,
    for the hub ~8 % of its CPU per page (a call, a pooled connection and an answer fewer;
    issue 13).

    None when a column's type is unknown (its NULLs could not be typed for the UNION).
    """
    within: tuple[Select[Any], str] | None = None
    blocks: list[list[ColumnElement[Any]]] = [[]]
    cte: Any = None
    key_name: str | None = None
    if page is not None:
        cte = page.cte(PAGE_CTE).prefix_with("MATERIALIZED")
        blocks = [[c for c in cte.c if c.name != ORDER_COLUMN]]
        key_name = blocks[0][0].name
        within = (select(cte.c[key_name]), f"SELECT {key_name} FROM {PAGE_CTE}")
    selects: list[tuple[Select[Any], ColumnElement[Any]]] = []
    date = _date_column(page, case) if page is not None and case is not None else None
    for part, relation in children:
        swap = (
            page_join_swap(part, relation, case, PAGE_CTE, key_name, date)
            if case is not None and date is not None and key_name is not None
            else None
        )
        stmt, key = of_parents_within(part, relation, within, swap)
        selects.append((stmt, key))
        blocks.append(_blanked(part, list(stmt.selected_columns), blank))
    count_columns: list[ColumnElement[Any]] = []
    if count is not None:
        count_columns = [count.scalar_subquery()] if count.get_final_froms() else list(count.selected_columns)
        blocks.append(count_columns[1:])
    shared = _SharedColumns.of(blocks)
    if shared is None:
        return None

    def row(which: int, order: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        columns = [literal_column(str(which), Integer), order, *shared.row(which, blocks[which])]
        return [c.label(f"x{j}") for j, c in enumerate(columns)]

    branches_sql = [select(*row(0, cte.c[ORDER_COLUMN])).select_from(cte)] if cte is not None else []
    for which, (stmt, key) in enumerate(selects, start=1):
        in_order = integer_keys and isinstance(getattr(key, "type", None), Integer)
        numbered_rows = row(which, key if in_order else func.row_number().over(order_by=key))
        branches_sql.append(stmt.with_only_columns(*numbered_rows, maintain_column_froms=True))
    if count is not None:
        branches_sql.append(select(*row(len(selects) + 1, count_columns[0])))
    statement = select(*union_all(*branches_sql).subquery("tppo_hub__rows").c)
    branches = tuple(Branch(part, shared.places[i]) for i, (part, _) in enumerate(children, start=1))
    counted = shared.places[-1] if count is not None else ()
    return CombinedPage(statement, shared.places[0], branches, count is not None, counted)


@dataclass(frozen=True, slots=True)
class _SharedColumns:
    """The columns of a combined row after its branch number and row number: one per place,
    each place of one type, each block's columns in the first places of their types."""

    #: The typed NULL that fills each place in the branches that do not use it.
    nulls: tuple[ColumnElement[Any], ...]
    #: Per block (the page's, then each child's): the place of each of its columns (offset 2).
    places: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, blocks: Sequence[Sequence[ColumnElement[Any]]]) -> _SharedColumns | None:
        """None when a column's type is unknown (its NULLs could not be typed for the UNION)."""
        nulls: list[ColumnElement[Any]] = []
        of_type: dict[tuple[type, str], list[int]] = {}
        places: list[tuple[int, ...]] = []
        for block in blocks:
            taken: dict[tuple[type, str], int] = {}
            mine: list[int] = []
            for column in block:
                typed = _typed_null(column)
                if typed is None:
                    return None
                kind = (type(column.type), repr(column.type))
                slots = of_type.setdefault(kind, [])
                index = taken.get(kind, 0)
                taken[kind] = index + 1
                if index == len(slots):
                    slots.append(len(nulls))
                    nulls.append(typed)
                mine.append(slots[index] + 2)
            places.append(tuple(mine))
        return cls(tuple(nulls), tuple(places))

    def row(self, which: int, block: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
        """The shared columns of a branch of block ``which``: its own columns at their places."""
        columns = list(self.nulls)
        for column, place in zip(block, self.places[which], strict=True):
            columns[place - 2] = column
        return columns


def _date_column(page: Select[Any], case: CompiledPart) -> str | None:
    """The name of the page's column holding the case's report date (None: not selected):
    the part's SELECT labels its columns ``c0``, ``c1``, … in its layout's order."""
    if case.date_expr is None:
        return None
    wanted = next((f"c{i}" for name, _v, i in case.layout if name == "reported_at"), None)
    names = {column.name for column in page.selected_columns if isinstance(column, Label)}
    return wanted if wanted in names else None


def _blanked(
    part: CompiledPart, columns: list[ColumnElement[Any]], blank: frozenset[str]
) -> list[ColumnElement[Any]]:
    """``columns`` (the SELECT of ``part``, in its layout's places) with the columns of the
    fields in ``blank`` as typed NULLs (a column of unknown type is kept: it could not be typed)."""
    if not blank:
        return columns
    out = list(columns)
    for name, value, start in part.layout:
        if name in blank:
            for i in range(start, start + len(value.selected)):
                typed = _typed_null(out[i])
                if typed is not None:
                    out[i] = typed
    return out


def _typed_null(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    kind = getattr(column, "type", None)
    if kind is None or isinstance(kind, NullType):
        return None
    return cast(null(), kind)
