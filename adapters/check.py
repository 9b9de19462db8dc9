"""The conformance check of a mapping against a live database (``tppo-hub adapter check``).

Before a source is registered, its data officer (and ``registerSource``) wants to know exactly
what does not fit. :func:`check_source` answers in one pass, read-only:

1. the mapping file is read and checked (syntax, keys, code lists), each problem at its line;
2. the database is opened read-only and the tables the mapping names are reflected: every
   table and column must exist (problems located at the line naming them);
3. every column's type is checked against what the field needs (Unix seconds need numbers, a
   ``DD/MM/YYYY`` date needs text, …);
4. each mapped query runs on a sample: every part's SELECT, a page of cases with its count,
   the relations of those cases, and statistics — whatever fails there cannot serve;
5. the data-quality measures of :mod:`adapters.quality` (GROUP BY in the database) list the
   source values with no code mapping (with counts and examples), parse failures, invalid
   NIKs and suspicious dates.

Findings of steps 1–4 are *errors*: the mapping cannot serve. Step 5 gives *warnings* (the
hub serves such data, as UNKNOWN or null) and *info*. Messages never hold the connection URL
(it is shown redacted) nor personal values (see :mod:`adapters.quality`).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from dataclasses import field as default
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import NullType, TypeEngine

from adapters import sqldates
from adapters.base import MappingError, SourceDataError, SourceError
from adapters.engines import EngineOptions, create_readonly_engine, redact_url
from adapters.mapping import (
    Column,
    LocatedMappingError,
    Problem,
    RegionSpec,
    SourceMapping,
    field_kind,
    load_mapping,
    load_mapping_text,
)
from adapters.quality import SourceQuality, ValueCount, measure, shape_of
from adapters.reflect import reflect_tables, tables_named
from adapters.regions import closest_region
from adapters.sql import MappedSQLSource
from hub.vocabulary.model import CaseFilter, CaseSearch, Dimension, Entity, Measure, StatisticsRequest
from hub.vocabulary.relations import CASE_CHILDREN

#: Records read per part in the sample run.
DEFAULT_SAMPLE = 200
#: Share of a field's present values that may fail to parse before the check refuses the
#: mapping (``--max-unparsed``): above it the format (or the alias table) is wrong, not the data.
DEFAULT_MAX_UNPARSED = 0.02

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(slots=True)
class Finding:
    """One thing the check found; ``line`` is the mapping file's line it is about."""

    severity: str
    kind: str
    message: str
    line: int | None = None
    field: str | None = None
    count: int | None = None
    examples: list[ValueCount] = default(default_factory=list)


