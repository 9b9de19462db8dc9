"""Statistics inside the agency database: GROUP BY on the source's own values, then translate.

The source groups by its *raw* values (its own codes, region names, ISO date prefixes, ages
in years computed from its own columns), so the database returns one row per distinct raw
combination — a few hundred rows at most, whatever the table size. Each group's raw values
are then translated with the same readers that translate records, and counts of groups that
translate to the same national values are summed.

Shape of the SQL: a *frame* subquery of the cases matching the filter (with the columns of
every case dimension asked for) is grouped directly for CASES, or joined to the person or
service tables for VICTIM_RECORDS and SERVICES. A multi-valued field stored in a child table
is joined in, so a case with two exploitation types is counted once under each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import product
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.sql.expression import ColumnElement, FromClause

from adapters import cellkeys, filters
from adapters.compiler import CompiledPart
from adapters.mapping import ChildValues, Const, FieldKind, RegionSpec
from hub.vocabulary import reference
from hub.vocabulary.model import (
    CHILD_AGE_LIMIT,
    AgeGroup,
    Dimension,
    Entity,
    ExploitationType,
    Measure,
    StatisticsRequest,
)

if TYPE_CHECKING:
    from adapters.sql import MappedSQLSource

Cell = tuple[str | None, ...]
#: Turns the raw values of one dimension (a slice of a result row) into national values.
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


class _Grouping:
    """The grouped columns of one query and how to translate each dimension's slice."""

    def __init__(self) -> None:
        self.columns: list[ColumnElement[Any]] = []
        self.slices: dict[Dimension, tuple[int, int, Translate]] = {}

    def add(self, dimension: Dimension, exprs: Sequence[ColumnElement[Any]], translate: Translate) -> None:
        start = len(self.columns)
        self.columns.extend(exprs)
        self.slices[dimension] = (start, len(exprs), translate)

    def translate(self, row: Sequence[Any], dimension: Dimension) -> tuple[str | None, ...]:
        start, length, translate = self.slices[dimension]
        return translate(row[start : start + length])


class _Frame:
    """The cases matching the filter, as a subquery with each case dimension's raw columns.

    Measures join their tables to it; :meth:`attach` adds the frame's dimensions to a
    grouping (and joins a child table for a multi-valued dimension stored there). With
    ``with_reported`` the frame also carries each case's report date as ISO text (column
    ``rep``), for the indicator facts of :mod:`adapters.sql_facts`.
    """

    def __init__(
        self, source: MappedSQLSource, request: StatisticsRequest, with_reported: bool = False
    ) -> None:
        self.source = source
        case_part = source.compiled.case_part()
        columns: list[ColumnElement[Any]] = [case_part.key_column.label("k")]
        self.dimensions: list[tuple[Dimension, list[str], Translate]] = []
        self.child: tuple[Dimension, ChildValues] | None = None
        for dimension in request.dimensions:
            if dimension not in CASE_DIMENSIONS:
                continue
            exprs, translate, child = _case_dimension(source, case_part, dimension)
            if child is not None:
                self.child = (dimension, child)
                continue
            names = []
            for expr in exprs:
                names.append(f"d{len(columns)}")
                columns.append(expr.label(names[-1]))
            self.dimensions.append((dimension, names, translate))
        if with_reported and case_part.date_expr is not None:
            columns.append(case_part.date_expr.label("rep"))
        conditions = filters.case_conditions(source.compiled, case_part, request.filter)
        self.subquery = (
            select(*columns)
            .select_from(case_part.from_clause)
            .where(*case_part.row_conditions, *conditions)
            .subquery("frame")
        )

    def joined(self, part: CompiledPart) -> FromClause | None:
        """``part``'s tables joined to the frame by its case key (None if it has none)."""
        relation = part.relation_columns.get("case_key")
        if relation is None:
            return None
        return part.from_clause.join(self.subquery, relation[0] == self.subquery.c.k)

    def attach(self, grouping: _Grouping, base: FromClause) -> FromClause:
        frame = self.subquery
        for dimension, names, translate in self.dimensions:
            grouping.add(dimension, [frame.c[n] for n in names], translate)
        if self.child is not None:
            dimension, spec = self.child
            child = self.source.compiled.tables[spec.table]
            base = base.outerjoin(child, child.c[spec.key] == frame.c.k)
            grouping.add(dimension, [child.c[spec.column]], _child_translator(self.source, spec))
        return base


def _victim_queries(
    source: MappedSQLSource, frame: _Frame, request: StatisticsRequest
) -> list[tuple[CompiledPart, FromClause, _Grouping, list[ColumnElement[bool]]]]:
    """Per person table: its join to the frame, its grouping and its victim conditions."""
    queries = []
    for person in source.compiled.parts_of(Entity.PERSON):
        base = frame.joined(person)
        if base is None:
            continue
        grouping = _Grouping()
        base = frame.attach(grouping, base)
        _add_person_dimensions(source, person, request.dimensions, grouping)
        conditions = [
            *person.row_conditions,
            source.compiled.victim_condition(person, request.filter.victim_roles()),
        ]
        queries.append((person, base, grouping, conditions))
    return queries


