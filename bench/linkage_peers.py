"""The hub's linkage against Splink, side by side: same records, same pairwise metrics.

Run: ``.venv/bin/python -m bench.linkage --peer splink [--repeat 3]`` (``make bench`` installs
the ``bench`` extra: Splink and duckdb). Three data sets, built once in the parent:

- ``demo`` — the demo world's agency person records (seed 2023, scale 1, about 6.5k);
- ``100k`` — the same generator at about 101k records;
- ``perturbed`` — the demo records perturbed by :mod:`bench.perturb`, a noise model written
  apart from the generator's (nicknames, spelling variants, a NIK digit, missing fields,
  dropped middle names, typos, day/month swaps, name order, combinations; and namesakes).

Each linker runs in a child process of its own, on the pickled records, so that wall time and
peak memory (``ru_maxrss`` of the child: Python, the records and the linker) are the linker's
alone; the runs alternate and the medians are reported. Quality is pairwise precision, recall
and F1 against the truth labels (:func:`hub.linkage.quality.pair_quality`), and, on the
perturbed set, recall per noise class: the share of true pairs with a perturbed record that
the linker put together; for namesakes, the false pairs they were put in.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.perturb import CLASSES, perturb
from hub.linkage.quality import PairQuality, pair_quality

LINKERS = ("hub", "splink")


@dataclass(slots=True)
class DataSet:
    name: str
    path: Path
    records: int
    labels: list[str]
    classes: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    """One linker on one data set (medians over the repeats)."""

    linker: str
    data: str
    quality: PairQuality
    seconds: float
    peak_mb: float
    base_mb: float
    per_class: dict[str, tuple[int, int]]  # class → (pairs found, true pairs); namesake: false pairs
    note: str = ""
    all_seconds: list[float] = field(default_factory=list)
    all_peaks: list[float] = field(default_factory=list)
    #: 1-minute load average when each run started (the machine is shared)
    loads: list[float] = field(default_factory=list)

    @property
    def added_mb(self) -> float:
        """What the linker added to the loaded records, at its peak (median)."""
        return self.peak_mb - self.base_mb


# --- the child ----------------------------------------------------------------------------------


def _link_hub(records: list, labels: Sequence[str]) -> tuple[list[int], str]:
    from hub.linkage.engine import available_workers, bulk_work, link
    from hub.linkage.features import link_record

    with bulk_work():
        features = [link_record(i, r) for i, r in enumerate(records)]
    result = link(features, workers=available_workers())  # as the job links (one below 300k records)
    out = [0] * len(features)
    for n, group in enumerate(result.groups):
        for i in group:
            out[i] = n
    return (
        out,
        f"{result.candidate_pairs:,} candidate pairs, {len(result.possible):,} pairs queued for review",
    )


def _link_splink(records: list, labels: Sequence[str]) -> tuple[list[int], str]:
    from bench import splink_peer

    out, _seconds, threshold = splink_peer.run(records, labels)
    return out, f"match weight threshold {threshold:g} (best F1 on a labelled half)"


def _memory_kb(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in kB.

    Not ``ru_maxrss``: on Linux it keeps the high-water mark of the forking parent across
    ``exec``, so every child would report at least the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def child(linker: str, source: Path, target: Path) -> None:
    """Load the records, link them, write labels, seconds and memory to ``target``."""
    with source.open("rb") as handle:
        records, labels = pickle.load(handle)
    gc.collect()
    base = _memory_kb("VmRSS")
    started = time.perf_counter()
    out, note = (_link_hub if linker == "hub" else _link_splink)(records, labels)
    seconds = time.perf_counter() - started
    peak = _memory_kb("VmHWM")
    target.write_text(
        json.dumps({"labels": out, "seconds": seconds, "peak_kb": peak, "base_kb": base, "note": note})
    )


# --- the parent ---------------------------------------------------------------------------------


def build(workdir: Path, seed: int, sizes: dict[str, int]) -> list[DataSet]:
    """The data sets, pickled in ``workdir`` (records and labels)."""
    from bench.linkage import RECORDS_PER_SCALE, _records

    sets = []
    demo: tuple[list, list[str]] | None = None
    for name, target in sizes.items():
        records, labels = _records(seed, round(target / RECORDS_PER_SCALE, 3))
        if name == "demo":
            demo = (records, labels)
        sets.append(_save(workdir, name, records, labels))
    if demo is not None:
        noisy = perturb(*demo, seed=seed)
        sets.append(_save(workdir, "perturbed", noisy.records, noisy.labels, noisy.classes))
    return sets


def _save(
    workdir: Path, name: str, records: list, labels: list[str], classes: dict[int, str] | None = None
) -> DataSet:
    path = workdir / f"{name}.pickle"
    with path.open("wb") as handle:
        pickle.dump((records, labels), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return DataSet(name, path, len(records), list(labels), dict(classes or {}))


def per_class(data: DataSet, predicted: Sequence[int]) -> dict[str, tuple[int, int]]:
    """Recall per noise class (pairs found, true pairs); namesakes: (false pairs, namesakes)."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(data.labels):
        members[label].append(i)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i, cluster in enumerate(predicted):
        clusters[cluster].append(i)
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for i, kind in data.classes.items():
        if kind == "namesake":
            total[kind] += 1
            found[kind] += sum(1 for j in clusters[predicted[i]] if j != i)
            continue
        for j in members[data.labels[i]]:
            if j != i:
                total[kind] += 1
                found[kind] += predicted[i] == predicted[j]
    return {kind: (found[kind], total[kind]) for kind in total}