@dataclass(slots=True)
class CheckReport:
    """Everything :func:`check_source` found, for a terminal (:meth:`render`) or JSON."""

    source: str
    mapping: str
    url: str
    checked_at: datetime
    findings: list[Finding] = default(default_factory=list)
    sampled: dict[str, int] = default(default_factory=dict)
    quality: SourceQuality | None = None

    @property
    def ok(self) -> bool:
        """True when the mapping can serve: no error (warnings are data to fix, not blockers)."""
        return not any(f.severity == ERROR for f in self.findings)

    def exit_code(self, strict: bool = False) -> int:
        """0 when the mapping can serve; 1 when it cannot (or, ``strict``, on any warning)."""
        if not self.ok or (strict and any(f.severity == WARNING for f in self.findings)):
            return 1
        return 0

    def add(self, severity: str, kind: str, message: str, **extra: Any) -> None:
        self.findings.append(Finding(severity, kind, message, **extra))

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    def to_dict(self) -> dict[str, Any]:
        quality = None
        if self.quality is not None:
            quality = {
                "rows": self.quality.rows,
                "fields": [
                    {
                        "entity": q.entity.value,
                        "part": q.part,
                        "field": q.field,
                        "columns": list(q.columns),
                        "mapped": q.mapped,
                        "rows": q.rows,
                        "nonNull": q.non_null,
                        "completeness": q.completeness,
                        "unmapped": q.unmapped_count,
                        "parseFailures": q.parse_failures,
                        "invalidNiks": q.invalid_niks,
                        "coverage": None
                        if q.coverage is None
                        else {
                            "vocabulary": q.coverage.vocabulary,
                            "covered": list(q.coverage.covered),
                            "missing": list(q.coverage.missing),
                        },
                    }
                    for q in self.quality.fields
                ],
            }
        return {
            "source": self.source,
            "mapping": self.mapping,
            "url": self.url,
            "checkedAt": self.checked_at.isoformat(),
            "ok": self.ok,
            "errors": len(self.errors()),
            "warnings": sum(1 for f in self.findings if f.severity == WARNING),
            "findings": [_finding_dict(f) for f in self.findings],
            "sampled": self.sampled,
            "quality": quality,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def render(self, width: int = 110) -> str:
        """A plain-text report for a terminal: findings table, then completeness per part."""
        lines = [
            f"mapping {self.mapping} for source {self.source!r}",
            f"database {self.url}",
            "",
        ]
        if self.findings:
            rows = [
                (
                    f.severity.upper(),
                    str(f.line) if f.line else "",
                    f.field or "",
                    f.message + _examples_text(f.examples),
                    "" if f.count is None else f"{f.count:,}",
                )
                for f in sorted(self.findings, key=_order)
            ]
            lines.extend(_table(("", "line", "field", "finding", "rows"), rows, width))
        else:
            lines.append("no findings")
        if self.quality is not None and self.quality.fields:
            lines.append("")
            lines.append("completeness (% of rows with a value)")
            rows = [
                (
                    f"{q.entity.value}:{q.part}",
                    q.field,
                    ", ".join(q.columns) or "-",
                    "not mapped"
                    if not q.mapped
                    else ("constant" if q.constant else _percent(q.completeness)),
                )
                for q in self.quality.fields
            ]
            lines.extend(_table(("part", "field", "column", "complete"), rows, width))
        errors, warnings = len(self.errors()), sum(1 for f in self.findings if f.severity == WARNING)
        verdict = "OK: the mapping can serve" if self.ok else "FAILED: the mapping cannot serve"
        lines.extend(["", f"{verdict} ({errors} error(s), {warnings} warning(s))"])
        return "\n".join(lines) + "\n"


def _finding_dict(finding: Finding) -> dict[str, Any]:
    data = asdict(finding)
    data["examples"] = [{"value": e.value, "count": e.count, "mapsTo": e.maps_to} for e in finding.examples]
    return data


def _order(finding: Finding) -> tuple[int, int]:
    rank = {ERROR: 0, WARNING: 1, INFO: 2}.get(finding.severity, 3)
    return rank, finding.line or 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _examples_text(examples: Iterable[ValueCount]) -> str:
    shown = [
        f"{e.value!r} ×{e.count:,}" + (f" → {e.maps_to}" if e.maps_to else "")
        for e in examples
        if e.value is not None
    ]
    return f": {', '.join(shown[:5])}" if shown else ""


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], width: int) -> list[str]:
    """Columns sized to their content; the widest one (the message) wraps at ``width``."""
    sizes = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    flexible = max(range(len(header)), key=lambda i: sizes[i])
    fixed = sum(s for i, s in enumerate(sizes) if i != flexible) + 2 * (len(header) - 1)
    sizes[flexible] = max(20, min(sizes[flexible], width - fixed))
    out = ["  ".join(h.ljust(sizes[i]) for i, h in enumerate(header)).rstrip()]
    out.append("  ".join("-" * s for s in sizes))
    for row in rows:
        # Keep "'XX' ×7 → UNKNOWN" together: the glue characters stand in for spaces not to break.
        glued = row[flexible].replace(" ×", "\x00×").replace(" → ", "\x01→\x01")
        chunks = textwrap.wrap(glued, sizes[flexible], break_on_hyphens=False) or [""]
        chunks = [c.replace("\x00", " ").replace("\x01", " ") for c in chunks]
        for n, chunk in enumerate(chunks):
            cells = [
                (chunk if i == flexible else (cell if n == 0 else "")).ljust(sizes[i])
                for i, cell in enumerate(row)
            ]
            out.append("  ".join(cells).rstrip())
    return out


# --- the check ---------------------------------------------------------------------------------


async def check_file(
    path: Path,
    name: str,
    options: EngineOptions,
    base_dir: Path | None = None,
    *,
    sample: int = DEFAULT_SAMPLE,
    max_unparsed: float = DEFAULT_MAX_UNPARSED,
) -> CheckReport:
    """Check the mapping file at ``path`` against the database of ``options`` (then close)."""
    report, source = await check_source(
        lambda: load_mapping(path, name),
        name,
        path.name,
        options,
        base_dir,
        sample=sample,
        max_unparsed=max_unparsed,
    )
    if source is not None:
        await source.close()
    return report


