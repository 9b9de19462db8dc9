"""Indonesia's administrative regions (kode wilayah Kemendagri): codes, names and lookups.

Agencies store regions in many ways: dotted codes (``33.73``), bare digits (``3373``), village
codes (``3373011001``), official names (``Kota Semarang``), upper-case abbreviations
(``KAB. INDRAMAYU``), province names with or without their formal prefix (``DKI Jakarta``).
This module turns all of those into the national form, a dotted code, and back again (the name
strings a source may store, so filters can be pushed into a source's SQL).

Data: ``hub/vocabulary/reference_data/provinces.csv`` and ``regencies.csv``, from ``idn-area-data`` 4.0.1
(ODbL 1.0; attribution and licence in that folder). The index is built once per process
(:func:`regions`) and is read-only afterwards.

``Region.level`` is the plain string ``"PROVINCE"`` or ``"REGENCY"``, the value of
``hub.vocabulary.model.RegionLevel``, so this module needs nothing from the rest of the project:
``RegionLevel(region.level)`` gives the enum.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = [
    "DATA_DIR",
    "Region",
    "RegionIndex",
    "RegionLevel",
    "RegionPrefix",
    "normalize_code",
    "normalize_name",
    "normalize_prefix",
    "regency_key",
    "regions",
]

RegionLevel = Literal["PROVINCE", "REGENCY"]
RegencyKind = Literal["KABUPATEN", "KOTA"]

#: The packaged reference data (with its ODbL attribution).
DATA_DIR = Path(__file__).resolve().with_name("reference_data")


@dataclass(frozen=True, slots=True)
class Region:
    """A province (``33``) or a regency/city (``33.73``), as listed by Kemendagri."""

    code: str
    name: str
    level: RegionLevel
    #: The province's own code for a province, the containing province's for a regency.
    province_code: str

    @property
    def is_province(self) -> bool:
        return self.level == "PROVINCE"


# --- pure normalisation ---------------------------------------------------------------------

#: Whole-word abbreviations expanded before matching (see :func:`normalize_name`).
_ABBREVIATIONS: dict[str, str] = {
    "kab": "kabupaten",
    "kabu": "kabupaten",
    "kep": "kepulauan",
    "kepl": "kepulauan",
    "adm": "administrasi",
    "admin": "administrasi",
    "kodya": "kota",
    "kotamadya": "kota",
    "kotip": "kota",
    "prov": "provinsi",
    "prop": "provinsi",
    "propinsi": "provinsi",
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_name(text: str) -> str:
    """Reduce a region name to lower-case words with abbreviations spelled out.

    Rules, and why:

    1. Unicode NFKD, combining marks dropped: keyboards and OCR produce accented or full-width
       look-alikes (``Kabupatén``); official names are plain ASCII.
    2. ``casefold``: sources store the same name as ``KOTA SEMARANG``, ``Kota Semarang`` or
       ``kota semarang``.
    3. Every run of characters other than ASCII letters and digits becomes one space:
       ``Kab.`` vs ``Kab``, ``Toli-Toli`` vs ``Toli Toli``, ``D.I. Yogyakarta``, stray commas,
       double spaces and trailing blanks all vanish.
    4. Administrative abbreviations are expanded as whole words only: ``Kab`` -> ``kabupaten``,
       ``Kep`` -> ``kepulauan``, ``Adm`` -> ``administrasi``, ``Prov``/``Prop``/``Propinsi`` ->
       ``provinsi``, and the old words for a city, ``Kotamadya``/``Kodya``/``Kotip``, ->
       ``kota``. Agencies abbreviate these inconsistently; place names themselves are never
       abbreviated here, so ``Kabupaten Kotabaru`` keeps its ``kotabaru``.

    >>> normalize_name("KAB. KEP. SERIBU")
    'kabupaten kepulauan seribu'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NON_ALNUM.sub(" ", ascii_only.casefold()).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def regency_key(text: str) -> tuple[RegencyKind | None, str]:
    """Split a regency name into its kind (Kabupaten/Kota, if stated) and a matching key.

    After :func:`normalize_name`, a leading ``kabupaten`` or ``kota`` (optionally followed by
    ``administrasi``, as in DKI Jakarta's ``Kota Administrasi Jakarta Pusat``) states the kind
    and is removed. The key is the remaining words joined *without spaces*, because sources
    split compound names differently (``Gunung Kidul``/``Gunungkidul``, ``Kulon Progo``/
    ``Kulonprogo``, ``Toli-Toli``/``Tolitoli``) and no two regencies differ only by a space.
    The kind word is removed only when something follows it, so ``Kota`` alone is not a key.

    >>> regency_key("Kab. Gunung Kidul")
    ('KABUPATEN', 'gunungkidul')
    """
    words = normalize_name(text).split()
    kind: RegencyKind | None = None
    if len(words) > 1 and words[0] in ("kabupaten", "kota"):
        kind = "KABUPATEN" if words[0] == "kabupaten" else "KOTA"
        words = words[1:]
        if len(words) > 1 and words[0] == "administrasi":
            words = words[1:]
    return kind, "".join(words)


