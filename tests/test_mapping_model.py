"""Mapping files are described once, by the models of adapters/mapping_model.py: every way a file
can be wrong gets one exact message at its line, the editors' JSON Schema refuses the same
shapes, and the national fields the models declare are the ones docs/mapping.md documents.

Expected messages and lines are written out here (lines found by searching the text); the
fields of each section and their kinds are read from the guide's tables, not from the code.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from adapters.mapping import Column, Const, LatestOf, LocatedMappingError, RegionSpec, load_mapping_text
from adapters.mapping_model import field_kind, national_fields
from hub.vocabulary.model import Entity, Labelled

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "mapping.md").read_text(encoding="utf-8")
SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "mapping.schema.json").read_text(encoding="utf-8"))
)

GOOD = """\
[source]
agency = { code = "uji", name = "UPTD Uji", type = "SERVICE_UNIT" }

[case]
table = "kasus"
key = "id"
reported_at = { column = "tgl", format = ["DD/MM/YYYY", "serial"] }
region = { regency_name = "kab", province = "32", aliases = { KBB = "3217" } }
stage = { latest_of = "stage_event", default = "REPORTED" }
exploitation_types = { column = "bentuk", codes = "bentuk", split = " , " }
where = { jenis = ["TPPO", 7] }

[[person]]
table = "korban"
joins = [{ table = "kasus", on = { id_kasus = "id" } }]
case_key = "id_kasus"
roles = { value = "VICTIM" }
sex = { column = "jk", codes = "jk" }
nik = { column = "nik", clean = "digits" }
child = { column = "anak", format = "boolean" }

[[stage_event]]
table = "tahap"
key = "id"
case_key = "id_kasus"
stage = "tahap"

[codes.bentuk]
ES = "SEXUAL_EXPLOITATION"
"*" = "OTHER"

