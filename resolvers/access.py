"""The GraphQL side of the policy point: operations, rows and the audit trail.

:mod:`hub.access.policy` decides; this module applies its decisions where GraphQL needs them, once:

- :class:`AccessGate` refuses, before execution, an operation whose root fields the role may
  not ask (``FORBIDDEN``, naming the fields), and says so when a demo principal is in use.
- :class:`GuardedConverter` is the request's converter: every record becomes a GraphQL object
  through it, and it drops the rows the policy hides (protected witnesses) — from a case's
  victims and witnesses, a service's recipient, ``node(id:)`` and linked persons. Code that
  builds person records itself must filter with :meth:`GuardedConverter.visible`.
- :class:`AuditTrail` appends the personal fields the request released
  (:class:`hub.access.policy.Guard` collects them) to the audit log *before* the response leaves;
  if that fails, it withholds those values (null + ``AUDIT_UNAVAILABLE`` at each path).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
    print_ast,
)
from strawberry.extensions import SchemaExtension

from hub.access.audit import AuditUnavailable
from hub.access.policy import PUBLIC, Guard, PersonalRead
from hub.engine.federation import Linked
from hub.engine.sources import SourceRegistry
from hub.vocabulary import model
from resolvers import types
from resolvers.context import optional_context
from resolvers.convert import Converter

log = logging.getLogger("tppo_hub.access")

DEMO_NOTICE = (
    "Demo mode: anonymous callers act as role '{role}'. Synthetic data only; "
    "send a token (tppo-hub token) to act as another role."
)


def guard_of(context: Any) -> Guard | None:
    """The request's policy point, if the context has one (the hub's contexts always do)."""
    ctx = optional_context(context)
    return ctx.guard if ctx is not None else None


# --- operations --------------------------------------------------------------------------------


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """The root field names an operation selects (fragments followed, directives ignored)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return list(dict.fromkeys(_fields(operation.selection_set, fragments, set())))


def _fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                yield from _fields(fragments[name].selection_set, fragments, seen | {name})


class AccessGate(SchemaExtension):
    """Refuses operations the role may not ask, before anything runs; marks demo answers."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.result is None and document is not None:
            guard = guard_of(context.context)
            principal = guard.principal if guard is not None else PUBLIC
            operation = get_operation_ast(document, context.operation_name)
            if isinstance(operation, OperationDefinitionNode):
                denied = [
                    name
                    for name in root_fields(document, context.operation_name)
                    if guard is None or not guard.may_query(name)
                ]
                if denied:
                    context.result = ExecutionResult(
                        data=None,
                        errors=[
                            GraphQLError(
                                f"role {principal.role} may not query {name}",
                                extensions={"code": "FORBIDDEN", "field": name},
                            )
                            for name in denied
                        ],
                    )
        yield

    def get_results(self) -> dict[str, Any]:
        guard = guard_of(self.execution_context.context)
        if guard is not None and guard.principal.demo:
            return {"demo": DEMO_NOTICE.format(role=guard.principal.role)}
        return {}


# --- rows --------------------------------------------------------------------------------------


class GuardedConverter(Converter):
    """The request's converter, with the policy's row rule applied to every person record."""

    def __init__(self, registry: SourceRegistry, guard: Guard) -> None:
        super().__init__(registry)
        self.guard = guard

    def visible(self, node: Linked) -> bool:
        """Whether the policy lets this request see the record at all."""
        return self.guard.row_visible(node.record)

    def persons(self, nodes: Iterable[Linked]) -> list[types.PersonRecord]:
        """The visible ones of ``nodes`` as GraphQL person records."""
        return [self.person(n) for n in nodes if self.visible(n)]

    def case(self, node: Linked) -> types.Case:
        participants = node.links.get("participants")
        if participants:
            kept = [p for p in participants if self.visible(p)]
            if len(kept) != len(participants):
                node = Linked(node.record, {**node.links, "participants": kept})
        return super().case(node)

    def service(self, node: Linked) -> types.Service:
        recipient = node.links.get("recipient")
        if recipient is not None and not self.visible(recipient):
            node = Linked(node.record, {**node.links, "recipient": None})
        return super().service(node)

    def any(self, node: Linked) -> Any:
        if isinstance(node.record, model.PersonRecord) and not self.visible(node):
            return None
        return super().any(node)

    def linked_person(self, view: Any) -> Any:
        """A linked person with hidden records left out, or None if none is visible."""
        view = self.person_view(view)
        return super().linked_person(view) if view is not None else None

    def person_view(self, view: Any) -> Any:
        """A linkage view (``hub.engine.persons.PersonView``) without what the row rule hides.

        Hidden: the protected records, their index entries (roles, agencies, link evidence),
        their services and cases reached only through them, and a last known location or
        service gaps read from them. None if the person has no visible record left.
        """
        if view is None:
            return None
        hidden = {
            (e.source, e.key)
            for e in getattr(view, "entries", ())
            if not self.guard.entry_visible(e.source, getattr(e, "roles", ()))
        }
        hidden |= {(r.record.source, r.record.key) for r in view.records if not self.visible(r)}
        if not hidden:
            return view
        entries = [e for e in view.entries if (e.source, e.key) not in hidden]
        if not entries:
            return None
        records = [r for r in view.records if (r.record.source, r.record.key) not in hidden]
        case_keys = {(r.record.source, getattr(r.record, "case_key", None)) for r in records}
        hidden_sources = {source for source, _ in hidden}
        location = view.last_location
        if location is not None and getattr(location, "source", None) in hidden_sources:
            location = None
        return replace(
            view,
            entries=entries,
            records=records,
            cases=[c for c in view.cases if (c.record.source, c.record.key) in case_keys],
            services=[
                s
                for s in view.services
                if (s.record.source, getattr(s.record, "recipient_key", None)) not in hidden
            ],
            last_location=location,
            gaps=None if view.gaps is None or hidden_sources else view.gaps,
        )


# --- audit -------------------------------------------------------------------------------------


class AuditTrail(SchemaExtension):
    """Appends released personal fields to the audit log before the response leaves."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context
        guard = guard_of(context.context)
        result = context.result
        if guard is None or not guard.reads or result is None or getattr(result, "data", None) is None:
            return  # nothing personal leaves with this response
        ctx = optional_context(context.context)
        audit = ctx.audit if ctx is not None else None
        query = context.query
        if query is None and context.graphql_document is not None:
            query = print_ast(context.graphql_document)
        try:
            if audit is None:
                raise AuditUnavailable("no audit log in the request context")
            await audit.append(guard.principal, query, guard.reads)
        except AuditUnavailable:
            log.error("personal data withheld: audit log unavailable (%d field reads)", len(guard.reads))
            _withhold(result, guard.reads)


def _withhold(result: Any, reads: list[PersonalRead]) -> None:
    """Null every released personal value in ``result`` and add an error at its path."""
    errors = list(result.errors or [])
    for read in reads:
        if _null_at(result.data, read.path):
            errors.append(
                GraphQLError(
                    f"{read.field} withheld: the audit log is unavailable",
                    path=list(read.path),
                    extensions={"code": "AUDIT_UNAVAILABLE", "field": read.field},
                )
            )
    result.errors = errors


def _null_at(data: Any, path: tuple[str | int, ...]) -> bool:
    node = data
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return False
        if node is None:
            return False
    last = path[-1]
    try:
        node[last] = None
    except (KeyError, IndexError, TypeError):
        return False
    return True
