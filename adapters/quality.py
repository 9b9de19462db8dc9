"""Data quality of a mapped source, measured inside the agency's own database.

The standardisation report (``dataQuality``, ``tppo-hub adapter check``) says, per part and
national field, what an agency should fix in its data or its mapping:

- completeness: ``COUNT(expr)`` against ``COUNT(*)`` over the rows the hub serves (one
  statement per part: never rows read into Python);
- values that did not map: ``GROUP BY`` on the raw column, keeping the values no entry of
  the code list knows (and what they became: the ``"*"`` default or UNKNOWN/OTHER);
- parse failures: dates whose normalised ISO text is no calendar date, counted by a CASE in
  SQL (a present source value whose one definition is NULL); region and country values grouped
  and looked up;
- suspicious values: dates in the future or before 1900, birth after the report, ages outside
  0–120, NIKs that are not valid in form (16 digits; province code; birth day 01–31, or 41–71
  for women; month 01–12; serial not 0000) — classified by a CASE in SQL and counted;
- code-list coverage: which national values the mapping can produce at all.

Personal fields (name, NIK, birth date, passport, address, phone) are reported as counts only,
never with example values: the report is read by people who may not see personal data.
Every statement is built on the parts the adapter compiled (:meth:`MappedSQLSource.compiled_parts`),
so the report measures exactly the rows and expressions the hub serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, Table, case, cast, func, literal, not_, or_, select, true
from sqlalchemy.sql.expression import ColumnElement, FromClause
from sqlalchemy.sql.selectable import Alias, Join

from adapters.base import SourceError
from adapters.compiler import CompiledPart, split_service_type
from adapters.mapping import (
    DEFAULT_CODE,
    ChildValues,
    Column,
    ColumnRef,
    Const,
    FieldKind,
    FieldSpec,
    LatestOf,
    RegionSpec,
    SourceMapping,
    field_kind,
    national_fields,
)
from adapters.sql import MappedSQLSource
from adapters.sqlfuncs import VALUE_SEPARATOR, DigitsOnly
from adapters.values import FieldValue, leftover_tokens, text_of, wrapped_tokens
from hub.vocabulary import model, reference
from hub.vocabulary.model import Entity, Labelled

#: Fields whose values are personal data: counts only, never example values.
PERSONAL_FIELDS = model.PERSONAL_FIELD_SET
#: Fields that are alternatives of one another (age from birth date, or a recorded age, or a
#: child flag): not listed as "not mapped" when absent.
OPTIONAL_ALTERNATIVES = frozenset({"age", "age_at", "child"})
#: How many values to list per field.
TOP_VALUES = 10
#: Most groups read back from one GROUP BY (dates: one per day; codes: one per value).
MAX_GROUPS = 50_000
EARLIEST_PLAUSIBLE = date(1900, 1, 1)
MAX_AGE = model.MAX_PLAUSIBLE_AGE
#: Statements of one report in flight at once (a source's pool has 8 connections).
CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class ValueCount:
    """A value (or a reason) and how many rows hold it; ``maps_to`` is what it became."""

    value: str | None
    count: int
    maps_to: str | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which national values of a code list the mapping can produce (UNKNOWN left aside)."""

    vocabulary: str
    covered: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ratio(self) -> float:
        total = len(self.covered) + len(self.missing)
        return len(self.covered) / total if total else 1.0


