"""Per-record facts for indicators: the small, non-identifying rows a source computes for them.

The Task Force's indicators (``hub.engine.indicators``) count *persons* across agencies, so a
source cannot just return one number: the hub needs to know which records are the same human
being (the linkage index) before it can count. Each source therefore answers four grouped
questions, computed in its own database, returning only keys, national codes, dates and sums —
never a name, NIK, birth date or address:

- :class:`PersonFactsRequest` → :class:`PersonFact`: the person records with one of some
  roles, in cases matching a filter, with the cells they fall in and their case's report date;
- :class:`ServiceFact`: for every recipient record, per service type and status, the earliest
  start date and how many services (a GROUP BY on the service table);
- :class:`StageFact`: for every case matching a filter, the earliest date of each procedural
  stage in its stage history, and its report date;
- :class:`RestitutionFact`: for every recipient record, the restitution amounts requested,
  ordered and paid (a GROUP BY with SUM on the restitution table).

These types are part of the adapter contract (:class:`adapters.base.Source`); the SQL that
answers them for mapped sources lives in :mod:`adapters.sql_facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hub.vocabulary.model import CaseFilter, CaseStage, Dimension, PersonRole, ServiceStatus, ServiceType

#: A cell: one national value (or None) per requested dimension, as in statistics.
Cell = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class PersonFactsRequest:
    """Person records with one of ``roles`` in cases matching ``filter``, grouped by ``dimensions``.

    ``dimensions`` may be any statistics dimension except SERVICE_TYPE (case dimensions come
    from the record's case, person dimensions from the record itself).
    """

    roles: frozenset[PersonRole]
    dimensions: tuple[Dimension, ...] = ()
    filter: CaseFilter = field(default_factory=CaseFilter)


@dataclass(frozen=True, slots=True)
class PersonFact:
    """One person record: its key, the cells it falls in, and its case's report date."""

    key: str
    cells: tuple[Cell, ...]
    reported_at: date | None


@dataclass(frozen=True, slots=True)
class ServiceFact:
    """Services of one type and status recorded for one recipient record."""

    recipient_key: str
    type: ServiceType
    status: ServiceStatus
    first_start: date | None
    count: int


@dataclass(frozen=True, slots=True)
class RestitutionFact:
    """Restitution recorded for one recipient record: amounts summed (None where none recorded)."""

    recipient_key: str
    requested_idr: int | None
    ordered_idr: int | None
    paid_idr: int | None


@dataclass(frozen=True, slots=True)
class StageFact:
    """One case matching a filter: its cells, report date and first date of each stage reached."""

    case_key: str
    cells: tuple[Cell, ...]
    reported_at: date | None
    first_dates: dict[CaseStage, date] = field(default_factory=dict)