def spread(values: Sequence[float], digits: int = 1) -> str:
    """``p25–p75`` of repeated measurements (both the value itself for one run)."""
    if len(values) < 2:
        return "—"
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{q1:.{digits}f}–{q3:.{digits}f}"


def run_once(linker: str, data: DataSet, workdir: Path) -> tuple[list[int], float, float, float, str]:
    target = workdir / f"{data.name}-{linker}.json"
    subprocess.run(
        [sys.executable, "-m", "bench.linkage_peers", linker, str(data.path), str(target)], check=True
    )
    out = json.loads(target.read_text())
    return out["labels"], out["seconds"], out["peak_kb"] / 1024, out["base_kb"] / 1024, out["note"]


def compare(
    data_sets: Sequence[DataSet], workdir: Path, repeat: int, linkers: Sequence[str] = LINKERS
) -> list[Run]:
    """Every linker on every data set, ``repeat`` times in alternation; medians."""
    runs = []
    for data in data_sets:
        seen: dict[str, list[tuple[list[int], float, float, float, str]]] = defaultdict(list)
        loads: dict[str, list[float]] = defaultdict(list)
        for _ in range(repeat):
            for linker in linkers:
                loads[linker].append(os.getloadavg()[0])
                seen[linker].append(run_once(linker, data, workdir))
                print(f"  {data.name} {linker}: {seen[linker][-1][1]:.1f} s", file=sys.stderr)
        for linker in linkers:
            results = seen[linker]
            labels = results[0][0]
            quality = pair_quality(dict(enumerate(labels)), dict(enumerate(data.labels)))
            runs.append(
                Run(
                    linker=linker,
                    data=data.name,
                    quality=quality,
                    seconds=statistics.median(r[1] for r in results),
                    peak_mb=statistics.median(r[2] for r in results),
                    base_mb=statistics.median(r[3] for r in results),
                    per_class=per_class(data, labels) if data.classes else {},
                    note=results[0][4],
                    all_seconds=[r[1] for r in results],
                    all_peaks=[r[2] for r in results],
                    loads=loads[linker],
                )
            )
    return runs


