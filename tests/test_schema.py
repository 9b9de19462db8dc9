"""The schema is a public contract: committed, generated from the code, fully described."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from hub.server.cli import main
from resolvers.schema import schema, sdl

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql is stale: run `make schema`"


def test_cli_exports_the_same_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    assert main(["schema", "export", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == sdl()


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    missing: list[str] = []
    for name, gql_type in schema._schema.type_map.items():
        # Names with a leading underscore or "__" are GraphQL introspection and Apollo
        # Introspection types are the spec's; federation plumbing (_Any, _Entity,
        # link__Purpose …) lands in client types, so it is described too (resolvers/federation_docs.py).
        if (
            name.startswith("__")
            or name
            in {
                "String",
                "Int",
                "Float",
                "Boolean",
                "ID",
                "Date",
                "DateTime",
            }
        ):
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                if not value.description:
                    missing.append(f"{name}.{value_name}")
    assert missing == []


def test_contract_names_exist() -> None:
    """Names marked contract in docs/architecture.md §4-4 are present with their types."""
    types = schema._schema.type_map
    query = types["Query"].fields
    expected = {
        "node": "Node",
        "agencies": "[Agency!]!",
        "sources": "[Source!]!",
        "cases": "CaseConnection!",
        "case": "Case",
    }
    assert {name: str(query[name].type) for name in expected} == expected
    assert str(query["node"].args["id"].type) == "ID!"
    assert set(types["CaseConnection"].fields) >= {"edges", "pageInfo", "totalCount"}
    assert set(types["PageInfo"].fields) >= {"hasNextPage", "endCursor"}
    case_fields = {
        "id",
        "agency",
        "sourceKey",
        "reportedAt",
        "region",
        "countryOfExploitation",
        "exploitationTypes",
        "means",
        "stage",
        "stageHistory",
        "victims",
        "perpetrators",
        "witnesses",
        "services",
    }
    assert set(types["Case"].fields) >= case_fields
    person_fields = {
        "id",
        "agency",
        "roles",
        "sex",
        "ageGroup",
        "isChild",
        "citizenship",
        "domicileRegion",
        "fullName",
        "nik",
        "birthDate",
        "passportNumber",
        "address",
        "phone",
    }
    assert set(types["PersonRecord"].fields) >= person_fields
    assert set(types["Service"].fields) >= {
        "id",
        "type",
        "provider",
        "recipient",
        "case",
        "startDate",
        "endDate",
        "status",
        "location",
    }
    assert set(types["StageEvent"].fields) >= {"stage", "date", "agency", "reference"}
    assert set(types["Region"].fields) >= {"code", "name", "level", "province"}
