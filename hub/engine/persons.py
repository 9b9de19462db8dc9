"""One person across agencies: the engine behind ``person``, ``persons`` and ``PersonRecord.person``.

The linkage index (:mod:`hub.linkage.index`) says which agency records are one human being;
everything else is read **live** from the sources through the request's loaders, so a Person
always shows what the agencies hold now, under the same policy, batching and partial-failure
rules as any other query:

- ``records`` — the linked person records (one batch per source through
  ``ctx.loaders.by_key(Entity.PERSON)``);
- ``cases`` — the distinct cases of those records, in report-date order;
- ``services`` — one timeline across agencies: every service recorded for any of the records,
  ordered by start date (undated last), then end date, agency and key;
- ``last_location`` — where the person was last recorded (rule below);
- ``gaps`` — entitlements no agency has recorded yet (rule below).

**Last known location** is the latest dated event among
(a) the person's services that actually happened (status other than PLANNED), dated by their
end date if they have one, else their start date, located at their location or providing unit;
(b) the person's records, dated by their case's report date, located at the recorded domicile
regency or, when the agency records none, at the case's region (with its country of
exploitation). On the same date a service wins over a domicile, and a domicile over a case
region; remaining ties go to the agency name, then the key, so the answer is deterministic.

**Service gaps** apply to persons with a victim role (VICTIM or VICTIM_WITNESS in any record):
each entitlement of UU 21/2007 Pasal 51 — HEALTH_REHABILITATION, SOCIAL_REHABILITATION,
REPATRIATION, SOCIAL_REINTEGRATION — and LEGAL_AID (UU 21/2007 Pasal 35, layanan hukum of
Permen PPPA 8/2021) is a gap when no agency has recorded a service that satisfies it, in any
status. A protection programme's medical/psychosocial aid satisfies health rehabilitation. Repatriation is an
entitlement only when one of the person's cases is cross-border (has a country of
exploitation). A person whose records could not all be read (a source down) is reported
with the gaps of what could be read; the response says which source failed.

Person ids are global ids in a reserved namespace (``_linkage``, which no source may be
called) with the index's opaque person number as key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.engine.federation import Federation, Include, Linked
from hub.engine.ids import GlobalId, InvalidId, decode_number_cursor, encode_id, encode_number_cursor
from hub.engine.loaders import load_all
from hub.engine.scope import RequestContext
from hub.linkage.index import IndexEntry, LinkageIndex, PersonQuery, RecordRef
from hub.vocabulary.model import (
    VICTIM_ROLES,
    CaseRecord,
    Entity,
    PersonRecord,
    PersonRole,
    ServiceRecord,
    ServiceStatus,
    ServiceType,
)
from hub.vocabulary.relations import RELATIONS

#: Source part of Person global ids: not a valid source name, so it can never clash.
LINKAGE_SOURCE = "_linkage"

#: Entitlement → the recorded service types that satisfy it, with its legal basis.
ENTITLEMENTS: dict[ServiceType, tuple[frozenset[ServiceType], str]] = {
    ServiceType.HEALTH_REHABILITATION: (
        frozenset({ServiceType.HEALTH_REHABILITATION, ServiceType.PROTECTION_MEDICAL_PSYCHOSOCIAL}),
        "UU 21/2007 Pasal 51",
    ),
    ServiceType.SOCIAL_REHABILITATION: (
        frozenset({ServiceType.SOCIAL_REHABILITATION}),
        "UU 21/2007 Pasal 51",
    ),
    ServiceType.REPATRIATION: (frozenset({ServiceType.REPATRIATION}), "UU 21/2007 Pasal 51"),
    ServiceType.SOCIAL_REINTEGRATION: (frozenset({ServiceType.SOCIAL_REINTEGRATION}), "UU 21/2007 Pasal 51"),
    ServiceType.LEGAL_AID: (
        frozenset({ServiceType.LEGAL_AID}),
        "UU 21/2007 Pasal 35; Permen PPPA 8/2021 (layanan hukum)",
    ),
}

# Which Person parts need which live data.
_NEEDS_SERVICES = ("services", "location", "gaps")
_NEEDS_CASES = ("cases", "location", "gaps")
_LOCATION_PRIORITY = {"SERVICE": 2, "DOMICILE": 1, "CASE_REGION": 0}


def encode_person_id(person_id: int) -> str:
    """The opaque global id of a linked person."""
    return encode_id(LINKAGE_SOURCE, Entity.PERSON, str(person_id))


def decode_person_id(text: str) -> int | None:
    """The person number in a Person id; None if it is another kind of id; InvalidId if malformed."""
    gid = GlobalId.decode(text)
    if gid.source != LINKAGE_SOURCE:
        return None
    return _person_number(gid.key, "malformed id")


#: Person numbers are SQL BIGINTs: at most 19 ASCII digits and below 2**63.
_PERSON_NUMBER = re.compile(r"^[0-9]{1,19}$")


def _person_number(text: str, problem: str) -> int:
    """A person number from its decimal text; :class:`InvalidId` if it cannot be one."""
    if not _PERSON_NUMBER.match(text) or int(text) >= 2**63:
        raise InvalidId(problem)
    return int(text)


def encode_person_cursor(person_id: int) -> str:
    """The cursor after ``person_id`` in the persons list (:mod:`hub.engine.ids` codec)."""
    return encode_number_cursor("person", person_id)


def decode_person_cursor(text: str) -> int:
    """The person number in a persons cursor; :class:`InvalidId` if it is not one."""
    return decode_number_cursor(text, "person")


@dataclass(frozen=True, slots=True)
class KnownLocation:
    """Where a person was last recorded, and by which source."""

    date: date
    basis: str  # SERVICE, DOMICILE or CASE_REGION
    source: str
    region: str | None = None
    country: str | None = None
    place: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceGap:
    """An entitlement no agency has recorded for a victim."""

    type: ServiceType
    legal_basis: str
    satisfied_by: tuple[ServiceType, ...]


@dataclass(slots=True)
class PersonView:
    """A linked person with what the request asked for, read live."""

    person_id: int
    entries: list[IndexEntry]
    records: list[Linked] = field(default_factory=list)
    cases: list[Linked] = field(default_factory=list)
    services: list[Linked] = field(default_factory=list)
    last_location: KnownLocation | None = None
    gaps: list[ServiceGap] | None = None

    @property
    def roles(self) -> list[PersonRole]:
        found = {role for entry in self.entries for role in entry.roles}
        return [role for role in PersonRole if role in found]

    @property
    def is_victim(self) -> bool:
        return any(role in VICTIM_ROLES for role in self.roles)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(entry.source for entry in self.entries))


@dataclass(slots=True)
class PersonPage:
    items: list[PersonView]
    has_next: bool
    total: int | None


class Persons:
    """Loads linked persons for one request."""

    def __init__(self, federation: Federation, index: LinkageIndex) -> None:
        self.federation = federation
        self.index = index

    async def page(
        self,
        ctx: RequestContext,
        query: PersonQuery,
        after: int | None,
        first: int,
        include: Include,
        want_total: bool,
    ) -> PersonPage:
        ids, total = await asyncio.gather(
            self.index.page(query, after, first + 1),
            self.index.count(query) if want_total else _none(),
        )
        views = await self.load(ctx, ids[:first], include)
        return PersonPage(views, len(ids) > first, total)

    async def get(self, ctx: RequestContext, person_id: int, include: Include) -> PersonView | None:
        views = await self.load(ctx, [person_id], include)
        return views[0] if views and views[0].entries else None

    async def load(
        self, ctx: RequestContext, person_ids: Sequence[int], include: Include
    ) -> list[PersonView]:
        """Views of these persons (in order), with their live data as ``include`` asks."""
        entries = await self.index.records_of(person_ids)
        views = [PersonView(pid, entries.get(pid, [])) for pid in person_ids]
        if not any(key in include for key in ("records", *_NEEDS_SERVICES, *_NEEDS_CASES)):
            return views
        record_include = _record_include(include)
        assert ctx.loaders is not None
        refs = [(e.source, e.key) for view in views for e in view.entries]
        found = await load_all(ctx.loaders.by_key(Entity.PERSON), refs)
        by_ref: dict[RecordRef, Linked] = {}
        for ref, record in zip(refs, found, strict=True):
            if record is not None and ref not in by_ref:
                by_ref[ref] = Linked(record)
        if ctx.linkage is not None:
            await ctx.linkage.prefetch(by_ref)
        await expand(ctx, self.federation, self.index, Entity.PERSON, list(by_ref.values()), record_include)
        for view in views:
            view.records = [by_ref[(e.source, e.key)] for e in view.entries if (e.source, e.key) in by_ref]
            _assemble(view, include)
        return views


async def _none() -> None:
    return None


def _record_include(include: Include) -> dict[str, Any]:
    """What to load below each record so the person's parts can be assembled."""
    tree: dict[str, Any] = {}
    _merge(tree, include.get("records", {}))
    if any(k in include for k in _NEEDS_SERVICES):
        _merge(tree.setdefault("services", {}), include.get("services", {}))
    if any(k in include for k in _NEEDS_CASES):
        _merge(tree.setdefault("case", {}), include.get("cases", {}))
    return tree


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        _merge(into.setdefault(key, {}), value)


