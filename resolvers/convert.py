"""Engine results → GraphQL objects: plain constructors, no I/O.

Relations are read from what the engine attached (``Linked.links``); a relation that was not
asked for is simply empty, because the field is then not in the selection either.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import strawberry

from hub.engine.federation import Linked
from hub.engine.ids import encode_id
from hub.engine.persons import KnownLocation, PersonView, encode_person_id
from hub.engine.sources import RegisteredSource, SourceRegistry, SourceState
from hub.vocabulary import model, reference
from resolvers import enums, types


class Converter:
    """Builds GraphQL objects for one request; agencies are looked up once per source."""

    def __init__(self, registry: SourceRegistry) -> None:
        self._registry = registry
        self._agencies: dict[str, types.Agency] = {}

    def agency(self, source: str) -> types.Agency:
        found = self._agencies.get(source)
        if found is None:
            entry = self._registry.get(source)
            found = self._agencies[source] = agency_of(entry)
        return found

    def case(self, node: Linked) -> types.Case:
        r: model.CaseRecord = node.record  # type: ignore[assignment]
        links = node.links
        if links:  # relations the query selected (a page's cases usually have some)
            people = [self.person(p) for p in links.get("participants", ())]
            victims = [p for p in people if not _VICTIM.isdisjoint(p.roles)]
            perpetrators = [p for p in people if not _PERPETRATOR.isdisjoint(p.roles)]
            witnesses = [p for p in people if not _WITNESS.isdisjoint(p.roles)]
            stage_history = [self.stage_event(e) for e in _by_date(links.get("stage_history", ()), "date")]
            services = [self.service(s) for s in _by_date(links.get("services", ()), "start_date")]
        else:
            victims, perpetrators, witnesses, stage_history, services = [], [], [], [], []
        return types.Case(
            id=encode_id(r.source, model.Entity.CASE, r.key),
            agency=self.agency(r.source),
            source=r.source,
            source_key=r.source_key,
            reported_at=r.reported_at,
            region=region(r.region) if r.region is not None else None,
            country_of_exploitation=r.country,
            exploitation_types=list(r.exploitation_types),
            means=list(r.means),
            stage=r.stage,
            stage_history=stage_history,
            victims=victims,
            perpetrators=perpetrators,
            witnesses=witnesses,
            services=services,
        )

    def person(self, node: Linked) -> types.PersonRecord:
        r: model.PersonRecord = node.record  # type: ignore[assignment]
        links = node.links
        case = person = None
        services: list[types.Service] = []
        if links:  # relations of the record the query selected
            case, person = links.get("case"), links.get("person")
            services = [self.service(s) for s in _by_date(links.get("services", ()), "start_date")]
        return types.PersonRecord(
            id=encode_id(r.source, model.Entity.PERSON, r.key),
            agency=self.agency(r.source),
            roles=list(r.roles),
            sex=r.sex,
            age_group=r.age_group,
            is_child=r.is_child,
            citizenship=r.citizenship,
            domicile_region=region(r.domicile_region) if r.domicile_region is not None else None,
            case=self.case(case) if case is not None else None,
            services=services,
            record=r,
            person=self.linked_person(person) if person is not None else None,
        )

    def linked_person(self, view: PersonView | None) -> types.Person | None:
        """The linked Person the engine attached (``hub.engine.persons.PersonView``), if any."""
        return self.person_object(view) if view is not None else None

    def person_object(self, view: PersonView) -> types.Person:
        """The GraphQL Person of an engine view (plain constructor, no I/O)."""
        agencies: dict[str, types.Agency] = {}
        for source in view.sources:
            agency = self.agency(source)
            agencies.setdefault(agency.code, agency)
        return types.Person(
            id=strawberry.ID(encode_person_id(view.person_id)),
            records=[self.person(r) for r in view.records],
            agencies=list(agencies.values()),
            roles=list(view.roles),
            is_victim=view.is_victim,
            cases=[self.case(c) for c in view.cases],
            services=[self.service(s) for s in view.services],
            last_known_location=self.location(view.last_location),
            service_gaps=None
            if view.gaps is None
            else [
                types.ServiceGap(type=g.type, legal_basis=g.legal_basis, satisfied_by=list(g.satisfied_by))
                for g in view.gaps
            ],
            links=[
                types.RecordLink(
                    record_id=strawberry.ID(encode_id(e.source, model.Entity.PERSON, e.key)),
                    agency=self.agency(e.source),
                    rule=e.rule,
                    score=e.score,
                )
                for e in view.entries
            ],
        )

    def location(self, loc: KnownLocation | None) -> types.KnownLocation | None:
        if loc is None:
            return None
        return types.KnownLocation(
            date=loc.date,
            basis=types.LocationBasis[loc.basis],
            agency=self.agency(loc.source),
            source=loc.source,
            region=region(loc.region),
            country=loc.country,
            place=loc.place,
        )

    def service(self, node: Linked) -> types.Service:
        r: model.ServiceRecord = node.record  # type: ignore[assignment]
        links = node.links
        recipient, case = links.get("recipient"), links.get("case")
        return types.Service(
            id=encode_id(r.source, model.Entity.SERVICE, r.key),
            type=r.type,
            status=r.status,
            provider=self.agency(r.source),
            provider_unit=r.provider_unit,
            recipient=self.person(recipient) if recipient is not None else None,
            case=self.case(case) if case is not None else None,
            start_date=r.start_date,
            end_date=r.end_date,
            location=r.location,
        )

    def stage_event(self, node: Linked) -> types.StageEvent:
        r: model.StageEventRecord = node.record  # type: ignore[assignment]
        return types.StageEvent(
            stage=r.stage, date=r.date, agency=self.agency(r.source), reference=r.reference
        )

    def any(self, node: Linked) -> Any:
        """The GraphQL object for a record of any entity (for ``node(id:)``)."""
        record = node.record
        if isinstance(record, model.CaseRecord):
            return self.case(node)
        if isinstance(record, model.PersonRecord):
            return self.person(node)
        if isinstance(record, model.ServiceRecord):
            return self.service(node)
        return None


def agency_of(entry: RegisteredSource | None) -> types.Agency:
    """The GraphQL Agency of a source (or an explicit 'unknown' one if it has none)."""
    if entry is None or entry.source is None:
        return types.Agency(code="UNKNOWN", name="Unknown agency", type=model.OrgType.OTHER)
    agency = entry.source.agency
    return types.Agency(code=agency.code, name=agency.name, type=agency.type)


def source_info(entry: RegisteredSource) -> types.SourceInfo:
    """The GraphQL SourceInfo of a registered source (``sources``, and registration answers)."""
    source = entry.source
    return types.SourceInfo(
        name=entry.name,
        agency=agency_of(entry) if source is not None else None,
        description=source.description if source is not None else "",
        status=enums.SourceStatus.UP if entry.state is SourceState.UP else enums.SourceStatus.DOWN,
        detail=entry.detail,
        last_checked_at=entry.last_checked_at,
        breaker=enums.BreakerStatus[entry.breaker.state.name],
        entities=sorted(
            (enums.EntityKind[e.name] for e in source.capabilities.entities) if source else [],
            key=lambda k: k.name,
        ),
    )


@lru_cache(maxsize=2048)
def region(code: str | None) -> types.Region | None:
    """The Region object of a code; reference data, so safe to cache process-wide."""
    if code is None:
        return None
    found = reference.regions().by_code(code)
    if found is None:
        return None
    province = None
    if found.level == "REGENCY":
        province = region(found.province_code)
    result = types.Region(
        code=found.code, name=found.name, level=model.RegionLevel[found.level], province=province
    )
    if province is None:
        result.province = result
    return result


#: The roles that put a case's person record under ``victims``, ``perpetrators``, ``witnesses``.
_VICTIM, _PERPETRATOR, _WITNESS = model.VICTIM_ROLES, model.PERPETRATOR_ROLES, model.WITNESS_ROLES


def _by_date(nodes: Any, attribute: str) -> list[Linked]:
    if len(nodes) < 2:  # most cases have one service or none: nothing to order
        return list(nodes)
    return sorted(
        nodes,
        key=lambda n: (
            getattr(n.record, attribute) is None,
            getattr(n.record, attribute) or 0,
            n.record.key,
        ),
    )
