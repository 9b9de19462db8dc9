"""Rows of a compiled part → national records (CaseRecord, PersonRecord, …).

A row that cannot be read is skipped and counted, never fatal; a batch in which no row can be
read means the source returns garbage (:class:`SourceDataError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adapters import values
from adapters.base import SourceDataError
from adapters.compiler import CompiledPart
from adapters.values import FieldValue
from hub.vocabulary.model import (
    AgeGroup,
    CaseRecord,
    Entity,
    ExploitationType,
    PersonRecord,
    Record,
    RestitutionRecord,
    ServiceRecord,
    ServiceStatus,
    Sex,
    StageEventRecord,
    TraffickingMeans,
)


class RowReader:
    """Builds records of one source from rows of its compiled parts' SELECTs."""

    def __init__(self, source: str) -> None:
        self.source = source
        #: Rows skipped because they could not be read at all (counted, never fatal).
        self.skipped_rows = 0
        #: id(part) → (the part, its builder); the part is kept so its id is not reused.
        self._builders: dict[int, tuple[CompiledPart, Builder]] = {}

    def read(self, compiled: CompiledPart, rows: Sequence[Sequence[Any]]) -> list[Record]:
        build = self.builder(compiled)
        source = self.source
        records: list[Record] = []
        for row in rows:
            try:
                records.append(build(source, row))
            except (TypeError, ValueError, AttributeError, KeyError):
                self.skipped_rows += 1
        if rows and not records:
            raise SourceDataError(f"source {self.source!r}: rows of {compiled.part.name!r} cannot be read")
        return records

    def builder(self, compiled: CompiledPart) -> Builder:
        """The record builder of ``compiled``, generated on first use (a source reopened after
        a mapping change brings new parts: the table then starts again)."""
        entry = self._builders.get(id(compiled))
        if entry is not None and entry[0] is compiled:
            return entry[1]
        if len(self._builders) >= MAX_BUILDERS:
            self._builders.clear()
        build = record_builder(compiled)
        self._builders[id(compiled)] = (compiled, build)
        return build


#: A row of a compiled part's SELECT (with the source's name) → its national record.
Builder = Callable[[str, Sequence[Any]], Record]
#: Parts a source's reader remembers builders for (a mapping has a handful).
MAX_BUILDERS = 64


class _Required:
    """Marks a record field without which a row cannot be read (a service's type)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

#: Per entity: its record class and, per record field, what the field reads as when the
#: mapping gives no value or an empty one (``None``: the value as read, even a falsy one).
#: Age band and child flag are computed in SQL (adapters.values): filters and statistics
#: use the very same expressions.
RECORD_FIELDS: dict[Entity, tuple[type[Record], dict[str, Any]]] = {
    Entity.CASE: (
        CaseRecord,
        {
            "source_key": None,
            "reported_at": None,
            "region": None,
            "country": None,
            "exploitation_types": (ExploitationType.UNKNOWN,),
            "means": (TraffickingMeans.UNKNOWN,),
            "stage": None,
        },
    ),
    Entity.PERSON: (
        PersonRecord,
        {
            "case_key": None,
            "roles": (),
            "sex": Sex.UNKNOWN,
            "age_group": AgeGroup.UNKNOWN,
            "is_child": None,
            "citizenship": None,
            "domicile_region": None,
            "full_name": None,
            "nik": None,
            "birth_date": None,
            "passport_number": None,
            "address": None,
            "phone": None,
        },
    ),
    Entity.SERVICE: (
        ServiceRecord,
        {
            "case_key": None,
            "recipient_key": None,
            "type": REQUIRED,
            "status": ServiceStatus.UNKNOWN,
            "start_date": None,
            "end_date": None,
            "provider_unit": None,
            "location": None,
        },
    ),
    Entity.STAGE_EVENT: (
        StageEventRecord,
        {"case_key": None, "stage": None, "date": None, "reference": None},
    ),
    Entity.RESTITUTION: (
        RestitutionRecord,
        {
            "case_key": None,
            "recipient_key": None,
            "requested_idr": None,
            "ordered_idr": None,
            "paid_idr": None,
        },
    ),
}


def record_builder(compiled: CompiledPart) -> Builder:
    """One function that builds ``compiled``'s record from a row, generated from its layout.

    Why generated: a portal page reads ~500 values, and the general way — a reader call per
    field into a dictionary, then a builder that looks each field up — cost a seventh of the
    hub's CPU per page (issue 13). The generated function reads each field's column straight
    into the record's constructor. What each field reads is decided here once, by
    :meth:`adapters.values.FieldValue.value_of`'s rule (constant; not read by records; through
    its lookup; its one canonical column), so the two cannot disagree
    (``tests/test_row_readers.py`` compares them on every part of every demo mapping).
    """
    record_class, fields = RECORD_FIELDS[compiled.part.entity]
    names: dict[str, Any] = {"_record": record_class, "_prefix": compiled.prefix}
    layout = {name: (value, start) for name, value, start in compiled.layout}
    arguments = []
    for i, (field, default) in enumerate(fields.items()):
        if field in layout:
            value, start = layout[field]
            expression = _value_expression(value, start, f"_{i}", names)
        elif default is REQUIRED:
            names["_missing"] = _missing
            expression = f"_missing({field!r})"
        else:
            expression = "None"
        if default is not None and default is not REQUIRED:
            names[f"_default{i}"] = default
            expression = f"({expression} or _default{i})"
        arguments.append(f"{field}={expression}")
    code = (
        "def build(source, row):\n"
        f"    return _record(source=source, key=f'{{_prefix}}{{row[0]}}', {', '.join(arguments)})\n"
    )
    exec(compile(code, f"<record builder of {compiled.part.name}>", "exec"), names)
    return names["build"]  # type: ignore[no-any-return]


def _missing(field: str) -> Any:
    """A required field the mapping does not give: no row of the part can be read."""
    raise KeyError(field)


def _value_expression(value: FieldValue, start: int, name: str, names: dict[str, Any]) -> str:
    """The expression for one field's national value in a row (the rule of ``value_of``)."""
    if value.is_constant:
        names[name] = value.constant
        return name
    if not value.selectable:
        return "None"
    column = f"row[{start}]"
    if value.lookup is not None:
        # ``Lookup.read``, written out; the table is read through the lookup, which learns anew.
        names[name] = value.lookup
        return f"(None if (v := {column}) is None else {name}.table.get(v))"
    if value.sql is not None:
        return _reader_expression(value.read, column, name, names)
    names[name] = value
    return f"{name}.value_of(())"


def _reader_expression(read: Any, column: str, name: str, names: dict[str, Any]) -> str:
    """``read(column)``, written out for the readers whose rule is one expression (each the
    reader's own ``__call__``, to the letter): no call per value."""
    if read is values.as_is:
        return column
    if isinstance(read, values.KeyReader):
        names[name] = read.prefix
        return f'(None if (v := {column}) is None else f"{{{name}}}{{v}}")'
    if isinstance(read, values.MemberReader):
        names[name] = read.members
        return f"(None if (v := {column}) is None else {name}[v])"
    names[name] = read
    return f"{name}({column})"
