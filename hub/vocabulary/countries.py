"""Country codes: ISO 3166-1 alpha-2 from the names, spellings and codes agencies store.

The national schema carries countries as ISO 3166-1 alpha-2 (``MY``). Sources store Indonesian
names (bp2mi, polri: ``Arab Saudi``, ``Hongkong``, ``Kamboja``), English names, alpha-3 codes
(kemlu: ``MYS``) or alpha-2. The names come from ``pycountry`` (ISO 3166-1 English names,
common and official names, and their Indonesian translations that pycountry ships), plus the
explicit aliases below for everyday Indonesian spellings that ISO does not list (``Hongkong``,
``Tiongkok``, ``Timor Leste``, ``Korsel``...).

All functions are pure and cached; the lookup tables are built once, on first use.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import pycountry

__all__ = [
    "alpha3_of",
    "country_from_alpha2",
    "country_from_alpha3",
    "country_from_name",
    "country_names",
    "normalize_country_name",
]

#: Spellings seen in Indonesian agency data that ISO 3166 / pycountry do not give (or give
#: differently: pycountry's Indonesian name for TL is the dated "Timor Timur", for CN "Cina").
#: They win over pycountry's names when the two disagree. Ambiguous short forms ("Korea",
#: "Guinea", "Kongo") are deliberately absent: guessing would send a case to the wrong country.
ALIASES: dict[str, tuple[str, ...]] = {
    "AE": ("Uni Emirat Arab", "UEA", "UAE", "Emirat Arab", "Emirates"),
    "AU": ("Australia",),
    "BN": ("Brunei", "Brunei Darussalam"),
    "CN": ("Tiongkok", "China", "Cina", "RRT", "RRC", "Republik Rakyat Tiongkok"),
    "DE": ("Jerman",),
    "EG": ("Mesir",),
    "FR": ("Prancis", "Perancis"),
    "GB": ("Inggris", "Britania Raya", "UK", "United Kingdom", "Great Britain"),
    "HK": ("Hongkong", "Hong Kong", "Hong Kong SAR"),
    "IQ": ("Irak",),
    "JO": ("Yordania",),
    "JP": ("Jepang",),
    "KH": ("Kamboja",),
    "KR": ("Korea Selatan", "Korsel", "South Korea", "Republic of Korea", "Republik Korea"),
    "KP": ("Korea Utara", "North Korea"),
    "LA": ("Laos",),
    "MM": ("Myanmar", "Burma", "Birma"),
    "MO": ("Makau", "Makao", "Macau"),
    "MY": ("Malaysia",),
    "NL": ("Belanda",),
    "NZ": ("Selandia Baru",),
    "PG": ("Papua Nugini", "Papua New Guinea", "PNG"),
    "PH": ("Filipina", "Philippines"),
    "QA": ("Qatar", "Katar"),
    "RU": ("Rusia", "Russia"),
    "SA": ("Arab Saudi", "Saudi Arabia", "Saudi", "KSA"),
    "SG": ("Singapura", "Singapore"),
    "SY": ("Suriah", "Syria"),
    "TH": ("Thailand", "Muangthai"),
    "TL": ("Timor Leste", "Timor-Leste", "East Timor"),
    "TR": ("Turki", "Turkey"),
    "TW": ("Taiwan",),
    "US": ("Amerika Serikat", "Amerika", "USA", "United States of America"),
    "VN": ("Vietnam", "Viet Nam"),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_country_name(text: str) -> str:
    """The matching key of a country name.

    Rules, and why:

    1. Unicode NFKD with combining marks dropped: ``Türkiye``, ``Côte d'Ivoire`` and
       ``Curaçao`` are often typed without their accents.
    2. ``casefold``: sources store ``ARAB SAUDI`` as often as ``Arab Saudi``.
    3. Everything but ASCII letters and digits is removed, spaces included: ``Hong Kong`` and
       ``Hongkong``, ``Timor-Leste`` and ``Timor Leste``, ``Korea, Republic of`` and
       ``Korea Republic of`` must meet. No two countries' names differ only by spacing or
       punctuation.
    4. A leading English article ``the`` is dropped (``The Philippines``, ``the Netherlands``).

    >>> normalize_country_name("Hong Kong")
    'hongkong'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NON_ALNUM.sub(" ", ascii_only.casefold()).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return "".join(words)


