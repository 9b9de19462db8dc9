"""Apollo Federation v2 entity resolution: ``_entities`` for Case, PersonRecord and Agency.

A federation gateway sends many representations at once; each ``resolve_reference`` goes
through the request's DataLoaders, so they batch into one query per source like any other
page — and through the same converter, so the policy's row rule applies to entities too.
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from hub.vocabulary.model import Entity
from resolvers.convert import agency_of
from resolvers.query import load_node


class Entities:
    """The :class:`resolvers.context.EntityResolver` the server puts in every request context.

    It lives here, above the types, so the types' ``resolve_reference`` hooks reach it through
    ``info.context`` instead of importing the query module (which imports the types).
    """

    async def record(self, info: Info, raw_id: str, entity: Entity) -> Any:
        """The GraphQL object of the record a global id names (None if unknown or hidden)."""
        node = await load_node(info, raw_id, expected=entity)
        return info.context.converter.any(node) if node is not None else None

    def agency(self, info: Info, code: str) -> Any:
        """The Agency with this code among the registered sources (None if none holds it)."""
        for entry in info.context.federation.registry.all():
            if entry.source is not None and entry.source.agency.code == code:
                return agency_of(entry)
        return None


ENTITIES = Entities()
