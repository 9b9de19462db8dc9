"""Personal fields: resolved one by one through the policy point, denied as null + FORBIDDEN.

A denied field never fails the query and never leaks: its value is null and the response
carries a ``FORBIDDEN`` error at that path. The error names the field, never its value.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.policy import may_read_personal


def personal_field(name: str, description: str) -> Any:
    """A strawberry field reading ``record.<name>`` of a PersonRecord only if policy allows."""

    def resolve(root: Any, info: Info) -> Any:
        principal = info.context["principal"]
        if not may_read_personal(principal, root.agency.code):
            raise GraphQLError(
                f"not allowed to read {info.field_name} for role {principal.role}",
                extensions={"code": "FORBIDDEN", "field": info.field_name},
            )
        return getattr(root.record, name)

    resolve.__annotations__["return"] = date | None if name == "birth_date" else str | None
    return strawberry.field(resolver=resolve, description=description)
