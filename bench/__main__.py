"""``python -m bench`` (``make bench``): the hub's benchmarks at a million source rows.

Steps: make or reuse the demo databases (``bench/data/``), start PostgreSQL with the same rows,
open for each backend an in-process hub, a hub served over HTTP (uvicorn child process on
127.0.0.1) and hand-written SQL on the same drivers; then measure, side by side:

1. a page of 50 cases with victims, services and stage history: hub vs direct SQL;
2. SQL statements per query at ``first`` = 10, 100, 500;
3. fan-out with every source 100 ms slow;
4. ``statistics`` by PROVINCE × YEAR vs direct GROUP BY (and that the numbers are equal);
5. requests per second with 32 concurrent HTTP clients on the portal list page;

plus a profile of where an in-process request's time goes, and write ``bench/RESULTS.md``
(only this benchmark's sections; ``## Linkage`` and hand-written sections are kept). Then the
peer comparison: the portal page against PostGraphile 5 on the same PostgreSQL tables
(``python -m bench.postgraphile``, its own section; ``--no-peer`` skips it).

``--quick`` is a smoke run (few rounds, short load) that prints instead of writing RESULTS.md;
``--scale`` and ``--backends`` choose the data; ``--only statistics`` (or any of :data:`SECTIONS`,
comma-separated) measures those sections alone and rewrites only them in RESULTS.md, each with
a line naming its own run (the *Run* section stays the full run's). ``--postgres-url`` measures
an existing server's database; it is loaded once and reused while it holds the same dataset
(:func:`bench.data.ensure_postgres_data`). Exit status 1 if a correctness check failed (hub and
direct SQL disagree).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import data, direct, measure, postgraphile, profile, report
from bench.server import HubServer
from hub.demo.generate import MILLION_ROWS_SCALE
from hub.server.app import Hub

#: What ``--only`` can choose: the measured sections, in the order they run.
SECTIONS = ("pages", "statements", "statistics", "fanout", "profile", "load")
#: Sections that need the hub served over HTTP (a child process per backend).
_HTTP_SECTIONS = frozenset({"pages", "load"})


@dataclass(slots=True)
class Options:
    """What to run (from the command line, or from a test)."""

    scale: float = MILLION_ROWS_SCALE
    seed: int = 2023
    backends: tuple[str, ...] = data.BACKENDS
    runs: int = 9
    warmup: int = 2
    clients: int = 32
    load_seconds: float = 20.0
    max_requests: int = 20_000
    statement_sizes: tuple[int, ...] = measure.STATEMENT_PAGE_SIZES
    data_root: Path = data.DEFAULT_ROOT
    results: Path | None = report.RESULTS
    postgres_url: str | None = None  # an existing server's database instead of the embedded one
    profile: bool = True
    load: bool = True
    command: str = "python -m bench"
    #: Use this dataset as it is instead of generating one under ``data_root`` (tests).
    dataset: data.Dataset | None = None
    #: Arguments for ``python -m bench.postgraphile`` after the run; None skips the peer.
    peer_args: list[str] | None = None
    #: Measure only these sections (names from :data:`SECTIONS`); None: all of them.
    only: frozenset[str] | None = None

    def wants(self, section: str) -> bool:
        """Whether ``section`` is measured in this run (``--only``, ``--no-load``, ``--no-profile``)."""
        if self.only is not None and section not in self.only:
            return False
        if section == "load":
            return self.load
        if section == "profile":
            return self.profile
        return True

    def needs_http(self) -> bool:
        """Whether a hub must be served over HTTP for the sections measured."""
        return any(self.wants(s) for s in _HTTP_SECTIONS)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", type=float, default=MILLION_ROWS_SCALE, help="demo scale (66 ≈ 1M rows)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--backends", default=",".join(data.BACKENDS), help="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds, 3 s of load")
    parser.add_argument("--runs", type=int, help="measured rounds per figure (default 9, quick 2)")
    parser.add_argument("--warmup", type=int, help="discarded rounds (default 2, quick 1)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients for the load test")
    parser.add_argument("--load-seconds", type=float, help="load test duration per backend (default 20)")
    parser.add_argument("--data-dir", type=Path, default=data.DEFAULT_ROOT, help="where generated data lives")
    parser.add_argument(
        "--results",
        type=Path,
        help="RESULTS.md to update (default bench/RESULTS.md; a --quick run only prints unless given)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument("--no-load", action="store_true", help="skip the HTTP load test")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile")
    parser.add_argument(
        "--postgres-url",
        help="use this database instead of the embedded PostgreSQL (loaded once, reused while it "
        "holds the same dataset)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the PostGraphile comparison")
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help=f"measure only these sections, comma-separated ({', '.join(SECTIONS)}), rewrite only "
        "them in RESULTS.md and skip the peer",
    )
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = set(backends) - set(data.BACKENDS)
    if unknown or not backends:
        parser.error(f"--backends: choose from {', '.join(data.BACKENDS)}")
    only = None
    if args.only is not None:
        only = frozenset(s.strip() for s in args.only.split(",") if s.strip())
        if not only or only - set(SECTIONS):
            parser.error(f"--only: choose from {', '.join(SECTIONS)}")
        if ("load" in only and args.no_load) or ("profile" in only and args.no_profile):
            parser.error("--only names a section that --no-load / --no-profile skips")
    return Options(
        scale=args.scale,
        seed=args.seed,
        backends=backends,
        runs=args.runs or (2 if args.quick else 9),
        warmup=args.warmup if args.warmup is not None else (1 if args.quick else 2),
        clients=args.clients,
        load_seconds=args.load_seconds or (3.0 if args.quick else 20.0),
        data_root=args.data_dir,
        # A quick run's figures must never replace the real ones by accident.
        results=None
        if args.no_write or (args.quick and args.results is None)
        else args.results or report.RESULTS,
        postgres_url=args.postgres_url,
        profile=not args.no_profile,
        load=not args.no_load,
        command=" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        # The peer comparison is a section of its own: a run of chosen sections leaves it out.
        peer_args=None if args.no_peer or only is not None else _peer_args(args),
        only=only,
    )


def _peer_args(args: argparse.Namespace) -> list[str]:
    """The peer bench's command line, mirroring this run's quick / no-write / data choices."""
    peer = ["--data-dir", str(args.data_dir)]
    if args.quick:
        peer.append("--quick")
    if args.no_write:
        peer.append("--no-write")
    return peer


_T0 = time.perf_counter()


def say(message: str) -> None:
    """Progress on stderr, with seconds since start (a full run takes several minutes)."""
    print(f"[{time.perf_counter() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Measured:
    """Everything measured in one run (the run's context is added by :func:`run`)."""

    pages: list[measure.PageResult]
    statements: list[measure.StatementResult]
    fanout: list[measure.FanoutResult]
    statistics: list[measure.StatisticsResult]
    loads: list[measure.LoadResult]
    profiles: dict[tuple[str, str], tuple[list[tuple[str, float]], float]] | None
    versions: dict[str, str]


async def _measure_all(
    options: Options, dataset: data.Dataset, pg_url: str | None, servers: dict[str, HubServer]
) -> Measured:
    """Open every backend, run the five measurements and the profile, close everything."""
    backends: list[measure.BackendUnderTest] = []
    versions: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in options.backends:
            hub = Hub(data.hub_config(dataset, name, pg_url if name == data.POSTGRES else None))
            await hub.start()
            stack.push_async_callback(hub.stop)
            down = [e.name for e in hub.registry.all() if e.source is None]
            if down:
                raise RuntimeError(f"{name}: sources down: {', '.join(down)}")
            driver = await direct.open_driver(name, dataset.directory, pg_url)
            stack.push_async_callback(driver.close)
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=120.0))
            server = servers.get(name)
            url, pid = (server.url, server.pid) if server is not None else ("", None)
            backends.append(measure.BackendUnderTest(name, hub, driver, url, client, pid))
            if name == data.POSTGRES:
                rows = await driver.fetch("simfoni", "SELECT current_setting('server_version')")
                versions["PostgreSQL"] = str(rows[0][0])
        pages, statements, stats, fanout, loads = [], [], [], [], []
        if options.wants("pages"):
            say("page of 50 cases: checking, then timing")
            pages = await measure.measure_pages(backends, options.runs, options.warmup)
        if options.wants("statements"):
            say("statements per query")
            statements = await measure.measure_statements(backends, options.statement_sizes)
        if options.wants("statistics"):
            say("statistics")
            stats = await measure.measure_statistics(backends, options.runs, options.warmup)
        if options.wants("fanout"):
            say("fan-out with 100 ms per source")
            fanout = await measure.measure_fanout(backends, options.runs, options.warmup)
        profiles = None
        if options.wants("profile") and profile.available():
            say("profile")
            profiles = {}
            for b in backends:
                variables = measure.page_variables(None)
                profiles[(b.name, "page of 50, all agencies")] = await profile.breakdown(
                    lambda b=b, v=variables: measure.hub_run(b.hub, measure.PAGE_QUERY, v), options.runs * 2
                )
                profiles[(b.name, "statistics")] = await profile.breakdown(
                    lambda b=b: measure.hub_run(b.hub, measure.STATISTICS_QUERY, None, measure.COORDINATOR),
                    options.runs * 2,
                )
        if options.wants("load"):
            for b in backends:
                say(f"load: {options.clients} clients for {options.load_seconds:g} s on {b.name}")
                loads.append(
                    await measure.measure_load(b, options.clients, options.load_seconds, options.max_requests)
                )
    return Measured(pages, statements, fanout, stats, loads, profiles, versions)


