"""The linkage job (``tppo-hub link``): read identifying fields, link, write the index.

It reads every person record of every source through :meth:`adapters.base.Source.scan` (the
adapters' own keyset scan; no SQL here), turns each into in-memory linkage features at once,
runs :func:`hub.linkage.engine.link`, and writes the non-identifying result to the index.

- **Full** run (``--full``, or the first run): every record is re-clustered; each resulting
  cluster keeps the person id most of its records already had, so ids stay stable while the
  same records stay linked. A full run needs every source: if one fails it stops and leaves
  the index as it was.
- **Incremental** run (default): only records not yet in the index are linked — against
  everything — joining an existing person or forming new ones; existing persons are never
  merged or renumbered. Records a source no longer holds are removed from the index. A source
  that fails is skipped and its index rows are kept.

Progress goes to a bar on a terminal and to plain log lines otherwise. Nothing personal is
ever logged: only source names and counts.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from adapters.base import Source
from hub.engine.config import HubConfig
from hub.engine.sources import SourceRegistry
from hub.linkage.engine import Linkage, available_workers, bulk_work, link
from hub.linkage.features import LinkRecord, link_record
from hub.linkage.index import LinkageIndex, RecordRef, encode_roles
from hub.linkage.review import Decided, NewPair, ReviewQueue, ReviewStatus
from hub.linkage.scoring import levels
from hub.storage.store import Store
from hub.vocabulary.model import Entity, PersonRecord

log = logging.getLogger("tppo_hub.linkage")

#: Records read per scan call.
SCAN_BATCH = 2000


class LinkageFailed(RuntimeError):
    """A full run could not read every source; the index was left unchanged."""


@dataclass(slots=True)
class LinkReport:
    """What one run did (counts only: safe to log and print)."""

    mode: str
    records_read: int = 0
    new_records: int = 0
    persons: int = 0
    multi_record_persons: int = 0
    candidate_pairs: int = 0
    links: int = 0
    refused_merges: int = 0
    possible_links: int = 0  # pairs queued for clerical review by this run
    removed: int = 0
    seconds: float = 0.0
    per_source: dict[str, int] = field(default_factory=dict)
    failed_sources: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"linkage ({self.mode}): {self.records_read:,} records read, {self.new_records:,} linked now, "
            f"{self.persons:,} persons ({self.multi_record_persons:,} with several records), "
            f"{self.candidate_pairs:,} candidate pairs, {self.links:,} links, "
            f"{self.refused_merges:,} merges refused, {self.possible_links:,} possible links queued for "
            f"review, {self.removed:,} removed, {self.seconds:.1f} s"
        )


class Progress:
    """A progress bar on a terminal, plain log lines otherwise (counts only)."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, log_summary: bool = True
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        #: Whether the run's summary is logged (the CLI prints it itself, once).
        self.log_summary = log_summary
        self._last_log = 0.0

    def update(self, stage: str, done: int, total: int | None = None) -> None:
        if self.tty:
            if total:
                width = 30
                filled = int(width * min(done, total) / total)
                bar = "#" * filled + "-" * (width - filled)
                text = f"\r{stage:<24} [{bar}] {done:,}/{total:,}"
            else:
                text = f"\r{stage:<24} {done:,}"
            self.stream.write(text)
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_log >= 2.0 or (total is not None and done >= total):
            self._last_log = now
            log.info("%s: %s%s", stage, f"{done:,}", f"/{total:,}" if total else "")

    def done(self, stage: str, message: str) -> None:
        if self.tty:
            self.stream.write(f"\r{stage:<24} {message}\033[K\n")
            self.stream.flush()
        else:
            log.info("%s: %s", stage, message)


