"""Per-request state: source statuses, source errors and the request's DataLoaders.

One :class:`RequestContext` is made for every GraphQL operation (never shared between
requests), so loader caches, statement counts and error lists cannot leak across users.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.vocabulary.model import PersonRole

if TYPE_CHECKING:
    from hub.engine.loaders import Loaders


class CallOutcome(enum.Enum):
    """How a source took part in a request (``extensions.sources[].status``)."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    EXCLUDED = "excluded"


_SEVERITY = {
    CallOutcome.OK: 0,
    CallOutcome.SKIPPED: 0,
    CallOutcome.EXCLUDED: 1,
    CallOutcome.ERROR: 2,
    CallOutcome.TIMEOUT: 3,
}


@dataclass(slots=True)
class SourceUsage:
    """What one source did for one request, summed over all calls into it."""

    source: str
    status: CallOutcome = CallOutcome.OK
    elapsed_ms: float = 0.0
    statements: int = 0
    rows: int = 0
    calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status.value,
            "elapsedMs": round(self.elapsed_ms, 2),
            "statements": self.statements,
            "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """A source that failed during the request: reported as a GraphQL error entry."""

    source: str
    code: str
    message: str


@dataclass(slots=True)
class RequestContext:
    """Everything that belongs to one request and to nothing else."""

    usage: dict[str, SourceUsage] = field(default_factory=dict)
    failures: list[SourceFailure] = field(default_factory=list)
    #: Sources left out because they cannot evaluate these filter fields.
    exclusions: dict[str, list[str]] = field(default_factory=dict)
    loaders: Loaders | None = None
    #: Linked agencies of the request's person records (caseworker rule); prefetched per page.
    linkage: Any = None
    #: How current the linkage index is, when an answer depended on it
    #: (:class:`hub.engine.freshness.LinkageFreshness`; reported as ``extensions.linkage``).
    linkage_freshness: Any = None
    #: The row rule as the engine applies it: per source, the person roles whose records this
    #: request may not see (set from the policy point by the server; nothing hidden by default).
    hidden_roles: Callable[[str], frozenset[PersonRole]] = field(default=lambda _source: frozenset())
    #: Whether the request selects a personal field anywhere (set by the root resolvers from
    #: the operation). Without, the person records read with a page may leave personal fields
    #: out (:attr:`hub.vocabulary.model.ChildrenRequest.personal`); by default they are read.
    reads_personal: bool = True

    def record(
        self, source: str, outcome: CallOutcome, elapsed_ms: float, statements: int, rows: int
    ) -> None:
        usage = self.usage.setdefault(source, SourceUsage(source))
        usage.calls += 1
        usage.elapsed_ms += elapsed_ms
        usage.statements += statements
        usage.rows += rows
        if _SEVERITY[outcome] > _SEVERITY[usage.status]:
            usage.status = outcome

    def mark(self, source: str, outcome: CallOutcome) -> None:
        """Note a source that took no call (skipped by a filter, excluded, or down)."""
        usage = self.usage.setdefault(source, SourceUsage(source, status=outcome))
        if _SEVERITY[outcome] > _SEVERITY[usage.status]:
            usage.status = outcome

    def exclude(self, source: str, fields: list[str]) -> None:
        self.exclusions[source] = fields

    def fail(self, failure: SourceFailure) -> None:
        if failure not in self.failures:
            self.failures.append(failure)

    def extension(self) -> list[dict[str, Any]]:
        """The ``extensions.sources`` list, in source-name order.

        An excluded source also names the filter fields it could not evaluate.
        """
        entries = []
        for name in sorted(self.usage):
            entry = self.usage[name].as_dict()
            if name in self.exclusions:
                entry["excludedFor"] = self.exclusions[name]
            entries.append(entry)
        return entries
