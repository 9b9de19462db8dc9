"""Deduplicated counting: victims counted once across agencies, and how much they overlap.

For the ``statistics`` query (measure ``VICTIMS`` and the ``doubleCounting`` figure). The
caller selects the victim records with its usual filters, pushed into each source, and hands
their ``(source, key)`` here; this module asks the linkage index which person each record is,
once, and counts.

Usage (one request)::

    dedup = await deduplicate(index, records, agency_of=lambda source: registry_agency(source))
    dedup.distinct                      # VICTIMS: distinct persons over all records
    dedup.double_counting               # DoubleCounting(per_agency, record_total, distinct, …)
    count_distinct(dedup, cell_of)      # VICTIMS by a dimension: cell → distinct persons

Semantics, documented for the statistics API:

- a record the linkage job has not seen yet (added after the last run) counts as a person of
  its own — the count can only be too high, never hide a victim;
- VICTIMS by a dimension counts each person once *per cell*: a victim with cases in 2022 and
  2023 is in both years, so cells can add up to more than the total (the total is the number
  of distinct persons, not the sum of cells);
- ``double_counting.record_total - double_counting.distinct`` is how many victim records are
  the same person counted again; ``per_agency`` gives, per agency, its records and its
  distinct persons, so a coordinator sees who overlaps with whom (``overlap``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from hub.linkage.index import LinkageIndex, RecordRef

#: A person in a count: the index's person id, or the record itself when not yet linked.
PersonKey = int | tuple[str, str]


@dataclass(frozen=True, slots=True)
class AgencyCount:
    """One agency's part: its victim records and the distinct persons among them."""

    agency: str
    records: int
    persons: int


@dataclass(frozen=True, slots=True)
class DoubleCounting:
    """Per-agency counts summed versus distinct persons across agencies."""

    per_agency: tuple[AgencyCount, ...]
    record_total: int  # sum of per-agency records (what adding agency reports gives)
    agency_sum: int  # sum of per-agency distinct persons
    distinct: int  # distinct persons across all agencies
    #: agency pair → persons recorded by both (sorted pair of agency codes)
    overlap: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        """How many more persons the per-agency figures count than there are."""
        return self.agency_sum - self.distinct

    @property
    def ratio(self) -> float:
        """Per-agency sum over distinct persons (1.0 = no double counting)."""
        return self.agency_sum / self.distinct if self.distinct else 1.0


@dataclass(slots=True)
class Deduplication:
    """Which person each victim record is, for one statistics request."""

    person_of: dict[RecordRef, PersonKey]
    agency_of_record: dict[RecordRef, str]

    @property
    def distinct(self) -> int:
        return len(set(self.person_of.values()))

    @property
    def unlinked(self) -> int:
        """Records the linkage job has not seen yet (each counted as a person of its own)."""
        return sum(1 for person in self.person_of.values() if isinstance(person, tuple))

    @property
    def double_counting(self) -> DoubleCounting:
        by_agency: dict[str, set[PersonKey]] = defaultdict(set)
        records: dict[str, int] = defaultdict(int)
        for ref, person in self.person_of.items():
            agency = self.agency_of_record[ref]
            by_agency[agency].add(person)
            records[agency] += 1
        agencies = sorted(by_agency)
        overlap = {}
        for x, a in enumerate(agencies):
            for b in agencies[x + 1 :]:
                shared = len(by_agency[a] & by_agency[b])
                if shared:
                    overlap[(a, b)] = shared
        per_agency = tuple(AgencyCount(a, records[a], len(by_agency[a])) for a in agencies)
        return DoubleCounting(
            per_agency=per_agency,
            record_total=sum(records.values()),
            agency_sum=sum(c.persons for c in per_agency),
            distinct=self.distinct,
            overlap=overlap,
        )


async def deduplicate(
    index: LinkageIndex,
    records: Iterable[RecordRef],
    agency_of: Callable[[str], str],
) -> Deduplication:
    """Look up the person of every victim record (``(source, key)``) in one batch."""
    refs = list(dict.fromkeys(records))
    known = await index.persons_of(refs)
    person_of: dict[RecordRef, PersonKey] = {ref: known.get(ref, ref) for ref in refs}
    return Deduplication(person_of, {ref: agency_of(ref[0]) for ref in refs})


def persons_by_cell(
    dedup: Deduplication, cell_of: Mapping[RecordRef, Iterable[Hashable]]
) -> dict[Hashable, set[PersonKey]]:
    """VICTIMS by a dimension: for each cell, the distinct persons among its records.

    ``cell_of`` gives each record's cell value(s) (a record may fall in several cells, e.g. a
    case with two exploitation types); records missing from ``dedup`` are ignored.
    """
    cells: dict[Hashable, set[PersonKey]] = defaultdict(set)
    for ref, values in cell_of.items():
        person = dedup.person_of.get(ref)
        if person is None:
            continue
        for value in values:
            cells[value].add(person)
    return dict(cells)


def count_distinct(
    dedup: Deduplication, cell_of: Mapping[RecordRef, Iterable[Hashable]]
) -> dict[Hashable, int]:
    """VICTIMS by a dimension: for each cell, how many distinct persons (see :func:`persons_by_cell`)."""
    return {value: len(persons) for value, persons in persons_by_cell(dedup, cell_of).items()}
