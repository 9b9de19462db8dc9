"""Evaluating an indicator: numerators and denominators computed where the data lives.

What each kind asks the sources (every call through :meth:`Federation.call`: timeouts,
breakers, partial results and ``extensions.sources`` as for any query):

- person kinds (PERSON_SHARE, PERSON_DAYS, AGENCY_COVERAGE, DOUBLE_COUNTING): every source
  that can evaluate the filter lists its matching person records with their cells and report
  dates (:meth:`Source.person_facts`, a SELECT DISTINCT joined to the filtered cases in the
  source); every source holding services groups them by recipient, type and status with the
  first start date (:meth:`Source.service_facts`, a GROUP BY in the source). The linkage
  index then says which records are one person, and persons are counted once;
- CASE_FUNNEL: the statistics GROUP BY (measure CASES by current stage and the
  disaggregations), pushed into each source as ``statistics`` does;
- STAGE_DAYS and FRESHNESS: each case matching the filter with its report date and the first
  date of each stage of its history (:meth:`Source.stage_facts`, a GROUP BY in the source).

Definitions that every kind shares (docs/indicators.md states them for readers):

- a person's **services** are every service any agency recorded for any of their linked
  records, whatever case it belongs to, with a status the indicator counts as received;
- a person's **cells** and **first report** come from their records that match the population
  (role, filter, cross-border, stage); a person falls in every cell one of those records
  falls in, so cells can add up to more than the total, which counts each person once;
- a record the linkage job has not seen yet counts as a person of its own (as in
  ``statistics``), so person counts can only be too high, never hide a victim;
- a case **reached** a funnel step when its current stage is that step or a later one in
  procedural order; a DISCONTINUED case reached only the first step, and a case whose agency
  records no stage is not in the funnel (that agency is reported as unable to evaluate it).
"""

from __future__ import annotations

import asyncio
import statistics as stats
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from adapters.base import Source
from adapters.facts import Cell, PersonFact, PersonFactsRequest, RestitutionFact, ServiceFact, StageFact
from hub.engine.federation import CellKeying, Federation
from hub.engine.indicators.spec import Indicator, Kind, Unit
from hub.engine.scope import RequestContext
from hub.engine.sources import RegisteredSource
from hub.linkage.index import LinkageIndex, RecordRef
from hub.vocabulary.model import (
    CaseFilter,
    CaseStage,
    Dimension,
    Entity,
    Measure,
    StatisticsRequest,
)

#: At most this many disaggregations per request (the tables grow as their product).
MAX_DISAGGREGATIONS = 2
_ORDER = {stage: i for i, stage in enumerate(CaseStage)}
PersonKey = Hashable


class IndicatorUnavailable(ValueError):
    """The indicator cannot be evaluated here (e.g. distinct persons without a linkage index)."""


@dataclass(frozen=True, slots=True)
class IndicatorRequest:
    """Evaluate an indicator over the cases matching ``filter``, disaggregated by some dimensions.

    ``as_of`` is the reference date of FRESHNESS (default: ``filter.reported_to``, else today).
    """

    filter: CaseFilter = field(default_factory=CaseFilter)
    disaggregate_by: tuple[Dimension, ...] = ()
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """One value with what it is computed from.

    SHARE and RATIO: ``value = numerator / denominator``; MEDIAN_DAYS: ``value`` is the median
    over ``denominator`` observations (no numerator); DAYS: days to the reference date, with
    ``denominator`` the records it is computed from; COUNT: ``value = numerator``.
    """

    numerator: int | None
    denominator: int | None
    value: float | None
    #: Cell keys of the numerator's and denominator's units (sums of their keys), when the
    #: evaluation was keyed for perturbed publication (:mod:`hub.access.cellkey`).
    numerator_key: int | None = None
    denominator_key: int | None = None


