"""The mapping compiler: a checked mapping plus reflected tables → one SQL value per field.

:func:`compile_source` turns each part of a mapping into a :class:`CompiledPart`: its FROM
clause (table and joins; a numbered copy of a table without a key; the rows of a cell holding
several services), the conditions every row meets (``require``, ``where``), and per national
field one :class:`~adapters.values.FieldValue` — the canonical SQL value every path reads
(:mod:`adapters.values`). Everything that queries a mapped source — pages, filters, relations,
statistics (:mod:`adapters.statistics`), data quality (:mod:`adapters.quality`) and the
conformance check (:mod:`adapters.check`) — builds on these, through :class:`CompiledSource`.

A column or table the database lacks is reported as a :class:`~adapters.mapping.Problem` at
the mapping line that names it; every problem of the file is reported at once.

**Tables without a key.** A ``[[person]]``, ``[[service]]`` or ``[[stage_event]]`` part may
leave out ``key``: each row is then numbered within its case, ordered by all its columns, and
its key is ``<case key>/<n>`` — stable while the case's rows stay as they are (identical rows
are interchangeable, so which of them gets which number does not matter).

**Several services in one cell.** A service part whose ``type`` has ``split`` gives one
service per code in the cell (and one for any unlisted codes): its rows are the cell's rows
joined to the code list, and a service's key is ``<row key>#<code>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Column as TableColumn
from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ColumnElement, FromClause, Join

from adapters import predicates, values
from adapters.base import SourceError
from adapters.mapping import (
    DEFAULT_CODE,
    ChildValues,
    Column,
    ColumnRef,
    Const,
    FieldKind,
    FieldSpec,
    LatestOf,
    LocatedMappingError,
    Part,
    Problem,
    RegionSpec,
    SourceMapping,
    field_kind,
)
from adapters.reflect import tables_of_part
from adapters.regions import resolve_region
from adapters.sqldates import parse_date
from adapters.sqlfuncs import VALUE_SEPARATOR, Position
from adapters.values import FieldValue, Lookup
from hub.vocabulary import countries as country_codes
from hub.vocabulary import reference
from hub.vocabulary.model import VICTIM_ROLES, AgeGroup, Entity, Labelled, PersonRole, ServiceType

#: Turns a key as it travels (text) into the value the key column holds.
KeyConverter = Callable[[str], Any]
#: Reads a field's national value from a row of the part's SELECT.
Reader = Callable[[Sequence[Any]], Any]

#: What the records show when the source has no value (so SQL says the same).
NULL_AS: dict[tuple[Entity, str], str] = {
    (Entity.CASE, "exploitation_types"): "UNKNOWN",
    (Entity.CASE, "means"): "UNKNOWN",
    (Entity.PERSON, "sex"): "UNKNOWN",
    (Entity.SERVICE, "status"): "UNKNOWN",
    (Entity.SERVICE, "type"): "OTHER",
}
#: Derived person values, computed in SQL from the mapped fields (see :func:`_derived`).
DERIVED_PERSON = ("age_years", "age_group", "is_child")
#: Name of the synthetic row number column of a table without a key.
ROW_NUMBER = "_tppo_row"


@dataclass(slots=True)
class CompiledPart:
    """A mapping part turned into SQL: FROM clause, row conditions, key and field values.

    Public contract (used by statistics, quality and check): ``part``, ``from_clause``,
    ``row_conditions``, ``key_column``, ``values`` (and the views ``field_exprs`` /
    ``field_readers``), ``relation_columns``, ``date_expr``, ``select``, ``layout`` and :meth:`record_key`.
    """

    part: Part
    #: Prefix of record keys (``korban/``) when the entity comes from several parts.
    prefix: str
    #: SELECT of the key (column 0) and every field's selected columns, over ``from_clause``
    #: and ``row_conditions``; :attr:`readers` index into its rows.
    select: Select[Any]
    key_column: ColumnElement[Any]
    key_to_db: KeyConverter
    #: Key fields (``case_key``, ``recipient_key``): their column and key converter.
    relation_columns: dict[str, tuple[ColumnElement[Any], KeyConverter]]
    #: Per field: its value and the row column it is read from (column 0 is the key; a field
    #: that selects nothing has the position it would have). Records are built from it
    #: (:func:`adapters.records.record_builder`).
    layout: list[tuple[str, FieldValue, int]]
    from_clause: FromClause
    #: Conditions every row of the part meets (``require``, ``where``): apply with ``from_clause``.
    row_conditions: list[ColumnElement[bool]]
    #: One definition per national field (and, for persons, the derived age values).
    values: dict[str, FieldValue]
    #: The case part's report date as canonical ISO text (the sort and cursor expression).
    date_expr: ColumnElement[str] | None = None
    #: The value layer cut to a few columns (the page's keys are picked from such a cut).
    narrow: NarrowLayers | None = None

    @property
    def entity(self) -> Entity:
        return self.part.entity

    @property
    def field_exprs(self) -> dict[str, list[ColumnElement[Any]]]:
        """Per field, the columns a SELECT reads for it (canonical value or lookup key)."""
        return {name: value.selected for name, value in self.values.items()}

    @property
    def field_readers(self) -> dict[str, Reader]:
        """Per field, selected columns → national value."""
        return {name: value.value_of for name, value in self.values.items()}

    def record_key(self, value: Any) -> str:
        """The record key of a row whose key column holds ``value``."""
        return f"{self.prefix}{value}"

    def own_keys(self, keys: Sequence[str]) -> list[str]:
        """Of record ``keys``, those of this part, without the part prefix."""
        if not self.prefix:
            return list(keys)
        return [k[len(self.prefix) :] for k in keys if k.startswith(self.prefix)]

    def lookups(self) -> Iterator[Lookup]:
        for value in self.values.values():
            if value.lookup is not None:
                yield value.lookup


@dataclass(slots=True)
class CompiledSource:
    """A whole mapping compiled against one database: the public API of a mapped source's SQL."""

    mapping: SourceMapping
    tables: Mapping[str, Table]
    parts: dict[Entity, list[CompiledPart]]

    def parts_of(self, entity: Entity) -> list[CompiledPart]:
        """The compiled parts of ``entity`` (empty when the mapping has none)."""
        return self.parts.get(entity, [])

    def case_part(self) -> CompiledPart:
        """The case part; a source without a dated case table cannot page or count cases."""
        parts = self.parts_of(Entity.CASE)
        if not parts or parts[0].date_expr is None:
            raise SourceError(f"source {self.mapping.name!r} has no case table with a report date")
        return parts[0]

    def age_years(self, person: CompiledPart) -> ColumnElement[Any] | None:
        """A person's age in whole years at the report, in SQL (None when nothing gives it)."""
        value = person.values.get("age_years")
        return value.sql if value is not None else None

    def victim_condition(
        self, person: CompiledPart, roles: frozenset[PersonRole] = VICTIM_ROLES
    ) -> ColumnElement[bool]:
        """The person record has one of ``roles`` (by default a victim role; the asker's
        victim roles when some are hidden from them)."""
        return predicates.enum_condition(person.values.get("roles"), {r.name for r in roles})

    def lookups(self) -> Iterator[tuple[CompiledPart, Lookup]]:
        """Every lookup (region, country) of every part, to learn from the database."""
        for parts in self.parts.values():
            for part in parts:
                for lookup in part.lookups():
                    yield part, lookup