@dataclass(slots=True)
class FieldQuality:
    """Quality of one national field as one part (table) of a source provides it."""

    entity: Entity
    part: str
    table: str
    field: str
    columns: tuple[str, ...]
    mapped: bool
    rows: int = 0
    non_null: int = 0
    constant: bool = False
    unmapped_count: int = 0
    unmapped: list[ValueCount] = field(default_factory=list)
    parse_failures: int = 0
    parse_examples: list[ValueCount] = field(default_factory=list)
    #: Every unparsed source value with its count (for ``adapter check``'s format proposals;
    #: never shown as such for personal fields).
    failing_values: list[tuple[str, int]] = field(default_factory=list, repr=False)
    invalid_niks: int = 0
    nik_problems: list[ValueCount] = field(default_factory=list)
    suspicious: list[ValueCount] = field(default_factory=list)
    approximate: list[ValueCount] = field(default_factory=list)
    coverage: Coverage | None = None
    line: int | None = None
    truncated: bool = False
    error: str | None = None

    @property
    def completeness(self) -> float | None:
        """Percentage of rows with a value (None for an empty table)."""
        return round(100.0 * self.non_null / self.rows, 2) if self.rows else None

    @property
    def personal(self) -> bool:
        return self.field in PERSONAL_FIELDS


@dataclass(slots=True)
class SourceQuality:
    """The data-quality report of one source."""

    source: str
    measured_at: datetime
    #: Rows served per part, keyed ``entity:part`` (``person:korban``).
    rows: dict[str, int] = field(default_factory=dict)
    fields: list[FieldQuality] = field(default_factory=list)


async def measure(source: MappedSQLSource, today: date | None = None) -> SourceQuality:
    """The report of an open mapped source (statements run in its database, read-only)."""
    today = today or datetime.now(UTC).date()
    report = SourceQuality(source.name, datetime.now(UTC))
    gate = asyncio.Semaphore(CONCURRENCY)
    for entity in (Entity.CASE, Entity.PERSON, Entity.SERVICE, Entity.STAGE_EVENT):
        for compiled in source.compiled_parts(entity):
            fields = await _measure_part(source, compiled, today, gate)
            report.rows[f"{entity.value}:{compiled.part.name}"] = fields[0].rows
            report.fields.extend(fields)
    return report


# --- one part -----------------------------------------------------------------------------------


async def _measure_part(
    source: MappedSQLSource, compiled: CompiledPart, today: date, gate: asyncio.Semaphore
) -> list[FieldQuality]:
    part = compiled.part
    mapping = source.mapping
    scope = _scope(compiled.from_clause)
    measured = [name for name, spec in part.fields.items() if not isinstance(spec, Const)]
    present = {name: _present(compiled.values[name]) for name in measured}
    names = [name for name in measured if present[name] is not None]
    stmt = (
        select(func.count(), *(func.count(present[name]) for name in names))
        .select_from(compiled.from_clause)
        .where(*compiled.row_conditions)
    )
    async with gate:
        (totals,) = await source.fetch(stmt)
    rows = int(totals[0])
    non_null = dict(zip(names, (int(v) for v in totals[1:]), strict=True))
    results: list[FieldQuality] = []
    for name, spec in part.fields.items():
        quality = FieldQuality(
            entity=part.entity,
            part=part.name,
            table=part.table,
            field=name,
            columns=_columns(spec),
            mapped=True,
            rows=rows,
            non_null=rows if isinstance(spec, Const) else non_null.get(name, 0),
            constant=isinstance(spec, Const),
            coverage=None if isinstance(spec, Const) else _coverage(mapping, part.entity, name, spec),
            line=_line(mapping, part.path(name)),
        )
        results.append(quality)
    details = [
        _detail(source, compiled, scope, q, part.fields[q.field], today, gate)
        for q in results
        if not q.constant
    ]
    await asyncio.gather(*details)
    for name in national_fields(part.entity):
        if name not in part.fields and name not in OPTIONAL_ALTERNATIVES:
            results.append(
                FieldQuality(part.entity, part.name, part.table, name, (), False, rows=rows, non_null=0)
            )
    if not results:
        results.append(FieldQuality(part.entity, part.name, part.table, "key", (part.key,), True, rows, rows))
    return results


