"""Screening a mapping for personal data smuggled into non-personal fields.

A registration must not be able to route a column of names, NIKs, phone numbers or birth
dates into a field every analyst may read (``source_key``, ``reported_at``, ``country``, …):
that would bypass the policy point, which guards only the six personal fields. Before a
source is registered, :func:`screen` samples the raw values of every column mapped into a
non-personal field (read-only, a few hundred rows per part) and looks at their *shapes*:

- **NIK-shaped**: 16 digits whose province code, birth day (``+40`` for women) and month
  are plausible;
- **phone-shaped**: an Indonesian mobile number (``08…``, ``+628…``, ``628…``), 10–14 digits;
- **name-like**: one to six capitalised words of letters (``bin``/``binti`` allowed), nearly
  one value per row (personal names repeat rarely; code values repeat a lot).

A column where most sampled values have such a shape is a **refusal** (an ``error``
finding: the mapping cannot be registered). A column whose *name* says it holds personal data
(``nama``, ``nik``, ``tanggal_lahir``, ``alamat``, ``telp``, …) but whose values do not show it
(a birth date looks like any date) is a **flag** (a ``warning`` finding) that the approving
admin sees. Findings carry counts and shapes (:func:`shape`), never a sampled value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import String, cast, select

from adapters.mapping import ChildValues, Column, FieldSpec, RegionSpec
from adapters.quality import _raw, _scope
from adapters.sql import CompiledPart, MappedSQLSource
from hub.vocabulary.model import PERSONAL_FIELDS, Entity

#: Rows sampled per part.
SAMPLE_ROWS = 300
#: Share of sampled non-null values that must have a personal shape for a refusal.
SHAPE_SHARE = 0.5
#: Name-like values must also be nearly unique: distinct values / sampled values.
NAME_DISTINCT_SHARE = 0.5
#: Fewest non-null values on which a column is judged by its values.
MIN_VALUES = 5

_DIGITS = re.compile(r"\D+")
_PHONE = re.compile(r"^(?:62|0)8\d{8,11}$")
_NAME_PARTICLES = frozenset({"bin", "binti", "van", "de", "al", "el", "bt", "bte"})
_NAME_WORD = re.compile(r"^[A-Z][A-Za-z'\-]*\.?$|^[A-Z]{2,}$")
#: Tokens of a column name that say it holds personal data.
_PERSONAL_TOKENS = frozenset(
    {
        "nama",
        "name",
        "fullname",
        "nik",
        "ktp",
        "lahir",
        "birth",
        "birthdate",
        "dob",
        "tgl_lahir",
        "alamat",
        "address",
        "telp",
        "telepon",
        "phone",
        "hp",
        "handphone",
        "paspor",
        "passport",
        "email",
        "surel",
        "ibu",
        "ayah",
    }
)
#: Tokens that make such a name a place, an organisation or a category instead.
_NOT_PERSONAL_TOKENS = frozenset(
    {
        "kab",
        "kabupaten",
        "kota",
        "prov",
        "provinsi",
        "propinsi",
        "negara",
        "country",
        "region",
        "wilayah",
        "kecamatan",
        "desa",
        "kelurahan",
        "lembaga",
        "agency",
        "instansi",
        "unit",
        "kantor",
        "jenis",
        "kategori",
        "category",
        "type",
        "tahap",
        "stage",
        "program",
        "layanan",
        "service",
        "file",
        "berkas",
        "pengadilan",
        "court",
        "satker",
    }
)
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65,
     71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96, 97}
)  # fmt: skip


def shape(value: str | None, limit: int = 40) -> str | None:
    """The shape of a value, never the value: letters become ``A``/``a``, digits ``9``, runs
    are counted (``3374015203900001`` → ``9{16}``, ``Budi Santoso`` → ``Aa{3} Aa{6}``)."""
    if value is None:
        return None
    out: list[str] = []
    previous, run = "", 0
    for char in value[:200]:
        kind = "9" if char.isdigit() else "A" if char.isupper() else "a" if char.isalpha() else char
        if kind == previous:
            run += 1
            continue
        if previous:
            out.append(previous if run == 1 else f"{previous}{{{run}}}")
        previous, run = kind, 1
    if previous:
        out.append(previous if run == 1 else f"{previous}{{{run}}}")
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nik_shaped(value: str) -> bool:
    """16 digits with a plausible province, birth day (women +40) and month."""
    digits = _DIGITS.sub("", value)
    if len(digits) != 16 or len(value.strip()) > 20:
        return False
    day, month = int(digits[6:8]), int(digits[8:10])
    return int(digits[:2]) in _PROVINCES and (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12


def phone_shaped(value: str) -> bool:
    """An Indonesian mobile number, however punctuated."""
    stripped = value.strip()
    if not stripped or re.search(r"[A-Za-z]", stripped):
        return False
    return _PHONE.match(_DIGITS.sub("", stripped)) is not None


def name_like(value: str) -> bool:
    """One to six capitalised words of letters, Indonesian particles (``bin``, ``binti``) allowed:
    the shape of a personal name (mononyms are common in Indonesia)."""
    words = value.split()
    if not 1 <= len(words) <= 6 or len(value) > 60:
        return False
    named = [w for w in words if w.lower() not in _NAME_PARTICLES]
    return bool(named) and all(_NAME_WORD.match(w) and len(w) >= 2 for w in named)


def personal_column_name(column: str) -> bool:
    """Whether a column's name says it holds personal data (``nama``, ``tgl_lahir``, …)."""
    lowered = column.lower()
    tokens = set(re.split(r"[^a-z0-9]+", lowered.rsplit(".", 1)[-1]))
    joined = {lowered.rsplit(".", 1)[-1]}
    return bool((tokens | joined) & _PERSONAL_TOKENS) and not tokens & _NOT_PERSONAL_TOKENS


