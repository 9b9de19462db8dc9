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

with every problem at ``file:line``, all problems at once. The file shape is a pydantic model
(:class:`IndicatorFile`, ``extra="forbid"``) read through the shared
:mod:`hub.support.typed_toml` (lines from :class:`hub.support.locator.TomlLocator`, the same
scanner as ``hub.toml`` and the mapping files); the rules across fields (:class:`_Rules`)
follow, located the same way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from hub.support.locator import KeyPath, TomlLocator
from hub.support.typed_toml import Problem, StrictModel, TomlFileError, member, read_toml, validate
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


class RegistryError(ValueError):
    """One or more indicator files are invalid; lists every problem as ``file:line: message``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the indicator registry:\n{listing}")


# --- reading one file: the file shape as a pydantic model (hub/support/typed_toml.py) ---------


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    repeated = [v.name for i, v in enumerate(values) if v in values[:i]]
    if repeated:
        raise ValueError(f"{repeated[0]!r} is listed twice")
    return values


def _members(enum_cls: type[enum.Enum]) -> Any:
    return Annotated[tuple[member(enum_cls), ...], AfterValidator(_unique)]


Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class TextFile(StrictModel):
    """``{ en = "…", id = "…" }``: English and Indonesian."""

    en: Words
    id: Words


class PopulationFile(StrictModel):
    """``[population]``: roles, and optionally cross-border and stages of the record's case."""

    roles: _members(PersonRole)  # type: ignore[valid-type]
    cross_border: bool = False
    stages: _members(CaseStage) = ()  # type: ignore[valid-type]


class NumeratorFile(StrictModel):
    """``[numerator]``: the service types and statuses counted (or ``none``)."""

    services: _members(ServiceType) = ()  # type: ignore[valid-type]
    statuses: _members(ServiceStatus) = ()  # type: ignore[valid-type]
    none: bool = False


class MetadataFile(StrictModel):
    """``[metadata]``: the Satu Data metadata."""

    concept: TextFile
    formula: Words
    frequency: member(Frequency)  # type: ignore[valid-type]
    reference_codes: Annotated[tuple[Words, ...], Field(min_length=1)]
    interpretation: TextFile | None = None
    producer: Words = "Gugus Tugas PP-TPPO (Sekretariat)"


