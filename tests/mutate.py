"""Mutation testing of the modules that decide correctness and safety (``make mutate``).

Each module is mutated by mutmut (https://mutmut.readthedocs.io) against a targeted test
selection — the tests that exist to pin that module down — so one module finishes in minutes
on a small shared machine. mutmut runs in a scratch copy of the working tree under
``.mutation/<module>/``; the tree itself is never modified.

A mutant that no test can kill because it does not change behaviour (``False`` → ``None`` where
only truth is tested, a redundant reset) is *equivalent*: it is listed in
``tests/mutation_equivalents.toml`` with a one-line reason, matched by module and by the line
before and after the mutation. The score of a module is killed / (mutants − equivalent); the
target is 85 %. Results accumulate in ``docs/mutation.json`` (so one module can be rerun alone)
and are rendered to ``docs/mutation.md``, each module with the date it last ran.

Usage: ``python -m tests.mutate [MODULE ...] [--jobs N]``; with no module, all of them. A large
module can be run in parts and its survivors rerun after new tests (``--resume``, ``--only``,
``--survivors``): mutmut keeps each verdict while the mutated function is unchanged, and the
report counts every mutant of the module, those not run yet shown apart.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
RESULTS = ROOT / "docs" / "mutation.json"
REPORT = ROOT / "docs" / "mutation.md"
TARGET = 0.85


@dataclass(frozen=True)
class Target:
    """A module under mutation and the tests that pin it down."""

    name: str
    path: str
    tests: tuple[str, ...]
    why: str


TARGETS = [
    Target("breaker", "hub/engine/breaker.py", ("tests/test_breaker.py",), "circuit breaker per source"),
    Target(
        "audit",
        "hub/access/audit.py",
        # The bare-store chain tests: test_audit.py and test_audit_forgery.py check the same
        # chain through GraphQL but build a demo world per mutant.
        ("tests/test_audit_chain.py",),
        "tamper-evident audit chain",
    ),
    Target(
        "ids",
        "hub/engine/ids.py",
        ("tests/test_ids.py",),
        "global ids and cursors",
    ),
    Target(
        "federation",
        "hub/engine/federation.py",
        # A small world of its own (seconds); tests/test_pagination.py and test_paging_edges.py
        # check the same through GraphQL on the full demo world, a minute each per mutant.
        ("tests/test_federation_engine.py",),
        "fan-out, merge and paging",
    ),
    Target(
        "policy",
        "hub/access/policy.py",
        ("tests/test_policy_rules.py", "tests/test_policy.py"),
        "the one policy point",
    ),
    Target(
        "suppression",
        "hub/access/suppression.py",
        ("tests/test_suppression_exact.py", "tests/test_suppression.py"),
        "disclosure control of statistics",
    ),
    Target(
        "querysets",
        "hub/access/querysets.py",
        ("tests/test_querysets_engine.py",),
        "query-set restriction of statistics filters",
    ),
    Target(
        "cellkey",
        "hub/access/cellkey.py",
        ("tests/test_cellkey.py",),
        "cell-key perturbation of published counts",
    ),
    Target(
        "compiler",
        "adapters/compiler.py",
        # One small database using every field form (seconds); the demo-world tests compile
        # the shipped mappings too, but build a world per mutant.
        ("tests/test_compiler.py",),
        "the mapping compiler: a mapping and its tables to one SQL value per field",
    ),
    Target(
        "filters",
        "adapters/filters.py",
        # test_compiler.py: victims in several person tables, one without sex or age, and a
        # source without person tables (not in the demo world).
        ("tests/test_filters_engine.py", "tests/test_compiler.py"),
        "case filters and keyset positions in the source's SQL",
    ),
    Target(
        "keyset",
        "adapters/keyset.py",
        # test_keyset_sql.py: undated rows, explicit NULLS and DATE columns (not in the demo world).
        ("tests/test_keyset_sql.py", "tests/test_filters_engine.py"),
        "the case page's order and resume position in the source's SQL",
    ),
    Target(
        "sqldates",
        "adapters/sqldates.py",
        # test_date_sql.py: the PostgreSQL numeric patterns read as they are or trimmed.
        ("tests/test_sql_dates.py", "tests/test_date_sql.py"),
        "dates parsed in the source's SQL",
    ),
    Target(
        "values",
        "adapters/values.py",
        # test_compiler.py: the values inside whole statements (region keys, split cells, NIKs).
        ("tests/test_sql_values.py", "tests/test_compiler.py"),
        "the SQL value layer of mapped fields",
    ),
    Target(
        "scoring",
        "hub/linkage/scoring.py",
        # test_linkage_floor.py: compare's floor and vetoed() against the full comparison of
        # every candidate pair of a perturbed demo world (seconds).
        ("tests/test_linkage_scoring.py", "tests/test_linkage_compare.py", "tests/test_linkage_floor.py"),
        "linkage pair scoring",
    ),
    Target(
        "cluster",
        "hub/linkage/cluster.py",
        # The hand-made records only: the demo-world tests run a whole linkage per mutant.
        ("tests/test_linkage_cluster.py", "tests/test_linkage_rules.py", "-k", "not demo"),
        "linkage clustering",
    ),
]
BY_NAME = {t.name: t for t in TARGETS}

#: mutmut exit codes (mutmut/stats.py) counted as a kill.
KILLED = {1, 3, 24, -24, 36, 37, 152, 255}


@dataclass
class Survivor:
    mutant: str
    function: str
    before: str
    after: str
    equivalent: str | None = None  # the reason, when listed as equivalent


@dataclass
class ModuleResult:
    name: str
    path: str
    tests: list[str]
    ran_at: str
    seconds: float
    mutants: int
    killed: int
    survivors: list[Survivor] = field(default_factory=list)
    #: Mutants the run did not get to (stopped early): left out of the score, and said so.
    unchecked: int = 0

    @property
    def equivalent(self) -> int:
        return sum(1 for s in self.survivors if s.equivalent)

    @property
    def score(self) -> float:
        relevant = self.mutants - self.equivalent
        return self.killed / relevant if relevant else 1.0


def _copy_tree(destination: Path, resume: bool = False) -> None:
    """Tracked and untracked (not ignored) files of the working tree, as they are now.

    With ``resume`` the copy is refreshed in place and mutmut's ``mutants/`` kept: mutmut then
    keeps the verdict of every mutant whose function is unchanged (it hashes each function) and
    runs only the mutants it has no verdict for, so a large module can be run in parts.
    """
    if destination.exists() and not resume:
        shutil.rmtree(destination)
    elif destination.exists():
        # mutmut never refreshes a file it already copied into mutants/: drop the copies (a
        # merge may have changed any of them), keep its state (verdicts, function hashes, stats).
        for stale in (destination / "mutants").rglob("*"):
            if stale.is_file() and not stale.name.endswith((".meta", ".spans", "mutmut-stats.json")):
                stale.unlink()
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _configure(work: Path, target: Target) -> None:
    """Append mutmut's settings for this module to the copy's pyproject.toml."""
    copied = sorted(
        {p.split("/", 1)[0] for p in ("tests/", "bench/", "docs/", "examples/")}
        | {p.name for p in work.iterdir() if p.is_file()}
    )
    settings = {
        "source_paths": ["hub", "adapters", "resolvers"],
        "only_mutate": [target.path],
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x"],
        "also_copy": copied,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    with (work / "pyproject.toml").open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def _function(mutant: str, module: str) -> str:
    """``hub.x.xǁClassǁmethod__mutmut_3`` → ``Class.method``; ``hub.x.x_func__mutmut_1`` → ``func``."""
    tail = mutant[len(module) + 1 :].rsplit("__mutmut_", 1)[0]
    if tail.startswith("xǁ"):
        return ".".join(tail[2:].split("ǁ"))
    return tail[2:] if tail.startswith("x_") else tail


#: Prints mutmut's diff of each mutant named on stdin (what ``mutmut show`` prints), as JSON:
#: one process for all survivors instead of one ``mutmut show`` each (seconds apiece).
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = json.load(sys.stdin)
print(json.dumps({name: get_diff_for_mutant(name, path=path) for name in names}))
"""


