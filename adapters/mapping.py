"""Mapping files: how an agency describes its database in the national vocabulary, without code.

A mapping is a TOML file (see ``docs/mapping.md``, ``docs/mapping.schema.json`` and
``adapters/mappings/*.toml``)
with one section per entity the source holds — ``case``, ``person``, ``service``,
``stage_event`` — each naming a table, its key, optional joins, and how each national field is
read: a column (optionally with a value ``format`` and a code list), a constant, values from a
child table, a region given by code or by names, or the latest stage of a child table.

This module only *reads and checks* a mapping: it turns the TOML into typed, immutable specs
and reports every problem it finds at once (a data officer fixing a file wants the whole list,
not one error per attempt). Each problem carries the line of the mapping file it is about
(:class:`Problem`, found by :mod:`adapters.locator`), so an editor can jump to it. Unknown
keys are errors, with a "did you mean" hint: a misspelt ``fromat`` silently ignored would
leave a date unparsed. Whether the tables and columns exist is checked against the live
database by :mod:`adapters.sql` when the source opens (same :class:`Problem` form).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import sqldates
from adapters.base import MappingError
from hub.support.locator import KeyPath, TomlLocator
from hub.vocabulary import reference
from hub.vocabulary.model import (
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

DATE_FORMATS = sqldates.CANDIDATES
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
    #: Date formats tried in order (``format`` as a list); ``format`` is the first.
    formats: tuple[str, ...] = ()
    #: Separator of several codes in one cell (``"ES, KP"``): several values or records.
    split: str | None = None
    #: ``digits``: keep only the digits (NIK, phone); NULL when anything else remains.
    clean: str | None = None


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
    #: Whether names no exact spelling matches may be matched approximately (``Kab. Cilacapp``).
    fuzzy: bool = True
    #: A constant province code for every row (a provincial unit's register): names are
    #: matched inside it, and a row with no regency name is in the province itself.
    province: str | None = None
    #: This source's own spellings → region codes, tried before the shared alias table.
    aliases: Mapping[str, str] = field(default_factory=dict)


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
    #: Position of the part in its section (0 for ``[case]``), to locate it in the file.
    index: int = 0

    @property
    def section(self) -> str:
        """The mapping section this part comes from (``person`` for ``[[person]]``)."""
        return _ENTITY_SECTION[self.entity]

    def path(self, *rest: str | int) -> KeyPath:
        """The key path of something in this part, for :meth:`SourceMapping.problem`."""
        return (self.section, self.index, *rest)


@dataclass(frozen=True, slots=True)
class SourceMapping:
    """A whole mapping file, checked."""

    name: str
    agency: Agency
    description: str
    parts: Mapping[Entity, tuple[Part, ...]]
    codes: Mapping[str, Mapping[str, tuple[str, ...]]]
    path: str
    #: Line numbers of the file's keys (None for a mapping built from a dict).
    locator: TomlLocator | None = field(default=None, compare=False, repr=False)

    def parts_of(self, entity: Entity) -> tuple[Part, ...]:
        return self.parts.get(entity, ())

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        """A problem about the key at ``path``, with its line when the file text is known."""
        line = self.locator.line_of(path) if self.locator is not None else None
        return Problem(message, self.file_name if line else None, line, tuple(path))

    def table_problem(self, table: str, message: str) -> Problem:
        """A problem about a table: located at the first key that names it."""
        for parts in self.parts.values():
            for part in parts:
                if part.table == table:
                    return self.problem(part.path("table"), message)
                for i, join in enumerate(part.joins):
                    if join.table == table:
                        return self.problem(part.path("joins", i, "table"), message)
                for name, spec in part.fields.items():
                    if isinstance(spec, ChildValues) and spec.table == table:
                        return self.problem(part.path(name, "table"), message)
        return Problem(message)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a mapping, and where: ``kemensos.toml:41: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    path: KeyPath = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.file and self.line else self.message


class LocatedMappingError(MappingError):
    """A :class:`MappingError` whose problems also carry their file line (:attr:`located`)."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.located = list(problems)
        super().__init__(source, [str(p) for p in self.located])


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
    Entity.RESTITUTION: {
        "case_key": FieldKind("key", required=True),
        "recipient_key": FieldKind("key"),
        "requested_idr": FieldKind("int"),
        "ordered_idr": FieldKind("int"),
        "paid_idr": FieldKind("int"),
    },
}

