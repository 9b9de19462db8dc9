"""GraphQL for the clerical review queue: ``linkReviews`` and the decisions on it.

Coordinators (the policy point's ``REVIEW_ROLES``) see the possible links the linkage job left
apart: which two records, held by which agencies, the score, and the agreement level of every
field — never a name, NIK or other value. To compare the values themselves they open the two
records with ``node(id:)``, where the policy point and the audit trail apply as on any read.
A decision is written to the audit chain first (if that fails, nothing is decided), then
stored; a confirmation merges the two persons at once, and later linkage runs respect both
kinds of decision (:mod:`hub.linkage.review`). ``undoLinkDecision`` reverses either, audited
the same way: the pair is pending again and a confirmation's merge is split.
"""

from __future__ import annotations

import base64
import binascii
import enum
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError, print_ast
from strawberry.types import Info

from hub.access.audit import AuditLog, AuditUnavailable
from hub.access.policy import PersonalRead
from hub.engine.federation import Federation
from hub.engine.ids import encode_id
from hub.engine.persons import encode_person_id
from hub.linkage.names import NameLevel
from hub.linkage.review import NotDecided, ReviewItem, ReviewNotFound, ReviewQueue, ReviewStatus
from hub.linkage.scoring import Agreement
from hub.vocabulary.model import Entity
from resolvers import types
from resolvers.access import guard_of
from resolvers.convert import agency_of

_ID_PREFIX = "linkreview:"


