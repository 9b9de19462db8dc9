"""The indicator registry: indicators defined once, as reviewed TOML files, and checked strictly.

Every indicator of the Task Force (Gugus Tugas PP-TPPO) is one file in ``registry/``: its id,
bilingual name and definition, what it counts (its *kind*: a share of persons, a median of
days, a case funnel …), its denominator (the population) and numerator in the national
vocabulary, its unit, the disaggregations it allows, the data it needs, and its Satu Data
metadata (Perpres 39/2019). Adding an indicator needs no code: a new file that uses only the
vocabulary is enough, and :func:`load_registry` refuses a file that

- has an unknown field (with a "did you mean" hint) or a value outside the vocabulary;
- declares an impossible denominator: a numerator that is not part of its population,
  funnel steps out of procedural order, a unit the kind cannot produce;
- allows a disaggregation its kind cannot answer (sex of a case, agency of a ratio across
  agencies) or needs data it does not declare;

with every problem at ``file:line`` (lines found by :class:`hub.support.locator.TomlLocator`, the
same scanner the mapping files use), all problems at once.
"""

from __future__ import annotations

import difflib
import enum
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.support.locator import KeyPath, TomlLocator
from hub.vocabulary.model import CaseStage, Dimension, Labelled, PersonRole, ServiceStatus, ServiceType

#: Where the shipped indicator files live (package data).
BUILTIN_REGISTRY = Path(__file__).parent / "registry"


class Kind(Labelled):
    """How an indicator is computed (its template); the file fills in the vocabulary."""

    PERSON_SHARE = (
        "PERSON_SHARE",
        "Share of distinct persons (via linkage) whose services meet a condition",
        "Persentase orang (lintas lembaga) yang layanannya memenuhi syarat",
    )
    PERSON_DAYS = (
        "PERSON_DAYS",
        "Median days from a person's first report to their first service of some types",
        "Median hari dari laporan pertama sampai layanan pertama",
    )
    PERSON_RESTITUTION = (
        "PERSON_RESTITUTION",
        "Restitution requested, ordered or paid for distinct persons: how many, and how much",
        "Restitusi yang dimohonkan, diputus atau dibayar: berapa orang dan berapa rupiah",
    )
    CASE_FUNNEL = (
        "CASE_FUNNEL",
        "Cases reaching each procedural stage, against the previous stage",
        "Kasus yang mencapai tiap tahapan perkara",
    )
    STAGE_DAYS = (
        "STAGE_DAYS",
        "Median days between procedural stages, from stage histories",
        "Median hari antar tahapan perkara",
    )
    AGENCY_COVERAGE = (
        "AGENCY_COVERAGE",
        "Share of all distinct persons that each agency records",
        "Cakupan tiap lembaga atas seluruh orang",
    )
    FRESHNESS = (
        "FRESHNESS",
        "Days from each agency's latest report to the reference date",
        "Kemutakhiran data tiap lembaga (hari)",
    )
    DOUBLE_COUNTING = (
        "DOUBLE_COUNTING",
        "Sum of agencies' distinct persons over distinct persons across agencies",
        "Rasio penghitungan ganda",
    )


class Unit(Labelled):
    """Unit of an indicator's value (Satuan)."""

    COUNT = "COUNT", "Count", "Jumlah"
    SHARE = "SHARE", "Share (0–1): numerator / denominator", "Proporsi (0–1)"
    MEDIAN_DAYS = "MEDIAN_DAYS", "Median number of days", "Median hari"
    DAYS = "DAYS", "Days", "Hari"
    RATIO = "RATIO", "Ratio: numerator / denominator", "Rasio"
    AMOUNT_IDR = (
        "AMOUNT_IDR",
        "Amount in rupiah, over the numerator's persons",
        "Jumlah rupiah, atas orang pada pembilang",
    )


class Theme(Labelled):
    """Sub-task force of the national action plan (RAN PP-TPPO) an indicator reports on."""

    VICTIM_RIGHTS = (
        "VICTIM_RIGHTS",
        "Victims' rights: rehabilitation, repatriation and reintegration (UU 21/2007 Pasal 51)",
        "Hak korban: rehabilitasi, pemulangan dan reintegrasi",
    )
    LAW_ENFORCEMENT = "LAW_ENFORCEMENT", "Law enforcement", "Penegakan hukum"
    PROTECTION = (
        "PROTECTION",
        "Protection of witnesses and victims, restitution",
        "Perlindungan saksi dan korban, restitusi",
    )
    COORDINATION = "COORDINATION", "Coordination and data", "Koordinasi dan data"