def compile_source(
    mapping: SourceMapping,
    tables: Mapping[str, Table],
    complete: bool = True,
    dialect: Dialect | None = None,
) -> CompiledSource:
    """Compile every part; raises :class:`LocatedMappingError` listing every problem.

    ``complete=False`` compiles only the parts whose tables all exist (used to report every
    problem at once when some tables are missing). With the database's ``dialect`` each
    part's value layer is rendered to SQL once, here, instead of in every statement.
    """
    problems: list[Problem] = []
    compiled: dict[Entity, list[CompiledPart]] = {}
    # LatestOf on cases needs the parts of the entity it reads: compile cases last.
    order = sorted(mapping.parts, key=lambda e: e == Entity.CASE)
    compiler = _PartCompiler(mapping, tables, compiled, problems, dialect)
    for entity in order:
        parts = mapping.parts[entity]
        present = [p for p in parts if complete or tables_of_part(p) <= set(tables)]
        compiled[entity] = [compiler.compile(p, len(parts) > 1) for p in present]
    if problems:
        # Once each (a keyless part's missing case_key is met by its key and by its field).
        unique = sorted(dict.fromkeys(problems), key=lambda problem: problem.line or 0)
        raise LocatedMappingError(mapping.name, unique)
    return CompiledSource(mapping, tables, compiled)


