"""Case filters compiled into a source's own SQL, through its mapping in reverse.

A national condition ("exploitation type FORCED_CRIMINALITY", "region 33", "a child victim")
becomes a predicate on the field's one definition (:class:`~adapters.values.FieldValue`): the
canonical SQL value records read (``sex IN ('FEMALE')``, a band of the SQL age band), or, for
regions and countries, the source values their lookup table resolves to the wanted codes.
Victim conditions become a subquery over the person tables. Nothing is fetched to be filtered
in Python, and no condition reads a value differently from the records.

A filter field the mapping gives no way to evaluate (no stage column, no region) is reported
by :func:`unsupported_fields`; the engine then leaves that source out and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, false, func, or_, true
from sqlalchemy.sql.expression import ColumnElement

from adapters.mapping import SourceMapping
from adapters.values import FieldValue, has_name
from hub.vocabulary import reference
from hub.vocabulary.model import AgeGroup, CaseFilter, Entity

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


def enum_condition(
    value: FieldValue | None, wanted: set[str], unmapped_as: str | None = None
) -> ColumnElement[bool]:
    """A national code field holds one of the ``wanted`` names (a list field: any of them).

    ``unmapped_as`` is what a record shows when the mapping does not give the field at all.
    """
    if value is None:
        return true() if unmapped_as in wanted else false()
    if value.is_constant:
        constant = value.constant
        names = (
            {m.name for m in constant} if isinstance(constant, tuple) else {getattr(constant, "name", None)}
        )
        return true() if names & wanted else false()
    assert value.sql is not None
    if value.many:
        return or_(*(has_name(value.sql, name) for name in sorted(wanted))) if wanted else false()
    return value.sql.in_(sorted(wanted))


def region_condition(value: FieldValue, prefixes: Sequence[str]) -> ColumnElement[bool]:
    """The region lies under one of the code ``prefixes`` (``33``, ``33.73``, ``3373``…).

    The filter's prefixes are :class:`~hub.vocabulary.reference.RegionPrefix` values, normalised
    where the request came in; ``parse`` returns those as they are (plain strings from other
    callers are normalised here).
    """
    normalized = [p for p in map(reference.RegionPrefix.parse, prefixes) if p is not None]

    def under(code: str) -> bool:
        return any(p.covers(code) for p in normalized)

    if value.is_constant:
        return true() if value.constant and under(str(value.constant)) else false()
    assert value.lookup is not None
    return value.lookup.condition(under)


def country_condition(value: FieldValue, countries: Sequence[str]) -> ColumnElement[bool]:
    """The country is one of ``countries`` (alpha-2)."""
    wanted = {c.upper() for c in countries}
    if value.is_constant:
        return true() if str(value.constant).upper() in wanted else false()
    assert value.lookup is not None
    return value.lookup.condition(lambda code: code in wanted)


def age_group_condition(person: Mapping[str, FieldValue], groups: Sequence[AgeGroup]) -> ColumnElement[bool]:
    """The person's SQL age band (the one records show) is one of ``groups``.

    A person table from which no age can be computed shows the constant band UNKNOWN.
    """
    band = person["age_group"]
    if band.is_constant:
        return true() if band.constant in groups else false()
    assert band.sql is not None
    return band.sql.in_(sorted(g.name for g in groups))


def child_condition(person: Mapping[str, FieldValue], child: bool) -> ColumnElement[bool]:
    """The person is (or is not) a child, as the record's ``isChild`` says.

    A person table with neither an age nor a child flag shows no ``isChild``: it matches
    neither ``true`` nor ``false``.
    """
    flag = person["is_child"]
    if flag.is_constant:
        return true() if flag.constant is child else false()
    assert flag.sql is not None
    return flag.sql == (1 if child else 0)


def text_condition(value: FieldValue, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on a text field (``filter.text``)."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if value.is_constant:
        return true() if text.lower() in str(value.constant).lower() else false()
    assert value.sql is not None
    return func.lower(value.sql).like(pattern, escape="\\")
