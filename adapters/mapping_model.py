"""The shape of a mapping file, declared once as pydantic models.

A mapping file (``docs/mapping.md``) has a ``[source]``, one ``[case]`` table, optional
``[[person]]``, ``[[service]]``, ``[[stage_event]]`` and ``[[restitution]]`` tables, and code
lists under ``[codes]``. Each entity section is a *part* (:class:`CasePart`, :class:`PersonPart`
…): the keys every part has (``table``, ``key``, ``joins`` …) and the national fields of its
entity, each written in one of the *forms* its kind allows — a column name, a table such as
``{ column, format }`` or ``{ column, codes, split }``, a constant ``{ value }``, the latest row
of another section, a child table, region names.

Everything that is known about the file's *shape* lives here, and only here:

- :mod:`adapters.mapping` validates a file against :class:`MappingFile` (unknown keys are
  errors with a "did you mean", every problem at its line) and turns the result into the specs
  the compiler reads;
- ``docs/mapping.schema.json``, the editors' JSON Schema, is :func:`json_schema` of the same
  models (``python -m adapters.mapping_schema``);
- what each national field *is* (:class:`FieldKind`: text, date, a national code list, several
  values …) is read off the annotation of its model field (:func:`field_kind`), so a field added
  to a part model is known to the validator, the schema and the compiler at once.

What a shape cannot say is checked by :mod:`adapters.mapping` after validation (a code list's
values are national values of the field that uses it, a region code exists) and by the SQL
adapter against the live database (tables and columns exist). One check here needs the rest
of the file: a ``codes = "…"`` must name a list of ``[codes]``; :mod:`adapters.mapping` passes
the names as the validation context (:data:`CODE_LISTS`).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PlainValidator,
    StrictBool,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)

from adapters import sqldates
from hub.support.typed_toml import StrictModel, TomlJsonSchema, member, one_or_many, suggestion
from hub.vocabulary.model import (
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

#: The validation context key holding the names of the file's code lists (``[codes.<name>]``).
CODE_LISTS = "code_lists"
#: What a date format looks like, for editors (the hub checks precisely: ``adapters/sqldates.py``).
DATE_FORMAT_PATTERN = "^(YYYY-MM-DD( HH:MM:SS)?|serial|unix|[DMY]{1,4}[/. -][DMY]{1,4}[/. -][DMY]{1,4})$"


# --- what a national field is ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldKind:
    """What a national field holds: ``text``, ``date``, ``int``, ``bool``, ``key``, ``region``,
    ``country``, or a national code list (an enum class); ``many`` for several values per record.

    It is attached to the field's annotation in the part models; :func:`field_kind` reads it
    back (``required`` from whether the model field has a default).
    """

    kind: str | type[Labelled]
    many: bool = False
    required: bool = False


# --- the simple values -------------------------------------------------------------------------

NonEmpty = Annotated[str, Field(min_length=1)]
#: A column of the part's table, or ``table.column`` of a joined table.
ColumnName = Annotated[str, Field(min_length=1)]


def _defined_code_list(name: str, info: ValidationInfo) -> str:
    """A ``codes = "…"`` names a list of the file (when the caller says which lists there are)."""
    lists = (info.context or {}).get(CODE_LISTS)
    if lists is not None and name not in lists:
        close = suggestion(name, list(lists))
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ValueError(f"code list {name!r} is not defined under [codes]{hint}")
    return name


CodeListName = Annotated[str, AfterValidator(_defined_code_list)]


def _separator(text: str) -> str:
    if not text.strip() or len(text.strip()) > 3:
        raise ValueError('must be a short separator such as "," or ";"')
    return text.strip()


#: Several codes in one cell separated by this (spaces around it do not matter).
Separator = Annotated[
    str, AfterValidator(_separator), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 3})
]
#: A region code as an editor should see it (the hub checks it against the reference data).
ProvinceCode = Annotated[str, WithJsonSchema({"type": "string", "pattern": "^[0-9]{2}$"})]
RegionCodeText = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{2}(\.?[0-9]{2})?$"})]


def _date_format(text: str) -> str:
    if not sqldates.is_format(text):
        close = suggestion(text, list(sqldates.CANDIDATES))
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ValueError(
            f"date format {text!r} not understood{hint} (patterns of D/DD, M/MM/MMM/MMMM and YYYY "
            "separated by / - . or a space, e.g. DD/MM/YYYY or D MMMM YYYY; or serial, unix)"
        )
    return sqldates.canonical_format(text)


DateFormat = Annotated[
    str,
    AfterValidator(_date_format),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DATE_FORMAT_PATTERN,
            "examples": list(sqldates.CANDIDATES),
            "description": "YYYY-MM-DD (default; a time after it is ignored), a pattern of D/DD, "
            "M/MM/MMM/MMMM (month names, Indonesian or English) and YYYY separated by / - . or a space, "
            "`serial` (spreadsheet day numbers) or `unix`.",
        }
    ),
]


def _where_value(value: Any) -> str:
    """A row-filter value: a string or an integer (compared with the column's own type)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise ValueError("values must be strings or integers")


WhereValue = Annotated[str, PlainValidator(_where_value), WithJsonSchema({"type": ["string", "integer"]})]
WhereValues = one_or_many(WhereValue)


def _by_kind(value: Any) -> str:
    return "columns" if isinstance(value, dict) else "values"


#: ``jenis_kasus = "TPPO"`` or, from a dotted bare key, ``kasus = { jenis = "TPPO" }``.
WhereEntry = Annotated[
    Annotated[WhereValues, Tag("values")] | Annotated[dict[str, WhereValues], Tag("columns")],
    Discriminator(_by_kind),
]


# --- the forms of a field ----------------------------------------------------------------------


class Constant(StrictModel):
    """The same value for every row."""

    value: str = Field(description="The value every row gets.")


class PlainColumn(StrictModel):
    """Read a column as it is."""

    column: ColumnName = Field(description="A column of the part's table, or `table.column` of a join.")


class TextColumn(PlainColumn):
    """Read a text column, optionally through a code list or cleaned."""

    codes: CodeListName | None = Field(None, description="Name of a code list under [codes].")
    clean: Literal["digits"] | None = Field(
        None, description="`digits`: keep only the digits (NIK, phone); NULL if anything else remains."
    )


class DateColumn(PlainColumn):
    """Read a date column in the formats it is stored in."""

    format: one_or_many(DateFormat) | None = Field(
        None, description="One format, or several tried in order (the first that parses wins)."
    )


class CountryColumn(PlainColumn):
    """Read a country column."""

    format: Literal["alpha2", "alpha3", "name"] | None = Field(
        None, description="ISO alpha-2 (default), alpha-3, or a country name (English or Indonesian)."
    )


class FlagColumn(PlainColumn):
    """Read a yes/no column."""

    format: Literal["boolean"] | None = Field(
        None, description="Yes/no spellings: Y/T, Ya/Tidak, 1/0, true/false (the default)."
    )


class KeyColumn(PlainColumn):
    """Read the key of another record."""

    part: str | None = Field(
        None, description="For a key into a multi-table person section: the part's name."
    )


class CodeColumn(PlainColumn):
    """Read national values, or source codes through a code list."""

    codes: CodeListName | None = Field(
        None, description="Name of a code list under [codes]; without one the column holds national values."
    )


class CodesColumn(CodeColumn):
    """Read one or several codes per cell, optionally through a code list."""

    split: Separator | None = Field(
        None,
        description='Several codes in one cell separated by this (`"ES, KP"`): several values (a list '
        "field) or one service per code (a service type).",
    )


class ChildTable(StrictModel):
    """Several values per record from a child table (one row per value)."""

    table: NonEmpty = Field(description="The child table: one row per value.")
    key: ColumnName = Field(description="Its column holding the parent record's key.")
    column: ColumnName = Field(description="Its column holding the value.")
    codes: CodeListName | None = Field(None, description="Name of a code list under [codes].")


class RegionCode(PlainColumn):
    """A region read as a Kemendagri code (`33.73`, `3373`, a village code)."""

    column: ColumnName = Field(description="A column holding a Kemendagri code.")
    fuzzy: StrictBool = Field(True, description="Match close spellings when no exact one does.")


class RegionNames(StrictModel):
    """A region read from names as agencies type them (`KAB. INDRAMAYU`, `Bekasi Kota`)."""

    regency_name: ColumnName = Field(description="A column holding regency/city names.")
    province_name: ColumnName | None = Field(
        None, description="A column holding province names (tells same-named regencies apart)."
    )
    province: ProvinceCode | None = Field(
        None,
        description="A constant province code for every row (a provincial unit): names are matched inside "
        "it; an empty name is the province itself.",
    )
    aliases: dict[str, RegionCodeText] = Field(
        default_factory=dict,
        description='This source\'s own spellings → region codes (`KBB = "32.17"`), tried before the '
        "shared alias table.",
    )
    fuzzy: StrictBool = Field(
        True, description="Match close spellings when no exact one does (default true)."
    )


#: The sections ``latest_of`` may read.
LatestSection = Literal["stage_event", "service", "person"]


class Latest(StrictModel):
    """The value of the latest row (by order_by) of another section of the same case."""

    latest_of: LatestSection = Field(description="The section whose latest row gives the value.")
    field: NonEmpty = Field("stage", description="Its field (default `stage`).")
    default: str | None = Field(None, description="The value when there is no row.")


@cache
def _constant_of(enum_cls: type[Labelled]) -> type[Constant]:
    """:class:`Constant` whose value is a member of ``enum_cls``."""
    return create_model(
        f"{enum_cls.__name__}Constant",
        __base__=Constant,
        __doc__=f"The same {enum_cls.__name__} for every row.",
        value=(member(enum_cls), Field(description="The national value every row gets.")),
    )


@cache
def _latest_of(enum_cls: type[Labelled]) -> type[Latest]:
    """:class:`Latest` whose default is a member of ``enum_cls``."""
    return create_model(
        f"{enum_cls.__name__}Latest",
        __base__=Latest,
        __doc__=Latest.__doc__,
        default=(member(enum_cls) | None, Field(None, description="The value when there is no row.")),
    )


def _form_of(forms: dict[str, Any]) -> Callable[[Any], str | None]:
    """Which form a written value is, by the keys it has (``None``: neither a name nor a table)."""

    def form(value: Any) -> str | None:
        if isinstance(value, str):
            return "name"
        if not isinstance(value, dict):
            return None
        for marker, tag in (("value", "constant"), ("latest_of", "latest"), ("table", "child")):
            if marker in value and tag in forms:
                return tag
        if "regency_name" in value and "names" in forms:
            return "names"
        return "column"

    return form


def _field(kind: FieldKind, **forms: Any) -> Any:
    """The annotation of a national field: a column name or one of ``forms``, and its kind."""
    name = Annotated[ColumnName, Field(description="Read this column as it is."), Tag("name")]
    members = [name, *(Annotated[m, Tag(t)] for t, m in forms.items())]
    return Annotated[
        typing.Union[tuple(members)],  # noqa: UP007 (a union built from a list of members)
        Discriminator(
            _form_of(forms),
            custom_error_type="mapping_form",
            custom_error_message="expected a column name or a table",
        ),
        kind,
    ]


Text = _field(FieldKind("text"), column=TextColumn, constant=Constant)
Date = _field(FieldKind("date"), column=DateColumn, constant=Constant)
Whole = _field(FieldKind("int"), column=PlainColumn, constant=Constant)
Flag = _field(FieldKind("bool"), column=FlagColumn, constant=Constant)
Key = _field(FieldKind("key"), column=KeyColumn, constant=Constant)
Country = _field(FieldKind("country"), column=CountryColumn, constant=Constant)
Region = _field(FieldKind("region"), column=RegionCode, names=RegionNames, constant=Constant)


def _one(enum_cls: type[Labelled], *, split: bool = False) -> Any:
    """A field holding one member of a national code list (``split``: one record per code)."""
    return _field(
        FieldKind(enum_cls),
        column=CodesColumn if split else CodeColumn,
        constant=_constant_of(enum_cls),
        latest=_latest_of(enum_cls),
    )


def _many(enum_cls: type[Labelled]) -> Any:
    """A field holding several members of a national code list per record."""
    return _field(
        FieldKind(enum_cls, many=True), column=CodesColumn, constant=_constant_of(enum_cls), child=ChildTable
    )


# --- the parts: one table providing records of an entity ----------------------------------------


class Join(StrictModel):
    """A LEFT JOIN from the part's table; its columns are then written `table.column`."""

    table: NonEmpty = Field(description="The joined table.")
    on: Annotated[dict[str, ColumnName], Field(min_length=1)] = Field(
        description="Local column = joined table's column (several pairs for a composite key)."
    )


class Part(StrictModel):
    """The keys every entity section has, besides its national fields."""

    entity: ClassVar[Entity]

    name: NonEmpty | None = Field(
        None,
        description="Name of the part (default: the table); prefixes record keys when an entity "
        "comes from several tables.",
    )
    table: NonEmpty = Field(description="The table or view holding one row per record.")
    key: ColumnName | None = Field(
        None,
        description="Its primary-key column. Left out: rows are numbered within their case, key "
        "`<case key>/<n>`.",
    )
    joins: tuple[Join, ...] = Field((), description="LEFT JOINs from the table.")
    require: tuple[ColumnName, ...] = Field((), description="Only rows where these columns are not NULL.")
    where: dict[str, WhereEntry] = Field(
        default_factory=dict,
        description='Row filter: only rows whose column holds a value listed (`jenis_kasus = "TPPO"`).',
    )


class _Ordered(Part):
    order_by: ColumnName | None = Field(
        None,
        description="The column ordering the rows of a case, for `latest_of` (default: the key).",
    )


class CasePart(Part):
    """`[case]`: cases (Kasus), exactly one table (use joins for more)."""

    entity: ClassVar[Entity] = Entity.CASE

    key: ColumnName = Field(description="Its primary-key column.")
    source_key: Text | None = Field(
        None, description="The agency's own case number (Nomor perkara/registrasi); text."
    )
    reported_at: Date | None = Field(
        None, description="When the case was reported or registered (Tanggal laporan); a date."
    )
    region: Region | None = Field(None, description="Where it happened, regency/city (Wilayah kejadian).")
    country: Country | None = Field(
        None, description="Country of exploitation (Negara tempat eksploitasi), ISO alpha-2."
    )
    exploitation_types: _many(ExploitationType) | None = Field(  # type: ignore[valid-type]
        None, description="Forms of exploitation (Bentuk eksploitasi): ExploitationType, several values."
    )
    means: _many(TraffickingMeans) | None = Field(  # type: ignore[valid-type]
        None, description="Means used, UU 21/2007 'cara' (Cara): TraffickingMeans, several values."
    )
    stage: _one(CaseStage) | None = Field(  # type: ignore[valid-type]
        None, description="Current procedural stage (Tahapan perkara): CaseStage."
    )


class PersonPart(_Ordered):
    """`[[person]]`: person records — victims, witnesses, suspects (Rekam orang)."""

    entity: ClassVar[Entity] = Entity.PERSON

    case_key: Key = Field(description="The case the record belongs to (Kunci kasus).")
    roles: _many(PersonRole) = Field(  # type: ignore[valid-type]
        description="Roles in the case (Peran): PersonRole, several values."
    )
    sex: _one(Sex) | None = Field(None, description="Sex (Jenis kelamin): Sex.")  # type: ignore[valid-type]
    birth_date: Date | None = Field(None, description="Birth date (Tanggal lahir); personal data.")
    age: Whole | None = Field(
        None, description="Age in years at the report (Umur): a number or text (`34 th`, `8 bln`)."
    )
    child: Flag | None = Field(
        None, description="An explicit child flag (Anak: Ya/Tidak), used when no age can be computed."
    )
    age_at: Date | None = Field(
        None, description="The date the age is taken at, normally the report date; a date."
    )
    citizenship: Text | None = Field(None, description="ISO alpha-2 citizenship (Kewarganegaraan).")
    domicile_region: Region | None = Field(None, description="Home regency or city (Domisili).")
    full_name: Text | None = Field(None, description="Full name (Nama); personal data.")
    nik: Text | None = Field(None, description="National identity number (NIK); personal data.")
    passport_number: Text | None = Field(None, description="Passport number (Nomor paspor); personal data.")
    address: Text | None = Field(None, description="Address (Alamat); personal data.")
    phone: Text | None = Field(None, description="Telephone number (Telepon); personal data.")


class ServicePart(_Ordered):
    """`[[service]]`: services provided (Layanan)."""

    entity: ClassVar[Entity] = Entity.SERVICE

    case_key: Key = Field(description="The case (Kunci kasus).")
    recipient_key: Key | None = Field(
        None,
        description="The person record that received it (Penerima); with several person parts add `part`.",
    )
    type: _one(ServiceType, split=True) = Field(  # type: ignore[valid-type]
        description="The kind of service (Jenis layanan): ServiceType; with `split`, one service per code."
    )
    status: _one(ServiceStatus) | None = Field(  # type: ignore[valid-type]
        None, description="Status of the service (Status layanan): ServiceStatus."
    )
    start_date: Date | None = Field(None, description="When it started (Tanggal mulai); a date.")
    end_date: Date | None = Field(None, description="When it ended (Tanggal selesai); a date.")
    provider_unit: Text | None = Field(
        None, description="The unit that provided it, e.g. a shelter's name (Unit pemberi layanan)."
    )
    location: Text | None = Field(None, description="Where (Lokasi).")


class StageEventPart(_Ordered):
    """`[[stage_event]]`: procedural steps of a case (Tahapan perkara)."""

    entity: ClassVar[Entity] = Entity.STAGE_EVENT

    case_key: Key = Field(description="The case (Kunci kasus).")
    stage: _one(CaseStage) = Field(  # type: ignore[valid-type]
        description="The stage reached (Tahapan): CaseStage."
    )
    date: Date | None = Field(None, description="When (Tanggal); a date.")
    reference: Text | None = Field(
        None, description="The document reference, e.g. a P-21 letter number (Nomor surat)."
    )


class RestitutionPart(Part):
    """`[[restitution]]`: restitution claimed, ordered and paid (Restitusi, UU 21/2007 Pasal 48–50)."""

    entity: ClassVar[Entity] = Entity.RESTITUTION

    case_key: Key = Field(description="The case (Kunci kasus).")
    recipient_key: Key | None = Field(None, description="The person record of the victim it is for.")
    requested_idr: Whole | None = Field(
        None, description="Amount claimed, in rupiah (Nilai permohonan/penghitungan)."
    )
    ordered_idr: Whole | None = Field(
        None, description="Amount a court ordered, in rupiah (Nilai yang diputus)."
    )
    paid_idr: Whole | None = Field(None, description="Amount paid, in rupiah (Nilai yang dibayar).")


# --- the file ----------------------------------------------------------------------------------


class AgencySection(StrictModel):
    """The agency holding the database."""

    code: NonEmpty = Field(description="National agency code, e.g. KEMENSOS (upper case).")
    name: NonEmpty = Field(description="Official name.")
    type: member(OrgType) = Field(  # type: ignore[valid-type]
        OrgType.OTHER, description="Organisation type (OrgType); default OTHER."
    )


class SourceSection(StrictModel):
    """`[source]`: whose database this is."""

    agency: AgencySection = Field(description="`{ code, name, type }` of the agency.")
    description: str = Field("", description="What the source holds; shown in `{ sources { description } }`.")


def _single_case(value: Any) -> Any:
    if isinstance(value, list):
        raise ValueError("[case] must be a single table (use joins for more tables)")
    return value


#: A code list: source value → national value, or several (an array); ``"*"`` catches the rest.
CodeList = dict[str, one_or_many(NonEmpty)]  # type: ignore[misc]


class MappingFile(StrictModel):
    """How an agency database maps to the national TPPO vocabulary (docs/mapping.md)."""

    source: SourceSection = Field(description="The agency holding the database.")
    case: Annotated[CasePart, BeforeValidator(_single_case)] = Field(
        description="Cases (Kasus): exactly one table."
    )
    person: one_or_many(PersonPart) | None = Field(  # type: ignore[valid-type]
        None, description="Person records (Rekam orang): one table or several."
    )
    service: one_or_many(ServicePart) | None = Field(  # type: ignore[valid-type]
        None, description="Services (Layanan): one table or several."
    )
    stage_event: one_or_many(StageEventPart) | None = Field(  # type: ignore[valid-type]
        None, description="Procedural steps (Tahapan perkara): one table or several."
    )
    restitution: one_or_many(RestitutionPart) | None = Field(  # type: ignore[valid-type]
        None, description="Restitution claimed, ordered and paid (Restitusi): one table or several."
    )
    codes: dict[str, CodeList] = Field(
        default_factory=dict,
        description='Code lists by name: source value → national value (or an array); "*" catches values '
        "not listed.",
    )

    def parts(self) -> dict[str, tuple[Part, ...]]:
        """Each entity section present, by section name, as a tuple of parts (in file order)."""
        found: dict[str, tuple[Part, ...]] = {}
        for section in SECTIONS:
            value = getattr(self, section)
            if value is not None:
                found[section] = tuple(value) if isinstance(value, list) else (value,)
        return found


#: Entity sections by name, in file-documentation order.
SECTIONS: dict[str, type[Part]] = {
    "case": CasePart,
    "person": PersonPart,
    "service": ServicePart,
    "stage_event": StageEventPart,
    "restitution": RestitutionPart,
}
#: The section of each entity.
SECTION_OF: dict[Entity, str] = {model.entity: section for section, model in SECTIONS.items()}


# --- reading the models back --------------------------------------------------------------------


def _kind_in(annotation: Any) -> FieldKind | None:
    """The :class:`FieldKind` attached anywhere in ``annotation`` (through ``X | None``)."""
    if typing.get_origin(annotation) is Annotated:
        found = next((m for m in typing.get_args(annotation)[1:] if isinstance(m, FieldKind)), None)
        if found is not None:
            return found
    return next((k for a in typing.get_args(annotation) if (k := _kind_in(a)) is not None), None)


@cache
def _kinds(entity: Entity) -> dict[str, FieldKind]:
    model = SECTIONS[SECTION_OF[entity]]
    kinds: dict[str, FieldKind] = {}
    for name, info in model.model_fields.items():
        kind = next((m for m in info.metadata if isinstance(m, FieldKind)), None) or _kind_in(info.annotation)
        if kind is not None:
            kinds[name] = FieldKind(kind.kind, kind.many, info.is_required())
    return kinds


def field_kind(entity: Entity, name: str) -> FieldKind:
    """What the national field ``entity.name`` holds (for the compiler's converters)."""
    return _kinds(entity)[name]


def national_fields(entity: Entity) -> tuple[str, ...]:
    """The national fields a mapping may give for ``entity``, in documentation order."""
    return tuple(_kinds(entity))


def json_schema() -> dict[str, Any]:
    """The editors' JSON Schema of a mapping file (draft 2020-12), from :class:`MappingFile`."""
    schema = MappingFile.model_json_schema(by_alias=True, schema_generator=TomlJsonSchema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "TPPO Data Hub mapping file",
        **{k: v for k, v in schema.items() if k != "title"},
    }
