"""Which region and country keys statistics may compute once per group of raw values.

A region or country is read through a lookup keyed by an SQL expression of its raw columns
(polri's regency key: the trimmed regency and province names joined). Grouping cases by that
key computes it once per case; grouping by the raw columns first (cheap: the database hashes
the stored values) and computing the key once per group of identical raw values, then
grouping again by the key, gives the same counts with one key computation per group —
provided that grouping merges only identical values. A text column with a case-insensitive,
trailing-space-insensitive or other linguistic collation merges values the key tells apart
(``'Bogor'`` and ``'BOGOR'``: one group, one representative, one key for both), and
a numeric column merges ``1.0`` and ``1.00``, whose text differs. So a key qualifies only where
every raw column is a text column of the part's own table that compares bytes, and the key is
the compiled expression itself with its columns swapped (:func:`adapters.narrow.function_of_raw`):
one definition, read per group instead of per row.

Comparing bytes is probed once at open. On PostgreSQL by the date walk's byte-order probe
(:func:`adapters.datewalk.byte_order_probe`: PostgreSQL carries a column's collation through
``substr`` and ``||``, and every linguistic or non-deterministic collation fails it). SQLite
drops a column's collation from any expression but the bare column, so that probe cannot see
it; a SQLite column compares bytes unless its table's definition declares another collation
(``COLLATE NOCASE``, ``RTRIM`` or an application's own), so the table must be a table (not a
view) whose ``CREATE`` statement names no collation but ``BINARY``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, String, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.sql.expression import ColumnElement

from adapters import datewalk
from adapters.base import SourceError
from adapters.compiler import CompiledPart, CompiledSource
from adapters.narrow import function_of_raw, source_column
from adapters.runner import StatementRunner
from adapters.values import FieldValue
from hub.vocabulary.model import Entity

#: A lookup key as a function of columns standing for its raw columns (same order as ``raw``).
KeyOf = Callable[[Sequence[ColumnElement[Any]]], ColumnElement[Any]]


def candidates(part: CompiledPart, single: bool = False) -> dict[int, tuple[FieldValue, KeyOf]]:
    """The part's lookup fields whose key is a function of text columns of its own table
    (by ``id`` of the lookup), before the probe: what :func:`probe` decides on. ``single``:
    keys of one column too."""
    found: dict[int, tuple[FieldValue, KeyOf]] = {}
    for value in part.values.values():
        lookup = value.lookup
        # A key of several columns (regency and province names joined) costs per case what the
        # grouping saves (polri's two columns, 59.4k cases: 114 → 82 ms). One trimmed column:
        # on PostgreSQL a ``trim`` of UTF-8 text per case is ~1,350 instructions, and grouping
        # by the raw column instead saves 29M of bp2mi's 414M a statement (37.8k cases, one
        # single-user backend under callgrind); SQLite's trim is cheap, its grouping not.
        if lookup is None or value.from_child or value.is_constant or len(value.raw) < (1 if single else 2):
            continue
        sources = [source_column(part, raw) for raw in value.raw]
        if any(column is None or not isinstance(column.type, String) for column in sources):
            continue
        key_of = function_of_raw(part, lookup.key, value.raw)
        if key_of is None or key_of(value.raw) is value.raw[0]:
            continue  # the key is the raw column itself: nothing to save
        found[id(lookup)] = (value, key_of)
    return found


async def probe(source: CompiledSource, runner: StatementRunner) -> dict[int, KeyOf]:
    """The case part's lookup keys statistics may compute per group of raw values: those whose
    raw columns all compare bytes (one probe per column, sent at once). Any failure: none."""
    if not source.parts_of(Entity.CASE):
        return {}
    part = source.case_part()
    found = candidates(part, single=runner.dialect == "postgresql")
    columns = {raw.name: raw for value, _ in found.values() for raw in value.raw}
    if not columns:
        return {}

    async def compares_bytes(raw: ColumnElement[Any]) -> bool:
        try:
            if runner.dialect == "sqlite":
                column = source_column(part, raw)
                assert column is not None  # candidates() has only source columns
                return _binary_table(await runner.fetch(_sqlite_definition(column)))
            return datewalk.probe_passed(await runner.fetch(datewalk.byte_order_probe(part, raw)))
        except SourceError:
            return False  # an optimisation only: the key is then computed per case

    # At once, like the open's other probes: a slow source answers them in the time of one.
    answers = await asyncio.gather(*(compares_bytes(raw) for raw in columns.values()))
    passed = {name for name, ok in zip(columns, answers, strict=True) if ok}
    return {
        lookup: key_of
        for lookup, (value, key_of) in found.items()
        if all(raw.name in passed for raw in value.raw)
    }


#: A collation a SQLite table definition declares other than ``BINARY``.
_OTHER_COLLATION = re.compile(r"\bCOLLATE\s+(?![\"'`\[]?BINARY\b)", re.IGNORECASE)


def _sqlite_definition(column: ColumnElement[Any]) -> Select[Any]:
    """The type (table or view) and ``CREATE`` statement of ``column``'s table."""
    master = table("sqlite_master", sql_column("type"), sql_column("sql"), sql_column("name"))
    name = getattr(getattr(column, "table", None), "name", None)
    return select(master.c.type, master.c.sql).where(master.c.name == name)


def _binary_table(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether the definition read by :func:`_sqlite_definition` is a table with no collation
    but ``BINARY`` (a view's columns may carry a base table's collation: refused)."""
    return len(rows) == 1 and rows[0][0] == "table" and not _OTHER_COLLATION.search(str(rows[0][1] or ""))
