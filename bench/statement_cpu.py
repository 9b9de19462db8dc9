"""PostgreSQL's CPU per statement of a page, hub against PostGraphile, without HTTP or load.

The peer bench's "CPU per page, PostgreSQL" divides the database's CPU seconds during a loaded
segment by the pages served: the figure issue 13 judges, but on a shared machine it moves by
~10 % between runs for both systems, more than a lever on one statement is worth. Here each
system's statements for one portal page are captured and then run again, alone, on one
connection, as prepared statements (as both systems send them), rounds alternating between the
systems; the backend's own CPU time (``/proc/<pid>/stat``) over thousands of executions, divided
by them, is each statement's cost. Its ratio is the loaded figure's without the noise of the
load (at the start of the 2026-12-07 session both read 1.40×).

- the hub's statements: :func:`tests.statements.recorded` around one in-process page (after a
  first one, which builds and plans);
- PostGraphile's: its own server started once more with ``log_statement = all`` for its
  session (a connection option), one page asked, the statements read back from the server log
  (:func:`statements_in_log`; the server is run by :func:`bench.postgraphile.capture_statements`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``<date> <time> UTC [pid] LOG:  execute <name>: <statement>`` (and ``statement: …`` for a
#: simple query); the statement runs on over tab-indented lines until the next log line.
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] ", re.MULTILINE)
_STATEMENT = re.compile(r"^LOG:\s+(?:execute [^:]*|statement): (.*)$", re.DOTALL)
#: A statement PostGraphile sends on its own (introspection, settings), not for the page.
_NOT_THE_PAGE = re.compile(r"^\s*(set|show|begin|commit|rollback|select set_config)\b", re.IGNORECASE)

Statement = tuple[str, tuple[Any, ...]]


def statements_in_log(text: str) -> list[str]:
    """The statements a PostgreSQL server log with ``log_statement = all`` shows, in order
    (each as sent: continuation lines joined back, their leading tab removed)."""
    starts = [m.start() for m in _LOG_LINE.finditer(text)] + [len(text)]
    found = []
    for start, stop in itertools.pairwise(starts):
        entry = text[start:stop]
        body = _LOG_LINE.sub("", entry, count=1).rstrip("\n")
        match = _STATEMENT.match(body)
        if match is None:
            continue
        statement = "\n".join(line.removeprefix("\t") for line in match.group(1).split("\n")).strip()
        if statement and not _NOT_THE_PAGE.match(statement):
            found.append(statement.rstrip(";"))
    return found


def cpu_seconds(stat_line: str, ticks_per_second: float) -> float:
    """User + system CPU seconds of a process from its ``/proc/<pid>/stat`` line."""
    fields = stat_line.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return cpu_seconds(stat.read(), os.sysconf("SC_CLK_TCK"))


@dataclass(slots=True)
class StatementCPU:
    """Backend CPU µs per execution of each captured statement, per system (medians)."""

    runs: int
    rounds: int
    #: system label → (statement's first words, µs per execution) in the order the page sends them
    by_system: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def total(self, label: str) -> float:
        return sum(us for _, us in self.by_system.get(label, []))

    def ratio(self, label: str, reference: str) -> float:
        base = self.total(reference)
        return self.total(label) / base if base else float("nan")


async def capture_hub(config: Path) -> dict[str, list[Statement]]:
    """The statements one portal page of the hub sends to its source (after a first page, which
    builds the statements and plans them): ``hub`` with nothing known of the total (the page
    counts: the first page after a write), ``hub, total reused`` as the next page sends it, with
    the total the source has learnt (:mod:`adapters.countreuse`; on a server where nothing is
    written meanwhile, as here, the statement then reuses it instead of counting)."""
    from hub.engine.config import load_config
    from hub.server.app import Hub
    from hub.server.examples import PORTAL_LIST
    from tests.statements import recorded

    hub = Hub(load_config(config))
    await hub.start()
    try:
        await hub.execute(PORTAL_LIST, {"after": None})
        (entry,) = [e for e in hub.registry.all() if e.source is not None]
        captured: dict[str, list[Statement]] = {}
        counts = getattr(entry.source, "_counts", None)  # None: a server that cannot prove snapshots
        for label in ("hub", "hub, total reused") if counts is not None else ("hub",):
            if label == "hub" and counts is not None:
                counts.clear()
            with recorded(entry.source) as sent:  # type: ignore[arg-type]
                await hub.execute(PORTAL_LIST, {"after": None})
            captured[label] = [
                (text, tuple(params) if isinstance(params, list | tuple) else params) for text, params in sent
            ]
        return captured
    finally:
        await hub.stop()


async def measure(
    url: str, systems: dict[str, Sequence[Statement]], runs: int, rounds: int, search_path: str
) -> StatementCPU:
    """Each system's statements run ``runs`` times per round on one connection (whose
    ``search_path`` names the agency's schema, as the hub's connections do), systems in turn,
    the order rotated each round; backend CPU µs per execution, medians of the rounds."""
    import asyncpg

    connection = await asyncpg.connect(url, server_settings={"search_path": search_path})
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        prepared = {
            label: [(await connection.prepare(text), params, text) for text, params in statements]
            for label, statements in systems.items()
        }
        samples: dict[str, list[list[float]]] = {label: [[] for _ in st] for label, st in prepared.items()}
        labels = list(prepared)
        for round_no in range(rounds):
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                for i, (statement, params, _) in enumerate(prepared[label]):
                    for _ in range(max(1, runs // 10)):  # warm: plan cached, buffers read
                        await statement.fetch(*params)
                    before = backend_cpu(pid)
                    for _ in range(runs):
                        await statement.fetch(*params)
                    samples[label][i].append((backend_cpu(pid) - before) / runs * 1e6)
        result = StatementCPU(runs, rounds)
        for label, statements in prepared.items():
            result.by_system[label] = [
                (_first_words(text), statistics.median(samples[label][i]))
                for i, (_, _, text) in enumerate(statements)
            ]
        return result
    finally:
        await connection.close()


def _first_words(text: str, words: int = 4) -> str:
    return " ".join(text.split()[:words])


def run_capture_and_measure(
    config: Path, postgraphile: Sequence[Statement], url: str, runs: int, rounds: int, schema: str
) -> StatementCPU:
    """Capture the hub's statements for one page (counting, and reusing its total) and measure
    them beside PostGraphile's."""
    hub = asyncio.run(capture_hub(config))
    if any(not isinstance(params, tuple) for statements in hub.values() for _, params in statements):
        raise RuntimeError("a hub statement was not sent on the direct path (named parameters)")
    if not all(hub.values()) or not postgraphile:
        raise RuntimeError("no statements captured")
    return asyncio.run(measure(url, {**hub, "PostGraphile": postgraphile}, runs, rounds, schema))
