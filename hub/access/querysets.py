"""Query-set restriction: every value of a list filter must be publishable on its own.

The cheapest differencing attack hides a small set inside a list: ``T([R, BIG]) − T([BIG])``
gives the small region ``R`` (issue 12 recovered 106 of 106 suppressed cells so). Perturbation
(:mod:`hub.access.cellkey`) turns each such difference into noise, but a bounded noise on
large cells (2 % at most, for utility) still leaves a single difference more informative than
a guess. So, for roles that read no records (``public``; the record roles can count the cases
they may see exactly anyway, so a refusal would only get in their way), a statistics filter
whose list field holds two or more values is answered only if *each value alone* — the rest
of the filter unchanged — counts none or at least k. Otherwise the query is refused, naming
the field and the value: that value's own cell is suppressed anyway, so the refusal tells
nothing a suppressed cell does not.

Lists checked: ``regions`` (a province prefix counts its province, a regency its regency),
``agencies``, ``exploitationTypes``, ``stages``, ``countriesOfExploitation`` (one grouped query
per list, in the sources), and ``victimSex`` / ``victimAgeGroups`` (one count per value). Date
windows are ranges, not lists: they are left to the perturbation (see ``docs/access.md``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from hub.engine.federation import Federation
from hub.engine.scope import RequestContext
from hub.vocabulary.model import CaseFilter, Dimension, Measure, StatisticsRequest

#: List fields answered by one grouped query: field → the dimension that groups by its values.
GROUPED: dict[str, Dimension] = {
    "agencies": Dimension.AGENCY,
    "exploitation_types": Dimension.EXPLOITATION_TYPE,
    "stages": Dimension.STAGE,
    "countries_of_exploitation": Dimension.COUNTRY_OF_EXPLOITATION,
}
#: List fields counted value by value (conditions on a case's victims have no grouping).
PER_VALUE = ("victim_sex", "victim_age_groups")
#: GraphQL names of the fields, for the error.
GRAPHQL_NAME = {
    "regions": "regions",
    "agencies": "agencies",
    "exploitation_types": "exploitationTypes",
    "stages": "stages",
    "countries_of_exploitation": "countriesOfExploitation",
    "victim_sex": "victimSex",
    "victim_age_groups": "victimAgeGroups",
}


@dataclass(frozen=True, slots=True)
class SmallComponent(Exception):
    """A value of a list filter that alone counts between 1 and k − 1."""

    field: str
    value: str
    k: int

    def __str__(self) -> str:
        return (
            f"filter.{GRAPHQL_NAME[self.field]}: {self.value} alone counts fewer than {self.k}; "
            "ask for it on its own (its count is suppressed) or leave it out"
        )


async def check(federation: Federation, scope: RequestContext, request: StatisticsRequest, k: int) -> None:
    """Raise :class:`SmallComponent` if a value of a list filter alone counts 1 … k − 1."""
    measure = Measure.VICTIM_RECORDS if request.measure is Measure.VICTIMS else request.measure
    f = request.filter
    checks = []
    if len(f.regions) > 1:
        checks.append(_regions(federation, scope, measure, f, k))
    for name, dimension in GROUPED.items():
        if len(getattr(f, name)) > 1:
            checks.append(_grouped(federation, scope, measure, f, k, name, dimension))
    for name in PER_VALUE:
        values = getattr(f, name)
        if len(values) > 1:
            checks.extend(_one(federation, scope, measure, f, k, name, v) for v in values)
    await asyncio.gather(*checks)


def _small(count: int, k: int) -> bool:
    return 0 < count < k


async def _counts(
    federation: Federation, scope: RequestContext, measure: Measure, f: CaseFilter, dimension: Dimension
) -> dict[Any, int]:
    result = await federation.statistics(
        scope, StatisticsRequest(measure, (dimension,), f), disclose_rows=False
    )
    return {cell[0]: count for cell, count in result.cells.items()}


async def _regions(
    federation: Federation, scope: RequestContext, measure: Measure, f: CaseFilter, k: int
) -> None:
    rest = replace(f, regions=())
    wanted = [Dimension.REGENCY] if any("." in p for p in f.regions) else []
    wanted += [Dimension.PROVINCE] if any("." not in p for p in f.regions) else []
    counts = dict(
        zip(
            wanted,
            await asyncio.gather(*(_counts(federation, scope, measure, rest, d) for d in wanted)),
            strict=True,
        )
    )
    for prefix in f.regions:
        by = counts[Dimension.REGENCY if "." in prefix else Dimension.PROVINCE]
        if _small(by.get(prefix, 0), k):
            raise SmallComponent("regions", prefix, k)


async def _grouped(
    federation: Federation,
    scope: RequestContext,
    measure: Measure,
    f: CaseFilter,
    k: int,
    name: str,
    dimension: Dimension,
) -> None:
    counts = await _counts(federation, scope, measure, replace(f, **{name: ()}), dimension)
    for value in getattr(f, name):
        text = getattr(value, "name", value)
        if _small(counts.get(text, 0), k):
            raise SmallComponent(name, str(text), k)


async def _one(
    federation: Federation,
    scope: RequestContext,
    measure: Measure,
    f: CaseFilter,
    k: int,
    name: str,
    value: Any,
) -> None:
    result = await federation.statistics(
        scope, StatisticsRequest(measure, (), replace(f, **{name: (value,)}))
    )
    if _small(result.total, k):
        raise SmallComponent(name, str(getattr(value, "name", value)), k)
