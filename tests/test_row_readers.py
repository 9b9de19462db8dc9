"""Row readers are specialised once per field (adapters/compiler.py ``_slice_reader``, issue 13).

A page reads ~500 values; each reader used to decide constant / lookup / plain on every call, on
a slice of the row. The specialised readers must give exactly what the general rule
(:meth:`adapters.values.FieldValue.value_of` on the field's columns) gives, for every field of
every part of every demo mapping, on real rows of each source; and they must not go through
the general rule on the way.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.values import FieldValue
from hub.server.examples import PORTAL_LIST


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


async def test_specialised_readers_equal_the_general_rule_on_real_rows(hub: Any) -> None:
    parts = _parts(hub)
    assert len(parts) >= 10  # every demo agency's parts (cases, persons, services, stages...)
    compared = 0
    for source, part in parts:
        rows = await source.fetch(part.select.order_by(part.key_column).limit(60))
        assert rows, part.part.name
        positions: dict[str, tuple[int, int]] = {}
        start = 1  # column 0 is the key
        for name, value in part.values.items():
            positions[name] = (start, len(value.selected))
            start += len(value.selected)
        for row in rows:
            for name, reader in part.readers:
                begin, length = positions[name]
                expected = part.values[name].value_of(tuple(row)[begin : begin + length])
                assert reader(row) == expected, (part.part.name, name)
                compared += 1
    assert compared > 1000


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