async def check_text(
    text: str,
    name: str,
    origin: str,
    options: EngineOptions,
    base_dir: Path | None = None,
    *,
    sample: int = DEFAULT_SAMPLE,
    max_unparsed: float = DEFAULT_MAX_UNPARSED,
    keep_open: bool = False,
) -> tuple[CheckReport, MappedSQLSource | None]:
    """Check a mapping given as TOML text; with ``keep_open`` the opened source is returned
    (when the check passed) so a registration can activate it without connecting again."""
    report, source = await check_source(
        lambda: load_mapping_text(text, name, origin),
        name,
        Path(origin).name,
        options,
        base_dir,
        sample=sample,
        max_unparsed=max_unparsed,
    )
    if source is not None and not (keep_open and report.ok):
        await source.close()
        source = None
    return report, source


async def check_source(
    load: Any,
    name: str,
    mapping_name: str,
    options: EngineOptions,
    base_dir: Path | None,
    *,
    sample: int = DEFAULT_SAMPLE,
    max_unparsed: float = DEFAULT_MAX_UNPARSED,
) -> tuple[CheckReport, MappedSQLSource | None]:
    """Run the check; returns the report and the open source (None when it could not open).

    ``load`` reads the mapping (a file or text); the caller closes the returned source.
    """
    report = CheckReport(name, mapping_name, redact_url(options.url), datetime.now(UTC))
    try:
        mapping: SourceMapping = load()
    except MappingError as exc:
        _mapping_findings(report, exc, "mapping")
        return report, None
    source = MappedSQLSource(mapping, options, base_dir)
    try:
        await source.open()
    except MappingError as exc:
        _mapping_findings(report, exc, None, mapping)
        # Columns that do exist may also have the wrong type: report everything at once.
        tables = await _reflect(mapping, options, base_dir)
        _check_types(report, mapping, tables)
        return report, None
    except (SourceError, OSError, TimeoutError, ValueError) as exc:
        # The reason is the exception type (and, for a missing SQLite file, its name): a
        # driver's message may quote the URL or the server's internals.
        detail = str(exc) if isinstance(exc, FileNotFoundError) else type(exc).__name__
        report.add(ERROR, "connection", f"cannot open the database ({detail})")
        return report, None
    try:
        _check_types(report, source.mapping, source.tables)
        await _sample(report, source, sample)
        await _unique_keys(report, source)
        if report.ok:
            report.quality = await measure(source)
            _quality_findings(report, report.quality)
            await _refuse_unparsed(report, source, report.quality, max_unparsed)
    except BaseException:
        await source.close()
        raise
    return report, source


def _mapping_findings(
    report: CheckReport, exc: MappingError, kind: str | None, mapping: SourceMapping | None = None
) -> None:
    located = exc.located if isinstance(exc, LocatedMappingError) else [Problem(p) for p in exc.problems]
    for problem in located:
        where = _field_of(mapping, problem.path) or _path_text(problem.path) or None
        report.add(ERROR, kind or _kind_of(problem.message), problem.message, line=problem.line, field=where)


def _field_of(mapping: SourceMapping | None, path: tuple[str | int, ...]) -> str | None:
    """``("person", 0, "sex")`` → ``person:korban.sex``, the form the other findings use."""
    if mapping is None or len(path) < 3 or not isinstance(path[1], int):
        return None
    for parts in mapping.parts.values():
        for part in parts:
            if part.section == path[0] and part.index == path[1]:
                return f"{part.entity.value}:{part.name}.{path[2]}"
    return None


