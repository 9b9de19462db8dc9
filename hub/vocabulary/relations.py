"""How the national entities lead to one another: declared once, read by every floor.

The engine follows these relations (one query per source per relation, through the request's
loaders); the mapped sources learn from them which key fields link their tables (``case_key``,
``recipient_key``) and so which relations they can follow; the GraphQL look-ahead maps its
fields onto them. A relation goes from a record to records *in the same source*: the victims
of a case, the case of a service. Links between sources are the linkage index's, not these.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.vocabulary.model import (
    PERPETRATOR_ROLES,
    VICTIM_ROLES,
    WITNESS_ROLES,
    ChildrenRequest,
    Entity,
    PersonRole,
)


@dataclass(frozen=True, slots=True)
class Relation:
    """How one entity leads to another inside the same source.

    ``many`` relations load the target records whose ``via`` field is the parent's key
    (victims of a case); the others load the single target whose key is the parent's
    ``via`` field (the case of a service). ``roles`` narrows a relation to person records
    with one of them, attached under ``into`` (the victims, suspects and witnesses of a case
    are all its ``participants``; asked together, they are loaded together).
    """

    target: Entity
    via: str
    many: bool
    roles: frozenset[PersonRole] | None = None
    into: str | None = None

    @property
    def children(self) -> ChildrenRequest:
        """What a source is asked for a ``many`` relation's records (by the parents' keys)."""
        return ChildrenRequest(self.target, self.via, self.roles)


#: (entity, relation name) → the relation.
RELATIONS: dict[tuple[Entity, str], Relation] = {
    (Entity.CASE, "participants"): Relation(Entity.PERSON, "case_key", many=True),
    (Entity.CASE, "victims"): Relation(Entity.PERSON, "case_key", True, VICTIM_ROLES, "participants"),
    (Entity.CASE, "perpetrators"): Relation(
        Entity.PERSON, "case_key", True, PERPETRATOR_ROLES, "participants"
    ),
    (Entity.CASE, "witnesses"): Relation(Entity.PERSON, "case_key", True, WITNESS_ROLES, "participants"),
    (Entity.CASE, "services"): Relation(Entity.SERVICE, "case_key", many=True),
    (Entity.CASE, "stage_history"): Relation(Entity.STAGE_EVENT, "case_key", many=True),
    (Entity.PERSON, "case"): Relation(Entity.CASE, "case_key", many=False),
    (Entity.PERSON, "services"): Relation(Entity.SERVICE, "recipient_key", many=True),
    (Entity.SERVICE, "case"): Relation(Entity.CASE, "case_key", many=False),
    (Entity.SERVICE, "recipient"): Relation(Entity.PERSON, "recipient_key", many=False),
    (Entity.STAGE_EVENT, "case"): Relation(Entity.CASE, "case_key", many=False),
}

#: The key fields that link one entity's records to another's (``case_key``, ``recipient_key``).
LINK_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(r.via for r in RELATIONS.values()))

#: (child entity, link field) of every relation that loads the records of a case (its
#: participants, services, stage history): what ``Source.children`` answers for a page.
CASE_CHILDREN: tuple[tuple[Entity, str], ...] = tuple(
    dict.fromkeys(
        (r.target, r.via) for (entity, _), r in RELATIONS.items() if entity is Entity.CASE and r.many
    )
)
