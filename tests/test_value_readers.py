"""adapters.values readers: member tables and remembered multi-valued cells read as the enum does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import values
from adapters.values import VALUE_SEPARATOR, read_many, read_member
from hub.vocabulary.model import ExploitationType, ServiceType

NAMES = [m.name for m in ExploitationType]


@given(st.one_of(st.none(), st.sampled_from(NAMES)))
def test_a_member_reads_as_the_enum_indexes_it(value: str | None) -> None:
    assert read_member(ExploitationType)(value) == (None if value is None else ExploitationType[value])


def test_an_unknown_name_is_a_key_error_as_before() -> None:
    with pytest.raises(KeyError):
        read_member(ServiceType)("NOT_A_SERVICE")
    with pytest.raises(KeyError):
        read_many(ServiceType)(f"LEGAL_AID{VALUE_SEPARATOR}NOT_A_SERVICE")


@settings(max_examples=200)
@given(st.lists(st.lists(st.sampled_from([*NAMES, ""]), max_size=6), min_size=1, max_size=8))
def test_a_cell_reads_as_its_sorted_distinct_names_every_time(cells: list[list[str]]) -> None:
    read = read_many(ExploitationType)
    for _ in range(2):  # the second pass is answered from the reader's table
        for names in cells:
            text = VALUE_SEPARATOR.join(names)
            expected = tuple(ExploitationType[n] for n in sorted({n for n in names if n}))
            assert read(text) == expected
    assert read(None) == ()


def test_the_table_of_cells_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "MAX_MANY", 3)
    read = read_many(ExploitationType)
    for a in NAMES:
        for b in NAMES:
            assert read(f"{a}{VALUE_SEPARATOR}{b}") == tuple(ExploitationType[n] for n in sorted({a, b}))
    # The table of cells lives in the reader's closure (the one dict whose values are tuples).
    cells = [c.cell_contents for c in read.__closure__ or () if isinstance(c.cell_contents, dict)]
    known = [t for t in cells if t and all(isinstance(v, tuple) for v in t.values())]
    assert len(known) == 1 and len(known[0]) <= 3


@given(st.one_of(st.none(), st.integers(), st.text(max_size=8)), st.text(max_size=4))
def test_a_key_reads_as_its_prefix_and_value(value: object, prefix: str) -> None:
    assert values.KeyReader(prefix)(value) == (None if value is None else f"{prefix}{value}")


@given(st.one_of(st.none(), st.integers(), st.text(max_size=8)))
def test_a_value_as_is_is_itself(value: object) -> None:
    assert values.as_is(value) is value