def _path_text(path: tuple[str | int, ...]) -> str:
    """``("person", 0, "sex")`` → ``person[0].sex`` (the key a problem is about)."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else item)
    return text


def _kind_of(message: str) -> str:
    if "does not exist in the database" in message:
        return "missing_table"
    if "column" in message and any(w in message for w in ("does not exist", "no such column", "not found")):
        return "missing_column"
    return "mapping"


# --- column types ----------------------------------------------------------------------------------


def _family(column_type: TypeEngine[Any]) -> str:
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, Numeric | Float):
        return "number"
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, String):
        return "text"
    if isinstance(column_type, NullType):
        return "unknown"
    return "other"


async def _reflect(
    mapping: SourceMapping, options: EngineOptions, base_dir: Path | None
) -> Mapping[str, Table]:
    """The tables of the mapping that exist (for type checks when the source cannot open)."""
    try:
        engine = create_readonly_engine(options, base_dir)
    except (ValueError, OSError):
        return {}
    try:
        tables, _missing = await reflect_tables(engine, tables_named(mapping))
    except (SQLAlchemyError, OSError):
        return {}
    finally:
        await engine.dispose()
    return tables


def _check_types(report: CheckReport, mapping: SourceMapping, tables: Mapping[str, Table]) -> None:
    """Each mapped column's type fits its field (SQLite columns without a type are skipped)."""
    for parts in mapping.parts.values():
        for part in parts:
            for name, spec in part.fields.items():
                kind = field_kind(part.entity, name)
                line = mapping.problem(part.path(name), "").line
                where = f"{part.entity.value}:{part.name}.{name}"
                refs = []
                if isinstance(spec, Column):
                    refs = [spec.ref]
                elif isinstance(spec, RegionSpec):
                    refs = [r for r in (spec.code, spec.regency_name) if r is not None]
                for ref in refs:
                    table = tables.get(ref.table or part.table)
                    column = table.c.get(ref.column) if table is not None else None
                    if column is None:
                        continue
                    family = _family(column.type)
                    if family == "unknown":
                        continue
                    problem = _type_problem(kind.kind, getattr(spec, "format", None), spec, family)
                    if problem is not None:
                        severity, text = problem
                        report.add(
                            severity,
                            "column_type",
                            f"column {ref} is {column.type} ({family}): {text}",
                            line=line,
                            field=where,
                        )


def _type_problem(kind: Any, fmt: str | None, spec: Any, family: str) -> tuple[str, str] | None:
    if kind == "date":
        if fmt == "unix" and family not in ("integer", "number"):
            return ERROR, "Unix timestamps need a numeric column (or another format)"
        if fmt == "DD/MM/YYYY" and family != "text":
            hint = "leave format out" if family in ("date", "datetime") else "check the format"
            return ERROR, f"format DD/MM/YYYY reads text; {hint}"
        iso = fmt in (None, "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS")
        if iso and family in ("integer", "number"):
            return ERROR, 'numbers are not ISO dates; Unix seconds need format = "unix"'
        if iso and family not in ("text", "date", "datetime"):
            return ERROR, "dates need a text, date or timestamp column"
        return None
    if kind == "int" and family not in ("integer", "number"):
        if family == "text":
            return WARNING, "values that are not whole numbers will read as missing"
        return ERROR, "a whole number is expected"
    if kind == "country" and family != "text":
        return ERROR, "country codes and names are text"
    if kind == "region":
        if isinstance(spec, RegionSpec) and spec.code is None and family != "text":
            return ERROR, "region names are text"
        if family not in ("text", "integer", "number"):
            return ERROR, "region codes are text or digits"
    if isinstance(kind, type) and getattr(spec, "codes", None) is None and family != "text":
        return WARNING, "without a code list the column must hold national values (text)"
    return None


# --- sample run ----------------------------------------------------------------------------------


async def _sample(report: CheckReport, source: MappedSQLSource, limit: int) -> None:
    """Run each mapped query on a sample; a query that fails means the mapping cannot serve."""
    skipped_before = source.skipped_rows
    for entity in (Entity.CASE, Entity.PERSON, Entity.SERVICE, Entity.STAGE_EVENT):
        for compiled in source.compiled_parts(entity):
            label = f"{entity.value}:{compiled.part.name}"
            line = source.mapping.problem(compiled.part.path("table"), "").line
            try:
                rows = await source.fetch(compiled.select.order_by(compiled.key_column).limit(limit))
                records = source.read(compiled, rows)
            except SourceDataError:
                report.add(ERROR, "query", "no sampled row could be read as mapped", line=line, field=label)
                continue
            except SourceError as exc:
                report.add(
                    ERROR, "query", f"reading the table failed: {_reason(exc)}", line=line, field=label
                )
                continue
            report.sampled[label] = len(records)
    operations: list[tuple[str, Any]] = [
        ("a page of cases", lambda: source.search_cases(CaseSearch(limit=min(limit, 50)))),
        ("counting cases", lambda: source.count_cases(CaseFilter())),
        (
            "statistics by year",
            lambda: source.aggregate(StatisticsRequest(Measure.CASES, (Dimension.YEAR,))),
        ),
    ]
    if source.supports(Entity.PERSON):
        operations.append(
            (
                "statistics of victims by sex and age group",
                lambda: source.aggregate(
                    StatisticsRequest(Measure.VICTIM_RECORDS, (Dimension.SEX, Dimension.AGE_GROUP))
                ),
            )
        )
    cases: list[Any] = []
    case_line = source.mapping.problem(("case", 0, "table"), "").line
    for label, run in operations:
        try:
            result = await run()
        except (SourceError, ValueError, TypeError, KeyError) as exc:
            report.add(ERROR, "query", f"{label} failed: {_reason(exc)}", line=case_line, field="case")
            continue
        if label == "a page of cases":
            cases = result
    keys = [c.key for c in cases]
    for entity, relation in CASE_CHILDREN:
        if keys and source.supports(entity, relation):
            try:
                await source.children(entity, relation, keys)
            except SourceError as exc:
                report.add(
                    ERROR,
                    "query",
                    f"{entity.value} records of the sampled cases failed: {_reason(exc)}",
                    line=source.mapping.problem((entity.value, 0, "case_key"), "").line,
                    field=entity.value,
                )
    skipped = source.skipped_rows - skipped_before
    if skipped:
        report.add(
            WARNING, "unreadable_rows", "sampled rows that could not be read and were skipped", count=skipped
        )