def key_converter(column: ColumnElement[Any]) -> KeyConverter:
    """Keys travel as text; integer key columns need ints to use their index."""
    if isinstance(getattr(column, "type", None), Integer):
        return int
    return str


def convert_keys(keys: Sequence[str], convert: KeyConverter) -> list[Any]:
    """Keys as the column holds them; keys that cannot exist in the column are left out."""
    converted = []
    for key in dict.fromkeys(keys):
        try:
            converted.append(convert(key))
        except (TypeError, ValueError):
            continue
    return converted


def _prefixed_key_converter(column: ColumnElement[Any], prefix: str) -> KeyConverter:
    convert = key_converter(column)
    if not prefix:
        return convert

    def strip_and_convert(key: str) -> Any:
        if not key.startswith(prefix):
            raise ValueError("key of another table")
        return convert(key[len(prefix) :])

    return strip_and_convert


def _enum_of(kind: FieldKind) -> type[Labelled] | None:
    return kind.kind if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled) else None


def _text(value: Any) -> ColumnElement[str]:
    return cast(value, String)


def split_service_type(part: Part) -> Column | None:
    """The service type column whose cells hold several codes, if ``part`` has one.

    Such a part serves one row per code of the cell (keys ``<row>#<code>``; codes the list does
    not know become one row keyed ``#*``), so the data-quality report counts a cell once.
    """
    spec = part.fields.get("type")
    if part.entity is Entity.SERVICE and isinstance(spec, Column) and spec.split:
        return spec
    return None


