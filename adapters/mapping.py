"""Mapping files: how an agency describes its database in the national vocabulary, without code.

A mapping is a TOML file (see ``docs/mapping-format.md`` and ``adapters/mappings/*.toml``)
with one section per entity the source holds — ``case``, ``person``, ``service``,
``stage_event`` — each naming a table, its key, optional joins, and how each national field is
read: a column (optionally with a value ``format`` and a code list), a constant, values from a
child table, a region given by code or by names, or the latest stage of a child table.

This module only *reads and checks* a mapping: it turns the TOML into typed, immutable specs
and reports every problem it finds at once (a data officer fixing a file wants the whole list,
not one error per attempt). Whether the tables and columns exist is checked against the live
database by :mod:`adapters.sql` when the source opens.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.base import MappingError
from hub.model import (
    Agency,
    CaseStage,
    Entity,
    ExploitationType,
    Labelled,
    OrgType,
    PersonRole,
    ServiceStatus,
    ServiceType,
    Sex,
    TraffickingMeans,
)

#: Where the mapping files shipped with the hub live; ``mapping = "polri"`` resolves here.
BUILTIN_MAPPINGS = Path(__file__).parent / "mappings"

DATE_FORMATS = ("YYYY-MM-DD", "DD/MM/YYYY", "unix")
#: Spellings of yes/no seen in Indonesian agency data (Ya/Tidak, Y/T, Y/N, 1/0, true/false).
#: Note ``T`` is *Tidak* (no), as on Indonesian forms, not "true".
TRUE_VALUES = frozenset({"y", "ya", "yes", "true", "1", "benar"})
FALSE_VALUES = frozenset({"n", "no", "t", "tidak", "tdk", "false", "f", "0", "bukan"})
#: The key of a code list entry that catches every value not listed (a default).
DEFAULT_CODE = "*"
COUNTRY_FORMATS = ("alpha2", "alpha3", "name")

# --- Field specs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A column, optionally qualified by a joined table: ``tgl_lp`` or ``laporan_polisi.tgl_lp``."""

    table: str | None
    column: str

    @classmethod
    def parse(cls, text: str) -> ColumnRef:
        table, _, column = text.rpartition(".")
        return cls(table or None, column)

    def __str__(self) -> str:
        return f"{self.table}.{self.column}" if self.table else self.column


@dataclass(frozen=True, slots=True)
class Column:
    """Read a column; ``format`` parses dates or countries, ``codes`` names a code list."""

    ref: ColumnRef
    format: str | None = None
    codes: str | None = None
    part: str | None = None  # for keys of a multi-table entity: which table's key this is


@dataclass(frozen=True, slots=True)
class Const:
    """The same national value for every row (e.g. every ``korban`` row is a VICTIM)."""

    value: str


@dataclass(frozen=True, slots=True)
class ChildValues:
    """Several values per record from a child table (e.g. exploitation types of a case)."""

    table: str
    key: str
    column: str
    codes: str | None = None


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """A region given by a code column, or by regency (and province) names."""

    code: ColumnRef | None = None
    regency_name: ColumnRef | None = None
    province_name: ColumnRef | None = None


@dataclass(frozen=True, slots=True)
class LatestOf:
    """The value of the latest row of another entity of the same record (e.g. current stage)."""

    entity: str
    field: str
    default: str | None = None


FieldSpec = Column | Const | ChildValues | RegionSpec | LatestOf


