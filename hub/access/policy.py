"""The policy point: the one module that decides who may see which operation, row and field.

Every rule of docs/architecture.md §3 is declared here as data or as a small pure function, and nowhere
else; resolvers and extensions only *ask* (through a per-request :class:`Guard`). Reviewing
access therefore means reading this file. The rules, by role (contract names):

==============  ===============  ==========================  ===============================
role            operations       rows                        personal fields
==============  ===============  ==========================  ===============================
``public``      statistics,      —                           never
                agencies,
                vocabulary,
                whoami
``analyst``     all reads but    all except protected        never (age group instead of
                the audit log    witnesses (see below)       birth date, regency instead
                                                             of address)
``caseworker``  as analyst       as analyst, plus protected  own agency's records, and
                                 witnesses of their own      records of persons linked to
                                 witness-protection agency   them; only with a purpose
``coordinator`` as analyst,      as caseworker               every agency's records; only
                plus the linkage                             with a purpose
                review queue
``admin``       as analyst, plus as analyst                  never (runs the hub, reads the
                ``auditLog``                                 audit trail; not a case role)
==============  ===============  ==========================  ===============================

Protected witnesses: person records held by a witness-protection agency (organisation type
``WITNESS_PROTECTION``, i.e. LPSK; UU 31/2014) in a witness role (witness, victim-witness,
reporter, justice collaborator) are hidden — absent, not nulled — from everyone except that
agency's own caseworkers and coordinators. The rule names the organisation type, not an
agency, so the hub core stays free of agency knowledge.

Statistics: every role below ``coordinator`` (and ``admin``, which is not a data role) gets
cells under *k* suppressed (:mod:`hub.access.suppression`), every published count perturbed
consistently (:mod:`hub.access.cellkey`) and list filters restricted to values that count
none or at least *k* alone (:mod:`hub.access.querysets`); coordinators get exact counts.

Hidden rows leave no trace: :meth:`Guard.hidden_roles` tells the engine, per source, which
person roles this request may not see; the engine drops those records where they are read
and the sources leave them out of filters and counts (``CaseFilter.hidden_roles``).

Denials fail closed: an unknown role, a missing purpose or a missing context denies.

Where the answers are applied, once each: :mod:`resolvers.personal` (every personal field),
:mod:`resolvers.access` (operations before execution, rows in the request's converter, the
audit trail), the statistics query (:meth:`Guard.statistics_k`). In-process callers
(``Hub.execute`` without a principal) are an ``analyst``; HTTP callers are whoever
:mod:`hub.access.auth` authenticated.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.engine.config_auth import DEFAULT_K, QueryLimits
from hub.vocabulary import model, roles

#: Roles (contract names), least to most privileged: declared once, in the vocabulary.
ROLES = roles.ROLES

#: Personal fields of a person record: the vocabulary's list (attributes of ``PersonRecord``).
PERSONAL_FIELDS = model.PERSONAL_FIELDS

#: Root fields that ``public`` may query (statistics only, plus harmless reference data).
PUBLIC_OPERATIONS = frozenset(
    {"statistics", "indicators", "indicator", "agencies", "vocabulary", "whoami", "__typename"}
)
#: Root fields only ``admin`` may query.
ADMIN_OPERATIONS = frozenset(
    {"auditLog", "registerSource", "removeSource", "approveSource", "rejectSource", "pendingSources"}
)
#: Root fields of the clerical review queue of record linkage, and the roles that may use them.
REVIEW_OPERATIONS = frozenset({"linkReviews", "confirmLink", "rejectLink", "undoLinkDecision"})
REVIEW_ROLES = frozenset({"coordinator"})
#: Roles that read records (every root field not listed above): all but ``public``.
RECORD_ROLES = frozenset({"analyst", "caseworker", "coordinator", "admin"})

#: Roles that may read personal fields at all (always with a purpose).
PERSONAL_ROLES = frozenset({"caseworker", "coordinator"})
#: Organisation types whose witness records are hidden from everyone outside the agency.
PROTECTION_ORG_TYPES = frozenset({model.OrgType.WITNESS_PROTECTION})
#: Roles that make a record a protected witness's when held by a protection agency.
PROTECTED_ROLES = model.WITNESS_ROLES
#: Roles of the protection agency's own staff that see its protected witnesses.
PROTECTION_STAFF_ROLES = frozenset({"caseworker", "coordinator"})
#: Roles that see exact statistics; everyone else gets suppressed cells.
EXACT_STATISTICS_ROLES = frozenset({"coordinator"})

@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: subject, role, own agency and declared purpose, and how they proved it.

    ``method`` is ``jwt``, ``api_key``, ``anonymous`` or ``in_process``; ``token_id`` (the
    JWT ``jti``) and ``api_key_id`` name the credential so an audit entry can be traced back
    to it. ``demo`` marks the anonymous principal of a demo hub.
    """

    subject: str = "anonymous"
    role: str = "analyst"
    agency: str | None = None
    purpose: str | None = None
    method: str = "in_process"
    token_id: str | None = None
    api_key_id: str | None = None
    demo: bool = False

    @property
    def credential(self) -> str:
        """A short, non-secret name of the credential used (for the audit log)."""
        if self.token_id:
            return f"jwt:{self.token_id}"
        if self.api_key_id:
            return f"api_key:{self.api_key_id}"
        return self.method


