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
    forget_written_words,
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
    #: the ages the person may have had at a report date: from the birth year (recorded, else
    #: the NIK's) at any report date 2019-2025 with a year of slack, else the age band
    age_span: tuple[int, int] | None = field(init=False)
    #: the name tokens sorted, and their sorted sound keys (:func:`name_forms`; worked out
    #: here unless the caller has them from a cache of its own, as :func:`link_record` does)
    sorted_tokens: tuple[str, ...] = None  # type: ignore[assignment]
    sound: str = ""

    def __post_init__(self) -> None:
        birth, nik_birth = self.birth, self.nik_birth
        if birth is None:
            self.recorded_births = ()
            self.recorded_year = None
            self.birth_year = nik_birth.year if nik_birth is not None else None
            self.births = (nik_birth,) if nik_birth is not None else ()
        else:
            self.recorded_year = self.birth_year = birth.value.year
            if birth.year_only:
                self.recorded_births = ()
                self.births = (nik_birth,) if nik_birth is not None else ()
            else:
                self.recorded_births = recorded = (birth.value,)
                self.births = (
                    recorded if nik_birth is None or nik_birth == birth.value else (birth.value, nik_birth)
                )
        year = self.birth_year
        self.age_span = _age_span(year) if year is not None else self.age_range
        region, nik_region = self.region, self.nik_region
        if region:
            self.regions = (region, nik_region) if nik_region else (region,)
        else:
            self.regions = (nik_region,) if nik_region else ()
        if self.sorted_tokens is None:
            self.sorted_tokens, self.sound = name_forms(self.name.tokens)

    @property
    def exact_birth(self) -> date | None:
        """A full birth date: as recorded (unless only the year is), else from the NIK."""
        return self.births[0] if self.births else None


@lru_cache(maxsize=1024)
def _age_span(year: int) -> tuple[int, int]:
    """The ages at a report date 2019-2025 of someone born in ``year``, a year of slack either side.

    One shared tuple per year: a tuple per record cost 8 MB at 100k records.
    """
    return (2018 - year, 2026 - year)


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


#: What :func:`link_record` derives from a name as written: its parts, blocking key, sorted
#: tokens and sorted sound keys.
NameFields = tuple[NameParts, str, tuple[str, ...], str]


@lru_cache(maxsize=262_144)
def _name_fields(raw: str | None) -> NameFields:
    """Everything :func:`link_record` derives from a name as written, once per distinct spelling.

    One cache lookup on the written string (whose hash Python keeps) instead of three (the
    parts, then their key and forms, hashed as tuples) for each of a million records. It
    stands in for :func:`~hub.linkage.normalise.normalise_name`'s own cache, which it does
    not fill: the memory of a run's caches stays what it was.
    """
    name = normalise_name.__wrapped__(raw)
    ordered, sound = name_forms(name.tokens)
    return name, _name_key(name), ordered, sound


def forget_names() -> None:
    """Empty the name caches of reading, once the features are built (their memory serves the blocks)."""
    normalise_name.cache_clear()
    forget_written_words()
    _name_fields.cache_clear()
    name_forms.cache_clear()
    _name_key.cache_clear()
    _nik_born.cache_clear()


@lru_cache(maxsize=256)
def _roles(roles: tuple[PersonRole, ...]) -> frozenset[PersonRole]:
    """One shared frozenset per combination of roles (a frozenset per record costs 216 bytes)."""
    return frozenset(roles)


@lru_cache(maxsize=4096)
def _nik_region(head: str) -> str:
    """The regency a NIK's first four digits name, dotted (``33.74``): one string per regency."""
    return sys.intern(f"{head[:2]}.{head[2:]}")


@lru_cache(maxsize=131_072)
def _nik_born(digits: str) -> tuple[Sex, date | None]:
    """Sex and birth date of a NIK's date digits (positions 7-12), once per distinct six digits.

    :func:`~hub.linkage.normalise.nik_facts` reads them from the whole NIK; the date digits
    are shared by everyone born on one day, so a run of a million NIKs sees a few ten
    thousand of them.
    """
    facts = nik_facts(f"000000{digits}0000")
    return facts.sex, facts.birth_date


_NO_NIK: tuple[Sex | None, date | None] = (None, None)


@lru_cache(maxsize=65_536)
def _birth(value: date) -> BirthDate:
    """One shared :class:`BirthDate` per recorded date (a million records, a few ten thousand days)."""
    return normalise_birth_date(value)  # type: ignore[return-value]  # value is a date


def link_record(ref: int, record: PersonRecord) -> LinkRecord:
    """The linkage features of ``record`` (which may then be discarded)."""
    name, key, ordered, sound = _name_fields(record.full_name)
    nik = normalise_nik(record.nik)
    if nik:
        nik_sex, nik_birth = _nik_born(nik[6:12])
        nik_region: str | None = _nik_region(nik[:4])
    else:
        nik_sex, nik_birth = _NO_NIK
        nik_region = None
    sex: Sex | None = record.sex if record.sex is not Sex.UNKNOWN else nik_sex
    born = record.birth_date
    return LinkRecord(
        ref,
        record.source,
        record.key,
        record.case_key,
        _roles(tuple(record.roles)),
        name,
        key,
        nik,
        normalise_passport(record.passport_number),
        sex,
        _birth(born) if born is not None else None,
        nik_birth,
        record.domicile_region,
        nik_region,
        AGE_RANGES.get(record.age_group),
        normalise_phone(record.phone),
        normalise_address(record.address),
        ordered,
        sound,
    )