def _present(value: FieldValue) -> ColumnElement[Any] | None:
    """An expression that is non-NULL exactly when the field has a national value."""
    if value.is_constant:
        return None
    if value.lookup is not None:
        readable = value.lookup.keys_where(lambda _code: True)
        return case((value.lookup.key.in_(readable), 1), else_=None) if readable else literal(None)
    if value.empty_reads_as is not None and value.sql is not None:
        # An empty source value reads as UNKNOWN (or OTHER): a value in records, none in the source.
        if value.from_child or not value.raw:
            # Values of a child table: a row without one known code reads as that name too.
            return case((value.sql == value.empty_reads_as, None), else_=1)
        raw = value.raw[0]
        return case((or_(raw.is_(None), text_of(raw) == ""), None), else_=1)
    return value.sql


def _line(mapping: SourceMapping, path: tuple[str | int, ...]) -> int | None:
    return mapping.locator.line_of(path) if mapping.locator is not None else None


def _columns(spec: FieldSpec) -> tuple[str, ...]:
    if isinstance(spec, Column):
        return (str(spec.ref),)
    if isinstance(spec, ChildValues):
        return (f"{spec.table}.{spec.column}",)
    if isinstance(spec, RegionSpec):
        refs = (spec.code, spec.regency_name, spec.province_name)
        return tuple(str(r) for r in refs if r is not None)
    if isinstance(spec, LatestOf):
        return (f"{spec.entity}.{spec.field}",)
    return ()


def _scope(from_clause: FromClause) -> dict[str, FromClause]:
    """Tables of a part's FROM clause by their table name (joined tables are aliased)."""
    scope: dict[str, FromClause] = {}

    def walk(node: Any) -> None:
        if isinstance(node, Join):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Alias) and isinstance(node.element, Table):
            scope[node.element.name] = node
        elif isinstance(node, Table):
            scope[node.name] = node

    walk(from_clause)
    return scope


def _raw(scope: dict[str, FromClause], compiled: CompiledPart, ref: ColumnRef) -> ColumnElement[Any] | None:
    table = scope.get(ref.table or compiled.part.table)
    return table.c.get(ref.column) if table is not None else None


async def _detail(
    source: MappedSQLSource,
    compiled: CompiledPart,
    scope: dict[str, FromClause],
    quality: FieldQuality,
    spec: FieldSpec,
    today: date,
    gate: asyncio.Semaphore,
) -> None:
    """Fill in unmapped values, parse failures and suspicious values of one field."""
    kind = field_kind(compiled.part.entity, quality.field)
    value = compiled.values[quality.field]
    try:
        async with gate:
            if value.lookup is not None:
                await _lookups(source, compiled, quality, value, isinstance(spec, RegionSpec))
            elif isinstance(spec, ChildValues):
                await _child_codes(source, compiled, quality, spec, kind)
            elif isinstance(spec, Column):
                raw = value.raw[0]
                if kind.kind in ("date", "int", "bool") or spec.clean:
                    await _unparsed(source, compiled, quality, value, raw)
                if kind.kind == "date":
                    await _dates(source, compiled, quality, value.sql, today)
                elif quality.field == "nik":
                    await _niks(source, compiled, quality, value.sql if spec.clean else raw)
                elif spec.split:
                    await _split_codes(source, compiled, quality, raw, spec, kind)
                elif isinstance(kind.kind, type) or spec.codes:
                    await _codes(source, compiled, quality, raw, spec.codes, kind)
            if quality.field == "birth_date":
                await _born_after_report(source, compiled, quality)
    except SourceError as exc:
        quality.error = f"could not be measured ({type(exc).__name__})"


