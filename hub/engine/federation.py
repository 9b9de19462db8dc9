"""The federation engine: fan out to the agency sources, merge, paginate, follow relations.

Everything the GraphQL layer needs from the sources goes through here, once:

- every call into a source runs under that source's timeout, counts its statements and rows,
  and turns any failure into a reported partial result instead of a failed query;
- a page of cases asks every source concurrently for at most ``first + 1`` rows after the
  keyset position and merges the sorted streams — no OFFSET, each case visited once;
- nested relations of a page (victims, services, stage history, …) are loaded per relation
  level through the request's DataLoaders: one statement per source per relation, whatever
  the page size.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol, TypeVar

from adapters.base import (
    CURRENT_CALL,
    CallStats,
    PageRead,
    Source,
    SourceDataError,
    SourceError,
    SourceTimeout,
)
from hub.engine import tracing
from hub.engine.breaker import PROBE_SECONDS, BreakerState
from hub.engine.config import HubConfig
from hub.engine.gathering import gather_all
from hub.engine.ids import GlobalId
from hub.engine.loaders import Loaders, load_all
from hub.engine.metrics import HubMetrics
from hub.engine.rowrule import without_hidden
from hub.engine.scope import CallOutcome, RequestContext, SourceFailure
from hub.engine.sources import RegisteredSource, SourceRegistry, SourceState
from hub.linkage.counting import DoubleCounting, deduplicate, persons_by_cell
from hub.linkage.index import LinkageIndex
from hub.vocabulary.model import (
    CaseFilter,
    CaseRecord,
    CaseSearch,
    ChildrenRequest,
    Entity,
    Keyset,
    Measure,
    Record,
    SortOrder,
    StatisticsRequest,
)
from hub.vocabulary.relations import RELATIONS, Relation

log = logging.getLogger("tppo_hub.federation")

T = TypeVar("T")

#: An include tree: relation name → what to include below it.
Include = Mapping[str, "Include"]


@dataclass(slots=True)
class Linked:
    """A record with the related records the request asked for."""

    record: Record
    links: dict[str, Any] = field(default_factory=dict)


Cell = tuple[str | None, ...]


#: Where a source's total travels among its cells inside :meth:`Federation._grouped`.
_TOTAL: Cell = ("\x00total",)


class CellKeying(Protocol):
    """What perturbed statistics need from the access layer (:class:`hub.access.cellkey.CellKeys`)."""

    def salt(self, source: str) -> str:
        """The salt ``source`` hashes its record keys with."""
        ...

    def person_key(self, person: Hashable) -> int:
        """The key of a distinct person (VICTIMS)."""
        ...

    def fallback_key(self, source: str, cell: Cell, count: int) -> int:
        """A key for a cell of a source that cannot key its records."""
        ...


@dataclass(slots=True)
class StatisticsResult:
    """Merged statistics: counts per cell, the total, and (when asked) double counting.

    ``keys`` and ``total_key`` are the cell keys (sums of record or person keys) when the
    statistics were asked with a :class:`CellKeying`.
    """

    cells: dict[Cell, int]
    total: int
    double_counting: DoubleCounting | None = None
    keys: dict[Cell, int] | None = None
    total_key: int | None = None
    #: Victim records counted that the linkage index has not seen (None: no linkage involved).
    unlinked: int | None = None


@dataclass(slots=True)
class CasePage:
    """One page of merged cases."""

    items: list[Linked]
    has_next: bool
    #: The sources whose page call answered (a total counts only these: :meth:`Federation.total`).
    answered: frozenset[str] = frozenset()
    #: Per source, its cases matching the filter, when :meth:`Federation.cases` was asked to count.
    counts: dict[str, int] | None = None

    @property
    def total(self) -> int | None:
        """All cases matching the filter in the sources whose page answered (None: not counted)."""
        return Federation.total(self, self.counts) if self.counts is not None else None


class Federation:
    """Answers engine requests across all registered sources."""

    def __init__(
        self, registry: SourceRegistry, config: HubConfig, metrics: HubMetrics | None = None
    ) -> None:
        self.registry = registry
        self.config = config
        self.metrics = metrics

    def new_context(self) -> RequestContext:
        """A fresh request context with its own loaders (call inside the event loop)."""
        ctx = RequestContext()
        ctx.loaders = Loaders(self, ctx)
        return ctx

    # --- calling sources ---------------------------------------------------------------------

    async def call(
        self,
        ctx: RequestContext,
        entry: RegisteredSource,
        work: Callable[[Source], Awaitable[T]],
        default: T,
    ) -> T:
        """Run ``work`` against one source under its timeout; on failure record it, return ``default``.

        The source's circuit breaker decides whether it is asked at all; a source that is not
        open (down at start-up) is opened first, so it rejoins when its database is back.
        """
        if entry.source is None:
            return self._unavailable(ctx, entry, default, "is not configured correctly")
        if not entry.breaker.allow():
            return self._unavailable(ctx, entry, default, "is unavailable (circuit open)")
        if not entry.opened and not await self.registry.reopen(entry):
            entry.breaker.record_failure()
            return self._unavailable(ctx, entry, default, "is unavailable")
        # A bounded number of calls per source run at once; the rest queue here, *before* the
        # source's timeout starts, so a busy hub neither floods an agency nor blames a healthy
        # one (a queue timeout is the hub's congestion: it does not count against the breaker).
        waited = time.perf_counter()
        try:
            if entry.slots.locked():  # no free slot: wait for one, within the source's timeout
                async with asyncio.timeout(entry.timeout_seconds):
                    await entry.slots.acquire()
            else:
                await entry.slots.acquire()  # a free slot is taken at once (no timer to arm)
        except TimeoutError:
            entry.breaker.release_probe()
            ctx.record(entry.name, CallOutcome.TIMEOUT, (time.perf_counter() - waited) * 1000, 0, 0)
            ctx.fail(
                SourceFailure(entry.name, "SOURCE_TIMEOUT", f"source {entry.name!r} is busy (no free slot)")
            )
            if self.metrics is not None:
                self.metrics.observe_failure(entry.name, "SOURCE_TIMEOUT")
            return default
        try:
            return await self._run(ctx, entry, work, default)
        finally:
            entry.slots.release()

    async def _run(
        self,
        ctx: RequestContext,
        entry: RegisteredSource,
        work: Callable[[Source], Awaitable[T]],
        default: T,
    ) -> T:
        """One call into an open source that holds a slot: timeout, stats, outcome, breaker."""
        assert entry.source is not None
        stats = CallStats()
        token = CURRENT_CALL.set(stats)
        started = time.perf_counter()
        outcome = CallOutcome.OK
        result = default
        try:
            with tracing.span("tppo.source", source=entry.name) as current:
                async with asyncio.timeout(entry.timeout_seconds):
                    result = await work(entry.source)
                if current is not None:
                    current.set_attribute("statements", stats.statements)
                    current.set_attribute("rows", stats.rows)
        except (TimeoutError, SourceTimeout):
            outcome = CallOutcome.TIMEOUT
            message = f"source {entry.name!r} did not answer in time"
            ctx.fail(SourceFailure(entry.name, "SOURCE_TIMEOUT", message))
        except SourceDataError as exc:
            outcome = CallOutcome.ERROR
            ctx.fail(SourceFailure(entry.name, "SOURCE_DATA_ERROR", str(exc)))
        except SourceError as exc:
            outcome = CallOutcome.ERROR
            ctx.fail(SourceFailure(entry.name, "SOURCE_UNAVAILABLE", str(exc)))
        except Exception as exc:  # an adapter bug must not fail the whole query
            outcome = CallOutcome.ERROR
            log.error("source %s failed with %s", entry.name, type(exc).__name__)
            ctx.fail(SourceFailure(entry.name, "SOURCE_UNAVAILABLE", f"source {entry.name!r} failed"))
        finally:
            CURRENT_CALL.reset(token)
            elapsed = (time.perf_counter() - started) * 1000
            ctx.record(entry.name, outcome, elapsed, stats.statements, stats.rows)
        await self._track_health(entry, outcome)
        if self.metrics is not None:
            self.metrics.observe_call(entry.name, outcome.value, elapsed / 1000, stats.statements)
            if outcome is not CallOutcome.OK:
                code = "SOURCE_TIMEOUT" if outcome is CallOutcome.TIMEOUT else ctx.failures[-1].code
                self.metrics.observe_failure(entry.name, code)
        return result

    async def _track_health(self, entry: RegisteredSource, outcome: CallOutcome) -> None:
        """Feed the breaker with source faults only: errors count; a timeout counts only when
        a cheap probe of the source fails too (an expensive query is no fault of the agency)."""
        if outcome is CallOutcome.OK:
            entry.breaker.record_success()
            entry.state, entry.detail = SourceState.UP, ""
        elif outcome is CallOutcome.TIMEOUT and entry.source is not None:
            probe = _health_probe(entry.source)
            if await entry.breaker.judge_timeout(probe, min(PROBE_SECONDS, entry.timeout_seconds)):
                entry.state, entry.detail = SourceState.UP, ""
        else:
            entry.breaker.record_failure()
        if entry.breaker.state is BreakerState.OPEN:
            entry.state, entry.detail = SourceState.DOWN, "failing (circuit open)"
        entry.last_checked_at = datetime.now(UTC)

    def _unavailable(self, ctx: RequestContext, entry: RegisteredSource, default: T, why: str) -> T:
        if self.metrics is not None:
            self.metrics.observe_failure(entry.name, "SOURCE_UNAVAILABLE")
        ctx.mark(entry.name, CallOutcome.ERROR)
        ctx.fail(SourceFailure(entry.name, "SOURCE_UNAVAILABLE", f"source {entry.name!r} {why}"))
        return default

    def sources_for(self, ctx: RequestContext, filter: CaseFilter) -> list[RegisteredSource]:
        """The sources a case query must ask.

        Sources the agency/source filter leaves out are marked ``skipped``; sources that cannot
        evaluate a filter field are marked ``excluded`` (their cases would otherwise be
        counted as matching a condition nobody checked).
        """
        chosen = []
        for entry in self.registry.all():
            agency = entry.source.agency.code if entry.source else None
            if (filter.sources and entry.name not in filter.sources) or (
                filter.agencies and agency is not None and agency not in filter.agencies
            ):
                ctx.mark(entry.name, CallOutcome.SKIPPED)
                continue
            unsupported = entry.source.unsupported(filter) if entry.source is not None else set()
            if unsupported:
                ctx.mark(entry.name, CallOutcome.EXCLUDED)
                ctx.exclude(entry.name, sorted(unsupported))
            else:
                chosen.append(entry)
        return chosen

    # --- cases --------------------------------------------------------------------------------

    async def cases(
        self,
        ctx: RequestContext,
        filter: CaseFilter,
        order: SortOrder,
        first: int,
        after: Keyset | None,
        include: Include | None = None,
        count: bool = False,
    ) -> CasePage:
        """A page of cases merged across sources in (report date, source, key) order.

        ``count``: also count the cases matching ``filter`` in each source (:attr:`CasePage.total`).
        Each source counts in its page's call (:attr:`CaseSearch.count`): a source that can
        reads its total in the page's own statement, so a page and its total are one round
        trip and one snapshot of that source (issue 13). In the agency orders, where a
        source after a full page is not asked for its page, the counts run beside the pages.

        ``include``: the relations the caller will expand on the page (:meth:`expand`). When
        one source answers the page and can read its cases' children with it
        (:attr:`~adapters.base.Source.combines_children`), they come in the page's own round
        trip and are primed into the request's loaders, so the expansion finds them there.
        With several sources the page keeps only some of each source's cases, and the
        relations are read afterwards for the kept ones.
        """
        entries = self.sources_for(ctx, filter)
        wanted = self._children_with_page(ctx, entries, include)
        if order.by_agency:
            counting = asyncio.ensure_future(self.count_cases(ctx, filter)) if count else None
            try:
                page = await self._cases_by_agency(ctx, filter, order, first, after, entries, wanted)
                page.counts = await counting if counting is not None else None
            finally:
                if counting is not None:
                    counting.cancel()  # nothing if it has finished; else the page failed
            return page

        def search(source: Source) -> CaseSearch:
            seen = _as_seen(ctx, source, filter)
            return CaseSearch(filter=seen, order=order, after=after, limit=first + 1, count=count)

        work = self._page_work(ctx, search, wanted)
        results = await gather_all([self.call(ctx, e, work, None) for e in entries])
        streams = [read.cases for read in results if read is not None]
        descending = order is SortOrder.DESC
        merged = heapq.merge(*streams, key=Keyset.merge_key, reverse=descending)
        page = _page(list(islice(merged, first + 1)), first, entries, results)
        if count:
            page.counts = _counts(entries, results)
        return page

    async def count_cases(self, ctx: RequestContext, filter: CaseFilter) -> dict[str, int]:
        """Per source that answers, its cases matching ``filter`` (a COUNT in each); a source
        that fails is reported like any failing call. Add them up with :meth:`total`."""

        async def work(source: Source) -> int | None:
            return await source.count_cases(_as_seen(ctx, source, filter))

        entries = self.sources_for(ctx, filter)
        counts = await gather_all([self.call(ctx, e, work, None) for e in entries])
        return {e.name: n for e, n in zip(entries, counts, strict=True) if n is not None}

    @staticmethod
    def total(page: CasePage, counts: dict[str, int]) -> int:
        """The total of a list: the counts of the sources whose page answered too, so the
        total is always what paging to the end lists (a source failing in either call is
        left out of both, and reported)."""
        return sum(n for source, n in counts.items() if source in page.answered)

    async def _cases_by_agency(
        self,
        ctx: RequestContext,
        filter: CaseFilter,
        order: SortOrder,
        first: int,
        after: Keyset | None,
        chosen: list[RegisteredSource],
        wanted: list[ChildrenRequest],
    ) -> CasePage:
        """Cases agency by agency (by agency code, then source name), newest first within each.

        The order concatenates the sources, so the cursor's source continues after its key,
        the sources after it start from their newest case, and those before it are done.
        """
        entries = sorted(
            chosen,
            key=lambda e: (e.source.agency.code if e.source else "", e.name),
            reverse=order is SortOrder.AGENCY_DESC,
        )
        start = 0
        if after is not None:
            names = [e.name for e in entries]
            start = names.index(after.source) if after.source in names else len(entries)

        def work_for(position: int) -> Callable[[Source], Awaitable[PageRead | None]]:
            continuing = after if position == start and after is not None else None

            def search(source: Source) -> CaseSearch:
                seen = _as_seen(ctx, source, filter)
                return CaseSearch(filter=seen, order=SortOrder.DESC, after=continuing, limit=first + 1)

            page = self._page_work(ctx, search, wanted)

            async def work(source: Source) -> PageRead | None:
                if position < start:
                    return PageRead([], [])  # before the cursor's source: done
                return await page(source)

            return work

        calls = [self.call(ctx, entry, work_for(i), None) for i, entry in enumerate(entries)]
        results = await gather_all(calls)
        items = [record for read in results if read is not None for record in read.cases][: first + 1]
        return _page(items, first, entries, results)

    @staticmethod
    def _children_with_page(
        ctx: RequestContext, entries: list[RegisteredSource], include: Include | None
    ) -> list[ChildrenRequest]:
        """The case relations of ``include`` to read with the page: only when one source answers
        it and combines them (:meth:`cases`), and only the relations that source holds."""
        if not include or len(entries) != 1:
            return []
        source = entries[0].source
        if source is None or not source.combines_children:
            return []
        return [
            _asked(ctx, relation)
            for relation, _ in merged_relations(Entity.CASE, include).values()
            if relation.many and source.supports(relation.target, relation.via)
        ]

    @staticmethod
    def _page_work(
        ctx: RequestContext, search: Callable[[Source], CaseSearch], wanted: list[ChildrenRequest]
    ) -> Callable[[Source], Awaitable[PageRead | None]]:
        """A source's page call (with its total when the search counts); with ``wanted``, the
        page's children read with it pass the row rule and are primed into the request's
        loaders (:meth:`Loaders.prime_children`)."""

        async def work(source: Source) -> PageRead | None:
            asked = search(source)
            if not wanted and not asked.count:
                return PageRead(await source.search_cases(asked), [])
            read = await source.search_cases_with(asked, wanted)
            if asked.count and read.total is None:
                raise SourceDataError(f"source {source.name!r} gave a page without its total")
            if wanted:
                assert ctx.loaders is not None
                hidden = ctx.hidden_roles(source.name)
                keys = [case.key for case in read.cases]
                for request, records in zip(wanted, read.children, strict=True):
                    kept = await without_hidden(source, records, hidden)
                    ctx.loaders.prime_children(request, source.name, keys, kept)
            return read

        return work

    # --- statistics ---------------------------------------------------------------------------

    async def statistics(
        self,
        ctx: RequestContext,
        request: StatisticsRequest,
        index: LinkageIndex | None = None,
        double_counting: bool = False,
        keying: CellKeying | None = None,
        disclose_rows: bool = True,
    ) -> StatisticsResult:
        """Counts per national dimension values, summed over the sources that answered.

        Each source groups in its own database; ``total`` is the number of distinct records
        (a multi-valued dimension makes the cells add up to more than the total). For
        VICTIMS (and for ``double_counting``) each source lists the keys of its matching
        victim records and the linkage ``index`` says which are the same person.

        With ``keying`` (perturbed statistics), each cell and the total also get their cell
        key: the sum of their records' keys, computed by each source's SQL beside the count
        (or of their persons' keys for VICTIMS), added up across sources.

        Without ``disclose_rows`` the calls report 0 rows in ``extensions.sources``: the rows
        a source reads for an aggregate (its groups, or its matching victim records for
        VICTIMS) would be an exact count beside a perturbed one.
        """
        entries = self.sources_for(ctx, request.filter)
        if request.measure is Measure.VICTIMS or double_counting:
            if index is None:
                raise ValueError("counting distinct persons needs the linkage index")
            victims = await self._victims(ctx, entries, request, disclose_rows)
            dedup = await deduplicate(index, list(victims), agency_of=self._agency_code)
            if request.measure is Measure.VICTIMS:
                members = persons_by_cell(dedup, victims)
                result = StatisticsResult(
                    {cell: len(persons) for cell, persons in members.items()},
                    dedup.distinct,
                    dedup.double_counting,
                    unlinked=dedup.unlinked,
                )
                if keying is not None:
                    result.keys = {
                        cell: sum(keying.person_key(p) for p in persons) for cell, persons in members.items()
                    }
                    result.total_key = sum(keying.person_key(p) for p in set(dedup.person_of.values()))
                return result
            result = await self._grouped(ctx, entries, request, keying, disclose_rows)
            result.double_counting = dedup.double_counting
            result.unlinked = dedup.unlinked
            return result
        return await self._grouped(ctx, entries, request, keying, disclose_rows)

    async def _grouped(
        self,
        ctx: RequestContext,
        entries: list[RegisteredSource],
        request: StatisticsRequest,
        keying: CellKeying | None,
        disclose_rows: bool = True,
    ) -> StatisticsResult:
        async def work(source: Source) -> dict[Cell, tuple[int, int]]:
            try:
                return await counted(source)
            finally:
                if not disclose_rows:
                    _report_no_rows()

        async def counted(source: Source) -> dict[Cell, tuple[int, int]]:
            seen = replace(request, filter=_as_seen(ctx, source, request.filter))
            salt = keying.salt(source.name) if keying is not None else None
            answered = await source.aggregate_counted(seen, salt)
            if answered is not None:  # the cells and their total from the same statements
                cells_keyed, total = answered
                if keying is None:
                    return {**{cell: (n, 0) for cell, (n, _) in cells_keyed.items()}, _TOTAL: (total[0], 0)}
                return {**cells_keyed, _TOTAL: total}
            both = (seen, replace(seen, dimensions=()))
            if keying is not None and salt is not None:
                keyed = await asyncio.gather(*(source.aggregate_keyed(r, salt) for r in both))
                if keyed[0] is not None and keyed[1] is not None:
                    return {**keyed[0], _TOTAL: keyed[1].get((), (0, 0))}
            cells, totals = await asyncio.gather(*(source.aggregate(r) for r in both))
            counted = {**cells, _TOTAL: totals.get((), 0)}
            if keying is None:
                return {cell: (count, 0) for cell, count in counted.items()}
            # A source that cannot key its records: cells keyed by their count (weaker, documented).
            return {cell: (n, keying.fallback_key(source.name, cell, n)) for cell, n in counted.items()}

        results = await gather_all([self.call(ctx, e, work, {}) for e in entries])
        merged: dict[Cell, int] = defaultdict(int)
        keys: dict[Cell, int] = defaultdict(int)
        for cells in results:
            for cell, (count, key) in cells.items():
                merged[cell] += count
                keys[cell] += key
        total = merged.pop(_TOTAL, 0)
        total_key = keys.pop(_TOTAL, 0)
        result = StatisticsResult({c: n for c, n in merged.items() if n}, total)
        if keying is not None:
            result.keys = {c: keys[c] for c in result.cells}
            result.total_key = total_key
        return result

    async def _victims(
        self,
        ctx: RequestContext,
        entries: list[RegisteredSource],
        request: StatisticsRequest,
        disclose_rows: bool = True,
    ) -> dict[tuple[str, str], list[Cell]]:
        """(source, record key) → cells, for every matching victim record of every source."""

        async def work(source: Source) -> list[tuple[str, list[Cell]]]:
            seen_filter = _as_seen(ctx, source, request.filter)
            seen = replace(request, measure=Measure.VICTIM_RECORDS, filter=seen_filter)
            try:
                return await source.victim_records(seen)
            finally:
                if not disclose_rows:
                    _report_no_rows()

        results = await gather_all([self.call(ctx, e, work, []) for e in entries])
        return {
            (entry.name, key): cells
            for entry, records in zip(entries, results, strict=True)
            for key, cells in records
        }

    def _agency_code(self, source: str) -> str:
        entry = self.registry.get(source)
        return entry.source.agency.code if entry is not None and entry.source is not None else source

    # --- single records -----------------------------------------------------------------------

    async def get(self, ctx: RequestContext, gid: GlobalId) -> Linked | None:
        """The record a global id names, or None if its source or record does not exist."""
        if self.registry.get(gid.source) is None:
            return None
        assert ctx.loaders is not None
        record = await ctx.loaders.by_key(gid.entity).load((gid.source, gid.key))
        return Linked(record) if record is not None else None

    # --- relations ----------------------------------------------------------------------------

    async def expand(
        self,
        ctx: RequestContext,
        entity: Entity,
        nodes: list[Linked],
        include: Include,
        *,
        at_once: bool = False,
    ) -> None:
        """Attach the relations named in ``include`` (recursively) to ``nodes``, in place.

        Relations attached under one name (``victims`` and ``perpetrators`` as
        ``participants``) are loaded once, for the union of their roles. ``at_once``: ``nodes``
        are all the nodes of their level in the request (a page's cases), so each relation's
        keys are asked for at once rather than batched with concurrent callers' (:func:`load_all`).
        """
        if not nodes or not include:
            return
        merged = merged_relations(entity, include)
        if at_once:
            await self._children_together(ctx, nodes, [relation for relation, _ in merged.values()])
        await asyncio.gather(
            *(self._expand_one(ctx, nodes, name, rel, sub, at_once) for name, (rel, sub) in merged.items())
        )

    async def _children_together(
        self, ctx: RequestContext, nodes: list[Linked], relations: list[Relation]
    ) -> None:
        """The ``many`` relations of ``nodes`` read per source in one call where the source
        combines them (:meth:`~adapters.base.Source.children_together`), past the row rule, and
        primed into the request's loaders: each relation's expansion then finds them there.

        Only for levels that hold all their keys (``at_once``); relations a source holds
        fewer than two of, or that its page already read, are left to the loaders. A source that
        fails is reported once and its relations are empty, as its loaders would have made them.
        """
        many = [r for r in relations if r.many]
        if len(many) < 2:
            return
        assert ctx.loaders is not None
        loaders = ctx.loaders
        keys_by_source: dict[str, list[str]] = defaultdict(list)
        for node in nodes:
            keys_by_source[node.record.source].append(node.record.key)
        calls = []
        for name, keys in keys_by_source.items():
            entry = self.registry.get(name)
            source = entry.source if entry is not None else None
            if entry is None or source is None or not source.combines_children:
                continue
            requests = [
                _asked(ctx, r)
                for r in many
                if source.supports(r.target, r.via) and not loaders.holds_children(r.children, name, keys)
            ]
            if len(requests) > 1:
                calls.append(self._read_together(ctx, entry, requests, keys))
        await gather_all(calls)

    async def _read_together(
        self, ctx: RequestContext, entry: RegisteredSource, requests: list[ChildrenRequest], keys: list[str]
    ) -> None:
        assert ctx.loaders is not None
        loaders = ctx.loaders

        async def work(source: Source) -> bool:
            found = await source.children_together(requests, keys)
            hidden = ctx.hidden_roles(source.name)
            for request, records in zip(requests, found, strict=True):
                kept = await without_hidden(source, records, hidden)
                loaders.prime_children(request, source.name, keys, kept)
            return True

        if not await self.call(ctx, entry, work, False):
            for request in requests:  # reported once by the call; empty, as a failed batch is
                loaders.prime_children(request, entry.name, keys, [])

    async def _expand_one(
        self,
        ctx: RequestContext,
        nodes: list[Linked],
        name: str,
        relation: Relation,
        include: Include,
        at_once: bool,
    ) -> None:
        assert ctx.loaders is not None
        loaded: list[Linked] = []
        if relation.many:
            loader = ctx.loaders.children(relation.target, relation.via, relation.roles)
            keys = [(n.record.source, n.record.key) for n in nodes]
            results = await load_all(loader, keys, at_once=at_once)
            for node, records in zip(nodes, results, strict=True):
                children = [Linked(r) for r in records]
                node.links[name] = children
                loaded.extend(children)
        else:
            loader = ctx.loaders.by_key(relation.target)
            wanted = [n for n in nodes if getattr(n.record, relation.via) is not None]
            refs = [(n.record.source, getattr(n.record, relation.via)) for n in wanted]
            results = await load_all(loader, refs, at_once=at_once)
            for node in nodes:
                node.links[name] = None
            for node, record in zip(wanted, results, strict=True):
                if record is not None:
                    child = Linked(record)
                    node.links[name] = child
                    loaded.append(child)
        await self.expand(ctx, relation.target, loaded, include, at_once=at_once)


def merged_relations(entity: Entity, include: Include) -> dict[str, tuple[Relation, dict[str, Any]]]:
    """The relations ``include`` names on ``entity``, by the name they are attached under:
    relations attached under one name (``victims`` and ``perpetrators`` as ``participants``)
    become one, for the union of their roles, with their sub-includes merged."""
    merged: dict[str, tuple[Relation, dict[str, Any]]] = {}
    for name, sub in include.items():
        relation = RELATIONS[(entity, name)]
        into = relation.into or name
        if into in merged:
            before, below = merged[into]
            roles = None if before.roles is None or relation.roles is None else before.roles | relation.roles
            merged[into] = (replace(before, roles=roles), _merged(below, sub))
        else:
            merged[into] = (relation, _merged({}, sub))
    return merged


def _merged(into: dict[str, Any], other: Include) -> dict[str, Any]:
    """Two include trees as one (``into`` is extended in place and returned)."""
    for key, value in other.items():
        _merged(into.setdefault(key, {}), value)
    return into


def _counts(entries: list[RegisteredSource], results: list[PageRead | None]) -> dict[str, int]:
    """Per source whose page answered, the total its page call read."""
    pairs = zip(entries, results, strict=True)
    return {e.name: r.total for e, r in pairs if r is not None and r.total is not None}


def _page(
    items: list[CaseRecord],
    first: int,
    entries: list[RegisteredSource],
    results: list[PageRead | None],
) -> CasePage:
    """The page from up to ``first + 1`` merged cases (one more says a next page exists)."""
    answered = frozenset(e.name for e, r in zip(entries, results, strict=True) if r is not None)
    return CasePage([Linked(r) for r in items[:first]], len(items) > first, answered)


def _report_no_rows() -> None:
    """The running source call reports no rows (an aggregate whose row count would be exact)."""
    stats = CURRENT_CALL.get()
    if stats is not None:
        stats.rows = 0


def _asked(ctx: RequestContext, relation: Relation) -> ChildrenRequest:
    """What a source is asked for ``relation``'s records in this request: without personal
    fields when the request selects none (:attr:`RequestContext.reads_personal`)."""
    request = relation.children
    return request if ctx.reads_personal else replace(request, personal=False)


def _as_seen(ctx: RequestContext, source: Source, filter: CaseFilter) -> CaseFilter:
    """``filter`` as sent to ``source``: with the roles hidden from this request there."""
    hidden = ctx.hidden_roles(source.name)
    return replace(filter, hidden_roles=hidden) if hidden else filter


def _health_probe(source: Source) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return (await source.health()).ok

    return probe
