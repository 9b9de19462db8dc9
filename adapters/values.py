"""One definition per mapped field: the SQL value that every path reads.

Each mapped field is compiled once into a :class:`FieldValue`: a *canonical* SQL expression
giving the national value in the agency's own database — a national code name (``MALE``),
several names joined by :data:`~adapters.sqlfuncs.VALUE_SEPARATOR`, ISO date text, whole years,
``1``/``0`` — or NULL when the source value does not parse. Records select it and only convert
its type in Python (:attr:`FieldValue.read`); filters compare it; pages sort and resume on it;
statistics group by it; data quality counts a source value whose canonical value is NULL as
*unparsed*. So a value cannot mean one thing in a list, another in a filter and a third in a
count.

Regions and countries are the exception that proves the rule: resolving a name needs the
reference data and approximate matching, which SQL cannot do. Their definition is a
:class:`Lookup`: the distinct source values are read once when the source opens and resolved
in Python into a table (value → national code); records read through that table, and filters
and statistics use the same table in reverse (``value IN (…)``, GROUP BY value). A value the
table does not hold (written after the source opened) reads as NULL on every path until the
table is learnt again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, case, cast, func, literal, not_, or_, true
from sqlalchemy.sql.expression import ColumnElement

from adapters.mapping import DEFAULT_CODE, FALSE_VALUES, TRUE_VALUES
from adapters.sqlfuncs import VALUE_SEPARATOR, ByPosition, DigitsOnly, IntDiv, Position, Prefix, const
from hub.vocabulary.model import CHILD_AGE_LIMIT, AgeGroup, Labelled

#: Oldest age read as an age; larger numbers are typing errors (and read as NULL).
MAX_AGE = 150
#: Characters removed before a NIK or phone number must be all digits (``clean = "digits"``).
SEPARATOR_CHARACTERS = (" ", ".", "-", "/", ",", "_", "(", ")", "+", "\t")
#: Unit words of ages written as text, and whether they count months (else years).
AGE_UNITS: dict[str, bool] = {
    "tahun": False,
    "thn": False,
    "th": False,
    "thun": False,
    "years": False,
    "year": False,
    "yrs": False,
    "yr": False,
    "y": False,
    "bulan": True,
    "bln": True,
    "bl": True,
    "months": True,
    "month": True,
    "mo": True,
}


@dataclass(slots=True)
class Lookup:
    """A value resolved in Python once per distinct source value (regions, countries).

    ``key`` is the SQL expression of the source value; ``table`` maps each distinct key value
    learnt from the database to its national code (None: not readable).
    """

    key: ColumnElement[Any]
    resolve: Callable[[Any], str | None]
    table: dict[Any, str | None] = field(default_factory=dict)

    def learn(self, values: Iterable[Any]) -> None:
        self.table = {value: self.resolve(value) for value in values if value is not None}

    def read(self, value: Any) -> str | None:
        return None if value is None else self.table.get(value)

    def keys_where(self, wanted: Callable[[str], bool]) -> list[Any]:
        """The source values whose national code satisfies ``wanted``."""
        return [k for k, code in self.table.items() if code is not None and wanted(code)]

    def condition(self, wanted: Callable[[str], bool]) -> ColumnElement[bool]:
        keys = self.keys_where(wanted)
        return self.key.in_(keys) if keys else literal(False)

    def unreadable(self) -> list[Any]:
        return [k for k, code in self.table.items() if code is None]


@dataclass(slots=True)
class FieldValue:
    """A mapped field compiled once: its canonical SQL value and how Python types it."""

    #: The canonical SQL value (None for a constant or a lookup).
    sql: ColumnElement[Any] | None
    #: Canonical SQL value → the national Python value (a type conversion, nothing more).
    read: Callable[[Any], Any]
    #: The source columns read (a non-NULL source value with a NULL canonical is unparsed).
    raw: tuple[ColumnElement[Any], ...] = ()
    lookup: Lookup | None = None
    #: The national value of a constant field.
    constant: Any = None
    is_constant: bool = False
    #: National names several values of a multi-valued field are joined with (a list).
    many: bool = False
    #: The raw column is another table's (a child table, the latest stage): not in the FROM.
    from_child: bool = False
    #: Whether records read it (False: only conditions and groupings use it).
    selectable: bool = True
    #: The raw column is a NOT NULL column of the part's own table (not an outer-joined one).
    raw_never_null: bool = False
    #: A date read from one column: the formats it is parsed with, in order (else empty).
    date_formats: tuple[str, ...] = ()
    #: The national name an empty source value reads as (``sex`` → ``UNKNOWN``): records show
    #: it, but the source held no value, so completeness does not count it.
    empty_reads_as: str | None = None

    @property
    def selected(self) -> list[ColumnElement[Any]]:
        """What a SELECT of records reads for this field."""
        if not self.selectable:
            return []
        if self.lookup is not None:
            return [self.lookup.key]
        return [] if self.sql is None else [self.sql]

    def value_of(self, selected: Sequence[Any]) -> Any:
        """The national value from the :attr:`selected` columns of a row."""
        if self.is_constant:
            return self.constant
        if not self.selectable:
            return None
        if self.lookup is not None:
            return self.lookup.read(selected[0])
        return self.read(selected[0])


# --- text ---------------------------------------------------------------------------------------


def text_of(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A source value as trimmed text: how code lists, yes/no and ages compare it."""
    return func.trim(cast(column, String), type_=String)


