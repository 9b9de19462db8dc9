"""Statistics inside the agency database: GROUP BY each field's one definition, then name cells.

Each dimension groups by the field's canonical SQL value (:mod:`adapters.values`) — the very
expression records read and filters compare: national code names, ISO dates (year and month
are their prefixes), the SQL age band, the child flag; for regions and countries the source
value, named through the same lookup table records use. So the database returns one row per
distinct combination — a few hundred rows at most, whatever the table size — and a count can
never disagree with the records or with a filter on the same value.

Shape of the SQL: a *frame* subquery of the cases matching the filter (with the columns of
every case dimension asked for) is grouped directly for CASES, or joined to the person or
service tables for VICTIM_RECORDS and SERVICES. A multi-valued field (several exploitation
types) is grouped by its combination, and a case is counted once under each of its values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import product
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, func, literal_column, or_, select, true
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, FromClause

from adapters import cellkeys, filters, rawgroups, sqlnames
from adapters.compiler import CompiledPart
from adapters.sqlfuncs import NotIndexOrdered
from adapters.values import FieldValue, Lookup, names_of
from hub.vocabulary.model import Dimension, Entity, Measure, PersonRole, StatisticsRequest

if TYPE_CHECKING:
    from adapters.sql import MappedSQLSource

Cell = tuple[str | None, ...]
#: Turns the grouped values of one dimension (a slice of a result row) into national values
#: (several for a multi-valued field: the row counts under each).
Translate = Callable[[Sequence[Any]], tuple[str | None, ...]]

CASE_DIMENSIONS = frozenset(
    {
        Dimension.YEAR,
        Dimension.MONTH,
        Dimension.PROVINCE,
        Dimension.REGENCY,
        Dimension.EXPLOITATION_TYPE,
        Dimension.STAGE,
        Dimension.COUNTRY_OF_EXPLOITATION,
    }
)

#: The national value of a dimension a source does not map at all.
_NOT_MAPPED = {
    Dimension.EXPLOITATION_TYPE: "UNKNOWN",
    Dimension.SEX: "UNKNOWN",
    Dimension.AGE_GROUP: "UNKNOWN",
    Dimension.SERVICE_TYPE: "OTHER",
}

#: Which mapped field each dimension groups by.
_FIELD_OF = {
    Dimension.PROVINCE: "region",
    Dimension.REGENCY: "region",
    Dimension.EXPLOITATION_TYPE: "exploitation_types",
    Dimension.STAGE: "stage",
    Dimension.COUNTRY_OF_EXPLOITATION: "country",
    Dimension.SEX: "sex",
    Dimension.AGE_GROUP: "age_group",
    Dimension.CHILD: "is_child",
    Dimension.SERVICE_TYPE: "type",
}


class _Grouping:
    """The grouped columns of one query and how to translate each dimension's slice.

    A column may be a key computed from raw columns (:mod:`adapters.rawgroups`): then
    :func:`_grouped` groups by the raw columns first and computes the key once per group.
    """

    def __init__(self) -> None:
        self.columns: list[ColumnElement[Any]] = []
        self.slices: dict[Dimension, tuple[int, int, Translate]] = {}
        #: Index of a column in :attr:`columns` → the raw columns it is computed from, and how.
        self.raw: dict[int, tuple[list[ColumnElement[Any]], rawgroups.KeyOf]] = {}
        #: Index of a key column in :attr:`columns` → its dimension and the lookup it keys.
        self.lookups: dict[int, tuple[Dimension, Lookup]] = {}
        #: Per dimension, :meth:`reader`'s function. A statement returns a row per combination
        #: of every dimension's groups, so one dimension's slice repeats across rows (a regency
        #: in every year): each distinct slice is translated once, with the same function.
        self._readers: dict[Dimension, Callable[[Sequence[Any]], tuple[str | None, ...]]] = {}

    def add(
        self,
        dimension: Dimension,
        exprs: Sequence[ColumnElement[Any]],
        translate: Translate,
        raw: tuple[list[ColumnElement[Any]], rawgroups.KeyOf] | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        """Group by ``exprs`` for ``dimension`` (``lookup``: the one the group values are keys
        of, whose names ``translate`` reads; the database may apply it instead)."""
        start = len(self.columns)
        if raw is not None:
            self.raw[start] = raw
        if lookup is not None and len(exprs) == 1:
            self.lookups[start] = (dimension, lookup)
        self.columns.extend(exprs)
        self.slices[dimension] = (start, len(exprs), translate)

    def names_in_sql(self, tables: sqlnames.NamesTables) -> dict[int, FromClause]:
        """The lookup tables the database applies to this grouping's key columns (by column
        index; :mod:`adapters.sqlnames`). Their dimensions then read the grouped value as the
        national name it already is."""
        applied: dict[int, FromClause] = {}
        for index, (dimension, lookup) in self.lookups.items():
            table = tables.table(lookup, dimension.name.lower(), _name_of(dimension))
            if table is None:
                continue
            applied[index] = table
            start, length, _ = self.slices[dimension]
            self.slices[dimension] = (start, length, _as_is)
            self._readers.pop(dimension, None)
        return applied

    def translate(self, row: Sequence[Any], dimension: Dimension) -> tuple[str | None, ...]:
        """The distinct national values of ``dimension``'s slice of ``row`` ((None,) if none)."""
        return self.reader(dimension)(row)

    def reader(self, dimension: Dimension) -> Callable[[Sequence[Any]], tuple[str | None, ...]]:
        """:meth:`translate` of one grouped dimension as a function of a row, which translates
        each distinct slice once (remembered per dimension, for every row of the grouping)."""
        found = self._readers.get(dimension)
        if found is not None:
            return found
        start, length, translate = self.slices[dimension]
        named: dict[Any, tuple[str | None, ...]] = {}

        def distinct(grouped: Sequence[Any]) -> tuple[str | None, ...]:
            return tuple(dict.fromkeys(translate(grouped))) or (None,)

        if length == 0:
            constant = distinct(())

            def read(_row: Sequence[Any]) -> tuple[str | None, ...]:
                return constant

        elif length == 1:

            def read(row: Sequence[Any]) -> tuple[str | None, ...]:
                value = row[start]
                try:
                    values = named.get(value)
                except TypeError:  # an unhashable value (an array): translated every time
                    return distinct((value,))
                if values is None:
                    values = named[value] = distinct((value,))
                return values

        else:

            def read(row: Sequence[Any]) -> tuple[str | None, ...]:
                grouped = tuple(row[start : start + length])
                try:
                    values = named.get(grouped)
                except TypeError:  # an unhashable value (an array): translated every time
                    return distinct(grouped)
                if values is None:
                    values = named[grouped] = distinct(grouped)
                return values

        self._readers[dimension] = read
        return read


