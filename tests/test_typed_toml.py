"""The shared layer under every typed TOML file (hub/support/typed_toml.py), on a small model made
here: errors point at key paths of the file (never at pydantic's union tags), unknown keys are
matched against every form a union allows there, enum members get a "did you mean", and the
editors' schema has no nulls. Expected paths and keys are written out by hand."""

from __future__ import annotations

import enum
import tomllib
from typing import Annotated, Any

import pytest
from pydantic import Discriminator, Field, Tag, ValidationError

from hub.support.locator import TomlLocator
from hub.support.typed_toml import StrictModel, TomlJsonSchema, issues, member, one_or_many, suggestion


class Colour(enum.Enum):
    """A colour."""

    RED = "RED"
    GREEN = "GREEN"


class ByName(StrictModel):
    name: str
    shade: int | None = None


class ByCode(StrictModel):
    code: str


Paint = Annotated[
    Annotated[ByName, Tag("name")] | Annotated[ByCode, Tag("code")],
    Discriminator(lambda v: "code" if isinstance(v, dict) and "code" in v else "name"),
]


class Wall(StrictModel):
    paint: Paint
    colour: member(Colour) = Colour.RED  # type: ignore[valid-type]
    note: str | None = None


class House(StrictModel):
    wall: one_or_many(Wall)  # type: ignore[valid-type]
    rooms: dict[str, Wall] = Field(default_factory=dict)


TEXT = """\
[[wall]]
paint = { name = "x", shde = 2 }

[[wall]]
paint = { code = 5 }
colour = "GREN"

[rooms.kitchen]
paint = { name = "y" }
colur = "RED"
"""


def problems(raw: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str, str, tuple[str, ...]]]:
    with pytest.raises(ValidationError) as raised:
        House.model_validate(raw)
    return [(i.path, i.kind, i.message, i.known) for i in issues(House, raised.value)]


def test_paths_are_the_file_keys_and_unknown_keys_meet_every_form() -> None:
    found = problems(tomllib.loads(TEXT))
    assert found == [
        (
            ("wall", 0, "paint", "shde"),
            "extra_forbidden",
            "Extra inputs are not permitted",
            ("name", "shade", "code"),
        ),
        (("wall", 1, "paint", "code"), "string_type", "Input should be a valid string", ()),
        (("wall", 1, "colour"), "value_error", "'GREN' is not a Colour (did you mean 'GREEN'?)", ()),
        (
            ("rooms", "kitchen", "colur"),
            "extra_forbidden",
            "Extra inputs are not permitted",
            ("paint", "colour", "note"),
        ),
    ]
    locator = TomlLocator(TEXT)
    assert [locator.line_of(path) for path, *_ in found] == [2, 5, 6, 10]


def test_a_single_table_where_an_array_may_be() -> None:
    assert problems({"wall": {"paint": "red"}}) == [
        (("wall", "paint"), "model_type", "Input should be a valid dictionary or instance of ByName", ())
    ]


def test_a_wrong_member_without_a_close_name_lists_the_valid_ones() -> None:
    (found,) = problems({"wall": {"paint": {"code": "c"}, "colour": "BLUE"}})
    assert found[2] == "'BLUE' is not a Colour (valid: RED, GREEN)"


def test_suggestions_need_a_close_spelling() -> None:
    assert suggestion("kye", ["key", "table"]) == "key"
    assert suggestion("table", ["value", "column"]) is None


def test_the_editor_schema_has_no_nulls_and_no_key_titles() -> None:
    schema = Wall.model_json_schema(schema_generator=TomlJsonSchema)
    assert schema["properties"]["note"] == {"type": "string"}
    assert schema["properties"]["colour"] == {"$ref": "#/$defs/Colour", "default": "RED"}
    assert schema["$defs"]["Colour"]["enum"] == ["RED", "GREEN"]
    assert [s.get("$ref") for s in schema["properties"]["paint"]["oneOf"]] == [
        "#/$defs/ByName",
        "#/$defs/ByCode",
    ]
