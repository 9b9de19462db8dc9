"""One person record reduced to what linkage compares — in memory only, never stored or logged.

A :class:`LinkRecord` is built once per record as the job reads it, so the personal fields of
the source record can be dropped at once; only normalised forms stay, for the duration of the
run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from hub.linkage.normalise import (
    BirthDate,
    NameParts,
    name_key,
    nik_facts,
    normalise_address,
    normalise_birth_date,
    normalise_name,
    normalise_nik,
    normalise_passport,
    normalise_phone,
    sound_key,
)
from hub.vocabulary.model import AGE_RANGES as MODEL_AGE_RANGES
from hub.vocabulary.model import MAX_PLAUSIBLE_AGE, AgeGroup, PersonRecord, PersonRole, Sex

#: Age bands as closed (lowest, highest) ranges of completed years, for overlap tests.
AGE_RANGES: dict[AgeGroup, tuple[int, int]] = {
    band: (low, MAX_PLAUSIBLE_AGE if high is None else high) for band, (low, high) in MODEL_AGE_RANGES.items()
}


@dataclass(slots=True)
class LinkRecord:
    """The comparable identifying features of one person record."""

    ref: int  # position in the run's record list
    source: str
    key: str
    case_key: str | None
    roles: frozenset[PersonRole]
    name: NameParts
    name_key: str
    nik: str | None
    passport: str | None
    sex: Sex | None  # as recorded, else as encoded in the NIK
    birth: BirthDate | None  # as recorded
    nik_birth: date | None  # as encoded in the NIK
    region: str | None  # recorded domicile/origin regency
    nik_region: str | None  # regency of first registration, from the NIK
    age_range: tuple[int, int] | None  # age band at the case's report date
    phone: str | None = None  # last nine digits of a mobile number
    address: str | None = None  # address words, normalised and sorted

    # derived once at construction (compared millions of times)
    births: tuple[date, ...] = field(init=False)  # full dates: as recorded, as in the NIK
    birth_year: int | None = field(init=False)
    regions: tuple[str, ...] = field(init=False)  # recorded regency, then the NIK's
    recorded_births: tuple[date, ...] = field(init=False)  # as recorded only
    recorded_year: int | None = field(init=False)
    sound: str = field(init=False)  # sorted sound keys of the name tokens
    sorted_tokens: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        births: list[date] = []
        if self.birth is not None and not self.birth.year_only:
            births.append(self.birth.value)
        self.recorded_births = tuple(births)
        if self.nik_birth is not None and self.nik_birth not in births:
            births.append(self.nik_birth)
        self.recorded_year = self.birth.year if self.birth is not None else None
        self.births = tuple(births)
        if self.birth is not None:
            self.birth_year = self.birth.year
        else:
            self.birth_year = self.nik_birth.year if self.nik_birth else None
        self.regions = tuple(r for r in (self.region, self.nik_region) if r)
        self.sorted_tokens, self.sound = name_forms(self.name.tokens)

    @property
    def exact_birth(self) -> date | None:
        """A full birth date: as recorded (unless only the year is), else from the NIK."""
        return self.births[0] if self.births else None


@lru_cache(maxsize=262_144)
def name_forms(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """The tokens sorted and their sorted sound keys, once per distinct name of a run.

    Shared, not copied: a million records hold these, and names repeat a lot. Emptied with
    :func:`~hub.linkage.normalise.normalise_name`'s cache once the features are built.
    """
    ordered = tuple(sorted(tokens))
    sound = sys.intern(" ".join(sorted(sound_key(t) for t in tokens)))
    return (tokens if ordered == tokens else ordered), sound


@lru_cache(maxsize=262_144)
def _name_key(name: NameParts) -> str:
    return sys.intern(name_key(name))


def forget_names() -> None:
    """Empty the name caches of reading, once the features are built (their memory serves the blocks)."""
    normalise_name.cache_clear()
    name_forms.cache_clear()
    _name_key.cache_clear()


@lru_cache(maxsize=256)
def _roles(roles: tuple[PersonRole, ...]) -> frozenset[PersonRole]:
    """One shared frozenset per combination of roles (a frozenset per record costs 216 bytes)."""
    return frozenset(roles)


def link_record(ref: int, record: PersonRecord) -> LinkRecord:
    """The linkage features of ``record`` (which may then be discarded)."""
    name = normalise_name(record.full_name)
    nik = normalise_nik(record.nik)
    facts = nik_facts(nik) if nik else None
    sex: Sex | None = record.sex if record.sex is not Sex.UNKNOWN else None
    if sex is None and facts is not None:
        sex = facts.sex
    return LinkRecord(
        ref=ref,
        source=record.source,
        key=record.key,
        case_key=record.case_key,
        roles=_roles(tuple(record.roles)),
        name=name,
        name_key=_name_key(name),
        nik=nik,
        passport=normalise_passport(record.passport_number),
        sex=sex,
        birth=normalise_birth_date(record.birth_date),
        nik_birth=facts.birth_date if facts else None,
        region=record.domicile_region,
        nik_region=facts.region if facts else None,
        age_range=AGE_RANGES.get(record.age_group),
        phone=normalise_phone(record.phone),
        address=normalise_address(record.address),
    )
