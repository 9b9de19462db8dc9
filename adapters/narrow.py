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

from sqlalchemy import Select, bindparam, select
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, Label

from adapters.compiler import CompiledPart


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
    part: CompiledPart, relation: ColumnElement[Any], keys: Select[Any], keys_sql: str
) -> tuple[Select[Any], ColumnElement[Any]]:
    """``part``'s rows whose ``relation`` column is one of ``keys``, a one-column SELECT of the
    same statement (a page's keys: :mod:`adapters.pagewith`), unordered, and the column that
    orders them as :func:`of_parents` does (the part's key).

    Over the layer's fenced copy where there is one (the keys then come from ``keys_sql``,
    ``keys`` written as text: :meth:`~adapters.compiler.NarrowLayers.of_parents`).
    """
    layer, narrow = part.from_clause, part.narrow
    fenced = (
        narrow.of_parents(relation.name, keys_sql)
        if narrow is not None and isinstance(relation, ColumnClause) and _on(relation, layer)
        else None
    )
    if fenced is None:
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