@dataclass(frozen=True, slots=True)
class Join:
    """A LEFT JOIN from the part's table: ``on`` maps local columns to the joined table's."""

    table: str
    on: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One table that provides records of an entity.

    An entity may come from several tables (the police keep victims, suspects and witnesses
    apart); each is a part, and record keys are prefixed with the part name when there is more
    than one so that keys stay unique within the source.
    """

    entity: Entity
    name: str
    table: str
    key: str
    joins: tuple[Join, ...]
    fields: Mapping[str, FieldSpec]
    require: tuple[str, ...]
    order_by: str | None
    #: Row filters: only rows whose column holds one of the values (e.g. jenis_kasus = TPPO).
    where: tuple[tuple[ColumnRef, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class SourceMapping:
    """A whole mapping file, checked."""

    name: str
    agency: Agency
    description: str
    parts: Mapping[Entity, tuple[Part, ...]]
    codes: Mapping[str, Mapping[str, tuple[str, ...]]]
    path: str

    def parts_of(self, entity: Entity) -> tuple[Part, ...]:
        return self.parts.get(entity, ())


# --- What each national field is ------------------------------------------------------------

# kind: "text", "date", "int", "key", "region", "country", or an enum class. "list" marks
# multi-valued fields.


@dataclass(frozen=True, slots=True)
class FieldKind:
    kind: str | type[Labelled]
    many: bool = False
    required: bool = False


_ENTITY_FIELDS: dict[Entity, dict[str, FieldKind]] = {
    Entity.CASE: {
        "source_key": FieldKind("text"),
        "reported_at": FieldKind("date"),
        "region": FieldKind("region"),
        "country": FieldKind("country"),
        "exploitation_types": FieldKind(ExploitationType, many=True),
        "means": FieldKind(TraffickingMeans, many=True),
        "stage": FieldKind(CaseStage),
    },
    Entity.PERSON: {
        "case_key": FieldKind("key", required=True),
        "roles": FieldKind(PersonRole, many=True, required=True),
        "sex": FieldKind(Sex),
        "birth_date": FieldKind("date"),
        "age": FieldKind("int"),
        "child": FieldKind("bool"),
        "age_at": FieldKind("date"),
        "citizenship": FieldKind("text"),
        "domicile_region": FieldKind("region"),
        "full_name": FieldKind("text"),
        "nik": FieldKind("text"),
        "passport_number": FieldKind("text"),
        "address": FieldKind("text"),
        "phone": FieldKind("text"),
    },
    Entity.SERVICE: {
        "case_key": FieldKind("key", required=True),
        "recipient_key": FieldKind("key"),
        "type": FieldKind(ServiceType, required=True),
        "status": FieldKind(ServiceStatus),
        "start_date": FieldKind("date"),
        "end_date": FieldKind("date"),
        "provider_unit": FieldKind("text"),
        "location": FieldKind("text"),
    },
    Entity.STAGE_EVENT: {
        "case_key": FieldKind("key", required=True),
        "stage": FieldKind(CaseStage, required=True),
        "date": FieldKind("date"),
        "reference": FieldKind("text"),
    },
}

_SECTION_ENTITY = {
    "case": Entity.CASE,
    "person": Entity.PERSON,
    "service": Entity.SERVICE,
    "stage_event": Entity.STAGE_EVENT,
}
_PART_KEYS = {"name", "table", "key", "joins", "require", "order_by", "where"}


def field_kind(entity: Entity, name: str) -> FieldKind:
    """The national kind of ``entity.name`` (for the SQL adapter's converters)."""
    return _ENTITY_FIELDS[entity][name]


# --- Loading --------------------------------------------------------------------------------


def resolve_mapping_path(mapping: str, relative_to: Path | None = None) -> Path:
    """``polri`` → the built-in file; anything with a slash or ``.toml`` → a path."""
    if "/" in mapping or mapping.endswith(".toml"):
        path = Path(mapping)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        return path
    return BUILTIN_MAPPINGS / f"{mapping}.toml"


def load_mapping(path: Path, source_name: str) -> SourceMapping:
    """Read and check a mapping file; raises :class:`MappingError` listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(source_name, [f"mapping file not found: {path.name}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(source_name, [f"{path.name}: not valid TOML: {exc}"]) from None
    return parse_mapping(raw, source_name, str(path))


def parse_mapping(raw: Mapping[str, Any], source_name: str, path: str = "<memory>") -> SourceMapping:
    """Check a mapping already read from TOML (see :func:`load_mapping`)."""
    problems: list[str] = []
    agency = _parse_agency(raw.get("source"), problems)
    codes = _parse_codes(raw.get("codes", {}), problems)
    parts: dict[Entity, tuple[Part, ...]] = {}
    for section, entity in _SECTION_ENTITY.items():
        if section not in raw:
            continue
        value = raw[section]
        items = value if isinstance(value, list) else [value]
        parsed = [_parse_part(entity, section, item, i, len(items), problems) for i, item in enumerate(items)]
        parts[entity] = tuple(p for p in parsed if p is not None)
    unknown = set(raw) - set(_SECTION_ENTITY) - {"source", "codes"}
    problems.extend(f"unknown top-level section [{name}]" for name in sorted(unknown))
    if Entity.CASE not in parts:
        problems.append("a [case] section is required")
    elif len(parts[Entity.CASE]) != 1:
        problems.append("[case] must be a single table (use joins for more tables)")
    mapping = SourceMapping(
        name=source_name,
        agency=agency or Agency("UNKNOWN", "Unknown", OrgType.OTHER),
        description=str(raw.get("source", {}).get("description", ""))
        if isinstance(raw.get("source"), dict)
        else "",
        parts=parts,
        codes=codes,
        path=path,
    )
    _check_references(mapping, problems)
    if problems:
        raise MappingError(source_name, problems)
    return mapping


def _parse_agency(section: Any, problems: list[str]) -> Agency | None:
    if not isinstance(section, dict):
        problems.append("a [source] section with agency = {code, name, type} is required")
        return None
    agency = section.get("agency")
    if not isinstance(agency, dict) or not {"code", "name"} <= set(agency):
        problems.append("[source].agency must be a table with code, name and type")
        return None
    try:
        org_type = OrgType.parse(str(agency.get("type", "OTHER")))
    except ValueError as exc:
        problems.append(f"[source].agency.type: {exc}")
        org_type = OrgType.OTHER
    return Agency(str(agency["code"]).upper(), str(agency["name"]), org_type)


def _parse_codes(section: Any, problems: list[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(section, dict):
        problems.append("[codes] must be a table of code lists")
        return {}
    codes: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, entries in section.items():
        if not isinstance(entries, dict):
            problems.append(f"[codes.{name}] must map source values to national values")
            continue
        table: dict[str, tuple[str, ...]] = {}
        for source_value, national in entries.items():
            values = national if isinstance(national, list) else [national]
            if not all(isinstance(v, str) for v in values):
                problems.append(f"[codes.{name}] {source_value!r}: values must be strings")
                continue
            table[str(source_value)] = tuple(values)
        codes[name] = table
    return codes


def _parse_part(
    entity: Entity, section: str, raw: Any, index: int, count: int, problems: list[str]
) -> Part | None:
    where = f"[{section}]" if count == 1 else f"[[{section}]] #{index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table")
        return None
    for required in ("table", "key"):
        if not isinstance(raw.get(required), str):
            problems.append(f"{where}: '{required}' (a string) is required")
    if problems and not isinstance(raw.get("table"), str):
        return None
    allowed = _ENTITY_FIELDS[entity]
    fields: dict[str, FieldSpec] = {}
    for name, value in raw.items():
        if name in _PART_KEYS:
            continue
        if name not in allowed:
            valid = ", ".join(sorted(allowed))
            problems.append(f"{where}: unknown field {name!r} (fields of {section}: {valid})")
            continue
        spec = _parse_field(f"{where}.{name}", allowed[name], value, problems)
        if spec is not None:
            fields[name] = spec
    for name, kind in allowed.items():
        if kind.required and name not in fields:
            problems.append(f"{where}: field {name!r} is required")
    joins = tuple(_parse_join(f"{where}.joins", j, problems) for j in raw.get("joins", []))
    require = raw.get("require", [])
    if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
        problems.append(f"{where}.require must be a list of column names")
        require = []
    where_filters: list[tuple[ColumnRef, tuple[str, ...]]] = []
    raw_where = raw.get("where", {})
    if not isinstance(raw_where, dict):
        problems.append(f"{where}.where must be a table: column = value or [values]")
        raw_where = {}
    for column_name, accepted in raw_where.items():
        values = accepted if isinstance(accepted, list) else [accepted]
        if not values or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            problems.append(f"{where}.where.{column_name}: values must be strings or integers")
            continue
        where_filters.append((ColumnRef.parse(column_name), tuple(str(v) for v in values)))
    return Part(
        entity=entity,
        name=str(raw.get("name", raw.get("table", section))),
        table=str(raw.get("table", "")),
        key=str(raw.get("key", "")),
        joins=tuple(j for j in joins if j is not None),
        fields=fields,
        require=tuple(require),
        order_by=raw.get("order_by"),
        where=tuple(where_filters),
    )


def _parse_join(where: str, raw: Any, problems: list[str]) -> Join | None:
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("table"), str)
        or not isinstance(raw.get("on"), dict)
    ):
        problems.append(f'{where}: each join needs table = "…" and on = {{ local = "remote" }}')
        return None
    return Join(raw["table"], tuple((str(k), str(v)) for k, v in raw["on"].items()))


def _parse_field(where: str, kind: FieldKind, value: Any, problems: list[str]) -> FieldSpec | None:
    if isinstance(value, str):
        value = {"column": value}
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a column name or a table")
        return None
    if "value" in value:
        return Const(str(value["value"]))
    if "latest_of" in value:
        return LatestOf(str(value["latest_of"]), str(value.get("field", "stage")), value.get("default"))
    if kind.kind == "region":
        spec = RegionSpec(
            code=ColumnRef.parse(value["column"]) if "column" in value else None,
            regency_name=ColumnRef.parse(value["regency_name"]) if "regency_name" in value else None,
            province_name=ColumnRef.parse(value["province_name"]) if "province_name" in value else None,
        )
        if spec.code is None and spec.regency_name is None:
            problems.append(f"{where}: a region needs column = (a code) or regency_name =")
        return spec
    if "table" in value:
        if not kind.many:
            problems.append(f"{where}: values from a child table need a multi-valued field")
        missing = [k for k in ("key", "column") if not isinstance(value.get(k), str)]
        if missing:
            problems.append(f"{where}: a child table needs {' and '.join(missing)}")
            return None
        return ChildValues(value["table"], value["key"], value["column"], value.get("codes"))
    if not isinstance(value.get("column"), str):
        problems.append(f"{where}: 'column' is required")
        return None
    fmt = value.get("format")
    if fmt is not None:
        allowed = {"date": DATE_FORMATS, "country": COUNTRY_FORMATS, "bool": ("boolean",)}.get(
            str(kind.kind), ()
        )
        if fmt not in allowed:
            problems.append(
                f"{where}: format {fmt!r} not allowed here (allowed: {', '.join(allowed) or 'none'})"
            )
    elif kind.kind == "date":
        fmt = "YYYY-MM-DD"
    elif kind.kind == "country":
        fmt = "alpha2"
    elif kind.kind == "bool":
        fmt = "boolean"
    part = value.get("part")
    if part is not None and kind.kind != "key":
        problems.append(f"{where}: 'part' is only meaningful on a key field")
    return Column(ColumnRef.parse(value["column"]), fmt, value.get("codes"), part)


def _check_references(mapping: SourceMapping, problems: list[str]) -> None:
    """Code lists exist and their values are valid national values for each field using them."""
    entity_sections = {e: s for s, e in _SECTION_ENTITY.items()}
    person_parts = {p.name for p in mapping.parts_of(Entity.PERSON)}
    for part in mapping.parts_of(Entity.SERVICE):
        spec = part.fields.get("recipient_key")
        if not isinstance(spec, Column):
            continue
        if len(person_parts) > 1 and spec.part not in person_parts:
            problems.append(
                f"[service] {part.name}.recipient_key: persons come from several tables "
                f'({", ".join(sorted(person_parts))}); say which with part = "…"'
            )
    for entity, parts in mapping.parts.items():
        for part in parts:
            for name, spec in part.fields.items():
                kind = _ENTITY_FIELDS[entity][name]
                where = f"[{entity_sections[entity]}] {part.name}.{name}"
                if isinstance(spec, LatestOf):
                    target = _SECTION_ENTITY.get(spec.entity)
                    if target is None or target not in mapping.parts:
                        problems.append(
                            f"{where}: latest_of = {spec.entity!r} names no section of this mapping"
                        )
                    if spec.default is not None:
                        _check_value(where, kind, spec.default, problems)
                    continue
                if isinstance(spec, Const):
                    _check_value(where, kind, spec.value, problems)
                    continue
                codes = getattr(spec, "codes", None)
                if codes is None:
                    continue
                if codes not in mapping.codes:
                    problems.append(f"{where}: code list {codes!r} is not defined under [codes]")
                    continue
                for source_value, national in mapping.codes[codes].items():
                    if source_value == DEFAULT_CODE and len(national) != 1:
                        problems.append(f'{where}: [codes.{codes}] default "*" must map to one value')
                    if len(national) > 1 and not kind.many:
                        problems.append(f"{where}: [codes.{codes}] {source_value!r} maps to several values")
                    for value in national:
                        _check_value(f"{where} [codes.{codes}] {source_value!r}", kind, value, problems)


def _check_value(where: str, kind: FieldKind, value: str, problems: list[str]) -> None:
    if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
        try:
            kind.kind.parse(value)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
