"""A national case filter and a keyset position as WHERE conditions on a compiled source.

:func:`case_conditions` assembles the per-field predicates of :mod:`adapters.predicates` for a
:class:`~hub.vocabulary.model.CaseFilter`: every condition is evaluated by the agency's
database on the compiled field expressions, the same ones records and statistics read.
:func:`after_position` is the keyset condition of case paging.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, func, literal, or_, select, true
from sqlalchemy.sql.expression import ColumnElement

from adapters import predicates
from adapters.compiler import CompiledPart, CompiledSource
from adapters.mapping import ChildValues, Column, RegionSpec
from hub.vocabulary.model import CaseFilter, CaseStage, Entity, ExploitationType, Keyset, Sex


def case_conditions(
    source: CompiledSource, part: CompiledPart, filter: CaseFilter
) -> list[ColumnElement[bool]]:
    """The filter as WHERE conditions on the case part (the fields it can evaluate)."""
    assert part.date_expr is not None
    spec, exprs = part.part.fields, part.field_exprs
    conditions: list[ColumnElement[bool]] = []
    if filter.reported_from is not None:
        conditions.append(part.date_expr >= filter.reported_from.isoformat())
    if filter.reported_to is not None:
        conditions.append(part.date_expr <= filter.reported_to.isoformat())
    if filter.regions and isinstance(spec.get("region"), RegionSpec):
        region = predicates.region_condition(spec["region"], exprs["region"], filter.regions)
        variants = source.approximate_region_names(filter.regions)
        if variants:
            region = or_(region, exprs["region"][0].in_(variants))
        conditions.append(region)
    if filter.exploitation_types and "exploitation_types" in spec:
        field_spec = spec["exploitation_types"]
        child = source.tables.get(field_spec.table) if isinstance(field_spec, ChildValues) else None
        conditions.append(
            predicates.enum_field_condition(
                field_spec,
                exprs["exploitation_types"],
                source.mapping,
                ExploitationType,
                {t.name for t in filter.exploitation_types},
                key_column=part.key_column,
                child_table=child,
            )
        )
    if filter.stages and "stage" in spec:
        conditions.append(
            predicates.enum_field_condition(
                spec["stage"],
                exprs["stage"],
                source.mapping,
                CaseStage,
                {s.name for s in filter.stages},
                null_is_fallback=False,
            )
        )
    if filter.countries_of_exploitation and isinstance(spec.get("country"), Column):
        conditions.append(
            predicates.country_condition(
                spec["country"], exprs["country"][0], filter.countries_of_exploitation
            )
        )
    if filter.text and "source_key" in spec and exprs.get("source_key"):
        pattern = (
            "%" + filter.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conditions.append(func.lower(exprs["source_key"][0]).like(pattern, escape="\\"))
    if filter.victim_sex or filter.victim_age_groups or filter.child_victim is not None:
        conditions.append(victim_condition(source, part, filter))
    return conditions


def victim_condition(
    source: CompiledSource, case_part: CompiledPart, filter: CaseFilter
) -> ColumnElement[bool]:
    """The case has a victim record meeting every victim condition (in one of its tables)."""
    matches = []
    for person in source.parts_of(Entity.PERSON):
        fields, exprs = person.part.fields, person.field_exprs
        conditions = [source.victim_condition(person, filter.victim_roles())]
        if filter.victim_sex:
            conditions.append(
                predicates.enum_field_condition(
                    fields.get("sex"),
                    exprs.get("sex", []),
                    source.mapping,
                    Sex,
                    {s.name for s in filter.victim_sex},
                )
            )
        years = source.age_years(person)
        if filter.victim_age_groups:
            conditions.append(predicates.age_group_condition(years, filter.victim_age_groups))
        if filter.child_victim is not None:
            flag = exprs.get("child", [None])[0]
            conditions.append(predicates.child_condition(years, filter.child_victim, flag))
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
