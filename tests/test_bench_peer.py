"""The PostGraphile peer bench's own logic, without Node or a load run (those are `make bench`).

What would make the comparison silently wrong: answers judged equal that are not, a hub global
id read as the wrong record key, a CPU-per-page figure from the wrong counts, or a rerun that
overwrites other sections of RESULTS.md.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bench import postgraphile as peer


def _gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HUB = {
    "data": {
        "cases": {
            "totalCount": 3,
            "edges": [
                {
                    "node": {
                        "sourceKey": "SPPA-1",
                        "reportedAt": "2025-12-31",
                        "victims": [
                            {"id": _gid("simfoni:person:korban/12")},
                            {"id": _gid("simfoni:person:korban/9")},
                        ],
                        "services": [{"startDate": "2026-01-02"}, {"startDate": None}],
                    }
                }
            ],
        }
    }
}
PEER = {
    "data": {
        "allKasuses": {
            "totalCount": 3,
            "nodes": [
                {
                    "noRegistrasi": "SPPA-1",
                    "tglLapor": "2025-12-31",
                    "korbansByIdKasus": {"nodes": [{"idKorban": 9}, {"idKorban": 12}]},
                    "layanansByIdKasus": {"nodes": [{"tglMulai": None}, {"tglMulai": "2026-01-02"}]},
                }
            ],
        }
    }
}


def test_the_same_page_reads_as_equal_and_a_different_one_does_not() -> None:
    assert peer.summarise_hub(HUB) == peer.summarise_postgraphile(PEER)
    other = {"data": {"allKasuses": {**PEER["data"]["allKasuses"], "totalCount": 4}}}
    assert peer.summarise_hub(HUB) != peer.summarise_postgraphile(other)
    moved = {"data": {"allKasuses": {**PEER["data"]["allKasuses"]}}}
    node = dict(PEER["data"]["allKasuses"]["nodes"][0])
    node["korbansByIdKasus"] = {"nodes": [{"idKorban": 9}, {"idKorban": 13}]}
    moved["data"]["allKasuses"]["nodes"] = [node]
    assert peer.summarise_hub(HUB) != peer.summarise_postgraphile(moved)


def test_a_victim_id_of_another_source_or_part_is_refused() -> None:
    assert peer._record_key(_gid("simfoni:person:korban/39969")) == "39969"
    for wrong in ("polri:person:korban/1", "simfoni:person:pelaku/1", "simfoni:case:korban/1"):
        try:
            peer._record_key(_gid(wrong))
        except ValueError:
            continue
        raise AssertionError(f"{wrong} was accepted")


def test_cpu_per_page_and_percentiles_come_from_the_segment() -> None:
    latencies = [float(i) for i in range(1, 101)]
    segment = peer.Segment("x", 32, 200, 0, 10.0, latencies, server_cpu=2.0, pg_cpu=0.5)
    assert segment.rps == 20.0
    assert segment.server_ms_per_page == 10.0 and segment.pg_ms_per_page == 2.5
    assert segment.percentile(50) == 50.0 and segment.percentile(95) == 95.0


def test_a_rerun_replaces_only_its_own_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Benchmark results\n\n## 1. Other\nkept\n\n## 7a. Analysis\nhand-written\n\n## Linkage\nkept too\n"
    )
    peer.write_section(f"{peer.TITLE}\n{peer.MARKER}\n\nfirst run\n", results)
    peer.write_section(f"{peer.TITLE}\n{peer.MARKER}\n\nsecond run\n", results)
    text = results.read_text()
    assert text.count(peer.TITLE) == 1 and "second run" in text and "first run" not in text
    assert "## 1. Other\nkept" in text and "hand-written" in text and "## Linkage\nkept too" in text
    assert text.index(peer.TITLE) < text.index("## Linkage")


def test_the_hub_config_path_is_absolute_for_a_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub is started in its config's folder: a relative ``--data-dir`` (``bench/data``)
    must not reach it as a relative path, or the hub cannot find its config and exits."""
    monkeypatch.chdir(tmp_path)
    path = peer.write_hub_config(Path("bench") / "data" / "peer", "postgresql://u@127.0.0.1:1/db")
    assert path.is_absolute() and path.is_file()
    assert path == tmp_path / "bench" / "data" / "peer" / "hub.toml"


#: A PostgreSQL log with ``log_statement = all``, as PostGraphile's session writes it: its
#: settings, a multi-line prepared statement, a simple one, and lines that are not statements.
SERVER_LOG = """2026-12-07 13:01:12.600 UTC [2694] LOG:  statement: select set_config('role', $1, true)
2026-12-07 13:01:12.638 UTC [2694] LOG:  execute 3c48dbde: select
\t__kasus__."id_kasus"::text as "0",
\t__kasus__."tgl_lapor" as "2"
\tfrom "simfoni"."kasus" as __kasus__
\torder by __kasus__."tgl_lapor" desc
\tlimit 21;
2026-12-07 13:01:12.639 UTC [2693] LOG:  execute ecc31579: select
\t(count(*))::text as "0"
\tfrom "simfoni"."kasus" as __kasus__;
2026-12-07 13:01:12.700 UTC [2701] LOG:  checkpoint starting: time
2026-12-07 13:01:12.701 UTC [2694] LOG:  statement: SHOW server_version
"""