def _assemble(view: PersonView, include: Include) -> None:
    cases: dict[RecordRef, Linked] = {}
    services: dict[RecordRef, Linked] = {}
    for node in view.records:
        case = node.links.get("case")
        if case is not None:
            cases.setdefault((case.record.source, case.record.key), case)
        for service in node.links.get("services", ()):
            services.setdefault((service.record.source, service.record.key), service)
    view.cases = sorted(cases.values(), key=_case_order)
    view.services = sorted(services.values(), key=_service_order)
    if "location" in include:
        view.last_location = last_known_location(view.records, view.services)
    if "gaps" in include:
        view.gaps = service_gaps(view) if view.is_victim else None


def _case_order(node: Linked) -> tuple[bool, date, str, str]:
    r: CaseRecord = node.record  # type: ignore[assignment]
    return (r.reported_at is None, r.reported_at or date.min, r.source, r.key)


def _service_order(node: Linked) -> tuple[bool, date, date, str, str]:
    r: ServiceRecord = node.record  # type: ignore[assignment]
    return (r.start_date is None, r.start_date or date.min, r.end_date or date.min, r.source, r.key)


def last_known_location(records: Sequence[Linked], services: Sequence[Linked]) -> KnownLocation | None:
    """The latest dated location from any source (rule in the module docstring)."""
    candidates: list[KnownLocation] = []
    for node in services:
        s: ServiceRecord = node.record  # type: ignore[assignment]
        when = s.end_date or s.start_date
        if when is None or s.status is ServiceStatus.PLANNED:
            continue
        candidates.append(KnownLocation(when, "SERVICE", s.source, place=s.location or s.provider_unit))
    for node in records:
        r: PersonRecord = node.record  # type: ignore[assignment]
        case = node.links.get("case")
        if case is None or case.record.reported_at is None:
            continue
        c: CaseRecord = case.record
        if r.domicile_region:
            candidates.append(KnownLocation(c.reported_at, "DOMICILE", r.source, region=r.domicile_region))
        elif c.region or c.country:
            candidates.append(
                KnownLocation(c.reported_at, "CASE_REGION", r.source, region=c.region, country=c.country)
            )
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda loc: (loc.date, _LOCATION_PRIORITY[loc.basis], loc.source, loc.place or loc.region or ""),
    )


