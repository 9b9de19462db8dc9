"""Personal fields: resolved one by one through the policy point, denied as null + FORBIDDEN.

A denied field never fails the query and never leaks: its value is null and the response
carries a ``FORBIDDEN`` error at that path, naming the field and the rule (``reason``:
``ROLE``, ``PURPOSE_REQUIRED`` or ``OTHER_AGENCY``), never a value. A released field is noted
in the request's :class:`hub.access.policy.Guard`, and the audit extension
(:class:`resolvers.access.AuditTrail`) appends it to the audit log before the response
leaves. Without a guard in the context (a hand-made context) every field is denied.

The object the field sits on must carry ``record`` (a :class:`hub.vocabulary.model.PersonRecord`) and
``id`` (its global id), as :class:`resolvers.types.PersonRecord` does.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access.policy import PERSONAL_FIELDS, PUBLIC, Decision, Reason
from resolvers.context import optional_context


def personal_field(name: str, description: str) -> Any:
    """A strawberry field reading ``record.<name>`` of a PersonRecord only if policy allows."""
    if name not in PERSONAL_FIELDS:
        raise ValueError(f"{name!r} is not declared personal in hub.access.policy.PERSONAL_FIELDS")

    def resolve(root: Any, info: Info) -> Any:
        ctx = optional_context(info.context)
        guard = ctx.guard if ctx is not None else None
        if guard is None:
            decision, principal = Decision(False, Reason.ROLE), PUBLIC
        else:
            decision, principal = guard.personal(root.record), guard.principal
        if not decision.allowed:
            raise GraphQLError(
                decision.message(info.field_name, principal),
                extensions={
                    "code": "FORBIDDEN",
                    "field": info.field_name,
                    "reason": (decision.reason or Reason.ROLE).value,
                },
            )
        guard.released(root.id, info.field_name, tuple(info.path.as_list()))
        return getattr(root.record, name)

    resolve.__annotations__["return"] = date | None if name == "birth_date" else str | None
    return strawberry.field(resolver=resolve, description=description)
