"""Case filters compiled into a source's own SQL, through its mapping in reverse.

A national condition ("exploitation type FORCED_CRIMINALITY", "region 33", "a child victim")
becomes a predicate on the source's columns: code lists are inverted (national value → the
source's codes), regions become code prefixes or the region *names* the source stores,
countries become the alpha-3 codes or names it stores, victim conditions become a subquery
over its person tables, and age bands become arithmetic on its own date columns. Nothing is
fetched to be filtered in Python.

A filter field the mapping gives no way to evaluate (no stage column, no region) is reported
by :func:`unsupported_fields`; the engine then leaves that source out and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, String, Table, and_, case, false, func, literal, or_, select, true
from sqlalchemy.sql.expression import ColumnElement

from adapters.mapping import (
    DEFAULT_CODE,
    FALSE_VALUES,
    TRUE_VALUES,
    ChildValues,
    Column,
    Const,
    LatestOf,
    RegionSpec,
    SourceMapping,
)
from hub.vocabulary import countries as country_codes
from hub.vocabulary import reference
from hub.vocabulary.model import (
    AGE_RANGES,
    CHILD_AGE_LIMIT,
    AgeGroup,
    CaseFilter,
    Entity,
    Labelled,
    PersonRole,
)

#: Case filter fields and the mapping field each needs.
_CASE_FIELD_OF = {
    "reported_from": "reported_at",
    "reported_to": "reported_at",
    "regions": "region",
    "exploitation_types": "exploitation_types",
    "stages": "stage",
    "countries_of_exploitation": "country",
    "text": "source_key",
}
_VICTIM_FIELD_OF = {"victim_sex": "sex", "victim_age_groups": "age", "child_victim": "age"}



def unsupported_fields(mapping: SourceMapping, filter: CaseFilter) -> set[str]:
    """The set fields of ``filter`` this mapping cannot evaluate (then the source is excluded)."""
    case_part = mapping.parts_of(Entity.CASE)[0]
    missing = set()
    for name in filter.pushed_fields():
        if name in _CASE_FIELD_OF and _CASE_FIELD_OF[name] not in case_part.fields:
            missing.add(name)
        if name in _VICTIM_FIELD_OF:
            persons = mapping.parts_of(Entity.PERSON)
            needed = _VICTIM_FIELD_OF[name]
            ok = any(
                needed in p.fields
                or (needed == "age" and "birth_date" in p.fields and "age_at" in p.fields)
                or (name == "child_victim" and "child" in p.fields)
                for p in persons
            )
            if not ok:
                missing.add(name)
    return missing


def coerce(column: ColumnElement[Any], values: Iterable[Any]) -> list[Any]:
    """Values as the column's type expects them (``'1'`` → ``1`` for an integer column)."""
    result = []
    integer = isinstance(getattr(column, "type", None), Integer)
    for value in values:
        if integer:
            try:
                result.append(int(value))
            except (TypeError, ValueError):
                continue
        else:
            result.append(str(value))
    return result


def code_condition(
    expr: ColumnElement[Any],
    table: Mapping[str, tuple[str, ...]] | None,
    enum_cls: type[Labelled],
    wanted: set[str],
    null_is_fallback: bool,
) -> ColumnElement[bool]:
    """``expr`` holds a source code that translates to one of the ``wanted`` national names.

    Without a code list the source stores national names itself. A source value no list
    knows translates to the enum's fallback (UNKNOWN/OTHER), so asking for the fallback also
    matches unknown values — and NULL where the reader treats NULL that way.
    """
    lookup = dict(table) if table is not None else {m.name: (m.name,) for m in enum_cls}
    default = lookup.pop(DEFAULT_CODE, None)
    raw = [source for source, national in lookup.items() if set(national) & wanted]
    conditions: list[ColumnElement[bool]] = []
    if raw:
        conditions.append(expr.in_(coerce(expr, raw)))
    known = coerce(expr, lookup)
    unknown = expr.not_in(known) if known else true()
    if default is not None:
        # Values no entry lists take the code list's default ("*"); NULL stays NULL.
        if set(default) & wanted:
            conditions.append(and_(expr.is_not(None), unknown))
        fallback = next((n for n in ("UNKNOWN", "OTHER") if n in enum_cls.__members__), None)
        if null_is_fallback and fallback in wanted:
            conditions.append(expr.is_(None))
        return or_(*conditions) if conditions else false()
    fallback = next((n for n in ("UNKNOWN", "OTHER") if n in enum_cls.__members__), None)
    if fallback is not None and fallback in wanted:
        conditions.append(
            or_(expr.is_(None), unknown) if null_is_fallback else and_(expr.is_not(None), unknown)
        )
    return or_(*conditions) if conditions else false()