@dataclass(frozen=True, slots=True)
class Suspicion:
    """A column mapped into a non-personal field that looks personal."""

    entity: Entity
    part: str
    field: str
    column: str
    #: ``nik``, ``phone``, ``name`` (by the values) or ``column_name`` (by the name only).
    reason: str
    sampled: int
    matching: int
    shapes: tuple[str, ...]

    @property
    def refused(self) -> bool:
        """True when the values themselves look personal (not only the column's name)."""
        return self.reason != "column_name"


def judge(column: str, values: Sequence[str], *, names_expected: bool) -> tuple[str, int] | None:
    """Why ``values`` of ``column`` look personal, and how many do; None if they do not.

    ``names_expected`` is true for fields whose values are place or country names, where
    name-shaped values are normal.
    """
    present = [v for v in values if v and v.strip()]
    if len(present) >= MIN_VALUES:
        for reason, test in (("nik", nik_shaped), ("phone", phone_shaped)):
            hits = sum(1 for v in present if test(v))
            if hits >= SHAPE_SHARE * len(present):
                return reason, hits
        if not names_expected:
            hits = sum(1 for v in present if name_like(v))
            distinct = len(set(present)) / len(present)
            if hits >= 0.8 * len(present) and distinct >= NAME_DISTINCT_SHARE:
                return "name", hits
    if personal_column_name(column):
        return "column_name", 0
    return None


def _columns(spec: FieldSpec) -> list[tuple[str | None, str]]:
    """(table or None for the part's own, column) pairs a field spec reads directly."""
    if isinstance(spec, Column):
        return [(spec.ref.table, spec.ref.column)]
    if isinstance(spec, RegionSpec):
        return [
            (r.table, r.column) for r in (spec.code, spec.regency_name, spec.province_name) if r is not None
        ]
    return []


async def screen(source: MappedSQLSource, sample: int = SAMPLE_ROWS) -> list[Suspicion]:
    """Suspicions of an open mapped source, every part of every entity (see the module docstring)."""
    found: list[Suspicion] = []
    for entity in (Entity.CASE, Entity.PERSON, Entity.SERVICE, Entity.STAGE_EVENT):
        for compiled in source.compiled_parts(entity):
            found.extend(await _screen_part(source, compiled, sample))
    return found


async def _screen_part(source: MappedSQLSource, compiled: CompiledPart, sample: int) -> list[Suspicion]:
    part = compiled.part
    scope = _scope(compiled.from_clause)
    targets: list[tuple[str, str, object]] = []
    for name, spec in part.fields.items():
        if name in PERSONAL_FIELDS or isinstance(spec, ChildValues):
            continue
        # The source columns a field reads, as its compiled value exposes them (the value layer
        # is one subquery: its tables are not in the FROM clause; adapters/compiler.py _layer).
        value = compiled.values.get(name)
        exposed = list(value.raw) if value is not None and not value.from_child else []
        for index, (table, column) in enumerate(_columns(spec)):
            raw = exposed[index] if index < len(exposed) else _raw(scope, compiled, _Ref(table, column))
            if raw is not None:
                targets.append((name, f"{table or part.table}.{column}", raw))
    if part.key not in part.fields:
        key = _raw(scope, compiled, _Ref(None, part.key))
        if key is None and compiled.key_column is not None:
            key = compiled.key_column
        if key is not None:
            targets.append(("key", f"{part.table}.{part.key}", key))
    if not targets:
        return []
    stmt = (
        select(*(cast(raw, String) for _, _, raw in targets))  # type: ignore[call-overload]
        .select_from(compiled.from_clause)
        .where(*compiled.row_conditions)
        .limit(sample)
    )
    rows = await source.fetch(stmt)
    found = []
    for index, (name, column, _) in enumerate(targets):
        values = [str(row[index]) for row in rows if row[index] is not None]
        verdict = judge(column, values, names_expected=name in _PLACE_FIELDS)
        if verdict is None:
            continue
        reason, matching = verdict
        shapes = _top_shapes(values)
        found.append(Suspicion(part.entity, part.name, name, column, reason, len(values), matching, shapes))
    return found


#: National fields whose values are place or country names.
_PLACE_FIELDS = frozenset(
    {"region", "country", "domicile_region", "location", "citizenship", "provider_unit"}
)


@dataclass(frozen=True, slots=True)
class _Ref:
    table: str | None
    column: str


def _top_shapes(values: Iterable[str], top: int = 3) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for value in values:
        key = shape(value) or ""
        counts[key] = counts.get(key, 0) + 1
    return tuple(s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
