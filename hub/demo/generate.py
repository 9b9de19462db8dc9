"""``tppo-hub demo generate``: the five demo agency databases, their truth and a hub.toml."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .agencies import AGENCIES, SCHEMAS, Links, encode
from .population import Case, Person, World, build_world
from .writers import (
    TruthWriter,
    hub_toml,
    run_async,
    write_postgres,
    write_sqlite,
    write_text_atomic,
)

MILLION_ROWS_SCALE = 66.0
"""The scale that gives at least 1,000,000 source rows (measured: see docs/demo-agencies.md)."""


@dataclass(frozen=True)
class GenerationReport:
    """What one generation wrote: rows per agency and table, totals, and how long it took."""

    out_dir: Path
    seed: int
    scale: float
    backend: str  # "sqlite" or "postgresql" (what hub.toml points at)
    row_counts: dict[str, dict[str, int]]
    total_rows: int
    truth_cases: int
    truth_persons: int
    seconds: float

    def summary(self) -> str:
        """A few human-readable lines for the command line."""
        lines = [
            f"{self.truth_cases:,} ground-truth cases, {self.truth_persons:,} persons "
            f"(seed {self.seed}, scale {self.scale})"
        ]
        for agency, tables in self.row_counts.items():
            detail = ", ".join(f"{table} {count:,}" for table, count in tables.items())
            lines.append(f"  {agency}: {sum(tables.values()):,} rows ({detail})")
        lines.append(f"{self.total_rows:,} rows in {self.seconds:.1f} s -> {self.out_dir} ({self.backend})")
        return "\n".join(lines)


def _person_truth(persons: list[Person]) -> Iterator[dict[str, Any]]:
    for p in persons:
        yield {
            "id": p.id,
            "full_name": p.full_name,
            "nik": p.nik,
            "sex": p.sex,
            "birth_date": p.birth_date.isoformat(),
            "origin_region": p.origin_region,
            "passport": p.passport,
        }


def _case_truth(world: World) -> Iterator[dict[str, Any]]:
    persons = world.persons
    case: Case
    for case in world.cases:
        yield {
            "id": case.id,
            "reported_at": case.reported_at.isoformat(),
            "region": case.region,
            "country": case.country,
            "exploitation_types": list(case.exploitation_types),
            "means": list(case.means),
            "stage": case.stage,
            "victims": [persons[i].id for i in case.victims],
            "perpetrators": [persons[i].id for i in case.perpetrators],
            "witnesses": [persons[i].id for i in case.witnesses],
        }


def generate(
    out_dir: Path,
    *,
    seed: int = 2023,
    scale: float = 1.0,
    postgres_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> GenerationReport:
    """Write the five demo agency databases, ``ground_truth.json`` and ``hub.toml`` to ``out_dir``.

    The same ``seed`` and ``scale`` always give byte-identical SQLite files and truth. ``scale``
    multiplies the population linearly: 1.0 is 1,500 ground-truth cases and about 15,400 source
    rows in under a second; ``scale=66`` (``MILLION_ROWS_SCALE``, the smallest whole scale with
    at least 1,000,000 source rows) gives 1,026,461 rows in 30-40 s with about 0.7 GB peak
    memory (SQLite, seed 2023; measured, see docs/demo-agencies.md).

    The SQLite files are always written (each under a temporary name, then renamed over the
    old one). With ``postgres_url`` (``postgresql://user:pw@host:port/db``) the same tables are
    also loaded into that database, one schema per agency (dropped and recreated), and
    ``hub.toml`` points the hub at PostgreSQL instead of the files.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    say(f"building the ground-truth world (seed {seed}, scale {scale})")
    world = build_world(seed, float(scale))
    say(f"{len(world.cases):,} cases, {len(world.persons):,} persons")

    truth = TruthWriter(out_dir / "ground_truth.json", seed, float(scale))
    links = Links()
    row_counts: dict[str, dict[str, int]] = {}
    try:
        truth.world(_person_truth(world.persons), _case_truth(world))
        for agency in AGENCIES:
            data = encode(agency, world, links)
            truth.agency(agency, data.truth)
            data.truth.clear()  # the truth is on disk; free it before the rows are written
            specs = SCHEMAS[agency]
            write_sqlite(out_dir / f"{agency}.sqlite", specs, data.tables)
            if postgres_url:
                run_async(partial(write_postgres, postgres_url, agency, specs, data.tables))
            row_counts[agency] = data.row_counts
            say(f"{agency}: {sum(row_counts[agency].values()):,} rows")
        truth.close()
    except BaseException:
        truth.abort()
        raise
    write_text_atomic(out_dir / "hub.toml", hub_toml(AGENCIES, seed, float(scale), postgres_url))

    return GenerationReport(
        out_dir=out_dir,
        seed=seed,
        scale=float(scale),
        backend="postgresql" if postgres_url else "sqlite",
        row_counts=row_counts,
        total_rows=sum(sum(tables.values()) for tables in row_counts.values()),
        truth_cases=len(world.cases),
        truth_persons=len(world.persons),
        seconds=time.perf_counter() - started,
    )