class _PartCompiler:
    """Compiles parts of one mapping against its reflected tables, collecting problems."""

    def __init__(
        self,
        mapping: SourceMapping,
        tables: Mapping[str, Table],
        compiled: dict[Entity, list[CompiledPart]],
        problems: list[Problem],
        dialect: Dialect | None = None,
    ) -> None:
        self.mapping = mapping
        self.tables = tables
        self.compiled = compiled
        self.problems = problems
        self.dialect = dialect

    def compile(self, part: Part, prefixed: bool) -> CompiledPart:
        where = f"{part.entity.value} part {part.name!r}"
        # The key the column being compiled comes from, so a missing column is reported at
        # the line of the mapping that names it.
        at: list[tuple[str | int, ...]] = [part.path("key")]

        def problem(message: str) -> None:
            self.problems.append(self.mapping.problem(at[0], message))

        table = self.tables[part.table]
        base: FromClause = table
        if not part.key:
            at[0] = part.path("case_key")  # rows are numbered within their case
            base = self._numbered(part, table, problem)
        scope: dict[str, FromClause] = {part.table: base}
        from_clause: FromClause = base
        for join_index, join in enumerate(part.joins):
            at[0] = part.path("joins", join_index, "on")
            # Joined tables are aliased so that a part used inside a subquery (filters,
            # statistics) never correlates with the outer query's copy of the same table.
            other = self.tables[join.table].alias(f"j_{join.table}")
            scope[join.table] = other
            conditions = []
            for local, remote in join.on:
                lcol, rcol = base.c.get(local), other.c.get(remote)
                if lcol is None or rcol is None:
                    problem(f"{where}: join {part.table}.{local} = {join.table}.{remote}: no such column")
                    continue
                conditions.append(lcol == rcol)
            if conditions:
                from_clause = from_clause.outerjoin(other, and_(*conditions))

        def column(ref: ColumnRef) -> ColumnElement[Any]:
            source = scope.get(ref.table or part.table)
            if source is None:
                problem(f"{where}: {ref} names a table that is neither the part's nor joined")
                return literal(None)
            col = source.c.get(ref.column)
            if col is None:
                problem(f"{where}: column {ref} does not exist")
                return literal(None)
            return col

        at[0] = part.path("key")
        key_column: ColumnElement[Any]
        if part.key:
            key_column = column(ColumnRef(None, part.key))
        else:
            case_key = part.fields.get("case_key")
            key_column = (
                _text(column(case_key.ref)) + "/" + _text(base.c[ROW_NUMBER])
                if isinstance(case_key, Column) and ROW_NUMBER in base.c
                else literal(None)
            )
        split_service = split_service_type(part)
        exploded: FromClause | None = None
        if split_service is not None:
            at[0] = part.path("type")
            from_clause, key_column, exploded = self._explode(
                part, split_service, column, from_clause, key_column
            )
        field_values: dict[str, FieldValue] = {}
        relation_columns: dict[str, tuple[ColumnElement[Any], KeyConverter]] = {}
        for name, spec in part.fields.items():
            kind = field_kind(part.entity, name)
            at[0] = part.path(name)
            if name == "type" and exploded is not None:
                raw_cell = column(spec.ref) if isinstance(spec, Column) else None
                field_values[name] = FieldValue(
                    exploded.c.national,
                    values.read_member(ServiceType),
                    (raw_cell,) if raw_cell is not None else (),
                )
            else:
                field_values[name] = self._field(part, name, spec, kind, column, key_column)
            if kind.kind == "key" and isinstance(spec, Column):
                col = column(spec.ref)
                relation_columns[name] = (col, _prefixed_key_converter(col, self._key_prefix(spec)))
        at[0] = part.path("require")
        row_conditions = [column(ColumnRef.parse(r)).is_not(None) for r in part.require]
        for ref, accepted in part.where:
            at[0] = part.path("where", str(ref))
            target = column(ref)
            row_conditions.append(target.in_(predicates.coerce(target, accepted)))
        convert = key_converter(key_column) if part.key and exploded is None else str
        layer, key_column, relation_columns, field_values, narrow = _layer(
            part, from_clause, row_conditions, key_column, relation_columns, field_values, self.dialect
        )
        if part.entity is Entity.PERSON:
            field_values.update(_derived(field_values))
        selected: list[ColumnElement[Any]] = [key_column]
        layout: list[tuple[str, FieldValue, int]] = []
        for name, value in field_values.items():
            layout.append((name, value, len(selected)))
            selected.extend(value.selected)
        stmt = select(*(e.label(f"c{i}") for i, e in enumerate(selected))).select_from(layer)
        date_value = field_values.get("reported_at") if part.entity is Entity.CASE else None
        return CompiledPart(
            part=part,
            prefix=f"{part.name}/" if prefixed else "",
            select=stmt,
            key_column=key_column,
            key_to_db=convert,
            relation_columns=relation_columns,
            layout=layout,
            from_clause=layer,
            row_conditions=[],
            values=field_values,
            date_expr=date_value.sql if date_value is not None and not date_value.is_constant else None,
            narrow=narrow,
        )

    # --- tables without a key, cells with several services ------------------------------

    def _numbered(self, part: Part, table: Table, problem: Callable[[str], None]) -> FromClause:
        """The part's table with each row numbered within its case (see the module doc)."""
        case_key = part.fields.get("case_key")
        if not isinstance(case_key, Column) or case_key.ref.table not in (None, part.table):
            problem(
                f"{part.entity.value} part {part.name!r}: "
                "without a key, case_key must be a column of its table"
            )
            return table
        if case_key.ref.column not in table.c:
            return table  # reported when case_key is compiled
        ordering = [c for c in table.c if c.name != case_key.ref.column]
        number = func.row_number().over(partition_by=table.c[case_key.ref.column], order_by=ordering)
        return select(table, number.label(ROW_NUMBER)).subquery(part.table)

    def _explode(
        self,
        part: Part,
        spec: Column,
        column: Callable[[ColumnRef], ColumnElement[Any]],
        from_clause: FromClause,
        key_column: ColumnElement[Any],
    ) -> tuple[FromClause, ColumnElement[Any], FromClause]:
        """One row per code of the cell: the part's rows joined to its code list."""
        assert spec.split is not None
        table = dict(self.mapping.codes.get(spec.codes, {})) if spec.codes else None
        lookup = table if table is not None else {m: (m,) for m in ServiceType.__members__}
        default = lookup.pop(DEFAULT_CODE, None)
        rows = [(code, national[0]) for code, national in lookup.items()]
        rows.append((DEFAULT_CODE, default[0] if default else "OTHER"))
        entries = union_all(
            *(
                select(literal(code, String).label("code"), literal(name, String).label("national"))
                for code, name in rows
            )
        ).subquery("service_codes")
        wrapped = values.wrapped_tokens(column(spec.ref), spec.split)
        sep = literal(spec.split, String)
        leftover = values.leftover_tokens(wrapped, spec.split, [code for code, _ in rows[:-1]])
        matches = or_(
            and_(entries.c.code != DEFAULT_CODE, Position(wrapped, sep + entries.c.code + sep) > 0),
            and_(entries.c.code == DEFAULT_CODE, leftover != ""),
        )
        joined = from_clause.join(entries, matches)
        return joined, _text(key_column) + "#" + entries.c.code, entries

    # --- one field --------------------------------------------------------------------------

    def _field(
        self,
        part: Part,
        name: str,
        spec: FieldSpec,
        kind: FieldKind,
        column: Callable[[ColumnRef], ColumnElement[Any]],
        key_column: ColumnElement[Any],
    ) -> FieldValue:
        enum_cls = _enum_of(kind)
        null_as = NULL_AS.get((part.entity, name))
        if isinstance(spec, Const):
            constant: Any = spec.value
            if enum_cls is not None:
                member = enum_cls.parse(spec.value)
                constant = (member,) if kind.many else member
                sql = literal(member.name, String)
            else:
                sql = literal(spec.value, String)
            return FieldValue(sql, lambda _v: constant, constant=constant, is_constant=True, many=kind.many)
        if isinstance(spec, RegionSpec):
            return self._region(spec, column)
        if isinstance(spec, ChildValues):
            return self._child(part, name, spec, kind, enum_cls, key_column, null_as)
        if isinstance(spec, LatestOf):
            return self._latest(part, name, spec, kind, enum_cls, column)
        assert isinstance(spec, Column)
        col = column(spec.ref)
        raw = (col,)
        if kind.kind == "date":
            formats = spec.formats or ("YYYY-MM-DD",)
            return FieldValue(parse_date(col, formats), values.date_reader, raw, date_formats=formats)
        if kind.kind == "country":
            return FieldValue(None, values.as_is, raw, lookup=_country_lookup(col, spec.format or "alpha2"))
        if kind.kind == "int":
            parsed = values.age_value(col) if name == "age" else values.integer_value(col)
            return FieldValue(parsed, values.read_int, raw)
        if kind.kind == "bool":
            return FieldValue(values.boolean_value(col), values.read_bool, raw)
        if kind.kind == "key":
            prefix = self._key_prefix(spec)
            return FieldValue(col, values.KeyReader(prefix), raw)
        table = self.mapping.codes.get(spec.codes) if spec.codes else None
        if enum_cls is None:
            if table is None:
                return FieldValue(values.clean_text(col, spec.clean), values.as_is, raw)
            return FieldValue(values.code_value(col, table, None), values.as_is, raw)
        if kind.many:
            sql = (
                values.split_code_value(col, spec.split, table, enum_cls, null_as)
                if spec.split
                else values.code_value(col, table, enum_cls, null_as)
            )
            return FieldValue(sql, values.read_many(enum_cls), raw, many=True, empty_reads_as=null_as)
        return FieldValue(
            values.code_value(col, table, enum_cls, null_as),
            values.read_member(enum_cls),
            raw,
            empty_reads_as=null_as,
        )

    def _region(self, spec: RegionSpec, column: Callable[[ColumnRef], ColumnElement[Any]]) -> FieldValue:
        index = reference.regions()
        if spec.code is not None:
            col = column(spec.code)

            def from_code(value: Any) -> str | None:
                region = index.by_code(str(value).strip())
                return region.code if region is not None else None

            return FieldValue(None, values.as_is, (col,), lookup=Lookup(col, from_code))
        assert spec.regency_name is not None
        regency = column(spec.regency_name)
        raw: tuple[ColumnElement[Any], ...] = (regency,)
        key: ColumnElement[Any] = func.coalesce(values.text_of(regency), "")
        if spec.province_name is not None:
            province = column(spec.province_name)
            raw = (regency, province)
            key = key + VALUE_SEPARATOR + func.coalesce(values.text_of(province), "")

        def from_names(value: Any) -> str | None:
            name, _, province_name = str(value).partition(VALUE_SEPARATOR)
            return resolve_region(name, province_name or None, spec.province, spec.aliases, spec.fuzzy)

        return FieldValue(None, values.as_is, raw, lookup=Lookup(key, from_names))

    def _child(
        self,
        part: Part,
        name: str,
        spec: ChildValues,
        kind: FieldKind,
        enum_cls: type[Labelled] | None,
        key_column: ColumnElement[Any],
        null_as: str | None,
    ) -> FieldValue:
        child = self.tables.get(spec.table)
        if child is None or spec.key not in child.c or spec.column not in child.c:
            self.problems.append(
                self.mapping.problem(
                    part.path(name),
                    f"{part.entity.value} part {part.name!r}.{name}: child table columns not found",
                )
            )
            return FieldValue(None, lambda _v: (), is_constant=True, constant=())
        child = child.alias(f"c_{spec.table}")
        table = self.mapping.codes.get(spec.codes) if spec.codes else None
        names = values.code_value(child.c[spec.column], table, enum_cls)
        # SQLAlchemy's portable string aggregation (group_concat / string_agg).
        aggregated = (
            select(func.aggregate_strings(cast(names, Text), VALUE_SEPARATOR))
            .where(child.c[spec.key] == key_column)
            .scalar_subquery()
        )
        sql = func.coalesce(aggregated, null_as) if null_as is not None else aggregated
        assert enum_cls is not None
        return FieldValue(
            sql,
            values.read_many(enum_cls),
            (child.c[spec.column],),
            many=True,
            from_child=True,
            empty_reads_as=null_as,
        )

    def _latest(
        self,
        part: Part,
        name: str,
        spec: LatestOf,
        kind: FieldKind,
        enum_cls: type[Labelled] | None,
        column: Callable[[ColumnRef], ColumnElement[Any]],
    ) -> FieldValue:
        def problem(message: str) -> FieldValue:
            self.problems.append(self.mapping.problem(part.path(name), message))
            return FieldValue(None, lambda _v: None, is_constant=True)

        entity = {
            "stage_event": Entity.STAGE_EVENT,
            "service": Entity.SERVICE,
            "person": Entity.PERSON,
        }.get(spec.entity)
        others = self.compiled.get(entity) if entity else None
        where = f"{part.entity.value} part {part.name!r}.{name}"
        if not others or len(others) != 1:
            return problem(f"{where}: latest_of needs a single-table [{spec.entity}] section")
        other = others[0]
        other_spec = other.part.fields.get(spec.field)
        other_key = other.part.fields.get("case_key")
        table = self.tables[other.part.table]
        relation_column = (
            table.c.get(other_key.ref.column)
            if isinstance(other_key, Column) and other_key.ref.table in (None, other.part.table)
            else None
        )
        if not isinstance(other_spec, Column) or relation_column is None or not other.part.key:
            return problem(
                f"{where}: [{spec.entity}].{spec.field} must be a plain column, with key and case_key"
            )
        order_col = table.c.get(other.part.order_by or other.part.key)
        if order_col is None:
            return problem(f"{where}: order_by column of [{spec.entity}] not found")
        value_col = table.c.get(other_spec.ref.column)
        if value_col is None:
            return problem(f"{where}: column {other_spec.ref} not found")
        codes = self.mapping.codes.get(other_spec.codes) if other_spec.codes else None
        latest = (
            select(values.code_value(value_col, codes, enum_cls))
            .where(relation_column == column(ColumnRef(None, part.key)))
            .order_by(order_col.desc())
            .limit(1)
            .scalar_subquery()
        )
        sql = latest
        if spec.default:
            # The default stands for "no row at all"; a latest row with an unknown code stays null.
            exists = (
                select(order_col)
                .where(relation_column == column(ColumnRef(None, part.key)))
                .limit(1)
                .scalar_subquery()
            )
            sql = case((exists.is_(None), literal(spec.default, String)), else_=latest)
        reader = values.read_member(enum_cls) if enum_cls is not None else values.as_is
        return FieldValue(sql, reader, (value_col,), from_child=True)

    def _key_prefix(self, spec: Column) -> str:
        """Keys of a person part are prefixed when persons come from several tables."""
        if spec.part and len(self.mapping.parts_of(Entity.PERSON)) > 1:
            return f"{spec.part}/"
        return ""