def clean_text(column: ColumnElement[Any], clean: str | None) -> ColumnElement[str]:
    """Free text, trimmed, empty as NULL; ``clean = "digits"`` keeps NIKs and phones' digits."""
    text = text_of(column)
    if clean == "digits":
        for character in SEPARATOR_CHARACTERS:
            text = func.replace(text, character, "", type_=String)
        return case((DigitsOnly(text), text), else_=None)
    return func.nullif(text, "", type_=String)


# --- national codes -----------------------------------------------------------------------------


def fallback_name(enum_cls: type[Labelled]) -> str | None:
    """The national value of a value no code list knows: UNKNOWN, else OTHER, else none."""
    return next((n for n in ("UNKNOWN", "OTHER") if n in enum_cls.__members__), None)


def _joined(names: Iterable[str]) -> str:
    return VALUE_SEPARATOR.join(sorted(dict.fromkeys(names)))


def code_value(
    column: ColumnElement[Any],
    table: Mapping[str, tuple[str, ...]] | None,
    enum_cls: type[Labelled] | None,
    null_as: str | None = None,
) -> ColumnElement[str]:
    """A code column translated through its code list into national names, in SQL.

    Without a list the column holds national names itself. A value no entry lists takes the
    list's ``"*"`` default, else the vocabulary's UNKNOWN/OTHER (text fields: NULL). NULL and
    empty cells read as ``null_as``. Several names (a multi-valued entry) are joined.
    """
    text = text_of(column)
    lookup = (
        dict(table) if table is not None else {m: (m,) for m in (enum_cls.__members__ if enum_cls else ())}
    )
    default = lookup.pop(DEFAULT_CODE, None)
    otherwise = _joined(default) if default else (fallback_name(enum_cls) if enum_cls else None)
    null_value = const(null_as) if null_as is not None else None
    if not lookup:
        empty = or_(column.is_(None), text == const(""))
        return case((empty, null_value), else_=const(otherwise) if otherwise else None)
    # A simple CASE over the trimmed text: the text is computed once, not once per code (a
    # searched CASE evaluates ``trim(...) = 'code'`` anew for every WHEN; trimming was an
    # eighth of PostgreSQL's work for a portal page, issue 13). NULL never matches a WHEN, so
    # it is tested first; the empty text is the first WHEN, as it was the first condition.
    whens = {const(""): null_value, **{const(s): const(_joined(n)) for s, n in lookup.items() if s != ""}}
    by_text = case(whens, value=text, else_=const(otherwise) if otherwise is not None else None)
    return case((column.is_(None), null_value), else_=by_text)