class Frequency(Labelled):
    """How often the indicator is reported (Frekuensi)."""

    MONTHLY = "MONTHLY", "Monthly", "Bulanan"
    QUARTERLY = "QUARTERLY", "Quarterly", "Triwulanan"
    SEMESTERLY = "SEMESTERLY", "Every six months", "Semesteran"
    ANNUAL = "ANNUAL", "Annual", "Tahunan"


class Need(enum.Enum):
    """Data an indicator needs from the sources (declared in ``needs``)."""

    CASE = "CASE"
    PERSON = "PERSON"
    SERVICE = "SERVICE"
    STAGE = "STAGE"  # the current procedural stage of cases
    STAGE_EVENT = "STAGE_EVENT"  # stage histories with dates
    LINKAGE = "LINKAGE"  # the linkage index (distinct persons across agencies)
    RESTITUTION = "RESTITUTION"  # restitution amounts requested, ordered, paid


#: Per kind: units it can produce, data it needs, disaggregations it can answer, its row dimension.
_PERSON_DIMS = frozenset(
    {
        Dimension.SEX,
        Dimension.AGE_GROUP,
        Dimension.CHILD,
        Dimension.PROVINCE,
        Dimension.REGENCY,
        Dimension.EXPLOITATION_TYPE,
        Dimension.AGENCY,
        Dimension.YEAR,
        Dimension.COUNTRY_OF_EXPLOITATION,
    }
)
_CASE_DIMS = frozenset(
    {
        Dimension.PROVINCE,
        Dimension.REGENCY,
        Dimension.EXPLOITATION_TYPE,
        Dimension.AGENCY,
        Dimension.YEAR,
        Dimension.COUNTRY_OF_EXPLOITATION,
    }
)


@dataclass(frozen=True, slots=True)
class KindRules:
    units: frozenset[Unit]
    needs: frozenset[Need]
    dimensions: frozenset[Dimension]
    #: Dimension every value row carries (the funnel step, the agency), or None.
    row: Dimension | None = None


KIND_RULES: dict[Kind, KindRules] = {
    Kind.PERSON_SHARE: KindRules(
        frozenset({Unit.SHARE, Unit.COUNT}),
        frozenset({Need.CASE, Need.PERSON, Need.SERVICE, Need.LINKAGE}),
        _PERSON_DIMS,
    ),
    Kind.PERSON_DAYS: KindRules(
        frozenset({Unit.MEDIAN_DAYS}),
        frozenset({Need.CASE, Need.PERSON, Need.SERVICE, Need.LINKAGE}),
        _PERSON_DIMS,
    ),
    Kind.PERSON_RESTITUTION: KindRules(
        frozenset({Unit.AMOUNT_IDR}),
        frozenset({Need.CASE, Need.PERSON, Need.RESTITUTION, Need.LINKAGE}),
        _PERSON_DIMS,
    ),
    Kind.CASE_FUNNEL: KindRules(
        frozenset({Unit.SHARE, Unit.COUNT}), frozenset({Need.CASE, Need.STAGE}), _CASE_DIMS, Dimension.STAGE
    ),
    Kind.STAGE_DAYS: KindRules(
        frozenset({Unit.MEDIAN_DAYS}),
        frozenset({Need.CASE, Need.STAGE_EVENT}),
        _CASE_DIMS,
        Dimension.STAGE,
    ),
    Kind.AGENCY_COVERAGE: KindRules(
        frozenset({Unit.SHARE}),
        frozenset({Need.CASE, Need.PERSON, Need.LINKAGE}),
        _PERSON_DIMS - {Dimension.AGENCY},
        Dimension.AGENCY,
    ),
    Kind.FRESHNESS: KindRules(
        frozenset({Unit.DAYS}), frozenset({Need.CASE}), _CASE_DIMS - {Dimension.AGENCY}, Dimension.AGENCY
    ),
    Kind.DOUBLE_COUNTING: KindRules(
        frozenset({Unit.RATIO}),
        frozenset({Need.CASE, Need.PERSON, Need.LINKAGE}),
        _PERSON_DIMS - {Dimension.AGENCY},
    ),
}

_PERSON_KINDS = frozenset(
    {Kind.PERSON_SHARE, Kind.PERSON_DAYS, Kind.PERSON_RESTITUTION, Kind.AGENCY_COVERAGE, Kind.DOUBLE_COUNTING}
)
_STEP_KINDS = frozenset({Kind.CASE_FUNNEL, Kind.STAGE_DAYS})
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MEASURES = {
    Kind.CASE_FUNNEL: ("PROGRESSION", "ATTRITION"),
    Kind.PERSON_RESTITUTION: ("REQUESTED", "ORDERED", "PAID"),
}


