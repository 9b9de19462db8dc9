"""The adapter contract: what every agency source answers, whatever its database looks like.

A source is small and async. It declares its agency and what it holds, and answers five
questions, always in the national vocabulary of :mod:`hub.vocabulary.model`:

- ``search_cases`` — one page of cases after a keyset position, filter pushed into its SQL;
- ``count_cases`` — how many cases match a filter (a COUNT in the source, never by paging);
- ``aggregate`` — statistics: GROUP BY in the source, translated to national values;
- ``load`` — records of one entity by their keys (for ``node(id)`` and references);
- ``children`` — records of one entity for many parents at once (the victims of 50 cases in
  one statement), which is what keeps nested GraphQL fields free of N+1 queries;
- ``scan`` — every record of an entity, a batch at a time (for linkage and quality jobs);
- ``health`` — whether the database answers.

Adapters know no GraphQL: they take and return plain records. Most agencies never write one:
the generic :class:`adapters.sql.MappedSQLSource` executes a mapping file. A Python adapter
subclasses :class:`Source` and is registered through the ``tppo_hub.adapters`` entry point.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from adapters.facts import PersonFact, PersonFactsRequest, RestitutionFact, ServiceFact, StageFact
from hub.vocabulary.model import (
    Agency,
    CaseFilter,
    CaseRecord,
    CaseSearch,
    ChildrenRequest,
    Dimension,
    Entity,
    PersonRole,
    Record,
    StatisticsRequest,
)


class SourceError(Exception):
    """A source could not answer. The message must never carry SQL, DSNs or personal data."""

    code = "SOURCE_UNAVAILABLE"
    #: The database's own message about a failed statement, literals removed (see
    #: :func:`adapters.runner.database_message`): for ``adapter check``, never for clients.
    detail: str | None = None


class SourceTimeout(SourceError):
    """A statement ran past the source's statement timeout and was cancelled."""

    code = "SOURCE_TIMEOUT"


class SourceDataError(SourceError):
    """A source answered with rows that cannot be read as the mapping says."""

    code = "SOURCE_DATA_ERROR"


class MappingError(ValueError):
    """A mapping file is malformed or does not fit its database; lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"mapping for source {source!r} has {len(self.problems)} problem(s):\n{listing}")


@dataclass(slots=True)
class CallStats:
    """Work done by one source for one engine call: SQL statements sent and rows read.

    The engine puts a fresh instance in :data:`CURRENT_CALL` around each call into a source;
    SQL adapters count statements through an engine event and rows as they read them.
    """

    statements: int = 0
    rows: int = 0


#: Stats holder of the source call running in this task (``None`` outside engine calls).
CURRENT_CALL: ContextVar[CallStats | None] = ContextVar("tppo_current_call", default=None)


def count_rows(n: int) -> None:
    """Record that the running source call read ``n`` rows."""
    stats = CURRENT_CALL.get()
    if stats is not None:
        stats.rows += n


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a source holds and which relations it can follow.

    ``relations`` names (entity, field) pairs usable with :meth:`Source.children`, e.g.
    ``(Entity.PERSON, "case_key")`` for "person records of these cases".
    """

    entities: frozenset[Entity]
    relations: frozenset[tuple[Entity, str]] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class PageRead:
    """What :meth:`Source.search_cases_with` reads: a page, its cases' children, its total."""

    cases: list[CaseRecord]
    #: Per request of ``children``, the records of the page's cases.
    children: list[list[Record]]
    #: The cases matching the search's filter (when :attr:`CaseSearch.count` asked; else None).
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """Result of a health probe."""

    ok: bool
    detail: str = ""