def _province_key(text: str) -> str:
    """The matching key of a province name: normalised, ``provinsi`` dropped, spaces removed.

    ``Provinsi Jawa Tengah``, ``PROV. JAWA TENGAH`` and ``Jawa Tengah`` are the same province;
    spaces go for the same reason as in :func:`regency_key` (``Kepulauan Bangka-Belitung``).
    """
    words = normalize_name(text).split()
    if len(words) > 1 and words[0] == "provinsi":
        words = words[1:]
    return "".join(words)


#: Segment lengths of dotted regency, district and village codes (33.73, 33.73.01, 33.73.01.1001).
_DOTTED_LENGTHS = ([2, 2], [2, 2, 2], [2, 2, 2, 4])


def normalize_code(code: str | int) -> str | None:
    """The dotted province (``33``) or regency (``33.73``) code a region code refers to.

    Accepted, because each is how some source stores it: the dotted forms ``33`` and ``33.73``;
    deeper dotted codes ``33.73.01`` (district) and ``33.73.01.1001`` (village), reduced to
    their regency; bare digits of the Kemendagri lengths, 2 (province), 4 (regency),
    6 (district) and 10 (village), the last two reduced to their regency; integers, which is
    what a numeric column returns (``3373``). Anything else (other lengths, letters, an empty
    string) gives ``None``: guessing would put a case in the wrong place. Whether the code
    exists is not checked here (see :meth:`RegionIndex.by_code`).

    >>> normalize_code(3373011001)
    '33.73'
    """
    text = str(code).strip()
    if not text.isascii():
        return None
    parts = text.split(".")
    if len(parts) > 1:
        if all(p.isdigit() for p in parts) and [len(p) for p in parts] in _DOTTED_LENGTHS:
            return f"{parts[0]}.{parts[1]}"
        return None
    if text.isdigit():
        if len(text) == 2:
            return text
        if len(text) in (4, 6, 10):
            return f"{text[:2]}.{text[2:4]}"
    return None


