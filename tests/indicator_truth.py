"""Every indicator computed independently from the demo generator's ground truth.

Reads only ``ground_truth.json`` (what each agency recorded, and who each record really is)
and an indicator's *definition* from its registry file (population, numerator, steps, unit).
Nothing of the hub's evaluation, adapters or linkage is used: persons are the generator's
true persons, cells are derived from the truth records as docs/indicators.md defines them.

The result has the shape of the GraphQL ``indicator`` answer: ``{(row key, cell): (numerator,
denominator, value)}`` with cell ``None`` for the totals.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.engine.indicators.spec import Indicator
from tests.test_ground_truth import PERSON_TABLES, truth_person_key

AGENCY_CODE = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}
STAGES = [
    "REPORTED",
    "INQUIRY",
    "INVESTIGATION",
    "DOSSIER_RETURNED",
    "DOSSIER_COMPLETE",
    "HANDOVER_TO_PROSECUTOR",
    "PROSECUTION",
    "TRIAL",
    "FIRST_INSTANCE_VERDICT",
    "APPEAL",
    "CASSATION",
    "FINAL_AND_BINDING",
    "DISCONTINUED",
]
Figure = tuple[int | None, int | None, float | None]
Key = tuple[str | None, tuple[str | None, ...] | None]


def case_cell(agency: str, case: dict[str, Any], dim: str) -> list[str | None]:
    """The values of one case dimension for a truth case (multi-valued for exploitation types)."""
    region = case["region"]
    return {
        "YEAR": [case["reported_at"][:4]],
        "PROVINCE": [region[:2] if region else None],
        "REGENCY": [region if region and "." in region else None],
        "AGENCY": [AGENCY_CODE[agency]],
        "EXPLOITATION_TYPE": list(case["exploitation_types"]) or ["UNKNOWN"],
        "COUNTRY_OF_EXPLOITATION": [case["country"]],
        "STAGE": [case["stage"]],
    }[dim]


def person_cell(person: dict[str, Any], dim: str) -> list[str | None]:
    child = person["is_child"]
    return {
        "SEX": [person["sex"]],
        "AGE_GROUP": [person["age_group"]],
        "CHILD": [None if child is None else ("true" if child else "false")],
    }[dim]


def cells_of(agency: str, person: dict[str, Any] | None, case: dict[str, Any], dims: list[str]) -> set[tuple]:
    options: list[list[str | None]] = []
    for dim in dims:
        if dim in ("SEX", "AGE_GROUP", "CHILD"):
            assert person is not None
            options.append(person_cell(person, dim))
        else:
            options.append(case_cell(agency, case, dim))
    out: set[tuple] = {()}
    for values in options:
        out = {(*cell, v) for cell in out for v in values}
    return out


def in_period(case: dict[str, Any], period: tuple[str, str] | None) -> bool:
    return period is None or period[0] <= case["reported_at"] <= period[1]


@dataclass
class _Person:
    cells: set[tuple] = field(default_factory=set)
    agencies: set[str] = field(default_factory=set)
    first_report: str | None = None
    first_service: str | None = None
    served: bool = False
    any_service: bool = False
    amount: int = 0


def _share(top: int, bottom: int, unit: str) -> Figure:
    if unit == "COUNT":
        return (top, bottom, float(top))
    return (top, bottom, top / bottom if bottom else None)


def _median(values: list[int]) -> Figure:
    return (None, len(values), float(statistics.median(values)) if values else None)


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


class Truth:
    """Indexes of the ground truth, built once per session."""

    def __init__(self, truth: dict[str, Any]) -> None:
        self.agencies = truth["agencies"]
        self.cases = {(a, c["key"]): c for a, d in self.agencies.items() for c in d["cases"]}
        # (agency, raw person key) -> hub key of the recipient, for service recipients.
        self.recipient: dict[tuple[str, str], str] = {}
        for agency, data in self.agencies.items():
            for p in data["persons"]:
                if p["roles"][0] == "VICTIM" or agency not in PERSON_TABLES:
                    self.recipient[(agency, p["key"])] = truth_person_key(agency, p)
        self.true_person = {
            (a, truth_person_key(a, p)): p["person"] for a, d in self.agencies.items() for p in d["persons"]
        }

    def evaluate(
        self, spec: Indicator, dims: list[str], period: tuple[str, str] | None, as_of: str | None = None
    ) -> dict[Key, Figure]:
        kind = spec.kind.name
        if kind in (
            "PERSON_SHARE",
            "PERSON_DAYS",
            "PERSON_RESTITUTION",
            "AGENCY_COVERAGE",
            "DOUBLE_COUNTING",
        ):
            return self._persons(spec, dims, period)
        if kind == "CASE_FUNNEL":
            return self._funnel(spec, dims, period)
        if kind == "STAGE_DAYS":
            return self._stage_days(spec, dims, period)
        assert as_of is not None
        return self._freshness(dims, period, as_of)

    def _persons(self, spec: Indicator, dims: list[str], period: tuple[str, str] | None) -> dict[Key, Figure]:
        population, numerator = spec.population, spec.numerator
        assert population is not None
        roles = {r.name for r in population.roles}
        stages = {s.name for s in population.stages}
        units: dict[str, _Person] = {}
        for agency, data in self.agencies.items():
            for p in data["persons"]:
                case = self.cases[(agency, p["case_key"])]
                if not roles & set(p["roles"]) or not in_period(case, period):
                    continue
                if population.cross_border and not case["country"]:
                    continue
                if stages and case["stage"] not in stages:
                    continue
                unit = units.setdefault(p["person"], _Person())
                unit.cells |= cells_of(agency, p, case, dims)
                unit.agencies.add(AGENCY_CODE[agency])
                if unit.first_report is None or case["reported_at"] < unit.first_report:
                    unit.first_report = case["reported_at"]
        if numerator is not None:
            statuses = {s.name for s in numerator.statuses}
            wanted = {s.name for s in numerator.services}
            for agency, data in self.agencies.items():
                for s in data["services"]:
                    person = self.true_person[(agency, self.recipient[(agency, s["recipient_key"])])]
                    unit = units.get(person)
                    if unit is None or s["status"] not in statuses:
                        continue
                    unit.any_service = True
                    if s["type"] in wanted:
                        unit.served = True
                        if unit.first_service is None or s["start_date"] < unit.first_service:
                            unit.first_service = s["start_date"]
        if spec.kind.name == "PERSON_RESTITUTION":
            field_name = f"{spec.measure.lower()}_idr"
            for agency, data in self.agencies.items():
                for r in data.get("restitutions", []):
                    person = self.true_person[(agency, self.recipient[(agency, r["recipient_key"])])]
                    unit = units.get(person)
                    if unit is not None and r[field_name]:
                        unit.amount += r[field_name]
                        unit.served = True
        kind, unit_name = spec.kind.name, spec.unit.name

        def counted(p: _Person) -> bool:
            assert numerator is not None
            if numerator.none:
                return not (p.served if numerator.services else p.any_service)
            return p.served

        def figure(group: list[_Person], agency: str | None) -> Figure:
            if kind == "PERSON_SHARE":
                return _share(sum(1 for p in group if counted(p)), len(group), unit_name)
            if kind == "PERSON_DAYS":
                return _median(
                    [_days(p.first_report, p.first_service) for p in group if p.served and p.first_service]
                )
            if kind == "PERSON_RESTITUTION":
                paid = [p for p in group if p.served]
                return (len(paid), len(group), float(sum(p.amount for p in paid)))
            if kind == "AGENCY_COVERAGE":
                return _share(sum(1 for p in group if agency in p.agencies), len(group), unit_name)
            total = sum(len(p.agencies) for p in group)
            return (total, len(group), total / len(group) if group else None)

        everyone = list(units.values())
        by_cell: dict[tuple, list[_Person]] = defaultdict(list)
        for p in everyone:
            for cell in p.cells:
                by_cell[cell].append(p)
        rows = sorted(AGENCY_CODE.values()) if kind == "AGENCY_COVERAGE" else [None]
        out: dict[Key, Figure] = {}
        for row in rows:
            out[(row, None)] = figure(everyone, row)
            if dims:
                for cell, group in by_cell.items():
                    out[(row, cell)] = figure(group, row)
        return out

    def _staged_cases(self, period: tuple[str, str] | None) -> list[tuple[str, dict[str, Any]]]:
        return [(a, c) for (a, _), c in self.cases.items() if in_period(c, period)]

    def _funnel(self, spec: Indicator, dims: list[str], period: tuple[str, str] | None) -> dict[Key, Figure]:
        steps = [s.name for s in spec.steps]
        cases = [(a, c) for a, c in self._staged_cases(period) if c["stage"] is not None]

        def reached(group: list[dict[str, Any]], step: str) -> int:
            if step == steps[0]:
                return len(group)
            return sum(
                1
                for c in group
                if c["stage"] != "DISCONTINUED" and STAGES.index(c["stage"]) >= STAGES.index(step)
            )

        by_cell: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for agency, case in cases:
            for cell in cells_of(agency, None, case, dims):
                by_cell[cell].append(case)
        everyone = [c for _, c in cases]
        attrition = spec.measure == "ATTRITION"
        out: dict[Key, Figure] = {}
        for i, step in enumerate(steps):
            if attrition and i == 0:
                continue
            previous = steps[max(i - 1, 0)]

            def figure(group: list[dict[str, Any]], step: str = step, previous: str = previous) -> Figure:
                now, before = reached(group, step), reached(group, previous)
                top = before - now if attrition else now
                return _share(top, before, spec.unit.name)

            out[(step, None)] = figure(everyone)
            if dims:
                for cell, group in by_cell.items():
                    out[(step, cell)] = figure(group)
        return out

    def _stage_days(
        self, spec: Indicator, dims: list[str], period: tuple[str, str] | None
    ) -> dict[Key, Figure]:
        firsts: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for agency, data in self.agencies.items():
            for e in data["stage_events"]:
                known = firsts[(agency, e["case_key"])].get(e["stage"])
                if known is None or e["date"] < known:
                    firsts[(agency, e["case_key"])][e["stage"]] = e["date"]
        steps = [s.name for s in spec.steps]
        out: dict[Key, Figure] = {}
        with_history = {a for a, d in self.agencies.items() if d["stage_events"]}
        cases = [(a, c) for a, c in self._staged_cases(period) if a in with_history]
        for i in range(1, len(steps)):
            before, after = steps[i - 1], steps[i]
            overall: list[int] = []
            by_cell: dict[tuple, list[int]] = defaultdict(list)
            for agency, case in cases:
                dates = firsts.get((agency, case["key"]), {})
                start = case["reported_at"] if before == "REPORTED" else dates.get(before)
                end = dates.get(after)
                if start is None or end is None:
                    continue
                overall.append(_days(start, end))
                for cell in cells_of(agency, None, case, dims):
                    by_cell[cell].append(_days(start, end))
            out[(after, None)] = _median(overall)
            if dims:
                for cell, values in by_cell.items():
                    out[(after, cell)] = _median(values)
        return out

    def _freshness(self, dims: list[str], period: tuple[str, str] | None, as_of: str) -> dict[Key, Figure]:
        out: dict[Key, Figure] = {}
        for agency, data in self.agencies.items():
            cases = [c for c in data["cases"] if in_period(c, period)]
            code = AGENCY_CODE[agency]
            latest = max((c["reported_at"] for c in cases), default=None)
            out[(code, None)] = (None, len(cases), float(_days(latest, as_of)) if latest else None)
            if dims:
                by_cell: dict[tuple, list[str]] = defaultdict(list)
                for case in cases:
                    for cell in cells_of(agency, None, case, dims):
                        by_cell[cell].append(case["reported_at"])
                for cell, days in by_cell.items():
                    out[(code, cell)] = (None, len(days), float(_days(max(days), as_of)))
        return out
