"""The JSON Schema of mapping files (``docs/mapping.schema.json``), built from the code.

Editors validate TOML against a JSON Schema (Taplo / "Even Better TOML" in VS Code reads the
``#:schema`` comment on a file's first line), so a data officer sees an unknown key or a wrong
type while typing. The schema is generated from the same tables :mod:`adapters.mapping` checks
against — national fields, their kinds, formats, code lists — so the two cannot drift: a test
fails when the committed file differs from :func:`build_schema`. Regenerate with
``python -m adapters.mapping_schema > docs/mapping.schema.json``.

The schema checks the file's shape; :mod:`adapters.mapping` still checks what a schema cannot
(that a code list named exists, that its values are national values of the field using it).
"""

from __future__ import annotations

import json
from typing import Any

from adapters.mapping import COUNTRY_FORMATS, DATE_FORMATS, FieldKind, field_kind, national_fields
from hub.vocabulary.model import Entity, Labelled, OrgType

Schema = dict[str, Any]

_SECTIONS = {
    Entity.CASE: "case",
    Entity.PERSON: "person",
    Entity.SERVICE: "service",
    Entity.STAGE_EVENT: "stage_event",
    Entity.RESTITUTION: "restitution",
}
_CODES = {"type": "string", "description": "Name of a code list under [codes]."}
_SPLIT = {
    "type": "string",
    "minLength": 1,
    "maxLength": 3,
    "description": 'Several codes in one cell separated by this (`"ES, KP"`): several values '
    "(a list field) or one service per code (a service type).",
}
#: What a date format looks like (checked precisely by the hub: adapters/sqldates.py).
DATE_FORMAT_PATTERN = "^(YYYY-MM-DD( HH:MM:SS)?|serial|unix|[DMY]{1,4}[/. -][DMY]{1,4}[/. -][DMY]{1,4})$"


def _column(
    description: str = "A column of the part's table, or `table.column` of a joined table.",
) -> Schema:
    return {"type": "string", "minLength": 1, "description": description}


def _const(values: list[str] | None = None) -> Schema:
    value: Schema = {"enum": values} if values else {"type": "string"}
    value["description"] = "The national value every row gets."
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["value"],
        "properties": {"value": value},
        "description": "The same national value for every row.",
    }


def _table(required: list[str], properties: Schema) -> Schema:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _simple(description: str, extra: Schema | None = None) -> Schema:
    return {
        "description": description,
        "oneOf": [
            _column("Read this column as it is."),
            _table(["column"], {"column": _column(), **(extra or {})}),
            _const(),
        ],
    }


def _enum(enum_cls: type[Labelled], many: bool) -> Schema:
    members = list(enum_cls.__members__)
    forms: list[Schema] = [
        _column("A column holding national values as they are (no code list)."),
        _table(["column"], {"column": _column(), "codes": _CODES, "split": _SPLIT}),
        _const(members),
        _table(
            ["latest_of"],
            {
                "latest_of": {
                    "enum": ["stage_event", "service", "person"],
                    "description": "The section whose latest row (by order_by) gives the value.",
                },
                "field": {"type": "string", "description": "Its field (default `stage`)."},
                "default": {"enum": members, "description": "The value when there is no row."},
            },
        ),
    ]
    if many:
        forms.append(
            _table(
                ["table", "key", "column"],
                {
                    "table": {"type": "string", "description": "The child table: one row per value."},
                    "key": {"type": "string", "description": "Its column holding the parent's key."},
                    "column": {"type": "string", "description": "Its column holding the value."},
                    "codes": _CODES,
                },
            )
        )
    return {"description": f"National code list {enum_cls.__name__}: {', '.join(members)}.", "oneOf": forms}


def _region() -> Schema:
    fuzzy = {"type": "boolean", "description": "Match close spellings when no exact one does (default true)."}
    return {
        "description": "A region, read as a Kemendagri code.",
        "oneOf": [
            _column("A column holding a Kemendagri code (`33.73`, `3373`)."),
            _table(["column"], {"column": _column("A column holding a Kemendagri code."), "fuzzy": fuzzy}),
            _table(
                ["regency_name"],
                {
                    "regency_name": _column("A column holding regency/city names (`KAB. INDRAMAYU`)."),
                    "province_name": _column(
                        "A column holding province names (tells same-named regencies apart)."
                    ),
                    "province": {
                        "type": "string",
                        "pattern": "^[0-9]{2}$",
                        "description": "A constant province code for every row (a provincial unit): names "
                        "are matched inside it; an empty name is the province itself.",
                    },
                    "aliases": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "pattern": "^[0-9]{2}(\\.[0-9]{2})?$"},
                        "description": 'This source\'s own spellings → region codes (`KBB = "32.17"`), '
                        "tried before the shared alias table.",
                    },
                    "fuzzy": fuzzy,
                },
            ),
            _const(),
        ],
    }


