"""Which registered agencies an indicator relies on (its Satu Data "sumber data")."""

from __future__ import annotations

from hub.engine.indicators.spec import Indicator, Need
from hub.engine.sources import SourceRegistry
from hub.vocabulary.model import Entity

#: The entities whose holders an indicator's figures come from, by what it needs.
_FROM = {
    Need.PERSON: Entity.PERSON,
    Need.SERVICE: Entity.SERVICE,
    Need.STAGE_EVENT: Entity.STAGE_EVENT,
    Need.RESTITUTION: Entity.RESTITUTION,
}


def relied_on(indicator: Indicator, registry: SourceRegistry) -> list[str]:
    """Agency codes of the registered sources holding data the indicator counts, sorted.

    Person and service data for person indicators, stage histories for stage indicators,
    cases otherwise.
    """
    entities = {_FROM[n] for n in indicator.needs if n in _FROM} or {Entity.CASE}
    codes = {
        entry.source.agency.code
        for entry in registry.all()
        if entry.source is not None and any(entry.source.supports(e) for e in entities)
    }
    return sorted(codes)
