"""SQL expressions that normalise agency values *inside* the agency's database.

Dates arrive as ISO text, ``DD/MM/YYYY`` text or Unix seconds; the hub needs to sort and
filter on them in SQL (keyset pagination, date ranges), so each format is turned into ISO
``YYYY-MM-DD`` text by an expression the database evaluates. Each construct compiles per
dialect (SQLite, PostgreSQL) so mapping files stay dialect-free.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Boolean, Integer, Text

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


class Position(FunctionElement[int]):
    """1-based position of ``needle`` in ``haystack`` (0 when absent): instr / strpos / locate."""

    type = Integer()
    inherit_cache = True
    name = "tppo_position"


@compiles(Position)
def _position_default(element: Position, compiler: Any, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(Position, "postgresql")
def _position_pg(element: Position, compiler: Any, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


class DateFromSerial(FunctionElement[str]):
    """A spreadsheet serial day number (an integer) → ISO date text (day 0 = 1899-12-30)."""

    type = Text()
    inherit_cache = True
    name = "date_from_serial"


@compiles(DateFromSerial)
def _serial_default(element: DateFromSerial, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"date('1899-12-30', '+' || {compiler.process(arg, **kw)} || ' days')"


@compiles(DateFromSerial, "postgresql")
def _serial_pg(element: DateFromSerial, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"to_char(DATE '1899-12-30' + {compiler.process(arg, **kw)}, 'YYYY-MM-DD')"


class DigitsOnly(FunctionElement[bool]):
    """True when a text is one or more ASCII digits (per dialect: GLOB, ~)."""

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


def const(value: str | int) -> ColumnElement[Any]:
    """A constant written into the SQL text, not a bound parameter.

    The canonical value expressions (:mod:`adapters.values`, :mod:`adapters.sqldates`) hold
    many constants and appear in SELECT, WHERE, ORDER BY and GROUP BY alike; as literals they
    stay identical wherever they appear (PostgreSQL matches GROUP BY expressions textually)
    and never run into a driver's limit on parameters.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"not a SQL constant: {value!r}")
    if isinstance(value, int):
        return literal_column(str(value), Integer())
    return literal_column("'" + value.replace("'", "''") + "'", Text())


class IntDiv(FunctionElement[int]):
    """Integer division of two integers (``/`` on SQLite and PostgreSQL)."""

    type = Integer()
    inherit_cache = True
    name = "int_div"


@compiles(IntDiv)
def _int_div_default(element: IntDiv, compiler: Any, **kw: Any) -> str:
    left, right = element.clauses
    return f"(({compiler.process(left, **kw)}) / ({compiler.process(right, **kw)}))"


class ValidIsoDate(FunctionElement[bool]):
    """True when a text is ``YYYY-MM-DD`` of a real calendar date (year 0001-9999), else false.

    SQLite: the shape by GLOB, the calendar by ``date(x) = x`` (SQLite's date() rolls an
    impossible day over, so only a real date comes back unchanged). PostgreSQL: the shape by a
    regular expression, then — inside a CASE, so no cast ever sees junk — month,
    last day of that month and Gregorian leap years by arithmetic.
    """

    type = Boolean()
    inherit_cache = True
    name = "valid_iso_date"


@compiles(ValidIsoDate)
def _valid_iso_sqlite(element: ValidIsoDate, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    shape = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'"
    return f"(coalesce({x} GLOB {shape} AND date({x}, '+0 days') = {x} AND substr({x}, 1, 4) <> '0000', 0))"


def _valid_iso_arithmetic(x: str, matches: str, integer: str) -> str:
    year, month, day = (f"CAST(substr({x}, {a}, {b}) AS {integer})" for a, b in ((1, 4), (6, 2), (9, 2)))
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    last_day = (
        f"CASE {month} WHEN 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
        f"WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END"
    )
    return (
        f"(CASE WHEN {matches} THEN ({year} >= 1 AND {month} BETWEEN 1 AND 12 "
        f"AND {day} BETWEEN 1 AND {last_day}) ELSE false END)"
    )


@compiles(ValidIsoDate, "postgresql")
def _valid_iso_pg(element: ValidIsoDate, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    return _valid_iso_arithmetic(x, f"coalesce({x} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$', false)", "INTEGER")


class MatchesShape(FunctionElement[bool]):
    """True when a text has a *shape*: ``9`` stands for one digit, other characters for
    themselves; the text may go on after a space (a time after a date). GLOB on SQLite, a
    regular expression on PostgreSQL. NULL text is false."""

    type = Boolean()
    inherit_cache = True
    name = "matches_shape"

    def __init__(self, text: Any, shape: str) -> None:
        if any(c in shape for c in "*?[]^$\\'"):
            raise ValueError(f"shape {shape!r} has a reserved character")
        # The shape travels as an argument so that it is part of the statement's cache key.
        super().__init__(text, const(shape))


def _shape_of(element: MatchesShape) -> str:
    return str(list(element.clauses)[1].name)[1:-1]


@compiles(MatchesShape)
def _shape_sqlite(element: MatchesShape, compiler: Any, **kw: Any) -> str:
    arg = next(iter(element.clauses))
    glob = _shape_of(element).replace("9", "[0-9]")
    return f"coalesce(({compiler.process(arg, **kw)} || ' ') GLOB '{glob} *', 0)"


def _shape_regex(shape: str) -> str:
    return (
        "^"
        + "".join("[0-9]" if c == "9" else ("\\" + c if not c.isalnum() and c != " " else c) for c in shape)
        + "( .*)?$"
    )


@compiles(MatchesShape, "postgresql")
def _shape_pg(element: MatchesShape, compiler: Any, **kw: Any) -> str:
    arg = next(iter(element.clauses))
    return f"coalesce({compiler.process(arg, **kw)} ~ '{_shape_regex(_shape_of(element))}', false)"
