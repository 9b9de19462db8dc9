"""The generic SQL adapter: executes a mapping file against an agency database, in place.

At :meth:`MappedSQLSource.open` the adapter reflects the tables the mapping names, checks
every table and column (a :class:`MappingError` lists all that is missing), and compiles each
mapping part once into a SELECT of labelled expressions plus a row reader. Queries then only
add WHERE / ORDER BY / LIMIT: the database does the filtering, sorting and date parsing, and
Python only translates the rows it returns into national records.

Values that the mapping cannot translate (a retired code, a malformed date) never fail a
query: they become UNKNOWN / OTHER / null and are counted in :attr:`MappedSQLSource.unmapped`
for the data-quality report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    false,
    func,
    inspect,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ColumnElement, FromClause

from adapters import predicates, sql_facts, statistics
from adapters.base import (
    Capabilities,
    Health,
    MappingError,
    Source,
    SourceDataError,
    SourceError,
    SourceTimeout,
    count_rows,
)
from adapters.engines import EngineOptions, create_readonly_engine
from adapters.facts import PersonFact, PersonFactsRequest, RestitutionFact, ServiceFact, StageFact
from adapters.mapping import (
    DEFAULT_CODE,
    FALSE_VALUES,
    TRUE_VALUES,
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
from adapters.regions import match_regency
from adapters.sqlfuncs import VALUE_SEPARATOR, AggregateStrings, iso_date
from hub.vocabulary import countries as country_codes
from hub.vocabulary import reference
from hub.vocabulary.model import (
    CHILD_AGE_LIMIT,
    VICTIM_ROLES,
    AgeGroup,
    CaseFilter,
    CaseRecord,
    CaseSearch,
    CaseStage,
    Dimension,
    Entity,
    ExploitationType,
    Labelled,
    PersonRecord,
    Record,
    RestitutionRecord,
    ServiceRecord,
    ServiceStatus,
    Sex,
    SortOrder,
    StageEventRecord,
    StatisticsRequest,
)

#: Most distinct region names read at open to learn approximate spellings.
MAX_REGION_SPELLINGS = 20_000

Reader = Callable[[Sequence[Any]], Any]


@dataclass(slots=True)
class CompiledPart:
    """A mapping part turned into SQL: base SELECT, key handling and row readers."""

    part: Part
    prefix: str
    select: Select[Any]
    key_column: ColumnElement[Any]
    key_to_db: Callable[[str], Any]
    relation_columns: dict[str, tuple[ColumnElement[Any], Callable[[str], Any]]]
    readers: list[tuple[str, Reader]]
    from_clause: FromClause
    #: Conditions every row of the part meets (``require``): apply with ``from_clause``.
    row_conditions: list[ColumnElement[bool]]
    #: Per national field: the SQL expressions selected for it and the reader that turns
    #: their values into the national value (reused by filters and statistics).
    field_exprs: dict[str, list[ColumnElement[Any]]]
    field_readers: dict[str, Reader]
    date_expr: ColumnElement[str] | None = None

    def record_key(self, value: Any) -> str:
        return f"{self.prefix}{value}"


class MappedSQLSource(Source):
    """A source described by a mapping file, served from any SQLAlchemy async database."""

    def __init__(self, mapping: SourceMapping, options: EngineOptions, base_dir: Path | None = None) -> None:
        self.name = mapping.name
        self.agency = mapping.agency
        self.description = mapping.description
        self.mapping = mapping
        self.options = options
        self.base_dir = base_dir
        relations = set()
        for entity, parts in mapping.parts.items():
            for field_name in ("case_key", "recipient_key"):
                if parts and all(field_name in p.fields for p in parts):
                    relations.add((entity, field_name))
        self.capabilities = Capabilities(frozenset(mapping.parts), frozenset(relations))
        self.unmapped: Counter[tuple[str, str]] = Counter()
        #: Rows skipped because they could not be read at all (counted, never fatal).
        self.skipped_rows = 0
        self._engine: AsyncEngine | None = None
        self._parts: dict[Entity, list[CompiledPart]] = {}
        self._tables: dict[str, Table] = {}
        self._partial_problems: list[Problem] = []
        #: Region names in this database that only approximate matching reads, by region
        #: code (learnt at open), so region filters pushed into SQL include them too.
        self._region_spellings: dict[str, set[str]] = {}

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        engine = create_readonly_engine(self.options, self.base_dir)
        try:
            tables = await self._reflect(engine)
            self._parts = self._compile(tables)
            self._tables = tables
            self._region_spellings = await self._learn_region_spellings(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _reflect(self, engine: AsyncEngine) -> dict[str, Table]:
        wanted = self._tables_named()
        metadata = MetaData()

        def reflect(sync_conn: Any) -> list[str]:
            # Views count as tables: agencies often expose a reporting view to the hub
            # rather than their base tables.
            inspector = inspect(sync_conn)
            existing = set(inspector.get_table_names()) | set(inspector.get_view_names())
            missing = sorted(wanted - existing)
            metadata.reflect(sync_conn, only=sorted(wanted & existing), views=True)
            return missing

        try:
            async with engine.connect() as conn:
                missing = await conn.run_sync(reflect)
        except SQLAlchemyError as exc:
            raise SourceError(
                f"cannot read the schema of source {self.name!r} ({type(exc).__name__})"
            ) from None
        tables = {t.name: t for t in metadata.tables.values()}
        if missing:
            # Check the parts whose tables exist too, so every problem is reported at once.
            problems = [
                self.mapping.table_problem(t, f"table {t!r} does not exist in the database") for t in missing
            ]
            with contextlib.suppress(MappingError):
                self._compile(tables, complete=False)
            problems.extend(self._partial_problems)
            problems.sort(key=lambda problem: problem.line or 0)
            raise LocatedMappingError(self.name, problems)
        return tables

    async def _learn_region_spellings(self, engine: AsyncEngine) -> dict[str, set[str]]:
        """The case table's region names that are read only by approximate matching.

        One DISTINCT query at open. A region filter lists the official spellings of the
        regions asked for; adding these keeps ``cases(filter: {regions})`` in agreement with
        the region each case shows, without reading rows into Python.
        """
        parts = self._parts.get(Entity.CASE, [])
        spec = parts[0].part.fields.get("region") if parts else None
        if not isinstance(spec, RegionSpec) or spec.regency_name is None or not spec.fuzzy:
            return {}
        part = parts[0]
        stmt = (
            select(*part.field_exprs["region"])
            .select_from(part.from_clause)
            .where(*part.row_conditions)
            .distinct()
            .limit(MAX_REGION_SPELLINGS)
        )
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"cannot read the regions of source {self.name!r} ({type(exc).__name__})"
            ) from None
        spellings: dict[str, set[str]] = {}
        for row in rows:
            if row[0] is None:
                continue
            province = str(row[1]) if len(row) > 1 and row[1] is not None else None
            match = match_regency(str(row[0]), province, True)
            if match is not None and not match.exact:
                spellings.setdefault(match.region.code, set()).add(row[0])
        return spellings

    def approximate_region_names(self, prefixes: Sequence[str]) -> list[str]:
        """Spellings learnt at open (see above) of regions under any of the code ``prefixes``."""
        wanted = {r.code for p in prefixes for r in reference.regions().regencies_in(p)}
        return sorted(n for code, names in self._region_spellings.items() if code in wanted for n in names)

    def _tables_named(self) -> set[str]:
        names: set[str] = set()
        for parts in self.mapping.parts.values():
            for part in parts:
                names.add(part.table)
                names.update(j.table for j in part.joins)
                names.update(s.table for s in part.fields.values() if isinstance(s, ChildValues))
        return names

    # --- compiling the mapping -------------------------------------------------------------

    def _compile(self, tables: dict[str, Table], complete: bool = True) -> dict[Entity, list[CompiledPart]]:
        """Compile every part; ``complete=False`` skips parts whose tables are missing and
        leaves the problems found in :attr:`_partial_problems` (see :meth:`_reflect`)."""
        problems: list[Problem] = []
        compiled: dict[Entity, list[CompiledPart]] = {}
        # Cases first: other parts do not depend on them, but LatestOf on cases needs the
        # parts of the entity it reads, so compile those before.
        order = sorted(self.mapping.parts, key=lambda e: e == Entity.CASE)
        for entity in order:
            parts = self.mapping.parts[entity]
            present = [p for p in parts if complete or _tables_of(p) <= set(tables)]
            compiled[entity] = [
                self._compile_part(p, len(parts) > 1, tables, compiled, problems) for p in present
            ]
        self._partial_problems = problems
        if problems:
            problems.sort(key=lambda problem: problem.line or 0)
            raise LocatedMappingError(self.name, problems)
        return compiled

    def _compile_part(
        self,
        part: Part,
        prefixed: bool,
        tables: dict[str, Table],
        compiled: dict[Entity, list[CompiledPart]],
        problems: list[Problem],
    ) -> CompiledPart:
        where = f"{part.entity.value} part {part.name!r}"
        # The key the column being compiled comes from, so a missing column is reported at
        # the line of the mapping that names it.
        at: list[tuple[str | int, ...]] = [part.path("key")]

        def problem(message: str) -> None:
            problems.append(self.mapping.problem(at[0], message))

        base = tables[part.table]
        scope: dict[str, Table] = {part.table: base}
        from_clause: FromClause = base
        for join_index, join in enumerate(part.joins):
            at[0] = part.path("joins", join_index, "on")
            # Joined tables are aliased so that a part used inside a subquery (filters,
            # statistics) never correlates with the outer query's copy of the same table.
            other = tables[join.table].alias(f"j_{join.table}")
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
        relation_columns: dict[str, tuple[ColumnElement[Any], Callable[[str], Any]]] = {}
        date_expr: ColumnElement[str] | None = None
        for name, spec in part.fields.items():
            kind = field_kind(part.entity, name)
            at[0] = part.path(name)
            exprs, reader = self._compile_field(part, name, spec, kind, column, tables, compiled, problems)
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
            key_to_db=_key_converter(key_column),
            relation_columns=relation_columns,
            readers=readers,
            from_clause=from_clause,
            row_conditions=row_conditions,
            field_exprs=field_exprs,
            field_readers=field_readers,
            date_expr=date_expr,
        )

    def _compile_field(
        self,
        part: Part,
        name: str,
        spec: FieldSpec,
        kind: FieldKind,
        column: Callable[[ColumnRef], ColumnElement[Any]],
        tables: dict[str, Table],
        compiled: dict[Entity, list[CompiledPart]],
        problems: list[Problem],
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        field_id = f"{part.name}.{name}"
        if isinstance(spec, Const):
            value = self._national(kind, spec.value, field_id)
            return [], lambda _values: value
        if isinstance(spec, RegionSpec):
            return self._compile_region(spec, column)
        if isinstance(spec, ChildValues):
            child = tables.get(spec.table)
            if child is None or spec.key not in child.c or spec.column not in child.c:
                problems.append(
                    self.mapping.problem(
                        part.path(name),
                        f"{part.entity.value} part {part.name!r}.{name}: child table columns not found",
                    )
                )
                return [], lambda _values: ()
            correlated = (
                select(AggregateStrings(child.c[spec.column]))
                .where(child.c[spec.key] == column(ColumnRef(None, part.key)))
                .scalar_subquery()
            )
            translate = self._translator(kind, spec.codes, field_id)
            return [correlated], lambda values: _split_many(values[0], translate)
        if isinstance(spec, LatestOf):
            return self._compile_latest(part, name, spec, kind, column, compiled, problems)
        assert isinstance(spec, Column)
        col = column(spec.ref)
        if kind.kind == "date":
            return [iso_date(col, spec.format or "YYYY-MM-DD")], lambda v: self._date(v[0], field_id)
        if kind.kind == "country":
            fmt = spec.format or "alpha2"
            return [col], lambda v: self._country(v[0], fmt, field_id)
        if kind.kind == "int":
            return [col], lambda v: _to_int(v[0])
        if kind.kind == "bool":
            return [col], lambda v: self._boolean(v[0], field_id)
        if kind.kind == "key":
            prefix = self._key_prefix(spec)
            return [col], lambda v: None if v[0] is None else f"{prefix}{v[0]}"
        translate = self._translator(kind, spec.codes, field_id)
        if kind.many:
            return [col], lambda v: translate(v[0]) if v[0] is not None else ()
        return [col], lambda v: translate(v[0])

    def _compile_region(
        self, spec: RegionSpec, column: Callable[[ColumnRef], ColumnElement[Any]]
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        index = reference.regions()
        if spec.code is not None:

            def from_code(values: Sequence[Any]) -> str | None:
                region = index.by_code(str(values[0])) if values[0] is not None else None
                if values[0] is not None and region is None:
                    self.unmapped[("region", str(values[0]))] += 1
                return region.code if region else None

            return [column(spec.code)], from_code
        assert spec.regency_name is not None
        exprs = [column(spec.regency_name)]
        if spec.province_name is not None:
            exprs.append(column(spec.province_name))

        def from_names(values: Sequence[Any]) -> str | None:
            if values[0] is None:
                return None
            province = values[1] if len(values) > 1 and values[1] is not None else None
            # Exact spellings first; close variants (old orthography, typos) as a fallback.
            match = match_regency(str(values[0]), None if province is None else str(province), spec.fuzzy)
            if match is None:
                self.unmapped[("region", str(values[0]))] += 1
            return match.region.code if match else None

        return exprs, from_names

    def _compile_latest(
        self,
        part: Part,
        name: str,
        spec: LatestOf,
        kind: FieldKind,
        column: Callable[[ColumnRef], ColumnElement[Any]],
        compiled: dict[Entity, list[CompiledPart]],
        problems: list[Problem],
    ) -> tuple[list[ColumnElement[Any]], Reader]:
        def problem(message: str) -> None:
            problems.append(self.mapping.problem(part.path(name), message))

        entity = {
            "stage_event": Entity.STAGE_EVENT,
            "service": Entity.SERVICE,
            "person": Entity.PERSON,
        }.get(spec.entity)
        others = compiled.get(entity) if entity else None
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
        translate = self._translator(kind, other_spec.codes, f"{other.part.name}.{spec.field}")
        default = self._national(kind, spec.default, f"{part.name}.{name}") if spec.default else None

        def read(values: Sequence[Any]) -> Any:
            return translate(values[0]) if values[0] is not None else default

        return [latest], read

    def _key_prefix(self, spec: Column) -> str:
        """Keys of a person part are prefixed when persons come from several tables."""
        if spec.part and len(self.mapping.parts_of(Entity.PERSON)) > 1:
            return f"{spec.part}/"
        return ""

    # --- for checks and data-quality reports ------------------------------------------------

    def compiled_parts(self, entity: Entity) -> list[CompiledPart]:
        """The compiled parts of ``entity``: their FROM clause, row conditions and field SQL.

        :mod:`adapters.quality` builds its COUNT / GROUP BY statements on these, so the report
        reads exactly the rows and expressions the hub serves.
        """
        return list(self._compiled(entity))

    @property
    def tables(self) -> Mapping[str, Table]:
        """The reflected tables the mapping names (empty until opened)."""
        return self._tables

    async def fetch(self, stmt: Select[Any]) -> list[Sequence[Any]]:
        """Run one read-only SELECT built on :meth:`compiled_parts` (timeouts and retries apply)."""
        return await self._fetch(stmt)

    def read(self, compiled: CompiledPart, rows: Sequence[Sequence[Any]]) -> list[Record]:
        """Rows of ``compiled.select`` as national records (unreadable rows skipped and counted)."""
        return self._read(compiled, rows)

    # --- value translation -----------------------------------------------------------------

    def _national(self, kind: FieldKind, value: str, field_id: str) -> Any:
        if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
            member = kind.kind.parse(value)
            return (member,) if kind.many else member
        return value

    def _translator(self, kind: FieldKind, code_list: str | None, field_id: str) -> Callable[[Any], Any]:
        """A function from a raw source value to the national value(s) of ``kind``."""
        table = self.mapping.codes.get(code_list, {}) if code_list else None
        enum_cls = kind.kind if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled) else None
        fallback = _fallback(enum_cls) if enum_cls else None
        unmapped = self.unmapped

        default = table.get(DEFAULT_CODE) if table else None
        if enum_cls is None:
            if table is None:
                return lambda raw: None if raw is None else str(raw).strip() or None

            def text(raw: Any) -> Any:
                if raw is None:
                    return None
                found = table.get(str(raw).strip())
                if found is None:
                    unmapped[(field_id, str(raw))] += 1
                    return default[0] if default else None
                return found[0]

            return text

        # Pre-build the lookup so rows only pay a dict access.
        lookup: dict[str, tuple[Labelled, ...]] = {}
        if table is not None:
            lookup = {
                src: tuple(enum_cls.parse(v) for v in values)
                for src, values in table.items()
                if src != DEFAULT_CODE
            }
        else:
            lookup = {m.name: (m,) for m in enum_cls}
        otherwise: tuple[Labelled, ...] = (
            tuple(enum_cls.parse(v) for v in default)
            if default
            else ((fallback,) if fallback is not None else ())
        )

        def translate(raw: Any) -> Any:
            if raw is None:
                return () if kind.many else None
            found = lookup.get(str(raw).strip())
            if found is None:
                unmapped[(field_id, str(raw))] += 1
                found = otherwise
            return found if kind.many else (found[0] if found else None)

        return translate

    def _boolean(self, raw: Any, field_id: str) -> bool | None:
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        self.unmapped[(field_id, str(raw))] += 1
        return None

    def _date(self, raw: Any, field_id: str) -> date | None:
        if raw is None:
            return None
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            self.unmapped[(field_id, "<unparseable date>")] += 1
            return None

    def _country(self, raw: Any, fmt: str, field_id: str) -> str | None:
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip()
        if fmt == "alpha3":
            code = country_codes.country_from_alpha3(text)
        elif fmt == "name":
            code = country_codes.country_from_name(text)
        else:
            code = text.upper() if country_codes.country_from_alpha2(text) else None
        if code is None:
            self.unmapped[(field_id, text)] += 1
        return code

    # --- queries -----------------------------------------------------------------------------

    def _compiled(self, entity: Entity) -> list[CompiledPart]:
        if self._engine is None:
            raise SourceError(f"source {self.name!r} is not open")
        return self._parts.get(entity, [])

    async def _fetch(self, stmt: Select[Any]) -> list[Sequence[Any]]:
        """Run one SELECT; retry transient connection failures, enforce the statement timeout.

        Only connection-level failures are retried (a refused or dropped connection, with short
        backoff): a statement that failed on a live connection is not repeated. Error messages
        name the error type only — never SQL, parameters or connection strings.
        """
        assert self._engine is not None
        for pause in (*RETRY_BACKOFF, None):
            try:
                rows = await self._execute(stmt)
            except SQLAlchemyError as exc:
                if _is_timeout(exc):
                    raise SourceTimeout(f"source {self.name!r}: statement timed out") from None
                if pause is not None and _is_transient(exc):
                    await asyncio.sleep(pause)
                    continue
                raise SourceError(f"source {self.name!r}: database error ({type(exc).__name__})") from None
            except OSError as exc:
                if pause is not None:
                    await asyncio.sleep(pause)
                    continue
                raise SourceError(f"source {self.name!r}: connection failed ({type(exc).__name__})") from None
            count_rows(len(rows))
            return rows
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _execute(self, stmt: Select[Any]) -> list[Sequence[Any]]:
        assert self._engine is not None
        async with self._engine.connect() as conn:
            interrupt = None
            if self._engine.dialect.name == "sqlite" and self.options.statement_timeout_ms > 0:
                # aiosqlite runs the statement in a thread that asyncio cannot cancel; SQLite's
                # own interrupt stops it at the deadline (DESIGN.md §9).
                driver = (await conn.get_raw_connection()).driver_connection
                deadline = self.options.statement_timeout_ms / 1000
                interrupt = asyncio.get_running_loop().call_later(
                    deadline, lambda: asyncio.ensure_future(driver.interrupt())
                )
            try:
                result = await conn.execute(stmt)
                return list(result.all())
            finally:
                if interrupt is not None:
                    interrupt.cancel()

    def _read(self, compiled: CompiledPart, rows: Sequence[Sequence[Any]]) -> list[Record]:
        """Rows → records. A row that cannot be read is skipped and counted, never fatal;
        a batch in which no row can be read means the source returns garbage."""
        build = _BUILDERS[compiled.part.entity]
        records: list[Record] = []
        for row in rows:
            try:
                values = {name: reader(row) for name, reader in compiled.readers}
                records.append(build(self.name, compiled.record_key(row[0]), values))
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                self.unmapped[(f"{compiled.part.name}.<row>", type(exc).__name__)] += 1
                self.skipped_rows += 1
        if rows and not records:
            raise SourceDataError(f"source {self.name!r}: rows of {compiled.part.name!r} cannot be read")
        return records

    def _case_part(self) -> CompiledPart:
        parts = self._compiled(Entity.CASE)
        if not parts or parts[0].date_expr is None:
            raise SourceError(f"source {self.name!r} has no case table with a report date")
        return parts[0]

    def unsupported(self, filter: CaseFilter) -> set[str]:
        return predicates.unsupported_fields(self.mapping, filter)

    def _case_conditions(self, part: CompiledPart, filter: CaseFilter) -> list[ColumnElement[bool]]:
        """The filter as WHERE conditions on the case part (fields it can evaluate)."""
        assert part.date_expr is not None
        spec, exprs = part.part.fields, part.field_exprs
        conditions: list[ColumnElement[bool]] = []
        if filter.reported_from is not None:
            conditions.append(part.date_expr >= filter.reported_from.isoformat())
        if filter.reported_to is not None:
            conditions.append(part.date_expr <= filter.reported_to.isoformat())
        if filter.regions and isinstance(spec.get("region"), RegionSpec):
            region = predicates.region_condition(spec["region"], exprs["region"], filter.regions)
            variants = self.approximate_region_names(filter.regions)
            if variants:
                region = or_(region, exprs["region"][0].in_(variants))
            conditions.append(region)
        if filter.exploitation_types and "exploitation_types" in spec:
            field_spec = spec["exploitation_types"]
            child = self._tables.get(field_spec.table) if isinstance(field_spec, ChildValues) else None
            conditions.append(
                predicates.enum_field_condition(
                    field_spec,
                    exprs["exploitation_types"],
                    self.mapping,
                    ExploitationType,
                    {t.name for t in filter.exploitation_types},
                    key_column=part.key_column,
                    child_table=child,
                )
            )
        if filter.stages and "stage" in spec:
            conditions.append(
                predicates.enum_field_condition(
                    spec["stage"],
                    exprs["stage"],
                    self.mapping,
                    CaseStage,
                    {s.name for s in filter.stages},
                    null_is_fallback=False,
                )
            )
        if filter.countries_of_exploitation and isinstance(spec.get("country"), Column):
            conditions.append(
                predicates.country_condition(
                    spec["country"], exprs["country"][0], filter.countries_of_exploitation
                )
            )
        if filter.text and "source_key" in spec and exprs.get("source_key"):
            pattern = (
                "%" + filter.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            conditions.append(func.lower(exprs["source_key"][0]).like(pattern, escape="\\"))
        if filter.victim_sex or filter.victim_age_groups or filter.child_victim is not None:
            conditions.append(self._victim_condition(part, filter))
        return conditions

    def _victim_condition(self, case_part: CompiledPart, filter: CaseFilter) -> ColumnElement[bool]:
        """The case has a victim record meeting every victim condition (in one of its tables)."""
        matches = []
        for person in self._compiled(Entity.PERSON):
            fields, exprs = person.part.fields, person.field_exprs
            conditions = [
                predicates.role_condition(
                    fields.get("roles"), exprs.get("roles", []), self.mapping, VICTIM_ROLES
                )
            ]
            if filter.victim_sex:
                conditions.append(
                    predicates.enum_field_condition(
                        fields.get("sex"),
                        exprs.get("sex", []),
                        self.mapping,
                        Sex,
                        {s.name for s in filter.victim_sex},
                    )
                )
            years = self._age_years(person)
            if filter.victim_age_groups:
                conditions.append(predicates.age_group_condition(years, filter.victim_age_groups))
            if filter.child_victim is not None:
                flag = exprs.get("child", [None])[0]
                conditions.append(predicates.child_condition(years, filter.child_victim, flag))
            relation = person.relation_columns.get("case_key")
            if relation is None:
                continue
            victims = (
                select(relation[0])
                .select_from(person.from_clause)
                .where(*person.row_conditions, *conditions)
                .correlate(None)
            )
            matches.append(case_part.key_column.in_(victims))
        return or_(*matches) if matches else literal(False)

    def _age_years(self, person: CompiledPart) -> ColumnElement[Any] | None:
        exprs = person.field_exprs
        birth = exprs.get("birth_date", [None])[0]
        at = exprs.get("age_at", [None])[0]
        age = exprs.get("age", [None])[0]
        return predicates.age_years(birth, at, age)

    async def search_cases(self, search: CaseSearch) -> list[CaseRecord]:
        """A page in (report date, key) order after the keyset position.

        The ORDER BY is on the date expression itself (no COALESCE), so a source that keeps
        ISO dates in an indexed column answers from its index. A missing date sorts as the
        earliest date: NULLS FIRST ascending, NULLS LAST descending — SQLite's own default,
        stated explicitly for the other databases.
        """
        part = self._case_part()
        assert part.date_expr is not None
        day, key = part.date_expr, part.key_column
        descending = search.order is SortOrder.DESC
        conditions = [*part.row_conditions, *self._case_conditions(part, search.filter)]
        if search.after is not None:
            conditions.append(self._after(day, key, part, search.after, descending))
        explicit_nulls = self._engine is not None and self._engine.dialect.name != "sqlite"
        if descending:
            order = (day.desc().nulls_last() if explicit_nulls else day.desc(), key.desc())
        else:
            order = (day.asc().nulls_first() if explicit_nulls else day.asc(), key.asc())
        # Two steps in one statement: pick the page's keys by the cheap sort columns first,
        # then compute the full row (correlated subqueries for stages and multi-valued codes)
        # for those rows only — not for every row the database has to sort.
        page_keys = (
            select(key).select_from(part.from_clause).where(*conditions).order_by(*order).limit(search.limit)
        )
        stmt = part.select.where(key.in_(page_keys.scalar_subquery())).order_by(*order)
        rows = await self._fetch(stmt)
        return self._read(part, rows)  # type: ignore[return-value]

    def _after(
        self,
        day: ColumnElement[str],
        key: ColumnElement[Any],
        part: CompiledPart,
        after: Any,
        descending: bool,
    ) -> ColumnElement[bool]:
        """Rows strictly after the keyset position, in the merged cross-source order.

        The hub orders by (date, source name, key), a missing date being the earliest. For
        another source only the date and the source names decide; for this source the key
        breaks ties, compared by the database.
        """
        if after.source == self.name:
            db_key = part.key_to_db(after.key)
            tie: ColumnElement[bool] = key < db_key if descending else key > db_key
        else:
            follows = self.name < after.source if descending else self.name > after.source
            tie = true() if follows else false()
        if after.reported_at is None:
            # After an undated case: descending, only undated cases remain (they come last);
            # ascending, every dated case still follows.
            same_day = and_(day.is_(None), tie)
            return same_day if descending else or_(day.is_not(None), same_day)
        last_day = after.reported_at.isoformat()
        beyond = or_(day < last_day, day.is_(None)) if descending else day > last_day
        return or_(beyond, and_(day == last_day, tie))

    async def count_cases(self, filter: CaseFilter) -> int:
        part = self._case_part()
        inner = part.select.where(*self._case_conditions(part, filter)).subquery()
        rows = await self._fetch(select(func.count()).select_from(inner))
        return int(rows[0][0])

    async def aggregate(self, request: StatisticsRequest) -> dict[tuple[str | None, ...], int]:
        return await statistics.aggregate(self, request)

    async def victim_records(
        self, request: StatisticsRequest
    ) -> list[tuple[str, list[tuple[str | None, ...]]]]:
        return await statistics.victim_records(self, request)

    answers_facts = True

    async def person_facts(self, request: PersonFactsRequest) -> list[PersonFact]:
        return await sql_facts.person_facts(self, request)

    async def service_facts(self) -> list[ServiceFact]:
        return await sql_facts.service_facts(self)

    async def stage_facts(self, filter: CaseFilter, dimensions: Sequence[Dimension]) -> list[StageFact]:
        return await sql_facts.stage_facts(self, filter, dimensions)

    async def restitution_facts(self) -> list[RestitutionFact]:
        return await sql_facts.restitution_facts(self)

    async def load(self, entity: Entity, keys: Sequence[str]) -> list[Record]:
        records: list[Record] = []
        for compiled in self._compiled(entity):
            own = _keys_of_part(compiled, keys)
            db_keys = _convert_keys(own, compiled.key_to_db)
            if not db_keys:
                continue
            rows = await self._fetch(compiled.select.where(compiled.key_column.in_(db_keys)))
            records.extend(self._read(compiled, rows))
        return records

    async def children(self, entity: Entity, field: str, parent_keys: Sequence[str]) -> list[Record]:
        records: list[Record] = []
        for compiled in self._compiled(entity):
            relation = compiled.relation_columns.get(field)
            if relation is None:
                continue
            column, convert = relation
            db_keys = _convert_keys(parent_keys, convert)
            if not db_keys:
                continue
            stmt = compiled.select.where(column.in_(db_keys)).order_by(compiled.key_column)
            rows = await self._fetch(stmt)
            records.extend(self._read(compiled, rows))
        return records

    async def scan(self, entity: Entity, after: str | None, limit: int) -> tuple[list[Record], str | None]:
        """Keyset scan part by part, in each part's key order.

        The position is ``"<part index>:<last key>"`` (an empty key: the start of that part),
        so a scan resumes exactly where it stopped without OFFSET.
        """
        parts = self._compiled(entity)
        index, last = 0, ""
        if after is not None:
            head, _, last = after.partition(":")
            if not head.isdigit() or int(head) >= len(parts):
                raise ValueError("invalid scan position")
            index = int(head)
        while index < len(parts):
            compiled = parts[index]
            stmt = compiled.select
            if last:
                stmt = stmt.where(compiled.key_column > compiled.key_to_db(last))
            rows = await self._fetch(stmt.order_by(compiled.key_column).limit(limit))
            if len(rows) == limit:
                return self._read(compiled, rows), f"{index}:{rows[-1][0]}"
            index, last = index + 1, ""
            if rows:
                return self._read(compiled, rows), (f"{index}:" if index < len(parts) else None)
        return [], None

    def pool_status(self) -> tuple[int, int] | None:
        """(connections in use, connections held) of the engine's pool, for metrics."""
        pool = self._engine.pool if self._engine is not None else None
        if pool is None or not hasattr(pool, "checkedout"):
            return None
        return int(pool.checkedout()), int(pool.size())

    async def health(self) -> Health:
        if self._engine is None:
            return Health(False, "not open")
        started = time.perf_counter()
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(literal(1)))
        except (SQLAlchemyError, OSError) as exc:
            return Health(False, type(exc).__name__)
        return Health(True, f"{(time.perf_counter() - started) * 1000:.1f} ms")


