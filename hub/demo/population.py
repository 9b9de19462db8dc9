"""The ground-truth world behind the demo agencies: people and cases, drawn from one seed.

Everything the five agency databases contain is an *encoding* of this world (see
``agencies.py``), so tests and benchmarks can compare what the hub reports with what really
happened. The world is deliberately skewed the way Indonesian TPPO data is: Java, NTB, NTT,
North Sumatra and West Kalimantan dominate as origins, Malaysia and Saudi Arabia as
destinations, and recent years (the 2023 task-force surge) carry more reports.

Nothing here reads a clock or an unseeded random source: the same ``(seed, scale)`` gives the
same world, object for object.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from hub.vocabulary.reference import DATA_DIR as REFERENCE_DATA_DIR

from .noise import old_spelling

BASE_CASES = 1500
"""Ground-truth cases at ``scale=1.0``; the population grows linearly with ``scale``."""

FIRST_DAY = date(2019, 1, 1)
LAST_DAY = date(2025, 12, 31)
"""The world is observed as of the last day: no agency date lies outside this window."""

CROSS_BORDER_SHARE = 0.40

# National vocabulary values used by the generator (hub/vocabulary/model.py owns the real enums; the
# generator keeps its own copy so the tests compare against an independent encoding).
SEXUAL = "SEXUAL_EXPLOITATION"
LABOUR = "FORCED_LABOUR"
DOMESTIC = "DOMESTIC_SERVITUDE"
SLAVERY = "SLAVERY_OR_SIMILAR"
MARRIAGE = "FORCED_MARRIAGE"
ORGAN = "ORGAN_REMOVAL"
REPRODUCTIVE = "REPRODUCTIVE_EXPLOITATION"
CHILD_LABOUR = "CHILD_LABOUR"
BEGGING = "FORCED_BEGGING"
CRIMINALITY = "FORCED_CRIMINALITY"
ADOPTION = "ILLEGAL_ADOPTION"
OTHER = "OTHER"

MEANS = (
    "THREAT_OF_VIOLENCE",
    "USE_OF_VIOLENCE",
    "ABDUCTION",
    "CONFINEMENT",
    "FORGERY",
    "DECEPTION",
    "ABUSE_OF_POWER_OR_VULNERABILITY",
    "DEBT_BONDAGE",
    "PAYMENT_TO_CONTROLLER",
)
MEANS_WEIGHTS = (6, 5, 2, 5, 8, 30, 10, 9, 4)

STAGES = (
    "REPORTED",
    "INQUIRY",
    "INVESTIGATION",
    "DOSSIER_RETURNED",
    "DOSSIER_COMPLETE",
    "HANDOVER_TO_PROSECUTOR",
    "PROSECUTION",
    "TRIAL",
    "FIRST_INSTANCE_VERDICT",
    "APPEAL",
    "CASSATION",
    "FINAL_AND_BINDING",
    "DISCONTINUED",
)
STAGE_ORDER = {stage: i for i, stage in enumerate(STAGES)}

# Destination countries (ISO alpha-2) of cross-border cases and how often they occur.
COUNTRY_WEIGHTS = {
    "MY": 34,
    "SA": 12,
    "KH": 11,
    "HK": 7,
    "TW": 7,
    "MM": 6,
    "AE": 6,
    "PH": 5,
    "SG": 4,
    "KR": 4,
    "JP": 4,
}

# First exploitation type, by where the exploitation happened.
_TYPES_ABROAD = {
    LABOUR: 38,
    DOMESTIC: 20,
    SEXUAL: 14,
    CRIMINALITY: 12,
    MARRIAGE: 5,
    ORGAN: 2,
    SLAVERY: 3,
    CHILD_LABOUR: 1,
    OTHER: 3,
    REPRODUCTIVE: 1,
    ADOPTION: 1,
}
_TYPES_SCAM_COUNTRY = {CRIMINALITY: 70, LABOUR: 15, SEXUAL: 8, ORGAN: 4, OTHER: 3}
_SCAM_COUNTRIES = ("KH", "MM", "PH")
_TYPES_DOMESTIC = {
    SEXUAL: 44,
    LABOUR: 14,
    CHILD_LABOUR: 11,
    DOMESTIC: 8,
    BEGGING: 6,
    MARRIAGE: 4,
    SLAVERY: 2,
    REPRODUCTIVE: 2,
    ADOPTION: 3,
    CRIMINALITY: 2,
    ORGAN: 1,
    OTHER: 3,
}
# Companion types a case often carries as its second type.
_SECOND_TYPE = {
    SEXUAL: (CHILD_LABOUR, MARRIAGE, DOMESTIC, REPRODUCTIVE),
    LABOUR: (DOMESTIC, SLAVERY, SEXUAL, CRIMINALITY),
    DOMESTIC: (LABOUR, SEXUAL, SLAVERY),
    CRIMINALITY: (LABOUR, SEXUAL, ORGAN),
    CHILD_LABOUR: (BEGGING, SEXUAL, LABOUR),
    MARRIAGE: (SEXUAL, DOMESTIC, REPRODUCTIVE),
}

# P(victim is female) and P(victim is a child) by the case's first exploitation type; the mix
# gives roughly a quarter of child victims overall.
_FEMALE_SHARE = {
    SEXUAL: 0.95,
    DOMESTIC: 0.93,
    MARRIAGE: 1.0,
    REPRODUCTIVE: 1.0,
    LABOUR: 0.45,
    CRIMINALITY: 0.40,
    ORGAN: 0.25,
    CHILD_LABOUR: 0.5,
    BEGGING: 0.55,
    SLAVERY: 0.5,
    ADOPTION: 0.5,
    OTHER: 0.6,
}
_CHILD_SHARE = {
    SEXUAL: 0.33,
    DOMESTIC: 0.12,
    MARRIAGE: 0.25,
    REPRODUCTIVE: 0.15,
    LABOUR: 0.05,
    CRIMINALITY: 0.02,
    ORGAN: 0.02,
    CHILD_LABOUR: 1.0,
    BEGGING: 0.6,
    SLAVERY: 0.08,
    ADOPTION: 1.0,
    OTHER: 0.15,
}

# Province weights for where people come from (Kemendagri province codes).
_ORIGIN_PROVINCES = {
    "32": 18,
    "33": 14,
    "35": 14,
    "52": 12,
    "53": 11,
    "12": 7,
    "61": 6,
    "36": 3,
    "18": 3,
    "73": 2,
    "51": 1.5,
    "31": 1.5,
    "21": 1.5,
    "34": 1,
    "16": 1,
    "63": 0.8,
    "14": 0.8,
}
_OTHER_PROVINCE_WEIGHT = 0.3
_HOTSPOTS = {
    "32.12",
    "32.09",
    "32.03",
    "32.02",
    "32.15",
    "32.13",
    "33.01",
    "33.29",
    "33.24",
    "35.07",
    "35.05",
    "35.02",
    "35.04",
    "35.10",
    "35.09",
    "52.03",
    "52.02",
    "52.01",
    "53.02",
    "53.01",
    "53.03",
    "53.04",
    "53.18",
    "12.07",
    "12.71",
    "61.01",
    "61.03",
    "61.71",
}
# Where domestic exploitation happens and where cross-border cases are caught on the way out.
_DOMESTIC_HUBS = (
    "21.71",
    "31.72",
    "31.73",
    "31.71",
    "51.03",
    "51.71",
    "35.78",
    "12.71",
    "32.73",
    "32.01",
    "36.71",
    "32.16",
    "61.71",
    "73.71",
    "65.03",
    "36.03",
)
_DEPARTURE_HUBS = ("21.71", "65.03", "36.71", "61.03", "21.72", "14.72", "12.07", "31.73")

_YEAR_WEIGHTS = {2019: 0.8, 2020: 0.55, 2021: 0.75, 2022: 1.0, 2023: 1.6, 2024: 1.35, 2025: 1.2}

# Name material that Faker's id_ID lists lack: very common name parts (so that the spelling
# noise finds u/j/c/ny/sy to play with) and regional naming customs.
_COMMON_MALE = (
    "Muhammad",
    "Ahmad",
    "Abdul",
    "Agus",
    "Budi",
    "Joko",
    "Cahyo",
    "Wahyu",
    "Yusuf",
    "Syaiful",
    "Nyoto",
    "Sujono",
    "Suharto",
    "Sutrisno",
    "Jumadi",
    "Rusdi",
    "Syarif",
    "Junaidi",
)
_COMMON_FEMALE = (
    "Siti",
    "Nur",
    "Sri",
    "Dewi",
    "Putri",
    "Nyai",
    "Suryani",
    "Juwita",
    "Cucu",
    "Syafitri",
    "Sumiati",
    "Rusmini",
    "Juariah",
    "Nurjanah",
    "Cici",
    "Tuti",
    "Yuyun",
    "Suhartini",
)
_BALI_MALE = ("I Wayan", "I Made", "I Nyoman", "I Ketut", "I Putu", "I Komang", "I Gede")
_BALI_FEMALE = ("Ni Wayan", "Ni Made", "Ni Nyoman", "Ni Ketut", "Ni Putu", "Ni Komang", "Ni Luh")
_NTT_MALE = ("Yohanes", "Yosef", "Agustinus", "Petrus", "Markus", "Fransiskus", "Paulus")
_NTT_FEMALE = ("Maria", "Fransiska", "Theresia", "Marselina", "Yuliana", "Agustina", "Kristina")
_NTT_SURNAMES = ("Seran", "Nahak", "Bere", "Tefa", "Lake", "Bana", "Taneo", "Ndun", "Manafe", "Lay")
_BATAK_SURNAMES = (
    "Siregar",
    "Nainggolan",
    "Simanjuntak",
    "Hutapea",
    "Damanik",
    "Sitompul",
    "Lubis",
    "Nasution",
    "Harahap",
    "Sinaga",
    "Tambunan",
    "Pardede",
    "Sihombing",
    "Situmorang",
    "Purba",
)
_NON_MUSLIM_PROVINCES = ("51", "53", "71", "81", "91", "92", "93", "94", "95", "96")
_PHONE_PREFIXES = (
    "0811",
    "0812",
    "0813",
    "0821",
    "0822",
    "0823",
    "0852",
    "0853",
    "0814",
    "0815",
    "0816",
    "0855",
    "0856",
    "0857",
    "0858",
    "0817",
    "0818",
    "0819",
    "0859",
    "0877",
    "0878",
    "0895",
    "0896",
    "0897",
    "0898",
    "0899",
    "0881",
    "0882",
    "0887",
)


def _reference_dir() -> Path:
    """Where the Kemendagri code lists live: the vocabulary's packaged copy (ODbL, attributed)."""
    return REFERENCE_DATA_DIR