def _layer(
    part: Part,
    from_clause: FromClause,
    row_conditions: list[ColumnElement[bool]],
    key_column: ColumnElement[Any],
    relations: dict[str, tuple[ColumnElement[Any], KeyConverter]],
    field_values: dict[str, FieldValue],
    dialect: Dialect | None = None,
) -> tuple[
    FromClause,
    ColumnElement[Any],
    dict[str, tuple[ColumnElement[Any], KeyConverter]],
    dict[str, FieldValue],
    NarrowLayers,
]:
    """The part's rows as one subquery with every canonical value computed once, by name.

    Everything else — records, filters, ORDER BY, statistics, quality, the derived person
    values — then refers to a value by its column (``v.f3``) instead of repeating its SQL,
    which keeps statements small. The row conditions (``require``, ``where``) apply inside.
    """
    columns: list[ColumnElement[Any]] = [key_column.label("k")]
    for index, (column, _convert) in enumerate(relations.values()):
        columns.append(column.label(f"rel{index}"))
    for index, value in enumerate(field_values.values()):
        if value.is_constant:
            continue
        if value.lookup is not None:
            columns.append(value.lookup.key.label(f"f{index}"))
        elif value.sql is not None:
            columns.append(value.sql.label(f"f{index}"))
        for raw_index, raw in enumerate(value.raw):
            if not value.from_child:
                columns.append(raw.label(f"r{index}_{raw_index}"))
    named = {c.name: c for c in columns}
    narrow = NarrowLayers(f"v_{part.name}", named, from_clause, row_conditions, dialect)
    layer = narrow.render(columns)
    new_relations = {
        name: (layer.c[f"rel{index}"], convert)
        for index, (name, (_c, convert)) in enumerate(relations.items())
    }
    new_values: dict[str, FieldValue] = {}
    for index, (name, value) in enumerate(field_values.items()):
        if value.is_constant:
            new_values[name] = value
            continue
        raw = (
            value.raw if value.from_child else tuple(layer.c[f"r{index}_{j}"] for j in range(len(value.raw)))
        )
        never_null = (
            len(value.raw) == 1
            and isinstance(value.raw[0], TableColumn)
            and value.raw[0].nullable is False
            and value.raw[0].table is _base_table(from_clause)
        )
        if value.lookup is not None:
            lookup = Lookup(layer.c[f"f{index}"], value.lookup.resolve)
            new_values[name] = replace(value, raw=raw, lookup=lookup, raw_never_null=never_null)
        else:
            new_values[name] = replace(value, sql=layer.c[f"f{index}"], raw=raw, raw_never_null=never_null)
    return layer, layer.c.k, new_relations, new_values, narrow