def region_condition(
    spec: RegionSpec, exprs: Sequence[ColumnElement[Any]], prefixes: Sequence[str]
) -> ColumnElement[bool]:
    """The case's region lies under one of the code ``prefixes`` (already validated)."""
    index = reference.regions()
    conditions: list[ColumnElement[bool]] = []
    column = exprs[0]
    for prefix in prefixes:
        if spec.code is not None:
            text = func.cast(column, String)
            if "." in prefix:
                province, regency = prefix.split(".", 1)
                conditions.append(or_(text.like(f"{prefix}%"), text.like(f"{province}{regency}%")))
            else:
                conditions.append(text.like(f"{prefix}%"))
        else:
            names = index.names_for_prefix(prefix)
            if names:
                conditions.append(column.in_(list(names)))
    return or_(*conditions) if conditions else false()


def country_condition(
    spec: Column, expr: ColumnElement[Any], countries: Sequence[str]
) -> ColumnElement[bool]:
    """The case's country is one of ``countries`` (alpha-2), in the form the source stores."""
    values: list[str] = []
    for alpha2 in countries:
        if spec.format == "alpha3":
            alpha3 = country_codes.alpha3_of(alpha2)
            if alpha3:
                values.append(alpha3)
        elif spec.format == "name":
            values.extend(country_codes.country_names(alpha2))
        else:
            values.extend([alpha2, alpha2.lower()])
    return expr.in_(values) if values else false()


def age_years(
    birth: ColumnElement[Any] | None, at: ColumnElement[Any] | None, age: ColumnElement[Any] | None
) -> ColumnElement[Any] | None:
    """Age in whole years at the report date, computed in SQL from ISO date text.

    Mirrors the adapter's Python rule: from birth date and report date when both are
    known, else the recorded age in years.
    """
    computed = None
    if birth is not None and at is not None:
        years = func.cast(func.substr(at, 1, 4), Integer) - func.cast(func.substr(birth, 1, 4), Integer)
        before_birthday = case((func.substr(at, 6, 5) < func.substr(birth, 6, 5), 1), else_=0)
        computed = years - before_birthday
    if computed is not None and age is not None:
        return case((and_(birth.is_not(None), at.is_not(None)), computed), else_=func.cast(age, Integer))  # type: ignore[union-attr]
    if computed is not None:
        return case((and_(birth.is_not(None), at.is_not(None)), computed), else_=literal(None))  # type: ignore[union-attr]
    return func.cast(age, Integer) if age is not None else None


def age_group_condition(years: ColumnElement[Any] | None, groups: Sequence[AgeGroup]) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    for group in groups:
        if group is AgeGroup.UNKNOWN:
            conditions.append(true() if years is None else or_(years.is_(None), years < 0))
            continue
        if years is None:
            continue
        low, high = AGE_RANGES[group]
        conditions.append(years >= low if high is None else years.between(low, high))
    return or_(*conditions) if conditions else false()


def child_condition(
    years: ColumnElement[Any] | None, child: bool, flag: ColumnElement[Any] | None = None
) -> ColumnElement[bool]:
    """The victim is (or is not) a child: by age where known, else by an explicit child flag."""
    by_age = (
        false()
        if years is None
        else (and_(years >= 0, years < CHILD_AGE_LIMIT) if child else years >= CHILD_AGE_LIMIT)
    )
    if flag is None:
        return by_age
    spellings = sorted(TRUE_VALUES if child else FALSE_VALUES)
    by_flag = func.lower(func.cast(flag, String)).in_(spellings)
    return or_(by_age, and_(years.is_(None), by_flag)) if years is not None else by_flag


