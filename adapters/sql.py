"""The generic SQL adapter: executes a mapping file against an agency database, in place.

At :meth:`MappedSQLSource.open` the adapter reflects the tables the mapping names
(:mod:`adapters.reflect`), checks every table and column, and compiles each mapping part once
(:mod:`adapters.compiler`). Queries then only add WHERE (:mod:`adapters.filters`), ORDER BY and
LIMIT: the database filters, sorts and parses dates, statements run through
:mod:`adapters.runner` (timeouts, retries), and :mod:`adapters.records` builds national
records from the rows.

The public API other modules build on is :attr:`MappedSQLSource.compiled` (a
:class:`~adapters.compiler.CompiledSource`), :meth:`MappedSQLSource.fetch` and
:meth:`MappedSQLSource.read`.

Values that the mapping cannot translate (a retired code, a malformed date) never fail a
query: they become UNKNOWN / OTHER / null — the same on every path, because every path reads
a field's one definition (:mod:`adapters.values`) — and the data-quality report
(:mod:`adapters.quality`) counts them in the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Select, String, Table, bindparam, func, literal, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ColumnElement

from adapters import (
    countreuse,
    datewalk,
    filters,
    pagewith,
    predicates,
    rawgroups,
    sql_facts,
    sqldates,
    sqlnames,
    statistics,
)
from adapters.base import Capabilities, Health, PageRead, Source, SourceError, SourceTimeout
from adapters.compiler import CompiledPart, CompiledSource, compile_source, convert_keys
from adapters.engines import EngineOptions, create_readonly_engine, sqlite_file
from adapters.facts import PersonFact, PersonFactsRequest, RestitutionFact, ServiceFact, StageFact
from adapters.keyset import CaseOrder
from adapters.mapping import LocatedMappingError, SourceMapping
from adapters.narrow import narrowed, of_parents
from adapters.records import RowReader
from adapters.reflect import reflect_tables, tables_named
from adapters.runner import StatementRunner
from adapters.values import FieldValue
from hub.vocabulary.model import (
    PERSONAL_FIELD_SET,
    PERSONAL_FIELDS,
    CaseFilter,
    CaseRecord,
    CaseSearch,
    ChildrenRequest,
    Dimension,
    Entity,
    PersonRecord,
    PersonRole,
    Record,
    SortOrder,
    StatisticsRequest,
)
from hub.vocabulary.relations import LINK_FIELDS

log = logging.getLogger("tppo_hub.adapters.sql")

#: Statistics requests whose statements an open source keeps built (a dashboard's handful of
#: shapes, with room for filters; each is a few statement trees).
BUILT_STATISTICS = 64

#: Most distinct values of a region or country field read at open (see :func:`learn_lookups`).
MAX_LOOKUP_VALUES = 50_000


class MappedSQLSource(Source):
    """A source described by a mapping file, served from any SQLAlchemy async database."""

    def __init__(self, mapping: SourceMapping, options: EngineOptions, base_dir: Path | None = None) -> None:
        self.name = mapping.name
        self.agency = mapping.agency
        self.description = mapping.description
        self.mapping = mapping
        self.options = options
        self.base_dir = base_dir
        relations = set()
        for entity, parts in mapping.parts.items():
            for field_name in LINK_FIELDS:
                if parts and all(field_name in p.fields for p in parts):
                    relations.add((entity, field_name))
        self.capabilities = Capabilities(frozenset(mapping.parts), frozenset(relations))
        self._rows = RowReader(self.name)
        self._engine: AsyncEngine | None = None
        self._runner: StatementRunner | None = None
        self._compiled: CompiledSource | None = None
        #: Statements whose shape never changes (relations, records by key, the unfiltered page
        #: and count), built once with bound parameters: SQLAlchemy then reuses their cache key
        #: and compiled form instead of rebuilding both on every request (issue 13).
        self._statements: dict[tuple[Any, ...], Select[Any]] = {}
        #: Fixed-shape pages with their cases' children (:mod:`adapters.pagewith`), by page shape
        #: and relations; None where the statement cannot be combined.
        self._combined_pages: dict[tuple[Any, ...], pagewith.CombinedPage | None] = {}
        #: False once the database refused a combined statement: relations in their own statements.
        self._combining = True
        #: How pages find their cases without computing every case's report date: the
        #: index walk of an ISO text or Unix date, else counts per distinct raw value
        #: (:mod:`adapters.datewalk`; probed at open). None: the canonical order, row by row.
        self._walk: datewalk.DateWalk | datewalk.CountedDays | None = None
        #: What statistics compute each case's report day once per distinct value of: the raw
        #: date, or the text its day depends on alone (:func:`adapters.sqldates.day_key`), the
        #: first that repeats enough (:func:`adapters.datewalk.repeats_enough`; probed at open).
        self._day_key: ColumnElement[Any] | None = None
        #: Region and country keys statistics compute once per group of identical raw values
        #: (by ``id`` of the lookup; :mod:`adapters.rawgroups`, probed at open).
        self._raw_keys: dict[int, rawgroups.KeyOf] = {}
        self._names_tables: sqlnames.NamesTables | None = None
        #: Statistics statements by request, most recently used last (:meth:`built_statistics`).
        self._statistics: OrderedDict[Any, Any] = OrderedDict()
        #: Pages' totals by filter, each valid while the database proves nothing has committed
        #: since it was counted (:mod:`adapters.countreuse`); None where the database cannot
        #: prove it (SQLite; PostgreSQL before 13).
        self._counts: countreuse.CountMemo | None = None

    @property
    def skipped_rows(self) -> int:
        """Rows skipped because they could not be read at all (counted, never fatal)."""
        return self._rows.skipped_rows

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        engine = create_readonly_engine(self.options, self.base_dir)
        try:
            tables = await self._reflect(engine)
            compiled = compile_source(self.mapping, tables, dialect=engine.dialect)
            runner = StatementRunner(self.name, engine, self.options)
            # Every probe is one statement and none needs another's answer (the day key's two
            # candidates aside): sent at once, a source that takes seconds a statement opens in
            # the time of one or two, not of all of them (the open has one call's time limit).
            _, (walk, day_key), raw_keys = await _concurrently(
                learn_lookups(compiled, runner),
                _probe_dates(compiled, runner),
                rawgroups.probe(compiled, runner),
            )
        except BaseException:
            await engine.dispose()
            raise
        self._engine, self._runner, self._compiled = engine, runner, compiled
        self._walk, self._day_key, self._raw_keys = walk, day_key, raw_keys
        self._names_tables = None
        self._statistics.clear()
        self._counts = countreuse.CountMemo() if _proves_snapshots(engine) else None

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = self._runner = self._compiled = None
            self._walk, self._day_key, self._raw_keys = None, None, {}
            self._names_tables = None
            self._statements.clear()
            self._statistics.clear()
            self._counts = None

    async def _reflect(self, engine: AsyncEngine) -> dict[str, Table]:
        try:
            tables, missing = await reflect_tables(engine, tables_named(self.mapping))
        except SQLAlchemyError as exc:
            raise SourceError(
                f"cannot read the schema of source {self.name!r} ({type(exc).__name__})"
            ) from None
        if missing:
            # Check the parts whose tables exist too, so every problem is reported at once.
            problems = [
                self.mapping.table_problem(t, f"table {t!r} does not exist in the database") for t in missing
            ]
            try:
                compile_source(self.mapping, tables, complete=False)
            except LocatedMappingError as exc:
                problems.extend(exc.located)
            problems.sort(key=lambda problem: problem.line or 0)
            raise LocatedMappingError(self.name, problems)
        return tables

    # --- the public compiled-source API -------------------------------------------------------

    @property
    def compiled(self) -> CompiledSource:
        """The compiled mapping (parts, field SQL, filters' building blocks); open sources only."""
        if self._compiled is None:
            raise SourceError(f"source {self.name!r} is not open")
        return self._compiled

    @property
    def day_reader(self) -> tuple[ColumnElement[Any], datewalk.DayOf] | None:
        """A key of the case part's report day — its raw column, or the text the day depends
        on alone (a date-time's date part) — and the canonical day as a function of a key
        value (:func:`adapters.datewalk.raw_day_reader`), where raw values compare exactly
        and keys repeat (probed at open): statistics then compute the day once per key."""
        walk = self._walk
        if walk is None or walk.day_of is None or self._day_key is None:
            return None
        return self._day_key, walk.day_of

    def raw_key(self, value: FieldValue) -> rawgroups.KeyOf | None:
        """``value``'s lookup key as a function of its raw columns, where statistics may
        group by the raw columns and compute the key once per group (:mod:`adapters.rawgroups`)."""
        return self._raw_keys.get(id(value.lookup)) if value.lookup is not None else None

    def built_statistics(self, key: Any, build: Callable[[], Any]) -> Any:
        """What ``build`` gives for ``key`` (a statistics request), built once while the source
        is open; the :data:`BUILT_STATISTICS` most recently used are kept."""
        built = self._statistics.get(key)
        if built is None:
            built = self._statistics[key] = build()
            while len(self._statistics) > BUILT_STATISTICS:
                self._statistics.popitem(last=False)
        else:
            self._statistics.move_to_end(key)
        return built

    @property
    def names_tables(self) -> sqlnames.NamesTables:
        """The lookups' tables statistics apply inside the database (:mod:`adapters.sqlnames`:
        text keys, on PostgreSQL), built once per open."""
        if self._names_tables is None:
            self._names_tables = sqlnames.NamesTables(self.dialect)
        return self._names_tables

    @property
    def _days_repeat(self) -> bool:
        """Whether the raw report dates themselves key the day for statistics."""
        return self._walk is not None and self._day_key is self._walk.raw

    def compiled_parts(self, entity: Entity) -> list[CompiledPart]:
        """The compiled parts of ``entity`` (see :class:`~adapters.compiler.CompiledPart`)."""
        return list(self.compiled.parts_of(entity))

    @property
    def tables(self) -> Mapping[str, Table]:
        """The reflected tables the mapping names (empty until opened)."""
        return self._compiled.tables if self._compiled is not None else {}

    @property
    def _integer_keys(self) -> bool:
        """Whether integer columns hold integers only (:func:`adapters.pagewith.combine`)."""
        return self.dialect == "postgresql"

    @property
    def dialect(self) -> str:
        """The database's SQL dialect name (``sqlite`` or ``postgresql``)."""
        if self._runner is None:
            raise SourceError(f"source {self.name!r} is not open")
        return self._runner.dialect

    async def fetch(
        self, stmt: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[Sequence[Any]]:
        """Run one read-only SELECT built on :attr:`compiled` (timeouts and retries apply)."""
        if self._runner is None:
            raise SourceError(f"source {self.name!r} is not open")
        return await self._runner.fetch(stmt, parameters)

    def _statement(self, key: tuple[Any, ...], build: Callable[[], Select[Any]]) -> Select[Any]:
        """The statement of a fixed shape, built on first use (keys: a bounded set of shapes)."""
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statements[key] = build()
        return stmt

    def read(self, compiled: CompiledPart, rows: Sequence[Sequence[Any]]) -> list[Record]:
        """Rows of ``compiled.select`` as national records (unreadable rows skipped and counted)."""
        return self._rows.read(compiled, rows)

    # --- the Source contract ----------------------------------------------------------------

    def unsupported(self, filter: CaseFilter) -> set[str]:
        return predicates.unsupported_fields(self.mapping, filter)

    combines_children = True

    async def search_cases(self, search: CaseSearch) -> list[CaseRecord]:
        """A page in (report date, key) order after the keyset position.

        The ORDER BY and the condition after the cursor both come from
        :class:`adapters.keyset.CaseOrder` (where undated cases go, and why a DATE column is
        ordered by itself).
        """
        read = await self._search(replace(search, count=False), ())
        return read.cases

    async def search_cases_with(self, search: CaseSearch, children: Sequence[ChildrenRequest]) -> PageRead:
        """The page and its cases' children, read with the page's statement where the relation
        allows it (:mod:`adapters.pagewith`), in statements of their own otherwise; the total,
        when asked, in the page's statement too (or, where the database refused that
        statement, in one of its own)."""
        return await self._search(search, children)

    async def _search(self, search: CaseSearch, children: Sequence[ChildrenRequest]) -> PageRead:
        source = self.compiled
        part = source.case_part()
        key = part.key_column
        keyset = CaseOrder.of(self.name, part, search.order, self.dialect)
        narrowing = filters.case_conditions(source, part, search.filter)
        filtering = list(narrowing)
        if search.after is not None:
            narrowing.append(keyset.after(search.after))
        with_page = self._read_with_page(part, children)
        blank = unasked(children)
        count = self._page_count(part, filtering, search.filter) if search.count else None
        if self._walk is not None:
            cases, read, total = await self._walked_page(
                part, self._walk, narrowing, filtering, search, with_page, blank, count
            )
            return await self._page_read(cases, children, read, count, total)
        order = keyset.order_by()
        descending = keyset.descending

        def build(numbered: bool = False) -> Select[Any]:
            # Two steps in one statement: pick the page's keys by the cheap sort columns first,
            # then compute the full row (correlated subqueries for stages and multi-valued
            # codes) for those rows only — not for every row the database has to sort.
            # The keys come from a cut of the value layer with only the columns they need.
            cut = narrowed(part, [*order, *narrowing])
            page_keys = (
                select(cut.part.key_column)
                .select_from(cut.part.from_clause)
                .where(*cut.part.row_conditions, *cut.expressions[len(order) :])
                .order_by(*cut.expressions[: len(order)])
                .limit(bindparam("page_limit", type_=Integer, literal_execute=True))
            )
            rows = part.select.where(key.in_(page_keys.scalar_subquery())).order_by(*order)
            return pagewith.numbered(rows, order) if numbered else rows

        # The first page without a filter (a portal's landing page) has one shape per order.
        shape = None if narrowing else ("page", descending)
        cases, read, total = await self._page_rows(
            part, shape, build, {"page_limit": search.limit}, with_page, blank, count
        )
        return await self._page_read(cases, children, read, count, total)

    async def _page_read(
        self,
        cases: list[CaseRecord],
        children: Sequence[ChildrenRequest],
        read: _ReadWithPage | None,
        count: _PageCount | None,
        counted: Row | None,
    ) -> PageRead:
        """The page's read completed: the children and the total its statement did not read
        (``count``: the count asked for, already built; ``counted``: its row in the page's
        statement; run on its own where no combined statement read it, or the database refused
        that statement)."""
        found = await self._children_of_page(cases, children, read)
        total = None
        if count is not None and counted is None:
            total = int((await self.fetch(count.plain))[0][0])
        elif count is not None and counted is not None:
            total = count.total(counted)
        return PageRead(cases, found, total)

    async def _walked_page(
        self,
        part: CompiledPart,
        walk: datewalk.DateWalk | datewalk.CountedDays,
        narrowing: list[ColumnElement[bool]],
        filtering: list[ColumnElement[bool]],
        search: CaseSearch,
        with_page: list[_ChildPart],
        blank: frozenset[str] = frozenset(),
        count: _PageCount | None = None,
    ) -> tuple[list[CaseRecord], _ReadWithPage | None, Row | None]:
        """A page in (report date, key) order, phase by phase (:mod:`adapters.datewalk`).

        Descending: dated cases, then the undated ones; ascending, the other way round. A
        cursor after an undated case continues in the undated phase (descending: nothing
        dated is left) or starts the dated phase from its beginning (ascending). Children
        asked for with the page, and the count, come with the first phase's statement.
        """
        assert part.date_expr is not None
        descending = search.order is SortOrder.DESC
        after = search.after
        in_undated = after is not None and after.reported_at is None
        after_day = after.reported_at if after is not None else None
        if descending:
            phases = ("undated",) if in_undated else ("dated", "undated")
        else:
            phases = ("dated",) if after_day is not None else ("undated", "dated")
        fixed = not narrowing
        records: list[CaseRecord] = []
        first_read: _ReadWithPage | None = None
        total: Row | None = None
        for i, phase in enumerate(phases):
            wanted = search.limit - len(records)
            if wanted <= 0:
                break

            def build(numbered: bool = False, phase: str = phase) -> Select[Any]:
                return walk.page(part, phase, narrowing, descending, after_day, filtering, numbered=numbered)

            shape = ("walk", phase, descending) if fixed else None
            params = {"page_limit": wanted, "page_offset": wanted - 1}
            first = i == 0
            found, read, counted = await self._page_rows(
                part, shape, build, params, with_page if first else [], blank, count if first else None
            )
            records.extend(found)
            if first:
                first_read, total = read, counted
        return records, first_read, total

    def _read_with_page(self, case: CompiledPart, children: Sequence[ChildrenRequest]) -> list[_ChildPart]:
        """The child parts (and their case-key columns) of ``children`` that the page's own
        statement can read (:func:`adapters.pagewith.key_compares`)."""
        if not children or not self._combining:
            return []
        chosen: dict[int, _ChildPart] = {}
        for request in children:
            for compiled in self._parts_for(request):
                relation = pagewith.key_compares(case, compiled, request.field)
                if relation is not None:
                    chosen.setdefault(id(relation), (compiled, relation))
        return list(chosen.values())

    def _parts_for(self, request: ChildrenRequest) -> list[CompiledPart]:
        parts = self.compiled.parts_of(request.entity)
        return parts if request.roles is None else [p for p in parts if _may_hold(p, request.roles)]

    async def _page_rows(
        self,
        part: CompiledPart,
        shape: tuple[Any, ...] | None,
        build: Callable[..., Select[Any]],
        parameters: Mapping[str, Any],
        with_page: list[_ChildPart],
        blank: frozenset[str] = frozenset(),
        count: _PageCount | None = None,
    ) -> tuple[list[CaseRecord], _ReadWithPage | None, Row | None]:
        """One page statement's cases (``shape``: a fixed shape, built once), with the children
        of ``with_page`` and the ``count`` read in the same statement where the database takes
        it (``blank``: their fields nobody asked for, left out: :func:`adapters.pagewith.combine`);
        the count's row is None when it was not read."""
        combining = (with_page or count is not None) and self._combining
        combined = self._combined(part, shape, build, with_page, blank, count) if combining else None
        rows: list[Sequence[Any]] | SourceError | None = None
        # Whether the combined statement reuses a total (its parameters come with the page's).
        reusing = (
            combined is not None and combined.counted and count is not None and count.reusing is not None
        )
        if combined is not None:
            counting = count.parameters if reusing and count is not None else {}
            rows = await self._attempt(combined.statement, {**parameters, **counting})
        if combined is not None and isinstance(rows, list):
            page_rows, child_rows, total = combined.split(rows)
            cases: list[CaseRecord] = self.read(part, page_rows)  # type: ignore[assignment]
            branches = zip(with_page, combined.branches, child_rows, strict=True)
            found = {
                id(relation): self.read(branch.part, part_rows)
                for (_, relation), branch, part_rows in branches
            }
            return cases, _ReadWithPage(frozenset(c.key for c in cases), found), total
        stmt = build() if shape is None else self._statement(shape, build)
        plain_rows = await self.fetch(stmt, parameters)
        if isinstance(rows, SourceError):
            self._refused(rows, reusing)
        return self.read(part, plain_rows), None, None  # type: ignore[return-value]

    async def _attempt(
        self, stmt: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[Sequence[Any]] | SourceError:
        """The rows of a statement the database may refuse (a combined page, a reused total),
        or the error it failed with (a timeout is the source's, as always, and raised). The
        caller then reads the same in plain statements, and only when those succeed is the
        statement taken as refused (:meth:`_refused`, :meth:`_stop_reusing`): a source that is
        down fails both, and is asked the same way again once it is back."""
        try:
            return await self.fetch(stmt, parameters)
        except SourceTimeout:
            raise
        except SourceError as exc:
            return exc

    def _refused(self, exc: SourceError, reusing: bool = False) -> None:
        """The database refused a combined statement (a server without MATERIALIZED, a type
        its UNION cannot match) and answered the same in statements of their own: from now on
        this source reads relations and totals in statements of their own.

        ``reusing``: the statement reused a total (:mod:`adapters.countreuse`). Then the
        snapshot functions are suspected first (a server that calls itself PostgreSQL 13 and has
        none): totals are counted on every page from now on, and pages are read combined still."""
        if reusing and self._counts is not None:
            self._stop_reusing(exc)
            return
        self._combining = False
        log.warning(
            "source %s: pages and their relations are read separately from now on (%s)",
            self.name,
            type(exc).__name__,
        )

    async def children_together(
        self, requests: Sequence[ChildrenRequest], parent_keys: Sequence[str]
    ) -> list[list[Record]]:
        """Per request, what :meth:`children` (or :meth:`children_in_roles`) gives for
        ``parent_keys``; the parts that read the keys alike (one key converter) in one statement
        (:func:`adapters.pagewith.combine` without a page), the others in their own."""
        wanted = [(request, self._parts_for(request)) for request in requests]
        groups: dict[int, tuple[Callable[[str], Any], dict[int, _ChildPart]]] = {}
        for request, parts in wanted:
            for compiled in parts:
                relation = compiled.relation_columns.get(request.field)
                if relation is not None:
                    column, convert = relation
                    same_keys = groups.setdefault(id(convert), (convert, {}))[1]
                    same_keys.setdefault(id(column), (compiled, column))
        found: dict[int, list[Record]] = {}
        refused: SourceError | None = None
        if groups and self._combining:
            convert, chosen = max(groups.values(), key=lambda group: len(group[1]))
            pairs = list(chosen.values())
            keys = convert_keys(parent_keys, convert)
            combined = self._combined_relations(pairs, unasked(requests)) if len(pairs) > 1 and keys else None
            rows = await self._attempt(combined.statement, {"keys": keys}) if combined is not None else None
            if isinstance(rows, SourceError):
                refused = rows
            elif combined is not None and isinstance(rows, list):
                _, child_rows, _ = combined.split(rows)
                for (compiled, column), part_rows in zip(pairs, child_rows, strict=True):
                    found[id(column)] = self.read(compiled, part_rows)
        answers: list[list[Record]] = []
        for request, parts in wanted:
            records: list[Record] = []
            for compiled in parts:
                relation = compiled.relation_columns.get(request.field)
                done = found.get(id(relation[0])) if relation is not None else None
                if done is not None:
                    records.extend(done)
                else:
                    alone = await self._children([compiled], request.field, parent_keys)
                    records.extend(alone if request.personal else forgetting_personal(alone))
            answers.append(records)
        if refused is not None:  # the same relations read apart: the database refused the union
            self._refused(refused)
        return answers

    def _combined_relations(
        self, pairs: list[_ChildPart], blank: frozenset[str] = frozenset()
    ) -> pagewith.CombinedPage | None:
        """Several child parts' rows for the same keys in one statement (built once per set)."""
        key = ("relations", tuple(id(column) for _, column in pairs), blank)
        if key not in self._combined_pages:
            self._combined_pages[key] = pagewith.combine(
                None, pairs, blank=blank, integer_keys=self._integer_keys
            )
        return self._combined_pages[key]

    def _combined(
        self,
        part: CompiledPart,
        shape: tuple[Any, ...] | None,
        build: Callable[..., Select[Any]],
        with_page: list[_ChildPart],
        blank: frozenset[str] = frozenset(),
        count: _PageCount | None = None,
    ) -> pagewith.CombinedPage | None:
        """The page statement of the case part ``part`` with ``with_page`` and ``count`` (built
        once for a fixed ``shape``, where the count is the fixed one of :meth:`_counting`)."""

        def combined() -> pagewith.CombinedPage | None:
            counting = count.in_page if count is not None else None
            page = build(numbered=True)
            return pagewith.combine(page, with_page, part, blank, self._integer_keys, counting)

        if shape is None:
            return combined()
        counting = None if count is None else count.reusing is not None
        key = (shape, tuple(id(relation) for _, relation in with_page), blank, counting)
        if key not in self._combined_pages:
            self._combined_pages[key] = combined()
        return self._combined_pages[key]

    async def _children_of_page(
        self, cases: list[CaseRecord], children: Sequence[ChildrenRequest], read: _ReadWithPage | None
    ) -> list[list[Record]]:
        """Per request, what :meth:`children` gives for the page's cases: the rows read with
        the page, and the rest (other parts, cases of a later phase) in their own statements."""
        keys = [case.key for case in cases]
        answers: list[list[Record]] = []
        for request in children:
            records: list[Record] = []
            for compiled in self._parts_for(request):
                relation = compiled.relation_columns.get(request.field)
                done = read.found.get(id(relation[0])) if read is not None and relation is not None else None
                rest = keys if done is None or read is None else [k for k in keys if k not in read.keys]
                if done is not None:
                    records.extend(done)
                if rest:
                    alone = await self._children([compiled], request.field, rest)
                    records.extend(alone if request.personal else forgetting_personal(alone))
            answers.append(records)
        return answers

    async def count_cases(self, filter: CaseFilter) -> int:
        """The cases matching ``filter``: a COUNT, or on PostgreSQL the last one while the
        database proves it unchanged (:mod:`adapters.countreuse`), as a page's total."""
        part = self.compiled.case_part()
        count = self._page_count(part, filters.case_conditions(self.compiled, part, filter), filter)
        reused = await self._attempt(count.reusing, count.parameters) if count.reusing is not None else None
        if isinstance(reused, list):
            return count.total(reused[0])
        total = int((await self.fetch(count.plain))[0][0])
        if reused is not None:  # the database refused the reusing statement and counted plainly
            self._stop_reusing(reused)
        return total

    def _stop_reusing(self, exc: SourceError) -> None:
        """The database refused a statement that reuses a total and counted plainly: it cannot
        show its snapshots (:mod:`adapters.countreuse`), so this source counts every time."""
        self._counts = None
        log.warning(
            "source %s: totals are counted on every page from now on (%s)", self.name, type(exc).__name__
        )

    def _page_count(
        self, part: CompiledPart, conditions: list[ColumnElement[bool]], filter: CaseFilter
    ) -> _PageCount:
        """The count of the cases matching ``conditions`` (``filter``'s): on PostgreSQL, a total
        reused while the database proves it unchanged (:mod:`adapters.countreuse`)."""
        plain = self._counting(part, conditions)
        memo = self._counts
        if memo is None:
            return _PageCount(plain)
        reusing = (
            countreuse.reusing(plain)
            if conditions
            else self._statement(("count", "reusing"), lambda: countreuse.reusing(plain))
        )
        return _PageCount(plain, reusing, memo, filter)

    def _counting(self, part: CompiledPart, conditions: list[ColumnElement[bool]]) -> Select[Any]:
        """``SELECT count(*)`` of the cases matching ``conditions`` (the fixed statement when
        there are none): over a cut of the value layer with only the conditions' columns, the
        rows are the same, and no mapped value is computed (or planned) for the count."""

        def build() -> Select[Any]:
            cut = narrowed(part, conditions)
            return (
                select(func.count())
                .select_from(cut.part.from_clause)
                .where(*cut.part.row_conditions, *cut.expressions)
            )

        return build() if conditions else self._statement(("count",), build)

    async def aggregate(self, request: StatisticsRequest) -> dict[tuple[str | None, ...], int]:
        return await statistics.aggregate(self, request)

    async def aggregate_keyed(
        self, request: StatisticsRequest, salt: str
    ) -> dict[tuple[str | None, ...], tuple[int, int]]:
        return await statistics.aggregate_keyed(self, request, salt)

    async def aggregate_counted(
        self, request: StatisticsRequest, salt: str | None
    ) -> tuple[dict[tuple[str | None, ...], tuple[int, int]], tuple[int, int]]:
        return await statistics.aggregate_counted(self, request, salt)

    async def victim_records(
        self, request: StatisticsRequest
    ) -> list[tuple[str, list[tuple[str | None, ...]]]]:
        return await statistics.victim_records(self, request)

    answers_facts = True

    async def person_facts(self, request: PersonFactsRequest) -> list[PersonFact]:
        return await sql_facts.person_facts(self, request)

    async def service_facts(self) -> list[ServiceFact]:
        return await sql_facts.service_facts(self)

    async def stage_facts(self, filter: CaseFilter, dimensions: Sequence[Dimension]) -> list[StageFact]:
        return await sql_facts.stage_facts(self, filter, dimensions)

    async def restitution_facts(self) -> list[RestitutionFact]:
        return await sql_facts.restitution_facts(self)

    async def load(self, entity: Entity, keys: Sequence[str]) -> list[Record]:
        records: list[Record] = []
        for compiled in self.compiled.parts_of(entity):
            db_keys = convert_keys(compiled.own_keys(keys), compiled.key_to_db)
            if not db_keys:
                continue
            stmt = self._statement(
                ("load", id(compiled)),
                lambda c=compiled: c.select.where(c.key_column.in_(bindparam("keys", expanding=True))),
            )
            rows = await self.fetch(stmt, {"keys": db_keys})
            records.extend(self.read(compiled, rows))
        return records

    async def children(self, entity: Entity, field: str, parent_keys: Sequence[str]) -> list[Record]:
        return await self._children(self.compiled.parts_of(entity), field, parent_keys)

    async def children_in_roles(
        self, entity: Entity, field: str, parent_keys: Sequence[str], roles: frozenset[PersonRole]
    ) -> list[Record]:
        """Only the parts that can hold one of ``roles``: a part whose roles are a constant
        (every ``pelaku`` row is a SUSPECT) is skipped when that constant is not wanted."""
        parts = [p for p in self.compiled.parts_of(entity) if _may_hold(p, roles)]
        return await self._children(parts, field, parent_keys)

    async def _children(
        self, parts: Sequence[CompiledPart], field: str, parent_keys: Sequence[str]
    ) -> list[Record]:
        records: list[Record] = []
        for compiled in parts:
            relation = compiled.relation_columns.get(field)
            if relation is None:
                continue
            column, convert = relation
            db_keys = convert_keys(parent_keys, convert)
            if not db_keys:
                continue
            stmt = self._statement(
                ("children", id(compiled), field), lambda c=compiled, col=column: of_parents(c, col)
            )
            rows = await self.fetch(stmt, {"keys": db_keys})
            records.extend(self.read(compiled, rows))
        return records

    async def scan(self, entity: Entity, after: str | None, limit: int) -> tuple[list[Record], str | None]:
        """Keyset scan part by part, in each part's key order.

        The position is ``"<part index>:<last key>"`` (an empty key: the start of that part),
        so a scan resumes exactly where it stopped without OFFSET.
        """
        parts = self.compiled.parts_of(entity)
        index, last = 0, ""
        if after is not None:
            head, _, last = after.partition(":")
            if not head.isdigit() or int(head) >= len(parts):
                raise ValueError("invalid scan position")
            index = int(head)
        while index < len(parts):
            compiled = parts[index]
            stmt = compiled.select
            if last:
                stmt = stmt.where(compiled.key_column > compiled.key_to_db(last))
            rows = await self.fetch(stmt.order_by(compiled.key_column).limit(limit))
            if len(rows) == limit:
                return self.read(compiled, rows), f"{index}:{rows[-1][0]}"
            index, last = index + 1, ""
            if rows:
                return self.read(compiled, rows), (f"{index}:" if index < len(parts) else None)
        return [], None

    def totals_status(self) -> tuple[int, int] | None:
        """(totals reused, totals counted) since the source opened, for metrics; None where the
        source counts every time (:mod:`adapters.countreuse`)."""
        memo = self._counts
        return (memo.reused, memo.counted) if memo is not None else None

    def pool_status(self) -> tuple[int, int] | None:
        """(connections in use, connections held) of the engine's pool, for metrics."""
        pool = self._engine.pool if self._engine is not None else None
        if pool is None or not hasattr(pool, "checkedout"):
            return None
        return int(pool.checkedout()), int(pool.size())

    async def health(self) -> Health:
        if self._engine is None:
            return Health(False, "not open")
        started = time.perf_counter()
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(literal(1)))
        except (SQLAlchemyError, OSError) as exc:
            return Health(False, type(exc).__name__)
        return Health(True, f"{(time.perf_counter() - started) * 1000:.1f} ms")

    async def last_changed(self) -> datetime | None:
        """A SQLite file's modification time (its write-ahead log included); servers cannot
        tell without commit timestamps, so None for them."""
        path = sqlite_file(self.options, self.base_dir)
        if path is None:
            return None
        times = [p.stat().st_mtime for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        return datetime.fromtimestamp(max(times), UTC) if times else None


#: A child part and its column holding the parent's key.
_ChildPart = tuple[CompiledPart, ColumnElement[Any]]


@dataclass(frozen=True, slots=True)
class _ReadWithPage:
    """Children read with a page statement: whose cases (``keys``) and, per relation column
    (by id), that part's records for them."""

    keys: frozenset[str]
    found: dict[int, list[Record]]


#: A row as a statement returns it.
Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class _PageCount:
    """The count a page asked for: the plain ``SELECT count(*)``, and where the source reuses
    totals (:mod:`adapters.countreuse`) the statement that does, read with the page."""

    plain: Select[Any]
    reusing: Select[Any] | None = None
    memo: countreuse.CountMemo | None = None
    #: What decides the count statement (the source's case filter, access rules included).
    key: CaseFilter | None = None

    @property
    def in_page(self) -> Select[Any]:
        """The count the page's own statement reads."""
        return self.reusing if self.reusing is not None else self.plain

    @property
    def parameters(self) -> Mapping[str, Any]:
        """Values of the statement's parameters beside the page's (the last total and mark)."""
        return self.memo.parameters(self.key) if self.memo is not None and self.reusing is not None else {}

    def total(self, row: Row) -> int:
        """The total in the count's row of the page's statement (learnt, where reused)."""
        if self.memo is not None and self.reusing is not None:
            return self.memo.total(self.key, row)
        return int(row[0])


def _proves_snapshots(engine: AsyncEngine) -> bool:
    """Whether the database shows each statement's snapshot (:mod:`adapters.countreuse`)."""
    dialect = engine.dialect
    version = dialect.server_version_info or ()
    return dialect.name == "postgresql" and tuple(version[:1]) >= countreuse.SINCE_VERSION


def unasked(requests: Sequence[ChildrenRequest]) -> frozenset[str]:
    """The fields no request asked for: the personal ones when none wants them
    (:attr:`hub.vocabulary.model.ChildrenRequest.personal`), else none."""
    return PERSONAL_FIELD_SET if requests and not any(r.personal for r in requests) else frozenset()


def forgetting_personal(records: list[Record]) -> list[Record]:
    """``records`` read in a statement of their own (a later phase's cases, a relation read
    apart) with their personal fields None, as a combined statement leaves them out
    (:func:`unasked`): a request that selects none gets the same whichever statement read them."""
    for record in records:
        if isinstance(record, PersonRecord):
            for name in PERSONAL_FIELDS:
                setattr(record, name, None)
    return records


def _may_hold(part: CompiledPart, roles: frozenset[PersonRole]) -> bool:
    """Whether a record of ``part`` can have one of ``roles`` (unknown unless constant)."""
    value = part.values.get("roles")
    if value is None or not value.is_constant:
        return True
    constant = value.constant
    held = set(constant) if isinstance(constant, tuple | list | frozenset | set) else {constant}
    return bool(held & roles)


async def _probe_dates(
    source: CompiledSource, runner: StatementRunner
) -> tuple[datewalk.DateWalk | datewalk.CountedDays | None, ColumnElement[Any] | None]:
    """How the case part's pages find their cases (:mod:`adapters.datewalk`) and what statistics
    key its report day by (:func:`_day_key`), probed once, the probes sent concurrently.

    Both walks compare raw values (ranges, or membership in a set of distinct values), which
    is exact only where the column compares bytes: a text column must pass the byte-order
    probe. Any failure means no walk: the canonical order row by row is always right.
    """
    walk = _walk_of(source.case_part(), runner.dialect) if source.parts_of(Entity.CASE) else None
    if walk is None:
        return None, None
    part = source.case_part()
    checks: list[Awaitable[Any]] = [_walk_runs(part, walk, runner)]
    if isinstance(walk.raw.type, String):
        checks.append(_compares_bytes(part, walk.raw, runner))
    if walk.day_of is not None:
        checks.append(_day_key(source, walk, runner))
    results = await _concurrently(*checks)
    key = results.pop() if walk.day_of is not None else None
    if not all(results):
        return None, None
    return walk, key


async def _concurrently(*awaitables: Awaitable[Any]) -> list[Any]:
    """The results of ``awaitables`` run at once; if one fails, the others are cancelled and its
    exception is raised as itself (callers catch a SourceError, not an exception group)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(a)) for a in awaitables]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _walk_of(part: CompiledPart, dialect: str) -> datewalk.DateWalk | datewalk.CountedDays | None:
    """The walk the part's report date allows by its mapping and types (no statement sent)."""
    if part.date_expr is None:
        return None
    reader = datewalk.raw_day_reader(part)
    found = datewalk.walkable(part, dialect)
    day_of = reader[1] if reader is not None else None
    if found is not None:
        return datewalk.DateWalk(found[0], found[1], day_of)
    if reader is not None and not _sorted_by_its_type(part, dialect):
        return datewalk.CountedDays(reader[0], reader[1])
    return None


async def _compares_bytes(part: CompiledPart, raw: ColumnElement[Any], runner: StatementRunner) -> bool:
    try:
        rows = await runner.fetch(datewalk.byte_order_probe(part, raw))
    except SourceError:
        return False
    return datewalk.probe_passed(rows)


async def _walk_runs(
    part: CompiledPart, walk: datewalk.DateWalk | datewalk.CountedDays, runner: StatementRunner
) -> bool:
    """The walk nests the part's values one subquery deeper than the canonical page; a long
    value (Unix seconds read from text) can pass SQLite's parser depth: then no walk."""
    try:
        await runner.fetch(walk.page(part, "dated", [], True, None), {"page_limit": 1, "page_offset": 0})
    except SourceError:
        return False
    return True


async def _day_key(
    source: CompiledSource, walk: datewalk.DateWalk | datewalk.CountedDays, runner: StatementRunner
) -> ColumnElement[Any] | None:
    """What statistics key the case part's report day by: the raw date where its values repeat
    enough to be read once per distinct value, else the text the day depends on alone
    (:func:`adapters.sqldates.day_key`, decided by the declared formats) where that repeats;
    None where neither does (the day is then computed per case)."""
    part = source.case_part()
    value = part.values.get("reported_at")
    keys = [walk.raw]
    prefix = sqldates.day_key(walk.raw, value.date_formats) if value is not None else None
    if prefix is not None:
        keys.append(prefix)
    for key in keys:
        try:
            rows = await runner.fetch(datewalk.repetition_probe(part, key))
        except SourceError:
            return None  # an optimisation only
        if datewalk.repeats_enough(rows):
            return key
    return None


def _sorted_by_its_type(part: CompiledPart, dialect: str) -> bool:
    """A DATE column that PostgreSQL orders itself (its index serves the page already)."""
    return CaseOrder.of("", part, SortOrder.DESC, dialect).sort_day is not part.date_expr


async def learn_lookups(source: CompiledSource, runner: StatementRunner) -> None:
    """Read the distinct values of every region and country field and resolve each once.

    One DISTINCT query per lookup, at open (see :class:`adapters.values.Lookup`): records,
    filters and statistics then all read these values through the same table.
    """

    async def learn(part: CompiledPart, lookup: Any) -> None:
        stmt = (
            select(lookup.key)
            .select_from(part.from_clause)
            .where(*part.row_conditions)
            .distinct()
            .limit(MAX_LOOKUP_VALUES)
        )
        try:
            rows = await runner.fetch(stmt)
        except SourceError as exc:
            error = SourceError(f"cannot read the regions and countries of source {source.mapping.name!r}")
            error.detail = exc.detail
            raise error from None
        lookup.learn(row[0] for row in rows)

    # Concurrently: each is one statement, and a slow source answers them in the time of one.
    await _concurrently(*(learn(part, lookup) for part, lookup in source.lookups()))