[codes.jk]
L = "MALE"
P = "FEMALE"
"""

PART_KEYS = "joins, key, name, require, table, where"
CASE_KEYS = f"country, exploitation_types, {PART_KEYS}, means, region, reported_at, source_key, stage"
CASE_KEYS = ", ".join(sorted(CASE_KEYS.split(", ")))
PERSON_KEYS = ", ".join(
    sorted(
        [
            "address",
            "age",
            "age_at",
            "birth_date",
            "case_key",
            "child",
            "citizenship",
            "domicile_region",
            "full_name",
            "joins",
            "key",
            "name",
            "nik",
            "order_by",
            "passport_number",
            "phone",
            "require",
            "roles",
            "sex",
            "table",
            "where",
        ]
    )
)
FORMAT_HELP = (
    "(patterns of D/DD, M/MM/MMM/MMMM and YYYY separated by / - . or a space, e.g. DD/MM/YYYY or "
    "D MMMM YYYY; or serial, unix)"
)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def problems(text: str) -> list[str]:
    with pytest.raises(LocatedMappingError) as raised:
        load_mapping_text(text, "uji", "uji.toml")
    return raised.value.problems


def test_the_good_file_reads_as_written() -> None:
    mapping = load_mapping_text(GOOD, "uji", "uji.toml")
    assert (mapping.agency.code, mapping.agency.type.name) == ("UJI", "SERVICE_UNIT")
    (case,) = mapping.parts_of(Entity.CASE)
    assert case.fields["reported_at"] == Column(
        case.fields["reported_at"].ref, "DD/MM/YYYY", formats=("DD/MM/YYYY", "serial")
    )
    assert str(case.fields["reported_at"].ref) == "tgl"
    region = case.fields["region"]
    assert isinstance(region, RegionSpec) and (region.province, dict(region.aliases)) == (
        "32",
        {"KBB": "32.17"},
    )
    assert case.fields["stage"] == LatestOf("stage_event", "stage", "REPORTED")
    assert case.fields["exploitation_types"].split == ","
    assert [(str(ref), values) for ref, values in case.where] == [("jenis", ("TPPO", "7"))]
    (person,) = mapping.parts_of(Entity.PERSON)
    assert (person.name, person.key, person.fields["roles"]) == ("korban", "", Const("VICTIM"))
    assert person.fields["child"].format == "boolean" and person.fields["nik"].clean == "digits"
    assert mapping.codes["jk"] == {"L": ("MALE",), "P": ("FEMALE",)}


# (what to replace, by what, the fragment on the line the problem is at, the exact message)
BROKEN = {
    # --- an unknown key, at every level of the file
    "unknown section": (
        "[codes.bentuk]",
        "[codez]\n[codes.bentuk]",
        "[codez]",
        "unknown section [codez] (did you mean 'codes'?) "
        "(valid: case, codes, person, restitution, service, source, stage_event)",
    ),
    "unknown key in [source]": (
        'type = "SERVICE_UNIT" }',
        'type = "SERVICE_UNIT" }\ndescripton = "x"',
        "descripton",
        "[source]: unknown key 'descripton' (did you mean 'description'?) (valid: agency, description)",
    ),
    "unknown key in the agency": (
        'name = "UPTD Uji"',
        'nama = "UPTD Uji", name = "UPTD Uji"',
        "nama",
        "[source].agency: unknown key 'nama' (did you mean 'name'?) (valid: code, name, type)",
    ),
    "unknown key in a part": (
        'key = "id"\nreported_at',
        'kye = "id"\nkey = "id"\nreported_at',
        "kye",
        f"[case]: unknown key 'kye' (did you mean 'key'?) (valid: {CASE_KEYS})",
    ),
    "unknown field of a listed part": (
        'nik = { column = "nik"',
        'nomor_induk = "x"\nnik = { column = "nik"',
        "nomor_induk",
        f"[[person]] #1: unknown key 'nomor_induk' (valid: {PERSON_KEYS})",
    ),
    "unknown key in a field": (
        '"DD/MM/YYYY", "serial"] }',
        '"DD/MM/YYYY", "serial"], colum = "x" }',
        "colum",
        "[case].reported_at: unknown key 'colum' (did you mean 'column'?) (valid: column, format, value)",
    ),
    "unknown key in a join": (
        "on = { id_kasus",
        'one = "x", on = { id_kasus',
        "one",
        "[[person]] #1.joins[0]: unknown key 'one' (did you mean 'on'?) (valid: on, table)",
    ),
    "unknown key of region names": (
        'province = "32",',
        'province = "32", alias = {},',
        "alias",
        "[case].region: unknown key 'alias' (did you mean 'aliases'?) "
        "(valid: aliases, column, fuzzy, province, province_name, regency_name, value)",
    ),
    "unknown key of latest_of": (
        'default = "REPORTED"',
        'defualt = "REPORTED"',
        "defualt",
        "[case].stage: unknown key 'defualt' (did you mean 'default'?) "
        "(valid: codes, column, default, field, latest_of, value)",
    ),
    "a key another kind of field has": (
        'sex = { column = "jk", codes = "jk" }',
        'sex = { column = "jk", codes = "jk", split = "," }',
        "sex =",
        "[[person]] #1.sex: unknown key 'split' (valid: codes, column, default, field, latest_of, value)",
    ),
    # --- a value of the wrong type
    "a string expected": (
        'key = "id"\nreported_at',
        "key = 7\nreported_at",
        "key = 7",
        "[case].key must be a string, not an integer",
    ),
    "true or false expected": (
        'province = "32",',
        'province = "32", fuzzy = "ya",',
        "fuzzy",
        "[case].region.fuzzy must be true or false, not a string",
    ),
    "an array expected": (
        'joins = [{ table = "kasus", on = { id_kasus = "id" } }]',
        'joins = "kasus"',
        "joins",
        "[[person]] #1.joins must be an array, not a string",
    ),
    "a table expected": (
        'joins = [{ table = "kasus", on = { id_kasus = "id" } }]',
        'joins = ["kasus"]',
        "joins",
        "[[person]] #1.joins[0] must be a table, not a string",
    ),
    "a column name or a table expected": (
        'stage = "tahap"',
        "stage = 3",
        "stage = 3",
        "[[stage_event]] #1.stage: expected a column name or a table, not an integer",
    ),
    "a code list value": (
        'ES = "SEXUAL_EXPLOITATION"',
        "ES = 5",
        "ES = 5",
        "[codes].bentuk.ES must be a string, not an integer",
    ),
    "a row filter value": (
        'where = { jenis = ["TPPO", 7] }',
        "where = { jenis = true }",
        "where",
        "[case].where.jenis: values must be strings or integers",
    ),
    "[[case]]": (
        "[case]",
        "[[case]]",
        "[[case]]",
        "[case]: [case] must be a single table (use joins for more tables)",
    ),
    # --- a value outside the vocabulary
    "an organisation type": (
        'type = "SERVICE_UNIT"',
        'type = "SERVICE_UNITS"',
        "SERVICE_UNITS",
        "[source].agency.type: 'SERVICE_UNITS' is not a OrgType (did you mean 'SERVICE_UNIT'?)",
    ),
    "a constant": (
        'value = "VICTIM"',
        'value = "VICTIMS"',
        "VICTIMS",
        "[[person]] #1.roles.value: 'VICTIMS' is not a PersonRole (did you mean 'VICTIM'?)",
    ),
    "a default": (
        'default = "REPORTED"',
        'default = "REPORT"',
        "REPORT",
        "[case].stage.default: 'REPORT' is not a CaseStage (did you mean 'REPORTED'?)",
    ),
    "a section latest_of reads": (
        'latest_of = "stage_event"',
        'latest_of = "stages"',
        "stages",
        "[case].stage.latest_of: 'stages' is not allowed here (allowed: stage_event, service, person)",
    ),
    "a code list's national value": (
        'ES = "SEXUAL_EXPLOITATION"',
        'ES = "SEXUAL"',
        'ES = "SEXUAL"',
        "[case].exploitation_types [codes.bentuk] 'ES': 'SEXUAL' is not a ExploitationType (valid: "
        "SEXUAL_EXPLOITATION, FORCED_LABOUR, DOMESTIC_SERVITUDE, SLAVERY_OR_SIMILAR, FORCED_MARRIAGE, "
        "ORGAN_REMOVAL, REPRODUCTIVE_EXPLOITATION, CHILD_LABOUR, FORCED_BEGGING, FORCED_CRIMINALITY, "
        "ILLEGAL_ADOPTION, OTHER, UNKNOWN)",
    ),
    # --- a format that is not one
    "a date format": (
        '"DD/MM/YYYY", "serial"',
        '"DD/MM/YYY", "serial"',
        "DD/MM/YYY",
        f"[case].reported_at.format[0]: date format 'DD/MM/YYY' not understood (did you mean 'DD/MM/YYYY'?) "
        f"{FORMAT_HELP}",
    ),
    "one date format": (
        '["DD/MM/YYYY", "serial"]',
        '"MM-DD"',
        "MM-DD",
        f"[case].reported_at.format: date format 'MM-DD' not understood (did you mean 'YYYY-MM-DD'?) "
        f"{FORMAT_HELP}",
    ),
    "a yes/no format": (
        'format = "boolean"',
        'format = "bool"',
        'format = "bool"',
        "[[person]] #1.child.format: 'bool' is not allowed here (did you mean 'boolean'?) (allowed: boolean)",
    ),
    "a cleaning": (
        'clean = "digits"',
        'clean = "digit"',
        "digit",
        "[[person]] #1.nik.clean: 'digit' is not allowed here (did you mean 'digits'?) (allowed: digits)",
    ),
    "a separator": (
        'split = " , "',
        'split = " -- , "',
        "split",
        '[case].exploitation_types.split: must be a short separator such as "," or ";"',
    ),
    "an empty format list": (
        '["DD/MM/YYYY", "serial"]',
        "[]",
        "format = []",
        "[case].reported_at.format must not be empty",
    ),
    "an empty column": (
        'stage = "tahap"',
        'stage = ""',
        'stage = ""',
        "[[stage_event]] #1.stage must not be empty",
    ),
    # --- a required key missing
    "[source]": (
        '[source]\nagency = { code = "uji", name = "UPTD Uji", type = "SERVICE_UNIT" }\n',
        "",
        None,
        "a [source] section is required",
    ),
    "the agency's code": ('code = "uji", ', "", "agency =", "[source].agency: 'code' is required"),
    "the case's key": ('key = "id"\nreported_at', "reported_at", "[case]", "[case]: 'key' is required"),
    "a part's table": ('table = "korban"\n', "", "[[person]]", "[[person]] #1: 'table' is required"),
    "a required field": (
        'case_key = "id_kasus"\nroles',
        "roles",
        "[[person]]",
        "[[person]] #1: 'case_key' is required",
    ),
    "a field's column": (
        'sex = { column = "jk", codes = "jk" }',
        'sex = { codes = "jk" }',
        "sex =",
        "[[person]] #1.sex: 'column' is required",
    ),
    "a join's condition": (
        ', on = { id_kasus = "id" }',
        "",
        "joins",
        "[[person]] #1.joins[0]: 'on' is required",
    ),
    # --- what the shape cannot say
    "a code list that does not exist": (
        'codes = "jk"',
        'codes = "jks"',
        'codes = "jks"',
        "[[person]] #1.sex.codes: code list 'jks' is not defined under [codes] (did you mean 'jk'?)",
    ),
    "a province that does not exist": (
        'province = "32"',
        'province = "99"',
        "province",
        "[case].region.province: '99' is not a province code (e.g. \"32\")",
    ),
    "an alias to no region": (
        'KBB = "3217"',
        'KBB = "3299"',
        "KBB",
        "[case].region.aliases: 'KBB' = '3299' is not a region code",
    ),
    "latest_of a section the file has not": (
        '[[stage_event]]\ntable = "tahap"\nkey = "id"\ncase_key = "id_kasus"\nstage = "tahap"\n',
        "",
        "latest_of",
        "[case].stage: latest_of = 'stage_event' names no section of this mapping",
    ),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_every_way_to_be_wrong_has_one_exact_message_at_its_line(kind: str) -> None:
    old, new, fragment, message = BROKEN[kind]
    assert GOOD.count(old) >= 1, kind
    text = GOOD.replace(old, new, 1)
    expected = f"uji.toml:{line_of(text, fragment)}: {message}" if fragment else message
    assert problems(text) == [expected]


#: Problems a JSON Schema cannot see: they need the rest of the file or the reference data.
BEYOND_A_SCHEMA = {
    "a code list's national value",
    "a code list that does not exist",
    "a province that does not exist",
    "an alias to no region",
    "latest_of a section the file has not",
    "a date format",  # a pattern only approximates the formats the hub reads
    "a separator",
}


@pytest.mark.parametrize("kind", [k for k in BROKEN if k not in BEYOND_A_SCHEMA])
def test_the_editor_schema_refuses_the_same_shapes(kind: str) -> None:
    old, new, _, _ = BROKEN[kind]
    assert list(SCHEMA.iter_errors(tomllib.loads(GOOD))) == []
    assert list(SCHEMA.iter_errors(tomllib.loads(GOOD.replace(old, new, 1)))), kind


def test_every_problem_of_a_file_is_listed_in_file_order() -> None:
    text = (
        GOOD.replace('type = "SERVICE_UNIT"', 'type = "UNIT"')
        .replace('codes = "jk"', 'codes = "kelamin"')
        .replace('stage = "tahap"', "stage = 3")
    )
    found = problems(text)
    assert [p.split(":")[1] for p in found] == [
        str(line_of(text, 'type = "UNIT"')),
        str(line_of(text, 'codes = "kelamin"')),
        str(line_of(text, "stage = 3")),
    ]


def test_problems_of_meaning_are_reported_once_the_shape_is_right() -> None:
    """A wrong national value in a code list is found on a file of the right shape, at its entry."""
    text = GOOD.replace('P = "FEMALE"', 'P = "PEREMPUAN"')
    assert problems(text) == [
        f"uji.toml:{line_of(text, 'PEREMPUAN')}: [[person]] #1.sex [codes.jk] 'P': 'PEREMPUAN' is not a Sex "
        "(valid: MALE, FEMALE, UNKNOWN)"
    ]


# --- the national fields the models declare are the ones the guide documents -------------------

_SECTION_HEADINGS = {
    Entity.CASE: "### `[case]`",
    Entity.PERSON: "### `[[person]]`",
    Entity.SERVICE: "### `[[service]]`",
    Entity.STAGE_EVENT: "### `[[stage_event]]`",
    Entity.RESTITUTION: "### `[[restitution]]`",
}
_KIND_WORDS = {
    "text": "text",
    "date": "date",
    "int": "int",
    "yes/no": "bool",
    "key": "key",
    "region": "region",
}


def documented_fields(entity: Entity) -> dict[str, tuple[str, bool, bool]]:
    """name → (kind, many, required), from the guide's table for the entity's section."""
    section = GUIDE.split(_SECTION_HEADINGS[entity], 1)[1].split("\n#", 1)[0]
    fields: dict[str, tuple[str, bool, bool]] = {}
    for row in re.findall(r"^\| (`.*?) \| (.*?) \|", section, flags=re.M):
        names, kind_text = row
        words = [w.strip() for w in kind_text.split(",")]
        kind = _KIND_WORDS.get(words[0], "country" if words[0] == "country" else words[0])
        for name in re.findall(r"`([a-z_]+)`", names):
            fields[name] = (kind, "many" in words, "**required**" in words)
    return fields


@pytest.mark.parametrize("entity", list(_SECTION_HEADINGS), ids=lambda e: e.value)
def test_the_models_declare_the_fields_the_guide_documents(entity: Entity) -> None:
    documented = documented_fields(entity)
    assert set(national_fields(entity)) == set(documented)
    for name, (kind, many, required) in documented.items():
        declared = field_kind(entity, name)
        shown = declared.kind.__name__ if isinstance(declared.kind, type) else declared.kind
        assert (shown, declared.many, declared.required) == (kind, many, required), name
        if isinstance(declared.kind, type):
            assert issubclass(declared.kind, Labelled)