@dataclass(slots=True)
class Block:
    """The figures of one value of the indicator's row dimension (a funnel step, an agency).

    Indicators without a row dimension have one block with ``key`` None. ``cells`` are keyed
    by the disaggregation values; ``total`` is the figure over all of them.
    """

    key: str | None
    total: Figure
    cells: dict[Cell, Figure] = field(default_factory=dict)


@dataclass(slots=True)
class IndicatorResult:
    """An evaluated indicator: blocks of figures and what each source could not evaluate."""

    indicator: Indicator
    disaggregate_by: tuple[Dimension, ...]
    blocks: list[Block]
    #: source → what it could not evaluate for this indicator (e.g. ``stage``, ``services``).
    cannot_evaluate: dict[str, list[str]]
    as_of: date | None = None
    #: Person indicators: matching records the linkage index does not know yet (each counted
    #: as a person of its own); None for indicators that count no persons.
    unlinked: int | None = None


def check_request(indicator: Indicator, request: IndicatorRequest) -> None:
    """Raise ``ValueError`` naming what is wrong with the request for this indicator."""
    dims = request.disaggregate_by
    if len(dims) > MAX_DISAGGREGATIONS:
        raise ValueError(f"disaggregate by at most {MAX_DISAGGREGATIONS} dimensions")
    if len(set(dims)) != len(dims):
        raise ValueError("a disaggregation is repeated")
    for dim in dims:
        if dim not in indicator.disaggregations:
            allowed = ", ".join(d.name for d in indicator.disaggregations) or "none"
            raise ValueError(f"{indicator.id} cannot be disaggregated by {dim.name} (allowed: {allowed})")