_SECTION_ENTITY = {
    "case": Entity.CASE,
    "person": Entity.PERSON,
    "service": Entity.SERVICE,
    "stage_event": Entity.STAGE_EVENT,
    "restitution": Entity.RESTITUTION,
}
_ENTITY_SECTION = {e: s for s, e in _SECTION_ENTITY.items()}
_PART_KEYS = {"name", "table", "key", "joins", "require", "order_by", "where"}
#: Keys allowed in each form of field table (see docs/mapping.md, "Fields").
_FORM_KEYS = {
    "constant": {"value"},
    "latest": {"latest_of", "field", "default"},
    "region": {"column", "regency_name", "province_name", "fuzzy", "province", "aliases"},
    "child": {"table", "key", "column", "codes"},
    "column": {"column", "format", "codes", "part", "split", "clean"},
}
_SOURCE_KEYS = {"agency", "description"}
_AGENCY_KEYS = {"code", "name", "type"}
_JOIN_KEYS = {"table", "on"}


def field_kind(entity: Entity, name: str) -> FieldKind:
    """The national kind of ``entity.name`` (for the SQL adapter's converters)."""
    return _ENTITY_FIELDS[entity][name]


def national_fields(entity: Entity) -> tuple[str, ...]:
    """The national fields a mapping may give for ``entity``, in documentation order."""
    return tuple(_ENTITY_FIELDS[entity])


# --- Loading --------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")


class _Problems:
    """Problems found while reading a mapping, each with the key path it is about."""

    def __init__(self) -> None:
        self.items: list[tuple[KeyPath, str]] = []

    def add(self, path: Sequence[str | int], message: str) -> None:
        self.items.append((tuple(path), message))

    def __bool__(self) -> bool:
        return bool(self.items)


def resolve_mapping_path(mapping: str, relative_to: Path | None = None) -> Path:
    """``polri`` → the built-in file; anything with a slash or ``.toml`` → a path."""
    if "/" in mapping or mapping.endswith(".toml"):
        path = Path(mapping)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        return path
    return BUILTIN_MAPPINGS / f"{mapping}.toml"