@dataclass(frozen=True, slots=True)
class Text:
    """A bilingual text: English and Indonesian."""

    en: str
    id: str


@dataclass(frozen=True, slots=True)
class Population:
    """The denominator of a person indicator: distinct persons with a matching record.

    A record matches when it has one of ``roles``, its case matches the request's filter, its
    case is cross-border when ``cross_border`` is true (a country of exploitation recorded),
    and its case's current stage is one of ``stages`` when any are given.
    """

    roles: frozenset[PersonRole]
    cross_border: bool = False
    stages: frozenset[CaseStage] = frozenset()


@dataclass(frozen=True, slots=True)
class Numerator:
    """Which persons of the population are counted: by the services recorded for them.

    ``services``: the service types that count (empty with ``none``: any service);
    ``statuses``: service statuses that count as received; ``none``: count the persons with
    *none* of those services instead.
    """

    services: frozenset[ServiceType] = frozenset()
    statuses: frozenset[ServiceStatus] = frozenset()
    none: bool = False


@dataclass(frozen=True, slots=True)
class Metadata:
    """Satu Data Indonesia metadata (Perpres 39/2019): what a data user needs to read it right."""

    concept: Text
    formula: str
    frequency: Frequency
    reference_codes: tuple[str, ...]
    interpretation: Text | None = None
    producer: str = "Gugus Tugas PP-TPPO (Sekretariat)"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator as its file defines it."""

    id: str
    theme: Theme
    kind: Kind
    unit: Unit
    name: Text
    definition: Text
    legal_basis: str
    disaggregations: tuple[Dimension, ...]
    needs: frozenset[Need]
    metadata: Metadata
    population: Population | None = None
    numerator: Numerator | None = None
    steps: tuple[CaseStage, ...] = ()
    measure: str = "PROGRESSION"
    path: str = ""
    order: int = 0

    @property
    def row_dimension(self) -> Dimension | None:
        """The dimension every row of this indicator carries (funnel step, agency), if any."""
        return KIND_RULES[self.kind].row


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an indicator file, where it is."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 1}: {self.message}"


class RegistryError(ValueError):
    """One or more indicator files are invalid; lists every problem as ``file:line: message``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the indicator registry:\n{listing}")


# --- reading one file ------------------------------------------------------------------------

_TOP = (
    "id",
    "theme",
    "kind",
    "unit",
    "legal_basis",
    "disaggregations",
    "needs",
    "steps",
    "measure",
    "order",
    "name",
    "definition",
    "population",
    "numerator",
    "metadata",
)
_TEXT = ("en", "id")
_POPULATION = ("roles", "cross_border", "stages")
_NUMERATOR = ("services", "statuses", "none")
_METADATA = ("concept", "formula", "frequency", "reference_codes", "interpretation", "producer")


