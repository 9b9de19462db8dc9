"""The ``statistics`` query: counts grouped by national dimensions, computed in the sources."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access import querysets
from hub.access.cellkey import CellKeys
from hub.access.policy import DEFAULT_K
from hub.access.suppression import TOTAL, TableTooLarge, protect
from hub.engine.federation import Federation, StatisticsResult
from hub.vocabulary import model, reference
from resolvers import enums, selection
from resolvers.access import guard_of
from resolvers.enums import to_model
from resolvers.errors import bad_input
from resolvers.inputs import CaseFilter, engine_filter
from resolvers.linkage_status import LinkageStatus, report_linkage
from resolvers.types import Agency

MAX_DIMENSIONS = 3


@strawberry.type(description="One dimension's value of a statistics row (Nilai dimensi).")
class DimensionValue:
    dimension: enums.Dimension = strawberry.field(description="The dimension (Dimensi).")
    value: str | None = strawberry.field(
        description="National value: enum name, region code, `2023`, `2023-05`, agency code, "
        "`true`/`false`; null where the agency records none (Tidak tercatat)."
    )
    label: str = strawberry.field(description="English label of the value.")
    label_id: str = strawberry.field(description="Indonesian label of the value (Label Bahasa Indonesia).")


@strawberry.type(description="One cell of a statistics table (Baris statistik).")
class StatisticsRow:
    keys: list[DimensionValue] = strawberry.field(
        description="The value of each grouping dimension, in order."
    )
    count: int | None = strawberry.field(description="The count; null when suppressed.")
    suppressed: bool = strawberry.field(
        description="True when the count is withheld to protect individuals (Disembunyikan)."
    )


@strawberry.type(description="Whether a source contributed to an answer (Cakupan sumber).")
class SourceCoverage:
    source: str = strawberry.field(description="The source (agency database).")
    agency: Agency | None = strawberry.field(description="Its agency (Lembaga).")
    status: enums.CoverageStatus = strawberry.field(description="How it took part (Status).")
    excluded_for: list[str] = strawberry.field(
        description="Filter fields it cannot evaluate, when excluded (Kolom filter yang tidak didukung)."
    )


@strawberry.type(description="One agency's victim records and the distinct persons among them.")
class AgencyDoubleCount:
    agency: str = strawberry.field(description="Agency code (Kode lembaga).")
    records: int = strawberry.field(description="Its victim records (Rekam korban).")
    persons: int = strawberry.field(description="Distinct persons among them (Orang berbeda).")


@strawberry.type(description="Persons recorded by both of two agencies (Tumpang tindih).")
class AgencyOverlap:
    agencies: list[str] = strawberry.field(description="The two agency codes.")
    persons: int = strawberry.field(description="Persons recorded by both (Orang yang sama).")


@strawberry.type(
    description="How much adding up agency figures over-counts victims (Penghitungan ganda): "
    "per-agency counts summed versus distinct persons from record linkage."
)
class DoubleCounting:
    record_total: int = strawberry.field(description="Victim records in all agencies (Jumlah rekam).")
    agency_sum: int = strawberry.field(
        description="Sum of each agency's distinct victims: what adding agency reports gives."
    )
    distinct: int = strawberry.field(description="Distinct persons across agencies (Orang berbeda).")
    duplicates: int = strawberry.field(description="agencySum − distinct: persons counted again.")
    ratio: float = strawberry.field(description="agencySum / distinct (1.0 = no double counting).")
    per_agency: list[AgencyDoubleCount] = strawberry.field(description="Per agency (Per lembaga).")
    overlap: list[AgencyOverlap] = strawberry.field(description="Persons shared by each pair of agencies.")


@strawberry.type(description="A statistics table across agencies (Statistik lintas lembaga).")
class Statistics:
    double_counting_value: strawberry.Private[DoubleCounting | None]
    double_counting_allowed: strawberry.Private[bool]

    @strawberry.field(
        description="Victim records per agency versus distinct persons, from record linkage "
        "(Penghitungan ganda). Coordinators only: null with a FORBIDDEN error for other roles."
    )
    def double_counting(self) -> DoubleCounting | None:
        if not self.double_counting_allowed:
            raise GraphQLError("doubleCounting is for coordinators", extensions={"code": "FORBIDDEN"})
        return self.double_counting_value

    measure: enums.Measure = strawberry.field(description="What is counted (Ukuran).")
    dimensions: list[enums.Dimension] = strawberry.field(description="What it is grouped by (Dimensi).")
    rows: list[StatisticsRow] = strawberry.field(
        description="One row per combination of values present; for roles below coordinator none at all "
        "when the table counts fewer than k records."
    )
    total: int | None = strawberry.field(
        description="Distinct records counted (a multi-valued dimension makes rows add up to more); "
        "null when suppressed — for roles below coordinator whenever it is under k, zero included."
    )
    coverage: list[SourceCoverage] = strawberry.field(
        description="Which sources answered, were excluded or failed: the scope of these numbers."
    )
    suppressed: bool = strawberry.field(
        description="True when cells were withheld because they describe fewer than k persons "
        "(k-anonymity with complementary suppression; Disembunyikan)."
    )
    linkage: LinkageStatus | None = strawberry.field(
        description="For distinct-person numbers (measure VICTIMS, doubleCounting): whether the linkage "
        "index behind them is current; null for counts that do not use it (Status penautan)."
    )


def _check(measure: model.Measure, dimensions: tuple[model.Dimension, ...]) -> None:
    if not 1 <= len(dimensions) <= MAX_DIMENSIONS:
        raise bad_input(f"group by 1 to {MAX_DIMENSIONS} dimensions", "groupBy")
    if len(set(dimensions)) != len(dimensions):
        raise bad_input("a dimension is repeated", "groupBy")
    victims = measure in (model.Measure.VICTIM_RECORDS, model.Measure.VICTIMS)
    for dimension in dimensions:
        if dimension in model.PERSON_DIMENSIONS and not victims:
            raise bad_input(f"{dimension.name} describes victims: use VICTIM_RECORDS or VICTIMS", "groupBy")
        if dimension in model.SERVICE_DIMENSIONS and measure is not model.Measure.SERVICES:
            raise bad_input(f"{dimension.name} describes services: use SERVICES", "groupBy")


def label(dimension: model.Dimension, value: str | None, agencies: dict[str, Agency]) -> tuple[str, str]:
    """English and Indonesian labels of a dimension value."""
    if value is None:
        return "Not recorded", "Tidak tercatat"
    enum_of = {
        model.Dimension.EXPLOITATION_TYPE: model.ExploitationType,
        model.Dimension.STAGE: model.CaseStage,
        model.Dimension.SEX: model.Sex,
        model.Dimension.AGE_GROUP: model.AgeGroup,
        model.Dimension.SERVICE_TYPE: model.ServiceType,
    }
    if dimension in enum_of:
        member = enum_of[dimension][value]
        return member.label_en, member.label_id
    if dimension in (model.Dimension.PROVINCE, model.Dimension.REGENCY):
        region = reference.regions().by_code(value)
        return (region.name, region.name) if region else (value, value)
    if dimension is model.Dimension.AGENCY:
        name = agencies[value].name if value in agencies else value
        return name, name
    if dimension is model.Dimension.CHILD:
        return ("Child", "Anak") if value == "true" else ("Adult", "Dewasa")
    return value, value


@strawberry.type(description="Aggregate statistics across agencies.")
class StatisticsQueries:
    @strawberry.field(
        description="Counts grouped by up to three dimensions, computed inside each agency's database "
        "(Statistik). Multi-valued dimensions count a record once per value."
    )
    async def statistics(
        self,
        info: Info,
        measure: Annotated[enums.Measure, strawberry.argument(description="What to count.")],
        group_by: Annotated[list[enums.Dimension], strawberry.argument(description="1 to 3 dimensions.")],
        filter: Annotated[
            CaseFilter | None, strawberry.argument(description="Conditions on the cases.")
        ] = None,
    ) -> Statistics:
        federation: Federation = info.context.federation
        engine_measure = to_model(measure)
        dimensions = tuple(to_model(d) for d in group_by)
        _check(engine_measure, dimensions)
        known = {e.source.agency.code for e in federation.registry.all() if e.source is not None}
        request = model.StatisticsRequest(engine_measure, dimensions, engine_filter(filter, known))
        ctx = info.context.scope
        guard = guard_of(info.context)
        k = guard.statistics_k() if guard is not None else DEFAULT_K
        want_double = selection.selects(selection.selected(info), "Statistics", "doubleCounting")
        allowed = k is None
        want_double = want_double and allowed
        index = info.context.linkage
        if (engine_measure is model.Measure.VICTIMS or want_double) and index is None:
            raise bad_input(
                "distinct persons need the linkage index (the hub's store is not open)", "measure"
            )
        keying: CellKeys | None = info.context.cell_keys if k is not None else None
        if k is not None and keying is None:
            # Fail closed: without its secret the hub cannot perturb, and must not publish exactly.
            raise GraphQLError(
                "statistics are unavailable: disclosure control is not ready",
                extensions={"code": "UNAVAILABLE"},
            )
        if k is not None and guard is not None and guard.restricts_query_sets():
            try:
                await querysets.check(federation, ctx, request, k)
            except querysets.SmallComponent as exc:
                raise bad_input(str(exc), f"filter.{querysets.GRAPHQL_NAME[exc.field]}") from None
        try:
            result = await federation.statistics(
                ctx, request, index=index, double_counting=want_double, keying=keying, disclose_rows=k is None
            )
            published: dict[tuple[str | None, ...], int | None] = dict(result.cells)
            total: int | None = result.total
            suppressed = False
            if k is not None and keying is not None:
                # Complementary suppression is CPU work that grows with the square of the cells
                # (seconds for three dimensions): in a worker thread, so the event loop keeps
                # serving every other caller meanwhile (abuse resistance, issue 12).
                protected = await asyncio.to_thread(
                    protect,
                    result.cells,  # type: ignore[arg-type]
                    k,
                    total=result.total,
                    perturb=_perturbation(keying, result, k),
                )
                published, total, suppressed = protected.cells, protected.total, bool(protected.suppressed)
                if result.total < k:
                    # Fewer than k records, none included: "none" and "a few" look alike, so a
                    # filter pinned to one case cannot test its victims' attributes.
                    total, suppressed = None, True
        except TableTooLarge as exc:
            raise GraphQLError(str(exc), extensions={"code": "QUERY_TOO_COMPLEX"}) from None
        converter = info.context.converter
        agencies = {
            converter.agency(e.name).code: converter.agency(e.name) for e in federation.registry.all()
        }
        rows = []
        # A table of fewer than k records shows no rows at all: which values are present (a
        # suppressed row) would tell "1 to k−1" from "none" about a filter pinned to a few records.
        shown = {} if k is not None and result.total < k else result.cells
        # Each value of a dimension recurs across rows (a province in every year): one key
        # object per distinct value, its labels looked up once (reference data, enums).
        values: dict[tuple[model.Dimension, str | None], DimensionValue] = {}
        for cell in sorted(shown, key=lambda c: tuple((v is None, v or "") for v in c)):
            keys = []
            for dimension, value in zip(dimensions, cell, strict=True):
                key = values.get((dimension, value))
                if key is None:
                    english, indonesian = label(dimension, value, agencies)
                    key = values[(dimension, value)] = DimensionValue(
                        dimension=dimension, value=value, label=english, label_id=indonesian
                    )
                keys.append(key)
            count = published[cell]
            rows.append(StatisticsRow(keys=keys, count=count, suppressed=count is None))
        linkage = None
        if engine_measure is model.Measure.VICTIMS or want_double:
            assert index is not None
            answered = [e["source"] for e in ctx.extension() if e["status"] == "ok"]
            linkage = await report_linkage(
                info.context, index, federation.registry, answered, result.unlinked, exact=k is None
            )
        coverage = [
            SourceCoverage(
                source=entry["source"],
                agency=converter.agency(entry["source"]),
                status=enums.CoverageStatus(entry["status"]),
                excluded_for=entry.get("excludedFor", []),
            )
            for entry in ctx.extension()
        ]
        return Statistics(
            measure=engine_measure,
            dimensions=list(dimensions),
            rows=rows,
            total=total,
            coverage=coverage,
            double_counting_value=_double_counting(result.double_counting),
            double_counting_allowed=allowed,
            suppressed=suppressed,
            linkage=linkage,
        )


def _perturbation(keying: CellKeys, result: StatisticsResult, k: int) -> Callable[[Any, int], int]:
    """The cell-key perturbation of this result's cells and total (:mod:`hub.access.cellkey`)."""
    keys = result.keys or {}

    def perturb(cell: Any, count: int) -> int:
        key = keys.get(cell) if TOTAL not in cell else result.total_key
        return keying.perturb(count, key or 0, floor=k)

    return perturb


def _double_counting(value: Any) -> DoubleCounting | None:
    if value is None:
        return None
    return DoubleCounting(
        record_total=value.record_total,
        agency_sum=value.agency_sum,
        distinct=value.distinct,
        duplicates=value.duplicates,
        ratio=round(value.ratio, 4),
        per_agency=[
            AgencyDoubleCount(agency=a.agency, records=a.records, persons=a.persons) for a in value.per_agency
        ],
        overlap=[AgencyOverlap(agencies=list(pair), persons=n) for pair, n in sorted(value.overlap.items())],
    )
