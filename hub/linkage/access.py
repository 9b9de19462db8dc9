"""The linkage side of the caseworker rule: which agencies hold records of the same person.

A caseworker may read personal fields of another agency's record when their own agency holds a
record of the same person (docs/architecture.md §3). The policy asks synchronously, per record; this
object answers from a prefetch made once per page — one lookup in the linkage index for all
person records the request loaded — so the decision stays a cheap, pure function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hub.linkage.index import LinkageIndex, RecordRef


class RequestLinkage:
    """Linked agencies of the person records of one request (implements ``LinkedAgencies``)."""

    def __init__(self, index: LinkageIndex, agency_of: Callable[[str], str | None]) -> None:
        self._index = index
        self._agency_of = agency_of
        self._agencies: dict[RecordRef, frozenset[str]] = {}

    async def prefetch(self, refs: Iterable[RecordRef]) -> None:
        """Look up the persons of ``refs`` and the agencies holding their records (2 statements)."""
        wanted = [ref for ref in dict.fromkeys(refs) if ref not in self._agencies]
        if not wanted:
            return
        person_of = await self._index.persons_of(wanted)
        entries = await self._index.records_of(sorted(set(person_of.values())))
        agencies_of_person = {
            person: frozenset(a for e in records if (a := self._agency_of(e.source)) is not None)
            for person, records in entries.items()
        }
        for ref in wanted:
            person = person_of.get(ref)
            self._agencies[ref] = (
                agencies_of_person.get(person, frozenset()) if person is not None else frozenset()
            )

    def agencies_of_person(self, source: str, key: str) -> frozenset[str]:
        """Agency codes holding any record of the person record ``key`` of ``source`` is."""
        return self._agencies.get((source, key), frozenset())
