"""The linkage pipeline in memory: block, score, cluster — then link through linked cases.

:func:`link` is what the job runs once it has read every record; the benchmark runs it on
generated records directly. It is pure CPU work on :class:`LinkRecord` lists and knows
nothing of sources, stores or logs.

Two passes:

1. Pairs from :mod:`hub.linkage.blocking` are scored (:mod:`hub.linkage.scoring`) and the
   links clustered, strongest first (:mod:`hub.linkage.cluster`).
2. Collective pass: two cases of different agencies that now share a person are very likely
   the same affair, so their other participants (suspects, witnesses — who often carry no NIK
   or birth date) are compared within that pair of cases only, and linked on a close name
   (:data:`CASE_NAME_SIMILARITY`) when no other field speaks against it
   (:data:`CASE_MIN_SCORE`). The candidates are tiny (a few people per case), so this adds
   recall for almost no cost and little risk.

The blocking and the comparisons of both passes may be shared by forked processes
(``workers``, big runs of the command-line job only, :class:`_Workers`); clustering stays in
one process, so the result is the same.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import TypeVar

from hub.linkage.blocking import PASSES, Ints, KeyShards, iter_pairs, shard_keys, shard_pairs, unique_pairs
from hub.linkage.cluster import Clusterer
from hub.linkage.features import LinkRecord, forget_names
from hub.linkage.scoring import (
    LINK_THRESHOLD,
    REVIEW_THRESHOLD,
    NameFrequencies,
    compare,
    name_agreement,
    vetoed,
)

#: Name similarity that links two participants of two linked cases.
CASE_NAME_SIMILARITY = 88.0
#: Least pair score (no other evidence against: a birth date or passport conflict) in linked cases.
CASE_MIN_SCORE = 3.0
#: Cases with more participants than this are not used by the collective pass.
MAX_CASE_PARTICIPANTS = 30

#: Runs with fewer records score in one process whatever ``workers`` says: below this, forking
#: and sending the links back cost more than they save, and each process holds its own copy
#: of the memory pages it touches (the memory of a 100k run stays that of one process).
PARALLEL_MIN_RECORDS = 300_000

#: Most processes a run scores in: each forked process copies the memory pages it touches.
MAX_WORKERS = 4


def available_workers() -> int:
    """Processes the command-line job scores in: the cores it may use, at most :data:`MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


#: (stage, done, total or None when the total is not known in advance: pairs are streamed)
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class PossibleLink:
    """A pair in the uncertain band, left apart and offered for clerical review."""

    left: int  # record position (left < right)
    right: int
    score: float
    rule: str


@dataclass(slots=True)
class Linkage:
    """The result of one run: clusters of record positions, and why each record joined."""

    groups: list[list[int]]
    #: record position → (score, rule) of the best link that brought it into its cluster.
    evidence: dict[int, tuple[float, str]] = field(default_factory=dict)
    candidate_pairs: int = 0
    links: int = 0
    refused: int = 0
    #: the best uncertain pair between each two clusters that stayed apart (for review)
    possible: list[PossibleLink] = field(default_factory=list)


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """Pause the cyclic garbage collector during bulk object creation.

    A run makes millions of small objects (features, pairs, clusters) that never form
    cycles; with the collector on, its full passes rescan all of them again and again and the
    run grows far worse than linearly. Reference counting still frees memory as usual. On the
    way out they join the oldest generation, which only a full pass visits.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                # What was made here lives long: straight to the oldest generation, unscanned.
                # Re-enabled as it was, the next young pass would walk every one of them
                # (half a second per 300,000 records). Not where something else froze objects
                # (the server, ``hub.server.heap``): unfreezing would release those too.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def link(
    records: Sequence[LinkRecord],
    *,
    existing: Iterable[Sequence[int]] = (),
    only: Iterable[int] | None = None,
    progress: Progress | None = None,
    confirmed: Iterable[tuple[int, int]] = (),
    rejected: Iterable[tuple[int, int]] = (),
    workers: int = 1,
) -> Linkage:
    """Cluster ``records`` (positions must equal ``record.ref``).

    ``existing`` seeds the clusters of an incremental run (locked: never merged with each
    other); ``only`` restricts comparisons to pairs that involve those positions.
    ``confirmed`` and ``rejected`` are reviewers' decisions on pairs of positions: confirmed
    pairs are merged before anything else, rejected pairs never end up in one cluster, and
    neither is offered for review again.
    ``workers`` > 1 blocks and scores in that many processes (forked: the command-line
    job only) when the run has at least :data:`PARALLEL_MIN_RECORDS` records; the result is
    the same as with one.
    """
    with bulk_work():
        return _link(records, existing, only, progress, list(confirmed), list(rejected), workers)


def _link(
    records: Sequence[LinkRecord],
    existing: Iterable[Sequence[int]],
    only: Iterable[int] | None,
    progress: Progress | None,
    confirmed: list[tuple[int, int]],
    rejected: list[tuple[int, int]],
    workers: int,
) -> Linkage:
    # The features are built: the name cache of reading (tens of thousands of entries at
    # 100k records) is no longer needed, and its memory serves the blocks instead.
    forget_names()
    only_set = set(only) if only is not None else None
    names = NameFrequencies(r.name.tokens for r in records)
    names.set_records(len(records))
    if workers > 1 and len(records) >= PARALLEL_MIN_RECORDS:
        with _Workers(_Run(records, names, only_set, workers)) as shared:
            return _finish(records, existing, only_set, confirmed, rejected, names, shared, progress)
    return _finish(records, existing, only_set, confirmed, rejected, names, None, progress)


def _finish(
    records: Sequence[LinkRecord],
    existing: Iterable[Sequence[int]],
    only_set: set[int] | None,
    confirmed: list[tuple[int, int]],
    rejected: list[tuple[int, int]],
    names: NameFrequencies,
    workers: _Workers | None,
    progress: Progress | None,
) -> Linkage:
    """Block, score, cluster, linked cases, review queue: shared by ``workers`` if given."""
    if workers is not None:
        scored, uncertain, total = _score_in_processes(workers, progress)
    else:
        # Pairs are streamed from the blocks and scored at once: only the links and the
        # uncertain pairs are kept (a small share of the candidates).
        scored, uncertain, total = _score(records, names, iter_pairs(records, only_set), progress)
    scored.sort(key=_by_score)
    uncertain.sort(key=_by_score)
    # The linked-case pass's cases are numbered by another process while this one clusters.
    cases = workers.later(_cases_share) if workers is not None else None

    clusterer = Clusterer(records, rejected)
    clusterer.seed(existing)
    evidence: dict[int, tuple[float, str]] = {}
    links = 0
    for i, j in confirmed:
        if clusterer.force(i, j):
            links += 1
            _note(evidence, i, 100.0, "CONFIRMED")
            _note(evidence, j, 100.0, "CONFIRMED")
    for score, i, j, rule in scored:
        if clusterer.link(i, j, score):
            links += 1
            _note(evidence, i, score, rule)
            _note(evidence, j, score, rule)

    # The links are clustered: their list goes before the linked-case pass needs memory.
    del scored
    links += _collective_pass(records, clusterer, evidence, only_set, workers, cases)
    decided = {_ordered(i, j) for i, j in (*confirmed, *rejected)}
    possible = _possible(clusterer, uncertain, decided)
    return Linkage(clusterer.groups(), evidence, total, links, clusterer.refused, possible)


Scored = list[tuple[float, int, int, str]]


def _by_score(item: tuple[float, int, int, str]) -> tuple[float, int, int]:
    """Strongest first, then by positions: the order links are clustered in."""
    return -item[0], item[1], item[2]


def _score(
    records: Sequence[LinkRecord],
    names: NameFrequencies,
    pairs: Iterable[tuple[int, int]],
    progress: Progress | None = None,
) -> tuple[Scored, Scored, int]:
    """The links and the uncertain pairs among ``pairs`` (score, i, j, rule), and how many pairs."""
    scored: Scored = []
    uncertain: Scored = []
    total = 0
    for i, j in pairs:
        total += 1
        # Only links and possible links are kept: a pair that cannot reach review is not
        # compared in full (``floor``; 40 % of the pairs of a million records).
        result = compare(records[i], records[j], names, floor=REVIEW_THRESHOLD)
        if result.score >= LINK_THRESHOLD:
            scored.append((result.score, i, j, result.rule))
        elif result.score >= REVIEW_THRESHOLD:
            uncertain.append((result.score, i, j, result.rule))
        if progress is not None and total % 50_000 == 0:
            progress("scoring", total, None)
    return scored, uncertain, total


Pairs = Iterator[tuple[int, int]]


def _decode(codes: Iterable[int], width: int) -> Pairs:
    for code in codes:
        yield divmod(code, width)  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Run:
    """What the forked processes inherit: the records and what every share of the work needs."""

    records: Sequence[LinkRecord]
    names: NameFrequencies
    only: set[int] | None
    shares: int

    @property
    def width(self) -> int:
        return len(self.records) + 1


#: The run of the processes forked by :class:`_Workers` (set before the fork).
_RUN: _Run | None = None


def _run() -> _Run:
    assert _RUN is not None, "runs only inside _Workers"
    return _RUN


def _keys_share(share: int) -> KeyShards:
    """Blocking, step 1: the keys of this share's stretch of the records, by owner."""
    run = _run()
    size = len(run.records)
    refs = range(size * share // run.shares, size * (share + 1) // run.shares)
    return shard_keys(run.records, refs, run.shares)


def _pairs_share(keys: list[list[tuple[Ints, Ints]]]) -> list[Ints]:
    """Blocking, step 2: the blocks of the hashes this share owns, and their pairs by owner."""
    run = _run()
    return shard_pairs(run.records, keys, run.shares, run.width, run.only)


def _score_share(parts: list[Ints]) -> tuple[Scored, Scored, int]:
    """Scoring: this share's pairs, each once."""
    run = _run()
    scored, uncertain, total = _score(run.records, run.names, _decode(unique_pairs(parts), run.width))
    # Sorted here, in every process: the first then sorts runs already in order (a merge).
    scored.sort(key=_by_score)
    uncertain.sort(key=_by_score)
    return scored, uncertain, total


def _cases_share() -> _Cases:
    """The cases of the run numbered (:class:`_Cases`), for the linked-case pass of the first process."""
    return _Cases(_run().records)


def _proposals_share(codes: array[int]) -> list[tuple[float, int, int]]:
    """The linked-case pass: this share of the participant pairs."""
    run = _run()
    return _linked_case_proposals(run.records, _decode(codes, run.width))


Result = TypeVar("Result")


class _Workers:
    """Processes forked once the features are known, sharing a run's work share by share.

    They inherit the records without copying them through a pipe; what goes through the pipes
    are arrays of integers (key hashes, pairs) and the links each share finds. This process
    takes share 0 itself. Fork only: the job runs in the command-line process (``tppo-hub
    link``), never in the server.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.shares = run.shares

    def __enter__(self) -> _Workers:
        global _RUN
        _RUN = self.run
        self._pool = multiprocessing.get_context("fork").Pool(self.shares - 1)
        return self

    def __exit__(self, *exc: object) -> None:
        global _RUN
        try:
            self._pool.terminate()
            self._pool.join()
        finally:
            _RUN = None

    def later(self, task: Callable[[], Result]) -> AsyncResult[Result]:
        """``task()`` in another process, while this one goes on (``.get()`` waits for it)."""
        return self._pool.apply_async(task)

    def each(self, task: Callable[..., Result], args: Sequence[tuple[object, ...]]) -> list[Result]:
        """``task(*args[k])`` for every share ``k`` (``k`` = 0 here), results by share."""
        pending = [self._pool.apply_async(task, more) for more in args[1:]]
        mine = task(*args[0])
        return [mine, *(result.get() for result in pending)]


def _score_in_processes(workers: _Workers, progress: Progress | None) -> tuple[Scored, Scored, int]:
    """Block and score in every process: exactly the links of :func:`_score` over :func:`iter_pairs`."""
    shares = workers.shares
    keys = workers.each(_keys_share, [(k,) for k in range(shares)])
    if progress is not None:
        progress("blocking", 1, 2)
    by_owner = [[[keys[s][p][o] for s in range(shares)] for p in range(len(PASSES))] for o in range(shares)]
    del keys
    pairs = workers.each(_pairs_share, [(owned,) for owned in by_owner])
    del by_owner
    if progress is not None:
        progress("blocking", 2, 2)
    found = workers.each(_score_share, [([pairs[s][o] for s in range(shares)],) for o in range(shares)])
    del pairs
    scored: Scored = []
    uncertain: Scored = []
    total = 0
    for more_scored, more_uncertain, count in found:
        scored += more_scored
        uncertain += more_uncertain
        total += count
    return scored, uncertain, total


def _ordered(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def _possible(
    clusterer: Clusterer, uncertain: list[tuple[float, int, int, str]], decided: set[tuple[int, int]]
) -> list[PossibleLink]:
    """The best uncertain pair between each two clusters that stayed apart and undecided."""
    best: dict[tuple[int, int], tuple[float, int, int, str]] = {}
    for score, i, j, rule in uncertain:
        ci, cj = clusterer.find(i), clusterer.find(j)
        if ci == cj or _ordered(i, j) in decided or clusterer.kept_apart(ci, cj):
            continue
        slot = _ordered(ci, cj)
        if slot not in best or best[slot][0] < score:
            best[slot] = (score, *_ordered(i, j), rule)
    return [
        PossibleLink(i, j, score, rule)
        for score, i, j, rule in sorted(best.values(), key=lambda x: (-x[0], x[1], x[2]))
    ]


def _note(evidence: dict[int, tuple[float, str]], i: int, score: float, rule: str) -> None:
    if i not in evidence or evidence[i][0] < score:
        evidence[i] = (score, rule)


class _Cases:
    """Every record's case as a small integer, and the members of each case, in flat arrays.

    Integers in arrays, not ``(source, case key)`` tuples in sets and a dict of member lists:
    at 100k records the linked-case pass was the run's memory peak, and most of it was those.
    Members of case ``c`` are ``order[start[c]:start[c + 1]]`` (a counting sort by case).
    """

    def __init__(self, records: Sequence[LinkRecord]) -> None:
        numbers: dict[str, dict[str, int]] = {}
        #: the source of each case number
        self.source: list[str] = []
        self.of = array("i", [-1]) * len(records)
        for record in records:
            if record.case_key is None:
                continue
            table = numbers.get(record.source)
            if table is None:
                table = numbers[record.source] = {}
            number = table.get(record.case_key)
            if number is None:
                number = table[record.case_key] = len(self.source)
                self.source.append(record.source)
            self.of[record.ref] = number
        del numbers
        start = array("i", [0]) * (len(self.source) + 1)
        for number in self.of:
            if number >= 0:
                start[number + 1] += 1
        for c in range(len(self.source)):
            start[c + 1] += start[c]
        order = array("i", [0]) * start[-1]
        fill = start[:-1]
        for ref, number in enumerate(self.of):
            if number >= 0:
                order[fill[number]] = ref
                fill[number] += 1
        self.start, self.order = start, order

    def __len__(self) -> int:
        return len(self.source)

    def members(self, number: int) -> array[int]:
        """Positions of the records of one case, ascending."""
        return self.order[self.start[number] : self.start[number + 1]]


def _linked_case_proposals(records: Sequence[LinkRecord], pairs: Pairs) -> list[tuple[float, int, int]]:
    """The participants of two linked cases that are alike enough to link (score, i, j)."""
    proposals: list[tuple[float, int, int]] = []
    for i, j in pairs:
        # A veto first (a sex conflict: the victims and suspects of two cases), then the
        # name (most participants of two cases differ): the same tests as the full
        # comparison's below, cheapest first.
        if vetoed(records[i], records[j]):
            continue
        name = name_agreement(records[i], records[j])
        if name[1] < CASE_NAME_SIMILARITY:
            continue
        result = compare(records[i], records[j], name=name)
        if result.score < CASE_MIN_SCORE or result.name_similarity < CASE_NAME_SIMILARITY:
            continue
        proposals.append((result.score + 5.0, i, j))
    return proposals


def _collective_pass(
    records: Sequence[LinkRecord],
    clusterer: Clusterer,
    evidence: dict[int, tuple[float, str]],
    only: set[int] | None,
    workers: _Workers | None = None,
    numbered: AsyncResult[_Cases] | None = None,
) -> int:
    cases = numbered.get() if numbered is not None else _Cases(records)
    count, case_of, case_source = len(cases), cases.of, cases.source
    # Pairs of cases (of different sources) that share a linked person, as one integer each.
    case_pairs: set[int] = set()
    for group in clusterer.merged():
        slots = sorted({case_of[i] for i in group if case_of[i] >= 0})
        for x in range(len(slots)):
            for y in range(x + 1, len(slots)):
                if case_source[slots[x]] != case_source[slots[y]]:
                    case_pairs.add(slots[x] * count + slots[y])
    width = len(records) + 1
    candidates = array("q")
    # Each participant's (root, cluster size), once: a record takes part in every case pair
    # of its case, and no cluster changes until the proposals are linked.
    state: dict[int, tuple[int, int]] = {}
    for code in case_pairs:
        a_members, b_members = cases.members(code // count), cases.members(code % count)
        if len(a_members) + len(b_members) > MAX_CASE_PARTICIPANTS:
            continue
        right = []
        for j in b_members:
            known = state.get(j)
            if known is None:
                known = state[j] = clusterer.root_and_size(j)
            right.append((j, *known))
        for i in a_members:
            known = state.get(i)
            if known is None:
                known = state[i] = clusterer.root_and_size(i)
            root_i, size_i = known
            for j, root_j, size_j in right:
                if only is not None and i not in only and j not in only:
                    continue
                # The same person already, or both already with others: never linked below
                # (clusters only grow while proposals are linked), so not compared either.
                if root_i == root_j or (size_i > 1 and size_j > 1):
                    continue
                candidates.append(i * width + j if i < j else j * width + i)
    del case_pairs, cases, state
    if workers is not None:
        shares = workers.shares
        found = workers.each(_proposals_share, [(candidates[k::shares],) for k in range(shares)])
        proposals = [proposal for share in found for proposal in share]
    else:
        proposals = _linked_case_proposals(records, _decode(candidates, width))
    proposals.sort(key=lambda item: (-item[0], item[1], item[2]))
    links = 0
    for score, i, j in proposals:
        # Only records still alone on one side: a linked case explains one missing link,
        # it does not merge two people who are already known.
        if len(clusterer.cluster_of(i)) > 1 and len(clusterer.cluster_of(j)) > 1:
            continue
        if clusterer.link(i, j, min(score, 10.0)):
            links += 1
            _note(evidence, i, score, "NAME_LINKED_CASE")
            _note(evidence, j, score, "NAME_LINKED_CASE")
    return links
