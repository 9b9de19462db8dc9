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

import pytest

from bench import data, report
from bench.__main__ import SECTIONS, Options, failed_checks, parse_args, run
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


def test_only_rewrites_the_chosen_sections_in_place(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nIntro.\n", encoding="utf-8")
    generated = [f"## {t}\n{report.MARKER}\n\nold {t}\n" for t in ("Run", "A", "B", "C")]
    report.write(generated, path)
    report.write([f"## B\n{report.MARKER}\n\nnew B\n", f"## D\n{report.MARKER}\n\nnew D\n"], path, only=True)
    text = path.read_text(encoding="utf-8")
    assert "old Run" in text and "old A" in text and "old C" in text  # the others stay
    assert "new B" in text and "old B" not in text
    assert text.index("## A") < text.index("## B") < text.index("## C") < text.index("## D")


def test_only_option_parsing(capsys: Any) -> None:
    full = parse_args([])
    assert full.only is None and all(full.wants(s) for s in SECTIONS) and full.needs_http()
    assert full.peer_args is not None
    one = parse_args(
        ["--only", "statistics", "--postgres-url", "postgresql://u@h/db", "--backends", "postgres"]
    )
    assert one.only == frozenset({"statistics"}) and one.postgres_url == "postgresql://u@h/db"
    assert [s for s in SECTIONS if one.wants(s)] == ["statistics"]
    assert not one.needs_http()  # no uvicorn child process for in-process sections
    assert one.peer_args is None  # the peer comparison is a section of its own
    assert one.results == report.RESULTS and "--only statistics" in one.command
    two = parse_args(["--only", " pages , load", "--no-profile"])
    assert two.only == frozenset({"pages", "load"}) and two.needs_http()
    assert [s for s in SECTIONS if two.wants(s)] == ["pages", "load"]
    assert not parse_args(["--no-load"]).wants("load")
    for bad in (["--only", "statistic"], ["--only", ","], ["--only", "load", "--no-load"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
        assert "--only" in capsys.readouterr().err


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

    # The loaded database is reused: its stamp names the dataset and the row counts agree.
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is None

    # One section alone: measured again and rewritten; every other section stays as it was.
    before = {m.group(0).split("\n", 1)[0]: m.group(0) for m in report._SECTION.finditer(text)}
    again = run(
        Options(
            dataset=dataset,
            postgres_url=url,
            runs=1,
            warmup=0,
            profile=False,
            results=results_path,
            command="pytest --only statistics",
            only=frozenset({"statistics"}),
        )
    )
    assert failed_checks(again) == [] and not again.pages and not again.loads
    assert {s.backend for s in again.statistics} == set(data.BACKENDS)
    for s in again.statistics:  # the server's CPU is read where it runs here (PostgreSQL)
        assert (s.hub_cpu[1] is None) == (s.direct_cpu[1] is None) == (s.backend == data.SQLITE)
    rewritten = results_path.read_text(encoding="utf-8")
    after = {m.group(0).split("\n", 1)[0]: m.group(0) for m in report._SECTION.finditer(rewritten)}
    assert after.keys() == before.keys()
    changed = [h for h in before if before[h] != after[h]]
    assert changed == ["## 4. Statistics vs direct GROUP BY"]
    assert "This section alone from `pytest --only statistics`" in after[changed[0]]


def test_database_stamp_is_dropped_when_the_data_changes(demo_dir: Path, postgres_server: Any) -> None:
    """A database whose rows no longer match the stamp is loaded again (never measured stale)."""
    dataset = data.existing_dataset(demo_dir, seed=2023, scale=1.0)
    url = postgres_server.create_database("tppo_bench_stamp", replace=True)
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is not None
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is None
    postgres_server.psql(
        "DELETE FROM bp2mi.pengaduan WHERE ctid IN (SELECT ctid FROM bp2mi.pengaduan LIMIT 1)",
        "tppo_bench_stamp",
    )
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is not None
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is None
    # Same row counts, another generator's stamp (an older generator wrote other rows): reloaded.
    data._write_database_stamp(url, {**data._stamp(dataset.seed, dataset.scale), "generator": "older"})
    assert data.ensure_postgres_data(url, dataset, None, say=lambda _m: None) is not None
    assert data._database_stamp(url) == data._stamp(dataset.seed, dataset.scale)


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
