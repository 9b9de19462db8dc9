"""Records are built by a function generated once per part (adapters/records.py
``record_builder``, issue 13).

A page reads ~500 values; each used to go through a reader call into a dictionary and a builder
that looked every field up. The generated builders must give exactly the records that the
general rule gives — each field's :meth:`adapters.values.FieldValue.value_of` on its columns,
then the record's rules for missing values (stated here as the hand-written builders stated
them) — for every part of every demo mapping, on real rows of each source; and a page must not
go through the general rule on the way.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.base import SourceDataError
from adapters.records import RowReader
from adapters.values import FieldValue
from hub.server.examples import PORTAL_LIST
from hub.vocabulary.model import (
    AgeGroup,
    CaseRecord,
    Entity,
    ExploitationType,
    PersonRecord,
    RestitutionRecord,
    ServiceRecord,
    ServiceStatus,
    Sex,
    StageEventRecord,
    TraffickingMeans,
)


def _parts(hub: Any) -> list[tuple[Any, Any]]:
    found = []
    for entry in hub.registry.all():
        source = entry.source
        compiled = getattr(source, "_compiled", None)
        if compiled is None:
            continue
        for parts in compiled.parts.values():
            found.extend((source, part) for part in parts)
    return found


_RECORDS: dict[Entity, type] = {
    Entity.CASE: CaseRecord,
    Entity.PERSON: PersonRecord,
    Entity.SERVICE: ServiceRecord,
    Entity.STAGE_EVENT: StageEventRecord,
    Entity.RESTITUTION: RestitutionRecord,
}
#: What a record field reads as when the mapping gives no value or an empty one.
_DEFAULTS: dict[Entity, dict[str, Any]] = {
    Entity.CASE: {
        "exploitation_types": (ExploitationType.UNKNOWN,),
        "means": (TraffickingMeans.UNKNOWN,),
    },
    Entity.PERSON: {"roles": (), "sex": Sex.UNKNOWN, "age_group": AgeGroup.UNKNOWN},
    Entity.SERVICE: {"status": ServiceStatus.UNKNOWN},
    Entity.STAGE_EVENT: {},
    Entity.RESTITUTION: {},
}


def _by_the_general_rule(source: str, part: Any, row: Any) -> Any:
    values: dict[str, Any] = {}
    start = 1  # column 0 is the key
    for name, value in part.values.items():
        length = len(value.selected)
        values[name] = value.value_of(tuple(row)[start : start + length])
        start += length
    record_class = _RECORDS[part.part.entity]
    defaults = _DEFAULTS[part.part.entity]
    arguments = {}
    for field in dataclasses.fields(record_class):
        if field.name in ("source", "key"):
            continue
        if field.name == "type" and part.part.entity is Entity.SERVICE:
            arguments["type"] = values["type"]  # required: a KeyError makes the row unreadable
            continue
        arguments[field.name] = values.get(field.name) or defaults.get(field.name, values.get(field.name))
    return record_class(source=source, key=f"{part.prefix}{row[0]}", **arguments)


async def test_generated_builders_equal_the_general_rule_on_real_rows(hub: Any) -> None:
    parts = _parts(hub)
    assert len(parts) >= 10  # every demo agency's parts (cases, persons, services, stages...)
    entities = set()
    compared = 0
    for source, part in parts:
        rows = await source.fetch(part.select.order_by(part.key_column).limit(60))
        assert rows, part.part.name
        build = RowReader(source.name).builder(part)
        for row in rows:
            assert build(source.name, row) == _by_the_general_rule(source.name, part, row), part.part.name
            compared += 1
        entities.add(part.part.entity)
    assert compared > 500
    assert entities == set(_DEFAULTS)


def test_a_service_part_without_a_type_reads_no_row() -> None:
    """A required field the mapping lacks makes every row unreadable (counted), and a batch
    of only unreadable rows is the source returning garbage."""
    value = FieldValue(sql=None, read=str, is_constant=True, constant="u1")
    part = SimpleNamespace(
        part=SimpleNamespace(entity=Entity.SERVICE, name="layanan"),
        layout=[("provider_unit", value, 1)],
        prefix="",
    )
    reader = RowReader("dinsos")
    with pytest.raises(SourceDataError):
        reader.read(part, [(1, None), (2, None)])  # type: ignore[arg-type]
    assert reader.skipped_rows == 2


async def test_reading_a_page_does_not_take_the_general_rule(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every field of the demo mappings is a constant, unselected, a lookup or one column."""

    def general(self: FieldValue, selected: Any) -> Any:
        raise AssertionError("a reader fell back to FieldValue.value_of")

    monkeypatch.setattr(FieldValue, "value_of", general)
    result = await hub.execute(PORTAL_LIST, {"after": None})
    assert not result.errors, result.errors
    assert result.data["cases"]["edges"]