class IndicatorFile(StrictModel):
    """One indicator file (``registry/*.toml``), as written; the rules across fields follow."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
    theme: member(Theme)  # type: ignore[valid-type]
    kind: member(Kind)  # type: ignore[valid-type]
    unit: member(Unit)  # type: ignore[valid-type]
    legal_basis: Words
    disaggregations: _members(Dimension) = ()  # type: ignore[valid-type]
    needs: _members(Need)  # type: ignore[valid-type]
    steps: _members(CaseStage) = ()  # type: ignore[valid-type]
    measure: str | None = None
    order: int = 0
    name: TextFile
    definition: TextFile
    population: PopulationFile | None = None
    numerator: NumeratorFile | None = None
    metadata: MetadataFile


class _Rules:
    """The rules across fields of a validated file, each problem at its line."""

    def __init__(self, path: Path, locator: TomlLocator, raw: Mapping[str, Any]) -> None:
        self.file = str(path)
        self.locator = locator
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, at: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.locator.line_of(at), "", message))

    def check(self, f: IndicatorFile) -> Indicator | None:
        kind = f.kind
        rules = KIND_RULES[kind]
        if f.unit not in rules.units:
            allowed = ", ".join(sorted(u.name for u in rules.units))
            self.problem(
                ("unit",), f"a {kind.name} indicator cannot be measured in {f.unit.name} (use {allowed})"
            )
        for i, dim in enumerate(f.disaggregations):
            if dim not in rules.dimensions:
                self.problem(
                    ("disaggregations", i),
                    f"a {kind.name} indicator cannot be disaggregated by {dim.name}: the data it counts "
                    "does not carry it",
                )
        missing = rules.needs - set(f.needs)
        if missing:
            self.problem(
                ("needs",),
                f"a {kind.name} indicator needs {', '.join(sorted(n.name for n in missing))} "
                "(declare it in 'needs')",
            )
        population = self._population(f) if kind in _PERSON_KINDS else None
        if kind not in _PERSON_KINDS and f.population is not None:
            self.problem(("population",), f"a {kind.name} indicator has no person population")
        numerator = None
        if kind in (Kind.PERSON_SHARE, Kind.PERSON_DAYS):
            numerator = self._numerator(f)
        elif f.numerator is not None:
            self.problem(("numerator",), f"a {kind.name} indicator takes no 'numerator' table")
        if kind in _STEP_KINDS:
            self._steps(f.steps)
        elif f.steps:
            self.problem(("steps",), f"a {kind.name} indicator takes no 'steps'")
        measure = f.measure
        if kind in _MEASURES:
            choices = _MEASURES[kind]
            measure = measure or (choices[0] if kind is Kind.CASE_FUNNEL else None)
            if measure not in choices:
                self.problem(("measure",), f"'measure' must be one of {', '.join(choices)}")
        elif measure is not None:
            kinds = " and ".join(k.name for k in _MEASURES)
            self.problem(("measure",), f"'measure' applies to {kinds} indicators only")
        if self.problems:
            return None
        meta = f.metadata
        return Indicator(
            id=f.id,
            theme=f.theme,
            kind=kind,
            unit=f.unit,
            name=Text(f.name.en, f.name.id),
            definition=Text(f.definition.en, f.definition.id),
            legal_basis=f.legal_basis,
            disaggregations=tuple(f.disaggregations),
            needs=frozenset(f.needs),
            metadata=Metadata(
                Text(meta.concept.en, meta.concept.id),
                meta.formula,
                meta.frequency,
                tuple(meta.reference_codes),
                Text(meta.interpretation.en, meta.interpretation.id) if meta.interpretation else None,
                meta.producer,
            ),
            population=population,
            numerator=numerator,
            steps=tuple(f.steps),
            measure=measure or "PROGRESSION",
            path=self.file,
            order=f.order,
        )

    def _population(self, f: IndicatorFile) -> Population | None:
        if f.population is None:
            self.problem((), f"a {f.kind.name} indicator needs a [population] table")
            return None
        if not f.population.roles:
            self.problem(
                ("population",),
                "the population must name at least one role: an empty denominator is impossible",
            )
        return Population(
            frozenset(f.population.roles), f.population.cross_border, frozenset(f.population.stages)
        )

    def _numerator(self, f: IndicatorFile) -> Numerator | None:
        table = f.numerator
        if table is None:
            self.problem((), f"a {f.kind.name} indicator needs a [numerator] table")
            return None
        at: KeyPath = ("numerator",)
        if not table.statuses:
            self.problem(at, "'statuses' must list the service statuses that count as received")
        if not table.services and not table.none:
            self.problem(at, "'services' must list the service types counted (or set none = true)")
        if table.none and f.kind is Kind.PERSON_DAYS:
            self.problem((*at, "none"), "days to a first service cannot be measured for persons without one")
        return Numerator(frozenset(table.services), frozenset(table.statuses), table.none)

    def _steps(self, steps: tuple[CaseStage, ...]) -> None:
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


def read_indicator(path: Path) -> tuple[Indicator | None, list[Problem]]:
    """One indicator file: the indicator (None when invalid) and its problems, each at its line."""
    try:
        raw, locator = read_toml(path)
    except TomlFileError as exc:
        return None, _located(exc, path)
    try:
        model = validate(IndicatorFile, raw, file=str(path), locator=locator)
    except TomlFileError as exc:
        return None, _located(exc, path)
    rules = _Rules(path, locator, raw)
    return rules.check(model), rules.problems


def _located(exc: TomlFileError, path: Path) -> list[Problem]:
    """The problems of a TomlFileError, each naming the file by its path (and line)."""
    problems = []
    for p in exc.problems:
        line = p.line
        if line is None:  # Python 3.11's TOMLDecodeError has no lineno: "(at line N, column M)"
            found = re.search(r"at line (\d+)", p.message)
            line = int(found.group(1)) if found else None
        problems.append(Problem(str(path), line, p.where, p.message))
    return problems


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
                    "",
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