def run(options: Options) -> report.Results:
    """Prepare the data, measure everything, and (unless told not to) write RESULTS.md."""
    started, load_before = report.now(), report.load_average()
    dataset = options.dataset or data.ensure_dataset(options.data_root, options.seed, options.scale, say=say)
    say(f"data: {dataset.total_rows:,} source rows in {dataset.directory}")
    pg_server = None
    pg_url = options.postgres_url
    servers: dict[str, HubServer] = {}
    try:
        if data.POSTGRES in options.backends:
            stamp: Path | None = None
            if pg_url is None:
                pg_server = data.start_postgres(options.data_root)
                pg_url = pg_server.url
                stamp = data.postgres_stamp_path(options.data_root)
            data.ensure_postgres_data(pg_url, dataset, stamp, say=say)
        for name in options.backends if options.needs_http() else ():
            servers[name] = HubServer(dataset.directory, name, pg_url if name == data.POSTGRES else None)
            servers[name].spawn()
        for server in servers.values():
            server.wait_ready()
        measured = asyncio.run(_measure_all(options, dataset, pg_url, servers))
    finally:
        for server in servers.values():
            server.stop()
        if pg_server is not None:
            data.stop_postgres(pg_server)
    info = report.RunInfo(
        started=started,
        finished=report.now(),
        command=options.command,
        machine=report.machine_info(),
        versions=report.package_versions(measured.versions),
        seed=dataset.seed,
        scale=dataset.scale,
        row_counts=dataset.row_counts,
        truth_cases=dataset.truth_cases,
        truth_persons=dataset.truth_persons,
        backends=list(options.backends),
        runs=options.runs,
        warmup=options.warmup,
        load_before=load_before,
        load_after=report.load_average(),
    )
    results = report.Results(
        info,
        measured.pages,
        measured.statements,
        measured.fanout,
        measured.statistics,
        measured.loads,
        measured.profiles,
    )
    sections = report.render(results, options.only)
    if options.results is not None:
        report.write(sections, options.results, only=options.only is not None)
        say(f"wrote {options.results}")
    else:
        print("\n".join(sections))
    return results


def failed_checks(results: report.Results) -> list[str]:
    """Correctness failures (not speed): hub and direct SQL must agree."""
    problems = [
        f"{p.backend} {measure.page_label(p.agency)}: {p.check.detail}"
        for p in results.pages
        if not p.check.same
    ]
    problems += [
        f"{p.backend} {measure.page_label(p.agency)}: the whole-row page statement returned other rows"
        for p in results.pages
        if not p.check.direct_rows_same
    ]
    problems += [f"{s.backend} statistics: {s.detail}" for s in results.statistics if not s.equal]
    return problems


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    results = run(options)
    problems = failed_checks(results)
    for problem in problems:
        say(f"CHECK FAILED: {problem}")
    peer_status = 0
    if options.peer_args is not None:
        say("peer: the portal page against PostGraphile 5 (python -m bench.postgraphile)")
        peer_status = postgraphile.main(options.peer_args)
        if peer_status:
            say("CHECK FAILED: hub and PostGraphile answered different rows")
    return 1 if problems or peer_status else 0


if __name__ == "__main__":
    raise SystemExit(main())
