"""``LinkageStatus``: how current the linkage index is for an answer that depends on it.

Shown on ``statistics`` (measure VICTIMS, ``doubleCounting``) and on ``persons``, and as
``extensions.linkage`` on the response, so distinct-person numbers never silently fall back
to counting records (see :mod:`hub.engine.freshness`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import strawberry

from hub.engine.freshness import LinkageFreshness, linkage_freshness
from hub.engine.sources import SourceRegistry
from hub.linkage.index import LinkageIndex
from resolvers.context import Context


@strawberry.enum(description="How far the linkage index can be trusted (Status penautan rekam).")
class LinkageState(enum.Enum):
    CURRENT = strawberry.enum_value(
        "CURRENT", description="Linked after the sources last changed (Mutakhir)."
    )
    STALE = strawberry.enum_value(
        "STALE",
        description="Records or sources changed after the last linkage run: distinct-person numbers "
        "count the new records as persons of their own (Kedaluwarsa).",
    )
    NOT_RUN = strawberry.enum_value(
        "NOT_RUN",
        description="Linkage never ran: no persons, and VICTIMS counts records (Belum dijalankan).",
    )


@strawberry.type(description="How current the linkage index behind this answer is (Status penautan).")
class LinkageStatus:
    state: LinkageState = strawberry.field(description="Current, stale or never run (Status).")
    last_run_at: datetime | None = strawberry.field(
        description="When the last successful linkage run finished (Penautan terakhir)."
    )
    changed_sources: list[str] = strawberry.field(
        description="Sources whose data changed after that run (Sumber yang berubah)."
    )
    unverified_sources: list[str] = strawberry.field(
        description="Sources that cannot tell when their data last changed, e.g. database servers "
        "without commit timestamps (Sumber tanpa waktu perubahan)."
    )
    unlinked_records: int | None = strawberry.field(
        description="Victim records counted in this answer that linkage has not seen; null where "
        "the answer counts no records, and for roles that get protected statistics (Rekam belum ditautkan)."
    )
    message: str = strawberry.field(description="What this means and what to do (Pesan).")


def linkage_status(freshness: LinkageFreshness) -> LinkageStatus:
    """The GraphQL object for an engine :class:`LinkageFreshness`."""
    return LinkageStatus(
        state=LinkageState[freshness.state.name],
        last_run_at=freshness.last_run_at,
        changed_sources=list(freshness.changed_sources),
        unverified_sources=list(freshness.unverified_sources),
        unlinked_records=freshness.unlinked_records,
        message=freshness.message,
    )


async def report_linkage(
    context: Context,
    index: LinkageIndex,
    registry: SourceRegistry,
    sources: Iterable[str] | None = None,
    unlinked_records: int | None = None,
    *,
    exact: bool = True,
) -> LinkageStatus:
    """Work out the linkage state, put it in ``extensions.linkage``, and return it.

    ``exact=False`` (roles that get protected statistics) keeps the state but hides how many
    records are unlinked: under a narrow filter that number would be an unprotected count.
    """
    freshness = await linkage_freshness(index, registry, sources, unlinked_records)
    if not exact:
        freshness = freshness.without_count()
    context.scope.linkage_freshness = freshness
    return linkage_status(freshness)
