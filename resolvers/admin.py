"""Administration queries: the audit trail (``auditLog``, admins only) and ``whoami``.

``auditLog`` pages newest first by keyset (the entry id), filtered by who, which role or
agency, which record, and when. Who may ask is decided by the policy point before execution
(:class:`resolvers.access.AccessGate`); the resolver checks again, so it stays closed even in
a schema without the gate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from hub.access.audit import AuditFilter as EngineAuditFilter
from hub.access.audit import AuditLog, decode_audit_cursor, encode_audit_cursor
from hub.access.policy import PERSONAL_ROLES, PUBLIC, Guard
from resolvers import types
from resolvers.access import guard_of
from resolvers.errors import bad_input


@strawberry.type(description="One entry of the audit trail of personal-data reads (Catatan audit).")
class AuditEntry:
    id: int = strawberry.field(description="Position in the hash chain, from 1, without gaps (Nomor urut).")
    at: datetime = strawberry.field(description="When the data was released, UTC (Waktu akses).")
    subject: str = strawberry.field(description="Who read it: the token subject or API key (Pengguna).")
    role: str = strawberry.field(description="Their role (Peran).")
    agency: str | None = strawberry.field(description="Their agency code (Lembaga pengguna).")
    purpose: str | None = strawberry.field(description="The declared purpose (Tujuan akses).")
    credential: str = strawberry.field(
        description="Which credential was used: `jwt:<token id>` or `api_key:<key id>` (Kredensial)."
    )
    query_hash: str = strawberry.field(description="SHA-256 of the query text (Hash kueri).")
    record_ids: list[strawberry.ID] = strawberry.field(
        description="Global ids of the person records whose personal fields were read (Rekam yang diakses)."
    )
    fields: list[str] = strawberry.field(description="The personal fields read (Kolom data pribadi).")
    prev_hash: str = strawberry.field(description="Hash of the entry before (Hash sebelumnya).")
    hash: str = strawberry.field(
        description="Hash of this entry, chaining it to the one before (Hash entri)."
    )


@strawberry.type(description="An audit entry and its cursor.")
class AuditEntryEdge:
    cursor: str = strawberry.field(description="Opaque position of this entry: pass it as `after`.")
    node: AuditEntry = strawberry.field(description="The entry.")


@strawberry.type(
    description="A page of audit entries, newest first (Relay connection). Forward only (`first`/`after`): "
    "an audit trail is read from the newest entry back, and `auditLog(filter: {since, until})` narrows it "
    "in time, so `last`/`before` add nothing."
)
class AuditEntryConnection:
    edges: list[AuditEntryEdge] = strawberry.field(description="The entries of this page with their cursors.")
    page_info: types.PageInfo = strawberry.field(description="Whether older entries follow, and where.")


@strawberry.input(description="Conditions on audit entries (Filter audit). Fields combine with AND.")
class AuditFilter:
    subject: str | None = strawberry.field(default=None, description="Only reads by this subject (Pengguna).")
    role: str | None = strawberry.field(default=None, description="Only reads by this role (Peran).")
    agency: str | None = strawberry.field(
        default=None, description="Only reads by users of this agency, by code (Lembaga pengguna)."
    )
    record_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only reads of this person record, by global id (Rekam orang)."
    )
    since: datetime | None = strawberry.field(default=None, description="At or after this time (Sejak).")
    until: datetime | None = strawberry.field(default=None, description="At or before this time (Sampai).")


@strawberry.type(description="The caller as the hub sees them (Pengguna saat ini).")
class Viewer:
    subject: str = strawberry.field(description="Token subject, API key name or `anonymous` (Pengguna).")
    role: str = strawberry.field(
        description="Role: public, analyst, caseworker, coordinator or admin (Peran)."
    )
    agency: str | None = strawberry.field(description="Agency code of the caller (Lembaga).")
    purpose: str | None = strawberry.field(description="Declared purpose of this request (Tujuan akses).")
    demo: bool = strawberry.field(description="True when this is a demo hub's anonymous user (Mode demo).")
    may_read_personal_data: bool = strawberry.field(
        description="Whether the role may read personal fields at all; it still needs a purpose, and "
        "caseworkers only see their own agency's (Boleh membaca data pribadi)."
    )
    exact_statistics: bool = strawberry.field(
        description="True if statistics come unsuppressed for this role (Statistik tanpa sensor)."
    )


def _guard(info: Info) -> Guard | None:
    return guard_of(info.context)


def _forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


@strawberry.type(description="Administration: the audit trail and the caller's identity.")
class AdminQueries:
    @strawberry.field(description="The caller's identity, role and rights (Pengguna saat ini).")
    def whoami(self, info: Info) -> Viewer:
        guard = _guard(info)
        principal = guard.principal if guard is not None else PUBLIC
        return Viewer(
            subject=principal.subject,
            role=principal.role,
            agency=principal.agency,
            purpose=principal.purpose,
            demo=principal.demo,
            may_read_personal_data=principal.role in PERSONAL_ROLES,
            exact_statistics=guard is not None and guard.statistics_k() is None,
        )

    @strawberry.field(description="Reads of personal data, newest first (Jejak audit). Admins only.")
    async def audit_log(
        self,
        info: Info,
        filter: Annotated[
            AuditFilter | None, strawberry.argument(description="Conditions on the entries.")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="Page size (at most the hub's cap, default cap 500).")
        ] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last entry of the previous page.")
        ] = None,
    ) -> AuditEntryConnection:
        guard = _guard(info)
        if guard is None or guard.principal.role != "admin":
            raise _forbidden("only admins may read the audit log")
        audit: AuditLog | None = info.context.audit
        if audit is None:
            raise GraphQLError("the audit log is unavailable", extensions={"code": "AUDIT_UNAVAILABLE"})
        cap = info.context.federation.config.max_page_size
        if not 0 <= first <= cap:
            raise bad_input(f"first must be between 0 and {cap}", "first")
        position = None
        if after is not None:
            try:
                position = decode_audit_cursor(after)
            except ValueError:
                raise bad_input("invalid cursor", "after") from None
        value = filter or AuditFilter()
        page = await audit.entries(
            EngineAuditFilter(
                subject=value.subject,
                role=value.role,
                agency=value.agency.upper() if value.agency else None,
                record_id=value.record_id,
                since=value.since,
                until=value.until,
            ),
            first,
            position,
        )
        edges = [
            AuditEntryEdge(
                cursor=encode_audit_cursor(e.id),
                node=AuditEntry(
                    id=e.id,
                    at=e.at_datetime,
                    subject=e.subject,
                    role=e.role,
                    agency=e.agency,
                    purpose=e.purpose,
                    credential=e.credential,
                    query_hash=e.query_hash,
                    record_ids=[strawberry.ID(r) for r in e.record_ids],
                    fields=list(e.fields),
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                ),
            )
            for e in page.entries
        ]
        return AuditEntryConnection(
            edges=edges,
            page_info=types.page_info(
                [edge.cursor for edge in edges], has_next=page.has_next, has_previous=after is not None
            ),
        )