class NarrowLayers:
    """The part's value layer cut down to a few of its columns, each cut built once.

    A page picks its keys by the key and the report date (and the filter's columns) alone; the
    whole layer in those inner statements made PostgreSQL plan every mapped value two or three
    times per page (7.8 ms of planning for 0.9 ms of execution; issue 13). A narrow layer has
    the same rows (same FROM and row conditions) and the same column names, so a condition on
    the full layer moves onto it by name (:func:`adapters.narrow.narrowed`).
    """

    def __init__(
        self,
        name: str,
        columns: dict[str, ColumnElement[Any]],
        from_clause: FromClause,
        row_conditions: list[ColumnElement[bool]],
        dialect: Dialect | None,
    ) -> None:
        self.name = name
        self.columns = columns
        self.from_clause = from_clause
        self.row_conditions = row_conditions
        self.dialect = dialect
        self._cuts: dict[frozenset[str], FromClause] = {}
        self._fenced: dict[tuple[str, str | None], FromClause] = {}

    def render(self, columns: Sequence[ColumnElement[Any]], alias: str | None = None) -> FromClause:
        """``columns`` (labelled) over the part's rows, as one subquery."""
        inner = select(*columns).select_from(self.from_clause).where(*self.row_conditions)
        if self.dialect is None:
            return inner.subquery(alias or self.name)
        # Rendered once: statements then embed this text instead of compiling the value
        # SQL again for every new statement shape (a fraction of a millisecond, not ~50 ms).
        rendered = str(inner.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))
        typed = [sql_column(c.name, c.type) for c in inner.selected_columns]
        return text(rendered.replace(":", "\\:")).columns(*typed).subquery(alias or self.name)

    def of_parents(self, relation: str, within: str | None = None) -> FromClause | None:
        """The whole layer, only the rows whose relation column ``relation`` (``rel0``…) is one
        of the expanding parameter ``keys``, each value computed once per row.

        On the plain layer the database moves the relation's condition inside and flattens the
        subquery, and then computes a value once for every place the outer SELECT names it:
        a person's birth and report dates were parsed three times a row, for the dates
        themselves, the age band and the child flag (issue 13: 0.49 → 0.32 ms of PostgreSQL
        for a page's victims). Here the condition is inside and ``OFFSET 0`` keeps the
        subquery whole (PostgreSQL flattens no subquery with an OFFSET). None on other
        databases (SQLite was not measured) and where the layer was built without a dialect
        (a hand-made part): use the plain layer.

        ``within``: the keys are the values of this one-column SELECT of the same statement
        (a page's keys, :mod:`adapters.pagewith`) instead of a parameter. It is read as
        ``= ANY(ARRAY(...))``: computed once, then the relation column's index looks up each
        key, as for a list of values (``IN (SELECT ...)`` is planned as a semi join, and
        PostgreSQL chose a scan of the whole table for it).
        """
        if self.dialect is None or self.dialect.name != "postgresql" or relation not in self.columns:
            return None
        found = self._fenced.get((relation, within))
        if found is None:
            raw = self.columns[relation].element  # the label's column on the part's tables
            inner = (
                select(*self.columns.values())
                .select_from(self.from_clause)
                .where(*self.row_conditions, raw.op("IN")(literal_column(_KEYS_MARK)))
                .offset(literal_column("0"))
            )
            rendered = str(inner.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))
            if rendered.count(f"IN {_KEYS_MARK}") != 1:  # never expected: fall back to the plain layer
                return None
            typed = [sql_column(c.name, c.type) for c in inner.selected_columns]
            escaped = rendered.replace(":", "\\:")
            if within is None:
                fenced = text(escaped.replace(_KEYS_MARK, ":keys")).bindparams(
                    bindparam("keys", expanding=True, type_=raw.type)
                )
            else:
                fenced = text(escaped.replace(f"IN {_KEYS_MARK}", f"= ANY(ARRAY({within}))"))
            found = self._fenced[(relation, within)] = fenced.columns(*typed).subquery(self.name)
        return found

    def cut(self, names: frozenset[str]) -> FromClause:
        """The layer's rows with only the columns ``names`` (always with the key ``k``)."""
        cut = self._cuts.get(names)
        if cut is None:
            wanted = [self.columns[n] for n in self.columns if n == "k" or n in names]
            cut = self._cuts[names] = self.render(wanted, f"n_{self.name}")
        return cut


