"""Is the linkage index current? Said with every answer that depends on it.

Distinct-person counts (measure ``VICTIMS``, ``doubleCounting``) and the ``persons`` views
read the linkage index, which ``tppo-hub link`` writes. When linkage never ran, ``persons``
is empty and ``VICTIMS`` counts every record as a person of its own; when it ran before the
sources last changed, new records are not linked yet. Neither may pass silently: each such
answer carries a :class:`LinkageFreshness`, and the caller sees it in the response.

What is known, and how:

- whether linkage ever ran, and when it last finished: the index's run table;
- sources that changed after that run: each source's own clock
  (:meth:`adapters.base.Source.last_changed`; a SQLite file's modification time). Sources that
  cannot tell (database servers without commit timestamps) are listed as unverified;
- for a VICTIMS count, exactly how many of the counted records the index has not seen.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.engine.sources import SourceRegistry
from hub.linkage.index import LinkageIndex


class LinkageState(enum.Enum):
    """How far the linkage index can be trusted for this answer."""

    CURRENT = "CURRENT"
    STALE = "STALE"
    NOT_RUN = "NOT_RUN"


@dataclass(frozen=True, slots=True)
class LinkageFreshness:
    """The linkage index's state for one answer (counts and source names only)."""

    state: LinkageState
    last_run_at: datetime | None
    #: Sources whose data changed after the last linkage run.
    changed_sources: tuple[str, ...] = ()
    #: Sources that cannot tell when their data last changed.
    unverified_sources: tuple[str, ...] = ()
    #: Records counted in this answer that linkage has not seen (VICTIMS only; else None).
    unlinked_records: int | None = None

    @property
    def message(self) -> str:
        """One sentence for people: what is wrong and what to do."""
        if self.state is LinkageState.NOT_RUN:
            return (
                "Record linkage has not run: persons is empty and VICTIMS counts every victim record "
                "as a distinct person. Run `tppo-hub link --config hub.toml`."
            )
        if self.state is LinkageState.STALE:
            parts = []
            if self.unlinked_records:
                parts.append(f"{self.unlinked_records:,} of the counted records are not linked yet")
            elif not self.changed_sources:
                parts.append("some of the counted records are not linked yet")
            if self.changed_sources:
                parts.append(f"changed since the last linkage run: {', '.join(self.changed_sources)}")
            return "Linkage is out of date (" + "; ".join(parts) + "). Run `tppo-hub link --config hub.toml`."
        return "Linkage is current."

    def without_count(self) -> LinkageFreshness:
        """The same state without the number of unlinked records (for protected statistics)."""
        return replace(self, unlinked_records=None)

    def as_extension(self) -> dict[str, Any]:
        """The ``extensions.linkage`` entry of a response."""
        return {
            "state": self.state.value,
            "lastRunAt": self.last_run_at.isoformat() if self.last_run_at else None,
            "changedSources": list(self.changed_sources),
            "unverifiedSources": list(self.unverified_sources),
            "unlinkedRecords": self.unlinked_records,
            "message": self.message,
        }


async def linkage_freshness(
    index: LinkageIndex,
    registry: SourceRegistry,
    sources: Iterable[str] | None = None,
    unlinked_records: int | None = None,
) -> LinkageFreshness:
    """The state of the linkage index against ``sources`` (default: every open source)."""
    last_run = await index.last_run_at()
    wanted = None if sources is None else set(sources)
    entries = [e for e in registry.all() if e.source is not None and (wanted is None or e.name in wanted)]
    changed_at = await asyncio.gather(*(e.source.last_changed() for e in entries if e.source is not None))
    changed: list[str] = []
    unverified: list[str] = []
    for entry, at in zip(entries, changed_at, strict=True):
        if at is None:
            unverified.append(entry.name)
        elif last_run is not None and at > last_run:
            changed.append(entry.name)
    if last_run is None:
        state = LinkageState.NOT_RUN
    elif changed or unlinked_records:
        state = LinkageState.STALE
    else:
        state = LinkageState.CURRENT
    return LinkageFreshness(
        state=state,
        last_run_at=last_run,
        changed_sources=tuple(sorted(changed)),
        unverified_sources=tuple(sorted(unverified)),
        unlinked_records=unlinked_records,
    )