async def aggregate(source: MappedSQLSource, request: StatisticsRequest) -> dict[Cell, int]:
    """Counts per combination of national dimension values, for one source."""
    return {cell: count for cell, (count, _) in (await _aggregate(source, request, None)).items()}


async def aggregate_keyed(
    source: MappedSQLSource, request: StatisticsRequest, salt: str
) -> dict[Cell, tuple[int, int]]:
    """Counts and sums of record keys (:mod:`adapters.cellkeys`) per cell, both in the source's SQL."""
    return await _aggregate(source, request, salt)


async def _aggregate(
    source: MappedSQLSource, request: StatisticsRequest, salt: str | None
) -> dict[Cell, tuple[int, int]]:
    frame = _Frame(source, request)
    queries: list[tuple[Any, _Grouping]] = []

    def keyed(part: str, key: ColumnElement[Any]) -> ColumnElement[Any] | None:
        # One salt per part, so two tables' records with the same key get different keys.
        return None if salt is None else func.sum(cellkeys.cell_key(f"{salt}/{part}/", key))

    if request.measure is Measure.CASES:
        grouping = _Grouping()
        base = frame.attach(grouping, frame.subquery)
        case_key = keyed(source.compiled.case_part().part.name, frame.subquery.c.k)
        queries.append((_grouped(base, grouping, [], case_key), grouping))
    elif request.measure in (Measure.VICTIM_RECORDS, Measure.VICTIMS):
        for person, base, grouping, conditions in _victim_queries(source, frame, request):
            person_key = keyed(person.part.name, person.key_column)
            queries.append((_grouped(base, grouping, conditions, person_key), grouping))
    elif request.measure is Measure.SERVICES:
        for service in source.compiled.parts_of(Entity.SERVICE):
            joined = frame.joined(service)
            if joined is None:
                continue
            grouping = _Grouping()
            base = frame.attach(grouping, joined)
            if Dimension.SERVICE_TYPE in request.dimensions:
                reader = service.field_readers["type"]
                grouping.add(
                    Dimension.SERVICE_TYPE, service.field_exprs["type"], lambda v, r=reader: (_name(r(v)),)
                )
            service_key = keyed(service.part.name, service.key_column)
            conditions = [*service.row_conditions, *_visible_recipient(source, service, request)]
            queries.append((_grouped(base, grouping, conditions, service_key), grouping))

    cells: dict[Cell, tuple[int, int]] = {}
    width = 0 if salt is None else 1
    for statement, grouping in queries:
        for row in await source.fetch(statement):
            count = int(row[len(grouping.columns)])
            if count == 0:
                continue  # an ungrouped COUNT over no rows: no cell
            key = int(row[-1] or 0) if width else 0
            options = [_options(source, grouping, row, d) for d in request.dimensions]
            for cell in product(*options):
                before = cells.get(cell, (0, 0))
                cells[cell] = (before[0] + count, before[1] + key)
    return cells


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
    if dimension is Dimension.AGENCY:
        return (source.agency.code,)
    if dimension not in grouping.slices:
        return (_NOT_MAPPED.get(dimension),)
    values = grouping.translate(row, dimension)
    return values or (None,)


#: The national value of a dimension a source does not map at all.
_NOT_MAPPED = {
    Dimension.EXPLOITATION_TYPE: "UNKNOWN",
    Dimension.SEX: "UNKNOWN",
    Dimension.AGE_GROUP: "UNKNOWN",
    Dimension.SERVICE_TYPE: "OTHER",
}


def _grouped(
    base: FromClause,
    grouping: _Grouping,
    conditions: list[ColumnElement[bool]],
    key_sum: ColumnElement[Any] | None = None,
) -> Any:
    """``SELECT <groups>, COUNT(*) [, SUM(record key)] … GROUP BY <groups>``."""
    extra = [key_sum] if key_sum is not None else []
    statement = select(*grouping.columns, func.count(), *extra).select_from(base)
    if conditions:
        statement = statement.where(and_(*conditions))
    if grouping.columns:
        statement = statement.group_by(*grouping.columns)
    return statement