def _bad_input(message: str, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


def record_id(source: str, key: str) -> str:
    """The global id of a person record (the id ``node(id:)`` opens)."""
    return encode_id(source, Entity.PERSON, key)


def encode_review_id(number: int) -> str:
    return base64.urlsafe_b64encode(f"{_ID_PREFIX}{number}".encode()).decode().rstrip("=")


def decode_review_id(text: str, argument: str) -> int:
    """The queue number of a review id, or ``BAD_USER_INPUT``."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_input("malformed id", argument) from None
    if not raw.startswith(_ID_PREFIX) or not raw[len(_ID_PREFIX) :].isdigit():
        raise _bad_input("id does not name a possible link", argument)
    return int(raw[len(_ID_PREFIX) :])


# --- enums ------------------------------------------------------------------------------------


@strawberry.enum(description="How far two recorded names agree (Tingkat kesamaan nama).")
class NameAgreement(enum.Enum):
    EXACT = strawberry.enum_value("EXACT", description="The same name tokens, in any order (Sama persis).")
    VARIANT = strawberry.enum_value(
        "VARIANT",
        description="The same tokens up to spelling variants, initials or known nicknames (Varian ejaan).",
    )
    SIMILAR = strawberry.enum_value(
        "SIMILAR", description="One typing slip in a token, the rest alike (Mirip)."
    )
    SUBSET = strawberry.enum_value(
        "SUBSET",
        description="Every token of the shorter name is in the longer one: a name left out (Sebagian nama).",
    )
    SHORT_FORM = strawberry.enum_value(
        "SHORT_FORM", description="A token written as its head or tail, like a nickname (Nama panggilan)."
    )
    FUZZY = strawberry.enum_value(
        "FUZZY", description="Alike by fuzzy comparison, not token by token (Agak mirip)."
    )
    PARTIAL = strawberry.enum_value(
        "PARTIAL", description="A one-word name found in a longer one (Satu kata sama)."
    )
    WEAK = strawberry.enum_value("WEAK", description="Weakly alike (Sedikit mirip).")
    DIFFERENT = strawberry.enum_value("DIFFERENT", description="Different names (Berbeda).")
    MISSING = strawberry.enum_value("MISSING", description="One side has no name (Tidak ada).")


@strawberry.enum(description="How far one field of two records agrees (Tingkat kesamaan kolom).")
class FieldAgreement(enum.Enum):
    EXACT = strawberry.enum_value("EXACT", description="Equal (Sama).")
    ONE_DIGIT = strawberry.enum_value(
        "ONE_DIGIT", description="One digit differs, or two adjacent digits are swapped (Beda satu digit)."
    )
    SWAPPED = strawberry.enum_value("SWAPPED", description="Day and month swapped (Hari dan bulan tertukar).")
    NEAR = strawberry.enum_value("NEAR", description="Within a month (Selisih kurang dari sebulan).")
    YEAR = strawberry.enum_value(
        "YEAR", description="The same year; one side knows only the year (Tahun sama)."
    )
    YEAR_OFF_ONE = strawberry.enum_value("YEAR_OFF_ONE", description="One year apart (Selisih satu tahun).")
    SAME = strawberry.enum_value("SAME", description="The same, up to writing style (Sama).")
    SIMILAR = strawberry.enum_value("SIMILAR", description="Similar (Mirip).")
    SAME_REGENCY = strawberry.enum_value(
        "SAME_REGENCY", description="The same regency (Kabupaten/kota sama)."
    )
    SAME_PROVINCE = strawberry.enum_value(
        "SAME_PROVINCE", description="The same province, another regency (Provinsi sama)."
    )
    SAME_YEAR_CONFLICT = strawberry.enum_value(
        "SAME_YEAR_CONFLICT", description="Full dates months apart in the same year (Tanggal berbeda)."
    )
    CONFLICT = strawberry.enum_value("CONFLICT", description="In conflict (Bertentangan).")
    DIFFERENT = strawberry.enum_value("DIFFERENT", description="Different (Berbeda).")
    MISSING = strawberry.enum_value("MISSING", description="Not recorded on one side or both (Tidak ada).")


@strawberry.enum(description="Where a possible link stands (Status tinjauan).")
class LinkReviewStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="Awaiting a decision (Menunggu).")
    CONFIRMED = strawberry.enum_value(
        "CONFIRMED", description="A coordinator confirmed: one person (Dikonfirmasi)."
    )
    REJECTED = strawberry.enum_value("REJECTED", description="A coordinator rejected: two people (Ditolak).")


# --- types ------------------------------------------------------------------------------------


@strawberry.type(
    description="The agreement level of every field of a pair, never the values (Bukti per kolom)."
)
class LinkEvidence:
    name: NameAgreement = strawberry.field(description="Given names (Nama).")
    nik: FieldAgreement = strawberry.field(description="NIK (Nomor Induk Kependudukan).")
    passport_number: FieldAgreement = strawberry.field(description="Passport number (Nomor paspor).")
    birth_date: FieldAgreement = strawberry.field(
        description="Birth date, as recorded or as encoded in the NIK (Tanggal lahir)."
    )
    sex: FieldAgreement = strawberry.field(description="Sex (Jenis kelamin).")
    phone: FieldAgreement = strawberry.field(description="Phone number (Nomor telepon).")
    address: FieldAgreement = strawberry.field(description="Address (Alamat).")
    region: FieldAgreement = strawberry.field(description="Domicile regency or the NIK's region (Wilayah).")
    patronym: FieldAgreement = strawberry.field(description="Father's name after bin/binti (Nama ayah).")


@strawberry.type(description="One record of a possible link, by reference only (Rekam yang ditinjau).")
class ReviewedRecord:
    record_id: strawberry.ID = strawberry.field(
        description="Global id of the person record: open it with `node(id:)` (Rekam orang)."
    )
    agency: types.Agency = strawberry.field(description="The agency holding the record (Lembaga pencatat).")
    person_id: strawberry.ID | None = strawberry.field(
        description="The person the record belongs to now; null if it left the index (Orang)."
    )


@strawberry.type(
    description="Two records the linkage left apart because the evidence is uncertain, for a coordinator "
    "to decide (Kemungkinan keterkaitan)."
)
class PossibleLink:
    id: strawberry.ID = strawberry.field(description="Id of the possible link (Id tinjauan).")
    left: ReviewedRecord = strawberry.field(description="The first record (Rekam pertama).")
    right: ReviewedRecord = strawberry.field(description="The second record (Rekam kedua).")
    score: float = strawberry.field(description="The pair's score, below the link threshold (Skor).")
    rule: str = strawberry.field(
        description="The strongest evidence, e.g. `NAME_ONLY` (a name alone never links), "
        "`NAME_BIRTH_DATE` (Aturan)."
    )
    evidence: LinkEvidence = strawberry.field(description="Agreement per field (Bukti per kolom).")
    status: LinkReviewStatus = strawberry.field(description="Where it stands (Status).")
    found_at: datetime = strawberry.field(description="When a linkage run found it (Ditemukan).")
    decided_by: str | None = strawberry.field(description="Who decided, by subject (Diputuskan oleh).")
    decided_at: datetime | None = strawberry.field(description="When it was decided (Waktu keputusan).")


@strawberry.type(description="A possible link and its cursor.")
class PossibleLinkEdge:
    cursor: str = strawberry.field(description="Opaque position: pass it as `after`.")
    node: PossibleLink = strawberry.field(description="The possible link.")


@strawberry.type(description="A page of the review queue (Antrian tinjauan).")
class PossibleLinkConnection:
    edges: list[PossibleLinkEdge] = strawberry.field(description="The possible links of this page.")
    page_info: types.PageInfo = strawberry.field(description="Where the page ends.")
    total_count: int = strawberry.field(description="Open possible links in the queue (Jumlah antrian).")
    persons_affected: int = strawberry.field(
        description="Persons resting on unreviewed possible links: each may be the same human being as "
        "another person in the queue (Orang dengan keterkaitan belum ditinjau)."
    )


# --- conversion -------------------------------------------------------------------------------


def _record(federation: Federation, ref: tuple[str, str], person: int | None) -> ReviewedRecord:
    source, key = ref
    return ReviewedRecord(
        record_id=strawberry.ID(record_id(source, key)),
        agency=agency_of(federation.registry.get(source)),
        person_id=strawberry.ID(encode_person_id(person)) if person is not None else None,
    )


def _possible_link(federation: Federation, item: ReviewItem) -> PossibleLink:
    levels = item.levels

    def level(name: str) -> FieldAgreement:
        return FieldAgreement[levels.get(name, Agreement.MISSING.value)]

    return PossibleLink(
        id=strawberry.ID(encode_review_id(item.id)),
        left=_record(federation, item.left, item.left_person),
        right=_record(federation, item.right, item.right_person),
        score=item.score,
        rule=item.rule,
        evidence=LinkEvidence(
            name=NameAgreement[levels.get("name", NameLevel.MISSING.name)],
            nik=level("nik"),
            passport_number=level("passportNumber"),
            birth_date=level("birthDate"),
            sex=level("sex"),
            phone=level("phone"),
            address=level("address"),
            region=level("region"),
            patronym=level("patronym"),
        ),
        status=LinkReviewStatus[item.status.value],
        found_at=item.found_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
    )


def _queue(info: Info) -> ReviewQueue:
    index = info.context.linkage
    if index is None:
        raise _bad_input("the hub has no linkage store", "id")
    return ReviewQueue(index.engine)


def _hidden(info: Info) -> tuple:
    federation: Federation = info.context.federation
    guard = guard_of(info.context)
    if guard is None:
        raise GraphQLError("no access context", extensions={"code": "FORBIDDEN"})
    return guard.hidden_entries(e.name for e in federation.registry.all())


# --- resolvers --------------------------------------------------------------------------------


@strawberry.type(description="The clerical review queue of record linkage (Antrian tinjauan keterkaitan).")
class ReviewQueries:
    @strawberry.field(
        description="Possible links awaiting a coordinator's decision, in the order runs found them "
        "(best score first within a run); coordinators only (Antrian tinjauan keterkaitan)."
    )
    async def link_reviews(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size (at most the hub's cap).")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last item of the previous page.")
        ] = None,
    ) -> PossibleLinkConnection:
        federation: Federation = info.context.federation
        cap = federation.config.max_page_size
        if not 0 <= first <= cap:
            raise _bad_input(f"first must be between 0 and {cap}", "first")
        position = decode_review_id(after, "after") if after is not None else None
        queue = _queue(info)
        hidden = _hidden(info)
        items = await queue.page(position, first + 1, hidden)
        total, persons = await queue.counts(hidden)
        nodes = [_possible_link(federation, item) for item in items[:first]]
        edges = [PossibleLinkEdge(cursor=str(node.id), node=node) for node in nodes]
        return PossibleLinkConnection(
            edges=edges,
            page_info=types.page_info(
                [edge.cursor for edge in edges], has_next=len(items) > first, has_previous=after is not None
            ),
            total_count=total,
            persons_affected=persons,
        )


async def _audit(info: Info, item: ReviewItem, action: str) -> None:
    """Append the decision to the audit chain first; if that fails, nothing is decided."""
    guard = guard_of(info.context)
    assert guard is not None  # _hidden raised otherwise
    audit: AuditLog | None = info.context.audit
    reads = [
        PersonalRead(record_id=record_id(*ref), field=action, path=(action,))
        for ref in (item.left, item.right)
    ]
    try:
        if audit is None:
            raise AuditUnavailable("no audit log in the request context")
        await audit.append(guard.principal, print_ast(info.operation), reads)
    except AuditUnavailable:
        raise GraphQLError(
            "the decision was not recorded: the audit log is unavailable",
            extensions={"code": "AUDIT_UNAVAILABLE"},
        ) from None


async def _decide(info: Info, id: str, status: ReviewStatus) -> PossibleLink:
    federation: Federation = info.context.federation
    number = decode_review_id(id, "id")
    queue = _queue(info)
    hidden = _hidden(info)
    guard = guard_of(info.context)
    assert guard is not None  # _hidden raised otherwise
    open_items = await queue.page(number - 1, 1, hidden)
    if not open_items or open_items[0].id != number:
        raise _bad_input("no open possible link has that id (decided, resolved or hidden)", "id")
    item = open_items[0]
    await _audit(info, item, "confirmLink" if status is ReviewStatus.CONFIRMED else "rejectLink")
    try:
        decided = await queue.decide(number, status, by=guard.principal.subject)
    except ReviewNotFound:
        raise _bad_input("no possible link has that id", "id") from None
    return _possible_link(federation, decided)


@strawberry.type(description="Decisions on the review queue (Keputusan tinjauan). Coordinators only.")
class ReviewMutation:
    @strawberry.mutation(
        description="Confirm that the two records are one person: their persons are merged now, and later "
        "linkage runs keep them together. Audited (Konfirmasi keterkaitan). Coordinators only."
    )
    async def confirm_link(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Id of the possible link.")],
    ) -> PossibleLink:
        return await _decide(info, id, ReviewStatus.CONFIRMED)

    @strawberry.mutation(
        description="Reject the possible link: the two records are different people, and later linkage "
        "runs never join them. Audited (Tolak keterkaitan). Coordinators only."
    )
    async def reject_link(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Id of the possible link.")],
    ) -> PossibleLink:
        return await _decide(info, id, ReviewStatus.REJECTED)

    @strawberry.mutation(
        description="Undo a confirmation or rejection: the pair is awaiting review again and later linkage "
        "runs no longer bind themselves to the decision; an undone confirmation splits the merged person "
        "back into the two it joined (records that joined since stay with the first until the next full "
        "run). Audited (Batalkan keputusan tinjauan). Coordinators only."
    )
    async def undo_link_decision(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Id of the decided possible link.")],
    ) -> PossibleLink:
        federation: Federation = info.context.federation
        number = decode_review_id(id, "id")
        queue = _queue(info)
        hidden = _hidden(info)
        try:
            item = await queue.get_visible(number, hidden)
        except ReviewNotFound:
            raise _bad_input("no possible link has that id (or one of its records is hidden)", "id") from None
        if item.status is ReviewStatus.PENDING:
            raise _bad_input("the possible link has no decision to undo", "id")
        await _audit(info, item, "undoLinkDecision")
        try:
            undone = await queue.undo(number)
        except (ReviewNotFound, NotDecided):  # decided or undone by someone else meanwhile
            raise _bad_input("the possible link has no decision to undo", "id") from None
        return _possible_link(federation, undone)