def _where(compiled: CompiledPart, *conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    return [*compiled.row_conditions, *conditions]


async def _grouped(
    source: MappedSQLSource,
    compiled: CompiledPart,
    key: Sequence[ColumnElement[Any]],
    *conditions: ColumnElement[bool],
    example: ColumnElement[Any] | None = None,
    from_clause: FromClause | None = None,
) -> tuple[list[Sequence[Any]], bool]:
    """``SELECT key…, count(*) [, min(example)] … GROUP BY key…`` by descending count."""
    columns: list[Any] = [*key, func.count()]
    if example is not None:
        columns.append(func.min(cast(example, String)))
    stmt = (
        select(*columns)
        .select_from(from_clause if from_clause is not None else compiled.from_clause)
        .where(*conditions)
        .group_by(*key)
        .order_by(func.count().desc(), *key)
        .limit(MAX_GROUPS + 1)
    )
    rows = await source.fetch(stmt)
    return rows[:MAX_GROUPS], len(rows) > MAX_GROUPS


def _fallback_of(kind: FieldKind, table: dict[str, tuple[str, ...]] | None) -> str | None:
    if table and DEFAULT_CODE in table:
        return "/".join(table[DEFAULT_CODE])
    if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
        members = kind.kind.__members__
        return next((n for n in ("UNKNOWN", "OTHER") if n in members), None)
    return None


def _known_values(kind: FieldKind, table: dict[str, tuple[str, ...]] | None) -> list[str]:
    if table is not None:
        return [k for k in table if k != DEFAULT_CODE]
    if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
        return list(kind.kind.__members__)
    return []


def _keep_unmapped(quality: FieldQuality, rows: Sequence[Sequence[Any]], maps_to: str | None) -> None:
    quality.unmapped_count = sum(int(r[1]) for r in rows)
    quality.unmapped = [
        ValueCount(None if quality.personal else str(r[0]), int(r[1]), maps_to) for r in rows[:TOP_VALUES]
    ]


async def _codes(
    source: MappedSQLSource,
    compiled: CompiledPart,
    quality: FieldQuality,
    raw: ColumnElement[Any],
    code_list: str | None,
    kind: FieldKind,
) -> None:
    table = dict(source.mapping.codes.get(code_list, {})) if code_list else None
    known = _known_values(kind, table)
    if table is None and not known:
        return  # free text: nothing to map
    text = text_of(raw)
    unknown = text.not_in(known) if known else true()
    rows, quality.truncated = await _grouped(
        source, compiled, [text], *_where(compiled, raw.is_not(None), text != "", unknown)
    )
    _keep_unmapped(quality, rows, _fallback_of(kind, table))


async def _child_codes(
    source: MappedSQLSource, compiled: CompiledPart, quality: FieldQuality, spec: ChildValues, kind: FieldKind
) -> None:
    child = source.tables.get(spec.table)
    if child is None:
        return
    table = dict(source.mapping.codes.get(spec.codes, {})) if spec.codes else None
    known = _known_values(kind, table)
    raw = child.c[spec.column]
    text = func.trim(cast(raw, String))
    parents = select(compiled.key_column).select_from(compiled.from_clause).where(*compiled.row_conditions)
    conditions = [child.c[spec.key].in_(parents), raw.is_not(None)]
    if known:
        conditions.append(text.not_in(known))
    rows, quality.truncated = await _grouped(source, compiled, [text], *conditions, from_clause=child)
    _keep_unmapped(quality, rows, _fallback_of(kind, table))


async def _unparsed(
    source: MappedSQLSource,
    compiled: CompiledPart,
    quality: FieldQuality,
    value: FieldValue,
    raw: ColumnElement[Any],
) -> None:
    """Source values that are present but read as NULL: counted, with their shapes.

    A *shape* replaces digits with ``9`` and letters with ``a`` (``'7 Juli 1980'`` →
    ``'9 aaaa 9999'``), so the report can say what the failing values look like without
    showing them — personal fields are reported by shape only.
    """
    assert value.sql is not None
    text = text_of(raw)
    rows, quality.truncated = await _grouped(
        source, compiled, [text], *_where(compiled, raw.is_not(None), text != "", value.sql.is_(None))
    )
    quality.parse_failures = sum(int(r[1]) for r in rows)
    if quality.personal:
        shapes: dict[str, int] = {}
        for row in rows:
            shapes[shape_of(str(row[0]))] = shapes.get(shape_of(str(row[0])), 0) + int(row[1])
        ranked = sorted(shapes.items(), key=lambda item: (-item[1], item[0]))
        quality.parse_examples = [ValueCount(f"shaped {s}", n) for s, n in ranked[:TOP_VALUES]]
    else:
        quality.parse_examples = [ValueCount(str(r[0]), int(r[1])) for r in rows[:TOP_VALUES]]
    quality.failing_values = [(str(r[0]), int(r[1])) for r in rows]


def shape_of(text: str) -> str:
    """``'7 Juli 1980'`` → ``'9 aaaa 9999'``: digits as 9, letters as a, the rest kept."""
    return "".join("9" if c.isdigit() else ("a" if c.isalpha() else c) for c in text)


async def _dates(
    source: MappedSQLSource,
    compiled: CompiledPart,
    quality: FieldQuality,
    iso: ColumnElement[Any] | None,
    today: date,
) -> None:
    """Counts of dates in the future and before 1900 (parsed dates only), in one statement."""
    assert iso is not None

    def tally(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    stmt = (
        select(tally(iso > today.isoformat()), tally(iso < EARLIEST_PLAUSIBLE.isoformat()))
        .select_from(compiled.from_clause)
        .where(*_where(compiled, iso.is_not(None)))
    )
    (counts,) = await source.fetch(stmt)
    future, ancient = (int(v) for v in counts)
    if future:
        quality.suspicious.append(ValueCount("in the future", future))
    if ancient:
        quality.suspicious.append(ValueCount(f"before {EARLIEST_PLAUSIBLE.year}", ancient))


def _sql(compiled: CompiledPart, name: str) -> ColumnElement[Any] | None:
    value = compiled.values.get(name)
    return None if value is None or value.is_constant else value.sql


async def _born_after_report(source: MappedSQLSource, compiled: CompiledPart, quality: FieldQuality) -> None:
    born = _sql(compiled, "birth_date")
    at = _sql(compiled, "age_at")
    if born is None or at is None:
        return
    stmt = (
        select(func.count())
        .select_from(compiled.from_clause)
        .where(*_where(compiled, born.is_not(None), at.is_not(None), born > at))
    )
    (row,) = await source.fetch(stmt)
    if row[0]:
        quality.suspicious.append(ValueCount("born after the report date", int(row[0])))


async def _lookups(
    source: MappedSQLSource, compiled: CompiledPart, quality: FieldQuality, value: FieldValue, region: bool
) -> None:
    """Region or country values the lookup cannot read (null), and names read approximately."""
    lookup = value.lookup
    assert lookup is not None
    rows, quality.truncated = await _grouped(
        source, compiled, [lookup.key], *_where(compiled, *(r.is_not(None) for r in value.raw[:1]))
    )
    index = reference.regions()
    unmapped: list[Sequence[Any]] = []
    for row in rows:
        key, count = row[0], int(row[1])
        code = lookup.read(key)
        name, _, province_name = str(key).partition(VALUE_SEPARATOR)
        if code is None:
            if name.strip():
                unmapped.append((name if not province_name else f"{name} ({province_name})", count))
            continue
        if region and not any(r is not None for r in (_exact(index, name, province_name, code),)):
            region_found = index.by_code(code)
            shown = f"{code} {region_found.name}" if region_found is not None else code
            quality.approximate.append(ValueCount(name, count, shown))
    quality.approximate.sort(key=lambda v: (-v.count, v.value or ""))
    del quality.approximate[TOP_VALUES:]
    _keep_unmapped(quality, unmapped, None)


def _exact(index: Any, name: str, province_name: str, code: str) -> str | None:
    """``code`` when ``name`` is an exact spelling of it (a code, or an official name form)."""
    if index.by_code(name) is not None:
        return code
    found = index.find_regency(name, province_name=province_name or None)
    return code if found is not None and found.code == code else None


async def _split_codes(
    source: MappedSQLSource,
    compiled: CompiledPart,
    quality: FieldQuality,
    raw: ColumnElement[Any],
    spec: Column,
    kind: FieldKind,
) -> None:
    """Cells with a code the list does not know (split fields: one token or more)."""
    assert spec.split is not None
    table = dict(source.mapping.codes.get(spec.codes, {})) if spec.codes else None
    known = _known_values(kind, table)
    leftover = leftover_tokens(wrapped_tokens(raw, spec.split), spec.split, known)
    conditions = [raw.is_not(None), leftover != ""]
    if split_service_type(compiled.part) is spec:
        # The part has a row per code of the cell: count the cell once, on the one row its
        # unknown codes became (keyed ``#*``), not once per service it holds.
        conditions.append(compiled.key_column.endswith("#" + DEFAULT_CODE, autoescape=True))
    rows, quality.truncated = await _grouped(source, compiled, [text_of(raw)], *_where(compiled, *conditions))
    _keep_unmapped(quality, rows, _fallback_of(kind, table))


async def _niks(
    source: MappedSQLSource, compiled: CompiledPart, quality: FieldQuality, raw: ColumnElement[Any]
) -> None:
    text = func.trim(cast(raw, String))
    provinces = [r.code for r in reference.regions().provinces]
    months = [f"{m:02d}" for m in range(1, 13)]
    days = [f"{d:02d}" for d in (*range(1, 32), *range(41, 72))]
    reason = case(
        (func.length(text) != 16, "not 16 characters"),
        (not_(DigitsOnly(text)), "not only digits"),
        (func.substr(text, 1, 2).not_in(provinces), "unknown province code"),
        (func.substr(text, 9, 2).not_in(months), "impossible birth month"),
        (func.substr(text, 7, 2).not_in(days), "impossible birth day"),
        (func.substr(text, 13, 4) == "0000", "serial number 0000"),
        else_=None,
    )
    rows, _ = await _grouped(source, compiled, [reason], *_where(compiled, raw.is_not(None), text != ""))
    problems = sorted(
        (ValueCount(str(r[0]), int(r[1])) for r in rows if r[0] is not None),
        key=lambda v: (-v.count, v.value),
    )
    quality.invalid_niks = sum(v.count for v in problems)
    quality.nik_problems = problems


# --- coverage of the national vocabulary -----------------------------------------------------


def _coverage(mapping: SourceMapping, entity: Entity, name: str, spec: FieldSpec) -> Coverage | None:
    kind = field_kind(entity, name)
    if not (isinstance(kind.kind, type) and issubclass(kind.kind, Labelled)):
        return None
    enum_cls = kind.kind
    produced: set[str] = set()
    if isinstance(spec, Const):
        produced.add(spec.value)
    elif isinstance(spec, LatestOf):
        target = {"stage_event": Entity.STAGE_EVENT}.get(spec.entity)
        for other in mapping.parts_of(target) if target else ():
            other_spec = other.fields.get(spec.field)
            if other_spec is not None:
                inner = _coverage(mapping, other.entity, spec.field, other_spec)
                produced.update(inner.covered if inner else ())
        if spec.default:
            produced.add(spec.default)
    else:
        codes = getattr(spec, "codes", None)
        if codes is None:
            produced.update(enum_cls.__members__)
        else:
            for values in mapping.codes.get(codes, {}).values():
                produced.update(values)
    relevant = [m for m in enum_cls.__members__ if m != "UNKNOWN"]
    produced_names = {_member_name(enum_cls, v) for v in produced}
    covered = tuple(m for m in relevant if m in produced_names)
    missing = tuple(m for m in relevant if m not in produced_names)
    return Coverage(enum_cls.__name__, covered, missing)


def _member_name(enum_cls: type[Labelled], value: str) -> str | None:
    try:
        return enum_cls.parse(value).name
    except ValueError:
        return None
