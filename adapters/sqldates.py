"""Dates parsed *inside* the agency's database: one SQL expression per declared format.

A date field's value is ISO text ``YYYY-MM-DD`` when the source value is a calendar date in
one of the field's formats, and NULL otherwise — and that single expression is what records
show, filters compare, pages sort and cursors resume on, statistics group by and data
quality counts (a non-NULL source value whose date is NULL is *unparsed*). No path reads a
date any other way, so no path can disagree.

Formats (``format`` on a date field; a list tries each in order, the first that parses wins):

- ``YYYY-MM-DD`` (the default): ISO text, optionally followed by a time (``2023-07-01 08:00``,
  ``2023-07-01T08:00:00``), or a database DATE / TIMESTAMP column;
- three numbers or a month name separated by ``/``, ``-``, ``.`` or a space, in the order the
  pattern gives: ``DD/MM/YYYY``, ``DD-MM-YYYY``, ``DD.MM.YYYY``, ``YYYY/MM/DD``,
  ``MM/DD/YYYY``, ``D MMMM YYYY`` (``7 Juli 1980``, ``07 July 1980``), ``DD-MMM-YYYY``
  (``07-Agt-1980``)… Day and month numbers may have one or two digits (``7/10/2023``);
  ``MMM``/``MMMM`` read Indonesian and English month names, full or abbreviated, any case;
  a time after the date (``07/10/2023 00:00:00``) is ignored;
- ``serial``: spreadsheet serial day numbers (``29775`` = 1981-07-08; days since 1899-12-30,
  as Excel and LibreOffice count from March 1900 on), a fraction (the time) ignored;
- ``unix``: seconds since 1970-01-01 UTC.

Everything is built from functions SQLite and PostgreSQL share (``substr``, ``trim``,
``lower``, ``length``, ``CASE``) plus the per-dialect constructs of :mod:`adapters.sqlfuncs`;
no cast runs on a value that was not first checked to be digits, so a junk value can never
make PostgreSQL raise an error: it reads as NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Integer, String, and_, case, cast, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from adapters.sqlfuncs import (
    PG_DIGITS_TO_9,
    CleanTextOr,
    DateColumnIso,
    DateFromSerial,
    DigitEnds,
    IntegerPart,
    IsoDatePrefix,
    IsoFromUnix,
    MatchesShape,
    Position,
    Prefix,
    StoredAsInteger,
    ValidIsoDate,
    const,
    pg_unspaced_start,
    pg_valid_iso,
)

#: Month names and abbreviations, Indonesian and English, lower case → month number.
MONTHS: dict[str, str] = {}
for _number, _names in enumerate(
    (
        ("januari", "january", "jan"),
        ("februari", "pebruari", "february", "feb", "peb"),
        ("maret", "march", "mar"),
        ("april", "apr"),
        ("mei", "may"),
        ("juni", "june", "jun"),
        ("juli", "july", "jul"),
        ("agustus", "august", "aug", "agu", "agt", "ags"),
        ("september", "sept", "sep"),
        ("oktober", "october", "okt", "oct"),
        ("november", "nopember", "nov", "nop"),
        ("desember", "december", "des", "dec"),
    ),
    start=1,
):
    for _name in _names:
        MONTHS[_name] = f"{_number:02d}"

ISO = "YYYY-MM-DD"
SERIAL = "serial"
UNIX = "unix"
#: Spellings kept for mapping files written before formats were patterns.
ALIASES = {"YYYY-MM-DD HH:MM:SS": ISO}
#: Formats offered when proposing what would parse unparsed values (``adapter check``).
CANDIDATES = (
    ISO,
    "DD/MM/YYYY",
    "DD-MM-YYYY",
    "DD.MM.YYYY",
    "YYYY/MM/DD",
    "MM/DD/YYYY",
    "D MMMM YYYY",
    "DD-MMM-YYYY",
    SERIAL,
    UNIX,
)

_PATTERN = re.compile(r"^(D{1,2}|M{1,4}|YYYY)([/\-. ])(D{1,2}|M{1,4}|YYYY)\2(D{1,2}|M{1,4}|YYYY)$")


@dataclass(frozen=True, slots=True)
class Pattern:
    """A three-part date pattern: which part is day, month, year; the separator; names or not."""

    order: tuple[str, str, str]  # e.g. ("D", "M", "Y")
    separator: str
    month_names: bool


def parse_pattern(fmt: str) -> Pattern | None:
    """``DD/MM/YYYY`` → Pattern(("D","M","Y"), "/", False); None when not a three-part pattern."""
    match = _PATTERN.match(fmt)
    if match is None:
        return None
    parts = (match.group(1), match.group(3), match.group(4))
    order = tuple(p[0] if p != "YYYY" else "Y" for p in parts)
    if sorted(order) != ["D", "M", "Y"]:
        return None
    month = next(p for p in parts if p.startswith("M"))
    return Pattern(order, match.group(2), len(month) >= 3)  # type: ignore[arg-type]


def is_format(fmt: str) -> bool:
    """Whether ``fmt`` is a date format this module can compile."""
    fmt = ALIASES.get(fmt, fmt)
    return fmt in (ISO, SERIAL, UNIX) or parse_pattern(fmt) is not None


def canonical_format(fmt: str) -> str:
    return ALIASES.get(fmt, fmt)


# --- building blocks ------------------------------------------------------------------------
#
# Every expression below refers to the source column only a bounded number of times: a
# candidate ``YYYY-MM-DD`` is built and checked once (:class:`~adapters.sqlfuncs.ValidIsoDate`),
# and month names are read with one simple CASE, so a date's SQL stays small and cheap.


def _text(column: ColumnElement[Any]) -> ColumnElement[str]:
    return func.trim(cast(column, String), type_=String)


def _cat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """Concatenation (``||``)."""
    result: Any = None
    for part in parts:
        item = const(part) if isinstance(part, str) else part
        result = item if result is None else result + item
    return result  # type: ignore[no-any-return]


def _pad2(part: ColumnElement[str]) -> ColumnElement[str]:
    """One or two characters as two (``7`` → ``07``); longer text as NULL."""
    return case({const(1): _cat("0", part), const(2): part}, value=func.length(part), else_=None)


def valid_iso(iso: ColumnElement[str]) -> ColumnElement[bool]:
    """True when ``iso`` is ``YYYY-MM-DD`` of a real calendar date (see :class:`ValidIsoDate`)."""
    return ValidIsoDate(iso)


def _at_least_0(length: ColumnElement[int]) -> ColumnElement[int]:
    return case((length < const(0), const(0)), else_=length)


def _checked(iso: ColumnElement[str]) -> ColumnElement[str]:
    return case((ValidIsoDate(iso), iso), else_=None)


# --- formats --------------------------------------------------------------------------------


def _iso(column: ColumnElement[Any]) -> ColumnElement[str]:
    """ISO text, a time after it ignored; a DATE / TIMESTAMP column read by its type."""
    kind = getattr(column, "type", None)
    if isinstance(kind, Date):
        return DateColumnIso(column)
    if isinstance(kind, String):
        return CleanTextOr(column, IsoDatePrefix(column), IsoDatePrefix(_text(column)))
    return IsoDatePrefix(_text(column))


#: Unix seconds read as dates: at most eleven digits, from 0001-01-01 (a date Python can hold)
#: to 5138-11-16.
UNIX_DIGITS = 11
UNIX_FIRST = -62_135_596_800
UNIX_LAST = 10**UNIX_DIGITS - 1


def _serial(column: ColumnElement[Any]) -> ColumnElement[str]:
    # 61 = 1900-03-01 (before it spreadsheets count a 29 February 1900 that never was);
    # 2958465 = 9999-12-31. Whole days in range always give a real date. At most seven
    # digits: an INTEGER (PostgreSQL adds an integer, not a bigint, to a date).
    return DateFromSerial(cast(IntegerPart(_text(column), 7, False, 61, 2958465), Integer))


def _unix(column: ColumnElement[Any]) -> ColumnElement[str]:
    """Whole seconds, negative before 1970 (birth dates); a fraction is ignored.

    An INTEGER column is read as the number it stores (no text on the way); on SQLite, where
    such a column can still hold text, only a value stored as an integer takes that path and
    the rest is read as text — the same result either way.
    """
    text_path = IsoFromUnix(IntegerPart(_text(column), UNIX_DIGITS, True, UNIX_FIRST, UNIX_LAST))
    if not isinstance(getattr(column, "type", None), Integer):
        return text_path
    typed = case((column.between(const(UNIX_FIRST), const(UNIX_LAST)), IsoFromUnix(column)), else_=None)
    return case((StoredAsInteger(column), typed), else_=text_path)


def _calendar(
    year: ColumnElement[str], month: ColumnElement[str], day: ColumnElement[str]
) -> ColumnElement[bool]:
    """Digits already checked: two-digit ``month`` and ``day`` make a real date in ``year``."""
    number = cast(year, Integer)
    leap = and_(number % 4 == 0, or_(number % 100 != 0, number % 400 == 0))
    last_day = case(
        {
            const("02"): case((leap, const("29")), else_=const("28")),
            **{const(m): const("30") for m in ("04", "06", "09", "11")},
        },
        value=month,
        else_=const("31"),
    )
    return and_(
        year != const("0000"), month.between(const("01"), const("12")), day.between(const("01"), last_day)
    )


def _numeric_pattern(column: ColumnElement[Any], pattern: Pattern) -> ColumnElement[str]:
    """Day and month of one or two digits (``7/10/2023``, ``07/10/2023 00:00``): see
    :class:`NumericDate` (a regular expression where there is one, GLOB shapes on SQLite)."""
    order = "".join(pattern.order)
    clean = isinstance(getattr(column, "type", None), String)
    return NumericDate(column, _text(column), order, pattern.separator, clean)


class NumericDate(FunctionElement[str]):
    """A three-number date in a given part order and separator → ``YYYY-MM-DD``, else NULL.

    PostgreSQL: ``translate`` checks the shape, the parts are cut with ``split_part`` and
    padded, and the date parser checks the calendar (:func:`~adapters.sqlfuncs.pg_valid_iso`).
    SQLite has no regular expressions: one
    GLOB shape per combination of one- and two-digit day and month, the parts at fixed
    positions; a text column whose value starts and ends with a digit (every clean value) is
    cut as it is, the rest after ``trim(CAST(…))`` — the same text, but the common case skips
    a conversion per cut (half the cost).
    """

    type = String()
    inherit_cache = True
    name = "numeric_date"

    def __init__(self, column: Any, text: Any, order: str, separator: str, clean: bool) -> None:
        super().__init__(column, text, const(order), const(separator), const(1 if clean else 0))


def _numeric_args(element: NumericDate) -> tuple[Any, Any, Pattern, bool]:
    column, text, order, separator, clean = element.clauses
    pattern = Pattern(tuple(str(order.name)[1:-1]), str(separator.name)[1:-1], False)  # type: ignore[arg-type]
    return column, text, pattern, clean.name == "1"


@compiles(NumericDate)
def _numeric_date_sqlite(element: NumericDate, compiler: Any, **kw: Any) -> str:
    column, text, pattern, clean = _numeric_args(element)
    expression = _numeric_parts(text, pattern)
    if clean:
        expression = case((DigitEnds(column), _numeric_parts(column, pattern)), else_=expression)
    return compiler.process(expression, **kw)  # type: ignore[no-any-return]


@compiles(NumericDate, "postgresql")
def _numeric_date_pg(element: NumericDate, compiler: Any, **kw: Any) -> str:
    column, text, pattern, clean = _numeric_args(element)
    trimmed = _numeric_text_pg(compiler.process(text, **kw), pattern, compiler.dialect)
    if not clean:
        return trimmed
    # A text column's value that does not start with a space is read as it is: the text is
    # only ever cut at spaces (``split_part(x, ' ', n)``, n ≤ 3), and trailing spaces add
    # nothing but empty parts after the last one, so trimming them changes no part read
    # (see :class:`~adapters.sqlfuncs.CleanTextOr`); a ``trim`` was a third of the cost.
    raw = compiler.process(column, **kw)
    as_is = _numeric_text_pg(raw, pattern, compiler.dialect)
    return f"(CASE WHEN {pg_unspaced_start(raw)} THEN {as_is} ELSE {trimmed} END)"


def _numeric_text_pg(x: str, pattern: Pattern, dialect: Any) -> str:
    """:class:`NumericDate` on PostgreSQL, of the text ``x``."""
    sep = pattern.separator
    # The date ends at the first space (a time may follow), unless the parts are spaced.
    date_text = x if sep == " " else f"split_part({x}, ' ', 1)"
    shapes = []
    for day_digits, month_digits in ((2, 2), (1, 2), (2, 1), (1, 1)):
        widths = {"D": day_digits, "M": month_digits, "Y": 4}
        shape = sep.join("9" * widths[p] for p in pattern.order)
        shapes.append(f"'{shape}'")
    if sep == " ":  # spaced parts: a time after them is a fourth part
        date_text = (
            f"concat_ws(' ', split_part({x}, ' ', 1), split_part({x}, ' ', 2), split_part({x}, ' ', 3))"
        )
    shaped = f"translate({date_text}, {PG_DIGITS_TO_9}) IN ({', '.join(shapes)})"
    parts = {p: f"split_part({date_text}, '{sep}', {i})" for i, p in enumerate(pattern.order, start=1)}
    iso = f"({parts['Y']} || '-' || lpad({parts['M']}, 2, '0') || '-' || lpad({parts['D']}, 2, '0'))"
    return f"(CASE WHEN {shaped} THEN CASE WHEN {pg_valid_iso(iso, dialect)} THEN {iso} END END)"


def _numeric_parts(text: ColumnElement[str], pattern: Pattern) -> ColumnElement[str]:
    whens: list[tuple[ColumnElement[bool], ColumnElement[str]]] = []
    for day_digits, month_digits in ((2, 2), (1, 2), (2, 1), (1, 1)):
        widths = {"D": day_digits, "M": month_digits, "Y": 4}
        shape = pattern.separator.join("9" * widths[p] for p in pattern.order)
        positions: dict[str, ColumnElement[str]] = {}
        start = 1
        for part in pattern.order:
            positions[part] = func.substr(text, start, widths[part], type_=String)
            start += widths[part] + 1
        day = positions["D"] if day_digits == 2 else _cat("0", positions["D"])
        month = positions["M"] if month_digits == 2 else _cat("0", positions["M"])
        year = positions["Y"]
        whens.append(
            (
                MatchesShape(text, shape),
                case((_calendar(year, month, day), _cat(year, "-", month, "-", day)), else_=None),
            )
        )
    return case(*whens, else_=None)


def _pattern(column: ColumnElement[Any], pattern: Pattern) -> ColumnElement[str]:
    """A pattern with a month name: parts split at the separator, then one calendar check."""
    if not pattern.month_names:
        return _numeric_pattern(column, pattern)
    sep = pattern.separator
    text = _text(column)
    if sep == " ":
        # "7 Juli 1980", "7  Juli 1980", "7 Agt. 1980": one space between parts, no dots.
        text = func.replace(
            func.replace(func.replace(text, const("."), const("")), const("  "), const(" ")),
            const("  "),
            const(" "),
        )
    return NamedMonthDate(text, "".join(pattern.order), sep)


class NamedMonthDate(FunctionElement[str]):
    """Day, month name and year separated by ``sep`` in a given order → ``YYYY-MM-DD``, else NULL.

    The parts are: up to the first separator, up to the second, and the rest up to a space
    (a time may follow); the day has one or two digits, the year four, the month is one of
    :data:`MONTHS` in any case; then one calendar check. PostgreSQL cuts the parts with
    ``split_part`` (the text is read about ten times); SQLite, which has no such function,
    finds the separators with ``instr`` (bounded, but each part repeats the search).
    """

    type = String()
    inherit_cache = True
    name = "named_month_date"

    def __init__(self, text: Any, order: str, separator: str) -> None:
        super().__init__(text, const(order), const(separator))


def _named_args(element: NamedMonthDate) -> tuple[Any, Pattern]:
    text, order, separator = element.clauses
    return text, Pattern(tuple(str(order.name)[1:-1]), str(separator.name)[1:-1], True)  # type: ignore[arg-type]


@compiles(NamedMonthDate)
def _named_month_default(element: NamedMonthDate, compiler: Any, **kw: Any) -> str:
    text, pattern = _named_args(element)
    return compiler.process(_named_parts(text, pattern), **kw)  # type: ignore[no-any-return]


@compiles(NamedMonthDate, "postgresql")
def _named_month_pg(element: NamedMonthDate, compiler: Any, **kw: Any) -> str:
    text, pattern = _named_args(element)
    x = compiler.process(text, **kw)
    sep = pattern.separator
    # The date ends at the first space (a time may follow), unless the parts are spaced: then
    # a time is a fourth part, and otherwise there must be no fourth part.
    date_text = x if sep == " " else f"split_part({x}, ' ', 1)"
    part = {p: f"split_part({date_text}, '{sep}', {i})" for i, p in enumerate(pattern.order, start=1)}
    digits = PG_DIGITS_TO_9
    whens = " ".join(f"WHEN '{name}' THEN '{number}'" for name, number in MONTHS.items())
    month = f"(CASE lower({part['M']}) {whens} END)"
    iso = f"({part['Y']} || '-' || {month} || '-' || lpad({part['D']}, 2, '0'))"
    shaped = [
        f"translate({part['D']}, {digits}) IN ('9', '99')",
        f"translate({part['Y']}, {digits}) = '9999'",
    ]
    if sep != " ":
        shaped.append(f"split_part({date_text}, '{sep}', 4) = ''")
    valid = pg_valid_iso(iso, compiler.dialect)
    return f"(CASE WHEN {' AND '.join(shaped)} THEN CASE WHEN {valid} THEN {iso} END END)"


def _named_parts(text: ColumnElement[str], pattern: Pattern) -> ColumnElement[str]:
    sep = pattern.separator
    first = Position(text, const(sep))
    second = Position(func.substr(text, first + 1, type_=String), const(sep))
    # PostgreSQL refuses a negative length: a separator that is missing gives an empty part.
    p1 = func.substr(text, 1, _at_least_0(first - 1), type_=String)
    p2 = func.substr(text, first + 1, _at_least_0(second - 1), type_=String)
    last = func.substr(text, first + second + 1, type_=String)
    # A time after the date ("07-Jul-2023 00:00:00") ends the last part.
    p3 = func.substr(last, 1, Position(_cat(last, " "), const(" ")) - 1, type_=String)
    parts = dict(zip(pattern.order, (p1, p2, p3), strict=True))
    month: ColumnElement[str] = case(
        {const(name): const(number) for name, number in MONTHS.items()},
        value=func.lower(parts["M"]),
        else_=None,
    )
    return _checked(_cat(parts["Y"], "-", month, "-", _pad2(parts["D"])))


#: How many characters of the trimmed text decide an ISO date (:class:`IsoDatePrefix`): the
#: ten of ``YYYY-MM-DD`` and the one after them (nothing, a space or ``T``). Whatever follows —
#: a time, a zone, junk — never changes the day.
ISO_DAY_CHARS = 11


def day_key(column: ColumnElement[Any], formats: tuple[str, ...]) -> ColumnElement[str] | None:
    """The shortest text the day of ``column`` is a function of, when shorter than the value.

    Decided from the declared formats alone, when the mapping is compiled: a text column read
    with ``YYYY-MM-DD`` only has its day decided by the first :data:`ISO_DAY_CHARS` characters
    of its trimmed text, so ``substr(trim(x), 1, 11)`` — the date part of a date-time — keys
    the day: the date expression gives the same day on this prefix as on the whole value
    (trimming the prefix can only drop an 11th character that is a space, which the expression
    reads as it reads the end of the text). Statistics then compute the day once per distinct
    prefix — one per reported day — where each date-time is a value of its own. None for any
    other format, or several (a numeric pattern reads up to the first space, a month name the
    whole text), and for a column that is not text (a DATE is read by its type).
    """
    fmts = tuple(canonical_format(f) for f in formats)
    kind = getattr(column, "type", None)
    if fmts != (ISO,) or not isinstance(kind, String) or isinstance(kind, Date):
        return None
    # The date part of the value as it is where trimming cannot change it (CleanTextOr: on
    # PostgreSQL a value not starting with a space — a trimmed and an untrimmed key of one
    # value may differ by an eleventh character that is a space, and both give its day).
    return CleanTextOr(column, Prefix(column, ISO_DAY_CHARS), Prefix(_text(column), ISO_DAY_CHARS))


def parse_date(column: ColumnElement[Any], formats: tuple[str, ...]) -> ColumnElement[str]:
    """ISO text of ``column`` read with the first of ``formats`` that parses, else NULL."""
    expressions = [format_expression(column, fmt) for fmt in formats]
    if len(expressions) == 1:
        return expressions[0]
    return func.coalesce(*expressions, type_=String)


def format_expression(column: ColumnElement[Any], fmt: str) -> ColumnElement[str]:
    """ISO text of ``column`` read with one format, else NULL."""
    fmt = canonical_format(fmt)
    if fmt == ISO:
        return _iso(column)
    if fmt == SERIAL:
        return _serial(column)
    if fmt == UNIX:
        return _unix(column)
    pattern = parse_pattern(fmt)
    if pattern is None:
        raise ValueError(f"unknown date format {fmt!r}")
    return _pattern(column, pattern)