#: Where the expanding ``keys`` parameter goes in a rendered layer (:meth:`NarrowLayers.of_parents`).
_KEYS_MARK = "__tppo_parent_keys__"


def _base_table(from_clause: FromClause) -> FromClause:
    """The leftmost table of a FROM clause (the part's own table; joins hang off it)."""
    while isinstance(from_clause, Join):
        from_clause = from_clause.left
    return from_clause


def _country_lookup(column: ColumnElement[Any], fmt: str) -> Lookup:
    def resolve(value: Any) -> str | None:
        text = str(value).strip()
        if not text:
            return None
        if fmt == "alpha3":
            return country_codes.country_from_alpha3(text)
        if fmt == "name":
            return country_codes.country_from_name(text)
        return text.upper() if country_codes.country_from_alpha2(text) else None

    return Lookup(column, resolve)


def _derived(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """A person's age in years, age band and child flag, computed in SQL from its fields."""

    def sql_of(name: str) -> ColumnElement[Any] | None:
        value = fields.get(name)
        if value is None or value.is_constant:
            return None
        return value.sql

    years = values.years_value(sql_of("birth_date"), sql_of("age_at"), sql_of("age"))
    flag = sql_of("child")
    if years is None:
        # Nothing gives an age: the band is UNKNOWN for every record (a constant, so that
        # no statement ever groups by a literal).
        derived = {
            "age_group": FieldValue(
                None, lambda _v: AgeGroup.UNKNOWN, constant=AgeGroup.UNKNOWN, is_constant=True
            )
        }
    else:
        derived = {
            # Not read by records (only by filters and statistics through the band and flag).
            "age_years": FieldValue(years, values.read_int, selectable=False),
            "age_group": FieldValue(values.age_group_value(years), values.read_member(AgeGroup)),
        }
    if years is None and flag is None:
        derived["is_child"] = FieldValue(None, lambda _v: None, constant=None, is_constant=True)
    else:
        derived["is_child"] = FieldValue(values.child_value(years, flag), values.read_bool)
    return derived