def dimension_values(
    dimension: Dimension, value: FieldValue | None
) -> tuple[list[ColumnElement[Any]], Translate]:
    """What to GROUP BY for ``dimension`` on a field, and how to name each group."""
    if value is None:
        unmapped = _NOT_MAPPED.get(dimension)
        return [], lambda _v: (unmapped,)
    if value.is_constant:
        constant = value.constant
        names = _names_of_constant(constant)
        if dimension in (Dimension.PROVINCE, Dimension.REGENCY):
            names = tuple(_region_part(dimension, n) for n in names)
        return [], lambda _v: names or (None,)
    if value.lookup is not None:
        lookup = value.lookup
        if dimension in (Dimension.PROVINCE, Dimension.REGENCY):
            return [lookup.key], lambda v: (_region_part(dimension, lookup.read(v[0])),)
        return [lookup.key], lambda v: (lookup.read(v[0]),)
    assert value.sql is not None
    if value.many:
        fallback = _NOT_MAPPED.get(dimension)
        return [value.sql], lambda v: names_of(v[0]) or (fallback,)
    if dimension is Dimension.CHILD:
        return [value.sql], lambda v: (None if v[0] is None else ("true" if int(v[0]) else "false"),)
    return [value.sql], lambda v: (None if v[0] is None else str(v[0]),)


def _names_of_constant(constant: Any) -> tuple[str | None, ...]:
    if isinstance(constant, tuple):
        return tuple(m.name for m in constant)
    return (getattr(constant, "name", constant),)


def _region_part(dimension: Dimension, code: str | None) -> str | None:
    if not code:
        return None
    if dimension is Dimension.PROVINCE:
        return code[:2]
    return code if "." in code else None


