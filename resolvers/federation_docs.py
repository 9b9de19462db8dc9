"""Descriptions for the Apollo Federation machinery strawberry adds to the schema.

Strawberry's federation support adds ``Query._entities``, ``Query._service``, the scalars
``_Any`` and ``_FieldSet``, the union ``_Entity``, the type ``_Service`` and the ``@link``
support types (``link__Purpose``, ``link__Import``) without descriptions. They are part of
the public schema — they land in introspection and in generated client types — so, like every
other type, they say what they are for: a federation gateway's use, not a portal's.
"""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLSchema

_FOR_GATEWAYS = " Used by an Apollo Federation gateway; portals do not need it."

TYPES = {
    "_Any": "An entity representation sent by a federation gateway: `__typename` plus the key fields "
    '(e.g. `{"__typename": "Case", "id": "…"}`).' + _FOR_GATEWAYS,
    "_FieldSet": 'A selection of fields naming an entity\'s key, as in `@key(fields: "id")`.' + _FOR_GATEWAYS,
    "_Entity": "Every type a federation gateway can resolve by key from this hub (Case, PersonRecord, "
    "Agency)." + _FOR_GATEWAYS,
    "_Service": "This subgraph's own schema, for composition by a federation gateway." + _FOR_GATEWAYS,
    "link__Import": "A name imported from a linked specification (`@link(import: …)`)." + _FOR_GATEWAYS,
    "link__Purpose": "Why a specification is linked with `@link(for: …)`." + _FOR_GATEWAYS,
}
QUERY_FIELDS = {
    "_entities": "Entities by their key representations, in the order given (null where not found): "
    "how a federation gateway joins this hub's Case, PersonRecord and Agency into other graphs."
    + _FOR_GATEWAYS,
    "_service": "This subgraph's SDL with federation directives, for composition." + _FOR_GATEWAYS,
}
SERVICE_FIELDS = {"sdl": "The subgraph schema in SDL, with federation directives."}
PURPOSE_VALUES = {
    "SECURITY": "The linked specification affects security: gateways that do not support it must refuse it.",
    "EXECUTION": "The linked specification affects execution: gateways that do not support it must "
    "refuse it.",
}


def describe_federation(schema: GraphQLSchema) -> None:
    """Fill in the missing descriptions (only where strawberry left none)."""
    for name, text in TYPES.items():
        graphql_type = schema.type_map.get(name)
        if graphql_type is not None and not graphql_type.description:
            graphql_type.description = text
    query = schema.query_type
    if query is not None:
        for name, text in QUERY_FIELDS.items():
            if name in query.fields and not query.fields[name].description:
                query.fields[name].description = text
        representations = query.fields.get("_entities")
        if representations is not None and "representations" in representations.args:
            argument = representations.args["representations"]
            argument.description = argument.description or "Entity keys, as `_Any` objects."
    service = schema.type_map.get("_Service")
    if isinstance(service, GraphQLObjectType):
        for name, text in SERVICE_FIELDS.items():
            if name in service.fields and not service.fields[name].description:
                service.fields[name].description = text
    purpose = schema.type_map.get("link__Purpose")
    if isinstance(purpose, GraphQLEnumType):
        for name, text in PURPOSE_VALUES.items():
            if name in purpose.values and not purpose.values[name].description:
                purpose.values[name].description = text