def section(runs: Sequence[Run], data_sets: Sequence[DataSet], repeat: int, machine: str) -> str:
    by = {(r.data, r.linker): r for r in runs}
    lines = [
        "## Linkage against Splink",
        "",
        f"{machine}; `python -m bench.linkage --peer splink --repeat {repeat}` (bench/linkage_peers.py, "
        "bench/splink_peer.py, bench/perturb.py). Each linker runs in its own child process on the same "
        "pickled `PersonRecord`s; time is the linkage (features, blocking, scoring, clustering — for Splink "
        "training, prediction and clustering), memory the child's peak RSS (Python and the records "
        "included; 'records' is the RSS once they are loaded, 'added' the peak above it). Medians of "
        "the runs, p25–p75 beside them; the load average (1 minute) at the start of each run is listed "
        "under the table. Quality is pairwise against the truth labels. **Targets (issue 14): F1 ≥ "
        "Splink's + 0.02, precision ≥ 0.995, time "
        "and memory ≤ ⅓ of Splink's.**",
        "",
        "| data | records | linker | precision | recall | F1 | F1 − Splink | time s (median) | p25–p75 "
        "| × Splink | peak MB (median) | p25–p75 | records MB | added MB | × Splink (peak) | ✓ |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | --- |",
    ]
    for data in data_sets:
        peer = by.get((data.name, "splink"))
        for linker in LINKERS:
            run = by.get((data.name, linker))
            if run is None:
                continue
            q = run.quality
            measured = (
                f"{run.seconds:.1f} | {spread(run.all_seconds)} | {{ratio_t}} | {run.peak_mb:.0f} | "
                f"{spread(run.all_peaks, 0)} | {run.base_mb:.0f} | {run.added_mb:.0f} | {{ratio_m}} |"
            )
            if linker == "hub" and peer is not None:
                gain = q.f1 - peer.quality.f1
                time_ratio = run.seconds / peer.seconds
                mem_ratio = run.peak_mb / peer.peak_mb
                ok = gain >= 0.02 and q.precision >= 0.995 and time_ratio <= 1 / 3 and mem_ratio <= 1 / 3
                extra = (
                    f"{gain:+.4f} | "
                    + measured.format(ratio_t=f"{time_ratio:.2f}", ratio_m=f"{mem_ratio:.2f}")
                    + f" {'✅' if ok else '❌'} |"
                )
            else:
                extra = "— | " + measured.format(ratio_t="—", ratio_m="—") + " |"
            lines.append(
                f"| {data.name} | {data.records:,} | {linker} | {q.precision:.4f} | {q.recall:.4f} "
                f"| {q.f1:.4f} | {extra}"
            )
    lines += [
        "",
        "Runs: "
        + "; ".join(
            f"{r.data} {r.linker} {', '.join(f'{s:.1f}' for s in r.all_seconds)} s, "
            f"{', '.join(f'{m:.0f}' for m in r.all_peaks)} MB, load {', '.join(f'{x:.1f}' for x in r.loads)} "
            f"({r.note})"
            for r in runs
        ),
        "",
    ]
    noisy = [d for d in data_sets if d.classes]
    if noisy:
        data = noisy[0]
        counts = Counter(data.classes.values())
        lines += [
            "Recall per noise class on the perturbed set (bench/perturb.py; in brackets the true pairs "
            "with a record of that class). Namesakes: false pairs they were put in (0 is right).",
            "",
            "| class | records | true pairs | " + " | ".join(LINKERS) + " |",
            "| --- | ---: | ---: | " + " | ".join("---:" for _ in LINKERS) + " |",
        ]
        for kind in (*CLASSES, "namesake"):
            cells = []
            total = 0
            for linker in LINKERS:
                run = by.get((data.name, linker))
                if run is None or kind not in run.per_class:
                    cells.append("—")
                    continue
                found, total = run.per_class[kind]
                cells.append(f"{found}" if kind == "namesake" else f"{found / total:.3f}" if total else "—")
            pairs = "—" if kind == "namesake" else f"{total}"
            lines.append(f"| {kind} | {counts.get(kind, 0)} | {pairs} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(seed: int, repeat: int, sizes: dict[str, int], machine: str) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-linkage-") as tmp:
        workdir = Path(tmp)
        data_sets = build(workdir, seed, sizes)
        runs = compare(data_sets, workdir, repeat)
        return section(runs, data_sets, repeat, machine)


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