#: The default principal of in-process execution (``Hub.execute`` in tests, benchmarks and
#: scripts, which hold the configuration anyway): an analyst, who sees no personal data.
ANONYMOUS = Principal()
#: An anonymous HTTP caller of a hub that is not in demo mode.
PUBLIC = Principal(subject="anonymous", role="public", method="anonymous")


class Reason(enum.Enum):
    """Why a personal field was denied (``extensions.reason`` of the FORBIDDEN error)."""

    ROLE = "ROLE"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    OTHER_AGENCY = "OTHER_AGENCY"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of the policy point for one personal field of one record."""

    allowed: bool
    reason: Reason | None = None

    def message(self, field_name: str, principal: Principal) -> str:
        """A denial message naming the field and the rule, never a value."""
        if self.reason is Reason.PURPOSE_REQUIRED:
            return (
                f"not allowed to read {field_name}: declare a purpose "
                "(X-Purpose header or purpose claim) to read personal data"
            )
        if self.reason is Reason.OTHER_AGENCY:
            return f"not allowed to read {field_name}: the record is held by another agency"
        return f"not allowed to read {field_name}: role {principal.role} has no access to personal data"


ALLOW = Decision(True)


class LinkedAgencies(Protocol):
    """The linkage hook (issue 5): which agencies hold records of the same person.

    A caseworker may read personal fields of another agency's record when the record belongs
    to a person their own agency also holds a record of. The linkage index answers that; it
    must answer synchronously from what the request already loaded (prefetch per page), so
    that the policy decision stays a cheap, pure function.
    """

    def agencies_of_person(self, source: str, key: str) -> frozenset[str]:
        """Agency codes holding any record linked to record ``key`` of ``source``."""
        ...


def may_query(principal: Principal, root_field: str) -> bool:
    """Whether ``principal`` may ask root field ``root_field`` at all."""
    if root_field in PUBLIC_OPERATIONS or root_field in {"__schema", "__type"}:
        return principal.role in ROLES
    if root_field in ADMIN_OPERATIONS:
        return principal.role == "admin"
    if root_field in REVIEW_OPERATIONS:
        return principal.role in REVIEW_ROLES
    return principal.role in RECORD_ROLES


def is_protected(agency: model.Agency | None, roles: Iterable[model.PersonRole]) -> bool:
    """Whether a person record with ``roles`` held by ``agency`` is a protected witness's."""
    if agency is None:
        return False
    return agency.type in PROTECTION_ORG_TYPES and any(r in PROTECTED_ROLES for r in roles)


def record_visible(
    principal: Principal, agency: model.Agency | None, roles: Iterable[model.PersonRole]
) -> bool:
    """The row rule: whether a person record (held by ``agency``, with ``roles``) exists at all."""
    if principal.role not in RECORD_ROLES:
        return False
    if not is_protected(agency, roles):
        return True
    assert agency is not None
    return principal.role in PROTECTION_STAFF_ROLES and principal.agency == agency.code


def personal_decision(
    principal: Principal,
    record_agency: str,
    linked_agencies: Iterable[str] = (),
) -> Decision:
    """Whether ``principal`` may read personal fields of a record held by ``record_agency``.

    Coordinators may, across agencies, with a declared purpose; caseworkers may for their own
    agency's records and for records linked to a person their agency holds, with a declared
    purpose; nobody else may. (The row rule has already hidden what must not exist.)
    """
    if principal.role not in PERSONAL_ROLES:
        return Decision(False, Reason.ROLE)
    if not principal.purpose:
        return Decision(False, Reason.PURPOSE_REQUIRED)
    if principal.role == "coordinator":
        return ALLOW
    if principal.agency is not None and (
        principal.agency == record_agency or principal.agency in linked_agencies
    ):
        return ALLOW
    return Decision(False, Reason.OTHER_AGENCY)


