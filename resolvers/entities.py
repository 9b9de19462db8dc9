"""Apollo Federation v2 entity resolution: ``_entities`` for Case, PersonRecord and Agency.

A federation gateway sends many representations at once; each ``resolve_reference`` goes
through the request's DataLoaders, so they batch into one query per source like any other
page — and through the same converter, so the policy's row rule applies to entities too.

Representations are checked before any is resolved (:func:`check_representations`): at most
the page cap of them (``first`` is capped the same way, so ``_entities`` is no way around
it), each an object naming an entity type and carrying its key as a string and nothing
else. Anything else is ``BAD_USER_INPUT`` naming the representation.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.types import Info

from hub.vocabulary.model import Entity
from resolvers.convert import agency_of
from resolvers.errors import bad_input
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


#: The key field of each entity type (its ``@key``).
ENTITY_KEYS = {"Case": "id", "PersonRecord": "id", "Agency": "code"}
#: Longest key accepted (global ids are far shorter).
MAX_KEY_LENGTH = 2048


def check_representations(representations: Any, cap: int) -> list[dict[str, str]]:
    """The representations as ``{"__typename": …, key: …}``; ``BAD_USER_INPUT`` if any is malformed."""
    if not isinstance(representations, list):
        raise _bad("representations must be a list")
    if len(representations) > cap:
        raise _bad(f"at most {cap} representations per request (the page cap), got {len(representations)}")
    checked = []
    for index, item in enumerate(representations):
        type_name = item.get("__typename") if isinstance(item, dict) else None
        key = ENTITY_KEYS.get(type_name) if isinstance(type_name, str) else None
        if key is None:
            raise _bad(
                f"representations[{index}]: __typename must be one of {', '.join(sorted(ENTITY_KEYS))}"
            )
        value = item.get(key)
        if (
            not isinstance(value, str)
            or not value
            or len(value) > MAX_KEY_LENGTH
            or set(item) != {"__typename", key}
        ):
            raise _bad(f"representations[{index}]: a {type_name} is given by its `{key}` (a string) only")
        checked.append({"__typename": type_name, key: value})
    return checked


def _bad(message: str) -> GraphQLError:
    return bad_input(message, "representations")