@dataclass(frozen=True)
class Regency:
    code: str  # dotted, "33.73"
    province_code: str  # "33"
    name: str  # "Kota Semarang"


@dataclass(frozen=True)
class Regions:
    """The ODbL Kemendagri code lists, read once per generation."""

    provinces: dict[str, str]  # code -> name
    regencies: dict[str, Regency]  # dotted code -> regency
    by_province: dict[str, tuple[str, ...]]  # province code -> regency codes

    @classmethod
    def load(cls) -> Regions:
        base = _reference_dir()
        with (base / "provinces.csv").open(encoding="utf-8", newline="") as fh:
            provinces = {row["code"]: row["name"] for row in csv.DictReader(fh)}
        with (base / "regencies.csv").open(encoding="utf-8", newline="") as fh:
            regencies = {
                row["code"]: Regency(row["code"], row["province_code"], row["name"])
                for row in csv.DictReader(fh)
            }
        by_province: dict[str, list[str]] = {}
        for code in sorted(regencies):
            by_province.setdefault(regencies[code].province_code, []).append(code)
        return cls(provinces, regencies, {k: tuple(v) for k, v in by_province.items()})


class WeightedPicker:
    """``rng.choices`` with cumulative weights computed once (it runs millions of times)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, weighted: dict[str, float] | list[tuple[str, float]]) -> None:
        pairs = list(weighted.items()) if isinstance(weighted, dict) else list(weighted)
        self.items = [item for item, _ in pairs]
        self.cum = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> str:
        index = bisect.bisect_right(self.cum, rng.random() * self.total)
        return self.items[min(index, len(self.items) - 1)]  # float rounding at the very top


@dataclass(frozen=True)
class NamePools:
    """Indonesian name parts from Faker ``id_ID`` plus regional customs, built once per seed."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    family_male: tuple[str, ...]  # Indonesian "last names" are often gendered (Putra/Putri)
    family_female: tuple[str, ...]
    streets: tuple[str, ...]

    @classmethod
    def build(cls, seed: int) -> NamePools:
        fake = Faker("id_ID")
        fake.seed_instance(seed)
        provider = fake.provider("faker.providers.person")
        male = sorted(set(provider.first_names_male) | set(_COMMON_MALE))
        female = sorted(set(provider.first_names_female) | set(_COMMON_FEMALE))
        family_male = sorted(set(provider.last_names_male))
        family_female = sorted(set(provider.last_names_female))
        streets = sorted({fake.street() for _ in range(400)})
        return cls(tuple(male), tuple(female), tuple(family_male), tuple(family_female), tuple(streets))


