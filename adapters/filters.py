"""A national case filter and a keyset position as WHERE conditions on a compiled source.

:func:`case_conditions` assembles the per-field predicates of :mod:`adapters.predicates` for a
:class:`~hub.vocabulary.model.CaseFilter`: every condition is evaluated by the agency's
database on the compiled field expressions, the same ones records and statistics read.
:func:`after_position` is the keyset condition of case paging.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, literal, or_, select, true
from sqlalchemy.sql.expression import ColumnElement

from adapters import predicates
from adapters.compiler import CompiledPart, CompiledSource
from hub.vocabulary.model import CaseFilter, Entity, Keyset, Sex


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


def after_position(
    source_name: str, part: CompiledPart, after: Keyset, descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after the keyset position, in the merged cross-source order.

    The hub orders by (date, source name, key), a missing date being the earliest. For
    another source only the date and the source names decide; for this source the key
    breaks ties, compared by the database.
    """
    assert part.date_expr is not None
    day, key = part.date_expr, part.key_column
    tie: ColumnElement[bool]
    if after.source == source_name:
        db_key: Any = part.key_to_db(after.key)
        tie = key < db_key if descending else key > db_key
    else:
        follows = source_name < after.source if descending else source_name > after.source
        tie = true() if follows else false()
    if after.reported_at is None:
        # After an undated case: descending, only undated cases remain (they come last);
        # ascending, every dated case still follows.
        same_day = and_(day.is_(None), tie)
        return same_day if descending else or_(day.is_not(None), same_day)
    last_day = after.reported_at.isoformat()
    beyond = or_(day < last_day, day.is_(None)) if descending else day > last_day
    return or_(beyond, and_(day == last_day, tie))
