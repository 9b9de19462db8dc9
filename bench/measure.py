"""The five measurements, each taken side by side on every backend in one run.

Timing discipline (the machine has 2 cores and is shared): every variant of a measurement is
run in the same loop, one after the other, with the order rotated each round, so background
load falls on all of them alike; the first rounds are warm-up and discarded; the figure is the
median of the rest. Ratios are formed from medians of the same run.

Correctness comes before speed: before timing, each comparison checks that the hub and the
hand-written SQL return the same cases, victims, services, stage events and counts.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.base import Source
from bench import cpu, direct
from bench.direct import AGENCY_CODE
from hub.access.policy import Principal
from hub.demo.agencies import AGENCIES
from hub.engine.ids import GlobalId
from hub.server.app import Hub
from hub.server.examples import PORTAL_LIST

#: The nested page: a portal's case list with everything a case card shows.
PAGE_QUERY = """query BenchPage($first: Int!, $filter: CaseFilter) {
  cases(first: $first, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id source sourceKey reportedAt region { code } countryOfExploitation exploitationTypes stage
      victims { id sex ageGroup isChild roles }
      services { id type status startDate endDate }
      stageHistory { stage date reference }
    } }
  }
}"""

STATISTICS_QUERY = """query BenchStatistics {
  statistics(measure: CASES, groupBy: [PROVINCE, YEAR]) {
    total
    rows { keys { value } count suppressed }
    coverage { source status }
  }
}"""

#: Fan-out probes: one call per source, little work in the database.
FANOUT_QUERIES = {
    "statistics by agency": "{ statistics(measure: CASES, groupBy: [AGENCY]) { total rows { count } } }",
    "cases, first 10": "{ cases(first: 10) { edges { node { id reportedAt } } } }",
}

#: Statistics are compared unsuppressed: a coordinator sees exact counts (docs/architecture.md §3).
#: Seconded from LPSK, it also sees LPSK's protected witnesses, which are absent — from pages,
#: filters and counts alike — for everyone else, while direct SQL reads every row.
COORDINATOR = Principal(
    subject="bench", role="coordinator", agency="LPSK", purpose="benchmark", method="in_process"
)

PAGE_SIZE = 50
STATEMENT_PAGE_SIZES = (10, 100, 500)
FANOUT_DELAY = 0.1


@dataclass(slots=True)
class BackendUnderTest:
    """Everything one backend needs for the measurements."""

    name: str
    hub: Hub
    driver: direct.Driver
    graphql_url: str
    client: httpx.AsyncClient
    server_pid: int | None = None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method: the ⌈q·n/100⌉-th smallest value.

    Written with ``math.ceil``: ``round(x + 0.5)`` rounds halves to even and so lands one rank
    too high whenever ``q·n/100`` is a whole number (the median of ten values was the sixth).
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


async def interleaved(
    variants: dict[Hashable, Callable[[], Awaitable[Any]]], runs: int, warmup: int
) -> dict[Hashable, list[float]]:
    """Seconds per call of each variant: ``warmup + runs`` rounds, order rotated, warm-up dropped."""
    samples: dict[Hashable, list[float]] = {key: [] for key in variants}
    keys = list(variants)
    for round_no in range(warmup + runs):
        shift = round_no % len(keys)
        for key in keys[shift:] + keys[:shift]:
            started = time.perf_counter()
            await variants[key]()
            elapsed = time.perf_counter() - started
            if round_no >= warmup:
                samples[key].append(elapsed)
    return samples


class HubError(RuntimeError):
    """The hub answered with errors where the benchmark expects a clean answer."""


async def hub_run(
    hub: Hub, query: str, variables: dict[str, Any] | None = None, principal: Principal | None = None
) -> Any:
    result = await hub.execute(query, variables, principal or COORDINATOR)
    if result.errors:
        raise HubError("; ".join(e.message for e in result.errors[:3]))
    return result


async def http_run(client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any] | None) -> Any:
    response = await client.post(url, json={"query": query, "variables": variables or {}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise HubError(f"HTTP {response.status_code}: {str(body.get('errors'))[:300]}")
    return body


# --- 1. a page of cases: hub (in-process, HTTP) vs direct SQL --------------------------------------


def page_variables(agency: str | None, first: int = PAGE_SIZE) -> dict[str, Any]:
    variables: dict[str, Any] = {"first": first}
    if agency is not None:
        variables["filter"] = {"agencies": [AGENCY_CODE[agency]]}
    return variables


#: Pages measured: the portal's newest page across all agencies, then one page per agency
#: (the newest page holds only the agencies that reported last; the per-agency pages make
#: every agency's relations — polri's stage history — part of the figures).
PAGES: tuple[str | None, ...] = (None, *AGENCIES)


def page_label(agency: str | None) -> str:
    return "newest, all agencies" if agency is None else f"newest of {agency}"


@dataclass(slots=True)
class PageCheck:
    """Whether hub and direct SQL returned the same page, what it held, and the round trips
    (SQL statements) each side sent for it, as counted (hub: ``extensions.sources``; direct:
    the driver's counter)."""

    same: bool
    detail: str
    composition: dict[str, int] = field(default_factory=dict)
    victims: int = 0
    services: int = 0
    stage_events: int = 0
    hub_statements: dict[str, int] = field(default_factory=dict)
    direct_statements: int = 0
    direct_rows_same: bool = True


#: (source, number, report day, victims, services, stage events, victims' ids, services' ids)
StageEvents = tuple[tuple[str | None, str | None], ...]
PageRow = tuple[str, str, str | None, int, int, StageEvents, tuple[str, ...], tuple[str, ...]]


def _own_key(global_id: str) -> str:
    """The source's own row id inside a record's global id (``korban/3073`` → ``3073``: a part
    name prefixes the key where a source keeps people in several tables)."""
    return GlobalId.decode(global_id).key.rsplit("/", 1)[-1]


def _iso(value: Any) -> str | None:
    """A date as ISO text, from the hub's ISO or an agency's ``DD/MM/YYYY`` text."""
    if value is None:
        return None
    text = str(value)
    if len(text) >= 10 and text[2] == "/" and text[5] == "/":
        return f"{text[6:10]}-{text[3:5]}-{text[0:2]}"
    return text[:10]


def _hub_page_summary(data: dict[str, Any]) -> list[PageRow]:
    """Per case: source, number, report day, victims, services, each stage event's (date,
    reference), and the source's own ids of its victims and services: values, not only counts."""
    return [
        (
            e["node"]["source"],
            e["node"]["sourceKey"],
            e["node"]["reportedAt"],
            len(e["node"]["victims"]),
            len(e["node"]["services"]),
            tuple((_iso(s["date"]), s["reference"]) for s in e["node"]["stageHistory"]),
            tuple(sorted(_own_key(v["id"]) for v in e["node"]["victims"])),
            tuple(sorted(_own_key(s["id"]) for s in e["node"]["services"])),
        )
        for e in data["cases"]["edges"]
    ]


def _direct_page_summary(page: list[direct.DirectCase]) -> list[PageRow]:
    # A child row's own id follows the case key (bench/direct.py's SELECTs); bp2mi's victim and
    # repatriation are the complaint row itself, whose id (id_pengaduan) comes first.
    at = {agency: 0 if agency == "bp2mi" else 1 for agency in AGENCIES}
    return [
        (
            c.agency,
            str(c.source_key),
            c.day,
            len(c.victims),
            len(c.services),
            tuple((_iso(s[3]), s[4]) for s in c.stages),
            tuple(sorted(str(v[at[c.agency]]) for v in c.victims)),
            tuple(sorted(str(s[at[c.agency]]) for s in c.services)),
        )
        for c in page
    ]


async def check_page(backend: BackendUnderTest, agency: str | None) -> PageCheck:
    result = await hub_run(backend.hub, PAGE_QUERY, page_variables(agency))
    hub_rows = _hub_page_summary(result.data)
    agencies = AGENCIES if agency is None else (agency,)
    before = backend.driver.statements
    page = await direct.case_page(backend.driver, PAGE_SIZE, agencies)
    direct_statements = backend.driver.statements - before
    direct_rows = _direct_page_summary(page)
    rows_shape = _direct_page_summary(await direct.case_page(backend.driver, PAGE_SIZE, agencies, "rows"))
    composition: dict[str, int] = {}
    for source, *_ in hub_rows:
        composition[source] = composition.get(source, 0) + 1
    check = PageCheck(
        same=hub_rows == direct_rows,
        detail="same cases, report days, victims and services (their own ids), stage events "
        "(dates, references)",
        composition=composition,
        victims=sum(r[3] for r in hub_rows),
        services=sum(r[4] for r in hub_rows),
        stage_events=sum(len(r[5]) for r in hub_rows),
        hub_statements={
            s["source"]: s["statements"] for s in result.extensions.get("sources", []) if s["statements"]
        },
        direct_statements=direct_statements,
        direct_rows_same=rows_shape == direct_rows,
    )
    if not check.same:
        diffs = [(h, d) for h, d in zip(hub_rows, direct_rows, strict=False) if h != d][:3]
        check.detail = f"DIFFERENT: {len(hub_rows)} vs {len(direct_rows)} cases; first differences {diffs}"
    return check


@dataclass(slots=True)
class PageResult:
    backend: str
    agency: str | None
    check: PageCheck
    hub: list[float]
    http: list[float]
    direct: list[float]
    direct_rows: list[float] = field(default_factory=list)  # the page statement sorting whole rows


async def measure_pages(backends: list[BackendUnderTest], runs: int, warmup: int) -> list[PageResult]:
    checks = {(b.name, a): await check_page(b, a) for b in backends for a in PAGES}
    variants: dict[Hashable, Callable[[], Awaitable[Any]]] = {}
    for b in backends:
        for agency in PAGES:
            variables = page_variables(agency)
            agencies = AGENCIES if agency is None else (agency,)
            variants[(b.name, agency, "hub")] = lambda b=b, v=variables: hub_run(b.hub, PAGE_QUERY, v)
            variants[(b.name, agency, "http")] = lambda b=b, v=variables: http_run(
                b.client, b.graphql_url, PAGE_QUERY, v
            )
            variants[(b.name, agency, "direct")] = lambda b=b, a=agencies: direct.case_page(
                b.driver, PAGE_SIZE, a
            )
            variants[(b.name, agency, "direct_rows")] = lambda b=b, a=agencies: direct.case_page(
                b.driver, PAGE_SIZE, a, "rows"
            )
    samples = await interleaved(variants, runs, warmup)
    return [
        PageResult(
            b.name,
            agency,
            checks[(b.name, agency)],
            samples[(b.name, agency, "hub")],
            samples[(b.name, agency, "http")],
            samples[(b.name, agency, "direct")],
            samples[(b.name, agency, "direct_rows")],
        )
        for b in backends
        for agency in PAGES
    ]


# --- 2. SQL statements per query as the page grows -----------------------------------------------


@dataclass(slots=True)
class StatementResult:
    backend: str
    agency: str | None
    #: first → source → (statements, rows read), for sources that answered
    by_first: dict[int, dict[str, tuple[int, int]]]
    #: first → source → cases of that source on the page
    composition: dict[int, dict[str, int]]

    def totals(self) -> dict[int, int]:
        return {first: sum(s for s, _ in per.values()) for first, per in self.by_first.items()}

    def constant_per_source(self) -> bool:
        """No statement per row: each source sends as many statements at its largest page as at
        its next largest, and never more at a smaller one.

        A statement may depend on the data rather than the size: the row rule reads the
        recipients of a page's services only when the page has services (hub/engine/rowrule.py),
        so a tiny page without any sends one statement fewer. Growth with the page size is what
        would betray N+1, and that is what this refuses.
        """
        for source in {s for per in self.by_first.values() for s in per}:
            counts = [
                per[source][0]
                for first, per in sorted(self.by_first.items())
                if source in per and self.composition[first].get(source)
            ]
            if len(counts) >= 2 and (counts[-1] != counts[-2] or max(counts) != counts[-1]):
                return False
        return True


async def measure_statements(
    backends: list[BackendUnderTest], sizes: tuple[int, ...] = STATEMENT_PAGE_SIZES
) -> list[StatementResult]:
    results = []
    for b in backends:
        for agency in PAGES:
            by_first: dict[int, dict[str, tuple[int, int]]] = {}
            composition: dict[int, dict[str, int]] = {}
            for first in sizes:
                result = await hub_run(b.hub, PAGE_QUERY, page_variables(agency, first))
                by_first[first] = {
                    s["source"]: (int(s["statements"]), int(s["rows"]))
                    for s in result.extensions["sources"]
                    if s["status"] == "ok"
                }
                counts: dict[str, int] = {}
                for edge in result.data["cases"]["edges"]:
                    counts[edge["node"]["source"]] = counts.get(edge["node"]["source"], 0) + 1
                composition[first] = counts
            results.append(StatementResult(b.name, agency, by_first, composition))
    return results


# --- 3. fan-out with an artificial delay per source -----------------------------------------------


class DelayedSource(Source):
    """A registered source whose every database call first sleeps: a slow agency, simulated.

    Benchmark-only wrapper: it delegates everything to the real source after ``delay``
    seconds, so the hub's concurrency (or its absence) shows directly in the latency.
    """

    def __init__(self, inner: Source, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.name = inner.name
        self.agency = inner.agency
        self.capabilities = inner.capabilities
        self.description = inner.description

    def __getattr__(self, name: str) -> Any:  # anything else (unmapped counters, engine, …)
        return getattr(self.inner, name)

    async def search_cases(self, search: Any) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.search_cases(search)

    async def count_cases(self, filter: Any) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.count_cases(filter)

    async def aggregate(self, request: Any) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.aggregate(request)

    async def load(self, entity: Any, keys: Any) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.load(entity, keys)

    async def children(self, entity: Any, field: str, parent_keys: Any) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.children(entity, field, parent_keys)

    async def scan(self, entity: Any, after: Any, limit: int) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.scan(entity, after, limit)

    async def health(self) -> Any:
        await asyncio.sleep(self.delay)
        return await self.inner.health()

    def unsupported(self, filter: Any) -> set[str]:
        return self.inner.unsupported(filter)

    def supports(self, entity: Any, field: str | None = None) -> bool:
        return self.inner.supports(entity, field)


class _Delays:
    """Switches the delay on and off around single calls (so delayed and plain runs interleave)."""

    def __init__(self, hub: Hub, delay: float) -> None:
        self.entries = [e for e in hub.registry.all() if e.source is not None]
        self.plain = {e.name: e.source for e in self.entries}
        self.delayed = {e.name: DelayedSource(e.source, delay) for e in self.entries}  # type: ignore[arg-type]

    def apply(self, on: bool) -> None:
        table = self.delayed if on else self.plain
        for entry in self.entries:
            entry.source = table[entry.name]


@dataclass(slots=True)
class FanoutResult:
    backend: str
    query: str
    sources: int
    plain: list[float]
    delayed: list[float]


async def measure_fanout(backends: list[BackendUnderTest], runs: int, warmup: int) -> list[FanoutResult]:
    results = []
    for b in backends:
        delays = _Delays(b.hub, FANOUT_DELAY)

        async def run(query: str, on: bool, b: BackendUnderTest = b, delays: _Delays = delays) -> None:
            delays.apply(on)
            try:
                await hub_run(b.hub, query)
            finally:
                delays.apply(False)

        variants: dict[Hashable, Callable[[], Awaitable[Any]]] = {}
        for label, query in FANOUT_QUERIES.items():
            variants[(label, False)] = lambda q=query: run(q, False)
            variants[(label, True)] = lambda q=query: run(q, True)
        samples = await interleaved(variants, runs, warmup)
        for label in FANOUT_QUERIES:
            results.append(
                FanoutResult(
                    b.name, label, len(delays.entries), samples[(label, False)], samples[(label, True)]
                )
            )
    return results


# --- 4. statistics vs direct GROUP BY ----------------------------------------------------------------


@dataclass(slots=True)
class StatisticsResult:
    backend: str
    equal: bool
    detail: str
    cells: int
    total: int
    hub: list[float]
    direct: list[float]
    #: Mean CPU seconds per query, run one after another (:mod:`bench.cpu`): this process's and
    #: the PostgreSQL server's (None: SQLite, whose work is this process's, or a remote server).
    hub_cpu: tuple[float, float | None] = (float("nan"), None)
    direct_cpu: tuple[float, float | None] = (float("nan"), None)


def _hub_cells(data: dict[str, Any]) -> tuple[dict[tuple[str | None, ...], int], int]:
    stats = data["statistics"]
    cells = {tuple(k["value"] for k in row["keys"]): row["count"] for row in stats["rows"]}
    return cells, stats["total"]


async def measure_statistics(
    backends: list[BackendUnderTest], runs: int, warmup: int
) -> list[StatisticsResult]:
    checks = {}
    for b in backends:
        hub_cells, hub_total = _hub_cells((await hub_run(b.hub, STATISTICS_QUERY, None, COORDINATOR)).data)
        direct_cells, direct_total = await direct.cases_by_province_year(b.driver)
        equal = hub_cells == direct_cells and hub_total == direct_total
        detail = f"{len(hub_cells)} cells, total {hub_total:,}: equal"
        if not equal:
            differing = sorted(
                (k, hub_cells.get(k), direct_cells.get(k))
                for k in set(hub_cells) | set(direct_cells)
                if hub_cells.get(k) != direct_cells.get(k)
            )
            detail = (
                f"DIFFERENT: hub {len(hub_cells)} cells / total {hub_total}, direct {len(direct_cells)} "
                f"cells / total {direct_total}; e.g. {differing[:3]}"
            )
        checks[b.name] = (equal, detail, len(hub_cells), hub_total)
    variants: dict[Hashable, Callable[[], Awaitable[Any]]] = {}
    for b in backends:
        variants[(b.name, "hub")] = lambda b=b: hub_run(b.hub, STATISTICS_QUERY, None, COORDINATOR)
        variants[(b.name, "direct")] = lambda b=b: direct.cases_by_province_year(b.driver)
    samples = await interleaved(variants, runs, warmup)
    results = []
    for b in backends:
        server = None
        if b.name == "postgres":
            server = await cpu.postgres_server(lambda sql, b=b: b.driver.fetch("simfoni", sql))
        hub_cpu = await cpu.per_call(variants[(b.name, "hub")], runs, server)
        direct_cpu = await cpu.per_call(variants[(b.name, "direct")], runs, server)
        results.append(
            StatisticsResult(
                b.name,
                *checks[b.name],
                samples[(b.name, "hub")],
                samples[(b.name, "direct")],
                hub_cpu,
                direct_cpu,
            )
        )
    return results


# --- 5. requests per second under concurrent HTTP load -------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    backend: str
    clients: int
    window: float  # seconds during which new requests were started
    seconds: float  # wall time until the last one finished
    latencies: list[float]
    errors: int
    error_sample: str
    client_cpu: float  # cores used by the load generator (process CPU / wall)
    server_cpu: float | None  # cores used by the server process, if psutil is there

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.completed / self.seconds if self.seconds else float("nan")


async def measure_load(
    backend: BackendUnderTest, clients: int, seconds: float, max_requests: int
) -> LoadResult:
    """``clients`` concurrent loops posting the portal list query for ``seconds`` (or ``max_requests``)."""
    body = {"query": PORTAL_LIST, "variables": {}}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors = 0
    error_sample = ""
    async with httpx.AsyncClient(limits=limits, timeout=120.0) as client:

        async def one() -> None:
            nonlocal errors, error_sample
            started = time.perf_counter()
            try:
                response = await client.post(backend.graphql_url, json=body)
                payload = response.json()
                ok = response.status_code == 200 and not payload.get("errors")
                if not ok and not error_sample:
                    error_sample = f"HTTP {response.status_code}: {str(payload.get('errors'))[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                ok = False
                error_sample = error_sample or type(exc).__name__
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

        # Warm-up: every connection once, results discarded.
        await asyncio.gather(*(one() for _ in range(clients)))
        latencies.clear()
        errors, error_sample = 0, ""
        deadline = time.perf_counter() + seconds
        issued = 0

        async def worker() -> None:
            nonlocal issued
            while time.perf_counter() < deadline and issued < max_requests:
                issued += 1
                await one()

        server = _process(backend.server_pid)
        server_cpu_before = _cpu_seconds(server)
        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
        client_cpu = (time.process_time() - cpu_before) / wall
        server_cpu_after = _cpu_seconds(server)
    server_cpu = (
        (server_cpu_after - server_cpu_before) / wall
        if server_cpu_before is not None and server_cpu_after is not None
        else None
    )
    return LoadResult(
        backend.name, clients, seconds, wall, latencies, errors, error_sample, client_cpu, server_cpu
    )


def _process(pid: int | None) -> Any:
    if pid is None:
        return None
    try:
        import psutil
    except ImportError:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _cpu_seconds(process: Any) -> float | None:
    """User + system CPU of a process and its children (PostgreSQL backends are not its children)."""
    if process is None:
        return None
    try:
        times = process.cpu_times()
    except Exception:
        return None
    return float(times.user + times.system)