@dataclass(slots=True)
class Person:
    """One human being. ``given`` is the canonical name; agencies write variants of it."""

    index: int
    given: str
    patronym: str | None  # "bin Sulaiman" / "binti Sulaiman"
    title: str | None  # "H.", "Hj.", "Drs.", "S.Pd." (agencies add it or not)
    sex: str  # FEMALE / MALE
    birth_date: date
    origin_region: str
    nik: str
    passport: str | None
    phone: str | None
    address: str

    @property
    def id(self) -> str:
        return f"P{self.index + 1:06d}"

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.patronym}" if self.patronym else self.given


@dataclass(slots=True)
class Case:
    index: int
    reported_at: date
    region: str
    origin_region: str  # where the (first) victims were recruited
    country: str | None
    exploitation_types: list[str]
    means: list[str]
    stage: str
    victims: list[int] = field(default_factory=list)
    perpetrators: list[int] = field(default_factory=list)
    witnesses: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"K{self.index + 1:06d}"


@dataclass(frozen=True)
class World:
    seed: int
    scale: float
    regions: Regions
    names: NamePools
    persons: list[Person]
    cases: list[Case]


def age_at(birth: date, when: date) -> int:
    """Completed years on ``when`` (the legal age: UU 21/2007 counts a child as under 18)."""
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def make_address(rng: random.Random, names: NamePools, regency: Regency) -> str:
    """A plausible village address (street, house number, RT/RW, regency)."""
    street = rng.choice(names.streets)
    return (
        f"{rng.choice(('Jl.', 'Jl.', 'Gg.', 'Dusun'))} {street} No. {rng.randint(1, 150)} "
        f"RT {rng.randint(1, 15):03d}/RW {rng.randint(1, 12):03d}, {regency.name}"
    )