# --- helpers ------------------------------------------------------------------------------


#: Pauses before retrying a transient connection failure (then give up).
RETRY_BACKOFF = (0.05, 0.25)


def _is_timeout(exc: SQLAlchemyError) -> bool:
    """A statement cancelled by its timeout: SQLite interrupt, PostgreSQL statement_timeout,
    MySQL max_execution_time."""
    original = getattr(exc, "orig", None)
    name = type(original).__name__ if original is not None else ""
    text = str(original).lower() if original is not None else ""
    cancelled = name in {"QueryCanceledError", "QueryCanceled"}
    return cancelled or text == "interrupted" or "max_execution_time" in text


def _is_transient(exc: SQLAlchemyError) -> bool:
    """A failure to reach the database (worth a retry), not a failure of the statement."""
    original = getattr(exc, "orig", None)
    invalidated = bool(getattr(exc, "connection_invalidated", False))
    return invalidated or isinstance(original, OSError | ConnectionError)


def _tables_of(part: Part) -> set[str]:
    """The tables a part reads: its own, its joins', its child tables'."""
    names = {part.table, *(j.table for j in part.joins)}
    names.update(s.table for s in part.fields.values() if isinstance(s, ChildValues))
    return names


def _slice_reader(reader: Reader, start: int, length: int) -> Reader:
    if length == 0:
        return lambda _row: reader(())
    if length == 1:
        return lambda row: reader((row[start],))
    end = start + length
    return lambda row: reader(row[start:end])