class _Reader:
    """Reads one parsed file into an :class:`Indicator`, collecting problems with lines."""

    def __init__(self, path: Path, data: Mapping[str, Any], locator: TomlLocator) -> None:
        self.file = str(path)
        self.data = data
        self.locator = locator
        self.problems: list[Problem] = []

    def problem(self, at: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.locator.line_of(at), message))

    def keys(self, table: Mapping[str, Any], allowed: Sequence[str], at: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(allowed)})"
                self.problem((*at, key), f"unknown field {key!r}{suffix}")

    def table(self, key: str, at: KeyPath = (), required: bool = True) -> Mapping[str, Any] | None:
        parent: Any = self.data
        for part in at:
            parent = parent.get(part, {}) if isinstance(parent, Mapping) else {}
        value = parent.get(key) if isinstance(parent, Mapping) else None
        if value is None:
            if required:
                self.problem(at, f"missing table {'.'.join((*map(str, at), key))!r}")
            return None
        if not isinstance(value, Mapping):
            self.problem((*at, key), f"{key!r} must be a table")
            return None
        return value

    def string(self, table: Mapping[str, Any], key: str, at: KeyPath, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(at, f"missing field {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem((*at, key), f"{key!r} must be a non-empty string")
            return None
        return value.strip()

    def text(self, key: str, at: KeyPath = (), required: bool = True) -> Text | None:
        table = self.table(key, at, required)
        if table is None:
            return None
        here = (*at, key)
        self.keys(table, _TEXT, here)
        en, id_ = self.string(table, "en", here), self.string(table, "id", here)
        return Text(en, id_) if en and id_ else None

    def member(self, enum_cls: type[enum.Enum], value: Any, at: KeyPath) -> Any:
        names = [m.name for m in enum_cls]  # type: ignore[var-annotated]
        if isinstance(value, str) and value in names:
            return enum_cls[value]
        hint = difflib.get_close_matches(str(value), names, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else f" (valid: {', '.join(names)})"
        self.problem(at, f"{value!r} is not a {enum_cls.__name__}{suffix}")
        return None

    def members(
        self, enum_cls: type[enum.Enum], table: Mapping[str, Any], key: str, at: KeyPath
    ) -> list[Any]:
        values = table.get(key, [])
        if not isinstance(values, list):
            self.problem((*at, key), f"{key!r} must be a list")
            return []
        out = []
        for i, value in enumerate(values):
            member = self.member(enum_cls, value, (*at, key, i))
            if member is not None:
                if member in out:
                    self.problem((*at, key, i), f"{value!r} is listed twice")
                out.append(member)
        return out

    def boolean(self, table: Mapping[str, Any], key: str, at: KeyPath) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.problem((*at, key), f"{key!r} must be true or false")
            return False
        return value

    def read(self) -> Indicator | None:
        data = self.data
        self.keys(data, _TOP, ())
        ident = self.string(data, "id", ())
        if ident is not None and not _ID.match(ident):
            self.problem(("id",), f"id {ident!r} must be dotted lower-case words, e.g. 'rights.health'")
        theme = self.member(Theme, data.get("theme"), ("theme",))
        kind = self.member(Kind, data.get("kind"), ("kind",))
        unit = self.member(Unit, data.get("unit"), ("unit",))
        legal_basis = self.string(data, "legal_basis", ())
        name, definition = self.text("name"), self.text("definition")
        dims = self.members(Dimension, data, "disaggregations", ())
        needs = self.members(Need, data, "needs", ())
        order = data.get("order", 0)
        if not isinstance(order, int) or isinstance(order, bool):
            self.problem(("order",), "'order' must be an integer")
            order = 0
        metadata = self._metadata()
        if kind is None:
            return None
        rules = KIND_RULES[kind]
        if unit is not None and unit not in rules.units:
            allowed = ", ".join(sorted(u.name for u in rules.units))
            self.problem(
                ("unit",), f"a {kind.name} indicator cannot be measured in {unit.name} (use {allowed})"
            )
        for i, dim in enumerate(dims):
            if dim not in rules.dimensions:
                self.problem(
                    ("disaggregations", i),
                    f"a {kind.name} indicator cannot be disaggregated by {dim.name}: the data it counts "
                    f"does not carry it",
                )
        missing = rules.needs - set(needs)
        if missing:
            self.problem(
                ("needs",),
                f"a {kind.name} indicator needs {', '.join(sorted(n.name for n in missing))} "
                "(declare it in 'needs')",
            )
        population = numerator = None
        steps: tuple[CaseStage, ...] = ()
        measure = "PROGRESSION"
        if kind in _PERSON_KINDS:
            population = self._population()
        elif "population" in data:
            self.problem(("population",), f"a {kind.name} indicator has no person population")
        if kind in (Kind.PERSON_SHARE, Kind.PERSON_DAYS):
            numerator = self._numerator(kind)
        elif "numerator" in data:
            self.problem(("numerator",), f"a {kind.name} indicator takes no 'numerator' table")
        if kind in _STEP_KINDS:
            steps = self._steps()
        elif "steps" in data:
            self.problem(("steps",), f"a {kind.name} indicator takes no 'steps'")
        if kind in _MEASURES:
            choices = _MEASURES[kind]
            measure = data.get("measure", choices[0] if kind is Kind.CASE_FUNNEL else None)
            if measure not in choices:
                self.problem(("measure",), f"'measure' must be one of {', '.join(choices)}")
        elif "measure" in data:
            kinds = " and ".join(k.name for k in _MEASURES)
            self.problem(("measure",), f"'measure' applies to {kinds} indicators only")
        if None in (ident, theme, unit, legal_basis, name, definition, metadata) or self.problems:
            return None
        return Indicator(
            id=ident,  # type: ignore[arg-type]
            theme=theme,
            kind=kind,
            unit=unit,
            name=name,  # type: ignore[arg-type]
            definition=definition,  # type: ignore[arg-type]
            legal_basis=legal_basis,  # type: ignore[arg-type]
            disaggregations=tuple(dims),
            needs=frozenset(needs),
            metadata=metadata,  # type: ignore[arg-type]
            population=population,
            numerator=numerator,
            steps=steps,
            measure=measure,
            path=self.file,
            order=order,
        )

    def _metadata(self) -> Metadata | None:
        table = self.table("metadata")
        if table is None:
            return None
        at: KeyPath = ("metadata",)
        self.keys(table, _METADATA, at)
        concept = self.text("concept", at)
        formula = self.string(table, "formula", at)
        frequency = self.member(Frequency, table.get("frequency"), (*at, "frequency"))
        codes = table.get("reference_codes", [])
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
            self.problem((*at, "reference_codes"), "'reference_codes' must list the code lists used")
            codes = []
        interpretation = self.text("interpretation", at, required=False)
        producer = self.string(table, "producer", at, required=False)
        if concept is None or formula is None or frequency is None:
            return None
        return Metadata(
            concept,
            formula,
            frequency,
            tuple(codes),
            interpretation,
            producer or Metadata.__dataclass_fields__["producer"].default,
        )

    def _population(self) -> Population | None:
        table = self.table("population")
        if table is None:
            return None
        at: KeyPath = ("population",)
        self.keys(table, _POPULATION, at)
        roles = self.members(PersonRole, table, "roles", at)
        if not roles:
            self.problem(at, "the population must name at least one role: an empty denominator is impossible")
        stages = self.members(CaseStage, table, "stages", at)
        return Population(frozenset(roles), self.boolean(table, "cross_border", at), frozenset(stages))

    def _numerator(self, kind: Kind) -> Numerator | None:
        table = self.table("numerator")
        if table is None:
            return None
        at: KeyPath = ("numerator",)
        self.keys(table, _NUMERATOR, at)
        services = self.members(ServiceType, table, "services", at)
        statuses = self.members(ServiceStatus, table, "statuses", at)
        none = self.boolean(table, "none", at)
        if not statuses:
            self.problem(at, "'statuses' must list the service statuses that count as received")
        if not services and not none:
            self.problem(at, "'services' must list the service types counted (or set none = true)")
        if none and kind is Kind.PERSON_DAYS:
            self.problem((*at, "none"), "days to a first service cannot be measured for persons without one")
        return Numerator(frozenset(services), frozenset(statuses), none)

    def _steps(self) -> tuple[CaseStage, ...]:
        steps = self.members(CaseStage, self.data, "steps", ())
        if len(steps) < 2:
            self.problem(("steps",), "a funnel needs at least two stages")
        if CaseStage.DISCONTINUED in steps:
            self.problem(("steps",), "DISCONTINUED ends a case: it is not a step of the funnel")
        order = list(CaseStage)
        for i in range(1, len(steps)):
            if order.index(steps[i]) <= order.index(steps[i - 1]):
                self.problem(
                    ("steps", i),
                    f"{steps[i].name} comes before {steps[i - 1].name} in procedure: a later stage "
                    "cannot be the denominator of an earlier one",
                )
        return tuple(steps)


def read_indicator(path: Path) -> tuple[Indicator | None, list[Problem]]:
    """One indicator file: the indicator (None when invalid) and its problems."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no ``lineno``: read it from "(at line N, column M)".
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        return None, [Problem(str(path), line, f"not valid TOML: {exc}")]
    reader = _Reader(path, data, TomlLocator(text))
    indicator = reader.read()
    return indicator, reader.problems


@dataclass(frozen=True, slots=True)
class Registry:
    """The indicators, in report order (theme, then ``order``, then id)."""

    indicators: tuple[Indicator, ...] = field(default_factory=tuple)

    def get(self, ident: str) -> Indicator | None:
        return next((i for i in self.indicators if i.id == ident), None)

    def __iter__(self) -> Any:
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)


def load_registry(paths: Iterable[Path] | None = None) -> Registry:
    """Read and check indicator files (default: every ``*.toml`` of the shipped registry).

    Raises :class:`RegistryError` listing every problem of every file, so a reviewer sees the
    whole list at once.
    """
    files = sorted(BUILTIN_REGISTRY.glob("*.toml")) if paths is None else [Path(p) for p in paths]
    indicators: list[Indicator] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in files:
        indicator, found = read_indicator(path)
        problems.extend(found)
        if indicator is None:
            continue
        if indicator.id in seen:
            problems.append(
                Problem(
                    str(path),
                    TomlLocator(path.read_text(encoding="utf-8")).line_of(("id",)),
                    f"id {indicator.id!r} is already defined in {seen[indicator.id]}",
                )
            )
            continue
        seen[indicator.id] = str(path)
        indicators.append(indicator)
    if problems:
        raise RegistryError(problems)
    themes = list(Theme)
    indicators.sort(key=lambda i: (themes.index(i.theme), i.order, i.id))
    return Registry(tuple(indicators))