def load_mapping(path: Path, source_name: str) -> SourceMapping:
    """Read and check a mapping file; raises :class:`LocatedMappingError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(source_name, [f"mapping file not found: {path.name}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(source_name, [f"{path.name}: cannot be read ({type(exc).__name__})"]) from None
    return load_mapping_text(text, source_name, str(path))


def load_mapping_text(text: str, source_name: str, origin: str = "mapping.toml") -> SourceMapping:
    """Check a mapping given as TOML text (``origin`` names it in messages, e.g. its file)."""
    name = Path(origin).name
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else None
        reason = _TOML_POSITION.sub("", message)
        raise LocatedMappingError(
            source_name, [Problem(f"not valid TOML: {reason}", name if line else None, line)]
        ) from None
    return parse_mapping(raw, source_name, origin, text=text)


def parse_mapping(
    raw: Mapping[str, Any], source_name: str, path: str = "<memory>", *, text: str | None = None
) -> SourceMapping:
    """Check a mapping already read from TOML (see :func:`load_mapping`).

    With ``text`` (the TOML it was read from) every problem carries its line number.
    """
    locator = TomlLocator(text) if text is not None else None
    problems = _Problems()
    agency = _parse_agency(raw.get("source"), problems)
    codes = _parse_codes(raw.get("codes", {}), problems)
    parts: dict[Entity, tuple[Part, ...]] = {}
    for section, entity in _SECTION_ENTITY.items():
        if section not in raw:
            continue
        value = raw[section]
        items = value if isinstance(value, list) else [value]
        many = isinstance(value, list)
        parsed = [_parse_part(entity, section, item, i, many, problems) for i, item in enumerate(items)]
        parts[entity] = tuple(p for p in parsed if p is not None)
    for unknown in sorted(set(raw) - set(_SECTION_ENTITY) - {"source", "codes"}):
        sections = [*_SECTION_ENTITY, "source", "codes"]
        problems.add((unknown,), f"unknown top-level section [{unknown}]{_did_you_mean(unknown, sections)}")
    if Entity.CASE not in parts:
        if "case" not in raw:
            problems.add((), "a [case] section is required")
    elif len(parts[Entity.CASE]) != 1:
        problems.add(("case",), "[case] must be a single table (use joins for more tables)")
    source_section = raw.get("source")
    description = source_section.get("description", "") if isinstance(source_section, dict) else ""
    mapping = SourceMapping(
        name=source_name,
        agency=agency or Agency("UNKNOWN", "Unknown", OrgType.OTHER),
        description=description if isinstance(description, str) else "",
        parts=parts,
        codes=codes,
        path=path,
        locator=locator,
    )
    _check_references(mapping, problems)
    if problems:
        located = [mapping.problem(p, m) for p, m in problems.items]
        located.sort(key=lambda problem: problem.line or 0)  # file order, as an editor lists them
        raise LocatedMappingError(source_name, located)
    return mapping


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_keys(
    path: KeyPath, where: str, table: Mapping[str, Any], allowed: set[str], problems: _Problems
) -> None:
    for key in table:
        if key not in allowed:
            hint = _did_you_mean(key, sorted(allowed))
            valid = ", ".join(sorted(allowed))
            problems.add((*path, key), f"{where}: unknown key {key!r}{hint} (valid: {valid})")


def _type_name(value: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _parse_agency(section: Any, problems: _Problems) -> Agency | None:
    if not isinstance(section, dict):
        problems.add(("source",), "a [source] section with agency = {code, name, type} is required")
        return None
    _unknown_keys(("source",), "[source]", section, _SOURCE_KEYS, problems)
    if "description" in section and not isinstance(section["description"], str):
        problems.add(("source", "description"), "[source].description must be a string")
    agency = section.get("agency")
    if not isinstance(agency, dict) or not {"code", "name"} <= set(agency):
        problems.add(("source", "agency"), "[source].agency must be a table with code, name and type")
        return None
    _unknown_keys(("source", "agency"), "[source].agency", agency, _AGENCY_KEYS, problems)
    for key in ("code", "name", "type"):
        if key in agency and not isinstance(agency[key], str):
            kind = _type_name(agency[key])
            problems.add(("source", "agency", key), f"[source].agency.{key} must be a string, not {kind}")
    try:
        org_type = OrgType.parse(str(agency.get("type", "OTHER")))
    except ValueError as exc:
        problems.add(("source", "agency", "type"), f"[source].agency.type: {exc}")
        org_type = OrgType.OTHER
    return Agency(str(agency["code"]).upper(), str(agency["name"]), org_type)


def _parse_codes(section: Any, problems: _Problems) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(section, dict):
        problems.add(("codes",), "[codes] must be a table of code lists")
        return {}
    codes: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, entries in section.items():
        if not isinstance(entries, dict):
            problems.add(("codes", name), f"[codes.{name}] must map source values to national values")
            continue
        table: dict[str, tuple[str, ...]] = {}
        for source_value, national in entries.items():
            values = national if isinstance(national, list) else [national]
            if not values or not all(isinstance(v, str) for v in values):
                problems.add(
                    ("codes", name, source_value),
                    f"[codes.{name}] {source_value!r}: values must be strings (or an array of strings)",
                )
                continue
            table[str(source_value)] = tuple(values)
        codes[name] = table
    return codes


def _parse_part(
    entity: Entity, section: str, raw: Any, index: int, many: bool, problems: _Problems
) -> Part | None:
    where = f"[[{section}]] #{index + 1}" if many else f"[{section}]"
    base: KeyPath = (section, index)
    if not isinstance(raw, dict):
        problems.add(base, f"{where} must be a table")
        return None
    missing_table = False
    for required in ("table", "key") if entity is Entity.CASE else ("table",):
        value = raw.get(required)
        if value is None:
            problems.add(base, f"{where}: '{required}' (a string) is required")
            missing_table = missing_table or required == "table"
        elif not isinstance(value, str):
            problems.add((*base, required), f"{where}.{required} must be a string, not {_type_name(value)}")
            missing_table = missing_table or required == "table"
    if missing_table:
        return None
    for key in ("name", "order_by", "key"):
        if key in raw and not isinstance(raw[key], str):
            problems.add((*base, key), f"{where}.{key} must be a string, not {_type_name(raw[key])}")
    allowed = _ENTITY_FIELDS[entity]
    fields: dict[str, FieldSpec] = {}
    for name, value in raw.items():
        if name in _PART_KEYS:
            continue
        if name not in allowed:
            valid = ", ".join(sorted(allowed))
            hint = _did_you_mean(name, sorted(set(allowed) | _PART_KEYS))
            message = f"{where}: unknown field {name!r}{hint} (fields of {section}: {valid})"
            problems.add((*base, name), message)
            continue
        spec = _parse_field((*base, name), f"{where}.{name}", allowed[name], value, problems)
        if spec is not None:
            fields[name] = spec
    for name, kind in allowed.items():
        if kind.required and name not in fields and name not in raw:
            problems.add(base, f"{where}: field {name!r} is required")
    raw_joins = raw.get("joins", [])
    if not isinstance(raw_joins, list):
        problems.add((*base, "joins"), f"{where}.joins must be an array of tables")
        raw_joins = []
    joins = tuple(
        _parse_join((*base, "joins", i), f"{where}.joins", j, problems) for i, j in enumerate(raw_joins)
    )
    require = raw.get("require", [])
    if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
        problems.add((*base, "require"), f"{where}.require must be an array of column names")
        require = []
    return Part(
        entity=entity,
        name=str(raw.get("name", raw.get("table", section))),
        table=str(raw.get("table", "")),
        key=str(raw.get("key", "")),
        joins=tuple(j for j in joins if j is not None),
        fields=fields,
        require=tuple(require),
        order_by=raw["order_by"] if isinstance(raw.get("order_by"), str) else None,
        where=_parse_where((*base, "where"), f"{where}.where", raw.get("where", {}), problems),
        index=index,
    )


def _parse_where(
    path: KeyPath, where: str, raw: Any, problems: _Problems
) -> tuple[tuple[ColumnRef, tuple[str, ...]], ...]:
    """``where = { jenis_kasus = "TPPO" }``; a dotted bare key (``kasus.jenis = …``), which
    TOML reads as a nested table, names a column of a joined table like a quoted one does."""
    if not isinstance(raw, dict):
        problems.add(path, f"{where} must be a table: column = value or [values]")
        return ()
    filters: list[tuple[ColumnRef, tuple[str, ...]]] = []
    for column_name, accepted in raw.items():
        if isinstance(accepted, dict):
            for inner, value in accepted.items():
                nested = _parse_where((*path, column_name), where, {inner: value}, problems)
                filters.extend((ColumnRef(column_name, ref.column), v) for ref, v in nested)
            continue
        values = accepted if isinstance(accepted, list) else [accepted]
        if not values or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            problems.add((*path, column_name), f"{where}.{column_name}: values must be strings or integers")
            continue
        filters.append((ColumnRef.parse(column_name), tuple(str(v) for v in values)))
    return tuple(filters)


def _parse_join(path: KeyPath, where: str, raw: Any, problems: _Problems) -> Join | None:
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("table"), str)
        or not isinstance(raw.get("on"), dict)
        or not raw["on"]
    ):
        problems.add(path, f'{where}: each join needs table = "…" and on = {{ local = "remote" }}')
        return None
    _unknown_keys(path, where, raw, _JOIN_KEYS, problems)
    on = raw["on"]
    if not all(isinstance(v, str) for v in on.values()):
        problems.add((*path, "on"), f"{where}.on: remote columns must be strings")
        return None
    return Join(raw["table"], tuple((str(k), str(v)) for k, v in on.items()))


def _form_of(kind: FieldKind, value: Mapping[str, Any]) -> str:
    if "value" in value:
        return "constant"
    if "latest_of" in value:
        return "latest"
    if kind.kind == "region":
        return "region"
    if "table" in value:
        return "child"
    return "column"


def _parse_field(
    path: KeyPath, where: str, kind: FieldKind, value: Any, problems: _Problems
) -> FieldSpec | None:
    if isinstance(value, str):
        value = {"column": value}
    if not isinstance(value, dict):
        problems.add(path, f"{where}: expected a column name or a table, not {_type_name(value)}")
        return None
    form = _form_of(kind, value)
    _unknown_keys(path, where, value, _FORM_KEYS[form], problems)
    typed = {"fuzzy": bool, "aliases": dict}
    wrong = [
        k
        for k, v in value.items()
        if k in _FORM_KEYS[form]
        and not isinstance(v, typed.get(k, str))
        and not (k == "format" and isinstance(v, list) and v and all(isinstance(f, str) for f in v))
    ]
    for key in wrong:
        expected = {"fuzzy": "true or false", "aliases": "a table of name = code"}.get(key, "a string")
        problems.add((*path, key), f"{where}.{key} must be {expected}, not {_type_name(value[key])}")
    if wrong:
        return None
    if form == "constant":
        return Const(value["value"])
    if form == "latest":
        return LatestOf(value["latest_of"], value.get("field", "stage"), value.get("default"))
    if form == "region":
        return _parse_region(path, where, value, problems)
    if form == "child":
        if not kind.many:
            problems.add(path, f"{where}: values from a child table need a multi-valued field")
        missing = [k for k in ("key", "column") if k not in value]
        if missing:
            problems.add(path, f"{where}: a child table needs {' and '.join(missing)}")
            return None
        return ChildValues(value["table"], value["key"], value["column"], value.get("codes"))
    if "column" not in value:
        problems.add(path, f"{where}: 'column' is required")
        return None
    formats = _parse_formats(path, where, kind, value.get("format"), problems)
    part = value.get("part")
    if part is not None and kind.kind != "key":
        problems.add((*path, "part"), f"{where}: 'part' is only meaningful on a key field")
    split = value.get("split")
    if split is not None and (not split.strip() or len(split.strip()) > 3):
        problems.add((*path, "split"), f'{where}.split must be a short separator such as "," or ";"')
        split = None
    elif split is not None and not (kind.many or kind.kind is ServiceType):
        problems.add(
            (*path, "split"),
            f"{where}: split needs a multi-valued field (or a service type: one service per value)",
        )
    clean = value.get("clean")
    if clean is not None and (clean != "digits" or kind.kind != "text"):
        problems.add((*path, "clean"), f'{where}: clean = "digits" is the only cleaning, for text fields')
        clean = None
    return Column(
        ColumnRef.parse(value["column"]),
        formats[0] if formats else None,
        value.get("codes"),
        part,
        formats,
        split.strip() if split else None,
        clean,
    )


def _parse_formats(
    path: KeyPath, where: str, kind: FieldKind, raw: Any, problems: _Problems
) -> tuple[str, ...]:
    """The field's formats: a list for dates (tried in order), else at most one; defaults."""
    formats = tuple(raw) if isinstance(raw, list) else ((raw,) if raw is not None else ())
    if kind.kind == "date":
        bad = [f for f in formats if not sqldates.is_format(f)]
        for fmt in bad:
            hint = _did_you_mean(fmt, list(sqldates.CANDIDATES))
            problems.add(
                (*path, "format"),
                f"{where}: date format {fmt!r} not understood{hint} (patterns of D/DD, M/MM/MMM/MMMM and "
                f"YYYY separated by / - . or a space, e.g. DD/MM/YYYY or D MMMM YYYY; or serial, unix)",
            )
        formats = tuple(sqldates.canonical_format(f) for f in formats if f not in bad)
        return formats or ("YYYY-MM-DD",)
    allowed = {"country": COUNTRY_FORMATS, "bool": ("boolean",)}.get(str(kind.kind), ())
    if len(formats) > 1:
        problems.add((*path, "format"), f"{where}: only date fields take several formats")
    for fmt in formats[:1]:
        if fmt not in allowed:
            problems.add(
                (*path, "format"),
                f"{where}: format {fmt!r} not allowed here (allowed: {', '.join(allowed) or 'none'})",
            )
    if formats:
        return formats[:1]
    return {"country": ("alpha2",), "bool": ("boolean",)}.get(str(kind.kind), ())