def split_code_value(
    column: ColumnElement[Any],
    separator: str,
    table: Mapping[str, tuple[str, ...]] | None,
    enum_cls: type[Labelled] | None,
    null_as: str | None = None,
) -> ColumnElement[str]:
    """A cell holding several codes (``"ES, KP"``) → the national names of every code.

    Tokens are compared with spaces around the separator removed. A token no entry lists
    adds the default (or UNKNOWN/OTHER). Built from :func:`token_condition`, which filters and
    service rows use too.
    """
    lookup = (
        dict(table) if table is not None else {m: (m,) for m in (enum_cls.__members__ if enum_cls else ())}
    )
    default = lookup.pop(DEFAULT_CODE, None)
    otherwise = list(default) if default else ([fallback_name(enum_cls)] if enum_cls else [])
    wrapped = wrapped_tokens(column, separator)
    names: dict[str, list[str]] = {}
    for source, national in lookup.items():
        for name in national:
            names.setdefault(name, []).append(source)
    leftover = leftover_tokens(wrapped, separator, list(lookup))
    pieces: list[ColumnElement[str]] = []
    for name in sorted(set(names) | set(otherwise)):
        conditions = [token_condition(wrapped, separator, code) for code in names.get(name, [])]
        if name in otherwise:
            conditions.append(leftover != const(""))
        pieces.append(case((or_(*conditions), const(name + VALUE_SEPARATOR)), else_=const("")))
    joined: Any = pieces[0] if pieces else const("")
    for piece in pieces[1:]:
        joined = joined + piece
    present = func.nullif(joined, const(""), type_=String)
    empty = or_(column.is_(None), text_of(column) == const(""))
    null_value = const(null_as) if null_as is not None else None
    # The trailing separator is dropped by :func:`read_many` (and harmless to has_name).
    return case((empty, null_value), else_=present)


def wrapped_tokens(column: ColumnElement[Any], separator: str) -> ColumnElement[str]:
    """``"ES , KP"`` → ``",ES,,KP,"``: every token between a doubled separator, so that
    ``,TOKEN,`` finds each token exactly (and removing one never eats its neighbour's)."""
    text = text_of(column)
    for _ in range(2):
        text = func.replace(
            func.replace(text, const(" " + separator), const(separator)),
            const(separator + " "),
            const(separator),
        )
    doubled = func.replace(text, const(separator), const(separator + separator), type_=String)
    return const(separator) + doubled + const(separator)


def token_condition(wrapped: ColumnElement[str], separator: str, code: str) -> ColumnElement[bool]:
    """The wrapped cell holds ``code`` as one of its tokens."""
    return Position(wrapped, const(f"{separator}{code}{separator}")) > 0


def leftover_tokens(wrapped: ColumnElement[str], separator: str, codes: Sequence[str]) -> ColumnElement[str]:
    """The wrapped cell with every known token and every separator removed ('' when all known)."""
    rest: Any = wrapped
    for code in codes:
        rest = func.replace(rest, const(f"{separator}{code}{separator}"), const(""), type_=String)
    return func.replace(rest, const(separator), const(""), type_=String)


def has_name(canonical: ColumnElement[str], name: str) -> ColumnElement[bool]:
    """A multi-valued canonical value holds the national ``name``."""
    wrapped = const(VALUE_SEPARATOR) + canonical + const(VALUE_SEPARATOR)
    return Position(wrapped, const(f"{VALUE_SEPARATOR}{name}{VALUE_SEPARATOR}")) > 0


def as_is(value: Any) -> Any:
    """The reader of a value already in its national form (text, a code): the value itself.

    Named, not a lambda, so that a generated record builder can see it and read the column
    straight into the record (``adapters.records``)."""
    return value