def test_the_statements_of_a_page_are_read_back_from_the_server_log() -> None:
    from bench import statement_cpu

    found = statement_cpu.statements_in_log(SERVER_LOG)
    assert found == [
        'select\n__kasus__."id_kasus"::text as "0",\n__kasus__."tgl_lapor" as "2"\n'
        'from "simfoni"."kasus" as __kasus__\norder by __kasus__."tgl_lapor" desc\nlimit 21',
        'select\n(count(*))::text as "0"\nfrom "simfoni"."kasus" as __kasus__',
    ]


def test_backend_cpu_is_user_plus_system_time_of_its_stat_line() -> None:
    from bench import statement_cpu

    # pid (comm, with a space and a parenthesis) state ppid …: utime and stime are the 12th and 13th after it
    line = "4242 (postgres: tppo (x)) S 1 4242 4242 0 -1 4194560 520 0 0 0 1234 56 0 0 20 0 1 0"
    assert statement_cpu.cpu_seconds(line, 100.0) == pytest.approx(12.90)


def _statement_results() -> peer.PeerResults:
    from bench import statement_cpu

    results = peer.PeerResults(
        "t0", "t1", peer.Options(), "0", "0", {}, peer.PageSummary(0, ()), True, "", {},
        kinds={"hub, 1 process": peer.HUB, "PostGraphile 5, 1 process": peer.POSTGRAPHILE},
    )  # fmt: skip
    cpu = statement_cpu.StatementCPU(2000, 5)
    cpu.by_system["hub"] = [("WITH tppo_hub__page AS", 210.0), ("SELECT count(*) AS", 380.0)]
    cpu.by_system["PostGraphile"] = [
        ('select __kasus__."id_kasus"::text as', 95.0),
        ("select (count(*))::text as", 380.0),
    ]
    results.statements = cpu
    return results


def test_the_page_without_load_is_judged_by_the_sum_of_its_statements() -> None:
    results = _statement_results()
    assert results.statements is not None
    assert results.statements.total("hub") == 590.0 and results.statements.total("PostGraphile") == 475.0
    lines = "\n".join(peer._statement_lines(results))
    assert "| hub | **the page** | **590 µs** |" in lines
    assert "counting its total (the first page after a write): **1.24×** ❌" in lines  # 590 / 475
    assert "total reused" not in lines  # not measured
    results.statements.by_system["hub"][0] = ("WITH tppo_hub__page AS", 170.0)
    results.statements.by_system[peer.REUSED] = [("WITH tppo_hub__page AS", 215.0)]
    lines = "\n".join(peer._statement_lines(results))
    assert "counting its total (the first page after a write): **1.16×** ✅" in lines  # 550 / 475
    assert "its total reused (nothing written in between): **0.45×** ✅" in lines  # 215 / 475


def test_without_per_statement_figures_the_section_says_why() -> None:
    results = _statement_results()
    results.statements, results.statements_error = None, "RuntimeError: no statements captured"
    (line,) = peer._statement_lines(results)
    assert "not available (RuntimeError: no statements captured)" in line


def test_a_written_hub_is_judged_against_postgraphile_with_the_same_writer() -> None:
    """The ratios pair each hub variant with the PostGraphile segments that had the same writer
    beside them (the writer's own work is PostgreSQL's CPU in both)."""
    quiet, written = "hub, 1 process", "hub, 1 process, 10 commits/s"
    peer_quiet, peer_written = "PostGraphile 5, 1 process", "PostGraphile 5, 1 process, 10 commits/s"
    kinds = dict.fromkeys((quiet, written), peer.HUB)
    kinds |= dict.fromkeys((peer_quiet, peer_written), peer.POSTGRAPHILE)
    results = peer.PeerResults(
        "t0", "t1", peer.Options(), "0", "0", {}, peer.PageSummary(0, ()), True, "", {},
        kinds=kinds,
        writes={quiet: 0.0, written: 10.0, peer_quiet: 0.0, peer_written: 10.0},
        commits={written: 200, peer_written: 200},
    )  # fmt: skip
    # (pages in 10 s, PostgreSQL CPU seconds): PostGraphile 0.5 ms a page quiet, 0.8 written.
    figures = {
        quiet: (8000, 2.0),
        written: (8000, 3.2),
        peer_quiet: (16000, 8.0),
        peer_written: (16000, 12.8),
    }
    for label, (pages, pg_cpu) in figures.items():
        segment = peer.Segment(label, 32, pages, 0, 10.0, [1.0] * 10, 8.0, pg_cpu)
        results.load[label] = [segment]
        results.sequential[label] = [peer.Segment(label, 1, 100, 0, 1.0, [1.0] * 10, 0.1, 0.1)]
    text = peer.render(results)
    assert f"| {quiet} | **0.50×** ✅ | **1.00×** ✅ | 2.00× | **0.50×** ✅ |" in text  # 0.25 / 0.5 ms
    assert f"| {written} | **0.50×** ✅ | **1.00×** ✅ | 2.00× | **0.50×** ✅ |" in text  # 0.4 / 0.8 ms
    assert "Made: hub, 1 process, 10 commits/s: 200 commits" in text
