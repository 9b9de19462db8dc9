"""The mapping compiler: a checked mapping plus reflected tables → SQL for every field, once.

:func:`compile_source` turns each part of a mapping into a :class:`CompiledPart`: its FROM
clause (table and joins), the conditions every row meets (``require``, ``where``), and per
national field the SQL expressions selected for it and the reader that turns their values
into the national value. Everything that queries a mapped source — pages, filters, relations,
statistics (:mod:`adapters.statistics`), data quality (:mod:`adapters.quality`) and the
conformance check (:mod:`adapters.check`) — builds on these, through :class:`CompiledSource`,
so a field is read the same way wherever it is used.

A column or table the database lacks is reported as a :class:`~adapters.mapping.Problem` at
the mapping line that names it; every problem of the file is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, Table, Text, and_, cast, func, literal, select
from sqlalchemy.sql.expression import ColumnElement, FromClause

from adapters import predicates
from adapters.base import SourceError
from adapters.mapping import (
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
from adapters.sqlfuncs import VALUE_SEPARATOR, iso_date
from adapters.translate import Reader, Translations, split_many, to_int
from hub.vocabulary import reference
from hub.vocabulary.model import VICTIM_ROLES, Entity, PersonRole

#: Turns a key as it travels (text) into the value the key column holds.
KeyConverter = Callable[[str], Any]


@dataclass(slots=True)
class CompiledPart:
    """A mapping part turned into SQL: base SELECT, key handling and row readers.

    Public contract (used by statistics, quality and check): ``part``, ``from_clause``,
    ``row_conditions``, ``key_column``, ``field_exprs``, ``field_readers``,
    ``relation_columns``, ``date_expr``, ``select`` and :meth:`record_key`.
    """

    part: Part
    #: Prefix of record keys (``korban/``) when the entity comes from several parts.
    prefix: str
    #: SELECT of the key (column 0) and every field's expressions, over ``from_clause`` and
    #: ``row_conditions``; readers index into its rows.
    select: Select[Any]
    key_column: ColumnElement[Any]
    key_to_db: KeyConverter
    #: Key fields (``case_key``, ``recipient_key``): their column and key converter.
    relation_columns: dict[str, tuple[ColumnElement[Any], KeyConverter]]
    readers: list[tuple[str, Reader]]
    from_clause: FromClause
    #: Conditions every row of the part meets (``require``, ``where``): apply with ``from_clause``.
    row_conditions: list[ColumnElement[bool]]
    #: Per national field: the SQL expressions selected for it and the reader that turns
    #: their values into the national value (reused by filters and statistics).
    field_exprs: dict[str, list[ColumnElement[Any]]]
    field_readers: dict[str, Reader]
    #: The case part's report date as ISO text (the sort and cursor expression).
    date_expr: ColumnElement[str] | None = None

    @property
    def entity(self) -> Entity:
        return self.part.entity

    def record_key(self, value: Any) -> str:
        """The record key of a row whose key column holds ``value``."""
        return f"{self.prefix}{value}"

    def own_keys(self, keys: Sequence[str]) -> list[str]:
        """Of record ``keys``, those of this part, without the part prefix."""
        if not self.prefix:
            return list(keys)
        return [k[len(self.prefix) :] for k in keys if k.startswith(self.prefix)]


@dataclass(slots=True)
class CompiledSource:
    """A whole mapping compiled against one database: the public API of a mapped source's SQL."""

    mapping: SourceMapping
    tables: Mapping[str, Table]
    parts: dict[Entity, list[CompiledPart]]
    translations: Translations
    #: Region names in this database that only approximate matching reads, by region code
    #: (learnt at open), so region filters pushed into SQL include them too.
    region_spellings: dict[str, set[str]] = field(default_factory=dict)

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
        """A person's age in whole years at the report, in SQL (None when not mapped)."""
        exprs = person.field_exprs
        birth = exprs.get("birth_date", [None])[0]
        at = exprs.get("age_at", [None])[0]
        age = exprs.get("age", [None])[0]
        return predicates.age_years(birth, at, age)

    def victim_condition(
        self, person: CompiledPart, roles: frozenset[PersonRole] = VICTIM_ROLES
    ) -> ColumnElement[bool]:
        """The person record has a victim role (of ``roles``: the asker's, hidden ones left out)."""
        return predicates.role_condition(
            person.part.fields.get("roles"), person.field_exprs.get("roles", []), self.mapping, roles
        )

    def approximate_region_names(self, prefixes: Sequence[str]) -> list[str]:
        """Spellings learnt at open of regions under any of the code ``prefixes``."""
        wanted = {r.code for p in prefixes for r in reference.regions().regencies_in(p)}
        return sorted(n for code, names in self.region_spellings.items() if code in wanted for n in names)


