"""Onboarding over GraphQL: ``registerSource`` / ``removeSource`` (admins) and ``dataQuality``.

The mutations are thin: :mod:`hub.engine.onboarding` checks, stores and activates (or activates
nothing). A registration whose check fails is *not* a GraphQL error — the operation worked and
its answer is "not activated" with the findings, each at its mapping line — while a request
that cannot even be checked (bad name, URL, both mapping and adapter) is ``BAD_USER_INPUT``.
The connection URL goes in and never comes back out: no type has a URL field, and the
findings name the database only by its redacted URL.

``dataQuality`` measures every mapped source in its own database (:mod:`adapters.quality`),
concurrently, through the federation engine (timeouts, partial results, ``extensions.sources``).
It returns counts and code values only, never personal data.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access.policy import Principal
from hub.engine import quality as measuring
from hub.engine.federation import Federation
from hub.engine.onboarding import (
    CheckReport,
    RegistrationRefused,
    RegistrationRequest,
    StoreUnavailable,
    register_source,
    remove_source,
)
from hub.engine.sources import RegisteredSource, SourceState
from resolvers import enums, types
from resolvers.context import optional_context
from resolvers.convert import agency_of
from resolvers.errors import bad_input

ADMIN_ROLE = "admin"


def require_admin(info: Info) -> Principal:
    """The caller, if an admin; else ``FORBIDDEN``.

    Registering a source changes what every user is served, so only ``admin`` may. The policy
    point (:mod:`hub.access.policy`) lists admin-only *queries*; this is the same rule for these
    mutations, checked here so they stay closed in any schema.
    """
    ctx = optional_context(info.context)
    principal = ctx.principal if ctx is not None else None
    if not isinstance(principal, Principal) or principal.role != ADMIN_ROLE:
        raise GraphQLError("only admins may register or remove sources", extensions={"code": "FORBIDDEN"})
    return principal


# --- shared types -------------------------------------------------------------------------------


@strawberry.type(description="A value found in a source and how many rows hold it (Nilai dan jumlah).")
class ValueCount:
    value: str | None = strawberry.field(
        description="The source's value, or the reason counted; null for personal fields (Nilai)."
    )
    count: int = strawberry.field(description="Rows holding it (Jumlah baris).")
    maps_to: str | None = strawberry.field(
        description="What the hub reads it as: a code-list default, UNKNOWN/OTHER, a region (Dibaca sebagai)."
    )


def _values(items: list[measuring.ValueCount]) -> list[ValueCount]:
    return [ValueCount(value=v.value, count=v.count, maps_to=v.maps_to) for v in items]


@strawberry.enum(description="How serious a finding of the mapping check is (Tingkat temuan).")
class FindingSeverity(enum.Enum):
    ERROR = strawberry.enum_value("ERROR", description="The mapping cannot serve until fixed (Galat).")
    WARNING = strawberry.enum_value(
        "WARNING", description="Data served as UNKNOWN or null: fix the data or the code list (Peringatan)."
    )
    INFO = strawberry.enum_value("INFO", description="Worth a look, e.g. approximate name matches (Info).")


@strawberry.type(description="One finding of the mapping check (Temuan pemeriksaan pemetaan).")
class CheckFinding:
    severity: FindingSeverity = strawberry.field(description="How serious it is (Tingkat).")
    kind: str = strawberry.field(
        description="What kind: mapping, missing_table, missing_column, column_type, connection, query, "
        "unmapped_value, parse_failure, invalid_nik, suspicious_value, approximate_match (Jenis temuan)."
    )
    message: str = strawberry.field(description="What is wrong, in words (Pesan).")
    line: int | None = strawberry.field(description="Line of the mapping file it is about (Baris).")
    field: str | None = strawberry.field(
        description="The part and national field, e.g. `person:korban.sex` (Kolom nasional)."
    )
    count: int | None = strawberry.field(description="Rows concerned (Jumlah baris).")
    examples: list[ValueCount] = strawberry.field(description="The most frequent values concerned (Contoh).")


def _findings(report: CheckReport) -> list[CheckFinding]:
    return [
        CheckFinding(
            severity=FindingSeverity[f.severity.upper()],
            kind=f.kind,
            message=f.message,
            line=f.line,
            field=f.field,
            count=f.count,
            examples=_values(f.examples),
        )
        for f in report.findings
    ]


def _source_info(entry: RegisteredSource) -> types.SourceInfo:
    source = entry.source
    return types.SourceInfo(
        name=entry.name,
        agency=agency_of(entry) if source is not None else None,
        description=source.description if source is not None else "",
        status=enums.SourceStatus.UP if entry.state is SourceState.UP else enums.SourceStatus.DOWN,
        detail=entry.detail,
        last_checked_at=entry.last_checked_at,
        breaker=enums.BreakerStatus[entry.breaker.state.name],
        entities=sorted(
            (enums.EntityKind[e.name] for e in source.capabilities.entities) if source else [],
            key=lambda k: k.name,
        ),
    )


# --- mutations ----------------------------------------------------------------------------------


@strawberry.input(description="An agency database to register without a restart (Pendaftaran sumber data).")
class RegisterSourceInput:
    name: str = strawberry.field(description="Source name: lower-case letters, digits, `_` (Nama sumber).")
    url: str = strawberry.field(
        description="Database URL (`postgresql://…`, `mysql://…`, `sqlite:///…`); stored in the hub's "
        "store, never returned or logged (URL basis data)."
    )
    mapping: str | None = strawberry.field(
        default=None,
        description="The mapping file's TOML text; give this or `adapter` (Isi berkas pemetaan).",
    )
    mapping_file_name: str | None = strawberry.field(
        default=None, description="A file name for the mapping, shown in findings (Nama berkas pemetaan)."
    )
    adapter: str | None = strawberry.field(
        default=None,
        description="A Python adapter's entry-point name (group `tppo_hub.adapters`) instead of a mapping "
        "(Adaptor).",
    )
    schema: str | None = strawberry.field(
        default=None, description="PostgreSQL schema holding the tables (Skema basis data)."
    )
    timeout_seconds: float | None = strawberry.field(
        default=None, description="Per-source timeout in seconds (Batas waktu)."
    )


@strawberry.type(description="Result of `registerSource` (Hasil pendaftaran sumber data).")
class RegisterSourcePayload:
    activated: bool = strawberry.field(
        description="True when the source passed the check and now serves; false: nothing changed (Aktif)."
    )
    replaced: bool = strawberry.field(
        description="True when it replaced an earlier registration of the same name (Menggantikan)."
    )
    source: types.SourceInfo | None = strawberry.field(
        description="The source, when activated (Sumber data)."
    )
    findings: list[CheckFinding] = strawberry.field(
        description="What the check found, errors first in file order (Temuan pemeriksaan)."
    )


@strawberry.type(description="Result of `removeSource` (Hasil penghapusan sumber data).")
class RemoveSourcePayload:
    name: str = strawberry.field(description="The source name asked for (Nama sumber).")
    removed: bool = strawberry.field(
        description="True when a registered source of that name was deactivated and deleted (Dihapus)."
    )




def _store_error(exc: StoreUnavailable) -> GraphQLError:
    return GraphQLError(str(exc), extensions={"code": "STORE_UNAVAILABLE"})


@strawberry.type(description="Changes to the hub: registering agency sources (Perubahan). Admins only.")
class Mutation:
    @strawberry.mutation(
        description="Check a source as `tppo-hub adapter check` does, then store and activate it without "
        "a restart; a source that fails the check activates nothing (Daftarkan sumber data). Admins only."
    )
    async def register_source(
        self,
        info: Info,
        input: Annotated[RegisterSourceInput, strawberry.argument(description="The source to register.")],
    ) -> RegisterSourcePayload:
        principal = require_admin(info)
        federation: Federation = info.context.federation
        request = RegistrationRequest(
            name=input.name,
            url=input.url,
            mapping_text=input.mapping,
            mapping_name=input.mapping_file_name,
            adapter=input.adapter,
            schema=input.schema,
            timeout_seconds=input.timeout_seconds,
        )
        try:
            outcome = await register_source(federation.registry, request, by=principal.subject)
        except RegistrationRefused as exc:
            raise bad_input(str(exc), f"input.{exc.argument}") from None
        except StoreUnavailable as exc:
            raise _store_error(exc) from None
        return RegisterSourcePayload(
            activated=outcome.activated,
            replaced=outcome.replaced,
            source=_source_info(outcome.entry) if outcome.entry is not None else None,
            findings=_findings(outcome.report),
        )

    @strawberry.mutation(
        description="Deactivate a registered source and delete its registration; queries running keep "
        "their answers (Hapus sumber data). Admins only."
    )
    async def remove_source(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name of the registered source.")],
    ) -> RemoveSourcePayload:
        require_admin(info)
        federation: Federation = info.context.federation
        try:
            removed = await remove_source(federation.registry, name)
        except RegistrationRefused as exc:
            raise bad_input(str(exc), exc.argument) from None
        except StoreUnavailable as exc:
            raise _store_error(exc) from None
        return RemoveSourcePayload(name=name, removed=removed)


# --- data quality -------------------------------------------------------------------------------


@strawberry.type(description="Which national values a source's code list can produce (Cakupan daftar kode).")
class VocabularyCoverage:
    vocabulary: str = strawberry.field(description="The national code list, e.g. `Sex` (Kosakata nasional).")
    covered: list[str] = strawberry.field(description="National values the mapping produces (Tercakup).")
    missing: list[str] = strawberry.field(
        description="National values no source code maps to, UNKNOWN aside (Tidak tercakup)."
    )
    ratio: float = strawberry.field(description="Share covered, 0 to 1 (Rasio cakupan).")


@strawberry.type(description="Quality of one national field in one table of a source (Kualitas kolom).")
class FieldQuality:
    entity: enums.EntityKind = strawberry.field(description="Kind of record (Jenis rekaman).")
    part: str = strawberry.field(description="The mapping part, e.g. `korban` (Bagian pemetaan).")
    table: str = strawberry.field(description="The source table (Tabel sumber).")
    field: str = strawberry.field(
        description="The national field, as named in mapping files, e.g. `reported_at` (Kolom nasional)."
    )
    columns: list[str] = strawberry.field(description="Source columns it is read from (Kolom sumber).")
    mapped: bool = strawberry.field(description="False when the mapping does not provide it (Dipetakan).")
    constant: bool = strawberry.field(description="True when the mapping gives one value for all (Konstan).")
    rows: int = strawberry.field(description="Rows of the part the hub serves (Jumlah baris).")
    non_null: int = strawberry.field(description="Rows with a value (Baris terisi).")
    completeness: float | None = strawberry.field(
        description="Percentage of rows with a value, counted in the source; null for an empty table "
        "(Kelengkapan, %)."
    )
    unmapped_count: int = strawberry.field(
        description="Rows whose value no code-list entry knows (Nilai tak terpetakan)."
    )
    unmapped_values: list[ValueCount] = strawberry.field(
        description="The most frequent such values with counts (grouped in the source) and what they became "
        "(Nilai tak terpetakan teratas)."
    )
    parse_failures: int = strawberry.field(
        description="Rows whose value cannot be parsed, e.g. a malformed date (Gagal urai)."
    )
    parse_failure_examples: list[ValueCount] = strawberry.field(
        description="The most frequent unparseable values; none for personal fields (Contoh gagal urai)."
    )
    invalid_niks: int = strawberry.field(description="NIKs that are not valid in form (NIK tidak valid).")
    nik_problems: list[ValueCount] = strawberry.field(
        description="Invalid NIKs by reason, e.g. `not 16 characters` (Alasan NIK tidak valid)."
    )
    suspicious: list[ValueCount] = strawberry.field(
        description="Suspicious values by reason: future dates, before 1900, born after the report, "
        "impossible ages (Nilai mencurigakan)."
    )
    approximate_matches: list[ValueCount] = strawberry.field(
        description="Region names read by approximate matching, with the region chosen (Padanan mirip)."
    )
    coverage: VocabularyCoverage | None = strawberry.field(
        description="For coded fields: how the code list covers the national vocabulary (Cakupan kode)."
    )
    mapping_line: int | None = strawberry.field(
        description="Line of the mapping file that maps this field (Baris pemetaan)."
    )
    error: str | None = strawberry.field(
        description="Why this field could not be measured, if it could not (Galat pengukuran)."
    )


@strawberry.type(description="Rows the hub serves from one part of a source (Jumlah baris per bagian).")
class PartRows:
    entity: enums.EntityKind = strawberry.field(description="Kind of record (Jenis rekaman).")
    part: str = strawberry.field(description="The mapping part (Bagian pemetaan).")
    rows: int = strawberry.field(description="Rows served (Jumlah baris).")


@strawberry.enum(description="Whether a source's quality could be measured (Status pengukuran).")
class QualityStatus(enum.Enum):
    MEASURED = strawberry.enum_value("MEASURED", description="Measured now (Terukur).")
    UNAVAILABLE = strawberry.enum_value(
        "UNAVAILABLE", description="The source did not answer; see the errors (Tidak tersedia)."
    )
    NOT_SUPPORTED = strawberry.enum_value(
        "NOT_SUPPORTED", description="A Python adapter: only mapped sources are measured (Tidak didukung)."
    )


@strawberry.type(
    description="Data-quality report of one source: the standardisation report (Laporan kualitas data)."
)
class SourceQuality:
    source: str = strawberry.field(description="Source name (Nama sumber).")
    agency: types.Agency | None = strawberry.field(description="The agency holding it (Lembaga).")
    status: QualityStatus = strawberry.field(description="Whether it was measured (Status).")
    measured_at: datetime | None = strawberry.field(description="When, UTC (Waktu pengukuran).")
    rows: list[PartRows] = strawberry.field(description="Rows served per part (Jumlah baris).")
    fields: list[FieldQuality] = strawberry.field(description="Per part and national field (Per kolom).")
    unmapped_count: int = strawberry.field(
        description="Rows with a value no code list knows, all fields together (Total tak terpetakan)."
    )
    parse_failures: int = strawberry.field(description="Unparseable values, all fields (Total gagal urai).")
    invalid_niks: int = strawberry.field(description="Invalid NIKs, all parts (Total NIK tidak valid).")


def _field(q: measuring.FieldQuality) -> FieldQuality:
    return FieldQuality(
        entity=enums.EntityKind[q.entity.name],
        part=q.part,
        table=q.table,
        field=q.field,
        columns=list(q.columns),
        mapped=q.mapped,
        constant=q.constant,
        rows=q.rows,
        non_null=q.non_null,
        completeness=q.completeness,
        unmapped_count=q.unmapped_count,
        unmapped_values=_values(q.unmapped),
        parse_failures=q.parse_failures,
        parse_failure_examples=_values(q.parse_examples),
        invalid_niks=q.invalid_niks,
        nik_problems=_values(q.nik_problems),
        suspicious=_values(q.suspicious),
        approximate_matches=_values(q.approximate),
        coverage=None
        if q.coverage is None
        else VocabularyCoverage(
            vocabulary=q.coverage.vocabulary,
            covered=list(q.coverage.covered),
            missing=list(q.coverage.missing),
            ratio=round(q.coverage.ratio, 4),
        ),
        mapping_line=q.line,
        error=q.error,
    )


def _quality(
    entry: RegisteredSource, measured: measuring.SourceQuality | None, status: QualityStatus
) -> SourceQuality:
    fields = [_field(q) for q in measured.fields] if measured else []
    rows = []
    for key, count in (measured.rows if measured else {}).items():
        entity, _, part = key.partition(":")
        rows.append(PartRows(entity=enums.EntityKind[_ENTITY_KIND[entity]], part=part, rows=count))
    return SourceQuality(
        source=entry.name,
        agency=agency_of(entry) if entry.source is not None else None,
        status=status,
        measured_at=measured.measured_at if measured else None,
        rows=rows,
        fields=fields,
        unmapped_count=sum(f.unmapped_count for f in fields),
        parse_failures=sum(f.parse_failures for f in fields),
        invalid_niks=sum(f.invalid_niks for f in fields),
    )


_ENTITY_KIND = {"case": "CASE", "person": "PERSON", "service": "SERVICE", "stage": "STAGE_EVENT"}


@strawberry.type(description="Data-quality reports of the registered sources.")
class QualityQueries:
    @strawberry.field(
        description="Per source, per national field: completeness, values that did not map, parse failures, "
        "invalid NIKs and code-list coverage, measured in each source's database (Kualitas data)."
    )
    async def data_quality(
        self,
        info: Info,
        sources: Annotated[
            list[str] | None, strawberry.argument(description="Only these sources, by name (default: all).")
        ] = None,
    ) -> list[SourceQuality]:
        federation: Federation = info.context.federation
        entries = federation.registry.all()
        if sources is not None:
            known = {e.name for e in entries}
            unknown = sorted(set(sources) - known)
            if unknown:
                raise bad_input(f"unknown source(s): {', '.join(unknown)}", "sources")
            entries = [e for e in entries if e.name in sources]
        ctx = info.context.scope

        async def one(entry: RegisteredSource) -> SourceQuality:
            outcome, measured = await measuring.measure_source(federation, ctx, entry)
            return _quality(entry, measured, QualityStatus[outcome.name])

        return list(await asyncio.gather(*(one(e) for e in entries)))