class LinkageJob:
    """One run over the sources of a registry, writing to a linkage index."""

    def __init__(
        self, registry: SourceRegistry, index: LinkageIndex, progress: Progress | None = None
    ) -> None:
        self.registry = registry
        self.index = index
        self.progress = progress or Progress()
        self._review = ReviewQueue(index.engine)
        self._decisions: list[Decided] = []
        self._possible: list[NewPair] = []

    async def run(self, *, full: bool = False) -> LinkReport:
        started = time.perf_counter()
        existing = await self.index.assignments()
        self._review = ReviewQueue(self.index.engine)
        self._decisions = await self._review.decisions()
        mode = "full" if full or not existing else "incremental"
        report = LinkReport(mode=mode)
        run_id = await self.index.start_run(mode)
        try:
            records, roles, read_ok = await self._read_all(report)
            if mode == "full" and report.failed_sources:
                raise LinkageFailed(
                    f"full linkage needs every source; failed: {', '.join(report.failed_sources)}"
                )
            if mode == "full":
                rows = self._full(records, roles, existing, report)
                await self.index.write(run_id, rows, replace_sources=read_ok)
                report.possible_links = await self._review.queue(run_id, self._possible, replace_pending=True)
            else:
                rows, stale = self._incremental(records, roles, existing, read_ok, report)
                await self.index.write(run_id, rows, remove=stale)
                report.possible_links = await self._review.queue(
                    run_id, self._possible, replace_pending=False
                )
                report.removed = len(stale)
            # Counted from the index as written, not from this run's groups: an incremental run
            # with nothing new still reports the persons with several records.
            sizes = Counter((await self.index.assignments()).values())
            report.persons = len(sizes)
            report.multi_record_persons = sum(1 for size in sizes.values() if size > 1)
        except BaseException:
            await self.index.finish_run(
                run_id, read=report.records_read, linked=0, persons=0, status="failed"
            )
            raise
        report.seconds = time.perf_counter() - started
        await self.index.finish_run(
            run_id,
            read=report.records_read,
            linked=report.new_records,
            persons=report.persons,
            status="ok",
        )
        if self.progress.log_summary:
            log.info("%s", report.summary())
        return report

    # --- reading ------------------------------------------------------------------------------

    async def _read_all(self, report: LinkReport) -> tuple[list[LinkRecord], list[str], list[str]]:
        records: list[LinkRecord] = []
        roles: list[str] = []
        read_ok: list[str] = []
        for entry in self.registry.all():
            source = entry.source
            if source is None:
                report.failed_sources.append(entry.name)
                log.warning("source %s is down: not read", entry.name)
                continue
            if not source.supports(Entity.PERSON):
                continue
            before = len(records)
            try:
                await self._scan(source, records, roles)
            except Exception as exc:  # a failing source must not leak data or stop others
                del records[before:], roles[before:]
                report.failed_sources.append(entry.name)
                log.warning("source %s failed while scanning (%s)", entry.name, type(exc).__name__)
                continue
            read_ok.append(entry.name)
            report.per_source[entry.name] = len(records) - before
            self.progress.done(f"read {entry.name}", f"{len(records) - before:,} person records")
        report.records_read = len(records)
        return records, roles, read_ok

    async def _scan(self, source: Source, records: list[LinkRecord], roles: list[str]) -> None:
        position: str | None = None
        count = 0
        while True:
            batch, position = await source.scan(Entity.PERSON, position, SCAN_BATCH)
            with bulk_work():
                for record in batch:
                    if isinstance(record, PersonRecord):
                        records.append(link_record(len(records), record))
                        roles.append(encode_roles(record.roles))
            count += len(batch)
            self.progress.update(f"read {source.name}", count)
            if position is None:
                return

    # --- linking ------------------------------------------------------------------------------

    def _link(self, records: list[LinkRecord], **kwargs: object) -> Linkage:
        def tick(stage: str, done: int, total: int | None) -> None:
            self.progress.update(stage, done, total)

        position = {(r.source, r.key): r.ref for r in records}
        confirmed, rejected = [], []
        for decision in self._decisions:
            i, j = position.get(decision.left), position.get(decision.right)
            if i is None or j is None:
                continue
            (confirmed if decision.status is ReviewStatus.CONFIRMED else rejected).append((i, j))
        result = link(
            records,
            progress=tick,
            confirmed=confirmed,
            rejected=rejected,
            workers=available_workers(),  # this is the command-line job: it may fork
            **kwargs,  # type: ignore[arg-type]
        )
        self._possible = [
            NewPair(
                left=(records[p.left].source, records[p.left].key),
                right=(records[p.right].source, records[p.right].key),
                score=p.score,
                rule=p.rule,
                levels=levels(records[p.left], records[p.right]).as_dict(),
            )
            for p in result.possible
        ]
        self.progress.done("link", f"{result.candidate_pairs:,} candidate pairs, {result.links:,} links")
        return result

    def _full(
        self,
        records: list[LinkRecord],
        roles: list[str],
        existing: dict[RecordRef, int],
        report: LinkReport,
    ) -> list[tuple[str, str, int, str, float | None, str]]:
        result = self._link(records)
        report.candidate_pairs, report.links, report.refused_merges = (
            result.candidate_pairs,
            result.links,
            result.refused,
        )
        report.new_records = len(records)
        ids = _stable_ids(result.groups, records, existing)
        return _rows(result, records, roles, ids, range(len(records)))

    def _incremental(
        self,
        records: list[LinkRecord],
        roles: list[str],
        existing: dict[RecordRef, int],
        read_ok: list[str],
        report: LinkReport,
    ) -> tuple[list[tuple[str, str, int, str, float | None, str]], list[RecordRef]]:
        seen = {(r.source, r.key) for r in records}
        ok = set(read_ok)
        stale = [ref for ref in existing if ref[0] in ok and ref not in seen]
        new = [r.ref for r in records if (r.source, r.key) not in existing]
        report.new_records = len(new)
        if not new:
            self.progress.done("link", "no new records")
            return [], stale
        old_groups: dict[int, list[int]] = defaultdict(list)
        for r in records:
            person = existing.get((r.source, r.key))
            if person is not None:
                old_groups[person].append(r.ref)
        result = self._link(records, existing=list(old_groups.values()), only=new)
        report.candidate_pairs, report.links, report.refused_merges = (
            result.candidate_pairs,
            result.links,
            result.refused,
        )
        next_id = max(existing.values(), default=0)
        ids: dict[int, int] = {}
        for n, group in enumerate(result.groups):
            old = {
                existing[(records[i].source, records[i].key)]
                for i in group
                if (records[i].source, records[i].key) in existing
            }
            if old:
                ids[n] = min(old)  # locked clusters never merge: exactly one old id
            else:
                next_id += 1
                ids[n] = next_id
        return _rows(result, records, roles, ids, new), stale