def _diffs(work: Path, path: str, mutants: list[str]) -> dict[str, tuple[str, str]]:
    """The mutated lines of each mutant, before and after (several lines joined by `` / ``)."""
    if not mutants:
        return {}
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=work,
        env=env,
        input=json.dumps([path, mutants]),
        check=True,
        text=True,
        capture_output=True,
    )
    out = {}
    for mutant, shown in json.loads(result.stdout).items():
        lines = shown.splitlines()
        before = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
        after = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
        out[mutant] = (" / ".join(before), " / ".join(after))
    return out


def _mutmut(work: Path, args: list[str], capture: bool = False) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # the exploratory hypothesis profile is fine; mutants need not be derandomized
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=work,
        env=env,
        check=False,
        text=True,
        capture_output=capture,
    )
    if result.returncode not in (0, 1) and not capture:
        raise SystemExit(f"mutmut {' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout if capture else ""


def load_equivalents() -> list[dict[str, str]]:
    return tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8")).get("equivalent", [])


def _equivalent_reason(path: str, survivor: Survivor, listed: list[dict[str, str]]) -> str | None:
    for item in listed:
        if (
            item["module"] == path
            and item.get("function", survivor.function) == survivor.function
            and _norm(item["before"]) == _norm(survivor.before)
            and _norm(item["after"]) == _norm(survivor.after)
        ):
            return item["reason"]
    return None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _meta(work: Path, target: Target) -> dict:
    return json.loads((work / "mutants" / (target.path + ".meta")).read_text(encoding="utf-8"))


def run_module(
    target: Target,
    jobs: int,
    collect_only: bool = False,
    resume: bool = False,
    only: tuple[str, ...] = (),
    survivors: bool = False,
) -> ModuleResult:
    """Mutate one module in a scratch copy and collect its outcome (or only collect the last run's).

    ``only`` restricts this run to functions (mutmut name patterns such as ``x_expand*``);
    ``survivors`` reruns the mutants the last run did not kill (after new tests), and runs those
    it did not get to. Both imply
    ``resume``, so the verdicts of the other mutants are kept and the report counts them all.
    """
    work = WORK / target.name
    started = time.perf_counter()
    module = target.path.removesuffix(".py").replace("/", ".")
    if not collect_only:
        resume = resume or bool(only) or survivors
        names: list[str] = [f"{module}.{pattern}" for pattern in only]
        if survivors:
            names += [
                name
                for name, code in _meta(work, target)["exit_code_by_key"].items()
                if code not in KILLED  # not killed, or not run yet
            ]
            if not names:
                print(f"== {target.name}: no survivors to rerun", flush=True)
        _copy_tree(work, resume=resume)
        _configure(work, target)
        print(f"== {target.name}: mutating {target.path} against {' '.join(target.tests)}", flush=True)
        if names or not survivors:
            _mutmut(work, ["run", "--max-children", str(jobs), *names])
    meta = _meta(work, target)
    every: dict[str, int | None] = meta["exit_code_by_key"]
    codes = {name: code for name, code in every.items() if code is not None}
    listed = load_equivalents()
    result = ModuleResult(
        name=target.name,
        path=target.path,
        tests=list(target.tests),
        ran_at=datetime.fromtimestamp(
            (work / "mutants" / (target.path + ".meta")).stat().st_mtime, UTC
        ).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=0.0,
        mutants=len(codes),
        killed=sum(1 for code in codes.values() if code in KILLED),
        unchecked=len(every) - len(codes),
    )
    surviving = [
        m for m, code in sorted(codes.items(), key=lambda kv: _mutant_order(kv[0])) if code not in KILLED
    ]
    diffs = _diffs(work, target.path, surviving)
    for mutant in surviving:
        before, after = diffs[mutant]
        survivor = Survivor(mutant, _function(mutant, module), before, after)
        survivor.equivalent = _equivalent_reason(target.path, survivor, listed)
        result.survivors.append(survivor)
    result.seconds = round(time.perf_counter() - started, 1)
    print(
        f"   {result.killed} of {result.mutants} killed, {result.equivalent} equivalent: "
        f"{result.score:.1%} in {result.seconds:.0f} s",
        flush=True,
    )
    return result


def _mutant_order(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def _load_results() -> dict[str, dict]:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text(encoding="utf-8"))
    return {}


def _as_result(data: dict) -> ModuleResult:
    survivors = [Survivor(**s) for s in data.pop("survivors", [])]
    return ModuleResult(**data, survivors=survivors)


def render(results: dict[str, ModuleResult]) -> str:
    lines = [
        "# Mutation testing",
        "",
        "Generated by `make mutate` (`python -m tests.mutate`); do not edit by hand. Each module is",
        "mutated by [mutmut](https://mutmut.readthedocs.io) against the tests named beside it, in a",
        "scratch copy of the tree. Score = killed / (mutants − equivalent); target ≥ 85 % per module.",
        "Equivalent mutants (no behaviour change) are listed in `tests/mutation_equivalents.toml`",
        "with the reason, and below. A module can be run in parts and its survivors rerun after new",
        'tests (`python -m tests.mutate MODULE --only PATTERN…` / `--survivors`); a count "of N: M not',
        'run yet" says a run did not reach every mutant (those are left out of the score).',
        "",
        "| module | what it decides | mutants | killed | equivalent | not killed | score | last ran "
        "| tests |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for target in TARGETS:
        r = results.get(target.name)
        if r is None:
            lines.append(f"| `{target.path}` | {target.why} | – | – | – | – | not run yet | – | – |")
            continue
        missed = len(r.survivors) - r.equivalent
        mark = "" if r.score >= TARGET else " ⚠"
        tests = f"`{' '.join(t.removeprefix('tests/') for t in r.tests)}`"
        lines.append(
            f"| `{r.path}` | {target.why} | {r.mutants}"
            + (f" (of {r.mutants + r.unchecked}: {r.unchecked} not run yet)" if r.unchecked else "")
            + f" | {r.killed} | {r.equivalent} | {missed} | "
            f"{r.score:.1%}{mark} | {r.ran_at} | {tests} |"
        )
    for heading, equivalent in (("Equivalent mutants", True), ("Mutants not killed", False)):
        lines += ["", f"## {heading}", ""]
        rows = [
            (r, s)
            for t in TARGETS
            if (r := results.get(t.name)) is not None
            for s in r.survivors
            if bool(s.equivalent) is equivalent
        ]
        if not rows:
            lines.append("None.")
            continue
        lines += (
            [
                "| module | function | before | after | why it is equivalent |",
                "| --- | --- | --- | --- | --- |",
            ]
            if equivalent
            else ["| module | function | before | after |", "| --- | --- | --- | --- |"]
        )
        for r, s in rows:
            cells = [f"`{r.path}`", f"`{s.function}`", _code(s.before), _code(s.after)]
            if equivalent:
                cells.append(s.equivalent or "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if text else "(removed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(BY_NAME))
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument(
        "--collect",
        action="store_true",
        help="only re-read the last run of each module and rewrite the report",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the verdicts of the last run of unchanged functions and run only the mutants without one",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="run only these functions (mutmut name patterns, e.g. 'x_expand*'); implies --resume",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="rerun the mutants the last run did not kill (after adding tests) and those it did not "
        "get to; implies --resume",
    )
    args = parser.parse_args(argv)
    names = args.modules or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {', '.join(BY_NAME)}")
    for name in names:
        result = run_module(
            BY_NAME[name],
            args.jobs,
            collect_only=args.collect,
            resume=args.resume,
            only=tuple(args.only),
            survivors=args.survivors,
        )
        # Re-read before writing: another module may have finished meanwhile (runs in parallel).
        stored = {n: _as_result(data) for n, data in _load_results().items() if n in BY_NAME}
        stored[name] = result
        RESULTS.write_text(
            json.dumps({n: {**asdict(r)} for n, r in stored.items()}, indent=1, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        REPORT.write_text(render(stored), encoding="utf-8")
    stored = {n: _as_result(data) for n, data in _load_results().items() if n in BY_NAME}
    below = [n for n in names if n in stored and stored[n].score < TARGET]
    print(
        f"wrote {REPORT.relative_to(ROOT)}" + (f"; below {TARGET:.0%}: {', '.join(below)}" if below else "")
    )
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
