"""Indicator facts inside the agency database (:mod:`adapters.facts`), for mapped sources.

Built on the same pieces as statistics (:mod:`adapters.statistics`): the *frame* of cases
matching the filter, the grouping columns of each dimension and their translation into
national values, so a fact's cells mean exactly what a ``statistics`` cell means. Each
statement returns only keys, the source's own codes (translated here) and ISO dates:

- person facts: ``SELECT DISTINCT key, report date, <dimension columns>`` of the person
  records with one of the roles, joined to the frame;
- service facts: ``SELECT recipient, type, status, MIN(start), COUNT(*) … GROUP BY recipient,
  type, status`` on each service table;
- restitution facts: ``SELECT recipient, SUM(requested), SUM(ordered), SUM(paid) … GROUP BY
  recipient`` on each restitution table;
- stage facts: the frame's cases with their report date and cells, and ``SELECT case,
  stage, MIN(date) … GROUP BY case, stage`` on each stage-history table joined to the frame.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from itertools import product
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal, select

from adapters.facts import Cell, PersonFact, PersonFactsRequest, RestitutionFact, ServiceFact, StageFact
from adapters.statistics import _Frame, _Grouping, _options, _victim_queries
from hub.vocabulary.model import (
    CaseFilter,
    CaseStage,
    Dimension,
    Entity,
    Measure,
    ServiceStatus,
    StatisticsRequest,
)

if TYPE_CHECKING:
    from adapters.sql import MappedSQLSource


def _iso(value: Any) -> date | None:
    """A date from the ISO text the mapping's date expressions produce (None if unreadable)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


async def person_facts(source: MappedSQLSource, request: PersonFactsRequest) -> list[PersonFact]:
    """Every person record with one of ``request.roles`` in a matching case, with its cells."""
    stats_request = StatisticsRequest(Measure.VICTIM_RECORDS, request.dimensions, request.filter)
    frame = _Frame(source, stats_request, with_reported=True)
    reported = frame.subquery.c.rep if "rep" in frame.subquery.c else literal(None)
    cells: dict[str, set[Cell]] = defaultdict(set)
    dates: dict[str, date | None] = {}
    for person, base, grouping, conditions in _victim_queries(source, frame, stats_request, request.roles):
        statement = (
            select(person.key_column, reported, *grouping.columns)
            .select_from(base)
            .where(*conditions)
            .distinct()
        )
        for row in await source.fetch(statement):
            key = person.record_key(row[0])
            options = [_options(source, grouping, row[2:], d) for d in request.dimensions]
            cells[key].update(product(*options))
            dates[key] = _iso(row[1])
    return [PersonFact(key, tuple(found), dates[key]) for key, found in cells.items()]


async def service_facts(source: MappedSQLSource) -> list[ServiceFact]:
    """Per recipient record, service type and status: the first start date and the count."""
    facts: list[ServiceFact] = []
    for service in source.compiled_parts(Entity.SERVICE):
        exprs, readers = service.field_exprs, service.field_readers
        if "recipient_key" not in readers or "type" not in readers:
            continue
        recipient, kind, status = exprs["recipient_key"], exprs.get("type", []), exprs.get("status", [])
        start = exprs.get("start_date", [])
        first = func.min(start[0]) if start else literal(None)
        grouped = [*recipient, *kind, *status]
        statement = (
            select(*grouped, first, func.count())
            .select_from(service.from_clause)
            .where(*service.row_conditions)
            .group_by(*grouped)
        )
        a, b = len(recipient), len(recipient) + len(kind)
        for row in await source.fetch(statement):
            key = readers["recipient_key"](row[:a])
            service_type = readers["type"](row[a:b])
            if key is None or service_type is None:
                continue
            status_value = readers["status"](row[b : len(grouped)]) if "status" in readers else None
            facts.append(
                ServiceFact(
                    key,
                    service_type,
                    status_value or ServiceStatus.UNKNOWN,
                    _iso(row[len(grouped)]),
                    int(row[-1]),
                )
            )
    return facts


async def stage_facts(
    source: MappedSQLSource, filter: CaseFilter, dimensions: Sequence[Dimension]
) -> list[StageFact]:
    """Every case matching ``filter``: cells, report date, first date of each recorded stage."""
    request = StatisticsRequest(Measure.CASES, tuple(dimensions), filter)
    frame = _Frame(source, request, with_reported=True)
    sub = frame.subquery
    reported = sub.c.rep if "rep" in sub.c else literal(None)
    case_part = source.compiled_parts(Entity.CASE)[0]
    grouping = _Grouping()
    base = frame.attach(grouping, sub)
    cells: dict[Any, set[Cell]] = defaultdict(set)
    dates: dict[Any, date | None] = {}
    statement = select(sub.c.k, reported, *grouping.columns).select_from(base).distinct()
    for row in await source.fetch(statement):
        options = [_options(source, grouping, row[2:], d) for d in dimensions]
        cells[row[0]].update(product(*options))
        dates[row[0]] = _iso(row[1])
    firsts: dict[Any, dict[CaseStage, date]] = defaultdict(dict)
    for event in source.compiled_parts(Entity.STAGE_EVENT):
        joined = frame.joined(event)
        exprs, readers = event.field_exprs, event.field_readers
        if joined is None or "stage" not in readers or not exprs.get("date"):
            continue
        stage = exprs.get("stage", [])
        statement = (
            select(sub.c.k, *stage, func.min(exprs["date"][0]))
            .select_from(joined)
            .where(*event.row_conditions)
            .group_by(sub.c.k, *stage)
        )
        for row in await source.fetch(statement):
            found = readers["stage"](row[1 : 1 + len(stage)])
            day = _iso(row[-1])
            if found is None or day is None:
                continue
            known = firsts[row[0]].get(found)
            if known is None or day < known:
                firsts[row[0]][found] = day
    return [
        StageFact(case_part.record_key(k), tuple(found), dates[k], dict(firsts.get(k, {})))
        for k, found in cells.items()
    ]


_AMOUNTS = ("requested_idr", "ordered_idr", "paid_idr")


async def restitution_facts(source: MappedSQLSource) -> list[RestitutionFact]:
    """Per recipient record: the restitution amounts requested, ordered and paid, summed."""
    facts: list[RestitutionFact] = []
    for part in source.compiled_parts(Entity.RESTITUTION):
        exprs, readers = part.field_exprs, part.field_readers
        recipient = exprs.get("recipient_key", [])
        if not recipient:
            continue
        sums = [func.sum(exprs[name][0]) if exprs.get(name) else literal(None) for name in _AMOUNTS]
        statement = (
            select(*recipient, *sums)
            .select_from(part.from_clause)
            .where(*part.row_conditions)
            .group_by(*recipient)
        )
        width = len(recipient)
        for row in await source.fetch(statement):
            key = readers["recipient_key"](row[:width])
            if key is None:
                continue
            amounts = [None if v is None else int(v) for v in row[width:]]
            facts.append(RestitutionFact(key, *amounts))
    return facts