class KeyReader:
    """A key column's value → the record key: the part's prefix and the value, as text."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, value: Any) -> str | None:
        return None if value is None else f"{self.prefix}{value}"


class MemberReader:
    """National name → member (``KeyError`` for another name, as ``enum_cls[name]``).

    From the members' own table: ``enum_cls[name]`` is a Python-level call per value, and a
    portal page reads ~100 of them (issue 13); a generated record builder reads the table
    itself (``adapters.records``)."""

    __slots__ = ("members",)

    def __init__(self, enum_cls: type[Labelled]) -> None:
        self.members: dict[str, Any] = dict(enum_cls.__members__)

    def __call__(self, value: Any) -> Any:
        return None if value is None else self.members[value]


def read_member(enum_cls: type[Labelled]) -> MemberReader:
    return MemberReader(enum_cls)


#: Distinct multi-valued cells a reader remembers (their combinations are few: a dozen names).
MAX_MANY = 4096


def read_many(enum_cls: type[Labelled]) -> Callable[[Any], tuple[Any, ...]]:
    """A multi-valued canonical cell → its members, in name order, each once; a cell read
    before is answered from a bounded table (the same text always reads the same)."""
    members = dict(enum_cls.__members__)
    known: dict[str, tuple[Any, ...]] = {}

    def read(value: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        text = str(value)
        found = known.get(text)
        if found is None:
            names = {n for n in text.split(VALUE_SEPARATOR) if n}
            found = tuple(members[n] for n in sorted(names))
            if len(known) >= MAX_MANY:
                known.clear()
            known[text] = found
        return found

    return read


def names_of(value: Any) -> tuple[str, ...]:
    """The national names in a multi-valued canonical value (statistics cells)."""
    if value is None:
        return ()
    return tuple(sorted({n for n in str(value).split(VALUE_SEPARATOR) if n}))


# --- yes/no, numbers, ages, dates --------------------------------------------------------------


def boolean_value(column: ColumnElement[Any]) -> ColumnElement[int]:
    """``Ya``/``Tidak`` and their spellings → 1/0; anything else NULL."""
    text = func.lower(text_of(column))
    return case((text.in_(sorted(TRUE_VALUES)), 1), (text.in_(sorted(FALSE_VALUES)), 0), else_=None)


def age_value(column: ColumnElement[Any]) -> ColumnElement[int]:
    """An age in whole years from ``34``, ``34.0``, ``34 th``, ``34tahun``, ``8 bln`` … else NULL.

    The text must start with a number of one to three digits; what follows (spaces aside) must
    be nothing, ``.0``, or one of the unit words of :data:`AGE_UNITS`. A month word makes it
    months, counted as whole years (``18 bln`` is 1). Ages above :data:`MAX_AGE` are NULL. An
    integer column is read as it is (range-checked). The expression is flat — one CASE over the
    three number lengths — so it nests shallowly inside other statements.
    """
    if isinstance(getattr(column, "type", None), Integer):
        return case((column.between(const(0), const(MAX_AGE)), column), else_=None)
    text = func.lower(text_of(column))
    years_words = [const(w) for w, months in AGE_UNITS.items() if not months] + [const(""), const(".0")]
    month_words = [const(w) for w, months in AGE_UNITS.items() if months]
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    for digits in (3, 2, 1):
        head = Prefix(text, digits)
        unit = func.trim(func.substr(text, digits + 1, type_=String), type_=String)
        number = cast(case((DigitsOnly(head), head), else_=None), Integer)
        shaped = and_(func.length(head) == const(digits), DigitsOnly(head))
        whens.append((and_(shaped, unit.in_(years_words)), number))
        whens.append((and_(shaped, unit.in_(month_words)), IntDiv(number, const(12))))
    years = case(*whens, else_=None)
    return case((years.between(const(0), const(MAX_AGE)), years), else_=None)


def integer_value(column: ColumnElement[Any]) -> ColumnElement[int]:
    """A whole number (an amount): an integer column as it is; text when it is digits (up to
    18), else NULL."""
    if isinstance(getattr(column, "type", None), Integer):
        return column
    text = text_of(column)
    digits = and_(DigitsOnly(text), func.length(text) <= const(18))
    return cast(case((digits, text), else_=None), BigInteger)


def date_reader(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def years_value(
    birth: ColumnElement[Any] | None, at: ColumnElement[Any] | None, age: ColumnElement[Any] | None
) -> ColumnElement[Any] | None:
    """Age in whole years at the report: from birth date and report date (both canonical ISO)
    when both parse, else the recorded age (possibly out of range: see below).

    Whole years are ``(YYYYMMDD at - YYYYMMDD born) div 10000`` — each date appears once in
    the SQL (the offset keeps the division of a negative difference a floor division).
    """
    computed = None
    if birth is not None and at is not None:
        difference = _day_number(at) - _day_number(birth)
        computed = IntDiv(difference + const(10_000_000), const(10_000)) - const(1000)
    parts = [p for p in (computed, age) if p is not None]
    if not parts:
        return None
    # No range check here: the age band and the child flag are simple CASEs over the valid
    # range, so a negative or absurd age reads as UNKNOWN / NULL there — and each date
    # appears once in the SQL.
    return parts[0] if len(parts) == 1 else func.coalesce(*parts)


def _day_number(iso: ColumnElement[Any]) -> ColumnElement[int]:
    """``2023-07-01`` → 20230701 (canonical ISO dates only: the cast cannot fail)."""
    return cast(func.replace(iso, const("-"), const(""), type_=String), Integer)


def age_bands() -> list[tuple[int, int | None, AgeGroup]]:
    """The age bands as (first year, last year or None, band), read off :meth:`AgeGroup.for_age`
    itself so that SQL and the vocabulary cannot disagree."""
    bands: list[tuple[int, int | None, AgeGroup]] = []
    for years in range(MAX_AGE + 1):
        band = AgeGroup.for_age(years)
        if bands and bands[-1][2] is band:
            bands[-1] = (bands[-1][0], years, band)
        else:
            bands.append((years, years, band))
    first, _, band = bands[-1]
    bands[-1] = (first, None, band)
    return bands


def age_group_value(years: ColumnElement[Any]) -> ColumnElement[str]:
    """The age band's national name (UNKNOWN when no age is known): the band of every whole
    year by position (:class:`~adapters.sqlfuncs.ByPosition`), from :meth:`AgeGroup.for_age`."""
    names = [AgeGroup.for_age(y).name for y in range(MAX_AGE + 1)]
    return ByPosition(years, names, AgeGroup.UNKNOWN.name)


def child_value(years: ColumnElement[Any] | None, flag: ColumnElement[Any] | None) -> ColumnElement[Any]:
    """1 for a child (under 18 by age; by the explicit flag when no age is known), 0, or NULL."""
    if years is None:
        return flag if flag is not None else const(0)
    # (years + 18·100) div 18 - 100 is 0 for a child, 1..8 for an adult of at most MAX_AGE,
    # and negative or larger for no real age: no WHEN matches, NULL (the offset keeps the
    # division of a negative age a floor division).
    offset = CHILD_AGE_LIMIT * 100
    group = IntDiv(years + const(offset), const(CHILD_AGE_LIMIT)) - const(100)
    by_age = case(
        {const(n): const(1 if n == 0 else 0) for n in range(MAX_AGE // CHILD_AGE_LIMIT + 1)},
        value=group,
        else_=None,
    )
    return by_age if flag is None else func.coalesce(by_age, flag)


def read_bool(value: Any) -> bool | None:
    return None if value is None else bool(int(value))


def read_int(value: Any) -> int | None:
    return None if value is None else int(value)


def always(value: Any) -> ColumnElement[bool]:
    """A condition on a constant field: true when the constant is wanted."""
    return true() if value else not_(true())