def _key_converter(column: ColumnElement[Any]) -> Callable[[str], Any]:
    """Keys travel as text; integer key columns need ints to use their index."""
    if isinstance(getattr(column, "type", None), Integer):
        return int
    return str


def _prefixed_key_converter(column: ColumnElement[Any], prefix: str) -> Callable[[str], Any]:
    convert = _key_converter(column)
    if not prefix:
        return convert

    def strip_and_convert(key: str) -> Any:
        if not key.startswith(prefix):
            raise ValueError("key of another table")
        return convert(key[len(prefix) :])

    return strip_and_convert


def _convert_keys(keys: Sequence[str], convert: Callable[[str], Any]) -> list[Any]:
    converted = []
    for key in dict.fromkeys(keys):
        try:
            converted.append(convert(key))
        except (TypeError, ValueError):
            continue  # a key that cannot exist in this column
    return converted


def _keys_of_part(compiled: CompiledPart, keys: Sequence[str]) -> list[str]:
    if not compiled.prefix:
        return list(keys)
    return [k[len(compiled.prefix) :] for k in keys if k.startswith(compiled.prefix)]


def _split_many(raw: Any, translate: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    if raw is None:
        return ()
    values: list[Any] = []
    for item in str(raw).split(VALUE_SEPARATOR):
        for member in translate(item):
            if member not in values:
                values.append(member)
    return tuple(sorted(values, key=lambda m: m.name))


def _fallback(enum_cls: type[Labelled]) -> Labelled | None:
    for name in ("UNKNOWN", "OTHER"):
        if name in enum_cls.__members__:
            return enum_cls[name]
    return None


def _to_int(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _age_in_years(born: date, at: date) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def _build_case(source: str, key: str, v: dict[str, Any]) -> CaseRecord:
    from hub.vocabulary.model import ExploitationType, TraffickingMeans

    return CaseRecord(
        source=source,
        key=key,
        source_key=v.get("source_key"),
        reported_at=v.get("reported_at"),
        region=v.get("region"),
        country=v.get("country"),
        exploitation_types=v.get("exploitation_types") or (ExploitationType.UNKNOWN,),
        means=v.get("means") or (TraffickingMeans.UNKNOWN,),
        stage=v.get("stage"),
    )


def _build_person(source: str, key: str, v: dict[str, Any]) -> PersonRecord:
    born, at = v.get("birth_date"), v.get("age_at")
    years = _age_in_years(born, at) if born and at else v.get("age")
    is_child = None if years is None else years < CHILD_AGE_LIMIT
    if is_child is None:
        is_child = v.get("child")  # an explicit child flag (Anak: Ya/Tidak) when no age is known
    return PersonRecord(
        source=source,
        key=key,
        case_key=v.get("case_key"),
        roles=v.get("roles") or (),
        sex=v.get("sex") or Sex.UNKNOWN,
        age_group=AgeGroup.for_age(years),
        is_child=is_child,
        citizenship=v.get("citizenship"),
        domicile_region=v.get("domicile_region"),
        full_name=v.get("full_name"),
        nik=v.get("nik"),
        birth_date=born,
        passport_number=v.get("passport_number"),
        address=v.get("address"),
        phone=v.get("phone"),
    )


def _build_service(source: str, key: str, v: dict[str, Any]) -> ServiceRecord:
    return ServiceRecord(
        source=source,
        key=key,
        case_key=v.get("case_key"),
        recipient_key=v.get("recipient_key"),
        type=v["type"],
        status=v.get("status") or ServiceStatus.UNKNOWN,
        start_date=v.get("start_date"),
        end_date=v.get("end_date"),
        provider_unit=v.get("provider_unit"),
        location=v.get("location"),
    )


def _build_stage_event(source: str, key: str, v: dict[str, Any]) -> StageEventRecord:
    return StageEventRecord(
        source=source,
        key=key,
        case_key=v.get("case_key"),
        stage=v.get("stage"),
        date=v.get("date"),
        reference=v.get("reference"),
    )


def _build_restitution(source: str, key: str, v: dict[str, Any]) -> RestitutionRecord:
    return RestitutionRecord(
        source=source,
        key=key,
        case_key=v.get("case_key"),
        recipient_key=v.get("recipient_key"),
        requested_idr=v.get("requested_idr"),
        ordered_idr=v.get("ordered_idr"),
        paid_idr=v.get("paid_idr"),
    )


_BUILDERS: dict[Entity, Callable[[str, str, dict[str, Any]], Record]] = {
    Entity.CASE: _build_case,
    Entity.PERSON: _build_person,
    Entity.SERVICE: _build_service,
    Entity.STAGE_EVENT: _build_stage_event,
    Entity.RESTITUTION: _build_restitution,
}