def _parse_region(
    path: KeyPath, where: str, value: Mapping[str, Any], problems: _Problems
) -> RegionSpec | None:
    index = reference.regions()
    province = value.get("province")
    if province is not None:
        region = index.by_code(province)
        if region is None or not region.is_province:
            problems.add(
                (*path, "province"), f'{where}.province: {province!r} is not a province code (e.g. "32")'
            )
            province = None
    aliases: dict[str, str] = {}
    for alias, code in (value.get("aliases") or {}).items():
        region = index.by_code(code) if isinstance(code, str) else None
        if region is None:
            problems.add(
                (*path, "aliases", alias), f"{where}.aliases: {alias!r} = {code!r} is not a region code"
            )
            continue
        aliases[alias] = region.code
    spec = RegionSpec(
        code=ColumnRef.parse(value["column"]) if "column" in value else None,
        regency_name=ColumnRef.parse(value["regency_name"]) if "regency_name" in value else None,
        province_name=ColumnRef.parse(value["province_name"]) if "province_name" in value else None,
        fuzzy=value.get("fuzzy", True),
        province=region_code_of(province),
        aliases=aliases,
    )
    if spec.code is None and spec.regency_name is None:
        problems.add(path, f"{where}: a region needs column = (a code) or regency_name =")
    return spec