class IndicatorEngine:
    """Evaluates registry indicators for one request context."""

    def __init__(
        self, federation: Federation, index: LinkageIndex | None, keying: CellKeying | None = None
    ) -> None:
        self.federation = federation
        self.index = index
        #: With a keying, every count gets the cell key perturbed publication needs: the sum
        #: of its persons' keys, or of its records' keys (cases).
        self.keying = keying

    async def evaluate(
        self, ctx: RequestContext, indicator: Indicator, request: IndicatorRequest
    ) -> IndicatorResult:
        check_request(indicator, request)
        kind = indicator.kind
        if kind in (
            Kind.PERSON_SHARE,
            Kind.PERSON_DAYS,
            Kind.PERSON_RESTITUTION,
            Kind.AGENCY_COVERAGE,
            Kind.DOUBLE_COUNTING,
        ):
            return await self._persons(ctx, indicator, request)
        if kind is Kind.CASE_FUNNEL:
            return await self._funnel(ctx, indicator, request)
        return await self._stages(ctx, indicator, request)

    # --- sources ---------------------------------------------------------------------------

    def _agency(self, source: str) -> str:
        entry = self.federation.registry.get(source)
        return entry.source.agency.code if entry is not None and entry.source is not None else source

    async def _ask(
        self,
        ctx: RequestContext,
        entries: Sequence[RegisteredSource],
        work: Callable[[Source], Any],
        default: Any,
    ) -> list[tuple[str, Any]]:
        results = await asyncio.gather(*(self.federation.call(ctx, e, work, default) for e in entries))
        return [(e.name, r) for e, r in zip(entries, results, strict=True)]

    def _facts_sources(
        self, entries: Iterable[RegisteredSource], entity: Entity, cannot: dict[str, list[str]], what: str
    ) -> list[RegisteredSource]:
        chosen = []
        for entry in entries:
            source = entry.source
            if source is None:
                continue
            if source.answers_facts and source.supports(entity):
                chosen.append(entry)
            else:
                cannot[entry.name].append(what)
        return chosen

    # --- persons ---------------------------------------------------------------------------

    async def _persons(
        self, ctx: RequestContext, indicator: Indicator, request: IndicatorRequest
    ) -> IndicatorResult:
        if self.index is None:
            raise IndicatorUnavailable(
                "distinct persons need the linkage index (the hub's store is not open)"
            )
        population = indicator.population
        assert population is not None
        dims = list(request.disaggregate_by)
        extra: list[Dimension] = []
        if population.cross_border:
            extra.append(Dimension.COUNTRY_OF_EXPLOITATION)
        if population.stages:
            extra.append(Dimension.STAGE)
        asked = tuple(dict.fromkeys([*dims, *extra]))
        cannot: dict[str, list[str]] = defaultdict(list)
        entries = self._facts_sources(
            self.federation.sources_for(ctx, request.filter), Entity.PERSON, cannot, "persons"
        )
        facts_request = PersonFactsRequest(population.roles, asked, request.filter)
        wants_services = indicator.kind in (Kind.PERSON_SHARE, Kind.PERSON_DAYS)
        service_entries = (
            self._facts_sources(self.federation.registry.all(), Entity.SERVICE, cannot, "services")
            if wants_services
            else []
        )
        wants_restitution = indicator.kind is Kind.PERSON_RESTITUTION
        restitution_entries = (
            self._facts_sources(self.federation.registry.all(), Entity.RESTITUTION, cannot, "restitution")
            if wants_restitution
            else []
        )
        person_results, service_results, restitution_results = await asyncio.gather(
            self._ask(ctx, entries, lambda s: s.person_facts(facts_request), []),
            self._ask(ctx, service_entries, lambda s: s.service_facts(), []),
            self._ask(ctx, restitution_entries, lambda s: s.restitution_facts(), []),
        )
        facts: dict[RecordRef, PersonFact] = {}
        for name, found in person_results:
            for fact in found:
                facts[(name, fact.key)] = fact
        services: dict[RecordRef, list[ServiceFact]] = defaultdict(list)
        for name, found in service_results:
            for fact in found:
                services[(name, fact.recipient_key)].append(fact)
        restitutions: dict[RecordRef, list[RestitutionFact]] = defaultdict(list)
        for name, found in restitution_results:
            for fact in found:
                restitutions[(name, fact.recipient_key)].append(fact)
        refs = list(dict.fromkeys([*facts, *services, *restitutions]))
        known = await self.index.persons_of(refs) if refs else {}
        person_of: dict[RecordRef, PersonKey] = {ref: known.get(ref, ref) for ref in refs}

        positions = {dim: asked.index(dim) for dim in asked}
        agency_of = {entry.name: self._agency(entry.name) for entry in self.federation.registry.all()}
        project = [positions[d] for d in dims]
        units: dict[PersonKey, _Person] = {}
        for ref, fact in facts.items():
            cells = [
                cell
                for cell in fact.cells
                if (not population.cross_border or cell[positions[Dimension.COUNTRY_OF_EXPLOITATION]])
                and (not population.stages or _stage(cell[positions[Dimension.STAGE]]) in population.stages)
            ]
            if not cells:
                continue
            person = person_of[ref]
            unit = units.get(person)
            if unit is None:
                unit = units[person] = _Person(key=self._person_key(person))
            unit.cells.update(tuple(cell[i] for i in project) for cell in cells)
            unit.agencies.add(agency_of[ref[0]])
            if fact.reported_at is not None and (
                unit.first_report is None or fact.reported_at < unit.first_report
            ):
                unit.first_report = fact.reported_at
        numerator = indicator.numerator
        if numerator is not None:
            for ref, found in services.items():
                unit = units.get(person_of[ref])
                if unit is None:
                    continue
                for fact in found:
                    if fact.status not in numerator.statuses:
                        continue
                    unit.any_service = True
                    if fact.type in numerator.services:
                        unit.served = True
                        if fact.first_start is not None and (
                            unit.first_service is None or fact.first_start < unit.first_service
                        ):
                            unit.first_service = fact.first_start
        if wants_restitution:
            field_name = f"{indicator.measure.lower()}_idr"
            for ref, found in restitutions.items():
                unit = units.get(person_of[ref])
                if unit is None:
                    continue
                for fact in found:
                    amount = getattr(fact, field_name)
                    if amount:
                        unit.amount += amount
                        unit.served = True
        blocks = _person_blocks(
            indicator,
            list(units.values()),
            sorted(self._agencies()),
            self._person_key if self.keying else None,
        )
        unlinked = sum(1 for ref in facts if ref not in known)
        return IndicatorResult(indicator, request.disaggregate_by, blocks, dict(cannot), unlinked=unlinked)

    def _case_key(self, source: str, key: str) -> int:
        """The key of one case record (for counts of cases computed in the hub)."""
        return self.keying.person_key(("case", source, key)) if self.keying is not None else 0

    def _person_key(self, person: PersonKey) -> int:
        return self.keying.person_key(person) if self.keying is not None else 0

    def _agencies(self) -> set[str]:
        return {e.source.agency.code for e in self.federation.registry.all() if e.source is not None}

    # --- the case funnel -------------------------------------------------------------------

    async def _funnel(
        self, ctx: RequestContext, indicator: Indicator, request: IndicatorRequest
    ) -> IndicatorResult:
        dims = request.disaggregate_by
        by_cell = StatisticsRequest(Measure.CASES, (Dimension.STAGE, *dims), request.filter)
        by_stage = replace(by_cell, dimensions=(Dimension.STAGE,))

        keying = self.keying

        async def keyed(source: Source, request: StatisticsRequest) -> dict[Cell, tuple[int, int]]:
            """Counts with their cell keys (record keys summed in the source's SQL when it can)."""
            if keying is not None:
                found = await source.aggregate_keyed(request, keying.salt(source.name))
                if found is not None:
                    return found
            counts = await source.aggregate(request)
            return {
                cell: (n, keying.fallback_key(source.name, cell, n) if keying is not None else 0)
                for cell, n in counts.items()
            }

        async def work(source: Source) -> tuple[dict[Cell, tuple[int, int]], dict[Cell, tuple[int, int]]]:
            cells, totals = await asyncio.gather(
                keyed(source, by_cell), keyed(source, by_stage) if dims else _none()
            )
            return cells, totals if totals is not None else cells

        entries = self.federation.sources_for(ctx, request.filter)
        answers = await self._ask(ctx, entries, work, ({}, {}))
        cannot: dict[str, list[str]] = defaultdict(list)
        per_cell: dict[Cell, dict[str | None, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        totals: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
        for name, (source_cells, source_totals) in answers:
            if source_totals and all(key[0] is None for key in source_totals):
                cannot[name].append("stage")
                continue
            for key, (count, cell_key) in source_cells.items():
                slot = per_cell[key[1:]][key[0]]
                slot[0], slot[1] = slot[0] + count, slot[1] + cell_key
            for key, (count, cell_key) in source_totals.items():
                slot = totals[key[0]]
                slot[0], slot[1] = slot[0] + count, slot[1] + cell_key
        steps = indicator.steps

        def reached(
            counts: dict[str | None, list[int]], step: CaseStage, between: CaseStage | None = None
        ) -> tuple[int, int]:
            """(cases, key) at ``step`` or later — and before ``between`` when given."""
            n = key = 0
            for stage, (count, cell_key) in counts.items():
                found = _stage(stage)
                if found is None:
                    continue
                at_or_after = step == steps[0] or (
                    found is not CaseStage.DISCONTINUED and _ORDER[found] >= _ORDER[step]
                )
                before = between is None or not (
                    found is not CaseStage.DISCONTINUED and _ORDER[found] >= _ORDER[between]
                )
                if at_or_after and before:
                    n, key = n + count, key + cell_key
            return n, key

        blocks = []
        attrition = indicator.measure == "ATTRITION"
        for i, step in enumerate(steps):
            if attrition and i == 0:
                continue
            previous = steps[max(i - 1, 0)]

            def figure(
                counts: dict[str | None, list[int]], step: CaseStage = step, previous: CaseStage = previous
            ) -> Figure:
                (now, now_key), (before, before_key) = reached(counts, step), reached(counts, previous)
                top, top_key = reached(counts, previous, step) if attrition else (now, now_key)
                if indicator.unit is Unit.COUNT:
                    return Figure(top, before, float(top), top_key, before_key)
                return Figure(top, before, top / before if before else None, top_key, before_key)

            block = Block(step.name, figure(totals))
            if dims:
                block.cells = {cell: figure(counts) for cell, counts in per_cell.items()}
            blocks.append(block)
        return IndicatorResult(indicator, dims, blocks, dict(cannot))

    # --- stage histories and freshness -----------------------------------------------------

    async def _stages(
        self, ctx: RequestContext, indicator: Indicator, request: IndicatorRequest
    ) -> IndicatorResult:
        dims = request.disaggregate_by
        cannot: dict[str, list[str]] = defaultdict(list)
        entries = self._facts_sources(
            self.federation.sources_for(ctx, request.filter), Entity.CASE, cannot, "cases"
        )
        if indicator.kind is Kind.STAGE_DAYS:
            for entry in list(entries):
                if entry.source is not None and not entry.source.supports(Entity.STAGE_EVENT):
                    cannot[entry.name].append("stage history")
                    entries.remove(entry)
        answers = await self._ask(ctx, entries, lambda s: s.stage_facts(request.filter, dims), [])
        if indicator.kind is Kind.FRESHNESS:
            as_of = request.as_of or request.filter.reported_to or date.today()
            blocks = _freshness(answers, self._agency, as_of, bool(dims), self._case_key)
            return IndicatorResult(indicator, dims, blocks, dict(cannot), as_of)
        facts = [(self._case_key(name, fact.case_key), fact) for name, found in answers for fact in found]
        blocks = []
        for i in range(1, len(indicator.steps)):
            before, after = indicator.steps[i - 1], indicator.steps[i]
            days: dict[Cell, list[int]] = defaultdict(list)
            keys: dict[Cell, int] = defaultdict(int)
            overall: list[int] = []
            overall_key = 0
            for key, fact in facts:
                start = fact.reported_at if before is CaseStage.REPORTED else fact.first_dates.get(before)
                end = fact.first_dates.get(after)
                if start is None or end is None:
                    continue
                overall.append((end - start).days)
                overall_key += key
                for cell in set(fact.cells):
                    days[cell].append((end - start).days)
                    keys[cell] += key
            block = Block(after.name, replace(_median(overall), denominator_key=overall_key))
            if dims:
                block.cells = {
                    cell: replace(_median(values), denominator_key=keys[cell])
                    for cell, values in days.items()
                }
            blocks.append(block)
        return IndicatorResult(indicator, dims, blocks, dict(cannot))


@dataclass(slots=True)
class _Person:
    """One distinct person of a population, as the facts of their records describe them."""

    cells: set[Cell] = field(default_factory=set)
    agencies: set[str] = field(default_factory=set)
    first_report: date | None = None
    first_service: date | None = None
    served: bool = False
    any_service: bool = False
    amount: int = 0
    key: int = 0


def _stage(value: str | None) -> CaseStage | None:
    return CaseStage[value] if value is not None and value in CaseStage.__members__ else None


async def _none() -> None:
    return None


def _median(values: Sequence[int]) -> Figure:
    return Figure(None, len(values), float(stats.median(values)) if values else None)


def _share(numerator: int, denominator: int, unit: Unit) -> Figure:
    if unit is Unit.COUNT:
        return Figure(numerator, denominator, float(numerator))
    return Figure(numerator, denominator, numerator / denominator if denominator else None)


def _keys(persons: Iterable[_Person]) -> int:
    return sum(p.key for p in persons)


def _person_blocks(
    indicator: Indicator,
    persons: list[_Person],
    agencies: list[str],
    pair_key: Callable[[PersonKey], int] | None = None,
) -> list[Block]:
    """The blocks of a person indicator from its distinct persons (keyed when ``pair_key``)."""
    kind, unit = indicator.kind, indicator.unit
    numerator = indicator.numerator

    def counted(person: _Person) -> bool:
        assert numerator is not None
        if numerator.none:
            return not (person.served if numerator.services else person.any_service)
        return person.served

    def share(top: list[_Person], group: Sequence[_Person]) -> Figure:
        figure = _share(len(top), len(group), unit)
        return replace(figure, numerator_key=_keys(top), denominator_key=_keys(group))

    def figure(group: Sequence[_Person], agency: str | None = None) -> Figure:
        if kind is Kind.PERSON_SHARE:
            return share([p for p in group if counted(p)], group)
        if kind is Kind.PERSON_DAYS:
            observed = [
                p for p in group if p.served and p.first_service is not None and p.first_report is not None
            ]
            days = [(p.first_service - p.first_report).days for p in observed]  # type: ignore[operator]
            return replace(_median(days), denominator_key=_keys(observed))
        if kind is Kind.PERSON_RESTITUTION:
            paid = [p for p in group if p.served]
            return Figure(
                len(paid), len(group), float(sum(p.amount for p in paid)), _keys(paid), _keys(group)
            )
        if kind is Kind.AGENCY_COVERAGE:
            return share([p for p in group if agency in p.agencies], group)
        agency_sum = sum(len(p.agencies) for p in group)
        pairs = (
            sum(pair_key((p.key, a)) for p in group for a in sorted(p.agencies))
            if pair_key is not None
            else 0
        )
        return Figure(agency_sum, len(group), agency_sum / len(group) if group else None, pairs, _keys(group))

    by_cell: dict[Cell, list[_Person]] = defaultdict(list)
    for person in persons:
        for cell in person.cells:
            by_cell[cell].append(person)
    disaggregated = any(len(cell) for cell in by_cell)

    def block(key: str | None, agency: str | None = None) -> Block:
        result = Block(key, figure(persons, agency))
        if disaggregated:
            result.cells = {cell: figure(group, agency) for cell, group in by_cell.items()}
        return result

    if kind is Kind.AGENCY_COVERAGE:
        return [block(agency, agency) for agency in agencies]
    return [block(None)]


def _freshness(
    answers: list[tuple[str, list[StageFact]]],
    agency_of: Callable[[str], str],
    as_of: date,
    by_cell: bool,
    case_key: Callable[[str, str], int],
) -> list[Block]:
    """Per agency: days from its latest report to ``as_of`` (and per cell), over its cases."""
    latest: dict[str, date | None] = {}
    count: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cell_latest: dict[str, dict[Cell, date]] = defaultdict(dict)
    cell_count: dict[str, dict[Cell, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for name, facts in answers:
        agency = agency_of(name)
        latest.setdefault(agency, None)
        for fact in facts:
            key = case_key(name, fact.case_key)
            count[agency][0] += 1
            count[agency][1] += key
            if fact.reported_at is None:
                continue
            if latest[agency] is None or fact.reported_at > latest[agency]:  # type: ignore[operator]
                latest[agency] = fact.reported_at
            for cell in set(fact.cells):
                slot = cell_count[agency][cell]
                slot[0], slot[1] = slot[0] + 1, slot[1] + key
                if cell not in cell_latest[agency] or fact.reported_at > cell_latest[agency][cell]:
                    cell_latest[agency][cell] = fact.reported_at

    def figure(day: date | None, n: list[int]) -> Figure:
        return Figure(None, n[0], float((as_of - day).days) if day is not None else None, None, n[1])

    blocks = []
    for agency in sorted(latest):
        block = Block(agency, figure(latest[agency], count[agency]))
        if by_cell:
            block.cells = {
                cell: figure(cell_latest[agency].get(cell), n) for cell, n in cell_count[agency].items()
            }
        blocks.append(block)
    return blocks