class RegionPrefix(str):
    """A region filter's Kemendagri code prefix in dotted form, normalised once.

    Made by :meth:`parse` where the filter enters the hub (the GraphQL input); every later
    reader — the sources' region conditions, :meth:`RegionIndex.regencies_in`,
    :meth:`RegionIndex.names_for_prefix`, disclosure control — takes it as it is. It *is* its
    dotted string (``"33"``, ``"33.73"``), so it compares, hashes and serialises as before.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, prefix: str | int) -> RegionPrefix | None:
        """The prefix ``prefix`` stands for (itself if already one); None if it is none.

        ``33`` (a province) and ``33.73`` (a regency) are the usual prefixes; ``3`` (Java and the
        Jakarta/Banten provinces, 31-36) and ``33.7`` (the cities of Central Java) are plain string
        prefixes of the dotted codes. Bare digits get their dot after two digits (``3373`` ->
        ``33.73``, ``337`` -> ``33.7``) because that is where Kemendagri puts it; anything past the
        regency (``33.73.01``, ``3373011001``) is cut to the regency, the finest level this
        reference knows (so such a filter is a superset at regency granularity). A trailing dot is
        dropped. Empty or non-numeric input gives ``None``, never "everything".
        """
        if isinstance(prefix, RegionPrefix):
            return prefix
        text = _prefix_text(prefix)
        return None if text is None else cls(text)

    def covers(self, code: str) -> bool:
        """Whether the dotted region ``code`` lies under this prefix."""
        return code.startswith(self)


def normalize_prefix(prefix: str | int) -> RegionPrefix | None:
    """A region filter prefix in dotted form (:meth:`RegionPrefix.parse`)."""
    return RegionPrefix.parse(prefix)


def _prefix_text(prefix: str | int) -> str | None:
    text = str(prefix).strip().rstrip(".")
    if not text or not text.isascii():
        return None
    if "." in text:
        head, _, tail = text.partition(".")
        if len(head) != 2 or not head.isdigit():
            return None
        tail_digits = tail.split(".")[0]
        if not tail_digits.isdigit() or len(tail_digits) > 2:
            return None
        return f"{head}.{tail_digits}"
    if not text.isdigit():
        return None
    if len(text) <= 2:
        return text
    return f"{text[:2]}.{text[2:4]}"


# --- the index ------------------------------------------------------------------------------

#: Province aliases that normalisation alone does not reach: the short official forms and the
#: abbreviations in everyday use. Keys are national codes; values are display spellings.
_PROVINCE_ALIASES: dict[str, tuple[str, ...]] = {
    "11": ("NAD", "Nanggroe Aceh Darussalam", "Aceh Darussalam"),
    "12": ("Sumut",),
    "13": ("Sumbar",),
    "16": ("Sumsel",),
    "19": ("Bangka Belitung", "Babel", "Kep. Bangka Belitung"),
    "21": ("Kepri", "Kep. Riau"),
    "31": (
        "DKI Jakarta",
        "D.K.I. Jakarta",
        "Jakarta",
        "DKI",
        "Daerah Khusus Jakarta",
        "Jakarta Raya",
    ),
    "32": ("Jabar",),
    "33": ("Jateng",),
    "34": (
        "DI Yogyakarta",
        "D.I. Yogyakarta",
        "DIY",
        "Yogyakarta",
        "Jogjakarta",
        "Jogja",
        "Yogya",
    ),
    "35": ("Jatim",),
    "52": ("NTB",),
    "53": ("NTT",),
    "61": ("Kalbar",),
    "62": ("Kalteng",),
    "63": ("Kalsel",),
    "64": ("Kaltim",),
    "65": ("Kaltara",),
    "71": ("Sulut",),
    "72": ("Sulteng",),
    "73": ("Sulsel",),
    "74": ("Sultra",),
    "76": ("Sulbar",),
    "82": ("Malut",),
}

#: How each regency kind is written, fully and abbreviated, for :meth:`names_for_prefix`.
_KIND_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Kabupaten": ("Kabupaten", "Kab.", "Kab"),
    "Kabupaten Administrasi": (
        "Kabupaten Administrasi",
        "Kab. Adm.",
        "Kabupaten",
        "Kab.",
        "Kab",
    ),
    "Kota": ("Kota",),
    "Kota Administrasi": ("Kota Administrasi", "Kota Adm.", "Kota"),
}
_KIND_PREFIX = re.compile(r"^(Kabupaten Administrasi|Kota Administrasi|Kabupaten|Kota) (.+)$")


def _with_upper(names: Iterable[str]) -> list[str]:
    """Each name followed by its upper-case form (bp2mi stores ``KAB. INDRAMAYU``)."""
    out: list[str] = []
    for name in names:
        out.extend((name, name.upper()))
    return out


class RegionIndex:
    """All provinces and regencies, with lookups by code, by name and by code prefix.

    Immutable after construction; share one (:func:`regions`) across the process.
    """

    def __init__(
        self,
        provinces: Iterable[tuple[str, str]],
        regencies: Iterable[tuple[str, str, str]],
    ) -> None:
        """Build from ``(code, name)`` province rows and ``(code, province_code, name)`` rows."""
        by_code: dict[str, Region] = {}
        for code, name in provinces:
            by_code[code] = Region(code, name, "PROVINCE", code)
        for code, province_code, name in regencies:
            if province_code not in by_code:
                raise ValueError(f"regency {code} names unknown province {province_code}")
            if not code.startswith(province_code + "."):
                raise ValueError(f"regency {code} is not inside province {province_code}")
            by_code[code] = Region(code, name, "REGENCY", province_code)
        self._by_code = by_code
        self._provinces = tuple(r for r in by_code.values() if r.is_province)
        self._regencies = tuple(r for r in by_code.values() if not r.is_province)

        # Regency lookups: by (kind, key) when the source states the kind, by key alone when not.
        by_kind_key: dict[tuple[RegencyKind, str], list[Region]] = defaultdict(list)
        by_key: dict[str, list[Region]] = defaultdict(list)
        for regency in self._regencies:
            kind, key = regency_key(regency.name)
            if kind is None:
                raise ValueError(f"regency {regency.code} {regency.name!r} has no Kabupaten/Kota")
            by_kind_key[(kind, key)].append(regency)
            by_key[key].append(regency)
        self._by_kind_key = {k: tuple(v) for k, v in by_kind_key.items()}
        self._by_key = {k: tuple(v) for k, v in by_key.items()}

        # Province lookups: official names and aliases, by key.
        province_by_key: dict[str, Region] = {}
        self._province_spellings: dict[str, tuple[str, ...]] = {}
        for province in self._provinces:
            spellings = (province.name, *_PROVINCE_ALIASES.get(province.code, ()))
            self._province_spellings[province.code] = tuple(dict.fromkeys(_with_upper(spellings)))
            for spelling in spellings:
                key = _province_key(spelling)
                other = province_by_key.setdefault(key, province)
                if other is not province:
                    raise ValueError(f"province alias {spelling!r} is ambiguous")
        self._province_by_key = province_by_key

        # Spellings a source may store for each regency (see names_for_prefix).
        self._regency_spellings = {r.code: self._spellings(r) for r in self._regencies}

    @classmethod
    def from_csv(cls, directory: Path = DATA_DIR) -> RegionIndex:
        """Load ``provinces.csv`` and ``regencies.csv`` from ``directory``."""
        with (directory / "provinces.csv").open(encoding="utf-8", newline="") as fh:
            provinces = [(row["code"].strip(), row["name"].strip()) for row in csv.DictReader(fh)]
        with (directory / "regencies.csv").open(encoding="utf-8", newline="") as fh:
            regencies = [
                (row["code"].strip(), row["province_code"].strip(), row["name"].strip())
                for row in csv.DictReader(fh)
            ]
        return cls(provinces, regencies)

    # -- enumeration -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    @property
    def provinces(self) -> tuple[Region, ...]:
        return self._provinces

    @property
    def regencies(self) -> tuple[Region, ...]:
        return self._regencies

    # -- by code -----------------------------------------------------------------------------

    def by_code(self, code: str | int | None) -> Region | None:
        """The region a code refers to, in any form :func:`normalize_code` accepts; else None."""
        if code is None:
            return None
        normalized = normalize_code(code)
        return self._by_code.get(normalized) if normalized else None

    def province_of(self, code: str | int | None) -> Region | None:
        """The province containing a region code (a province is its own province)."""
        region = self.by_code(code)
        return self._by_code[region.province_code] if region else None

    def regencies_in(self, prefix: RegionPrefix | str | int) -> tuple[Region, ...]:
        """The regencies whose dotted code starts with ``prefix`` (see :func:`normalize_prefix`).

        ``33`` gives all 35 of Central Java, ``33.73`` just Kota Salatiga; an invalid prefix
        gives an empty tuple.
        """
        normalized = RegionPrefix.parse(prefix)
        if normalized is None:
            return ()
        return tuple(r for r in self._regencies if normalized.covers(r.code))

    # -- by name -----------------------------------------------------------------------------

    def find_province(self, name: str | None) -> Region | None:
        """The province a name refers to: official name, ``Provinsi ...``, or a known alias.

        Case and punctuation do not matter (``DKI JAKARTA``, ``D.I. Yogyakarta``); aliases
        include the short official forms (``DKI Jakarta``, ``DI Yogyakarta``), the bare city
        names (``Jakarta``, ``Yogyakarta``) and common abbreviations (``Jateng``, ``NTT``).
        """
        if not name:
            return None
        return self._province_by_key.get(_province_key(name))

    def find_regency(self, name: str | None, province_name: str | None = None) -> Region | None:
        """The regency or city a name refers to, or None when unknown or ambiguous.

        ``Kabupaten Cilacap``, ``Kab. Cilacap``, ``KAB. CILACAP``, ``KAB CILACAP`` and, since
        no city shares the name, ``Cilacap`` all give 33.01. A stated kind must match:
        ``Kota Cilacap`` is no region. A bare name shared by a kabupaten and a kota
        (``Semarang``) is ambiguous and gives None. ``province_name`` (any spelling
        :meth:`find_province` knows) is used only to choose among several candidates, e.g.
        ``Banjar`` with ``Kalimantan Selatan`` is Kabupaten Banjar (63.03), not Kota Banjar in
        West Java; it never rejects a name that is unambiguous on its own.

        A name like ``Kota Baru`` is also tried as one word (``Kabupaten Kotabaru``) when the
        reading with a stated kind finds nothing.
        """
        if not name:
            return None
        kind, key = regency_key(name)
        candidates: tuple[Region, ...] = ()
        if kind is not None:
            candidates = self._by_kind_key.get((kind, key), ())
            if not candidates:
                candidates = self._by_key.get("".join(normalize_name(name).split()), ())
        else:
            candidates = self._by_key.get(key, ())
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1 and province_name:
            province = self.find_province(province_name)
            if province is not None:
                inside = [r for r in candidates if r.province_code == province.code]
                if len(inside) == 1:
                    return inside[0]
        return None

    # -- reverse mapping, for filters pushed into a source's SQL -------------------------

    def _spellings(self, regency: Region) -> tuple[str, ...]:
        match = _KIND_PREFIX.match(regency.name)
        if match is None:  # pragma: no cover - the constructor rejects such names
            return tuple(_with_upper([regency.name]))
        kind_word, bare = match.groups()
        names = [regency.name] + [f"{kind} {bare}" for kind in _KIND_SPELLINGS[kind_word]]
        return tuple(dict.fromkeys(_with_upper(names)))

    def names_for_prefix(
        self, prefix: RegionPrefix | str | int, level: RegionLevel = "REGENCY"
    ) -> tuple[str, ...]:
        """The name strings a source may store for the regions under a code prefix.

        For pushing a region filter into a source that stores names, not codes:
        ``WHERE kab_asal IN (...)``.

        ``level="REGENCY"`` (default): for each regency under the prefix, its official name,
        the usual abbreviations (``Kab. Cilacap``, ``Kab Cilacap``, ``Kota Adm. Jakarta
        Pusat``, ``Kota Jakarta Pusat``) and the upper-case form of each (``KAB. CILACAP``);
        plus the bare name (``Cilacap``, ``CILACAP``) when no other regency shares it. A shared
        bare name (``Semarang``: Kabupaten 33.22 and Kota 33.74) is left out even when both lie
        under the prefix, so the filter agrees exactly with :meth:`find_regency`, which cannot
        read it either: every name returned maps back to a regency under the prefix.

        ``level="PROVINCE"``: the spellings (official, aliases, upper case) of the provinces
        *wholly* under the prefix, for a source that stores a province name: ``33`` gives
        ``Jawa Tengah``, ``JATENG``, ...; a regency prefix such as ``33.74`` covers no whole
        province and gives an empty tuple.
        """
        normalized = RegionPrefix.parse(prefix)
        if normalized is None:
            return ()
        names: list[str] = []
        if level == "PROVINCE":
            if len(normalized) > 2:
                return ()
            for province in self._provinces:
                if normalized.covers(province.code):
                    names.extend(self._province_spellings[province.code])
            return tuple(dict.fromkeys(names))
        inside = self.regencies_in(normalized)
        for regency in inside:
            names.extend(self._regency_spellings[regency.code])
            _, key = regency_key(regency.name)
            if len(self._by_key[key]) == 1:
                bare = _KIND_PREFIX.sub(r"\2", regency.name)
                names.extend(_with_upper([bare]))
        return tuple(dict.fromkeys(names))


@lru_cache(maxsize=1)
def regions() -> RegionIndex:
    """The process-wide region index, loaded from the packaged CSV files on first use."""
    return RegionIndex.from_csv(DATA_DIR)