class Source(abc.ABC):
    """One registered agency database, read in place and read-only."""

    name: str
    agency: Agency
    capabilities: Capabilities
    description: str = ""

    async def open(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Connect and validate; called once before the first query."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; called at shutdown."""

    @abc.abstractmethod
    async def search_cases(self, search: CaseSearch) -> list[CaseRecord]:
        """Up to ``search.limit`` cases after ``search.after`` in ``search.order``."""

    #: Whether :meth:`search_cases_with` reads a page and its cases' children in one round trip,
    #: and :meth:`children_together` several relations in one (the engine then asks for them
    #: so; otherwise it asks for the page, then for each relation of the cases it keeps).
    combines_children: bool = False

    async def search_cases_with(self, search: CaseSearch, children: Sequence[ChildrenRequest]) -> PageRead:
        """The page of :meth:`search_cases`; per request in ``children``, the records of the
        page's cases that :meth:`children` (or :meth:`children_in_roles`) would return; and,
        when ``search.count``, :meth:`count_cases` of ``search.filter``.

        By default exactly that: the count beside the page (both cancelled if either fails),
        then the children. A source that reads them with the page in one statement overrides
        it and sets :attr:`combines_children`.
        """
        if not search.count:
            cases = await self.search_cases(search)
            return PageRead(cases, await self.children_together(children, [case.key for case in cases]))
        paging = asyncio.ensure_future(self.search_cases(search))
        counting = asyncio.ensure_future(self.count_cases(search.filter))
        try:  # the first failure is raised as it is (a timeout stays a timeout)
            cases, total = await asyncio.gather(paging, counting)
        finally:
            paging.cancel()  # nothing if done
            counting.cancel()
        found = await self.children_together(children, [case.key for case in cases])
        return PageRead(cases, found, total)

    async def children_together(
        self, requests: Sequence[ChildrenRequest], parent_keys: Sequence[str]
    ) -> list[list[Record]]:
        """Per request in ``requests``, the records :meth:`children` (or
        :meth:`children_in_roles`) would return for ``parent_keys``.

        By default exactly that, one call after the other; a source that reads several
        relations in one statement overrides it and sets :attr:`combines_children`.
        """
        found: list[list[Record]] = []
        for request in requests:
            if not parent_keys:
                found.append([])
            elif request.roles is None:
                found.append(await self.children(request.entity, request.field, parent_keys))
            else:
                found.append(
                    await self.children_in_roles(request.entity, request.field, parent_keys, request.roles)
                )
        return found

    @abc.abstractmethod
    async def count_cases(self, filter: CaseFilter) -> int:
        """The number of cases matching ``filter``."""

    @abc.abstractmethod
    async def aggregate(self, request: StatisticsRequest) -> dict[tuple[str | None, ...], int]:
        """Counts of ``request.measure`` per combination of national dimension values.

        Keys follow ``request.dimensions`` (values as in :class:`hub.vocabulary.model.StatisticsRequest`);
        the grouping runs in the source's database.
        """

    async def aggregate_keyed(
        self, request: StatisticsRequest, salt: str
    ) -> dict[tuple[str | None, ...], tuple[int, int]] | None:
        """Like :meth:`aggregate`, with each cell's sum of record keys beside its count.

        A record's key is :func:`adapters.cellkeys.record_key` of ``salt`` and its key text
        (the cell-key method of :mod:`hub.access.cellkey`), summed in the source's own query.
        None when this source cannot key its records: the hub then keys its cells by count,
        which protects less against differencing.
        """
        return None

    async def aggregate_counted(
        self, request: StatisticsRequest, salt: str | None
    ) -> tuple[dict[tuple[str | None, ...], tuple[int, int]], tuple[int, int]] | None:
        """:meth:`aggregate` (``salt`` None: every key sum 0) or :meth:`aggregate_keyed`, and
        beside the cells the total — the records counted, each once however many cells it
        falls in, and their key sum — from the same statements.

        None when this source cannot (the default): the hub then asks for the total as the
        counts of the request without dimensions, a second call.
        """
        return None

    async def victim_records(
        self, request: StatisticsRequest
    ) -> list[tuple[str, list[tuple[str | None, ...]]]]:
        """Keys of the victim records matching ``request.filter``, each with its cells.

        Used for counts of distinct persons (measure VICTIMS) through the linkage index;
        only keys and dimension values are returned, never personal fields.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list victim records")

    #: Whether this source answers the indicator facts below (:mod:`adapters.facts`); a
    #: source that does not is reported as unable to evaluate person and stage indicators.
    answers_facts: bool = False

    async def person_facts(self, request: PersonFactsRequest) -> list[PersonFact]:
        """Person records with one of ``request.roles`` in cases matching the filter, with cells.

        Keys, national cells and the case's report date only; never personal fields.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list person facts")

    async def service_facts(self) -> list[ServiceFact]:
        """Per recipient record, service type and status: first start date and count (GROUP BY)."""
        raise NotImplementedError(f"{type(self).__name__} cannot group its services")

    async def stage_facts(self, filter: CaseFilter, dimensions: Sequence[Dimension]) -> list[StageFact]:
        """Cases matching ``filter``: cells, report date and the first date of each stage reached."""
        raise NotImplementedError(f"{type(self).__name__} cannot list stage facts")

    async def restitution_facts(self) -> list[RestitutionFact]:
        """Per recipient record: restitution requested, ordered and paid, summed (GROUP BY)."""
        raise NotImplementedError(f"{type(self).__name__} cannot group its restitution")

    @abc.abstractmethod
    async def load(self, entity: Entity, keys: Sequence[str]) -> list[Record]:
        """Records of ``entity`` with these keys, in any order; unknown keys are left out."""

    @abc.abstractmethod
    async def children(self, entity: Entity, field: str, parent_keys: Sequence[str]) -> list[Record]:
        """Records of ``entity`` whose ``field`` (e.g. ``case_key``) is one of ``parent_keys``."""

    async def children_in_roles(
        self, entity: Entity, field: str, parent_keys: Sequence[str], roles: frozenset[PersonRole]
    ) -> list[Record]:
        """Like :meth:`children`, when only person records with one of ``roles`` are wanted.

        The engine asks this when a query selects, say, the victims of cases and not their
        suspects: a source may then leave out what cannot hold one of ``roles`` (a suspects
        table) — one statement and its rows fewer. It may also return more (the engine keeps
        only what was asked for); by default it answers :meth:`children`.
        """
        return await self.children(entity, field, parent_keys)

    @abc.abstractmethod
    async def scan(self, entity: Entity, after: str | None, limit: int) -> tuple[list[Record], str | None]:
        """Every record of ``entity`` in a stable order, ``limit`` at a time.

        ``after`` is the opaque position returned by the previous call (None to start); the
        returned position is None when the scan is complete. Used by batch jobs (linkage,
        data-quality checks) that must read a whole table without OFFSET.
        """

    @abc.abstractmethod
    async def health(self) -> Health:
        """Probe the database with a trivial statement."""

    async def last_changed(self) -> datetime | None:
        """When the source's data last changed, if the source can tell (None otherwise).

        The hub compares it with the last linkage run, so that counts of distinct persons say
        when they may be out of date instead of silently counting old links.
        """
        return None

    def unsupported(self, filter: CaseFilter) -> set[str]:
        """Fields of ``filter`` this source cannot evaluate; its cases are then excluded."""
        return filter.pushed_fields()

    def supports(self, entity: Entity, field: str | None = None) -> bool:
        """Whether this source holds ``entity`` (and can follow ``field`` to it)."""
        if entity not in self.capabilities.entities:
            return False
        return field is None or (entity, field) in self.capabilities.relations