def _stable_ids(
    groups: list[list[int]], records: list[LinkRecord], existing: dict[RecordRef, int]
) -> dict[int, int]:
    """Group number → person id: the old id most of its records had, each old id used once."""
    claims: list[tuple[int, int, int]] = []  # (overlap, group, old id)
    for n, group in enumerate(groups):
        counts = Counter(
            existing[(records[i].source, records[i].key)]
            for i in group
            if (records[i].source, records[i].key) in existing
        )
        for old, overlap in counts.items():
            claims.append((overlap, n, old))
    claims.sort(key=lambda c: (-c[0], c[2], c[1]))
    ids: dict[int, int] = {}
    used: set[int] = set()
    for _, n, old in claims:
        if n not in ids and old not in used:
            ids[n] = old
            used.add(old)
    next_id = max(existing.values(), default=0)
    for n in range(len(groups)):
        if n not in ids:
            next_id += 1
            ids[n] = next_id
    return ids


def _rows(
    result: Linkage,
    records: list[LinkRecord],
    roles: list[str],
    ids: dict[int, int],
    positions: range | list[int],
) -> list[tuple[str, str, int, str, float | None, str]]:
    wanted = set(positions)
    rows = []
    for n, group in enumerate(result.groups):
        for i in group:
            if i not in wanted:
                continue
            record = records[i]
            score, rule = result.evidence.get(i, (None, "SINGLE"))
            if len(group) == 1:
                score, rule = None, "SINGLE"
            rows.append((record.source, record.key, ids[n], roles[i], score, rule))
    return rows


async def run_linkage(
    config: HubConfig,
    *,
    full: bool = False,
    progress: Progress | None = None,
    on_registry: Callable[[SourceRegistry], None] | None = None,
) -> LinkReport:
    """Open the configured sources and the store, run one linkage, close everything."""
    store = Store(config.store_url, config.base_dir)
    registry = SourceRegistry(config)
    await store.open()
    try:
        await registry.open()
        if on_registry is not None:
            on_registry(registry)
        job = LinkageJob(registry, LinkageIndex(store.engine), progress)
        return await job.run(full=full)
    finally:
        await registry.close()
        await store.close()
