"""Region and country lookups applied inside PostgreSQL, for statistics.

A region or country is read through a lookup (:class:`adapters.values.Lookup`): the distinct
source values learnt at open, each resolved once in Python to its national code, and
``read(value)`` = that table's entry, None for NULL or a value the table does not hold.
Statistics grouped by the lookup's key return a row per distinct key and combination of the
other dimensions (a regency in every year: ~3k rows a source on the bench's data), and the hub
translated every row (PostgreSQL, five agencies by province and year: ~11k rows, most of the
hub's own CPU for the query). By province those rows collapse to a few hundred.

The same table can be applied by the database: the key joined (LEFT) to the table's entries —
passed as two array parameters, ``unnest(keys, names)`` — finds the entry's name where the
key is in the table and NULL where it is not or is NULL: exactly ``read``. The statement then
groups by the national name and only named groups leave the database. The table is the one
learnt at open, so a name is the one records and filters use.

Exact where SQL equality on the key is Python's equality on its text: the join compares under
``COLLATE "C"`` (bytes; one UTF-8 text has one encoding), whatever the key's own collation, and
only for text keys that are not blank-padded (``CHAR(n)`` loses its padding when compared as
text, while the learnt key keeps it). PostgreSQL only: SQLite's statistics translate rows in
Python as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import CHAR, String, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import ColumnElement, FromClause

from adapters.values import Lookup

#: Most keys a lookup's table may have to be applied by the database: the two arrays go with
#: every execution (encoded, sent and unnested each time; the bench's largest table, polri's
#: regency names, has 513 keys); a larger table's rows — a free-text column's many spellings —
#: are translated in Python instead.
MAX_KEYS = 5_000


def applies(lookup: Lookup, dialect: str) -> bool:
    """Whether statistics may apply ``lookup`` in the database (see the module's docstring)."""
    kind = getattr(lookup.key, "type", None)
    return dialect == "postgresql" and isinstance(kind, String) and not isinstance(kind, CHAR)


def names_table(lookup: Lookup, name_of: Callable[[str | None], str | None], label: str) -> FromClause | None:
    """``(k, v)`` rows: each key the lookup learnt and ``name_of`` its national code, as a
    table function of two array parameters. None where a learnt key is not text (the join
    compares text) or there are more than :data:`MAX_KEYS`."""
    keys = list(lookup.table)
    if len(keys) > MAX_KEYS or any(not isinstance(key, str) for key in keys):
        return None
    names = [name_of(lookup.table[key]) for key in keys]
    text_array = ARRAY(String)
    return (
        func.unnest(bindparam(None, keys, type_=text_array), bindparam(None, names, type_=text_array))
        .table_valued("k", "v")
        .render_derived(name=label)
    )


class NamesTables:
    """The names tables of one open source, each built once per lookup and dimension (the
    lookups' tables are learnt at open and never change while the source is open)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._built: dict[tuple[int, str], FromClause | None] = {}

    def table(
        self, lookup: Lookup, name: str, name_of: Callable[[str | None], str | None]
    ) -> FromClause | None:
        """:func:`names_table` of ``lookup`` for the dimension ``name`` (None where
        :func:`applies` refuses it)."""
        key = (id(lookup), name)
        if key not in self._built:
            applied = applies(lookup, self.dialect)
            self._built[key] = names_table(lookup, name_of, f"names_{name}") if applied else None
        return self._built[key]


def matches(table: Any, key: ColumnElement[Any]) -> ColumnElement[bool]:
    """The join condition of ``key`` to :func:`names_table`'s rows: byte equality."""
    return table.c.k == key.collate("C")