class _Frame:
    """The cases matching the filter, as a subquery with each case dimension's columns.

    Measures join their tables to it; :meth:`attach` adds the frame's dimensions to a grouping.
    With ``with_reported`` the frame also carries each case's report date as ISO text (column
    ``rep``), for the indicator facts of :mod:`adapters.sql_facts`.
    """

    def __init__(
        self, source: MappedSQLSource, request: StatisticsRequest, with_reported: bool = False
    ) -> None:
        self.source = source
        case_part = source.compiled.case_part()
        #: The frame's columns computed on the case rows, and every frame column's name in order.
        own: list[ColumnElement[Any]] = [case_part.key_column.label("k")]
        names_in_order = ["k"]
        #: Frame columns that are the report day's year or month read from the day lookup.
        periods: dict[str, Dimension] = {}
        #: Per case dimension: its frame columns, how to name a group, and — for a key computed
        #: from raw columns — how to compute it from them (the frame then carries the raw ones).
        self.dimensions: list[
            tuple[Dimension, list[str], Translate, rawgroups.KeyOf | None, Lookup | None]
        ] = []
        days = _DayLookup.of(source, request)
        for dimension in request.dimensions:
            if dimension not in CASE_DIMENSIONS:
                continue
            if days is not None and dimension in days.wanted:
                name = f"d{len(names_in_order)}"
                names_in_order.append(name)
                periods[name] = dimension
                self.dimensions.append((dimension, [name], _as_is, None, None))
                continue
            exprs, translate = _case_dimension(case_part, dimension)
            lookup = _lookup_of(case_part, dimension, exprs)
            key_of = _raw_key(source, case_part, dimension, exprs)
            if key_of is not None:
                exprs = list(case_part.values[_FIELD_OF[dimension]].raw)
            names = []
            for expr in exprs:
                names.append(f"d{len(names_in_order)}")
                names_in_order.append(names[-1])
                own.append(NotIndexOrdered(expr).label(names[-1]))
            self.dimensions.append((dimension, names, translate, key_of, lookup))
        if with_reported and case_part.date_expr is not None:
            own.append(case_part.date_expr.label("rep"))
            names_in_order.append("rep")
        conditions = filters.case_conditions(source.compiled, case_part, request.filter)
        where = [*case_part.row_conditions, *conditions]
        if days is None:
            self.subquery = select(*own).select_from(case_part.from_clause).where(*where).subquery("frame")
        else:
            self.subquery = days.frame(case_part, own, where, names_in_order, periods)

    def joined(self, part: CompiledPart) -> FromClause | None:
        """``part``'s tables joined to the frame by its case key (None if it has none)."""
        relation = part.relation_columns.get("case_key")
        if relation is None:
            return None
        return part.from_clause.join(self.subquery, relation[0] == self.subquery.c.k)

    def attach(self, grouping: _Grouping, base: FromClause) -> FromClause:
        frame = self.subquery
        for dimension, names, translate, key_of, lookup in self.dimensions:
            columns = [frame.c[n] for n in names]
            if key_of is None:
                grouping.add(dimension, columns, translate, lookup=lookup)
            else:
                grouping.add(dimension, [key_of(columns)], translate, (columns, key_of), lookup)
        return base


def _lookup_of(
    part: CompiledPart, dimension: Dimension, exprs: Sequence[ColumnElement[Any]]
) -> Lookup | None:
    """The lookup whose key is the dimension's one group value (regions, countries), else None."""
    field = _FIELD_OF.get(dimension)
    value = part.values.get(field) if field is not None else None
    if value is None or value.lookup is None or list(exprs) != [value.lookup.key]:
        return None
    return value.lookup


def _name_of(dimension: Dimension) -> Callable[[str | None], str | None]:
    """A lookup's national code → the dimension's name (as :func:`dimension_values` reads it)."""
    if dimension in (Dimension.PROVINCE, Dimension.REGENCY):
        return lambda code: _region_part(dimension, code)
    return lambda code: code


def _raw_key(
    source: MappedSQLSource, part: CompiledPart, dimension: Dimension, exprs: Sequence[ColumnElement[Any]]
) -> rawgroups.KeyOf | None:
    """How to compute ``dimension``'s lookup key from its raw columns, where the source
    allows grouping by them (:meth:`~adapters.sql.MappedSQLSource.raw_key`); else None."""
    lookup = _lookup_of(part, dimension, exprs)
    value = part.values[_FIELD_OF[dimension]] if lookup is not None else None
    return source.raw_key(value) if value is not None else None