def role_condition(
    spec: Any, expr: Sequence[ColumnElement[Any]], mapping: SourceMapping, roles: frozenset[PersonRole]
) -> ColumnElement[bool]:
    """The person record has one of ``roles``."""
    wanted = {r.name for r in roles}
    if isinstance(spec, Const):
        return true() if spec.value in wanted else false()
    if isinstance(spec, Column):
        table = mapping.codes.get(spec.codes) if spec.codes else None
        return code_condition(expr[0], table, PersonRole, wanted, null_is_fallback=False)
    return false()


def enum_field_condition(
    spec: Any,
    exprs: Sequence[ColumnElement[Any]],
    mapping: SourceMapping,
    enum_cls: type[Labelled],
    wanted: set[str],
    key_column: ColumnElement[Any] | None = None,
    null_is_fallback: bool = True,
    child_table: Table | None = None,
) -> ColumnElement[bool]:
    """Condition on an enum-valued mapped field, whatever its spec kind.

    An unmapped field reads as the enum's fallback for every record (UNKNOWN sex, …).
    """
    if spec is None:
        fallback = next((n for n in ("UNKNOWN", "OTHER") if n in enum_cls.__members__), None)
        return true() if fallback in wanted else false()
    if isinstance(spec, Const):
        return true() if spec.value in wanted else false()
    if isinstance(spec, Column):
        table = mapping.codes.get(spec.codes) if spec.codes else None
        return code_condition(exprs[0], table, enum_cls, wanted, null_is_fallback)
    if isinstance(spec, ChildValues):
        assert key_column is not None and child_table is not None
        return _child_values_condition(spec, mapping, enum_cls, wanted, key_column, exprs[0], child_table)
    if isinstance(spec, LatestOf):
        other = mapping.parts_of({"stage_event": Entity.STAGE_EVENT}.get(spec.entity, Entity.STAGE_EVENT))
        other_spec = other[0].fields.get(spec.field) if other else None
        table = (
            mapping.codes.get(other_spec.codes)
            if isinstance(other_spec, Column) and other_spec.codes
            else None
        )
        condition = code_condition(exprs[0], table, enum_cls, wanted, null_is_fallback=False)
        if spec.default is not None and spec.default in wanted:
            condition = or_(condition, exprs[0].is_(None))
        return condition
    return false()


def _child_values_condition(
    spec: ChildValues,
    mapping: SourceMapping,
    enum_cls: type[Labelled],
    wanted: set[str],
    key_column: ColumnElement[Any],
    aggregated: ColumnElement[Any],
    child_table: Table,
) -> ColumnElement[bool]:
    """Multi-valued field from a child table: the record has a child row with a wanted code.

    ``UNKNOWN`` matches a record with an unknown code or with no child row at all (its
    aggregated values are NULL), as the reader translates them.
    """
    table = mapping.codes.get(spec.codes) if spec.codes else None
    lookup = table if table is not None else {m.name: (m.name,) for m in enum_cls}
    raw = [source for source, national in lookup.items() if set(national) & wanted]
    child_key = child_table.c[spec.key]
    child_col = child_table.c[spec.column]
    conditions: list[ColumnElement[bool]] = []
    if raw:
        matching = select(child_key).where(child_col.in_(coerce(child_col, raw))).correlate(None)
        conditions.append(key_column.in_(matching))
    if "UNKNOWN" in enum_cls.__members__ and "UNKNOWN" in wanted:
        known = coerce(child_col, lookup)
        odd = select(child_key).where(child_col.not_in(known) if known else true()).correlate(None)
        conditions.append(or_(key_column.in_(odd), aggregated.is_(None)))
    return or_(*conditions) if conditions else false()