def _case_dimension(
    source: MappedSQLSource, part: CompiledPart, dimension: Dimension
) -> tuple[list[ColumnElement[Any]], Translate, ChildValues | None]:
    spec, exprs, readers = part.part.fields, part.field_exprs, part.field_readers
    if dimension in (Dimension.YEAR, Dimension.MONTH):
        assert part.date_expr is not None
        length = 4 if dimension is Dimension.YEAR else 7
        prefix = func.substr(part.date_expr, 1, length, type_=String)
        return (
            [prefix],
            lambda v: (v[0] if v[0] and v[0][:4].isdigit() and v[0][:4] != "0000" else None,),
            None,
        )
    if dimension in (Dimension.PROVINCE, Dimension.REGENCY):
        if "region" not in spec:
            return [], lambda _v: (None,), None
        reader = readers["region"]
        if dimension is Dimension.PROVINCE:
            return _province_grouping(spec["region"], exprs["region"], reader)
        return exprs["region"], lambda v: (_regency(reader(v)),), None
    if dimension is Dimension.EXPLOITATION_TYPE:
        field = spec.get("exploitation_types")
        if field is None:
            return [], lambda _v: ("UNKNOWN",), None
        if isinstance(field, ChildValues):
            return [], lambda _v: ("UNKNOWN",), field
        if isinstance(field, Const):
            return [], lambda _v, value=field.value: (value,), None
        reader = readers["exploitation_types"]
        return exprs["exploitation_types"], lambda v: tuple(m.name for m in reader(v)) or ("UNKNOWN",), None
    if dimension is Dimension.STAGE:
        if "stage" not in spec:
            return [], lambda _v: (None,), None
        reader = readers["stage"]
        return exprs["stage"], lambda v: (_name(reader(v)),), None
    if dimension is Dimension.COUNTRY_OF_EXPLOITATION:
        if "country" not in spec:
            return [], lambda _v: (None,), None
        reader = readers["country"]
        return exprs["country"], lambda v: (reader(v),), None
    raise ValueError(f"not a case dimension: {dimension.name}")


def _province_grouping(
    spec: Any, exprs: list[ColumnElement[Any]], reader: Callable[[Sequence[Any]], Any]
) -> tuple[list[ColumnElement[Any]], Translate, None]:
    """Group by province in the source where its columns allow, so few rows come back.

    A code column groups by its first two digits (the province, dotted or not); a province
    name column groups by that name. Only regency names alone need grouping by regency.
    """
    index = reference.regions()
    if isinstance(spec, RegionSpec) and spec.code is not None:
        head = func.substr(cast(exprs[0], String), 1, 2, type_=String)

        def from_code(values: Sequence[Any]) -> tuple[str | None, ...]:
            region = index.by_code(values[0]) if values[0] else None
            return (region.code if region is not None and region.level == "PROVINCE" else None,)

        return [head], from_code, None
    if isinstance(spec, RegionSpec) and spec.province_name is not None and len(exprs) > 1:

        def from_name(values: Sequence[Any]) -> tuple[str | None, ...]:
            region = index.find_province(values[0]) if values[0] else None
            return (region.code if region is not None else None,)

        return [exprs[1]], from_name, None
    return exprs, lambda v: (_province(reader(v)),), None


def _child_translator(source: MappedSQLSource, spec: ChildValues) -> Translate:
    translate = source.compiled.translations.translator(
        FieldKind(ExploitationType, many=True), spec.codes, "child"
    )
    return lambda v: tuple(m.name for m in translate(v[0])) or ("UNKNOWN",)


def _add_person_dimensions(
    source: MappedSQLSource, person: CompiledPart, dimensions: Sequence[Dimension], grouping: _Grouping
) -> None:
    if Dimension.SEX in dimensions and "sex" in person.field_readers:
        reader = person.field_readers["sex"]
        grouping.add(Dimension.SEX, person.field_exprs["sex"], lambda v: (_name(reader(v)) or "UNKNOWN",))
    years = source.compiled.age_years(person)
    if Dimension.AGE_GROUP in dimensions and years is not None:
        grouping.add(Dimension.AGE_GROUP, [years], lambda v: (AgeGroup.for_age(_int(v[0])).name,))
    if Dimension.CHILD in dimensions:
        flag_reader = person.field_readers.get("child")
        exprs = ([years] if years is not None else []) + (person.field_exprs["child"] if flag_reader else [])

        def child(values: Sequence[Any]) -> tuple[str | None, ...]:
            by_age = _child(_int(values[0])) if years is not None else None
            if by_age is None and flag_reader is not None:
                flag = flag_reader(values[-1:])
                return (None if flag is None else ("true" if flag else "false"),)
            return (by_age,)

        if exprs:
            grouping.add(Dimension.CHILD, exprs, child)


def _name(member: Any) -> str | None:
    return member.name if member is not None else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _child(years: int | None) -> str | None:
    if years is None or years < 0:
        return None
    return "true" if years < CHILD_AGE_LIMIT else "false"


def _province(code: str | None) -> str | None:
    return code[:2] if code else None


def _regency(code: str | None) -> str | None:
    return code if code and "." in code else None
