"""Region names as agencies type them: exact Kemendagri spellings first, then close variants.

:meth:`hub.vocabulary.reference.RegionIndex.find_regency` knows the official names and their usual
abbreviations (``KAB. INDRAMAYU``). Agency registers also hold old orthography
(``Indramajoe``), typos (``Kab. Cilacapp``) and names run together differently. Those are
matched here, in a fallback that runs only when the exact lookup finds nothing:

1. the old Indonesian spellings are rewritten (``oe``→``u``, ``dj``→``j``, ``tj``→``c``,
   ``nj``→``ny``, ``sj``→``sy``, ``ch``→``kh``) and the exact lookup is tried again;
2. otherwise the name is compared with every regency's matching key (of the same kind when
   the name says Kabupaten/Kota, inside the province when one is given) with rapidfuzz; the
   best candidate is taken only if it scores at least :data:`MIN_SCORE` and clearly beats the
   runner-up (:data:`MIN_MARGIN`), so ``Semarang`` (a kabupaten and a kota) stays unmatched
   rather than guessed.

Results are cached: a source stores few distinct names, read many times.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from hub.vocabulary import reference
from hub.vocabulary.reference import Region

#: Lowest rapidfuzz ratio (0 to 100) accepted for an approximate match.
MIN_SCORE = 88.0
#: How far the best candidate must score above the second best.
MIN_MARGIN = 4.0
#: Lowest ratio at which ``adapter check`` suggests an alias for a name nothing reads.
SUGGEST_SCORE = 70.0
#: Keys shorter than this are never matched approximately (too little to go on).
MIN_KEY_LENGTH = 4

_OLD_SPELLINGS = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("nj", "ny"), ("sj", "sy"), ("ch", "kh"))


@dataclass(frozen=True, slots=True)
class RegionMatch:
    """A region found for a name, and whether the name was spelt exactly as a known form."""

    region: Region
    exact: bool
    score: float = 100.0


@lru_cache(maxsize=8192)
def match_regency(
    name: str | None, province_name: str | None = None, fuzzy: bool = True
) -> RegionMatch | None:
    """The regency a name refers to: exactly, or (``fuzzy``) by a close, unambiguous spelling."""
    if not name or not name.strip():
        return None
    index = reference.regions()
    exact = index.find_regency(name, province_name=province_name)
    if exact is not None:
        return RegionMatch(exact, True)
    if not fuzzy:
        return None
    spellings = _respellings(name)
    for respelt in spellings[1:]:
        found = index.find_regency(respelt, province_name=province_name)
        if found is not None:
            return RegionMatch(found, False, 99.0)
    matches = [m for m in (_closest(s, province_name) for s in spellings) if m is not None]
    return max(matches, key=lambda m: m.score) if matches else None


def _respellings(name: str) -> list[str]:
    """The name as written, in modern spelling, and with the Dutch-era ``j`` (= ``y``) too."""
    lower = name.lower()
    modern = lower
    for old, new in _OLD_SPELLINGS:
        modern = modern.replace(old, new)
    # Before 1972 "j" was written for today's "y" and "dj" for "j" (Djogjakarta, Indramajoe).
    dutch = lower.replace("dj", "\x00").replace("j", "y").replace("\x00", "j")
    for old, new in _OLD_SPELLINGS:
        dutch = dutch.replace(old, new)
    return list(dict.fromkeys([lower, modern, dutch]))


def _closest(name: str, province_name: str | None) -> RegionMatch | None:
    kind, key = reference.regency_key(name)
    if len(key) < MIN_KEY_LENGTH:
        return None
    index = reference.regions()
    province = index.find_province(province_name) if province_name else None
    candidates: dict[str, Region] = {}
    for region_kind, region_key, region in _regency_keys():
        if kind is not None and region_kind != kind:
            continue
        if province is not None and region.province_code != province.code:
            continue
        # Two regions can share a key (Kabupaten and Kota Semarang): keep both apart.
        candidates[f"{region_key}\x00{region.code}"] = region
    if not candidates:
        return None
    keys = {k: k.split("\x00", 1)[0] for k in candidates}
    ranked = process.extract(key, keys, scorer=fuzz.ratio, limit=2)
    best_score, best = ranked[0][1], candidates[ranked[0][2]]
    if best_score < MIN_SCORE:
        return None
    if len(ranked) > 1:
        runner_up_score, runner_up = ranked[1][1], candidates[ranked[1][2]]
        if runner_up.code != best.code and best_score - runner_up_score < MIN_MARGIN:
            return None
    return RegionMatch(best, False, float(best_score))


@lru_cache(maxsize=1)
def _regency_keys() -> tuple[tuple[str | None, str, Region], ...]:
    """(kind, matching key, region) of every regency, computed once."""
    return tuple((*reference.regency_key(r.name), r) for r in reference.regions().regencies)


# --- the resolution every region lookup uses ------------------------------------------------

#: The shared alias table (abbreviations in everyday use: ``KBB``, ``Jaksel``…), in the
#: reference data beside the Kemendagri lists.
ALIASES_FILE = reference.DATA_DIR / "region_aliases.csv"

#: Kind words written after the name, as registers often do: ``Bekasi Kota``, ``Bogor (Kab)``,
#: ``Cirebon Kab.``, ``Bandung Kabupaten``.
_TRAILING_KIND = {"kota": "Kota", "kab": "Kabupaten", "kabupaten": "Kabupaten", "kabu": "Kabupaten"}


@lru_cache(maxsize=1)
def shared_aliases() -> dict[str, tuple[str, ...]]:
    """Normalised alias → the region codes it names (more than one: ambiguous)."""
    table: dict[str, list[str]] = {}
    with ALIASES_FILE.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            key = reference.normalize_name(row["alias"])
            table.setdefault(key, []).append(row["code"].strip())
    return {k: tuple(dict.fromkeys(v)) for k, v in table.items()}


def kind_first(name: str) -> str:
    """``Bekasi Kota`` → ``Kota Bekasi``; ``Bogor (Kab)`` / ``Cirebon Kab.`` → ``Kabupaten …``."""
    words = reference.normalize_name(name).split()
    if len(words) > 1 and words[-1] in _TRAILING_KIND and words[0] not in ("kota", "kabupaten"):
        return f"{_TRAILING_KIND[words[-1]]} {' '.join(words[:-1])}"
    return name


def resolve_region(
    name: str | None,
    province_name: str | None = None,
    province: str | None = None,
    aliases: Mapping[str, str] | None = None,
    fuzzy: bool = True,
) -> str | None:
    """The region code a register's name means, or None.

    In order: an empty name is the constant ``province`` (when the mapping gives one); the
    mapping's own ``aliases``; the shared alias table; the name with its kind word moved to
    the front (``Bekasi Kota``); exact Kemendagri spellings; then, with ``fuzzy``, close
    variants (:func:`match_regency`). With a constant ``province`` only regions inside it
    count (it also tells apart same-named regencies of other provinces).
    """
    text = (name or "").strip()
    if not text:
        return province
    key = reference.normalize_name(text)
    for alias, code in (aliases or {}).items():
        if reference.normalize_name(alias) == key:
            return code
    inside = (lambda code: code.startswith(province + ".")) if province else (lambda _code: True)
    shared = [c for c in shared_aliases().get(key, ()) if inside(c)]
    if len(shared) == 1:
        return shared[0]
    if province_name is None and province is not None:
        found = reference.regions().by_code(province)
        province_name = found.name if found is not None else None
    for candidate in dict.fromkeys((text, kind_first(text))):
        match = match_regency(candidate, province_name, fuzzy)
        if match is not None and inside(match.region.code):
            return match.region.code
    return None


def closest_region(name: str) -> str | None:
    """The regency a name most resembles, however weakly (a *suggestion* for an alias, shown
    by ``adapter check``; never used to read data)."""
    kind, key = reference.regency_key(kind_first(name))
    if not key:
        return None
    candidates = {
        f"{k}\x00{r.code}": k for region_kind, k, r in _regency_keys() if kind in (None, region_kind)
    }
    best = process.extractOne(key, candidates, scorer=fuzz.ratio)
    return best[2].split("\x00", 1)[1] if best is not None and best[1] >= SUGGEST_SCORE else None