def _field(kind: FieldKind) -> Schema:
    k = kind.kind
    if isinstance(k, type) and issubclass(k, Labelled):
        return _enum(k, kind.many)
    if k == "date":
        one = {
            "type": "string",
            "pattern": DATE_FORMAT_PATTERN,
            "examples": list(DATE_FORMATS),
            "description": "How it is stored: YYYY-MM-DD (default; a time after it is ignored), a "
            "pattern of D/DD, M/MM/MMM/MMMM (month names, Indonesian or English) and YYYY "
            "separated by / - . or a space, `serial` (spreadsheet day numbers) or `unix`.",
        }
        fmt = {
            "oneOf": [one, {"type": "array", "minItems": 1, "items": one}],
            "description": "One format, or several tried in order (the first that parses wins).",
        }
        return _simple("A date.", {"format": fmt})
    if k == "country":
        fmt = {
            "enum": list(COUNTRY_FORMATS),
            "description": "ISO alpha-2 (default), alpha-3, or a country name.",
        }
        return _simple("A country, read as ISO 3166-1 alpha-2.", {"format": fmt})
    if k == "bool":
        fmt = {"const": "boolean", "description": "Yes/no spellings: Y/T, Ya/Tidak, 1/0, true/false."}
        return _simple("A yes/no flag.", {"format": fmt})
    if k == "key":
        part = {
            "type": "string",
            "description": "For a key into a multi-table person section: the part's name.",
        }
        return _simple("The key of another record.", {"part": part})
    if k == "int":
        return _simple("A whole number, or an age as text: `34`, `34 th`, `34 tahun`, `8 bln`.")
    if k == "region":
        return _region()
    clean = {
        "const": "digits",
        "description": "Keep only the digits (NIK, phone); NULL if anything else remains.",
    }
    return _simple("Text.", {"codes": _CODES, "clean": clean})


def _definition_name(kind: FieldKind) -> str:
    if isinstance(kind.kind, type):
        return kind.kind.__name__ + ("List" if kind.many else "")
    return str(kind.kind)


def _part_keys(entity: Entity) -> Schema:
    keys: Schema = {
        "name": {
            "type": "string",
            "description": "Name of the part (default: the table); prefixes record keys.",
        },
        "table": {"type": "string", "minLength": 1, "description": "The table or view: one row per record."},
        "key": {
            "type": "string",
            "minLength": 1,
            "description": "Its primary-key column. Left out (not for [case]): rows are numbered within "
            "their case, key `<case key>/<n>`.",
        },
        "joins": {
            "type": "array",
            "items": {"$ref": "#/$defs/join"},
            "description": "LEFT JOINs from the table; their columns are then `table.column`.",
        },
        "require": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Only rows where these columns are not NULL.",
        },
        "where": {"$ref": "#/$defs/where"},
    }
    if entity is Entity.STAGE_EVENT:
        keys["order_by"] = {"type": "string", "description": "The column giving the order of the steps."}
    return keys


def _many(section: str, description: str) -> Schema:
    return {
        "description": description,
        "oneOf": [
            {"$ref": f"#/$defs/{section}"},
            {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{section}"}},
        ],
    }


def build_schema() -> Schema:
    """The mapping-file JSON Schema (draft 2020-12)."""
    where_value = {
        "oneOf": [
            {"type": ["string", "integer"]},
            {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}},
        ]
    }
    definitions: Schema = {
        "join": _table(
            ["table", "on"],
            {
                "table": {"type": "string", "description": "The joined table."},
                "on": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "string"},
                    "description": "Local column = joined table's column.",
                },
            },
        ),
        "whereValue": where_value,
        "where": {
            "type": "object",
            "description": 'Row filters: only rows whose column holds a value listed (jenis_kasus = "TPPO")',
            "additionalProperties": {
                "oneOf": [
                    {"$ref": "#/$defs/whereValue"},
                    {"type": "object", "additionalProperties": {"$ref": "#/$defs/whereValue"}},
                ]
            },
        },
        "codeList": {
            "type": "object",
            "description": 'Source value → national value (or an array); "*" catches values not listed.',
            "additionalProperties": {
                "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]
            },
        },
    }
    for entity, section in _SECTIONS.items():
        properties = _part_keys(entity)
        required = ["table", "key"] if entity is Entity.CASE else ["table"]
        for name in national_fields(entity):
            kind = field_kind(entity, name)
            definition = _definition_name(kind)
            definitions.setdefault(definition, _field(kind))
            properties[name] = {"$ref": f"#/$defs/{definition}"}
            if kind.required:
                required.append(name)
        definitions[section] = _table(required, properties)
    agency = _table(
        ["code", "name"],
        {
            "code": {"type": "string", "description": "National agency code, e.g. KEMENSOS."},
            "name": {"type": "string", "description": "Official name."},
            "type": {"enum": list(OrgType.__members__), "description": "Organisation type (OrgType)."},
        },
    )
    source = _table(["agency"], {"agency": agency, "description": {"type": "string"}})
    source["description"] = "The agency holding the database."
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "TPPO Data Hub mapping file",
        "description": "How an agency database maps to the national TPPO vocabulary (docs/mapping.md).",
        "type": "object",
        "additionalProperties": False,
        "required": ["source", "case"],
        "properties": {
            "source": source,
            "case": {"$ref": "#/$defs/case", "description": "Cases (Kasus): exactly one table."},
            "person": _many("person", "Person records (Rekam orang): one table or several."),
            "service": _many("service", "Services (Layanan): one table or several."),
            "stage_event": _many("stage_event", "Procedural steps (Tahapan perkara): one table or several."),
            "restitution": _many(
                "restitution", "Restitution claimed, ordered and paid (Restitusi): one table or several."
            ),
            "codes": {
                "type": "object",
                "description": "Code lists, by name.",
                "additionalProperties": {"$ref": "#/$defs/codeList"},
            },
        },
        "$defs": dict(sorted(definitions.items())),
    }


def schema_text() -> str:
    """The schema as committed in ``docs/mapping.schema.json``."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