class _DayLookup:
    """The cases' report year and month, computed once per distinct key of the day.

    Grouping by year or month needs every case's day; computing the date expression for each
    case cost more than the grouping itself (PostgreSQL: ~3.5 µs a case on the bench's data,
    7× the direct GROUP BY). The day is a function of the raw value alone
    (:func:`adapters.datewalk.raw_day_reader`: the same compiled expression), so it is computed
    for the distinct raw values — one per reported day in a register. Where each raw value is
    a date-time of its own, the key is the text the day depends on alone
    (:func:`adapters.sqldates.day_key`: the date part), again one per day; the expression read
    on it gives each case's own day. The year and month (the day's prefixes) are cut once per
    key too. A key with no day (unparsed, NULL) gets NULL, as the expression gives. Without
    such a key (``source.day_reader``) the frame reads the case part's own day (:meth:`of`
    gives None).

    SQLite: a lookup of every distinct key with its year and month, joined to the cases by
    the key. PostgreSQL: a ``LATERAL`` subquery of the case's key, fenced by ``OFFSET 0`` so
    the planner keeps it whole, which the planner memoizes (a ``Memoize`` node keyed by the
    key: the expression computed on a cache miss, once per distinct key) — no separate pass
    to find the distinct keys, no hash table of them, and a date-time's date part computed once
    a case without being stored (the ``MATERIALIZED`` CTE it replaced wrote every case out and
    read it twice). bp2mi's statement: 335M → 257M instructions, simfoni 217M → 212M, polri
    322M → 311M (single-user backend under callgrind). Where the planner chooses not to
    memoize (keys that barely repeat), the same expression is computed per case: the same
    answer, as slow as a lookup of as many keys would be.
    """

    def __init__(
        self,
        key: ColumnElement[Any],
        day_of: Callable[[ColumnElement[Any]], ColumnElement[Any]],
        wanted: frozenset[Dimension],
        dialect: str,
    ) -> None:
        self.key, self.day_of, self.wanted, self.dialect = key, day_of, wanted, dialect

    @classmethod
    def of(cls, source: MappedSQLSource, request: StatisticsRequest) -> _DayLookup | None:
        reader = source.day_reader
        wanted = frozenset({Dimension.YEAR, Dimension.MONTH} & set(request.dimensions))
        if reader is None or not wanted:
            return None
        key, day_of = reader
        return cls(key, day_of, wanted, source.dialect)

    def _periods(self, day: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        """The year and month of ``day`` (columns named after the dimension)."""
        return [_period(day, d).label(d.name.lower()) for d in sorted(self.wanted, key=lambda d: d.name)]

    def frame(
        self,
        part: CompiledPart,
        own: list[ColumnElement[Any]],
        where: list[ColumnElement[bool]],
        names: list[str],
        periods: dict[str, Dimension],
    ) -> Any:
        """The frame subquery: ``own`` columns of the cases meeting ``where``, and the year or
        month of each case's day for the ``periods`` columns, columns in the order of ``names``."""
        if self.dialect == "postgresql":
            return self._memoized_frame(part, own, where, names, periods)
        # Grouped, so the day is computed once per group, and the subquery stays one (SQLite
        # then indexes it for the join; a MATERIALIZED CTE it scanned once per case).
        days = (
            select(self.key.label("raw"), *self._periods(self.day_of(self.key)))
            .select_from(part.from_clause)
            .group_by(self.key)
            .subquery("stat_days")
        )
        by_name = {c.name: c for c in own}
        columns = [
            by_name[n] if n not in periods else NotIndexOrdered(days.c[periods[n].name.lower()]).label(n)
            for n in names
        ]
        joined = part.from_clause.outerjoin(days, days.c.raw == self.key)
        return select(*columns).select_from(joined).where(*where).subquery("frame")

    def _memoized_frame(
        self,
        part: CompiledPart,
        own: list[ColumnElement[Any]],
        where: list[ColumnElement[bool]],
        names: list[str],
        periods: dict[str, Dimension],
    ) -> Any:
        """PostgreSQL: each case's periods from a fenced ``LATERAL`` subquery of its key."""
        key: ColumnElement[Any] = self.key
        from_clause: FromClause = part.from_clause
        outer: list[FromClause] = [part.from_clause]
        if not isinstance(key, ColumnClause):
            # A key computed from the raw value: once per case, in a lateral subquery of its
            # own, so the memoized one below is keyed by the key, not by the raw value.
            keyed = (
                select(key.label("day_key")).correlate(*outer).offset(literal_column("0")).lateral("stat_key")
            )
            from_clause = from_clause.join(keyed, true())
            outer.append(keyed)
            key = keyed.c.day_key
        days = (
            select(*self._periods(self.day_of(key)))
            .correlate(*outer)
            .offset(literal_column("0"))
            .lateral("stat_days")
        )
        by_name = {c.name: c for c in own}
        columns = [
            by_name[n] if n not in periods else days.c[periods[n].name.lower()].label(n) for n in names
        ]
        return select(*columns).select_from(from_clause.join(days, true())).where(*where).subquery("frame")


def _as_is(values: Sequence[Any]) -> tuple[str | None, ...]:
    return (values[0],)


def _period(day: ColumnElement[Any], dimension: Dimension) -> ColumnElement[Any]:
    """The year or month of a canonical day: valid ISO text or NULL, so its prefix."""
    return func.substr(day, 1, 4 if dimension is Dimension.YEAR else 7, type_=String)


def _case_dimension(part: CompiledPart, dimension: Dimension) -> tuple[list[ColumnElement[Any]], Translate]:
    if dimension in (Dimension.YEAR, Dimension.MONTH):
        assert part.date_expr is not None
        return [_period(part.date_expr, dimension)], _as_is
    return dimension_values(dimension, part.values.get(_FIELD_OF[dimension]))


def _victim_queries(
    source: MappedSQLSource,
    frame: _Frame,
    request: StatisticsRequest,
    roles: frozenset[PersonRole] | None = None,
) -> list[tuple[CompiledPart, FromClause, _Grouping, list[ColumnElement[bool]]]]:
    """Per person table: its join to the frame, its grouping and the conditions that make a
    record one of ``roles`` (default: the filter's victim roles, hidden ones left out)."""
    wanted = request.filter.victim_roles() if roles is None else roles
    queries = []
    for person in source.compiled.parts_of(Entity.PERSON):
        base = frame.joined(person)
        if base is None:
            continue
        grouping = _Grouping()
        base = frame.attach(grouping, base)
        _add_person_dimensions(source, person, request.dimensions, grouping)
        conditions = [*person.row_conditions, source.compiled.victim_condition(person, wanted)]
        queries.append((person, base, grouping, conditions))
    return queries


def _add_person_dimensions(
    source: MappedSQLSource, person: CompiledPart, dimensions: Sequence[Dimension], grouping: _Grouping
) -> None:
    """Group by the person dimensions asked for: the SQL sex, age band and child flag."""
    for dimension in (Dimension.SEX, Dimension.AGE_GROUP, Dimension.CHILD):
        if dimension in dimensions:
            exprs, translate = dimension_values(dimension, person.values.get(_FIELD_OF[dimension]))
            grouping.add(dimension, exprs, translate)


async def aggregate(source: MappedSQLSource, request: StatisticsRequest) -> dict[Cell, int]:
    """Counts per combination of national dimension values, for one source."""
    cells, _ = await _aggregate(source, request, None)
    return {cell: count for cell, (count, _) in cells.items()}


async def aggregate_keyed(
    source: MappedSQLSource, request: StatisticsRequest, salt: str
) -> dict[Cell, tuple[int, int]]:
    """Counts and sums of record keys (:mod:`adapters.cellkeys`) per cell, both in the source's SQL."""
    cells, _ = await _aggregate(source, request, salt)
    return cells


async def aggregate_counted(
    source: MappedSQLSource, request: StatisticsRequest, salt: str | None
) -> tuple[dict[Cell, tuple[int, int]], tuple[int, int]]:
    """The cells (counts and key sums; 0 without ``salt``) and the total of the records counted.

    The total is the sum of the grouped rows' counts, before any row is spread over several
    cells: GROUP BY puts every record of a statement in exactly one group (a multi-valued
    field is grouped by its combination of values, NULL is a group of its own), and the joins
    around it — the day lookup by a distinct key (or a lateral subquery of one row a case), the
    names by a key the table holds once — keep each record and group once, so the sum is the
    statement's ``COUNT(*)`` without the dimensions: the
    second statement per source the hub sent for the total, saved.
    """
    return await _aggregate(source, request, salt)


async def _aggregate(
    source: MappedSQLSource, request: StatisticsRequest, salt: str | None
) -> tuple[dict[Cell, tuple[int, int]], tuple[int, int]]:
    # Built once per request shape while the source is open: a dashboard asks the same
    # statistics again and again, and building a statement (the frame, the day lookup, the
    # names; SQLAlchemy's cache key of a new statement object) costs ~2 ms of the hub's one
    # thread per statement, during which the other sources' statements are not yet sent.
    queries = source.built_statistics((request, salt), lambda: _queries(source, request, salt))
    cells: dict[Cell, tuple[int, int]] = {}
    width = 0 if salt is None else 1
    records = keys = 0
    for statement, grouping in queries:
        at = len(grouping.columns)
        readers = [_reader(source, grouping, d) for d in request.dimensions]
        for row in await source.fetch(statement):
            count = int(row[at])
            if count == 0:
                continue  # an ungrouped COUNT over no rows: no cell
            key = int(row[-1] or 0) if width else 0
            records, keys = records + count, keys + key
            for cell in product(*[read(row) for read in readers]):
                before = cells.get(cell, (0, 0))
                cells[cell] = (before[0] + count, before[1] + key)
    return cells, (records, keys)


def _queries(
    source: MappedSQLSource, request: StatisticsRequest, salt: str | None
) -> list[tuple[Any, _Grouping]]:
    """The grouped statements of ``request`` (one per table measured) and their groupings."""
    frame = _Frame(source, request)
    queries: list[tuple[Any, _Grouping]] = []

    def keyed(part: str, key: ColumnElement[Any]) -> ColumnElement[Any] | None:
        # One salt per part, so two tables' records with the same key get different keys.
        return None if salt is None else func.sum(cellkeys.cell_key(f"{salt}/{part}/", key))

    if request.measure is Measure.CASES:
        grouping = _Grouping()
        base = frame.attach(grouping, frame.subquery)
        case_key = keyed(source.compiled.case_part().part.name, frame.subquery.c.k)
        queries.append((_grouped(base, grouping, [], case_key, source.names_tables), grouping))
    elif request.measure in (Measure.VICTIM_RECORDS, Measure.VICTIMS):
        for person, base, grouping, conditions in _victim_queries(source, frame, request):
            person_key = keyed(person.part.name, person.key_column)
            queries.append((_grouped(base, grouping, conditions, person_key, source.names_tables), grouping))
    elif request.measure is Measure.SERVICES:
        for service in source.compiled.parts_of(Entity.SERVICE):
            joined = frame.joined(service)
            if joined is None:
                continue
            grouping = _Grouping()
            base = frame.attach(grouping, joined)
            if Dimension.SERVICE_TYPE in request.dimensions:
                exprs, translate = dimension_values(Dimension.SERVICE_TYPE, service.values.get("type"))
                grouping.add(Dimension.SERVICE_TYPE, exprs, translate)
            service_key = keyed(service.part.name, service.key_column)
            conditions = [*service.row_conditions, *_visible_recipient(source, service, request)]
            queries.append((_grouped(base, grouping, conditions, service_key, source.names_tables), grouping))
    return queries


async def victim_records(source: MappedSQLSource, request: StatisticsRequest) -> list[tuple[str, list[Cell]]]:
    """Every victim record matching the filter with the cells it falls in (for VICTIMS).

    Counting distinct *persons* needs to know which records are counted, so this returns
    record keys — only keys and grouping values: nothing identifying leaves the source.
    """
    frame = _Frame(source, request)
    result: dict[str, set[Cell]] = defaultdict(set)
    for person, base, grouping, conditions in _victim_queries(source, frame, request):
        statement = (
            select(person.key_column, *grouping.columns).select_from(base).where(*conditions).distinct()
        )
        for row in await source.fetch(statement):
            options = [_options(source, grouping, row[1:], d) for d in request.dimensions]
            result[person.record_key(row[0])].update(product(*options))
    return [(key, sorted(cells, key=str)) for key, cells in result.items()]


def _visible_recipient(
    source: MappedSQLSource, service: CompiledPart, request: StatisticsRequest
) -> list[ColumnElement[bool]]:
    """Services whose recipient is hidden from the asker are not counted (the row rule)."""
    hidden = request.filter.hidden_roles
    relation = service.relation_columns.get("recipient_key")
    if not hidden or relation is None:
        return []
    recipient = relation[0]
    conditions = []
    for person in source.compiled.parts_of(Entity.PERSON):
        hidden_persons = (
            select(person.key_column)
            .select_from(person.from_clause)
            .where(*person.row_conditions, source.compiled.victim_condition(person, hidden))
            .correlate(None)
        )
        conditions.append(or_(recipient.is_(None), recipient.not_in(hidden_persons)))
    return conditions


def _options(
    source: MappedSQLSource, grouping: _Grouping, row: Sequence[Any], dimension: Dimension
) -> tuple[str | None, ...]:
    """The national values a grouped row has in ``dimension`` (several for a multi-valued one)."""
    return _reader(source, grouping, dimension)(row)


def _reader(
    source: MappedSQLSource, grouping: _Grouping, dimension: Dimension
) -> Callable[[Sequence[Any]], tuple[str | None, ...]]:
    """:func:`_options` of one dimension as a function of a grouped row."""
    if dimension is Dimension.AGENCY:
        agency = (source.agency.code,)
        return lambda _row: agency
    if dimension not in grouping.slices:
        unmapped = (_NOT_MAPPED.get(dimension),)
        return lambda _row: unmapped
    return grouping.reader(dimension)


def _grouped(
    base: FromClause,
    grouping: _Grouping,
    conditions: list[ColumnElement[bool]],
    key_sum: ColumnElement[Any] | None = None,
    names_tables: sqlnames.NamesTables | None = None,
) -> Any:
    """``SELECT <groups>, COUNT(*) [, SUM(record key)] … GROUP BY <groups>``.

    Where a group column is a key computed from raw columns (:attr:`_Grouping.raw`), or a
    lookup key whose table the database applies (``names_tables``, :mod:`adapters.sqlnames`),
    in two steps: count per distinct raw values (and whatever else is grouped), then compute
    each key once per such group with the same expression, name it through the lookup's
    table, and add the counts up per key or name.
    """
    extra = [key_sum] if key_sum is not None else []
    names = grouping.names_in_sql(names_tables) if names_tables is not None else {}
    if grouping.raw or names:
        return _grouped_raw(base, grouping, conditions, extra, names)
    statement = select(*grouping.columns, func.count(), *extra).select_from(base)
    if conditions:
        statement = statement.where(and_(*conditions))
    if grouping.columns:
        statement = statement.group_by(*grouping.columns)
    return statement


def _grouped_raw(
    base: FromClause,
    grouping: _Grouping,
    conditions: list[ColumnElement[bool]],
    extra: list[ColumnElement[Any]],
    names: dict[int, FromClause],
) -> Any:
    inner: list[ColumnElement[Any]] = []
    #: Per group column: the inner columns' labels it is computed from, and the key function.
    outer: list[tuple[list[str], rawgroups.KeyOf | None]] = []
    for index, column in enumerate(grouping.columns):
        raw = grouping.raw.get(index)
        parts, key_of = raw if raw is not None else ([column], None)
        labels = [f"g{len(inner) + n}" for n in range(len(parts))]
        inner.extend(parts)
        outer.append((labels, key_of))
    labelled = [c.label(f"g{n}") for n, c in enumerate(inner)]
    sums = [e.label(f"s{n}") for n, e in enumerate(extra)]
    groups = select(*labelled, func.count().label("n"), *sums).select_from(base)
    if conditions:
        groups = groups.where(and_(*conditions))
    groups = groups.group_by(*inner).subquery("raw_groups")
    columns = [
        groups.c[labels[0]] if key_of is None else key_of([groups.c[n] for n in labels])
        for labels, key_of in outer
    ]
    joined: FromClause = groups
    for index, table in names.items():
        joined = joined.outerjoin(table, sqlnames.matches(table, columns[index]))
        columns[index] = table.c.v
    totals = [func.sum(groups.c[s.name]) for s in sums]
    return select(*columns, func.sum(groups.c.n), *totals).select_from(joined).group_by(*columns)
