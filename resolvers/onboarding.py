"""Onboarding over GraphQL: ``registerSource``, ``approveSource``, ``rejectSource``,
``removeSource`` and ``pendingSources`` (admins), and ``dataQuality``.

The mutations are thin: :mod:`hub.engine.onboarding` checks, keeps for approval, approves and
activates (or activates nothing). Four eyes: ``registerSource`` only files the registration;
another admin's ``approveSource`` makes it serve. Each registration, approval, rejection and
removal is written to the audit chain (record id ``source:<name>``, field ``source.<action>``).
A registration whose check fails is *not* a GraphQL error — the operation worked and its answer
is "not activated" with the findings, each at its mapping line — while a request that cannot
even be checked (bad name, URL outside the allow-list, both mapping and adapter) is
``BAD_USER_INPUT``. The connection URL goes in and never comes back out: no type has a URL
field, and findings show the *shapes* of source values (``9{16}``), never the values.

``dataQuality`` measures every mapped source in its own database (:mod:`adapters.quality`),
concurrently, through the federation engine (timeouts, partial results, ``extensions.sources``).
It returns counts and code values only, never personal data.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access.audit import AuditLog, AuditUnavailable
from hub.access.policy import PersonalRead, Principal
from hub.engine import quality as measuring
from hub.engine.federation import Federation
from hub.engine.onboarding import (
    CheckReport,
    RegistrationOutcome,
    RegistrationRefused,
    RegistrationRequest,
    StoreUnavailable,
    approve_source,
    pending_sources,
    register_source,
    reject_source,
    remove_source,
    shape,
)
from hub.engine.registration import Pending, Registration
from hub.engine.sources import RegisteredSource
from resolvers import enums, types
from resolvers.context import optional_context
from resolvers.convert import agency_of, source_info
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


def _shapes(items: list[measuring.ValueCount]) -> list[ValueCount]:
    """Values as their shapes (``9{16}``): registration findings never show a source value."""
    return [ValueCount(value=shape(v.value), count=v.count, maps_to=v.maps_to) for v in items]


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
        "unmapped_value, parse_failure, invalid_nik, suspicious_value, approximate_match, personal_data "
        "(personal data mapped into a non-personal field) (Jenis temuan)."
    )
    message: str = strawberry.field(description="What is wrong, in words (Pesan).")
    line: int | None = strawberry.field(description="Line of the mapping file it is about (Baris).")
    field: str | None = strawberry.field(
        description="The part and national field, e.g. `person:korban.sex` (Kolom nasional)."
    )
    count: int | None = strawberry.field(description="Rows concerned (Jumlah baris).")
    examples: list[ValueCount] = strawberry.field(
        description="The most frequent values concerned, as shapes (`A` upper-case, `a` lower-case, "
        "`9` digit, `{n}` repeats: `9{16}`), never the values themselves (Contoh, sebagai pola)."
    )


def _findings(report: CheckReport) -> list[CheckFinding]:
    return [
        CheckFinding(
            severity=FindingSeverity[f.severity.upper()],
            kind=f.kind,
            message=f.message,
            line=f.line,
            field=f.field,
            count=f.count,
            examples=_shapes(f.examples),
        )
        for f in report.findings
    ]


def _stored_findings(findings: list[dict[str, Any]]) -> list[CheckFinding]:
    """The findings kept with a pending registration (already reduced to shapes)."""
    return [
        CheckFinding(
            severity=FindingSeverity[str(f["severity"]).upper()],
            kind=f["kind"],
            message=f["message"],
            line=f.get("line"),
            field=f.get("field"),
            count=f.get("count"),
            examples=[
                ValueCount(value=e.get("shape"), count=e.get("count", 0), maps_to=e.get("mapsTo"))
                for e in f.get("examples", [])
            ],
        )
        for f in findings
    ]


# --- mutations ----------------------------------------------------------------------------------


@strawberry.input(description="An agency database to register without a restart (Pendaftaran sumber data).")
class RegisterSourceInput:
    name: str = strawberry.field(description="Source name: lower-case letters, digits, `_` (Nama sumber).")
    url: str = strawberry.field(
        description="Database URL (`postgresql://…` or `sqlite:///…`); stored in the hub's "
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


@strawberry.type(
    description="Result of `registerSource` and `approveSource` (Hasil pendaftaran sumber data)."
)
class RegisterSourcePayload:
    activated: bool = strawberry.field(
        description="True when the source now serves (after `approveSource`); false: it waits for approval "
        "or failed the check (Aktif)."
    )
    pending: bool = strawberry.field(
        description="True when the registration passed the check and waits for another admin's "
        "`approveSource` (Menunggu persetujuan)."
    )
    revision: str | None = strawberry.field(
        description="The registration's revision: pass it to `approveSource` to approve exactly what was "
        "reviewed (Revisi)."
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


@strawberry.type(description="A registration waiting for a second admin (Pendaftaran menunggu persetujuan).")
class PendingSource:
    name: str = strawberry.field(description="Source name (Nama sumber).")
    revision: str = strawberry.field(description="Revision to pass to `approveSource` (Revisi).")
    registered_by: str = strawberry.field(description="The admin who registered it (Pendaftar).")
    registered_at: str = strawberry.field(description="When, UTC ISO 8601 (Waktu pendaftaran).")
    mapping_file_name: str | None = strawberry.field(description="The mapping's file name (Berkas pemetaan).")
    adapter: str | None = strawberry.field(description="The Python adapter, if not a mapping (Adaptor).")
    findings: list[CheckFinding] = strawberry.field(
        description="What the check found, `personal_data` flags included: read before approving (Temuan)."
    )


def _pending(waiting: Pending) -> PendingSource:
    registration = waiting.registration
    return PendingSource(
        name=registration.name,
        revision=registration.revision,
        registered_by=registration.registered_by,
        registered_at=registration.registered_at,
        mapping_file_name=registration.mapping_name,
        adapter=registration.adapter,
        findings=_stored_findings(waiting.findings),
    )


@strawberry.type(description="Result of `rejectSource` (Hasil penolakan pendaftaran).")
class RejectSourcePayload:
    name: str = strawberry.field(description="The source name asked for (Nama sumber).")
    rejected: bool = strawberry.field(description="True: the pending registration was dropped (Ditolak).")


@strawberry.type(description="Result of `removeSource` (Hasil penghapusan sumber data).")
class RemoveSourcePayload:
    name: str = strawberry.field(description="The source name asked for (Nama sumber).")
    removed: bool = strawberry.field(
        description="True when a registered source of that name was deactivated and deleted (Dihapus)."
    )


def _store_error(exc: StoreUnavailable) -> GraphQLError:
    return GraphQLError(str(exc), extensions={"code": "STORE_UNAVAILABLE"})


async def _audit(
    info: Info, principal: Principal, action: str, name: str, registration: Registration | None
) -> None:
    """Write a source event to the audit chain (record ``source:<name>``, field ``source.<action>``).

    The query hash is the hash of a description of the registration (its revision and the hash
    of its mapping), never of its URL. A change that cannot be audited is reported as an error.
    """
    audit: AuditLog | None = info.context.audit
    if audit is None:
        return
    detail = f"source.{action} {name}"
    if registration is not None:
        mapping = hashlib.sha256(
            (registration.mapping_text or registration.adapter or "").encode()
        ).hexdigest()
        detail += f" revision={registration.revision} mapping-sha256={mapping}"
    try:
        await audit.append(principal, detail, [PersonalRead(f"source:{name}", f"source.{action}", ())])
    except AuditUnavailable:
        raise GraphQLError(
            f"the {action} of {name!r} was done but could not be written to the audit log",
            extensions={"code": "AUDIT_UNAVAILABLE"},
        ) from None


def _register_payload(outcome: RegistrationOutcome) -> RegisterSourcePayload:
    pending = outcome.pending
    return RegisterSourcePayload(
        activated=outcome.activated,
        pending=pending is not None,
        revision=pending.revision if pending is not None else None,
        replaced=outcome.replaced,
        source=source_info(outcome.entry) if outcome.entry is not None else None,
        findings=_findings(outcome.report),
    )


@strawberry.type(description="Changes to the hub: registering agency sources (Perubahan). Admins only.")
class Mutation:
    @strawberry.mutation(
        description="Check a source as `tppo-hub adapter check` does and file it for approval: it serves "
        "only once another admin approves it (`approveSource`); a source that fails the check is not kept "
        "(Daftarkan sumber data). Admins only; the URL must be in the hub's `[registration]` allow-list."
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
        if outcome.pending is not None:
            await _audit(info, principal, "register", request.name, outcome.pending)
        return _register_payload(outcome)

    @strawberry.mutation(
        description="Approve a pending registration: checked again, then it serves at once. Four eyes: "
        "the approving admin must not be the one who registered it (Setujui sumber data). Admins only."
    )
    async def approve_source(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name of the pending registration.")],
        revision: Annotated[
            str | None,
            strawberry.argument(
                description="The revision reviewed (from `pendingSources`): refused if it changed."
            ),
        ] = None,
    ) -> RegisterSourcePayload:
        principal = require_admin(info)
        federation: Federation = info.context.federation
        try:
            outcome = await approve_source(federation.registry, name, principal.subject, revision)
        except RegistrationRefused as exc:
            raise bad_input(str(exc), exc.argument) from None
        except StoreUnavailable as exc:
            raise _store_error(exc) from None
        if outcome.activated:
            registration = (
                await federation.registry.registrations.get(name)
                if federation.registry.registrations
                else None
            )
            await _audit(info, principal, "approve", name, registration)
        return _register_payload(outcome)

    @strawberry.mutation(
        description="Reject a pending registration: it is dropped and the decision recorded (Tolak "
        "pendaftaran). Admins only."
    )
    async def reject_source(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name of the pending registration.")],
        reason: Annotated[
            str | None, strawberry.argument(description="Why, for the record (Alasan).")
        ] = None,
    ) -> RejectSourcePayload:
        principal = require_admin(info)
        federation: Federation = info.context.federation
        if reason is not None and len(reason) > 1000:
            raise bad_input("reason must be at most 1000 characters", "reason")
        try:
            rejected = await reject_source(federation.registry, name, principal.subject, reason)
        except RegistrationRefused as exc:
            raise bad_input(str(exc), exc.argument) from None
        except StoreUnavailable as exc:
            raise _store_error(exc) from None
        await _audit(info, principal, "reject", name, rejected)
        return RejectSourcePayload(name=name, rejected=True)

    @strawberry.mutation(
        description="Deactivate a registered source and delete its registration; queries running keep "
        "their answers (Hapus sumber data). Admins only."
    )
    async def remove_source(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name of the registered source.")],
    ) -> RemoveSourcePayload:
        principal = require_admin(info)
        federation: Federation = info.context.federation
        try:
            removed = await remove_source(federation.registry, name)
        except RegistrationRefused as exc:
            raise bad_input(str(exc), exc.argument) from None
        except StoreUnavailable as exc:
            raise _store_error(exc) from None
        if removed:
            await _audit(info, principal, "remove", name, None)
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
    RESTRICTED = strawberry.enum_value(
        "RESTRICTED",
        description="Not measured for you: the source holds records hidden from your role (protected "
        "witnesses), which whole-table counts would reveal; its own agency's staff see it (Terbatas).",
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


@strawberry.type(description="Data-quality reports of the registered sources, and registrations to review.")
class QualityQueries:
    @strawberry.field(
        description="Registrations waiting for a second admin's approval, with their findings "
        "(Pendaftaran menunggu persetujuan). Admins only."
    )
    async def pending_sources(self, info: Info) -> list[PendingSource]:
        require_admin(info)
        federation: Federation = info.context.federation
        try:
            return [_pending(p) for p in await pending_sources(federation.registry)]
        except StoreUnavailable as exc:
            raise _store_error(exc) from None

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