# --- data quality as findings ---------------------------------------------------------------------


def _quality_findings(report: CheckReport, quality: SourceQuality) -> None:
    for q in quality.fields:
        where = f"{q.entity.value}:{q.part}.{q.field}"
        if q.error:
            report.add(WARNING, "quality", f"{q.error}", line=q.line, field=where)
        if q.unmapped_count:
            target = q.unmapped[0].maps_to if q.unmapped else None
            becomes = f" (read as {target})" if target else " (read as null)"
            region = field_kind(q.entity, q.field).kind == "region"
            report.add(
                WARNING,
                "unmapped_value",
                f"source values with no code mapping{becomes}" + (_region_proposals(q) if region else ""),
                line=q.line,
                field=where,
                count=q.unmapped_count,
                examples=q.unmapped,
            )
        if q.parse_failures:
            report.add(
                WARNING,
                "parse_failure",
                "values that cannot be parsed (read as null)",
                line=q.line,
                field=where,
                count=q.parse_failures,
                examples=q.parse_examples,
            )
        if q.invalid_niks:
            reasons = ", ".join(f"{v.value} ×{v.count:,}" for v in q.nik_problems)
            report.add(
                WARNING,
                "invalid_nik",
                f"NIKs not valid in form: {reasons}",
                line=q.line,
                field=where,
                count=q.invalid_niks,
            )
        for suspicious in q.suspicious:
            report.add(
                WARNING,
                "suspicious_value",
                f"suspicious values: {suspicious.value}",
                line=q.line,
                field=where,
                count=suspicious.count,
            )
        if q.approximate:
            report.add(
                INFO,
                "approximate_match",
                "names read by approximate matching (check they are right)",
                line=q.line,
                field=where,
                count=sum(v.count for v in q.approximate),
                examples=q.approximate,
            )
        if q.truncated:
            report.add(
                INFO,
                "truncated",
                "too many distinct values: only the most frequent were examined",
                field=where,
            )


def _reason(exc: BaseException) -> str:
    """Why a statement failed: the database's own message (literals removed) when there is one."""
    detail = getattr(exc, "detail", None)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


# --- refusals: keys that are not unique, formats that do not fit --------------------------------


async def _unique_keys(report: CheckReport, source: MappedSQLSource) -> None:
    """A key two rows share would give two records one id: the mapping cannot serve."""
    for entity in (Entity.CASE, Entity.PERSON, Entity.SERVICE, Entity.STAGE_EVENT):
        for compiled in source.compiled_parts(entity):
            key = compiled.key_column
            duplicated = (
                select(key)
                .select_from(compiled.from_clause)
                .group_by(key)
                .having(func.count() > 1)
                .subquery()
            )
            stmt = select(func.count()).select_from(duplicated)
            line = source.mapping.problem(
                compiled.part.path("key" if compiled.part.key else "table"), ""
            ).line
            where = f"{entity.value}:{compiled.part.name}"
            try:
                (row,) = await source.fetch(stmt)
            except SourceError as exc:
                report.add(ERROR, "query", f"checking the key failed: {_reason(exc)}", line=line, field=where)
                continue
            if row[0]:
                named = f"key {compiled.part.key!r}" if compiled.part.key else "the synthetic key"
                report.add(
                    ERROR,
                    "duplicate_key",
                    f"{named} is not unique: {row[0]:,} value(s) belong to more than one row, so "
                    "records would share one id (choose a unique column, or leave key out to number rows)",
                    line=line,
                    field=where,
                    count=int(row[0]),
                )


