"""Relations between entities are declared once (hub/vocabulary/relations.py): the GraphQL
look-ahead and the mapped sources read that table, and both agree with what they serve."""

from __future__ import annotations

from typing import Any

from graphql import get_named_type

from hub.vocabulary.model import Entity
from hub.vocabulary.relations import CASE_CHILDREN, LINK_FIELDS, RELATIONS
from resolvers.schema import schema
from resolvers.selection import RELATION_FIELDS


def test_the_look_ahead_leads_where_the_schema_says() -> None:
    """Each look-ahead entry's target type is the type the GraphQL field returns."""
    types = schema._schema.type_map
    for type_name, fields in RELATION_FIELDS.items():
        for field, (_relation, target) in fields.items():
            returned = get_named_type(types[type_name].fields[field].type)  # type: ignore[attr-defined]
            assert returned.name == target, (type_name, field)


def test_link_fields_and_case_children() -> None:
    assert LINK_FIELDS == ("case_key", "recipient_key")
    assert set(CASE_CHILDREN) == {
        (Entity.PERSON, "case_key"),
        (Entity.SERVICE, "case_key"),
        (Entity.STAGE_EVENT, "case_key"),
    }


async def test_every_source_follows_only_declared_relations(hub: Any) -> None:
    """A source's followable (entity, field) pairs hold declared relations' links (restitution
    records link by the same fields for the indicators, but no relation leads to them)."""
    holders = {(r.target, r.via) if r.many else (parent, r.via) for (parent, _), r in RELATIONS.items()}
    related = {entity for entity, _ in holders}
    seen = set()
    for entry in hub.registry.all():
        relations = entry.source.capabilities.relations
        assert {r for r in relations if r[0] in related} <= holders, entry.name
        assert {field for _, field in relations} <= set(LINK_FIELDS), entry.name
        seen |= relations
    # The demo agencies together follow every relation a case has.
    assert set(CASE_CHILDREN) <= seen