def statistics_k(principal: Principal, k: int = DEFAULT_K) -> int | None:
    """The minimum cell size for ``principal``'s statistics, or None for exact counts."""
    return None if principal.role in EXACT_STATISTICS_ROLES else k


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Settings of the policy point, from ``[auth]`` (see :mod:`hub.access.auth`)."""

    suppression_k: int = DEFAULT_K
    limits: QueryLimits = field(default_factory=QueryLimits)


@dataclass(frozen=True, slots=True)
class PersonalRead:
    """One released personal field: what the audit log records, and where it is in the answer."""

    record_id: str
    field: str
    path: tuple[str | int, ...]


class Guard:
    """The policy point bound to one request: a principal, the agencies, the linkage hook.

    It also collects every personal field it released (:attr:`reads`), which the audit
    extension appends to the audit log before the response leaves.
    """

    def __init__(
        self,
        principal: Principal,
        agency_of: Callable[[str], model.Agency | None],
        settings: AccessSettings | None = None,
        linkage: LinkedAgencies | None = None,
    ) -> None:
        self.principal = principal
        self.settings = settings or AccessSettings()
        self._agency_of = agency_of
        self._linkage = linkage
        self.reads: list[PersonalRead] = []
        self._decisions: dict[tuple[str, str], Decision] = {}
        #: (source, roles) → the row rule's answer, for this request (:meth:`row_visible`).
        self._row_rule: dict[tuple[str, tuple[model.PersonRole, ...]], bool] = {}

    def agency(self, source: str) -> model.Agency | None:
        return self._agency_of(source)

    def may_query(self, root_field: str) -> bool:
        return may_query(self.principal, root_field)

    def row_visible(self, record: Any) -> bool:
        """Whether a record is visible; only person records have a row rule today.

        The rule depends on the record's source and roles alone, so it is decided once per
        (source, roles) in a request: a page asks it for every person record it shows.
        """
        if isinstance(record, model.PersonRecord):
            roles = record.roles
            if type(roles) is not tuple:  # a tuple by contract; anything else is decided afresh
                return record_visible(self.principal, self._agency_of(record.source), roles)
            key = (record.source, roles)
            visible = self._row_rule.get(key)
            if visible is None:
                visible = record_visible(self.principal, self._agency_of(record.source), roles)
                self._row_rule[key] = visible
            return visible
        return self.principal.role in RECORD_ROLES

    def hidden_entries(self, sources: Iterable[str]) -> tuple[tuple[str, tuple[model.PersonRole, ...]], ...]:
        """Per source, the roles whose records this request may not see (for index queries)."""
        protected = tuple(sorted(PROTECTED_ROLES, key=lambda r: r.name))
        return tuple(
            (source, protected)
            for source in sources
            if not record_visible(self.principal, self._agency_of(source), protected)
        )

    def hidden_roles(self, source: str) -> frozenset[model.PersonRole]:
        """The person roles whose records of ``source`` this request may not see.

        The engine applies it where records are read and inside every source query (victim
        filters, counts, per-source row counts), so a hidden record changes nothing the
        asker can observe.
        """
        agency = self._agency_of(source)
        if not is_protected(agency, PROTECTED_ROLES):
            return frozenset()  # not a witness-protection agency: its witnesses are not hidden
        assert agency is not None
        staff = self.principal.role in PROTECTION_STAFF_ROLES and self.principal.agency == agency.code
        return frozenset() if staff else PROTECTED_ROLES

    def entry_visible(self, source: str, roles: Iterable[model.PersonRole]) -> bool:
        """The row rule for a linkage-index entry (a record known only by source and roles)."""
        return record_visible(self.principal, self._agency_of(source), roles)

    def personal(self, record: model.PersonRecord) -> Decision:
        """May this request read the personal fields of ``record``? (Decided once per record.)"""
        cache_key = (record.source, record.key)
        found = self._decisions.get(cache_key)
        if found is None:
            found = self._decisions[cache_key] = self._decide(record)
        return found

    def _decide(self, record: model.PersonRecord) -> Decision:
        agency = self._agency_of(record.source)
        if agency is None or not record_visible(self.principal, agency, record.roles):
            return Decision(False, Reason.ROLE)
        linked: frozenset[str] = frozenset()
        if (
            self._linkage is not None
            and self.principal.role == "caseworker"
            and self.principal.agency != agency.code
        ):
            linked = self._linkage.agencies_of_person(record.source, record.key)
        return personal_decision(self.principal, agency.code, linked)

    def released(self, record_id: str, field_name: str, path: tuple[str | int, ...]) -> None:
        """Note a personal field handed out (audited before the response leaves)."""
        self.reads.append(PersonalRead(record_id, field_name, path))

    def restricts_query_sets(self) -> bool:
        """Whether list filters of statistics must hold only values that count 0 or >= k alone.

        Only for roles that read no records (``public``): the others can count the cases they
        may see exactly (``totalCount``), so refusing their lists would protect nothing and
        only get in their way (see :mod:`hub.access.querysets`).
        """
        return self.principal.role not in RECORD_ROLES

    def statistics_k(self) -> int | None:
        """Minimum cell size for this request's statistics, or None for exact counts."""
        return statistics_k(self.principal, self.settings.suppression_k)
