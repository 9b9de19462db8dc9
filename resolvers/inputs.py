"""GraphQL input types and their translation into engine requests, with argument checks.

Every check names the argument it rejects (``extensions.argument``), so a portal can point
at the offending field; nothing is silently ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from hub.vocabulary import reference
from hub.vocabulary.countries import country_from_alpha2
from hub.vocabulary.model import CaseFilter as EngineCaseFilter
from resolvers import enums
from resolvers.enums import to_model
from resolvers.errors import bad_input

MAX_TEXT = 100
MAX_LIST = 100


@strawberry.input(
    description="Conditions on cases (Filter kasus). Fields combine with AND; values within a list with OR."
)
class CaseFilter:
    reported_from: date | None = strawberry.field(
        default=None, description="Reported on or after this date (Tanggal laporan dari)."
    )
    reported_to: date | None = strawberry.field(
        default=None, description="Reported on or before this date (Tanggal laporan sampai)."
    )
    regions: list[str] | None = strawberry.field(
        default=None,
        description="Kemendagri code prefixes (Kode wilayah): `33` is all of Central Java, `33.73` one city.",
    )
    agencies: list[str] | None = strawberry.field(
        default=None, description="Only cases held by these agencies, by code, e.g. `POLRI` (Lembaga)."
    )
    exploitation_types: list[enums.ExploitationType] | None = strawberry.field(
        default=None, description="Cases with any of these forms of exploitation (Bentuk eksploitasi)."
    )
    stages: list[enums.CaseStage] | None = strawberry.field(
        default=None, description="Cases currently at any of these stages (Tahapan perkara)."
    )
    victim_sex: list[enums.Sex] | None = strawberry.field(
        default=None, description="Cases with a victim of one of these sexes (Jenis kelamin korban)."
    )
    victim_age_groups: list[enums.AgeGroup] | None = strawberry.field(
        default=None, description="Cases with a victim in one of these age groups (Kelompok umur korban)."
    )
    child_victim: bool | None = strawberry.field(
        default=None,
        description="true: cases with a child victim (under 18, Korban anak); false: with an adult victim.",
    )
    countries_of_exploitation: list[str] | None = strawberry.field(
        default=None,
        description="ISO 3166-1 alpha-2 countries of exploitation, e.g. `MY`, `KH` (Negara eksploitasi).",
    )
    text: str | None = strawberry.field(
        default=None,
        description="Part of the agency's case reference, e.g. `LP/B/12` (Nomor perkara), case-insensitive.",
    )


def engine_filter(value: CaseFilter | None, known_agencies: set[str]) -> EngineCaseFilter:
    """Check a GraphQL filter and translate it; raises ``BAD_USER_INPUT`` naming the field."""
    if value is None:
        return EngineCaseFilter()
    for name in (
        "regions",
        "agencies",
        "exploitation_types",
        "stages",
        "victim_sex",
        "victim_age_groups",
        "countries_of_exploitation",
    ):
        items = getattr(value, name)
        if items is not None and len(items) > MAX_LIST:
            raise bad_input(f"at most {MAX_LIST} values", f"filter.{_camel(name)}")
    if value.reported_from and value.reported_to and value.reported_from > value.reported_to:
        raise bad_input("reportedFrom is after reportedTo", "filter.reportedFrom")
    agencies = tuple(dict.fromkeys(code.strip().upper() for code in value.agencies or ()))
    unknown = sorted(set(agencies) - known_agencies)
    if unknown:
        known = ", ".join(sorted(known_agencies))
        raise bad_input(f"unknown agency code(s): {', '.join(unknown)} (known: {known})", "filter.agencies")
    regions = []
    for code in value.regions or ():
        # Normalised here, once per request: every later reader takes the RegionPrefix as it is.
        normalized = reference.RegionPrefix.parse(code)
        if normalized is None or reference.regions().by_code(normalized) is None:
            raise bad_input(
                f"unknown region code {code!r} (use Kemendagri codes such as 33 or 33.73)", "filter.regions"
            )
        regions.append(normalized)
    countries = []
    for code in value.countries_of_exploitation or ():
        alpha2 = country_from_alpha2(code)
        if alpha2 is None or len(code.strip()) != 2:
            raise bad_input(
                f"unknown country code {code!r} (use ISO 3166-1 alpha-2 such as MY)",
                "filter.countriesOfExploitation",
            )
        countries.append(alpha2)
    text = value.text.strip() if value.text else None
    # Printable only: a NUL would cut the LIKE pattern short in SQLite and match every case.
    if text is not None and (not 1 <= len(text) <= MAX_TEXT or not text.isprintable()):
        raise bad_input(f"text must be 1 to {MAX_TEXT} printable characters", "filter.text")
    return EngineCaseFilter(
        reported_from=value.reported_from,
        reported_to=value.reported_to,
        regions=tuple(dict.fromkeys(regions)),
        agencies=agencies,
        exploitation_types=_members(value.exploitation_types),
        stages=_members(value.stages),
        victim_sex=_members(value.victim_sex),
        victim_age_groups=_members(value.victim_age_groups),
        child_victim=value.child_victim,
        countries_of_exploitation=tuple(dict.fromkeys(countries)),
        text=text or None,
    )


def _members(values: list[Any] | None) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(to_model(v) for v in values or ()))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
