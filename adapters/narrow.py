"""Conditions and sort expressions on a case part's value layer, moved onto a narrow cut of it.

A page statement has two halves: the inner one picks the page's keys (by the filter, the
keyset cursor and the report date), the outer one computes the full rows for those keys. Only
the outer half needs every mapped value; the inner half, over the whole value layer, made
PostgreSQL plan every value once more per nesting (issue 13). :func:`narrowed` gives the inner
half a layer with just the columns its expressions name (:class:`adapters.compiler.NarrowLayers`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, String, Table, bindparam, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import Alias, ColumnClause, ColumnElement, FromClause, Join, Label

from adapters.compiler import CompiledPart, JoinSwap


@dataclass(frozen=True, slots=True)
class Narrowed:
    """The part over a narrow layer, and the given expressions moved onto it (same order)."""

    part: CompiledPart
    expressions: list[ColumnElement[Any]]


def narrowed(part: CompiledPart, expressions: Sequence[ColumnElement[Any]]) -> Narrowed:
    """``part`` with its FROM, key and report date on a cut of its layer holding only the
    columns that the key, the report date and ``expressions`` name.

    Unchanged where the part has no narrow layers (a layer built without a dialect has them
    too; only a hand-made part lacks them).
    """
    layer, narrow = part.from_clause, part.narrow
    if narrow is None:
        return Narrowed(part, list(expressions))
    every = [part.key_column, *([part.date_expr] if part.date_expr is not None else []), *expressions]
    names = frozenset(node.name for e in every for node in visitors.iterate(e) if _on(node, layer))
    cut = narrow.cut(names)

    def move(node: Any) -> Any:
        return cut.c[node.name] if _on(node, layer) else None

    def moved(e: ColumnElement[Any]) -> ColumnElement[Any]:
        return visitors.replacement_traverse(e, {}, move)  # type: ignore[no-any-return]

    date = moved(part.date_expr) if part.date_expr is not None else None
    slim = replace(part, from_clause=cut, key_column=cut.c.k, date_expr=date, select=part.select)
    return Narrowed(slim, [moved(e) for e in expressions])


def _on(node: Any, layer: Any) -> bool:
    return isinstance(node, ColumnClause) and node.table is layer


def of_parents(part: CompiledPart, relation: ColumnElement[Any]) -> Select[Any]:
    """``part``'s rows whose ``relation`` column (on its layer) is one of the expanding
    parameter ``keys``, in key order: the part's full SELECT, over the layer's fenced copy
    (:meth:`~adapters.compiler.NarrowLayers.of_parents`) where there is one."""
    layer, narrow = part.from_clause, part.narrow
    fenced = (
        narrow.of_parents(relation.name)
        if narrow is not None and isinstance(relation, ColumnClause) and _on(relation, layer)
        else None
    )
    if fenced is None:
        keys = bindparam("keys", expanding=True)
        return part.select.where(relation.in_(keys)).order_by(part.key_column)

    def move(node: Any) -> Any:
        return fenced.c[node.name] if _on(node, layer) else None

    columns = [visitors.replacement_traverse(c, {}, move) for c in part.select.selected_columns]
    return select(*columns).select_from(fenced).order_by(fenced.c.k)


def of_parents_within(
    part: CompiledPart,
    relation: ColumnElement[Any],
    within: tuple[Select[Any], str] | None = None,
    swap: JoinSwap | None = None,
) -> tuple[Select[Any], ColumnElement[Any]]:
    """``part``'s rows whose ``relation`` column is one of the keys, unordered, and the column
    that orders them as :func:`of_parents` does (the part's key).

    The keys are the expanding parameter ``keys``, as for :func:`of_parents`, or ``within``: a
    one-column SELECT of the same statement (a page's keys: :mod:`adapters.pagewith`) and the
    same SELECT written as text, which the layer's fenced copy reads
    (:meth:`~adapters.compiler.NarrowLayers.of_parents`), with ``swap``
    (:func:`page_join_swap`, keys of a page only) where it is given and applies.
    """
    layer, narrow = part.from_clause, part.narrow
    fenced = None
    if narrow is not None and isinstance(relation, ColumnClause) and _on(relation, layer):
        keys_sql = within[1] if within is not None else None
        if swap is not None and keys_sql is not None:
            fenced = narrow.of_parents(relation.name, keys_sql, swap)
        if fenced is None:
            fenced = narrow.of_parents(relation.name, keys_sql)
    if fenced is None:
        keys = within[0] if within is not None else bindparam("keys", expanding=True)
        return part.select.where(relation.in_(keys)), part.key_column

    def move(node: Any) -> Any:
        return fenced.c[node.name] if _on(node, layer) else None

    columns = [visitors.replacement_traverse(c, {}, move) for c in part.select.selected_columns]
    return select(*columns).select_from(fenced), fenced.c.k


def function_of_raw(
    part: CompiledPart, expression: ColumnElement[Any], raws: Sequence[ColumnElement[Any]]
) -> Callable[[Sequence[ColumnElement[Any]]], ColumnElement[Any]] | None:
    """``expression`` (a column of ``part``'s value layer) as a function of the layer's raw
    columns ``raws``: the compiled expression itself, each source column it reads swapped
    for the column given in its place — so it reads a value exactly as a row's value is read.

    None where the part has no narrow layer, a column is not one of the layer's own, or the
    expression reads a source column other than ``raws``' (a child table's, another field's).
    """
    narrow = part.narrow
    names = [getattr(c, "name", None) for c in (expression, *raws)]
    if narrow is None or any(name not in narrow.columns for name in names):
        return None
    body = _unlabelled(narrow.columns[names[0]])
    sources = [_unlabelled(narrow.columns[name]) for name in names[1:]]
    nodes = visitors.iterate(body)
    read = {id(node) for node in nodes if isinstance(node, ColumnClause) and node.table is not None}
    if not read or read - {id(s) for s in sources}:
        return None

    def function(columns: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        swap = {id(s): c for s, c in zip(sources, columns, strict=True)}
        return visitors.replacement_traverse(body, {}, lambda node: swap.get(id(node)))  # type: ignore[no-any-return]

    return function


def source_column(part: CompiledPart, raw: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The source table column behind the layer column ``raw`` (None if it is not one)."""
    narrow = part.narrow
    name = getattr(raw, "name", None)
    if narrow is None or name not in narrow.columns:
        return None
    column = _unlabelled(narrow.columns[name])
    return column if isinstance(column, ColumnClause) and column.table is not None else None


def _unlabelled(element: ColumnElement[Any]) -> ColumnElement[Any]:
    return element.element if isinstance(element, Label) else element


def page_join_swap(
    child: CompiledPart, relation: ColumnElement[Any], case: CompiledPart, page: str, key: str, date: str
) -> JoinSwap | None:
    """For a child part read with a page (:mod:`adapters.pagewith`): its layer's join to the
    case table, replaced by the page's rows, where that join only gives the case's report date.

    A person's age is counted at its case's report date, read through a join of the person's
    table to the case table, the date parsed once more per person (issue 13: a third of the
    victims' share of a portal page). When the child's rows are those of the page's cases, the
    page already holds that date, computed by the same expression: ``page`` (the page's name
    in the statement) has the case key in column ``key`` and the report date in ``date``.

    It applies only when all of this holds (else None: the join stays): the child's relation
    column is outer-joined to the case table's key column and to nothing else; every column
    of the child's records that reads the joined table is exactly the case part's report date
    expression (compared as SQL text, with the table swapped for the alias); no row condition
    of the child reads it. The case key is the case table's own key column, so each child row
    of a page's case finds exactly its page row, as it found exactly its case row.
    """
    narrow, case_narrow, layer = child.narrow, case.narrow, child.from_clause
    if narrow is None or case_narrow is None or narrow.dialect is None or case.date_expr is None:
        return None
    if not isinstance(relation, ColumnClause) or not _on(relation, layer):
        return None
    case_table = case_narrow.from_clause
    case_key = _unlabelled(case_narrow.columns["k"])
    date_name = getattr(case.date_expr, "name", None)
    if not isinstance(case_table, Table) or date_name not in case_narrow.columns:
        return None
    if not isinstance(case_key, ColumnClause) or case_key.table is not case_table:
        return None
    raw_relation = _unlabelled(narrow.columns[relation.name])
    joined = _joined_on(narrow.from_clause, case_table, raw_relation, case_key.name)
    if joined is None:
        return None
    date_sql = _unlabelled(case_narrow.columns[date_name])
    if any(
        isinstance(n, ColumnClause) and n.table is not None and n.table is not case_table
        for n in visitors.iterate(date_sql)
    ):
        return None

    def on_alias(node: Any) -> Any:
        return joined.c[node.name] if isinstance(node, ColumnClause) and node.table is case_table else None

    dialect = narrow.dialect

    def sql_text(e: ColumnElement[Any]) -> str:
        return str(e.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    wanted = sql_text(visitors.replacement_traverse(date_sql, {}, on_alias))
    page_rows = table(page, sql_column(key), sql_column(date, String)).alias(f"p_{narrow.name}")
    names = {"k", relation.name}
    names.update(n.name for c in child.select.selected_columns for n in visitors.iterate(c) if _on(n, layer))
    columns: dict[str, ColumnElement[Any]] = {}
    for name in names:
        expression = _unlabelled(narrow.columns[name])
        if not _reads(expression, joined):
            continue
        if sql_text(expression) != wanted:
            return None
        columns[name] = page_rows.c[date].label(name)
    if not columns or any(_reads(c, joined) for c in narrow.row_conditions):
        return None
    on = raw_relation == page_rows.c[key]
    return JoinSwap((page, key, date), joined, page_rows, on, columns, frozenset(names))


def _joined_on(
    from_clause: FromClause, target: Table, column: ColumnElement[Any], remote: str
) -> FromClause | None:
    """The alias of ``target`` outer-joined in ``from_clause`` on ``column = alias.remote`` alone."""
    while isinstance(from_clause, Join):
        right = from_clause.right
        if (
            isinstance(right, Alias)
            and right.element is target
            and from_clause.isouter
            and remote in right.c
            and from_clause.onclause is not None
            and from_clause.onclause.compare(column == right.c[remote])
        ):
            return right
        from_clause = from_clause.left
    return None


def _reads(expression: ColumnElement[Any], source: FromClause) -> bool:
    return any(isinstance(n, ColumnClause) and n.table is source for n in visitors.iterate(expression))
