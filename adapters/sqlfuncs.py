"""SQL expressions that normalise agency values *inside* the agency's database.

Dates arrive as ISO text, ``DD/MM/YYYY`` text or Unix seconds; the hub needs to sort and
filter on them in SQL (keyset pagination, date ranges), so each format is turned into ISO
``YYYY-MM-DD`` text by an expression the database evaluates. Each construct compiles per
dialect (SQLite, PostgreSQL; MySQL where it differs) so mapping files stay dialect-free.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Boolean, Text

#: Separator for multi-valued fields aggregated into one string (ASCII unit separator: it does
#: not occur in agency code values).
VALUE_SEPARATOR = "\x1f"


class IsoFromUnix(FunctionElement[str]):
    """Unix seconds → ISO date text (UTC)."""

    type = Text()
    inherit_cache = True
    name = "iso_from_unix"


@compiles(IsoFromUnix)
def _iso_from_unix_default(element: IsoFromUnix, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"date({compiler.process(arg, **kw)}, 'unixepoch')"


@compiles(IsoFromUnix, "postgresql")
def _iso_from_unix_pg(element: IsoFromUnix, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"to_char(to_timestamp({compiler.process(arg, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(IsoFromUnix, "mysql")
def _iso_from_unix_mysql(element: IsoFromUnix, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    utc = f"CONVERT_TZ(FROM_UNIXTIME({compiler.process(arg, **kw)}), @@session.time_zone, '+00:00')"
    return f"DATE_FORMAT({utc}, '%%Y-%%m-%%d')"


def iso_date(column: ColumnElement[Any], fmt: str) -> ColumnElement[str]:
    """An expression giving ``column`` as ISO date text, whatever the source format."""
    if fmt == "unix":
        return IsoFromUnix(column)
    if fmt == "YYYY-MM-DD" and isinstance(getattr(column, "type", None), String):
        # Already ISO date text: compare and sort the column itself, so its index serves.
        return column
    text = cast(column, String)
    if fmt == "DD/MM/YYYY":
        year = func.substr(text, 7, 4, type_=String)
        month = func.substr(text, 4, 2, type_=String)
        day = func.substr(text, 1, 2, type_=String)
        return year + "-" + month + "-" + day
    # ISO date-times (``YYYY-MM-DD HH:MM:SS``) or non-text date columns: the first ten
    # characters are the ISO date.
    return func.substr(text, 1, 10, type_=String)


class DigitsOnly(FunctionElement[bool]):
    """True when a text is one or more ASCII digits (per dialect: GLOB, ~, REGEXP)."""

    type = Boolean()
    inherit_cache = True
    name = "digits_only"


@compiles(DigitsOnly)
def _digits_sqlite(element: DigitsOnly, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    text = compiler.process(arg, **kw)
    return f"({text} <> '' AND {text} NOT GLOB '*[^0-9]*')"


@compiles(DigitsOnly, "postgresql")
def _digits_pg(element: DigitsOnly, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"({compiler.process(arg, **kw)} ~ '^[0-9]+$')"


@compiles(DigitsOnly, "mysql")
def _digits_mysql(element: DigitsOnly, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"({compiler.process(arg, **kw)} REGEXP '^[0-9]+$')"
