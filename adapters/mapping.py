"""Mapping files: how an agency describes its database in the national vocabulary, without code.

A mapping is a TOML file (see ``docs/mapping.md``, ``docs/mapping.schema.json`` and
``adapters/mappings/*.toml``) with one section per entity the source holds — ``case``,
``person``, ``service``, ``stage_event``, ``restitution`` — each naming a table, its key,
optional joins, and how each national field is read: a column (optionally with a value
``format`` and a code list), a constant, values from a child table, a region given by code or
by names, or the latest stage of a child table.

The file's *shape* is declared once, as the pydantic models of :mod:`adapters.mapping_model`
(the same models give the editors' JSON Schema). This module reads a file against them and
turns it into the typed, immutable specs below, which the compiler reads. It reports every
problem it finds at once (a data officer fixing a file wants the whole list, not one error per
attempt), each with the line of the file it is about (:class:`Problem`, found by
:class:`~hub.support.locator.TomlLocator`), so an editor can jump to it. Unknown keys are
errors, with a "did you mean" hint: a misspelt ``fromat`` silently ignored would leave a date
unparsed. On a file of the right shape it then checks what a shape cannot say — code lists hold
national values of the fields using them, regions exist, ``latest_of`` reads a section there
is. Whether the tables and columns exist is checked against the live database by
:mod:`adapters.sql` when the source opens (same :class:`Problem` form).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.base import MappingError
from adapters.mapping_model import (
    CODE_LISTS,
    SECTION_OF,
    ChildTable,
    Constant,
    Latest,
    MappingFile,
    PlainColumn,
    RegionCode,
    RegionNames,
)
from adapters.mapping_model import FieldKind as FieldKind
from adapters.mapping_model import Part as PartModel
from adapters.mapping_model import field_kind as field_kind
from adapters.mapping_model import national_fields as national_fields
from hub.support.locator import KeyPath, TomlLocator
from hub.support.typed_toml import Issue, issues, suggestion, type_name, where_of
from hub.vocabulary import reference
from hub.vocabulary.model import Agency, Entity, Labelled

#: Where the mapping files shipped with the hub live; ``mapping = "polri"`` resolves here.
BUILTIN_MAPPINGS = Path(__file__).parent / "mappings"

#: Spellings of yes/no seen in Indonesian agency data (Ya/Tidak, Y/T, Y/N, 1/0, true/false).
#: Note ``T`` is *Tidak* (no), as on Indonesian forms, not "true".
TRUE_VALUES = frozenset({"y", "ya", "yes", "true", "1", "benar"})
FALSE_VALUES = frozenset({"n", "no", "t", "tidak", "tdk", "false", "f", "0", "bukan"})
#: The key of a code list entry that catches every value not listed (a default).
DEFAULT_CODE = "*"

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
    #: Whether the file writes the section as an array (``[[person]]``), for messages.
    listed: bool = False

    @property
    def section(self) -> str:
        """The mapping section this part comes from (``person`` for ``[[person]]``)."""
        return SECTION_OF[self.entity]

    def path(self, *rest: str | int) -> KeyPath:
        """The key path of something in this part, for :meth:`SourceMapping.problem`."""
        return (self.section, self.index, *rest)

    @property
    def written(self) -> str:
        """The part as the file writes it, for messages: ``[case]``, ``[[person]] #2``."""
        return f"[[{self.section}]] #{self.index + 1}" if self.listed else f"[{self.section}]"


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
        return _problem_at(self.locator, self.file_name, path, message)

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

    First its shape, against :class:`~adapters.mapping_model.MappingFile`; then, on a file of
    the right shape, what the shape cannot say (:func:`_check_meaning`). With ``text`` (the
    TOML it was read from) every problem carries its line number.
    """
    locator = TomlLocator(text) if text is not None else None
    problems = _Problems()
    raw_codes = raw.get("codes")
    context = {CODE_LISTS: tuple(raw_codes) if isinstance(raw_codes, dict) else ()}
    try:
        file = MappingFile.model_validate(dict(raw), context=context)
    except ValidationError as exc:
        for issue in issues(MappingFile, exc):
            problems.add(issue.path, _phrase(issue))
        raise _located(source_name, path, locator, problems) from None
    mapping = _specs(file, source_name, path, locator, problems)
    _check_meaning(mapping, problems)
    if problems:
        raise _located(source_name, path, locator, problems)
    return mapping


def _located(
    source_name: str, path: str, locator: TomlLocator | None, problems: _Problems
) -> LocatedMappingError:
    """The problems at their lines, in file order (as an editor lists them)."""
    located = [_problem_at(locator, Path(path).name, at, message) for at, message in problems.items]
    located.sort(key=lambda problem: problem.line or 0)
    return LocatedMappingError(source_name, located)


def _problem_at(
    locator: TomlLocator | None, file_name: str, path: Sequence[str | int], message: str
) -> Problem:
    """A problem about the key at ``path``, with its line when the file text is known."""
    line = locator.line_of(path) if locator is not None else None
    return Problem(message, file_name if line else None, line, tuple(path))


# --- the shape's problems, in words -----------------------------------------------------------

#: What a value of the wrong type should have been, by pydantic error type.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _phrase(issue: Issue) -> str:
    """One shape problem as the data officer reads it: the key path, what is wrong, a hint."""
    path = issue.path
    where, parent = where_of(path), where_of(path[:-1])
    key = str(path[-1]) if path else ""
    if issue.kind == "extra_forbidden":
        close = suggestion(key, issue.known)
        hint = f" (did you mean {close!r}?)" if close else ""
        valid = f" (valid: {', '.join(sorted(issue.known))})"
        if len(path) == 1:
            return f"unknown section [{key}]{hint}{valid}"
        return f"{parent}: unknown key {key!r}{hint}{valid}"
    if issue.kind == "missing":
        if len(path) == 1:
            return f"a [{key}] section is required"
        return f"{parent}: {key!r} is required"
    if issue.kind in _EXPECTED:
        return f"{where} must be {_EXPECTED[issue.kind]}, not {type_name(issue.value)}"
    if issue.kind in ("string_too_short", "too_short") and issue.context.get("min_length") == 1:
        return f"{where} must not be empty"
    if issue.kind == "mapping_form":
        return f"{where}: {issue.message}, not {type_name(issue.value)}"
    if issue.kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(issue.context.get("expected", "")))
        close = suggestion(str(issue.value), allowed)
        hint = f" (did you mean {close!r}?)" if close else ""
        return f"{where}: {issue.value!r} is not allowed here{hint} (allowed: {', '.join(allowed)})"
    message = issue.message
    return f"{where}: {message[:1].lower()}{message[1:]}"


# --- from the validated file to the specs the compiler reads -----------------------------------


def _specs(
    file: MappingFile, source_name: str, path: str, locator: TomlLocator | None, problems: _Problems
) -> SourceMapping:
    agency = file.source.agency
    parts: dict[Entity, tuple[Part, ...]] = {}
    for section, models in file.parts().items():
        listed = isinstance(getattr(file, section), list)
        specs = tuple(_part(section, i, listed, part, problems) for i, part in enumerate(models))
        parts[specs[0].entity] = specs
    return SourceMapping(
        name=source_name,
        agency=Agency(agency.code.upper(), agency.name, agency.type),
        description=file.source.description,
        parts=parts,
        codes={
            name: {
                value: (national,) if isinstance(national, str) else tuple(national)
                for value, national in entries.items()
            }
            for name, entries in file.codes.items()
        },
        path=path,
        locator=locator,
    )


def _part(section: str, index: int, listed: bool, part: PartModel, problems: _Problems) -> Part:
    entity = part.entity
    at = (section, index) if listed else (section,)
    fields: dict[str, FieldSpec] = {}
    for name in national_fields(entity):
        form = getattr(part, name)
        if form is not None:
            fields[name] = _spec(field_kind(entity, name), form, (*at, name), problems)
    order_by = getattr(part, "order_by", None)
    return Part(
        entity=entity,
        name=part.name or part.table,
        table=part.table,
        key=part.key or "",
        joins=tuple(Join(j.table, tuple(j.on.items())) for j in part.joins),
        fields=fields,
        require=part.require,
        order_by=order_by,
        where=tuple(_where(part.where)),
        index=index,
        listed=listed,
    )


def _where(where: Mapping[str, Any]) -> Iterator[tuple[ColumnRef, tuple[str, ...]]]:
    """``where = { jenis_kasus = "TPPO" }``; a dotted bare key (``kasus.jenis = …``), which
    TOML reads as a nested table, names a column of a joined table like a quoted one does."""
    for column, accepted in where.items():
        if isinstance(accepted, dict):
            for inner, values in accepted.items():
                yield ColumnRef(column, inner), _values(values)
        else:
            yield ColumnRef.parse(column), _values(accepted)


def _values(accepted: str | list[str]) -> tuple[str, ...]:
    return (accepted,) if isinstance(accepted, str) else tuple(accepted)


def _spec(kind: FieldKind, form: Any, path: KeyPath, problems: _Problems) -> FieldSpec:
    """The spec of one field from its validated form (formats defaulted by the field's kind)."""
    if isinstance(form, str):
        if kind.kind == "region":
            return RegionSpec(code=ColumnRef.parse(form))
        form = PlainColumn(column=form)
    if isinstance(form, RegionCode):
        return RegionSpec(code=ColumnRef.parse(form.column), fuzzy=form.fuzzy)
    if isinstance(form, RegionNames):
        return _region(form, path, problems)
    if isinstance(form, ChildTable):
        return ChildValues(form.table, form.key, form.column, form.codes)
    if isinstance(form, Latest):
        return LatestOf(form.latest_of, form.field, _name(form.default))
    if isinstance(form, Constant):
        return Const(_name(form.value))
    # A column form: each kind's model has the keys that kind may use (format, codes, …).
    written = getattr(form, "format", None)
    formats = (written,) if isinstance(written, str) else tuple(written or ())
    formats = formats or _DEFAULT_FORMATS.get(str(kind.kind), ())
    return Column(
        ColumnRef.parse(form.column),
        formats[0] if formats else None,
        getattr(form, "codes", None),
        getattr(form, "part", None),
        formats,
        getattr(form, "split", None),
        getattr(form, "clean", None),
    )


def _name(value: Labelled | str | None) -> Any:
    """A national value as the specs keep it: the member's name."""
    return value.name if isinstance(value, Labelled) else value


#: The format of a column written without one, by kind.
_DEFAULT_FORMATS: dict[str, tuple[str, ...]] = {
    "date": ("YYYY-MM-DD",),
    "country": ("alpha2",),
    "bool": ("boolean",),
}


def _region(form: RegionNames, path: KeyPath, problems: _Problems) -> RegionSpec:
    """Region names; the constant province and the aliases must be regions of the reference data."""
    index = reference.regions()
    province = index.by_code(form.province) if form.province is not None else None
    if form.province is not None and (province is None or not province.is_province):
        problems.add(
            (*path, "province"),
            f'{where_of(path)}.province: {form.province!r} is not a province code (e.g. "32")',
        )
        province = None
    aliases: dict[str, str] = {}
    for alias, code in form.aliases.items():
        region = index.by_code(code)
        if region is None:
            problems.add(
                (*path, "aliases", alias),
                f"{where_of(path)}.aliases: {alias!r} = {code!r} is not a region code",
            )
            continue
        aliases[alias] = region.code
    return RegionSpec(
        regency_name=ColumnRef.parse(form.regency_name),
        province_name=ColumnRef.parse(form.province_name) if form.province_name is not None else None,
        fuzzy=form.fuzzy,
        province=province.code if province is not None else None,
        aliases=aliases,
    )


# --- what a shape cannot say ----------------------------------------------------------------


def _check_meaning(mapping: SourceMapping, problems: _Problems) -> None:
    """Sections that ``latest_of`` reads exist; a service says which person part it is for;
    code lists hold national values of the fields that use them."""
    person_parts = {p.name for p in mapping.parts_of(Entity.PERSON)}
    for part in mapping.parts_of(Entity.SERVICE):
        spec = part.fields.get("recipient_key")
        if isinstance(spec, Column) and len(person_parts) > 1 and spec.part not in person_parts:
            problems.add(
                part.path("recipient_key"),
                f"{part.written}.recipient_key: persons come from several tables "
                f'({", ".join(sorted(person_parts))}); say which with part = "…"',
            )
    sections = {SECTION_OF[entity] for entity in mapping.parts}
    for entity, parts in mapping.parts.items():
        for part in parts:
            for name, spec in part.fields.items():
                where = f"{part.written}.{name}"
                if isinstance(spec, LatestOf) and spec.entity not in sections:
                    problems.add(
                        part.path(name, "latest_of"),
                        f"{where}: latest_of = {spec.entity!r} names no section of this mapping",
                    )
                codes = getattr(spec, "codes", None)
                if codes is not None and codes in mapping.codes:
                    _check_code_list(mapping.codes[codes], codes, where, field_kind(entity, name), problems)


def _check_code_list(
    table: Mapping[str, tuple[str, ...]], name: str, where: str, kind: FieldKind, problems: _Problems
) -> None:
    enum_cls = kind.kind if isinstance(kind.kind, type) and issubclass(kind.kind, Labelled) else None
    for source_value, national in table.items():
        at = ("codes", name, source_value)
        if source_value == DEFAULT_CODE and len(national) != 1:
            problems.add(at, f'{where}: [codes.{name}] default "*" must map to one value')
        if len(national) > 1 and not kind.many:
            problems.add(at, f"{where}: [codes.{name}] {source_value!r} maps to several values")
        for value in national if enum_cls is not None else ():
            try:
                enum_cls.parse(value)
            except ValueError as exc:
                problems.add(at, f"{where} [codes.{name}] {source_value!r}: {exc}")
