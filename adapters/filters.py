"""A national case filter as WHERE conditions on a compiled source.

:func:`case_conditions` assembles the per-field predicates of :mod:`adapters.predicates` for a
:class:`~hub.vocabulary.model.CaseFilter`: every condition is evaluated by the agency's
database on the compiled field expressions, the same ones records and statistics read.
(The keyset condition of case paging is :mod:`adapters.keyset`'s, with its ORDER BY.)
"""

from __future__ import annotations

from sqlalchemy import literal, or_, select
from sqlalchemy.sql.expression import ColumnElement

from adapters import predicates
from adapters.compiler import CompiledPart, CompiledSource
from hub.vocabulary.model import CaseFilter, Entity, Sex


def case_conditions(
    source: CompiledSource, part: CompiledPart, filter: CaseFilter
) -> list[ColumnElement[bool]]:
    """The filter as WHERE conditions on the case part (the fields it can evaluate)."""
    assert part.date_expr is not None
    fields = part.values
    conditions: list[ColumnElement[bool]] = []
    if filter.reported_from is not None:
        conditions.append(part.date_expr >= filter.reported_from.isoformat())
    if filter.reported_to is not None:
        conditions.append(part.date_expr <= filter.reported_to.isoformat())
    if filter.regions and "region" in fields:
        conditions.append(predicates.region_condition(fields["region"], filter.regions))
    if filter.exploitation_types and "exploitation_types" in fields:
        wanted = {t.name for t in filter.exploitation_types}
        conditions.append(predicates.enum_condition(fields["exploitation_types"], wanted))
    if filter.stages and "stage" in fields:
        conditions.append(predicates.enum_condition(fields["stage"], {s.name for s in filter.stages}))
    if filter.countries_of_exploitation and "country" in fields:
        conditions.append(predicates.country_condition(fields["country"], filter.countries_of_exploitation))
    if filter.text and "source_key" in fields:
        conditions.append(predicates.text_condition(fields["source_key"], filter.text))
    if filter.victim_sex or filter.victim_age_groups or filter.child_victim is not None:
        conditions.append(victim_condition(source, part, filter))
    return conditions


def victim_condition(
    source: CompiledSource, case_part: CompiledPart, filter: CaseFilter
) -> ColumnElement[bool]:
    """The case has a victim record meeting every victim condition (in one of its tables)."""
    matches = []
    for person in source.parts_of(Entity.PERSON):
        fields = person.values
        conditions = [source.victim_condition(person, filter.victim_roles())]
        if filter.victim_sex:
            wanted = {s.name for s in filter.victim_sex}
            conditions.append(predicates.enum_condition(fields.get("sex"), wanted, Sex.UNKNOWN.name))
        if filter.victim_age_groups:
            conditions.append(predicates.age_group_condition(fields, filter.victim_age_groups))
        if filter.child_victim is not None:
            conditions.append(predicates.child_condition(fields, filter.child_victim))
        relation = person.relation_columns.get("case_key")
        if relation is None:
            continue
        victims = (
            select(relation[0])
            .select_from(person.from_clause)
            .where(*person.row_conditions, *conditions)
            .correlate(None)
        )
        matches.append(case_part.key_column.in_(victims))
    return or_(*matches) if matches else literal(False)
