"""Record keys for the cell-key method, computed inside the agency's database.

Statistics for most roles are perturbed consistently (:mod:`hub.access.cellkey`): every record
carries a fixed pseudo-random *record key*, and a cell's noise is a function of the sum of its
records' keys. That sum is computed by the source's own SQL beside the ``COUNT(*)`` of each
group, so GROUP BY stays in the database and only one more number per group comes back.

The record key is the first 32 bits of ``MD5(salt || key text)``: ``salt`` is a per-source,
per-part secret the hub derives from its own secret and sends as a bound parameter (it is
never stored in the source), ``key text`` the record's key as text. MD5 is used as a keyed
pseudo-random function, not for integrity: the attacker never sees a record key, and PostgreSQL
has it built in. SQLite has no hash function, so the hub registers
``tppo_cell_key(salt, key)`` on each of its SQLite connections (:func:`register_sqlite`).
:func:`record_key` is the same function in Python (for sources that list records, and tests).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, literal
from sqlalchemy.types import BigInteger

#: Record keys are integers in ``[0, KEY_SPACE)``; cell keys are sums taken modulo it.
KEY_SPACE = 2**32
#: Name of the SQLite function registered on every source connection.
SQLITE_FUNCTION = "tppo_cell_key"


def record_key(salt: str, key: str) -> int:
    """The record key of ``key`` under ``salt`` (what :class:`CellKey` computes in SQL)."""
    return int(hashlib.md5((salt + key).encode("utf-8"), usedforsecurity=False).hexdigest()[:8], 16)


def _sqlite_cell_key(salt: Any, key: Any) -> int | None:
    if salt is None or key is None:
        return None
    return record_key(str(salt), str(key))


def register_sqlite(dbapi_connection: Any) -> None:
    """Register ``tppo_cell_key`` on a (sync or aiosqlite-adapted) SQLite DB-API connection."""
    dbapi_connection.create_function(SQLITE_FUNCTION, 2, _sqlite_cell_key, deterministic=True)


class CellKey(FunctionElement[int]):
    """``record_key(salt, CAST(key AS TEXT))`` as an SQL expression, per dialect."""

    type = BigInteger()
    inherit_cache = True
    name = "cell_key"


@compiles(CellKey)
def _cell_key_sqlite(element: CellKey, compiler: Any, **kw: Any) -> str:
    salt, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"{SQLITE_FUNCTION}({salt}, CAST({key} AS TEXT))"


@compiles(CellKey, "postgresql")
def _cell_key_pg(element: CellKey, compiler: Any, **kw: Any) -> str:
    salt, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"('x' || substr(md5(CAST({salt} AS TEXT) || CAST({key} AS TEXT)), 1, 8))::bit(32)::bigint"


def cell_key(salt: str, key_column: ColumnElement[Any]) -> ColumnElement[int]:
    """The record key of each row's ``key_column`` under ``salt`` (sum it per group)."""
    return CellKey(literal(salt, String), key_column)
