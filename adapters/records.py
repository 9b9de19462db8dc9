"""Rows of a compiled part → national records (CaseRecord, PersonRecord, …).

A row that cannot be read is skipped and counted, never fatal; a batch in which no row can be
read means the source returns garbage (:class:`SourceDataError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adapters.base import SourceDataError
from adapters.compiler import CompiledPart
from hub.vocabulary.model import (
    AgeGroup,
    CaseRecord,
    Entity,
    ExploitationType,
    PersonRecord,
    Record,
    RestitutionRecord,
    ServiceRecord,
    ServiceStatus,
    Sex,
    StageEventRecord,
    TraffickingMeans,
)


class RowReader:
    """Builds records of one source from rows of its compiled parts' SELECTs."""

    def __init__(self, source: str) -> None:
        self.source = source
        #: Rows skipped because they could not be read at all (counted, never fatal).
        self.skipped_rows = 0

    def read(self, compiled: CompiledPart, rows: Sequence[Sequence[Any]]) -> list[Record]:
        build = _BUILDERS[compiled.part.entity]
        records: list[Record] = []
        for row in rows:
            try:
                values = {name: reader(row) for name, reader in compiled.readers}
                records.append(build(self.source, compiled.record_key(row[0]), values))
            except (TypeError, ValueError, AttributeError, KeyError):
                self.skipped_rows += 1
        if rows and not records:
            raise SourceDataError(f"source {self.source!r}: rows of {compiled.part.name!r} cannot be read")
        return records


def _build_case(source: str, key: str, v: dict[str, Any]) -> CaseRecord:
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
    # Age band and child flag are computed in SQL (adapters.values): filters and statistics
    # use the very same expressions.
    return PersonRecord(
        source=source,
        key=key,
        case_key=v.get("case_key"),
        roles=v.get("roles") or (),
        sex=v.get("sex") or Sex.UNKNOWN,
        age_group=v.get("age_group") or AgeGroup.UNKNOWN,
        is_child=v.get("is_child"),
        citizenship=v.get("citizenship"),
        domicile_region=v.get("domicile_region"),
        full_name=v.get("full_name"),
        nik=v.get("nik"),
        birth_date=v.get("birth_date"),
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
