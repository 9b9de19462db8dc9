"""Linkage records built field by field, for the unit tests of scoring and clustering.

A record has only the features a test gives it (no NIK facts are derived unless the test sets
them), in the normalised forms the linkage job builds, so a test's expected value is the sum
of the documented rules for exactly those fields.
"""

from __future__ import annotations

from datetime import date

from hub.linkage.features import AGE_RANGES, LinkRecord
from hub.linkage.normalise import name_key, normalise_birth_date, normalise_name
from hub.vocabulary.model import AgeGroup, PersonRole, Sex

NAME = "Siti Rahmawati Lestari"
#: A NIK of a woman registered in Semarang (33.74) born 10 June 1995 (day 10 + 40).
NIK = "3374015006950001"


def rec(
    name: str | None = NAME,
    *,
    ref: int = 0,
    source: str = "polri",
    key: str = "1",
    case: str | None = None,
    role: PersonRole = PersonRole.VICTIM,
    nik: str | None = None,
    passport: str | None = None,
    sex: Sex | None = None,
    born: date | None = None,
    nik_birth: date | None = None,
    region: str | None = None,
    nik_region: str | None = None,
    age: AgeGroup | None = None,
    phone: str | None = None,
    address: str | None = None,
) -> LinkRecord:
    """A record with only the given features (normalised forms, as the linkage job builds them)."""
    parts = normalise_name(name)
    return LinkRecord(
        ref=ref,
        source=source,
        key=key,
        case_key=case,
        roles=frozenset({role}),
        name=parts,
        name_key=name_key(parts),
        nik=nik,
        passport=passport,
        sex=sex,
        birth=normalise_birth_date(born),
        nik_birth=nik_birth,
        region=region,
        nik_region=nik_region,
        age_range=AGE_RANGES.get(age) if age is not None else None,
        phone=phone,
        address=address,
    )


def other(name: str | None = NAME, **fields: object) -> LinkRecord:
    """The second record of a pair: another agency unless the test says otherwise."""
    fields.setdefault("source", "lpsk")
    fields.setdefault("key", "2")
    return rec(name, **fields)  # type: ignore[arg-type]
