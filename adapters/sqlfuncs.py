"""SQL expressions that normalise agency values *inside* the agency's database.

Dates arrive as ISO text, ``DD/MM/YYYY`` text or Unix seconds; the hub needs to sort and
filter on them in SQL (keyset pagination, date ranges), so each format is turned into ISO
``YYYY-MM-DD`` text by an expression the database evaluates. Each construct compiles per
dialect (SQLite, PostgreSQL) so mapping files stay dialect-free.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, cast, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import BigInteger, Boolean, Integer, String, Text

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


class ByPosition(FunctionElement[str]):
    """``names[n]`` for an integer ``n`` from 0 to ``len(names) - 1``, else ``otherwise``
    (a NULL ``n`` too): a value told by a small whole number, such as an age band by years.

    A simple CASE with a WHEN per position (``n`` is computed once). PostgreSQL reads an
    element of a constant array instead: one step instead of up to ``len(names)``
    comparisons a row, and one constant instead of ``len(names)`` expressions to set up at
    every execution of a prepared statement (issue 13: 0.3M of 6.0M instructions of a
    portal page's statement, for the 151 years of the age band).
    """

    type = Text()
    inherit_cache = True
    name = "by_position"

    def __init__(self, value: Any, names: list[str], otherwise: str) -> None:
        # All travel as arguments so that they are part of the statement's cache key.
        super().__init__(value, const(otherwise), *(const(n) for n in names))
        self.names = tuple(names)


@compiles(ByPosition)
def _by_position_default(element: ByPosition, compiler: Any, **kw: Any) -> str:
    value, otherwise, *names = element.clauses
    whens = {const(i): name for i, name in enumerate(names)}
    return compiler.process(case(whens, value=value, else_=otherwise), **kw)  # type: ignore[no-any-return]


@compiles(ByPosition, "postgresql")
def _by_position_pg(element: ByPosition, compiler: Any, **kw: Any) -> str:
    value, otherwise, *names = element.clauses
    # An array whose subscripts start at 0 (so ``n`` itself is the subscript: nothing added,
    # nothing to overflow), its elements double-quoted in the array syntax. Out of range (or
    # NULL) the subscript gives NULL: then ``otherwise``, as the CASE's ELSE. ``n`` must lie
    # in the integer range (an age's years are bounded by the value layer).
    quoted = ",".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in element.names)
    array = f"[0:{len(names) - 1}]={{{quoted}}}".replace("'", "''")
    n = compiler.process(value, **kw)
    return f"coalesce(('{array}'::text[])[{n}], {compiler.process(otherwise, **kw)})"


def pg_valid_iso(x: str, dialect: Any) -> str:
    """PostgreSQL: true when ``x`` — already known to be ``9999-99-99`` — is a real calendar
    date in years 0001-9999. ``pg_input_is_valid`` (PostgreSQL 16+) asks the date parser
    itself, without an error, reading the text once; older servers get the same answer by
    arithmetic on the digits. (Regular expressions were measured 3-20x slower per row.)"""
    version = getattr(dialect, "server_version_info", None) or (16,)
    if version >= (16,):
        return f"pg_input_is_valid({x}, 'date')"
    year, month, day = (f"CAST(substr({x}, {a}, {b}) AS INTEGER)" for a, b in ((1, 4), (6, 2), (9, 2)))
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    last_day = (
        f"CASE {month} WHEN 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
        f"WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END"
    )
    return f"({year} >= 1 AND {month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {last_day})"


#: ``translate`` arguments that turn every digit into ``9`` (``9`` itself needs no mapping, and
#: each character of the text is looked up in the first list: one entry fewer is ~2 % of a date).
PG_DIGITS_TO_9 = "'012345678', '999999999'"


def pg_shape(x: str, shape: str) -> str:
    """PostgreSQL: ``x`` has ``shape`` (``9`` a digit, other characters themselves): digits
    mapped to ``9`` by ``translate`` — several times cheaper per row than a regular expression."""
    return f"translate({x}, {PG_DIGITS_TO_9}) = '{shape}'"


class ValidIsoDate(FunctionElement[bool]):
    """True when a text is ``YYYY-MM-DD`` of a real calendar date (year 0001-9999), else false.

    SQLite: the shape by GLOB, the calendar by ``date(x) = x`` (SQLite's date() rolls an
    impossible day over, so only a real date comes back unchanged). PostgreSQL: one
    regular expression that spells out the calendar (month lengths, Gregorian leap years), so
    the text is read once and nothing is ever cast.
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


@compiles(ValidIsoDate, "postgresql")
def _valid_iso_pg(element: ValidIsoDate, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    # A CASE, so the date check never sees a text of another shape.
    return (
        f"coalesce(CASE WHEN {pg_shape(x, '9999-99-99')} THEN {pg_valid_iso(x, compiler.dialect)} END, false)"
    )


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


# --- compact date building blocks ---------------------------------------------------------------
#
# Each construct below refers to its argument a small, fixed number of times in the SQL it emits
# (PostgreSQL: once or twice, by a regular expression; SQLite: a few GLOBs), so that
# nesting one inside another never multiplies a source column into hundreds of copies.


class Prefix(FunctionElement[str]):
    """The first ``n`` characters of a text: ``substr(x, 1, n)``.

    PostgreSQL: an explicit cast to ``VARCHAR(n)``, which truncates to ``n`` characters as
    ``substr`` does, but returns a text of at most ``n`` bytes as it is, where ``substr`` walks
    the UTF-8 text from its start (~0.7K instructions a call, measured over 16,038 report
    dates; issue 13). Relabelled TEXT, the type ``substr`` gives (no call).
    """

    type = String()
    inherit_cache = True
    name = "prefix"

    def __init__(self, text: Any, n: int) -> None:
        # The length travels as an argument so that it is part of the statement's cache key.
        super().__init__(text, const(n))


@compiles(Prefix)
def _prefix_default(element: Prefix, compiler: Any, **kw: Any) -> str:
    text, n = element.clauses
    return f"substr({compiler.process(text, **kw)}, 1, {int(n.name)})"


@compiles(Prefix, "postgresql")
def _prefix_pg(element: Prefix, compiler: Any, **kw: Any) -> str:
    text, n = element.clauses
    return pg_prefix(compiler.process(text, **kw), int(n.name))


def pg_prefix(x: str, n: int) -> str:
    """PostgreSQL: the first ``n`` characters of the text ``x`` (:class:`Prefix`)."""
    return f"CAST(CAST({x} AS VARCHAR({n})) AS TEXT)"


class IsoDatePrefix(FunctionElement[str]):
    """``YYYY-MM-DD`` of a text that is a real calendar date, alone or followed by a space or
    ``T`` and anything (a time); else NULL. The text is read twice (PostgreSQL) or five
    times (SQLite)."""

    type = Text()
    inherit_cache = True
    name = "iso_date_prefix"


@compiles(IsoDatePrefix)
def _iso_prefix_sqlite(element: IsoDatePrefix, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    shape = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9][ T]*'"
    head = f"substr({x}, 1, 10)"
    # date() rolls an impossible day over, so only a real date comes back unchanged.
    return (
        f"(CASE WHEN ({x} || ' ') GLOB {shape} AND date({head}, '+0 days') = {head} "
        f"AND {x} NOT GLOB '0000*' THEN {head} END)"
    )


@compiles(IsoDatePrefix, "postgresql")
def _iso_prefix_pg(element: IsoDatePrefix, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    # The prefixes cut by pg_prefix (:class:`Prefix`): three cuts a date, a fifth of reading one.
    head = pg_prefix(x, 10)
    # The first eleven characters at once: ten of a day and nothing, a space or a T (a digit
    # becomes 9, so it cannot pass for either).
    shapes = "'9999-99-99', '9999-99-99 ', '9999-99-99T'"
    shaped = f"translate({pg_prefix(x, 11)}, {PG_DIGITS_TO_9}) IN ({shapes})"
    valid = pg_valid_iso(head, compiler.dialect)
    return f"(CASE WHEN {shaped} THEN CASE WHEN {valid} THEN {head} END END)"


class IntegerPart(FunctionElement[int]):
    """The whole part of a decimal number written as text (``29775``, ``29775.``, ``29775.5``;
    with ``signed`` also ``-86400``) as an integer, when it has at most ``digits`` digits
    (leading zeros count) and lies in ``low``..``high``; else NULL. Nothing else is ever cast,
    so junk cannot raise."""

    type = BigInteger()
    inherit_cache = True
    name = "integer_part"

    def __init__(self, text: Any, digits: int, signed: bool, low: int, high: int) -> None:
        # All travel as arguments so that they are part of the statement's cache key.
        super().__init__(text, const(digits), const(1 if signed else 0), const(low), const(high))


def _integer_part_args(element: IntegerPart) -> tuple[Any, int, bool, int, int]:
    text, digits, signed, low, high = element.clauses
    return text, int(digits.name), signed.name == "1", int(low.name), int(high.name)


@compiles(IntegerPart)
def _integer_part_sqlite(element: IntegerPart, compiler: Any, **kw: Any) -> str:
    arg, digits, signed, low, high = _integer_part_args(element)
    x = compiler.process(arg, **kw)
    # One or more digits (after an optional minus), at most one dot, nothing else; CAST then
    # reads the leading integer. The whole part's length is the position of the first dot.
    start = f"({x} GLOB '[0-9]*' OR {x} GLOB '-[0-9]*')" if signed else f"{x} GLOB '[0-9]*'"
    rest = f"substr({x}, 2) NOT GLOB '*[^0-9.]*'"
    sign = f" - ({x} GLOB '-*')" if signed else ""
    length = f"instr({x} || '.', '.') - 1{sign} <= {digits}"
    valid = f"{start} AND {rest} AND {x} NOT GLOB '*.*.*' AND {length}"
    number = f"CAST({x} AS INTEGER)"
    return f"(CASE WHEN {valid} AND {number} BETWEEN {low} AND {high} THEN {number} END)"


@compiles(IntegerPart, "postgresql")
def _integer_part_pg(element: IntegerPart, compiler: Any, **kw: Any) -> str:
    arg, digits, signed, low, high = _integer_part_args(element)
    x = compiler.process(arg, **kw)
    minus = "-?" if signed else ""
    # A match without captures (substring's capture was measured ~4x slower per row).
    shaped = f"{x} ~ '^{minus}[0-9]{{1,{digits}}}([.][0-9]*)?$'"
    number = f"CAST(split_part({x}, '.', 1) AS BIGINT)"
    return f"(CASE WHEN {shaped} THEN CASE WHEN {number} BETWEEN {low} AND {high} THEN {number} END END)"


class StoredAsInteger(FunctionElement[bool]):
    """True when an INTEGER column's value is stored as an integer. Always so where the
    database enforces column types; SQLite stores whatever it was given (``typeof``)."""

    type = Boolean()
    inherit_cache = True
    name = "stored_as_integer"


@compiles(StoredAsInteger)
def _stored_as_integer_default(element: StoredAsInteger, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"({compiler.process(arg, **kw)} IS NOT NULL)"


@compiles(StoredAsInteger, "sqlite")
def _stored_as_integer_sqlite(element: StoredAsInteger, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"(typeof({compiler.process(arg, **kw)}) = 'integer')"


class DateColumnIso(FunctionElement[str]):
    """A DATE / TIMESTAMP column as ``YYYY-MM-DD`` (years 0001-9999, else NULL).

    Where the database enforces the type the value is formatted from the date itself (no
    text round trip, whatever the session's date style); SQLite keeps dates as text, which
    is read like any ISO text.
    """

    type = Text()
    inherit_cache = True
    name = "date_column_iso"


@compiles(DateColumnIso)
def _date_column_sqlite(element: DateColumnIso, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return compiler.process(IsoDatePrefix(func.trim(cast(arg, Text()))), **kw)  # type: ignore[no-any-return]


@compiles(DateColumnIso, "postgresql")
def _date_column_pg(element: DateColumnIso, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    x = compiler.process(arg, **kw)
    return f"(CASE WHEN {x} >= '0001-01-01' AND {x} < '10000-01-01' THEN to_char({x}, 'YYYY-MM-DD') END)"


class DigitEnds(FunctionElement[bool]):
    """True when a text starts and ends with a digit (so trimming it changes nothing)."""

    type = Boolean()
    inherit_cache = True
    name = "digit_ends"


@compiles(DigitEnds)
def _digit_ends_sqlite(element: DigitEnds, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"coalesce({compiler.process(arg, **kw)} GLOB '[0-9]*[0-9]', 0)"


@compiles(DigitEnds, "postgresql")
def _digit_ends_pg(element: DigitEnds, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"coalesce({compiler.process(arg, **kw)} ~ '^[0-9](.*[0-9])?$', false)"


def pg_unspaced_start(x: str) -> str:
    """PostgreSQL: true when the text ``x`` does not start with a space — compared as bytes
    (``COLLATE "C"``, whatever the column's collation): every text at or after ``'!'`` starts
    with a byte above the space. Empty text, a leading space or tab, and NULL are not."""
    return f"({x} COLLATE \"C\" >= '!')"


class CleanTextOr(FunctionElement[Any]):
    """``clean`` (an expression of a text column as it is) where trimming the value cannot
    change what ``clean`` reads, else ``trimmed`` (the same expression of ``trim(CAST(…))``) —
    one meaning either way; the trim per use of the text was most of a date's cost.

    SQLite: where the value starts and ends with a digit (a GLOB decides), so trimming it
    changes nothing at all. PostgreSQL: where it does not start with a space
    (:func:`pg_unspaced_start`: a byte comparison, far cheaper than a ``trim`` of UTF-8 text);
    trimming then removes trailing spaces only, so ``clean`` must read the text in a way
    trailing spaces cannot change — :class:`IsoDatePrefix` and the ISO day key read the first
    ten characters and whether an eleventh is a space or nothing, which trailing spaces make
    alike (``'2023-01-01 '`` and ``'2023-01-01'``), and a shorter text fails the shape either way.
    """

    inherit_cache = True
    name = "clean_text_or"

    def __init__(self, column: Any, clean: Any, trimmed: Any) -> None:
        super().__init__(column, clean, trimmed)
        self.type = trimmed.type


@compiles(CleanTextOr)
def _clean_text_or_sqlite(element: CleanTextOr, compiler: Any, **kw: Any) -> str:
    column, clean, trimmed = element.clauses
    test = compiler.process(DigitEnds(column), **kw)
    return (
        f"(CASE WHEN {test} THEN {compiler.process(clean, **kw)} ELSE {compiler.process(trimmed, **kw)} END)"
    )


@compiles(CleanTextOr, "postgresql")
def _clean_text_or_pg(element: CleanTextOr, compiler: Any, **kw: Any) -> str:
    column, clean, trimmed = element.clauses
    test = pg_unspaced_start(compiler.process(column, **kw))
    return (
        f"(CASE WHEN {test} THEN {compiler.process(clean, **kw)} ELSE {compiler.process(trimmed, **kw)} END)"
    )


class NotIndexOrdered(FunctionElement[Any]):
    """A value to GROUP BY that SQLite must not read in its index's order (``+x``; the value
    itself elsewhere).

    Grouping cases by a region column that has an index, SQLite walks that index to meet the
    groups in order and fetches every case's row from the table at random for the other
    columns — twice the time of reading the table once and sorting (simfoni by regency and
    year: 249 → 147 ms against 91 ms for the direct GROUP BY). Unary plus changes no value
    (SQLite applies no conversion) but no index matches it.
    """

    inherit_cache = True
    name = "not_index_ordered"

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.type = value.type


@compiles(NotIndexOrdered)
def _not_index_ordered_default(element: NotIndexOrdered, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return compiler.process(arg, **kw)  # type: ignore[no-any-return]


@compiles(NotIndexOrdered, "sqlite")
def _not_index_ordered_sqlite(element: NotIndexOrdered, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"(+{compiler.process(arg, **kw)})"
