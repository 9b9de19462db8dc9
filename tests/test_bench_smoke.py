"""The benchmark machinery still runs (``make bench``), at a tiny scale, on SQLite and PostgreSQL.

No timing is asserted — benchmarks check speed, tests never time things. What is asserted is
what would make the benchmark silently wrong or broken: the hand-written SQL and the hub agree
on every page and on the statistics, the statement counts come back, and RESULTS.md is
rewritten without losing the sections others own (``## Linkage``, hand-written notes).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import data, report
from bench.__main__ import Options, failed_checks, run
from hub.demo.agencies import AGENCIES


def test_report_keeps_other_sections(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(
        "# Benchmark results\n\nIntro.\n\n## Notes\nhand-written\n\n## Linkage\nlinkage table\n",
        encoding="utf-8",
    )
    report.write(["## A\n" + report.MARKER + "\n\nfirst\n", "## B\n" + report.MARKER + "\n\nsecond\n"], path)
    report.write(["## A\n" + report.MARKER + "\n\nagain\n"], path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results\n\nIntro.\n")
    assert "## Notes\nhand-written" in text and "## Linkage\nlinkage table" in text
    assert "again" in text and "first" not in text and "## B" not in text
    assert text.index("## A") < text.index("## Notes")  # generated sections stay where they were


def test_bench_runs_at_tiny_scale(demo_dir: Path, postgres_server: Any, tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    for agency in AGENCIES:  # a copy: the bench's hubs write their store files beside the data
        shutil.copy(demo_dir / f"{agency}.sqlite", directory)
    dataset = data.existing_dataset(directory, seed=2023, scale=1.0)
    url = postgres_server.create_database("tppo_bench_smoke", replace=True)
    results_path = tmp_path / "RESULTS.md"
    results_path.write_text("# Benchmark results\n\n## Linkage\nkept\n", encoding="utf-8")

    results = run(
        Options(
            dataset=dataset,
            postgres_url=url,
            runs=1,
            warmup=0,
            clients=4,
            load_seconds=0.5,
            max_requests=20,
            statement_sizes=(5, 20, 60),
            profile=False,
            results=results_path,
            command="pytest",
        )
    )

    assert failed_checks(results) == []
    assert {(p.backend, p.agency) for p in results.pages} == {
        (b, a) for b in data.BACKENDS for a in (None, *AGENCIES)
    }
    for statements in results.statements:
        assert statements.constant_per_source()
        assert all(per for per in statements.by_first.values())
    assert all(load.completed > 0 and load.errors == 0 for load in results.loads)
    text = results_path.read_text(encoding="utf-8")
    for heading in ("## Run", "## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
    assert "## Linkage\nkept" in text


def test_percentile_is_the_nearest_rank() -> None:
    """⌈q·n/100⌉-th smallest (nearest rank), worked by hand for the cases that rounding got wrong."""
    from bench.measure import percentile

    ten = [float(v) for v in range(10, 0, -1)]  # 10..1, unsorted on purpose
    assert percentile(ten, 50) == 5.0  # ⌈5⌉ = 5th smallest, not the 6th
    assert percentile(ten, 25) == 3.0  # ⌈2.5⌉ = 3
    assert percentile(ten, 95) == 10.0  # ⌈9.5⌉ = 10
    assert percentile(ten, 10) == 1.0  # ⌈1⌉ = 1
    assert percentile([7.0], 0) == 7.0 and percentile([7.0], 100) == 7.0
    four = [4.0, 1.0, 3.0, 2.0]
    assert percentile(four, 50) == 2.0 and percentile(four, 75) == 3.0 and percentile(four, 76) == 4.0


def test_persistent_postgres_accepts_a_relative_data_dir(monkeypatch: Any) -> None:
    """``--data-dir bench/data`` (relative) must find its cluster, not wipe and reload it."""
    import tempfile

    # Not pytest's tmp_path: its parent is private to root, and the server may run as another user.
    base = Path(tempfile.mkdtemp(prefix="tppo-bench-relative-"))
    base.chmod(0o755)
    monkeypatch.chdir(base)
    try:
        first = data.start_postgres(Path("relative-root"))
        try:
            first.psql("CREATE DATABASE kept_between_runs")
        finally:
            data.stop_postgres(first)
        second = data.start_postgres(Path("relative-root"))
        try:
            assert "kept_between_runs" in second.psql("SELECT datname FROM pg_database").split()
            assert Path(second.data_dir).is_absolute()
        finally:
            data.stop_postgres(second)
    finally:
        shutil.rmtree(base, ignore_errors=True)