def region_code_of(code: str | None) -> str | None:
    region = reference.regions().by_code(code) if code else None
    return region.code if region is not None else None


def _check_references(mapping: SourceMapping, problems: _Problems) -> None:
    """Code lists exist and their values are valid national values for each field using them."""
    person_parts = {p.name for p in mapping.parts_of(Entity.PERSON)}
    for part in mapping.parts_of(Entity.SERVICE):
        spec = part.fields.get("recipient_key")
        if not isinstance(spec, Column):
            continue
        if len(person_parts) > 1 and spec.part not in person_parts:
            problems.add(
                part.path("recipient_key"),
                f"[service] {part.name}.recipient_key: persons come from several tables "
                f'({", ".join(sorted(person_parts))}); say which with part = "…"',
            )
    for entity, parts in mapping.parts.items():
        for part in parts:
            for name, spec in part.fields.items():
                kind = _ENTITY_FIELDS[entity][name]
                where = f"[{_ENTITY_SECTION[entity]}] {part.name}.{name}"
                if isinstance(spec, LatestOf):
                    target = _SECTION_ENTITY.get(spec.entity)
                    if target is None or target not in mapping.parts:
                        problems.add(
                            part.path(name, "latest_of"),
                            f"{where}: latest_of = {spec.entity!r} names no section of this mapping",
                        )
                    if spec.default is not None:
                        _check_value(part.path(name, "default"), where, kind, spec.default, problems)
                    continue
                if isinstance(spec, Const):
                    _check_value(part.path(name, "value"), where, kind, spec.value, problems)
                    continue
                codes = getattr(spec, "codes", None)
                if codes is None:
                    continue
                if codes not in mapping.codes:
                    hint = _did_you_mean(codes, sorted(mapping.codes))
                    problems.add(
                        part.path(name, "codes"),
                        f"{where}: code list {codes!r} is not defined under [codes]{hint}",
                    )
                    continue
                for source_value, national in mapping.codes[codes].items():
                    at = ("codes", codes, source_value)
                    if source_value == DEFAULT_CODE and len(national) != 1:
                        problems.add(at, f'{where}: [codes.{codes}] default "*" must map to one value')
                    if len(national) > 1 and not kind.many:
                        problems.add(at, f"{where}: [codes.{codes}] {source_value!r} maps to several values")
                    for value in national:
                        _check_value(at, f"{where} [codes.{codes}] {source_value!r}", kind, value, problems)


def _check_value(path: KeyPath, where: str, kind: FieldKind, value: str, problems: _Problems) -> None:
    if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled):
        try:
            kind.kind.parse(value)
        except ValueError as exc:
            problems.add(path, f"{where}: {exc}")