@dataclass(frozen=True, slots=True)
class _Tables:
    by_key: dict[str, str]
    alpha3: dict[str, str]
    alpha2: frozenset[str]
    names: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Build the lookup tables once from pycountry and :data:`ALIASES`.

    Priority when one key would name two countries: explicit aliases, then English ISO names,
    then Indonesian translations. A key that two ISO names of the same rank give to different
    countries is dropped rather than guessed.
    """
    catalogue: gettext.NullTranslations
    try:
        catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["id"])
    except OSError:  # pragma: no cover - pycountry always ships the id catalogue
        catalogue = gettext.NullTranslations()
    translate = catalogue.gettext

    english: dict[str, list[str]] = defaultdict(list)
    local: dict[str, list[str]] = defaultdict(list)
    alpha3: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        alpha3[country.alpha_3] = code
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                english[code].append(value)
                translated = translate(value)
                if translated and translated != value:
                    local[code].append(translated)

    by_key: dict[str, str] = {}
    for names_by_code in (local, english):  # lower rank first; higher rank overwrites
        rank: dict[str, set[str]] = defaultdict(set)
        for code, spellings in names_by_code.items():
            for spelling in spellings:
                rank[normalize_country_name(spelling)].add(code)
        for key, codes in rank.items():
            if len(codes) == 1:
                by_key[key] = next(iter(codes))
            else:
                by_key.pop(key, None)
    for code, aliases in ALIASES.items():
        for alias in aliases:
            by_key[normalize_country_name(alias)] = code

    names: dict[str, tuple[str, ...]] = {}
    for code in alpha3.values():
        candidates = [*ALIASES.get(code, ()), *local.get(code, ()), *english.get(code, ())]
        # Only spellings that map back to this code: a name dropped as ambiguous, or claimed by
        # an alias of another country, must not appear in this country's filter.
        usable = [s for s in candidates if by_key.get(normalize_country_name(s)) == code]
        with_upper = [form for s in usable for form in (s, s.upper())]
        names[code] = tuple(dict.fromkeys(with_upper))
    return _Tables(by_key=by_key, alpha3=alpha3, alpha2=frozenset(alpha3.values()), names=names)


@lru_cache(maxsize=4096)
def country_from_name(name: str | None) -> str | None:
    """ISO alpha-2 for a country name in English or Indonesian, any case; None if unknown.

    ``Arab Saudi`` and ``Saudi Arabia`` -> ``SA``; ``Hongkong`` -> ``HK``; ``Tiongkok`` ->
    ``CN``. Codes are not accepted here (``AS`` is American Samoa, but a source writing "AS"
    in a name column means Amerika Serikat): use :func:`country_from_alpha2` /
    :func:`country_from_alpha3` for code columns.
    """
    if not name:
        return None
    key = normalize_country_name(name)
    return _tables().by_key.get(key) if key else None


@lru_cache(maxsize=1024)
def country_from_alpha3(code: str | None) -> str | None:
    """ISO alpha-2 for an ISO alpha-3 code, any case (``mys`` -> ``MY``); None if unknown."""
    if not code:
        return None
    return _tables().alpha3.get(code.strip().upper())


@lru_cache(maxsize=1024)
def country_from_alpha2(code: str | None) -> str | None:
    """The alpha-2 code itself, upper-cased, if it is an assigned ISO 3166-1 code; else None."""
    if not code:
        return None
    candidate = code.strip().upper()
    return candidate if candidate in _tables().alpha2 else None


@lru_cache(maxsize=1024)
def _names(alpha2: str) -> tuple[str, ...]:
    return _tables().names.get(alpha2.strip().upper(), ())


def country_names(alpha2: str) -> list[str]:
    """The names a source might store for a country, for reverse mapping in filters.

    Explicit aliases first (``Arab Saudi``), then pycountry's Indonesian and English names,
    each followed by its upper-case form (``ARAB SAUDI``), without duplicates. Every name in
    the list maps back to ``alpha2`` through :func:`country_from_name`. Unknown code: ``[]``.
    A new list each call, so callers may modify it.
    """
    return list(_names(alpha2))


@lru_cache(maxsize=1024)
def alpha3_of(alpha2: str | None) -> str | None:
    """ISO alpha-3 for an alpha-2 code (``MY`` -> ``MYS``), for filters on alpha-3 columns."""
    if not alpha2:
        return None
    wanted = alpha2.strip().upper()
    return next((a3 for a3, a2 in _tables().alpha3.items() if a2 == wanted), None)
