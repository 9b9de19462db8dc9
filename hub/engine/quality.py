"""Data quality of registered sources, measured in each source's own database.

The engine's one door to :mod:`adapters.quality`: resolvers ask here and never look at which
adapter class a source is. Only mapped SQL sources can be measured (the measures are derived from
the mapping); any other adapter is reported as not supported rather than guessed at.
"""

from __future__ import annotations

import enum

from adapters.quality import Coverage, FieldQuality, SourceQuality, ValueCount, measure
from adapters.sql import MappedSQLSource
from hub.engine.federation import Federation
from hub.engine.scope import RequestContext
from hub.engine.sources import RegisteredSource

__all__ = [
    "Coverage",
    "FieldQuality",
    "Measurement",
    "SourceQuality",
    "ValueCount",
    "measure_source",
]


class Measurement(enum.Enum):
    """How a source's quality measurement went."""

    MEASURED = "measured"
    UNAVAILABLE = "unavailable"
    NOT_SUPPORTED = "not_supported"
    #: Not measured for this asker: the source holds records hidden from them (the row rule),
    #: and whole-table counts and value lists would tell those records exist.
    RESTRICTED = "restricted"


async def measure_source(
    federation: Federation, ctx: RequestContext, entry: RegisteredSource
) -> tuple[Measurement, SourceQuality | None]:
    """Measure one source through :meth:`Federation.call` (timeouts, breaker, call statistics)."""
    if entry.source is not None and not isinstance(entry.source, MappedSQLSource):
        return Measurement.NOT_SUPPORTED, None
    if ctx.hidden_roles(entry.name):
        return Measurement.RESTRICTED, None

    async def work(source: MappedSQLSource) -> SourceQuality:
        return await measure(source)

    measured = await federation.call(ctx, entry, work, None)
    return (Measurement.MEASURED if measured is not None else Measurement.UNAVAILABLE), measured