async def _refuse_unparsed(
    report: CheckReport, source: MappedSQLSource, quality: SourceQuality, max_unparsed: float
) -> None:
    """Dates and ages that fail their declared format on more than ``max_unparsed`` of their
    present values: an ERROR naming the failing shapes and the formats that would read them.

    (Region and country names no table reads stay warnings — they are data to fix, and the
    warning proposes aliases; see :func:`_region_proposals`.)"""
    parts = {(c.part.entity, c.part.name): c for e in Entity for c in source.compiled_parts(e)}
    for q in quality.fields:
        kind = field_kind(q.entity, q.field)
        if kind.kind not in ("date", "int"):
            continue
        failures = q.parse_failures
        present = q.non_null + failures
        if not failures or not present or failures / present <= max_unparsed:
            continue
        compiled = parts[(q.entity, q.part)]
        value = compiled.values.get(q.field)
        spec = compiled.part.fields.get(q.field)
        where = f"{q.entity.value}:{q.part}.{q.field}"
        share = f"{failures:,} of {present:,} values ({failures / present:.0%}, more than {max_unparsed:.0%})"
        hint = ""
        if kind.kind == "date" and value is not None and isinstance(spec, Column):
            hint = await _date_proposals(source, compiled, value, spec, q.personal)
            declared = ", ".join(spec.formats or ("YYYY-MM-DD",))
            message = f"{share} do not parse as {declared}{hint}"
        else:
            message = f"{share} are no age (a number, or text like '34 th', '34 tahun', '8 bln')"
        report.add(ERROR, "unparsed", message, line=q.line, field=where, count=failures)


async def _date_proposals(
    source: MappedSQLSource, compiled: Any, value: Any, spec: Column, personal: bool
) -> str:
    """Which other formats read the unparsed values, counted in the database with the very
    SQL that would serve them: ``; values like '7 Juli 1980' ×31 match 'D MMMM YYYY'``."""
    raw = value.raw[0]
    candidates = [f for f in sqldates.CANDIDATES if f not in (spec.formats or ("YYYY-MM-DD",))]
    columns = []
    for fmt in candidates:
        parsed = sqldates.format_expression(raw, fmt)
        columns.append(func.sum(case((parsed.is_not(None), 1), else_=0)))
        columns.append(func.min(case((parsed.is_not(None), cast(raw, String)), else_=None)))
    text = func.trim(cast(raw, String))
    stmt = (
        select(*columns)
        .select_from(compiled.from_clause)
        .where(raw.is_not(None), text != "", value.sql.is_(None))
    )
    try:
        (row,) = await source.fetch(stmt)
    except SourceError:
        return ""
    found = []
    for index, fmt in enumerate(candidates):
        count, example = row[2 * index], row[2 * index + 1]
        if count:
            shown = shape_of(str(example)) if personal else str(example)
            found.append((int(count), fmt, shown))
    if not found:
        return "; no known format reads them: junk to fix in the register, or accept it with --max-unparsed"
    found.sort(key=lambda f: (-f[0], sqldates.CANDIDATES.index(f[1])))
    # Two formats reading the same values (serial day numbers are also valid Unix seconds):
    # keep the first, in the order of sqldates.CANDIDATES (the likelier reading).
    distinct: list[tuple[int, str, str]] = []
    for count, fmt, shown in found:
        if not any(count == c and shown == s for c, _f, s in distinct):
            distinct.append((count, fmt, shown))
    found = distinct[:5]
    described = ", ".join(
        f"values {'shaped' if personal else 'like'} {shown!r} ×{count:,} match {fmt!r}"
        for count, fmt, shown in found
    )
    proposal = json.dumps(
        [*(spec.formats or ("YYYY-MM-DD",)), *(f for _c, f, _s in found)], ensure_ascii=False
    )
    return f"; {described}: format = {proposal}"


def _region_proposals(q: Any) -> str:
    """For the most frequent unread names, the region each most resembles, as aliases to add."""
    proposals = []
    for example in q.unmapped[:3]:
        if example.value is None:
            continue
        name = example.value.split(" (")[0]
        code = closest_region(name)
        if code is not None:
            proposals.append(f"{json.dumps(name, ensure_ascii=False)} = {json.dumps(code)}")
    if not proposals:
        return ""
    return f"; if they mean these regions, add aliases = {{ {', '.join(proposals)} }}"
