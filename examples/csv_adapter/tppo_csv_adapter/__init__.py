"""An example Python adapter: cases, persons and services from a folder of CSV exports.

Most agencies are served by a mapping file; this is for a source a mapping cannot describe.
It shows the whole contract of :class:`adapters.base.Source` in about 200 lines:

- the hub builds it with ``CsvSource(name=…, url=…, base_dir=…, **options)`` — ``options`` are
  the other keys of its ``[[sources]]`` entry (here ``agency_code``, ``agency_name``);
- ``open`` reads the files (a database adapter would connect and check its schema);
- every method answers in the national vocabulary (:mod:`hub.vocabulary.model`): records, enum members,
  ISO dates, Kemendagri codes, ISO alpha-2 countries;
- ``unsupported`` names the filter fields it cannot evaluate, so the hub leaves this source
  out of such queries (and says so) instead of counting cases nobody filtered.

The CSV files hold national values already (``FORCED_LABOUR``, ``33.01``); an adapter for
agency codes would translate them here. With a few thousand rows, filtering in Python is
fine; an adapter over a database should push filters into its SQL instead.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from adapters.base import Capabilities, Health, Source, SourceError
from hub.vocabulary.model import (
    CHILD_AGE_LIMIT,
    VICTIM_ROLES,
    AgeGroup,
    Agency,
    CaseFilter,
    CaseRecord,
    CaseSearch,
    CaseStage,
    Dimension,
    Entity,
    ExploitationType,
    Measure,
    OrgType,
    PersonRecord,
    PersonRole,
    Record,
    ServiceRecord,
    ServiceStatus,
    ServiceType,
    Sex,
    SortOrder,
    StatisticsRequest,
    TraffickingMeans,
)

#: Filter fields this adapter evaluates; any other makes the hub exclude it for that query.
SUPPORTED_FILTERS = frozenset({"reported_from", "reported_to", "exploitation_types", "regions", "text"})


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class CsvSource(Source):
    """Serves ``cases.csv``, ``persons.csv`` and ``services.csv`` of one folder."""

    def __init__(
        self,
        name: str,
        url: str,
        base_dir: Path | None = None,
        agency_code: str = "CSV",
        agency_name: str = "CSV export",
        agency_type: str = "OTHER",
    ) -> None:
        if not url.startswith("csv://"):
            raise ValueError("the csv adapter needs a url like csv:///abs/folder or csv://relative/folder")
        folder = Path(url.removeprefix("csv://"))
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        self.name = name
        self.folder = folder
        self.agency = Agency(agency_code.upper(), agency_name, OrgType.parse(agency_type))
        self.description = f"CSV exports in {folder.name}"
        self.capabilities = Capabilities(
            frozenset({Entity.CASE, Entity.PERSON, Entity.SERVICE}),
            frozenset(
                {(Entity.PERSON, "case_key"), (Entity.SERVICE, "case_key"), (Entity.SERVICE, "recipient_key")}
            ),
        )
        self._cases: dict[str, CaseRecord] = {}
        self._persons: dict[str, PersonRecord] = {}
        self._services: dict[str, ServiceRecord] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            cases = self._rows("cases.csv")
            persons = self._rows("persons.csv")
            services = self._rows("services.csv")
        except (OSError, csv.Error) as exc:
            raise SourceError(
                f"source {self.name!r}: cannot read its CSV files ({type(exc).__name__})"
            ) from None
        self._cases = {r["id"]: self._case(r) for r in cases}
        self._persons = {r["id"]: self._person(r) for r in persons}
        self._services = {r["id"]: self._service(r) for r in services}

    def _rows(self, file_name: str) -> list[dict[str, str]]:
        with (self.folder / file_name).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    def _case(self, row: dict[str, str]) -> CaseRecord:
        types = tuple(ExploitationType.parse(t) for t in row["exploitation_types"].split(";") if t)
        return CaseRecord(
            source=self.name,
            key=row["id"],
            source_key=row["id"],
            reported_at=_date(row["reported_at"]),
            region=row["region"] or None,
            country=row["country"] or None,
            exploitation_types=types or (ExploitationType.UNKNOWN,),
            means=(TraffickingMeans.UNKNOWN,),
            stage=CaseStage.parse(row["stage"]) if row["stage"] else None,
        )

    def _person(self, row: dict[str, str]) -> PersonRecord:
        born = _date(row["birth_date"])
        at = self._cases[row["case_id"]].reported_at if row["case_id"] in self._cases else None
        years = None
        if born and at:
            years = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
        return PersonRecord(
            source=self.name,
            key=row["id"],
            case_key=row["case_id"],
            roles=(PersonRole.parse(row["role"]),),
            sex=Sex.parse(row["sex"]) if row["sex"] else Sex.UNKNOWN,
            age_group=AgeGroup.for_age(years),
            is_child=None if years is None else years < CHILD_AGE_LIMIT,
            citizenship="ID",
            domicile_region=None,
            full_name=row.get("full_name") or None,
            nik=row.get("nik") or None,
            birth_date=born,
            passport_number=None,
            address=None,
            phone=None,
        )

    def _service(self, row: dict[str, str]) -> ServiceRecord:
        return ServiceRecord(
            source=self.name,
            key=row["id"],
            case_key=row["case_id"],
            recipient_key=row["person_id"] or None,
            type=ServiceType.parse(row["type"]),
            status=ServiceStatus.parse(row["status"]) if row["status"] else ServiceStatus.UNKNOWN,
            start_date=_date(row["start_date"]),
            end_date=_date(row["end_date"]),
            provider_unit=None,
            location=None,
        )

    # --- the contract ----------------------------------------------------------------------------

    def unsupported(self, filter: CaseFilter) -> set[str]:
        return filter.pushed_fields() - SUPPORTED_FILTERS

    def _matching(self, filter: CaseFilter) -> list[CaseRecord]:
        result = []
        for case in self._cases.values():
            if filter.reported_from and (case.reported_at is None or case.reported_at < filter.reported_from):
                continue
            if filter.reported_to and (case.reported_at is None or case.reported_at > filter.reported_to):
                continue
            if filter.exploitation_types and not set(case.exploitation_types) & set(
                filter.exploitation_types
            ):
                continue
            if filter.regions and not any((case.region or "").startswith(p) for p in filter.regions):
                continue
            if filter.text and filter.text.lower() not in (case.source_key or "").lower():
                continue
            result.append(case)
        return result

    async def search_cases(self, search: CaseSearch) -> list[CaseRecord]:
        """A page in the hub's merged order: (report date, source name, key)."""

        def position(case: CaseRecord) -> tuple[date, str, str]:
            return (case.reported_at or date.min, self.name, case.key)

        descending = search.order is SortOrder.DESC
        cases = sorted(self._matching(search.filter), key=position, reverse=descending)
        if search.after is not None:
            after = search.after
            last = (after.reported_at or date.min, after.source, after.key)
            cases = [c for c in cases if (position(c) < last if descending else position(c) > last)]
        return cases[: search.limit]

    async def count_cases(self, filter: CaseFilter) -> int:
        return len(self._matching(filter))

    async def aggregate(self, request: StatisticsRequest) -> dict[tuple[str | None, ...], int]:
        """Cases or victim records by year, exploitation type, stage, region or agency."""
        cells: Counter[tuple[str | None, ...]] = Counter()
        for case in self._matching(request.filter):
            if request.measure is Measure.CASES:
                units: list[Any] = [None]
            elif request.measure in (Measure.VICTIM_RECORDS, Measure.VICTIMS):
                units = [
                    p
                    for p in self._persons.values()
                    if p.case_key == case.key and set(p.roles) & VICTIM_ROLES
                ]
            else:
                units = [s for s in self._services.values() if s.case_key == case.key]
            for unit in units:
                for cell in self._cells(case, unit, request.dimensions):
                    cells[cell] += 1
        return dict(cells)

    def _cells(
        self, case: CaseRecord, unit: Any, dimensions: Sequence[Dimension]
    ) -> list[tuple[str | None, ...]]:
        cells: list[tuple[str | None, ...]] = [()]
        for dimension in dimensions:
            if dimension is Dimension.EXPLOITATION_TYPE:
                values: list[str | None] = [t.name for t in case.exploitation_types]
            elif dimension is Dimension.YEAR:
                values = [str(case.reported_at.year) if case.reported_at else None]
            elif dimension is Dimension.STAGE:
                values = [case.stage.name if case.stage else None]
            elif dimension is Dimension.AGENCY:
                values = [self.agency.code]
            elif dimension is Dimension.SEX and isinstance(unit, PersonRecord):
                values = [unit.sex.name]
            elif dimension is Dimension.SERVICE_TYPE and isinstance(unit, ServiceRecord):
                values = [unit.type.name]
            else:
                values = [None]
            cells = [(*cell, value) for cell in cells for value in values]
        return cells

    def _table(self, entity: Entity) -> dict[str, Any]:
        return {Entity.CASE: self._cases, Entity.PERSON: self._persons, Entity.SERVICE: self._services}.get(
            entity, {}
        )

    async def load(self, entity: Entity, keys: Sequence[str]) -> list[Record]:
        table = self._table(entity)
        return [table[k] for k in dict.fromkeys(keys) if k in table]

    async def children(self, entity: Entity, field: str, parent_keys: Sequence[str]) -> list[Record]:
        wanted = set(parent_keys)
        return [r for r in self._table(entity).values() if getattr(r, field, None) in wanted]

    async def scan(self, entity: Entity, after: str | None, limit: int) -> tuple[list[Record], str | None]:
        keys = sorted(self._table(entity))
        start = 0 if after is None else next((i for i, k in enumerate(keys) if k > after), len(keys))
        batch = keys[start : start + limit]
        records = [self._table(entity)[k] for k in batch]
        more = start + limit < len(keys)
        return records, (batch[-1] if more and batch else None)

    async def health(self) -> Health:
        ok = all((self.folder / f).is_file() for f in ("cases.csv", "persons.csv", "services.csv"))
        return Health(ok, "" if ok else "CSV files missing")