def add_days(day: date, days: int) -> date:
    """``day + days`` kept inside the observed window (no record lies in the future)."""
    moved = day + timedelta(days=days)
    return min(max(moved, FIRST_DAY), LAST_DAY)


class _WorldBuilder:
    """Draws cases and the people in them; kept as a class only to share the pickers."""

    def __init__(self, seed: int, scale: float) -> None:
        self.rng = random.Random(seed)
        self.seed, self.scale = seed, scale
        self.regions = Regions.load()
        self.names = NamePools.build(seed)
        self.persons: list[Person] = []
        self.nik_seq: dict[str, int] = {}
        self.passports: set[str] = set()
        self.victim_pool: list[int] = []
        self.perp_pool: dict[str, list[int]] = {}
        self.origin = self._origin_picker()
        self.countries = WeightedPicker(COUNTRY_WEIGHTS)
        self.types_abroad = WeightedPicker(_TYPES_ABROAD)
        self.types_scam = WeightedPicker(_TYPES_SCAM_COUNTRY)
        self.types_domestic = WeightedPicker(_TYPES_DOMESTIC)
        self.means = WeightedPicker(list(zip(MEANS, MEANS_WEIGHTS, strict=True)))
        self.years = WeightedPicker([(str(y), w) for y, w in _YEAR_WEIGHTS.items()])

    def _origin_picker(self) -> WeightedPicker:
        """Regency of origin: province weights, hotspots x6, and a fixed random skew within."""
        skew = random.Random(f"{self.seed}:origin-skew")
        weighted: list[tuple[str, float]] = []
        for province, codes in sorted(self.regions.by_province.items()):
            inner = [skew.lognormvariate(0, 0.6) * (6 if c in _HOTSPOTS else 1) for c in codes]
            share = _ORIGIN_PROVINCES.get(province, _OTHER_PROVINCE_WEIGHT) / sum(inner)
            weighted.extend((c, w * share) for c, w in zip(codes, inner, strict=True))
        return WeightedPicker(weighted)

    # -- people -----------------------------------------------------------------------------

    def _name(self, sex: str, province: str) -> tuple[str, str | None]:
        rng, pools = self.rng, self.names
        first = pools.female if sex == "FEMALE" else pools.male
        family = pools.family_female if sex == "FEMALE" else pools.family_male
        roll = rng.random()
        if province == "51" and roll < 0.8:
            prefix = rng.choice(_BALI_FEMALE if sex == "FEMALE" else _BALI_MALE)
            given = f"{prefix} {rng.choice(first)}"
        elif province == "53" and roll < 0.7:
            christian = rng.choice(_NTT_FEMALE if sex == "FEMALE" else _NTT_MALE)
            given = f"{christian} {rng.choice(_NTT_SURNAMES)}"
        elif province == "12" and roll < 0.5:
            given = f"{rng.choice(first)} {rng.choice(_BATAK_SURNAMES)}"
        elif roll < 0.35:
            given = rng.choice(first)
        elif roll < 0.8:
            given = f"{rng.choice(first)} {rng.choice(family)}"
        else:
            common = _COMMON_FEMALE if sex == "FEMALE" else _COMMON_MALE
            given = f"{rng.choice(common)} {rng.choice(first)} {rng.choice(family)}"
        patronym = None
        if province not in _NON_MUSLIM_PROVINCES and rng.random() < 0.25:
            word = "binti" if sex == "FEMALE" else "bin"
            patronym = f"{word} {rng.choice(pools.male)}"
        return given, patronym

    def _nik(self, origin: str, sex: str, birth: date) -> str:
        day = birth.day + (40 if sex == "FEMALE" else 0)
        prefix = f"{origin.replace('.', '')}{self.rng.randint(1, 24):02d}"
        prefix += f"{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        seq = self.nik_seq.get(prefix, 0) + 1
        self.nik_seq[prefix] = seq
        return f"{prefix}{seq:04d}"

    def _passport(self) -> str:
        while True:
            number = f"{self.rng.choice('CCCBXXXE')}{self.rng.randint(0, 9_999_999):07d}"
            if number not in self.passports:
                self.passports.add(number)
                return number

    def new_person(self, sex: str, birth: date, origin: str, *, titled: float) -> int:
        rng = self.rng
        province = origin[:2]
        given, patronym = self._name(sex, province)
        if birth.year < 1975 and rng.random() < 0.3:
            given = old_spelling(given)
        title = None
        age = age_at(birth, LAST_DAY)
        if age >= 40 and rng.random() < titled:
            if province in _NON_MUSLIM_PROVINCES or rng.random() < 0.3:
                title = rng.choice(("Drs.", "S.Pd."))
            else:
                title = "Hj." if sex == "FEMALE" else "H."
        phone = None
        if age >= 14 and rng.random() < 0.9:
            digits = rng.choice((7, 8, 8))
            phone = f"{rng.choice(_PHONE_PREFIXES)}{rng.randrange(10**digits):0{digits}d}"
        person = Person(
            index=len(self.persons),
            given=given,
            patronym=patronym,
            title=title,
            sex=sex,
            birth_date=birth,
            origin_region=origin,
            nik=self._nik(origin, sex, birth),
            passport=None,
            phone=phone,
            address=make_address(rng, self.names, self.regions.regencies[origin]),
        )
        self.persons.append(person)
        return person.index

    def _birth(self, reported: date, age: int) -> date:
        return reported - timedelta(days=int((age + self.rng.random()) * 365.25))

    def _victim(self, case: Case, cross_border: bool) -> int:
        rng = self.rng
        if self.victim_pool and rng.random() < 0.02:  # trafficked again
            reused = self.victim_pool[rng.randrange(len(self.victim_pool))]
            if reused not in case.victims:
                return reused
        kind = case.exploitation_types[0]
        sex = "FEMALE" if rng.random() < _FEMALE_SHARE[kind] else "MALE"
        if rng.random() < _CHILD_SHARE[kind]:
            age = rng.choices((8, 11, 13, 14, 15, 16, 17), (1, 2, 3, 5, 6, 7, 6))[0]
        else:
            age = rng.choices((18, 21, 25, 30, 35, 42, 50), (8, 10, 10, 8, 6, 3, 1))[0]
            age += rng.randint(0, 3)
        origin = case.origin_region if rng.random() < 0.8 else self.origin.pick(rng)
        index = self.new_person(sex, self._birth(case.reported_at, age), origin, titled=0.05)
        self.victim_pool.append(index)
        return index

    def _perpetrator(self, case: Case) -> int:
        rng = self.rng
        province = case.origin_region[:2]
        known = self.perp_pool.setdefault(province, [])
        if known and rng.random() < 0.08:  # the same recruiter network again
            reused = known[rng.randrange(len(known))]
            if reused not in case.perpetrators and reused not in case.victims:
                return reused
        sex = "MALE" if rng.random() < 0.7 else "FEMALE"
        age = rng.randint(22, 62)
        origin = case.origin_region if rng.random() < 0.6 else self.origin.pick(rng)
        index = self.new_person(sex, self._birth(case.reported_at, age), origin, titled=0.3)
        known.append(index)
        return index

    def _witness(self, case: Case) -> int:
        rng = self.rng
        sex = "FEMALE" if rng.random() < 0.5 else "MALE"
        age = rng.randint(18, 65)
        origin = case.origin_region if rng.random() < 0.7 else self.origin.pick(rng)
        return self.new_person(sex, self._birth(case.reported_at, age), origin, titled=0.1)

    # -- cases ------------------------------------------------------------------------------

    def _date(self) -> date:
        year = int(self.years.pick(self.rng))
        start = date(year, 1, 1)
        return start + timedelta(days=self.rng.randrange((date(year + 1, 1, 1) - start).days))

    def _stage(self, reported: date) -> str:
        elapsed = (LAST_DAY - reported).days
        if elapsed < 90:
            weights = (40, 35, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        elif elapsed < 365:
            weights = (10, 20, 30, 8, 10, 7, 3, 7, 0, 0, 0, 0, 5)
        else:
            weights = (4, 5, 9, 3, 5, 5, 5, 10, 28, 5, 2, 8, 11)
        return self.rng.choices(STAGES, weights)[0]

    def _types(self, country: str | None) -> list[str]:
        rng = self.rng
        if country is None:
            first = self.types_domestic.pick(rng)
        elif country in _SCAM_COUNTRIES:
            first = self.types_scam.pick(rng)
        else:
            first = self.types_abroad.pick(rng)
        types = [first]
        if first in _SECOND_TYPE and rng.random() < 0.3:
            types.append(rng.choice(_SECOND_TYPE[first]))
        return types

    def _case(self, index: int, reported: date) -> Case:
        rng = self.rng
        country = self.countries.pick(rng) if rng.random() < CROSS_BORDER_SHARE else None
        origin = self.origin.pick(rng)
        if country is None:
            region = origin if rng.random() < 0.5 else rng.choice(_DOMESTIC_HUBS)
        else:
            region = origin if rng.random() < 0.7 else rng.choice(_DEPARTURE_HUBS)
        means = [self.means.pick(rng)]
        if rng.random() < 0.45:
            second = self.means.pick(rng)
            if second != means[0]:
                means.append(second)
        case = Case(
            index=index,
            reported_at=reported,
            region=region,
            origin_region=origin,
            country=country,
            exploitation_types=self._types(country),
            means=means,
            stage=self._stage(reported),
        )
        for _ in range(rng.choices((1, 2, 3), (65, 22, 13))[0]):
            victim = self._victim(case, country is not None)
            if victim not in case.victims:
                case.victims.append(victim)
        for _ in range(rng.choices((0, 1, 2, 3), (15, 55, 22, 8))[0]):
            perp = self._perpetrator(case)
            if perp not in case.perpetrators and perp not in case.victims:
                case.perpetrators.append(perp)
        for _ in range(rng.choices((0, 1, 2), (45, 40, 15))[0]):
            case.witnesses.append(self._witness(case))
        if country is not None:
            self._give_passports(case)
        return case

    def _give_passports(self, case: Case) -> None:
        """Migrants carry passports: most victims (some left undocumented), some witnesses."""
        for index in case.victims:
            person = self.persons[index]
            if person.passport is None and self.rng.random() < 0.9:
                person.passport = self._passport()
        for index in case.witnesses:
            person = self.persons[index]
            if person.passport is None and self.rng.random() < 0.6:
                person.passport = self._passport()

    def build(self) -> World:
        count = max(1, round(BASE_CASES * self.scale))
        dates = sorted(self._date() for _ in range(count))
        cases = [self._case(i, reported) for i, reported in enumerate(dates)]
        return World(self.seed, self.scale, self.regions, self.names, self.persons, cases)


def build_world(seed: int, scale: float) -> World:
    """The ground truth for ``(seed, scale)``: about ``1500 * scale`` cases and their people."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    return _WorldBuilder(seed, scale).build()