def compile_source(
    mapping: SourceMapping, tables: Mapping[str, Table], translations: Translations, complete: bool = True
) -> CompiledSource:
    """Compile every part; raises :class:`LocatedMappingError` listing every problem.

    ``complete=False`` compiles only the parts whose tables all exist (used to report every
    problem at once when some tables are missing).
    """
    problems: list[Problem] = []
    compiled: dict[Entity, list[CompiledPart]] = {}
    # LatestOf on cases needs the parts of the entity it reads: compile cases last.
    order = sorted(mapping.parts, key=lambda e: e == Entity.CASE)
    compiler = _PartCompiler(mapping, tables, translations, compiled, problems)
    for entity in order:
        parts = mapping.parts[entity]
        present = [p for p in parts if complete or tables_of_part(p) <= set(tables)]
        compiled[entity] = [compiler.compile(p, len(parts) > 1) for p in present]
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise LocatedMappingError(mapping.name, problems)
    return CompiledSource(mapping, tables, compiled, translations)


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


def _slice_reader(reader: Reader, start: int, length: int) -> Reader:
    if length == 0:
        return lambda _row: reader(())
    if length == 1:
        return lambda row: reader((row[start],))
    end = start + length
    return lambda row: reader(row[start:end])


class _PartCompiler:
    """Compiles parts of one mapping against its reflected tables, collecting problems."""

    def __init__(
        self,
        mapping: SourceMapping,
        tables: Mapping[str, Table],
        translations: Translations,
        compiled: dict[Entity, list[CompiledPart]],
        problems: list[Problem],
    ) -> None:
        self.mapping = mapping
        self.tables = tables
        self.translations = translations
        self.compiled = compiled
        self.problems = problems

    def compile(self, part: Part, prefixed: bool) -> CompiledPart:
        where = f"{part.entity.value} part {part.name!r}"
        # The key the column being compiled comes from, so a missing column is reported at
        # the line of the mapping that names it.
        at: list[tuple[str | int, ...]] = [part.path("key")]

        def problem(message: str) -> None:
            self.problems.append(self.mapping.problem(at[0], message))

        base = self.tables[part.table]
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
            table = scope.get(ref.table or part.table)
            if table is None:
                problem(f"{where}: {ref} names a table that is neither the part's nor joined")
                return literal(None)
            col = table.c.get(ref.column)
            if col is None:
                problem(f"{where}: column {ref} does not exist")
                return literal(None)
            return col

        at[0] = part.path("key")
        key_column = column(ColumnRef(None, part.key))
        selected: list[ColumnElement[Any]] = [key_column]
        readers: list[tuple[str, Reader]] = []
        field_exprs: dict[str, list[ColumnElement[Any]]] = {}
        field_readers: dict[str, Reader] = {}
        relation_columns: dict[str, tuple[ColumnElement[Any], KeyConverter]] = {}
        date_expr: ColumnElement[str] | None = None
        for name, spec in part.fields.items():
            kind = field_kind(part.entity, name)
            at[0] = part.path(name)
            exprs, reader = self._field(part, name, spec, kind, column)
            field_exprs[name] = exprs
            field_readers[name] = reader
            start = len(selected)
            selected.extend(exprs)
            readers.append((name, _slice_reader(reader, start, len(exprs))))
            if kind.kind == "key" and isinstance(spec, Column):
                col = column(spec.ref)
                relation_columns[name] = (col, _prefixed_key_converter(col, self._key_prefix(spec)))
            if part.entity == Entity.CASE and name == "reported_at" and isinstance(spec, Column):
                date_expr = exprs[0]
        stmt = select(*(e.label(f"c{i}") for i, e in enumerate(selected))).select_from(from_clause)
        at[0] = part.path("require")
        row_conditions = [column(ColumnRef.parse(r)).is_not(None) for r in part.require]
        for ref, accepted in part.where:
            at[0] = part.path("where", str(ref))
            target = column(ref)
            row_conditions.append(target.in_(predicates.coerce(target, accepted)))
        stmt = stmt.where(*row_conditions)
        return CompiledPart(
            part=part,
            prefix=f"{part.name}/" if prefixed else "",
            select=stmt,
            key_column=key_column,
            key_to_db=key_converter(key_column),
            relation_columns=relation_columns,
            readers=readers,
            from_clause=from_clause,
            row_conditions=row_conditions,
            field_exprs=field_exprs,
            field_readers=field_readers,
            date_expr=date_expr,
        )

    def _field(
        self,
        part: Part,
        name: str,
        spec: FieldSpec,
        kind: FieldKind,
        column: Callable[[ColumnRef], ColumnElement[Any]],
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        field_id = f"{part.name}.{name}"
        tr = self.translations
        if isinstance(spec, Const):
            value = tr.national(kind, spec.value)
            return [], lambda _values: value
        if isinstance(spec, RegionSpec):
            return self._region(spec, column)
        if isinstance(spec, ChildValues):
            child = self.tables.get(spec.table)
            if child is None or spec.key not in child.c or spec.column not in child.c:
                self.problems.append(
                    self.mapping.problem(
                        part.path(name),
                        f"{part.entity.value} part {part.name!r}.{name}: child table columns not found",
                    )
                )
                return [], lambda _values: ()
            correlated = (
                # SQLAlchemy's portable string aggregation (group_concat / string_agg).
                select(func.aggregate_strings(cast(child.c[spec.column], Text), VALUE_SEPARATOR))
                .where(child.c[spec.key] == column(ColumnRef(None, part.key)))
                .scalar_subquery()
            )
            translate = tr.translator(kind, spec.codes, field_id)
            return [correlated], lambda values: split_many(values[0], translate)
        if isinstance(spec, LatestOf):
            return self._latest(part, name, spec, kind, column)
        assert isinstance(spec, Column)
        col = column(spec.ref)
        if kind.kind == "date":
            return [iso_date(col, spec.format or "YYYY-MM-DD")], lambda v: tr.date(v[0], field_id)
        if kind.kind == "country":
            fmt = spec.format or "alpha2"
            return [col], lambda v: tr.country(v[0], fmt, field_id)
        if kind.kind == "int":
            return [col], lambda v: to_int(v[0])
        if kind.kind == "bool":
            return [col], lambda v: tr.boolean(v[0], field_id)
        if kind.kind == "key":
            prefix = self._key_prefix(spec)
            return [col], lambda v: None if v[0] is None else f"{prefix}{v[0]}"
        translate = tr.translator(kind, spec.codes, field_id)
        if kind.many:
            return [col], lambda v: translate(v[0]) if v[0] is not None else ()
        return [col], lambda v: translate(v[0])

    def _region(
        self, spec: RegionSpec, column: Callable[[ColumnRef], ColumnElement[Any]]
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        reader = self.translations.region_reader(spec)
        if spec.code is not None:
            return [column(spec.code)], reader
        assert spec.regency_name is not None
        exprs = [column(spec.regency_name)]
        if spec.province_name is not None:
            exprs.append(column(spec.province_name))
        return exprs, reader

    def _latest(
        self,
        part: Part,
        name: str,
        spec: LatestOf,
        kind: FieldKind,
        column: Callable[[ColumnRef], ColumnElement[Any]],
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        def problem(message: str) -> None:
            self.problems.append(self.mapping.problem(part.path(name), message))

        entity = {
            "stage_event": Entity.STAGE_EVENT,
            "service": Entity.SERVICE,
            "person": Entity.PERSON,
        }.get(spec.entity)
        others = self.compiled.get(entity) if entity else None
        where = f"{part.entity.value} part {part.name!r}.{name}"
        if not others or len(others) != 1:
            problem(f"{where}: latest_of needs a single-table [{spec.entity}] section")
            return [], lambda _v: None
        other = others[0]
        other_spec = other.part.fields.get(spec.field)
        relation = other.relation_columns.get("case_key")
        if not isinstance(other_spec, Column) or relation is None:
            problem(f"{where}: [{spec.entity}].{spec.field} must be a plain column and case_key set")
            return [], lambda _v: None
        table = other.key_column.table
        order_col = table.c.get(other.part.order_by or other.part.key)
        if order_col is None:
            problem(f"{where}: order_by column of [{spec.entity}] not found")
            return [], lambda _v: None
        value_col = table.c.get(other_spec.ref.column)
        if value_col is None:
            problem(f"{where}: column {other_spec.ref} not found")
            return [], lambda _v: None
        latest = (
            select(value_col)
            .where(relation[0] == column(ColumnRef(None, part.key)))
            .order_by(order_col.desc())
            .limit(1)
            .scalar_subquery()
        )
        translate = self.translations.translator(kind, other_spec.codes, f"{other.part.name}.{spec.field}")
        default = self.translations.national(kind, spec.default) if spec.default else None

        def read(values: Sequence[Any]) -> Any:
            return translate(values[0]) if values[0] is not None else default

        return [latest], read

    def _key_prefix(self, spec: Column) -> str:
        """Keys of a person part are prefixed when persons come from several tables."""
        if spec.part and len(self.mapping.parts_of(Entity.PERSON)) > 1:
            return f"{spec.part}/"
        return ""