def service_gaps(view: PersonView) -> list[ServiceGap]:
    """Entitlements of a victim that no agency has recorded (rule in the module docstring)."""
    received = {node.record.type for node in view.services}  # type: ignore[attr-defined]
    cross_border = any(node.record.country for node in view.cases)  # type: ignore[attr-defined]
    gaps = []
    for entitlement, (satisfied_by, basis) in ENTITLEMENTS.items():
        if entitlement is ServiceType.REPATRIATION and not cross_border:
            continue
        if not received & satisfied_by:
            ordered = tuple(t for t in ServiceType if t in satisfied_by)
            gaps.append(ServiceGap(entitlement, basis, ordered))
    return gaps


# --- PersonRecord.person: the look-ahead hook ---------------------------------------------


def _strip(include: Include) -> dict[str, Any]:
    return {k: _strip(v) for k, v in include.items() if k != "person"}


def _targets(entity: Entity, nodes: Sequence[Linked], include: Include, out: list[Linked], sub: dict) -> None:
    for name, below in include.items():
        if name == "person":
            out.extend(nodes)
            _merge(sub, below)
            continue
        relation = RELATIONS.get((entity, name))
        if relation is None:
            continue
        children: list[Linked] = []
        for node in nodes:
            value = node.links.get(relation.into or name)
            if isinstance(value, list):
                children.extend(value)
            elif value is not None:
                children.append(value)
        _targets(relation.target, children, below, out, sub)


def _person_refs(nodes: Iterable[Any]) -> list[RecordRef]:
    """(source, key) of every person record in a tree of linked records."""
    refs: list[RecordRef] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, Linked):
            continue
        if isinstance(node.record, PersonRecord):
            refs.append((node.record.source, node.record.key))
        stack.extend(v for v in node.links.values() if v is not None)
    return refs


async def expand(
    ctx: RequestContext,
    federation: Federation,
    index: LinkageIndex | None,
    entity: Entity,
    nodes: list[Linked],
    include: Include,
    *,
    at_once: bool = False,
) -> None:
    """:meth:`Federation.expand`, plus the ``person`` relation of person records.

    The source relations are expanded first; then every person record under a ``person``
    selection is looked up in the index in one batch, and the persons are loaded together.
    ``at_once``: as :meth:`Federation.expand`.
    """
    await federation.expand(ctx, entity, nodes, _strip(include), at_once=at_once)
    if ctx.linkage is not None:
        await ctx.linkage.prefetch(_person_refs(nodes))
    targets: list[Linked] = []
    sub: dict[str, Any] = {}
    _targets(entity, nodes, include, targets, sub)
    if not targets:
        return
    for node in targets:
        node.links["person"] = None
    if index is None:
        return
    refs = [(n.record.source, n.record.key) for n in targets]
    person_of = await index.persons_of(refs)
    wanted = sorted(set(person_of.values()))
    views = await Persons(federation, index).load(ctx, wanted, sub)
    by_id = {view.person_id: view for view in views}
    for node, ref in zip(targets, refs, strict=True):
        pid = person_of.get(ref)
        node.links["person"] = by_id.get(pid) if pid is not None else None
