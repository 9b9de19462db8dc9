"""The ``indicators`` and ``indicator`` queries: the Task Force's indicators with their metadata.

Thin, like every resolver: the registry and the evaluation live in
:mod:`hub.engine.indicators`; this module translates arguments, applies disclosure control for
roles below coordinator (through :func:`disclose`, the one place that calls it), and turns
figures into GraphQL objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access.cellkey import CellKeys
from hub.access.policy import DEFAULT_K
from hub.access.suppression import TOTAL, TableTooLarge, protect
from hub.engine.federation import Federation
from hub.engine.indicators import builtin_registry
from hub.engine.indicators.evaluate import (
    Block,
    Figure,
    IndicatorEngine,
    IndicatorRequest,
    IndicatorResult,
    IndicatorUnavailable,
    check_request,
)
from hub.engine.indicators.sources import relied_on
from hub.engine.indicators.spec import Frequency, Kind, Theme, Unit
from hub.engine.indicators.spec import Indicator as IndicatorSpec
from hub.vocabulary import model
from resolvers import enums
from resolvers.access import guard_of
from resolvers.enums import to_model
from resolvers.errors import bad_input
from resolvers.inputs import CaseFilter, engine_filter
from resolvers.linkage_status import LinkageStatus, report_linkage
from resolvers.statistics import DimensionValue, label
from resolvers.types import Agency

IndicatorTheme = enums.vocabulary_enum(Theme, "Sub-task force of the national action plan (RAN PP-TPPO).")
IndicatorKind = enums.vocabulary_enum(Kind, "How an indicator is computed (Jenis perhitungan).")
IndicatorUnit = enums.vocabulary_enum(Unit, "Unit of an indicator's value (Satuan).")
IndicatorFrequency = enums.vocabulary_enum(Frequency, "How often it is reported (Frekuensi).")

Cell = tuple[str | None, ...]


#: A count with its cell key (the sum of its persons' or records' keys).
Keyed = tuple[int, int]


def disclose(
    cells: Mapping[Cell, Keyed], k: int | None, total: Keyed | None, keying: CellKeys | None
) -> tuple[dict[Cell, int | None], int | None]:
    """Counts as a caller may see them: exact for ``k`` None, else disclosure-controlled.

    The one call into the access layer's disclosure control for indicators, the same as
    ``statistics``: k-anonymity with complementary suppression decided on the true counts
    (:func:`hub.access.suppression.protect`), and every count that remains perturbed
    consistently by its cell key (:mod:`hub.access.cellkey`), never below k. A table without
    disaggregation is its total alone.
    """
    counts = {cell: n for cell, (n, _) in cells.items()}
    true_total = total[0] if total is not None else None
    if k is None:
        return counts, true_total
    if keying is None:  # fail closed: without the secret nothing is published inexactly-safe
        raise GraphQLError(
            "indicators are unavailable: disclosure control is not ready", extensions={"code": "UNAVAILABLE"}
        )
    keys = {cell: key for cell, (_, key) in cells.items()}
    total_key = total[1] if total is not None else 0

    def perturb(cell: Any, count: int) -> int:
        key = total_key if TOTAL in cell or not cell else keys.get(cell, 0)
        return keying.perturb(count, key, floor=k)

    if not cells or all(len(cell) == 0 for cell in cells):
        if true_total is None or 0 < true_total < k:
            return {cell: None for cell in cells}, None
        shown = perturb((), true_total) if true_total else 0
        return {cell: shown for cell in cells}, shown
    protected = protect(counts, k, total=true_total, perturb=perturb)  # type: ignore[arg-type]
    return dict(protected.cells), protected.total


@strawberry.type(description="A bilingual text (Teks dwibahasa).")
class BilingualText:
    en: str = strawberry.field(description="English.")
    id: str = strawberry.field(description="Bahasa Indonesia.")


@strawberry.type(
    description="Satu Data Indonesia metadata of an indicator (Metadata indikator, Perpres 39/2019)."
)
class IndicatorMetadata:
    concept: BilingualText = strawberry.field(description="Concept (Konsep).")
    definition: BilingualText = strawberry.field(description="Definition (Definisi).")
    formula: str = strawberry.field(description="How it is computed (Rumus/metode perhitungan).")
    unit: IndicatorUnit = strawberry.field(description="Unit (Satuan).")  # type: ignore[valid-type]
    frequency: IndicatorFrequency = strawberry.field(description="Reporting frequency (Frekuensi).")  # type: ignore[valid-type]
    sources: list[Agency] = strawberry.field(
        description="Registered agencies whose data it is computed from (Sumber data / produsen data)."
    )
    reference_codes: list[str] = strawberry.field(
        description="Code lists and reference data used (Kode referensi)."
    )
    classifications: list[enums.Dimension] = strawberry.field(  # type: ignore[valid-type]
        description="Disaggregations it can be presented by (Klasifikasi penyajian)."
    )
    interpretation: BilingualText | None = strawberry.field(description="How to read it (Interpretasi).")
    producer: str = strawberry.field(description="Who publishes it (Walidata/penanggung jawab).")
    legal_basis: str = strawberry.field(description="Legal basis (Dasar hukum).")


@strawberry.type(description="An indicator of the Task Force, as its registry file defines it (Indikator).")
class Indicator:
    id: str = strawberry.field(description="Stable identifier, e.g. `rights.health_rehabilitation`.")
    theme: IndicatorTheme = strawberry.field(description="Sub-task force it reports on (Bidang).")  # type: ignore[valid-type]
    kind: IndicatorKind = strawberry.field(description="How it is computed (Jenis perhitungan).")  # type: ignore[valid-type]
    unit: IndicatorUnit = strawberry.field(description="Unit of its value (Satuan).")  # type: ignore[valid-type]
    name: BilingualText = strawberry.field(description="Name (Nama indikator).")
    definition: BilingualText = strawberry.field(description="Definition (Definisi).")
    population_roles: list[enums.PersonRole] = strawberry.field(  # type: ignore[valid-type]
        description="Person indicators: roles whose distinct persons form the denominator (Populasi)."
    )
    numerator_services: list[enums.ServiceType] = strawberry.field(  # type: ignore[valid-type]
        description="Person indicators: service types the numerator counts (Layanan pembilang)."
    )
    numerator_without: bool = strawberry.field(
        description="True when the numerator counts persons *without* those services (or any service)."
    )
    steps: list[enums.CaseStage] = strawberry.field(  # type: ignore[valid-type]
        description="Funnel and stage indicators: the procedural steps, in order (Tahapan)."
    )
    row_dimension: enums.Dimension | None = strawberry.field(  # type: ignore[valid-type]
        description="The dimension every value row carries (funnel step, agency), if any."
    )
    disaggregations: list[enums.Dimension] = strawberry.field(  # type: ignore[valid-type]
        description="Dimensions `indicator(disaggregateBy:)` accepts (Disagregasi)."
    )
    needs: list[str] = strawberry.field(
        description="Data it needs from the sources: CASE, PERSON, SERVICE, STAGE, STAGE_EVENT, LINKAGE."
    )
    metadata: IndicatorMetadata = strawberry.field(description="Satu Data metadata (Metadata).")


@strawberry.type(description="One value of an indicator (Nilai indikator).")
class IndicatorValue:
    keys: list[DimensionValue] = strawberry.field(
        description="Its row dimension (if any) and disaggregation values, in order; empty for the total."
    )
    numerator: int | None = strawberry.field(
        description="What is counted (Pembilang); null for medians and days, or when suppressed."
    )
    denominator: int | None = strawberry.field(
        description="What it is counted against, or the observations a median is over (Penyebut); "
        "null when suppressed."
    )
    value: float | None = strawberry.field(
        description="The indicator's value in its unit; null when suppressed or undefined (0 / 0)."
    )
    suppressed: bool = strawberry.field(
        description="True when withheld to protect individuals (Disembunyikan)."
    )


@strawberry.type(description="What one source contributed to an indicator (Cakupan sumber).")
class IndicatorCoverage:
    source: str = strawberry.field(description="The source (agency database).")
    agency: Agency | None = strawberry.field(description="Its agency (Lembaga).")
    status: enums.CoverageStatus = strawberry.field(description="How it took part (Status).")
    excluded_for: list[str] = strawberry.field(
        description="Filter fields it cannot evaluate, when excluded (Kolom filter yang tidak didukung)."
    )
    cannot_evaluate: list[str] = strawberry.field(
        description="Parts of this indicator it could not evaluate (e.g. `services`, `stage`, "
        "`stage history`): its data is not counted for them (Tidak dapat dievaluasi)."
    )


@strawberry.type(description="An indicator evaluated over a filter (Hasil indikator).")
class IndicatorResultType:
    indicator: Indicator = strawberry.field(description="The indicator and its metadata.")
    disaggregate_by: list[enums.Dimension] = strawberry.field(  # type: ignore[valid-type]
        description="The disaggregations asked for."
    )
    totals: list[IndicatorValue] = strawberry.field(
        description="The value over everything: one per row-dimension value (funnel step, agency), else one."
    )
    values: list[IndicatorValue] = strawberry.field(
        description="Disaggregated values (empty without `disaggregateBy`); a person falls in every "
        "cell one of their records falls in, so cells can add up to more than the total."
    )
    as_of: date | None = strawberry.field(description="Reference date of FRESHNESS (Tanggal acuan).")
    coverage: list[IndicatorCoverage] = strawberry.field(
        description="Which sources answered, which were excluded, and what each could not evaluate."
    )
    suppressed: bool = strawberry.field(
        description="True when figures were withheld to protect individuals (Disembunyikan)."
    )
    linkage: LinkageStatus | None = strawberry.field(
        description="Person indicators: the state of the record linkage their distinct persons come "
        "from (also in `extensions.linkage`); null for case indicators."
    )


def _text(value: Any) -> BilingualText:
    return BilingualText(en=value.en, id=value.id)


def indicator_type(spec: IndicatorSpec, federation: Federation, agencies: Mapping[str, Agency]) -> Indicator:
    """The GraphQL view of one registry indicator."""
    meta = spec.metadata
    population, numerator = spec.population, spec.numerator
    relied = relied_on(spec, federation.registry)
    return Indicator(
        id=spec.id,
        theme=spec.theme,
        kind=spec.kind,
        unit=spec.unit,
        name=_text(spec.name),
        definition=_text(spec.definition),
        population_roles=[r for r in model.PersonRole if population and r in population.roles],
        numerator_services=[s for s in model.ServiceType if numerator and s in numerator.services],
        numerator_without=bool(numerator and numerator.none),
        steps=list(spec.steps),
        row_dimension=spec.row_dimension,
        disaggregations=list(spec.disaggregations),
        needs=sorted(n.name for n in spec.needs),
        metadata=IndicatorMetadata(
            concept=_text(meta.concept),
            definition=_text(spec.definition),
            formula=meta.formula,
            unit=spec.unit,
            frequency=meta.frequency,
            sources=[agencies[code] for code in relied if code in agencies],
            reference_codes=list(meta.reference_codes),
            classifications=list(spec.disaggregations),
            interpretation=_text(meta.interpretation) if meta.interpretation else None,
            producer=meta.producer,
            legal_basis=spec.legal_basis,
        ),
    )


def _agencies(info: Info) -> dict[str, Agency]:
    federation: Federation = info.context.federation
    converter = info.context.converter
    out: dict[str, Agency] = {}
    for entry in federation.registry.all():
        agency = converter.agency(entry.name)
        out.setdefault(agency.code, agency)
    return out


def _table(block: Block, part: str) -> tuple[dict[Cell, Keyed], Keyed | None]:
    """The numerator or denominator counts of a block with their keys, and its total."""

    def keyed(figure: Figure) -> Keyed | None:
        count = getattr(figure, part)
        return None if count is None else (count, getattr(figure, f"{part}_key") or 0)

    cells = {cell: found for cell, f in block.cells.items() if (found := keyed(f)) is not None}
    total = keyed(block.total)
    return (cells or ({(): total} if total is not None else {})), total


def _shown(figure: Figure, top: int | None, bottom: int | None, unit: Unit) -> Figure:
    """A figure rebuilt from its published counts: shares and ratios from the published ones."""
    if unit in (Unit.SHARE, Unit.RATIO):
        value = top / bottom if top is not None and bottom else None
        return Figure(top, bottom, value)
    if unit is Unit.COUNT:
        return Figure(top, bottom, float(top) if top is not None else None)
    return Figure(top, bottom, figure.value)  # medians, days, amounts: shown with their counts


def _published(
    blocks: list[Block], k: int | None, keying: CellKeys | None, unit: Unit
) -> tuple[list[tuple[str | None, Cell | None, Figure, bool]], bool]:
    """Every figure as the caller may see it: (block key, cell or None for the total, figure, hidden)."""
    out: list[tuple[str | None, Cell | None, Figure, bool]] = []
    any_hidden = False
    for block in blocks:
        tops, top_total_in = _table(block, "numerator")
        bottoms, bottom_total_in = _table(block, "denominator")
        top_cells, top_total = disclose(tops, k, top_total_in, keying) if tops else ({}, None)
        bottom_cells, bottom_total = disclose(bottoms, k, bottom_total_in, keying) if bottoms else ({}, None)
        figures = [(None, block.total, top_total, bottom_total)]
        figures += [
            (cell, figure, top_cells.get(cell), bottom_cells.get(cell))
            for cell, figure in block.cells.items()
        ]
        for cell, figure, top, bottom in figures:
            hidden = (figure.numerator is not None and top is None) or (
                figure.denominator is not None and bottom is None
            )
            any_hidden = any_hidden or hidden
            if hidden:
                out.append((block.key, cell, Figure(None, None, None), True))
            elif k is None:
                out.append((block.key, cell, figure, False))
            else:
                out.append((block.key, cell, _shown(figure, top, bottom, unit), False))
    return out, any_hidden


def _keys(
    row: model.Dimension | None,
    key: str | None,
    dims: tuple[model.Dimension, ...],
    cell: Cell | None,
    agencies: dict[str, Agency],
) -> list[DimensionValue]:
    pairs: list[tuple[model.Dimension, str | None]] = []
    if row is not None:
        pairs.append((row, key))
    if cell is not None:
        pairs.extend(zip(dims, cell, strict=True))
    keys = []
    for dimension, value in pairs:
        english, indonesian = label(dimension, value, agencies)
        keys.append(DimensionValue(dimension=dimension, value=value, label=english, label_id=indonesian))
    return keys


def result_type(
    result: IndicatorResult,
    k: int | None,
    info: Info,
    agencies: dict[str, Agency],
    keying: CellKeys | None,
    linkage: LinkageStatus | None = None,
) -> IndicatorResultType:
    """The GraphQL result, with disclosure control applied when ``k`` is set."""
    federation: Federation = info.context.federation
    converter = info.context.converter
    spec = result.indicator
    figures, hidden = _published(result.blocks, k, keying, spec.unit)
    totals, values = [], []
    order = sorted(
        range(len(figures)),
        key=lambda i: (figures[i][1] is not None, tuple((v is None, v or "") for v in (figures[i][1] or ()))),
    )
    for i in order:
        key, cell, figure, suppressed = figures[i]
        value = IndicatorValue(
            keys=_keys(spec.row_dimension, key, result.disaggregate_by, cell, agencies),
            numerator=figure.numerator,
            denominator=figure.denominator,
            value=None if figure.value is None else round(figure.value, 6),
            suppressed=suppressed,
        )
        (totals if cell is None else values).append(value)
    ctx = info.context.scope
    coverage = [
        IndicatorCoverage(
            source=entry["source"],
            agency=converter.agency(entry["source"]),
            status=enums.CoverageStatus(entry["status"]),
            excluded_for=entry.get("excludedFor", []),
            cannot_evaluate=result.cannot_evaluate.get(entry["source"], []),
        )
        for entry in ctx.extension()
    ]
    known = {c.source for c in coverage}
    coverage += [
        IndicatorCoverage(
            source=name,
            agency=converter.agency(name),
            status=enums.CoverageStatus.excluded,
            excluded_for=[],
            cannot_evaluate=found,
        )
        for name, found in sorted(result.cannot_evaluate.items())
        if name not in known
    ]
    return IndicatorResultType(
        indicator=indicator_type(spec, federation, agencies),
        disaggregate_by=list(result.disaggregate_by),
        totals=totals,
        values=values,
        as_of=result.as_of,
        coverage=coverage,
        suppressed=hidden,
        linkage=linkage,
    )


@strawberry.type(description="The Task Force's indicators (Indikator Gugus Tugas PP-TPPO).")
class IndicatorQueries:
    @strawberry.field(
        description="The indicator registry with definitions and Satu Data metadata (Daftar indikator)."
    )
    def indicators(
        self,
        info: Info,
        theme: Annotated[
            IndicatorTheme | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only this sub-task force's indicators."),
        ] = None,
    ) -> list[Indicator]:
        federation: Federation = info.context.federation
        agencies = _agencies(info)
        wanted = to_model(theme) if theme is not None else None
        return [
            indicator_type(spec, federation, agencies)
            for spec in builtin_registry()
            if wanted is None or spec.theme is wanted
        ]

    @strawberry.field(
        description="One indicator evaluated over the cases matching a filter, computed in the agencies' "
        "databases and across them through record linkage (Nilai indikator). Disclosure-controlled for "
        "roles below coordinator, as `statistics`."
    )
    async def indicator(
        self,
        info: Info,
        id: Annotated[str, strawberry.argument(description="Indicator id, e.g. `rights.repatriation`.")],
        filter: Annotated[
            CaseFilter | None, strawberry.argument(description="Conditions on the cases (the period).")
        ] = None,
        disaggregate_by: Annotated[
            list[enums.Dimension] | None,  # type: ignore[valid-type]
            strawberry.argument(description="Up to 2 of the indicator's disaggregations."),
        ] = None,
        as_of: Annotated[
            date | None,
            strawberry.argument(
                description="Reference date for FRESHNESS (default: filter end, else today)."
            ),
        ] = None,
    ) -> IndicatorResultType:
        spec = builtin_registry().get(id)
        if spec is None:
            raise bad_input(f"unknown indicator {id!r} (see `indicators`)", "id")
        federation: Federation = info.context.federation
        known = {e.source.agency.code for e in federation.registry.all() if e.source is not None}
        request = IndicatorRequest(
            engine_filter(filter, known), tuple(to_model(d) for d in disaggregate_by or ()), as_of
        )
        try:
            check_request(spec, request)
        except ValueError as exc:
            raise bad_input(str(exc), "disaggregateBy") from None
        guard = guard_of(info.context)
        k = guard.statistics_k() if guard is not None else DEFAULT_K
        keying = info.context.cell_keys if k is not None else None
        if k is not None and keying is None:
            # Fail closed, as statistics: without its secret the hub cannot perturb.
            raise GraphQLError(
                "indicators are unavailable: disclosure control is not ready",
                extensions={"code": "UNAVAILABLE"},
            )
        engine = IndicatorEngine(federation, info.context.linkage, keying)
        try:
            result = await engine.evaluate(info.context.scope, spec, request)
        except IndicatorUnavailable as exc:
            raise bad_input(str(exc), "id") from None
        linkage = None
        if result.unlinked is not None and info.context.linkage is not None:
            answered = [e["source"] for e in info.context.scope.extension() if e["status"] == "ok"]
            linkage = await report_linkage(
                info.context,
                info.context.linkage,
                federation.registry,
                answered,
                result.unlinked,
                exact=k is None,
            )
        try:
            return result_type(result, k, info, _agencies(info), keying, linkage)
        except TableTooLarge as exc:
            raise GraphQLError(str(exc), extensions={"code": "QUERY_TOO_COMPLEX"}) from None


__all__ = ["IndicatorQueries", "disclose"]
